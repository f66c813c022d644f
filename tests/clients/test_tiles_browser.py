"""The vector tiles and their MapLibre styles in a real Chromium (``tiles_e2e.mjs``): hexagons drawn
where people live, areas labelled once each with the vendored glyphs, nothing from another origin.

Set SASARAN_WRITE_DOCS_IMAGES=1 to copy the screenshots into docs/img (docs/method.md shows them).
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest

from layers.store import LayerStore
from tests.clients.test_planner_browser import _skip_reason, run_browser_script

HERE = Path(__file__).resolve().parent
DOCS_IMG = HERE.parents[1] / "docs" / "img"


@pytest.fixture(scope="module")
def report(live_server: tuple[str, Path], store_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> dict:
    reason = _skip_reason()
    if reason:
        pytest.skip(reason)
    store = LayerStore.open(store_dir)
    minx, miny, maxx, maxy = store.layer("kabupaten").total_bounds
    lon, lat = (minx + maxx) / 2, (miny + maxy) / 2
    village = store.layer("villages").geometry.iloc[0].representative_point()
    views = [f"hexagons:{lon}:{lat}:8", f"hexagons:{village.x}:{village.y}:12",
             f"villages:{village.x}:{village.y}:11", f"kabupaten:{lon}:{lat}:8"]  # fmt: skip
    out = tmp_path_factory.mktemp("tiles-e2e")
    result = run_browser_script(HERE / "tiles_e2e.mjs", [live_server[0], str(out), *views], 120)
    assert result["ok"], f"browser run failed: {result.get('error')}"
    return result


def test_tiles_render_from_this_origin_with_no_error(report: dict) -> None:
    assert report["externalRequests"] == [] and report["failedRequests"] == []
    for view in report["views"]:
        assert view["errors"] == [] and view["fills"] > 0, view


def test_areas_are_labelled_once_each_with_the_vendored_glyphs(report: dict) -> None:
    for view in report["views"]:
        if view["collection"] in ("villages", "kabupaten"):
            assert view["glyphs"] and view["labels"] > 0, view
            assert view["labels"] == view["distinctLabels"], view  # one label per feature, not per tile


def test_screenshots_show_the_map(report: dict) -> None:
    from PIL import Image

    for view in report["views"]:
        with Image.open(view["screenshot"]) as image:
            colours = image.convert("RGB").getcolors(maxcolors=1 << 20) or []
        assert len(colours) > 20, view["view"]
        if os.environ.get("SASARAN_WRITE_DOCS_IMAGES") == "1":
            shutil.copyfile(view["screenshot"], DOCS_IMG / f"tiles-{Path(view['screenshot']).name}")
