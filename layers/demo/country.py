"""A deterministic, plainly synthetic country at Indonesia's scale (``sasaran demo --country``).

`write_country` writes the same source files, layers, columns and ``sasaran.toml`` as
`layers.demo.province.write_demo`, for a synthetic archipelago: islands roughly where Indonesia's are, each
cut into its provinces (real BPS codes and names, areas in proportion to the real ones), each
province filled with villages, rivers, roads and facilities by the province demo's generator, and
poverty calibrated to approximate BPS March 2023 and 2024 rates. The population raster is one
tiled, overviewed Cloud-Optimised GeoTIFF per province under ``population/`` plus a VRT mosaic,
``population.vrt``, so no step (here or in a build) needs the national raster whole in memory.

Everything is drawn from generators seeded by ``(seed, island)`` and ``(seed, province)``: the same
seed and arguments give a byte-identical CSV and identical geometries.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from xml.sax.saxutils import escape

import geopandas as gpd
import numpy as np
import pandas as pd
import pyogrio
import rasterio
import shapely

from layers.atomic import writing_directory
from layers.demo import _country_geo as cg
from layers.demo import province as demo
from layers.demo._province_geo import Geography, generate_geography

__all__ = ["PIXEL_DEG", "PROVINCES", "CountryReport", "build_country", "calibrated_rates", "write_country"]

#: Pixel size of the population rasters in degrees: 9 arc-seconds, about 280 m. The province demo's
#: 0.0009° (~100 m) would give ~190 M land pixels nationally (the mosaic's extent is ~1.3 G pixels):
#: minutes of burning and spreading people alone, and a build binning every pixel into H3 cells.
#: At 280 m a resolution-8 cell (0.74 km²) still holds ~9 pixels and the smallest generated village
#: (Jakarta's, ~2.5 km²) ~30, while the country needs ~25 M land pixels.
PIXEL_DEG = 0.0025


@dataclass(frozen=True)
class Province:
    """One row of `PROVINCES`."""

    code: str
    name: str
    area_km2: float
    villages: int  #: desa + kelurahan
    population_k: float  #: people in 2024, thousands
    kab_kota: int
    p0_2023: float  #: percent, March 2023
    p0_2024: float  #: percent, March 2024
    lon: float  #: roughly the province's centroid
    lat: float


#: The 38 provinces with their BPS codes. APPROXIMATE figures entered from memory, to be checked
#: against BPS before any use beyond this synthetic demo: land area (BPS "Statistik Indonesia"),
#: desa + kelurahan (Kemendagri, 2022-2023), mid-2024 population projections (BPS, thousands),
#: kabupaten + kota, and the poverty rate P0 of March 2023 and March 2024 (BPS "Persentase
#: Penduduk Miskin Menurut Provinsi"). The centroids are rough. The new Papuan provinces (BPS codes
#: 91-97, 2022) have few published series; their rows are the roughest.
PROVINCES: tuple[Province, ...] = tuple(
    Province(*row)
    for row in (
        ("11", "Aceh", 57_956, 6_497, 5_555, 23, 14.45, 14.23, 96.9, 4.3),
        ("12", "Sumatera Utara", 72_981, 6_110, 15_589, 33, 8.15, 7.99, 99.2, 2.3),
        ("13", "Sumatera Barat", 42_013, 1_265, 5_837, 19, 5.95, 5.97, 100.5, -0.8),
        ("14", "Riau", 87_024, 1_862, 6_729, 12, 6.68, 6.36, 101.8, 0.4),
        ("15", "Jambi", 50_058, 1_585, 3_724, 11, 7.58, 7.26, 103.0, -1.6),
        ("16", "Sumatera Selatan", 91_592, 3_289, 8_838, 17, 11.78, 10.97, 104.2, -3.3),
        ("17", "Bengkulu", 19_919, 1_513, 2_112, 10, 14.04, 14.03, 102.3, -3.6),
        ("18", "Lampung", 34_624, 2_651, 9_419, 15, 11.11, 10.69, 105.0, -4.9),
        ("19", "Kepulauan Bangka Belitung", 16_424, 393, 1_531, 7, 4.52, 4.84, 106.4, -2.4),
        ("21", "Kepulauan Riau", 8_202, 419, 2_183, 7, 5.69, 5.37, 104.4, 1.0),
        ("31", "DKI Jakarta", 664, 267, 10_684, 6, 4.44, 4.30, 106.85, -6.2),
        ("32", "Jawa Barat", 35_378, 5_957, 50_345, 27, 7.62, 7.46, 107.6, -6.9),
        ("33", "Jawa Tengah", 32_801, 8_563, 37_892, 35, 10.77, 10.47, 110.2, -7.2),
        ("34", "DI Yogyakarta", 3_133, 438, 3_762, 5, 11.04, 10.83, 110.4, -7.9),
        ("35", "Jawa Timur", 47_800, 8_494, 41_645, 38, 10.35, 9.79, 112.6, -7.7),
        ("36", "Banten", 9_663, 1_552, 12_431, 8, 6.17, 5.84, 106.1, -6.4),
        ("51", "Bali", 5_780, 716, 4_433, 9, 4.25, 4.00, 115.1, -8.4),
        ("52", "Nusa Tenggara Barat", 18_572, 1_166, 5_646, 10, 13.85, 13.85, 117.4, -8.6),
        ("53", "Nusa Tenggara Timur", 48_718, 3_442, 5_656, 22, 19.96, 19.48, 121.1, -8.9),
        ("61", "Kalimantan Barat", 147_307, 2_145, 5_623, 14, 6.71, 6.32, 111.0, -0.2),
        ("62", "Kalimantan Tengah", 153_565, 1_576, 2_810, 14, 5.11, 5.17, 113.4, -1.6),
        ("63", "Kalimantan Selatan", 38_744, 2_016, 4_187, 13, 4.29, 4.02, 115.3, -3.0),
        ("64", "Kalimantan Timur", 129_067, 1_038, 3_938, 10, 6.11, 5.78, 116.4, 0.5),
        ("65", "Kalimantan Utara", 75_468, 482, 733, 5, 6.45, 6.01, 116.3, 3.0),
        ("71", "Sulawesi Utara", 13_852, 1_839, 2_681, 15, 7.38, 7.25, 124.5, 1.0),
        ("72", "Sulawesi Tengah", 61_841, 2_019, 3_121, 13, 12.41, 11.77, 121.4, -1.3),
        ("73", "Sulawesi Selatan", 46_717, 3_059, 9_463, 24, 8.70, 8.06, 120.0, -4.0),
        ("74", "Sulawesi Tenggara", 38_068, 2_292, 2_767, 17, 11.43, 11.04, 122.3, -4.0),
        ("75", "Gorontalo", 11_257, 734, 1_223, 6, 15.15, 14.57, 122.6, 0.7),
        ("76", "Sulawesi Barat", 16_787, 650, 1_467, 6, 11.49, 11.21, 119.3, -2.5),
        ("81", "Maluku", 46_914, 1_235, 1_881, 11, 16.42, 16.05, 129.5, -3.2),
        ("82", "Maluku Utara", 31_983, 1_199, 1_355, 10, 6.46, 6.32, 128.0, 1.0),
        ("91", "Papua Barat", 60_275, 1_004, 569, 7, 20.49, 20.66, 133.5, -1.5),
        ("92", "Papua Barat Daya", 39_123, 1_010, 621, 6, 18.63, 18.13, 132.0, -1.0),
        ("94", "Papua", 82_681, 1_000, 1_061, 9, 17.43, 17.26, 138.5, -2.5),
        ("95", "Papua Selatan", 117_849, 690, 540, 4, 17.98, 17.44, 139.5, -7.0),
        ("96", "Papua Tengah", 61_073, 1_208, 1_452, 8, 30.11, 29.76, 136.5, -3.8),
        ("97", "Papua Pegunungan", 51_213, 2_627, 1_448, 8, 34.54, 32.97, 139.0, -4.2),
    )
)
_BY_CODE = {p.code: p for p in PROVINCES}
#: National P0 (percent) published by BPS for March 2023 and March 2024. The provincial figures
#: above are scaled by one factor per year so that, weighted by the table's populations, they give
#: exactly these (the factor stays within a few percent of 1, absorbing the table's inaccuracy).
NATIONAL_P0: dict[int, float] = {2023: 9.36, 2024: 9.03}
#: Villages per kecamatan, nationally (~84,000 desa/kelurahan in ~7,270 kecamatan).
VILLAGES_PER_KECAMATAN = 11.6
_NOTICE = (
    "SYNTHETIC country generated by `sasaran demo --country` (layers.demo.country). Not real places, "
    "people or statistics; province codes and names are BPS's, everything inside them is invented."
)


def calibrated_rates(year: int) -> dict[str, float]:
    """Province poverty rates (fractions) for ``year``: `PROVINCES` scaled to `NATIONAL_P0`.

    Parameters
    ----------
    year
        2023 or 2024.

    Returns
    -------
    dict
        Province code -> P0 as a fraction.
    """
    column = {2023: "p0_2023", 2024: "p0_2024"}[year]
    rate = np.array([getattr(p, column) for p in PROVINCES])
    people = np.array([p.population_k for p in PROVINCES])
    factor = NATIONAL_P0[year] / ((rate * people).sum() / people.sum())
    return {p.code: float(r * factor / 100.0) for p, r in zip(PROVINCES, rate, strict=True)}


@dataclass(frozen=True)
class CountryReport:
    """What `build_country` wrote."""

    config: Path
    villages: int
    provinces: int
    islands: int
    kabupaten: int
    kecamatan: int
    people: int
    area_km2: float
    seconds: float

    def summary(self) -> str:
        """One line for the CLI."""
        return (
            f"Synthetic country written: {self.villages:,} villages, {self.kecamatan:,} kecamatan, "
            f"{self.kabupaten:,} kabupaten/kota, {self.provinces} provinces on {self.islands} islands, "
            f"{self.people:,} people, {self.area_km2:,.0f} km2, in {self.seconds:.1f} s"
        )


def parse_provinces(text: str) -> list[str]:
    """Province codes from ``"62,63,51"``; `ValueError` naming any unknown code."""
    codes = [c.strip() for c in text.split(",") if c.strip()]
    return _checked_codes(codes)


def _checked_codes(codes: Sequence[str] | None) -> list[str]:
    if codes is None:
        return [p.code for p in PROVINCES]
    codes = [str(c).strip() for c in codes]
    unknown = [c for c in codes if c not in _BY_CODE]
    if unknown or not codes:
        raise ValueError(
            f"unknown province code(s) {', '.join(unknown) or '(none given)'}; "
            f"BPS province codes are {', '.join(_BY_CODE)}"
        )
    return sorted(set(codes))


def write_country(
    out_dir: str | Path, villages: int = 84_000, seed: int = 62, provinces: Sequence[str] | None = None
) -> Path:
    """Write the synthetic country as source files plus ``sasaran.toml``.

    Parameters
    ----------
    out_dir
        Directory to (re)place with ``villages.gpkg``, ``poverty.csv``, ``schools.gpkg``,
        ``health_facilities.gpkg``, ``roads.gpkg``, ``rivers.gpkg``, ``population/<code>.tif``
        (one COG per province), ``population.vrt``, ``README.txt`` and ``sasaran.toml``.
        It is written beside and swapped in only when complete, like `layers.demo.province.write_demo`.
    villages
        Total villages, shared among the provinces in proportion to their real counts; area and
        people scale with them (84,000 is Indonesia's size: ~1.9 M km², ~280 M people).
    seed
        Random seed; the same seed and arguments give the same country.
    provinces
        BPS province codes to generate (default: all 38).

    Returns
    -------
    Path
        The path of ``out_dir/sasaran.toml``.
    """
    return build_country(out_dir, villages=villages, seed=seed, provinces=provinces).config


def build_country(
    out_dir: str | Path, villages: int = 84_000, seed: int = 62, provinces: Sequence[str] | None = None
) -> CountryReport:
    """`write_country`, returning what was written (counts and seconds)."""
    codes = _checked_codes(provinces)
    if not 40 * len(codes) <= villages <= 150_000:
        raise ValueError(
            f"'villages' should be between {40 * len(codes):,} (40 per province) and 150,000, "
            f"got {villages:,}"
        )
    start = time.perf_counter()
    out_dir = Path(out_dir)
    with writing_directory(out_dir, "tmp") as tmp:
        counts = _write_all(tmp, villages, seed, codes)
    return CountryReport(config=out_dir / "sasaran.toml", seconds=time.perf_counter() - start, **counts)


# --- generation ---------------------------------------------------------------------------------


def _allocate_villages(villages: int, codes: list[str]) -> dict[str, int]:
    """Villages per province in proportion to the real counts (largest remainder)."""
    real = np.array([_BY_CODE[c].villages for c in codes], dtype=float)
    share = villages * real / real.sum()
    out = np.floor(share).astype(np.int64)
    for i in np.argsort(-(share - out), kind="stable")[: villages - int(out.sum())]:
        out[i] += 1
    return dict(zip(codes, out.tolist(), strict=True))


def _province_outlines(seed: int, codes: list[str], scale: float) -> tuple[dict[str, shapely.Polygon], dict]:
    """Each selected province's outline (km frame), and the island of each province."""
    chosen = set(codes)
    outlines: dict[str, shapely.Polygon] = {}
    island_of: dict[str, str] = {}
    land: list[shapely.Geometry] = []
    # Small islands first: a later, larger island gives way to them (keeps a strait), which costs
    # it a sliver of coast rather than swallowing a small island whole.
    todo = [(i, isl) for i, isl in enumerate(cg.ISLANDS) if chosen & set(isl.provinces)]
    todo.sort(key=lambda t: sum(_BY_CODE[c].area_km2 for c in t[1].provinces))
    for index, island in todo:
        rng = np.random.default_rng([seed, 1000 + index])
        members = [c for c in island.provinces if c in chosen]
        areas = np.array([_BY_CODE[c].area_km2 for c in members]) * scale
        real = np.array([_BY_CODE[c].area_km2 for c in island.provinces])
        sx, sy = cg.to_km(
            np.array([_BY_CODE[c].lon for c in members]), np.array([_BY_CODE[c].lat for c in members])
        )
        sites = np.column_stack([sx, sy])
        centre = (sites * areas[:, None]).sum(axis=0) / areas.sum()
        # A partial island is smaller: its provinces' centroids move in towards its centre as well.
        sites = centre + (sites - centre) * np.sqrt(areas.sum() / real.sum())
        outline = cg.island_outline(rng, island, float(areas.sum()), centre)
        if land:
            outline = cg._largest(shapely.difference(outline, shapely.union_all(land).buffer(cg.STRAIT_KM)))
        land.append(outline)
        for code, polygon in zip(members, cg.split_island(rng, outline, sites, areas), strict=True):
            outlines[code] = shapely.make_valid(polygon)
            island_of[code] = island.name
    return outlines, island_of


def _province(seed: int, code: str, outline: shapely.Polygon, n: int) -> tuple[Geography, np.ndarray]:
    """One province's geography and its people per village (2024)."""
    p = _BY_CODE[code]
    rng = np.random.default_rng([seed, int(code)])
    fraction = n / p.villages
    n_units = int(np.clip(round(p.kab_kota * min(1.0, np.sqrt(fraction))), 2, min(p.kab_kota, 70)))
    n_kec = max(n_units + 1, round(n / VILLAGES_PER_KECAMATAN))
    geo = generate_geography(
        rng,
        n,
        outline=outline,
        frame=cg.FRAME,
        n_units=n_units,
        n_kec=n_kec,
        province=code,
        kota_name=f"Kota Sintetis {code}-71",
        prefix=f"{code}-",
    )
    people = demo._village_population(rng, geo, mean=p.population_k * 1000.0 * fraction / n)
    return geo, people


def _write_all(out: Path, villages: int, seed: int, codes: list[str]) -> dict:
    """Generate every province and write every file into ``out``; return the counts."""
    per_province = _allocate_villages(villages, codes)
    scale = villages / sum(_BY_CODE[c].villages for c in codes)
    outlines, island_of = _province_outlines(seed, codes, scale)
    rates = {year: calibrated_rates(year) for year in (2023, 2024)}
    (out / "population").mkdir()
    frames: dict[str, list[pd.DataFrame]] = {
        k: [] for k in ("villages", "poverty", "schools", "health", "roads", "rivers")
    }
    capitals: dict[str, np.ndarray] = {}
    settlements: dict[str, np.ndarray] = {}
    tiles = []
    totals = {"kabupaten": 0, "kecamatan": 0, "people": 0, "area_km2": 0.0}
    for code in codes:
        geo, people = _province(seed, code, outlines[code], per_province[code])
        rng = np.random.default_rng([seed, int(code), 1])
        year_rates = {year: rates[year][code] for year in rates}
        frames["poverty"].append(demo._poverty_table(rng, geo, people, rates=year_rates))
        frames["schools"].append(_schools(rng, geo, people, code))
        frames["health"].append(_health(rng, geo, people, code))
        frames["villages"].append(demo._villages_frame(geo))
        roads = geo.roads.copy()
        roads.loc[roads["kind"] == "trunk", "name"] = f"Jalan Trans {island_of[code]} Sintetis"
        frames["roads"].append(demo._lines_frame(roads, "highway", cg.to_lonlat))
        frames["rivers"].append(demo._lines_frame(geo.rivers, "waterway", cg.to_lonlat))
        tiles.append(_write_province_raster(out / "population" / f"{code}.tif", geo, people, code))
        capitals[code] = geo.seeds[geo.town_rank == 3][0]
        settlements[code] = geo.seeds
        totals["kabupaten"] += len(geo.kab_codes)
        totals["kecamatan"] += len(geo.kec_codes)
        totals["people"] += int(people.sum())
        totals["area_km2"] += geo.area_km2
    frames["roads"].append(_trunk_roads(outlines, island_of, capitals, settlements))
    _write_vrt(out / "population.vrt", tiles)
    poverty = pd.concat(frames["poverty"], ignore_index=True).sort_values(
        ["kode_desa", "tahun"], kind="stable"
    )
    poverty.to_csv(out / "poverty.csv", index=False, lineterminator="\n")
    layers = (
        ("villages", "villages", "village polygons"),
        ("rivers", "rivers", "rivers"),
        ("roads", "roads", "roads"),
        ("schools", "schools", "schools"),
        ("health", "health_facilities", "health facilities"),
    )
    with demo._fixed_gpkg_date():
        for key, layer, what in layers:
            frame = gpd.GeoDataFrame(pd.concat(frames[key], ignore_index=True), crs="EPSG:4326")
            _write_gpkg(out / f"{layer}.gpkg", layer, frame, what)
    counts = {
        "villages": villages,
        "provinces": len(codes),
        "islands": len(set(island_of.values())),
        "kabupaten": totals["kabupaten"],
        "kecamatan": totals["kecamatan"],
        "people": totals["people"],
        "area_km2": totals["area_km2"],
    }
    (out / "README.txt").write_text(_readme(counts, codes, island_of, seed), encoding="utf-8")
    (out / "sasaran.toml").write_text(_config_toml(villages, seed, codes), encoding="utf-8")
    return counts


def _trunk_roads(
    outlines: dict[str, shapely.Polygon],
    island_of: dict[str, str],
    capitals: dict[str, np.ndarray],
    settlements: dict[str, np.ndarray],
) -> gpd.GeoDataFrame:
    """Trunk roads between the capitals of neighbouring provinces on each island, over land."""
    rows = []
    for island in sorted(set(island_of.values())):
        codes = [c for c in outlines if island_of[c] == island]
        pairs = cg.neighbours([outlines[c] for c in codes])
        if not pairs:
            continue
        seeds = np.vstack([settlements[c] for c in codes])
        offset = np.cumsum([0] + [len(settlements[c]) for c in codes])
        at = {
            c: int(offset[i] + np.flatnonzero((settlements[c] == capitals[c]).all(axis=1))[0])
            for i, c in enumerate(codes)
        }
        land = shapely.union_all([outlines[c] for c in codes]).buffer(0.01)
        paths = cg.trunk_paths(land, seeds, [(at[codes[i]], at[codes[j]]) for i, j in pairs])
        for (i, j), path in zip(pairs, paths, strict=True):
            lon, lat = cg.to_lonlat(path[:, 0], path[:, 1])
            rows.append(
                {
                    "name": f"Jalan Trans {island} Sintetis {codes[i]}-{codes[j]}",
                    "highway": "trunk",
                    "geometry": shapely.multilinestrings([shapely.linestrings(lon, lat)]),
                }
            )
    return gpd.GeoDataFrame(
        rows, columns=["name", "highway", "geometry"], geometry="geometry", crs="EPSG:4326"
    )


# --- facilities ---------------------------------------------------------------------------------


def _schools(rng: np.random.Generator, geo: Geography, people: np.ndarray, code: str) -> gpd.GeoDataFrame:
    """The province demo's schools, with NPSN unique nationally (the province code in front)."""
    frame = demo._schools(rng, geo, people)
    frame["npsn"] = [f"{code}{int(n) - 69_000_000:06d}" for n in frame["npsn"]]
    return frame


def _health(rng: np.random.Generator, geo: Geography, people: np.ndarray, code: str) -> gpd.GeoDataFrame:
    """The province demo's facilities, named per province, with every kind present at least once."""
    frame = demo._health_facilities(rng, geo, people)
    frame["nama"] = frame["nama"].str.replace(" Sintetis ", f" Sintetis {code}-", regex=False)
    # A small province could draw no clinic (the only Poisson-drawn kind): give its capital one.
    capital = int(np.flatnonzero(geo.town_rank == 3)[0])
    lon, lat = geo.to_lonlat(geo.seeds[capital, 0], geo.seeds[capital, 1])
    for kind, prefix in (("clinic", "Klinik Pratama Sintetis"), ("pustu", "Pustu Sintetis")):
        if not (frame["jenis"] == kind).any():
            extra = gpd.GeoDataFrame(
                {"nama": [f"{prefix} {code}-001"], "jenis": [kind]},
                geometry=[shapely.Point(lon, lat)],
                crs="EPSG:4326",
            )
            frame = pd.concat([frame, extra], ignore_index=True)
    return frame


# --- raster -------------------------------------------------------------------------------------


@dataclass(frozen=True)
class _Tile:
    path: str
    transform: rasterio.Affine
    width: int
    height: int


def _write_province_raster(path: Path, geo: Geography, people: np.ndarray, code: str) -> _Tile:
    """The province's people per pixel as a Cloud-Optimised GeoTIFF (tiled, with overviews)."""
    transform, width, height = demo._raster_grid(geo, PIXEL_DEG)
    grid, pixels = demo.people_grid(geo, people, transform, (height, width))
    # A village smaller than a pixel holds no pixel centre: its people go to the pixel of its
    # settlement, so the raster still sums to the villages' people.
    lost = np.flatnonzero(pixels == 0)
    if len(lost):
        lon, lat = geo.to_lonlat(geo.seeds[lost, 0], geo.seeds[lost, 1])
        col = np.clip(((lon - transform.c) / transform.a).astype(np.int64), 0, width - 1)
        row = np.clip(((lat - transform.f) / transform.e).astype(np.int64), 0, height - 1)
        grid[row, col] = np.maximum(grid[row, col], 0.0)
        np.add.at(grid, (row, col), people[lost].astype(np.float32))
    profile = {
        "driver": "COG",
        "width": width,
        "height": height,
        "count": 1,
        "dtype": "float32",
        "crs": "EPSG:4326",
        "transform": transform,
        "nodata": -1.0,
        "compress": "deflate",
        "predictor": 3,
        "level": 1,
        "blocksize": 512,
        "overview_resampling": "average",
        "num_threads": "all_cpus",
    }
    with rasterio.open(path, "w", **profile) as dst:
        dst.write(grid, 1)
        dst.update_tags(SYNTHETIC="true", DESCRIPTION=_NOTICE, UNITS="people per pixel (2024)", PROVINCE=code)
        dst.set_band_description(1, "synthetic population 2024")
    return _Tile(f"population/{path.name}", transform, width, height)


def _write_vrt(path: Path, tiles: list[_Tile]) -> None:
    """A VRT mosaic of the province COGs (they share one pixel lattice, so offsets are whole)."""
    west = min(t.transform.c for t in tiles)
    north = max(t.transform.f for t in tiles)
    east = max(t.transform.c + t.width * PIXEL_DEG for t in tiles)
    south = min(t.transform.f - t.height * PIXEL_DEG for t in tiles)
    width, height = round((east - west) / PIXEL_DEG), round((north - south) / PIXEL_DEG)
    sources = []
    for t in tiles:
        x, y = round((t.transform.c - west) / PIXEL_DEG), round((north - t.transform.f) / PIXEL_DEG)
        # NODATA makes a province's empty pixels transparent where its box overlaps a neighbour's.
        sources.append(
            f"""    <ComplexSource>
      <SourceFilename relativeToVRT="1">{escape(t.path)}</SourceFilename>
      <SourceBand>1</SourceBand>
      <SourceProperties RasterXSize="{t.width}" RasterYSize="{t.height}" DataType="Float32"
                        BlockXSize="512" BlockYSize="512" />
      <SrcRect xOff="0" yOff="0" xSize="{t.width}" ySize="{t.height}" />
      <DstRect xOff="{x}" yOff="{y}" xSize="{t.width}" ySize="{t.height}" />
      <NODATA>-1</NODATA>
    </ComplexSource>
"""
        )
    wkt = escape(rasterio.crs.CRS.from_epsg(4326).to_wkt())
    path.write_text(
        f"""<VRTDataset rasterXSize="{width}" rasterYSize="{height}">
  <SRS dataAxisToSRSAxisMapping="2,1">{wkt}</SRS>
  <GeoTransform>{west!r}, {PIXEL_DEG!r}, 0.0, {north!r}, 0.0, {-PIXEL_DEG!r}</GeoTransform>
  <Metadata>
    <MDI key="SYNTHETIC">true</MDI>
    <MDI key="DESCRIPTION">{escape(_NOTICE)}</MDI>
    <MDI key="UNITS">people per pixel (2024)</MDI>
  </Metadata>
  <VRTRasterBand dataType="Float32" band="1">
    <NoDataValue>-1</NoDataValue>
    <Description>synthetic population 2024</Description>
{"".join(sources)}  </VRTRasterBand>
</VRTDataset>
""",
        encoding="utf-8",
    )


# --- files --------------------------------------------------------------------------------------


def _write_gpkg(path: Path, layer: str, frame: gpd.GeoDataFrame, what: str) -> None:
    """One GeoPackage layer whose description and metadata say it is synthetic."""
    pyogrio.write_dataframe(
        frame,
        path,
        layer=layer,
        driver="GPKG",
        layer_options={"DESCRIPTION": f"SYNTHETIC {what}. {_NOTICE}", "IDENTIFIER": f"synthetic {layer}"},
        dataset_metadata={"SYNTHETIC": "true", "DESCRIPTION": _NOTICE},
    )


def _readme(counts: dict, codes: list[str], island_of: dict[str, str], seed: int) -> str:
    """Plain-text notice for anyone who opens the folder."""
    lines = "\n".join(f"  {c} {_BY_CODE[c].name} ({island_of[c]})" for c in codes)
    return (
        "SYNTHETIC COUNTRY - NOT REAL DATA\n"
        "=================================\n\n"
        f"{_NOTICE}\n\n"
        f"Seed {seed}; {counts['villages']:,} villages, {counts['kecamatan']:,} kecamatan, "
        f"{counts['kabupaten']:,} kabupaten/kota in {counts['provinces']} provinces on {counts['islands']} "
        f"islands; {counts['area_km2']:,.0f} km2; {counts['people']:,} people (2024).\n\n"
        f"Provinces (real BPS codes and names, synthetic contents):\n{lines}\n\n"
        "Poverty rates are calibrated to approximate BPS March 2023 and 2024 provincial figures,\n"
        "scaled so that the national rate is 9.36 % (2023) and 9.03 % (2024).\n\n"
        "Files: villages.gpkg, poverty.csv (2023 and 2024), schools.gpkg, health_facilities.gpkg,\n"
        "roads.gpkg, rivers.gpkg, population/<province>.tif (Cloud-Optimised GeoTIFFs, people per\n"
        f"{PIXEL_DEG} degree pixel, 2024), population.vrt (their mosaic) and sasaran.toml.\n"
        "Build the layers with: sasaran build sasaran.toml\n"
    )


def _config_toml(villages: int, seed: int, codes: list[str]) -> str:
    """The province demo's config with the country's header and the VRT as population source."""
    text = demo._config_toml(villages, seed)
    head, rest = text.split("h3_resolution = 8\n", 1)
    option = "" if len(codes) == len(PROVINCES) else f" --provinces {','.join(codes)}"
    header = (
        "# SYNTHETIC country written by "
        f"`sasaran demo --country --villages {villages} --seed {seed}{option}`.\n"
        "# Every file in this folder is synthetic: not real places, people or statistics.\n"
        'name = "Negara Sintetis (synthetic country)"\nsynthetic = true\nh3_resolution = 8\n'
    )
    body = rest.replace('file = "population.tif"', 'file = "population.vrt"')
    if 'file = "population.vrt"' not in body or "synthetic = true" not in head:
        raise RuntimeError("the province demo's config changed shape; update _config_toml")
    access = (
        "\n# Travel times on a 500 m grid (a province build's default is 250 m): the 38 provinces'\n"
        "# buffered grids hold ~120 M pixels at 250 m and ~30 M at 500 m, so the national build stays\n"
        "# within minutes on two cores (docs/benchmarks.md). Global accessibility surfaces (Weiss et\n"
        "# al. 2020, Nature Medicine) use 1 km. A province build of the same files may use 250 m.\n"
        "[access]\nresolution_m = 500\n"
    )
    return header + body + access
