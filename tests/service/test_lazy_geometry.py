"""Big layers' GeoJSON geometry is serialised per request: answers must not change."""

from __future__ import annotations

from fastapi.testclient import TestClient

from service import catalog
from service.app import create_app
from service.responses import LazyGeometryJSON
from service.settings import Settings

PATHS = [
    "/collections/hexagons/items?limit=50&offset=7",
    "/collections/villages/items?limit=20",
    "/collections/villages/items/{vid}",
    "/collections/kabupaten/items?limit=5&year=2023",
    "/scores/kecamatan?f=geojson&limit=5",
]


def _answers(settings: Settings) -> tuple[list[bytes], dict[str, object]]:
    with TestClient(create_app(settings)) as client:
        vid = client.get("/collections/villages/items?limit=1").json()["features"][0]["id"]
        bodies = []
        for path in PATHS:
            answer = client.get(path.format(vid=vid))
            assert answer.status_code == 200, answer.text
            bodies.append(answer.content)
        served = client.app.state.served.catalog.collections  # type: ignore[attr-defined]
        return bodies, {name: c.geometry for name, c in served.items()}


def test_lazily_serialised_geometry_answers_like_the_eager_one(app_settings, monkeypatch):
    eager, eager_geoms = _answers(app_settings)
    assert not any(isinstance(g, LazyGeometryJSON) for g in eager_geoms.values())
    monkeypatch.setattr(catalog, "EAGER_GEOMETRY_ROWS", 0)
    lazy, lazy_geoms = _answers(app_settings)
    assert isinstance(lazy_geoms["hexagons"], LazyGeometryJSON)
    assert lazy == eager
