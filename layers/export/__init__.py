"""Everything Sasaran writes as a file: store layers, target lists and text, one way each.

- `formats`: every format's extension, media type and GDAL driver (one table).
- `atomic`: the one atomic writer (temporary name beside the target, then rename).
- `gpkg`: GeoPackage writing (1.3, chunked, indexed, MultiPolygon areas, QGIS styles).
- `store_layers`: exports of store layers, cached once per build for the service.
- `targets`: the downloads of a village selection; `wording` their words in Bahasa Indonesia and
  English; `briefing` the printable PDF.
"""

from layers.atomic import atomic_path, write_text
from layers.export.formats import FORMATS, MEDIA_TYPES, TABLE_FORMATS, TARGET_FORMATS
from layers.export.store_layers import (
    XLSX_DEFAULT_MAX_ROWS,
    cached_export,
    csvt_for,
    export_all_gpkg,
    export_filename,
    export_layer,
    formats_for,
    layer_description,
)
from layers.export.targets import target_filename, write_targets

__all__ = [
    "FORMATS",
    "MEDIA_TYPES",
    "TABLE_FORMATS",
    "TARGET_FORMATS",
    "atomic_path",
    "XLSX_DEFAULT_MAX_ROWS",
    "cached_export",
    "csvt_for",
    "export_all_gpkg",
    "export_filename",
    "export_layer",
    "formats_for",
    "layer_description",
    "target_filename",
    "write_targets",
    "write_text",
]
