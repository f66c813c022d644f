"""Sasaran's library: build H3 poverty layers, score deprivation, select targets. No HTTP here.

The public API is listed in ``__all__``; names are imported on first use so that
``import layers`` stays cheap for the command line and the service.
"""

from __future__ import annotations

from importlib import import_module
from typing import Any

__all__ = ["build", "load_config", "LayerStore", "score_units", "select_targets", "summarize", "write_demo"]

_HOME = {
    "build": "layers.pipeline",
    "load_config": "layers.config",
    "LayerStore": "layers.store",
    "score_units": "layers.scoring",
    "select_targets": "layers.targeting",
    "summarize": "layers.scoring",
    "write_demo": "layers.demo",
}


def __getattr__(name: str) -> Any:
    if name in _HOME:
        return getattr(import_module(_HOME[name]), name)
    raise AttributeError(f"module 'layers' has no attribute {name!r}")
