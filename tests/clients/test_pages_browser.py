"""The HTML pages (``service/html.py``) in a real Chromium with every other origin blocked.

Runs ``pages_e2e.mjs`` (playwright-core from ``tests/clients/node``, the system Chromium) against the
real service under uvicorn (`live_server`), asking as a browser does (``Accept: text/html``, no
``f``). Skips, saying why, where node, Chromium or playwright-core is missing.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from layers.store import LayerStore
from tests.clients.test_planner_browser import _skip_reason, run_browser_script

HERE = Path(__file__).resolve().parent
SCRIPT = HERE / "pages_e2e.mjs"
BROWSER_SECONDS = 120


@pytest.fixture(scope="module")
def report(live_server: tuple[str, Path], store_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> dict:
    """The report of one browser run over the landing, collections, one collection, items, one item."""
    reason = _skip_reason()
    if reason:
        pytest.skip(reason)
    code = LayerStore.open(store_dir).layer("villages")["village_code"].iloc[0]
    paths = ["/", "/collections", "/collections/villages", "/collections/villages/items?limit=50"]
    paths.append(f"/collections/villages/items/{code}")
    out = tmp_path_factory.mktemp("pages-e2e")
    result = run_browser_script(SCRIPT, [live_server[0], str(out), *paths], BROWSER_SECONDS)
    assert result["ok"], f"browser run failed: {result.get('error')}"
    return result


def test_pages_render_from_this_origin_only(report: dict) -> None:
    assert report["externalRequests"] == [], "a page asked another origin"
    assert report["failedRequests"] == []
    for page in report["pages"]:
        assert page["status"] == 200 and page["contentType"].startswith("text/html"), page
        assert page["csp"] and "script-src 'self'" in page["csp"]
        assert page["cspViolations"] == [] and page["errors"] == [], page


def test_items_and_item_pages_draw_their_features_on_a_map(report: dict) -> None:
    by_path = {p["path"]: p for p in report["pages"]}
    items = by_path["/collections/villages/items?limit=50"]
    assert items["mapFeatures"] == 50 and items["rows"] == 50 and items["mapError"] is None
    item = next(p for p in report["pages"] if p["path"].startswith("/collections/villages/items/"))
    assert item["mapFeatures"] == 1 and item["rows"] > 10
    assert by_path["/collections"]["rows"] >= 8


def test_screenshots_are_not_blank(report: dict) -> None:
    from PIL import Image

    for page in report["pages"]:
        with Image.open(page["screenshot"]) as image:
            colours = image.convert("RGB").getcolors(maxcolors=1 << 20) or []
        assert len(colours) > 20, page["path"]
        if "mapFeatures" in page:  # the map's feature fill (#d9480f at 35 %) is drawn
            assert any(r > 200 and 150 < g < 200 and b < 180 for _, (r, g, b) in colours), page["path"]
