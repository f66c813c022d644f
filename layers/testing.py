"""Helpers for our tests and for users' tests: a tiny built province, layer comparison."""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from layers.config import load_config
from layers.demo.province import write_demo
from layers.pipeline.province import BuildResult, build

#: Villages in the tiny province: enough for every level of the hierarchy, built in seconds.
TINY_VILLAGES = 60


def tiny_sources(directory: str | Path, villages: int = TINY_VILLAGES, seed: int = 62) -> Path:
    """Write the source files of a small synthetic province under ``directory``; return its config."""
    return write_demo(Path(directory), villages=villages, seed=seed)


def tiny_build(config_path: Path, store: str | Path) -> BuildResult:
    """Build a store from a config quietly (no progress bars)."""
    return build(load_config(config_path), store, progress=False)


def tiny_province(directory: str | Path, villages: int = TINY_VILLAGES, seed: int = 62) -> Path:
    """Write a small synthetic province under ``directory`` and build its store; return the store dir.

    Examples
    --------
    >>> store = tiny_province(tmp_path)
    >>> (store / "manifest.json").exists()
    True
    """
    directory = Path(directory)
    return tiny_build(tiny_sources(directory / "sources", villages, seed), directory / "store").store


def assert_layer_equal(left: pd.DataFrame, right: pd.DataFrame, check_like: bool = False) -> None:
    """Assert two layers are equal, geometry included (exact WKB), with a readable diff."""
    from geopandas.testing import assert_geodataframe_equal

    if hasattr(left, "geometry") and hasattr(right, "geometry"):
        assert_geodataframe_equal(left, right, check_like=check_like, check_less_precise=False)
    else:
        pd.testing.assert_frame_equal(left, right, check_like=check_like)
