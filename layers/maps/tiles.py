"""Mapbox vector tiles of the store's layers on the WebMercatorQuad grid (no HTTP).

Each layer is projected to EPSG:3857 once, with per-row bounds; a tile then costs one vectorised
bounds test, one `shapely.clip_by_rect`, an affine transform to tile units, a snap to the integer
grid and the numpy encoder of `layers.maps._mvt`. Hexagons at low zoom are served as coarser H3 parents
(population-weighted mean score, summed population), each parent resolution built once.

Tiles use extent 4096 and a 64-unit buffer. Feature ids: the H3 cell as an integer for hexagons,
the unit code as an integer for villages, kecamatan and kabupaten (codes are digits), and the row
position + 1 elsewhere.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from dataclasses import dataclass, replace

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely
from numpy.typing import NDArray

from layers.errors import InvalidQuery, LayerNotFound, excerpt
from layers.geo import grid
from layers.maps import _mvt
from layers.schema import LAYERS, YEAR_LAYERS
from layers.scoring.rescore import ScoringFrame, check_year, layer_for_year
from layers.store import LayerStore
from layers.types import BBox

EXTENT = 4096
BUFFER = 64
#: Douglas-Peucker tolerance in tile units (a tile is drawn 512 px wide: 8 units a pixel).
SIMPLIFY_TOLERANCE = 2.0
#: Tile matrices served; beyond `MAX_ZOOM` clients overzoom (the hexagons are ~40 px wide at z14).
MIN_ZOOM, MAX_ZOOM = 0, 14
#: Highest tile matrix accepted in a request (WebMercatorQuad defines 0-24).
LIMIT_ZOOM = 22
_HALF_WORLD = 20037508.342789244
_MAX_LAT = 85.0511287798066

#: Layers served as tiles, with the properties each tile feature carries (when present).
TILE_PROPERTIES: dict[str, tuple[str, ...]] = {n: s.tile_properties for n, s in LAYERS.items() if s.tiled}
#: Properties of hexagon parents (coarser resolutions).
PARENT_PROPERTIES = ("h3", "resolution", "n_cells", "population", "score", "poor_population")


def hexagon_resolution(zoom: int, finest: int = 8) -> int:
    """The H3 resolution served at a zoom level, so that a hexagon spans at least a few pixels.

    Parameters
    ----------
    zoom
        Tile matrix (zoom level).
    finest
        The store's H3 resolution; never exceeded.

    Returns
    -------
    int
        8 at z ≥ 11, 7 at z10, 6 at z8-9, 5 at z6-7 and 4 below, capped at ``finest``.

    Examples
    --------
    >>> [hexagon_resolution(z) for z in (3, 6, 8, 10, 12)]
    [4, 5, 6, 7, 8]
    """
    if zoom >= 11:
        res = 8
    elif zoom == 10:
        res = 7
    elif zoom >= 8:
        res = 6
    elif zoom >= 6:
        res = 5
    else:
        res = 4
    return min(res, finest)


def check_tile(z: int, x: int, y: int) -> None:
    """Raise `InvalidQuery` unless z/x/y names a WebMercatorQuad tile (z ≤ `LIMIT_ZOOM`)."""
    if not 0 <= z <= LIMIT_ZOOM:
        raise InvalidQuery(
            f"tileMatrix {z} is out of range; WebMercatorQuad tiles here go from 0 to {LIMIT_ZOOM}"
        )
    n = 1 << z
    if not (0 <= x < n and 0 <= y < n):
        raise InvalidQuery(
            f"tile {z}/{y}/{x} (z/row/col) is outside tile matrix {z}, whose rows and columns go 0-{n - 1}"
        )


def tile_bounds(z: int, x: int, y: int) -> BBox:
    """Bounds of tile z/x/y in EPSG:3857 metres (minx, miny, maxx, maxy).

    Examples
    --------
    >>> tile_bounds(0, 0, 0)[2]
    20037508.342789244
    """
    size = 2 * _HALF_WORLD / (1 << z)
    minx = -_HALF_WORLD + x * size
    maxy = _HALF_WORLD - y * size
    return (minx, maxy - size, minx + size, maxy)


def lonlat_to_mercator(geometries: NDArray[np.object_]) -> NDArray[np.object_]:
    """Project lon/lat geometries to EPSG:3857 (spherical Mercator), latitudes clamped to ±85.05°."""

    def project(coords: NDArray[np.float64]) -> NDArray[np.float64]:
        lon = np.radians(coords[:, 0])
        lat = np.radians(np.clip(coords[:, 1], -_MAX_LAT, _MAX_LAT))
        radius = 6378137.0
        return np.column_stack([radius * lon, radius * np.log(np.tan(np.pi / 4 + lat / 2))])

    return shapely.transform(np.asarray(geometries, dtype=object), project)


def hexagon_parents(hexagons: gpd.GeoDataFrame, resolution: int) -> gpd.GeoDataFrame:
    """Aggregate hexagons to their parent cells at a coarser H3 resolution.

    Parameters
    ----------
    hexagons
        The store's hexagon layer (``h3``, ``population``, ``score``, ``poor``).
    resolution
        Parent resolution.

    Returns
    -------
    GeoDataFrame
        One row per parent: ``h3``, ``resolution``, ``n_cells``, ``population`` (sum), ``score``
        (population-weighted mean over cells with a score; the plain mean where nobody lives),
        ``poor_population`` (people in cells with c ≥ k) and the parent polygon.

    Examples
    --------
    >>> parents = hexagon_parents(store.layer("hexagons"), 6)
    >>> people = store.layer("hexagons")["population"].sum()
    >>> bool(np.isclose(parents["population"].sum(), people)), bool((parents["resolution"] == 6).all())
    (True, True)
    """
    if not isinstance(hexagons, gpd.GeoDataFrame):
        raise TypeError(f"'hexagons' should be a GeoDataFrame, got {type(hexagons)}")
    cells = grid.strings_to_cells(hexagons["h3"].to_numpy(dtype=object))
    parents, pos = np.unique(grid.cell_parents(cells, resolution), return_inverse=True)
    n = len(parents)
    people = hexagons["population"].to_numpy(np.float64)
    score = hexagons["score"].to_numpy(np.float64) if "score" in hexagons else np.full(len(cells), np.nan)
    scored = np.isfinite(score)
    weight = np.where(scored, people, 0.0)
    score_filled = np.where(scored, score, 0.0)
    weighted = np.bincount(pos, weights=weight * score_filled, minlength=n)
    total_weight = np.bincount(pos, weights=weight, minlength=n)
    n_scored = np.bincount(pos, weights=scored.astype(np.float64), minlength=n)
    plain = np.bincount(pos, weights=score_filled, minlength=n)
    with np.errstate(divide="ignore", invalid="ignore"):
        mean = np.where(total_weight > 0, weighted / total_weight, plain / n_scored)
    poor = hexagons["poor"].fillna(False).to_numpy(bool) if "poor" in hexagons else np.zeros(len(cells), bool)
    frame = pd.DataFrame(
        {
            "h3": grid.cells_to_strings(parents),
            "resolution": np.full(n, resolution, np.int64),
            "n_cells": np.bincount(pos, minlength=n),
            "population": np.bincount(pos, weights=people, minlength=n),
            "score": mean,
            "poor_population": np.bincount(pos, weights=np.where(poor, people, 0.0), minlength=n),
        }
    )
    return gpd.GeoDataFrame(frame, geometry=grid.cells_to_polygons(parents), crs=4326)


@dataclass(frozen=True)
class _Prepared:
    """A layer ready for tiling: EPSG:3857 geometries, their bounds, ids and tile properties."""

    name: str
    geometry: NDArray[np.object_]
    bounds: NDArray[np.float64]
    ids: NDArray[np.uint64]
    properties: dict[str, NDArray[np.generic]]
    polygonal: bool


class VectorTiles:
    """Vector tiles of one store, with prepared layers and an LRU cache of encoded tiles.

    Thread-safe: handlers may call `tile` from a thread pool.

    Examples
    --------
    >>> tiles = VectorTiles(LayerStore.open(store_dir))
    >>> len(tiles.tile("hexagons", 0, 0, 0)) > 0
    True
    """

    def __init__(self, store: LayerStore, cache_size: int = 2048, scoring: ScoringFrame | None = None):
        self.store = store
        self.cache_size = cache_size
        self.scoring = scoring
        """Rescoring arrays for tiles of a year other than the stored one (prepared when needed)."""
        self.year = store.default_year
        self._tiles: OrderedDict[tuple[str, int, int, int, int | None], bytes] = OrderedDict()
        self._prepared: dict[tuple[str, int, int | None], _Prepared] = {}
        self._lock = threading.Lock()

    @property
    def layers(self) -> list[str]:
        """Names of the store's layers that can be tiled."""
        return [name for name in self.store.names if name in TILE_PROPERTIES]

    def tile(self, name: str, z: int, x: int, y: int, year: int | None = None) -> bytes:
        """The encoded tile z/x/y of a layer; ``b""`` (a valid empty tile) where the layer has no data.

        ``year``: a year-bearing layer's values of that year (default: the stored year); tiles are
        cached per year. Raises `LayerNotFound` for a layer without tiles and `InvalidQuery` for a
        tile outside the grid, or a year the layer or the store lacks.
        """
        self._check_layer(name)
        check_tile(z, x, y)
        year = self._year(name, year)
        key = (name, z, x, y, year)
        with self._lock:
            if key in self._tiles:
                self._tiles.move_to_end(key)
                return self._tiles[key]
        body = encode_tile(self._layer(name, z, year), z, x, y)
        with self._lock:
            self._tiles[key] = body
            while len(self._tiles) > self.cache_size:
                self._tiles.popitem(last=False)
        return body

    def cached(self, name: str, z: int, x: int, y: int, year: int | None = None) -> bytes | None:
        """The tile `tile` would return when it is in the cache (None: it must be rendered).

        The same checks as `tile` (unknown layer, tile outside the grid, a year the layer lacks).
        """
        self._check_layer(name)
        check_tile(z, x, y)
        key = (name, z, x, y, self._year(name, year))
        with self._lock:
            body = self._tiles.get(key)
            if body is not None:
                self._tiles.move_to_end(key)
        return body

    def bounds(self, name: str) -> BBox:
        """Lon/lat bounds of a layer (whole world for an empty layer)."""
        self._check_layer(name)
        frame = self.store.layer(name)
        if len(frame) == 0:
            return (-180.0, -_MAX_LAT, 180.0, _MAX_LAT)
        minx, miny, maxx, maxy = (float(v) for v in frame.total_bounds)
        return (minx, miny, maxx, maxy)

    def fields(self, name: str) -> dict[str, str]:
        """Tile property → type name ("String", "Number", "Boolean"), for TileJSON ``vector_layers``."""
        self._check_layer(name)
        frame = self.store.layer(name)
        columns = [c for c in TILE_PROPERTIES[name] if c in frame.columns]
        fields = {c: _type_name(frame[c]) for c in columns}
        if name == "hexagons":
            fields |= {"resolution": "Number", "n_cells": "Number", "poor_population": "Number"}
            fields.setdefault("h3", "String")
        return fields

    def _check_layer(self, name: str) -> None:
        if name not in self.layers:
            raise LayerNotFound(
                f"no vector tiles for '{excerpt(name)}'; tiled layers are: {', '.join(self.layers)}"
            )

    def _year(self, name: str, year: int | None) -> int | None:
        """None for the stored year; else the year, checked against the layer and the store."""
        if year is None or year == self.year:
            return None
        if name not in YEAR_LAYERS:
            raise InvalidQuery(f"'{name}' does not vary by year; drop the year or datetime parameter")
        return check_year(self.store, year)

    def _layer(self, name: str, z: int, year: int | None = None) -> _Prepared:
        resolution = 0
        if name == "hexagons":
            finest = self.store.h3_resolution
            resolution = hexagon_resolution(z, finest)
        key = (name, resolution, year)
        with self._lock:
            prepared = self._prepared.get(key)
        if prepared is None:
            stored = self._layer(name, z) if year is not None else None
            prepared = self._prepare(name, resolution, year, stored)
            with self._lock:
                self._prepared[key] = prepared
        return prepared

    def _prepare(
        self, name: str, resolution: int, year: int | None = None, stored: _Prepared | None = None
    ) -> _Prepared:
        """Project and collect a layer's tile features; for another ``year`` only the properties
        change, so the stored year's projected geometry (``stored``) is reused."""
        frame = self.store.layer(name)
        if year is not None:
            if self.scoring is None:
                self.scoring = ScoringFrame.from_store(self.store)
            frame = layer_for_year(self.store, name, year, self.scoring)
        finest = self.store.h3_resolution
        if name == "hexagons" and resolution < finest:
            frame = hexagon_parents(frame, resolution)
            columns: tuple[str, ...] = PARENT_PROPERTIES
        else:
            columns = TILE_PROPERTIES[name]
        properties = {c: _tile_values(frame[c]) for c in columns if c in frame.columns}
        if name == "hexagons" and "resolution" not in frame.columns:
            properties["resolution"] = np.full(len(frame), finest, np.int64)
        if stored is not None:  # same rows in the same order: only the values differ
            return replace(stored, properties=properties)
        geometry = lonlat_to_mercator(frame.geometry.to_numpy())
        kinds = shapely.get_type_id(geometry)
        polygonal = bool(np.isin(kinds, [3, 6]).any())
        return _Prepared(
            name, geometry, shapely.bounds(geometry), _feature_ids(name, frame), properties, polygonal
        )


def encode_tile(layer: _Prepared, z: int, x: int, y: int) -> bytes:
    """Clip, transform and encode the features of a prepared layer that touch tile z/x/y."""
    minx, miny, maxx, maxy = tile_bounds(z, x, y)
    scale = EXTENT / (maxx - minx)
    pad = BUFFER / scale
    b = layer.bounds
    hit = np.flatnonzero(
        (b[:, 0] <= maxx + pad) & (b[:, 2] >= minx - pad) & (b[:, 1] <= maxy + pad) & (b[:, 3] >= miny - pad)
    )
    if len(hit) == 0:
        return b""
    clipped = shapely.clip_by_rect(layer.geometry[hit], minx - pad, miny - pad, maxx + pad, maxy + pad)

    def to_tile(coords: NDArray[np.float64]) -> NDArray[np.float64]:
        return np.column_stack([(coords[:, 0] - minx) * scale, (maxy - coords[:, 1]) * scale])

    local = shapely.transform(clipped, to_tile)
    local = _snap(local, layer.polygonal)
    keep = ~shapely.is_empty(local)
    if not keep.any():
        return b""
    rows = hit[keep]
    properties = {name: values[rows] for name, values in layer.properties.items()}
    encoded = _mvt.encode_layer(layer.name, local[keep], layer.ids[rows], properties, EXTENT)
    return _mvt.encode_tile([encoded])


def _snap(geometries: NDArray[np.object_], polygonal: bool) -> NDArray[np.object_]:
    """Simplify below a quarter pixel and round to the integer grid, repairing only what broke.

    GEOS's validity-preserving `set_precision` is exact but costs ~20 µs a hexagon (10x the rest of
    the tile), so coordinates are rounded pointwise and only the few shapes left invalid take it.
    """
    simple = shapely.simplify(geometries, SIMPLIFY_TOLERANCE, preserve_topology=False)
    snapped = shapely.remove_repeated_points(shapely.set_precision(simple, 1.0, mode="pointwise"))
    broken = ~shapely.is_valid(snapped) & ~shapely.is_empty(snapped)
    if broken.any():
        snapped[broken] = shapely.set_precision(geometries[broken], 1.0)
    return _same_family(snapped, polygonal)


def _same_family(geometries: NDArray[np.object_], polygonal: bool) -> NDArray[np.object_]:
    """Keep only the polygons of collections that clipping or snapping produced in a polygon layer."""
    mixed = np.flatnonzero(shapely.get_type_id(geometries) == shapely.GeometryType.GEOMETRYCOLLECTION)
    if not polygonal or len(mixed) == 0:
        return geometries
    parts, owner = shapely.get_parts(geometries[mixed], return_index=True)
    parts, more = shapely.get_parts(parts, return_index=True)  # a MultiPolygon inside a collection
    owner = owner[more]
    polygons = shapely.get_type_id(parts) == shapely.GeometryType.POLYGON
    out = np.full(len(mixed), shapely.Polygon(), dtype=object)
    shapely.multipolygons(parts[polygons], indices=owner[polygons], out=out)
    geometries = geometries.copy()
    geometries[mixed] = out
    return geometries


def _feature_ids(name: str, frame: pd.DataFrame) -> NDArray[np.uint64]:
    if name == "hexagons" and "h3" in frame.columns:
        return grid.strings_to_cells(frame["h3"].to_numpy(dtype=object))
    column = LAYERS[name].id_column if name in LAYERS else None
    if column is not None and column in frame.columns:
        codes = pd.to_numeric(frame[column], errors="coerce")
        if codes.notna().all() and (codes >= 0).all():
            return codes.to_numpy().astype(np.uint64)
    return np.arange(1, len(frame) + 1, dtype=np.uint64)


def _tile_values(column: pd.Series) -> NDArray[np.generic]:
    """Values as numpy: booleans stay booleans, text becomes object with None for missing."""
    if pd.api.types.is_bool_dtype(column):
        if not column.isna().any():
            return column.to_numpy(bool)
        values = column.astype(object).to_numpy().copy()
        values[column.isna().to_numpy()] = None  # left out of the feature, like a NaN number
        return values
    if pd.api.types.is_numeric_dtype(column):
        return column.to_numpy(np.float64) if pd.api.types.is_float_dtype(column) else column.to_numpy()
    values = column.astype(object).to_numpy()
    text = values.astype(str).astype(object)
    text[pd.isna(values)] = None
    return text


def _type_name(column: pd.Series) -> str:
    if pd.api.types.is_bool_dtype(column):
        return "Boolean"
    if pd.api.types.is_numeric_dtype(column):
        return "Number"
    return "String"
