"""Every file format Sasaran writes, for layers and for target lists, declared once."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Format:
    """A file format: its extension, media type, GDAL driver and what it can hold."""

    ext: str
    media_type: str
    driver: str | None = None
    """GDAL driver, for formats written through pyogrio."""
    needs_geometry: bool = False
    """Only layers with geometry can be written (FlatGeobuf, GeoJSON)."""


FORMATS_BY_EXT: dict[str, Format] = {
    f.ext: f
    for f in (
        Format("gpkg", "application/geopackage+sqlite3", "GPKG"),
        Format("fgb", "application/flatgeobuf", "FlatGeobuf", needs_geometry=True),
        Format("parquet", "application/vnd.apache.parquet"),
        Format("geojson", "application/geo+json", "GeoJSON", needs_geometry=True),
        Format("csv", "text/csv; charset=utf-8"),
        Format("xlsx", "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"),
        # A tiled layer's vector tiles in one file (layers.export.tile_archives).
        Format("pmtiles", "application/vnd.pmtiles", needs_geometry=True),
        Format("mbtiles", "application/vnd.sqlite3", needs_geometry=True),
        Format("json", "application/json"),
        Format("pdf", "application/pdf"),
        # A QGIS project archive (a zip holding the .qgs).
        Format("qgz", "application/zip"),
        # GDAL's column types of a CSV, read beside it.
        Format("csvt", "text/plain; charset=utf-8"),
    )
}
#: Formats a store layer can be exported to.
FORMATS: tuple[str, ...] = ("gpkg", "fgb", "parquet", "geojson", "csv", "xlsx", "pmtiles", "mbtiles")
#: Formats that hold a layer's vector tiles rather than its features (tiled layers only).
TILE_FORMATS: tuple[str, ...] = ("pmtiles", "mbtiles")
#: Formats of a table without geometry.
TABLE_FORMATS: tuple[str, ...] = tuple(f for f in FORMATS if not FORMATS_BY_EXT[f].needs_geometry)
#: File formats of a target list (a selection of villages).
TARGET_FORMATS: tuple[str, ...] = ("json", "csv", "xlsx", "gpkg", "pdf")
#: Media type of every format.
MEDIA_TYPES: dict[str, str] = {ext: f.media_type for ext, f in FORMATS_BY_EXT.items()}
