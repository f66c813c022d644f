"""Downloads: each layer as GeoPackage, FlatGeobuf, GeoParquet, GeoJSON, CSV or XLSX, and every layer
in one styled GeoPackage. Files are written once per store (`layers.export.cached_export`) and
streamed from disk.
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import FileResponse

from layers.errors import InvalidQuery
from layers.export import FORMATS, cached_export, export_filename, formats_for
from service.deps import StoreDep
from service.links import href

router = APIRouter(tags=["exports"])

MEDIA_TYPES: dict[str, str] = {
    "gpkg": "application/geopackage+sqlite3",
    "fgb": "application/flatgeobuf",
    "parquet": "application/vnd.apache.parquet",
    "geojson": "application/geo+json",
    "csv": "text/csv; charset=utf-8",
    "xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
}
CACHE_CONTROL = "public, max-age=3600"


@router.get("/exports")
def exports(store: StoreDep, request: Request) -> dict[str, Any]:
    """Links to every download of this store."""
    base = href(request, "/exports")
    links = [_link("All layers, styled for QGIS", "gpkg", f"{base}/sasaran.gpkg")]
    for name in store.names:
        links += [_link(f"{name} ({f})", f, f"{base}/{name}.{f}") for f in formats_for(name)]
    return {"synthetic": store.synthetic, "links": links}


@router.get("/exports/sasaran.gpkg", response_class=FileResponse)
def export_all(store: StoreDep) -> FileResponse:
    """Every layer in one GeoPackage, each with a default QGIS style."""
    return _file(cached_export(store, "all", "gpkg"), export_filename(store, "all", "gpkg"), "gpkg")


@router.get("/exports/{layer}.{ext}", response_class=FileResponse)
def export_one(layer: str, ext: str, store: StoreDep) -> FileResponse:
    """One layer in the format its extension names (gpkg, fgb, parquet, geojson, csv, xlsx)."""
    if ext not in FORMATS:
        raise InvalidQuery(f"unknown export format '.{ext}'; use one of {', '.join(FORMATS)}")
    return _file(cached_export(store, layer, ext), export_filename(store, layer, ext), ext)


def _link(title: str, fmt: str, href: str) -> dict[str, str]:
    return {"rel": "enclosure", "type": MEDIA_TYPES[fmt], "title": title, "href": href}


def _file(path: Any, filename: str, fmt: str) -> FileResponse:
    return FileResponse(
        path, media_type=MEDIA_TYPES[fmt], filename=filename, headers={"Cache-Control": CACHE_CONTROL}
    )
