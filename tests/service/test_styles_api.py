"""Styles of the vector tiles and the shared classes, through the real app."""

from __future__ import annotations

import xml.etree.ElementTree as ET

from fastapi.testclient import TestClient

from layers.maps.classes import M0, SCORE
from layers.store import LayerStore


def test_collections_link_their_tiles_and_styles(client: TestClient):
    links = {link["href"].split("/collections/villages", 1)[1]: link for link in
             client.get("/collections/villages").json()["links"]}  # fmt: skip
    assert {"/tiles", "/tiles/WebMercatorQuad/style.json", "/tiles/WebMercatorQuad/style.qml"} <= set(links)
    assert links["/tiles/WebMercatorQuad/style.json"]["rel"] == "stylesheet"
    roads = client.get("/collections/roads").json()["links"]
    assert any(link["href"].endswith("/tiles/WebMercatorQuad/style.json") for link in roads)


def test_maplibre_style_uses_the_shared_classes(client: TestClient, store: LayerStore):
    r = client.get("/collections/hexagons/tiles/WebMercatorQuad/style.json")
    assert r.status_code == 200 and r.headers["content-type"].startswith("application/vnd.mapbox.style+json")
    style = r.json()
    assert style["version"] == 8 and style["sources"]["hexagons"]["tiles"][0].endswith("/{z}/{y}/{x}")
    fills = [layer for layer in style["layers"] if layer["type"] == "fill"]
    assert [layer["paint"]["fill-color"] for layer in fills] == SCORE.colors
    # Villages: only the M0 classes some village falls in, plus the boundary line.
    villages = client.get("/collections/villages/tiles/WebMercatorQuad/style.json").json()
    present = M0.present(store.layer("villages")["M0"].to_numpy(float))
    shown = [layer["metadata"]["sasaran:class"] for layer in villages["layers"] if layer["type"] == "fill"]
    assert shown == present
    assert [layer["type"] for layer in villages["layers"]][-2:] == ["line", "symbol"]  # boundary, names
    year = min(store.years)
    tiles = client.get(f"/collections/villages/tiles/WebMercatorQuad/style.json?year={year}").json()
    assert tiles["sources"]["villages"]["tiles"][0].endswith(f"?year={year}")


def test_qml_of_the_vector_tiles(client: TestClient):
    r = client.get("/collections/kabupaten/tiles/WebMercatorQuad/style.qml")
    assert r.status_code == 200 and r.headers["content-type"].startswith("application/vnd.qgis.qml")
    root = ET.fromstring(r.text.split("\n", 1)[1])
    styles = root.findall("renderer/styles/style")
    assert styles and all(s.get("layer") == "kabupaten" for s in styles)
    assert root.find("labeling/styles/style/settings/text-style").get("fieldName") == "kabupaten_name"
    assert client.get("/collections/village_years/tiles/WebMercatorQuad/style.qml").status_code == 404


def test_classes_endpoint(client: TestClient):
    body = client.get("/classes").json()
    assert body["score"]["breaks"] == SCORE.breaks
    assert [c["color"] for c in body["m0"]["classes"]] == M0.colors
    assert body["m0"]["classes"][0]["label"]["id"].startswith("Tidak ada")


def test_every_collection_links_its_styles_as_qml_and_sld(client: TestClient, store: LayerStore):
    for collection in client.get("/collections").json()["collections"]:
        types = {link["type"]: link["href"] for link in collection["links"] if link["rel"] == "stylesheet"}
        assert "application/vnd.qgis.qml" in types and "application/vnd.ogc.sld+xml;version=1.0" in types
        sld = client.get(types["application/vnd.ogc.sld+xml;version=1.0"].replace("http://testserver", ""))
        assert sld.status_code == 200 and sld.headers["content-type"].startswith(
            "application/vnd.ogc.sld+xml"
        )
        root = ET.fromstring(sld.content)
        assert (
            root.tag.endswith("StyledLayerDescriptor")
            and root.find(".//{http://www.opengis.net/sld}Rule") is not None
        )
    listing = client.get("/collections/villages/styles").json()
    assert listing["styles"][0]["id"] == "default"
    assert client.get("/collections/villages/styles/other").status_code == 404
