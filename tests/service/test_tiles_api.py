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


def test_an_empty_tile_is_204_and_one_outside_the_tileset_a_400_naming_the_template(client, store_dir):
    store = LayerStore.open(store_dir)
    schools = store.layer("schools")
    minx, miny, maxx, maxy = schools.total_bounds
    # A z14 tile inside the schools' extent with no school in it: within the limits, empty.
    z = 14
    for fx in (0.13, 0.37, 0.61, 0.79):
        x, y = tile_of(minx + (maxx - minx) * fx, miny + (maxy - miny) * fx, z)
        r = client.get(f"/collections/schools/tiles/WebMercatorQuad/{z}/{y}/{x}")
        if r.status_code == 204:
            break
    assert r.status_code == 204 and r.content == b""
    # The {z}/{x}/{y} mistake: row and column swapped, outside the tileset, a 400 saying so.
    x, y = tile_of(minx, miny, 10)
    r = client.get(f"/collections/schools/tiles/WebMercatorQuad/10/{x}/{y}")
    assert r.status_code == 400 and r.headers["content-type"].startswith("application/problem+json")
    detail = r.json()["detail"]
    assert (
        "{z}/{y}/{x}" in detail
        and "swapped" in detail
        and "/collections/schools/tiles/WebMercatorQuad/" in detail
    )


@pytest.mark.parametrize("path", ["3/8/0", "3/0/8", "23/0/0", "-1/0/0", "10/0/0"])
def test_tiles_outside_the_matrix_or_the_tileset_are_400(client, path):
    r = client.get(f"/collections/hexagons/tiles/WebMercatorQuad/{path}")
    assert r.status_code == 400
    assert r.headers["content-type"].startswith("application/problem+json")
    assert "tile" in r.json()["detail"]


def test_tile_matrix_sets_are_served_and_linked(client):
    listing = client.get("/tileMatrixSets").json()
    assert [t["id"] for t in listing["tileMatrixSets"]] == ["WebMercatorQuad", "WorldCRS84Quad"]
    for tms in ("WebMercatorQuad", "WorldCRS84Quad"):
        body = client.get(f"/tileMatrixSets/{tms}").json()
        assert body["id"] == tms and len(body["tileMatrices"]) == 25
    tileset = client.get("/collections/villages/tiles/WebMercatorQuad").json()
    scheme = next(link for link in tileset["links"] if link["rel"].endswith("/tiling-scheme"))
    assert scheme["href"] == "http://testserver/tileMatrixSets/WebMercatorQuad"
    conformance = client.get("/conformance").json()["conformsTo"]
    assert "http://www.opengis.net/spec/ogcapi-tiles-1/1.0/conf/tileset" in conformance
    assert client.get("/tileMatrixSets/Nope").status_code == 404


def test_area_tiles_carry_one_label_point_per_feature(client, store_dir):
    """A village cut by tile edges is several fragments, but its name is one point in one tile."""
    villages = LayerStore.open(store_dir).layer("villages")
    minx, miny, maxx, maxy = villages.total_bounds
    z = 12
    x0, y0 = tile_of(minx, maxy, z)
    x1, y1 = tile_of(maxx, miny, z)
    labels: dict[str, int] = {}
    fragments: dict[str, int] = {}
    for x in range(x0, x1 + 1):
        for y in range(y0, y1 + 1):
            r = client.get(f"/collections/villages/tiles/WebMercatorQuad/{z}/{y}/{x}")
            if r.status_code != 200:
                continue
            tile = mapbox_vector_tile.decode(r.content)
            for f in tile.get("villages_labels", {}).get("features", []):
                labels[f["properties"]["village_code"]] = labels.get(f["properties"]["village_code"], 0) + 1
            for f in tile.get("villages", {}).get("features", []):
                code = f["properties"]["village_code"]
                fragments[code] = fragments.get(code, 0) + 1
    assert set(labels) == set(villages["village_code"]) and set(labels.values()) == {1}
    assert max(fragments.values()) > 1  # some villages do span several tiles


def test_style_labels_areas_with_vendored_glyphs(client):
    style = client.get("/collections/villages/tiles/WebMercatorQuad/style.json").json()
    assert style["glyphs"] == "http://testserver/fonts/{fontstack}/{range}.pbf"
    (label,) = [layer for layer in style["layers"] if layer["type"] == "symbol"]
    assert label["source-layer"] == "villages_labels" and label["layout"]["text-field"] == [
        "get",
        "village_name",
    ]
    font = label["layout"]["text-font"][0]
    r = client.get(f"/fonts/{font}/0-255.pbf")
    assert r.status_code == 200 and len(r.content) > 10_000 and font.encode() in r.content
    assert client.get(f"/fonts/{font}/9000-9255.pbf").status_code == 404


def test_unknown_collection_is_404(client):
    r = client.get("/collections/nope/tiles/WebMercatorQuad/0/0/0")
    assert r.status_code == 404
    assert r.headers["content-type"].startswith("application/problem+json")
    assert client.get("/collections/village_years/tiles").status_code == 404
