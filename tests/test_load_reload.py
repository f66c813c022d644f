"""Load while a rebuild is swapped in (issue 13): 60 s at 64 connections mixing items, bbox, scores
and tiles against ``sasaran serve --workers 2``; a rebuild lands halfway. No request may fail and
the service's memory must stay flat. Slow: run with ``pytest -m slow`` (figures: docs/benchmarks.md)."""

from __future__ import annotations

import shutil
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "scripts"))

from load_reload import run  # noqa: E402


@pytest.mark.slow
def test_a_minute_of_load_across_a_rebuild(store_dir: Path, demo_sources: Path, tmp_path: Path) -> None:
    store = tmp_path / "store"
    shutil.copytree(store_dir, store)
    result = run(store, demo_sources, seconds=60, connections=64, workers=2)
    assert result["rebuild"]["exit"] == 0
    assert result["builds_seen"] == 2, result  # the old build, then the new one
    assert result["errors"] == {}, result
    assert result["requests"] > 500, result
    # Flat within 10 % across the swap: the loaded, warmed service before it, and after the old
    # build is released (service.reload.release_memory).
    assert result["rss_mib"]["last"] <= 1.10 * result["rebuild"]["rss_mib_at_swap"], result
