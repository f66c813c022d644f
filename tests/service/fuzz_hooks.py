"""Schemathesis hooks for `test_fuzz`: the string formats the OpenAPI document declares.

``filter`` is ``{"type": "string", "format": "cql2-text"}``: no JSON Schema keyword can state the
CQL2 grammar, so this teaches the fuzzer the format, as `format` is meant to be used. Expressions
are built from the grammar (comparisons, LIKE, BETWEEN, IN, IS NULL, spatial predicates on the
``geometry`` every collection has, AND/OR/NOT) with literal operands, so each is valid for every
collection. Loaded by ``SCHEMATHESIS_HOOKS=tests.service.fuzz_hooks``.
"""

from __future__ import annotations

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


def _bbox() -> st.SearchStrategy[str]:
    return st.tuples(_LON, _LAT, _LON, _LAT).map(lambda b: f"BBOX({', '.join(b)})")


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
