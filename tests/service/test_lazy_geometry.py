"""Big layers' GeoJSON geometry is serialised per request: answers must not change."""

from __future__ import annotations

import json

from fastapi.testclient import TestClient

from service import catalog
from service.app import create_app
from service.responses import LazyGeometryJSON
from tests.service.conftest import prepared

PATHS = [
    "/collections/hexagons/items?limit=50&offset=7",
    "/collections/villages/items?limit=20",
    "/collections/villages/items/{vid}",
    "/collections/kabupaten/items?limit=5&year=2023",
    "/scores/kecamatan?f=geojson&limit=5",
]


def _answers(client: TestClient, vid: str) -> list[dict]:
    bodies = []
    for path in PATHS:
        answer = client.get(path.format(vid=vid))
        assert answer.status_code == 200, answer.text
        body = json.loads(answer.content)
        body.pop("timeStamp", None)  # the time of the answer
        bodies.append(body)
    return bodies


def test_lazily_serialised_geometry_answers_like_the_eager_one(app_settings, monkeypatch):
    with TestClient(create_app(app_settings)) as client:
        collections = prepared(client).catalog.collections
        assert not any(isinstance(c.geometry, LazyGeometryJSON) for c in collections.values())
        vid = client.get("/collections/villages/items?limit=1").json()["features"][0]["id"]
        eager = _answers(client, vid)
        # What the catalog holds for layers above the threshold (a nation's hexagons), for every layer.
        monkeypatch.setattr(catalog, "EAGER_GEOMETRY_ROWS", 0)
        for collection in collections.values():
            geometry = collection.table.geometry
            collection.geometry = catalog._geometry_bytes(geometry)
            assert geometry is None or isinstance(collection.geometry, LazyGeometryJSON)
        assert _answers(client, vid) == eager
