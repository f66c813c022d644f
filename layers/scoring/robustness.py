"""How group rankings by M0 move across poverty cutoffs k and alternative weights (OPHI practice).

For the baseline (the spec's k and weights) and each alternative, the groups (e.g. kabupaten) are
ranked by M0, and the alternative is compared with the baseline by Kendall's tau-b and by the share
of pairwise comparisons that hold: of the pairs of groups strictly ordered in the baseline, the share
ordered the same way (strictly) under the alternative (Alkire & Santos 2014; Alkire et al. 2015, ch. 8).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import numpy as np
from scipy.stats import kendalltau, rankdata

from layers.errors import InvalidQuery
from layers.rounding import finite_or_none
from layers.scoring.af import score_units, scores_from_profiles, summarize
from layers.scoring.spec import IndicatorSpec, with_overrides
from layers.types import FloatArray


def _tie_pairs(*arrays: np.ndarray) -> int:
    """Pairs of positions tied in every given array."""
    _, counts = np.unique(np.column_stack(arrays), axis=0, return_counts=True)
    return int((counts * (counts - 1) // 2).sum())


def pairs_holding(baseline: Any, alternative: Any) -> tuple[float | None, int]:
    """Share of the baseline's strictly ordered pairs that keep the same strict order.

    Runs in O(G log G) from Kendall's tau-b and the tie counts: with ``n0`` pairs, ``n1`` tied in the
    baseline, ``n2`` tied in the alternative and ``n3`` tied in both, the pairs strict in both are
    ``C + D = n0 - n1 - n2 + n3`` and ``C - D = tau_b * sqrt((n0 - n1) (n0 - n2))``.

    Parameters
    ----------
    baseline, alternative
        Values per group (finite), e.g. M0; larger means poorer.

    Returns
    -------
    tuple[float | None, int]
        The share (None when no pair is strictly ordered in the baseline) and the number of pairs
        strictly ordered in the baseline.

    Examples
    --------
    >>> pairs_holding([0.1, 0.2, 0.3], [0.1, 0.3, 0.2])
    (0.6666666666666666, 3)
    """
    x = np.asarray(baseline, dtype=np.float64)
    y = np.asarray(alternative, dtype=np.float64)
    n = len(x)
    n0 = n * (n - 1) // 2
    n1, n2, n3 = _tie_pairs(x), _tie_pairs(y), _tie_pairs(x, y)
    ordered = n0 - n1
    if ordered == 0:
        return None, 0
    if n0 - n2 == 0:  # the alternative ties everything: nothing holds strictly
        return 0.0, ordered
    tau = kendalltau(x, y, variant="b").statistic
    c_minus_d = tau * math.sqrt((n0 - n1) * (n0 - n2))
    concordant = round(((n0 - n1 - n2 + n3) + c_minus_d) / 2)
    return concordant / ordered, ordered


def _ranking(m0: FloatArray) -> list[int | None]:
    """1 = highest M0 (poorest); ties share the best rank; groups without people get None."""
    finite = np.isfinite(m0)
    out: list[int | None] = [None] * len(m0)
    if finite.any():
        ranks = rankdata(-m0[finite], method="min").astype(int)
        for pos, rank in zip(np.flatnonzero(finite), ranks, strict=True):
            out[int(pos)] = int(rank)
    return out


def _compare(base: FloatArray, alt: FloatArray) -> dict[str, Any]:
    both = np.isfinite(base) & np.isfinite(alt)
    x, y = base[both], alt[both]
    tau = kendalltau(x, y, variant="b").statistic if len(x) >= 2 else math.nan
    share, n_pairs = pairs_holding(x, y)
    return {
        "kendall_tau_b": finite_or_none(tau),
        "pairs_holding": share,
        "pairs_compared": n_pairs,
    }


def rank_robustness(
    values: Any,
    spec: IndicatorSpec,
    weights: Any,
    groups: Any,
    n_groups: int | None,
    ks: Sequence[float],
    weight_vectors: Sequence[Any],
) -> dict[str, Any]:
    """Compare group rankings by M0 under each alternative k and each alternative weight vector.

    Each k in ``ks`` is tried with the spec's weights, and each weight vector with the spec's k.

    Parameters
    ----------
    values
        ``(n, m)`` raw indicator values, columns in ``spec`` order.
    spec
        The baseline spec (its k and weights are the baseline).
    weights
        Population weight of each unit, or None for 1 each.
    groups
        Group position of each unit (``0 .. n_groups-1``).
    n_groups
        Number of groups; default ``groups.max() + 1``.
    ks
        Alternative poverty cutoffs in (0, 1].
    weight_vectors
        Alternative indicator weights, each of length m in spec order, summing to 1.

    Returns
    -------
    dict
        ``baseline``: ``{k, weights, M0, rank}`` and ``alternatives``: a list of ``{label, k, weights,
        M0, rank, kendall_tau_b, pairs_holding, pairs_compared}``. Per-group lists follow group
        positions; None stands for undefined values (a group without people). Ready for JSON.

    Raises
    ------
    ConfigError
        When a weight vector is not positive or does not sum to 1.
    InvalidQuery
        When a k is outside (0, 1] or a weight vector has the wrong length.

    Examples
    --------
    >>> from layers.scoring.spec import default_spec
    >>> spec = default_spec()
    >>> spec.columns[:3]
    ['poverty_rate', 'extreme_poor_share', 'dist_km_school_sd']
    >>> rows = [[10, 11, 40] + [0] * 8, [10, 0, 40] + [0] * 8, [0] * 11]
    >>> out = rank_robustness(rows, spec, None, [0, 1, 2], 3, [0.2], [])
    >>> out["baseline"]["rank"], out["alternatives"][0]["rank"], out["alternatives"][0]["pairs_holding"]
    ([1, 2, 2], [1, 2, 3], 1.0)
    """
    base = score_units(values, spec)
    if groups is None:
        raise InvalidQuery("rank robustness needs groups to rank")
    scenarios: list[tuple[str, float, FloatArray]] = [(f"k={k:g}", float(k), spec.weights) for k in ks]
    for i, vector in enumerate(weight_vectors, start=1):
        w = np.asarray(vector, dtype=np.float64)
        if w.shape != (len(spec),):
            raise InvalidQuery(f"weight vector {i} should have {len(spec)} entries, got shape {w.shape}")
        checked = with_overrides(spec, weights=dict(zip(spec.names, w.tolist(), strict=True)))
        scenarios.append((f"weights {i}", spec.k, checked.weights))

    def m0_of(scores: Any) -> FloatArray:
        return summarize(scores, spec, weights, groups, n_groups).M0

    base_m0 = m0_of(base)
    alternatives = []
    for label, k, w in scenarios:
        alt = scores_from_profiles(base.deprived, base.complete, base.profile, base.profiles, w, k)
        alt_m0 = m0_of(alt)
        alternatives.append(
            {
                "label": label,
                "k": k,
                "weights": dict(zip(spec.names, w.tolist(), strict=True)),
                "M0": [finite_or_none(v) for v in alt_m0],
                "rank": _ranking(alt_m0),
                **_compare(base_m0, alt_m0),
            }
        )
    return {
        "baseline": {
            "k": spec.k,
            "weights": dict(zip(spec.names, spec.weights.tolist(), strict=True)),
            "M0": [finite_or_none(v) for v in base_m0],
            "rank": _ranking(base_m0),
        },
        "alternatives": alternatives,
    }
