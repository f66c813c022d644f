"""Rank robustness across k and weights: Kendall tau-b and the share of pairwise comparisons holding."""

from __future__ import annotations

import itertools
import json

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy.stats import kendalltau

from layers.errors import ConfigError, InvalidQuery
from layers.scoring.af import score_units, summarize
from layers.scoring.robustness import pairs_holding, rank_robustness
from layers.scoring.spec import default_spec


def brute_force_pairs(x, y):
    ordered = held = 0
    for i, j in itertools.combinations(range(len(x)), 2):
        if x[i] != x[j]:
            ordered += 1
            held += np.sign(x[i] - x[j]) == np.sign(y[i] - y[j])
    return (held / ordered if ordered else None), ordered


@settings(max_examples=200, deadline=None)
@given(st.lists(st.tuples(st.integers(0, 4), st.integers(0, 4)), min_size=0, max_size=30))
def test_pairs_holding_matches_brute_force_with_ties(pairs):
    x = np.array([p[0] for p in pairs], dtype=float)
    y = np.array([p[1] for p in pairs], dtype=float)
    share, ordered = pairs_holding(x, y)
    expected_share, expected_ordered = brute_force_pairs(x, y)
    assert ordered == expected_ordered
    if expected_share is None:
        assert share is None
    else:
        assert share == pytest.approx(expected_share, abs=1e-12)


@pytest.fixture(scope="module")
def province():
    rng = np.random.default_rng(7)
    n = 3000
    scale = np.array([20, 20, 6, 12, 20, 120, 240, 4, 20, 40, 40])  # about twice each cutoff
    villages = rng.integers(0, 40, n)
    # villages differ in remoteness, so rankings are meaningful and mostly stable
    remoteness = rng.random(40)[villages][:, None]
    values = rng.random((n, 11)) * scale * (0.4 + remoteness)
    return values, rng.random(n) * 100, villages


def test_rank_robustness_structure_and_values(province):
    values, pop, villages = province
    spec = default_spec()
    equal = np.full(11, 1 / 11)
    out = rank_robustness(values, spec, pop, villages, 40, [0.25, 1 / 3, 0.5], [equal, spec.weights])
    json.dumps(out, allow_nan=False)  # plain JSON, no NaN
    base_m0 = summarize(score_units(values, spec), spec, pop, villages, 40).M0
    np.testing.assert_allclose(out["baseline"]["M0"], base_m0)
    assert sorted(out["baseline"]["rank"])[0] == 1
    assert out["baseline"]["rank"][int(np.argmax(base_m0))] == 1
    labels = [a["label"] for a in out["alternatives"]]
    assert labels == ["k=0.25", "k=0.333333", "k=0.5", "weights 1", "weights 2"]
    # the baseline itself (k = 1/3; the spec weights) holds perfectly
    for same in (out["alternatives"][1], out["alternatives"][4]):
        assert same["kendall_tau_b"] == pytest.approx(1.0)
        assert same["pairs_holding"] == 1.0
        assert same["rank"] == out["baseline"]["rank"]
    for alt in out["alternatives"]:
        m0 = np.array(alt["M0"])
        assert alt["kendall_tau_b"] == pytest.approx(kendalltau(base_m0, m0, variant="b").statistic)
        share, ordered = brute_force_pairs(base_m0, m0)
        assert alt["pairs_holding"] == pytest.approx(share) and alt["pairs_compared"] == ordered
    assert out["alternatives"][3]["weights"]["qol_road"] == pytest.approx(1 / 11)


def test_groups_without_people_are_left_out(province):
    values, pop, villages = province
    out = rank_robustness(values, default_spec(), pop, villages, 42, [0.5], [])
    assert out["baseline"]["M0"][40] is None and out["baseline"]["rank"][41] is None
    assert out["alternatives"][0]["pairs_compared"] <= 40 * 39 // 2


def test_rank_robustness_rejects_bad_alternatives(province):
    values, pop, villages = province
    spec = default_spec()
    with pytest.raises(ConfigError, match="must sum to 1"):
        rank_robustness(values, spec, pop, villages, 40, [], [np.full(11, 0.2)])
    with pytest.raises(ConfigError, match="weight must be positive"):
        rank_robustness(values, spec, pop, villages, 40, [], [np.r_[0.0, np.full(10, 1 / 10)]])
    with pytest.raises(InvalidQuery, match="11 entries"):
        rank_robustness(values, spec, pop, villages, 40, [], [np.full(5, 0.2)])
    with pytest.raises(InvalidQuery, match="not a percent"):
        rank_robustness(values, spec, pop, villages, 40, [33], [])
    with pytest.raises(InvalidQuery, match="needs groups"):
        rank_robustness(values, spec, pop, None, None, [0.5], [])
