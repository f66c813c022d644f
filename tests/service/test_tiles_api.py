from __future__ import annotations

import math
from collections.abc import Iterator
from pathlib import Path

import mapbox_vector_tile
import pytest
from fastapi.testclient import TestClient

from layers.store import LayerStore

app_module = pytest.importorskip("service.app", reason="service.app not written yet")

MVT = "application/vnd.mapbox-vector-tile"


@pytest.fixture(scope="module")
def client(store_dir: Path) -> Iterator[TestClient]:
    from service.settings import Settings

    with TestClient(app_module.create_app(Settings(store_dir=store_dir))) as c:
        yield c


def tile_of(lon: float, lat: float, z: int) -> tuple[int, int]:
    n = 1 << z
    return int((lon + 180) / 360 * n), int((1 - math.asinh(math.tan(math.radians(lat))) / math.pi) / 2 * n)


def test_tilesets_list_and_metadata(client):
    r = client.get("/collections/hexagons/tiles")
    assert r.status_code == 200
    assert r.headers["content-type"].startswith("application/json")
    (tileset,) = r.json()["tilesets"]
    assert tileset["dataType"] == "vector"
    assert tileset["tileMatrixSetURI"].endswith("/WebMercatorQuad")
    r = client.get("/collections/hexagons/tiles/WebMercatorQuad")
    assert r.status_code == 200
    body = r.json()
    item = next(link for link in body["links"] if link["rel"] == "item")
    assert item["href"].endswith(
        "/collections/hexagons/tiles/WebMercatorQuad/{tileMatrix}/{tileRow}/{tileCol}"
    )
    assert item["type"] == MVT and item["href"].startswith("http")
    assert body["tileMatrixSetLimits"][0] == {
        "tileMatrix": "0", "minTileRow": 0, "maxTileRow": 0, "minTileCol": 0, "maxTileCol": 0,
    }  # fmt: skip
    assert "score" in body["layers"][0]["propertiesSchema"]["properties"]


def test_tilejson(client, store_dir):
    r = client.get("/collections/villages/tiles/WebMercatorQuad/tilejson.json")
    assert r.status_code == 200
    body = r.json()
    assert body["tilejson"] == "3.0.0"
    assert body["tiles"] == ["http://testserver/collections/villages/tiles/WebMercatorQuad/{z}/{y}/{x}"]
    assert body["vector_layers"][0]["id"] == "villages" and "M0" in body["vector_layers"][0]["fields"]
    bounds = LayerStore.open(store_dir).layer("villages").total_bounds
    assert body["bounds"] == pytest.approx(list(bounds))
    assert ("SYNTHETIC" in body["description"]) == LayerStore.open(store_dir).synthetic


def test_tile_is_mvt_with_cache_headers_and_etag(client, store_dir):
    hexagons = LayerStore.open(store_dir).layer("hexagons")
    centre = hexagons.geometry.iloc[0].centroid
    x, y = tile_of(centre.x, centre.y, 12)
    r = client.get(f"/collections/hexagons/tiles/WebMercatorQuad/12/{y}/{x}")
    assert r.status_code == 200
    assert r.headers["content-type"] == MVT
    assert "max-age" in r.headers["cache-control"]
    features = mapbox_vector_tile.decode(r.content)["hexagons"]["features"]
    assert hexagons["h3"].iloc[0] in {f["properties"]["h3"] for f in features}
    again = client.get(
        f"/collections/hexagons/tiles/WebMercatorQuad/12/{y}/{x}",
        headers={"If-None-Match": r.headers["etag"]},
    )
    assert again.status_code == 304


def test_tile_outside_the_data_is_an_empty_200(client):
    r = client.get("/collections/schools/tiles/WebMercatorQuad/10/0/0")
    assert r.status_code == 200 and r.content == b"" and r.headers["content-type"] == MVT


@pytest.mark.parametrize(
    ("path", "status"), [("3/8/0", 404), ("3/0/8", 404), ("23/0/0", 400), ("-1/0/0", 400)]
)
def test_tiles_outside_the_matrix_are_problems(client, path, status):
    # A tile matrix beyond 0-22 is an invalid request (the document declares the range); a row or
    # column past a valid matrix's edge names no tile: 404, as OGC API - Tiles asks.
    r = client.get(f"/collections/hexagons/tiles/WebMercatorQuad/{path}")
    assert r.status_code == status
    assert r.headers["content-type"].startswith("application/problem+json")
    assert "tile" in r.json()["detail"]


def test_unknown_collection_is_404(client):
    r = client.get("/collections/nope/tiles/WebMercatorQuad/0/0/0")
    assert r.status_code == 404
    assert r.headers["content-type"].startswith("application/problem+json")
    assert client.get("/collections/village_years/tiles").status_code == 404
