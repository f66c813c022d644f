"""Alkire-Foster and rescoring (level 3).

`spec` (the indicator spec), `af` (the measures on arrays, no I/O), `indicators` (yearly shares,
indicator matrices), `rescore` (`ScoringFrame`: the one scoring-by-level path), `change` (between
two years), `robustness` (rank stability) and `unit_table` (any unit table for ``sasaran mpi``).
"""

from layers._lazy import lazy_exports

__all__ = ["IndicatorSpec", "ScoringFrame", "default_spec", "score_units", "summarize"]
__getattr__ = lazy_exports(
    __name__,
    {
        "IndicatorSpec": "layers.scoring.spec",
        "default_spec": "layers.scoring.spec",
        "score_units": "layers.scoring.af",
        "summarize": "layers.scoring.af",
        "ScoringFrame": "layers.scoring.rescore",
    },
)
