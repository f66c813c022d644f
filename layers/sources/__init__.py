"""Reading and validating source files into Sasaran's canonical schema (level 1: reads user files).

One module per kind of source: `common` (how a refused value is reported), `vector` (layers, CRS,
villages), `tables` (CSV/XLSX/Parquet and numbers as written), `poverty`, `households` (the register of
families), `facilities` (points,
roads, rivers, barriers) and `osm`. The readers a build calls are re-exported here.
"""

from layers.sources.common import SHOWN, as_code, not_found, refuse, sha256, unreadable
from layers.sources.facilities import (
    check_facility_kind,
    check_line_classes,
    check_places,
    read_barriers,
    read_declared_facility,
    read_facilities,
    read_health,
    read_lines,
    read_schools,
)
from layers.sources.households import check_register_file, read_households, validate_families
from layers.sources.poverty import read_poverty
from layers.sources.tables import TABLE_KINDS, csv_text, parse_numbers, sniff_delimiter, table_kind
from layers.sources.vector import (
    VILLAGE_COLUMNS,
    Part,
    bbox_in_file_crs,
    is_osm_extract,
    read_villages,
    surroundings,
)

__all__ = [
    "SHOWN",
    "TABLE_KINDS",
    "VILLAGE_COLUMNS",
    "Part",
    "as_code",
    "bbox_in_file_crs",
    "check_facility_kind",
    "check_line_classes",
    "check_places",
    "check_register_file",
    "csv_text",
    "is_osm_extract",
    "not_found",
    "parse_numbers",
    "read_barriers",
    "read_declared_facility",
    "read_facilities",
    "read_health",
    "read_households",
    "read_lines",
    "read_poverty",
    "read_schools",
    "read_villages",
    "refuse",
    "sha256",
    "sniff_delimiter",
    "surroundings",
    "table_kind",
    "unreadable",
    "validate_families",
]
