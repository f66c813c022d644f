"""The one classification of scores and M0, read by every map: QGIS styles (`layers.maps.qml`), vector
tile styles (MapLibre style JSON), the planner's legend (``GET /classes``) and docs/method.md.

Breaks are **fixed policy bands**, the same for every store, year and area level, so that two
years (or two provinces) are coloured alike and a change of colour is a change of value:

- **Deprivation score c** of a cell: OPHI's cutoffs (vulnerable 0.2, poor k = 1/3, severe 0.5)
  plus c = 0 and 0.75, compared with the scoring tolerance (`layers.scoring.af.K_TOLERANCE`), so a
  cell exactly on 1/3 is drawn as poor, as the scores count it.
- **M0** of an area: most villages of a province have few or no MPI-poor people and the ones a
  programme targets sit in a long upper tail, so the classes are narrow at the bottom
  (M0 = 0, below 0.01, 0.01-0.05) and spread evenly over the tail (0.2, 0.35, 0.5, 0.65), where
  targeting decides. On the default demo no class holds more than 30 % of the populated villages
  (docs/method.md, "Map classes", gives the shares; `tests/test_classes.py` checks them).

Each class starts at its ``start`` (a value ``>= start`` is in that class or a higher one), holds
an English and Indonesian label and a colour (ColorBrewer YlOrRd, colour-blind safe, printable).

Examples
--------
>>> M0.index([0.0, 0.004, 0.3, 0.9]).tolist()
[0, 1, 5, 8]
>>> SCORE.index([1 / 3 - 1e-12]).tolist()  # on k, within rounding: poor
[3]
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from layers.schema import Text
from layers.scoring.af import K_TOLERANCE

#: Smallest positive value: "above zero" classes start here (M0 and c are never this small > 0).
ABOVE_ZERO = 1e-9
#: People a hexagon must hold for a map to colour it by its score (docs/method.md, "Map classes"):
#: scoring counts every cell of 0.5 people or more, but coloured at that threshold near-empty land
#: dominates a map (on the demo, 82 % of the cells with c >= 0.5 hold fewer than 5 people). Cells of
#: 5 people or more (about 7 per km²) are 18 % of the cells and hold 96 % of the people.
MIN_PEOPLE_SHOWN = 5.0


@dataclass(frozen=True)
class Class:
    """One class: values ``>= start`` up to the next class's start."""

    start: float
    label: Text
    color: str


@dataclass(frozen=True)
class Classification:
    """Classes of one attribute, lowest first, and how a feature without a value is drawn."""

    name: str
    attribute: str
    title: Text
    classes: tuple[Class, ...]
    no_data: Text
    no_data_color: str
    """``#rrggbbaa``; transparent for cells where nobody lives."""

    @property
    def breaks(self) -> list[float]:
        """Starts of every class but the first (MapLibre ``step`` stops)."""
        return [c.start for c in self.classes[1:]]

    @property
    def colors(self) -> list[str]:
        """Colours, lowest class first."""
        return [c.color for c in self.classes]

    def index(self, values: Sequence[float] | np.ndarray) -> np.ndarray:
        """Class position of each value; -1 for a missing value (NaN)."""
        array = np.asarray(values, dtype=np.float64)
        out = np.searchsorted(np.asarray(self.breaks), array, side="right")
        return np.where(np.isfinite(array), out, -1)

    def present(self, values: Sequence[float] | np.ndarray) -> list[int]:
        """Positions of the classes some value falls in (a legend lists only these)."""
        found = self.index(values)
        return sorted(int(i) for i in np.unique(found[found >= 0]))

    def shares(self, values: Sequence[float] | np.ndarray) -> list[float]:
        """Share of the (non-missing) values in each class."""
        found = self.index(values)
        found = found[found >= 0]
        counts = np.bincount(found, minlength=len(self.classes))
        return (counts / max(len(found), 1)).tolist()

    def to_json(self) -> dict[str, Any]:
        """As ``GET /classes`` serves it to the planner and other clients."""
        return {
            "name": self.name,
            "attribute": self.attribute,
            "title": {"en": self.title.en, "id": self.title.id},
            "breaks": self.breaks,
            "classes": [
                {"start": c.start, "label": {"en": c.label.en, "id": c.label.id}, "color": c.color}
                for c in self.classes
            ],
            "no_data": {"label": {"en": self.no_data.en, "id": self.no_data.id}, "color": self.no_data_color},
        }


def _range(low: float, high: float | None, symbol: str) -> Text:
    """``0.05 ≤ M0 < 0.1`` in English, ``0,05 ≤ M0 < 0,1`` in Indonesian (decimal comma); from 0:
    ``0 < M0 < 0.01`` (the class of exactly 0 is separate)."""

    def num(value: float, comma: bool) -> str:
        text = {1 / 3: "1/3"}.get(value, f"{value:g}")
        return text.replace(".", ",") if comma else text

    def one(comma: bool) -> str:
        if high is None:
            return f"{symbol} ≥ {num(low, comma)}"
        return f"{num(low, comma)} {'<' if low == 0 else '≤'} {symbol} < {num(high, comma)}"

    return Text(one(False), one(True))


def _labelled(words: Text, low: float, high: float | None, symbol: str) -> Text:
    numbers = _range(low, high, symbol)
    return Text(f"{words.en} ({numbers.en})", f"{words.id} ({numbers.id})")


#: ColorBrewer YlOrRd, 9 classes (the score uses 6 of them).
YL_OR_RD_9 = (
    "#ffffcc", "#ffeda0", "#fed976", "#feb24c", "#fd8d3c", "#fc4e2a", "#e31a1c", "#bd0026", "#800026"
)  # fmt: skip

SCORE = Classification(
    "score",
    "score",
    Text("Deprivation score c", "Skor deprivasi c"),
    (
        Class(0.0, Text("Not deprived (c = 0)", "Tidak terdeprivasi (c = 0)"), "#ffffcc"),
        Class(
            ABOVE_ZERO, _labelled(Text("Some deprivation", "Sedikit terdeprivasi"), 0, 0.2, "c"), "#fed976"
        ),
        Class(0.2 - K_TOLERANCE, _labelled(Text("Vulnerable", "Rentan"), 0.2, 1 / 3, "c"), "#feb24c"),
        Class(1 / 3 - K_TOLERANCE, _labelled(Text("Poor", "Miskin"), 1 / 3, 0.5, "c"), "#fc4e2a"),
        Class(0.5 - K_TOLERANCE, _labelled(Text("Severe", "Miskin parah"), 0.5, 0.75, "c"), "#bd0026"),
        Class(0.75 - K_TOLERANCE, _labelled(Text("Most severe", "Sangat parah"), 0.75, None, "c"), "#800026"),
    ),
    Text("No score (fewer than 0.5 people)", "Tanpa skor (kurang dari 0,5 penduduk)"),
    "#00000000",
)

_M0_STARTS = (0.0, ABOVE_ZERO, 0.01, 0.05, 0.1, 0.2, 0.35, 0.5, 0.65)
_M0_WORDS = (
    Text("No MPI-poor", "Tidak ada miskin multidimensi"),
    Text("Very low", "Sangat rendah"),
    Text("Low", "Rendah"),
    Text("Low to medium", "Rendah-sedang"),
    Text("Medium", "Sedang"),
    Text("High", "Tinggi"),
    Text("Very high", "Sangat tinggi"),
    Text("Severe", "Parah"),
    Text("Most severe", "Sangat parah"),
)


def _m0_classes() -> tuple[Class, ...]:
    out = [Class(0.0, Text("No MPI-poor (M0 = 0)", "Tidak ada miskin multidimensi (M0 = 0)"), "#f0f0f0")]
    for i in range(1, len(_M0_STARTS)):
        low = 0.0 if i == 1 else _M0_STARTS[i]
        high = _M0_STARTS[i + 1] if i + 1 < len(_M0_STARTS) else None
        out.append(Class(_M0_STARTS[i], _labelled(_M0_WORDS[i], low, high, "M0"), YL_OR_RD_9[i]))
    return tuple(out)


M0 = Classification(
    "m0",
    "M0",
    Text("Adjusted headcount ratio M0", "Indeks M0"),
    _m0_classes(),
    Text("No data", "Tidak ada data"),
    "#cccccc",
)

#: Every classification, by the schema style that uses it (`layers.schema.LayerSchema.style`).
CLASSIFICATIONS: dict[str, Classification] = {"score": SCORE, "m0": M0}


def classes_json() -> dict[str, Any]:
    """Every classification, as ``GET /classes`` serves it."""
    return {name: c.to_json() for name, c in CLASSIFICATIONS.items()}
