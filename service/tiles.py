"""Vector tiles (OGC API - Tiles, WebMercatorQuad), TileJSON, styles and the tile matrix sets.

Tiles are ``application/vnd.mapbox-vector-tile``. A tile within the tileset's limits that holds
nothing is ``204 No Content`` (OGC API - Tiles); a tile outside them (at its tile matrix, the rows
and columns the data meets, as ``tileMatrixSetLimits`` lists them) is a ``400`` naming the limits and
the URL template, because it is nearly always a ``{z}/{x}/{y}`` template used on the OGC order
``{z}/{y}/{x}``, which would otherwise draw a blank map without a word.

``/tileMatrixSets`` serves WebMercatorQuad and WorldCRS84Quad, and every tileset links its tiling
scheme here, so GDAL's OGCAPI driver and other clients work without reaching the OGC's schema site.
``/fonts/{fontstack}/{range}.pbf`` serves the glyphs the MapLibre styles label areas with.
"""

from __future__ import annotations

import hashlib
from pathlib import Path
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Request, Response
from starlette.concurrency import run_in_threadpool

from layers.errors import LayerNotFound, excerpt
from layers.maps.classes import CLASSIFICATIONS, classes_json
from layers.maps.maplibre import FONT, maplibre_style
from layers.maps.qml import vector_tile_qml
from layers.maps.tiles import (
    LABELLED,
    LABELS_SUFFIX,
    MAX_ZOOM,
    MIN_ZOOM,
    TILE_MATRIX_SETS,
    VectorTiles,
    check_in_limits,
    hexagon_resolution,
    tile_matrix_set,
    tile_range,
)
from layers.schema import LAYERS
from service.catalog import Catalog
from service.deps import CatalogDep, known_parameters, requested_year, served_of
from service.links import href
from service.openapi import BINARY, OBJECT, TEXT, answers
from service.responses import JSON, ORJSONResponse

router = APIRouter(tags=["tiles"])

MVT_MEDIA_TYPE = "application/vnd.mapbox-vector-tile"
TMS_ID = "WebMercatorQuad"
TMS_URI = "http://www.opengis.net/def/tilematrixset/OGC/1.0/WebMercatorQuad"
TILING_SCHEME_REL = "http://www.opengis.net/def/rel/ogc/1.0/tiling-scheme"
GLYPHS_DIR = Path(__file__).parent / "static" / "glyphs"
#: Font stacks the styles name, and the folder of their glyph ranges.
FONT_STACKS = {FONT: "dejavu-sans-book"}
CRS_3857 = "http://www.opengis.net/def/crs/EPSG/0/3857"
#: Tiles change only when the store is rebuilt (and the ETag then changes): cache for an hour.
TILE_CACHE_CONTROL = "public, max-age=3600"
METADATA_CACHE_CONTROL = "public, max-age=300"
MAPBOX_STYLE = "application/vnd.mapbox.style+json"
QML_MEDIA_TYPE = "application/vnd.qgis.qml"
#: Query parameters of tiles, TileJSON and styles: the year shown (``year`` or ``datetime``).
YEAR_PARAMETERS = ("year", "datetime")
NO_PARAMETERS = [Depends(known_parameters())]
YEAR_ONLY = [Depends(known_parameters(*YEAR_PARAMETERS))]


async def get_tiles(request: Request) -> VectorTiles:
    """The store's vector tiles, prepared with the catalog in the lifespan."""
    return (await served_of(request)).catalog.tiles


TilesDep = Annotated[VectorTiles, Depends(get_tiles)]


@router.get("/classes", dependencies=NO_PARAMETERS, responses=answers({JSON: OBJECT}))
def classes() -> dict[str, Any]:
    """The classes (breaks, colours, Indonesian and English labels) every map and legend uses."""
    return classes_json()


@router.get(
    "/collections/{collection_id}/tiles",
    dependencies=NO_PARAMETERS,
    responses=answers({JSON: OBJECT}, found=True),
)
def tilesets(collection_id: str, tiles: TilesDep, request: Request) -> dict[str, Any]:
    """Tilesets of a collection (one: vector tiles on WebMercatorQuad)."""
    tiles.bounds(collection_id)  # LayerNotFound for an untiled collection
    base = _collection_url(request, collection_id)
    return {
        "links": [{"rel": "self", "type": "application/json", "href": f"{base}/tiles"}],
        "tilesets": [_tileset_summary(base, collection_id, href(request, "/tileMatrixSets"))],
    }


@router.get(
    f"/collections/{{collection_id}}/tiles/{TMS_ID}",
    dependencies=NO_PARAMETERS,
    responses=answers({JSON: OBJECT}, found=True),
)
def tileset(collection_id: str, tiles: TilesDep, request: Request, response: Response) -> dict[str, Any]:
    """Tileset metadata (OGC API - Tiles): tile matrix set, limits, URL template, layer fields."""
    body = tileset_metadata(
        tiles, collection_id, _collection_url(request, collection_id), href(request, "/tileMatrixSets")
    )
    response.headers["Cache-Control"] = METADATA_CACHE_CONTROL
    return body


@router.get(
    f"/collections/{{collection_id}}/tiles/{TMS_ID}/tilejson.json",
    dependencies=YEAR_ONLY,
    responses=answers({JSON: OBJECT}, found=True),
)
def tilejson(
    collection_id: str, tiles: TilesDep, catalog: CatalogDep, request: Request, response: Response
) -> dict[str, Any]:
    """TileJSON 3.0.0 of a collection's vector tiles (for MapLibre, QGIS and other clients).

    With ``year`` or ``datetime``, the tile URL template asks for that year's tiles."""
    query = _year_query(catalog, collection_id, request)
    body = tilejson_document(tiles, collection_id, _collection_url(request, collection_id), query)
    response.headers["Cache-Control"] = METADATA_CACHE_CONTROL
    return body


@router.get(
    f"/collections/{{collection_id}}/tiles/{TMS_ID}/style.json",
    dependencies=YEAR_ONLY,
    response_class=ORJSONResponse,
    responses=answers({MAPBOX_STYLE: OBJECT}, found=True, description="A MapLibre/Mapbox style (v8)."),
)
def style_json(collection_id: str, tiles: TilesDep, catalog: CatalogDep, request: Request) -> Response:
    """A MapLibre style drawing the collection's tiles with Sasaran's classes (`GET /classes`).

    QGIS 3.22 loads it as a vector tile layer's style URL; MapLibre as its ``style``. With ``year``
    or ``datetime``, the tiles are that year's."""
    query = _year_query(catalog, collection_id, request)
    base = _collection_url(request, collection_id)
    style = maplibre_style(
        collection_id,
        f"{base}/tiles/{TMS_ID}/{{z}}/{{y}}/{{x}}{query}",
        tiles.bounds(collection_id),
        tiles.store.facility_kinds,
        _present(catalog, collection_id, request),
        MIN_ZOOM,
        MAX_ZOOM,
        glyphs=href(request, "/fonts") + "/{fontstack}/{range}.pbf",
    )
    headers = {"Cache-Control": METADATA_CACHE_CONTROL}
    return ORJSONResponse(style, media_type=MAPBOX_STYLE, headers=headers)


@router.get(
    f"/collections/{{collection_id}}/tiles/{TMS_ID}/style.qml",
    dependencies=YEAR_ONLY,
    response_class=Response,
    responses=answers(
        {QML_MEDIA_TYPE: TEXT}, found=True, description="A QGIS style for a vector tile layer."
    ),
)
def style_qml(collection_id: str, tiles: TilesDep, catalog: CatalogDep, request: Request) -> Response:
    """A QGIS style (QML) for a vector tile layer of the collection's tiles: the same classes as
    the MapLibre style and the GeoPackage styles, plus area names as labels."""
    tiles.bounds(collection_id)  # LayerNotFound for an untiled collection
    qml = vector_tile_qml(
        collection_id, tiles.store.facility_kinds, _present(catalog, collection_id, request)
    )
    headers = {"Cache-Control": METADATA_CACHE_CONTROL}
    return Response((qml or "").encode(), media_type=QML_MEDIA_TYPE, headers=headers)


@router.get(
    f"/collections/{{collection_id}}/tiles/{TMS_ID}/{{z}}/{{y}}/{{x}}",
    dependencies=YEAR_ONLY,
    response_class=Response,
    responses=answers(
        {MVT_MEDIA_TYPE: BINARY}, found=True, not_modified=True, description="A Mapbox vector tile."
    ),
)
async def tile(collection_id: str, z: int, y: int, x: int, request: Request) -> Response:
    """One vector tile: tileMatrix z, tileRow y, tileCol x (OGC order); ``year`` or ``datetime``
    for another year's values (a year not in the data is a 400 naming the years available).

    204 for a tile of the tileset that holds nothing; 400, naming the limits and the URL template,
    for a tile outside them (``tileMatrixSetLimits``)."""
    # A cached tile is answered on the event loop; a tile to render is rendered in the thread pool.
    catalog = (await served_of(request)).catalog
    tiles = catalog.tiles
    base = _collection_url(request, collection_id)
    check_in_limits(tiles.bounds(collection_id), z, x, y, f"{base}/tiles/{TMS_ID}/{{z}}/{{y}}/{{x}}")
    year = requested_year(request.query_params, catalog.store.years)
    body = tiles.cached(collection_id, z, x, y, year)
    if body is None:
        body = await run_in_threadpool(tiles.tile, collection_id, z, x, y, year)
    etag = f'"{hashlib.blake2b(body, digest_size=12).hexdigest()}"'
    headers = {"Cache-Control": TILE_CACHE_CONTROL, "ETag": etag}
    if request.headers.get("if-none-match") == etag:
        return Response(status_code=304, headers=headers)
    if not body:
        return Response(status_code=204, headers=headers)
    return Response(body, media_type=MVT_MEDIA_TYPE, headers=headers)


@router.get(
    "/tileMatrixSets",
    dependencies=NO_PARAMETERS,
    responses=answers({JSON: OBJECT}, description="The tile matrix sets (tiling schemes) defined here."),
)
def tile_matrix_sets(request: Request) -> dict[str, Any]:
    """The tiling schemes this service defines: WebMercatorQuad (its tiles) and WorldCRS84Quad."""
    base = href(request, "/tileMatrixSets")
    return {
        "links": [{"rel": "self", "type": JSON, "href": base}],
        "tileMatrixSets": [
            {"id": tms, "title": str(tile_matrix_set(tms)["title"]), "uri": str(tile_matrix_set(tms)["uri"]),
             "links": [{"rel": TILING_SCHEME_REL, "type": JSON, "href": f"{base}/{tms}"}]}
            for tms in TILE_MATRIX_SETS
        ],
    }  # fmt: skip


@router.get(
    "/tileMatrixSets/{tile_matrix_set_id}",
    dependencies=NO_PARAMETERS,
    responses=answers({JSON: OBJECT}, found=True, description="A tile matrix set (OGC 2DTMS 2.0, JSON)."),
)
def tile_matrix_set_definition(tile_matrix_set_id: str, request: Request) -> dict[str, Any]:
    """A tile matrix set's definition, as registered by the OGC."""
    return tile_matrix_set(tile_matrix_set_id) | {
        "links": [
            {"rel": "self", "type": JSON, "href": href(request, f"/tileMatrixSets/{tile_matrix_set_id}")}
        ]
    }


@router.get(
    "/fonts/{fontstack}/{glyph_range}.pbf",
    dependencies=NO_PARAMETERS,
    responses=answers({"application/x-protobuf": BINARY}, found=True, description="Glyphs (SDF)."),
)
def glyphs(fontstack: str, glyph_range: str) -> Response:
    """The glyphs of a font stack for a range of code points (MapLibre's ``glyphs``), vendored."""
    folder = FONT_STACKS.get(fontstack.split(",")[0].strip())
    path = GLYPHS_DIR / folder / f"{glyph_range}.pbf" if folder else None
    if path is None or "/" in glyph_range or not path.is_file():
        raise LayerNotFound(
            f"no glyphs '{excerpt(fontstack)}/{excerpt(glyph_range)}'; font stacks: "
            f"{', '.join(FONT_STACKS)}, ranges 0-255 and 256-511"
        )
    return Response(path.read_bytes(), media_type="application/x-protobuf",
                    headers={"Cache-Control": TILE_CACHE_CONTROL})  # fmt: skip


def tileset_metadata(tiles: VectorTiles, name: str, base: str, schemes: str) -> dict[str, Any]:
    """The OGC API - Tiles tileset document of a layer, with ``base`` its collection URL and
    ``schemes`` the URL of ``/tileMatrixSets``."""
    minx, miny, maxx, maxy = tiles.bounds(name)
    template = f"{base}/tiles/{TMS_ID}/{{tileMatrix}}/{{tileRow}}/{{tileCol}}"
    document = _tileset_summary(base, name, schemes)
    document["links"] += [
        {"rel": "item", "type": MVT_MEDIA_TYPE, "href": template, "templated": True},
        {
            "rel": "describedby",
            "type": "application/json",
            "title": "TileJSON",
            "href": f"{base}/tiles/{TMS_ID}/tilejson.json",
        },
        {"rel": "collection", "type": "application/json", "href": base},
    ]
    layers: list[dict[str, Any]] = [
        {"id": name, "dataType": "vector", "minTileMatrix": str(MIN_ZOOM), "maxTileMatrix": str(MAX_ZOOM),
         "propertiesSchema": {"type": "object", "properties": _json_schema(tiles.fields(name))}},
    ]  # fmt: skip
    if name in LABELLED:
        layers.append(
            {"id": f"{name}{LABELS_SUFFIX}", "dataType": "vector", "geometryDimension": 0,
             "description": "One label point per feature, in the tile that holds it",
             "minTileMatrix": str(MIN_ZOOM), "maxTileMatrix": str(MAX_ZOOM),
             "propertiesSchema": {"type": "object", "properties": _json_schema(tiles.label_fields(name))}}
        )  # fmt: skip
    return document | {
        "boundingBox": {"lowerLeft": [minx, miny], "upperRight": [maxx, maxy],
                        "crs": "http://www.opengis.net/def/crs/OGC/1.3/CRS84"},
        "tileMatrixSetLimits": tile_matrix_limits((minx, miny, maxx, maxy)),
        "layers": layers,
    }  # fmt: skip


def tilejson_document(tiles: VectorTiles, name: str, base: str, query: str = "") -> dict[str, Any]:
    """TileJSON 3.0.0 for a layer.

    The ``tiles`` template is ``.../{z}/{y}/{x}``: the OGC path order (tileMatrix/tileRow/tileCol),
    not the usual XYZ ``{z}/{x}/{y}``. MapLibre, Leaflet, OpenLayers and QGIS substitute the
    placeholders by name, so the order in the path does not matter to them.
    """
    bounds = list(tiles.bounds(name))
    description = (
        "Deprivation score per H3 cell; coarser H3 parents below zoom 11" if name == "hexagons" else ""
    )
    if tiles.store.synthetic:
        description = f"SYNTHETIC demo data. {description}".strip()
    return {
        "tilejson": "3.0.0",
        "name": name,
        "description": description,
        "scheme": "xyz",
        "tiles": [f"{base}/tiles/{TMS_ID}/{{z}}/{{y}}/{{x}}{query}"],
        "minzoom": MIN_ZOOM,
        "maxzoom": MAX_ZOOM,
        "bounds": bounds,
        "center": [(bounds[0] + bounds[2]) / 2, (bounds[1] + bounds[3]) / 2, 7],
        "vector_layers": [
            {"id": name, "fields": tiles.fields(name), "minzoom": MIN_ZOOM, "maxzoom": MAX_ZOOM,
             "description": _hexagon_note() if name == "hexagons" else ""},
            *([{"id": f"{name}{LABELS_SUFFIX}", "fields": tiles.label_fields(name), "minzoom": MIN_ZOOM,
                "maxzoom": MAX_ZOOM, "description": "One label point per feature"}]
              if name in LABELLED else []),
        ],
    }  # fmt: skip


def tile_matrix_limits(bounds: tuple[float, float, float, float]) -> list[dict[str, Any]]:
    """Rows and columns that cover lon/lat ``bounds`` at each served tile matrix."""
    limits = []
    for z in range(MIN_ZOOM, MAX_ZOOM + 1):
        min_row, max_row, min_col, max_col = tile_range(bounds, z)
        limits.append(
            {"tileMatrix": str(z), "minTileRow": min_row, "maxTileRow": max_row,
             "minTileCol": min_col, "maxTileCol": max_col}
        )  # fmt: skip
    return limits


def _tileset_summary(base: str, name: str, schemes: str) -> dict[str, Any]:
    return {
        "title": f"{name} (vector tiles)",
        "dataType": "vector",
        "crs": CRS_3857,
        "tileMatrixSetURI": TMS_URI,
        "links": [
            {"rel": "self", "type": "application/json", "href": f"{base}/tiles/{TMS_ID}"},
            {"rel": TILING_SCHEME_REL, "type": "application/json", "href": f"{schemes}/{TMS_ID}"},
        ],
    }  # fmt: skip


def _hexagon_note() -> str:
    levels = sorted({(hexagon_resolution(z), z) for z in range(MIN_ZOOM, MAX_ZOOM + 1)})
    first: dict[int, int] = {}
    for res, z in levels:
        first.setdefault(res, z)
    parts = ", ".join(f"res {res} from z{z}" for res, z in sorted(first.items()))
    return (
        f"H3 cells ({parts}); parents carry summed population, the people-weighted mean score of their "
        "cells of 5 people or more, and shown_share, the share of their area in such cells"
    )


def _json_schema(fields: dict[str, str]) -> dict[str, dict[str, str]]:
    kinds = {"String": "string", "Number": "number", "Boolean": "boolean"}
    return {name: {"type": kinds[kind]} for name, kind in fields.items()}


def _year_query(catalog: Catalog, collection_id: str, request: Request) -> str:
    """``?year=N`` for tile URLs when the request names a year other than the stored one."""
    year = requested_year(request.query_params, catalog.store.years)
    if year is None:
        return ""
    catalog.table(catalog.collection(collection_id), year)  # 400 for a layer without years
    return f"?year={year}"


def _present(catalog: Catalog, collection_id: str, request: Request) -> list[Any] | None:
    """The classes or categories a collection holds (the year asked for), for a legend of only those.

    Hexagon tiles at low zoom carry H3 parents' mean scores, which may fall in classes no cell is
    in: their style keeps every class."""
    schema = LAYERS.get(collection_id)
    if schema is None or collection_id == "hexagons" or collection_id not in catalog.collections:
        return None
    collection = catalog.collection(collection_id)
    table = catalog.table(collection, requested_year(request.query_params, catalog.store.years))
    if schema.style in CLASSIFICATIONS:
        classes = CLASSIFICATIONS[schema.style]
        if classes.attribute in table.columns:
            values = table.columns[classes.attribute].astype(float)
            null = table.nulls.get(classes.attribute)
            return classes.present(values if null is None else values[~null])
        return None
    column = {"facility": "kind", "roads": "class"}.get(schema.style or "")
    if column is None or column not in table.columns:
        return None
    return sorted(set(table.columns[column].tolist()))


def _collection_url(request: Request, collection_id: str) -> str:
    return href(request, f"/collections/{collection_id}")
