"""Vector tiles (OGC API - Tiles, WebMercatorQuad) and TileJSON for every tiled layer.

Tiles are ``application/vnd.mapbox-vector-tile``. A tile outside the data is ``200`` with an empty
body: a valid MVT with no layers, which QGIS, MapLibre and GDAL all read, and which caches keep
like any other tile (a ``204`` is also allowed by OGC API - Tiles, but some caches do not store it).
"""

from __future__ import annotations

import hashlib
import math
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Request, Response
from starlette.concurrency import run_in_threadpool

from layers.errors import LayerNotFound
from layers.maps.classes import CLASSIFICATIONS, classes_json
from layers.maps.maplibre import maplibre_style
from layers.maps.qml import vector_tile_qml
from layers.maps.tiles import LIMIT_ZOOM, MAX_ZOOM, MIN_ZOOM, VectorTiles, hexagon_resolution
from layers.schema import LAYERS
from service.catalog import Catalog
from service.deps import CatalogDep, known_parameters, requested_year, served_of
from service.links import href
from service.responses import ORJSONResponse

router = APIRouter(tags=["tiles"])

MVT_MEDIA_TYPE = "application/vnd.mapbox-vector-tile"
TMS_ID = "WebMercatorQuad"
TMS_URI = "http://www.opengis.net/def/tilematrixset/OGC/1.0/WebMercatorQuad"
TMS_DEFINITION = "https://schemas.opengis.net/tms/2.0/json/examples/tilematrixset/WebMercatorQuad.json"
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


@router.get("/classes", dependencies=NO_PARAMETERS)
def classes() -> dict[str, Any]:
    """The classes (breaks, colours, Indonesian and English labels) every map and legend uses."""
    return classes_json()


@router.get("/collections/{collection_id}/tiles", dependencies=NO_PARAMETERS)
def tilesets(collection_id: str, tiles: TilesDep, request: Request) -> dict[str, Any]:
    """Tilesets of a collection (one: vector tiles on WebMercatorQuad)."""
    tiles.bounds(collection_id)  # LayerNotFound for an untiled collection
    base = _collection_url(request, collection_id)
    return {
        "links": [{"rel": "self", "type": "application/json", "href": f"{base}/tiles"}],
        "tilesets": [_tileset_summary(base, collection_id)],
    }


@router.get(f"/collections/{{collection_id}}/tiles/{TMS_ID}", dependencies=NO_PARAMETERS)
def tileset(collection_id: str, tiles: TilesDep, request: Request, response: Response) -> dict[str, Any]:
    """Tileset metadata (OGC API - Tiles): tile matrix set, limits, URL template, layer fields."""
    body = tileset_metadata(tiles, collection_id, _collection_url(request, collection_id))
    response.headers["Cache-Control"] = METADATA_CACHE_CONTROL
    return body


@router.get(f"/collections/{{collection_id}}/tiles/{TMS_ID}/tilejson.json", dependencies=YEAR_ONLY)
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
    responses={200: {"content": {MAPBOX_STYLE: {}}, "description": "A MapLibre/Mapbox style (v8)."}},
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
    )
    headers = {"Cache-Control": METADATA_CACHE_CONTROL}
    return ORJSONResponse(style, media_type=MAPBOX_STYLE, headers=headers)


@router.get(
    f"/collections/{{collection_id}}/tiles/{TMS_ID}/style.qml",
    dependencies=YEAR_ONLY,
    response_class=Response,
    responses={
        200: {"content": {QML_MEDIA_TYPE: {}}, "description": "A QGIS style for a vector tile layer."}
    },
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
    responses={200: {"content": {MVT_MEDIA_TYPE: {}}, "description": "A Mapbox vector tile (may be empty)."}},
)
async def tile(collection_id: str, z: int, y: int, x: int, request: Request) -> Response:
    """One vector tile: tileMatrix z, tileRow y, tileCol x (OGC order); ``year`` or ``datetime``
    for another year's values (a year not in the data is a 400 naming the years available)."""
    # A cached tile is answered on the event loop; a tile to render is rendered in the thread pool.
    catalog = (await served_of(request)).catalog
    tiles = catalog.tiles
    if 0 <= z <= LIMIT_ZOOM and not (x < 1 << z and y < 1 << z):
        # A row or column past the matrix's edge names no tile (OGC API - Tiles: 404).
        raise LayerNotFound(f"no tile {z}/{y}/{x}: tile matrix {z} has rows and columns 0-{(1 << z) - 1}")
    year = requested_year(request.query_params, catalog.store.years)
    body = tiles.cached(collection_id, z, x, y, year)
    if body is None:
        body = await run_in_threadpool(tiles.tile, collection_id, z, x, y, year)
    etag = f'"{hashlib.blake2b(body, digest_size=12).hexdigest()}"'
    headers = {"Cache-Control": TILE_CACHE_CONTROL, "ETag": etag}
    if request.headers.get("if-none-match") == etag:
        return Response(status_code=304, headers=headers)
    return Response(body, media_type=MVT_MEDIA_TYPE, headers=headers)


def tileset_metadata(tiles: VectorTiles, name: str, base: str) -> dict[str, Any]:
    """The OGC API - Tiles tileset document of a layer, with ``base`` its collection URL."""
    minx, miny, maxx, maxy = tiles.bounds(name)
    template = f"{base}/tiles/{TMS_ID}/{{tileMatrix}}/{{tileRow}}/{{tileCol}}"
    document = _tileset_summary(base, name)
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
    return document | {
        "boundingBox": {"lowerLeft": [minx, miny], "upperRight": [maxx, maxy],
                        "crs": "http://www.opengis.net/def/crs/OGC/1.3/CRS84"},
        "tileMatrixSetLimits": tile_matrix_limits((minx, miny, maxx, maxy)),
        "layers": [
            {
                "id": name,
                "dataType": "vector",
                "minTileMatrix": str(MIN_ZOOM),
                "maxTileMatrix": str(MAX_ZOOM),
                "propertiesSchema": {"type": "object", "properties": _json_schema(tiles.fields(name))},
            }
        ],
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
             "description": _hexagon_note() if name == "hexagons" else ""}
        ],
    }  # fmt: skip


def tile_matrix_limits(bounds: tuple[float, float, float, float]) -> list[dict[str, Any]]:
    """Rows and columns that cover lon/lat ``bounds`` at each served tile matrix."""
    minx, miny, maxx, maxy = bounds
    limits = []
    for z in range(MIN_ZOOM, MAX_ZOOM + 1):
        n = 1 << z

        def col(lon: float, n: int = n) -> int:
            return min(n - 1, max(0, int((lon + 180.0) / 360.0 * n)))

        def row(lat: float, n: int = n) -> int:
            lat = max(-85.0511287798066, min(85.0511287798066, lat))
            y = (1 - math.asinh(math.tan(math.radians(lat))) / math.pi) / 2
            return min(n - 1, max(0, int(y * n)))

        limits.append(
            {"tileMatrix": str(z), "minTileRow": row(maxy), "maxTileRow": row(miny),
             "minTileCol": col(minx), "maxTileCol": col(maxx)}
        )  # fmt: skip
    return limits


def _tileset_summary(base: str, name: str) -> dict[str, Any]:
    return {
        "title": f"{name} (vector tiles)",
        "dataType": "vector",
        "crs": CRS_3857,
        "tileMatrixSetURI": TMS_URI,
        "links": [
            {"rel": "self", "type": "application/json", "href": f"{base}/tiles/{TMS_ID}"},
            {"rel": "http://www.opengis.net/def/rel/ogc/1.0/tiling-scheme", "type": "application/json",
             "href": TMS_DEFINITION},
        ],
    }  # fmt: skip


def _hexagon_note() -> str:
    levels = sorted({(hexagon_resolution(z), z) for z in range(MIN_ZOOM, MAX_ZOOM + 1)})
    first: dict[int, int] = {}
    for res, z in levels:
        first.setdefault(res, z)
    parts = ", ".join(f"res {res} from z{z}" for res, z in sorted(first.items()))
    return f"H3 cells ({parts}); parents carry summed population and population-weighted mean score"


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
