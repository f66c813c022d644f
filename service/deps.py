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

import numpy as np
import pandas as pd
import shapely
from fastapi import Depends, Query, Request
from pydantic import BaseModel, ConfigDict, Field, field_validator
from starlette.concurrency import run_in_threadpool

from layers import numbers
from layers.errors import EXCERPT_ITEMS, InvalidQuery, close_match, excerpt, excerpt_list
from layers.geo.crs import Crs, box_to_crs84, from_crs, parse_crs
from layers.query import cql2
from layers.query import table as query
from layers.query.table import Table
from layers.schema import LEVELS
from layers.schema import level as level_schema
from layers.store import LayerStore
from layers.types import BBox
from service.catalog import DATE, Catalog, Collection, Served, year_dates
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


def parse_format(text: str | None, allowed: tuple[str, ...], name: str = "f") -> str:
    """The ``f`` parameter, or another choice ``name`` (first allowed value when absent)."""
    if text is None:
        return allowed[0]
    if text not in allowed:
        raise InvalidQuery(f"{name} must be one of {', '.join(allowed)}; got '{excerpt(text)}'")
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


def datetime_years(text: str, years: Sequence[int]) -> list[int]:
    """The years of the data that an OGC ``datetime`` instant or interval meets.

    Parameters
    ----------
    text
        An instant (``2023``, ``2023-06``, ``2023-06-01``, ``2023-06-01T00:00:00Z``) or an interval
        of two, either end open (``2023-01-01/2023-12-31``, ``../2023``, ``2023/..``, ``2023/``).
    years
        The years the data holds.

    Returns
    -------
    list[int]
        Every data year the instant or interval meets (a feature's year is its whole calendar
        year), ascending; none met is `InvalidQuery` naming the years available.
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
    return met


def parse_datetime(text: str, years: Sequence[int]) -> int:
    """The one year of the data an OGC ``datetime`` selects, for answers that show one year
    (tiles, downloads, scores): an interval meeting several years is `InvalidQuery` naming them."""
    met = datetime_years(text, years)
    if len(met) > 1:
        available = ", ".join(map(str, years))
        raise InvalidQuery(
            f"datetime '{excerpt(text)}' meets {len(met)} years ({', '.join(map(str, met))}); this answer "
            f"shows one year, so ask one, e.g. datetime={met[-1]}; years available: {available}"
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


# ------------------------------------------------------------------------------------------------
# Items: the query parameters of a feature and of a page of features, declared once (`ItemsParams`)
# and read from a GET's query string or a POST's body alike
# ------------------------------------------------------------------------------------------------

_F_DOC = (
    "Answer format: GeoJSON (json, geojson) or an HTML page (html). Without f, a browser's "
    "Accept: text/html gets HTML and every other client GeoJSON."
)
_YEAR_DOC = (
    "Year of the values (a property of every feature of a yearly collection). Without year, "
    "datetime or a filter on year, the default year (the latest) is shown; with them, every year "
    "they allow, each feature with its year. A year not in the data is a 400 naming the years available."
)
_DATETIME_DOC = (
    "RFC 3339 instant (2023, 2023-06-01, 2023-06-01T00:00:00Z) or interval (2023-01-01/2024-12-31, "
    "../2023, ../..): the features of every data year it meets (each with its year; their ids end in "
    "@year when several years are answered). AND-ed with year and a filter on year."
)


class FeatureParams(BaseModel):
    """Query parameters of one feature; every items request takes them too (`ItemsParams`)."""

    model_config = ConfigDict(populate_by_name=True, extra="ignore")

    f: Literal["json", "geojson", "html"] | None = Field(None, description=_F_DOC)
    year: int | None = Field(None, description=_YEAR_DOC)
    datetime: str | None = Field(None, description=_DATETIME_DOC)
    crs: str | None = Field(
        None,
        description="CRS of the answer's coordinates (OGC API - Features Part 2), one of the "
        "collection's `crs` list: CRS84 (lon, lat; default), EPSG:4326 and EPSG:4755 (lat, lon), "
        "EPSG:3857, EPSG:32749, EPSG:32750. The answer names it in Content-Crs.",
    )
    properties: str | None = Field(
        None,
        description="Comma-separated properties to include (default: all), e.g. village_name,M0.",
    )
    skipGeometry: bool = Field(  # noqa: N815 - the OGC parameter's name
        False, description="true: features without geometry (null), for tables and charts."
    )

    @field_validator("year", "limit", "offset", mode="before", check_fields=False)
    @classmethod
    def _ascii_whole(cls, value: object) -> object:
        """Whole numbers of a query string in ASCII digits (pydantic reads ``1_0`` as 10)."""
        return numbers.whole(value) if isinstance(value, str) else value

    @classmethod
    def names(cls) -> frozenset[str]:
        """The query parameter names (aliases) this model declares."""
        return frozenset(f.alias or name for name, f in cls.model_fields.items())


class ItemsParams(FeatureParams):
    """Query parameters of ``/collections/{id}/items`` besides the collection's property filters.

    The one declaration of them: FastAPI documents the GET's parameters from it (`service.ogc` adds
    the store's domains and one path per collection), the POST form's body is read into it, and
    `items_query` turns it into an `ItemsQuery`.
    """

    bbox: str | None = Field(
        None,
        description="minx,miny,maxx,maxy in bbox-crs (default CRS84: minlon,minlat,maxlon,maxlat): "
        "features whose geometry intersects the box. In CRS84 minlon > maxlon crosses the "
        "antimeridian and minlat > maxlat is an empty box.",
    )
    bbox_crs: str | None = Field(
        None, alias="bbox-crs", description="CRS of bbox (its axis order): one of the collection's crs."
    )
    limit: int | None = Field(
        None,
        ge=1,
        description="Features per page; larger values are clamped to the service's maximum. `next` "
        "links ask for big pages, so clients that follow them make few requests.",
    )
    offset: int = Field(0, ge=0, description="Features to skip (use the next link).")
    filter: str | None = Field(
        None,
        min_length=1,
        description="A CQL2 expression (filter-lang: cql2-text, the default, or cql2-json), e.g. "
        "M0 >= 0.2 AND kabupaten_code = '6201' (see the queryables).",
    )
    filter_lang: Literal["cql2-text", "cql2-json"] | None = Field(
        None, alias="filter-lang", description="Filter language (default cql2-text)."
    )
    filter_crs: str | None = Field(
        None, alias="filter-crs", description="CRS of the filter's geometries (its axis order)."
    )
    sortby: str | None = Field(
        None, description="Comma-separated properties, `-name` descending, `name` or `+name` ascending."
    )


#: Query parameters of /collections/{id}/items besides the collection's property names.
ITEMS_PARAMETERS: frozenset[str] = ItemsParams.names()
#: Query parameters of a single feature.
FEATURE_PARAMETERS: frozenset[str] = FeatureParams.names()


@dataclass(frozen=True)
class ItemsQuery:
    """An items request resolved against its collection: the tables of the years shown and the
    parsed conditions."""

    parts: tuple[Table, ...]
    """The collection's table once per year shown (one table for a collection without years)."""
    years: tuple[int | None, ...]
    """The year of each part (None: a collection without years)."""
    bbox: BBox | None
    """A CRS84 box."""
    area: shapely.Geometry | None
    """A box given in a projected CRS, as its CRS84 outline."""
    limit: int
    offset: int
    equals: dict[str, str]
    where: cql2.Node | None
    sortby: tuple[str, ...]
    properties: tuple[str, ...] | None
    skip_geometry: bool
    crs: Crs
    params: ItemsParams


def _filter(params: ItemsParams) -> cql2.Node | None:
    """The filter in its language, geometries moved from filter-crs to CRS84."""
    crs = parse_crs(params.filter_crs, "filter-crs")  # checked even without a filter
    if params.filter is None:
        return None
    if params.filter_lang == "cql2-json":
        node = cql2.parse_json_text(params.filter)
    else:
        node = cql2.parse(params.filter)
    if crs.is_crs84:
        return node
    return cql2.map_geometries(node, lambda geometry: from_crs(np.array([geometry], dtype=object), crs)[0])


#: Properties that are the year itself: ``year`` and the temporal property ``date`` (its 1 January).
YEAR_PROPERTIES = frozenset({"year", DATE})


def _year_only(node: cql2.Node) -> bool:
    return bool(cql2.properties_of(node)) and cql2.properties_of(node) <= YEAR_PROPERTIES


def shown_years(
    params: FeatureParams,
    where: cql2.Node | None,
    collection: Collection,
    equals: Mapping[str, str] | None = None,
) -> tuple[int | None, ...]:
    """The years an items request shows, ascending.

    A yearly collection holds each unit once per year. Without ``year``, ``datetime`` or a filter
    naming ``year``, a request shows the default year; with them, every year they allow (``year``,
    ``datetime`` and the filter's conditions on ``year`` alone are AND-ed; none left: no feature).
    """
    years = collection.years
    if not years:
        if params.year is not None or params.datetime:
            raise InvalidQuery(
                f"'{collection.id}' does not vary by year; drop the year or datetime parameter"
            )
        return (None,)
    available = ", ".join(map(str, years))
    conjuncts = () if where is None else (where.items if isinstance(where, cql2.And) else (where,))
    constrained = params.year is not None or bool(params.datetime)
    allowed = set(years)
    if params.year is not None:
        if params.year not in years:
            raise InvalidQuery(f"year {params.year} is not in the data; years available: {available}")
        allowed &= {params.year}
    if params.datetime:
        allowed &= set(datetime_years(params.datetime, years))
    if equals and DATE in equals:  # a property filter on the temporal property (1 January)
        constrained = True
        day = query.parse_value(collection.table, DATE, equals[DATE])
        allowed &= {y for y, d in zip(years, year_dates(np.asarray(years)), strict=True) if d == day}
    if where is not None and cql2.properties_of(where) & YEAR_PROPERTIES:
        constrained = True
        for item in conjuncts:
            named = _year_equality(item)
            if named is not None and named not in years:
                raise InvalidQuery(
                    f"the filter asks for year {named}, which is not in the data; "
                    f"years available: {available}"
                )
        only_year = [item for item in conjuncts if _year_only(item)]
        if only_year:
            year_array = np.asarray(years, dtype=np.int64)
            frame = pd.DataFrame({"year": year_array, DATE: year_dates(year_array)})
            mask = cql2.evaluate(cql2.And(tuple(only_year)), Table.from_frame("years", frame), len(years))
            allowed &= {int(y) for y in np.asarray(years)[mask]}
    if not constrained:
        return (collection.stored_year,)
    return tuple(sorted(allowed))


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


def parse_properties(table: Table, text: str | None) -> tuple[str, ...] | None:
    """``properties``: the named properties, each checked (did-you-mean for a typo); None: all."""
    if text is None:
        return None
    given = [p.strip() for p in text.split(",")]
    if "" in given:  # as the document says: a list of property names, none of them empty
        raise InvalidQuery("properties lists property names (village_name,M0); an empty one names none")
    names = tuple(dict.fromkeys(given))
    if len(names) < len(given):
        twice = sorted({n for n in given if given.count(n) > 1})
        raise InvalidQuery(f"properties names {excerpt_list(twice)} more than once; give each property once")
    for name in names:
        table.column(name)  # InvalidQuery naming the property, with its one correction
    return names


def _bbox_area(params: ItemsParams) -> tuple[BBox | None, shapely.Geometry | None]:
    bbox = parse_bbox(params.bbox)
    crs = parse_crs(params.bbox_crs, "bbox-crs")
    if bbox is None or crs.is_crs84:
        return bbox, None
    if crs.epsg == 4326:  # latitude first: the same box, axes swapped
        return (bbox[1], bbox[0], bbox[3], bbox[2]), None
    if bbox[0] > bbox[2] or bbox[1] > bbox[3]:
        return bbox, shapely.Polygon()  # an empty box (only CRS84 longitudes wrap)
    return None, box_to_crs84(bbox, crs)


async def table_for(catalog: Catalog, collection: Collection, year: int | None) -> Table:
    """`Catalog.table` without blocking the event loop: a year view not built yet is built in the
    thread pool (the stored table and built views are returned at once)."""
    table = catalog.cached_table(collection, year)
    if table is not None:
        return table
    return await run_in_threadpool(catalog.table, collection, year)


def items_query(
    params: ItemsParams,
    extras: Mapping[str, str],
    collection: Collection,
    catalog: Catalog,
    settings: Settings,
) -> ItemsQuery:
    """Check an items request's parameters against its collection and resolve them.

    ``extras``: the other query parameters, property filters (``kabupaten_code=6201``); a name that
    is neither is `InvalidQuery` with "did you mean".
    """
    table = collection.table
    check_known(extras, set(ITEMS_PARAMETERS) | set(table.columns), f"'{collection.id}' items")
    where = _filter(params)
    equals = {k: v for k, v in extras.items() if k in table.columns and k not in ITEMS_PARAMETERS}
    years = shown_years(params, where, collection, equals)
    parts = tuple(catalog.table(collection, year) for year in years)  # none: no year allowed
    first = parts[0] if parts else table
    bbox, area = _bbox_area(params)
    return ItemsQuery(
        parts=parts,
        years=years,
        bbox=bbox,
        area=area,
        limit=min(params.limit or settings.default_limit, settings.max_limit),
        offset=params.offset,
        equals=equals,
        where=where,
        sortby=query.parse_sortby(first, params.sortby),
        properties=parse_properties(first, params.properties),
        skip_geometry=params.skipGeometry,
        crs=parse_crs(params.crs),
        params=params,
    )


async def get_items_query(
    request: Request, params: Annotated[ItemsParams, Query()], collection: CollectionDep
) -> ItemsQuery:
    """The items query of a GET: declared parameters from `ItemsParams`, the rest property filters.

    Resolved on the event loop when every year view it may read is built (the usual case), else in
    the thread pool, where a year view is built without blocking the loop.
    """
    catalog = (await served_of(request)).catalog
    settings: Settings = request.app.state.settings
    extras = {k: v for k, v in request.query_params.items() if k not in ITEMS_PARAMETERS}
    if all(catalog.cached_table(collection, year) is not None for year in collection.years):
        return items_query(params, extras, collection, catalog, settings)
    return await run_in_threadpool(items_query, params, extras, collection, catalog, settings)


ItemsDep = Annotated[ItemsQuery, Depends(get_items_query)]


ScoreFormat = Literal["json", "geojson", "csv"]
SCORE_PARAMETERS = ("year", "datetime", "k", "f", "limit", "offset", "basis")
#: ``basis`` of /scores: the area index of cells (default) or the register's families.
BASES = ("area", "household")


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
    basis: str = "area"


def score_query(level: str, request: Request, catalog: CatalogDep, settings: SettingsDep) -> ScoreQuery:
    """Parse /scores/{level} parameters: year, k, ``w_<dimension|indicator>``, ``cutoff_<indicator>``."""
    # The singular is canonical; the collection's plural (/scores/villages) is accepted too.
    level = level_schema(level).name  # LayerNotFound (404) naming the levels
    params = request.query_params
    overrides = {k for k in params if k.startswith(("w_", "cutoff_"))}
    check_known(params, set(SCORE_PARAMETERS) | overrides, f"/scores/{level} (plus w_<name>, cutoff_<name>)")
    basis = parse_format(params.get("basis"), BASES, "basis")
    asked = requested_year(params, catalog.store.years)
    if basis == "household":
        year, _ = catalog.require_households().rows_of(asked)
    else:
        year, _ = catalog.require_scoring().year_rows(asked)
    return ScoreQuery(
        level=level,
        year=year,
        fmt=parse_format(params.get("f"), ("json", "geojson", "csv")),
        limit=min(parse_int("limit", params.get("limit"), settings.default_limit, 1), settings.max_limit),
        offset=parse_int("offset", params.get("offset"), 0),
        k=params.get("k"),
        weights={k[2:]: v for k, v in params.items() if k.startswith("w_")},
        cutoffs={k[7:]: v for k, v in params.items() if k.startswith("cutoff_")},
        basis=basis,
    )


ScoreQueryDep = Annotated[ScoreQuery, Depends(score_query)]
