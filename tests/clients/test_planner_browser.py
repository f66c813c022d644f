"""The planner page (``GET /planner``): its assets, and an end-to-end run in a real Chromium.

The browser test starts the real service with uvicorn on a free local port, then drives Chromium with
``planner_e2e.mjs`` (playwright-core from ``tests/clients/node``, the system ``/usr/bin/chromium``):
open the page, change the budget, run a selection, download CSV/XLSX/GPKG, take a screenshot. It skips,
saying why, where node, Chromium or playwright-core is missing. Set ``SASARAN_UPDATE_SCREENSHOT=1`` to
refresh ``docs/img/planner.png`` from the run.
"""

from __future__ import annotations

import csv
import json
import os
import re
import shutil
import subprocess
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient

from service import planner

REPO = Path(__file__).resolve().parents[2]
HERE = Path(__file__).resolve().parent
SCRIPT = HERE / "planner_e2e.mjs"
NODE_DIR = HERE / "node"
STATIC = REPO / "service" / "planner" / "static"
SCREENSHOT_DOC = REPO / "docs" / "img" / "planner.png"
CHROMIUM = os.environ.get("CHROMIUM", "/usr/bin/chromium")
STARTUP_SECONDS = 60
BROWSER_SECONDS = 180


# ---------------------------------------------------------------- the router and its assets (no browser)


@pytest.fixture(scope="module")
def router_client() -> Iterator[TestClient]:
    app = FastAPI()
    app.include_router(planner.router)
    with TestClient(app) as client:
        yield client


def test_planner_page_is_html_and_revalidated(router_client: TestClient) -> None:
    r = router_client.get("/planner")
    assert r.status_code == 200
    assert r.headers["content-type"] == "text/html; charset=utf-8"
    assert r.headers["cache-control"] == "no-cache"
    assert '<html lang="id">' in r.text
    slash = router_client.get("/planner/", follow_redirects=False)
    assert slash.status_code == 308 and slash.headers["location"].endswith("/planner")


@pytest.mark.parametrize(
    ("path", "media_type", "cache"),
    [
        ("planner.js", "text/javascript; charset=utf-8", "no-cache"),
        ("i18n.js", "text/javascript; charset=utf-8", "no-cache"),
        ("planner.css", "text/css; charset=utf-8", "no-cache"),
        ("vendor/maplibre-gl.js", "text/javascript; charset=utf-8", "public, max-age=86400"),
        ("vendor/maplibre-gl.css", "text/css; charset=utf-8", "public, max-age=86400"),
        ("vendor/LICENSE.txt", "text/plain; charset=utf-8", "public, max-age=86400"),
    ],
)
def test_static_assets_have_media_types_and_cache_headers(
    router_client: TestClient, path: str, media_type: str, cache: str
) -> None:
    r = router_client.get(f"/planner/static/{path}")
    assert r.status_code == 200
    assert r.headers["content-type"] == media_type
    assert r.headers["cache-control"] == cache
    again = router_client.get(f"/planner/static/{path}", headers={"If-None-Match": r.headers["etag"]})
    assert again.status_code == 304


@pytest.mark.parametrize("path", ["nope.js", "../router.py", "..%2Frouter.py", "vendor/../../router.py"])
def test_static_paths_stay_inside_the_static_directory(router_client: TestClient, path: str) -> None:
    assert router_client.get(f"/planner/static/{path}").status_code == 404


def test_every_asset_is_local() -> None:
    """No CDN, web font or tile server: the page must work offline."""
    own = [STATIC / "index.html", STATIC / "planner.js", STATIC / "i18n.js", STATIC / "planner.css"]
    for file in own:
        urls = re.findall(r"(?:https?:)?//[\w.-]+\.[a-z]{2,}[^\s'\"]*", file.read_text(encoding="utf-8"))
        assert urls == [], f"{file.name} refers to remote resources: {urls}"
    assert "sourceMappingURL" not in (STATIC / "vendor" / "maplibre-gl.js").read_text(encoding="utf-8")[-300:]


# ---------------------------------------------------------------- the real service in a real browser


def _skip_reason() -> str | None:
    if shutil.which("node") is None:
        return "node is not installed (it drives the browser): install Node.js >= 20"
    if not Path(CHROMIUM).is_file():
        return f"no Chromium at {CHROMIUM}: apt-get install chromium (or set CHROMIUM=/path/to/chrome)"
    if not (NODE_DIR / "node_modules" / "playwright-core").is_dir():
        return "playwright-core is not installed: npm ci --prefix tests/clients/node"
    return None


def _get(url: str, timeout: float = 5.0) -> tuple[int, bytes]:
    try:
        with urllib.request.urlopen(url, timeout=timeout) as r:
            return r.status, r.read()
    except urllib.error.HTTPError as e:
        return e.code, e.read()


@pytest.fixture(scope="module")
def service_url(live_server: tuple[str, Path]) -> str:
    """The real app under uvicorn (the session's `live_server`), once the browser can run."""
    reason = _skip_reason()
    if reason:
        pytest.skip(reason)
    return live_server[0]


def _require_routes(base: str) -> None:
    request = urllib.request.Request(f"{base}/targets", data=b"{}", method="POST")
    request.add_header("Content-Type", "application/json")
    try:
        urllib.request.urlopen(request, timeout=60).close()
        status = 200
    except urllib.error.HTTPError as e:
        status = e.code
    assert status not in (404, 405), "the app does not serve POST /targets"
    status, _ = _get(f"{base}/planner")
    assert status == 200, "service.app does not serve /planner: include service.planner.router in create_app"


@pytest.fixture(scope="module")
def e2e(service_url: str, tmp_path_factory: pytest.TempPathFactory) -> dict:
    """The report of one browser run (planner_e2e.mjs) against the real service."""
    _require_routes(service_url)
    out = tmp_path_factory.mktemp("planner-e2e")
    env = {**os.environ, "CHROMIUM": CHROMIUM, "E2E_TIMEOUT_MS": str((BROWSER_SECONDS - 10) * 1000)}
    run = subprocess.run(
        ["node", str(SCRIPT), service_url, str(out)],
        capture_output=True,
        text=True,
        timeout=BROWSER_SECONDS,
        env=env,
        check=False,
    )
    try:
        report = json.loads(run.stdout)
    except json.JSONDecodeError:
        pytest.fail(
            f"the browser script failed ({run.returncode}):\n{run.stdout[-2000:]}\n{run.stderr[-3000:]}"
        )
    assert report["ok"], f"browser run failed after steps {report['steps']}: {report.get('error')}"
    return report


def test_page_loads_in_bahasa_with_synthetic_banner_and_no_remote_requests(e2e: dict, store) -> None:
    assert e2e["lang"] == "id"
    assert (
        e2e["bannerVisible"]
        and "SYNTHETIC DEMO DATA" in e2e["bannerText"]
        and "DATA SINTETIS" in e2e["bannerText"]
    )
    assert {str(y) for y in store.years} <= set(e2e["years"])
    assert e2e["kabupaten"], "the kabupaten filter is empty"
    assert e2e["externalRequests"] == []
    assert e2e["pageErrors"] == [] and e2e["consoleErrors"] == [] and e2e["failedRequests"] == []


def test_map_draws_with_webgl_and_hexagon_tiles(e2e: dict) -> None:
    assert e2e["webgl"], "MapLibre did not create a WebGL canvas"
    if e2e["hexLayer"]:
        assert e2e["tileResponses"] > 0


def test_controls_format_and_renormalise(e2e: dict) -> None:
    assert "4.000.000.000" in e2e["budgetEcho"]  # id-ID grouping
    assert "4,000,000,000" in e2e["budgetEchoEn"]  # en-US grouping after the toggle
    shares = [int(s.rstrip("%")) for s in e2e["weightOutputs"]]
    assert len(shares) == 4 and abs(sum(shares) - 100) <= 2 and max(shares) > 25
    assert e2e["titleEn"] != e2e["title"] and e2e["langEn"] == "en"


def test_selection_fills_table_and_summary(e2e: dict) -> None:
    assert e2e["rows"] > 0
    assert e2e["summaryVisible"]
    assert all(scope == "col" for scope, _ in e2e["headers"]) and len(e2e["headers"]) == 8
    rank, village, *_ = e2e["firstRow"]
    assert rank == "1" and village
    assert e2e["activeRow"], "clicking a village in the table did not select its row"


def test_downloads_are_real_files(e2e: dict) -> None:
    paths = {fmt: Path(p) for fmt, p in e2e["downloads"].items()}
    assert set(paths) == {"csv", "xlsx", "gpkg"}
    assert all(p.stat().st_size > 0 for p in paths.values())
    with paths["csv"].open(encoding="utf-8-sig", newline="") as f:
        rows = list(csv.DictReader(f))
    assert "village_code" in rows[0]
    assert paths["xlsx"].read_bytes()[:2] == b"PK"  # an OOXML zip
    import pyogrio

    frame = pyogrio.read_dataframe(paths["gpkg"])
    assert len(frame) > 0 and "village_code" in frame.columns
    assert {r["village_code"] for r in rows} == set(frame["village_code"])


def test_errors_are_shown_inline(e2e: dict) -> None:
    assert e2e["clientError"]
    assert "min_score" in e2e["problemError"]  # the service's own detail, not a generic message


def test_screenshot_is_not_blank(e2e: dict) -> None:
    from PIL import Image

    with Image.open(e2e["screenshot"]) as image:
        rgb = image.convert("RGB")
        assert rgb.size[0] >= 1000
        colours = rgb.getcolors(maxcolors=1 << 20) or []
        assert len(colours) > 200, "the screenshot has almost no colours"
        assert max(n for n, _ in colours) < 0.7 * rgb.size[0] * rgb.size[1], (
            "the screenshot is mostly one colour"
        )
        if os.environ.get("SASARAN_UPDATE_SCREENSHOT") == "1":
            SCREENSHOT_DOC.parent.mkdir(parents=True, exist_ok=True)
            # A 256-colour palette keeps the committed image small (< 300 KB) and still crisp.
            rgb.quantize(colors=256, method=Image.Quantize.MEDIANCUT).save(SCREENSHOT_DOC, optimize=True)
