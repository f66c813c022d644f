"""OGC API - Features Part 1 (core, GeoJSON, OpenAPI 3.0) and Part 3 (CQL2 text filters).

Every layer of the store except the ``village_years`` table is a collection. Items pages are
assembled from geometry bytes serialised at startup (see `service.catalog.Catalog`).

Per-collection property filters (``?kabupaten_code=6201``) are declared in the OpenAPI document
under one literal path per collection (``/collections/villages/items``), added by
`add_collection_paths`: GDAL's OAPIF driver reads the parameters of exactly that path to decide
which attribute filters it sends to the server (ogr/ogrsf_frmts/wfs/ogroapifdriver.cpp,
``GetQueryableAttributes``); QGIS does the same.
"""

from __future__ import annotations

import copy
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Annotated, Any, Literal

import numpy as np
import orjson
from fastapi import APIRouter, Depends, Query, Request
from starlette.concurrency import run_in_threadpool
from starlette.responses import Response

from layers.errors import InvalidQuery
from layers.query.table import MAX_SORT_KEYS, Table, page, select
from layers.schema import LAYERS, LEVELS, field_for
from service import html, links
from service.catalog import Catalog, Collection
from service.deps import (
    CRS84,
    ITEMS_PARAMETERS,
    CatalogDep,
    CollectionDep,
    ItemsDep,
    ItemsQuery,
    SettingsDep,
    check_known,
    known_parameters,
    requested_year,
    served_of,
    table_for,
)
from service.heavy import run_heavy
from service.models import Collection as CollectionModel
from service.models import Collections, Conformance, Landing
from service.responses import (
    GEOJSON,
    JSON,
    OPENAPI_JSON,
    SCHEMA_JSON,
    GeoJSONResponse,
    ORJSONResponse,
    SchemaJSONResponse,
    dumps,
    feature_collection_bytes,
)

router = APIRouter(tags=["OGC API - Features"])

CONFORMANCE = [
    "http://www.opengis.net/spec/ogcapi-features-1/1.0/conf/core",
    "http://www.opengis.net/spec/ogcapi-features-1/1.0/conf/geojson",
    "http://www.opengis.net/spec/ogcapi-features-1/1.0/conf/oas30",
    "http://www.opengis.net/spec/ogcapi-features-3/1.0/conf/queryables",
    "http://www.opengis.net/spec/ogcapi-features-3/1.0/conf/queryables-query-parameters",
    "http://www.opengis.net/spec/ogcapi-features-3/1.0/conf/filter",
    "http://www.opengis.net/spec/ogcapi-features-3/1.0/conf/features-filter",
    "http://www.opengis.net/spec/cql2/1.0/conf/cql2-text",
    "http://www.opengis.net/spec/cql2/1.0/conf/basic-cql2",
    "http://www.opengis.net/spec/cql2/1.0/conf/advanced-comparison-operators",
    "http://www.opengis.net/spec/cql2/1.0/conf/basic-spatial-functions",
    "http://www.opengis.net/spec/cql2/1.0/conf/spatial-functions",
    # Note: the draft name of basic-spatial-functions; QGIS before 3.44 recognises only this one.
    "http://www.opengis.net/spec/cql2/1.0/conf/basic-spatial-operators",
]
QUERYABLES_REL = "http://www.opengis.net/def/rel/ogc/1.0/queryables"
#: Query parameters of a single feature.
ITEM_PARAMETERS = ("f", "year", "datetime")
#: Pages other than items and features take only ``f``; anything else is a 400.
ONLY_F = [Depends(known_parameters("f"))]
SCORES_REL = "service"
HTML = "text/html"
#: `next` links ask for at least this many features (up to the service's maximum).
NEXT_MIN_LIMIT = 1000

_JSON_TYPES = {"string": "string", "integer": "integer", "number": "number", "boolean": "boolean"}


def _description(collection_id: str) -> str:
    schema = LAYERS.get(collection_id)
    return f"{schema.description.en}." if schema else collection_id


def base_url(request: Request) -> str:
    """The service root for links, without a trailing slash (`service.links.root_url`)."""
    return links.root_url(request)


def _link(href: str, rel: str, type_: str, title: str | None = None) -> dict[str, str]:
    link = {"href": href, "rel": rel, "type": type_}
    return link | ({"title": title} if title else {})


def landing_page(request: Request, title: str, catalog: Catalog) -> dict[str, Any]:
    """The landing page document."""
    root = base_url(request)
    name = catalog.store.name
    synthetic = " Built from the SYNTHETIC demo province." if catalog.store.synthetic else ""
    return {
        "title": title,
        "description": f"Multidimensional deprivation layers for {name}.{synthetic}",
        "links": [
            _link(f"{root}/", "self", JSON, "This document"),
            _link(f"{root}/?f=html", "alternate", HTML, "This document as HTML"),
            _link(f"{root}/openapi", "service-desc", OPENAPI_JSON, "The API definition (OpenAPI 3.0)"),
            _link(f"{root}/docs", "service-doc", HTML, "The API documentation"),
            _link(f"{root}/conformance", "conformance", JSON, "Conformance classes"),
            _link(f"{root}/collections", "data", JSON, "Collections"),
            _link(f"{root}/planner", "service", HTML, "The targeting planner (Perencana sasaran)"),
            *[
                _link(
                    f"{root}/scores/{lv.name}",
                    SCORES_REL,
                    JSON,
                    f"Scores per {lv.name}, rescored per request",
                )
                for lv in LEVELS
            ],
            *[
                _link(f"{root}/collections/{name}/tiles", TILESETS_REL, JSON, f"Vector tiles of {name}")
                for name in catalog.tiles.layers
            ],
            _link(f"{root}/exports", "enclosure", JSON, "Downloads (GeoPackage, CSV, XLSX, ...)"),
            _link(f"{root}/changes", "service", JSON, "Change between two years (GET /changes?from=&to=)"),
            _link(f"{root}/healthz", "status", JSON, "Liveness and the build served"),
        ],
    }


def collection_document(request: Request, collection: Collection) -> dict[str, Any]:
    """Metadata of one collection: extent, CRS, links."""
    url = f"{base_url(request)}/collections/{collection.id}"
    extent: dict[str, Any] = {}
    if collection.table.total_bounds is not None:
        extent["spatial"] = {"bbox": [list(collection.table.total_bounds)], "crs": CRS84}
    if collection.years:
        first, last = min(collection.years), max(collection.years)
        extent["temporal"] = {
            "interval": [[f"{first}-01-01T00:00:00Z", f"{last}-12-31T23:59:59Z"]],
            "trs": "http://www.opengis.net/def/uom/ISO-8601/0/Gregorian",
        }
    return {
        "id": collection.id,
        "title": collection.id.replace("_", " ").capitalize(),
        "description": _description(collection.id),
        "links": [
            _link(url, "self", JSON, "This collection"),
            _link(f"{url}/items", "items", GEOJSON, "Features"),
            _link(f"{url}/queryables", QUERYABLES_REL, SCHEMA_JSON, "Queryable properties"),
            *_tile_links(url, collection.id),
        ],
        "extent": extent,
        "itemType": "feature",
        "crs": [CRS84],
        "storageCrs": CRS84,
    }


#: Link relations of vector tilesets (OGC API - Tiles) and their styles.
TILESETS_REL = "http://www.opengis.net/def/rel/ogc/1.0/tilesets-vector"
TILES = "/tiles/WebMercatorQuad"


def _tile_links(url: str, collection_id: str) -> list[dict[str, str]]:
    """Links of a tiled collection to its tilesets, TileJSON and styles (MapLibre, QGIS)."""
    schema = LAYERS.get(collection_id)
    if schema is None or not schema.tiled:
        return []
    return [
        _link(f"{url}/tiles", TILESETS_REL, JSON, "Vector tilesets"),
        _link(f"{url}{TILES}/tilejson.json", "describedby", JSON, "TileJSON of the vector tiles"),
        _link(f"{url}{TILES}/style.json", "stylesheet", "application/vnd.mapbox.style+json",
              "MapLibre style of the vector tiles (QGIS: vector tile layer, style URL)"),
        _link(f"{url}{TILES}/style.qml", "stylesheet", "application/vnd.qgis.qml",
              "QGIS style (QML) of the vector tiles"),
    ]  # fmt: skip


def next_limit(limit: int, max_limit: int) -> int:
    """The ``limit`` of a ``next`` link: at least `NEXT_MIN_LIMIT`, at most ``max_limit``.

    A client following ``next`` links is reading on, usually everything: GDAL's OAPIF driver up to
    3.8 asks for 10 features per request and follows the links verbatim (1,000 requests for 10,000
    features). The server chooses the next page's URL (OGC API - Features 7.15.6), so it chooses
    pages of 1,000: 100 times fewer requests. Each page still has at most its own ``limit``.
    """
    return min(max(limit, NEXT_MIN_LIMIT), max_limit)


def _page_links(request: Request, q: ItemsQuery, matched: int, max_limit: int) -> list[dict[str, str]]:
    variants: list[dict[str, object]] = [{}, {"f": "json"}]
    has_next, has_prev = q.offset + q.limit < matched, q.offset > 0
    if has_next:
        variants.append({"offset": q.offset + q.limit, "limit": next_limit(q.limit, max_limit)})
    if has_prev:
        variants.append({"offset": max(q.offset - q.limit, 0), "limit": q.limit})
    hrefs = iter(links.request_hrefs(request, variants))
    own = next(hrefs)
    page_links = [
        _link(own, "self", GEOJSON, "This page"),
        _link(next(hrefs), "alternate", JSON, "This page as JSON"),
    ]
    if has_next:
        page_links.append(_link(next(hrefs), "next", GEOJSON, "Next page"))
    if has_prev:
        page_links.append(_link(next(hrefs), "prev", GEOJSON, "Previous page"))
    collection = own.split("?", 1)[0].rsplit("/items", 1)[0]
    page_links.append(_link(collection, "collection", JSON, "The collection"))
    return page_links


def items_page(
    request: Request, catalog: Catalog, collection: Collection, q: ItemsQuery, max_limit: int
) -> bytes:
    """One page of a collection's features as GeoJSON bytes."""
    rows = select(q.table, bbox=q.bbox, equals=q.equals, where=q.where, sortby=q.sortby)
    shown = page(rows, q.offset, q.limit)
    members = {
        "numberMatched": len(rows),
        "numberReturned": len(shown),
        "timeStamp": datetime.now(UTC).isoformat(timespec="seconds").replace("+00:00", "Z"),
        "links": _page_links(request, q, len(rows), max_limit),
    }
    return feature_collection_bytes(catalog.features_json(collection, q.table, shown), members)


def _queryable(name: str, kind: str) -> dict[str, Any]:
    """One queryable: type, title (Bahasa Indonesia / English), description and unit."""
    out: dict[str, Any] = {"title": name, "type": _JSON_TYPES[kind]}
    field = field_for(name)
    if field is not None:
        meaning = f"{field.description}. " if field.description else ""
        out |= {
            "title": field.title.both(),
            "description": f"{meaning}Unit: {field.unit}.",
            "x-ogc-unit": field.unit,
            "x-title-en": field.title.en,
            "x-title-id": field.title.id,
        }
    return out


def queryables_document(request: Request, collection: Collection) -> dict[str, Any]:
    """JSON Schema of the properties usable in filters."""
    table = collection.table
    properties: dict[str, Any] = {name: _queryable(name, kind) for name, kind in table.kinds.items()}
    if table.geometry is not None:
        properties["geometry"] = {"format": "geometry-any", "title": "geometry"}
    return {
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "$id": f"{base_url(request)}/collections/{collection.id}/queryables",
        "type": "object",
        "title": collection.id,
        "properties": properties,
        "additionalProperties": False,
    }


@router.get("/", response_model=Landing, dependencies=ONLY_F)
async def landing(
    request: Request, catalog: CatalogDep, settings: SettingsDep, f: PageFormat = None
) -> Response:
    """Landing page: links to every service (API definition, collections, scores, tiles, exports, planner)."""
    doc = landing_page(request, settings.title, catalog)
    return _negotiated(request, doc, html.landing, f)


@router.get("/conformance", response_model=Conformance, dependencies=ONLY_F)
async def conformance(request: Request, f: PageFormat = None) -> Response:
    """Conformance classes implemented by this service."""
    return _negotiated(request, {"conformsTo": CONFORMANCE}, html.conformance, f)


@router.get("/collections", response_model=Collections, dependencies=ONLY_F)
async def collections(request: Request, catalog: CatalogDep, f: PageFormat = None) -> Response:
    """All collections (every layer of the store)."""
    doc = {
        "links": [_link(f"{base_url(request)}/collections", "self", JSON, "Collections")],
        "collections": [collection_document(request, c) for c in catalog.collections.values()],
    }
    return _negotiated(request, doc, html.collections, f)


@router.get("/collections/{collection_id}", response_model=CollectionModel, dependencies=ONLY_F)
async def collection(request: Request, collection: CollectionDep, f: PageFormat = None) -> Response:
    """One collection: extent, CRS and links."""
    return _negotiated(request, collection_document(request, collection), html.collection, f)


@router.get("/collections/{collection_id}/queryables", response_class=SchemaJSONResponse, dependencies=ONLY_F)
async def queryables(request: Request, collection: CollectionDep) -> Response:
    """Queryable properties of a collection (JSON Schema): type, title, description and unit."""
    return SchemaJSONResponse(queryables_document(request, collection))


@router.get("/collections/{collection_id}/items", response_class=GeoJSONResponse)
async def items(request: Request, collection: CollectionDep, query: ItemsDep) -> Response:
    """Features of a collection, filtered and paged (GeoJSON, or an HTML page with a map)."""
    # A JSON page of a prepared layer is answered on the event loop (selection on a few thousand
    # rows, then joined bytes); a big layer's page, and any HTML page (up to max_limit features
    # parsed and written out again), in the thread pool, where the loop keeps answering meanwhile.
    # A filter may visit every row however small the page: heavy work (`service.heavy`), bounded
    # per worker and stopped when the client leaves.
    catalog, max_limit = (await served_of(request)).catalog, request.app.state.settings.max_limit
    args = (request, catalog, collection, query, max_limit)
    wants_html = html.wants_html(request, request.query_params.get("f"))
    if query.where is not None:
        if wants_html:
            return await run_heavy(request, _items_html, *args)
        return GeoJSONResponse(await run_heavy(request, items_page, *args), headers=VARY)
    if wants_html:
        return await run_in_threadpool(_items_html, *args)
    if catalog.answers_on_loop(collection, query.table):
        body = items_page(*args)
    else:
        body = await run_in_threadpool(items_page, *args)
    return GeoJSONResponse(body, headers=VARY)


def _items_html(
    request: Request, catalog: Catalog, collection: Collection, query: ItemsQuery, max_limit: int
) -> Response:
    body = items_page(request, catalog, collection, query, max_limit)
    return html.items(request, f"{collection.id}: features", orjson.loads(body))


@router.get("/collections/{collection_id}/items/{feature_id}", response_class=GeoJSONResponse)
async def item(
    request: Request, collection: CollectionDep, feature_id: str, f: FeatureFormat = None
) -> Response:
    """One feature by its id (GeoJSON, or an HTML page with a map), with the values of ``year`` or
    ``datetime`` (default: the stored year)."""
    # On the event loop: a lookup and one feature's bytes (a year view is built in the thread pool).
    catalog = (await served_of(request)).catalog
    params = request.query_params
    check_known(params, set(ITEM_PARAMETERS), f"a feature of '{collection.id}'")
    year = requested_year(params, collection.years) if collection.years else None
    table = await table_for(catalog, collection, year)  # 400 for a year on a collection that has none
    body = feature_bytes(request, catalog, collection, table, feature_id)
    if html.wants_html(request, f):
        return html.feature(request, f"{collection.id} {feature_id}", orjson.loads(body))
    return GeoJSONResponse(body, headers=VARY)


_F_DOC = "Answer format; without f a browser (Accept: text/html) gets HTML, other clients JSON."
PageFormat = Annotated[Literal["json", "html"] | None, Query(description=_F_DOC)]
FeatureFormat = Annotated[Literal["json", "geojson", "html"] | None, Query(description=_F_DOC)]
#: The same URL answers JSON or HTML: caches must key on Accept.
VARY = {"Vary": "Accept"}


def _negotiated(
    request: Request, doc: dict[str, Any], page: Callable[[Request, Any], Response], fmt: str | None
) -> Response:
    if html.wants_html(request, fmt):
        return page(request, doc)
    return ORJSONResponse(doc, headers=VARY)


def feature_bytes(
    request: Request, catalog: Catalog, collection: Collection, table: Table, feature_id: str
) -> bytes:
    """One feature of ``table`` (the collection or its year view) with its links, as GeoJSON bytes."""
    row = table.row_of(feature_id)
    body = catalog.features_json(collection, table, np.array([row]))
    url = f"{base_url(request)}/collections/{collection.id}"
    links = [_link(f"{url}/items/{feature_id}", "self", GEOJSON), _link(url, "collection", JSON)]
    return body[:-1] + b',"links":' + dumps(links) + b"}"


# ------------------------------------------------------------------------------------------------
# OpenAPI: shared items parameters and one literal path per collection
# ------------------------------------------------------------------------------------------------


def items_parameters(default_limit: int, max_limit: int, years: list[int]) -> dict[str, dict[str, Any]]:
    """The shared parameters of ``/collections/{id}/items`` (``components/parameters``).

    ``limit`` states the service's ``default`` and no ``maximum``: larger values are clamped to
    ``max_limit`` (OGC API - Features: a limit over the maximum is no error), so every integer ≥ 1 is
    valid. QGIS (and GDAL ≥ 3.9) read ``components/parameters/limit`` and then ask for
    ``max(1000, default)`` features per page; GDAL 3.6 reads nothing here (see `next_limit`).
    """

    def query(name: str, description: str, schema: dict[str, Any], **extra: Any) -> dict[str, Any]:
        return {
            "name": name,
            "in": "query",
            "required": False,
            "description": description,
            "schema": schema,
            "style": "form",
            "explode": False,
        } | extra

    crs = {"type": "string", "enum": [CRS84]}
    year = {"type": "integer", "enum": years} if years else {"type": "integer"}
    return {
        "bbox": query(
            "bbox",
            "minlon,minlat,maxlon,maxlat (CRS84): features whose geometry intersects the box. "
            "minlon > maxlon crosses the antimeridian; minlat > maxlat (swapped corners) is a 400, as "
            "are numbers that are not finite.",
            {"type": "array", "minItems": 4, "maxItems": 4, "items": {"type": "number"}},
        ),
        "bbox-crs": query("bbox-crs", "CRS of bbox: only CRS84.", crs),
        "crs": query("crs", "CRS of the answer: only CRS84.", crs),
        "limit": query(
            "limit",
            f"Features per page; larger values are clamped to {max_limit:,} (the service's maximum). "
            "`next` links ask for at least 1,000 (up to that maximum), so clients that follow them "
            "read big pages whatever they asked for first.",
            {"type": "integer", "minimum": 1, "default": default_limit},
        ),
        "offset": query(
            "offset", "Features to skip (use the next link).", {"type": "integer", "minimum": 0, "default": 0}
        ),
        "f": query(
            "f",
            "Answer format: GeoJSON (json, geojson) or an HTML page (html). Without f, a browser's "
            "Accept: text/html gets HTML and every other client GeoJSON.",
            {"type": "string", "enum": ["json", "geojson", "html"]},
        ),
        "year": query(
            "year",
            "Year of the values (default: the stored year); shorthand for datetime. A year not in the "
            "data is a 400 naming the years available.",
            year,
        ),
        "datetime": query(
            "datetime",
            "The year shown, as an RFC 3339 instant (2023, 2023-06-01, 2023-06-01T00:00:00Z) or an "
            "interval (2023-01-01/2023-12-31, ../2023) meeting exactly one year of the data. A year "
            "condition year = N in filter selects the year too.",
            # Documented as the year instants the data hold: every one of them is answered.
            {"type": "string", "enum": [str(y) for y in years]} if years else {"type": "string"},
        ),
        "filter": query(
            "filter",
            "A CQL2-text expression, e.g. M0 >= 0.2 AND kabupaten_code = '6201' (see the queryables).",
            {"type": "string", "format": "cql2-text", "minLength": 1},
        ),
        "filter-lang": query(
            "filter-lang",
            "Filter language.",
            {"type": "string", "enum": ["cql2-text"], "default": "cql2-text"},
        ),
        "filter-crs": query("filter-crs", "CRS of filter geometries: only CRS84.", crs),
        "sortby": query(
            "sortby",
            "Comma-separated properties, `-name` descending, `name` or `+name` ascending "
            "(the per-collection paths list the properties).",
            {
                "type": "array",
                "minItems": 1,  # sortby= (no name) is a 400
                "maxItems": MAX_SORT_KEYS,
                "items": {"type": "string", "pattern": r"^[+-]?\w+$"},
            },
        ),
    }


def _has_years(catalog: Catalog, collection: Collection) -> bool:
    """Whether every stored year can be asked of the collection's items (``year``)."""
    try:
        for year in collection.years:
            catalog.table(collection, int(year))
    except InvalidQuery:
        return False
    return bool(collection.years)


def _sortby_parameter(table: Table) -> dict[str, Any]:
    keys = [f"{sign}{name}" for name in table.columns for sign in ("", "-")]
    return {
        "name": "sortby",
        "in": "query",
        "required": False,
        "description": "Comma-separated properties, `-name` descending, `name` or `+name` ascending.",
        "schema": {
            "type": "array",
            "minItems": 1,  # sortby= (no name) is a 400
            "maxItems": MAX_SORT_KEYS,
            "items": {"type": "string", "enum": keys},
        },
        "style": "form",
        "explode": False,
    }


def _property_parameter(name: str, kind: str) -> dict[str, Any]:
    field = field_for(name)
    title = f"{field.title.both()}: " if field else ""
    return {
        "name": name,
        "in": "query",
        "required": False,
        "description": f"{title}only features whose {name} equals this value.",
        "schema": {"type": _JSON_TYPES[kind]},
        "style": "form",
        "explode": False,
    }


def add_collection_paths(
    schema: dict[str, Any], catalog: Catalog, default_limit: int, max_limit: int
) -> dict[str, Any]:
    """Add the items parameters, and one ``/collections/{id}/items`` path per collection declaring
    that collection's property filters and sort keys."""
    schema = copy.deepcopy(schema)
    components = schema.setdefault("components", {}).setdefault("parameters", {})
    components.update(items_parameters(default_limit, max_limit, sorted(int(y) for y in catalog.store.years)))
    refs = [{"$ref": f"#/components/parameters/{name}"} for name in ITEMS_PARAMETERS]
    # The template path would declare every collection's parameters for all of them: one literal
    # path per collection instead (the OGC API - Features "example 2" style).
    generic = schema["paths"].pop("/collections/{collection_id}/items")["get"]
    for cid, coll in catalog.collections.items():
        op = copy.deepcopy(generic)
        op["operationId"] = f"items_{cid}"
        op["summary"] = f"Features of {cid}"
        shared = [ref for ref, name in zip(refs, ITEMS_PARAMETERS, strict=True) if name != "sortby"]
        # `year` is datetime's shorthand, described in datetime's text but not declared: the two
        # together with different years are a 400 no schema can express.
        shared = [ref for ref in shared if not ref["$ref"].endswith("/year")]
        if not _has_years(catalog, coll):  # datetime applies to year-bearing collections only
            shared = [ref for ref in shared if not ref["$ref"].endswith("/datetime")]
        if coll.table.geometry is None:
            shared = [ref for ref in shared if not ref["$ref"].endswith(("/bbox", "/bbox-crs"))]
        op["parameters"] = (
            shared
            + [_sortby_parameter(coll.table)]
            + [
                _property_parameter(name, kind)
                for name, kind in coll.table.kinds.items()
                if name not in ITEMS_PARAMETERS
            ]
        )
        schema["paths"][f"/collections/{cid}/items"] = {"get": op}
    return schema
