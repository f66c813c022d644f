"""docs/method.md's indicator table says what layers/data/indicators.toml does."""

from __future__ import annotations

import re
import tomllib
from pathlib import Path

from layers.scoring.spec import default_spec, parse_fraction

ROOT = Path(__file__).resolve().parents[1]


def table_rows() -> list[list[str]]:
    text = (ROOT / "docs" / "method.md").read_text(encoding="utf-8")
    section = text.split("## The default indicator set", 1)[1].split("\n## ", 1)[0]
    rows = [line for line in section.splitlines() if line.startswith("| `")]
    # Cells are split on " | " so that a "|" could never hide inside a cell unnoticed.
    return [[cell.strip() for cell in line.strip().strip("|").split(" | ")] for line in rows]


def test_method_table_matches_indicators_toml() -> None:
    raw = tomllib.loads((ROOT / "layers" / "data" / "indicators.toml").read_text(encoding="utf-8"))
    spec = default_spec()
    rows = table_rows()
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


def test_the_table_is_read() -> None:
    # The parser above finds every row (a broken table would otherwise pass with zero rows).
    assert len(table_rows()) == len(default_spec()) >= 11


def household_rows() -> list[list[str]]:
    text = (ROOT / "docs" / "method.md").read_text(encoding="utf-8")
    section = text.split("## The household indicator set", 1)[1].split("\n## ", 1)[0]
    rows = [line for line in section.splitlines() if line.startswith("| `")]
    return [[cell.strip() for cell in line.strip().strip("|").split(" | ")] for line in rows]


def test_method_table_matches_household_indicators_toml() -> None:
    from layers.scoring.households import default_household_spec

    raw = tomllib.loads((ROOT / "layers" / "data" / "household_indicators.toml").read_text(encoding="utf-8"))
    spec = default_household_spec()
    rows = household_rows()
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
