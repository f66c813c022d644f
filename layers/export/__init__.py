"""Everything Sasaran writes as a file: store layers, target lists and text, one way each.

- `formats`: every format's extension, media type and GDAL driver (one table).
- `layers.atomic` (re-exported): the one atomic writer (temporary name beside the target, then rename).
- `gpkg`: GeoPackage writing (1.3, chunked, indexed, MultiPolygon areas, QGIS styles).
- `store_layers`: exports of store layers, cached once per build for the service.
- `targets`: the downloads of a village selection; `wording` their words in Bahasa Indonesia and
  English; `briefing` the printable PDF.

The writers are imported on first use (`layers._lazy`).
"""

from layers._lazy import lazy_exports
from layers.atomic import atomic_path, write_text
from layers.export.formats import FORMATS, MEDIA_TYPES, TABLE_FORMATS, TARGET_FORMATS

__all__ = [
    "FORMATS",
    "MEDIA_TYPES",
    "TABLE_FORMATS",
    "TARGET_FORMATS",
    "atomic_path",
    "cached_export",
    "export_all_gpkg",
    "export_filename",
    "export_layer",
    "formats_for",
    "layer_description",
    "target_filename",
    "write_targets",
    "write_text",
]

# The writers load on first use: `import layers.export` (the service's routers do) must not load
# GDAL writers, openpyxl or the PDF briefing's matplotlib and fpdf2 before a download needs them.
__getattr__ = lazy_exports(
    __name__,
    {
        "cached_export": "layers.export.store_layers",
        "export_all_gpkg": "layers.export.store_layers",
        "export_filename": "layers.export.store_layers",
        "export_layer": "layers.export.store_layers",
        "formats_for": "layers.export.store_layers",
        "layer_description": "layers.export.store_layers",
        "target_filename": "layers.export.targets",
        "write_targets": "layers.export.targets",
    },
)
