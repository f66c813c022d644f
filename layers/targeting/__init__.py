"""Choosing villages under a budget and quotas (level 4): `selection` (the request, the result and
their explanations) on `knapsack` (the exact solver)."""

from layers._lazy import lazy_exports

__all__ = ["TargetRequest", "TargetResult", "select_targets"]
__getattr__ = lazy_exports(
    __name__,
    dict.fromkeys(("TargetRequest", "TargetResult", "select_targets"), "layers.targeting.selection"),
)
