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
    assert all(scope == "col" for scope, _ in e2e["headers"]) and len(e2e["headers"]) == 8
    rank, village, *_ = e2e["firstRow"]
    assert rank == "1" and village
    assert e2e["activeRow"], "clicking a village in the table did not select its row"


def test_downloads_are_real_files(e2e: dict) -> None:
    paths = {fmt: Path(p) for fmt, p in e2e["downloads"].items()}
    assert set(paths) == {"csv", "xlsx", "gpkg"}
    assert all(p.stat().st_size > 0 for p in paths.values())
    with paths["csv"].open(encoding="utf-8-sig", newline="") as f:
        rows = list(csv.DictReader(f, delimiter=";"))[:-1]  # the Indonesian Excel dialect; a total row last
    assert "Kode desa" in rows[0]  # the page is in Bahasa Indonesia: so are the headers
    assert paths["xlsx"].read_bytes()[:2] == b"PK"  # an OOXML zip
    import pyogrio

    frame = pyogrio.read_dataframe(paths["gpkg"])
    assert len(frame) > 0 and "village_code" in frame.columns
    assert {r["Kode desa"] for r in rows} == set(frame["village_code"])


def test_errors_are_shown_inline(e2e: dict) -> None:
    assert e2e["clientError"]
    # the service's own detail, in the page's language (issue 20, item 8)
    assert "999" in e2e["problemError"] and "memerlukan" in e2e["problemError"]


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


def issue_report(script: Path, service_url: str, tmp_path_factory: pytest.TempPathFactory) -> dict:
    """The report of an issue's driver: each finding, desktop and phone, both languages."""
    _require_routes(service_url)
    out = Path(SCREENSHOTS_KEEP) if SCREENSHOTS_KEEP else tmp_path_factory.mktemp(script.stem)
    out.mkdir(parents=True, exist_ok=True)
    return run_browser_script(
        script, [service_url, str(out)], 4 * BROWSER_SECONDS + 60, budget_ms=4 * BROWSER_SECONDS * 1000
    )


def one_run(report: dict, name: str) -> dict:
    """One browser's run of a report, which must have ended well and cleanly."""
    run = report["runs"].get(name)
    assert run is not None, f"no {name} run in the report"
    assert run["ok"], f"{name} failed: {run.get('error')}"
    assert run["pageErrors"] == [] and run["consoleErrors"] == [] and run["externalRequests"] == []
    return run


@pytest.fixture(scope="module")
def issue14(service_url: str, tmp_path_factory: pytest.TempPathFactory) -> dict:
    """The report of planner_issue14.mjs."""
    return issue_report(ISSUE14, service_url, tmp_path_factory)


@pytest.fixture(params=RUNS)
def r(request: pytest.FixtureRequest, issue14: dict) -> dict:
    return one_run(issue14, request.param)


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
    # the budget and the cheapest village (Rp 100 juta and its people, at least the guard's 10)
    budget = "50.000.000" if r["lang"] == "id" else "50,000,000"
    assert budget in r["tinyMessage"] and re.search(r"Rp\s?1\d\d[.,]\d{3}[.,]\d{3}", r["tinyMessage"]), r[
        "tinyMessage"
    ]
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
    about = sheets["tentang" if r["lang"] == "id" else "about"]
    text = about.astype(str).to_string()
    assert ("lansia = 0,50" in text) if r["lang"] == "id" else ("elderly = 0.50" in text)
    assert 100_000_000 in set(about.iloc[:, 1])  # amounts are numbers (formatted by the sheet)


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
        rows = list(csv.DictReader(f, delimiter=";" if r["lang"] == "id" else ","))
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
        assert "People reached" in r["popupAfterSwitch"] and "villages" in r["statusAfterSwitch"]
        assert r["linksLabelAfterSwitch"].startswith("File ready")
    else:
        assert "Orang terjangkau" in r["popupAfterSwitch"] and "desa" in r["statusAfterSwitch"]
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


# ---------------------------------------------------------------- issue 20, in four browsers

ISSUE20 = HERE / "planner_issue20.mjs"


@pytest.fixture(scope="module")
def issue20(service_url: str, tmp_path_factory: pytest.TempPathFactory) -> dict:
    """The report of planner_issue20.mjs."""
    return issue_report(ISSUE20, service_url, tmp_path_factory)


@pytest.fixture(params=RUNS)
def q(request: pytest.FixtureRequest, issue20: dict) -> dict:
    return one_run(issue20, request.param)


def _whole(text: str, lang: str) -> int:
    """A whole number as the page writes it (1.234 in Bahasa Indonesia, 1,234 in English)."""
    digits = text.replace("\u00a0", " ").replace("Rp", "").strip()
    assert re.fullmatch(r"\d{1,3}([.,]\d{3})*", digits), text  # never a fraction of a person
    return int(digits.replace("." if lang == "id" else ",", ""))


def test_20_1_a_tiny_priority_changes_nothing_and_a_real_one_shows_its_numbers(q: dict) -> None:
    tiny = q["tinyPriority"]
    assert tiny["codes"] == q["plainCodes"] and tiny["badges"] == 0
    assert (
        ("tidak mengubah daftar" in tiny["note"])
        if q["lang"] == "id"
        else ("does not change" in tiny["note"])
    )
    strong = q["strongPriority"]
    effect = strong["effect"]
    assert effect["changed"] and effect["value_with"] > effect["value_without"] * (1 + effect["tolerance"])
    assert len(strong["gained"]) == len(effect["gained"]) == strong["badges"] > 0
    for line, village in zip(strong["gained"], effect["gained"], strict=True):
        assert village["village_name"] in line
        numbers = re.findall(r"\d[\d.,]*\d", line.split(":", 1)[1])
        assert len(numbers) == 2  # its value without and with the priority


def test_20_2_guards_keep_absurd_villages_out_and_are_stated(q: dict) -> None:
    huge = q["huge"]
    assert huge["selected"]
    assert all(v["people"] >= 50 and v["cost_pp"] <= 10_000_000 for v in huge["selected"])
    million = "10.000.000" if q["lang"] == "id" else "10,000,000"
    assert million in huge["guardNote"] and million in q["guardsHint"]
    assert q["guardDefaults"] == {"min": "10", "max": "10.000.000"}
    assert huge["guarded"] == huge["guardedAnswer"] > 0


def test_20_3_people_are_whole_and_rows_add_up(q: dict) -> None:
    people = [_whole(x, q["lang"]) for x in q["peopleCells"]]
    assert sum(people) == _whole(q["peopleTotal"], q["lang"]) == q["summaryPeople"]
    weighted = q["weighted"]
    assert weighted["scoreHeader"] and weighted["scoreCard"]  # M0 × people is a score of its own
    assert all(_whole(x, q["lang"]) >= 0 for x in weighted["people"])


def test_20_4_priorities_are_shown_as_given(q: dict) -> None:
    half = q["halfPriority"]
    assert half["sent"] == half["answered"] == {"elderly": 0.5}
    assert ("lansia 0,5" in half["note"]) if q["lang"] == "id" else ("elderly 0.5" in half["note"])


def test_20_5_confidence_is_explained_and_the_same_as_the_csv(q: dict) -> None:
    rows = q["confidence"]
    assert rows and all(r["value"] is not None for r in rows)
    assert all(r["explained"] for r in rows if r["value"] < 0.5)
    with Path(q["csv"]).open(encoding="utf-8-sig", newline="") as f:
        table = list(csv.DictReader(f, delimiter=";" if q["lang"] == "id" else ","))[:-1]
    column = "Keyakinan seleksi" if q["lang"] == "id" else "Selection confidence"
    code = "Kode desa" if q["lang"] == "id" else "Village code"
    from_csv = {row[code]: float(row[column].replace(",", ".")) for row in table}
    for r in rows:
        assert r["shown"] == f"{round(100 * from_csv[r['code']])}%"  # one rounding rule everywhere
    definition = "pengoptimal yang sama" if q["lang"] == "id" else "same optimiser"
    assert definition in q["glossary"] and "M0 = H × A" in q["glossary"]


@pytest.mark.skipif(shutil.which("pdftotext") is None, reason="poppler-utils is not installed")
def test_20_6_the_pdf_from_the_page_is_a_briefing(q: dict, store) -> None:
    pdf = q["pdf"]
    text = subprocess.run(
        ["pdftotext", "-layout", pdf, "-"], check=True, capture_output=True, text=True
    ).stdout
    first = subprocess.run(
        ["pdftotext", "-f", "1", "-l", "1", pdf, "-"], check=True, capture_output=True, text=True
    ).stdout
    names = store.layer("kabupaten")["kabupaten_name"].astype(str)
    assert all(name in first for name in names)  # kabupaten/kota named on the map page
    assert not re.search(r"(Kabupaten/kot|Keyaki|Rp)\s*$", text, re.M)  # no word broken at a line end
    signed = "Disiapkan oleh" if q["lang"] == "id" else "Prepared by"
    assert signed in text and "docs/" not in text


def test_20_7_popups_say_cost_people_value_and_reason_in_the_year_shown(q: dict, store) -> None:
    chosen, below = q["popupChosen"], q["popupBelow"]
    # the whole popup lies inside the map (which clips it), lock buttons included, on a phone too
    assert chosen["insideMap"] and below["insideMap"] and q["yearPopup"]["insideMap"]
    for popup in (chosen, below):
        assert {"people_reached", "cost", "value_per_million", "population", "M0"} <= set(popup["fields"])
    assert chosen["status"] == "selected" and chosen["reason"].startswith(("Terpilih", "Chosen"))
    assert below["status"] != "selected"
    assert below["reason"].startswith(("Tidak terpilih", "Tergeser", "Not chosen", "Pushed out"))
    year = q["yearPopup"]
    rows = store.layer("village_years")
    population = rows[(rows["year"] == int(year["year"])) & (rows["village_code"] == year["code"])][
        "population"
    ]
    assert _whole(year["fields"]["population"], q["lang"]) == round(float(population.iloc[0]))


def test_20_8_indonesian_habits(q: dict) -> None:
    import openpyxl

    amount = "2.000.000.000" if q["lang"] == "id" else "2,000,000,000"
    for typed in ("2.000.000.000", "2 miliar", "2M"):
        echo = q["echoes"][typed]
        assert amount in echo["text"] and not echo["bad"]
    assert q["echoes"]["2m"]["bad"]
    assert q["firstBody"]["budget"] == 2_000_000_000
    head = Path(q["csv"]).read_text(encoding="utf-8-sig").splitlines()[0]
    assert head.startswith("Peringkat;") if q["lang"] == "id" else head.startswith("Rank,")
    book = openpyxl.load_workbook(q["xlsx"])
    sheet = book.worksheets[0]
    assert all(isinstance(c.value, int) for c in next(sheet.iter_cols(min_col=8, max_col=8, min_row=2)))
    if q["lang"] == "id":  # every message of the Indonesian page in Indonesian, the service's too
        assert "minimal 1" in q["errorMaxVillages"] and "antara 0 dan 1" in q["errorMinScore"]
        assert "memerlukan 999 desa" in q["errorInfeasible"]
    else:
        assert "at least 1" in q["errorMaxVillages"] and "needs 999 villages" in q["errorInfeasible"]
    assert q["foreign"] == []


def test_20_9_layout_print_and_stale_downloads(q: dict) -> None:
    if q["name"].startswith("desktop"):  # no column cut off at 1366 px
        assert q["tableBox"]["scrollWidth"] <= q["tableBox"]["clientWidth"] + 1, q["tableBox"]
    assert q["pageWidth"]["scrollWidth"] <= q["pageWidth"]["innerWidth"]  # never sideways on a phone
    assert q["pageWidth"]["innerWidth"] == (1366 if q["name"].startswith("desktop") else 390)
    assert q["stale"]["shown"] and all(q["stale"]["disabled"])
    printed = q["print"]
    assert printed["image"]["display"] == "block" and printed["image"]["width"] > 100
    assert printed["map"] == "none" and printed["controls"] == "none"
    if shutil.which("pdftotext"):
        text = subprocess.run(
            ["pdftotext", q["printPdf"], "-"], check=True, capture_output=True, text=True
        ).stdout
        assert ("Pengaturan seleksi" not in text) and ("Selection settings" not in text)


def test_20_10_year_on_year_names_crossings_and_does_not_rank_them(q: dict) -> None:
    changes = q["changes"]
    assert changes["crossingsShown"] and changes["crossings"]
    crossed = {code for code, _ in changes["crossings"]}
    assert not crossed & set(changes["improved"])
    assert any("→" in line for _, line in changes["crossings"])
    assert q["changesKecamatan"] > 0
    assert all(re.fullmatch(r"[+−±]\d[\d.,]*|[+−±]0", x) for x in changes["poor"])
    assert "GET /changes" not in q["changesHint"] and "sasaran changes" not in q["changesHint"]


def test_20_11_one_kabupaten_is_one_click(q: dict) -> None:
    one = q["oneKabupaten"]
    assert one["body"]["kabupaten"] == [one["code"]] and "kabupaten_max" not in one["body"]
    assert one["rows"] == [one["code"]]


def test_20_quotas_locks_two_scenarios_and_the_kecamatan_view(q: dict) -> None:
    s = q["scenarios"]
    body = s["body"]
    assert body["kabupaten_min"] == {s["missingKab"]: 1} and s["missingKab"] in s["kabOfAfter"]
    assert s["lockOut"] in body["exclude"] and s["lockOut"] not in s["after"]
    if s["lockIn"]:
        assert s["lockIn"] in body["include"] and s["lockIn"] in s["after"]
    assert sorted(code for code, _ in q["locksShown"]) == sorted(body.get("include", []) + body["exclude"])
    assert "exc=" in s["hash"]  # the locks travel with a shared link
    assert s["compareVisible"] and s["compareRows"] == 4
    assert s["adds"] == len(set(s["after"]) - set(s["before"])) and s["drops"] == len(
        set(s["before"]) - set(s["after"])
    )
    k = q["kecamatan"]
    assert k["rows"] == k["answer"] and _whole(k["total"], q["lang"]) == k["people"]


AMOUNTS = [
    "2.000.000.000",
    "2 miliar",
    "2M",
    "2,5 M",
    "Rp 500 jt",
    "250.000",
    "2,000,000,000",
    "2e9",
    "1,5 triliun",
]


@pytest.mark.skipif(shutil.which("node") is None, reason="node is not installed")
def test_the_page_reads_amounts_as_the_command_line_does() -> None:
    from layers.errors import InvalidQuery
    from layers.targeting.amounts import parse_amount

    script = (
        f"import {{ parseAmount }} from '{(STATIC / 'amounts.js').as_uri()}';"
        f"console.log(JSON.stringify({json.dumps(AMOUNTS + ['2m', 'dua'])}.map((x) => parseAmount(x))));"
    )
    run = subprocess.run(
        ["node", "--input-type=module", "-e", script], capture_output=True, text=True, check=True
    )
    page = json.loads(run.stdout)
    for typed, answer in zip(AMOUNTS, page, strict=False):
        assert answer == {"value": parse_amount(typed)}, typed
    assert page[-2] == {"error": "ambiguous"} and page[-1] == {"error": "unreadable"}
    for bad in ("2m", "dua"):
        with pytest.raises(InvalidQuery):
            parse_amount(bad)
