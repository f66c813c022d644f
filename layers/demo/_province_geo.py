"""Geography of the synthetic demo province: outline, rivers, villages, admin units, roads.

Private helper of `layers.demo.province`. Everything is built in a local kilometre frame (x east, y north)
centred in `DEMO_BBOX`, where distances and areas are plain Euclidean; `km_to_lonlat` converts to
EPSG:4326 at the edge. Over the province's 4.4 degrees of latitude the scale changes by < 0.3 %,
which a synthetic province can ignore.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd
import shapely
from scipy.sparse.csgraph import minimum_spanning_tree
from scipy.spatial import cKDTree

#: Central Kalimantan's extent (west, south, east, north) in degrees; the demo stays inside it.
DEMO_BBOX: tuple[float, float, float, float] = (110.7, -3.6, 116.0, 0.8)
_LON0, _LAT0 = (DEMO_BBOX[0] + DEMO_BBOX[2]) / 2, (DEMO_BBOX[1] + DEMO_BBOX[3]) / 2
_KX = 111.32 * np.cos(np.radians(_LAT0))  # km per degree of longitude at the centre
_KY = 110.57  # km per degree of latitude near the equator
#: Area per village (Central Kalimantan: ~154,000 km² over ~1,570 desa/kelurahan) and the cap.
_KM2_PER_VILLAGE = 100.0
_MAX_AREA_KM2 = 150_000.0
#: Main rivers, west to east, like the Seruyan, Mentaya, Katingan, Kahayan, Kapuas and Barito.
_RIVER_NAMES = ("Seruya", "Mentala", "Katinga", "Kahaya", "Kapuha", "Barita")
#: Settlement density far from rivers, roads and the coast, relative to the river banks (2.5). In
#: Kalimantan villages line the rivers; at 0.12 the demo put 29 % of its people over 5 km from a
#: main river, where access alone made them multidimensionally poor.
INTERIOR_WEIGHT = 0.04
_ALL_WEATHER = ("trunk", "primary", "secondary", "tertiary")


def km_to_lonlat(x: np.ndarray, y: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Convert local kilometre coordinates to longitude and latitude."""
    return _LON0 + np.asarray(x) / _KX, _LAT0 + np.asarray(y) / _KY


def distance_km(points: np.ndarray, lines: np.ndarray, step: float = 0.5) -> np.ndarray:
    """Distance from each point to the nearest of ``lines`` (km frame), to within ``step`` / 2."""
    if len(lines) == 0:
        return np.full(len(points), np.inf)
    vertices = shapely.get_coordinates(shapely.segmentize(lines, step))
    return cKDTree(vertices).query(points)[0]


@dataclass(frozen=True)
class Geography:
    """The generated geography; per-village arrays are in village-code order."""

    outline_lonlat: shapely.Polygon
    area_km2: float
    seeds: np.ndarray  #: settlement point of each village (km frame), shape (n, 2)
    villages_lonlat: np.ndarray  #: MultiPolygon per village, EPSG:4326
    codes: np.ndarray
    village_names: np.ndarray
    kec_index: np.ndarray  #: village -> position in kec_codes
    kec_codes: np.ndarray
    kec_names: np.ndarray
    kab_index: np.ndarray  #: village -> position in kab_codes
    kab_codes: np.ndarray
    kab_names: np.ndarray
    town_rank: np.ndarray  #: 0 village, 1 kecamatan centre, 2 kabupaten capital, 3 province capital
    is_kota: np.ndarray
    d_river_km: np.ndarray  #: settlement to the nearest main river
    d_road_km: np.ndarray  #: settlement to the nearest all-weather road
    d_capital_km: np.ndarray  #: settlement to the nearest kabupaten/province capital
    rivers: pd.DataFrame  #: name, kind, geometry (km frame)
    roads: pd.DataFrame  #: name, kind, geometry (km frame)
    #: The km frame: origin longitude, latitude and km per degree of longitude, latitude. The
    #: province demo's frame is centred in `DEMO_BBOX`; the synthetic country uses a national one.
    frame: tuple[float, float, float, float] = (_LON0, _LAT0, _KX, _KY)

    @property
    def km_per_deg(self) -> tuple[float, float]:
        """Kilometres per degree of longitude and of latitude in the local frame."""
        return self.frame[2], self.frame[3]

    def to_lonlat(self, x: np.ndarray, y: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Convert this geography's kilometre coordinates to longitude and latitude."""
        lon0, lat0, kx, ky = self.frame
        return lon0 + np.asarray(x) / kx, lat0 + np.asarray(y) / ky


def generate_geography(
    rng: np.random.Generator,
    villages: int,
    outline: shapely.Polygon | None = None,
    frame: tuple[float, float, float, float] | None = None,
    n_units: int | None = None,
    n_kec: int | None = None,
    **naming: str,
) -> Geography:
    """Draw the whole geography of a ``villages``-village province from ``rng``.

    By default the province gets its own irregular outline in the demo's km frame. The synthetic
    country passes its province's ``outline`` (a Polygon in the km ``frame``: origin lon, lat and
    km per degree of lon, lat), the number of kabupaten/kota ``n_units`` and kecamatan ``n_kec``,
    and the ``naming`` of `_codes_and_names` (province code, kota name, name prefix).
    """
    if outline is None:
        area = min(_KM2_PER_VILLAGE * villages, _MAX_AREA_KM2)
        outline = _outline(rng, area)
    else:
        area = float(outline.area)
    frame = frame or (_LON0, _LAT0, _KX, _KY)
    rivers, mains = _rivers(rng, outline)
    city = _city_point(outline, mains)
    spacing = np.sqrt(area / villages)
    seeds = _seed_points(rng, outline, rivers, city, villages, r_min=0.2 * spacing)
    cells = _voronoi_cells(seeds, outline)
    d_river = distance_km(seeds, rivers.loc[rivers["kind"] == "river", "geometry"].to_numpy())
    admin = _admin_units(rng, seeds, cells, d_river, n_units=n_units, n_kec=n_kec, **naming)
    order = admin.pop("order")
    seeds, cells, d_river = seeds[order], cells[order], d_river[order]
    roads = _roads(rng, outline, seeds, admin)
    all_weather = roads.loc[roads["kind"].isin(_ALL_WEATHER), "geometry"].to_numpy()
    capitals = seeds[admin["town_rank"] >= 2]
    lon0, lat0, kx, ky = frame
    to_lonlat = lambda xy: np.column_stack([lon0 + xy[:, 0] / kx, lat0 + xy[:, 1] / ky])  # noqa: E731
    return Geography(
        outline_lonlat=shapely.transform(outline, to_lonlat),
        area_km2=float(outline.area),
        seeds=seeds,
        villages_lonlat=shapely.transform(cells, to_lonlat),
        d_river_km=d_river,
        d_road_km=distance_km(seeds, all_weather),
        d_capital_km=cKDTree(capitals).query(seeds)[0],
        rivers=rivers,
        roads=roads,
        frame=frame,
        **admin,
    )


# --- outline and rivers -------------------------------------------------------------------------


def _outline(rng: np.random.Generator, area_km2: float) -> shapely.Polygon:
    """An irregular province outline of ``area_km2``, inside `DEMO_BBOX`."""
    theta = np.linspace(0.0, 2 * np.pi, 720, endpoint=False)
    radius = np.ones_like(theta)
    for k in range(2, 40):  # low harmonics give lobes, higher ones a ragged but smooth border
        amp = rng.uniform(0.02, 0.09) / np.sqrt(k) if k < 9 else rng.uniform(0.0, 0.04) / k
        radius += amp * np.cos(k * theta + rng.uniform(0, 2 * np.pi))
    # Wider than tall, like Central Kalimantan.
    shape = shapely.Polygon(np.column_stack([1.25 * radius * np.cos(theta), radius * np.sin(theta)]))
    half_w = (DEMO_BBOX[2] - DEMO_BBOX[0]) / 2 * _KX
    half_h = (DEMO_BBOX[3] - DEMO_BBOX[1]) / 2 * _KY
    frame = shapely.box(-half_w, -half_h, half_w, half_h)

    def scaled(s: float) -> shapely.Geometry:
        return shapely.intersection(shapely.transform(shape, lambda xy: xy * s), frame)

    # Bisection on the scale: clipping to the bbox makes area(scale) monotone but not quadratic.
    lo, hi = 0.0, 2.0 * np.sqrt(area_km2)
    for _ in range(50):
        mid = (lo + hi) / 2
        lo, hi = (mid, hi) if scaled(mid).area < area_km2 else (lo, mid)
    parts = shapely.get_parts(scaled(hi))
    return parts[np.argmax(shapely.area(parts))]  # the bbox clip could cut off a sliver


def _wiggly_path(rng: np.random.Generator, a: np.ndarray, b: np.ndarray, amp: float = 0.05) -> np.ndarray:
    """Vertices from ``a`` to ``b`` (~1 km apart) that meander sideways but keep both ends."""
    length = float(np.hypot(*(b - a)))
    t = np.linspace(0.0, 1.0, max(int(length) + 2, 3))
    # sin(k pi t) vanishes at both ends, so the path always meets its endpoints.
    k = np.arange(1, 6)
    coef = rng.normal(0.0, amp * length / k)
    offset = np.sin(np.pi * np.outer(t, k)) @ coef
    normal = np.array([-(b - a)[1], (b - a)[0]]) / max(length, 1e-9)
    return a + np.outer(t, b - a) + np.outer(offset, normal)


def _lines(paths: list[np.ndarray]) -> np.ndarray:
    """LineStrings from vertex arrays of different lengths."""
    index = np.repeat(np.arange(len(paths)), [len(p) for p in paths])
    return shapely.linestrings(np.vstack(paths), indices=index)


def _collect(geoms: np.ndarray, type_id: int) -> np.ndarray:
    """Regroup the parts of type ``type_id`` (1 line, 3 polygon) of each geometry into a Multi*.

    Clipping can return a single part, several, or a collection with stray points or lines where
    a border is only touched; every output is the Multi* of its lines or polygons (maybe empty).
    """
    parts, index = shapely.get_parts(geoms, return_index=True)
    keep = shapely.get_type_id(parts) == type_id
    keep &= (shapely.length(parts) if type_id == 1 else shapely.area(parts)) > 0
    build = shapely.multilinestrings if type_id == 1 else shapely.multipolygons
    empty = shapely.MultiLineString() if type_id == 1 else shapely.MultiPolygon()
    out = np.full(len(geoms), empty, dtype=object)
    present, position = np.unique(index[keep], return_inverse=True)
    out[present] = build(parts[keep], indices=position)
    return out


def _rivers(rng: np.random.Generator, outline: shapely.Polygon) -> tuple[pd.DataFrame, list[np.ndarray]]:
    """Main rivers flowing south to the coast, with tributaries; also the main rivers' vertices."""
    xmin, ymin, xmax, ymax = outline.bounds
    width, height = xmax - xmin, ymax - ymin
    n_main = int(np.clip(round(width / 85), 2, len(_RIVER_NAMES)))
    spacing = 0.76 * width / max(n_main - 1, 1)
    names = _RIVER_NAMES[(len(_RIVER_NAMES) - n_main) // 2 :][:n_main]
    x0s = np.linspace(xmin + 0.12 * width, xmax - 0.12 * width, n_main)
    rows: list[tuple[str, str, np.ndarray]] = []
    mains = []
    for name, x0 in zip(names, x0s + rng.normal(0.0, 0.04 * spacing, n_main), strict=True):
        y = np.arange(ymin - 20.0, ymin + height * rng.uniform(0.75, 0.97), 0.5)
        # Kalimantan's southern rivers run from the NNW to the SSE; big bends plus small meanders.
        x = x0 + rng.uniform(-0.25, 0.05) * (y - ymin)
        for amp, wavelength in ((0.1 * spacing, rng.uniform(60, 110)), (min(2.5, 0.03 * spacing), 11.0)):
            x += amp * rng.uniform(0.7, 1.3) * np.sin(2 * np.pi * y / wavelength + rng.uniform(0, 2 * np.pi))
        path = np.column_stack([x, y])
        mains.append(path)
        rows.append((f"Sungai {name} (sintetis)", "river", path))
        for k in range(max(1, round(len(y) * 0.5 / 45))):
            start = path[rng.integers(int(0.2 * len(y)), int(0.9 * len(y)))]
            angle = rng.choice([-1.0, 1.0]) * np.radians(rng.uniform(35, 75))
            length = min(rng.uniform(0.25, 0.5) * spacing, 70.0)
            end = start + length * np.array([np.sin(angle), np.cos(angle)])
            rows.append(
                (f"Anak Sungai {name} {k + 1} (sintetis)", "stream", _wiggly_path(rng, start, end, 0.04))
            )
    lines = shapely.intersection(_lines([r[2] for r in rows]), outline)
    frame = pd.DataFrame({"name": [r[0] for r in rows], "kind": [r[1] for r in rows]})
    frame["geometry"] = _collect(lines, 1)
    return frame[~shapely.is_empty(frame["geometry"].to_numpy())].reset_index(drop=True), mains


def _city_point(outline: shapely.Polygon, mains: list[np.ndarray]) -> np.ndarray:
    """The provincial capital: on the most central river, a third of the way inland."""
    xmin, ymin, xmax, ymax = outline.bounds
    central = min(mains, key=lambda p: abs(p[len(p) // 2, 0] - (xmin + xmax) / 2))
    inner = outline.buffer(-0.05 * (ymax - ymin))
    ok = shapely.contains_xy(inner, central[:, 0], central[:, 1])
    target = ymin + 0.3 * (ymax - ymin)
    if not ok.any():
        return np.array(outline.point_on_surface().coords[0])
    return central[ok][np.argmin(np.abs(central[ok, 1] - target))]


# --- villages -----------------------------------------------------------------------------------


def _seed_points(
    rng: np.random.Generator,
    outline: shapely.Polygon,
    rivers: pd.DataFrame,
    city: np.ndarray,
    n: int,
    r_min: float,
) -> np.ndarray:
    """Settlement points: denser along rivers, the coast and the capital, never closer than ``r_min``.

    Points keep ``r_min / 2`` from the border, so every clipped Voronoi cell holds at least a
    disc of radius ``r_min / 2`` (hundreds of 100 m pixels, and several H3 res-8 cells).
    """
    inner = outline.buffer(-r_min / 2)
    xmin, ymin, xmax, ymax = inner.bounds
    xy = rng.uniform([xmin, ymin], [xmax, ymax], (int(30 * n * outline.envelope.area / outline.area), 2))
    xy = xy[shapely.contains_xy(inner, xy[:, 0], xy[:, 1])]
    main = rivers.loc[rivers["kind"] == "river", "geometry"].to_numpy()
    stream = rivers.loc[rivers["kind"] == "stream", "geometry"].to_numpy()
    coast = shapely.intersection(
        outline.exterior, shapely.box(xmin - 1, ymin - 1, xmax + 1, ymin + 0.2 * (ymax - ymin))
    )
    weight = (
        INTERIOR_WEIGHT
        + 2.5 * np.exp(-distance_km(xy, main) / 3.0)
        + 0.8 * np.exp(-distance_km(xy, stream) / 2.0)
        + 1.2 * np.exp(-distance_km(xy, np.array([coast])) / 6.0)
        + 4.0 * np.exp(-np.hypot(*(xy - city).T) / 12.0)
    )
    # Weighted random order without replacement (Efraimidis-Spirakis keys), then greedy thinning.
    order = np.argsort(np.log(rng.random(len(xy))) / weight)[::-1]
    chosen = _thin(np.vstack([city, xy[order]]), r_min, n)
    if len(chosen) < n:
        raise RuntimeError(f"could only place {len(chosen)} of {n} villages; raise the candidate count")
    return chosen


def _thin(xy: np.ndarray, r_min: float, n: int) -> np.ndarray:
    """The first ``n`` points of ``xy`` (in order) that keep ``r_min`` from every earlier one."""
    grid: dict[tuple[int, int], list[int]] = {}
    kept: list[int] = []
    cell = np.floor(xy / r_min).astype(np.int64)
    r2 = r_min * r_min
    for i, (cx, cy) in enumerate(cell.tolist()):
        near = (j for dx in (-1, 0, 1) for dy in (-1, 0, 1) for j in grid.get((cx + dx, cy + dy), ()))
        if any(((xy[j] - xy[i]) ** 2).sum() < r2 for j in near):
            continue
        grid.setdefault((cx, cy), []).append(i)
        kept.append(i)
        if len(kept) == n:
            break
    return xy[kept]


def _voronoi_cells(seeds: np.ndarray, outline: shapely.Polygon) -> np.ndarray:
    """One MultiPolygon per seed: its Voronoi cell clipped to the outline (a partition of it)."""
    extent = shapely.box(*outline.buffer(100.0).bounds)
    cells = shapely.get_parts(
        shapely.voronoi_polygons(shapely.multipoints(seeds), extend_to=extent, ordered=True)
    )
    # Note: QGIS treats a mixed-geometry layer as geometryless, so villages are always MultiPolygon.
    return _collect(shapely.intersection(cells, outline), 3)


# --- kecamatan and kabupaten --------------------------------------------------------------------


def _kmeans(xy: np.ndarray, k: int, rng: np.random.Generator, weight: np.ndarray) -> np.ndarray:
    """Weighted k-means labels 0..k'-1 (k' <= k), seeded k-means++ style from ``rng``."""
    if k >= len(xy):
        return np.arange(len(xy))
    centres = [xy[rng.integers(len(xy))]]
    d2 = ((xy - centres[0]) ** 2).sum(axis=1)
    for _ in range(k - 1):
        p = d2 * weight
        centres.append(xy[rng.choice(len(xy), p=p / p.sum())])
        d2 = np.minimum(d2, ((xy - centres[-1]) ** 2).sum(axis=1))
    c = np.array(centres)
    for _ in range(40):
        label = cKDTree(c).query(xy)[1]
        w = np.bincount(label, weights=weight, minlength=k)
        mx = np.bincount(label, weights=weight * xy[:, 0], minlength=k)
        my = np.bincount(label, weights=weight * xy[:, 1], minlength=k)
        new = np.where(w[:, None] > 0, np.column_stack([mx, my]) / np.maximum(w, 1e-12)[:, None], c)
        if np.allclose(new, c):
            break
        c = new
    return np.unique(cKDTree(c).query(xy)[1], return_inverse=True)[1]


def _allocate(total: int, sizes: np.ndarray) -> np.ndarray:
    """Split ``total`` in proportion to ``sizes`` (largest remainder), at least 1 and at most size each."""
    share = total * sizes / sizes.sum()
    out = np.clip(np.floor(share).astype(np.int64), 1, sizes)
    for i in np.argsort(-(share - np.floor(share)), kind="stable"):
        if out.sum() >= total:
            break
        if out[i] < sizes[i]:
            out[i] += 1
    return out


def _admin_units(
    rng: np.random.Generator,
    seeds: np.ndarray,
    cells: np.ndarray,
    d_river: np.ndarray,
    n_units: int | None = None,
    n_kec: int | None = None,
    **naming: str,
) -> dict[str, np.ndarray]:
    """Kecamatan and kabupaten as k-means groups of villages, then BPS-style codes and names.

    The first seed is the provincial capital; its nearest villages form the kota. Kabupaten are
    numbered 01.. west to east and the kota is 71, as in BPS's scheme. ``n_units`` (kabupaten
    plus the kota) and ``n_kec`` default to Central Kalimantan's scaled to ``len(seeds)``;
    ``naming`` goes to `_codes_and_names`.
    """
    n = len(seeds)
    if n_units is None:
        n_units = int(np.clip(round(14 * np.sqrt(n / 1500)), 2, 14))
    if n_kec is None:
        n_kec = max(n_units, round(136 * (n / 1500) ** 0.85))
    n_kota = max(2, round(0.02 * n))
    kota = np.zeros(n, dtype=bool)
    kota[np.argsort(np.hypot(*(seeds - seeds[0]).T), kind="stable")[:n_kota]] = True
    # Villages weighted by sqrt(area): large inland villages pull groups apart less than area would.
    weight = np.sqrt(shapely.area(cells))
    kab = np.full(n, -1)
    kab[~kota] = _kmeans(seeds[~kota], n_units - 1, rng, weight[~kota])
    kab_order = np.argsort(np.bincount(kab[~kota], weights=seeds[~kota, 0]) / np.bincount(kab[~kota]))
    kab[~kota] = np.argsort(kab_order)[kab[~kota]]
    n_kab = kab.max() + 1
    kab[kota] = n_kab
    sizes = np.bincount(kab)
    kota_kec = max(1, round(n_kota / 6))
    per_kab = np.append(_allocate(n_kec - kota_kec, sizes[:-1]), min(kota_kec, n_kota))
    kec = np.zeros(n, dtype=np.int64)
    next_kec = 0
    for k in range(n_kab + 1):
        members = np.flatnonzero(kab == k)
        local = _kmeans(seeds[members], int(per_kab[k]), rng, weight[members])
        cx = np.bincount(local, weights=seeds[members, 0]) / np.bincount(local)
        kec[members] = next_kec + np.argsort(np.argsort(cx))[local]  # west to east within a kabupaten
        next_kec += local.max() + 1
    order = np.lexsort((seeds[:, 0], kec))  # villages west to east within a kecamatan
    kec, kab, kota = kec[order], kab[order], kota[order]
    rank = _town_ranks(seeds[order], d_river[order], kec, kab, capital=int(np.flatnonzero(order == 0)[0]))
    return {"order": order, "town_rank": rank, "is_kota": kota, **_codes_and_names(kec, kab, n_kab, **naming)}


def _town_ranks(
    seeds: np.ndarray, d_river: np.ndarray, kec: np.ndarray, kab: np.ndarray, capital: int
) -> np.ndarray:
    """Pick kecamatan centres and kabupaten capitals: river villages near the middle of their unit."""
    rank = np.zeros(len(seeds), dtype=np.int64)
    # Unit 0 is "no pick": the kota's capital is fixed (the first seed), not chosen.
    for unit, level in ((kec + 1, 1), (np.where(kab == kab[capital], 0, kab + 1), 2)):
        count = np.maximum(np.bincount(unit), 1)
        cx = np.bincount(unit, weights=seeds[:, 0]) / count
        cy = np.bincount(unit, weights=seeds[:, 1]) / count
        score = d_river + 0.3 * np.hypot(seeds[:, 0] - cx[unit], seeds[:, 1] - cy[unit])
        best = np.lexsort((score, unit))
        best = best[np.r_[True, np.diff(unit[best]) != 0]]
        rank[best[unit[best] > 0]] = level
    rank[capital] = 3
    # A kecamatan holding its kabupaten's capital has the capital as its centre.
    for k in np.unique(kec[rank >= 2]):
        rank[(kec == k) & (rank == 1)] = 0
    return rank


def _codes_and_names(
    kec: np.ndarray,
    kab: np.ndarray,
    n_kab: int,
    province: str = "62",
    kota_name: str = "Kota Palangka Sintetis",
    prefix: str = "",
) -> dict[str, np.ndarray]:
    """BPS-style codes (PPKK, PPKKCCC, PPKKCCCVVV) and plainly synthetic names.

    ``province`` is the two-digit province code; ``prefix`` goes before the numbers in the names
    (the synthetic country uses the province code, so names are unique nationally).
    """
    kab_num = np.where(np.arange(n_kab + 1) == n_kab, 71, np.arange(n_kab + 1) + 1)
    kab_codes = np.array([f"{province}{k:02d}" for k in kab_num], dtype=object)
    kab_names = np.array(
        [f"Kabupaten Sintetis {prefix}{k:02d}" for k in kab_num[:-1]] + [kota_name], dtype=object
    )
    kec_kab = np.zeros(kec.max() + 1, dtype=np.int64)
    kec_kab[kec] = kab
    kec_seq = pd.Series(kec_kab).groupby(kec_kab).cumcount().to_numpy() + 1
    kec_codes = np.array(
        [f"{kab_codes[k]}{s * 10:03d}" for k, s in zip(kec_kab, kec_seq, strict=True)], dtype=object
    )
    kec_names = np.array(
        [f"Kecamatan Sintetis {prefix}{i + 1:03d}" for i in range(len(kec_codes))], dtype=object
    )
    vil_seq = pd.Series(kec).groupby(kec).cumcount().to_numpy() + 1
    codes = np.array([f"{kec_codes[k]}{s:03d}" for k, s in zip(kec, vil_seq, strict=True)], dtype=object)
    is_kota = kab == n_kab
    names = np.array(
        [f"{'Kelurahan' if t else 'Desa'} Sintetis {prefix}{i + 1:04d}" for i, t in enumerate(is_kota)],
        dtype=object,
    )
    return {
        "codes": codes,
        "village_names": names,
        "kec_index": kec,
        "kec_codes": kec_codes,
        "kec_names": kec_names,
        "kab_index": kab,
        "kab_codes": kab_codes,
        "kab_names": kab_names,
    }


# --- roads --------------------------------------------------------------------------------------


def _roads(
    rng: np.random.Generator, outline: shapely.Polygon, seeds: np.ndarray, admin: dict[str, np.ndarray]
) -> pd.DataFrame:
    """A sparse network: a southern trunk road through the capitals, spurs inland, local roads."""
    rank, kab = admin["town_rank"], admin["kab_index"]
    xmin, _, xmax, _ = outline.bounds
    caps = np.flatnonzero(rank >= 2)
    south = caps[seeds[caps, 1] <= np.median(seeds[caps, 1])]
    if len(south) < 2:
        south = caps[np.argsort(seeds[caps, 1])[:2]]
    south = south[np.argsort(seeds[south, 0])]
    edges: list[tuple[np.ndarray, np.ndarray, str]] = []
    # The trunk runs from border to border, like the southern Trans-Kalimantan road.
    ends = [np.array([xmin - 5.0, seeds[south[0], 1]]), np.array([xmax + 5.0, seeds[south[-1], 1]])]
    stops = [ends[0], *seeds[south], ends[1]]
    edges += [(a, b, "trunk") for a, b in zip(stops[:-1], stops[1:], strict=True)]
    for c in np.setdiff1d(caps, south):
        nearest = south[np.argmin(np.hypot(*(seeds[south] - seeds[c]).T))]
        edges.append((seeds[nearest], seeds[c], "primary"))
    connected = set(caps.tolist())
    for k in np.unique(kab):
        members = np.flatnonzero(kab == k)
        capital = members[rank[members] >= 2][0]
        # Every kecamatan centre is linked to its capital by a kabupaten road (an assumption of the
        # demo). Linking only the nearer half left 40 % of people over 5 km from an all-weather road.
        centres = members[rank[members] == 1]
        nodes = np.append(capital, centres)
        if len(nodes) > 1:
            dist = np.hypot(*(seeds[nodes, None] - seeds[None, nodes]).transpose(2, 0, 1))
            tree = minimum_spanning_tree(dist).tocoo()
            edges += [
                (seeds[nodes[i]], seeds[nodes[j]], "secondary")
                for i, j in zip(tree.row, tree.col, strict=True)
            ]
        connected.update(centres.tolist())
    tree = cKDTree(seeds)
    for t in sorted(connected):
        k, radius, kind = (7, 25.0, "tertiary") if rank[t] >= 2 else (3, 12.0, "unclassified")
        dist, idx = tree.query(seeds[t], k=min(k + 1, len(seeds)))
        for j in idx[(dist > 0) & (dist <= radius)]:
            edges.append((seeds[t], seeds[j], kind))
            connected.add(int(j))
    linked = np.array(sorted(connected))
    dist, near = cKDTree(seeds[linked]).query(seeds)
    tracks = (dist > 0) & (dist <= 15.0) & (rng.random(len(seeds)) < 0.2)
    edges += [(seeds[linked[near[i]]], seeds[i], "track") for i in np.flatnonzero(tracks)]
    return _edges_frame(rng, outline, edges)


def _edges_frame(
    rng: np.random.Generator, outline: shapely.Polygon, edges: list[tuple[np.ndarray, np.ndarray, str]]
) -> pd.DataFrame:
    """Road edges as wiggly MultiLineStrings clipped to the province, with names."""
    lines = _lines([_wiggly_path(rng, a, b, 0.03) for a, b, _ in edges])
    kinds = np.array([kind for _, _, kind in edges], dtype=object)
    seq = pd.Series(kinds).groupby(kinds).cumcount().to_numpy() + 1
    label = {
        "trunk": "Jalan Trans Kalimantan Sintetis",
        "primary": "Jalan Provinsi Sintetis",
        "secondary": "Jalan Kabupaten Sintetis",
        "tertiary": "Jalan Kota Sintetis",
        "unclassified": "Jalan Desa Sintetis",
        "track": "Jalan Setapak Sintetis",
    }
    names = [label[k] if k == "trunk" else f"{label[k]} {s:04d}" for k, s in zip(kinds, seq, strict=True)]
    frame = pd.DataFrame({"name": names, "kind": kinds})
    frame["geometry"] = _collect(shapely.intersection(lines, outline), 1)
    return frame[~shapely.is_empty(frame["geometry"].to_numpy())].reset_index(drop=True)
