"""Dependencies: the settings, the store and its prepared catalog (`service.catalog`), and the
parsing of query parameters into typed values. Parsers raise domain errors (`InvalidQuery`), never
HTTP exceptions; `service.errors` maps them.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Annotated, Literal

from fastapi import Depends, Request

from layers import cql2, query
from layers.errors import EXCERPT_ITEMS, InvalidQuery, close_match, excerpt, excerpt_list
from layers.query import Table
from layers.schema import LEVELS
from layers.schema import level as level_schema
from layers.store import LayerStore
from layers.types import BBox
from service.catalog import Catalog, Collection, Served
from service.settings import Settings

log = logging.getLogger(__name__)

#: Scoring level names (``/scores/{level}``).
LEVEL_NAMES: tuple[str, ...] = tuple(lv.name for lv in LEVELS)


# ------------------------------------------------------------------------------------------------
# Store, settings and the prepared catalog
# ------------------------------------------------------------------------------------------------


def get_settings(request: Request) -> Settings:
    """The app's settings."""
    return request.app.state.settings


def get_served(request: Request) -> Served:
    """The build being served, read once per request (a rebuild swapped in meanwhile waits)."""
    return request.app.state.served


ServedDep = Annotated[Served, Depends(get_served)]


def get_store(served: ServedDep) -> LayerStore:
    """The open layer store of the request's build."""
    return served.store


def get_catalog(served: ServedDep) -> Catalog:
    """The prepared catalog of the request's build."""
    return served.catalog


SettingsDep = Annotated[Settings, Depends(get_settings)]
StoreDep = Annotated[LayerStore, Depends(get_store)]


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
    # minlon > maxlon crosses the antimeridian (OGC API - Features 7.15.3); minlat > maxlat is an
    # empty box: both are what the OpenAPI document (four numbers) allows, so neither is an error.
    minx, miny, maxx, maxy = nums
    return (minx, miny, maxx, maxy)


def parse_format(text: str | None, allowed: tuple[str, ...]) -> str:
    """The ``f`` parameter (first allowed value when absent; an empty ``f=`` is no format)."""
    if text is None:
        return allowed[0]
    if text not in allowed:
        raise InvalidQuery(f"f must be one of {', '.join(allowed)}; got '{excerpt(text)}'")
    return text


def check_known(params: Mapping[str, str], known: set[str], where: str) -> None:
    """`InvalidQuery` for query parameters that ``where`` does not understand.

    A likely typo (``limt``, ``kabupaten``) gets "did you mean" with the one correction; otherwise
    the message lists the known names.
    """
    unknown = [name for name in params if name not in known]
    if not unknown:
        return
    matches = {name: close_match(name, known) for name in unknown[:EXCERPT_ITEMS]}
    hints = [f"`{match}` for '{excerpt(name)}'" for name, match in matches.items() if match]
    if hints:
        hint = f"did you mean {', '.join(hints)}?"
    else:
        hint = f"known: {', '.join(sorted(known))}"
    raise InvalidQuery(f"unknown parameter(s) {excerpt_list(unknown)} for {where}; {hint}")


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
    parse_format(params.get("f"), ("json", "geojson", "html"))
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
    # The singular is canonical; the collection's plural (/scores/villages) is accepted too.
    level = level_schema(level).name  # LayerNotFound (404) naming the levels
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
