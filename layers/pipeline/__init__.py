"""The build (level 4): the only writer of a store.

`province` (``build``: read, compute, write atomically), `compute` (the stages on one province's
inputs), `national` (partitioned builds on Dask, docs/national.md) and `change_gate` (a rebuild's
headline figures beside the replaced store's). Named ``pipeline`` so that the folder does not
shadow the public function ``layers.build``.
"""

from layers._lazy import lazy_exports

__all__ = ["build"]
__getattr__ = lazy_exports(__name__, {"build": "layers.pipeline.province"})
