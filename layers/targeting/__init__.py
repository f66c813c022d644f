"""Choosing villages under a budget and quotas (level 4): `request` (what a planner asks, light),
`selection` (scoring, solving, explaining) on `knapsack` (the exact solver), `result` (the typed
answer), `amounts` (money as planners type it)."""

from layers._lazy import lazy_exports

__all__ = ["TargetRequest", "TargetResult", "select_targets"]
__getattr__ = lazy_exports(
    __name__,
    {
        "TargetRequest": "layers.targeting.request",
        "TargetResult": "layers.targeting.result",
        "select_targets": "layers.targeting.selection",
    },
)
