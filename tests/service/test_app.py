"""The app factory, health, landing page, conformance, OpenAPI, middleware and error bodies."""

from __future__ import annotations

from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from openapi_spec_validator import validate

from service.app import create_app
from service.models import Conformance, Health, Landing, Problem
from service.settings import Settings
from tests.service.conftest import prepared


def test_create_app_does_not_open_the_store(tmp_path: Path) -> None:
    app = create_app(Settings(store_dir=tmp_path / "missing"))  # no error until the lifespan runs
    assert app.title
    with pytest.raises(OSError, match="no layer store here"), TestClient(app):
        pass


def test_settings_check_default_within_max() -> None:
    with pytest.raises(ValueError, match="default_limit"):
        Settings(default_limit=50, max_limit=10)


def test_settings_from_environment(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("SASARAN_STORE_DIR", str(tmp_path))
    monkeypatch.setenv("SASARAN_MAX_LIMIT", "200")
    settings = Settings()
    assert settings.store_dir == tmp_path and settings.max_limit == 200


def test_healthz(client: TestClient) -> None:
    r = client.get("/healthz")
    assert r.status_code == 200
    assert r.headers["content-type"].startswith("application/json")
    health = Health.model_validate(r.json())
    assert health.synthetic is True
    assert health.layers >= 9


def test_landing_links(client: TestClient) -> None:
    r = client.get("/")
    assert r.status_code == 200
    assert r.headers["content-type"].startswith("application/json")
    landing = Landing.model_validate(r.json())
    rels = {link.rel: link for link in landing.links}
    assert {"self", "service-desc", "service-doc", "conformance", "data"} <= set(rels)
    assert rels["service-desc"].href.endswith("/openapi")
    assert rels["service-desc"].type == "application/vnd.oai.openapi+json;version=3.0"
    assert rels["service-doc"].href.endswith("/docs")
    assert "SYNTHETIC" in (landing.description or "")


def test_conformance(client: TestClient) -> None:
    r = client.get("/conformance")
    assert r.status_code == 200
    classes = Conformance.model_validate(r.json()).conformsTo
    for suffix in (
        "features-1/1.0/conf/core",
        "conf/geojson",
        "conf/oas30",
        "conf/filter",
        "conf/cql2-text",
        "conf/basic-cql2",
        "conf/queryables",
        "conf/basic-spatial-functions",
    ):
        assert any(c.endswith(suffix) for c in classes), suffix


def test_openapi_is_valid_and_declares_collection_filters(client: TestClient) -> None:
    r = client.get("/openapi")
    assert r.status_code == 200
    doc = r.json()
    validate(doc)
    op = doc["paths"]["/collections/villages/items"]["get"]
    names = {p.get("name") for p in op["parameters"]} | {
        p.get("$ref", "").rsplit("/", 1)[-1] for p in op["parameters"]
    }
    assert {"kabupaten_code", "village_code", "M0", "bbox", "limit", "filter", "filter-lang"} <= names
    # GDAL and QGIS send a condition on a property to the server only when the collection's items
    # path declares it: year (and datetime) are declared on every yearly collection's path.
    assert {"year", "datetime", "crs", "bbox-crs", "properties", "skipGeometry"} <= names
    assert "year" not in {p.get("$ref", "").rsplit("/", 1)[-1] for p in
                          doc["paths"]["/collections/roads/items"]["get"]["parameters"]}  # fmt: skip
    hex_names = {p.get("name") for p in doc["paths"]["/collections/hexagons/items"]["get"]["parameters"]}
    assert {"h3", "score", "poor"} <= hex_names
    assert "village_years" not in str(list(doc["paths"]))
    limit = doc["components"]["parameters"]["limit"]
    # Larger limits are clamped, so the schema allows them (no maximum) and says so.
    assert limit["schema"] == {"type": "integer", "minimum": 1, "default": 100}
    assert "clamped to 500" in limit["description"]


def test_docs_page(client: TestClient) -> None:
    r = client.get("/docs")
    assert r.status_code == 200
    assert r.headers["content-type"].startswith("text/html")


def test_unknown_path_is_a_problem(client: TestClient) -> None:
    r = client.get("/no/such/thing")
    assert r.status_code == 404
    assert r.headers["content-type"] == "application/problem+json"
    assert Problem.model_validate(r.json()).status == 404


def test_gzip_and_cache_control(client: TestClient) -> None:
    r = client.get("/collections/villages/items?limit=50", headers={"Accept-Encoding": "gzip"})
    assert r.status_code == 200
    assert r.headers["content-encoding"] == "gzip"
    assert r.headers["cache-control"] == "public, max-age=300"
    small = client.get("/healthz", headers={"Accept-Encoding": "gzip"})
    assert "content-encoding" not in small.headers
    bad = client.get("/collections/nope")
    assert bad.headers["cache-control"] == "no-store"


def test_cors_when_configured(app_settings: Settings) -> None:
    settings = app_settings.model_copy(update={"cors_origins": ["https://peta.example"]})
    with TestClient(create_app(settings)) as c:
        r = c.get("/conformance", headers={"Origin": "https://peta.example"})
        assert r.headers["access-control-allow-origin"] == "https://peta.example"


def test_unexpected_error_hides_details(app_settings: Settings) -> None:
    app = create_app(app_settings)

    @app.get("/boom")
    def boom() -> None:
        raise RuntimeError("secret path /etc/shadow")

    with TestClient(app, raise_server_exceptions=False) as c:
        r = c.get("/boom")
    assert r.status_code == 500
    assert r.headers["content-type"] == "application/problem+json"
    assert "secret" not in r.text


def test_every_operation_states_its_answers(client: TestClient) -> None:
    """Each route declares its success media types (``responses=`` on its decorator): a new route
    without them fails here rather than going undocumented."""
    doc = client.get("/openapi").json()
    for path, item in doc["paths"].items():
        for method, op in item.items():
            ok = [code for code in op["responses"] if code.startswith("2")]
            assert ok, (method, path)
            for code in (c for c in ok if c != "204"):  # 204: no content, by definition
                content = op["responses"][code].get("content", {})
                assert content and all("schema" in media for media in content.values()), (method, path)
            assert {"400", "405", "413", "503"} <= set(op["responses"]), (method, path)
            # 422 is only a sheet upload's rows in error (docs/verification.md); a bad request is 400.
            assert "422" not in op["responses"] or path.endswith("/sheet"), (method, path)


def test_building_the_openapi_document_rescores_nothing(app_settings: Settings) -> None:
    """The document reads the catalog only: no year view of any layer is computed for it."""
    with TestClient(create_app(app_settings)) as fresh:
        catalog = prepared(fresh).catalog
        assert fresh.get("/openapi").status_code == 200
        assert catalog._views == {}
