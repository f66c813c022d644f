"""Everything the lifespan prepares once per store, for fast answers.

`Catalog` turns each served layer into a `layers.query.table.Table` (numpy columns, per-row bounds)
plus its features' GeoJSON geometry bytes, keeps the `layers.scoring.rescore.ScoringFrame` that
rescoring needs, the villages prepared for targeting (one small selection runs at start, so the
first ``POST /targets`` is as fast as the next), the vector tiles and the province outline.
Requests then only index arrays. Nothing here changes after the lifespan except bounded caches,
each behind a lock.
"""

from __future__ import annotations

import logging
import threading
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path

import numpy as np
import shapely

from layers.errors import ConfigError, InvalidQuery, LayerNotFound, SasaranError, excerpt
from layers.maps.tiles import VectorTiles
from layers.query.table import Table
from layers.schema import LAYERS, TABLES, YEAR_LAYERS
from layers.scoring.rescore import ScoringFrame, check_year, store_spec
from layers.store import LayerStore
from layers.targeting.selection import TargetingBase, warm_up
from service.responses import LazyGeometryJSON, geometry_json

log = logging.getLogger(__name__)


#: Layers up to this many rows have their GeoJSON geometry serialised at startup (villages, areas,
#: facilities: fast pages); bigger ones (hexagons: 206k in a province, 2.6 M in a nation) per request.
EAGER_GEOMETRY_ROWS = 100_000


def _geometry_bytes(geometry: np.ndarray | None) -> np.ndarray | LazyGeometryJSON:
    if geometry is None:
        return np.array([])
    return geometry_json(geometry) if len(geometry) <= EAGER_GEOMETRY_ROWS else LazyGeometryJSON(geometry)


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
            self.collections[name] = Collection(name, table, geometry, list(years), self.year)
        has_scoring = all(name in store.names for name in (*YEAR_LAYERS, "village_years"))
        self.scoring = ScoringFrame.from_store(store) if has_scoring else None
        self.spec = store_spec(store)
        self._targeting: TargetingBase | None = None
        if self.scoring is not None:
            self._targeting = TargetingBase.of(self.scoring, store.layer("villages"))
            try:
                warm_up(self.scoring, self._targeting, self.spec)
            except SasaranError as exc:  # a store no selection can be made on: say so, serve the rest
                log.warning("targeting not warmed up: %s", exc)
        self.tiles = VectorTiles(store, scoring=self.scoring)
        self._views: dict[tuple[str, int], Table] = {}
        self._views_lock = threading.Lock()

    def collection(self, collection_id: str) -> Collection:
        """A served collection, or `LayerNotFound` naming the ones there are."""
        try:
            return self.collections[collection_id]
        except KeyError:
            raise LayerNotFound(
                f"no collection '{excerpt(collection_id)}'; collections are: {', '.join(self.collections)}"
            ) from None

    def targeting(self) -> TargetingBase:
        """The villages in scoring order for targeting (`ConfigError` without scoring layers)."""
        if self._targeting is None:
            raise ConfigError("this store lacks hexagons, villages, kecamatan or kabupaten: no targeting")
        return self._targeting

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
            with self._views_lock:
                self._views[key] = view
        return view

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
