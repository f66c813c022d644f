"""The README's and docs' figures about the demo are the demo's: computed from the default demo's
store (``sasaran demo`` then ``sasaran build``), so they cannot drift when the generator changes.

Every "N hexagons / villages / kecamatan / kabupaten / cells" said of the demo is checked against
the store, and so are the paging figures the README derives from the hexagon count (GDAL's and
QGIS's requests for the whole layer).
"""

from __future__ import annotations

import math
import re
from pathlib import Path

import pytest

from layers.store import LayerStore

ROOT = Path(__file__).resolve().parents[1]
#: Documents that describe the default demo.
DOCUMENTS = [ROOT / "README.md", ROOT / "docs" / "method.md", ROOT / "docs" / "benchmarks.md"]
#: "the demo's 206,355 hexagons", "demo province (1,500 villages, 206,355 H3 cells)": a count said
#: of the demo within a few words.
DEMO_COUNT = re.compile(
    r"demo(?:'s| province)?\b[^.\n|]{0,40}?\b(\d{1,3}(?:,\d{3})*|\d+) "
    r"(hexagons|H3 cells|cells|villages|kecamatan|kabupaten)\b"
)
#: A feature page asked for by QGIS and by the service's ``next`` links; GDAL 3.6's first request.
PAGE, GDAL_FIRST = 1000, 10


@pytest.fixture(scope="module")
def counts(default_demo: tuple[Path, Path]) -> dict[str, int]:
    store = LayerStore.open(default_demo[1])
    hexagons = store.rows("hexagons")
    return {
        "hexagons": hexagons,
        "H3 cells": hexagons,
        "cells": hexagons,
        "villages": store.rows("villages"),
        "kecamatan": store.rows("kecamatan"),
        "kabupaten": store.rows("kabupaten"),
    }


def _demo_counts(path: Path) -> list[tuple[int, str, str]]:
    text = path.read_text(encoding="utf-8")
    return [(int(m.group(1).replace(",", "")), m.group(2), m.group(0)) for m in DEMO_COUNT.finditer(text)]


def test_every_demo_count_in_the_documents_is_the_demo_s(counts: dict[str, int]) -> None:
    found = [(path.name, *entry) for path in DOCUMENTS for entry in _demo_counts(path)]
    assert len(found) >= 5, found  # the pattern sees the documents' figures
    wrong = [
        f"{name}: '{said}' (the demo has {counts[unit]:,})"
        for name, number, unit, said in found
        if number != counts[unit]
    ]
    assert not wrong, "\n".join(wrong)


def test_the_readme_paging_figures_follow_from_the_hexagons(counts: dict[str, int]) -> None:
    n = counts["hexagons"]
    readme = " ".join((ROOT / "README.md").read_text(encoding="utf-8").split())
    # QGIS: a probe, then pages of 1,000 (the probe's features are asked for again).
    assert f"{math.ceil(n / PAGE):,} pages for the demo's {n:,} hexagons" in readme
    # GDAL 3.6: 10 features, then the next links' 1,000 each, and the last (empty) page; without
    # the service's next links, 10 at a time.
    follow = 2 + math.ceil((n - GDAL_FIRST) / PAGE)
    alone = 2 + math.ceil(n / GDAL_FIRST)
    assert f"the demo's {n:,} hexagons makes {follow:,} items requests instead of {alone:,}" in readme


def test_the_pattern_reads_counts_as_written() -> None:
    text = "the demo's 206,355 hexagons; the demo province (1,500 villages, 14 kabupaten)"
    found = [(int(m.group(1).replace(",", "")), m.group(2)) for m in DEMO_COUNT.finditer(text)]
    assert found == [(206355, "hexagons"), (1500, "villages")]
