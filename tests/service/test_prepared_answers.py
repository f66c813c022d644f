"""The request path's shortcuts answer exactly what the general path answers (issue 24).

Prepared Feature bytes, geometry serialised after startup, the STRtree for big layers' boxes and the
inside-the-box shortcut are each compared with the per-request path they replace, on the session's
demo store. `test_golden_answers` holds the answers themselves fixed.
"""

from __future__ import annotations

import json

import numpy as np
import pytest
import shapely
from fastapi.testclient import TestClient

from layers.query import table as query
from layers.query.table import Table, select
from layers.store import LayerStore
from service import catalog as catalog_module
from service.app import create_app
from service.catalog import Catalog
from service.middleware import edit_response_headers, host_refusal
from service.responses import LazyGeometryJSON, features_bytes, geometry_json, prepare_features


@pytest.fixture(scope="module")
def catalog(store: LayerStore) -> Catalog:
    return Catalog(store)


def test_prepared_features_are_the_per_request_ones(catalog: Catalog):
    for collection in catalog.collections.values():
        if collection.table.geometry is None:
            continue
        assert collection.features is not None, collection.id  # every layer of the demo is small
        rows = np.arange(0, len(collection.table), 7)
        prepared = catalog.features_json(collection, collection.table, rows)
        assert prepared == features_bytes(collection.table, collection.geometry, rows)
        assert b",".join(prepare_features(collection.table, collection.geometry)[rows]) == prepared


def test_a_year_view_answers_from_its_own_prepared_features(catalog: Catalog, store: LayerStore):
    villages = catalog.collection("villages")
    other = next(y for y in store.years if y != villages.stored_year)
    view = catalog.table(villages, other)
    assert catalog.cached_table(villages, other) is view
    rows = np.arange(len(view))
    prepared = catalog.features_json(villages, view, rows)
    assert prepared == features_bytes(view, villages.geometry, rows)
    assert prepared != catalog.features_json(villages, villages.table, rows)  # other years, other values
    assert catalog.answers_on_loop(villages, view)


def test_geometry_prepared_after_startup_is_the_lazy_one(catalog: Catalog):
    geometry = catalog.collection("hexagons").table.geometry
    lazy, prepared = LazyGeometryJSON(geometry), LazyGeometryJSON(geometry)
    prepared.prepare(chunk=1000)  # several chunks
    rows = np.array([0, 5, len(geometry) - 1, 5])
    assert list(prepared[rows]) == list(lazy[rows]) == list(geometry_json(geometry[rows]))
    assert list(prepared[[3]]) == list(lazy[[3]])


def test_big_layers_are_prepared_in_the_background_and_answer_alike(store: LayerStore, monkeypatch):
    monkeypatch.setattr(catalog_module, "EAGER_GEOMETRY_ROWS", 100)
    monkeypatch.setattr(query, "INDEXED_ROWS", 100)
    big = Catalog(store)
    hexagons = big.collection("hexagons")
    assert isinstance(hexagons.geometry, LazyGeometryJSON) and hexagons.features is None
    assert not big.answers_on_loop(hexagons, hexagons.table)
    rows = np.arange(0, len(hexagons.table), 3)
    before = big.features_json(hexagons, hexagons.table, rows)
    big.prepare_geometry()
    assert hexagons.geometry.prepared is not None and "tree" in hexagons.table._index
    assert big.features_json(hexagons, hexagons.table, rows) == before


def _boxes(table: Table, count: int) -> list[tuple[float, float, float, float]]:
    rng = np.random.default_rng(3)
    minx, miny, maxx, maxy = table.total_bounds or (0, 0, 1, 1)
    boxes = []
    for _ in range(count):
        x, y = rng.uniform(minx, maxx), rng.uniform(miny, maxy)
        w, h = rng.uniform(0.001, 0.4, size=2)
        boxes.append((x - w, y - h, x + w, y + h))
    boxes += [(maxx + 1, miny, maxx + 2, maxy), (minx, maxy, maxx, miny), (179.0, miny, -179.0, maxy)]
    return boxes


@pytest.mark.parametrize("layer", ["hexagons", "villages", "roads"])
def test_indexed_boxes_select_the_rows_every_row_test_selects(catalog: Catalog, layer: str, monkeypatch):
    table = catalog.collection(layer).table
    boxes = _boxes(table, 40)
    indexed = []
    monkeypatch.setattr(query, "INDEXED_ROWS", 0)
    for bbox in boxes:
        indexed.append(select(table, bbox=bbox))
    for bbox, rows in zip(boxes, indexed, strict=True):
        # The definition: every row whose geometry intersects the box, in layer order.
        box = shapely.box(*bbox) if bbox[0] <= bbox[2] else None
        if box is not None and bbox[1] <= bbox[3]:
            expected = np.flatnonzero(shapely.intersects(table.geometry, box))
            assert rows.tolist() == expected.tolist(), bbox
    monkeypatch.setattr(query, "INDEXED_ROWS", 10**9)
    for bbox, rows in zip(boxes, indexed, strict=True):
        assert select(table, bbox=bbox).tolist() == rows.tolist(), bbox
    assert sum(len(r) for r in indexed) > 0


def test_answer_headers_as_the_stacked_middlewares_set_them():
    headers = [(b"content-type", b"text/html; charset=utf-8"), (b"x-content-type-options", b"a")]
    headers.append((b"x-content-type-options", b"b"))
    edit_response_headers(headers, 200, "GET", b"public, max-age=5")
    names = [name for name, _ in headers]
    assert (
        names.count(b"x-content-type-options") == 1 and dict(headers)[b"x-content-type-options"] == b"nosniff"
    )
    assert dict(headers)[b"cache-control"] == b"public, max-age=5"
    assert b"content-security-policy" in dict(headers) and dict(headers)[b"referrer-policy"] == b"same-origin"
    kept = [(b"cache-control", b"no-cache"), (b"referrer-policy", b"no-referrer")]
    edit_response_headers(kept, 404, "POST", b"public, max-age=5")
    assert dict(kept)[b"cache-control"] == b"no-cache" and dict(kept)[b"referrer-policy"] == b"no-referrer"
    failed: list[tuple[bytes, bytes]] = []
    edit_response_headers(failed, 200, "POST", b"public")
    assert dict(failed)[b"cache-control"] == b"no-store"
    assert host_refusal("example.org:8000", []) is None
    assert "not a valid" in (host_refusal("bad host", []) or "")
    assert "allowed_hosts" in (host_refusal("other.org", ["example.org"]) or "")


def test_light_answers_on_the_loop_and_heavy_ones_in_threads_answer_alike(app_settings):
    # A year view not built yet is built in the thread pool; then the same request answers on the loop.
    with TestClient(create_app(app_settings)) as client:
        assert client.get("/collections").status_code == 200  # waits for the catalog
        catalog = client.app.state.served.catalog  # type: ignore[attr-defined]
        villages = catalog.collection("villages")
        year = next(y for y in villages.years if y != villages.stored_year)
        assert catalog.cached_table(villages, year) is None
        first = client.get(f"/collections/villages/items?limit=5&year={year}")
        assert catalog.cached_table(villages, year) is not None
        again = client.get(f"/collections/villages/items?limit=5&year={year}")
        strip = lambda body: {k: v for k, v in json.loads(body).items() if k != "timeStamp"}  # noqa: E731
        assert first.status_code == again.status_code == 200 and strip(first.content) == strip(again.content)
        vid = first.json()["features"][0]["id"]
        one = client.get(f"/collections/villages/items/{vid}?year={year}").json()
        assert one["properties"] == first.json()["features"][0]["properties"]


@pytest.mark.parametrize(
    "query",
    [
        b"",
        b"limit=100&offset=300",
        b"offset=5&bbox=1,2,3,4&limit=7&f=html",
        b"a=1&a=2&offset=&x=%20y+z&f=json",
        b"filter=M0%20%3E%3D%200.1&sortby=-M0",
    ],
)
@pytest.mark.parametrize("root_path", ["", "/sasaran"])
def test_page_links_are_what_starlette_writes(query: bytes, root_path: str):
    from types import SimpleNamespace

    from starlette.requests import Request

    from service import links

    app = SimpleNamespace(state=SimpleNamespace(settings=SimpleNamespace(public_url=None)))
    scope = {
        "type": "http",
        "method": "GET",
        "scheme": "http",
        "path": f"{root_path}/collections/villages/items",
        "root_path": root_path,
        "query_string": query,
        "headers": [(b"host", b"example.org:8000")],
        "server": ("127.0.0.1", 8000),
        "app": app,
    }
    variants = [{}, {"f": "json"}, {"offset": 400, "limit": 1000}, {"offset": 0, "limit": 100}]

    def starlette_href(request: Request, **params: object) -> str:  # the implementation replaced
        url = request.url.include_query_params(**params) if params else request.url
        path = url.path
        prefix = request.base_url.path.rstrip("/")
        if prefix and path.startswith(prefix):
            path = path[len(prefix) :]
        return links.href(request, path) + (f"?{url.query}" if url.query else "")

    expected = [starlette_href(Request(scope), **params) for params in variants]
    assert links.request_hrefs(Request(scope), variants) == expected
    assert [links.request_href(Request(scope), **params) for params in variants] == expected
