"""CQL2 text: the parser and evaluator on a small table (over HTTP: tests/service/test_cql2_api.py)."""

from __future__ import annotations

import geopandas as gpd
import numpy as np
import pytest
import shapely

from layers.errors import InvalidQuery
from layers.query import cql2
from layers.query.table import Table


@pytest.fixture(scope="module")
def table() -> Table:
    frame = gpd.GeoDataFrame(
        {
            "code": ["a1", "a2", "b1", None],
            "name": ["Desa Maju", "Desa Jaya", "Kelurahan O'Neil", "Desa 100%"],
            "n": [1, 5, 10, 20],
            "x": [0.5, np.nan, 2.5, 3.5],
            "poor": [True, False, True, False],
        },
        geometry=shapely.points([0, 1, 2, 3], [0, 1, 2, 3]),
    )
    return Table.from_frame("t", frame, id_column="code")


def rows(table: Table, text: str) -> list[int]:
    return np.flatnonzero(cql2.evaluate(cql2.parse(text), table, len(table))).tolist()


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("n = 5", [1]),
        ("n <> 5", [0, 2, 3]),
        ("n < 5", [0]),
        ("n <= 5", [0, 1]),
        ("n > 5", [2, 3]),
        ("n >= 10", [2, 3]),
        ("5 < n", [2, 3]),
        ("x > 1", [2, 3]),
        ("x <> 0.5", [2, 3]),  # null compares false
        ("code = 'a1'", [0]),
        ("code < 'b'", [0, 1]),
        ("name = 'Kelurahan O''Neil'", [2]),
        ('"n" = 1', [0]),
        ("n = 1 OR n = 20", [0, 3]),
        ("n > 1 AND n < 20", [1, 2]),
        ("n > 1 AND n < 20 OR n = 1", [0, 1, 2]),
        ("n > 1 AND (n < 20 OR n = 1)", [1, 2]),
        ("NOT n = 1", [1, 2, 3]),
        ("NOT (n = 1 OR n = 5)", [2, 3]),
        ("n BETWEEN 5 AND 10", [1, 2]),
        ("n NOT BETWEEN 5 AND 10", [0, 3]),
        ("code IN ('a1', 'b1')", [0, 2]),
        ("code NOT IN ('a1', 'b1')", [1]),
        ("n IN (1, 20)", [0, 3]),
        ("x IS NULL", [1]),
        ("code IS NULL", [3]),
        ("x IS NOT NULL", [0, 2, 3]),
        ("name LIKE 'Desa %'", [0, 1, 3]),
        ("name LIKE 'Desa _aju'", [0]),
        ("name NOT LIKE 'Desa%'", [2]),
        ("name LIKE '%100\\%'", [3]),
        ("poor", [0, 2]),
        ("poor = TRUE", [0, 2]),
        ("poor = false", [1, 3]),
        ("TRUE", [0, 1, 2, 3]),
        ("n = 1 and x > 0 or n = 20", [0, 3]),  # keywords in any case
        ("S_INTERSECTS(geometry, BBOX(0.5, 0.5, 2.5, 2.5))", [1, 2]),
        ("s_intersects(geometry, POLYGON((-1 -1, 1.5 -1, 1.5 1.5, -1 1.5, -1 -1)))", [0, 1]),
        ("S_INTERSECTS(POINT(3 3), geometry)", [3]),
        ("S_DISJOINT(geometry, BBOX(0.5, 0.5, 2.5, 2.5))", [0, 3]),
        ("S_WITHIN(geometry, BBOX(-1, -1, 1.5, 1.5))", [0, 1]),
        ("S_CONTAINS(BBOX(-1, -1, 1.5, 1.5), geometry)", [0, 1]),
        ("S_EQUALS(geometry, POINT(2 2))", [2]),
        ("S_INTERSECTS(geometry, BBOX(0, 0, 3, 3)) AND n > 5", [2, 3]),
    ],
)
def test_operators(table: Table, text: str, expected: list[int]) -> None:
    assert rows(table, text) == expected


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("", "empty"),
        ("n =", "expected a property or a value"),
        ("n = 1 AND", "expected a property or a value"),
        ("(n = 1", "expected ')'"),
        ("n = 1)", "unexpected ')'"),
        ("n ~ 1", "unexpected character"),
        ("n = 'one'", "compare it with a number"),
        ("code = 1", "quoted 'text'"),
        ("poor > TRUE", "booleans"),
        ("colour = 'red'", "not a property"),
        ("n", "not a condition"),
        ("n LIKE 'a%'", "LIKE needs a text property"),
        ("code BETWEEN 'a' AND 'b'", "BETWEEN needs a numeric"),
        ("n IN (1, n)", "literal"),
        ("FOO(n) = 1", "unknown function"),
        ("S_INTERSECTS(geometry, BBOX(1, 2, 3))", "BBOX takes 4 numbers"),
        ("S_INTERSECTS(n, BBOX(1, 2, 3, 4))", "spatial property"),
        ("S_INTERSECTS(geometry, POLYGON((0 0, 1 1)", "unbalanced"),
        ("S_INTERSECTS(geometry, POLYGON((0 0, 1 1)))", "invalid geometry"),
    ],
)
def test_errors_name_the_problem(table: Table, text: str, message: str) -> None:
    with pytest.raises(InvalidQuery, match="filter") as info:
        cql2.evaluate(cql2.parse(text), table, len(table))
    assert message in str(info.value)


@pytest.mark.parametrize(
    ("text", "expected"),
    [("5 NOT BETWEEN 1 AND 10", []), ("'ab' NOT LIKE 'a%'", []), ("'ab' LIKE 'a%'", [0, 1, 2, 3])],
)
def test_literal_only_predicates(table: Table, text: str, expected: list[int]) -> None:
    assert rows(table, text) == expected
