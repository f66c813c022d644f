"""Type aliases shared across the library."""

from __future__ import annotations

from typing import TypeAlias

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
