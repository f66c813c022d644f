"""``sasaran target`` and ``sasaran changes``.

The options of ``sasaran target`` are generated from `TargetRequest` (one per field, with its
description and default), so the command line, ``POST /targets`` and its OpenAPI schema cannot
drift apart; ``--request FILE.json`` reads a whole request (options given as well override it).
Amounts of money are read as planners write them (`layers.targeting.amounts`: ``2.000.000.000``,
``2 miliar``, ``2M``) and echoed on standard error. The files a selection is written as
(``--format xlsx`` ...) come from `layers.export.targets`, the same writer ``POST /targets?f=`` uses.
"""

from __future__ import annotations

import inspect
import json
import os
import sys
import typing
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Annotated, Any

import typer

from layers.errors import InvalidQuery, excerpt
from layers.export.formats import TARGET_FORMATS as FILE_FORMATS
from layers.export.wording import LANGS
from layers.targeting.amounts import parse_amount, say_amount
from layers.targeting.request import TargetRequest

#: ``--format`` values: the file formats plus ``table`` (for people, on standard output).
TARGET_FORMATS: tuple[str, ...] = (*FILE_FORMATS, "table")
CHANGE_FORMATS: tuple[str, ...] = ("json", "csv", "table")
#: Request fields read as amounts of Rupiah (Indonesian habits accepted, the amount echoed).
MONEY = ("budget", "cost_fixed", "cost_per_person", "max_cost_per_person")
#: Request fields given on the command line as KEY=VALUE, repeatable, and their value type.
PAIRS: dict[str, type] = {
    "kabupaten_min": int,
    "kabupaten_max": int,
    "priority": float,
    "dimension_weights": float,
}
#: What switches a money option off (no budget, no guard).
NONE_WORDS = ("none", "tanpa", "null")
#: Request fields not offered as options (``spec`` comes from ``--indicators``).
SKIPPED = ("spec",)


def _table(result: Any) -> str:
    s = result.summary
    rows = [
        f"{v.rank:>4}  {v.village_code:<12} {v.village_name[:28]:<28} {v.kabupaten_name[:24]:<24} "
        f"{v.people_reached:>8,} {v.cost:>16,} {v.M0 if v.M0 is not None else float('nan'):>7.4f} "
        f"{'' if v.confidence is None else f'{100 * v.confidence:.0f}%':>5}"
        for v in result.selected
    ]
    head = (
        f"{s.n_selected} villages, {s.people_reached:,} people reached "
        f"({100 * (s.coverage or 0):.2f}% of {s.objective_total:,}), cost {s.total_cost:,}"
        + ("" if s.budget is None else f" of {s.budget:,}")
        + f"; {result.status}"
        + (f": {result.reason}" if result.reason else "")
    )
    columns = f"{'rank':>4}  {'village_code':<12} {'village_name':<28} {'kabupaten_name':<24} "
    columns += f"{'people':>8} {'cost':>16} {'M0':>7} {'conf':>5}"
    return "\n".join([head, columns, *rows]) + "\n"


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
# Options from the request model
# ------------------------------------------------------------------------------------------------


def _pairs(items: list[str], option: str, kind: type) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for item in items:
        for part in item.split(","):
            key, sep, value = part.partition("=")
            try:
                if not sep or not key.strip():
                    raise ValueError
                out[key.strip()] = kind(value)
            except ValueError:
                raise InvalidQuery(
                    f"{option}: expected KEY=VALUE with a {kind.__name__} value, got '{excerpt(part, 40)}'"
                ) from None
    return out


def _codes(items: list[str]) -> list[str]:
    """Codes given as repeated options and/or comma-separated (``--kabupaten 6201,6204``)."""
    return [code.strip() for item in items for code in item.split(",") if code.strip()]


def _option_type(name: str, annotation: Any) -> tuple[type, str]:
    """The option's Python type for typer, and the metavar shown in ``--help``."""
    if name in MONEY:
        return str, "RUPIAH"
    if name in PAIRS:
        return list[str], "KEY=VALUE"
    origin = typing.get_origin(annotation)
    args = [a for a in typing.get_args(annotation) if a is not type(None)]
    if origin is list:
        return list[str], "CODE"
    if name == "k":
        return str, "K"
    inner = args[0] if args else annotation
    inner = typing.get_args(inner)[0] if typing.get_origin(inner) is Annotated else inner
    if typing.get_origin(inner) is typing.Literal:
        return str, "|".join(typing.get_args(inner))
    if inner is int or (isinstance(inner, type) and issubclass(inner, int)):
        return int, "INTEGER"
    if inner is float or (isinstance(inner, type) and issubclass(inner, float)):
        return float, "NUMBER"
    return str, "TEXT"


def _default_text(value: Any) -> str:
    if value is None or value == [] or value == {}:
        return ""
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    # parentheses, not brackets: typer's help is rich markup, where "[...]" is a style
    return f" (default {value:,})".replace(",", ".") if isinstance(value, int) else f" (default {value})"


def request_parameters() -> list[inspect.Parameter]:
    """One ``--option`` per `TargetRequest` field (`SKIPPED` aside), each defaulting to "not given"."""
    out = []
    for name, info in TargetRequest.model_fields.items():
        if name in SKIPPED:
            continue
        kind, metavar = _option_type(name, info.annotation)
        text = (info.description or "") + _default_text(info.get_default(call_default_factory=True))
        if name in MONEY:
            text += " Typed as 2.000.000.000, 2 miliar, 2M or 2e9; none: no limit."
        if name in PAIRS or kind == list[str]:
            text += " Repeat, or separate with commas."
        option = typer.Option(
            f"--{name.replace('_', '-')}", help=text, metavar=metavar, hidden=name == "time_limit_s"
        )
        annotation = Annotated[kind | None, option]  # type: ignore[valid-type]
        out.append(
            inspect.Parameter(name, inspect.Parameter.KEYWORD_ONLY, default=None, annotation=annotation)
        )
    return out


def request_from_options(
    given: dict[str, Any], request_file: Path | None, indicators: Path | None
) -> TargetRequest:
    """The request: ``--request`` file first, then every option given, validated by the model."""
    from layers.scoring.spec import load_spec, spec_to_dict

    raw: dict[str, Any] = {}
    if request_file is not None:
        try:
            raw = json.loads(request_file.read_text(encoding="utf-8"))
        except (OSError, ValueError) as exc:
            raise InvalidQuery(
                f"--request {request_file}: cannot read a JSON request ({excerpt(exc)})"
            ) from None
        if not isinstance(raw, dict):
            raise InvalidQuery(f"--request {request_file}: a request is a JSON object of fields")
    for name, value in given.items():
        if value is None or value == []:
            continue
        if name in MONEY and str(value).strip().lower() in NONE_WORDS:
            raw[name] = None  # "--max-cost-per-person none": no guard; "--budget none": no budget
        elif name in MONEY:
            amount = parse_amount(value, f"--{name.replace('_', '-')}")
            typer.echo(f"{name}: {say_amount(amount, 'id')}", err=True)
            raw[name] = amount
        elif name in PAIRS:
            raw[name] = _pairs(value, f"--{name.replace('_', '-')}", PAIRS[name])
        elif isinstance(value, list):
            raw[name] = _codes(value)
        elif name in ("min_score", "time_limit_s") and isinstance(value, int):
            raw[name] = float(value)
        else:
            raw[name] = value
    if indicators is not None:
        raw["spec"] = spec_to_dict(load_spec(indicators))
    return TargetRequest.from_dict(raw).check()


def _run_target(
    store: Path,
    request_file: Path | None,
    indicators: Path | None,
    fmt: str,
    lang: str,
    out: Path | None,
    slide: bool,
    given: dict[str, Any],
) -> None:
    from layers.atomic import write_text
    from layers.export.targets import target_filename, targets_csv, write_targets
    from layers.scoring.rescore import ScoringFrame, store_spec
    from layers.store import LayerStore
    from layers.targeting.selection import select_targets

    if fmt not in TARGET_FORMATS:
        raise InvalidQuery(f"--format: expected one of {', '.join(TARGET_FORMATS)}, got {fmt!r}")
    if lang not in LANGS:
        raise InvalidQuery(f"--lang: expected one of {', '.join(LANGS)}, got {lang!r}")
    request = request_from_options(given, request_file, indicators)  # before the store loads: fail fast
    opened = LayerStore.open(store)
    with _quiet_stdout():
        # only the register year the request scores: a one-off run needs no other
        frame = ScoringFrame.from_store(opened, register_year=request.year)
        result = select_targets(frame, opened.attributes("villages"), request, store_spec(opened))
    if fmt in ("xlsx", "gpkg", "pdf") or (out is not None and fmt != "table"):
        target = out or Path(target_filename(result, fmt, opened.synthetic))
        villages = opened.layer("villages") if fmt in ("gpkg", "pdf") else None  # geometry for the map
        write_targets(result, target, fmt, villages, opened.synthetic, lang, opened.provenance, slide=slide)
        note = " (SYNTHETIC demo data)" if opened.synthetic else ""
        typer.echo(f"Wrote {target}: {result.summary.n_selected} villages{note}", err=out is None)
    elif fmt == "json":
        write_text(result.model_dump_json(indent=2) + "\n", None)
    elif fmt == "csv":
        write_text(targets_csv(result, lang), None)
    else:
        write_text(_table(result), out)


def _target_command() -> Callable[..., None]:
    """``sasaran target``: fixed options (store, output) plus one per request field."""

    def target_command(**kwargs: Any) -> None:
        """Choose villages for a programme: the most people reached within budget and quotas.

        Every request option is documented in docs/targeting.md; --request FILE.json gives them
        as one JSON object (the body of POST /targets), options override it.
        """
        fixed = {
            name: kwargs.pop(name)
            for name in ("store", "request", "indicators", "fmt", "lang", "out", "slide")
        }
        _run_target(
            fixed["store"], fixed["request"], fixed["indicators"], fixed["fmt"], fixed["lang"], fixed["out"],
            fixed["slide"], kwargs,
        )  # fmt: skip

    def option(name: str, kind: Any, default: Any, flag: str, text: str) -> inspect.Parameter:
        annotation = Annotated[kind, typer.Option(flag, help=text)]
        return inspect.Parameter(name, inspect.Parameter.KEYWORD_ONLY, default=default, annotation=annotation)

    fixed = [
        option("store", Path, Path("store"), "--store", "Layer store directory."),
        option(
            "request", Path | None, None, "--request", "A whole request as JSON (the POST /targets body)."
        ),
        option(
            "indicators", Path | None, None, "--indicators", "Indicator spec TOML (default: the store's)."
        ),
        option("fmt", str, "json", "--format", "json (default), csv, table, xlsx, gpkg or pdf (a briefing)."),
        option("lang", str, "id", "--lang", "id (default) or en: headers and words of csv, xlsx and pdf."),
        option("out", Path | None, None, "--out", "Output file (default: stdout, or a name here)."),
        option("slide", bool, False, "--slide", "PDF: add a slide-sized (16:9) summary page first."),
    ]
    parameters = [*fixed, *request_parameters()]
    target_command.__signature__ = inspect.Signature(parameters)  # type: ignore[attr-defined]
    target_command.__annotations__ = {p.name: p.annotation for p in parameters} | {"return": None}
    return target_command


target_command = _target_command()


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
    """Change in poverty rate, H and M0 between two years, ranked by the largest fall.

    Without a household register a village's H moves only when one of its indicators crosses its
    cutoff: such villages name the indicator (``crossing``) and are not ranked as improvements.
    """
    from layers.atomic import write_text
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
