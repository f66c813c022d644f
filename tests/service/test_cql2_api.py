"""CQL2 text filters over HTTP: each operator matches what pandas selects on the store."""

from __future__ import annotations

from pathlib import Path
from urllib.parse import quote

import geopandas as gpd
import pytest
import shapely
from fastapi.testclient import TestClient

from layers.store import LayerStore
from service.models import FeatureCollection, Problem

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
    assert client.get("/collections/villages/items?filter=M0>0&filter-crs=EPSG:32750").status_code == 200
    r = client.get("/collections/villages/items?filter=M0>0&filter-crs=EPSG:2000")
    assert r.status_code == 400 and "EPSG/0/32750" in r.json()["detail"]
