"""Names a package re-exports from its modules, imported on first use (PEP 562).

``import layers.pipeline`` then stays cheap: the heavy modules behind ``layers.pipeline.build``
(geopandas, rasterio, dask) load only when the name is first read.
"""

from __future__ import annotations

from collections.abc import Callable
from importlib import import_module
from typing import Any


def lazy_exports(package: str, homes: dict[str, str]) -> Callable[[str], Any]:
    """A module ``__getattr__`` that finds each name of ``homes`` (name -> module) on first use."""

    def __getattr__(name: str) -> Any:
        if name in homes:
            return getattr(import_module(homes[name]), name)
        raise AttributeError(f"module {package!r} has no attribute {name!r}")

    return __getattr__
