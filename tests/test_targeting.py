"""Targeting: the exact solver against brute force, constraints, infeasibility, explanations, confidence,
whole people, guards, real priority effects and the warm-started scenarios (issue 20)."""

from __future__ import annotations

import itertools
import json

import numpy as np
import pytest

from layers.errors import InfeasibleTargeting, InvalidQuery
from layers.scoring.rescore import ScoringFrame, store_spec
from layers.scoring.spec import with_overrides
from layers.store import LayerStore
from layers.targeting import knapsack
from layers.targeting.knapsack import Problem, check_feasible, greedy, make_problem, reoptimise, solve
from layers.targeting.result import TargetResult
from layers.targeting.selection import (
    PRIORITY_SHARES,
    TargetRequest,
    VillageProfiles,
    scenario_weights,
    select_targets,
)

# ------------------------------------------------------------------------------------------------
# The solver on arrays
# ------------------------------------------------------------------------------------------------


def _feasible_mask(p: Problem, subsets: np.ndarray) -> np.ndarray:
    """Which rows of a (2^n × n) 0/1 matrix meet every constraint."""
    ok = np.ones(len(subsets), bool)
    if p.budget is not None:
        ok &= subsets @ p.cost <= p.budget * (1 + 1e-12)
    if p.max_count is not None:
        ok &= subsets.sum(axis=1) <= p.max_count
    for g in range(len(p.group_min)):
        count = subsets[:, p.group == g].sum(axis=1)
        ok &= (count >= p.group_min[g]) & (count <= p.group_max[g])
    ok &= (subsets[:, p.forced] == 1).all(axis=1)
    ok &= (subsets[:, p.banned] == 0).all(axis=1)
    return ok


def _brute_force(p: Problem) -> float | None:
    n = len(p.value)
    subsets = np.array(list(itertools.product((0, 1), repeat=n)), dtype=np.float64)
    ok = _feasible_mask(p, subsets)
    return float((subsets[ok] @ p.value).max()) if ok.any() else None


def _random_problem(rng: np.random.Generator, n: int) -> Problem:
    n_groups = int(rng.integers(1, 4))
    group = rng.integers(0, n_groups, n)
    size = np.bincount(group, minlength=n_groups)
    value = np.round(rng.gamma(2.0, 50.0, n), 1) * (rng.random(n) > 0.1)  # some villages reach nobody
    cost = np.round(rng.choice([0.0, 5.0, 20.0]) + rng.choice([0.0, 0.5]) * value + rng.random(n), 2)
    state = rng.random(n)
    return make_problem(
        value,
        cost,
        group,
        budget=float(rng.uniform(0.2, 0.7) * cost.sum()) if rng.random() < 0.8 else None,
        max_count=int(rng.integers(1, n + 1)) if rng.random() < 0.5 else None,
        group_min=np.minimum(rng.integers(0, 3, n_groups), size) * (rng.random(n_groups) < 0.5),
        group_max=np.where(rng.random(n_groups) < 0.4, rng.integers(1, 4, n_groups), size),
        forced=state < 0.08,
        banned=(state > 0.08) & (state < 0.2),
    )


def _assert_within(p: Problem, chosen: np.ndarray) -> None:
    assert _feasible_mask(p, chosen[None, :].astype(np.float64))[0], "a constraint is violated"


@pytest.mark.parametrize("seed", range(80))
def test_exact_solver_matches_brute_force(seed):
    rng = np.random.default_rng(seed)
    p = _random_problem(rng, int(rng.integers(3, 13)))
    best = _brute_force(p)
    if best is None:
        with pytest.raises(InfeasibleTargeting):
            solve(p, rel_gap=1e-9)
        return
    sol = solve(p, rel_gap=1e-9)
    _assert_within(p, sol.chosen)
    assert float(p.value[sol.chosen].sum()) == pytest.approx(best, rel=1e-9, abs=1e-9)
    assert sol.status == "optimal"
    assert sol.gap is not None and sol.gap <= 1e-9


@pytest.mark.parametrize("seed", range(40))
def test_default_gap_stays_within_its_tolerance(seed):
    rng = np.random.default_rng(1000 + seed)
    p = _random_problem(rng, 15)
    best = _brute_force(p)
    if best is None:
        return
    sol = solve(p)
    _assert_within(p, sol.chosen)
    assert float(p.value[sol.chosen].sum()) >= best * (1 - knapsack.MIP_REL_GAP) - 1e-9


@pytest.mark.parametrize("seed", range(150))
def test_greedy_never_violates_a_constraint(seed):
    rng = np.random.default_rng(5000 + seed)
    p = _random_problem(rng, int(rng.integers(3, 40)))
    chosen = greedy(p)
    if chosen is not None:
        _assert_within(p, chosen)
        assert not (chosen & p.banned).any() and chosen[p.forced].all()


def test_solver_keeps_no_village_worth_nothing_unless_needed():
    p = make_problem([5, 0, 0, 3], [1, 1, 1, 1], [0, 0, 1, 1], group_min=[0, 1])
    chosen = solve(p).chosen
    assert chosen.tolist() == [True, False, False, True]


def test_solver_proves_a_large_problem_optimal():
    rng = np.random.default_rng(3)
    value = rng.gamma(2.0, 500.0, 1500)
    p = make_problem(value, 2e8 + 5e5 * value, rng.integers(0, 14, 1500), budget=5e10)
    sol = solve(p)
    assert sol.status == "optimal"
    assert sol.gap is not None and sol.gap <= knapsack.REL_GAP
    assert sol.bound == pytest.approx(float(p.value[sol.chosen].sum()) * (1 + sol.gap))
    _assert_within(p, sol.chosen)


# ------------------------------------------------------------------------------------------------
# Infeasible constraints are named
# ------------------------------------------------------------------------------------------------

_INFEASIBLE = [
    ({"forced": [1, 0, 0], "banned": [1, 0, 0]}, "include"),
    ({"group_min": [2, 0], "group_max": [1, 2]}, "kabupaten_min"),
    ({"group_min": [3, 0]}, "kabupaten_min"),
    ({"group_min": [2, 0], "banned": [1, 0, 0]}, "kabupaten_min"),
    ({"forced": [1, 1, 0], "group_max": [1, 1]}, "kabupaten_max"),
    ({"forced": [1, 1, 1], "max_count": 2}, "max_villages"),
    ({"group_min": [2, 1], "max_count": 2}, "max_villages"),
    ({"forced": [1, 1, 0], "budget": 15}, "include"),
    ({"group_min": [1, 1], "budget": 15}, "kabupaten_min"),
]


@pytest.mark.parametrize(("constraints", "named"), _INFEASIBLE)
def test_infeasible_constraints_name_the_constraint(constraints, named):
    p = make_problem([3, 2, 1], [10, 10, 10], [0, 0, 1], **constraints)
    with pytest.raises(InfeasibleTargeting, match=f"^{named}"):
        solve(p)


def test_infeasible_is_an_invalid_query():
    assert issubclass(InfeasibleTargeting, InvalidQuery)


def test_feasible_problem_passes_the_checks():
    check_feasible(make_problem([3, 2, 1], [10, 10, 10], [0, 0, 1], group_min=[1, 1], budget=20))


@pytest.mark.parametrize("seed", range(60))
def test_reoptimise_keeps_every_constraint_and_never_loses_value(seed):
    rng = np.random.default_rng(9000 + seed)
    p = _random_problem(rng, int(rng.integers(3, 30)))
    start = rng.random(len(p.value)) < 0.4
    chosen = reoptimise(p, start)
    if chosen is None:
        assert greedy(p) is None or not _feasible_mask(p, start[None, :].astype(float))[0]
        return
    _assert_within(p, chosen)
    if _feasible_mask(p, (start & ~p.banned | p.forced)[None, :].astype(float))[0]:
        # a feasible start is only ever extended or improved
        assert float(p.value[chosen].sum()) >= float(p.value[start & ~p.banned | p.forced].sum()) - 1e-9


def test_reoptimise_keeps_a_start_within_the_margin():
    # two lists of equal value: the start stays (a tie is no reason to change the list)
    p = make_problem([5, 5, 4], [5, 5, 4], budget=9)
    assert reoptimise(p, np.array([True, False, True])).tolist() == [True, False, True]
    assert reoptimise(p, np.array([False, True, True])).tolist() == [False, True, True]


def test_solve_keeps_its_start_unless_beaten_by_the_margin():
    p = make_problem([100, 100.05, 50], [10, 10, 5], budget=15)
    start = np.array([True, False, True])
    kept = solve(p, rel_gap=1e-9, start=start, margin=1e-3)
    assert kept.chosen.tolist() == start.tolist()
    beaten = solve(p, rel_gap=1e-9, start=start, margin=1e-6)
    assert beaten.chosen.tolist() == [False, True, True]


# ------------------------------------------------------------------------------------------------
# On the demo store
# ------------------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def frame(store: LayerStore) -> ScoringFrame:
    return ScoringFrame.from_store(store)


def _select(frame, store, **kwargs) -> TargetResult:
    request = TargetRequest(**kwargs)
    return select_targets(frame, store.layer("villages"), request, store_spec(store))


def test_result_json_keeps_the_planner_contract(frame, store):
    result = _select(frame, store, budget=5e9, cost_fixed=2e8, cost_per_person=5e5, scenarios=20)
    out = result.to_json()
    json.dumps(out, allow_nan=False)
    assert TargetResult.model_validate(out) == result  # the JSON is the model, nothing added or lost
    assert set(out) >= {"year", "objective", "spec", "status", "gap", "solve_seconds", "summary", "selected"}
    assert set(out["summary"]) >= {
        "n_selected", "total_cost", "budget", "budget_used_share", "people_reached", "objective_total",
        "coverage", "by_kabupaten", "by_kecamatan", "guards", "candidates",
    }  # fmt: skip
    item = out["selected"][0]
    assert {"people_reached", "cost", "cost_per_person_reached", "score", "confidence"} <= set(item)
    assert out["priority_effect"] is None and item["priority_gained"] is None  # no priority asked
    assert out["parameters"]["cost_fixed"] == 2e8 and out["parameters"]["budget"] == 5e9
    assert [s["rank"] for s in out["selected"]] == list(range(1, len(out["selected"]) + 1))
    assert set(item["priority_shares"]) == set(PRIORITY_SHARES)
    assert len(item["top_indicators"]) <= 3 and all(t["title"]["id"] for t in item["top_indicators"])
    assert out["status"] in ("optimal", "work_limit")
    assert out["summary"]["total_cost"] <= 5e9
    assert out["summary"]["n_selected"] == len(out["selected"])
    assert len(out["villages"]["village_code"]) == len(store.layer("villages"))
    assert out["scenarios"]["method"] == "warm_start" and isinstance(out["scenarios"]["n"], int)


def test_people_are_whole_and_costs_follow_the_model(frame, store):
    """Issue 20, item 3: whole persons everywhere, the cost model on them, rows add up to totals."""
    for objective in ("mpi_poor", "m0_people", "income_poor"):
        result = _select(frame, store, budget=4e9, cost_fixed=1e8, cost_per_person=2.5e5, objective=objective)
        s = result.summary
        for v in result.selected:
            assert isinstance(v.people_reached, int) and isinstance(v.cost, int)
            assert v.cost == 100_000_000 + 250_000 * v.people_reached
        assert s.people_reached == sum(v.people_reached for v in result.selected)
        assert s.total_cost == sum(v.cost for v in result.selected)
        assert s.people_reached == sum(k.people_reached for k in s.by_kabupaten)
        assert s.total_cost == sum(k.cost for k in s.by_kabupaten) == sum(k.cost for k in s.by_kecamatan)
        assert s.n_selected == sum(k.n_selected for k in s.by_kecamatan)
        assert s.objective_total == sum(result.villages.people_reached)
        assert all(isinstance(x, int) for x in result.villages.people_reached)
        if objective == "m0_people":  # a weighed objective is its own score, never "people"
            assert result.weighted and all(v.score is not None for v in result.selected)
            assert s.score == pytest.approx(sum(v.score for v in result.selected), abs=1e-6)
            assert all(v.score <= v.people_reached for v in result.selected)
        else:
            assert not result.weighted and all(v.score is None for v in result.selected)


def test_guards_leave_out_tiny_and_dear_villages_and_list_them(frame, store):
    """Issue 20, item 2: no village reaching a handful of people at Rp 100 juta, whatever the budget."""
    result = _select(frame, store, budget=1e13, scenarios=0)
    assert result.selected, "a huge budget chooses villages"
    for v in result.selected:
        assert v.people_reached >= 10 and v.cost_per_person_reached <= 10_000_000
    guards = result.summary.guards
    statuses = dict(zip(result.villages.village_code, result.villages.status, strict=True))
    listed = {g.village_code: g.reason for g in result.guarded}
    assert guards.min_people.excluded == sum(s == "min_people" for s in statuses.values())
    assert guards.max_cost_per_person.excluded == sum(s == "max_cost_per_person" for s in statuses.values())
    assert listed == {c: s for c, s in statuses.items() if s in ("min_people", "max_cost_per_person")}
    # without guards the same budget takes them
    free = _select(frame, store, budget=1e13, scenarios=0, min_people=0, max_cost_per_person=None)
    assert free.summary.n_selected == result.summary.n_selected + len(listed)
    # an included village is kept whatever the guards say
    if listed:
        code = next(iter(listed))
        kept = _select(frame, store, budget=1e13, scenarios=0, include=[code])
        assert code in {v.village_code for v in kept.selected}


def test_mpi_poor_people_match_the_village_scores(frame, store):
    spec = store_spec(store)
    cells = frame.score_cells(spec)
    summary = frame.summarize(cells, spec, "village")
    vp = VillageProfiles.from_cells(cells, frame.village_pos, len(frame.village_codes))
    poor, intensity = vp.poor_and_intensity(np.asarray(spec.weights)[:, None], np.array([spec.k]))
    np.testing.assert_allclose(poor[:, 0], np.nan_to_num(summary.H * summary.population), rtol=1e-9)
    np.testing.assert_allclose(intensity[:, 0], np.nan_to_num(summary.M0 * summary.population), rtol=1e-9)


def test_village_scenarios_equal_a_full_rescoring(frame, store):
    spec = store_spec(store)
    weights, k = scenario_weights(spec, 3, seed=9)
    cells = frame.score_cells(spec)
    vp = VillageProfiles.from_cells(cells, frame.village_pos, len(frame.village_codes))
    poor, _ = vp.poor_and_intensity(weights, k)
    for s in range(3):
        other = with_overrides(spec, k=float(k[s]), weights=dict(zip(spec.names, weights[:, s], strict=True)))
        summary = frame.summarize(frame.score_cells(other), other, "village")
        np.testing.assert_allclose(poor[:, s], np.nan_to_num(summary.H * summary.population), atol=1e-6)


def test_scenario_weights_are_reproducible_and_centred(store):
    spec = store_spec(store)
    w1, k1 = scenario_weights(spec, 500, seed=4)
    w2, k2 = scenario_weights(spec, 500, seed=4)
    np.testing.assert_array_equal(w1, w2)
    np.testing.assert_array_equal(k1, k2)
    np.testing.assert_allclose(w1.sum(axis=0), 1.0)
    np.testing.assert_allclose(w1.mean(axis=1), spec.weights, atol=0.01)
    assert (np.abs(k1 - spec.k) <= 0.05 + 1e-12).all()


def test_confidence_is_reproducible_whole_percent_and_from_the_optimiser(frame, store):
    kwargs = {"budget": 5e9, "cost_fixed": 2e8, "cost_per_person": 5e5, "scenarios": 50}
    a = [x.confidence for x in _select(frame, store, seed=1, **kwargs).selected]
    b = [x.confidence for x in _select(frame, store, seed=1, **kwargs).selected]
    assert a == b and all(0 <= x <= 1 and round(100 * x) == pytest.approx(100 * x) for x in a)
    none = _select(frame, store, scenarios=0, budget=5e9, cost_fixed=2e8).selected
    assert all(x.confidence is None for x in none)
    # Issue 20, item 5: an objective the weights do not move (income-poor people) is chosen again in
    # every scenario by the same optimiser: 100 %, where the old greedy re-solve said 0 % for some
    steady = _select(frame, store, objective="income_poor", budget=3e9, scenarios=30)
    assert steady.selected and all(x.confidence == 1.0 for x in steady.selected)


@pytest.mark.parametrize(
    ("objective", "extra"),
    [("mpi_poor", {}), ("m0_people", {}), ("income_poor", {}), ("dimension", {"dimension": "health"})],
)
def test_each_objective_counts_its_own_people(frame, store, objective, extra):
    result = _select(frame, store, objective=objective, max_villages=5, scenarios=10, min_people=0, **extra)
    assert result.summary.n_selected == 5
    value = [x.score if result.weighted else x.people_reached for x in result.selected]
    below = [x.score if result.weighted else x.people_reached for x in result.below_line]
    assert min(value) >= max(below)  # the cost model weighs little against 5 villages: the five largest
    if objective == "income_poor":
        rows = store.layer("village_years")
        rows = rows[rows["year"] == result.year].set_index("village_code")
        top = result.selected[0]
        assert top.people_reached == round(rows.loc[top.village_code, "poor_population"])
    if objective == "mpi_poor":
        top = result.selected[0]
        assert abs(top.people_reached - top.H * top.population) <= 1 + 1e-3 * top.population


def test_constraints_are_honoured(frame, store):
    villages = store.layer("villages")
    kabs = sorted(villages["kabupaten_code"].astype(str).unique())
    result = _select(frame, store, max_villages=8, scenarios=10)
    first = {x.kabupaten_code for x in result.selected}
    missing = next(k for k in kabs if k not in first)
    busiest = max(first, key=lambda k: sum(x.kabupaten_code == k for x in result.selected))
    eligible = [v.village_code for v in result.selected] + [b.village_code for b in result.below_line]
    include, exclude = eligible[-1], result.selected[0].village_code
    out = _select(
        frame, store, max_villages=8, kabupaten_min={missing: 1}, kabupaten_max={busiest: 1},
        include=[include], exclude=[exclude], scenarios=10, min_people=0,
    )  # fmt: skip
    codes = [x.village_code for x in out.selected]
    assert len(codes) <= 8 and include in codes and exclude not in codes
    assert sum(x.kabupaten_code == missing for x in out.selected) >= 1
    assert sum(x.kabupaten_code == busiest for x in out.selected) <= 1
    assert dict(zip(out.villages.village_code, out.villages.status, strict=True))[exclude] == "excluded"


def test_only_some_kabupaten_are_eligible(frame, store):
    """``kabupaten`` and ``exclude_kabupaten`` (``--kabupaten 6204``): others never chosen nor listed."""
    villages = store.layer("villages")
    kabs = sorted(villages["kabupaten_code"].astype(str).unique())
    only = _select(frame, store, budget=3e9, kabupaten=[kabs[0]], scenarios=0)
    assert {x.kabupaten_code for x in only.selected} == {kabs[0]}
    assert [k.kabupaten_code for k in only.summary.by_kabupaten] == [kabs[0]]
    assert {k.kabupaten_code for k in only.summary.excluded_kabupaten} == set(kabs[1:])
    assert {k.kabupaten_code for k in only.summary.by_kecamatan} == {kabs[0]}
    assert all(b.kabupaten_code == kabs[0] for b in only.below_line)
    same = _select(frame, store, budget=3e9, kabupaten_max=dict.fromkeys(kabs[1:], 0), scenarios=0)
    assert [x.village_code for x in same.selected] == [x.village_code for x in only.selected]
    without = _select(frame, store, budget=3e9, exclude_kabupaten=[kabs[0]], scenarios=0)
    assert kabs[0] not in {x.kabupaten_code for x in without.selected}
    with pytest.raises(InfeasibleTargeting, match="kabupaten: unknown kabupaten"):
        _select(frame, store, kabupaten=["9999"], scenarios=0)


def test_budget_and_min_score(frame, store):
    result = _select(
        frame, store, budget=3e9, cost_fixed=1e8, cost_per_person=4e5, min_score=0.3, scenarios=10
    )
    assert result.summary.total_cost <= 3e9
    assert all(x.M0 >= 0.3 for x in result.selected)
    for item in result.selected:
        assert item.cost == 1e8 + 4e5 * item.people_reached
    assert 0 < result.summary.budget_used_share <= 1


def test_priority_weights_raise_villages_with_more_elderly(frame, store):
    plain = _select(frame, store, max_villages=5, scenarios=0)
    favoured = _select(frame, store, max_villages=5, scenarios=0, priority={"elderly": 50.0})
    share = np.mean([x.priority_shares.elderly for x in favoured.selected])
    assert share >= np.mean([x.priority_shares.elderly for x in plain.selected])
    assert favoured.weighted and favoured.summary.score is not None


def test_priority_shares_and_weights_are_not_rounded_away(frame, store):
    """Issue 20, item 4: a 0.5 priority stays 0.5 and the shares stay shares in the JSON."""
    out = _select(frame, store, budget=3e9, priority={"elderly": 0.5, "disabled": 2.7}, scenarios=0).to_json()
    assert out["parameters"]["priority"] == {"elderly": 0.5, "disabled": 2.7}
    assert out["priority_effect"]["priority"] == {"elderly": 0.5, "disabled": 2.7}
    shares = [v["priority_shares"]["elderly"] for v in out["selected"]]
    assert shares and all(0 < x < 1 for x in shares)


def test_a_tiny_priority_changes_nothing(frame, store):
    """Issue 20, item 1: a priority of 0.0001 keeps the list without priority, and says so."""
    kwargs = {"budget": 3e9, "scenarios": 0}
    plain = _select(frame, store, **kwargs)
    tiny = _select(frame, store, priority={"elderly": 1e-4}, **kwargs)
    assert [v.village_code for v in tiny.selected] == [v.village_code for v in plain.selected]
    effect = tiny.priority_effect
    assert effect is not None and not effect.changed and effect.gained == [] and effect.lost == []
    assert all(v.priority_gained is False for v in tiny.selected)


def test_a_real_priority_effect_comes_with_its_numbers(frame, store):
    kwargs = {"budget": 3e9, "scenarios": 0, "basis": "area"}  # register shares barely differ
    plain = {x.village_code for x in _select(frame, store, **kwargs).selected}
    result = _select(frame, store, priority={"female_headed_hh": 5.0, "elderly": 5.0}, **kwargs)
    chosen = {x.village_code for x in result.selected}
    effect = result.priority_effect
    assert effect is not None and effect.priority == {"female_headed_hh": 5.0, "elderly": 5.0}
    assert chosen != plain, "a priority of 5 on two groups should change the synthetic selection"
    assert effect.changed
    assert {v.village_code for v in effect.gained} == chosen - plain
    assert {v.village_code for v in effect.lost} == plain - chosen
    assert effect.n_selected_without == len(plain)
    # only an improvement beyond the solver's tolerance replaces the list without priority
    assert effect.value_with > effect.value_without * (1 + effect.tolerance)
    for v in [*effect.gained, *effect.lost]:
        assert v.value_with > v.value_without  # a positive priority raises every village's value
    statuses = dict(zip(result.villages.village_code, result.villages.status, strict=True))
    assert all(statuses[v.village_code] == "priority" for v in effect.lost)
    assert {x.village_code for x in result.selected if x.priority_gained} == chosen - plain


def test_infeasible_is_refused_before_solving(frame, store):
    with pytest.raises(InvalidQuery, match="max_villages"):
        TargetRequest.from_dict({"max_villages": 0})


@pytest.mark.parametrize(
    ("kwargs", "field"),
    [
        ({"budget": -1}, "budget"),
        ({"cost_fixed": -5}, "cost_fixed"),
        ({"cost_per_person": float("nan")}, "cost_per_person"),
        ({"min_score": 1.5}, "min_score"),
        ({"max_villages": -2}, "max_villages"),
        ({"max_villages": 0}, "max_villages"),
        ({"min_people": -1}, "min_people"),
        ({"max_cost_per_person": 0}, "max_cost_per_person"),
        ({"kabupaten_min": {"6201": -1}}, "kabupaten_min"),
        ({"priority": {"elderly": -1}}, "priority"),
        ({"scenarios": 100_000}, "scenarios"),
        ({"objective": "dimension"}, "dimension"),
        ({"dimension": "health"}, "dimension"),
        ({"title": ""}, "title"),
    ],
)
def test_bad_values_name_the_field(frame, store, kwargs, field):
    # Bounds are in the model (and so in the OpenAPI schema): from_dict names the field; rules across
    # fields (objective and dimension) are checked when selecting.
    with pytest.raises(InvalidQuery, match=field):
        request = TargetRequest.from_dict(kwargs)
        select_targets(frame, store.layer("villages"), request, store_spec(store))


def test_bad_types_and_unknown_keys_name_the_field():
    with pytest.raises(InvalidQuery, match="budgett"):
        TargetRequest.from_dict({"budgett": 5})
    with pytest.raises(InvalidQuery, match="priority"):
        TargetRequest.from_dict({"priority": {"children": 1}})
    with pytest.raises(InvalidQuery, match="objective"):
        TargetRequest.from_dict({"objective": "votes"})


@pytest.mark.parametrize(
    ("kwargs", "named", "key"),
    [
        ({"include": ["nope"]}, "include: unknown village", "unknown_village"),
        ({"exclude": ["nope"]}, "exclude: unknown village", "unknown_village"),
        ({"kabupaten_min": {"9999": 1}}, "kabupaten_min: unknown kabupaten", "unknown_kabupaten"),
        ({"kabupaten_max": {"9999": 1}}, "kabupaten_max: unknown kabupaten", "unknown_kabupaten"),
        ({"kabupaten_min": {"K": 10_000}}, "kabupaten_min", "kabupaten_min_selectable"),
        ({"kabupaten_min": {"K": 2}, "kabupaten_max": {"K": 1}}, "kabupaten_min", "kabupaten_min_above_max"),
        ({"include": ["V"], "budget": 1.0, "cost_fixed": 5.0}, "include", "include_budget"),
        (
            {"kabupaten_min": {"K": 3}, "budget": 2e8, "cost_fixed": 1e8},
            "kabupaten_min",
            "kabupaten_min_budget",
        ),
    ],
)
def test_infeasible_requests_name_the_constraint_in_both_languages(frame, store, kwargs, named, key):
    from layers.export.wording import localise_error

    villages = store.layer("villages")
    kab, village = str(villages["kabupaten_code"].iloc[0]), str(villages["village_code"].iloc[0])
    kwargs = json.loads(json.dumps(kwargs).replace('"K"', f'"{kab}"').replace('"V"', f'"{village}"'))
    with pytest.raises(InfeasibleTargeting, match=named) as caught:
        _select(frame, store, scenarios=0, min_people=0, **kwargs)
    assert caught.value.key == key
    said = localise_error(caught.value, "id")
    assert said != str(caught.value) and "{" not in said


def test_unknown_dimension_and_year(frame, store):
    with pytest.raises(InvalidQuery, match="dimension 'wealth'"):
        _select(frame, store, objective="dimension", dimension="wealth")
    with pytest.raises(InvalidQuery, match="year 1990"):
        _select(frame, store, year=1990)


def test_request_spec_and_overrides_are_used(frame, store):
    result = _select(frame, store, k="1/2", dimension_weights={"income": 0.4, "health": 0.1}, max_villages=3)
    spec = result.to_json()["spec"]
    assert spec["k"] == 0.5
    income = sum(i["weight"] for i in spec["indicator"] if i["dimension"] == "income")
    assert income == pytest.approx(0.4)


def test_a_kabupaten_capped_at_zero_is_left_out(frame, store):
    # The planner page leaves a kabupaten out by capping it at 0 villages.
    top = _select(frame, store, max_villages=3, scenarios=0).selected[0]
    result = _select(frame, store, max_villages=3, scenarios=5, kabupaten_max={top.kabupaten_code: 0})
    assert all(x.kabupaten_code != top.kabupaten_code for x in result.selected)
    # Issue 14, item 5: villages of an excluded kabupaten are not "just below the line" (and never
    # with a quota reason); the kabupaten is named instead and left out of the breakdown.
    assert all(b.kabupaten_code != top.kabupaten_code for b in result.below_line)
    assert [k.model_dump() for k in result.summary.excluded_kabupaten] == [
        {"kabupaten_code": top.kabupaten_code, "kabupaten_name": top.kabupaten_name}
    ]
    assert top.kabupaten_code not in {k.kabupaten_code for k in result.summary.by_kabupaten}
    assert {b.reason for b in result.below_line} <= {"max_villages", "budget", "min_people", "no_people"}


# ------------------------------------------------------------------------------------------------
# Repeatable under load, one cost model
# ------------------------------------------------------------------------------------------------

_BUSY_LOOP = "import time\\nend = time.monotonic() + {seconds}\\nwhile time.monotonic() < end:\\n    pass\\n"


def _hard_province() -> Problem:
    # 1,500 villages, a priority and a small fixed cost: several counts go to HiGHS.
    rng = np.random.default_rng(12)
    people = np.round(rng.gamma(1.2, 600.0, 1500)) * (rng.random(1500) > 0.12)
    value = people * (1 + 0.3 * rng.random(1500))
    return make_problem(value, 2e7 + 1e6 * people, rng.integers(0, 14, 1500), budget=5e9)


def test_same_request_same_selection_on_a_loaded_machine(frame, store):
    import subprocess
    import sys

    hard = _hard_province()
    idle_solution = solve(hard)
    idle = _select(frame, store, budget=1e10, scenarios=50)
    # every core busy for the duration: a wall-clock limit would now stop earlier
    burners = [subprocess.Popen([sys.executable, "-c", _BUSY_LOOP.format(seconds=60)]) for _ in range(2)]
    try:
        loaded_solution = solve(hard)
        loaded = _select(frame, store, budget=1e10, scenarios=50)
    finally:
        for burner in burners:
            burner.kill()
            burner.wait()
    assert idle_solution.work["counts_exact"] >= 1  # the test exercises HiGHS too
    assert loaded_solution.chosen.tolist() == idle_solution.chosen.tolist()
    assert (loaded_solution.gap, loaded_solution.work) == (idle_solution.gap, idle_solution.work)
    codes = [[s.village_code for s in r.selected] for r in (idle, loaded)]
    assert codes[0] == codes[1] and codes[0]
    assert [s.confidence for s in idle.selected] == [s.confidence for s in loaded.selected]
    assert idle.status == loaded.status == "optimal"


def test_a_budget_needs_a_cost(frame, store):
    with pytest.raises(InvalidQuery, match="^budget: a budget needs a cost"):
        _select(frame, store, budget=1e11, cost_fixed=0, cost_per_person=0)
    # without a budget, zero costs are fine (the other limits choose)
    free = _select(frame, store, cost_fixed=0, cost_per_person=0, max_villages=2, scenarios=0)
    assert free.summary.n_selected == 2


def test_the_default_cost_model_and_guards_are_the_documented_ones(frame, store):
    from layers.targeting.selection import (
        DEFAULT_COST_FIXED,
        DEFAULT_COST_PER_PERSON,
        DEFAULT_MAX_COST_PER_PERSON,
        DEFAULT_MIN_PEOPLE,
    )

    assert (DEFAULT_COST_FIXED, DEFAULT_COST_PER_PERSON) == (100_000_000.0, 250_000.0)
    assert (DEFAULT_MIN_PEOPLE, DEFAULT_MAX_COST_PER_PERSON) == (10, 10_000_000.0)
    result = _select(frame, store, budget=5e9, scenarios=0)
    for item in result.selected:
        assert item.cost == DEFAULT_COST_FIXED + DEFAULT_COST_PER_PERSON * item.people_reached


def test_a_budget_below_the_cheapest_village_says_so(frame, store):
    result = _select(frame, store, budget=5e7, scenarios=0)  # below the Rp 100 juta per village
    out = result.to_json()
    assert out["status"] == "budget_too_small" and out["summary"]["n_selected"] == 0
    assert out["summary"]["cheapest_cost"] > 5e7
    assert "cheapest village" in out["reason"]
    enough = _select(frame, store, budget=out["summary"]["cheapest_cost"], scenarios=0)
    assert enough.status == "optimal" and enough.summary.n_selected >= 1 and enough.reason is None


# ------------------------------------------------------------------------------------------------
# Reasons an officer can repeat (issue 14, items 5, 6, 9; issue 20, item 7)
# ------------------------------------------------------------------------------------------------


def test_value_per_rupiah_and_its_rank_are_those_of_the_cost_model(frame, store):
    result = _select(frame, store, budget=3e9, scenarios=0)
    ranks = [x.value_per_rupiah_rank for x in result.selected]
    assert len(set(ranks)) == len(ranks) and min(ranks) >= 1
    assert max(ranks) <= result.summary.candidates
    for x in result.selected:
        # no priority: the value is the people reached, so people per Rp 1 million of its cost
        assert x.value_per_million == pytest.approx(1e6 * x.people_reached / x.cost, abs=0.005)
    by_ratio = sorted(result.selected, key=lambda x: -x.value_per_million)
    assert [x.value_per_rupiah_rank for x in by_ratio] == sorted(ranks)


def test_replacing_a_village_by_the_next_one_would_not_pay(frame, store):
    """The stated condition is what a one-for-one swap needs; the optimum fails it for each village."""
    result = _select(frame, store, budget=3e9, scenarios=0)
    left = result.summary.budget_left
    for x in result.selected:
        r = x.replace_by
        assert r is not None and r.village_code == result.below_line[0].village_code
        assert r.people_needed == x.people_reached + 1
        assert r.cost_allowed == x.cost + left
        # the next village reaches fewer people, or costs more than the swap allows
        assert r.people_reached < r.people_needed or r.cost > r.cost_allowed


def test_every_village_has_a_status_and_the_popup_numbers(frame, store):
    """Issue 20, item 7: chosen and not-chosen villages alike carry cost, people, value per Rp 1 juta
    and the true reason, in the request's year."""
    result = _select(frame, store, budget=2e9, year=min(store.years), scenarios=0)
    table = result.villages
    n = len(table.village_code)
    assert len(table.status) == len(table.cost) == len(table.population) == len(table.M0) == n
    chosen = {v.village_code for v in result.selected}
    assert {c for c, s in zip(table.village_code, table.status, strict=True) if s == "selected"} == chosen
    rows = store.layer("village_years")
    year = rows[rows["year"] == min(store.years)].set_index("village_code")["population"]
    assert table.population == [round(year[c]) for c in table.village_code]
    for people, cost in zip(table.people_reached, table.cost, strict=True):
        assert cost == 100_000_000 + 250_000 * people


def test_below_the_line_names_min_score_and_the_village_cap(frame, store):
    capped = _select(frame, store, max_villages=2, scenarios=0, min_people=0)
    assert {b.reason for b in capped.below_line} == {"max_villages"}
    m0 = sorted(x.M0 for x in _select(frame, store, budget=2e9, scenarios=0).selected)
    strict = _select(frame, store, budget=2e9, scenarios=0, min_score=m0[len(m0) // 2])
    for b in strict.below_line:
        if b.M0 is not None and b.M0 < m0[len(m0) // 2]:
            assert b.reason == "min_score"
