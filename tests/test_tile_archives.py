"""PMTiles and MBTiles of a tiled layer: every non-empty tile the service answers, read back by the
pmtiles reader and GDAL's MBTiles driver; over HTTP as /exports/{layer}.pmtiles."""

from __future__ import annotations

import gzip
import sqlite3
from pathlib import Path

import pyogrio
import pytest
from fastapi.testclient import TestClient
from pmtiles.reader import MmapSource, Reader
from pmtiles.tile import Compression, TileType

from layers.export.tile_archives import write_tile_archive
from layers.maps.tiles import VectorTiles, tile_range
from layers.store import LayerStore
from service.app import create_app
from service.settings import Settings

MAX_Z = 9


@pytest.fixture(scope="module")
def store(store_dir: Path) -> LayerStore:
    return LayerStore.open(store_dir)


def _expected(store: LayerStore, name: str) -> dict[tuple[int, int, int], bytes]:
    tiles = VectorTiles(store)
    out = {}
    for z in range(MAX_Z + 1):
        r0, r1, c0, c1 = tile_range(tiles.bounds(name), z)
        for x in range(c0, c1 + 1):
            for y in range(r0, r1 + 1):
                body = tiles.tile(name, z, x, y)
                if body:
                    out[(z, x, y)] = body
    return out


def test_pmtiles_hold_every_tile_the_service_answers(store, tmp_path):
    path = write_tile_archive(store, "villages", tmp_path / "v.pmtiles", "pmtiles", max_zoom=MAX_Z)
    expected = _expected(store, "villages")
    with path.open("rb") as f:
        reader = Reader(MmapSource(f))
        header = reader.header()
        assert header["tile_type"] == TileType.MVT and header["tile_compression"] == Compression.GZIP
        assert header["addressed_tiles_count"] == len(expected)
        for (z, x, y), body in expected.items():
            assert gzip.decompress(reader.get(z, x, y)) == body
        layers = [layer["id"] for layer in reader.metadata()["vector_layers"]]
    assert layers == ["villages", "villages_labels"]


def test_mbtiles_open_in_gdal_with_their_features(store, tmp_path):
    path = write_tile_archive(store, "villages", tmp_path / "v.mbtiles", "mbtiles", max_zoom=MAX_Z)
    with sqlite3.connect(path) as db:
        count = db.execute("SELECT count(*) FROM tiles").fetchone()[0]
        meta = dict(db.execute("SELECT name, value FROM metadata").fetchall())
    db.close()
    assert count == len(_expected(store, "villages")) and meta["format"] == "pbf"
    assert ("SYNTHETIC" in meta["description"]) == store.synthetic
    # GDAL reads the deepest zoom's features (one per tile fragment), with the village codes.
    frame = pyogrio.read_dataframe(path, layer="villages")
    assert set(frame["village_code"]) == set(store.layer("villages")["village_code"])


def test_tile_archives_download_over_http(store, tmp_path):
    with TestClient(create_app(Settings(store_dir=store.path, export_dir=tmp_path / "cache"))) as client:
        r = client.get("/exports/schools.pmtiles")
        assert r.status_code == 200 and r.headers["content-type"] == "application/vnd.pmtiles"
        assert r.content[:7] == b"PMTiles"
        assert client.get("/exports/village_years.pmtiles").status_code == 404
        links = [link["href"] for link in client.get("/exports").json()["links"]]
        assert any(h.endswith("/exports/hexagons.pmtiles") for h in links)
        assert any(h.endswith("/exports/villages.mbtiles") for h in links)
