"""A deterministic, plainly synthetic demo province shaped like Central Kalimantan.

`write_demo` writes ordinary source files (GeoPackages, a GeoTIFF, a CSV) and a ``sasaran.toml``
that `layers.config.load_config` reads, so the demo exercises exactly the path real data takes.
Everything is drawn from one ``numpy.random.Generator(seed)``: the same seed and size give a
byte-identical CSV and identical geometries.

The geography is generated in a local kilometre frame centred in `DEMO_BBOX` and converted to
EPSG:4326 only when written (h3-py manners: one representation inside, conversion at the edge).
Villages are a Voronoi partition of settlement points, denser along rivers and the coast, clipped
to an irregular outline; kecamatan and kabupaten are k-means groups of neighbouring villages.
The geography itself lives in `layers.demo._province_geo`; this module adds people, poverty, facilities
and the files.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import geopandas as gpd
import numpy as np
import pandas as pd
import pyogrio
import rasterio
import shapely
from rasterio.features import rasterize
from scipy.spatial import cKDTree

from layers.atomic import writing_directory
from layers.demo import households
from layers.demo._province_geo import (
    DEMO_BBOX,
    Geography,
    generate_geography,
    km_to_lonlat,
)
from layers.register import write_key_file

__all__ = ["DEMO_BBOX", "write_demo"]

#: Pixel size of the population raster in degrees (~100 m, like WorldPop's 3 arc-second grid).
PIXEL_DEG = 0.0009
#: Mean people per village. BPS counts 145,630 poor people at 5.17 % in March 2024, i.e. about
#: 2.817 million people in Kalimantan Tengah (~1,570 desa/kelurahan); 1,878 per village gives the
#: default 1,500-village demo that population, so its poor count comes out near 145,630 too.
PEOPLE_PER_VILLAGE = 1878
#: Province poverty rate (P0) the draws are calibrated to, per year: BPS Kalimantan Tengah, March
#: 2023 5.11 % and March 2024 5.17 % (press releases as compiled in the project's Kalteng test data,
#: kalteng_poverty_bps_compiled.csv). The demo's poverty table is for 2023 and 2024.
PROVINCE_POVERTY_RATE: dict[int, float] = {2023: 0.0511, 2024: 0.0517}
#: Relative poverty of the kabupaten, west to east, then the kota: the real Kalimantan Tengah
#: figures the demo's kabupaten rates are spread in proportion to (percent, 2024). The demo's
#: kabupaten 01..13 are numbered west to east, so each takes the real kabupaten in the same place
#: in the west-to-east order of their centroids (kalteng_admin_boundaries.gpkg); the kota is
#: Palangka Raya. Sources, as compiled in kalteng_poverty_bps_compiled.csv:
#:
#: * BPS P0 March 2024 where the press gives one: Seruyan 7.08, Barito Timur 6.66 and Murung Raya
#:   6.58 (BPS Kalteng via voxkalteng.com: the three highest in the province).
#: * Elsewhere the Dinsos DTKS registration share of Nov 2023 (registered / population, from
#:   kalteng.tribunnews.com, 13 Jan 2024). DTKS is a welfare register, not BPS poverty, and its
#:   shares (15-65 %) are far larger than P0, so they set only the order and the spacing: the
#:   rate is a + b * share, with a and b chosen so that the highest of these eleven (Katingan)
#:   stays at 6.50 %, below the lowest of BPS's top three, and the province (weighted by the
#:   Kemendagri populations in kalteng_kab_penduduk_luas_kemendagri.csv) comes to 5.17 %.
#:   That gives a = 3.4724, b = 4.6317 (percent per unit share).
#:
#: Columns: real kabupaten (BPS code), DTKS share, rate used (percent).
_KABUPATEN_POVERTY: tuple[tuple[str, float, float], ...] = (
    ("Sukamara (6206)", 0.3118, 4.92),
    ("Lamandau (6207)", 0.2064, 4.43),
    ("Kotawaringin Barat (6201)", 0.2118, 4.45),
    ("Seruyan (6208)", 0.3187, 7.08),  # BPS P0 2024
    ("Kotawaringin Timur (6202)", 0.2864, 4.80),
    ("Katingan (6209)", 0.6537, 6.50),
    ("Gunung Mas (6211)", 0.2727, 4.74),
    ("Pulang Pisau (6210)", 0.4481, 5.55),
    ("Murung Raya (6213)", 0.3912, 6.58),  # BPS P0 2024
    ("Kapuas (6203)", 0.3871, 5.27),
    ("Barito Selatan (6204)", 0.2572, 4.66),
    ("Barito Utara (6205)", 0.1485, 4.16),
    ("Barito Timur (6212)", 0.2231, 6.66),  # BPS P0 2024
)
_KOTA_POVERTY = ("Palangka Raya (6271)", 0.2139, 4.46)
#: Share of villages without a puskesmas that have a pustu (puskesmas pembantu). An assumption: we
#: found no sourced count for Kalimantan Tengah; the real network also has poskesdes and polindes.
PUSTU_SHARE = 0.5
#: A kecamatan centre farther than this (straight line, km) from every kabupaten hospital gets an
#: RS Pratama. An assumption of the demo.
PRATAMA_FROM_KM = 60.0
#: The synthetic register of families, and the key its names and addresses are encrypted with in a
#: store (outside any store: `sasaran serve` and the build find it through the config's key_file
#: or SASARAN_REGISTER_KEY_FILE).
REGISTER_FILE = "keluarga.parquet"
KEY_FILE = "register.key"
#: Date written into GeoPackage metadata instead of "now", so reruns give the same bytes.
_FIXED_DATE = "2000-01-01T00:00:00.000Z"
_NOTICE = (
    "SYNTHETIC demo data generated by `sasaran demo` (layers.demo.province). Not real places, people or "
    "statistics; any resemblance to Central Kalimantan is by design of the generator only."
)

POVERTY_HEADERS: dict[str, str] = {
    "population": "jumlah_penduduk",
    "households": "jumlah_kk",
    "poor_population": "penduduk_miskin",
    "hh_decile_1": "kk_desil_1",
    "hh_decile_2": "kk_desil_2",
    "hh_decile_3": "kk_desil_3",
    "hh_decile_4": "kk_desil_4",
    "elderly": "lansia",
    "disabled": "disabilitas",
    "female_headed_hh": "kk_perempuan",
    "hh_no_electricity": "kk_tanpa_listrik",
    "hh_no_safe_water": "kk_tanpa_air_layak",
    "hh_no_sanitation": "kk_tanpa_sanitasi",
}
"""Canonical poverty column -> Indonesian header in ``poverty.csv`` (like a BPS/DTSEN export)."""


def write_demo(out_dir: str | Path, villages: int = 1500, seed: int = 62) -> Path:
    """Write the synthetic demo province as source files plus ``sasaran.toml``.

    The files are written to a temporary sibling directory that replaces ``out_dir`` only once
    everything succeeded, so a failure never leaves a half-written directory behind.

    Parameters
    ----------
    out_dir
        Directory to (re)place with ``villages.gpkg``, ``poverty.csv``, ``schools.gpkg``,
        ``health_facilities.gpkg``, ``roads.gpkg``, ``rivers.gpkg``, ``population.tif``,
        ``README.txt`` and ``sasaran.toml``.
    villages
        Number of villages, 20 to 20,000. The province area scales with it (~100 km² per
        village, at most about the size of Central Kalimantan); 1500 gives 14 kabupaten.
    seed
        Random seed; the same seed and size give the same province.

    Returns
    -------
    Path
        The path of ``out_dir/sasaran.toml``.

    Examples
    --------
    >>> from layers.config import load_config
    >>> load_config(write_demo(tmp_path / "demo", villages=40)).synthetic
    True
    """
    if not 20 <= villages <= 20_000:
        # Above ~20,000 a kabupaten would need more than 99 kecamatan, which 3-digit CCC codes cannot hold.
        raise ValueError(f"'villages' should be between 20 and 20,000, got {villages}")
    out_dir = Path(out_dir)
    with writing_directory(out_dir, "tmp") as tmp:
        _write_all(tmp, villages=villages, seed=seed)
    return out_dir / "sasaran.toml"


def _write_all(out: Path, villages: int, seed: int) -> None:
    """Generate the province and write every file into ``out``."""
    rng = np.random.default_rng(seed)
    geo = generate_geography(rng, villages)
    population = _village_population(rng, geo)
    _write_population_raster(out / "population.tif", geo, population)
    table = _poverty_table(rng, geo, population)
    table.to_csv(out / "poverty.csv", index=False, lineterminator="\n")
    schools = _schools(rng, geo, population)
    health = _health_facilities(rng, geo, population)
    with _fixed_gpkg_date():
        _write_gpkg(out / "villages.gpkg", "villages", _villages_frame(geo), "village polygons")
        _write_gpkg(out / "rivers.gpkg", "rivers", _lines_frame(geo.rivers, "waterway"), "rivers")
        _write_gpkg(out / "roads.gpkg", "roads", _lines_frame(geo.roads, "highway"), "roads")
        _write_gpkg(out / "schools.gpkg", "schools", schools, "schools")
        _write_gpkg(out / "health_facilities.gpkg", "health_facilities", health, "health facilities")
    # The register draws from its own generator: every file above is the same with or without it.
    register = households.register_frame(seed, geo, table, _remoteness(geo))
    households.write_register(out / REGISTER_FILE, register)
    write_key_file(out / KEY_FILE)
    (out / "README.txt").write_text(_readme(geo, population, seed), encoding="utf-8")
    (out / "sasaran.toml").write_text(_config_toml(villages, seed), encoding="utf-8")


# --- people -------------------------------------------------------------------------------------


def _village_population(
    rng: np.random.Generator, geo: Geography, mean: float = PEOPLE_PER_VILLAGE
) -> np.ndarray:
    """People per village in 2024 (int64): small rural villages, large towns, ``mean`` on average."""
    n = len(geo.seeds)
    scale = min(1.0, np.sqrt(n / 1500))  # a 60-village province has small towns, not 40k-people ones
    if mean != PEOPLE_PER_VILLAGE:
        # Denser provinces (Java) have bigger towns, sparser ones (Papua) smaller.
        scale *= float(np.clip(mean / PEOPLE_PER_VILLAGE, 0.4, 3.0))
    river = np.exp(-geo.d_river_km / 5.0)
    pop = rng.lognormal(np.log(700.0), 0.6, n) * (0.5 + 2.5 * river)
    rank = geo.town_rank
    pop[rank == 1] *= rng.uniform(2.0, 4.0, int((rank == 1).sum()))
    pop[rank == 2] = rng.uniform(25_000, 60_000, int((rank == 2).sum())) * scale
    pop[geo.is_kota] = rng.uniform(5_000, 14_000, int(geo.is_kota.sum())) * scale
    # Note: rural villages absorb the difference, so the province total is fixed by `n` alone.
    towns = (rank >= 2) | geo.is_kota
    target = mean * n
    rural_target = max(target - pop[towns].sum(), 0.3 * target)
    pop[~towns] *= rural_target / pop[~towns].sum()
    return np.maximum(np.rint(pop), 60).astype(np.int64)


def _raster_grid(geo: Geography, pixel: float = PIXEL_DEG) -> tuple[rasterio.Affine, int, int]:
    """Transform, width and height of the population grid, snapped to whole pixels of ``pixel``°.

    Snapping to multiples of ``pixel`` puts every grid of that pixel size on one global lattice,
    so per-province rasters of the synthetic country mosaic without resampling.
    """
    minx, miny, maxx, maxy = shapely.bounds(geo.outline_lonlat)
    west, south = np.floor(minx / pixel) * pixel, np.floor(miny / pixel) * pixel
    east, north = np.ceil(maxx / pixel) * pixel, np.ceil(maxy / pixel) * pixel
    width, height = round((east - west) / pixel), round((north - south) / pixel)
    return rasterio.Affine(pixel, 0.0, west, 0.0, -pixel, north), width, height


def village_id_raster(geoms: np.ndarray, transform: rasterio.Affine, shape: tuple[int, int]) -> np.ndarray:
    """Row position of the village containing each pixel centre, -1 outside every village.

    Parameters
    ----------
    geoms
        Village geometries in the raster's CRS, in the order whose positions are burnt.
    transform, shape
        The raster grid.

    Returns
    -------
    numpy.ndarray
        int32 array of ``shape``.
    """
    pairs = ((g, i) for i, g in enumerate(geoms))
    return rasterize(pairs, out_shape=shape, transform=transform, fill=-1, dtype="int32")


def _write_population_raster(path: Path, geo: Geography, population: np.ndarray) -> None:
    """People per pixel: each village's people spread around its settlement, summing to its total."""
    transform, width, height = _raster_grid(geo)
    people = people_grid(geo, population, transform, (height, width))[0]
    _write_people_tif(path, people, transform)


def people_grid(
    geo: Geography, population: np.ndarray, transform: rasterio.Affine, shape: tuple[int, int]
) -> tuple[np.ndarray, np.ndarray]:
    """People per pixel (float32, -1 outside every village) and each village's pixel count.

    Parameters
    ----------
    geo
        The geography whose villages are burnt (positions index ``population``).
    population
        People per village.
    transform, shape
        The raster grid.

    Returns
    -------
    tuple of numpy.ndarray
        The grid, and per village the number of pixel centres it holds (a village holding none
        is missing from the grid; the caller decides where its people go).
    """
    height, width = shape
    vid = village_id_raster(geo.villages_lonlat, transform, (height, width))
    # Settlement radius grows with size: a 1,000-people village ~0.6 km, a 40,000-people town ~2 km.
    radius_km = 0.4 + 0.25 * np.sqrt(population / 1000.0)
    sx, sy = geo.to_lonlat(geo.seeds[:, 0], geo.seeds[:, 1])
    kx, ky = geo.km_per_deg
    weights = np.zeros((height, width), dtype=np.float32)
    # Rows in blocks keep the temporaries at a few tens of MB for the 5,800 x 4,900 default grid.
    for r0 in range(0, height, 256):
        block = vid[r0 : r0 + 256]
        rr, cc = np.nonzero(block >= 0)
        v = block[rr, cc]
        lon = transform.c + (cc + 0.5) * transform.a
        lat = transform.f + (rr + r0 + 0.5) * transform.e
        d = np.hypot((lon - sx[v]) * kx, (lat - sy[v]) * ky)
        # A small floor keeps a trace of people (fields, camps) over the whole village.
        weights[r0 + rr, cc] = np.exp(-d / radius_km[v]) + 0.002
    inside = vid >= 0
    totals = np.bincount(vid[inside], weights=weights[inside], minlength=len(population))
    factor = np.divide(population, totals, out=np.zeros(len(population)), where=totals > 0)
    people = np.full((height, width), -1.0, dtype=np.float32)
    people[inside] = weights[inside] * factor[vid[inside]]
    return people, np.bincount(vid[inside], minlength=len(population))


def _write_people_tif(path: Path, people: np.ndarray, transform: rasterio.Affine) -> None:
    """The province demo's tiled, deflated GeoTIFF of people per pixel."""
    height, width = people.shape
    profile = {
        "driver": "GTiff",
        "width": width,
        "height": height,
        "count": 1,
        "dtype": "float32",
        "crs": "EPSG:4326",
        "transform": transform,
        "nodata": -1.0,
        "compress": "deflate",
        "predictor": 3,
        "zlevel": 1,
        "tiled": True,
        "blockxsize": 512,
        "blockysize": 512,
        "num_threads": "all_cpus",
    }
    with rasterio.open(path, "w", **profile) as dst:
        dst.write(people, 1)
        dst.update_tags(SYNTHETIC="true", DESCRIPTION=_NOTICE, UNITS="people per pixel (2024)")
        dst.set_band_description(1, "synthetic population 2024")


def _remoteness(geo: Geography) -> np.ndarray:
    """Standardised remoteness of each settlement: far from all-weather roads, rivers and towns."""
    z = 0.5 * np.log1p(geo.d_road_km) + 0.3 * np.log1p(geo.d_river_km) + 0.6 * np.log1p(geo.d_capital_km)
    return (z - z.mean()) / max(z.std(), 1e-9)


def kabupaten_poverty_weights(n_kabupaten: int) -> np.ndarray:
    """Relative poverty rate (percent) of each demo kabupaten, then the kota (`_KABUPATEN_POVERTY`).

    A small demo has fewer kabupaten; they take real ones evenly spread over the west-to-east order.
    """
    pick = np.rint(np.linspace(0, len(_KABUPATEN_POVERTY) - 1, n_kabupaten)).astype(np.int64)
    return np.array([_KABUPATEN_POVERTY[i][2] for i in pick] + [_KOTA_POVERTY[2]])


def _calibrated_rates(
    log_rate: np.ndarray, population: np.ndarray, kab: np.ndarray, weights: np.ndarray, province: float
) -> np.ndarray:
    """Village rates exp(log_rate + shift[kab]) whose kabupaten rates are ``weights`` scaled to ``province``.

    Kabupaten rates (people-weighted over villages) follow ``weights`` up to one common factor,
    chosen so that the province rate is ``province``: the spread is the real one, the level BPS's.
    """
    pop_k = np.bincount(kab, weights=population, minlength=len(weights))
    target = weights * province * pop_k.sum() / (weights * pop_k).sum()
    shift = np.zeros(len(weights))
    # A few fixed-point steps: the cap at 45 % makes the calibration slightly nonlinear.
    for _ in range(12):
        rate = np.minimum(np.exp(log_rate + shift[kab]), 0.45)
        got = np.bincount(kab, weights=rate * population, minlength=len(weights))
        shift += np.log(target * pop_k / np.maximum(got, 1e-300))
    return np.minimum(np.exp(log_rate + shift[kab]), 0.45)


def _year_rows(
    rng: np.random.Generator,
    population: np.ndarray,
    hh_size: np.ndarray,
    rate: np.ndarray,
    shares: dict[str, np.ndarray],
) -> dict[str, np.ndarray]:
    """Counts of one year; every household count is drawn out of ``jumlah_kk``."""
    households = np.maximum(np.rint(population / hh_size), 1).astype(np.int64)
    # DTSEN deciles are national: a poorer village has more of its households in deciles 1-4,
    # decile 1 reacting most strongly.
    rel = rate / 0.09
    dec = np.stack([0.1 * rel**g for g in (1.0, 0.8, 0.6, 0.45)], axis=1).clip(0.0, 0.35)
    dec /= np.maximum(dec.sum(axis=1, keepdims=True) / 0.95, 1.0)
    pvals = np.column_stack([dec, 1.0 - dec.sum(axis=1)])
    deciles = rng.multinomial(households, pvals)
    rows = {
        "jumlah_penduduk": population,
        "jumlah_kk": households,
        # Rounded, not drawn: the village rates are calibrated to BPS's province figure, and a
        # binomial draw would move the province total by a few hundred people (~0.02 points).
        "penduduk_miskin": np.rint(population * rate).astype(np.int64),
        **{f"kk_desil_{k + 1}": deciles[:, k] for k in range(4)},
        "lansia": rng.binomial(population, shares["elderly"]),
        "disabilitas": rng.binomial(population, shares["disabled"]),
        "kk_perempuan": rng.binomial(households, shares["female"]),
        "kk_tanpa_listrik": rng.binomial(households, shares["electricity"]),
        "kk_tanpa_air_layak": rng.binomial(households, shares["water"]),
        "kk_tanpa_sanitasi": rng.binomial(households, shares["sanitation"]),
    }
    return rows


def _poverty_table(
    rng: np.random.Generator,
    geo: Geography,
    population: np.ndarray,
    rates: dict[int, float] = PROVINCE_POVERTY_RATE,
) -> pd.DataFrame:
    """The BPS/DTSEN-like table: one row per village and year (2023, 2024), at province ``rates``."""
    n = len(population)
    z = _remoteness(geo)
    kab = geo.kab_index
    weights = kabupaten_poverty_weights(len(geo.kab_codes) - 1)
    # Within a kabupaten, remoter villages are poorer; the kabupaten and province levels are BPS's.
    log_2024 = 0.55 * z + rng.normal(0.0, 0.3, n)
    rate_2024 = _calibrated_rates(log_2024, population, kab, weights, rates[2024])
    # 2023 differs village by village (some richer, some poorer) around BPS's 2023 province rate.
    log_2023 = np.log(rate_2024) + rng.normal(0.0, 0.1, n)
    growth = rng.uniform(0.008, 0.022, n)
    pop_2023 = np.rint(population / (1.0 + growth)).astype(np.int64)
    rate_2023 = _calibrated_rates(log_2023, pop_2023, kab, weights, rates[2023])
    hh_size = rng.normal(3.6, 0.3, n).clip(2.8, 4.6)

    def sigmoid(x: np.ndarray) -> np.ndarray:
        return 1.0 / (1.0 + np.exp(-x))

    # Village traits persist between years; access to services improves a little each year.
    noise = rng.normal(0.0, 0.5, (3, n))
    shares = {
        "elderly": rng.normal(0.085, 0.015, n).clip(0.03, 0.16),
        "disabled": (0.012 + 0.006 * sigmoid(z)).clip(0.0, 1.0),
        "female": rng.normal(0.13, 0.03, n).clip(0.04, 0.3),
        # Remoter villages lack more services, but each service also has its own local reasons
        # (a spring, a PDAM network, a village programme): the remoteness slope is kept moderate
        # so that the deprivations do not all fall on the same villages by construction.
        "electricity": sigmoid(-3.6 + 0.8 * z + noise[0]),
        "water": sigmoid(-2.0 + 0.5 * z + noise[1]),
        "sanitation": sigmoid(-2.0 + 0.5 * z + noise[2]),
    }
    worse = {k: (v * 1.12 if k in ("electricity", "water", "sanitation") else v) for k, v in shares.items()}
    frames = []
    for year, pop, rate, sh in ((2023, pop_2023, rate_2023, worse), (2024, population, rate_2024, shares)):
        rows = _year_rows(rng, pop, hh_size, rate, {k: np.clip(v, 0.0, 1.0) for k, v in sh.items()})
        frames.append(pd.DataFrame({"kode_desa": geo.codes, "tahun": year, **rows}))
    table = pd.concat(frames, ignore_index=True).sort_values(["kode_desa", "tahun"], kind="stable")
    return table.reset_index(drop=True)


# --- facilities ---------------------------------------------------------------------------------


def _points_near_settlements(
    rng: np.random.Generator, geo: Geography, village: np.ndarray, spread_km: np.ndarray
) -> np.ndarray:
    """Points (lon/lat) scattered around their villages' settlements, kept inside the village."""
    xy = geo.seeds[village] + rng.normal(0.0, 1.0, (len(village), 2)) * spread_km[village, None]
    lon, lat = geo.to_lonlat(xy[:, 0], xy[:, 1])
    inside = shapely.contains_xy(geo.villages_lonlat[village], lon, lat)
    # A point that fell outside its village goes to the settlement itself (always inside).
    slon, slat = geo.to_lonlat(geo.seeds[village, 0], geo.seeds[village, 1])
    return shapely.points(np.where(inside, lon, slon), np.where(inside, lat, slat))


def _spread_km(population: np.ndarray) -> np.ndarray:
    """How far facilities scatter around a settlement: wider in towns."""
    return 0.25 + 0.2 * np.sqrt(population / 1000.0)


def _poisson_share(rng: np.random.Generator, total: float, weight: np.ndarray) -> np.ndarray:
    """Counts per village summing to about ``total``, in proportion to ``weight``."""
    if total <= 0 or weight.sum() <= 0:
        return np.zeros(len(weight), dtype=np.int64)
    return rng.poisson(total * weight / weight.sum())


def _schools(rng: np.random.Generator, geo: Geography, population: np.ndarray) -> gpd.GeoDataFrame:
    """School points: an SD in most villages, SMP in about a third, SMA/SMK in kecamatan centres."""
    n = len(population)
    rank = geo.town_rank
    centre = rank >= 1
    # Counts per 1,500 villages from Dapodik for Kalimantan Tengah: SD ~2,600, SMP ~800,
    # SMA ~230, SMK ~130.
    has_sd = (rng.random(n) < 0.9) | centre
    sd = has_sd + _poisson_share(rng, 1.733 * n - has_sd.sum(), population.astype(float))
    smp = centre + _poisson_share(rng, 0.533 * n - centre.sum(), population**0.8)
    sma = centre + _poisson_share(rng, 0.153 * n - centre.sum(), population**2.0 * centre)
    smk = 2 * (rank >= 2) + _poisson_share(rng, 0.087 * n - 2 * (rank >= 2).sum(), population * centre)
    counts = {"SD": sd, "SMP": smp, "SMA": sma, "SMK": smk}
    public = {"SD": 0.88, "SMP": 0.7, "SMA": 0.6, "SMK": 0.35}
    village = np.concatenate([np.repeat(np.arange(n), c) for c in counts.values()])
    bentuk = np.concatenate([np.full(c.sum(), b, dtype=object) for b, c in counts.items()])
    p_public = np.array([public[b] for b in bentuk])
    status = np.where(rng.random(len(bentuk)) < p_public, "N", "S")
    npsn = 69_000_000 + rng.choice(1_000_000, size=len(bentuk), replace=False)
    frame = pd.DataFrame({"bentuk": bentuk, "status": status, "kec": geo.kec_names[geo.kec_index[village]]})
    seq = frame.groupby(["bentuk", "status", "kec"], sort=False).cumcount() + 1
    kind = np.where(status == "N", "NEGERI", "SWASTA")
    number = np.char.mod("%d", seq.to_numpy())
    nama = [
        f"{b} {k} {s} {c.removeprefix('Kecamatan ')}"
        for b, k, s, c in zip(bentuk, kind, number, frame.kec, strict=True)
    ]
    geometry = _points_near_settlements(rng, geo, village, _spread_km(population))
    return gpd.GeoDataFrame(
        {"npsn": npsn.astype(str), "nama_sekolah": nama, "bentuk": bentuk.astype(str), "status": status},
        geometry=geometry,
        crs="EPSG:4326",
    )


def _health_facilities(rng: np.random.Generator, geo: Geography, population: np.ndarray) -> gpd.GeoDataFrame:
    """Hospitals in kabupaten capitals, 1-2 puskesmas per kecamatan, pustu in villages, clinics in towns."""
    n = len(population)
    rank = geo.town_rank
    hospital = (rank >= 2).astype(np.int64) + (rank == 3)  # the provincial capital has two
    # Remote kecamatan centres get a small hospital, as the RS Kelas D Pratama programme
    # (Permenkes 24/2014) intends; the distance is the demo's choice, not a regulation.
    far = cKDTree(geo.seeds[hospital > 0]).query(geo.seeds)[0] > PRATAMA_FROM_KM
    hospital[(rank == 1) & far] = 1
    puskesmas = (rank >= 1).astype(np.int64)
    # A second puskesmas in big kecamatan, at their most populous village that is not the centre.
    kec_pop = np.bincount(geo.kec_index, weights=population)
    order = np.lexsort((-population, rank >= 1, geo.kec_index))
    first_other = order[np.r_[True, np.diff(geo.kec_index[order]) != 0]]
    big = kec_pop[geo.kec_index[first_other]] > 25_000 * min(1.0, np.sqrt(n / 1500))
    puskesmas[first_other[big & (rank[first_other] == 0)]] += 1
    clinic = rng.poisson(np.where(rank >= 2, 3.0, np.where(rank == 1, 0.2, 0.0)))
    clinic += rng.poisson(np.where(geo.is_kota, 1.5, 0.0))
    # A puskesmas reaches its villages through puskesmas pembantu (pustu). Without them nearly a
    # third of the demo's people lived over an hour from primary care, which drove most of its
    # multidimensional poverty. PUSTU_SHARE is an assumption, not a sourced Kalteng count.
    pustu = ((rank == 0) & (puskesmas == 0) & (rng.random(n) < PUSTU_SHARE)).astype(np.int64)
    counts = {"hospital": hospital, "puskesmas": puskesmas, "pustu": pustu, "clinic": clinic}
    village = np.concatenate([np.repeat(np.arange(n), c) for c in counts.values()])
    jenis = np.concatenate([np.full(c.sum(), j, dtype=object) for j, c in counts.items()])
    seq = pd.Series(jenis).groupby(jenis).cumcount().to_numpy() + 1
    prefix = {
        "hospital": "RSUD Sintetis",
        "puskesmas": "Puskesmas Sintetis",
        "pustu": "Pustu Sintetis",
        "clinic": "Klinik Pratama Sintetis",
    }
    nama = [f"{prefix[j]} {s:03d}" for j, s in zip(jenis, seq, strict=True)]
    geometry = _points_near_settlements(rng, geo, village, _spread_km(population))
    return gpd.GeoDataFrame({"nama": nama, "jenis": jenis.astype(str)}, geometry=geometry, crs="EPSG:4326")


# --- files --------------------------------------------------------------------------------------


def _villages_frame(geo: Geography) -> gpd.GeoDataFrame:
    """Villages with their codes and names, in code order."""
    return gpd.GeoDataFrame(
        {
            "kode_desa": geo.codes,
            "nama_desa": geo.village_names,
            "kode_kec": geo.kec_codes[geo.kec_index],
            "nama_kec": geo.kec_names[geo.kec_index],
            "kode_kab": geo.kab_codes[geo.kab_index],
            "nama_kab": geo.kab_names[geo.kab_index],
        },
        geometry=geo.villages_lonlat,
        crs="EPSG:4326",
    )


def _lines_frame(
    lines: pd.DataFrame, kind: str, to_lonlat: Callable[..., Any] = km_to_lonlat
) -> gpd.GeoDataFrame:
    """Rivers or roads (km frame) as MultiLineStrings in EPSG:4326."""
    geoms = shapely.transform(lines["geometry"].to_numpy(), lambda xy: np.column_stack(to_lonlat(*xy.T)))
    return gpd.GeoDataFrame(
        {"name": lines["name"].to_numpy(), kind: lines["kind"].to_numpy()},
        geometry=geoms,
        crs="EPSG:4326",
    )


class _fixed_gpkg_date:
    """Pin GDAL's notion of "now" while writing GeoPackages (their last_change column)."""

    def __enter__(self) -> None:
        self._old = pyogrio.get_gdal_config_option("OGR_CURRENT_DATE")
        pyogrio.set_gdal_config_options({"OGR_CURRENT_DATE": _FIXED_DATE})

    def __exit__(self, *exc: object) -> None:
        pyogrio.set_gdal_config_options({"OGR_CURRENT_DATE": self._old})


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


def _readme(geo: Geography, population: np.ndarray, seed: int) -> str:
    """Plain-text notice for anyone who opens the folder."""
    area = geo.area_km2
    return (
        "SYNTHETIC DEMO PROVINCE - NOT REAL DATA\n"
        "=======================================\n\n"
        f"{_NOTICE}\n\n"
        f"Seed {seed}; {len(population)} villages, {len(geo.kec_codes)} kecamatan, "
        f"{len(geo.kab_codes)} kabupaten/kota; {area:,.0f} km2; {int(population.sum()):,} people (2024).\n\n"
        "Files: villages.gpkg, poverty.csv (2023 and 2024), schools.gpkg, health_facilities.gpkg,\n"
        "roads.gpkg, rivers.gpkg, population.tif (people per ~100 m pixel, 2024) and sasaran.toml.\n"
        f"{REGISTER_FILE}: a SYNTHETIC register of families by name and address (2023 and 2024);\n"
        f"{KEY_FILE}: the key its names and addresses are encrypted with in a store (keep it out of\n"
        "the store; SASARAN_REGISTER_KEY_FILE points `sasaran serve` to it).\n"
        "Build the layers with: sasaran build sasaran.toml\n"
    )


def _config_toml(villages: int, seed: int) -> str:
    """The build config for the demo files; it loads with `layers.config.load_config`."""
    columns = "\n".join(f'{canonical} = "{header}"' for canonical, header in POVERTY_HEADERS.items())
    return f"""\
# SYNTHETIC demo province written by `sasaran demo --villages {villages} --seed {seed}`.
# Every file in this folder is synthetic: not real places, people or statistics.
name = "Provinsi Sintetis (synthetic demo)"
synthetic = true
h3_resolution = 8

[sources.villages]
file = "villages.gpkg"
layer = "villages"

[sources.poverty]
file = "poverty.csv"
code = "kode_desa"
year = "tahun"

[sources.poverty.columns]
{columns}

[sources.schools]
file = "schools.gpkg"
layer = "schools"
level = "bentuk"
name = "nama_sekolah"

[sources.health_facilities]
file = "health_facilities.gpkg"
layer = "health_facilities"
type = "jenis"
name = "nama"

[sources.roads]
file = "roads.gpkg"
layer = "roads"
kind = "highway"

[sources.rivers]
file = "rivers.gpkg"
layer = "rivers"
kind = "waterway"

[sources.population]
file = "population.tif"
""" + households.config_section(REGISTER_FILE)
