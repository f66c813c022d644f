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


def run_browser_script(script: Path, args: list[str], seconds: int, budget_ms: int | None = None) -> dict:
    """Run a playwright-core script with node and return the JSON report it prints on stdout.

    The script gets the system Chromium (``CHROMIUM``) and a watchdog budget (``E2E_TIMEOUT_MS``,
    default 10 s under the subprocess timeout); output that is not a report fails the test with the
    script's last words.
    """
    budget = budget_ms if budget_ms is not None else (seconds - 10) * 1000
    env = {**os.environ, "CHROMIUM": CHROMIUM, "E2E_TIMEOUT_MS": str(budget)}
    run = subprocess.run(
        ["node", str(script), *args], capture_output=True, text=True, timeout=seconds, env=env, check=False
    )
    try:
        return json.loads(run.stdout)
    except json.JSONDecodeError:
        pytest.fail(f"{script.name} failed ({run.returncode}):\n{run.stdout[-2000:]}\n{run.stderr[-3000:]}")


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
    report = run_browser_script(SCRIPT, [service_url, str(out)], BROWSER_SECONDS)
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
    assert all(scope == "col" for scope, _ in e2e["headers"]) and len(e2e["headers"]) == 9
    rank, village, *_ = e2e["firstRow"]
    assert rank == "1" and village
    assert e2e["activeRow"], "clicking a village in the table did not select its row"


def test_downloads_are_real_files(e2e: dict) -> None:
    paths = {fmt: Path(p) for fmt, p in e2e["downloads"].items()}
    assert set(paths) == {"csv", "xlsx", "gpkg"}
    assert all(p.stat().st_size > 0 for p in paths.values())
    with paths["csv"].open(encoding="utf-8-sig", newline="") as f:
        rows = list(csv.DictReader(f))
    assert "Kode desa" in rows[0]  # the page is in Bahasa Indonesia: so are the headers
    assert paths["xlsx"].read_bytes()[:2] == b"PK"  # an OOXML zip
    import pyogrio

    frame = pyogrio.read_dataframe(paths["gpkg"])
    assert len(frame) > 0 and "village_code" in frame.columns
    assert {r["Kode desa"] for r in rows} == set(frame["village_code"])


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


# ---------------------------------------------------------------- issue 14, in four browsers

ISSUE14 = HERE / "planner_issue14.mjs"
RUNS = ["desktop-id", "desktop-en", "phone-id", "phone-en"]
SCREENSHOTS_KEEP = os.environ.get("SASARAN_E2E_SCREENSHOTS")  # a directory to keep them for a person


@pytest.fixture(scope="module")
def issue14(service_url: str, tmp_path_factory: pytest.TempPathFactory) -> dict:
    """The report of planner_issue14.mjs: each finding of issue 14, desktop and phone, both languages."""
    _require_routes(service_url)
    out = Path(SCREENSHOTS_KEEP) if SCREENSHOTS_KEEP else tmp_path_factory.mktemp("planner-issue14")
    out.mkdir(parents=True, exist_ok=True)
    return run_browser_script(
        ISSUE14, [service_url, str(out)], 4 * BROWSER_SECONDS + 30, budget_ms=4 * BROWSER_SECONDS * 1000
    )


@pytest.fixture(params=RUNS)
def r(request: pytest.FixtureRequest, issue14: dict) -> dict:
    run = issue14["runs"].get(request.param)
    assert run is not None, f"no {request.param} run in the report"
    assert run["ok"], f"{request.param} failed: {run.get('error')}"
    assert run["pageErrors"] == [] and run["consoleErrors"] == [] and run["externalRequests"] == []
    return run


def test_1_every_run_clears_links_popups_and_rows_and_edits_mark_results_stale(r: dict) -> None:
    assert r["firstRows"] > 0 and r["linksBefore"] == 1 and r["popupBefore"]
    assert r["tinyRows"] == 0 and r["tinyLinks"] == 0 and r["tinyPopups"] == 0 and r["tinyMarkers"] == 0
    assert r["staleShown"] and r["staleAttr"] == "true" and not r["staleAfterUndo"]


def test_2_3_the_page_sends_the_documented_defaults_and_says_optimal(r: dict) -> None:
    from layers.targeting import selection as targeting

    body = r["firstBody"]
    assert body["cost_fixed"] == targeting.DEFAULT_COST_FIXED
    assert body["cost_per_person"] == targeting.DEFAULT_COST_PER_PERSON
    assert body["scenarios"] == targeting.DEFAULT_SCENARIOS and body["seed"] == targeting.DEFAULT_SEED
    assert "optimal" in r["firstStatus"] and (
        "Terbukti optimal" in r["runMessage"] or "Proven optimal" in r["runMessage"]
    )


def test_4_a_budget_below_one_village_is_said_in_words(r: dict) -> None:
    assert r["tinyStatus"] == "budget_too_small"
    amounts = ("50.000.000", "100.") if r["lang"] == "id" else ("50,000,000", "100,")
    assert all(a in r["tinyMessage"] for a in amounts), r["tinyMessage"]
    assert r["tinyStatusClass"] == "status-other"  # not the green "optimal"
    assert r["tinyMessage"] in r["tinyTable"]  # not "set a budget, then run"


def test_5_excluded_kabupaten_are_named_dimmed_and_not_below_the_line(r: dict) -> None:
    assert r["kabRows"] == r["allowedKab"]
    assert set(r["belowKab"]) <= set(r["allowedKab"]) and "quota" not in r["belowReasons"]
    assert r["excludedCount"] > 0 and len(r["excludedLabels"]) == r["excludedCount"]
    assert r["excludedVeiled"] == r["excludedCount"]
    assert all(name in r["excludedNote"] for name in r["excludedLabels"])


def test_6_the_priority_effect_is_shown_and_recorded_in_the_xlsx(r: dict) -> None:
    import pandas as pd

    effect = r["priorityEffect"]
    assert effect is not None and r["priorityNote"]
    assert r["priorityBadges"] == len(effect["gained"])
    for v in effect["gained"]:
        assert v["village_name"] in r["priorityNote"]
    sheets = pd.read_excel(r["downloads"]["xlsx"], sheet_name=None)
    about = sheets["tentang" if r["lang"] == "id" else "about"].astype(str).to_string()
    assert ("lansia = 0,50" in about) if r["lang"] == "id" else ("elderly = 0.50" in about)
    assert "100.000.000" in about if r["lang"] == "id" else "100,000,000" in about


def test_7_year_on_year_table_extremes_and_map(r: dict) -> None:
    assert "2023" in r["changesTitle"] and "2024" in r["changesTitle"]
    assert r["changesKabRows"] > 0 and r["changesVillageRows"] > r["changesKabRows"]
    assert r["improved"] and r["worsened"]
    # only falls are improvements, only rises are worsenings ("—" when there is none)
    assert all("−" in x or x == "—" for x in r["improved"]) and all(
        "+" in x or x == "—" for x in r["worsened"]
    )
    assert "→" in r["changeLegend"]


def test_8_downloads_have_headers_in_the_page_language_and_whole_numbers(r: dict) -> None:
    with Path(r["downloads"]["csv"]).open(encoding="utf-8-sig", newline="") as f:
        rows = list(csv.DictReader(f))
    people, cost = ("Penduduk terjangkau", "Biaya") if r["lang"] == "id" else ("People reached", "Cost")
    assert rows and people in rows[0] and cost in rows[0]
    assert all(row[people].isdigit() and row[cost].isdigit() for row in rows)
    assert all(f"lang={r['lang']}" in url for url in r["downloadUrls"])


def test_9_every_chosen_village_says_why(r: dict) -> None:
    assert len(r["why"]) == r["firstRows"] > 0
    per = "per Rp 1 juta" if r["lang"] == "id" else "per Rp 1 million"
    assert all(per in text for text in r["why"])
    assert all(("berikutnya" in text) if r["lang"] == "id" else ("next in line" in text) for text in r["why"])


def test_10_11_layout(r: dict) -> None:
    assert r["nestedScrollers"] == []
    fits = r["objectiveFits"]
    assert fits["longest"] + 40 <= fits["width"], fits  # room for the arrow: no cut option
    assert r["placeholder"]["width"] <= r["placeholder"]["inner"], r["placeholder"]
    assert r["rankMarkersInMap"] == r["firstRows"] and r["selectedLayerFeatures"] > 0
    assert r["hexInside"] > 0, "no scored hexagon drawn inside the province"
    assert r["tableScroll"]["overflowing"] == r["tableScroll"]["cue"]
    if r["name"].startswith("phone"):
        assert r["mapTop"] < r["controlsTop"] and r["controlsCollapsed"] and r["legendCollapsed"]
        assert r["tableScroll"]["overflowing"] and r["tableScroll"]["cue"]
        assert r["legendPopupIntersect"] is False
    else:
        assert r["runInViewTop"] and r["runInViewBottom"]


def test_12_no_words_of_the_other_language(r: dict) -> None:
    assert r["foreign"] == [] and r["foreignAfterSwitch"] == []
    if r["lang"] == "id":
        assert "Selection rank" in r["popupAfterSwitch"] and "villages" in r["statusAfterSwitch"]
        assert r["linksLabelAfterSwitch"].startswith("File ready")
    else:
        assert "Peringkat seleksi" in r["popupAfterSwitch"] and "desa" in r["statusAfterSwitch"]
        assert r["linksLabelAfterSwitch"].startswith("Berkas siap")


def test_shared_url_reproduces_the_selection(r: dict) -> None:
    assert r["sharedSame"] and r["sharedLang"] == r["lang"]
    assert "run=1" in r["shareUrl"] and "b=4000000000" in r["shareUrl"]


def test_screenshots_are_not_blank_and_phone_overlays_do_not_overlap(r: dict) -> None:
    from PIL import Image

    for name, path in r["screenshots"].items():
        with Image.open(path) as image:
            rgb = image.convert("RGB")
            colours = rgb.getcolors(maxcolors=1 << 20) or []
            assert len(colours) > 100, f"{name} has almost no colours"
            assert max(n for n, _ in colours) < 0.8 * rgb.size[0] * rgb.size[1], (
                f"{name} is mostly one colour"
            )
