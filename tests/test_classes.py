"""The one classification: breaks, the scoring tolerance, legends of present classes, the docs."""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import pytest

from layers.maps.classes import M0, SCORE, classes_json
from layers.scoring.af import K_TOLERANCE
from layers.store import LayerStore

ROOT = Path(__file__).resolve().parents[1]


def test_class_boundaries_follow_the_scoring_rules():
    # On k within rounding error: poor, as the scores count it; on 0.2: vulnerable; 0: its own class.
    assert SCORE.index([sum([1 / 33] * 11), 0.2, 0.0, 1e-6, 1.0]).tolist() == [3, 2, 0, 1, 5]
    assert SCORE.index([1 / 3 - 2 * K_TOLERANCE]).tolist() == [2]
    assert M0.index([0.0, 1e-6, 0.01, 0.65, np.nan]).tolist() == [0, 1, 2, 8, -1]
    assert M0.present([0.0, 0.7, np.nan]) == [0, 8]


def test_labels_in_both_languages_and_colours_distinct():
    for classes in (SCORE, M0):
        assert len({c.color for c in classes.classes}) == len(classes.classes)
        for c in classes.classes:
            assert c.label.en and c.label.id and c.label.en != c.label.id
    assert "0,2 ≤ c < 1/3" in SCORE.classes[2].label.id  # decimal comma in Indonesian
    body = classes_json()
    assert body["m0"]["breaks"] == M0.breaks and len(body["score"]["classes"]) == 6


def test_no_class_holds_more_than_30_percent_of_populated_villages(store: LayerStore):
    """The criterion of docs/method.md on the test province (the doc's table is the full demo)."""
    years = store.layer("village_years")
    for _, rows in years.groupby("year"):
        populated = rows[rows["population"] > 0]
        shares = M0.shares(populated["M0"].to_numpy(float))
        assert max(shares) <= 0.30 + 1 / len(populated), shares


def test_method_doc_lists_the_classes():
    text = (ROOT / "docs" / "method.md").read_text(encoding="utf-8")
    section = text.split("## Map classes", 1)[1].split("\n## ", 1)[0]
    # The M0 class table (the section's other tables are about hexagons).
    rows = [
        line
        for line in section.splitlines()
        if line.startswith("| ") and "%" in line and "M0" in line.split("|")[1]
    ]
    assert len(rows) == len(M0.classes)
    shares = [[float(v) for v in re.findall(r"([\d.]+) %", row)] for row in rows]
    assert all(max(s[:2]) <= 30 for s in shares)
    assert sum(s[0] for s in shares) == pytest.approx(100, abs=0.5)
