"""Everything the lifespan prepares once per store, for fast answers.

`Catalog` turns each served layer into a `layers.query.table.Table` (numpy columns, per-row bounds)
plus its features' GeoJSON geometry bytes, keeps the `layers.scoring.rescore.ScoringFrame` that rescoring
needs, the vector tiles and the province outline. Requests then only index arrays. Nothing here
changes after the lifespan except bounded caches, each behind a lock.
"""

from __future__ import annotations

import logging
import threading
import time
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path

import numpy as np
import shapely

from layers.errors import ConfigError, InvalidQuery, LayerNotFound, excerpt
from layers.maps.tiles import VectorTiles
from layers.query import table as query
from layers.query.table import Table
from layers.schema import LAYERS, TABLES, YEAR_LAYERS
from layers.scoring.rescore import ScoringFrame, check_year, store_spec
from layers.store import LayerStore
from service.responses import LazyGeometryJSON, features_bytes, geometry_json, prepare_features

log = logging.getLogger(__name__)


#: Layers up to this many rows have their features serialised whole at startup (villages, areas,
#: facilities: answers join prepared bytes); bigger ones (hexagons: 206k in a province, 2.6 M in a
#: nation) serialise the page's properties per request.
EAGER_GEOMETRY_ROWS = 100_000
#: Bigger layers up to this many rows have their geometry serialised after startup, in a thread
#: (`start_preparing`): a province's 206k hexagons take ~1 s and ~50 MB per worker; a nation's 2.6 M
#: would take ~17 s and ~1.7 GB, so theirs stays per request.
BACKGROUND_GEOMETRY_ROWS = 500_000
#: Prepared layers up to this many rows answer items pages on the event loop (no thread hand-off:
#: ~0.1 ms of CPU per request on this machine's 2 cores, more than the page itself).
LOOP_ROWS = 20_000


def _geometry_bytes(geometry: np.ndarray | None) -> np.ndarray | LazyGeometryJSON:
    if geometry is None:
        return np.array([])
    return geometry_json(geometry) if len(geometry) <= EAGER_GEOMETRY_ROWS else LazyGeometryJSON(geometry)


def _prepared(table: Table, geometry: np.ndarray | LazyGeometryJSON) -> np.ndarray | None:
    """Every row's Feature bytes for a layer whose geometry is held serialised; else None."""
    if isinstance(geometry, LazyGeometryJSON) or table.geometry is None:
        return None
    return prepare_features(table, geometry)


@dataclass
class Collection:
    """One served collection: its prepared table, geometry bytes and the years it can show."""

    id: str
    table: Table
    geometry: np.ndarray | LazyGeometryJSON
    """GeoJSON bytes of each feature's geometry (object array), serialised once; for layers above
    `EAGER_GEOMETRY_ROWS` rows serialised per request, for the rows answered."""
    years: list[int] = field(default_factory=list)
    stored_year: int | None = None
    features: np.ndarray | None = None
    """Each row's GeoJSON Feature bytes (stored year), prepared at startup for layers up to
    `EAGER_GEOMETRY_ROWS`; None: serialised per request."""


class Catalog:
    """Everything prepared at startup for fast answers."""

    def __init__(self, store: LayerStore):
        self.store = store
        self.year = store.default_year
        self.collections: dict[str, Collection] = {}
        for name in store.names:
            if name in TABLES:
                continue
            schema = LAYERS.get(name)
            table = Table.from_frame(name, store.layer(name), schema.id_column if schema else None)
            years = store.years if name in YEAR_LAYERS else []
            geometry = _geometry_bytes(table.geometry)
            collection = Collection(name, table, geometry, list(years), self.year)
            collection.features = _prepared(table, geometry)
            self.collections[name] = collection
        has_scoring = all(name in store.names for name in (*YEAR_LAYERS, "village_years"))
        self.scoring = ScoringFrame.from_store(store) if has_scoring else None
        self.spec = store_spec(store)
        self.tiles = VectorTiles(store, scoring=self.scoring)
        self._views: dict[tuple[str, int], Table] = {}
        self._view_features: dict[tuple[str, int], np.ndarray | None] = {}
        self._views_lock = threading.Lock()

    def collection(self, collection_id: str) -> Collection:
        """A served collection, or `LayerNotFound` naming the ones there are."""
        try:
            return self.collections[collection_id]
        except KeyError:
            raise LayerNotFound(
                f"no collection '{excerpt(collection_id)}'; collections are: {', '.join(self.collections)}"
            ) from None

    def require_scoring(self) -> ScoringFrame:
        """The scoring arrays; `ConfigError` when the store lacks the layers they come from."""
        if self.scoring is None:
            raise ConfigError("this store lacks hexagons, villages, kecamatan or kabupaten: no scoring")
        return self.scoring

    @cached_property
    def province_geometry(self) -> np.ndarray:
        """GeoJSON bytes of each province's outline (the union of its kabupaten), built on first use.

        One for a province store; for a national store one per partition, in code order.
        """
        kabupaten = self.collection("kabupaten").table
        geometry = kabupaten.geometry if kabupaten.geometry is not None else np.array([], dtype=object)
        keys = [entry["key"] for entry in self.store.partitions]
        if len(keys) <= 1:
            return geometry_json(np.array([shapely.union_all(geometry)], dtype=object))
        codes = np.asarray(kabupaten.columns["kabupaten_code"], dtype=str)
        outlines = [shapely.union_all(geometry[np.char.startswith(codes, key)]) for key in keys]
        return geometry_json(np.array(outlines, dtype=object))

    def table(self, collection: Collection, year: int | None) -> Table:
        """The collection's table for ``year`` (the stored table for the stored year or None)."""
        if year is None or year == collection.stored_year:
            return collection.table
        if not collection.years:
            raise InvalidQuery(
                f"'{collection.id}' does not vary by year; drop the year or datetime parameter"
            )
        check_year(self.store, year)
        key = (collection.id, year)
        with self._views_lock:
            view = self._views.get(key)
        if view is None:
            view = self._year_view(collection, year)
            features = _prepared(view, collection.geometry)
            with self._views_lock:
                view = self._views.setdefault(key, view)
                self._view_features.setdefault(key, features)
        return view

    def cached_table(self, collection: Collection, year: int | None) -> Table | None:
        """The table `table` would return when it is ready without work (None: it needs building)."""
        if year is None or year == collection.stored_year:
            return collection.table
        return self._views.get((collection.id, year))

    def features_json(self, collection: Collection, table: Table, rows: np.ndarray) -> bytes:
        """Comma-joined GeoJSON Features of ``rows`` of ``table`` (the collection or a year view of
        it): prepared bytes joined where the catalog holds them, else serialised now."""
        features = self._features_of(collection, table)
        if features is not None:
            return b",".join(features[rows])
        return features_bytes(table, collection.geometry, rows)

    def answers_on_loop(self, collection: Collection, table: Table) -> bool:
        """Whether a page of ``table`` is light enough for the event loop: its features are prepared
        and selecting among its rows takes well under a millisecond (`LOOP_ROWS`)."""
        if len(table) > LOOP_ROWS:
            return False
        return self._features_of(collection, table) is not None

    def _features_of(self, collection: Collection, table: Table) -> np.ndarray | None:
        """The prepared Feature bytes of ``table``: the collection's, or those of its year view."""
        if table is collection.table:
            return collection.features
        for year in collection.years:
            key = (collection.id, year)
            if self._views.get(key) is table:
                return self._view_features.get(key)
        return None

    def prepare_geometry(self) -> None:
        """Serialise big layers' geometry (up to `BACKGROUND_GEOMETRY_ROWS` rows) once, now, and build
        their spatial index (a bbox request would otherwise build it, ~0.15 s for 206k hexagons)."""
        for collection in self.collections.values():
            geometry = collection.geometry
            if isinstance(geometry, LazyGeometryJSON) and len(geometry) <= BACKGROUND_GEOMETRY_ROWS:
                started = time.perf_counter()
                if len(collection.table) > query.INDEXED_ROWS:
                    collection.table.spatial_index()
                geometry.prepare()
                log.info(
                    "%s: geometry of %d features prepared in %.2f s",
                    collection.id,
                    len(geometry),
                    time.perf_counter() - started,
                )

    def _year_view(self, collection: Collection, year: int) -> Table:
        """The collection as the build would have written it for ``year`` (same rows and geometry)."""
        table = collection.table
        values = self.require_scoring().layer_values(collection.id, year, list(table.columns), self.spec)
        return table.with_columns(values)


@dataclass(frozen=True)
class Served:
    """The store being served and its catalog, swapped together when the store is rebuilt.

    A request reads one `Served` at its start (`service.deps.get_served`), so it answers from one
    build even when a newer one is swapped in while it runs.
    """

    store: LayerStore
    catalog: Catalog

    @property
    def build_id(self) -> str:
        """The served build's id (`LayerStore.build_id`)."""
        return self.store.build_id


def open_served(path: str | Path) -> Served:
    """Open a store and prepare its catalog (seconds for a province; run it off the event loop)."""
    return prepare_served(LayerStore.open(path))


def prepare_served(store: LayerStore) -> Served:
    """Prepare an opened store's catalog (seconds for a province; run it off the event loop)."""
    return Served(store, Catalog(store))


def start_preparing(served: Served) -> threading.Thread:
    """Serialise the big layers' geometry in a daemon thread (`Catalog.prepare_geometry`).

    The service answers meanwhile, serialising those rows per request; the bytes are the same.
    """
    thread = threading.Thread(target=served.catalog.prepare_geometry, name="prepare-geometry", daemon=True)
    thread.start()
    return thread
