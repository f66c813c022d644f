"""A unit table for `sasaran mpi`: read it, check the columns a spec names, build its value matrix.

Units are any rows to score (households, villages, survey clusters). Bad input raises
`SourceError` (file, row, field) or `ConfigError` (spec file, indicator).
"""

from __future__ import annotations

import csv
import io
import zipfile
from pathlib import Path

import numpy as np
import pandas as pd

from layers.errors import ConfigError, SourceError
from layers.scoring.spec import IndicatorSpec
from layers.sources.tables import csv_text, table_kind


def read_units(path: Path, text_columns: tuple[str, ...] = ()) -> pd.DataFrame:
    """Read a unit table from CSV, Parquet or XLSX (the suffixes of `layers.sources.TABLE_KINDS`).

    CSV files are read like the build's poverty table: UTF-8 (or a BOM's encoding), the field
    separator detected from the header (``,`` ``;`` tab ``|``).

    Parameters
    ----------
    path
        The table.
    text_columns
        Columns to keep as text (group codes such as ``"6201"`` keep their leading zeros).

    Returns
    -------
    pandas.DataFrame
        The table as read.

    Raises
    ------
    SourceError
        When the file is missing, has an unknown suffix, or cannot be parsed.
    """
    kind = table_kind(path)
    if not path.is_file():
        raise SourceError(str(path), None, None, "file not found")
    dtype = dict.fromkeys(text_columns, "string")
    try:
        if kind == "csv":
            text, delimiter, _ = csv_text(path)
            header = next(csv.reader([text.split("\n", 1)[0]], delimiter=delimiter), [])
            wanted = {c: t for c, t in dtype.items() if c in header}
            return pd.read_csv(io.StringIO(text), sep=delimiter, dtype=wanted)
        if kind == "excel":
            return pd.read_excel(path, dtype=dtype or None)
        return pd.read_parquet(path)
    except (OSError, ValueError, KeyError, zipfile.BadZipFile) as exc:
        raise SourceError(str(path), None, None, f"cannot read as {kind}: {exc}") from None


def _columns_hint(df: pd.DataFrame) -> str:
    cols = [str(c) for c in df.columns]
    return ", ".join(cols[:25]) + (", ..." if len(cols) > 25 else "")


def require_column(df: pd.DataFrame, column: str, file: Path, option: str) -> None:
    """`SourceError` naming the option when the table lacks ``column``."""
    if column not in df.columns:
        raise SourceError(
            str(file), None, column, f"no such column (named by {option}); columns: {_columns_hint(df)}"
        )


def _numeric(df: pd.DataFrame, column: str, file: Path) -> np.ndarray:
    """The column as float64; missing values become NaN; anything else non-numeric is an error."""
    raw = df[column]
    values = pd.to_numeric(raw, errors="coerce")
    bad = values.isna().to_numpy() & raw.notna().to_numpy()
    if bad.any():
        row = int(np.flatnonzero(bad)[0])
        raise SourceError(str(file), row + 1, column, f"value {raw.iloc[row]!r} is not a number")
    return values.to_numpy(dtype=np.float64, na_value=np.nan)


def value_matrix(df: pd.DataFrame, spec: IndicatorSpec, file: Path) -> np.ndarray:
    """Build the ``(n, m)`` indicator value matrix from a unit table, in spec order.

    Parameters
    ----------
    df
        The unit table.
    spec
        The indicator spec naming the columns.
    file
        The table's file, for error messages.

    Returns
    -------
    numpy.ndarray
        float64, one column per indicator; NaN where a value is missing.

    Raises
    ------
    ConfigError
        When an indicator's column is not in the table (names the spec file and the indicator).
    SourceError
        When a value is not numeric (names the file, the 1-based data row and the column).
    """
    for ind in spec.indicators:
        if ind.column not in df.columns:
            raise ConfigError(
                f"{spec.source}, indicator '{ind.name}': column '{ind.column}' not found in {file} "
                f"(columns: {_columns_hint(df)})"
            )
    out = np.empty((len(df), len(spec)))
    for j, ind in enumerate(spec.indicators):
        out[:, j] = _numeric(df, ind.column, file)
    return out


def population_weights(df: pd.DataFrame, column: str, file: Path) -> np.ndarray:
    """Each unit's weight from ``column``: finite and ≥ 0, else `SourceError` naming the row."""
    weights = _numeric(df, column, file)
    bad = ~(np.isfinite(weights) & (weights >= 0))
    if bad.any():
        row = int(np.flatnonzero(bad)[0])
        value = df[column].iloc[row]
        problem = "missing weight" if pd.isna(value) else f"weight {value!r} must be a finite number >= 0"
        raise SourceError(str(file), row + 1, column, problem)
    return weights


def group_positions(df: pd.DataFrame, column: str, file: Path) -> tuple[np.ndarray, list[str]]:
    """Each unit's group position and the sorted group labels (a missing value is an error)."""
    raw = df[column]
    missing = raw.isna().to_numpy()
    if missing.any():
        raise SourceError(str(file), int(np.flatnonzero(missing)[0]) + 1, column, "missing group value")
    codes, labels = pd.factorize(raw.astype("string"), sort=True)
    return codes.astype(np.intp), [str(label) for label in labels]
