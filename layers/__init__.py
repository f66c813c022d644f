"""Sasaran's library: build H3 poverty layers, score deprivation, select targets. No HTTP here.

The public API is listed in ``__all__``; names are imported on first use so that
``import layers`` stays cheap for the command line and the service.
"""

from __future__ import annotations

from layers._lazy import lazy_exports

__all__ = ["build", "load_config", "LayerStore", "score_units", "select_targets", "summarize", "write_demo"]

_HOME = {
    "build": "layers.pipeline.province",
    "load_config": "layers.config",
    "LayerStore": "layers.store",
    "score_units": "layers.scoring.af",
    "select_targets": "layers.targeting.selection",
    "summarize": "layers.scoring.af",
    "write_demo": "layers.demo.province",
}

__getattr__ = lazy_exports(__name__, _HOME)
