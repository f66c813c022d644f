"""Geography of the synthetic country: islands, their provinces, and trunk roads between them.

Private helper of `layers.demo.country`. Everything is built in one national kilometre frame (an
equirectangular projection about 118° E, 2.5° S), where distances and areas are plain Euclidean.
Between 6° N and 11° S the east-west scale of that frame is off by at most 1.6 %, which a synthetic
country can ignore. Each province's villages, rivers and local roads come from the province demo's
generator (`layers.demo._province_geo.generate_geography`) run inside the province's outline.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import shapely
from scipy.sparse import coo_matrix
from scipy.sparse.csgraph import shortest_path
from scipy.spatial import Delaunay

#: Origin and scale of the national km frame: lon0, lat0, km per degree of lon, of lat.
FRAME: tuple[float, float, float, float] = (118.0, -2.5, 111.32 * float(np.cos(np.radians(2.5))), 110.57)
#: Sea kept between two islands (km): their villages never touch and no road crosses the gap.
STRAIT_KM = 8.0


@dataclass(frozen=True)
class Island:
    """Where an island lies and how it is shaped; its area is the sum of its provinces'."""

    name: str
    lon: float
    lat: float
    angle_deg: float  #: direction of the long axis, counter-clockwise from east
    aspect: float  #: length over width
    provinces: tuple[str, ...]  #: BPS province codes on the island


#: The islands, roughly where Indonesia's are. Several real island groups are one island here
#: (Nusa Tenggara Timur, Maluku, Kepulauan Riau), so each province lies on one island.
ISLANDS: tuple[Island, ...] = (
    Island("Sumatera", 100.7, -0.2, -47.0, 4.6, ("11", "12", "13", "14", "15", "16", "17", "18")),
    Island("Bangka Belitung", 106.6, -2.4, -35.0, 2.2, ("19",)),
    Island("Kepulauan Riau", 104.9, 1.2, 0.0, 1.5, ("21",)),
    Island("Jawa", 110.3, -7.3, -9.0, 6.0, ("36", "31", "32", "33", "34", "35")),
    Island("Bali", 115.3, -8.4, -15.0, 1.7, ("51",)),
    Island("Nusa Tenggara Barat", 117.7, -8.6, -8.0, 3.5, ("52",)),
    Island("Nusa Tenggara Timur", 121.9, -9.0, -12.0, 5.0, ("53",)),
    Island("Kalimantan", 114.0, -0.4, 35.0, 1.25, ("61", "62", "63", "64", "65")),
    Island("Sulawesi", 121.3, -1.9, 80.0, 2.3, ("71", "72", "73", "74", "75", "76")),
    Island("Maluku Utara", 128.1, 0.9, 80.0, 2.0, ("82",)),
    Island("Maluku", 129.8, -3.3, -5.0, 3.0, ("81",)),
    Island("Papua", 137.4, -4.0, -22.0, 2.6, ("91", "92", "94", "95", "96", "97")),
)


def to_km(lon: np.ndarray, lat: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Longitude and latitude to the national km frame."""
    lon0, lat0, kx, ky = FRAME
    return (np.asarray(lon) - lon0) * kx, (np.asarray(lat) - lat0) * ky


def to_lonlat(x: np.ndarray, y: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """National km frame to longitude and latitude."""
    lon0, lat0, kx, ky = FRAME
    return lon0 + np.asarray(x) / kx, lat0 + np.asarray(y) / ky


def island_outline(
    rng: np.random.Generator, island: Island, area_km2: float, centre_xy: np.ndarray
) -> shapely.Polygon:
    """An irregular, elongated outline of ``area_km2`` centred on ``centre_xy`` (km frame)."""
    theta = np.linspace(0.0, 2 * np.pi, 720, endpoint=False)
    radius = np.ones_like(theta)
    for k in range(2, 40):  # as the province demo: low harmonics give lobes, high ones a ragged coast
        amp = rng.uniform(0.02, 0.08) / np.sqrt(k) if k < 9 else rng.uniform(0.0, 0.035) / k
        radius += amp * np.cos(k * theta + rng.uniform(0, 2 * np.pi))
    stretch = np.sqrt(island.aspect)
    x, y = stretch * radius * np.cos(theta), radius * np.sin(theta) / stretch
    a = np.radians(island.angle_deg)
    xy = np.column_stack([x * np.cos(a) - y * np.sin(a), x * np.sin(a) + y * np.cos(a)])
    unit = shapely.Polygon(xy)
    return shapely.Polygon(xy * np.sqrt(area_km2 / unit.area) + centre_xy)


def split_island(
    rng: np.random.Generator, outline: shapely.Polygon, sites: np.ndarray, areas: np.ndarray
) -> list[shapely.Polygon]:
    """Cut ``outline`` into one polygon per site with areas in proportion to ``areas``.

    The cut is a power diagram (a Voronoi diagram with one additive weight per site): its cells
    are convex and tile the plane, so the provinces tile the island without overlaps, and each
    province lies around its real centroid. The weights are fitted on random sample points until
    every cell holds its share; each province keeps the largest part of its cell (a lobe cut off
    by a neighbour becomes sea).
    """
    if len(sites) == 1:
        return [outline]
    xmin, ymin, xmax, ymax = outline.bounds
    pts = rng.uniform([xmin, ymin], [xmax, ymax], (60_000, 2))
    pts = pts[shapely.contains_xy(outline, pts[:, 0], pts[:, 1])]
    d2 = ((pts[:, None, :] - sites[None, :, :]) ** 2).sum(axis=2)
    target = areas / areas.sum()
    weight = np.zeros(len(sites))
    # Raising a weight by w moves the cell's borders out by about w / (2 d) and grows its area by
    # about w; the half step keeps the fixed-point iteration from oscillating.
    for _ in range(400):
        got = np.bincount(np.argmin(d2 - weight, axis=1), minlength=len(sites)) / len(pts)
        weight += 0.5 * outline.area * (target - got)
        if np.abs(got - target).max() < 0.002 * target.max():
            break
    return [_largest(shapely.intersection(outline, _power_cell(sites, weight, i))) for i in range(len(sites))]


def _power_cell(sites: np.ndarray, weight: np.ndarray, i: int) -> shapely.Polygon:
    """Site ``i``'s power cell: the intersection of one half-plane per other site."""
    big = 1e5  # km: far beyond any island
    cell = shapely.box(-big, -big, big, big)
    for j in np.flatnonzero(np.arange(len(sites)) != i):
        # |x - s_i|^2 - w_i <= |x - s_j|^2 - w_j  <=>  n . x <= c
        n = 2.0 * (sites[j] - sites[i])
        c = (sites[j] ** 2).sum() - (sites[i] ** 2).sum() - weight[j] + weight[i]
        unit = n / np.hypot(*n)
        p0 = unit * c / np.hypot(*n)
        t = np.array([-unit[1], unit[0]])
        half = shapely.Polygon(
            [p0 + big * t, p0 - big * t, p0 - big * t - big * unit, p0 + big * t - big * unit]
        )
        cell = shapely.intersection(cell, half)
    return cell


def _largest(geom: shapely.Geometry) -> shapely.Polygon:
    """The largest polygon part of ``geom``."""
    parts = shapely.get_parts(geom)
    parts = parts[shapely.get_type_id(parts) == 3]
    return parts[np.argmax(shapely.area(parts))]


def neighbours(polygons: Sequence[shapely.Polygon]) -> list[tuple[int, int]]:
    """Pairs (i, j), i < j, of polygons that share a border (closer than 100 m)."""
    geoms = np.array(polygons, dtype=object)
    pairs = []
    for i in range(len(geoms)):
        near = np.flatnonzero(shapely.distance(geoms[i], geoms[i + 1 :]) < 0.1) + i + 1
        pairs += [(i, int(j)) for j in near]
    return pairs


def trunk_paths(land: shapely.Geometry, seeds: np.ndarray, pairs: list[tuple[int, int]]) -> list[np.ndarray]:
    """Land routes between pairs of settlements: shortest paths over the settlements' Delaunay graph.

    ``pairs`` index ``seeds``. Only Delaunay edges lying on ``land`` are used, so a route never
    crosses the sea; it runs from settlement to settlement, as trunk roads link towns.
    """
    if not pairs:
        return []
    tri = Delaunay(seeds)
    edges = np.vstack([tri.simplices[:, [0, 1]], tri.simplices[:, [1, 2]], tri.simplices[:, [2, 0]]])
    edges = np.unique(np.sort(edges, axis=1), axis=0)
    segments = shapely.linestrings(np.stack([seeds[edges[:, 0]], seeds[edges[:, 1]]], axis=1))
    shapely.prepare(land)
    edges = edges[shapely.covers(land, segments)]
    length = np.hypot(*(seeds[edges[:, 0]] - seeds[edges[:, 1]]).T)
    n = len(seeds)
    graph = coo_matrix((length, (edges[:, 0], edges[:, 1])), shape=(n, n)).tocsr()
    starts = np.unique([a for a, _ in pairs])
    _, pred = shortest_path(graph, directed=False, indices=starts, return_predecessors=True)
    paths = []
    for a, b in pairs:
        row = pred[np.searchsorted(starts, a)]
        path = [b]
        while path[-1] != a:
            step = row[path[-1]]
            if step < 0:
                raise RuntimeError(f"no land route between settlements {a} and {b}")
            path.append(int(step))
        paths.append(seeds[path[::-1]])
    return paths
