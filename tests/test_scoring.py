"""Alkire-Foster scoring: the published worked example, the conventions, mpitb, and properties."""

from __future__ import annotations

import math
import timeit
from fractions import Fraction

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import layers.scoring.af as scoring
from layers.errors import InvalidQuery
from layers.scoring.af import (
    deprivations,
    dimension_share,
    score_units,
    summarize,
    summary_to_json,
    summary_total,
)
from layers.scoring.spec import Indicator, IndicatorSpec, default_spec

# --------------------------------------------------------------------------------------------
# The worked example of Alkire & Foster (2011), J Public Econ 95:476-487, section 3: four persons,
# four dimensions (income, years of schooling, a BMI-based nutrition score, health insurance),
# deprivation cutoffs z = (13, 12, 3, 1), "deprived" meaning strictly below z.
#
# NOTE: the matrix below is quoted from memory of the paper; it could not be checked against the
# text with the tools available here. Every expected number is therefore derived by hand from it:
#   g0 = [[0,0,0,0],   person 1: 13.1>=13, 14>=12, 4>=3, 1>=1
#         [0,1,0,1],   person 2: schooling 7<12, insurance 0<1
#         [1,1,1,1],   person 3: 12.5<13, 10<12, 1<3, 0<1
#         [0,1,0,0]]   person 4: 11<12 only; its BMI score 3 sits exactly ON the cutoff: not deprived
#   counts c = (0, 2, 4, 1), equal weights 1/4 -> scores (0, 1/2, 1, 1/4).
#   k = 1/4 (union):      poor {2,3,4}: H = 3/4, A = (1/2+1+1/4)/3 = 7/12, M0 = 7/16
#   k = 1/2 (paper k=2):  poor {2,3}:   H = 1/2, A = 3/4,  M0 = 3/8 (the paper's 6/16)
#   k = 3/4, k = 1:       poor {3}:     H = 1/4, A = 1,    M0 = 1/4
#   uncensored headcounts (1/4, 3/4, 1/4, 2/4); censored at k = 1/2: (1/4, 2/4, 1/4, 2/4).
# --------------------------------------------------------------------------------------------
AF_Y = np.array([[13.1, 14, 4, 1], [15.2, 7, 5, 0], [12.5, 10, 1, 0], [20, 11, 3, 1]], dtype=float)
AF_Z = (13, 12, 3, 1)
AF_NAMES = ("income", "schooling", "bmi", "insurance")


def af_spec(k: float = 0.5) -> IndicatorSpec:
    return IndicatorSpec(
        tuple(Indicator(n, n, n, 0.25, z, "below") for n, z in zip(AF_NAMES, AF_Z, strict=True)), k=k
    )


@pytest.mark.parametrize(
    ("k", "H", "A", "M0", "poor"),
    [
        (0.25, 3 / 4, 7 / 12, 7 / 16, [False, True, True, True]),
        (0.5, 1 / 2, 3 / 4, 3 / 8, [False, True, True, False]),
        (0.75, 1 / 4, 1.0, 1 / 4, [False, False, True, False]),
        (1.0, 1 / 4, 1.0, 1 / 4, [False, False, True, False]),
    ],
)
def test_alkire_foster_2011_example(k, H, A, M0, poor):
    spec = af_spec(k)
    scores = score_units(AF_Y, spec)
    np.testing.assert_array_equal(scores.c, [0, 0.5, 1, 0.25])
    np.testing.assert_array_equal(scores.poor, poor)
    s = summarize(scores, spec)
    assert s.H[0] == pytest.approx(H, abs=1e-15)
    assert s.A[0] == pytest.approx(A, abs=1e-15)
    assert s.M0[0] == pytest.approx(M0, abs=1e-15)
    np.testing.assert_allclose(s.uncensored_headcount[0], [1 / 4, 3 / 4, 1 / 4, 2 / 4], atol=1e-15)


def test_alkire_foster_2011_censored_headcounts_and_contributions():
    spec = af_spec(0.5)
    s = summarize(score_units(AF_Y, spec), spec)
    np.testing.assert_allclose(s.censored_headcount[0], [1 / 4, 2 / 4, 1 / 4, 2 / 4], atol=1e-15)
    # w_j h_j / M0 = (1/4 h_j) / (3/8)
    np.testing.assert_allclose(s.contribution_indicator[0], [1 / 6, 1 / 3, 1 / 6, 1 / 3], atol=1e-15)
    assert s.vulnerable[0] == pytest.approx(1 / 4)  # person 4, c = 1/4 in OPHI's fixed [0.2, 1/3)
    assert s.severe[0] == pytest.approx(1 / 2)  # persons 2 and 3, c >= 0.5


def test_value_at_cutoff_is_not_deprived():
    spec = IndicatorSpec(
        (Indicator("lo", "lo", "a", 0.5, 10, "below"), Indicator("hi", "hi", "b", 0.5, 10, "above"))
    )
    g, complete = deprivations([[10, 10], [9.999, 10.001], [11, 9], [-np.inf, np.inf]], spec)
    np.testing.assert_array_equal(g, [[False, False], [True, True], [False, False], [True, True]])
    assert complete.all()


def test_missing_values_are_excluded_from_both_sides():
    spec = af_spec(0.5)
    y = np.vstack([AF_Y, [[np.nan, 0, 0, 0], [1, 1, 1, np.nan]]])
    scores = score_units(y, spec)
    np.testing.assert_array_equal(scores.complete, [True] * 4 + [False] * 2)
    assert np.isnan(scores.c[4:]).all()
    assert not scores.poor[4:].any() and not scores.deprived[4:].any()
    s = summarize(scores, spec, weights=[1, 1, 1, 1, 50, 50])
    assert (s.n_units[0], s.n_excluded[0], s.population[0]) == (4, 2, 4.0)
    assert s.H[0] == pytest.approx(1 / 2) and s.M0[0] == pytest.approx(3 / 8)


def _equal_spec(m: int, k: float = 1 / 3, weights=None) -> IndicatorSpec:
    weights = weights if weights is not None else [1 / m] * m
    return IndicatorSpec(
        tuple(Indicator(f"i{j}", f"i{j}", f"d{j}", float(w), 0.5, "above") for j, w in enumerate(weights)),
        k=k,
    )


def test_exact_ties_at_k_are_poor():
    # 1/6 + 1/6 at k = 1/3, and 1/12 * 4.
    assert score_units([[1, 1, 0, 0, 0, 0]], _equal_spec(6)).poor[0]
    assert score_units([[1, 1, 1, 1] + [0] * 8], _equal_spec(12)).poor[0]
    # Eleven times 1/33 adds up to 0.33333333333333326 < 1/3 in float64 ...
    assert sum([1 / 33] * 11) < 1 / 3
    # ... and the unit is poor all the same.
    assert score_units([[1] * 11 + [0] * 22], _equal_spec(33)).poor[0]
    # 5/18 at k = 1/3 is not poor; 6/18 is.
    spec18 = _equal_spec(18)
    assert not score_units([[1] * 5 + [0] * 13], spec18).poor[0]
    assert score_units([[1] * 6 + [0] * 12], spec18).poor[0]
    # Decimal weights that sum to 1 within 1e-9: one third of the weight is still poor at k = 1/3.
    decimal = _equal_spec(3, weights=[0.3333333333, 0.3333333333, 0.3333333334])
    assert score_units([[1, 0, 0]], decimal).poor[0]


def test_bands_use_the_same_tie_rule():
    spec = _equal_spec(10, k=0.5)
    s = score_units([[1] * 2 + [0] * 8, [1] * 4 + [0] * 6, [1] * 5 + [0] * 5, [1] + [0] * 9], spec)
    # The vulnerable band is OPHI's fixed [0.2, 1/3), not [0.2, k): c = 0.4 at k = 1/2 is not in it.
    np.testing.assert_array_equal(s.vulnerable, [True, False, False, False])
    np.testing.assert_array_equal(s.severe, [False, False, True, False])
    np.testing.assert_array_equal(s.poor, [False, False, True, False])


def test_dimension_share():
    spec = default_spec()
    rows = [[10, 11, 0, 0, 0, 0, 0, 9, 0, 0, 0], [0] * 11, [np.nan] * 11]
    share = dimension_share(score_units(rows, spec), spec)
    np.testing.assert_allclose(share[0], [0.8, 0, 0, 0.2])
    assert np.isnan(share[1:]).all()


def test_bad_arguments():
    spec = af_spec()
    with pytest.raises(InvalidQuery, match=r"\(n, 4\) matrix"):
        score_units(np.zeros((3, 5)), spec)
    with pytest.raises(InvalidQuery, match="not a percent"):
        score_units(AF_Y, spec, k=33)
    scores = score_units(AF_Y, spec)
    with pytest.raises(InvalidQuery, match="finite and >= 0"):
        summarize(scores, spec, weights=[1, -1, 1, 1])
    with pytest.raises(InvalidQuery, match="group positions"):
        summarize(scores, spec, groups=np.array([0, 1, 2, 3]), n_groups=2)


def test_grouped_summary_and_json_shape():
    spec = af_spec(0.5)
    groups = np.array([0, 0, 1, 1])
    s = summarize(score_units(AF_Y, spec), spec, weights=[1, 3, 2, 2], groups=groups, n_groups=3)
    assert s.n_groups == 3
    np.testing.assert_allclose(s.population, [4, 4, 0])
    np.testing.assert_allclose(s.H[:2], [3 / 4, 1 / 2])
    assert np.isnan(s.H[2]) and np.isnan(s.M0[2])
    out = summary_to_json(s, spec, ["a", "b", "c"])
    assert list(out) == [
        "k",
        "n_units",
        "n_excluded",
        "population",
        "H",
        "A",
        "M0",
        "vulnerable",
        "severe",
        "uncensored_headcount",
        "censored_headcount",
        "contribution_indicator",
        "contribution_dimension",
        "groups",
    ]
    assert list(out["groups"]["a"]) == [
        "n_units",
        "population",
        "pop_share",
        "H",
        "A",
        "M0",
        "censored_headcount",
        "contribution_to_M0",
    ]
    assert out["groups"]["c"]["H"] is None and out["groups"]["c"]["A"] is None
    # totals are over all units: weighted persons (1, 3, 2, 2): poor are persons 2 and 3
    assert out["H"] == pytest.approx(5 / 8)
    assert out["M0"] == pytest.approx((3 * 0.5 + 2 * 1) / 8)
    assert sum(g["contribution_to_M0"] for g in out["groups"].values()) == pytest.approx(1)
    ungrouped = summary_to_json(summarize(score_units(AF_Y, spec), spec, weights=[1, 3, 2, 2]), spec)
    assert "groups" not in ungrouped
    for key in ("H", "A", "M0", "vulnerable", "severe"):
        assert ungrouped[key] == pytest.approx(out[key], abs=1e-15)


def test_nobody_poor_gives_undefined_intensity():
    spec = af_spec(1.0)
    s = summarize(score_units(AF_Y[[0, 1, 3]], spec), spec)
    assert s.H[0] == 0 and s.M0[0] == 0 and np.isnan(s.A[0])
    assert np.isnan(s.contribution_indicator).all()
    out = summary_to_json(s, spec)
    assert out["A"] is None and out["contribution_indicator"]["income"] is None


def test_empty_table():
    spec = af_spec()
    s = summarize(score_units(np.empty((0, 4)), spec), spec)
    assert s.n_units[0] == 0 and s.population[0] == 0 and np.isnan(s.H[0])


# --------------------------------------------------------------------------------------------
# Cross-check with the peer implementation mpitb 0.2 (PyPI). mpitb takes the 0/1 deprivation
# matrix, k in percent, and counts missing values as non-poor; we compare on complete data with k
# away from any score (its `score >= k/100` has no tie tolerance).
# --------------------------------------------------------------------------------------------


@pytest.mark.parametrize("seed", range(6))
def test_agrees_with_mpitb(seed):
    from mpitb.core import MPIToolbox

    rng = np.random.default_rng(seed)
    n, m = 300, int(rng.integers(3, 9))
    dims = rng.integers(0, 3, m)
    dims[:3] = [0, 1, 2]
    raw_w = rng.random(m) + 0.1
    weights = raw_w / raw_w.sum()
    names = [f"ind{j}" for j in range(m)]
    spec = IndicatorSpec(
        tuple(
            Indicator(names[j], names[j], f"dim{dims[j]}", float(weights[j]), 0.5, "above") for j in range(m)
        ),
        k=0.3,
    )
    g = rng.random((n, m)) < rng.random(m) * 0.8
    pop = rng.random(n) * 10
    scores_c = g @ spec.weights
    k = float(rng.uniform(0.15, 0.6))
    while np.min(np.abs(scores_c - k)) < 1e-6:  # stay away from ties
        k += 1e-3

    ours = summarize(score_units(g.astype(float), spec, k=k), spec, weights=pop)

    df = pd.DataFrame(g.astype(int), columns=names)
    df["pop"] = pop
    tb = MPIToolbox()
    tb.set(
        name="t",
        dimensions=[
            ([nm for nm, d in zip(names, dims, strict=True) if d == dd], f"dim{dd}") for dd in range(3)
        ],
    )
    tb.svyset(weight="pop")
    res = pd.DataFrame(
        tb.est(
            df, "t", klist=[k * 100], weights=dict(zip(names, spec.weights.tolist(), strict=True)), svy=True
        )
    )
    national = res[res["indicator"].isna()].set_index("measure")["b"]
    assert ours.H[0] == pytest.approx(national["H"], abs=1e-12, rel=0)
    assert ours.A[0] == pytest.approx(national["A"], abs=1e-12, rel=0)
    assert ours.M0[0] == pytest.approx(national["M0"], abs=1e-12, rel=0)
    hdk = res[res["measure"] == "hdk"].set_index("indicator")["b"].reindex(names)
    np.testing.assert_allclose(ours.censored_headcount[0], hdk.to_numpy(), rtol=0, atol=1e-12)
    hd = res[res["measure"] == "hd"].set_index("indicator")["b"].reindex(names)
    np.testing.assert_allclose(ours.uncensored_headcount[0], hd.to_numpy(), rtol=0, atol=1e-12)
    pctb = res[res["measure"] == "pctb"].set_index("indicator")["b"].reindex(names)
    np.testing.assert_allclose(ours.contribution_indicator[0], pctb.to_numpy(), rtol=0, atol=1e-12)


# --------------------------------------------------------------------------------------------
# Properties
# --------------------------------------------------------------------------------------------


@st.composite
def problems(draw):
    n = draw(st.integers(1, 25))
    m = draw(st.integers(1, 6))
    ints = draw(st.lists(st.integers(1, 9), min_size=m, max_size=m))
    g = np.array(draw(st.lists(st.lists(st.booleans(), min_size=m, max_size=m), min_size=n, max_size=n)))
    pop = np.array(draw(st.lists(st.integers(0, 50), min_size=n, max_size=n)), dtype=float)
    n_groups = draw(st.integers(1, 4))
    groups = np.array(draw(st.lists(st.integers(0, n_groups - 1), min_size=n, max_size=n)))
    dims = draw(st.lists(st.integers(0, 2), min_size=m, max_size=m))
    total = sum(ints)
    spec = IndicatorSpec(
        tuple(Indicator(f"i{j}", f"i{j}", f"d{dims[j]}", ints[j] / total, 0.5, "above") for j in range(m)),
        k=draw(st.sampled_from([0.1, 0.25, 1 / 3, 0.5, 0.75, 1.0])),
    )
    return spec, g.astype(float), pop, groups, n_groups, ints


CLOSE = {"rel": 0, "abs": 1e-12}


@settings(max_examples=150, deadline=None)
@given(problems())
def test_m0_identities(problem):
    spec, values, pop, _, _, _ = problem
    s = summarize(score_units(values, spec), spec, weights=pop)
    if s.population[0] == 0:
        assert np.isnan(s.M0[0])
        return
    assert s.M0[0] == pytest.approx(float(spec.weights @ s.censored_headcount[0]), **CLOSE)
    if s.H[0] > 0:
        assert s.M0[0] == pytest.approx(s.H[0] * s.A[0], **CLOSE)
        assert 0 < s.A[0] <= 1 + 1e-12
    else:
        assert s.M0[0] == 0
    if s.M0[0] > 0:
        assert s.contribution_indicator[0].sum() == pytest.approx(1, **CLOSE)
        assert s.contribution_dimension[0].sum() == pytest.approx(1, **CLOSE)
    assert (s.censored_headcount <= s.uncensored_headcount + 1e-12).all()


@settings(max_examples=150, deadline=None)
@given(problems())
def test_subgroup_decomposition(problem):
    spec, values, pop, groups, n_groups, _ = problem
    scores = score_units(values, spec)
    whole = summarize(scores, spec, weights=pop)
    parts = summarize(scores, spec, weights=pop, groups=groups, n_groups=n_groups)
    assert parts.population.sum() == pytest.approx(whole.population[0], **CLOSE)
    if whole.population[0] == 0:
        return
    has = parts.population > 0
    assert parts.pop_share.sum() == pytest.approx(1, **CLOSE)
    assert (parts.pop_share[has] * parts.M0[has]).sum() == pytest.approx(whole.M0[0], **CLOSE)
    assert (parts.pop_share[has] * parts.H[has]).sum() == pytest.approx(whole.H[0], **CLOSE)
    if whole.M0[0] > 0:
        assert parts.contribution_to_M0.sum() == pytest.approx(1, **CLOSE)
    total = summary_total(parts, spec)
    for field in ("H", "A", "M0", "vulnerable", "severe", "censored_headcount", "contribution_indicator"):
        np.testing.assert_allclose(getattr(total, field), getattr(whole, field), rtol=0, atol=1e-12)


@settings(max_examples=100, deadline=None)
@given(problems())
def test_monotone_in_k(problem):
    spec, values, pop, _, _, _ = problem
    last_h = last_m0 = math.inf
    for k in (0.05, 0.2, 0.25, 1 / 3, 0.4, 0.5, 0.75, 0.9, 1.0):
        s = summarize(score_units(values, spec, k=k), spec, weights=pop)
        if s.population[0] == 0:
            return
        assert s.H[0] <= last_h + 1e-12 and s.M0[0] <= last_m0 + 1e-12
        last_h, last_m0 = s.H[0], s.M0[0]


@settings(max_examples=100, deadline=None)
@given(problems(), st.randoms(use_true_random=False))
def test_invariant_to_order_and_to_splitting_units(problem, rnd):
    spec, values, pop, groups, n_groups, _ = problem
    base = summarize(score_units(values, spec), spec, weights=pop, groups=groups, n_groups=n_groups)
    order = list(range(len(pop)))
    rnd.shuffle(order)
    shuffled = summarize(
        score_units(values[order], spec), spec, weights=pop[order], groups=groups[order], n_groups=n_groups
    )
    split = rnd.randrange(len(pop))  # unit `split` becomes two units of half its weight
    values2 = np.vstack([values, values[split]])
    pop2 = np.append(pop, pop[split] / 2)
    pop2[split] /= 2
    halves = summarize(
        score_units(values2, spec),
        spec,
        weights=pop2,
        groups=np.append(groups, groups[split]),
        n_groups=n_groups,
    )
    for other in (shuffled, halves):
        for field in ("population", "H", "A", "M0", "censored_headcount", "contribution_to_M0"):
            np.testing.assert_allclose(getattr(other, field), getattr(base, field), rtol=0, atol=1e-12)


@settings(max_examples=150, deadline=None)
@given(problems())
def test_exact_ties_against_fractions(problem):
    # k set to a score some unit actually has, computed exactly with fractions: every unit whose
    # exact score is >= k must be poor, and every unit below it must not, whatever the float sums.
    spec, values, _, _, _, ints = problem
    total = sum(ints)
    exact = [sum(Fraction(ints[j], total) for j in range(len(ints)) if row[j]) for row in values]
    for k_exact in sorted({c for c in exact if c > 0}):
        poor = score_units(values, spec, k=float(k_exact)).poor
        np.testing.assert_array_equal(poor, [c >= k_exact for c in exact])


@settings(max_examples=60, deadline=None)
@given(problems())
def test_dense_and_sparse_profile_tables_agree(problem):
    spec, values, pop, groups, n_groups, _ = problem
    scores = score_units(values, spec)
    fast = summarize(scores, spec, weights=pop, groups=groups, n_groups=n_groups)
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(scoring, "_MAX_TABLE_CELLS", 0)
        slow = summarize(scores, spec, weights=pop, groups=groups, n_groups=n_groups)
    for field in ("n_units", "population", "H", "A", "M0", "vulnerable", "severe", "uncensored_headcount"):
        np.testing.assert_allclose(getattr(fast, field), getattr(slow, field), rtol=0, atol=1e-12)
    np.testing.assert_allclose(fast.censored_headcount, slow.censored_headcount, rtol=0, atol=1e-12)


def test_profiles_with_many_indicators():
    # Beyond the lookup table (m > 20) and beyond exact float codes (m > 52), results must not change.
    rng = np.random.default_rng(3)
    for m in (21, 60):
        spec = _equal_spec(m)
        values = (rng.random((50, m)) < 0.4).astype(float)
        s = score_units(values, spec)
        np.testing.assert_array_equal(s.profiles[s.profile], s.deprived)
        np.testing.assert_allclose(s.c, values @ spec.weights, rtol=0, atol=1e-12)
        summ = summarize(s, spec)
        poor = values @ spec.weights >= 1 / 3 - 1e-9
        assert summ.H[0] == pytest.approx(poor.mean())


@pytest.mark.parametrize("m", [53, 58, 64, 65, 130])
def test_wide_profiles_are_rows_packed_into_words_not_row_sorts(m: int) -> None:
    """Issue 23, finding 3: 53-64 indicators sorted the rows column by column (7.6 s against 0.29 s).

    The profiles and each unit's profile are exactly those of ``np.unique(g, axis=0)`` (same order,
    so every sum over profiles adds in the same order as before), and the work is one sort of one
    integer key per unit for each 64 indicators: never a sort of the rows themselves.
    """
    rng = np.random.default_rng(m)
    n = 3_000
    g = rng.random((n, m)) < 0.3
    g[n // 2 :] = g[: n - n // 2]  # half the units repeat a profile
    expected, at = np.unique(g, axis=0, return_inverse=True)
    sorted_keys: list[tuple[int, ...]] = []
    real_unique, real_lexsort = np.unique, np.lexsort

    def unique(values, *args, **kwargs):
        assert kwargs.get("axis") is None, "rows were sorted as rows"
        sorted_keys.append(np.shape(values))
        return real_unique(values, *args, **kwargs)

    def lexsort(keys, *args, **kwargs):
        sorted_keys.append(np.shape(keys))
        return real_lexsort(keys, *args, **kwargs)

    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(np, "unique", unique)
        mp.setattr(np, "lexsort", lexsort)
        profile, profiles = scoring._profiles(g)
    np.testing.assert_array_equal(profiles, expected)
    np.testing.assert_array_equal(profile, at.reshape(n))
    words = -(-m // 64)
    assert sorted_keys == [(n,)] if words == 1 else [(words, n)]
    assert scoring.profile_words(g).shape == (n, words)


@pytest.mark.slow
def test_speed_200k_units_four_levels():
    spec = default_spec()
    n = 200_000
    rng = np.random.default_rng(1)
    values = rng.random((n, 10)) * np.array([20, 20, 60, 120, 120, 240, 10, 20, 40, 40])
    values[rng.random((n, 10)) < 0.001] = np.nan
    pop = rng.random(n) * 50
    villages = rng.integers(0, 1500, n)
    levels = [(villages, 1500), (villages % 136, 136), (villages % 14, 14), (None, None)]

    def run():
        scores = score_units(values, spec)
        for groups, n_groups in levels:
            summarize(scores, spec, pop, groups, n_groups)

    best = min(timeit.repeat(run, number=1, repeat=7))
    assert best < 0.05, f"{best * 1e3:.1f} ms"
