"""OGC API - Features Part 2 over HTTP: answers in CRS84, EPSG:4326 (lat, lon), EPSG:3857, UTM 49S/50S
and DGN95, boxes and filter geometries given in them, ``Content-Crs``, the collections' lists."""

from __future__ import annotations

from urllib.parse import quote

import numpy as np
import pytest
import shapely
from fastapi.testclient import TestClient
from pyproj import Transformer

from layers.geo.crs import CRS84, SUPPORTED_URIS
from layers.store import LayerStore

EPSG = "http://www.opengis.net/def/crs/EPSG/0/{}"


def _page(client: TestClient, url: str) -> tuple[dict, dict]:
    r = client.get(url)
    assert r.status_code == 200, r.text[:300]
    return r.json(), dict(r.headers)


def test_collections_list_the_crs_and_conformance_names_part_2(client: TestClient) -> None:
    for collection in client.get("/collections").json()["collections"]:
        assert collection["crs"] == list(SUPPORTED_URIS) and collection["storageCrs"] == CRS84
    assert (
        "http://www.opengis.net/spec/ogcapi-features-2/1.0/conf/crs"
        in client.get("/conformance").json()["conformsTo"]
    )


@pytest.mark.parametrize("code", [4326, 3857, 32749, 32750, 4755])
def test_answers_in_each_crs_match_pyproj(client: TestClient, store: LayerStore, code: int) -> None:
    crs84, headers84 = _page(client, "/collections/villages/items?limit=3")
    assert headers84["content-crs"] == f"<{CRS84}>"
    other, headers = _page(client, f"/collections/villages/items?limit=3&crs={quote(EPSG.format(code))}")
    assert headers["content-crs"] == f"<{EPSG.format(code)}>"
    to = Transformer.from_crs("OGC:CRS84", f"EPSG:{code}", always_xy=False)
    for a, b in zip(crs84["features"], other["features"], strict=True):
        lonlat = np.array(shapely.get_coordinates(shapely.geometry.shape(a["geometry"])))
        got = np.array(shapely.get_coordinates(shapely.geometry.shape(b["geometry"])))
        x, y = to.transform(lonlat[:, 0], lonlat[:, 1])
        tolerance = 1e-6 if code in (4326, 4755) else 0.02  # degrees vs metres (answers keep cm)
        np.testing.assert_allclose(got, np.column_stack([x, y]), atol=tolerance)
    if code == 4326:  # latitude first: the same numbers, swapped
        first = shapely.get_coordinates(shapely.geometry.shape(crs84["features"][0]["geometry"]))[0]
        swapped = shapely.get_coordinates(shapely.geometry.shape(other["features"][0]["geometry"]))[0]
        assert tuple(swapped) == pytest.approx((first[1], first[0]))


def test_a_latlon_box_finds_the_same_villages_as_the_lonlat_one(
    client: TestClient, store: LayerStore
) -> None:
    minx, miny, maxx, maxy = store.layer("villages").total_bounds
    box = (minx, miny, (minx + maxx) / 2, (miny + maxy) / 2)
    lonlat, _ = _page(client, "/collections/villages/items?limit=1000&bbox=" + ",".join(map(str, box)))
    latlon_box = ",".join(map(str, (box[1], box[0], box[3], box[2])))
    for crs in (EPSG.format(4326), "EPSG:4326"):
        latlon, _ = _page(
            client, f"/collections/villages/items?limit=1000&bbox={latlon_box}&bbox-crs={quote(crs)}"
        )
        assert 0 < latlon["numberMatched"] == lonlat["numberMatched"] < store.rows("villages")
        assert {f["id"] for f in latlon["features"]} == {f["id"] for f in lonlat["features"]}


def test_a_utm_box_and_a_utm_filter_find_the_villages_they_cover(
    client: TestClient, store: LayerStore
) -> None:
    villages = store.layer("villages")
    centre = villages.geometry.union_all().centroid
    to_utm = Transformer.from_crs("OGC:CRS84", "EPSG:32750", always_xy=False)
    e, n = to_utm.transform(centre.x, centre.y)
    box = (e - 15_000, n - 15_000, e + 15_000, n + 15_000)
    utm = villages.to_crs(32750)
    expected = set(villages.loc[utm.intersects(shapely.box(*box)), "village_code"])
    assert 0 < len(expected) < len(villages)
    url = f"/collections/villages/items?limit=1000&bbox={','.join(map(str, box))}&bbox-crs=EPSG:32750"
    got, _ = _page(client, url)
    assert {f["id"] for f in got["features"]} == expected
    text = quote(f"S_INTERSECTS(geometry, BBOX({', '.join(map(str, box))}))")
    got, _ = _page(
        client, f"/collections/villages/items?limit=1000&filter={text}&filter-crs={EPSG.format(32750)}"
    )
    assert {f["id"] for f in got["features"]} == expected


def test_one_feature_in_another_crs(client: TestClient, store: LayerStore) -> None:
    code = store.layer("villages")["village_code"].iloc[0]
    r = client.get(f"/collections/villages/items/{code}?crs=EPSG:32749")
    assert r.status_code == 200 and r.headers["content-crs"] == f"<{EPSG.format(32749)}>"
    x, y = shapely.get_coordinates(shapely.geometry.shape(r.json()["geometry"]))[0]
    assert 100_000 < x < 1_500_000 and 8_000_000 < y < 10_000_000  # metres, southern hemisphere


@pytest.mark.parametrize("param", ["crs", "bbox-crs", "filter-crs"])
def test_any_other_crs_is_a_400_naming_the_supported_ones(client: TestClient, param: str) -> None:
    url = f"/collections/villages/items?{param}=EPSG:23830&bbox=1,2,3,4&filter=M0>0"
    r = client.get(url)
    assert r.status_code == 400
    detail = r.json()["detail"]
    assert param in detail and all(uri in detail for uri in SUPPORTED_URIS)
