"""Downloads: each layer as GeoPackage, FlatGeobuf, GeoParquet, GeoJSON, CSV or XLSX, and every layer
in one styled GeoPackage. Files are written once per build (`layers.export.cached_export`), outside
the store, and streamed from disk. XLSX is offered for layers up to ``max_xlsx_rows`` rows.
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Depends, Request
from fastapi.responses import FileResponse, PlainTextResponse
from starlette.responses import Response

from layers.errors import InvalidQuery, LayerNotFound, excerpt
from layers.export import FORMATS, MEDIA_TYPES, cached_export, csvt_for, export_filename, formats_for
from layers.export.qgis_project import qgis_project_bytes
from layers.store import LayerStore
from service.deps import CatalogDep, SettingsDep, StoreDep, check_known, known_parameters, requested_year
from service.heavy import run_heavy
from service.links import href
from service.openapi import BINARY, answers
from service.responses import JSON
from service.settings import Settings

router = APIRouter(tags=["exports"])

CACHE_CONTROL = "public, max-age=3600"
#: Query parameters of one layer's export.
EXPORT_PARAMETERS = ("year", "datetime", "years")


@router.get("/exports", dependencies=[Depends(known_parameters())], responses=answers({JSON: "Exports"}))
def exports(store: StoreDep, settings: SettingsDep, request: Request) -> dict[str, Any]:
    """Links to every download of this store."""
    base = href(request, "/exports")
    links = [
        _link("All layers, styled for QGIS", "gpkg", f"{base}/sasaran.gpkg"),
        _link("QGIS project of every layer, with a print layout", "qgz", f"{base}/sasaran.qgz"),
    ]
    for name in store.names:
        links += [_link(f"{name} ({f})", f, f"{base}/{name}.{f}") for f in _offered(store, settings, name)]
    return {"synthetic": store.synthetic, "links": links}


@router.get(
    "/exports/sasaran.gpkg",
    response_class=FileResponse,
    dependencies=[Depends(known_parameters())],
    responses=answers({MEDIA_TYPES["gpkg"]: BINARY}),
)
async def export_all(request: Request, catalog: CatalogDep, settings: SettingsDep) -> FileResponse:
    """Every layer in one GeoPackage, each with a default QGIS style, plus the area layers for every
    year (``villages_by_year`` ...) styled for QGIS's temporal controller."""
    store = catalog.store
    # Written once per build: heavy work the first time (`service.heavy`), a file lookup after.
    path = await run_heavy(
        request, cached_export, store, "all", "gpkg", settings.export_dir, scoring=catalog.scoring
    )
    return _file(path, export_filename(store, "all", "gpkg"), "gpkg")


@router.get(
    "/exports/sasaran.qgz",
    dependencies=[Depends(known_parameters())],
    responses=answers({MEDIA_TYPES["qgz"]: BINARY}),
)
def export_project(catalog: CatalogDep, request: Request) -> Response:
    """A QGIS project (.qgz) of every layer, read from this service's ``sasaran.gpkg`` over HTTP
    (GDAL's ``/vsicurl/``, range requests): styles, the years on the temporal controller and a
    print layout (title, map, legend, scale bar, north arrow). Opens ready in QGIS 3.22+."""
    store = catalog.store
    source = f"/vsicurl/{href(request, '/exports/sasaran.gpkg')}"
    body = qgis_project_bytes(store, source, export_filename(store, "all", "qgz").removesuffix(".qgz"))
    filename = export_filename(store, "all", "qgz")
    headers = {"Cache-Control": CACHE_CONTROL, "Content-Disposition": f'attachment; filename="{filename}"'}
    return Response(body, media_type=MEDIA_TYPES["qgz"], headers=headers)


@router.get(
    "/exports/{layer}.csvt",
    response_class=PlainTextResponse,
    responses=answers({"text/plain": None}, found=True),
)
def export_csvt(layer: str, request: Request, catalog: CatalogDep, settings: SettingsDep) -> Response:
    """GDAL's column types (``.csvt``) of ``/exports/{layer}.csv`` with the same year parameters: GDAL's
    CSV driver reads it beside the CSV, also over HTTP, so codes stay text and counts integers."""
    params = request.query_params
    check_known(params, set(EXPORT_PARAMETERS), f"/exports/{layer}.csvt")
    store = catalog.store
    _offered(store, settings, layer)
    year, all_years = _years(params, store)
    text = csvt_for(store, layer, year, all_years, catalog.scoring)
    return PlainTextResponse(text, headers={"Cache-Control": CACHE_CONTROL})


@router.get(
    "/exports/{layer}.{ext}",
    response_class=FileResponse,
    responses=answers(
        {MEDIA_TYPES[f].split(";")[0]: "FeatureCollection" if f == "geojson" else BINARY for f in FORMATS},
        found=True,
    ),
)
async def export_one(
    layer: str, ext: str, request: Request, catalog: CatalogDep, settings: SettingsDep
) -> FileResponse:
    """One layer in the format its extension names (gpkg, fgb, parquet, geojson, csv, xlsx).

    Year-bearing layers take ``year`` or ``datetime`` (one year's values; default the stored year)
    or ``years=all`` (every year stacked with ``date`` and ``date_end``; as GeoPackage, styled for
    QGIS's temporal controller). A year not in the data is a 400 naming the years available.
    """
    params = request.query_params
    check_known(params, set(EXPORT_PARAMETERS), f"/exports/{layer}.{ext}")
    if ext not in FORMATS:
        raise InvalidQuery(f"unknown export format '.{ext}'; use one of {', '.join(FORMATS)}")
    store = catalog.store
    offered = _offered(store, settings, layer)
    if ext not in offered:  # a real format this layer is not offered in: no such download (404)
        raise LayerNotFound(
            f"no download {excerpt(layer)}.{ext}: '{excerpt(layer)}' is offered as {', '.join(offered)} "
            "(see /exports)"
        )
    year, all_years = _years(params, store)
    path = await run_heavy(
        request,
        cached_export,
        store,
        layer,
        ext,
        settings.export_dir,
        settings.max_xlsx_rows,
        year,
        all_years,
        catalog.scoring,
    )
    return _file(path, export_filename(store, layer, ext, "all" if all_years else year), ext)


def _years(params: Any, store: LayerStore) -> tuple[int | None, bool]:
    """(one year, every year) of an export's ``year``/``datetime``/``years`` parameters."""
    all_years = params.get("years", "") != ""
    if all_years and params["years"] != "all":
        raise InvalidQuery(f"years must be 'all' (every year stacked), got '{excerpt(params['years'])}'")
    year = requested_year(params, store.years)
    if all_years and year is not None:
        raise InvalidQuery("ask either one year (year, datetime) or years=all, not both")
    return year, all_years


def _offered(store: LayerStore, settings: Settings, name: str) -> list[str]:
    """Formats ``name`` is offered in: tables have no FGB/GeoJSON, large layers no XLSX."""
    if name not in store.names:
        raise LayerNotFound(f"no layer '{excerpt(name)}'; layers are: {', '.join(store.names)}")
    return [f for f in formats_for(name) if f != "xlsx" or store.rows(name) <= settings.max_xlsx_rows]


def _link(title: str, fmt: str, href: str) -> dict[str, str]:
    return {"rel": "enclosure", "type": MEDIA_TYPES[fmt], "title": title, "href": href}


def _file(path: Any, filename: str, fmt: str) -> FileResponse:
    return FileResponse(
        path, media_type=MEDIA_TYPES[fmt], filename=filename, headers={"Cache-Control": CACHE_CONTROL}
    )
