"""Type aliases shared across the library."""

from __future__ import annotations

from typing import Literal, NotRequired, TypeAlias, TypedDict

import numpy as np
from numpy.typing import NDArray

CellIds: TypeAlias = NDArray[np.uint64]
"""H3 cell indexes as unsigned 64-bit integers."""

FloatArray: TypeAlias = NDArray[np.float64]
IntArray: TypeAlias = NDArray[np.int64]
BoolArray: TypeAlias = NDArray[np.bool_]

BBox: TypeAlias = tuple[float, float, float, float]
"""(min lon, min lat, max lon, max lat) in CRS84."""

Weights: TypeAlias = dict[str, float]
"""Indicator or dimension name -> weight."""

DeprivedWhen: TypeAlias = Literal["below", "above"]
"""Which side of its cutoff an indicator's value is deprived on (equal is never deprived)."""


class SourceDict(TypedDict):
    """An indicator's ``source`` as JSON."""

    document: str
    article: str
    year: int


class IndicatorDict(TypedDict):
    """One ``[[indicator]]`` as JSON (`layers.scoring.spec.spec_to_dict`)."""

    name: str
    column: str
    dimension: str
    weight: float
    cutoff: float
    deprived_when: DeprivedWhen
    source: NotRequired[SourceDict]
    rationale: NotRequired[str]


class SpecDict(TypedDict):
    """A spec as JSON: what `layers.scoring.spec.spec_to_dict` writes and `spec_from_dict` reads."""

    k: float
    indicator: list[IndicatorDict]
