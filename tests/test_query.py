"""layers.query.table: vectorised selection on a prepared table (no HTTP)."""

from __future__ import annotations

import geopandas as gpd
import numpy as np
import pandas as pd
import pytest
import shapely

from layers.errors import InvalidQuery, LayerNotFound
from layers.query.table import FeatureNotFound, Table, page, parse_value, select


@pytest.fixture(scope="module")
def table() -> Table:
    frame = gpd.GeoDataFrame(
        {
            "code": ["c", "a", "b", "d"],
            "kab": ["62", "62", "63", None],
            "n": [3, 1, 2, 4],
            "x": [0.5, np.nan, 2.5, 1.0],
            "poor": [True, False, True, False],
        },
        geometry=[
            shapely.box(0, 0, 1, 1),
            shapely.Polygon(
                [(2, 0), (3, 0), (2, 1)]
            ),  # envelope meets (2.6, 0.6) .. but the triangle does not
            shapely.LineString([(5, 5), (6, 6)]),
            shapely.Point(10, 10),
        ],
        crs=4326,
    )
    return Table.from_frame("demo", frame, id_column="code")


def test_prepared_columns(table: Table) -> None:
    assert table.kinds == {
        "code": "string",
        "kab": "string",
        "n": "integer",
        "x": "number",
        "poor": "boolean",
    }
    assert table.ids.tolist() == ["c", "a", "b", "d"]
    assert table.bounds is not None and table.bounds.shape == (4, 4)
    assert table.total_bounds == (0.0, 0.0, 10.0, 10.0)
    assert table.values_list("x", np.array([0, 1])) == [0.5, None]
    assert table.values_list("kab", np.array([3])) == [None]


def test_bbox_is_exact_after_the_bounds_test(table: Table) -> None:
    assert select(table, bbox=(0.5, 0.5, 2.1, 2.1)).tolist() == [0, 1]
    assert select(table, bbox=(2.6, 0.6, 2.9, 0.9)).tolist() == []  # inside the envelope only
    assert select(table, bbox=(9, 9, 11, 11)).tolist() == [3]


def test_equality_is_typed(table: Table) -> None:
    assert select(table, equals={"kab": "62"}).tolist() == [0, 1]
    assert select(table, equals={"n": "2"}).tolist() == [2]
    assert select(table, equals={"x": "1"}).tolist() == [3]
    assert select(table, equals={"poor": "true", "kab": "62"}).tolist() == [0]
    assert parse_value(table, "poor", "0") is False
    with pytest.raises(InvalidQuery, match="'n' expects an integer in ASCII digits, got 'two'"):
        select(table, equals={"n": "two"})
    for text in ("١٠", "１０", "1_0", " 2"):  # issue 23: Python's int() reads them all as numbers
        with pytest.raises(InvalidQuery, match="in ASCII digits"):
            select(table, equals={"n": text})
    for text in ("nan", "inf", "1e400"):
        with pytest.raises(InvalidQuery, match="'x' expects a finite number"):
            select(table, equals={"x": text})
    with pytest.raises(InvalidQuery, match="'zz' is not a property of 'demo'"):
        select(table, equals={"zz": "1"})


def test_where_and_sort(table: Table) -> None:
    assert select(table, where="n >= 2 AND poor").tolist() == [0, 2]
    assert select(table, sortby=["n"]).tolist() == [1, 2, 0, 3]
    assert select(table, sortby=["-n"]).tolist() == [3, 0, 2, 1]
    assert select(table, sortby=["x"]).tolist() == [0, 3, 2, 1]  # nulls last
    assert select(table, sortby=["-x"]).tolist() == [2, 3, 0, 1]
    assert select(table, sortby=["kab", "-n"]).tolist() == [0, 1, 2, 3]


def test_page(table: Table) -> None:
    rows = select(table)
    assert page(rows, 1, 2).tolist() == [1, 2]
    assert page(rows, 10, 2).tolist() == []
    with pytest.raises(InvalidQuery):
        page(rows, -1, 2)


def test_ids_and_positions(table: Table) -> None:
    assert table.row_of("b") == 2
    with pytest.raises(FeatureNotFound, match="no feature with code 'zz'") as info:
        table.row_of("zz")
    assert isinstance(info.value, LayerNotFound)
    lines = Table.from_frame(
        "roads", gpd.GeoDataFrame({"k": [1, 2]}, geometry=shapely.points([0, 1], [0, 1]))
    )
    assert lines.ids.tolist() == ["0", "1"] and lines.row_of("1") == 1


def test_with_columns_is_a_view(table: Table) -> None:
    view = table.with_columns({"x": np.array([np.nan, 1.0, 2.0, 3.0]), "n": np.array([9, 9, 9, 9])})
    assert select(view, where="x IS NULL").tolist() == [0]
    assert select(table, where="x IS NULL").tolist() == [1]  # the original is untouched
    assert view.geometry is table.geometry and view.bounds is table.bounds
    with pytest.raises(ValueError, match="3 values for 4 rows"):
        table.with_columns({"n": np.arange(3)})


def test_plain_table_and_empty() -> None:
    plain = Table.from_frame("t", pd.DataFrame({"a": [1, 2]}))
    assert select(plain, where="a = 2").tolist() == [1]
    with pytest.raises(InvalidQuery, match="no geometry"):
        select(plain, bbox=(0, 0, 1, 1))
    empty = Table.from_frame("e", gpd.GeoDataFrame({"a": []}, geometry=[], crs=4326))
    assert select(empty, bbox=(0, 0, 1, 1), where="a = 1").tolist() == []
    assert empty.total_bounds is None
    with pytest.raises(TypeError, match="should be a DataFrame"):
        Table.from_frame("x", [1, 2])  # type: ignore[arg-type]
