"""``sasaran mpi``: score any unit table (CSV, Parquet, XLSX) against an indicator spec (DESIGN §9).

This module converts at the edges only: it reads the table, checks the columns the spec and the
options name, builds the ``(n, m)`` value matrix, calls `layers.scoring`, and writes JSON, CSV or
a table for people. Bad input raises `SourceError` (file, row, field) or `ConfigError` (spec file,
indicator), which the CLI turns into exit status 2.
"""

from __future__ import annotations

import csv
import io
import json
import logging
import math
import os
import tempfile
import zipfile
from pathlib import Path
from typing import Annotated, Any

import numpy as np
import pandas as pd
import typer

from layers.errors import ConfigError, InvalidQuery, SourceError
from layers.indicator_spec import IndicatorSpec, load_spec, parse_fraction, with_overrides
from layers.scoring import Summary, score_units, summarize, summary_to_json, summary_total

log = logging.getLogger("sasaran.mpi")

OUTPUT_FORMATS = ("json", "csv", "table")
_READERS = {".csv": "csv", ".txt": "csv", ".parquet": "parquet", ".pq": "parquet", ".xlsx": "excel"}


def read_units(path: Path, text_columns: tuple[str, ...] = ()) -> pd.DataFrame:
    """Read a unit table from CSV, Parquet or XLSX.

    Parameters
    ----------
    path
        The table; the format follows the suffix (``.csv``, ``.parquet``/``.pq``, ``.xlsx``).
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
    kind = _READERS.get(path.suffix.lower())
    if kind is None:
        raise SourceError(
            str(path), None, None, f"unknown table format '{path.suffix}'; use .csv, .parquet or .xlsx"
        )
    if not path.is_file():
        raise SourceError(str(path), None, None, "file not found")
    dtype = dict.fromkeys(text_columns, "string")
    try:
        if kind == "csv":
            with path.open(encoding="utf-8-sig") as fh:
                header = next(csv.reader(fh), [])
            return pd.read_csv(
                path, dtype={c: t for c, t in dtype.items() if c in header}, encoding="utf-8-sig"
            )
        if kind == "excel":
            return pd.read_excel(path, dtype=dtype or None)
        return pd.read_parquet(path)
    except (OSError, ValueError, KeyError, UnicodeDecodeError, zipfile.BadZipFile) as exc:
        raise SourceError(str(path), None, None, f"cannot read as {kind}: {exc}") from None


def _columns_hint(df: pd.DataFrame) -> str:
    cols = [str(c) for c in df.columns]
    return ", ".join(cols[:25]) + (", ..." if len(cols) > 25 else "")


def _require_column(df: pd.DataFrame, column: str, file: Path, option: str) -> None:
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


def _population(df: pd.DataFrame, column: str, file: Path) -> np.ndarray:
    weights = _numeric(df, column, file)
    bad = ~(np.isfinite(weights) & (weights >= 0))
    if bad.any():
        row = int(np.flatnonzero(bad)[0])
        value = df[column].iloc[row]
        problem = "missing weight" if pd.isna(value) else f"weight {value!r} must be a finite number >= 0"
        raise SourceError(str(file), row + 1, column, problem)
    return weights


def _group_positions(df: pd.DataFrame, column: str, file: Path) -> tuple[np.ndarray, list[str]]:
    raw = df[column]
    missing = raw.isna().to_numpy()
    if missing.any():
        raise SourceError(str(file), int(np.flatnonzero(missing)[0]) + 1, column, "missing group value")
    codes, labels = pd.factorize(raw.astype("string"), sort=True)
    return codes.astype(np.intp), [str(label) for label in labels]


def _cell(value: Any) -> str:
    if isinstance(value, int | np.integer):
        return str(int(value))
    value = float(value)
    return repr(value) if math.isfinite(value) else ""


def _csv_row(summary: Summary, label: str, i: int) -> list[str]:
    scalars = [
        summary.n_units[i],
        summary.n_excluded[i],
        summary.population[i],
        summary.pop_share[i],
        summary.H[i],
        summary.A[i],
        summary.M0[i],
        summary.vulnerable[i],
        summary.severe[i],
        summary.contribution_to_M0[i],
    ]
    vectors = [
        summary.uncensored_headcount[i],
        summary.censored_headcount[i],
        summary.contribution_indicator[i],
        summary.contribution_dimension[i],
    ]
    return [label] + [_cell(v) for v in scalars] + [_cell(v) for vec in vectors for v in vec]


def render_csv(summary: Summary, spec: IndicatorSpec, labels: list[str] | None) -> str:
    """One CSV row for all units (group ``all``) then one per group.

    Parameters
    ----------
    summary
        Output of `summarize`.
    spec
        The indicator spec.
    labels
        Group labels, or None when ungrouped.

    Returns
    -------
    str
        CSV text; undefined values are empty cells.
    """
    header = [
        "group",
        "n_units",
        "n_excluded",
        "population",
        "pop_share",
        "H",
        "A",
        "M0",
        "vulnerable",
        "severe",
        "contribution_to_M0",
        *(f"uncensored_{name}" for name in spec.names),
        *(f"censored_{name}" for name in spec.names),
        *(f"contribution_{name}" for name in spec.names),
        *(f"contribution_{dim}" for dim in spec.dimensions),
    ]
    buf = io.StringIO()
    writer = csv.writer(buf, lineterminator="\n")
    writer.writerow(header)
    total = summary_total(summary, spec) if labels is not None else summary
    writer.writerow(_csv_row(total, "all", 0))
    for i, label in enumerate(labels or []):
        writer.writerow(_csv_row(summary, label, i))
    return buf.getvalue()


def _fmt(value: float, percent: bool = True) -> str:
    if not math.isfinite(value):
        return "–"
    return f"{100 * value:.1f}%" if percent else f"{value:.3f}"


def render_table(summary: Summary, spec: IndicatorSpec, labels: list[str] | None, title: str) -> str:
    """Plain-text tables for people: headline figures (all, then per group) and each indicator's part.

    Parameters
    ----------
    summary
        Output of `summarize`.
    spec
        The indicator spec.
    labels
        Group labels, or None when ungrouped.
    title
        What was scored (e.g. the unit file's name).

    Returns
    -------
    str
        The rendered tables.
    """
    from rich.console import Console
    from rich.table import Table

    total = summary_total(summary, spec) if labels is not None else summary
    head = Table(title=f"Multidimensional poverty (Alkire-Foster), k = {summary.k:.4g}: {title}")
    for name in ("group", "units", "excluded", "population", "H", "A", "M0", "vulnerable", "severe"):
        head.add_column(name, justify="left" if name == "group" else "right")
    rows = [("all", total, 0)] + [(label, summary, i) for i, label in enumerate(labels or [])]
    for label, s, i in rows:
        head.add_row(
            label,
            str(s.n_units[i]),
            str(s.n_excluded[i]),
            f"{s.population[i]:,.0f}",
            _fmt(s.H[i]),
            _fmt(s.A[i]),
            _fmt(s.M0[i], percent=False),
            _fmt(s.vulnerable[i]),
            _fmt(s.severe[i]),
        )
    parts = Table(title="Indicators: share deprived, share poor and deprived, contribution to M0 (all units)")
    for name in ("indicator", "dimension", "weight", "deprived", "poor & deprived", "contribution"):
        parts.add_column(name, justify="left" if name in ("indicator", "dimension") else "right")
    for j, ind in enumerate(spec.indicators):
        parts.add_row(
            ind.name,
            ind.dimension,
            f"{ind.weight:.4g}",
            _fmt(total.uncensored_headcount[0, j]),
            _fmt(total.censored_headcount[0, j]),
            _fmt(total.contribution_indicator[0, j]),
        )
    console = Console(file=io.StringIO(), width=120, no_color=True, highlight=False)
    console.print(head)
    console.print(parts)
    return console.file.getvalue()  # type: ignore[attr-defined]


def write_text(text: str, out: Path | None) -> None:
    """Write ``text`` to ``out`` atomically (temporary file, then rename), or to stdout.

    Parameters
    ----------
    text
        What to write.
    out
        Destination file, or None for standard output.
    """
    if out is None:
        typer.echo(text, nl=False)
        return
    out.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{out.name}.", suffix=".tmp", dir=out.parent)
    try:
        with os.fdopen(fd, "w", encoding="utf-8", newline="") as fh:
            fh.write(text)
        os.replace(tmp, out)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def _resolve_k(spec: IndicatorSpec, k: str | None) -> IndicatorSpec:
    if k is None:
        return spec
    value = parse_fraction(k, "--k")
    if not 0 < value <= 1:
        raise ConfigError(f"--k: must be in (0, 1], a share such as 1/3 or 0.3333, not a percent; got {k}")
    return with_overrides(spec, k=value)


def mpi_command(
    units: Annotated[Path, typer.Argument(help="Unit table: CSV, Parquet or XLSX, one row per unit.")],
    indicators: Annotated[Path, typer.Option("--indicators", help="Indicator spec (TOML).")],
    k: Annotated[
        str | None, typer.Option("--k", help="Poverty cutoff in (0, 1], e.g. 1/3 (default: the spec's k).")
    ] = None,
    weight_column: Annotated[
        str | None, typer.Option("--weight-column", help="Population weight of each unit (default 1).")
    ] = None,
    group_by: Annotated[
        str | None, typer.Option("--group-by", help="Column whose values define subgroups.")
    ] = None,
    format: Annotated[
        str, typer.Option("--format", help="json (default), csv, or table (for people).")
    ] = "json",
    out: Annotated[Path | None, typer.Option("--out", help="Write here instead of standard output.")] = None,
) -> None:
    """Score a unit table with the Alkire-Foster method: H, A, M0, headcounts, contributions."""
    # Checked here rather than by typer: a usage error must exit 2 like any other bad input.
    if format not in OUTPUT_FORMATS:
        raise InvalidQuery(f"--format: expected one of {', '.join(OUTPUT_FORMATS)}, got {format!r}")
    spec = _resolve_k(load_spec(indicators), k)
    df = read_units(units, text_columns=(group_by,) if group_by else ())
    for column, option in ((weight_column, "--weight-column"), (group_by, "--group-by")):
        if column is not None:
            _require_column(df, column, units, option)
    values = value_matrix(df, spec, units)
    population = _population(df, weight_column, units) if weight_column else None
    groups, labels = _group_positions(df, group_by, units) if group_by else (None, None)

    scores = score_units(values, spec)
    summary = summarize(scores, spec, population, groups, len(labels) if labels is not None else None)
    answer = summary_to_json(summary, spec, labels)
    if answer["n_excluded"]:
        log.info("%d unit(s) excluded for a missing indicator value", answer["n_excluded"])
    if format == "json":
        text = json.dumps(answer, indent=2, ensure_ascii=False, allow_nan=False) + "\n"
    elif format == "csv":
        text = render_csv(summary, spec, labels)
    else:
        text = render_table(summary, spec, labels, units.name)
    write_text(text, out)
