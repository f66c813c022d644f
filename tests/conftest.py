"""Shared fixtures: one small synthetic province, written and built once per test session."""

from __future__ import annotations

from pathlib import Path

import pytest

from layers.config import load_config
from layers.demo import write_demo
from layers.pipeline import BuildResult, build
from layers.store import LayerStore

SHARED_DATA = Path(__file__).resolve().parents[2] / "shared" / "data" / "kalteng"


@pytest.fixture(scope="session")
def demo_sources(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Config path of a 60-village synthetic province (source files only)."""
    return write_demo(tmp_path_factory.mktemp("demo") / "sources", villages=60, seed=7)


@pytest.fixture(scope="session")
def demo_build(demo_sources: Path, tmp_path_factory: pytest.TempPathFactory) -> BuildResult:
    """The build of `demo_sources` (its store is shared: tests must not modify it)."""
    return build(load_config(demo_sources), tmp_path_factory.mktemp("built") / "store", progress=False)


@pytest.fixture(scope="session")
def store_dir(demo_build: BuildResult) -> Path:
    """Directory of the session's built demo store."""
    return demo_build.store


@pytest.fixture(scope="session")
def store(store_dir: Path) -> LayerStore:
    """The session's demo store, opened."""
    return LayerStore.open(store_dir)
