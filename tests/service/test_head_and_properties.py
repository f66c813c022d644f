"""HEAD on every GET resource; ``properties`` and ``skipGeometry``; the items query by POST."""

from __future__ import annotations

from fastapi.testclient import TestClient

from layers.store import LayerStore

GETS = [
    "/", "/conformance", "/collections", "/collections/villages", "/collections/villages/queryables",
    "/collections/villages/items?limit=3", "/collections/hexagons/tiles/WebMercatorQuad/tilejson.json",
    "/classes", "/exports", "/exports/villages.csv", "/healthz", "/openapi", "/planner",
    "/scores/village?limit=2",
]  # fmt: skip


def test_head_answers_every_get_with_its_headers_and_no_body(client: TestClient) -> None:
    for url in GETS:
        get, head = client.get(url), client.head(url)
        assert head.status_code == get.status_code == 200, url
        assert head.content == b"", url
        assert head.headers["content-type"] == get.headers["content-type"], url
        if "content-length" in get.headers:
            assert head.headers["content-length"] == get.headers["content-length"], url
    missing = client.head("/collections/nope")
    assert missing.status_code == 404 and missing.content == b""
    post_only = client.head("/targets")
    assert post_only.status_code == 405 and "HEAD" not in post_only.headers["allow"]
    assert "HEAD" in client.delete("/collections").headers["allow"]


def test_properties_and_skip_geometry(client: TestClient, store: LayerStore) -> None:
    body = client.get(
        "/collections/villages/items?limit=5&properties=village_name,M0&skipGeometry=true"
    ).json()
    for feature in body["features"]:
        assert set(feature["properties"]) == {"village_name", "M0"} and feature["geometry"] is None
    code = store.layer("villages")["village_code"].iloc[0]
    one = client.get(f"/collections/villages/items/{code}?properties=population").json()
    assert set(one["properties"]) == {"population"} and one["geometry"]["type"] == "MultiPolygon"
    r = client.get("/collections/villages/items?properties=village_nam")
    assert r.status_code == 400 and "village_name" in r.json()["detail"]


def test_the_items_query_by_post_equals_the_get(client: TestClient, store: LayerStore) -> None:
    code = store.layer("villages")["kabupaten_code"].iloc[0]
    get = client.get(
        f"/collections/villages/items?kabupaten_code={code}&sortby=-M0&limit=5&filter=M0 >= 0"
    ).json()
    cql2_json = {"op": ">=", "args": [{"property": "M0"}, 0]}
    body = {"kabupaten_code": code, "sortby": ["-M0"], "limit": 5, "filter": cql2_json}
    post = client.post("/collections/villages/items", json=body).json()
    assert [f["id"] for f in post["features"]] == [f["id"] for f in get["features"]]
    assert post["numberMatched"] == get["numberMatched"]
    nxt = [link for link in post["links"] if link["rel"] == "next"]
    if get["numberMatched"] > 5:
        assert nxt and nxt[0]["method"] == "POST" and nxt[0]["body"]["offset"] == 5
        again = client.post("/collections/villages/items", json=nxt[0]["body"]).json()
        assert {f["id"] for f in again["features"]}.isdisjoint({f["id"] for f in post["features"]})
    text = client.post(
        f"/collections/villages/items?kabupaten_code={code}&sortby=-M0&limit=5",
        content="M0 >= 0",
        headers={"Content-Type": "text/cql2"},
    ).json()
    assert [f["id"] for f in text["features"]] == [f["id"] for f in get["features"]]
    # A long IN list, beyond what a URL carries, within the filter's limit.
    codes = store.layer("villages")["village_code"].tolist()
    long = "village_code IN (" + ", ".join(f"'{c}'" for c in codes * 60) + ")"
    assert len(long) > 8_000
    big = client.post("/collections/villages/items", json={"filter": long, "limit": 1}).json()
    assert big["numberMatched"] == len(codes)
    # The same limits as the GET; the wrong media type is a 415.
    too_long = client.post("/collections/villages/items", json={"filter": "M0 > 0 " + " " * 70_000})
    assert too_long.status_code in (400, 413)
    wrong = client.post(
        "/collections/villages/items", content="x", headers={"Content-Type": "application/xml"}
    )
    assert wrong.status_code == 415 and "text/cql2" in wrong.json()["detail"]
