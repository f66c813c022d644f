"""``sasaran mpi``: score any unit table (CSV, Parquet, XLSX) against an indicator spec (docs/contracts.md).

This module converts at the edges only: `layers.scoring.unit_table` reads the table and builds the
``(n, m)`` value matrix, `layers.scoring.af` scores it, and this module writes JSON, CSV or a table
for people. Bad input raises `SourceError` (file, row, field) or `ConfigError` (spec file,
indicator), which the CLI turns into exit status 2.
"""

from __future__ import annotations

import csv
import io
import json
import logging
import math
from pathlib import Path
from typing import Annotated, Any

import numpy as np
import typer

from layers.atomic import write_text
from layers.errors import ConfigError, InvalidQuery
from layers.scoring.af import Summary, score_units, summarize, summary_to_json, summary_total
from layers.scoring.spec import IndicatorSpec, load_spec, parse_fraction, with_overrides

log = logging.getLogger("sasaran.mpi")

OUTPUT_FORMATS = ("json", "csv", "table")


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
    # Here, not at the top: reading tables loads the sources' stack, which other commands never need.
    from layers.scoring.unit_table import (
        group_positions,
        population_weights,
        read_units,
        require_column,
        value_matrix,
    )

    # Checked here rather than by typer: a usage error must exit 2 like any other bad input.
    if format not in OUTPUT_FORMATS:
        raise InvalidQuery(f"--format: expected one of {', '.join(OUTPUT_FORMATS)}, got {format!r}")
    spec = _resolve_k(load_spec(indicators), k)
    df = read_units(units, text_columns=(group_by,) if group_by else ())
    for column, option in ((weight_column, "--weight-column"), (group_by, "--group-by")):
        if column is not None:
            require_column(df, column, units, option)
    values = value_matrix(df, spec, units)
    population = population_weights(df, weight_column, units) if weight_column else None
    groups, labels = group_positions(df, group_by, units) if group_by else (None, None)

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
