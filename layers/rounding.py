"""What a person sees: whole people and rupiah, indices to a stated precision, never float noise.

The store keeps full precision; every user-facing output (JSON answers, CSV and XLSX downloads,
the planner) rounds through here, by the unit the field dictionary (`layers.schema.FIELDS`) gives
each column. ``677.0000000000001`` people is shown as ``677``; ``971749999.9999999`` rupiah as
``971750000``; an M0 of ``0.04412345678`` as ``0.0441``.

Examples
--------
>>> round_value("population", 677.0000000000001)
677
>>> round_value("M0", 0.044123456)
0.0441
>>> round_value("unknown_measure", 0.1 + 0.2)
0.3
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from functools import lru_cache
from typing import Any

import numpy as np
import pandas as pd

from layers.schema import field_for

#: Decimal places shown per unit (None: a whole number, as an int).
DECIMALS: dict[str, int | None] = {
    "people": None,
    "households": None,
    "count": None,
    "rupiah": None,
    "year": None,
    "index": 4,
    "fraction": 4,
    "percent": 2,
    "km": 2,
    "km²": 2,
    "minutes": 1,
    "km/h": 1,
    "degrees": 7,
    "ratio": 3,
}
#: Significant digits kept for a number whose field is unknown: enough for any measure, few enough
#: that binary noise (0.1 + 0.2 = 0.30000000000000004) disappears.
SIGNIFICANT = 12


@lru_cache(maxsize=4096)
def decimals_for(name: str) -> int | None:
    """Decimal places of a field (None: whole number); unknown fields get `SIGNIFICANT` digits.

    Cached: every answer asks it of every column, and ``dist_km_<kind>`` fields are built per call.
    """
    field = field_for(name)
    if field is None:
        return -1
    return DECIMALS.get(field.unit, -1)


def finite_or_none(value: Any) -> float | None:
    """A number as JSON holds it, unrounded: a float, or None for NaN and infinities.

    For figures whose precision is the caller's (solver gaps, shares a test compares exactly);
    what a person reads goes through `round_value` instead.

    Examples
    --------
    >>> finite_or_none(np.float32(0.5)), finite_or_none(float("nan")), finite_or_none(np.inf)
    (0.5, None, None)
    """
    number = float(value)
    return number if math.isfinite(number) else None


def round_value(name: str, value: Any) -> Any:
    """One value of field ``name`` as shown to a person (None for NaN, infinities and pandas' NA)."""
    if value is pd.NA:
        return None
    if isinstance(value, bool | np.bool_) or value is None or isinstance(value, str):
        return value
    if not isinstance(value, int | float | np.integer | np.floating):
        return value
    number = float(value)
    if not math.isfinite(number):
        return None
    places = decimals_for(name)
    if places is None:
        # Past 2**53 a double holds only whole numbers anyway, and an int may not fit JSON's int64.
        return int(round(number)) if abs(number) < 2**53 else float(round(number))
    if places < 0:
        return _significant(number)
    return round(number, places)


def _significant(number: float) -> float:
    if number == 0:
        return 0.0
    digits = SIGNIFICANT - 1 - math.floor(math.log10(abs(number)))
    return round(number, max(digits, 0))


def round_array(name: str, values: np.ndarray) -> np.ndarray:
    """A column of field ``name`` as shown: rounded by unit, whole units as integers.

    Non-finite values of a whole unit become None (an object array); others stay NaN/inf for the
    serialiser to write as null.
    """
    if values.dtype.kind != "f":
        return values
    places = decimals_for(name)
    finite = np.isfinite(values)
    if places is None and (np.abs(values[finite]) >= 2**53).any():
        return np.round(values)  # beyond exact integers: whole-valued floats, as they are
    if places is None:
        whole = np.round(np.where(finite, values, 0.0)).astype(np.int64)
        if finite.all():
            return whole
        out = whole.astype(object)
        out[~finite] = None
        return out
    if places < 0:
        return np.array([_significant(v) if ok else v for v, ok in zip(values.tolist(), finite, strict=True)])
    return np.round(values, places)


def round_list(name: str, values: np.ndarray) -> list[Any]:
    """A column of field ``name`` as a JSON list: rounded as shown, None for NaN and infinities.

    Examples
    --------
    >>> round_list("population", np.array([676.9999999, np.nan]))
    [677, None]
    >>> round_list("M0", np.array([0.123456, np.inf]))
    [0.1235, None]
    """
    shown = round_array(name, np.asarray(values, dtype=np.float64)).tolist()
    return [None if isinstance(v, float) and not math.isfinite(v) else v for v in shown]


def round_record(record: Mapping[str, Any]) -> dict[str, Any]:
    """A JSON object with every number rounded by its key; nested objects by their own keys.

    A nested mapping of indicator or dimension names (``deprivations``, ``dimension_share``) is
    rounded as its parent field (a share or headcount: 4 decimals).
    """
    out: dict[str, Any] = {}
    for key, value in record.items():
        if isinstance(value, Mapping):
            parent = key if field_for(key) is not None else None
            out[key] = (
                {k: round_value(parent, v) for k, v in value.items()}
                if parent is not None and not any(isinstance(v, Mapping | list) for v in value.values())
                else round_record(value)
            )
        elif isinstance(value, list):
            out[key] = [round_record(v) if isinstance(v, Mapping) else round_value(key, v) for v in value]
        else:
            out[key] = round_value(key, value)
    return out


def round_frame(frame: pd.DataFrame) -> pd.DataFrame:
    """A copy of a table with each numeric column rounded by its field; whole units as integers.

    Columns of whole units with missing values become pandas' nullable ``Int64``.
    """
    out = frame.copy()
    for name in out.columns:
        column = out[name]
        if not pd.api.types.is_float_dtype(column) or pd.api.types.is_bool_dtype(column):
            continue
        values = column.to_numpy(np.float64)
        finite = np.isfinite(values)
        places = decimals_for(str(name))
        if places is None:
            out[name] = pd.array(np.where(finite, np.round(values), 0).astype(np.int64), dtype="Int64")
            out.loc[~finite, name] = pd.NA
        elif places < 0:
            out[name] = [(_significant(v) if ok else np.nan) for v, ok in zip(values, finite, strict=True)]
        else:
            out[name] = np.where(finite, np.round(values, places), np.nan)
    return out


def is_float_noise(value: float) -> bool:
    """Whether a number carries binary noise: within 1e-12 (relative) of a number with at most six
    decimals without being it (``677.0000000000001``, ``971749999.9999999``). Arithmetic noise is
    ~1e-16 relative; a number rounded to 12 significant digits is never flagged."""
    if not math.isfinite(value) or value == 0:
        return False
    for places in range(7):
        near = round(value, places)
        if near == value:
            return False
        if abs(near - value) <= 1e-12 * abs(value) and abs(near - value) < 10 ** -(places + 3):
            return True
    return False
