"""Dependencies: the store and its prepared catalog, collections, and query-parameter parsing.

`Catalog` is built once in the lifespan: each served layer becomes a `layers.query.Table` (numpy
columns, per-row bounds) plus its features' GeoJSON geometry bytes, and a
`layers.rescore.ScoringFrame` keeps the arrays that rescoring needs (each cell's village,
kecamatan and kabupaten position, the per-year village values). Requests then only index arrays.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Annotated, Literal

import numpy as np
from fastapi import Depends, Request

from layers import cql2, query
from layers.errors import ConfigError, InvalidQuery, LayerNotFound, excerpt, excerpt_list
from layers.query import ID_COLUMNS, BBox, Table
from layers.rescore import ScoringFrame, store_spec
from layers.store import TABLES, LayerStore
from service.responses import geometry_json
from service.settings import Settings

log = logging.getLogger(__name__)

#: Layers whose values vary by year (docs/schema.md: they hold the latest year).
YEAR_LAYERS = ("hexagons", "villages", "kecamatan", "kabupaten")
#: Scoring levels → the layer of their units (the province has none).
LEVELS: dict[str, str | None] = {
    "hexagon": "hexagons",
    "village": "villages",
    "kecamatan": "kecamatan",
    "kabupaten": "kabupaten",
    "province": None,
}


# ------------------------------------------------------------------------------------------------
# Store, settings and the prepared catalog
# ------------------------------------------------------------------------------------------------


def get_settings(request: Request) -> Settings:
    """The app's settings."""
    return request.app.state.settings


def get_store(request: Request) -> LayerStore:
    """The open layer store (opened once, in the lifespan)."""
    return request.app.state.store


def get_catalog(request: Request) -> Catalog:
    """The prepared catalog of collections and scoring arrays."""
    return request.app.state.catalog


SettingsDep = Annotated[Settings, Depends(get_settings)]
StoreDep = Annotated[LayerStore, Depends(get_store)]


@dataclass
class Collection:
    """One served collection: its prepared table, geometry bytes and the years it can show."""

    id: str
    table: Table
    geometry: np.ndarray
    """GeoJSON bytes of each feature's geometry (object array), serialised once."""
    years: list[int] = field(default_factory=list)
    stored_year: int | None = None


def stored_year(store: LayerStore) -> int | None:
    """The year the year-varying layers hold (manifest ``default_year``, else the latest)."""
    year = store.manifest.get("default_year")
    if year is None and store.years:
        year = store.years[-1]
    return None if year is None else int(year)


class Catalog:
    """Everything prepared at startup for fast answers."""

    def __init__(self, store: LayerStore):
        self.store = store
        self.year = stored_year(store)
        self.collections: dict[str, Collection] = {}
        for name in store.names:
            if name in TABLES:
                continue
            table = Table.from_frame(name, store.layer(name), ID_COLUMNS.get(name))
            years = store.years if name in YEAR_LAYERS else []
            geometry = geometry_json(table.geometry) if table.geometry is not None else np.array([])
            self.collections[name] = Collection(name, table, geometry, list(years), self.year)
        has_scoring = all(name in store.names for name in (*YEAR_LAYERS, "village_years"))
        self.scoring = ScoringFrame.from_store(store) if has_scoring else None
        self.spec = store_spec(store)
        self._views: dict[tuple[str, int], Table] = {}

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

    def table(self, collection: Collection, year: int | None) -> Table:
        """The collection's table for ``year`` (the stored table for the stored year or None)."""
        if year is None or year == collection.stored_year:
            return collection.table
        if not collection.years:
            raise InvalidQuery(f"'{collection.id}' does not vary by year; drop the year parameter")
        self.require_scoring().year_rows(year)  # InvalidQuery for a year the store lacks
        key = (collection.id, year)
        if key not in self._views:
            self._views[key] = self._year_view(collection, year)
        return self._views[key]

    def _year_view(self, collection: Collection, year: int) -> Table:
        scoring = self.require_scoring()
        table = collection.table
        if collection.id == "villages":
            _, rows = scoring.year_rows(year)
            overrides = {
                c: rows[c].to_numpy() for c in rows.columns if c in table.columns and c != "village_code"
            }
            return table.with_columns(overrides)
        if collection.id == "hexagons":
            return table.with_columns(self._hexagon_year(year))
        raise InvalidQuery(
            f"'{collection.id}' holds {collection.stored_year} only; for {year} ask "
            f"/scores/{collection.id}?year={year}, which aggregates that year's cells"
        )

    def _hexagon_year(self, year: int) -> dict[str, np.ndarray]:
        scoring = self.require_scoring()
        table = self.collections["hexagons"].table
        _, rows = scoring.year_rows(year)
        varying = [
            c for c in rows.columns if c in table.columns and c not in ("population", "village_code", "year")
        ]
        out = dict(zip(varying, scoring.matrix(varying, year).T, strict=True))
        out["population"] = scoring.population(year)
        out["year"] = np.full(len(table), year)
        if "score" in table.columns:
            units = scoring.score_cells(self.spec, year).scores
            out |= {
                "score": units.c,
                "poor": units.poor,
                "vulnerable": units.vulnerable,
                "severe": units.severe,
            }
        return out


CatalogDep = Annotated[Catalog, Depends(get_catalog)]


def get_collection(collection_id: str, catalog: CatalogDep) -> Collection:
    """The collection named in the path (`LayerNotFound` → 404)."""
    return catalog.collection(collection_id)


CollectionDep = Annotated[Collection, Depends(get_collection)]


# ------------------------------------------------------------------------------------------------
# Query parameters
# ------------------------------------------------------------------------------------------------

#: Query parameters of /collections/{id}/items besides the collection's property names.
ITEMS_PARAMETERS = (
    "bbox",
    "bbox-crs",
    "crs",
    "limit",
    "offset",
    "f",
    "year",
    "filter",
    "filter-lang",
    "filter-crs",
    "sortby",
)
CRS84 = "http://www.opengis.net/def/crs/OGC/1.3/CRS84"
_CRS84_ALIASES = {CRS84, "CRS84", "EPSG:4326", "http://www.opengis.net/def/crs/EPSG/0/4326"}


def parse_int(name: str, text: str | None, default: int, minimum: int = 0) -> int:
    """An integer query parameter (`InvalidQuery` naming it when not a whole number ≥ minimum)."""
    if text is None or text == "":
        return default
    try:
        value = int(text)
    except ValueError:
        raise InvalidQuery(f"{name} must be a whole number, got '{excerpt(text)}'") from None
    if value < minimum:
        raise InvalidQuery(f"{name} must be at least {minimum}, got {value}")
    return value


def parse_bbox(text: str | None) -> BBox | None:
    """``minlon,minlat,maxlon,maxlat`` in CRS84."""
    if text is None:
        return None
    parts = [p for p in text.split(",") if p.strip() != ""]
    try:
        nums = [float(p) for p in parts]
    except ValueError:
        raise InvalidQuery(
            f"bbox needs 4 numbers minlon,minlat,maxlon,maxlat; got '{excerpt(text)}'"
        ) from None
    if len(nums) != 4 or not all(math.isfinite(n) for n in nums):
        raise InvalidQuery(
            f"bbox needs 4 finite numbers minlon,minlat,maxlon,maxlat; got {len(nums)} in '{excerpt(text)}'"
        )
    minx, miny, maxx, maxy = nums
    if minx > maxx or miny > maxy:
        raise InvalidQuery(
            f"bbox minimum exceeds maximum in '{excerpt(text)}' (order: minlon,minlat,maxlon,maxlat)"
        )
    return (minx, miny, maxx, maxy)


def parse_format(text: str | None, allowed: tuple[str, ...]) -> str:
    """The ``f`` parameter (first allowed value by default)."""
    if text is None or text == "":
        return allowed[0]
    if text not in allowed:
        raise InvalidQuery(f"f must be one of {', '.join(allowed)}; got '{excerpt(text)}'")
    return text


def check_known(params: Mapping[str, str], known: set[str], where: str) -> None:
    """`InvalidQuery` for query parameters that ``where`` does not understand."""
    unknown = [name for name in params if name not in known]
    if unknown:
        raise InvalidQuery(
            f"unknown parameter(s) {excerpt_list(unknown)} for {where}; known: {', '.join(sorted(known))}"
        )


@dataclass(frozen=True)
class ItemsQuery:
    """The parsed parameters of an items request."""

    table: Table
    bbox: BBox | None
    limit: int
    offset: int
    year: int | None
    equals: dict[str, str]
    where: cql2.Node | None
    sortby: tuple[str, ...]


def _filter(params: Mapping[str, str]) -> cql2.Node | None:
    lang = params.get("filter-lang", "cql2-text")
    if lang != "cql2-text":
        raise InvalidQuery(f"filter-lang must be cql2-text, got '{excerpt(lang)}'")
    # GDAL ≥ 3.11 sends crs= (OGC API - Features Part 2) when a collection lists its CRSs.
    for name in ("crs", "filter-crs", "bbox-crs"):
        if params.get(name, CRS84) not in _CRS84_ALIASES:
            raise InvalidQuery(
                f"{name} must be {CRS84} (coordinates are lon, lat), got '{excerpt(params[name])}'"
            )
    text = params.get("filter")
    return None if text is None else cql2.parse(text)


def items_query(
    request: Request, collection: CollectionDep, catalog: CatalogDep, settings: SettingsDep
) -> ItemsQuery:
    """Parse and check every query parameter of /collections/{id}/items."""
    params = request.query_params
    table = collection.table
    check_known(params, set(ITEMS_PARAMETERS) | set(table.columns), f"'{collection.id}' items")
    year = parse_int("year", params.get("year"), 0) or None
    table = catalog.table(collection, year)
    limit = min(parse_int("limit", params.get("limit"), settings.default_limit, 1), settings.max_limit)
    parse_format(params.get("f"), ("json", "geojson"))
    sortby = query.parse_sortby(table, params.get("sortby"))
    equals = {k: v for k, v in params.items() if k in table.columns and k not in ITEMS_PARAMETERS}
    return ItemsQuery(
        table=table,
        bbox=parse_bbox(params.get("bbox")),
        limit=limit,
        offset=parse_int("offset", params.get("offset"), 0),
        year=year,
        equals=equals,
        where=_filter(params),
        sortby=sortby,
    )


ItemsDep = Annotated[ItemsQuery, Depends(items_query)]


ScoreFormat = Literal["json", "geojson", "csv"]
SCORE_PARAMETERS = ("year", "k", "f", "limit", "offset")


@dataclass(frozen=True)
class ScoreQuery:
    """The parsed parameters of a scores request (the spec is resolved against a base spec later)."""

    level: str
    year: int
    fmt: str
    limit: int
    offset: int
    k: str | None
    weights: dict[str, str]
    cutoffs: dict[str, str]


def score_query(level: str, request: Request, catalog: CatalogDep, settings: SettingsDep) -> ScoreQuery:
    """Parse /scores/{level} parameters: year, k, ``w_<dimension|indicator>``, ``cutoff_<indicator>``."""
    if level not in LEVELS:
        raise LayerNotFound(f"no scoring level '{excerpt(level)}'; levels are: {', '.join(LEVELS)}")
    params = request.query_params
    overrides = {k for k in params if k.startswith(("w_", "cutoff_"))}
    check_known(params, set(SCORE_PARAMETERS) | overrides, f"/scores/{level} (plus w_<name>, cutoff_<name>)")
    year_text = params.get("year")
    year, _ = catalog.require_scoring().year_rows(None if not year_text else parse_int("year", year_text, 0))
    return ScoreQuery(
        level=level,
        year=year,
        fmt=parse_format(params.get("f"), ("json", "geojson", "csv")),
        limit=min(parse_int("limit", params.get("limit"), settings.default_limit, 1), settings.max_limit),
        offset=parse_int("offset", params.get("offset"), 0),
        k=params.get("k"),
        weights={k[2:]: v for k, v in params.items() if k.startswith("w_")},
        cutoffs={k[7:]: v for k, v in params.items() if k.startswith("cutoff_")},
    )


ScoreQueryDep = Annotated[ScoreQuery, Depends(score_query)]
