"""What every exported column is called and typed, from the field dictionary (`layers.schema.FIELDS`).

One place decides, for all formats: the title of a column in Bahasa Indonesia and English (QGIS
aliases, ``gpkg_data_columns``, Parquet field metadata, the XLSX dictionary sheet), that counts of
people, households and cells are integers everywhere (a count is a whole number in GeoPackage,
FlatGeobuf and Parquet as in JSON), and the GDAL type of each CSV column (its ``.csvt``: codes stay
text). A field added to the dictionary (a new poverty column, the households' basis) gets its title
and type in every export with no code here.

Examples
--------
>>> title("M0").both()
'Indeks M0 / Adjusted headcount M0'
>>> csvt_types(pd.DataFrame({"village_code": ["6201"], "population": pd.array([5], "Int64")}))
['String', 'Integer64']
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd

from layers.schema import BUILTIN_FACILITY_KINDS, FacilityKind, Field, Text, field_for

#: Units whose values are whole numbers (a count, a year): integers in every format.
WHOLE_UNITS = frozenset({"people", "households", "count", "year"})
#: Columns exports add beside the store's (CSV and XLSX).
EXTRA_FIELDS: dict[str, Field] = {
    "lon": Field(Text("Longitude (point on the feature)", "Bujur (titik pada fitur)"), "degrees"),
    "lat": Field(Text("Latitude (point on the feature)", "Lintang (titik pada fitur)"), "degrees"),
    "geometry_wkt": Field(Text("Geometry (WKT, lon lat)", "Geometri (WKT, bujur lintang)"), "text"),
}


def field(name: str, kinds: Sequence[FacilityKind] = BUILTIN_FACILITY_KINDS) -> Field | None:
    """The dictionary entry of an exported column (None for a column it does not know)."""
    return EXTRA_FIELDS.get(name) or field_for(name, tuple(kinds))


def title(name: str, kinds: Sequence[FacilityKind] = BUILTIN_FACILITY_KINDS) -> Text:
    """A column's title in both languages (its own name when the dictionary has none)."""
    entry = field(name, kinds)
    return entry.title if entry is not None else Text(name, name)


def description(name: str, kinds: Sequence[FacilityKind] = BUILTIN_FACILITY_KINDS) -> str:
    """A column's meaning and unit, in one sentence."""
    entry = field(name, kinds)
    if entry is None:
        return ""
    meaning = f"{entry.description}. " if entry.description else ""
    return f"{meaning}Unit: {entry.unit}."


def whole_counts(frame: pd.DataFrame) -> pd.DataFrame:
    """``frame`` with every column of a whole unit (people, households, counts, years) as ``Int64``.

    Aggregates such as ``mpi_poor_population`` (H × people) are stored with full precision; an
    export shows them as the whole people they count, in every format alike.
    """
    out = frame.copy()
    for name in out.columns:
        entry = field(str(name))
        column = out[name]
        if entry is None or entry.unit not in WHOLE_UNITS or not pd.api.types.is_numeric_dtype(column):
            continue
        if pd.api.types.is_bool_dtype(column) or pd.api.types.is_integer_dtype(column):
            continue
        values = column.to_numpy(np.float64, na_value=np.nan)
        finite = np.isfinite(values)
        whole = pd.array(np.where(finite, np.round(values), 0).astype(np.int64), dtype="Int64")
        whole[~finite] = pd.NA
        out[name] = whole
    return out


def csvt_types(frame: pd.DataFrame) -> list[str]:
    """GDAL's type of each column of a CSV written from ``frame`` (the ``.csvt`` beside it).

    Codes and names are ``String`` (so ``6201`` stays a code), counts ``Integer64``, measures
    ``Real``, flags ``Integer(Boolean)``, ``lon``/``lat`` ``CoordX``/``CoordY`` and the
    geometry ``WKT``.
    """
    types = []
    for name in frame.columns:
        column = frame[name]
        if name == "geometry_wkt":
            types.append("WKT")
        elif name in ("lon", "lat"):
            types.append("CoordX" if name == "lon" else "CoordY")
        elif pd.api.types.is_bool_dtype(column) or _is_flag(column):
            types.append("Integer(Boolean)")
        elif pd.api.types.is_integer_dtype(column):
            types.append("Integer64")
        elif pd.api.types.is_numeric_dtype(column):
            types.append("Real")
        elif pd.api.types.is_datetime64_any_dtype(column):
            types.append("Date")
        else:
            types.append("String")
    return types


def _is_flag(column: pd.Series) -> bool:
    """An object column of booleans with missing values (nullable flags such as ``poor``)."""
    if column.dtype != object:
        return False
    present = column.dropna()
    return len(present) > 0 and all(isinstance(v, bool | np.bool_) for v in present.head(1000))


def csvt_line(frame: pd.DataFrame) -> str:
    """The ``.csvt`` file's one line."""
    return ",".join(f'"{t}"' for t in csvt_types(frame)) + "\n"


def dictionary_rows(
    columns: Sequence[str], kinds: Sequence[FacilityKind] = BUILTIN_FACILITY_KINDS
) -> list[tuple[str, str, str, str, str]]:
    """(column, Indonesian title, English title, unit, meaning) of each column, for a dictionary sheet."""
    rows = []
    for name in columns:
        entry = field(name, kinds)
        if entry is None:
            rows.append((name, name, name, "", ""))
        else:
            rows.append((name, entry.title.id, entry.title.en, entry.unit, entry.description))
    return rows
