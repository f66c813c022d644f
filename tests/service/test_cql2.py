"""CQL2 text: the parser and evaluator on a small table, and each operator over HTTP."""

from __future__ import annotations

from pathlib import Path
from urllib.parse import quote

import geopandas as gpd
import numpy as np
import pytest
import shapely
from fastapi.testclient import TestClient

from layers import cql2
from layers.errors import InvalidQuery
from layers.query import Table
from layers.store import LayerStore
from service.models import FeatureCollection, Problem


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


# ------------------------------------------------------------------------------------------------
# Over HTTP
# ------------------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def villages(service_store: Path) -> gpd.GeoDataFrame:
    return LayerStore.open(service_store).layer("villages")


def ids(client: TestClient, text: str, collection: str = "villages") -> set[str]:
    r = client.get(f"/collections/{collection}/items?limit=500&filter-lang=cql2-text&filter={quote(text)}")
    assert r.status_code == 200, r.text
    assert r.headers["content-type"] == "application/geo+json"
    page = FeatureCollection.model_validate(r.json())
    assert page.numberMatched == page.numberReturned
    return {str(f.id) for f in page.features}


def test_http_filters_match_pandas(client: TestClient, villages: gpd.GeoDataFrame) -> None:
    kab = villages["kabupaten_code"].iloc[0]
    median = float(villages["M0"].median())
    first, second = villages["village_code"].iloc[:2]
    code = villages.set_index("village_code")
    cases = {
        f"kabupaten_code = '{kab}'": villages["kabupaten_code"] == kab,
        f"kabupaten_code <> '{kab}'": villages["kabupaten_code"] != kab,
        f"M0 > {median}": villages["M0"] > median,
        f"M0 >= {median}": villages["M0"] >= median,
        f"M0 < {median}": villages["M0"] < median,
        f"M0 <= {median} AND kabupaten_code = '{kab}'": (villages["M0"] <= median)
        & (villages["kabupaten_code"] == kab),
        f"M0 > {median} OR kabupaten_code = '{kab}'": (villages["M0"] > median)
        | (villages["kabupaten_code"] == kab),
        f"NOT kabupaten_code = '{kab}'": villages["kabupaten_code"] != kab,
        f"M0 BETWEEN 0 AND {median}": villages["M0"].between(0, median),
        f"village_code IN ('{first}', '{second}')": villages["village_code"].isin([first, second]),
        "village_name IS NULL": villages["village_name"].isna(),
        f"village_code LIKE '{kab}%'": villages["village_code"].str.startswith(kab),
    }
    for text, mask in cases.items():
        assert ids(client, text) == set(villages.loc[mask, "village_code"]), text
    assert len(code) == len(villages)


def test_http_spatial_filter(client: TestClient, villages: gpd.GeoDataFrame) -> None:
    minx, miny, maxx, maxy = villages.total_bounds
    box = shapely.box(minx, miny, (minx + maxx) / 2, (miny + maxy) / 2)
    expected = set(villages.loc[villages.intersects(box), "village_code"])
    assert (
        ids(client, f"S_INTERSECTS(geometry, BBOX({minx}, {miny}, {(minx + maxx) / 2}, {(miny + maxy) / 2}))")
        == expected
    )
    assert ids(client, f"S_INTERSECTS(geometry, {box.wkt})") == expected
    assert ids(client, f"S_DISJOINT(geometry, {box.wkt})") == set(villages["village_code"]) - expected


def test_http_filter_combines_with_bbox_and_equality(client: TestClient, villages: gpd.GeoDataFrame) -> None:
    kab = villages["kabupaten_code"].iloc[0]
    bbox = ",".join(map(str, villages.total_bounds))
    r = client.get(
        f"/collections/villages/items?limit=500&bbox={bbox}&kabupaten_code={kab}&filter={quote('M0 >= 0')}"
    )
    assert r.status_code == 200
    assert r.json()["numberMatched"] == (villages["kabupaten_code"] == kab).sum()


@pytest.mark.parametrize(
    "text", ["M0 >", "kabupaten_code = 62", "nope = 1", "S_INTERSECTS(geometry, BBOX(1,2))"]
)
def test_http_bad_filter_is_400(client: TestClient, text: str) -> None:
    r = client.get(f"/collections/villages/items?filter={quote(text)}")
    assert r.status_code == 400
    assert r.headers["content-type"] == "application/problem+json"
    assert Problem.model_validate(r.json()).detail.startswith("filter")


def test_http_filter_crs(client: TestClient) -> None:
    crs = quote("http://www.opengis.net/def/crs/OGC/1.3/CRS84")
    assert client.get(f"/collections/villages/items?filter=M0>0&filter-crs={crs}").status_code == 200
    assert client.get("/collections/villages/items?filter=M0>0&filter-crs=EPSG:32750").status_code == 400


@pytest.mark.parametrize(
    ("text", "expected"),
    [("5 NOT BETWEEN 1 AND 10", []), ("'ab' NOT LIKE 'a%'", []), ("'ab' LIKE 'a%'", [0, 1, 2, 3])],
)
def test_literal_only_predicates(table: Table, text: str, expected: list[int]) -> None:
    assert rows(table, text) == expected
