"""QGIS as a client: the styled GeoPackage, OGC API - Features and the vector tiles.

QGIS runs under the system Python (Debian's ``python3-qgis``; ``scripts/ci-system-deps.sh``
installs it), in a subprocess running ``qgis_checks.py``. The service runs for real: uvicorn in a
subprocess on a free port (the session's `live_server`). Skipped, with the reason, where
``/usr/bin/python3`` cannot import qgis.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path
from urllib.parse import parse_qsl

import pytest

from layers.export import export_all_gpkg, export_layer
from layers.maps.classes import SCORE
from layers.maps.qml import SHOWN_SCORE
from layers.store import LayerStore

SYSTEM_PYTHON = "/usr/bin/python3"
CHECKS = Path(__file__).with_name("qgis_checks.py")
REPO = Path(__file__).resolve().parents[2]
DOCS_IMG = REPO / "docs" / "img"


def _qgis_missing() -> str | None:
    if not Path(SYSTEM_PYTHON).exists():
        return f"{SYSTEM_PYTHON} not found"
    probe = subprocess.run(
        [SYSTEM_PYTHON, "-c", "import qgis.core"], capture_output=True, text=True, timeout=60, check=False
    )
    if probe.returncode != 0:
        return f"{SYSTEM_PYTHON} cannot import qgis (apt-get install python3-qgis qgis-providers)"
    return None


_MISSING = _qgis_missing()
pytestmark = pytest.mark.skipif(_MISSING is not None, reason=_MISSING or "")


def run_check(tmp_path: Path, *args: str) -> dict:
    env = {
        **os.environ,
        "QT_QPA_PLATFORM": "offscreen",
        "XDG_RUNTIME_DIR": str(tmp_path),
        "HOME": str(tmp_path),
    }
    env.pop("PYTHONPATH", None)
    done = subprocess.run(
        [SYSTEM_PYTHON, str(CHECKS), *args],
        capture_output=True,
        check=False,
        text=True,
        timeout=300,
        env=env,
        cwd=tmp_path,
    )
    lines = [line for line in done.stdout.splitlines() if line.startswith("{")]
    assert lines, (
        f"qgis_checks.py printed no result (exit {done.returncode}):\n{done.stdout}\n{done.stderr[-3000:]}"
    )
    report = json.loads(lines[-1])
    assert done.returncode == 0, json.dumps(report, indent=1)
    return report["results"]


@pytest.fixture(scope="module")
def store(store_dir: Path) -> LayerStore:
    return LayerStore.open(store_dir)


@pytest.fixture(scope="module")
def server(live_server: tuple[str, Path]) -> str:
    return live_server[0]


def test_qgis_opens_the_styled_geopackage(store, tmp_path):
    gpkg = export_all_gpkg(store, tmp_path / "sasaran.gpkg")
    expected = {name: {"features": store.rows(name)} for name in store.names}
    hexagons = store.layer("hexagons")
    expected["hexagons"] |= {
        "renderer": "graduatedSymbol",
        "attr": SHOWN_SCORE,  # cells of fewer than 5 people are not coloured (docs/method.md)
        # The legend lists the classes the shown cells fall in.
        "classes": len(SCORE.present(hexagons["score"].where(hexagons["population"] >= 5).to_numpy(float))),
        "geometry": "Polygon",
    }
    expected["villages"] |= {"renderer": "graduatedSymbol", "attr": "M0", "geometry": "MultiPolygon"}
    # Loaded together, kabupaten are outlines (no fill hides the villages).
    expected["kabupaten"] |= {"renderer": "singleSymbol", "geometry": "MultiPolygon"}
    expected["villages_by_year"] = {"features": store.rows("villages") * len(store.years),
                                    "renderer": "graduatedSymbol", "attr": "M0"}  # fmt: skip
    kinds = set(store.layer("schools")["kind"].dropna())
    expected["schools"] |= {"renderer": "categorizedSymbol", "attr": "kind", "classes": len(kinds)}
    expected["rivers"] |= {"renderer": "singleSymbol"}
    results = run_check(tmp_path, "gpkg", str(gpkg), json.dumps(expected))
    assert all(r["valid"] for r in results.values())


def test_qgis_reads_villages_over_ogc_api_features(server, store, tmp_path):
    results = run_check(tmp_path, "oapif", server, "villages", str(store.rows("villages")))
    assert results["villages"]["features"] == store.rows("villages")


def test_qgis_reaches_every_year_over_oapif(live_server, store, tmp_path):
    """QGIS 3.22 sends a subset on the date field to the server (``datetime=``), and a year in the
    connection URL with every request: both answer that year's villages."""
    base, log_path = live_server
    first = min(store.years)
    start = len(log_path.read_text().splitlines())
    results = run_check(tmp_path, "oapif_years", base, "villages", str(first), str(store.rows("villages")))
    assert results["subset"]["years"] == [first] and results["url"]["years"] == [first]
    sent = [dict(parse_qsl(m.group(1))) for line in log_path.read_text().splitlines()[start:]
            if (m := re.search(r'"GET /collections/villages/items\??(\S*) HTTP', line))]  # fmt: skip
    assert any(r.get("datetime") == f"{first}-01-01" for r in sent), sent
    assert any(r.get("year") == str(first) for r in sent), sent


def test_qgis_renders_the_hexagon_vector_tiles(server, store, tmp_path):
    template = f"{server}/collections/hexagons/tiles/WebMercatorQuad/{{z}}/{{y}}/{{x}}"
    bounds = [str(v) for v in store.layer("hexagons").total_bounds]
    results = run_check(tmp_path, "tiles", template, *bounds)
    assert results["tiles"]["drawn_share"] > 0.05


def test_qgis_renders_the_hexagon_tiles_with_the_served_styles(server, store, tmp_path):
    """The MapLibre style (as QGIS 3.22's style URL) and the QML both colour the cells by class."""
    base = f"{server}/collections/hexagons/tiles/WebMercatorQuad"
    minx, miny, maxx, maxy = store.layer("hexagons").total_bounds
    # A quarter of the province: hexagons at H3 resolution 6-7, enough cells in every class.
    cx, cy = (minx + maxx) / 2, (miny + maxy) / 2
    box = [
        str(v)
        for v in (
            cx - (maxx - minx) / 4,
            cy - (maxy - miny) / 4,
            cx + (maxx - minx) / 4,
            cy + (maxy - miny) / 4,
        )
    ]
    out = tmp_path / "images"
    out.mkdir()
    results = run_check(tmp_path, "styled_tiles", f"{base}/{{z}}/{{y}}/{{x}}", f"{base}/style.json",
                        f"{base}/style.qml", *box, str(out))  # fmt: skip
    for name in ("style_json", "style_qml"):
        assert len(results[name]["colours"]) >= 4, results[name]
        assert Path(results[name]["image"]).stat().st_size > 1000
    # The style's classes are the ones QGIS lists as the layer's styles (its legend).
    assert any(s.startswith("Miskin (1/3") for s in results["style_json"]["styles"])


def test_qgis_animates_villages_over_the_years(store, tmp_path):
    """The GeoPackage of every year opens with QGIS's temporal properties set from its style."""
    gpkg = export_layer(store, "villages", tmp_path / "villages.gpkg", "gpkg", all_years=True)
    results = run_check(tmp_path, "temporal", str(gpkg), "villages", json.dumps(store.years),
                        str(store.rows("villages")))  # fmt: skip
    got = results["villages"]
    assert (
        got["active"] and got["mode_start_end_fields"] and (got["start"], got["end"]) == ("date", "date_end")
    )
    assert got["labels"] and got["renderer"] == "graduatedSymbol"
    for year in store.years:
        assert got["per_year"][str(year)]["years"] == [year]


def _items_limits(log_path: Path, start: int, collection: str) -> list[tuple[int, str]]:
    """(limit, bbox) of each items request of ``collection`` in the access log after line ``start``."""
    out = []
    for line in log_path.read_text().splitlines()[start:]:
        match = re.search(rf'"GET /collections/{collection}/items\??(\S*) HTTP', line)
        if match:
            params = dict(parse_qsl(match.group(1)))
            out.append((int(params.get("limit", 0)), params.get("bbox", "")))
    return out


def _keep(png: Path, name: str) -> None:
    """Copy a rendered map into docs/img when SASARAN_WRITE_DOCS_IMAGES=1 (the README shows them)."""
    if os.environ.get("SASARAN_WRITE_DOCS_IMAGES") == "1":
        shutil.copyfile(png, DOCS_IMG / name)


def test_qgis_pages_oapif_by_a_thousand_and_restricts_to_the_view(live_server, store, tmp_path):
    """QGIS 3.22 with no settings reads ``components/parameters/limit`` of the OpenAPI document and
    asks for max(1000, default) features per request; with ``restrictToRequestBBOX='1'`` it asks
    only for the features of the rendered view (one request with a bbox)."""
    base, log_path = live_server
    start = len(log_path.read_text().splitlines())
    png = tmp_path / "villages.png"
    results = run_check(tmp_path, "oapif_render", base, "villages", str(png))
    assert results["villages"]["drawn_share"] > 0.05
    sent = _items_limits(log_path, start, "villages")
    assert sent and max(limit for limit, _ in sent) >= 1_000, sent
    assert all(limit >= 1_000 for limit, _ in sent[1:]), sent  # after QGIS's 10-feature probe
    _keep(png, "qgis-oapif-villages.png")

    minx, miny, maxx, maxy = store.layer("hexagons").total_bounds
    view = [minx, miny, minx + (maxx - minx) / 4, miny + (maxy - miny) / 4]
    start = len(log_path.read_text().splitlines())
    png = tmp_path / "hexagons-view.png"
    extra = "restrictToRequestBBOX='1'"
    results = run_check(tmp_path, "oapif_render", base, "hexagons", str(png), extra, *map(str, view))
    assert results["hexagons"]["drawn_share"] > 0.05
    sent = _items_limits(log_path, start, "hexagons")
    with_bbox = [limit for limit, bbox in sent if bbox]
    assert with_bbox and len(with_bbox) <= 2, sent  # the view's features, not every page
    _keep(png, "qgis-oapif-hexagons-view.png")


def test_the_qgis_project_opens_and_its_layout_renders(store, tmp_path):
    """``sasaran export qgis``: the .qgz opens in QGIS 3.22 with every layer of the GeoPackage beside
    it, temporal layers for the years, and its print layout renders to PNG."""
    out = tmp_path / "sasaran.qgz"
    done = subprocess.run(
        [sys.executable, "-m", "layers.cli", "export", "qgis", "--store", str(store.path), "--out", str(out)],
        capture_output=True, text=True, timeout=300, check=False, cwd=REPO,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert out.exists() and out.with_suffix(".gpkg").exists()
    png = tmp_path / "layout.png"
    expected = {name: store.rows(name) for name in ("villages", "kecamatan", "kabupaten", "hexagons")}
    expected["villages_by_year"] = store.rows("villages") * len(store.years)
    got = run_check(tmp_path, "project", str(out), str(png), json.dumps(expected))["project"]
    assert got["crs"] == "EPSG:3857" and got["time"][0].startswith(str(min(store.years)))
    assert {
        "QgsLayoutItemMap",
        "QgsLayoutItemLegend",
        "QgsLayoutItemScaleBar",
        "QgsLayoutItemPicture",
    } <= set(got["items"])
    assert any(store.manifest["name"] in label for label in got["labels"])
    assert got["aliases"]["villages"] == "Indeks M0 / Adjusted headcount M0"
    assert got["units_per_segment"] > 0 and png.stat().st_size > 50_000
    if os.environ.get("SASARAN_WRITE_DOCS_IMAGES") == "1":
        from PIL import Image

        with Image.open(png) as image:
            image.thumbnail((1400, 1400))
            image.save(DOCS_IMG / "qgis-project-layout.png", optimize=True)


def test_the_served_qgis_project_reads_the_geopackage_over_http(live_server, store, tmp_path):
    """``/exports/sasaran.qgz``: the same project, its layers read from the service's GeoPackage by
    GDAL's /vsicurl/ (range requests)."""
    base, _ = live_server
    import httpx

    answer = httpx.get(f"{base}/exports/sasaran.qgz", timeout=120)
    assert answer.status_code == 200 and answer.headers["content-type"] == "application/zip"
    out = tmp_path / "served.qgz"
    out.write_bytes(answer.content)
    got = run_check(tmp_path, "project", str(out), str(tmp_path / "served.png"),
                    json.dumps({"villages": store.rows("villages")}))["project"]  # fmt: skip
    assert got["counts"]["villages"] == store.rows("villages")


def test_layers_over_oapif_open_styled_from_the_collections_style_links(server, store, tmp_path):
    """A QGIS user (or a script) styles an OAPIF layer from its collection's stylesheet links: the QML
    gives the graduated M0 classes with field aliases, the SLD (GeoServer's language) the same
    classes as rules."""
    got = run_check(tmp_path, "linked_styles", server, "villages", str(tmp_path))
    assert (
        got["qml"]["renderer"] == "graduatedSymbol"
        and got["qml"]["alias"] == "Indeks M0 / Adjusted headcount M0"
    )
    assert got["sld"]["renderer"] == "RuleRenderer" and got["sld"]["rules"] >= 3
