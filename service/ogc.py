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
from datetime import UTC, datetime
from typing import Any

from fastapi import APIRouter, Depends, Request
from starlette.responses import Response

from layers.query import Table, page, select
from layers.schema import LAYERS
from service import links
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
    parse_format,
    requested_year,
)
from service.models import Collection as CollectionModel
from service.models import Collections, Conformance, Landing
from service.responses import (
    GEOJSON,
    JSON,
    OPENAPI_JSON,
    SCHEMA_JSON,
    GeoJSONResponse,
    SchemaJSONResponse,
    dumps,
    feature_collection_bytes,
    features_bytes,
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
    name = catalog.store.manifest.get("name", "a province")
    synthetic = " Built from the SYNTHETIC demo province." if catalog.store.synthetic else ""
    return {
        "title": title,
        "description": f"Multidimensional deprivation layers for {name}.{synthetic}",
        "links": [
            _link(f"{root}/", "self", JSON, "This document"),
            _link(f"{root}/openapi", "service-desc", OPENAPI_JSON, "The API definition"),
            _link(f"{root}/docs", "service-doc", "text/html", "The API documentation"),
            _link(f"{root}/conformance", "conformance", JSON, "Conformance classes"),
            _link(f"{root}/collections", "data", JSON, "Collections"),
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


def _page_links(request: Request, q: ItemsQuery, matched: int) -> list[dict[str, str]]:
    page_links = [
        _link(links.request_href(request), "self", GEOJSON, "This page"),
        _link(links.request_href(request, f="json"), "alternate", JSON, "This page as JSON"),
    ]
    if q.offset + q.limit < matched:
        href = links.request_href(request, offset=q.offset + q.limit, limit=q.limit)
        page_links.append(_link(href, "next", GEOJSON, "Next page"))
    if q.offset > 0:
        href = links.request_href(request, offset=max(q.offset - q.limit, 0), limit=q.limit)
        page_links.append(_link(href, "prev", GEOJSON, "Previous page"))
    collection = links.request_href(request).split("?", 1)[0].rsplit("/items", 1)[0]
    page_links.append(_link(collection, "collection", JSON, "The collection"))
    return page_links


def items_page(request: Request, collection: Collection, q: ItemsQuery) -> bytes:
    """One page of a collection's features as GeoJSON bytes."""
    rows = select(q.table, bbox=q.bbox, equals=q.equals, where=q.where, sortby=q.sortby)
    shown = page(rows, q.offset, q.limit)
    members = {
        "numberMatched": len(rows),
        "numberReturned": len(shown),
        "timeStamp": datetime.now(UTC).isoformat(timespec="seconds").replace("+00:00", "Z"),
        "links": _page_links(request, q, len(rows)),
    }
    return feature_collection_bytes(features_bytes(q.table, collection.geometry, shown), members)


def queryables_document(request: Request, collection: Collection) -> dict[str, Any]:
    """JSON Schema of the properties usable in filters."""
    table = collection.table
    properties: dict[str, Any] = {
        name: {"title": name, "type": _JSON_TYPES[kind]} for name, kind in table.kinds.items()
    }
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
def landing(request: Request, catalog: CatalogDep, settings: SettingsDep) -> dict[str, Any]:
    """Landing page: links to the API definition, conformance and collections."""
    return landing_page(request, settings.title, catalog)


@router.get("/conformance", response_model=Conformance, dependencies=ONLY_F)
def conformance() -> dict[str, Any]:
    """Conformance classes implemented by this service."""
    return {"conformsTo": CONFORMANCE}


@router.get("/collections", response_model=Collections, dependencies=ONLY_F)
def collections(request: Request, catalog: CatalogDep) -> dict[str, Any]:
    """All collections (every layer of the store)."""
    return {
        "links": [_link(f"{base_url(request)}/collections", "self", JSON, "Collections")],
        "collections": [collection_document(request, c) for c in catalog.collections.values()],
    }


@router.get("/collections/{collection_id}", response_model=CollectionModel, dependencies=ONLY_F)
def collection(request: Request, collection: CollectionDep) -> dict[str, Any]:
    """One collection: extent, CRS and links."""
    return collection_document(request, collection)


@router.get("/collections/{collection_id}/queryables", response_class=SchemaJSONResponse, dependencies=ONLY_F)
def queryables(request: Request, collection: CollectionDep) -> Response:
    """Queryable properties of a collection (JSON Schema)."""
    return SchemaJSONResponse(queryables_document(request, collection))


@router.get(
    "/collections/{collection_id}/items",
    response_class=GeoJSONResponse,
    responses={200: {"content": {GEOJSON: {}}, "description": "A page of features."}},
)
def items(request: Request, collection: CollectionDep, query: ItemsDep) -> Response:
    """Features of a collection, filtered and paged."""
    return GeoJSONResponse(items_page(request, collection, query))


@router.get(
    "/collections/{collection_id}/items/{feature_id}",
    response_class=GeoJSONResponse,
    responses={200: {"content": {GEOJSON: {}}, "description": "One feature."}},
)
def item(request: Request, collection: CollectionDep, catalog: CatalogDep, feature_id: str) -> Response:
    """One feature by its id, with the values of ``year`` or ``datetime`` (default: the stored year)."""
    params = request.query_params
    check_known(params, set(ITEM_PARAMETERS), f"a feature of '{collection.id}'")
    parse_format(params.get("f"), ("json", "geojson"))
    year = requested_year(params, collection.years) if collection.years else None
    table = catalog.table(collection, year)  # 400 for a year on a collection that has none
    return GeoJSONResponse(feature_bytes(request, collection, table, feature_id))


def feature_bytes(request: Request, collection: Collection, table: Table, feature_id: str) -> bytes:
    """One feature of ``table`` (the collection or its year view) with its links, as GeoJSON bytes."""
    row = table.row_of(feature_id)
    body = features_bytes(table, collection.geometry, [row])  # type: ignore[arg-type]
    url = f"{base_url(request)}/collections/{collection.id}"
    links = [_link(f"{url}/items/{feature_id}", "self", GEOJSON), _link(url, "collection", JSON)]
    return body[:-1] + b',"links":' + dumps(links) + b"}"


# ------------------------------------------------------------------------------------------------
# OpenAPI: shared items parameters and one literal path per collection
# ------------------------------------------------------------------------------------------------


def _items_parameters(default_limit: int, max_limit: int) -> dict[str, dict[str, Any]]:
    def query(name: str, description: str, schema: dict[str, Any], **extra: Any) -> dict[str, Any]:
        return {
            "name": name,
            "in": "query",
            "required": False,
            "description": description,
            "schema": schema,
        } | extra

    number = {"type": "number"}
    return {
        "bbox": query(
            "bbox",
            "minlon,minlat,maxlon,maxlat (CRS84): features whose geometry intersects the box.",
            {"type": "array", "minItems": 4, "maxItems": 4, "items": number},
            style="form",
            explode=False,
        ),
        "bbox-crs": query("bbox-crs", "CRS of bbox: only CRS84.", {"type": "string", "enum": [CRS84]}),
        "crs": query("crs", "CRS of the answer: only CRS84.", {"type": "string", "enum": [CRS84]}),
        "limit": query(
            "limit",
            f"Features per page (larger values are clamped to {max_limit}).",
            {"type": "integer", "minimum": 1, "maximum": max_limit, "default": default_limit},
        ),
        "offset": query(
            "offset", "Features to skip (use the next link).", {"type": "integer", "minimum": 0, "default": 0}
        ),
        "f": query("f", "Output format.", {"type": "string", "enum": ["json", "geojson"]}),
        "year": query(
            "year",
            "Year of the values (default: the stored year); shorthand for datetime. A year not in the "
            "data is a 400 naming the years available.",
            {"type": "integer"},
        ),
        "datetime": query(
            "datetime",
            "The year shown, as an RFC 3339 instant (2023, 2023-06-01, 2023-06-01T00:00:00Z) or an "
            "interval (2023-01-01/2023-12-31, ../2023) meeting exactly one year of the data. A year "
            "condition year = N in filter selects the year too.",
            {"type": "string"},
        ),
        "filter": query(
            "filter",
            "A CQL2-text expression, e.g. M0 >= 0.2 AND kabupaten_code = '6201'.",
            {"type": "string"},
        ),
        "filter-lang": query(
            "filter-lang",
            "Filter language.",
            {"type": "string", "enum": ["cql2-text"], "default": "cql2-text"},
        ),
        "filter-crs": query(
            "filter-crs", "CRS of filter geometries: only CRS84.", {"type": "string", "enum": [CRS84]}
        ),
        "sortby": query("sortby", "Comma-separated properties, '-' for descending.", {"type": "string"}),
    }


def add_collection_paths(
    schema: dict[str, Any], catalog: Catalog, default_limit: int, max_limit: int
) -> dict[str, Any]:
    """Add the items parameters, and one ``/collections/{id}/items`` path per collection declaring
    that collection's property filters."""
    schema = copy.deepcopy(schema)
    components = schema.setdefault("components", {}).setdefault("parameters", {})
    components.update(_items_parameters(default_limit, max_limit))
    refs = [{"$ref": f"#/components/parameters/{name}"} for name in ITEMS_PARAMETERS]
    generic = schema["paths"]["/collections/{collection_id}/items"]["get"]
    generic["parameters"] = generic.get("parameters", []) + refs
    for cid, coll in catalog.collections.items():
        op = copy.deepcopy(generic)
        op["operationId"] = f"items_{cid}"
        op["summary"] = f"Features of {cid}"
        op["parameters"] = refs + [
            {
                "name": name,
                "in": "query",
                "required": False,
                "description": f"Only features whose {name} equals this value.",
                "schema": {"type": _JSON_TYPES[kind]},
            }
            for name, kind in coll.table.kinds.items()
            if name not in ITEMS_PARAMETERS
        ]
        schema["paths"][f"/collections/{cid}/items"] = {"get": op}
    return schema
