"""Private by default (UU PDP No. 27/2022): no name, NIK or address of the register in any anonymous answer.

The real service runs under uvicorn on the demo store **with the register key** (so it could read
the names), and every anonymous answer is scanned for every head's name, NIK, address and family id
of the demo register:

* every path of the service's OpenAPI document, each path parameter taken from the store (every
  collection, level, layer and export format, a few features, tiles of several zooms) and each
  query parameter with a stated domain tried value by value: so an endpoint added later is scanned
  without this test naming it;
* every collection's items at the largest page, following ``next`` links to the end; single items;
* every export format; vector tiles decoded at several zooms; ``/scores`` of every level on both
  bases, GET and POST; ``/changes``; ``POST /targets`` in every format and language and basis;
* the planner page in Chromium and every response it received, with its downloads;
* the service's log of the whole run.

Answers are decoded as their clients would read them (JSON, CSV, HTML, XLSX cells, PDF text,
GeoPackage/FlatGeobuf/Parquet attributes, decoded MVT) before they are scanned. The scanner is
checked on a by-name list first: it must find the names there.
"""

from __future__ import annotations

import gzip
import io
import json
import os
import shutil
import sqlite3
import subprocess
import tempfile
import zipfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

import httpx
import pytest

from layers.register import KEY_ENV, KEY_FILE_ENV, load_key, read_register
from layers.store import LayerStore
from tests.conftest import running_service
from tests.personal_data import Secrets

HERE = Path(__file__).resolve().parent
DRIVER = HERE / "clients" / "privacy_planner.mjs"
CHROMIUM = os.environ.get("CHROMIUM", "/usr/bin/chromium")
#: Zooms whose tiles are fetched across the province (a low, a middle and a high one).
ZOOMS = (5, 8, 11)
#: Features fetched one by one per collection.
SINGLE_ITEMS = 5


# ------------------------------------------------------------------------------------------------
# Decoding answers as their clients read them
# ------------------------------------------------------------------------------------------------


def decoded(body: bytes, content_type: str, url: str = "") -> str:
    """An answer's content as text a person or a program would see in it."""
    if not body:
        return ""  # a download's response, whose file is saved and scanned on its own
    if body[:2] == b"\x1f\x8b":
        body = gzip.decompress(body)
    kind = content_type.split(";")[0].strip().lower()
    if "spreadsheetml" in kind or body[:2] == b"PK":
        return _xlsx_text(body) if "spreadsheetml" in kind or url.endswith(".xlsx") else _zip_text(body)
    if kind == "application/pdf" or body[:5] == b"%PDF-":
        return _pdf_text(body)
    if "mapbox-vector-tile" in kind or "protobuf" in kind:
        return _mvt_text(body)
    archive = _tile_archive_text(body, kind, url)
    if archive is not None:
        return archive
    if "geopackage" in kind or body[:16] == b"SQLite format 3\x00":
        return _vector_text(body, ".gpkg")
    if "flatgeobuf" in kind or body[:3] == b"fgb":
        return _vector_text(body, ".fgb")
    if "parquet" in kind or body[:4] == b"PAR1":
        return _parquet_text(body)
    text = body.decode("utf-8", errors="replace")
    if kind in ("application/json", "application/geo+json", "application/problem+json"):
        # JSON escapes non-ASCII: read it back so a name is compared as it is.
        try:
            return json.dumps(json.loads(text), ensure_ascii=False)
        except ValueError:
            return text
    return text


def _xlsx_text(body: bytes) -> str:
    import openpyxl

    book = openpyxl.load_workbook(io.BytesIO(body), read_only=True)
    return "\n".join(" ".join("" if v is None else str(v) for v in row)
                     for sheet in book.worksheets for row in sheet.iter_rows(values_only=True))  # fmt: skip


def _zip_text(body: bytes) -> str:
    with zipfile.ZipFile(io.BytesIO(body)) as archive:
        return "\n".join(archive.read(name).decode("utf-8", errors="replace") for name in archive.namelist())


def _pdf_text(body: bytes) -> str:
    with tempfile.NamedTemporaryFile(suffix=".pdf") as handle:
        handle.write(body)
        handle.flush()
        done = subprocess.run(["pdftotext", "-layout", handle.name, "-"], capture_output=True, check=True)
    return done.stdout.decode("utf-8", errors="replace")


def _mvt_text(body: bytes) -> str:
    import mapbox_vector_tile

    layers = mapbox_vector_tile.decode(body)
    return json.dumps({n: [f["properties"] for f in layer["features"]] for n, layer in layers.items()},
                      ensure_ascii=False, default=str)  # fmt: skip


def _tile_archive_text(body: bytes, kind: str, url: str) -> str | None:
    """The tiles of a PMTiles or MBTiles download, decoded (None: the body is neither)."""
    if "pmtiles" in kind or body[:7] == b"PMTiles":
        return _pmtiles_text(body)
    if kind == "application/vnd.sqlite3" or url.endswith(".mbtiles"):
        return _mbtiles_text(body)
    return None


def _pmtiles_text(body: bytes) -> str:
    """Every tile of a PMTiles archive, decoded, and its metadata."""
    from pmtiles.reader import MemorySource, Reader, all_tiles

    source = MemorySource(body)
    tiles = [_mvt_text(gzip.decompress(data)) for _, data in all_tiles(source)]
    return json.dumps(Reader(source).metadata(), ensure_ascii=False) + "\n" + "\n".join(tiles)


def _mbtiles_text(body: bytes) -> str:
    """Every tile of an MBTiles file (SQLite), decoded, and its metadata."""
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "answer.mbtiles"
        path.write_bytes(body)
        db = sqlite3.connect(path)
        try:
            meta = db.execute("SELECT name, value FROM metadata").fetchall()
            rows = db.execute("SELECT tile_data FROM tiles")
            tiles = [_mvt_text(gzip.decompress(data)) for (data,) in rows]
        finally:
            db.close()
    return json.dumps(meta, ensure_ascii=False) + "\n" + "\n".join(tiles)


def _vector_text(body: bytes, suffix: str) -> str:
    import pyogrio

    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / f"answer{suffix}"
        path.write_bytes(body)
        texts = []
        for name, _ in pyogrio.list_layers(path):
            frame = pyogrio.read_dataframe(path, layer=name, read_geometry=False)
            texts.append(frame.to_csv(index=False))
        return "\n".join(texts)


def _parquet_text(body: bytes) -> str:
    import pandas as pd

    frame = pd.read_parquet(io.BytesIO(body))
    return frame.drop(columns=[c for c in frame.columns if c == "geometry"]).to_csv(index=False)


# ------------------------------------------------------------------------------------------------
# Fixtures: the register's secrets and the real service holding the key
# ------------------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def secrets(store: LayerStore, demo_sources: Path) -> Secrets:
    key = load_key(demo_sources.parent / "register.key", environ={})
    return Secrets(read_register(store, key))


@pytest.fixture(scope="module")
def service(
    store_dir: Path, demo_sources: Path, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[tuple[str, Path]]:
    log = tmp_path_factory.mktemp("privacy") / "service.log"
    env = {KEY_FILE_ENV: str(demo_sources.parent / "register.key"), "SASARAN_RELOAD_INTERVAL_S": "0"}
    environ_before = os.environ.pop(KEY_ENV, None)
    try:
        with running_service(store_dir, log, env=env) as (base, _):
            health = httpx.get(f"{base}/healthz", timeout=30).json()
            assert health["households"]["personal_data"] == "available", "the service must hold the key"
            yield base, log
    finally:
        if environ_before is not None:
            os.environ[KEY_ENV] = environ_before


def test_the_scanner_finds_the_names_of_a_by_name_list(
    secrets: Secrets, store: LayerStore, demo_sources, tmp_path
):
    from layers.export.households import family_list, write_family_list

    codes = store.layer("villages")["village_code"].astype(str).tolist()[:2]
    families = family_list(store, load_key(demo_sources.parent / "register.key", environ={}), codes)
    for fmt, kind in (("xlsx", "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"),
                      ("csv", "text/csv"), ("pdf", "application/pdf")):  # fmt: skip
        path = write_family_list(families, tmp_path / f"list.{fmt}", fmt)
        hits = set(secrets.found(decoded(path.read_bytes(), kind, path.name)))
        assert hits & secrets.names and hits & secrets.niks, fmt
        # A PDF table wraps an address over two lines: the scan still sees the demo's marker.
        assert hits & secrets.addresses or (fmt == "pdf" and "(alamat sintetis)" in hits), fmt


# ------------------------------------------------------------------------------------------------
# Walking the service
# ------------------------------------------------------------------------------------------------


class Walk:
    """Requests to the anonymous service, each answer decoded and scanned."""

    def __init__(self, base: str, secrets: Secrets):
        self.base, self.secrets = base, secrets
        self.client = httpx.Client(base_url=base, timeout=300, follow_redirects=False)
        self.seen: list[str] = []
        self.leaks: list[str] = []

    def scan(self, label: str, body: bytes, content_type: str) -> None:
        hits = self.secrets.found(decoded(body, content_type, label))
        if hits:
            self.leaks.append(f"{label}: {hits[:3]}")
        self.seen.append(label)

    def get(self, path: str, **params: Any) -> httpx.Response:
        answer = self.client.get(path, params=params)
        self.scan(f"GET {path}?{urlencode(params)} [{answer.status_code}]", answer.content,
                  answer.headers.get("content-type", ""))  # fmt: skip
        return answer

    def post(self, path: str, body: Any, **params: Any) -> httpx.Response:
        answer = self.client.post(path, params=params, json=body)
        self.scan(f"POST {path}?{urlencode(params)} [{answer.status_code}]", answer.content,
                  answer.headers.get("content-type", ""))  # fmt: skip
        return answer


def _tiles(bounds: list[float], zoom: int, most: int = 12) -> list[tuple[int, int, int]]:
    import math

    def tile(lon: float, lat: float) -> tuple[int, int]:
        n = 2**zoom
        x = int((lon + 180) / 360 * n)
        y = int((1 - math.asinh(math.tan(math.radians(lat))) / math.pi) / 2 * n)
        return min(max(x, 0), n - 1), min(max(y, 0), n - 1)

    west, south, east, north = bounds
    x0, y1 = tile(west, south)
    x1, y0 = tile(east, north)
    every = [(zoom, y, x) for y in range(y0, y1 + 1) for x in range(x0, x1 + 1)]
    step = max(1, len(every) // most)
    return every[::step][:most]


def _values(name: str, schema: dict[str, Any], found: dict[str, list[Any]]) -> list[Any]:
    """The values a path parameter is walked with: the store's (``found``), else its stated domain."""
    if name in found:
        return found[name]
    if "enum" in schema:
        return list(schema["enum"])
    return ["6201010001" if schema.get("type") != "integer" else 1]


def test_no_anonymous_answer_names_a_family(service: tuple[str, Path], secrets: Secrets, store: LayerStore):
    base, log = service
    walk = Walk(base, secrets)
    doc = walk.get("/openapi").json()
    collections = [c["id"] for c in walk.get("/collections").json()["collections"]]
    features = _walk_items(walk, collections)
    bounds = list(store.layer("villages").total_bounds)
    tiles = [t for zoom in ZOOMS for t in _tiles(bounds, zoom)]
    villages = store.layer("villages")["village_code"].astype(str).tolist()
    found: dict[str, list[Any]] = {
        "collection_id": collections,
        "feature_id": [features[c][0] for c in collections if features.get(c)],
        "code": villages[:2],
        "family_id": ["SINT-0000000000-0001", "1"],
        "name": ["operator"],
    }
    for path, item in doc["paths"].items():
        for method, op in item.items():
            if method in ("get", "post"):
                _walk_operation(walk, path, method, op.get("parameters", []), found, collections, tiles)
    _walk_fixed(walk, base)
    assert len(walk.seen) > 300, f"only {len(walk.seen)} answers scanned"
    assert any("/tiles/WebMercatorQuad/11/" in s for s in walk.seen)
    assert any("basis=household" in s and "[200]" in s for s in walk.seen)
    # The log of the whole run, the service's and the access log alike.
    walk.scan("service log", log.read_bytes(), "text/plain")
    assert not walk.leaks, "personal data in anonymous answers:\n" + "\n".join(walk.leaks[:20])


def _walk_items(walk: Walk, collections: list[str]) -> dict[str, list[str]]:
    """Every collection's items at the largest page, to the end; a few features one by one."""
    features: dict[str, list[str]] = {}
    for collection in collections:
        url: str | None = f"/collections/{collection}/items"
        params: dict[str, Any] = {"limit": 10_000}
        while url is not None:
            page = walk.get(url, **params).json()
            features.setdefault(collection, []).extend(str(f["id"]) for f in page["features"][:SINGLE_ITEMS])
            following = [link["href"] for link in page.get("links", []) if link["rel"] == "next"]
            url, params = (following[0].replace(walk.base, ""), {}) if following else (None, {})
        for fid in features[collection][:SINGLE_ITEMS]:
            walk.get(f"/collections/{collection}/items/{fid}")
            walk.get(f"/collections/{collection}/items/{fid}", f="html")
    return features


def _walk_operation(
    walk: Walk,
    path: str,
    method: str,
    parameters: list[dict[str, Any]],
    found: dict[str, list[Any]],
    collections: list[str],
    tiles: list[tuple[int, int, int]],
) -> None:
    """One operation of the OpenAPI document: path parameters from the store, each query domain."""
    names = {p["name"] for p in parameters if p.get("in") == "path"}
    if {"z", "y", "x"} <= names:  # vector tiles: decoded at several zooms, for every collection
        for collection in collections:
            for z, y, x in tiles:
                walk.get(f"/collections/{collection}/tiles/WebMercatorQuad/{z}/{y}/{x}")
        return
    combos: list[dict[str, Any]] = [{}]
    for parameter in (p for p in parameters if p.get("in") == "path"):
        values = _values(parameter["name"], parameter.get("schema", {}), found)
        combos = [dict(c, **{parameter["name"]: v}) for c in combos for v in values]
    queries: list[dict[str, Any]] = [{}]
    for parameter in parameters:
        if parameter.get("in") == "query" and "enum" in parameter.get("schema", {}):
            queries += [{parameter["name"]: v} for v in parameter["schema"]["enum"]]
    for combo in combos:
        concrete = path
        for name, value in combo.items():
            concrete = concrete.replace("{" + name + "}", str(value))
        for query in queries if "{" not in concrete else []:
            _request(walk, method, path, concrete, query)


def _request(walk: Walk, method: str, path: str, concrete: str, query: dict[str, Any]) -> None:
    """One request of the walk; a POST gets the body its operation needs (anonymous ones get none)."""
    if method == "get":
        walk.get(concrete, **query)
    elif path.startswith("/scores"):
        for basis in [query["basis"]] if "basis" in query else ["area", "household"]:
            walk.post(concrete, _spec(walk, basis), **(query | {"basis": basis}))
    elif path == "/targets":  # every format, language and basis: `_walk_fixed`
        walk.post(concrete, {"budget": 3e9, "scenarios": 10}, **query)
    else:
        walk.post(concrete, {}, **query)  # refused to an anonymous caller: the refusal is scanned


def _walk_fixed(walk: Walk, base: str) -> None:
    """What the document states as bodies or combinations: scores, changes, targets, exports."""
    for level in ("hexagon", "village", "kecamatan", "kabupaten", "province"):
        for basis in ("area", "household"):
            for fmt in ("json", "geojson", "csv"):
                walk.get(f"/scores/{level}", basis=basis, f=fmt, limit=10_000)
    for level in ("village", "kecamatan", "kabupaten"):
        for fmt in ("json", "csv"):
            walk.get("/changes", level=level, f=fmt)
    for fmt in ("json", "csv", "xlsx", "gpkg", "pdf"):
        for lang in ("id", "en"):
            for basis in ("household", "area"):
                walk.post("/targets", {"budget": 3e9, "scenarios": 10, "basis": basis}, f=fmt, lang=lang)
    for link in walk.get("/exports").json().get("links", []):
        href = link["href"].replace(base, "")
        if href.startswith("/exports/"):
            walk.get(href)
            walk.get(href, years="all")


def _spec(walk: Walk, basis: str) -> dict[str, Any]:
    body = walk.get("/scores/village", basis=basis, limit=1).json()
    return body["spec"]


@pytest.mark.skipif(not (shutil.which("node") and Path(CHROMIUM).exists()), reason="needs node and Chromium")
def test_the_planner_page_and_its_requests_name_no_family(
    service: tuple[str, Path], secrets: Secrets, tmp_path
):
    if not (HERE / "clients" / "node" / "node_modules" / "playwright-core").exists():
        pytest.skip("playwright-core is not installed in tests/clients/node")
    base, log = service
    run = subprocess.run(
        ["node", str(DRIVER), base, str(tmp_path)], check=False, capture_output=True, text=True, timeout=400
    )
    report = json.loads(run.stdout or "{}")
    assert run.returncode == 0 and report.get("ok", True), run.stderr + run.stdout
    assert not report["externalRequests"]
    index = json.loads((tmp_path / "index.json").read_text())
    assert len(index) > 20 and any("/targets" in r["url"] for r in index)
    assert any("/tiles/" in r["url"] for r in index), "the map's tiles are among the requests"
    leaks = []
    for response in index:
        body = (tmp_path / "responses" / response["file"]).read_bytes()
        if hits := secrets.found(decoded(body, response["type"], response["url"])):
            leaks.append(f"{response['url']}: {hits[:3]}")
    for download in report["downloads"]:
        path = Path(download)
        if hits := secrets.found(decoded(path.read_bytes(), "", path.name)):
            leaks.append(f"{path.name}: {hits[:3]}")
    page = (tmp_path / "page.txt").read_text()
    leaks += [f"page: {h}" for h in secrets.found(page)]
    leaks += [f"service log: {h}" for h in secrets.found(log.read_text(errors="replace"))]
    assert not leaks, "\n".join(leaks[:20])
    assert len(report["downloads"]) >= 3
