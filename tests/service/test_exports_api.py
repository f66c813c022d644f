from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from pathlib import Path

import pandas as pd
import pyogrio
import pytest
from fastapi.testclient import TestClient

from layers.store import LayerStore

app_module = pytest.importorskip("service.app", reason="service.app not written yet")


@pytest.fixture(scope="module")
def store(store_dir: Path) -> LayerStore:
    return LayerStore.open(store_dir)


@pytest.fixture(scope="module")
def client(store: LayerStore) -> Iterator[TestClient]:
    from service.settings import Settings

    with TestClient(app_module.create_app(Settings(store_dir=store.path))) as c:
        yield c


@pytest.mark.parametrize(
    ("ext", "media_type"),
    [
        ("gpkg", "application/geopackage+sqlite3"),
        ("fgb", "application/flatgeobuf"),
        ("parquet", "application/vnd.apache.parquet"),
        ("geojson", "application/geo+json"),
        ("csv", "text/csv"),
        ("xlsx", "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"),
    ],
)
def test_layer_downloads(client, store, tmp_path, ext, media_type):
    r = client.get(f"/exports/villages.{ext}")
    assert r.status_code == 200
    assert r.headers["content-type"].startswith(media_type)
    disposition = r.headers["content-disposition"]
    assert disposition.startswith("attachment") and f'.{ext}"' in disposition
    assert ("synthetic" in disposition) == store.synthetic
    out = tmp_path / f"villages.{ext}"
    out.write_bytes(r.content)
    if ext == "csv":
        assert len(pd.read_csv(out)) == store.rows("villages")
    elif ext == "xlsx":
        assert len(pd.read_excel(out)) == store.rows("villages")
    elif ext == "parquet":
        assert len(pd.read_parquet(out)) == store.rows("villages")
    else:
        assert pyogrio.read_info(out, layer="villages")["features"] == store.rows("villages")


def test_styled_geopackage_of_every_layer(client, store, tmp_path):
    r = client.get("/exports/sasaran.gpkg")
    assert r.status_code == 200
    assert r.headers["content-type"] == "application/geopackage+sqlite3"
    out = tmp_path / "all.gpkg"
    out.write_bytes(r.content)
    assert set(store.names) <= set(dict(pyogrio.list_layers(out)))
    with sqlite3.connect(out) as db:
        assert db.execute('SELECT count(*) FROM layer_styles WHERE "useAsDefault" = 1').fetchone()[0] >= 8


def test_listing_links_every_download(client):
    r = client.get("/exports")
    assert r.status_code == 200
    hrefs = [link["href"] for link in r.json()["links"]]
    assert "http://testserver/exports/sasaran.gpkg" in hrefs
    assert "http://testserver/exports/village_years.csv" in hrefs
    assert "http://testserver/exports/village_years.fgb" not in hrefs


@pytest.mark.parametrize(
    ("path", "status"),
    # A table has no FlatGeobuf download (not offered by /exports): no such resource, 404.
    [("/exports/villages.shp", 400), ("/exports/nope.csv", 404), ("/exports/village_years.fgb", 404)],
)
def test_bad_downloads_are_problems(client, path, status):
    r = client.get(path)
    assert r.status_code == status
    assert r.headers["content-type"].startswith("application/problem+json")
    assert r.json()["detail"]
