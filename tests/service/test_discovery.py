"""Discoverable service: the landing page's links, HTML pages by f=html or a browser's Accept,
queryables with titles and units, "did you mean", both spellings of a level, /openapi.json."""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient

from layers.store import LayerStore
from service.html import esc

BROWSER = "text/html,application/xhtml+xml,application/xml;q=0.9,image/avif,*/*;q=0.8"


def test_landing_links_every_service(client: TestClient) -> None:
    links = client.get("/").json()["links"]
    hrefs = {link["href"].removeprefix("http://testserver") for link in links}
    for path in ("/openapi", "/docs", "/conformance", "/collections", "/planner", "/exports", "/changes"):
        assert path in hrefs, path
    for level in ("hexagon", "village", "kecamatan", "kabupaten", "province"):
        assert f"/scores/{level}" in hrefs
    assert "/collections/hexagons/tiles" in hrefs
    service_desc = next(link for link in links if link["rel"] == "service-desc")
    assert service_desc["type"] == "application/vnd.oai.openapi+json;version=3.0"
    for link in links:  # every link answers
        if link["href"].endswith("/changes"):
            continue  # needs from= and to=
        assert client.get(link["href"]).status_code == 200, link


@pytest.mark.parametrize(
    "path",
    ["/", "/conformance", "/collections", "/collections/villages", "/collections/villages/items?limit=5"],
)
def test_browsers_get_html_and_other_clients_json(client: TestClient, path: str) -> None:
    page = client.get(path, headers={"Accept": BROWSER})
    assert page.status_code == 200 and page.headers["content-type"].startswith("text/html")
    assert "Accept" in page.headers["vary"]
    assert "script-src 'self'" in page.headers["content-security-policy"]
    assert "<script>" not in page.text and " style=" not in page.text  # nothing inline (CSP)
    for accept in ("*/*", "application/json", "application/geo+json, application/json", None):
        answer = client.get(path, headers={"Accept": accept} if accept else {})
        assert "json" in answer.headers["content-type"], accept
    sep = "&" if "?" in path else "?"
    assert client.get(f"{path}{sep}f=html").headers["content-type"].startswith("text/html")
    assert "json" in client.get(f"{path}{sep}f=json", headers={"Accept": BROWSER}).headers["content-type"]


def test_item_page_escapes_values_and_names_units(client: TestClient, store: LayerStore) -> None:
    code = store.layer("villages")["village_code"].iloc[0]
    page = client.get(f"/collections/villages/items/{code}?f=html")
    assert page.status_code == 200
    assert "Indeks M0 / Adjusted headcount M0 (index)" in page.text
    assert 'data-features="http://testserver/collections/villages/items/' in page.text
    evil = client.get("/collections/villages/items?f=html&village_name=%3Cscript%3Ealert(1)%3C/script%3E")
    assert evil.status_code == 200 and "<script>alert" not in evil.text


def test_esc_quotes_markup_and_attributes() -> None:
    assert esc('<a href="x">\'') == "&lt;a href=&quot;x&quot;&gt;&#x27;"
    assert esc(None) == ""


def test_items_page_links_keep_the_readers_page_size(client: TestClient) -> None:
    page = client.get("/collections/villages/items?limit=5&f=html").text
    assert (
        'rel="next" href="http://testserver/collections/villages/items?offset=5&amp;limit=5&amp;f=html"'
        in page
    )


def test_queryables_have_titles_descriptions_and_units(client: TestClient) -> None:
    props = client.get("/collections/villages/queryables").json()["properties"]
    m0 = props["M0"]
    assert m0["title"] == "Indeks M0 / Adjusted headcount M0"
    assert m0["x-ogc-unit"] == "index" and "H x A" in m0["description"]
    assert props["time_min_health_primary"]["x-ogc-unit"] == "minutes"
    assert props["dist_km_school_sd"]["title"].startswith("Jarak ke")
    assert props["village_name"]["x-title-id"] == "Desa/kelurahan"


@pytest.mark.parametrize(
    ("params", "hint"),
    [
        ({"sortby": "M0 DESC"}, "did you mean `-M0`?"),
        ({"sortby": "m0 asc"}, "did you mean `M0`?"),
        ({"sortby": "-villages_name"}, "did you mean `village_name`?"),
        ({"limt": "5"}, "did you mean `limit` for 'limt'?"),
        ({"kabupaten": "6201"}, "did you mean `kabupaten_"),
        ({"filter": "M00 > 0.2"}, "did you mean `M0`?"),
    ],
)
def test_did_you_mean(client: TestClient, params: dict, hint: str) -> None:
    r = client.get("/collections/villages/items", params=params)
    assert r.status_code == 400
    assert hint in r.json()["detail"]
    if "sortby" in params and " " in params["sortby"]:
        assert "OGC sortby" in r.json()["detail"]


def test_unknown_property_without_a_close_match_lists_them(client: TestClient) -> None:
    detail = client.get("/collections/villages/items", params={"sortby": "zzzz"}).json()["detail"]
    assert "properties are: village_code" in detail


def test_levels_in_both_spellings(client: TestClient) -> None:
    singular = client.get("/scores/village", params={"limit": 3}).json()
    plural = client.get("/scores/villages", params={"limit": 3}).json()
    assert plural["level"] == singular["level"] == "village"
    assert plural["units"] == singular["units"]
    assert client.get("/scores/villagez").status_code == 404


def test_openapi_json_is_the_same_document(client: TestClient) -> None:
    a, b = client.get("/openapi"), client.get("/openapi.json")
    assert a.status_code == b.status_code == 200 and a.json() == b.json()
    assert a.headers["content-type"] == "application/vnd.oai.openapi+json;version=3.0"
    doc = a.json()
    assert doc["openapi"] == "3.0.3"
    conformance = client.get("/conformance").json()["conformsTo"]
    assert any(c.endswith("/conf/oas30") for c in conformance)
