"""Dependencies: the settings, the store and its prepared catalog (`service.catalog`), and the
parsing of query parameters into typed values. Parsers raise domain errors (`InvalidQuery`), never
HTTP exceptions; `service.errors` maps them.
"""

from __future__ import annotations

import asyncio
import logging
import math
import re
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime
from typing import Annotated, Literal

from fastapi import Depends, Request
from starlette.concurrency import run_in_threadpool

from layers import numbers
from layers.errors import EXCERPT_ITEMS, InvalidQuery, close_match, excerpt, excerpt_list
from layers.query import cql2
from layers.query import table as query
from layers.query.table import Table
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


async def get_settings(request: Request) -> Settings:
    """The app's settings."""
    return request.app.state.settings


#: Where a request keeps the build it answers from (its ASGI scope, shared by every dependency).
_SERVED_KEY = "sasaran.served"


async def served_of(request: Request) -> Served:
    """The build a request answers from: the one served when the request first asked, kept in its
    scope, so that a rebuild swapped in meanwhile changes nothing for it.

    Right after a start the first build is still being prepared (`service.app.lifespan`): the
    request waits for it. Shielded: a client that goes away cancels its own wait, not the work.
    """
    kept: Served | None = request.scope.get(_SERVED_KEY)
    if kept is not None:
        return kept
    current: Served | None = request.app.state.served
    served: Served = current if current is not None else await asyncio.shield(request.app.state.preparing)
    request.scope[_SERVED_KEY] = served
    return served


# Each dependency below reads the request alone, none another dependency: FastAPI spends ~20 µs
# per dependency it solves, so a chain (collection → catalog → served) cost ~60 µs per request.


async def get_served(request: Request) -> Served:
    """The build being served, read once per request (a rebuild swapped in meanwhile waits)."""
    return await served_of(request)


ServedDep = Annotated[Served, Depends(get_served)]


async def get_store(request: Request) -> LayerStore:
    """The open layer store of the request's build."""
    return (await served_of(request)).store


async def get_catalog(request: Request) -> Catalog:
    """The prepared catalog of the request's build."""
    return (await served_of(request)).catalog


SettingsDep = Annotated[Settings, Depends(get_settings)]
StoreDep = Annotated[LayerStore, Depends(get_store)]


CatalogDep = Annotated[Catalog, Depends(get_catalog)]


async def get_collection(collection_id: str, request: Request) -> Collection:
    """The collection named in the path (`LayerNotFound` → 404)."""
    return (await served_of(request)).catalog.collection(collection_id)


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
    "datetime",
    "filter",
    "filter-lang",
    "filter-crs",
    "sortby",
)
CRS84 = "http://www.opengis.net/def/crs/OGC/1.3/CRS84"
_CRS84_ALIASES = {CRS84, "CRS84", "EPSG:4326", "http://www.opengis.net/def/crs/EPSG/0/4326"}


def parse_int(name: str, text: str | None, default: int, minimum: int = 0) -> int:
    """An integer query parameter in ASCII digits, at least ``minimum`` (else `InvalidQuery` naming it)."""
    if text is None or text == "":
        return default
    try:
        value = numbers.whole(text)
    except ValueError:
        raise InvalidQuery(f"{name} must be a whole number in ASCII digits, got '{excerpt(text)}'") from None
    if value < minimum:
        raise InvalidQuery(f"{name} must be at least {minimum}, got {value}")
    return value


def parse_bbox(text: str | None) -> BBox | None:
    """``minlon,minlat,maxlon,maxlat`` in CRS84: four finite decimals, ``minlat <= maxlat``.

    ``minlon > maxlon`` is a box crossing the antimeridian (OGC API - Features 7.15.3); a box whose
    south lies north of its north is a mistake (swapped corners), refused rather than read as empty.
    """
    if text is None:
        return None
    parts = text.split(",")
    try:
        nums = [numbers.decimal(p.strip()) for p in parts]
    except ValueError:
        raise InvalidQuery(
            f"bbox needs 4 finite numbers minlon,minlat,maxlon,maxlat in ASCII digits; got '{excerpt(text)}'"
        ) from None
    if len(nums) != 4:
        raise InvalidQuery(
            f"bbox needs 4 numbers minlon,minlat,maxlon,maxlat; got {len(nums)} in '{excerpt(text)}'"
        )
    minx, miny, maxx, maxy = nums
    if miny > maxy:
        raise InvalidQuery(
            f"bbox minlat {miny:g} is north of maxlat {maxy:g}: the corners are swapped "
            "(minlon,minlat,maxlon,maxlat)"
        )
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


def known_parameters(*names: str) -> Callable[[Request], Awaitable[None]]:
    """A dependency answering 400 for any query parameter other than ``names`` (every path checks)."""
    known = set(names)

    async def check(request: Request) -> None:
        check_known(request.query_params, known, request.url.path)

    return check


# ------------------------------------------------------------------------------------------------
# Years: ``datetime`` (OGC API - Features Part 1, 7.15.4), ``year`` and a filter's ``year = N``
# ------------------------------------------------------------------------------------------------

_INSTANT = re.compile(r"^(\d{4})(?:-(\d{2})(?:-(\d{2}))?)?$")


def _instant_years(text: str) -> tuple[int, int]:
    """The first and last calendar year (UTC) an RFC 3339 instant, date, month or year falls in."""
    match = _INSTANT.match(text)
    try:
        if match:
            year, month, day = (int(g) if g else None for g in match.groups())
            date(year or 1, month or 1, day or 1)  # ValueError for month 13 or day 32
            return year or 1, year or 1
        moment = datetime.fromisoformat(text.upper().replace("Z", "+00:00"))
    except ValueError:
        moment = None
    if moment is None or "T" not in text.upper():
        raise InvalidQuery(
            f"datetime '{excerpt(text)}' is not a date-time (2023, 2023-06-01 or 2023-06-01T00:00:00Z), "
            "nor an interval of two (2023-01-01/2023-12-31, ../2023)"
        )
    if moment.tzinfo is not None:
        moment = moment.astimezone(UTC)
    return moment.year, moment.year


def parse_datetime(text: str, years: Sequence[int]) -> int:
    """The one year of the data that an OGC ``datetime`` instant or interval selects.

    Parameters
    ----------
    text
        An instant (``2023``, ``2023-06``, ``2023-06-01``, ``2023-06-01T00:00:00Z``) or an interval
        of two, either end open (``2023-01-01/2023-12-31``, ``../2023``, ``2023/..``, ``2023/``).
    years
        The years the data holds.

    Returns
    -------
    int
        The data year the instant or interval meets. Features are per year (each village once per
        year, under one id), so a request shows one year: an interval meeting several data years,
        or none, is `InvalidQuery` naming the years available.
    """
    available = ", ".join(map(str, years))
    if "/" in text:
        start, _, end = text.partition("/")
        if "/" in end:
            raise InvalidQuery(f"datetime '{excerpt(text)}' has more than two ends; an interval is start/end")
        low = -math.inf if start in ("", "..") else _instant_years(start)[0]
        high = math.inf if end in ("", "..") else _instant_years(end)[1]
        if low > high:
            raise InvalidQuery(f"datetime interval '{excerpt(text)}' ends before it starts")
    else:
        low, high = _instant_years(text)
    met = [y for y in years if low <= y <= high]
    if not met:
        raise InvalidQuery(
            f"datetime '{excerpt(text)}' meets no year of the data; years available: {available}"
        )
    if len(met) > 1:
        raise InvalidQuery(
            f"datetime '{excerpt(text)}' meets {len(met)} years ({', '.join(map(str, met))}); features are "
            f"per year, so ask one, e.g. datetime={met[-1]}; years available: {available}"
        )
    return met[0]


def requested_year(params: Mapping[str, str], years: Sequence[int]) -> int | None:
    """The year a request asks for through ``year`` or ``datetime`` (None: neither was given).

    A year the data lacks is `InvalidQuery` naming the years available; so are ``year`` and
    ``datetime`` naming different years.
    """
    by_year = by_datetime = None
    if params.get("year", "") != "":
        by_year = parse_int("year", params["year"], 0)
        if by_year not in years:
            raise InvalidQuery(
                f"year {by_year} is not in the data; years available: {', '.join(map(str, years))}"
            )
    if params.get("datetime", "") != "":
        by_datetime = parse_datetime(params["datetime"], years)
    if by_year is not None and by_datetime is not None and by_year != by_datetime:
        raise InvalidQuery(f"year={by_year} and datetime={excerpt(params['datetime'])} name different years")
    return by_year if by_year is not None else by_datetime


def filter_year(node: cql2.Node | None) -> int | None:
    """The year a CQL2 filter selects: its top-level ``year = N`` condition (AND-ed with the rest).

    A yearly collection shows one year at a time, so ``year`` in a filter picks the year shown
    (as the ``year`` parameter does) rather than matching only the stored year's rows. Any other use
    of ``year`` (in OR, NOT, IN, BETWEEN, ``<`` ...) is `InvalidQuery`: it would ask for several
    years in one answer.
    """
    if node is None:
        return None
    conjuncts = node.items if isinstance(node, cql2.And) else (node,)
    chosen: set[int] = set()
    for item in conjuncts:
        year = _year_equality(item)
        if year is not None:
            chosen.add(year)
        elif _mentions_year(item):
            raise InvalidQuery(
                "a filter selects a year only with a top-level condition year = 2023 (AND-ed with the "
                "rest); to compare years, ask once per year or use /changes"
            )
    if len(chosen) > 1:
        raise InvalidQuery(f"the filter asks for years {sorted(chosen)} at once; ask one year per request")
    return chosen.pop() if chosen else None


def _year_equality(node: cql2.Node) -> int | None:
    """N of ``year = N`` (either side), for a whole number N; else None."""
    if not isinstance(node, cql2.Compare) or node.op != "=":
        return None
    year = cql2.Property("year")
    if year not in (node.left, node.right):
        return None
    other = node.right if node.left == year else node.left
    value = other.value if isinstance(other, cql2.Literal_) else None
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        return None
    if value != int(value):
        return None
    return int(value)


def _mentions_year(node: object) -> bool:
    if node == cql2.Property("year"):
        return True
    if isinstance(node, tuple):
        return any(_mentions_year(item) for item in node)
    fields: dict[str, object] = getattr(node, "__dataclass_fields__", None) or {}
    return any(_mentions_year(getattr(node, name)) for name in fields)


def resolve_year(params: Mapping[str, str], where: cql2.Node | None, years: Sequence[int]) -> int | None:
    """The year of an items request: from ``year``, ``datetime`` or the filter, which must agree."""
    year = requested_year(params, years)
    from_filter = filter_year(where)
    if from_filter is None:
        return year
    if from_filter not in years:
        raise InvalidQuery(
            f"the filter asks for year {from_filter}, which is not in the data; "
            f"years available: {', '.join(map(str, years))}"
        )
    if year is not None and year != from_filter:
        raise InvalidQuery(f"the filter asks for year {from_filter} but year/datetime for {year}")
    return from_filter


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


async def table_for(catalog: Catalog, collection: Collection, year: int | None) -> Table:
    """`Catalog.table` without blocking the event loop: a year view not built yet is built in the
    thread pool (the stored table and built views are returned at once)."""
    table = catalog.cached_table(collection, year)
    if table is not None:
        return table
    return await run_in_threadpool(catalog.table, collection, year)


async def items_query(request: Request, collection: CollectionDep) -> ItemsQuery:
    """Parse and check every query parameter of /collections/{id}/items."""
    catalog: Catalog = (await served_of(request)).catalog
    settings: Settings = request.app.state.settings
    params = request.query_params
    table = collection.table
    check_known(params, set(ITEMS_PARAMETERS) | set(table.columns), f"'{collection.id}' items")
    where = _filter(params)
    year = resolve_year(params, where, collection.years) if collection.years else None
    if not collection.years and any(params.get(p) for p in ("year", "datetime")):
        raise InvalidQuery(f"'{collection.id}' does not vary by year; drop the year or datetime parameter")
    table = await table_for(catalog, collection, year)
    limit = min(parse_int("limit", params.get("limit"), settings.default_limit, 1), settings.max_limit)
    parse_format(params.get("f"), ("json", "geojson", "html"))
    if params.get("sortby") == "":  # the document's sortby is one or more names, never none
        raise InvalidQuery("sortby is empty: name the properties (sortby=-M0,population) or leave it out")
    sortby = query.parse_sortby(table, params.get("sortby"))
    equals = {k: v for k, v in params.items() if k in table.columns and k not in ITEMS_PARAMETERS}
    return ItemsQuery(
        table=table,
        bbox=parse_bbox(params.get("bbox")),
        limit=limit,
        offset=parse_int("offset", params.get("offset"), 0),
        year=year,
        equals=equals,
        where=where,
        sortby=sortby,
    )


ItemsDep = Annotated[ItemsQuery, Depends(items_query)]


ScoreFormat = Literal["json", "geojson", "csv"]
SCORE_PARAMETERS = ("year", "datetime", "k", "f", "limit", "offset")


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
    year, _ = catalog.require_scoring().year_rows(requested_year(params, catalog.store.years))
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
