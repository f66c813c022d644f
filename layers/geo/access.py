"""Travel time to the nearest facility on a friction surface.

The AccessMod / Malaria Atlas Project method (Weiss et al. 2020, Nature Medicine 26:1835): a raster
whose pixels hold the minutes needed to cross one metre (walking off-road, faster on roads by class and
on navigable rivers by boat), and a least-cost search from all facilities of a kind at once.

How it is computed, and why:

* **Grid.** A Transverse Mercator projection centred on the area, with its scale factor ``k0`` set so
  the scale error is balanced between the centre line and the east/west edges. For Central Kalimantan
  (5.3° of longitude astride the equator) the error is within ±0.055 % (``|k - 1| ≲ x²/4R²`` with
  ``x`` the half-width in metres), far below the other errors, where one UTM zone would be off by up to
  0.4 % across 49S/50S. The projection is conformal, so a square pixel is square on the ground too.
* **Moves.** 16 neighbours: the 8 king moves and the 8 knight moves. A path on an 8-neighbour grid can
  be up to ``1/cos(22.5°) - 1`` = 8.2 % longer than the straight line; with knight moves the worst case
  is ``1/cos(atan(1/2) / 2) - 1`` = 2.75 % (`DISCRETISATION_BOUND`).
* **Move cost.** The exact integral of the piecewise-constant friction along the straight segment
  between the two pixel centres: half in each pixel for king moves (the MCP_Geometric convention),
  a quarter in each of the four pixels a knight move crosses (as GRASS ``r.cost -k``). So a knight move
  cannot jump over an impassable pixel, and a diagonal move cannot squeeze between two impassable
  pixels that touch at a corner.
* **Solver.** Dijkstra from all sources of a kind at once, compiled with Numba on the grid itself
  (`layers.geo._grid_dijkstra`): each move's cost is computed where it is relaxed, so no graph is
  stored. It gives bit for bit what ``scipy.sparse.csgraph.dijkstra(min_only=True)`` gives on the
  CSR graph of the same moves (which the build used until issue 24; tests/test_access.py builds it
  and compares them), without that graph's ~0.6 GB and its build, a fifth of the stage.
  scikit-image's ``MCP_Geometric`` accepts no move longer than one pixel, so it cannot give the
  16-neighbour accuracy. The solver releases the GIL, so the kinds run in threads sharing the
  friction array.
* **Targets.** A target (an H3 cell centre) takes the time of the pixel it falls in. The walk from the
  cell centre to the pixel centre (at most 177 m at 250 m, about 2.6 minutes on foot, and the same for
  the facility's end) is left out: it is small against an H3 res-8 cell (0.46 km edge) and the
  friction surface's own resolution.

Unreachable pixels and targets get ``np.inf``, never 0; writing them as NaN (`write_cog`) is the
caller's choice.
"""

from __future__ import annotations

import hashlib
import logging
import math
import os
from collections.abc import Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import geopandas as gpd
import numpy as np
import rasterio
import rasterio.shutil
import shapely
from affine import Affine
from numpy.typing import NDArray
from pyproj import CRS, Transformer
from rasterio.enums import MergeAlg, Resampling
from rasterio.features import rasterize
from rasterio.io import MemoryFile
from scipy import ndimage

from layers.config import AccessConfig
from layers.types import BBox

log = logging.getLogger(__name__)

#: Worst relative excess of a 16-neighbour grid path over the straight line (2.75 %).
DISCRETISATION_BOUND: float = 1.0 / math.cos(math.atan(0.5) / 2.0) - 1.0
#: The same for 8 neighbours (8.24 %), for comparison and for ``connectivity=8``.
OCTILE_BOUND: float = 1.0 / math.cos(math.pi / 8.0) - 1.0

_KING = ((0, 1), (1, 0), (0, -1), (-1, 0), (1, 1), (1, -1), (-1, 1), (-1, -1))
_KNIGHT = ((1, 2), (2, 1), (-1, 2), (-2, 1), (1, -2), (2, -1), (-1, -2), (-2, -1))
_EARTH_RADIUS_M = 6_371_008.8
#: Grids above this size need more than ~10 GB (friction, and minutes for every kind solved at
#: once, ~70 bytes a pixel); refuse them early.
_MAX_PIXELS = 120_000_000
#: Below this size a second thread costs more than it saves.
_PARALLEL_MIN_PIXELS = 250_000
#: Travel-time rasters kept per surface (each is rows x cols float32).
_CACHE_SIZE = 8


@dataclass(eq=False)
class FrictionSurface:
    """Minutes needed to cross one metre of each pixel, on a metric grid.

    Attributes
    ----------
    minutes_per_m : numpy.ndarray
        (rows, cols) float32; ``inf`` marks impassable pixels. Stored as a read-only view.
    transform : affine.Affine
        Pixel to metric-CRS coordinates (north up, square pixels).
    crs : pyproj.CRS
        The metric CRS (see `metric_crs`).
    resolution_m : float
        Pixel size in metres.
    """

    minutes_per_m: NDArray[np.float32]
    transform: Affine
    crs: CRS
    resolution_m: float
    # Travel-time rasters already computed on this surface, keyed by connectivity and source pixels.
    _rasters: dict[tuple[int, str], NDArray[np.float32]] = field(default_factory=dict, init=False, repr=False)
    # Nearest passable pixel (flat index) and its distance in metres, for every pixel; built on demand.
    _snap: tuple[NDArray[np.int64], NDArray[np.float32]] | None = field(default=None, init=False, repr=False)

    def __post_init__(self) -> None:
        friction = np.asarray(self.minutes_per_m, dtype=np.float32)
        if friction.ndim != 2 or min(friction.shape) < 1:
            raise ValueError(f"'minutes_per_m' should be a 2-D array, got shape {friction.shape}")
        if np.isnan(friction).any() or (friction <= 0).any():
            raise ValueError("'minutes_per_m' should be > 0 everywhere (inf = impassable), got NaN or <= 0")
        view = friction.view()
        view.flags.writeable = False  # cached results depend on it; the caller's array stays writeable
        self.minutes_per_m = view
        self.crs = CRS.from_user_input(self.crs)

    @property
    def shape(self) -> tuple[int, int]:
        """(rows, cols) of the grid."""
        rows, cols = self.minutes_per_m.shape
        return rows, cols

    def lonlat_to_rowcol(self, lonlat: NDArray[np.float64]) -> tuple[NDArray[np.int64], NDArray[np.int64]]:
        """Row and column of the pixel holding each (lon, lat); may fall outside the grid."""
        lonlat = _as_lonlat(lonlat, "lonlat")
        x, y = Transformer.from_crs(4326, self.crs, always_xy=True).transform(lonlat[:, 0], lonlat[:, 1])
        col, row = ~self.transform @ (np.asarray(x), np.asarray(y))
        return np.floor(row).astype(np.int64), np.floor(col).astype(np.int64)


def metric_crs(bounds_lonlat: BBox) -> CRS:
    """Transverse Mercator centred on ``bounds_lonlat``, its scale error balanced across the width.

    TM scale grows as ``k0 (1 + x²/2R²)`` away from the central meridian. Setting
    ``k0 = 1 - x_max²/4R²`` makes the error ``±x_max²/4R²``: ±0.055 % for Central Kalimantan.

    Parameters
    ----------
    bounds_lonlat : tuple of float
        (min lon, min lat, max lon, max lat).

    Returns
    -------
    pyproj.CRS
    """
    west, south, east, north = _check_bounds(bounds_lonlat)
    lon0, lat0 = (west + east) / 2.0, (south + north) / 2.0
    nearest_equator = 0.0 if south <= 0.0 <= north else min(abs(south), abs(north))
    half_width_m = (
        _EARTH_RADIUS_M * math.radians((east - west) / 2.0) * math.cos(math.radians(nearest_equator))
    )
    k0 = 1.0 - half_width_m**2 / (4.0 * _EARTH_RADIUS_M**2)
    return CRS.from_proj4(
        f"+proj=tmerc +lat_0={lat0:.6f} +lon_0={lon0:.6f} +k_0={k0:.8f} +x_0=0 +y_0=0 "
        "+ellps=WGS84 +units=m +no_defs"
    )


def friction_surface(
    bounds_lonlat: BBox,
    roads: gpd.GeoDataFrame | None,
    rivers: gpd.GeoDataFrame | None,
    config: AccessConfig,
    road_kind_column: str = "highway",
    river_kind_column: str = "waterway",
    mask: shapely.Geometry | None = None,
    *,
    barriers: gpd.GeoDataFrame | gpd.GeoSeries | shapely.Geometry | None = None,
    outside_mask_kmh: float | None = None,
    default_road_kmh: float | None = None,
    pad_m: float = 2000.0,
    mask_buffer_m: float = 1000.0,
) -> FrictionSurface:
    """Build the friction surface: the fastest of walking, roads by class and rivers by boat.

    Parameters
    ----------
    bounds_lonlat : tuple of float
        (min lon, min lat, max lon, max lat) to cover; the grid adds ``pad_m`` on every side.
    roads, rivers : geopandas.GeoDataFrame or None
        Lines with their class in ``road_kind_column`` / ``river_kind_column``. A frame without a
        CRS is taken as EPSG:4326. Classes missing from the config are ignored with one warning
        listing them, except ``<class>_link``, which takes its class's speed, and any road class
        when ``default_road_kmh`` is given.
    config : AccessConfig
        Resolution and speeds.
    road_kind_column, river_kind_column : str
        Class columns.
    mask : shapely geometry or None
        The area of interest in lon/lat (the province). Off-road pixels outside it (grown by
        ``mask_buffer_m`` so coastal and border cell centres stay on land) are impassable unless
        ``outside_mask_kmh`` is given: outside is mostly the Java Sea, and facilities beyond the
        border are not in the inputs anyway. Roads and rivers stay passable outside. ``None``:
        walking everywhere.
    barriers : geometry, GeoSeries or GeoDataFrame, optional
        Areas (lon/lat) that cannot be crossed on foot (lakes, swamps, a river bank). Roads and
        rivers still cross them: bridges, causeways and boats.
    outside_mask_kmh : float, optional
        Off-road speed outside the mask (e.g. ``config.walking_kmh``); ``None`` = impassable.
    default_road_kmh : float, optional
        Speed for road classes missing from ``config.road_speeds_kmh``.
    pad_m, mask_buffer_m : float
        Margin around the bounds; growth of the mask.

    Returns
    -------
    FrictionSurface

    Examples
    --------
    >>> from layers.config import AccessConfig
    >>> friction_surface((113.0, -2.0, 113.2, -1.8), None, None, AccessConfig()).shape
    (106, 106)
    """
    res = float(config.resolution_m)
    crs = metric_crs(bounds_lonlat)
    transform, shape = _grid(bounds_lonlat, crs, res, pad_m)
    walk = _minutes_per_m(config.walking_kmh)
    base = np.full(shape, walk, dtype=np.float32)
    if mask is not None:
        inside = _burn([_to_metric(mask, crs)], shape, transform) > 0
        grow = math.ceil(mask_buffer_m / res)
        if grow > 0:
            inside = ndimage.binary_dilation(inside, structure=np.ones((3, 3), bool), iterations=grow)
        outside = np.float32(np.inf if outside_mask_kmh is None else _minutes_per_m(outside_mask_kmh))
        base[~inside] = outside
    if barriers is not None:
        blocked = _burn(list(_geometries(barriers, crs)), shape, transform) > 0
        base[blocked] = np.inf
    geoms, speeds = _line_classes(
        roads, road_kind_column, config.road_speeds_kmh, "road", crs, default_road_kmh
    )
    river_geoms, river_speeds = _line_classes(
        rivers, river_kind_column, config.river_speeds_kmh, "river", crs, None
    )
    geoms, speeds = np.concatenate([geoms, river_geoms]), np.concatenate([speeds, river_speeds])
    if len(geoms):
        # GDAL burns shapes in order and the last one wins, so burn the slowest first.
        order = np.argsort(speeds, kind="stable")
        line_kmh = _burn(list(zip(geoms[order], speeds[order], strict=True)), shape, transform)
        on_line = line_kmh > 0
        base[on_line] = np.minimum(base[on_line], 60.0 / (1000.0 * line_kmh[on_line]))
    return FrictionSurface(base, transform, crs, res)


def travel_time(
    surface: FrictionSurface,
    sources_lonlat: NDArray[np.float64],
    targets_lonlat: NDArray[np.float64],
    *,
    connectivity: Literal[8, 16] = 16,
    max_snap_m: float = 1000.0,
) -> NDArray[np.float64]:
    """Minutes from each target to the nearest source, all sources at once.

    Parameters
    ----------
    surface : FrictionSurface
    sources_lonlat : numpy.ndarray
        (k, 2) lon/lat of the facilities. Sources outside the grid are dropped with a warning;
        sources on an impassable pixel move to the nearest passable one within ``max_snap_m``
        (else they are dropped).
    targets_lonlat : numpy.ndarray
        (n, 2) lon/lat, e.g. H3 cell centres. Targets on an impassable pixel are snapped the same way.
    connectivity : {16, 8}
        Moves per pixel; 8 is there for comparison with other tools.
    max_snap_m : float
        How far a source or target may move to reach a passable pixel.

    Returns
    -------
    numpy.ndarray
        (n,) float64 minutes; ``inf`` where no source can be reached (also when there is no source).

    Raises
    ------
    ValueError
        When a target lies outside the grid (build the surface with bounds covering the targets).

    Examples
    --------
    >>> s = friction_surface((113.0, -2.0, 113.2, -1.8), None, None, AccessConfig())
    >>> travel_time(s, np.array([[113.1, -1.9]]), np.array([[113.1, -1.9], [113.15, -1.9]])).round()
    array([ 0., 82.])
    """
    return travel_times(
        surface,
        {"sources": sources_lonlat},
        targets_lonlat,
        connectivity=connectivity,
        max_snap_m=max_snap_m,
        workers=1,
    ).by_kind["sources"]


@dataclass(frozen=True)
class TravelTimes:
    """Minutes from each target to the nearest facility of each kind, and to the grid's edge."""

    by_kind: dict[str, NDArray[np.float64]]
    """Kind -> (n,) float64 minutes, ``inf`` when unreachable."""
    to_edge: NDArray[np.float64] | None = None
    """(n,) minutes to the nearest passable pixel on the grid's edge (`edge_pixels`); None unless
    asked for. Any path leaving the grid takes at least this long."""


def travel_times(
    surface: FrictionSurface,
    facilities: Mapping[str, NDArray[np.float64]],
    targets_lonlat: NDArray[np.float64],
    *,
    connectivity: Literal[8, 16] = 16,
    max_snap_m: float = 1000.0,
    workers: int | None = None,
    to_edge: bool = False,
) -> TravelTimes:
    """Minutes from each target to the nearest facility, for every kind.

    Parameters
    ----------
    surface : FrictionSurface
    facilities : mapping of str to numpy.ndarray
        Kind -> (k, 2) lon/lat (the build classifies facilities in `layers.sources`).
    targets_lonlat : numpy.ndarray
        (n, 2) lon/lat.
    connectivity, max_snap_m
        As in `travel_time`.
    workers : int, optional
        Threads for the kinds (default: CPUs, at most 4). The rasters are cached on the surface,
        so a later `travel_time_rasters` with the same facilities costs nothing.
    to_edge : bool
        Also the minutes to the grid's edge, solved with the kinds on the same graph (a partition
        of a national build checks its border buffer with them, `layers.pipeline.national`).

    Returns
    -------
    TravelTimes
        Minutes by kind, and to the edge when asked.
    """
    sources = [_source_pixels(surface, lonlat, kind, max_snap_m) for kind, lonlat in facilities.items()]
    if to_edge:
        sources.append(edge_pixels(surface))
    rasters = _rasters(surface, sources, connectivity, workers)
    pixels = _target_pixels(surface, targets_lonlat, max_snap_m)
    minutes = [raster.reshape(-1)[pixels].astype(np.float64) for raster in rasters]
    edge = minutes.pop() if to_edge else None
    return TravelTimes(dict(zip(facilities, minutes, strict=True)), edge)


def travel_time_rasters(
    surface: FrictionSurface,
    facilities: Mapping[str, NDArray[np.float64]],
    *,
    connectivity: Literal[8, 16] = 16,
    max_snap_m: float = 1000.0,
    workers: int | None = None,
) -> dict[str, NDArray[np.float32]]:
    """Minutes from every pixel to the nearest facility of each kind.

    Parameters
    ----------
    surface : FrictionSurface
    facilities : mapping of str to numpy.ndarray
        Kind -> (k, 2) lon/lat.
    connectivity, max_snap_m, workers
        As in `travel_times`.

    Returns
    -------
    dict of str to numpy.ndarray
        Kind -> (rows, cols) float32 minutes (read-only), ``inf`` where unreachable.
    """
    sources = [_source_pixels(surface, lonlat, kind, max_snap_m) for kind, lonlat in facilities.items()]
    return dict(zip(facilities, _rasters(surface, sources, connectivity, workers), strict=True))


def _rasters(
    surface: FrictionSurface, sources: list[NDArray[np.int64]], connectivity: int, workers: int | None
) -> list[NDArray[np.float32]]:
    """One read-only raster per source set, from the surface's cache or solved (each set once)."""
    if connectivity not in (8, 16):
        raise ValueError(f"'connectivity' should be 8 or 16, got {connectivity!r}")
    keys = [_cache_key(connectivity, pixels) for pixels in sources]
    todo = {key: pixels for key, pixels in zip(keys, sources, strict=True) if key not in surface._rasters}
    solved = _solve_all(surface, list(todo.values()), connectivity, workers)
    found = {key: surface._rasters[key] for key in keys if key in surface._rasters}
    for key, raster in zip(todo, solved, strict=True):
        raster.flags.writeable = False
        found[key] = raster
        while len(surface._rasters) >= _CACHE_SIZE:
            surface._rasters.pop(next(iter(surface._rasters)))
        surface._rasters[key] = raster
    return [found[key] for key in keys]


def edge_pixels(surface: FrictionSurface) -> NDArray[np.int64]:
    """Flat indices of the passable pixels on the grid's edge.

    Minutes from the edge bound every path that leaves the grid: a travel time no longer than a
    cell's time to the edge is what an unbounded grid would give. A partition of a national build
    checks its border buffer with it (`travel_times` with ``to_edge``), solved on the same graph as
    the facilities.
    """
    rows, cols = surface.shape
    flat = np.arange(rows * cols, dtype=np.int64).reshape(rows, cols)
    edge = np.unique(np.concatenate([flat[0], flat[-1], flat[:, 0], flat[:, -1]]))
    return edge[np.isfinite(surface.minutes_per_m.reshape(-1)[edge])]


def write_cog(
    path: str | Path,
    array: NDArray[np.floating[Any]],
    surface: FrictionSurface,
    tags: Mapping[str, object] | None = None,
) -> Path:
    """Write one raster on the surface's grid as a Cloud-Optimized GeoTIFF.

    Float32, deflate, 256-pixel tiles, averaged overviews, nodata NaN: ``inf`` (unreachable)
    is written as NaN so viewers and overviews skip it.

    Parameters
    ----------
    path : str or pathlib.Path
        Output file, e.g. ``time_min_school_sd.tif``.
    array : numpy.ndarray
        (rows, cols) on the surface's grid.
    surface : FrictionSurface
        Gives the transform and CRS.
    tags : mapping, optional
        Metadata tags (values are written as strings).

    Returns
    -------
    pathlib.Path
    """
    path = Path(path)
    if array.shape != surface.shape:
        raise ValueError(f"'array' should have the surface's shape {surface.shape}, got {array.shape}")
    data = np.where(np.isfinite(array), array, np.nan).astype(np.float32)
    rows, cols = surface.shape
    profile = {
        "driver": "GTiff",
        "height": rows,
        "width": cols,
        "count": 1,
        "dtype": "float32",
        "crs": rasterio.crs.CRS.from_wkt(surface.crs.to_wkt()),
        "transform": surface.transform,
        "nodata": np.nan,
        "tiled": True,
        "blockxsize": 256,
        "blockysize": 256,
    }
    with MemoryFile() as memfile, memfile.open(**profile) as tmp:
        tmp.write(data, 1)
        tmp.update_tags(**{str(k): str(v) for k, v in (tags or {}).items()})
        if _has_driver("COG"):
            rasterio.shutil.copy(
                tmp,
                path,
                driver="COG",
                COMPRESS="DEFLATE",
                PREDICTOR="YES",
                BLOCKSIZE=256,
                OVERVIEW_RESAMPLING="AVERAGE",
                BIGTIFF="IF_SAFER",
                # Tiles compressed on every core (the same bytes, written in order): ~40 % less
                # time on a build's five rasters (docs/benchmarks.md).
                NUM_THREADS="ALL_CPUS",
            )
        else:  # pragma: no cover - every rasterio wheel since 1.2 ships GDAL >= 3.1 with COG
            factors = [2**i for i in range(1, 20) if max(rows, cols) / 2**i >= 128] or [2]
            tmp.build_overviews(factors, Resampling.average)
            rasterio.shutil.copy(
                tmp,
                path,
                driver="GTiff",
                tiled=True,
                blockxsize=256,
                blockysize=256,
                compress="deflate",
                predictor=3,
                copy_src_overviews=True,
            )
    return path


# --- grid and rasterisation -------------------------------------------------------------------


def _check_bounds(bounds: Sequence[float]) -> tuple[float, float, float, float]:
    if len(bounds) != 4:
        raise ValueError(f"'bounds_lonlat' should be (min lon, min lat, max lon, max lat), got {bounds!r}")
    west, south, east, north = (float(b) for b in bounds)
    if not (-180 <= west < east <= 180 and -90 <= south < north <= 90):
        raise ValueError(f"'bounds_lonlat' should be (min lon, min lat, max lon, max lat), got {bounds!r}")
    return west, south, east, north


def _grid(bounds: BBox, crs: CRS, res: float, pad_m: float) -> tuple[Affine, tuple[int, int]]:
    """Transform and shape of a grid snapped to ``res`` covering the (densified) bounds."""
    west, south, east, north = _check_bounds(bounds)
    t = np.linspace(0.0, 1.0, 33)
    lon = np.concatenate(
        [west + (east - west) * t, np.full_like(t, east), east - (east - west) * t, np.full_like(t, west)]
    )
    lat = np.concatenate(
        [
            np.full_like(t, south),
            south + (north - south) * t,
            np.full_like(t, north),
            north - (north - south) * t,
        ]
    )
    x, y = Transformer.from_crs(4326, crs, always_xy=True).transform(lon, lat)
    xmin, xmax = math.floor((min(x) - pad_m) / res) * res, math.ceil((max(x) + pad_m) / res) * res
    ymin, ymax = math.floor((min(y) - pad_m) / res) * res, math.ceil((max(y) + pad_m) / res) * res
    shape = (round((ymax - ymin) / res), round((xmax - xmin) / res))
    if shape[0] * shape[1] > _MAX_PIXELS:
        raise ValueError(
            f"a {shape[0]} x {shape[1]} grid at {res} m is too large (solving needs ~70 bytes per "
            f"pixel); use a coarser 'resolution_m' or smaller bounds"
        )
    return Affine(res, 0.0, xmin, 0.0, -res, ymax), shape


def _minutes_per_m(kmh: float) -> float:
    if not kmh > 0:
        raise ValueError(f"speeds should be > 0 km/h, got {kmh}")
    return 60.0 / (1000.0 * kmh)


def _burn(shapes: list[Any], shape: tuple[int, int], transform: Affine) -> NDArray[np.float32]:
    """Rasterise (geometry[, value]) pairs; every pixel a shape touches takes its value."""
    shapes = [s for s in shapes if not shapely.is_empty(s[0] if isinstance(s, tuple) else s)]
    if not shapes:
        return np.zeros(shape, np.float32)
    return rasterize(
        shapes,
        out_shape=shape,
        transform=transform,
        fill=0,
        all_touched=True,
        dtype="float32",
        merge_alg=MergeAlg.replace,
        default_value=1,
    )


def _to_metric(geom: shapely.Geometry, crs: CRS) -> shapely.Geometry:
    transformer = Transformer.from_crs(4326, crs, always_xy=True)
    return shapely.transform(geom, lambda xy: np.column_stack(transformer.transform(xy[:, 0], xy[:, 1])))


def _geometries(obj: gpd.GeoDataFrame | gpd.GeoSeries | shapely.Geometry, crs: CRS) -> NDArray[np.object_]:
    """Geometries of a frame, series or single geometry, in ``crs`` (no CRS = EPSG:4326)."""
    if isinstance(obj, gpd.GeoDataFrame | gpd.GeoSeries):
        series = obj.geometry if isinstance(obj, gpd.GeoDataFrame) else obj
        if series.crs is None:
            series = series.set_crs(4326)
        series = series[series.notna() & ~series.is_empty]
        return np.asarray(series.to_crs(crs).values, dtype=object)
    return np.array([_to_metric(obj, crs)], dtype=object)


def _line_classes(
    lines: gpd.GeoDataFrame | None,
    column: str,
    speeds_kmh: Mapping[str, float],
    label: str,
    crs: CRS,
    default_kmh: float | None,
) -> tuple[NDArray[np.object_], NDArray[np.float32]]:
    """Metric geometries of the lines with a known class, and their speeds."""
    if lines is None or len(lines) == 0:
        return np.empty(0, object), np.empty(0, np.float32)
    if column not in lines.columns:
        raise ValueError(f"{label} class column '{column}' not found; columns are {list(lines.columns)}")
    classes = lines[column].astype("string").str.strip().str.lower()
    kmh = classes.map({k.lower(): float(v) for k, v in speeds_kmh.items()})
    # OSM's *_link ways (slip roads) belong to the class they link.
    kmh = kmh.fillna(
        classes.str.removesuffix("_link").map({k.lower(): float(v) for k, v in speeds_kmh.items()})
    )
    if default_kmh is not None:
        kmh = kmh.fillna(float(default_kmh))
    unknown = classes[kmh.isna()].fillna("<missing>").value_counts()
    if len(unknown):
        log.warning(
            "ignored %d %s lines of classes without a speed: %s", unknown.sum(), label, unknown.to_dict()
        )
    keep = kmh.notna().to_numpy(bool) & lines.geometry.notna().to_numpy(bool)
    kept = lines[keep]
    geoms = _geometries(kept, crs) if len(kept) else np.empty(0, object)
    # _geometries drops empty geometries; keep the speeds aligned with what it returned.
    nonempty = ~kept.geometry.is_empty.to_numpy(bool)
    return geoms, kmh[keep].to_numpy(np.float32)[nonempty]


# --- sources, targets and solving -------------------------------------------------------------


def _as_lonlat(points: NDArray[np.float64], name: str) -> NDArray[np.float64]:
    arr = np.asarray(points, dtype=np.float64)
    if arr.size == 0:
        return np.empty((0, 2))
    if arr.ndim != 2 or arr.shape[1] != 2:
        raise ValueError(f"'{name}' should be an (n, 2) array of lon/lat, got shape {arr.shape}")
    return arr


def _nearest_passable(surface: FrictionSurface) -> tuple[NDArray[np.int64], NDArray[np.float32]]:
    """For every pixel, the flat index of the nearest passable pixel and its distance in metres."""
    if surface._snap is None:
        impassable = ~np.isfinite(surface.minutes_per_m)
        if impassable.all():
            raise ValueError("the friction surface has no passable pixel")
        dist, (rows, cols) = ndimage.distance_transform_edt(impassable, return_indices=True)
        nearest = (rows.astype(np.int64) * surface.shape[1] + cols).reshape(-1)
        surface._snap = (nearest, (dist * surface.resolution_m).astype(np.float32).reshape(-1))
    return surface._snap


def _snap(
    surface: FrictionSurface, flat: NDArray[np.int64], max_snap_m: float
) -> tuple[NDArray[np.int64], NDArray[np.bool_]]:
    """Move pixels that are impassable to the nearest passable pixel within ``max_snap_m``."""
    stuck = ~np.isfinite(surface.minutes_per_m.reshape(-1)[flat])
    if not stuck.any():
        return flat, np.ones(len(flat), bool)
    nearest, dist = _nearest_passable(surface)
    snapped = np.where(stuck & (dist[flat] <= max_snap_m), nearest[flat], flat)
    return snapped, np.isfinite(surface.minutes_per_m.reshape(-1)[snapped])


def _source_pixels(
    surface: FrictionSurface, lonlat: NDArray[np.float64], kind: str, max_snap_m: float
) -> NDArray[np.int64]:
    """Sorted unique flat pixel indices of the sources that are inside the grid and passable."""
    lonlat = _as_lonlat(lonlat, f"facilities['{kind}']")
    lonlat = lonlat[np.isfinite(lonlat).all(axis=1)]
    rows, cols = surface.lonlat_to_rowcol(lonlat)
    n_rows, n_cols = surface.shape
    inside = (rows >= 0) & (rows < n_rows) & (cols >= 0) & (cols < n_cols)
    flat, ok = _snap(surface, rows[inside] * n_cols + cols[inside], max_snap_m)
    if dropped := len(lonlat) - int(ok.sum()):
        log.warning(
            "%s: %d of %d facilities are outside the grid or more than %g m from a passable pixel; ignored",
            kind,
            dropped,
            len(lonlat),
            max_snap_m,
        )
    return np.unique(flat[ok])


def _target_pixels(
    surface: FrictionSurface, lonlat: NDArray[np.float64], max_snap_m: float
) -> NDArray[np.int64]:
    lonlat = _as_lonlat(lonlat, "targets_lonlat")
    rows, cols = surface.lonlat_to_rowcol(lonlat)
    n_rows, n_cols = surface.shape
    outside = ~((rows >= 0) & (rows < n_rows) & (cols >= 0) & (cols < n_cols))
    if outside.any():
        first = lonlat[np.flatnonzero(outside)[0]]
        raise ValueError(
            f"{int(outside.sum())} of {len(lonlat)} targets lie outside the friction grid (first at "
            f"lon {first[0]:.5f}, lat {first[1]:.5f}); build the surface with bounds that cover them"
        )
    flat, _ = _snap(surface, rows * n_cols + cols, max_snap_m)
    return flat  # an impassable pixel that could not snap keeps inf: nothing reaches it


def _cache_key(connectivity: int, pixels: NDArray[np.int64]) -> tuple[int, str]:
    return connectivity, hashlib.blake2b(pixels.astype(np.int64).tobytes(), digest_size=16).hexdigest()


def _solve_all(
    surface: FrictionSurface, sources: list[NDArray[np.int64]], connectivity: int, workers: int | None
) -> list[NDArray[np.float32]]:
    """One travel-time raster per source set, solved on the friction grid itself (no graph built)."""
    empty = [len(s) == 0 for s in sources]
    results: list[NDArray[np.float32] | None] = [
        np.full(surface.shape, np.inf, np.float32) if e else None for e in empty
    ]
    todo = [s for s, e in zip(sources, empty, strict=True) if not e]
    if todo:
        workers = _worker_count(workers, len(todo), surface.shape[0] * surface.shape[1])
        solved = iter(_solve_many(surface, todo, connectivity, workers))
        results = [r if r is not None else next(solved).reshape(surface.shape) for r in results]
    return [r for r in results if r is not None]


def _worker_count(workers: int | None, tasks: int, pixels: int) -> int:
    if workers is None:
        workers = 1 if pixels < _PARALLEL_MIN_PIXELS else min(os.cpu_count() or 1, 4)
    if workers < 1:
        raise ValueError(f"'workers' should be >= 1, got {workers}")
    return min(workers, tasks)


def _solve_many(
    surface: FrictionSurface, sources: list[NDArray[np.int64]], connectivity: int, workers: int
) -> list[NDArray[np.float32]]:
    # Imported here: Numba takes a moment to load, and only a build solves travel times.
    from layers.geo._grid_dijkstra import PaddedGrid

    moves = _KING + (_KNIGHT if connectivity == 16 else ())
    grid = PaddedGrid.of(surface.minutes_per_m, surface.resolution_m, moves)
    if workers <= 1:
        return [grid.solve(s) for s in sources]
    # The solver releases the GIL: threads share the padded friction, where processes copied it.
    with ThreadPoolExecutor(max_workers=workers) as pool:
        return list(pool.map(grid.solve, sources))


def _has_driver(name: str) -> bool:
    with rasterio.Env() as env:
        return name in env.drivers()


__all__ = [
    "DISCRETISATION_BOUND",
    "FrictionSurface",
    "friction_surface",
    "metric_crs",
    "travel_time",
    "travel_time_rasters",
    "edge_pixels",
    "travel_times",
    "write_cog",
]
