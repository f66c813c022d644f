"""``sasaran target`` and ``sasaran changes``.

The files a selection is written as (``--format xlsx`` ...) come from `layers.export.targets`,
the same writer ``POST /targets?f=...`` uses.
"""

from __future__ import annotations

import json
import os
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Annotated, Any

import typer

from layers.errors import InvalidQuery
from layers.export import TARGET_FORMATS as FILE_FORMATS
from layers.export import target_filename, write_targets, write_text
from layers.export.wording import LANGS, selected_table
from layers.rounding import round_record
from layers.targeting.selection import (
    DEFAULT_COST_FIXED,
    DEFAULT_COST_PER_PERSON,
    DEFAULT_SCENARIOS,
    DEFAULT_SEED,
    TargetResult,
)

#: ``--format`` values: the file formats plus ``table`` (for people, on standard output).
TARGET_FORMATS: tuple[str, ...] = (*FILE_FORMATS, "table")
CHANGE_FORMATS: tuple[str, ...] = ("json", "csv", "table")


def _table(result: TargetResult) -> str:
    s = result.summary
    frame = result.selected_frame()[
        [
            "rank",
            "village_code",
            "village_name",
            "kabupaten_name",
            "people_reached",
            "cost",
            "M0",
            "confidence",
        ]
    ]
    budget = "" if s["budget"] is None else f" of {s['budget']:,.0f}"
    head = (
        f"{s['n_selected']} villages, {s['people_reached']:,.0f} people reached "
        f"({100 * (s['coverage'] or 0):.1f}% of {s['objective_total']:,.0f}), "
        f"cost {s['total_cost']:,.0f}{budget}; {result.status}"
        + (f": {result.reason}" if result.reason else "")
    )
    return head + "\n" + frame.to_string(index=False, float_format=lambda v: f"{v:,.3f}") + "\n"


@contextmanager
def _quiet_stdout() -> Iterator[None]:
    """Send what native code prints to fd 1 (HiGHS does) to stderr, keeping stdout for the answer."""
    sys.stdout.flush()
    saved = os.dup(1)
    try:
        os.dup2(2, 1)
        yield
    finally:
        sys.stdout.flush()
        os.dup2(saved, 1)
        os.close(saved)


# ------------------------------------------------------------------------------------------------
# Commands
# ------------------------------------------------------------------------------------------------


def _pairs(items: list[str] | None, option: str, kind: type) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for item in items or []:
        key, sep, value = item.partition("=")
        try:
            if not sep or not key.strip():
                raise ValueError
            out[key.strip()] = kind(value)
        except ValueError:
            raise InvalidQuery(
                f"{option}: expected KEY=VALUE with a {kind.__name__} value, got '{item}'"
            ) from None
    return out


def target_command(
    store: Annotated[Path, typer.Option("--store", help="Layer store directory.")] = Path("store"),
    year: Annotated[int | None, typer.Option("--year", help="Poverty-table year (default: latest).")] = None,
    objective: Annotated[
        str, typer.Option("--objective", help="mpi_poor (default), m0_people, income_poor or dimension.")
    ] = "mpi_poor",
    dimension: Annotated[str | None, typer.Option("--dimension", help="With --objective dimension.")] = None,
    budget: Annotated[float | None, typer.Option("--budget", help="Total budget (Rupiah).")] = None,
    cost_fixed: Annotated[
        float, typer.Option("--cost-fixed", help="Cost per village (Rupiah).")
    ] = DEFAULT_COST_FIXED,
    cost_per_person: Annotated[
        float, typer.Option("--cost-per-person", help="Cost per person reached (Rupiah).")
    ] = DEFAULT_COST_PER_PERSON,
    max_villages: Annotated[int | None, typer.Option("--max-villages", help="At most N villages.")] = None,
    kabupaten_min: Annotated[
        list[str] | None, typer.Option("--kabupaten-min", help="CODE=N: at least N villages there.")
    ] = None,
    kabupaten_max: Annotated[
        list[str] | None, typer.Option("--kabupaten-max", help="CODE=N: at most N villages there.")
    ] = None,
    include: Annotated[
        list[str] | None, typer.Option("--include", help="Village code always selected.")
    ] = None,
    exclude: Annotated[
        list[str] | None, typer.Option("--exclude", help="Village code never selected.")
    ] = None,
    min_score: Annotated[
        float | None, typer.Option("--min-score", help="Skip villages with M0 below.")
    ] = None,
    priority: Annotated[
        list[str] | None,
        typer.Option(
            "--priority", help="GROUP=W for elderly, disabled, female_headed_hh (see docs/targeting.md)."
        ),
    ] = None,
    indicators: Annotated[
        Path | None, typer.Option("--indicators", help="Indicator spec TOML (default: the store's).")
    ] = None,
    k: Annotated[str | None, typer.Option("--k", help="Poverty cutoff in (0, 1], e.g. 1/3.")] = None,
    scenarios: Annotated[
        int, typer.Option("--scenarios", help="Scenarios behind the confidence.")
    ] = DEFAULT_SCENARIOS,
    seed: Annotated[int, typer.Option("--seed", help="Seed of the scenarios.")] = DEFAULT_SEED,
    time_limit: Annotated[
        float | None, typer.Option("--time-limit", hidden=True, help="Ignored (deprecated).")
    ] = None,
    fmt: Annotated[
        str, typer.Option("--format", help="json (default), csv, table, xlsx, gpkg or pdf (a briefing).")
    ] = "json",
    lang: Annotated[
        str, typer.Option("--lang", help="id (default) or en: headers and words of csv, xlsx and pdf.")
    ] = "id",
    out: Annotated[
        Path | None, typer.Option("--out", help="Output file (default: stdout, or a name here).")
    ] = None,
) -> None:
    """Choose villages for a programme: the most people reached within budget and quotas."""
    from layers.scoring.rescore import ScoringFrame, store_spec
    from layers.scoring.spec import load_spec, spec_to_dict
    from layers.store import LayerStore
    from layers.targeting.selection import TargetRequest, select_targets

    if fmt not in TARGET_FORMATS:
        raise InvalidQuery(f"--format: expected one of {', '.join(TARGET_FORMATS)}, got {fmt!r}")
    if lang not in LANGS:
        raise InvalidQuery(f"--lang: expected one of {', '.join(LANGS)}, got {lang!r}")
    raw: dict[str, Any] = {
        "year": year, "objective": objective, "dimension": dimension, "budget": budget,
        "cost_fixed": cost_fixed, "cost_per_person": cost_per_person, "max_villages": max_villages,
        "kabupaten_min": _pairs(kabupaten_min, "--kabupaten-min", int),
        "kabupaten_max": _pairs(kabupaten_max, "--kabupaten-max", int),
        "include": include or [], "exclude": exclude or [], "min_score": min_score,
        "priority": _pairs(priority, "--priority", float), "k": k,
        "spec": spec_to_dict(load_spec(indicators)) if indicators else None,
        "scenarios": scenarios, "seed": seed, "time_limit_s": time_limit,
    }  # fmt: skip
    request = TargetRequest.from_dict(raw).check()  # before the store loads: bad input fails fast
    opened = LayerStore.open(store)
    with _quiet_stdout():
        frame = ScoringFrame.from_store(opened)
        villages = opened.layer("villages")
        result = select_targets(frame, villages, request, store_spec(opened))
    if fmt in ("xlsx", "gpkg", "pdf") or (out is not None and fmt != "table"):
        target = out or Path(target_filename(result, fmt, opened.synthetic))
        write_targets(result, target, fmt, villages, opened.synthetic, lang, opened.provenance)
        note = " (SYNTHETIC demo data)" if opened.synthetic else ""
        typer.echo(f"Wrote {target}: {result.summary['n_selected']} villages{note}", err=out is None)
    elif fmt == "json":
        shown = round_record(result.to_json())
        write_text(json.dumps(shown, indent=2, ensure_ascii=False, allow_nan=False) + "\n", None)
    elif fmt == "csv":
        write_text(selected_table(result, lang).to_csv(index=False), None)
    else:
        write_text(_table(result), out)


def changes_command(
    store: Annotated[Path, typer.Option("--store", help="Layer store directory.")] = Path("store"),
    year_from: Annotated[int | None, typer.Option("--from", help="First year (default: earliest).")] = None,
    year_to: Annotated[int | None, typer.Option("--to", help="Second year (default: latest).")] = None,
    level: Annotated[
        str, typer.Option("--level", help="kabupaten (default), kecamatan or village.")
    ] = "kabupaten",
    rank_by: Annotated[str, typer.Option("--rank-by", help="M0 (default), H or poverty_rate.")] = "M0",
    fmt: Annotated[str, typer.Option("--format", help="json (default), csv or table.")] = "json",
    out: Annotated[Path | None, typer.Option("--out", help="Write here instead of standard output.")] = None,
) -> None:
    """Change in poverty rate, H and M0 between two years, ranked by the largest fall."""
    from layers.scoring.change import changes, changes_to_csv, changes_to_json
    from layers.scoring.rescore import ScoringFrame, store_spec
    from layers.store import LayerStore

    if fmt not in CHANGE_FORMATS:
        raise InvalidQuery(f"--format: expected one of {', '.join(CHANGE_FORMATS)}, got {fmt!r}")
    opened = LayerStore.open(store)
    frame = ScoringFrame.from_store(opened)
    years = sorted(frame.years)
    first, last = year_from or years[0], year_to or years[-1]
    spec = store_spec(opened)
    table = changes(frame, opened, first, last, spec, level, rank_by)
    if fmt == "json":
        answer = changes_to_json(table, first, last, level, spec, rank_by)
        text = json.dumps(answer, indent=2, ensure_ascii=False, allow_nan=False) + "\n"
    elif fmt == "csv":
        text = changes_to_csv(table)
    else:
        text = table.to_string(index=False, float_format=lambda v: f"{v:,.4f}") + "\n"
    write_text(text, out)
