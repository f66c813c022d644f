"""docs/method.md's indicator table says what layers/data/indicators.toml does."""

from __future__ import annotations

import re
import tomllib
from pathlib import Path

from layers.scoring.spec import IndicatorSpec, default_spec, parse_fraction

ROOT = Path(__file__).resolve().parents[1]


def table_rows(section: str = "## The default indicator set") -> list[list[str]]:
    text = (ROOT / "docs" / "method.md").read_text(encoding="utf-8")
    part = text.split(section, 1)[1].split("\n## ", 1)[0]
    rows = [line for line in part.splitlines() if line.startswith("| `")]
    # Cells are split on " | " so that a "|" could never hide inside a cell unnoticed.
    return [[cell.strip() for cell in line.strip().strip("|").split(" | ")] for line in rows]


def check_table(section: str, spec_file: str, spec: IndicatorSpec) -> None:
    """The section's table names every indicator of the spec, in order, with its weight, cutoff,
    source and rationale exactly as the spec file says."""
    raw = tomllib.loads((ROOT / "layers" / "data" / spec_file).read_text(encoding="utf-8"))
    rows = table_rows(section)
    assert [re.match(r"`([^`]+)`", row[0]).group(1) for row in rows] == spec.names  # type: ignore[union-attr]
    for row, entry, ind in zip(rows, raw["indicator"], spec.indicators, strict=True):
        assert len(row) == 5, row
        _, weight, when, source, rationale = row
        assert parse_fraction(weight, ind.name) == ind.weight, ind.name
        direction, value = when.split()
        assert direction == ind.deprived_when and float(value) == ind.cutoff, ind.name
        assert ind.source is not None
        assert source == f"{ind.source.document}; {ind.source.article} ({ind.source.year})", ind.name
        assert rationale == ind.rationale == entry["rationale"], ind.name


def test_method_table_matches_indicators_toml() -> None:
    check_table("## The default indicator set", "indicators.toml", default_spec())


def test_method_table_matches_household_indicators_toml() -> None:
    from layers.scoring.households import default_household_spec

    check_table("## The household indicator set", "household_indicators.toml", default_household_spec())


def test_the_table_is_read() -> None:
    # The parser above finds every row (a broken table would otherwise pass with zero rows).
    assert len(table_rows()) == len(default_spec()) >= 11
