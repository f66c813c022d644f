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
import json
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Annotated, Any, Literal

import numpy as np
import orjson
from fastapi import APIRouter, Depends, Query, Request
from pydantic import ValidationError
from starlette.concurrency import run_in_threadpool
from starlette.exceptions import HTTPException
from starlette.responses import Response

from layers.errors import InvalidQuery, LayerNotFound, excerpt
from layers.geo.crs import CRS84, SUPPORTED_URIS, Crs, parse_crs, to_crs
from layers.maps.qml import style_for
from layers.maps.sld import sld_for
from layers.query.table import MAX_SORT_KEYS, FeatureNotFound, Selection, Table, select_parts
from layers.schema import LAYERS, LEVELS, field_for
from service import html, links
from service.bodies import check_text
from service.catalog import Catalog, Collection
from service.deps import (
    FEATURE_PARAMETERS,
    ITEMS_PARAMETERS,
    CatalogDep,
    CollectionDep,
    FeatureParams,
    ItemsDep,
    ItemsParams,
    ItemsQuery,
    SettingsDep,
    check_known,
    items_query,
    known_parameters,
    parse_properties,
    served_of,
    shown_years,
    table_for,
)
from service.heavy import run_heavy
from service.models import Collection as CollectionModel
from service.models import Collections, Conformance, Landing
from service.openapi import OBJECT
from service.openapi import answers as openapi_answers
from service.responses import (
    GEOJSON,
    JSON,
    OPENAPI_JSON,
    SCHEMA_JSON,
    GeoJSONResponse,
    LazyGeometryJSON,
    ORJSONResponse,
    SchemaJSONResponse,
    dumps,
    feature_collection_bytes,
    features_bytes,
    geometry_json,
)

router = APIRouter(tags=["OGC API - Features"])

CONFORMANCE = [
    "http://www.opengis.net/spec/ogcapi-features-1/1.0/conf/core",
    "http://www.opengis.net/spec/ogcapi-features-1/1.0/conf/geojson",
    "http://www.opengis.net/spec/ogcapi-features-1/1.0/conf/oas30",
    "http://www.opengis.net/spec/ogcapi-features-1/1.0/conf/html",
    "http://www.opengis.net/spec/ogcapi-features-2/1.0/conf/crs",
    "http://www.opengis.net/spec/ogcapi-features-3/1.0/conf/queryables",
    "http://www.opengis.net/spec/ogcapi-features-3/1.0/conf/queryables-query-parameters",
    "http://www.opengis.net/spec/ogcapi-features-3/1.0/conf/filter",
    "http://www.opengis.net/spec/ogcapi-features-3/1.0/conf/features-filter",
    "http://www.opengis.net/spec/cql2/1.0/conf/cql2-text",
    "http://www.opengis.net/spec/cql2/1.0/conf/cql2-json",
    "http://www.opengis.net/spec/cql2/1.0/conf/basic-cql2",
    "http://www.opengis.net/spec/cql2/1.0/conf/advanced-comparison-operators",
    "http://www.opengis.net/spec/cql2/1.0/conf/basic-spatial-functions",
    "http://www.opengis.net/spec/cql2/1.0/conf/spatial-functions",
    # Note: the draft name of basic-spatial-functions; QGIS before 3.44 recognises only this one.
    "http://www.opengis.net/spec/cql2/1.0/conf/basic-spatial-operators",
    # OGC API - Tiles 1.0 (vector tiles of each collection) and the tile matrix sets they use.
    "http://www.opengis.net/spec/ogcapi-tiles-1/1.0/conf/core",
    "http://www.opengis.net/spec/ogcapi-tiles-1/1.0/conf/tileset",
    "http://www.opengis.net/spec/ogcapi-tiles-1/1.0/conf/tilesets-list",
    "http://www.opengis.net/spec/ogcapi-tiles-1/1.0/conf/geodata-tilesets",
    "http://www.opengis.net/spec/ogcapi-tiles-1/1.0/conf/datetime",
    "http://www.opengis.net/spec/ogcapi-tiles-1/1.0/conf/mvt",
    "http://www.opengis.net/spec/ogcapi-tiles-1/1.0/conf/oas30",
    "http://www.opengis.net/spec/tms/2.0/conf/tilematrixset",
    "http://www.opengis.net/spec/tms/2.0/conf/json-tilematrixset",
]
QUERYABLES_REL = "http://www.opengis.net/def/rel/ogc/1.0/queryables"
#: Pages other than items and features take only ``f``; anything else is a 400.
ONLY_F = [Depends(known_parameters("f"))]


async def carried_query(request: Request, catalog: CatalogDep) -> None:
    """400 for a query parameter that is neither ``f``, an items parameter nor a property.

    GDAL's OAPIF driver and QGIS's append the query of the URL they were given
    (``OAPIF:http://host/collections/villages?year=2023``, QGIS's ``url='http://host/?year=2023'``)
    to every request they make, the landing page and the collections included: those pages accept
    it (and ignore it) rather than refusing the whole connection.
    """
    names = {name for c in catalog.collections.values() for name in c.table.columns}
    check_known(request.query_params, {"f", *ITEMS_PARAMETERS, *names}, request.url.path)


CARRIED = [Depends(carried_query)]
SCORES_REL = "service"
HTML = "text/html"
#: `next` links ask for at least this many features (up to the service's maximum).
NEXT_MIN_LIMIT = 1000

_JSON_TYPES = {
    "string": "string",
    "integer": "integer",
    "number": "number",
    "boolean": "boolean",
    "date": "string",
}


def _json_type(kind: str) -> dict[str, str]:
    """The JSON Schema type of a column kind (a date is a string of format date)."""
    return {"type": "string", "format": "date"} if kind == "date" else {"type": _JSON_TYPES[kind]}


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
            _link(f"{root}/tileMatrixSets", TILING_SCHEMES_REL, JSON, "Tile matrix sets (tiling schemes)"),
            _link(
                f"{root}/exports", "enclosure", JSON, "Downloads (GeoPackage, CSV, XLSX, QGIS project, ...)"
            ),
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
            *_style_links(url, collection.id),
            *_tile_links(url, collection.id),
        ],
        "extent": extent,
        "itemType": "feature",
        "crs": list(SUPPORTED_URIS),
        "storageCrs": CRS84,
    }


#: Styles of a collection's features (OGC API - Styles): QML for QGIS, SLD 1.0 for GeoServer, ArcGIS.
STYLES_REL = "http://www.opengis.net/def/rel/ogc/1.0/styles"
QML = "application/vnd.qgis.qml"
SLD10 = "application/vnd.ogc.sld+xml;version=1.0"
STYLE_FORMATS = {"qml": QML, "sld10": SLD10}


def _style_links(url: str, collection_id: str) -> list[dict[str, str]]:
    """A collection's styles: the list, and the default style as QML and as SLD."""
    if collection_id not in LAYERS or LAYERS[collection_id].style is None:
        return []
    return [
        _link(f"{url}/styles", STYLES_REL, JSON, "Styles of the features"),
        _link(f"{url}/styles/default?f=qml", "stylesheet", QML,
              "QGIS style (QML) of the features: Layer Properties > Symbology > Style > Load Style"),
        _link(f"{url}/styles/default?f=sld10", "stylesheet", SLD10,
              "SLD 1.0 style of the features (GeoServer)"),
    ]  # fmt: skip


#: Link relations of vector tilesets (OGC API - Tiles) and their styles.
TILESETS_REL = "http://www.opengis.net/def/rel/ogc/1.0/tilesets-vector"
TILING_SCHEMES_REL = "http://www.opengis.net/def/rel/ogc/1.0/tiling-schemes"
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


def _page_links(request: Request, q: ItemsQuery, matched: int, max_limit: int) -> list[dict[str, Any]]:
    has_next, has_prev = q.offset + q.limit < matched, q.offset > 0
    if request.method == "POST":
        return _post_page_links(request, q, max_limit, has_next, has_prev)
    variants: list[dict[str, object]] = [{}, {"f": "json"}]
    if has_next:
        variants.append({"offset": q.offset + q.limit, "limit": next_limit(q.limit, max_limit)})
    if has_prev:
        variants.append({"offset": max(q.offset - q.limit, 0), "limit": q.limit})
    hrefs = iter(links.request_hrefs(request, variants))
    own = next(hrefs)
    page_links: list[dict[str, Any]] = [
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


def _post_page_links(
    request: Request, q: ItemsQuery, max_limit: int, has_next: bool, has_prev: bool
) -> list[dict[str, Any]]:
    """The links of a POSTed page: ``next`` and ``prev`` are the same search on, as STAC and OGC API -
    Records page a POST."""
    own = links.request_href(request)
    body = q.params.model_dump(by_alias=True, exclude_none=True, exclude_defaults=True) | q.equals
    page_links = [
        _link(own, "self", GEOJSON, "This page"),
        _link(links.request_href(request, f="json"), "alternate", JSON, "This page as JSON"),
    ]
    if has_next:
        offset, limit = q.offset + q.limit, next_limit(q.limit, max_limit)
        page_links.append(_post_link(own, body | {"offset": offset, "limit": limit}, "next"))
    if has_prev:
        offset = max(q.offset - q.limit, 0)
        page_links.append(_post_link(own, body | {"offset": offset, "limit": q.limit}, "prev"))
    collection = own.split("?", 1)[0].rsplit("/items", 1)[0]
    page_links.append(_link(collection, "collection", JSON, "The collection"))
    return page_links


def _post_link(href: str, body: dict[str, Any], rel: str) -> dict[str, Any]:
    title = "Next page" if rel == "next" else "Previous page"
    return _link(href, rel, GEOJSON, title) | {"method": "POST", "body": body}


class ProjectedGeometryJSON(LazyGeometryJSON):
    """GeoJSON bytes of geometries in another CRS (`layers.geo.crs.to_crs`), for the rows asked for."""

    def __init__(self, geometry: np.ndarray, crs: Crs):
        super().__init__(geometry)
        self.crs = crs

    def __getitem__(self, rows: Any) -> np.ndarray:
        return geometry_json(to_crs(np.atleast_1d(self.geometry[rows]), self.crs, rounded=True))


class NoGeometryJSON(LazyGeometryJSON):
    """``null`` geometries (``skipGeometry=true``)."""

    def __getitem__(self, rows: Any) -> np.ndarray:
        out = np.empty(len(np.atleast_1d(self.geometry[rows])), dtype=object)
        out[:] = [b"null"] * len(out)
        return out


def _geometries(collection: Collection, crs: Crs, skip: bool) -> np.ndarray | LazyGeometryJSON:
    raw = collection.table.geometry if collection.table.geometry is not None else np.array([], dtype=object)
    if skip:
        return NoGeometryJSON(raw)
    if crs.is_crs84:
        return collection.geometry
    return ProjectedGeometryJSON(raw, crs)


def _shown(table: Table, properties: tuple[str, ...] | None, year: int | None, several: bool) -> Table:
    """The part as answered: only the properties asked for, ids ending in ``@year`` when an answer
    holds several years (a unit is then one feature per year, and clients key features by id)."""
    if properties is not None:
        table = table.only(properties)
    if several and year is not None:
        table = table.with_ids(np.char.add(table.ids.astype(str), f"@{year}"))
    return table


def _as_prepared(crs: Crs, properties: tuple[str, ...] | None, skip: bool) -> bool:
    """Whether features are answered as the catalog prepared them (CRS84, every property, geometry)."""
    return crs.is_crs84 and properties is None and not skip


def selection_bytes(catalog: Catalog, collection: Collection, q: ItemsQuery, shown: Selection) -> bytes:
    """The features of ``shown`` (a page), joined as the inside of a ``features`` array."""
    several = len(q.parts) > 1
    if not several and _as_prepared(q.crs, q.properties, q.skip_geometry):
        return b",".join(catalog.features_json(collection, q.parts[i], rows) for i, rows in shown.runs())
    geometry = _geometries(collection, q.crs, q.skip_geometry)
    return b",".join(
        features_bytes(_shown(q.parts[i], q.properties, q.years[i], several), geometry, rows)
        for i, rows in shown.runs()
    )


def items_page(
    request: Request, catalog: Catalog, collection: Collection, q: ItemsQuery, max_limit: int
) -> bytes:
    """One page of a collection's features as GeoJSON bytes."""
    selection = select_parts(
        q.parts, bbox=q.bbox, area=q.area, equals=q.equals, where=q.where, sortby=q.sortby
    )
    shown = selection.page(q.offset, q.limit)
    members = {
        "numberMatched": len(selection),
        "numberReturned": len(shown),
        "timeStamp": datetime.now(UTC).isoformat(timespec="seconds").replace("+00:00", "Z"),
        "links": _page_links(request, q, len(selection), max_limit),
    }
    return feature_collection_bytes(selection_bytes(catalog, collection, q, shown), members)


def _queryable(name: str, kind: str) -> dict[str, Any]:
    """One queryable: type, title (Bahasa Indonesia / English), description and unit."""
    out: dict[str, Any] = {"title": name, **_json_type(kind)}
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


@router.get(
    "/",
    response_model=Landing,
    dependencies=CARRIED,
    responses=openapi_answers({JSON: "Landing", HTML: None}),
)
async def landing(
    request: Request, catalog: CatalogDep, settings: SettingsDep, f: PageFormat = None
) -> Response:
    """Landing page: links to every service (API definition, collections, scores, tiles, exports, planner)."""
    doc = landing_page(request, settings.title, catalog)
    return _negotiated(request, doc, html.landing, f)


@router.get(
    "/conformance",
    response_model=Conformance,
    dependencies=CARRIED,
    responses=openapi_answers({JSON: "Conformance", HTML: None}),
)
async def conformance(request: Request, f: PageFormat = None) -> Response:
    """Conformance classes implemented by this service."""
    return _negotiated(request, {"conformsTo": CONFORMANCE}, html.conformance, f)


@router.get(
    "/collections",
    response_model=Collections,
    dependencies=CARRIED,
    responses=openapi_answers({JSON: "Collections", HTML: None}),
)
async def collections(request: Request, catalog: CatalogDep, f: PageFormat = None) -> Response:
    """All collections (every layer of the store)."""
    doc = {
        "links": [_link(f"{base_url(request)}/collections", "self", JSON, "Collections")],
        "collections": [collection_document(request, c) for c in catalog.collections.values()],
    }
    return _negotiated(request, doc, html.collections, f)


@router.get(
    "/collections/{collection_id}",
    response_model=CollectionModel,
    responses=openapi_answers({JSON: "Collection", HTML: None}, found=True),
)
async def collection(request: Request, collection: CollectionDep, f: PageFormat = None) -> Response:
    """One collection: extent, CRSs, links to its features, queryables, tiles and styles.

    Also accepts (and ignores) the items parameters and property filters (see `carried_query`)."""
    known = {"f", *ITEMS_PARAMETERS, *collection.table.columns}
    check_known(request.query_params, known, request.url.path)
    return _negotiated(request, collection_document(request, collection), html.collection, f)


@router.get(
    "/collections/{collection_id}/queryables",
    response_class=SchemaJSONResponse,
    dependencies=ONLY_F,
    responses=openapi_answers({SCHEMA_JSON: "Queryables"}, found=True),
)
async def queryables(request: Request, collection: CollectionDep) -> Response:
    """Queryable properties of a collection (JSON Schema): type, title, description and unit."""
    return SchemaJSONResponse(queryables_document(request, collection))


@router.get(
    "/collections/{collection_id}/items",
    response_class=GeoJSONResponse,
    responses=openapi_answers({GEOJSON: "FeatureCollection", HTML: None}, found=True),
)
async def items(request: Request, collection: CollectionDep, query: ItemsDep) -> Response:
    """Features of a collection, filtered and paged (GeoJSON, or an HTML page with a map)."""
    # A JSON page of a prepared layer is answered on the event loop (selection on a few thousand
    # rows, then joined bytes); a big layer's page, a reprojected one, and any HTML page (up to
    # max_limit features parsed and written out again), in the thread pool, where the loop keeps
    # answering meanwhile. A filter may visit every row however small the page: heavy work
    # (`service.heavy`), bounded per worker and stopped when the client leaves.
    catalog = (await served_of(request)).catalog
    settings = request.app.state.settings
    args = (request, catalog, collection, query, settings)
    if query.where is not None:
        return await run_heavy(request, _items_answer, *args)
    light = (
        len(query.parts) == 1
        and _as_prepared(query.crs, query.properties, query.skip_geometry)
        and catalog.answers_on_loop(collection, query.parts[0])
        and not html.wants_html(request, request.query_params.get("f"))
    )
    if light:
        return _items_answer(*args)
    return await run_in_threadpool(_items_answer, *args)


#: Media types of a POSTed items query: the parameters as JSON (``filter`` CQL2-JSON or text),
#: or the filter alone as CQL2 text (the other parameters in the query string).
CQL2_TEXT = "text/cql2"
# Documented: the JSON body. A ``text/cql2`` body (the filter alone) is read too (`read_search`), but
# not declared: CQL2 text has no JSON Schema, and a fuzzer reads a text body as JSON ("false").
POST_BODY = {JSON: {"schema": {"$ref": "#/components/schemas/ItemsSearch"}}}


@router.post(
    "/collections/{collection_id}/items",
    response_class=GeoJSONResponse,
    responses=openapi_answers({GEOJSON: "FeatureCollection"}, found=True, unsupported_media=True),
    openapi_extra={"requestBody": {"required": True, "content": POST_BODY}},
)
async def search_items(
    request: Request, collection: CollectionDep, catalog: CatalogDep, settings: SettingsDep
) -> Response:
    """The items query by POST, for filters too long for a URL (OGC API - Features Part 3: CQL2).

    A JSON body holds the same parameters as the GET (``filter`` as CQL2-JSON or CQL2 text, ``bbox``
    as four numbers, property filters by name); a ``text/cql2`` (or ``text/plain``) body is the
    filter alone in CQL2 text, with the other parameters in the query string. The same limits as
    the GET apply; ``next`` and ``prev`` links are POSTs with their body."""
    params, extras = await read_search(request)
    query = await run_in_threadpool(items_query, params, extras, collection, catalog, settings)
    if query.where is not None:  # heavy work, as the GET's (`items`)
        return await run_heavy(request, _items_answer, request, catalog, collection, query, settings)
    return await run_in_threadpool(_items_answer, request, catalog, collection, query, settings)


def _items_answer(
    request: Request, catalog: Catalog, collection: Collection, query: ItemsQuery, settings: Any
) -> Response:
    body = items_page(request, catalog, collection, query, settings.max_limit)
    headers = VARY | {"Content-Crs": query.crs.header}
    if request.method == "GET" and html.wants_html(request, request.query_params.get("f")):
        return html.items(request, f"{collection.id}: features", orjson.loads(body))
    return GeoJSONResponse(body, headers=headers)


@router.get(
    "/collections/{collection_id}/items/{feature_id}",
    response_class=GeoJSONResponse,
    responses=openapi_answers({GEOJSON: "Feature", HTML: None}, found=True),
)
async def item(
    request: Request,
    collection: CollectionDep,
    feature_id: str,
    params: Annotated[FeatureParams, Query()],
) -> Response:
    """One feature by its id (GeoJSON, or an HTML page with a map), with the values of ``year`` or
    ``datetime`` (default: the default year); ``id@year`` names a feature of one year."""
    # On the event loop: a lookup and one feature's bytes (a year view is built in the thread pool).
    catalog = (await served_of(request)).catalog
    check_known(request.query_params, set(FEATURE_PARAMETERS), f"a feature of '{collection.id}'")
    feature_id, year = _id_and_year(feature_id, collection, params)
    table = await table_for(catalog, collection, year)  # 400 for a year on a collection that has none
    crs = parse_crs(params.crs)
    body = feature_bytes(request, catalog, collection, table, feature_id, crs, params)
    if html.wants_html(request, params.f):
        return html.feature(request, f"{collection.id} {feature_id}", orjson.loads(body))
    return GeoJSONResponse(body, headers=VARY | {"Content-Crs": crs.header})


def _id_and_year(feature_id: str, collection: Collection, params: FeatureParams) -> tuple[str, int | None]:
    """The unit's id and the one year asked for (``id@year``, ``year``, ``datetime``)."""
    named: int | None = None
    if "@" in feature_id and collection.years and feature_id not in collection.table._positions:
        fid, _, suffix = feature_id.rpartition("@")
        if suffix.isascii() and suffix.isdigit() and int(suffix) in collection.years:
            feature_id, named = fid, int(suffix)
    years = shown_years(params, None, collection)
    if named is not None:
        constrained = params.year is not None or bool(params.datetime)
        if constrained and named not in years:
            raise FeatureNotFound(f"no feature '{excerpt(feature_id)}@{named}' within the year asked for")
        return feature_id, named
    if len(years) != 1:
        raise InvalidQuery(
            f"a feature shows one year; datetime meets {len(years)} ({', '.join(map(str, years))}): ask one "
            "year, or name it in the id (id@year)"
        )
    return feature_id, years[0]


_F_DOC = "Answer format; without f a browser (Accept: text/html) gets HTML, other clients JSON."
PageFormat = Annotated[Literal["json", "html"] | None, Query(description=_F_DOC)]
#: The same URL answers JSON or HTML: caches must key on Accept.
VARY = {"Vary": "Accept"}


def _negotiated(
    request: Request, doc: dict[str, Any], page: Callable[[Request, Any], Response], fmt: str | None
) -> Response:
    if html.wants_html(request, fmt):
        return page(request, doc)
    return ORJSONResponse(doc, headers=VARY)


def feature_bytes(
    request: Request,
    catalog: Catalog,
    collection: Collection,
    table: Table,
    feature_id: str,
    crs: Crs | None = None,
    params: FeatureParams | None = None,
) -> bytes:
    """One feature of ``table`` (the collection or its year view) with its links, as GeoJSON bytes."""
    row = table.row_of(feature_id)
    properties = parse_properties(table, params.properties) if params is not None else None
    skip = bool(params is not None and params.skipGeometry)
    crs = crs or parse_crs(None)
    if _as_prepared(crs, properties, skip):
        body = catalog.features_json(collection, table, np.array([row]))
    else:
        shown = table.only(properties) if properties is not None else table
        body = features_bytes(shown, _geometries(collection, crs, skip), np.array([row]))
    url = f"{base_url(request)}/collections/{collection.id}"
    links = [_link(f"{url}/items/{feature_id}", "self", GEOJSON), _link(url, "collection", JSON)]
    return body[:-1] + b',"links":' + dumps(links) + b"}"


async def read_search(request: Request) -> tuple[ItemsParams, dict[str, str]]:
    """The `ItemsParams` and property filters of a POSTed items query (see `search_items`)."""
    kind = request.headers.get("content-type", "").split(";")[0].strip().lower()
    raw = await request.body()
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError:
        raise InvalidQuery("the body is not UTF-8 text") from None
    if kind in (CQL2_TEXT, "text/plain"):
        query = dict(request.query_params) | {"filter": text, "filter-lang": "cql2-text"}
        return _validated(query), {k: v for k, v in request.query_params.items() if k not in ITEMS_PARAMETERS}
    if kind != JSON:
        raise HTTPException(
            415,
            f"POST the items query as {JSON} (parameters, filter as CQL2-JSON or text) or as "
            f"{CQL2_TEXT} (the filter in CQL2 text); got '{kind or 'no Content-Type'}'",
        )
    try:
        body = orjson.loads(raw)
    except orjson.JSONDecodeError as exc:
        _name_invalid_text(text)  # orjson refuses a lone surrogate without saying where it is
        raise InvalidQuery(f"the body is not JSON ({exc})") from None
    body = _as_parameters(body)
    declared = {k: v for k, v in body.items() if k in ITEMS_PARAMETERS}
    extras = {k: _as_text(k, v) for k, v in body.items() if k not in ITEMS_PARAMETERS}
    # Strict: a JSON body states its types (false is no offset, "5" no limit), as the schema says.
    return _validated(declared, strict=True), extras


def _as_parameters(body: Any) -> dict[str, Any]:
    """A JSON body's members as the GET's parameters: the filter as text, lists comma-separated."""
    if not isinstance(body, dict):
        raise InvalidQuery("the body must be a JSON object of items parameters")
    empty = [name for name, value in body.items() if value is None]
    if empty:  # leave a member out rather than null it (the document allows no null)
        raise InvalidQuery(f"body members {', '.join(map(excerpt, empty[:5]))} are null; leave them out")
    body = dict(body)
    if isinstance(body.get("filter"), dict | bool):
        body["filter"] = orjson.dumps(body["filter"]).decode()
        body.setdefault("filter-lang", "cql2-json")
    if isinstance(body.get("bbox"), list):
        body["bbox"] = ",".join(str(v) for v in body["bbox"])
    if body.get("sortby") == []:  # as sortby= in a URL: name a property or leave it out
        raise InvalidQuery('sortby is empty: name the properties (sortby: ["-M0"]) or leave it out')
    for name in ("sortby", "properties"):
        if isinstance(body.get(name), list):
            if any(not isinstance(v, str) or not v.strip() for v in body[name]):
                raise InvalidQuery(f"{name} lists property names; an empty or non-text item is not one")
            body[name] = ",".join(body[name])
    return body


def _name_invalid_text(text: str) -> None:
    """`InvalidQuery` naming the field when ``text`` is JSON whose only fault is invalid Unicode."""
    try:
        parsed = json.loads(text)
    except (ValueError, RecursionError):
        return
    check_text(parsed)


def _as_text(name: str, value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str | int | float):
        return str(value)
    raise InvalidQuery(f"property filter '{name}' takes a single value, got {type(value).__name__}")


def _validated(values: dict[str, Any], strict: bool = False) -> ItemsParams:
    try:
        return ItemsParams.model_validate(values, strict=strict)
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(p) for p in first.get("loc", ())) or "body"
        raise InvalidQuery(f"{where}: {first.get('msg', 'invalid')}") from None


# ------------------------------------------------------------------------------------------------
# OpenAPI: one literal items path per collection, from the template path FastAPI wrote
# ------------------------------------------------------------------------------------------------

#: Parameters OGC writes as comma-separated lists (``style: form, explode: false``).
_LISTS = {"bbox": "number", "sortby": "string", "properties": "string"}


def _shared_parameter(
    param: dict[str, Any], years: list[int], default_limit: int, max_limit: int
) -> dict[str, Any]:
    """A parameter FastAPI wrote from `ItemsParams`, with what the store and OGC decide."""
    name = param["name"]
    param = copy.deepcopy(param) | {"style": "form", "explode": False}
    schema = param["schema"]
    if name in _LISTS:
        items = {"type": _LISTS[name]}
        schema = {"type": "array", "items": items}
        if name == "bbox":
            schema |= {"minItems": 4, "maxItems": 4}
        if name == "sortby":
            schema |= {"minItems": 1, "maxItems": MAX_SORT_KEYS}  # sortby= (no name) is a 400
            items["pattern"] = r"^[+-]?\w+$"
    elif name in ("crs", "bbox-crs", "filter-crs"):
        schema = {"type": "string", "enum": list(SUPPORTED_URIS)}
    elif name == "year":
        schema = {"type": "integer", "enum": years} if years else {"type": "integer"}
    elif name == "datetime":
        # Every year, and every interval of them, is answered (an interval meeting no year is a 400).
        instants = [str(y) for y in years]
        intervals = [f"{a}/{b}" for a in years for b in years if a < b]
        schema = {"type": "string", "enum": [*instants, *intervals, "../.."]} if years else {"type": "string"}
    elif name == "limit":
        schema = {"type": "integer", "minimum": 1, "default": default_limit}
        param["description"] = (
            f"Features per page; larger values are clamped to {max_limit:,} (the service's maximum). "
            "`next` links ask for at least 1,000 (up to that maximum), so clients that follow them "
            "read big pages whatever they asked for first."
        )
    param["schema"] = schema
    return param


def _has_years(collection: Collection) -> bool:
    """Whether the collection's features vary by year (read from the catalog, no rescoring)."""
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


def _properties_parameter(table: Table) -> dict[str, Any]:
    return {
        "name": "properties",
        "in": "query",
        "required": False,
        "description": "Comma-separated properties to include (default: all).",
        "schema": {
            "type": "array",
            "items": {"type": "string", "enum": list(table.columns)},
            "uniqueItems": True,
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
        "schema": _json_type(kind),
        "style": "form",
        "explode": False,
    }


def add_collection_paths(
    schema: dict[str, Any], catalog: Catalog, default_limit: int, max_limit: int
) -> dict[str, Any]:
    """Move the items parameters FastAPI wrote into ``components/parameters`` (with the store's
    domains), and add one ``/collections/{id}/items`` path per collection declaring that
    collection's own parameters, property filters and sort keys.

    GDAL's OAPIF driver and QGIS read the parameters of exactly that path to decide which filters
    they send to the server (a property ``year`` declared there is sent as ``year=2023``).
    """
    schema = copy.deepcopy(schema)
    years = sorted(int(y) for y in catalog.store.years)
    template = schema["paths"].pop("/collections/{collection_id}/items")
    generic = template["get"]
    components = schema.setdefault("components", {}).setdefault("parameters", {})
    shared = [p for p in generic["parameters"] if p.get("in") == "query"]
    for param in shared:
        components[param["name"]] = _shared_parameter(param, years, default_limit, max_limit)
    for cid, coll in catalog.collections.items():
        op = copy.deepcopy(generic)
        op["operationId"] = f"items_{cid}"
        op["summary"] = f"Features of {cid}"
        names = [p["name"] for p in shared if p["name"] not in ("sortby", "properties")]
        if not _has_years(coll):  # year and datetime apply to yearly collections only
            names = [n for n in names if n not in ("year", "datetime")]
        if coll.table.geometry is None:
            names = [n for n in names if n not in ("bbox", "bbox-crs")]
        own = [_sortby_parameter(coll.table), _properties_parameter(coll.table)]
        own += [
            _property_parameter(name, kind)
            for name, kind in coll.table.kinds.items()
            if name not in ITEMS_PARAMETERS
        ]
        op["parameters"] = [{"$ref": f"#/components/parameters/{n}"} for n in names] + own
        path: dict[str, Any] = {"get": op}
        if "post" in template:
            post = copy.deepcopy(template["post"])
            post["operationId"] = f"search_{cid}"
            post["summary"] = f"Features of {cid} (query in the body)"
            post["parameters"] = []
            path["post"] = post
        schema["paths"][f"/collections/{cid}/items"] = path
    schema["components"].setdefault("schemas", {})["ItemsSearch"] = _search_schema(components)
    return schema


def _search_schema(components: dict[str, Any]) -> dict[str, Any]:
    """The JSON body of a POSTed items query: the GET's parameters as members."""
    members: dict[str, Any] = {}
    for name, param in components.items():
        member = copy.deepcopy(param["schema"])
        if name in ("sortby", "properties"):
            member = {"oneOf": [member, {"type": "string"}]}
        members[name] = member | {"description": param.get("description", "")}
    members["filter"] = {
        "description": "A CQL2-JSON expression (an object, or true/false), or CQL2 text (then "
        "filter-lang: cql2-text).",
        "oneOf": [
            {"type": "object"},
            {"type": "boolean"},
            {"type": "string", "minLength": 1, "maxLength": 65_536},
        ],
    }
    members.pop("f", None)
    scalar = {"oneOf": [{"type": "string"}, {"type": "number"}, {"type": "boolean"}]}
    return {"type": "object", "properties": members, "additionalProperties": scalar}


# ------------------------------------------------------------------------------------------------
# Styles of the features (OGC API - Styles, read side): the GeoPackage's default style, QML and SLD
# ------------------------------------------------------------------------------------------------

StyleFormat = Annotated[Literal["qml", "sld10"] | None, Query(description="qml (QGIS, default) or sld10.")]


@router.get(
    "/collections/{collection_id}/styles",
    dependencies=ONLY_F,
    responses=openapi_answers({JSON: OBJECT}, found=True, description="The styles of the collection."),
)
def styles(request: Request, collection: CollectionDep) -> Response:
    """The styles of a collection's features: ``default``, as QML and SLD 1.0."""
    url = f"{base_url(request)}/collections/{collection.id}"
    links = _style_links(url, collection.id)
    if not links:
        raise LayerNotFound(f"'{collection.id}' has no style")
    body = {
        "links": [_link(f"{url}/styles", "self", JSON, "These styles")],
        "styles": [{"id": "default", "title": f"Sasaran: {_description(collection.id)}", "links": links[1:]}],
    }
    return ORJSONResponse(body)


@router.get(
    "/collections/{collection_id}/styles/{style_id}",
    dependencies=[Depends(known_parameters("f"))],
    responses=openapi_answers({QML: None, SLD10.split(";")[0]: None}, found=True, description="A style."),
)
def style(collection: CollectionDep, catalog: CatalogDep, style_id: str, f: StyleFormat = None) -> Response:
    """A style of the collection's features, as QML (QGIS: *Load Style*) or SLD 1.0 (``f=sld10``):
    the same classes, markers, labels and field aliases as the GeoPackage's default style."""
    if style_id != "default" or collection.id not in LAYERS or LAYERS[collection.id].style is None:
        raise LayerNotFound(f"no style '{excerpt(style_id)}' of '{collection.id}'; its style is 'default'")
    store = catalog.store
    values = store.layer(collection.id)
    if f == "sld10":
        body = sld_for(collection.id, store.facility_kinds, values=values) or ""
        return Response(body.encode(), media_type=SLD10)
    qml = style_for(collection.id, store.facility_kinds, values=values) or ""
    return Response(qml.encode(), media_type=QML)
