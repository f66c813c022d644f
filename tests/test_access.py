"""Travel time on the friction surface: analytic cases, physical bounds, independent solvers, COG."""

from __future__ import annotations

import heapq
import logging
import math
from pathlib import Path

import geopandas as gpd
import numpy as np
import pytest
import rasterio
import shapely
from numpy.typing import NDArray
from pyproj import Geod, Transformer
from scipy.sparse import csr_matrix
from scipy.sparse.csgraph import dijkstra
from skimage.graph import MCP_Geometric

from layers.config import FACILITY_KINDS, AccessConfig
from layers.geo.access import (
    _KING,
    _KNIGHT,
    DISCRETISATION_BOUND,
    OCTILE_BOUND,
    FrictionSurface,
    _solve_all,
    friction_surface,
    metric_crs,
    travel_time,
    travel_time_rasters,
    travel_times,
    write_cog,
)

GEOD = Geod(ellps="WGS84")
CONFIG = AccessConfig()
WALK = 60.0 / (1000.0 * CONFIG.walking_kmh)  # minutes per metre
BOUNDS = (113.0, -1.0, 113.4, -0.6)
CENTRE = (113.2, -0.8)
PIXEL = CONFIG.resolution_m
# Source and target each move to their pixel centre: at most half a pixel diagonal each.
SNAP_M = math.sqrt(2.0) * PIXEL


def geodesic_m(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    a, b = np.broadcast_arrays(np.atleast_2d(a), np.atleast_2d(b))
    return GEOD.inv(a[:, 0], a[:, 1], b[:, 0], b[:, 1])[2]


def pixel_centres(surface: FrictionSurface) -> tuple[np.ndarray, np.ndarray]:
    """Metric x, y and lon/lat of every pixel centre."""
    rows, cols = np.indices(surface.shape)
    x, y = surface.transform @ (cols.ravel() + 0.5, rows.ravel() + 0.5)
    lon, lat = Transformer.from_crs(surface.crs, 4326, always_xy=True).transform(x, y)
    return np.column_stack([x, y]), np.column_stack([lon, lat])


def ring(lon: float, lat: float, inner_m: float, outer_m: float) -> shapely.Polygon:
    deg = 1.0 / 111_320.0
    return (
        shapely.Point(lon, lat)
        .buffer(outer_m * deg)
        .difference(shapely.Point(lon, lat).buffer(inner_m * deg))
    )


@pytest.fixture(scope="module")
def walking() -> FrictionSurface:
    return friction_surface(BOUNDS, None, None, CONFIG)


# --- analytic cases -----------------------------------------------------------------------------


@pytest.mark.parametrize(("connectivity", "bound"), [(16, DISCRETISATION_BOUND), (8, OCTILE_BOUND)])
def test_uniform_friction_is_distance_over_speed(
    walking: FrictionSurface, connectivity: int, bound: float
) -> None:
    xy, lonlat = pixel_centres(walking)
    source = np.argmin(np.hypot(*(xy - xy.mean(axis=0)).T))  # a pixel centre near the middle
    raster = travel_time_rasters(walking, {"k": lonlat[[source]]}, connectivity=connectivity)["k"]
    grid_m = np.hypot(*(xy - xy[source]).T)
    far = grid_m > 10 * PIXEL
    excess = raster.ravel()[far] / (grid_m[far] * WALK) - 1.0
    # Never shorter than the straight line, never longer than the connectivity's bound, and the
    # bound is nearly reached somewhere (the grid really is that connected, no better).
    assert excess.min() > -1e-6
    assert excess.max() <= bound + 1e-6
    assert excess.max() > 0.9 * bound
    # On the ground (geodesic), the same within the projection's scale error (<0.06 %).
    ground = geodesic_m(lonlat[source], lonlat[far]) * WALK
    assert np.all(raster.ravel()[far] >= ground * (1 - 6e-4))
    assert np.all(raster.ravel()[far] <= ground * (1 + bound + 6e-4))


def test_straight_road_corridor() -> None:
    road = shapely.LineString([(113.05, -0.8), (113.35, -0.8)])
    roads = gpd.GeoDataFrame({"highway": ["trunk"]}, geometry=[road], crs=4326)
    surface = friction_surface(BOUNDS, roads, None, CONFIG)
    ends = np.array(road.coords)
    minutes = travel_time(surface, ends[:1], ends[1:])[0]
    along = geodesic_m(ends[0], ends[1])[0] / (60_000.0 / 60.0)  # 60 km/h = 1000 m/min
    assert minutes == pytest.approx(along, rel=0.01, abs=SNAP_M / 1000.0)
    # ~33 km at 60 km/h is ~33 min; walking would be ~8 h.
    assert minutes < 40


def test_village_reachable_only_by_river() -> None:
    river = shapely.LineString([(113.05, -0.9), (113.15, -0.85), (113.25, -0.88), (113.35, -0.7)])
    rivers = gpd.GeoDataFrame({"waterway": ["river"]}, geometry=[river], crs=4326)
    swamp = shapely.box(*BOUNDS)  # nowhere to walk: only the boat moves
    surface = friction_surface(BOUNDS, None, rivers, CONFIG, barriers=swamp)
    pts = np.array(river.coords)
    length = geodesic_m(pts[:-1], pts[1:]).sum()
    off_river_near = [113.35 + 0.002, -0.7]  # ~220 m away: snaps onto the river
    off_river_far = [113.3, -0.95]  # ~15 km away in the swamp
    minutes = travel_time(surface, pts[:1], np.array([pts[-1], off_river_near, off_river_far]))
    boat = length / (15_000.0 / 60.0)
    assert minutes[0] == pytest.approx(boat, rel=DISCRETISATION_BOUND, abs=2 * SNAP_M / 250.0)
    assert minutes[0] >= boat * (1 - 6e-4) - 2 * SNAP_M / 250.0
    assert minutes[1] == pytest.approx(minutes[0], abs=2.0)
    assert minutes[2] == np.inf


def test_unreachable_island_is_inf_never_zero() -> None:
    island = (113.2, -0.8)
    water = ring(*island, inner_m=3000, outer_m=5000)
    surface = friction_surface(BOUNDS, None, None, CONFIG, barriers=water)
    on_island = np.array([[113.2, -0.8], [113.21, -0.8]])
    mainland = np.array([[113.05, -0.65], [113.35, -0.95]])
    from_mainland = travel_time(surface, mainland[:1], np.vstack([on_island, mainland]))
    assert np.all(from_mainland[:2] == np.inf)
    assert np.all(np.isfinite(from_mainland[2:])) and from_mainland[2] == 0
    from_island = travel_time(surface, on_island[:1], np.vstack([on_island, mainland]))
    assert from_island[0] == 0 and 0 < from_island[1] < np.inf
    assert np.all(from_island[2:] == np.inf)


def test_knight_moves_do_not_jump_a_thin_barrier() -> None:
    # A barrier one pixel wide, at an angle where a knight move would hop over it if only its
    # end pixels counted.
    wall = shapely.LineString([(113.2, -1.0), (113.25, -0.6)])
    surface = friction_surface(BOUNDS, None, None, CONFIG, barriers=wall, pad_m=0)
    minutes = travel_time(surface, np.array([[113.1, -0.8]]), np.array([[113.3, -0.8]]))
    assert minutes[0] == np.inf


def test_no_sources_gives_inf(walking: FrictionSurface) -> None:
    minutes = travel_time(walking, np.empty((0, 2)), np.array([CENTRE]))
    assert minutes.tolist() == [np.inf]


def test_targets_outside_the_grid_raise(walking: FrictionSurface) -> None:
    with pytest.raises(ValueError, match="1 of 2 targets lie outside the friction grid"):
        travel_time(walking, np.array([CENTRE]), np.array([CENTRE, [115.0, -0.8]]))


def test_sources_outside_the_grid_are_dropped(
    walking: FrictionSurface, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.WARNING):
        minutes = travel_time(walking, np.array([[120.0, 5.0]]), np.array([CENTRE]))
    assert minutes.tolist() == [np.inf]
    assert "1 of 1 facilities are outside the grid" in caplog.text


# --- physical bounds and an independent solver -------------------------------------------------


@pytest.fixture(scope="module")
def network() -> tuple[FrictionSurface, np.ndarray, np.ndarray]:
    rng = np.random.default_rng(7)
    west, south, east, north = BOUNDS

    def lines(k: int) -> list[shapely.LineString]:
        starts = rng.uniform([west, south], [east, north], (k, 2))
        return [shapely.LineString(s + np.cumsum(rng.normal(0, 0.02, (8, 2)), axis=0)) for s in starts]

    roads = gpd.GeoDataFrame(
        {"highway": rng.choice(list(CONFIG.road_speeds_kmh), 40)}, geometry=lines(40), crs=4326
    )
    rivers = gpd.GeoDataFrame({"waterway": rng.choice(["river", "stream"], 8)}, geometry=lines(8), crs=4326)
    surface = friction_surface(BOUNDS, roads, rivers, CONFIG)
    sources = rng.uniform([west + 0.05, south + 0.05], [east - 0.05, north - 0.05], (6, 2))
    targets = rng.uniform([west, south], [east, north], (400, 2))
    return surface, sources, targets


def test_physical_bounds_with_roads_and_rivers(
    network: tuple[FrictionSurface, np.ndarray, np.ndarray],
) -> None:
    surface, sources, targets = network
    minutes = travel_time(surface, sources, targets)
    nearest = geodesic_m(
        targets[:, None, :].repeat(len(sources), 1).reshape(-1, 2), np.tile(sources, (len(targets), 1))
    )
    nearest = nearest.reshape(len(targets), len(sources)).min(axis=1)
    fastest = 60.0 / (1000.0 * max(CONFIG.road_speeds_kmh.values()))
    assert np.all(minutes >= (nearest - SNAP_M) * fastest * (1 - 6e-4))
    assert np.all(minutes <= (nearest + SNAP_M) * WALK * (1 + DISCRETISATION_BOUND))
    assert np.all(np.isfinite(minutes))
    # Roads help: on average clearly faster than walking the straight line.
    assert np.median(minutes / (nearest * WALK)) < 0.9


def test_8_neighbours_match_scikit_image_mcp_geometric(
    network: tuple[FrictionSurface, np.ndarray, np.ndarray],
) -> None:
    surface, sources, _ = network
    rows, cols = surface.lonlat_to_rowcol(sources)
    mcp = MCP_Geometric(surface.minutes_per_m.astype(np.float64) * surface.resolution_m)
    expected, _ = mcp.find_costs(list(zip(rows, cols, strict=True)))
    ours = travel_time_rasters(surface, {"k": sources}, connectivity=8)["k"]
    np.testing.assert_allclose(ours, expected, rtol=2e-6)
    # Knight moves only add shortcuts: never slower, and within the 8-neighbour excess of it.
    sixteen = travel_time_rasters(surface, {"k": sources})["k"]
    assert np.all(sixteen <= ours * (1 + 1e-6))
    assert np.all(sixteen >= ours / (1 + OCTILE_BOUND) - 1e-3)
    assert np.percentile(1 - sixteen / np.maximum(ours, 1e-9), 90) > 0.01


def _heapq_dijkstra(friction: np.ndarray, sources: list[tuple[int, int]], res: float) -> np.ndarray:
    """Textbook Dijkstra over the 16-neighbour moves, written independently of layers.geo.access."""
    rows, cols = friction.shape
    best = np.full(friction.shape, np.inf)
    heap = [(0.0, r, c) for r, c in sources]
    for _, r, c in heap:
        best[r, c] = 0.0
    moves = [
        (dr, dc) for dr in range(-2, 3) for dc in range(-2, 3) if {abs(dr), abs(dc)} in ({0, 1}, {1}, {1, 2})
    ]
    while heap:
        d, r, c = heapq.heappop(heap)
        if d > best[r, c]:
            continue
        for dr, dc in moves:
            r2, c2 = r + dr, c + dc
            if not (0 <= r2 < rows and 0 <= c2 < cols):
                continue
            if abs(dr) == 2 or abs(dc) == 2:  # knight: the four pixels the segment crosses
                mid = (
                    [(r, c + dc // 2), (r + dr, c + dc // 2)]
                    if abs(dc) == 2
                    else [(r + dr // 2, c), (r + dr // 2, c + dc)]
                )
                cost = (friction[r, c] + friction[mid[0]] + friction[mid[1]] + friction[r2, c2]) / 4
            else:
                cost = (friction[r, c] + friction[r2, c2]) / 2
                if dr and dc and np.isinf(friction[r + dr, c]) and np.isinf(friction[r, c + dc]):
                    cost = np.inf
            step = d + cost * math.hypot(dr, dc) * res
            if step < best[r2, c2]:
                best[r2, c2] = step
                heapq.heappush(heap, (step, r2, c2))
    return best


def test_16_neighbours_match_an_independent_dijkstra() -> None:
    rng = np.random.default_rng(3)
    friction = rng.uniform(0.001, 0.02, (40, 50)).astype(np.float32)
    friction[rng.random(friction.shape) < 0.15] = np.inf  # scattered impassable pixels
    crs = metric_crs(BOUNDS)
    surface = FrictionSurface(friction, rasterio.Affine(250, 0, 0, 0, -250, 0), crs, 250.0)
    sources = [(5, 5), (30, 40)]
    friction[5, 5] = friction[30, 40] = 0.01
    surface = FrictionSurface(friction, surface.transform, crs, 250.0)
    xy = np.array([[c * 250 + 125, -(r * 250 + 125)] for r, c in sources])
    lonlat = np.column_stack(Transformer.from_crs(crs, 4326, always_xy=True).transform(xy[:, 0], xy[:, 1]))
    ours = travel_time_rasters(surface, {"k": lonlat})["k"]
    expected = _heapq_dijkstra(friction.astype(np.float64), sources, 250.0)
    np.testing.assert_array_equal(np.isinf(ours), np.isinf(expected))
    finite = np.isfinite(expected)
    np.testing.assert_allclose(ours[finite], expected[finite], rtol=1e-6)


def _grid_graph(friction: NDArray[np.float32], resolution_m: float, connectivity: int) -> csr_matrix:
    """The move graph in CSR form: every pixel has one entry per move, in a fixed order.

    The build's solver until issue 24 ran ``scipy.sparse.csgraph.dijkstra`` on it; kept here as
    the plain form of the moves, which `layers.geo._grid_dijkstra` must match bit for bit.

    A move that would leave the grid points back at its own pixel with an infinite cost, so the
    row pointer is a plain ``arange`` and no compaction pass (and second copy) is needed.
    """
    rows, cols = friction.shape
    n = rows * cols
    moves = _KING + (_KNIGHT if connectivity == 16 else ())
    k = len(moves)
    if n * k >= 2**31:
        raise ValueError(f"grid of {n} pixels is too large for a 32-bit graph index")
    weight = np.full((rows, cols, k), np.inf)
    target = np.empty((rows, cols, k), np.int32)
    own = np.arange(n, dtype=np.int32).reshape(rows, cols)
    for j, (dr, dc) in enumerate(moves):
        src = (slice(max(0, -dr), rows - max(0, dr)), slice(max(0, -dc), cols - max(0, dc)))
        target[..., j] = own
        target[src + (j,)] = own[_shifted(src, dr, dc)]
        weight[src + (j,)] = _move_cost(friction, src, dr, dc) * resolution_m
    indptr = np.arange(0, n * k + 1, k, dtype=np.int32)
    return csr_matrix((weight.reshape(-1), target.reshape(-1), indptr), shape=(n, n))


def _shifted(src: tuple[slice, slice], dr: int, dc: int) -> tuple[slice, slice]:
    return slice(src[0].start + dr, src[0].stop + dr), slice(src[1].start + dc, src[1].stop + dc)


def _move_cost(f: NDArray[np.float32], src: tuple[slice, slice], dr: int, dc: int) -> NDArray[np.float64]:
    """Minutes per metre of resolution for one move: the friction integrated along the segment."""
    start = f[src].astype(np.float64)
    end = f[_shifted(src, dr, dc)]
    length = math.hypot(dr, dc)
    if abs(dr) + abs(dc) == 1:  # orthogonal: half in each pixel
        return (start + end) * (length / 2.0)
    if abs(dr) == abs(dc):  # diagonal: half in each pixel, closed if both corner pixels are
        cost = (start + end) * (length / 2.0)
        cost[np.isinf(f[_shifted(src, dr, 0)]) & np.isinf(f[_shifted(src, 0, dc)])] = np.inf
        return cost
    # Knight move (1, 2): the segment crosses (0, 0), (0, 1), (1, 1), (1, 2), a quarter in each.
    if abs(dc) == 2:
        a, b = f[_shifted(src, 0, dc // 2)], f[_shifted(src, dr, dc // 2)]
    else:
        a, b = f[_shifted(src, dr // 2, 0)], f[_shifted(src, dr // 2, dc)]
    return (start + a + b + end) * (length / 4.0)


@pytest.mark.parametrize("connectivity", [8, 16])
@pytest.mark.parametrize("seed", [0, 1, 2])
def test_grid_solver_is_bit_for_bit_scipy_on_the_csr_graph(connectivity: int, seed: int) -> None:
    """The compiled grid Dijkstra against ``scipy.sparse.csgraph.dijkstra`` on the CSR graph of the
    same moves (`_grid_graph`): equal bits, impassable walls, closed corners and grid edges included."""
    rng = np.random.default_rng(seed)
    shape = (37 + seed, 53 - seed)
    friction = rng.uniform(0.0005, 0.03, shape).astype(np.float32)
    friction[rng.random(shape) < 0.2] = np.inf
    friction[:, 20] = np.inf  # a wall with one gap: paths must go round it
    friction[10, 20] = 0.01
    friction[rng.random(shape) < 0.05] = np.float32(0.0003)  # roads: ties and near-ties of sums
    surface = FrictionSurface(friction, rasterio.Affine(250, 0, 0, 0, -250, 0), metric_crs(BOUNDS), 250.0)
    passable = np.flatnonzero(np.isfinite(friction.reshape(-1)))
    sources = np.unique(rng.choice(passable, 4, replace=False)).astype(np.int64)
    graph = _grid_graph(friction, 250.0, connectivity)
    expected = dijkstra(graph, directed=True, indices=sources, min_only=True).astype(np.float32)
    ours = _solve_all(surface, [sources], connectivity, workers=1)[0].reshape(-1)
    assert np.isfinite(ours).sum() > 0.5 * len(passable)  # most of the grid is reached
    np.testing.assert_array_equal(ours, expected)


# --- many kinds, workers, caching ----------------------------------------------------------------


def test_travel_times_all_kinds_in_workers_match_serial(
    network: tuple[FrictionSurface, np.ndarray, np.ndarray],
) -> None:
    surface, sources, targets = network
    facilities = {kind: sources[i : i + 2] for i, kind in enumerate(FACILITY_KINDS)}
    facilities["health_hospital"] = np.empty((0, 2))
    fresh = FrictionSurface(surface.minutes_per_m, surface.transform, surface.crs, surface.resolution_m)
    parallel = travel_times(fresh, facilities, targets, workers=2).by_kind
    serial = travel_times(surface, facilities, targets, workers=1).by_kind
    assert list(parallel) == list(FACILITY_KINDS)
    for kind in FACILITY_KINDS:
        np.testing.assert_array_equal(parallel[kind], serial[kind])
    assert np.all(parallel["health_hospital"] == np.inf)
    # The rasters behind travel_times are cached: asking for them again solves nothing.
    rasters = travel_time_rasters(fresh, facilities)
    assert rasters["school_sd"] is travel_time_rasters(fresh, facilities)["school_sd"]
    assert not rasters["school_sd"].flags.writeable


def test_minutes_to_the_edge_come_with_the_kinds_and_bound_every_path_out(walking: FrictionSurface) -> None:
    """``to_edge``: on uniform walking, a target's minutes to the edge are its distance to the
    nearest side of the grid over the walking speed; the kinds' minutes do not change."""
    xy, lonlat = pixel_centres(walking)
    rows, cols = walking.shape
    centre = np.argmin(np.hypot(*(xy - xy.mean(axis=0)).T))
    targets = lonlat[[centre, cols * (rows // 2) + 3]]  # the middle, and 3 pixels in from the west side
    facilities = {"k": lonlat[[centre]]}
    with_edge = travel_times(walking, facilities, targets, to_edge=True)
    without = travel_times(walking, facilities, targets)
    assert without.to_edge is None and list(with_edge.by_kind) == ["k"]
    np.testing.assert_array_equal(with_edge.by_kind["k"], without.by_kind["k"])
    west_m = 3 * PIXEL  # pixel centre 3 to pixel centre 0
    assert with_edge.to_edge[1] == pytest.approx(west_m * WALK, rel=1e-6)
    r, c = divmod(int(centre), cols)
    middle_m = min(r, c, rows - 1 - r, cols - 1 - c) * PIXEL  # straight along a row or column
    assert with_edge.to_edge[0] == pytest.approx(middle_m * WALK, rel=1e-6)


# --- friction surface ---------------------------------------------------------------------------


def test_metric_crs_scale_error_across_central_kalimantan() -> None:
    bounds = (110.7, -3.6, 115.85, 0.8)
    crs = metric_crs(bounds)
    lon, lat = np.meshgrid(np.linspace(bounds[0], bounds[2], 41), np.linspace(bounds[1], bounds[3], 41))
    from pyproj import Proj

    factors = Proj(crs).get_factors(lon.ravel(), lat.ravel())
    assert np.abs(np.asarray(factors.meridional_scale) - 1).max() < 6e-4
    assert np.abs(np.asarray(factors.parallel_scale) - 1).max() < 6e-4


def test_fastest_class_wins_and_unknown_classes_warn(caplog: pytest.LogCaptureFixture) -> None:
    line = shapely.LineString([(113.1, -0.8), (113.3, -0.8)])
    roads = gpd.GeoDataFrame(
        {"highway": ["track", "primary", "footway", "primary_link"]},
        geometry=[
            line,
            line,
            shapely.LineString([(113.1, -0.7), (113.3, -0.7)]),
            shapely.LineString([(113.1, -0.9), (113.3, -0.9)]),
        ],
        crs=4326,
    )
    rivers = gpd.GeoDataFrame({"waterway": ["river"]}, geometry=[line], crs=4326)
    with caplog.at_level(logging.WARNING):
        surface = friction_surface(BOUNDS, roads, rivers, CONFIG)
    assert "footway" in caplog.text and "primary_link" not in caplog.text
    rows, cols = surface.lonlat_to_rowcol(np.array([[113.2, -0.8], [113.2, -0.7], [113.2, -0.9]]))
    kmh = 60.0 / (1000.0 * surface.minutes_per_m[rows, cols])
    np.testing.assert_allclose(kmh, [50.0, 4.0, 50.0], rtol=1e-5)  # primary > river > track; link = primary
    with_default = friction_surface(BOUNDS, roads, None, CONFIG, default_road_kmh=5.0)
    assert 60.0 / (1000.0 * with_default.minutes_per_m[rows[1], cols[1]]) == pytest.approx(5.0)


def test_mask_outside_is_impassable_except_on_roads() -> None:
    province = shapely.box(113.0, -1.0, 113.2, -0.6)
    road = gpd.GeoDataFrame(
        {"highway": ["trunk"]}, geometry=[shapely.LineString([(113.1, -0.8), (113.35, -0.8)])], crs=4326
    )
    surface = friction_surface(BOUNDS, road, None, CONFIG, mask=province)
    targets = np.array([[113.195, -0.9], [113.21, -0.9], [113.3, -0.9], [113.3, -0.8]])
    minutes = travel_time(surface, np.array([[113.1, -0.9]]), targets)
    assert np.isfinite(minutes[0]) and np.isfinite(minutes[1])  # within the 1 km mask buffer
    assert minutes[2] == np.inf  # sea: nobody walks there
    assert np.isfinite(minutes[3])  # the road leaves the province and stays passable
    walk_outside = friction_surface(BOUNDS, road, None, CONFIG, mask=province, outside_mask_kmh=4.0)
    assert np.isfinite(travel_time(walk_outside, np.array([[113.1, -0.9]]), targets)).all()


def test_friction_surface_is_read_only_and_validated(walking: FrictionSurface) -> None:
    with pytest.raises(ValueError, match="read-only"):
        walking.minutes_per_m[0, 0] = 1.0
    with pytest.raises(ValueError, match="> 0 everywhere"):
        FrictionSurface(np.zeros((2, 2), np.float32), walking.transform, walking.crs, 250.0)
    with pytest.raises(ValueError, match="bounds_lonlat"):
        friction_surface((113.4, -1.0, 113.0, -0.6), None, None, CONFIG)


# --- facilities and COG --------------------------------------------------------------------------


def test_write_cog(tmp_path: Path) -> None:
    surface = friction_surface((113.0, -1.0, 114.3, 0.2), None, None, CONFIG)
    array = np.arange(surface.shape[0] * surface.shape[1], dtype=np.float32).reshape(surface.shape)
    array[:10, :10] = np.inf
    path = write_cog(
        tmp_path / "time_min_school_sd.tif", array, surface, {"kind": "school_sd", "units": "minutes"}
    )
    with rasterio.open(path) as ds:
        assert ds.driver == "GTiff" and ds.tags(ns="IMAGE_STRUCTURE")["LAYOUT"] == "COG"
        assert ds.profile["tiled"] and ds.block_shapes[0] == (256, 256)
        assert ds.overviews(1)
        # The CRS survives GeoTIFF keys: the same lon/lat lands on the same metres.
        there = Transformer.from_crs(4326, ds.crs.to_wkt(), always_xy=True).transform(114.0, 0.1)
        assert there == pytest.approx(
            Transformer.from_crs(4326, surface.crs, always_xy=True).transform(114.0, 0.1)
        )
        assert ds.transform == surface.transform
        assert ds.dtypes[0] == "float32" and np.isnan(ds.nodata)
        assert ds.compression.name.lower() == "deflate"
        assert ds.tags()["kind"] == "school_sd"
        back = ds.read(1)
    assert np.isnan(back[:10, :10]).all()
    np.testing.assert_array_equal(back[10:, 10:], array[10:, 10:])


def test_the_solver_compiles_uncached_where_no_cache_can_be_written(monkeypatch: pytest.MonkeyPatch) -> None:
    """A read-only install run by a user without a home: Numba refuses ``cache=True``; the solver
    module still defines its functions (compiled per process) rather than failing to import."""
    import layers.geo._grid_dijkstra as grid_dijkstra

    real = grid_dijkstra.njit
    asked: list[bool] = []

    def njit_without_locator(**options: object) -> object:
        asked.append(bool(options["cache"]))
        if options["cache"]:
            raise RuntimeError("cannot cache function 'f': no locator available for file 'f.py'")
        return real(**options)

    monkeypatch.setattr(grid_dijkstra, "njit", njit_without_locator)
    twice = grid_dijkstra._compiled()(lambda x: 2 * x)
    assert twice(21) == 42 and asked == [True, False]
