"""Schemathesis hooks for `test_fuzz`: what the OpenAPI document declares that JSON Schema cannot spell.

``filter`` is ``{"type": "string", "format": "cql2-text"}``: no JSON Schema keyword can state the
CQL2 grammar, so this teaches the fuzzer the format, as `format` is meant to be used. Expressions
are built from the grammar (comparisons, LIKE, BETWEEN, IN, IS NULL, spatial predicates on the
``geometry`` every collection has, AND/OR/NOT) with literal operands, so each is valid for every
collection.

``bbox`` is four numbers, minlon, minlat, maxlon, maxlat; its description states that minlat may
not exceed maxlat (swapped corners are a 400, as in pygeoapi), which no JSON Schema keyword can
relate across the items of an array. `order_bbox` puts the latitudes of a generated box in that
order, as the format does for filters; nothing else of a case is touched.

Loaded by ``SCHEMATHESIS_HOOKS=tests.service.fuzz_hooks``.
"""

from __future__ import annotations

from typing import Any

import schemathesis
from hypothesis import strategies as st

_NUMBERS = st.one_of(
    st.integers(-(10**6), 10**6).map(str),
    st.floats(-1e6, 1e6, allow_nan=False, allow_infinity=False).map(lambda v: f"{v:.6g}"),
)
_TEXT = st.text(st.sampled_from("abcxyz %_019"), max_size=8).map(lambda t: "'" + t + "'")
_LON = st.floats(-180, 180, allow_nan=False).map(lambda v: f"{v:.5f}")
_LAT = st.floats(-90, 90, allow_nan=False).map(lambda v: f"{v:.5f}")
_OPS = st.sampled_from(["=", "<>", "<", "<=", ">", ">="])


def _ordered(low: str, high: str) -> tuple[str, str]:
    return (low, high) if float(low) <= float(high) else (high, low)


def _bbox() -> st.SearchStrategy[str]:
    # minlon <= maxlon and minlat <= maxlat: a BBOX with swapped corners is no valid CQL2 literal here.
    def box(b: tuple[str, str, str, str]) -> str:
        (west, east), (south, north) = _ordered(b[0], b[2]), _ordered(b[1], b[3])
        return f"BBOX({west}, {south}, {east}, {north})"

    return st.tuples(_LON, _LAT, _LON, _LAT).map(box)


def _point() -> st.SearchStrategy[str]:
    return st.tuples(_LON, _LAT).map(lambda p: f"POINT({p[0]} {p[1]})")


_SPATIAL = st.tuples(
    st.sampled_from(["S_INTERSECTS", "S_DISJOINT", "S_WITHIN", "S_CONTAINS"]), st.one_of(_bbox(), _point())
).map(lambda t: f"{t[0]}(geometry, {t[1]})")

_ATOMS = st.one_of(
    st.sampled_from(["TRUE", "FALSE"]),
    st.tuples(_NUMBERS, _OPS, _NUMBERS).map(" ".join),
    st.tuples(_TEXT, st.sampled_from(["=", "<>"]), _TEXT).map(" ".join),
    st.tuples(_TEXT, _TEXT).map(lambda t: f"{t[0]} LIKE {t[1]}"),
    st.tuples(_NUMBERS, _NUMBERS, _NUMBERS).map(lambda t: f"{t[0]} BETWEEN {t[1]} AND {t[2]}"),
    st.tuples(_NUMBERS, st.lists(_NUMBERS, min_size=1, max_size=4)).map(
        lambda t: f"{t[0]} IN ({', '.join(t[1])})"
    ),
    _NUMBERS.map(lambda n: f"{n} IS NULL"),
    _SPATIAL,
)

CQL2 = st.recursive(
    _ATOMS,
    lambda inner: st.one_of(
        st.tuples(inner, st.sampled_from(["AND", "OR"]), inner).map(lambda t: f"({t[0]} {t[1]} {t[2]})"),
        inner.map(lambda e: f"NOT ({e})"),
    ),
    max_leaves=6,
)

schemathesis.openapi.format("cql2-text", CQL2)


def _latitudes_ordered(box: Any) -> Any:
    if isinstance(box, list) and len(box) == 4 and all(isinstance(v, int | float) for v in box):
        west, south, east, north = box
        return [west, min(south, north), east, max(south, north)]
    if isinstance(box, str):
        parts = box.split(",")
        try:
            numbers = [float(p) for p in parts]
        except ValueError:
            return box
        if len(numbers) == 4 and numbers[1] > numbers[3]:
            parts[1], parts[3] = parts[3], parts[1]
            return ",".join(parts)
    return box


@schemathesis.hook
def map_case(context: Any, case: Any) -> Any:
    """A generated ``bbox`` with its latitudes in order (the parameter's one rule beyond JSON Schema)."""
    query = getattr(case, "query", None)
    if isinstance(query, dict) and "bbox" in query:
        query["bbox"] = _latitudes_ordered(query["bbox"])
    return case
