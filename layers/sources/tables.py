"""Table files (CSV, XLSX, Parquet): reading them as written, and numbers as the user wrote them."""

from __future__ import annotations

import codecs
import csv
import io
import re
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from layers.config import TableSource
from layers.errors import SourceError
from layers.sources.common import not_found

#: Field separators tried on a CSV header when none is declared.
DELIMITERS = (",", ";", "\t", "|")

#: A number in Indonesian digit grouping: 1.053, 12.345.678 (and 1.053,5).
DOT_GROUPED = re.compile(r"^[+-]?\d{1,3}(?:\.\d{3})+(?:,\d+)?$")


#: Table files Sasaran reads, by suffix: the poverty table and `sasaran mpi`'s unit tables alike.
TABLE_KINDS: dict[str, str] = {
    ".csv": "csv", ".txt": "csv", ".tsv": "csv",
    ".xlsx": "excel", ".xls": "excel",
    ".parquet": "parquet", ".pq": "parquet",
}  # fmt: skip


def table_kind(path: Path) -> str:
    """``csv``, ``excel`` or ``parquet`` by the file's suffix; `SourceError` for any other."""
    kind = TABLE_KINDS.get(path.suffix.lower())
    if kind is None:
        raise SourceError(
            path.name, None, None, f"unsupported table format '{path.suffix}' (use CSV, XLSX or Parquet)"
        )
    return kind


def csv_text(
    path: Path, encoding: str | None = None, delimiter: str | None = None, section: str = "sources.poverty"
) -> tuple[str, str, str]:
    """A CSV file's text, its field separator (declared or detected) and how it was read.

    ``section`` is the config section that declares the file's encoding, for the hint of an error.
    """
    text, used = _decode(path.read_bytes(), path.name, encoding, delimiter, section)
    separator = delimiter or sniff_delimiter(text.split("\n", 1)[0])
    how = f"read as {used} CSV with delimiter {separator!r}" + (
        "" if delimiter else ' (detected from the header; declare delimiter = "..." if wrong)'
    )
    return text, separator, how


def read_table(path: Path, source: TableSource) -> tuple[pd.DataFrame, str]:
    """The table, every cell as the user wrote it, and how it was read (for messages)."""
    if not path.exists():
        raise not_found(path)
    kind = table_kind(path)
    if kind == "csv":
        return _read_csv(path, source)
    try:
        if kind == "excel":
            # object, not str: a number cell stays a number, so a declared decimal comma applies
            # only to numbers typed as text.
            return pd.read_excel(path, sheet_name=source.sheet or 0, dtype=object), ""
        return pd.read_parquet(path), ""
    except Exception as exc:
        raise SourceError(path.name, None, None, f"cannot read ({exc})") from None


def _read_csv(path: Path, source: TableSource) -> tuple[pd.DataFrame, str]:
    text, delimiter, how = csv_text(path, source.encoding, source.delimiter, source.section)
    try:
        frame = pd.read_csv(
            io.StringIO(text), sep=delimiter, dtype=str, keep_default_na=False, na_values=[""]
        )
    except Exception as exc:  # pandas' ParserError names the line
        raise SourceError(path.name, None, None, f"cannot read ({exc}); {how}") from None
    return frame, how


def sniff_delimiter(header: str) -> str:
    """The field separator that splits a CSV header into the most fields (``,`` on a tie).

    Examples
    --------
    >>> sniff_delimiter("kode_desa;tahun;jumlah_penduduk")
    ';'
    >>> sniff_delimiter("kode_desa,nama;desa")
    ','
    """
    fields = {d: len(next(csv.reader([header], delimiter=d), [])) for d in DELIMITERS}
    return max(DELIMITERS, key=lambda d: fields[d])


def _decode(
    data: bytes, file: str, declared: str | None, delimiter: str | None, section: str
) -> tuple[str, str]:
    """Text of a CSV: the declared encoding, else UTF-8 (a BOM, UTF-16's too, is honoured)."""
    if declared:
        encoding = declared
    elif data.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        encoding = "utf-16"
    else:
        encoding = "utf-8-sig"
    try:
        return data.decode(encoding), ("UTF-8" if encoding == "utf-8-sig" else encoding)
    except UnicodeDecodeError as exc:
        # Name the line, the character and the column, as an editor shows them, not a byte offset.
        line = data.count(b"\n", 0, exc.start) + 1
        line_start = data.rfind(b"\n", 0, exc.start) + 1
        before = data[line_start : exc.start].decode(encoding, errors="replace")
        header = data.split(b"\n", 1)[0].decode(encoding, errors="replace").strip("\r\ufeff")
        sep = delimiter or sniff_delimiter(header)
        names = next(csv.reader([header], delimiter=sep), [])
        index = before.count(sep)
        field = names[index] if line > 1 and index < len(names) else None
        byte = data[exc.start : exc.end].hex(" ").upper()
        if declared:
            problem = f"byte(s) {byte} at character {len(before) + 1} are not {declared} text"
            hint = f"Check the encoding declared in [{section}]"
        else:
            problem = f"byte(s) {byte} at character {len(before) + 1} are not UTF-8 text"
            hint = (
                f"Save the file as UTF-8, or declare its encoding in [{section}], e.g. "
                'encoding = "cp1252" (Excel on Windows) or encoding = "latin-1"'
            )
        place = f"row {line - 1} (line {line})" if line > 1 else "line 1 (header)"
        raise SourceError(file, place, field, f"{problem}. {hint}") from None


def _text_cells(column: pd.Series) -> np.ndarray:
    """Which cells hold text (a CSV's all do; a spreadsheet mixes numbers and text)."""
    kind = pd.api.types.infer_dtype(column, skipna=True)
    if kind in ("string", "empty"):
        return column.notna().to_numpy()
    if kind in ("integer", "floating", "decimal", "mixed-integer-float", "boolean"):
        return np.zeros(len(column), bool)
    # Mixed spreadsheet columns only: one isinstance per row of a table, not per cell.
    return column.map(lambda value: isinstance(value, str)).to_numpy(dtype=bool)


def parse_numbers(column: pd.Series, number_format: tuple[str, str] | None) -> tuple[np.ndarray, np.ndarray]:
    """Parse a table column into float64 (NaN where blank) and flag cells that are not numbers.

    Parameters
    ----------
    column
        Cells as read: text (CSV), numbers and text (XLSX) or numbers (Parquet).
    number_format
        ``(decimal, thousands)`` as declared, or ``None``: then ``1053.5`` style, no grouping.

    Returns
    -------
    values, not_number
        Float values (NaN for blank or unparseable cells) and where a non-blank cell is no number.

    Examples
    --------
    >>> values, bad = parse_numbers(pd.Series(["1.053", "5,17", "", "x"]), (",", "."))
    >>> values.tolist()[:2], bad.tolist()
    ([1053.0, 5.17], [False, False, False, True])
    """
    if pd.api.types.is_numeric_dtype(column.dtype) and not pd.api.types.is_bool_dtype(column.dtype):
        return column.to_numpy(dtype=np.float64, na_value=np.nan), np.zeros(len(column), bool)
    values = np.full(len(column), np.nan)
    not_number = np.zeros(len(column), bool)
    is_text = _text_cells(column)
    numbers = ~is_text & column.notna().to_numpy()
    if numbers.any():
        values[numbers] = pd.to_numeric(column[numbers], errors="coerce").to_numpy(np.float64)
        not_number[numbers] = np.isnan(values[numbers])
    if not is_text.any():
        return values, not_number
    # Arrow's regex match and string-to-double cast run in C++: ~25 ms per 166,000 cells (all of
    # Indonesia's villages over two years), where pandas.to_numeric on strings takes ~190 ms.
    text = pc.utf8_trim_whitespace(pa.array(column[is_text], pa.string(), from_pandas=True))
    blank = pc.fill_null(pc.equal(pc.utf8_length(text), 0), True).to_numpy(zero_copy_only=False)
    decimal, thousands = number_format or (".", "")
    if thousands == " ":  # spreadsheets group with a non-breaking space as often as a space
        text = pc.replace_substring(text, "\u00a0", " ")
    integer = rf"(?:\d{{1,3}}(?:{re.escape(thousands)}\d{{3}})+|\d+)" if thousands else r"\d+"
    mark = re.escape(decimal)
    pattern = rf"^[+-]?(?:{integer}(?:{mark}\d*)?|{mark}\d+)(?:[eE][+-]?\d+)?$"
    shaped = pc.fill_null(pc.match_substring_regex(text, pattern), False)
    plain = pc.replace_substring(text, thousands, "") if thousands else text
    plain = pc.replace_substring(plain, decimal, ".") if decimal != "." else plain
    parsed = pc.cast(pc.if_else(shaped, plain, None), pa.float64()).to_numpy(zero_copy_only=False)
    parsed = np.array(parsed, np.float64)  # writable, NaN for null
    # "inf" is a number to Python but not a count: flagged as non-finite, not as text.
    infinite = pc.fill_null(pc.match_substring_regex(text, r"^[+-]?inf(inity)?$", ignore_case=True), False)
    parsed[infinite.to_numpy(zero_copy_only=False)] = np.inf
    values[is_text] = parsed
    not_number[is_text] = ~blank & np.isnan(parsed)
    return values, not_number
