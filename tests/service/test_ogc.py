"""OGC API - Features over HTTP: collections, items paging, bbox, property filters, ids, years."""

from __future__ import annotations

from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import numpy as np
import pytest
import shapely
from fastapi.testclient import TestClient

from layers.rounding import round_value
from layers.store import SPATIAL_LAYERS, LayerStore
from service.models import Collection, Collections, Feature, FeatureCollection, Problem, Queryables
from service.ogc import NEXT_MIN_LIMIT

SPATIAL = SPATIAL_LAYERS


@pytest.fixture(scope="module")
def store(service_store: Path) -> LayerStore:
    return LayerStore.open(service_store)


def items(client: TestClient, url: str) -> FeatureCollection:
    r = client.get(url)
    assert r.status_code == 200, r.text
    assert r.headers["content-type"] == "application/geo+json"
    return FeatureCollection.model_validate(r.json())


def problem(client: TestClient, url: str, status: int) -> Problem:
    r = client.get(url)
    assert r.status_code == status, r.text
    assert r.headers["content-type"] == "application/problem+json"
    return Problem.model_validate(r.json())


def test_collections_list_every_layer_but_the_table(client: TestClient) -> None:
    r = client.get("/collections")
    assert r.status_code == 200
    body = Collections.model_validate(r.json())
    assert [c.id for c in body.collections] == list(SPATIAL)


@pytest.mark.parametrize("name", SPATIAL)
def test_collection_metadata(client: TestClient, store: LayerStore, name: str) -> None:
    r = client.get(f"/collections/{name}")
    assert r.status_code == 200
    coll = Collection.model_validate(r.json())
    assert coll.itemType == "feature"
    assert "http://www.opengis.net/def/crs/OGC/1.3/CRS84" in coll.crs
    assert coll.extent and coll.extent.spatial
    np.testing.assert_allclose(coll.extent.spatial.bbox[0], store.layer(name).total_bounds)
    rels = {link.rel: link for link in coll.links}
    assert rels["items"].type == "application/geo+json"
    assert "http://www.opengis.net/def/rel/ogc/1.0/queryables" in rels
    has_years = name in ("hexagons", "villages", "kecamatan", "kabupaten")
    assert (coll.extent.temporal is not None) == has_years
    if has_years:
        assert coll.extent.temporal.interval[0][0].startswith(str(min(store.years)))


def test_queryables(client: TestClient) -> None:
    r = client.get("/collections/villages/queryables")
    assert r.status_code == 200
    assert r.headers["content-type"] == "application/schema+json"
    q = Queryables.model_validate(r.json())
    assert q.properties["kabupaten_code"]["type"] == "string"
    assert q.properties["M0"]["type"] == "number"
    assert q.properties["geometry"]["format"] == "geometry-any"


@pytest.mark.parametrize("name", ["villages", "schools"])
def test_paging_returns_every_feature_once(client: TestClient, store: LayerStore, name: str) -> None:
    seen: list[str] = []
    url: str | None = f"/collections/{name}/items?limit=7"
    limits = []
    while url:
        limit = int(parse_qs(urlsplit(url).query)["limit"][0])
        page = items(client, url)
        assert page.numberMatched == store.rows(name)
        assert page.numberReturned == len(page.features) <= limit
        seen += [str(f.id) for f in page.features]
        nxt = [link.href for link in page.links or [] if link.rel == "next"]
        assert all(h.startswith("http://testserver/") for h in nxt)
        url = nxt[0] if nxt else None
        limits.append(limit)
    assert len(seen) == len(set(seen)) == store.rows(name)
    # The first page is the 7 asked for; `next` links then ask for big pages (up to max_limit, 500
    # here), so a client that follows them (GDAL asks for 10) makes few requests.
    assert limits[0] == 7 and set(limits[1:]) <= {min(NEXT_MIN_LIMIT, 500)}
    assert len(limits) == 1 + -(-(store.rows(name) - 7) // min(NEXT_MIN_LIMIT, 500))


def test_links_keep_other_parameters(client: TestClient) -> None:
    code = client.get("/collections/villages/items?limit=1").json()["features"][0]["properties"][
        "kabupaten_code"
    ]
    page = items(client, f"/collections/villages/items?kabupaten_code={code}&limit=2&offset=2")
    rels = {link.rel: link.href for link in page.links or []}
    assert f"kabupaten_code={code}" in rels["prev"] and "offset=0" in rels["prev"]
    assert "kabupaten_code" in rels["self"]


def test_default_limit_and_clamp(client: TestClient, store: LayerStore) -> None:
    assert items(client, "/collections/hexagons/items").numberReturned == 100
    clamped = items(client, "/collections/hexagons/items?limit=100000").numberReturned
    assert clamped == min(500, store.rows("hexagons"))  # max_limit


def test_feature_properties_and_ids(client: TestClient, store: LayerStore) -> None:
    page = items(client, "/collections/villages/items?limit=3")
    frame = store.layer("villages")
    for feature in page.features:
        assert feature.geometry and feature.geometry["type"] == "MultiPolygon"
        row = frame.loc[frame["village_code"] == feature.id].iloc[0]
        assert feature.properties and feature.properties["village_name"] == row["village_name"]
        # Items show numbers as a person reads them: M0 to 4 decimals (layers/rounding.py).
        assert feature.properties["M0"] == round_value("M0", row["M0"])
        lon, lat = feature.geometry["coordinates"][0][0][0]
        assert 100 < lon < 130 and -10 < lat < 10  # lon, lat order
    hexes = items(client, "/collections/hexagons/items?limit=2")
    assert {"h3", "score", "poor", "poverty_rate", "time_min_school_sd"} <= set(
        hexes.features[0].properties or {}
    )


def test_bbox_selects_intersecting_features(client: TestClient, store: LayerStore) -> None:
    frame = store.layer("villages")
    minx, miny, maxx, maxy = frame.total_bounds
    box = (minx, miny, (minx + maxx) / 2, (miny + maxy) / 2)
    expected = set(frame.loc[frame.intersects(shapely.box(*box)), "village_code"])
    page = items(client, "/collections/villages/items?limit=500&bbox=" + ",".join(map(str, box)))
    assert {f.id for f in page.features} == expected
    assert 0 < len(expected) < len(frame)


@pytest.mark.parametrize("bbox", ["1,2,3", "a,b,c,d", "1,2,3,4,5,6,7", "1,2,3,inf"])
def test_bad_bbox(client: TestClient, bbox: str) -> None:
    assert "bbox" in problem(client, f"/collections/villages/items?bbox={bbox}", 400).detail


def test_bbox_across_the_antimeridian_and_empty_bbox(client: TestClient, store: LayerStore) -> None:
    minx, miny, maxx, maxy = store.layer("villages").total_bounds
    every = "/collections/villages/items?limit=1&bbox="
    # minlon > maxlon: the box from minlon east to 180 and on from -180 (OGC API - Features 7.15.3).
    assert items(client, every + f"{minx},{miny},{minx - 1},{maxy}").numberMatched == store.rows("villages")
    assert items(client, every + f"{maxx + 1},{miny},{minx - 1},{maxy}").numberMatched == 0
    # minlat > maxlat: swapped corners, refused as pygeoapi does (issue 23: inverted boxes are refused).
    detail = problem(client, every + f"{minx},{maxy},{maxx},{miny}", 400).detail
    assert "corners are swapped" in detail


def test_equality_filter(client: TestClient, store: LayerStore) -> None:
    frame = store.layer("villages")
    code = frame["kabupaten_code"].iloc[0]
    page = items(client, f"/collections/villages/items?kabupaten_code={code}&limit=500")
    assert page.numberMatched == (frame["kabupaten_code"] == code).sum()
    assert {f.properties["kabupaten_code"] for f in page.features if f.properties} == {code}


def test_typed_equality_filters(client: TestClient, store: LayerStore) -> None:
    hexes = store.layer("hexagons")
    assert items(client, "/collections/hexagons/items?poor=true&limit=1").numberMatched == hexes["poor"].sum()
    assert items(client, "/collections/villages/items?n_cells=1&limit=1").numberMatched is not None
    detail = problem(client, "/collections/villages/items?population=many", 400).detail
    assert "population" in detail and "number" in detail
    assert "true or false" in problem(client, "/collections/hexagons/items?poor=maybe", 400).detail


def test_sortby(client: TestClient) -> None:
    page = items(client, "/collections/villages/items?sortby=-M0&limit=10")
    m0 = [f.properties["M0"] for f in page.features if f.properties]
    assert m0 == sorted(m0, reverse=True)
    assert "nope" in problem(client, "/collections/villages/items?sortby=nope", 400).detail


def test_unknown_parameter_is_400(client: TestClient) -> None:
    detail = problem(client, "/collections/villages/items?colour=red", 400).detail
    assert "colour" in detail and "kabupaten_code" in detail


@pytest.mark.parametrize(
    "url", ["limit=0", "limit=ten", "offset=-1", "f=xml", "filter-lang=cql-json&filter=a=1"]
)
def test_bad_values_are_400(client: TestClient, url: str) -> None:
    problem(client, f"/collections/villages/items?{url}", 400)


def test_unknown_collection_and_feature(client: TestClient) -> None:
    assert "villages" in problem(client, "/collections/desa", 404).detail
    problem(client, "/collections/desa/items", 404)
    problem(client, "/collections/village_years/items", 404)
    assert "0000" in problem(client, "/collections/villages/items/0000", 404).detail


@pytest.mark.parametrize(
    ("name", "column"), [("villages", "village_code"), ("hexagons", "h3"), ("kabupaten", "kabupaten_code")]
)
def test_feature_by_id(client: TestClient, store: LayerStore, name: str, column: str) -> None:
    fid = store.layer(name)[column].iloc[1]
    r = client.get(f"/collections/{name}/items/{fid}")
    assert r.status_code == 200
    assert r.headers["content-type"] == "application/geo+json"
    feature = Feature.model_validate(r.json())
    assert feature.id == fid and feature.properties and feature.properties[column] == fid
    assert {link.rel for link in feature.links or []} == {"self", "collection"}


def test_feature_by_position_for_lines(client: TestClient, store: LayerStore) -> None:
    r = client.get("/collections/roads/items/0")
    assert r.status_code == 200
    assert Feature.model_validate(r.json()).id == "0"
    problem(client, f"/collections/roads/items/{store.rows('roads')}", 404)


def test_year_picks_village_values(client: TestClient, store: LayerStore) -> None:
    years = store.layer("village_years")
    first = min(store.years)
    page = items(client, f"/collections/villages/items?year={first}&limit=500")
    expected = years[years["year"] == first].set_index("village_code")["poverty_rate"]
    for f in page.features:
        assert f.properties and f.properties["year"] == first
        assert f.properties["poverty_rate"] == round_value("poverty_rate", expected[f.id])


def test_year_for_hexagons_rescored(client: TestClient, store: LayerStore) -> None:
    first = min(store.years)
    page = items(client, f"/collections/hexagons/items?year={first}&limit=5")
    years = store.layer("village_years").set_index(["village_code", "year"])["poverty_rate"]
    for f in page.features:
        props = f.properties or {}
        assert props["year"] == first
        assert props["poverty_rate"] == round_value("poverty_rate", years[(props["village_code"], first)])
        # Null where the cell holds fewer than 0.5 people that year (people, not land).
        assert props["score"] is None if props["population"] < 0.5 else 0 <= props["score"] <= 1


def test_year_errors(client: TestClient, store: LayerStore) -> None:
    assert "years available" in problem(client, "/collections/villages/items?year=1999", 400).detail
    assert "does not vary by year" in problem(client, "/collections/roads/items?year=2023", 400).detail
    assert items(client, f"/collections/kecamatan/items?year={max(store.years)}").numberMatched == store.rows(
        "kecamatan"
    )


def test_nan_is_null(client: TestClient) -> None:
    r = client.get("/collections/hexagons/items?limit=500&filter=time_min_school_sd IS NULL")
    assert r.status_code == 200
    assert "NaN" not in r.text
