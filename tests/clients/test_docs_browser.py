"""``/docs`` in a real Chromium with every other origin blocked: it works offline, under its CSP.

Runs ``docs_e2e.mjs`` (playwright-core from ``tests/clients/node``, the system Chromium) against the
real service under uvicorn (`live_server`). Skips, saying why, where node, Chromium or playwright-core
is missing, like the planner's browser test.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.clients.test_planner_browser import _skip_reason, run_browser_script

HERE = Path(__file__).resolve().parent
SCRIPT = HERE / "docs_e2e.mjs"
BROWSER_SECONDS = 120


@pytest.fixture(scope="module")
def report(live_server: tuple[str, Path], tmp_path_factory: pytest.TempPathFactory) -> dict:
    """The report of one browser run of /docs."""
    reason = _skip_reason()
    if reason:
        pytest.skip(reason)
    out = tmp_path_factory.mktemp("docs-e2e")
    result = run_browser_script(SCRIPT, [live_server[0], str(out)], BROWSER_SECONDS)
    assert result["ok"], f"browser run failed: {result.get('error')}"
    return result


def test_docs_render_every_operation_from_this_origin_only(
    report: dict, live_server: tuple[str, Path]
) -> None:
    base = live_server[0]
    assert report["status"] == 200
    assert report["externalRequests"] == [], "the page asked another origin"
    assert all(url.startswith(base) for url in report["requests"])
    assert f"{base}/docs/static/swagger/swagger-ui-bundle.js" in report["requests"]
    assert f"{base}/openapi" in report["requests"]
    assert report["title"].startswith("Sasaran")
    assert len(report["operations"]) >= 20 and "/collections/villages/items" in report["operations"]
    assert report["opened"]


def test_docs_run_under_their_csp_without_errors(report: dict) -> None:
    assert report["csp"] and "script-src 'self'" in report["csp"]
    assert report["nosniff"] == "nosniff"
    assert report["cspViolations"] == []
    assert report["consoleErrors"] == [] and report["pageErrors"] == [] and report["failedRequests"] == []


def test_docs_screenshot_shows_the_page(report: dict) -> None:
    from PIL import Image

    with Image.open(report["screenshot"]) as image:
        rgb = image.convert("RGB")
        colours = rgb.getcolors(maxcolors=1 << 20) or []
        assert len(colours) > 50, "the screenshot has almost no colours: Swagger UI did not render"
        # Swagger UI's blue GET badges: present only if its stylesheet applied.
        assert any(b > 200 and r < 120 and g > 120 for _, (r, g, b) in colours)
