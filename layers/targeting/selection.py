"""Choosing villages for a programme: an exact 0-1 programme, explained village by village.

A planner's `TargetRequest` becomes a `layers.targeting.knapsack.Problem` on arrays, one entry per
village: the **whole persons** the programme would reach there (its objective), the value of
reaching them (those people, or a *score* when the objective weighs them: M0 × people, a
priority), a cost in whole rupiah, a kabupaten, and which villages are forced in (``include``) or
out (``exclude``, ``min_score``, the guards). `layers.targeting.knapsack.solve` maximises the value
subject to the budget, a maximum number of villages and per-kabupaten minimums and maximums, with a
proven optimality gap. The limits are counted work, never seconds: the same request gives the same
selection on an idle or a busy server.

Defaults are defined here once, as `TargetRequest`'s field defaults (``POST /targets``, its OpenAPI
schema that the planner page reads, and ``sasaran target``, whose options are generated from the
model, share them): the cost model (`DEFAULT_COST_FIXED` per village plus `DEFAULT_COST_PER_PERSON`
per person reached), the guards (`DEFAULT_MIN_PEOPLE`, `DEFAULT_MAX_COST_PER_PERSON`) and the
confidence scenarios (`DEFAULT_SCENARIOS`, `DEFAULT_SEED`).

**A priority's effect is real** (docs/targeting.md §4): the request is first solved without the
priority, within `PLAIN_GAP` (half the solver's tolerance `REL_GAP`); the priority is then solved
starting from that list, which is kept unless a list worth more than ``1 + REL_GAP`` times it (in
the priority's value) is found. A priority that only reshuffles lists of equal value therefore
changes nothing, and every village it brings in or pushes out comes with its value with and without
the priority.

**Confidence** is the share of perturbed scenarios (dimension weights drawn from a Dirichlet around
the chosen ones, k varied by ±0.05) in which the village is still chosen when the optimiser re-solves
the scenario from the chosen list (`layers.targeting.knapsack.reoptimise`: the same search, warm
started, a fixed work limit, and the same rule: the list changes only for one better by more than
`REL_GAP`). Scenarios are rescored per village, not per cell: a village's people are grouped once by
deprivation profile (`VillageProfiles`), so all scenarios cost one sparse matrix product.

No I/O and no HTTP here: the CLI (`layers.cli.target`) and ``POST /targets`` (`service.targets`)
convert their input to a `TargetRequest` and read the `layers.targeting.result.TargetResult` back.
"""

from __future__ import annotations

import math
import time
from collections.abc import Sequence
from dataclasses import dataclass, replace
from typing import Any

import numpy as np
import pandas as pd
from scipy import sparse

from layers.errors import InvalidQuery, excerpt
from layers.scoring.af import K_TOLERANCE, Summary, WeightedScores
from layers.scoring.households import HouseholdYear
from layers.scoring.rescore import ScoringFrame
from layers.scoring.spec import (
    IndicatorSpec,
    default_spec,
    spec_from_dict,
    spec_to_dict,
    with_overrides,
)
from layers.scoring.titles import indicator_titles
from layers.targeting.knapsack import REL_GAP, Infeasible, Problem, Solution, make_problem, reoptimise, solve
from layers.targeting.request import (
    DEFAULT_COST_FIXED,
    DEFAULT_COST_PER_PERSON,
    DEFAULT_MAX_COST_PER_PERSON,
    DEFAULT_MIN_PEOPLE,
    DEFAULT_SCENARIOS,
    DEFAULT_SEED,
    MAX_RUPIAH,
    MAX_SCENARIOS,
    InvalidTargeting,
    TargetRequest,
)
from layers.targeting.result import GUARD_REASONS, TargetResult
from layers.types import BoolArray, FloatArray, IntArray

__all__ = [
    "DEFAULT_COST_FIXED",
    "DEFAULT_COST_PER_PERSON",
    "DEFAULT_MAX_COST_PER_PERSON",
    "DEFAULT_MIN_PEOPLE",
    "DEFAULT_SCENARIOS",
    "DEFAULT_SEED",
    "MAX_SCENARIOS",
    "PRIORITY_SHARES",
    "TargetRequest",
    "TargetResult",
    "TargetingBase",
    "VillageProfiles",
    "priority_shares",
    "resolve_spec",
    "scenario_weights",
    "select_targets",
    "warm_up",
]

#: Each priority group's count column and the column its share is taken of.
PRIORITY_SHARES: dict[str, tuple[str, str]] = {
    "elderly": ("elderly", "population"),
    "disabled": ("disabled", "population"),
    "female_headed_hh": ("female_headed_hh", "households"),
}
#: Dirichlet concentration of the scenario dimension weights, as a multiple of the chosen weights:
#: at 50 a dimension weighing 1/4 is drawn with a standard deviation of about 0.06.
CONCENTRATION = 50.0
#: Half-width of the uniform range the scenario k is drawn from.
K_JITTER = 0.05
#: Villages listed below the line, and most villages listed as left out by a guard.
BELOW_LINE = 10
MAX_GUARDED = 500
#: Gap the list without priority is solved to: below `REL_GAP`, so that a priority too small to
#: raise any list's value by `REL_GAP` cannot change it (module docstring).
PLAIN_GAP = REL_GAP / 2


def resolve_spec(request: TargetRequest, base: IndicatorSpec | None = None) -> IndicatorSpec:
    """The request's spec (or ``base``, else the default) with its k and dimension weights applied.

    Parameters
    ----------
    request
        The targeting request.
    base
        The spec to start from when the request carries none (e.g. the store's).

    Returns
    -------
    IndicatorSpec
        The spec the selection is scored with (`ConfigError` on a bad one).
    """
    spec = (
        spec_from_dict(request.spec, "request spec") if request.spec is not None else base or default_spec()
    )
    return with_overrides(
        spec, k=request.k, dimension_weights=request.dimension_weights or None, origin="request"
    )


# ------------------------------------------------------------------------------------------------
# People per village and per scenario
# ------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class VillageProfiles:
    """People of each village by deprivation profile: rescoring villages without touching cells.

    Cells sharing a profile share their score under any weights and k, so a village's poor people
    under new weights are ``people @ poor_profile``: one sparse product for all villages.
    """

    people: sparse.csr_array
    """villages × profiles: people of complete cells."""
    profiles: BoolArray
    """profiles × indicators."""
    population: FloatArray
    """People of complete cells per village."""

    @classmethod
    def from_cells(cls, cells: WeightedScores, village_pos: IntArray, n_villages: int) -> VillageProfiles:
        """Group a rescoring's cells (or families) by village and profile (one sparse matrix build)."""
        s = cells.scores
        weight = np.where(s.complete, cells.weights, 0.0)
        shape = (n_villages, len(s.profiles))
        people = sparse.csr_array((weight, (village_pos, s.profile)), shape=shape)
        people.sum_duplicates()
        return cls(people, s.profiles, np.asarray(people.sum(axis=1)).ravel())

    def poor_and_intensity(self, weights: FloatArray, k: FloatArray) -> tuple[FloatArray, FloatArray]:
        """Poor people and Σ people·c over the poor per village, for each column of weights and k.

        Parameters
        ----------
        weights
            indicators × scenarios.
        k
            One cutoff per scenario.

        Returns
        -------
        tuple[ndarray, ndarray]
            Each villages × scenarios.
        """
        c = self.profiles.astype(np.float64) @ weights
        poor = c >= k[None, :] - K_TOLERANCE
        return self.people @ poor.astype(np.float64), self.people @ np.where(poor, c, 0.0)

    def deprived_in_any(self, columns: IntArray) -> FloatArray:
        """People per village deprived in at least one of the given indicators (uncensored)."""
        return self.people @ self.profiles[:, columns].any(axis=1).astype(np.float64)


def _objective_people(
    objective: str, dimension: str | None, spec: IndicatorSpec, vp: VillageProfiles, rows: pd.DataFrame
) -> FloatArray:
    """People reached per village under the chosen objective (before rounding to whole persons).

    ``m0_people`` reaches the MPI-poor (its value, `_objective_score`, weighs them by their score).
    """
    if objective == "income_poor":
        return np.nan_to_num(rows["poor_population"].to_numpy(np.float64), nan=0.0)
    if objective == "dimension":
        if dimension not in spec.dimensions:
            raise InvalidTargeting(
                "unknown_dimension",
                f"dimension '{excerpt(dimension)}' is not in the spec; dimensions are {spec.dimensions}",
                dimension=excerpt(dimension),
                dimensions=", ".join(spec.dimensions),
            )
        return vp.deprived_in_any(
            np.flatnonzero(np.array(spec.dimension_index) == spec.dimensions.index(dimension))
        )
    poor, _ = vp.poor_and_intensity(np.asarray(spec.weights)[:, None], np.array([spec.k]))
    return poor[:, 0]


def _objective_score(
    objective: str, spec: IndicatorSpec, vp: VillageProfiles, people: FloatArray
) -> FloatArray:
    """The value of reaching a village's people: the people themselves, or for ``m0_people`` their
    summed deprivation scores (M0 × population), scaled to the whole persons reached."""
    if objective != "m0_people":
        return people
    poor, intensity = vp.poor_and_intensity(np.asarray(spec.weights)[:, None], np.array([spec.k]))
    with np.errstate(divide="ignore", invalid="ignore"):
        mean_score = np.where(poor[:, 0] > 0, intensity[:, 0] / poor[:, 0], 0.0)
    return people * mean_score


#: The same shares from the register of families (docs/households.md): used for every village whose
#: register figures are published (3 families or more), the poverty table's elsewhere.
REGISTER_SHARES: dict[str, tuple[str, str]] = {
    "elderly": ("hh_elderly", "hh_people"),
    "disabled": ("hh_disabled", "hh_people"),
    "female_headed_hh": ("hh_female_headed", "families"),
}


def priority_shares(rows: pd.DataFrame) -> dict[str, FloatArray]:
    """Each priority group's share per village (count over population or households, in [0, 1]).

    Where the store has a register of families, a village's shares come from its families
    (`REGISTER_SHARES`); a village without published register figures keeps the poverty table's.

    Parameters
    ----------
    rows
        Village rows with the count columns of `PRIORITY_SHARES` (and of `REGISTER_SHARES`).

    Returns
    -------
    dict
        Group -> share per village; 0 where the count or its base is missing.
    """
    out = {}
    for group, (count, base) in PRIORITY_SHARES.items():
        share = _share(rows, count, base)
        register = _share(rows, *REGISTER_SHARES[group])
        out[group] = np.clip(np.nan_to_num(np.where(np.isnan(register), share, register)), 0.0, 1.0)
    return out


def _share(rows: pd.DataFrame, count: str, base: str) -> FloatArray:
    """count / base per village; NaN where either is missing or the base is 0."""
    if count not in rows or base not in rows:
        return np.full(len(rows), np.nan)
    num, den = rows[count].to_numpy(np.float64), rows[base].to_numpy(np.float64)
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(den > 0, num / den, np.nan)


# ------------------------------------------------------------------------------------------------
# The villages, prepared once per store
# ------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class TargetingBase:
    """The store's villages in scoring order, with their kabupaten and kecamatan (once per store).

    The service prepares it at start (`service.catalog`), so that a request only scores and solves.
    """

    units: pd.DataFrame
    """Village attributes (no geometry) in scoring order."""
    codes: list[str]
    village_names: list[str]
    kab_codes: list[str]
    kab_names: list[str]
    kab_pos: IntArray
    kec_codes: list[str]
    kec_names: list[str]
    kec_kab: IntArray
    """Each kecamatan's kabupaten position."""
    kec_pos: IntArray

    @classmethod
    def of(cls, frame: ScoringFrame, villages: pd.DataFrame | TargetingBase) -> TargetingBase:
        """Align the villages layer with the scoring frame (a `TargetingBase` is returned as it is)."""
        if isinstance(villages, TargetingBase):
            return villages
        at = pd.Index(villages["village_code"].astype(str)).get_indexer(frame.village_codes.astype(str))
        if (at < 0).any():
            raise InvalidQuery("the villages table does not match the scoring frame (missing village codes)")
        keep = [c for c in villages.columns if c != "geometry"]
        units = pd.DataFrame(villages[keep]).iloc[at].reset_index(drop=True)
        kab = units["kabupaten_code"].astype(str).to_numpy()
        kab_codes, kab_pos = np.unique(kab, return_inverse=True)
        kab_names = units.groupby(units["kabupaten_code"].astype(str))["kabupaten_name"].first()
        if "kecamatan_code" in units:
            kec = units["kecamatan_code"].astype(str).to_numpy()
        else:  # a store without kecamatan codes: one kecamatan per kabupaten
            kec = kab
        kec_codes, kec_pos = np.unique(kec, return_inverse=True)
        names = units.get("kecamatan_name", pd.Series([""] * len(units))).astype(str).to_numpy()
        first = np.zeros(len(kec_codes), np.int64)
        first[kec_pos[::-1]] = np.arange(len(kec_pos))[::-1]
        return cls(
            units=units,
            codes=units["village_code"].astype(str).tolist(),
            village_names=units["village_name"].astype(str).tolist(),
            kab_codes=kab_codes.tolist(),
            kab_names=[str(kab_names[c]) for c in kab_codes],
            kab_pos=kab_pos.astype(np.int64),
            kec_codes=kec_codes.tolist(),
            kec_names=[str(names[i]) for i in first],
            kec_kab=kab_pos[first].astype(np.int64),
            kec_pos=kec_pos.astype(np.int64),
        )


# ------------------------------------------------------------------------------------------------
# Selecting targets
# ------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class _Villages:
    """The villages with the request's per-village inputs (in scoring order)."""

    base: TargetingBase
    rows: pd.DataFrame
    summary: Summary
    population: FloatArray
    """Everybody that year, whole persons."""
    people: FloatArray
    """Whole persons reached."""
    score: FloatArray
    """The value of reaching them, before the priority (people, or M0 × people)."""
    factor: FloatArray
    shares: dict[str, FloatArray]
    cost: FloatArray
    """Whole rupiah: the cost model on whole persons."""

    @property
    def value(self) -> FloatArray:
        """What the solver maximises: the score times the priority factor."""
        return self.score * self.factor


def select_targets(
    frame: ScoringFrame,
    villages: pd.DataFrame | TargetingBase,
    request: TargetRequest,
    base_spec: IndicatorSpec | None = None,
) -> TargetResult:
    """Choose the villages that reach the most people for the budget, and explain each.

    Parameters
    ----------
    frame
        The store's scoring frame (`ScoringFrame.from_store`).
    villages
        The store's ``villages`` layer (codes, names, kabupaten, kecamatan), or it prepared as a
        `TargetingBase`.
    request
        The planner's request.
    base_spec
        The spec when the request carries none (e.g. `store_spec`); default the packaged one.

    Returns
    -------
    TargetResult
        Selection, summary, explanations, villages below the line and left out by a guard.

    Raises
    ------
    InvalidQuery
        On a bad request value (the message names the field).
    InfeasibleTargeting
        When no selection meets every constraint (the message names the constraint).

    Examples
    --------
    >>> frame = ScoringFrame.from_store(store)
    >>> result = select_targets(frame, store.layer("villages"), TargetRequest(budget=5e9, scenarios=0))
    >>> result.summary.total_cost <= 5e9 and result.summary.n_selected > 0
    True
    """
    request.check()
    base = TargetingBase.of(frame, villages)
    year, rows = frame.year_rows(request.year)
    # On the household basis the units are the register's families (members as weights), scored with
    # the store's household spec: people reached are the members of MPI-poor families.
    units, basis_spec, basis = _units(frame, request, year)
    request = request.model_copy(update={"basis": basis})  # the answer's parameters say which
    spec = resolve_spec(request, basis_spec if basis == "household" else base_spec)
    cells = units.score_cells(spec, year)
    vp = VillageProfiles.from_cells(cells, units.village_pos, len(frame.village_codes))
    vil = _prepare(units, base, rows, cells, spec, vp, request)
    problem = _problem(vil, request)
    plain = solve(replace(problem, value=vil.score), rel_gap=PLAIN_GAP)
    if _has_priority(request):
        # The tie-break that makes the effect real: the list without priority stays unless the
        # priority finds one worth more than (1 + REL_GAP) times it (module docstring).
        solution = solve(problem, rel_gap=REL_GAP, start=plain.chosen, margin=REL_GAP)
    else:
        solution = plain
    started = time.perf_counter()
    confidence, used = _confidence(problem, solution.chosen, vil, vp, spec, request)
    scenario_info = {
        "n": request.scenarios,
        "feasible": used,
        "seed": request.seed,
        "tolerance": REL_GAP,
        "concentration": CONCENTRATION,
        "k_range": [max(spec.k - K_JITTER, 0.0), min(spec.k + K_JITTER, 1.0)],
        "seconds": time.perf_counter() - started,
    }
    plain_chosen = plain.chosen if _has_priority(request) else None
    return _Answer(year, spec, request, vil, problem, solution, plain_chosen).result(
        confidence, scenario_info
    )


def _units(
    frame: ScoringFrame, request: TargetRequest, year: int
) -> tuple[ScoringFrame | HouseholdYear, IndicatorSpec | None, str]:
    """The units a selection scores (cells, or one register year's families), their spec, the basis."""
    households = frame.households
    registered = households is not None and households.spec is not None and year in households.years
    basis = request.basis or ("household" if registered else "area")
    if basis == "area":
        return frame, None, basis
    if households is None or not registered:
        raise InvalidQuery(f"basis: the store has no register of families for {year}; use basis 'area'")
    return households.for_year(year), households.spec, basis


def _has_priority(request: TargetRequest) -> bool:
    return any(weight > 0 for weight in request.priority.values())


def _prepare(
    frame: ScoringFrame | HouseholdYear,
    base: TargetingBase,
    rows: pd.DataFrame,
    cells: Any,
    spec: IndicatorSpec,
    vp: VillageProfiles,
    request: TargetRequest,
) -> _Villages:
    shares = priority_shares(rows)
    factor = np.ones(len(base.codes))
    for group, weight in request.priority.items():
        factor += weight * shares[group]
    people = np.rint(_objective_people(request.objective, request.dimension, spec, vp, rows))
    population = np.rint(np.nan_to_num(rows["population"].to_numpy(np.float64)))
    return _Villages(
        base=base,
        rows=rows,
        summary=frame.summarize(cells, spec, "village"),
        population=population,
        people=people,
        score=_objective_score(request.objective, spec, vp, people),
        factor=factor,
        shares=shares,
        cost=_costs(request, people),
    )


def _costs(request: TargetRequest, people: FloatArray) -> FloatArray:
    """The cost model on whole persons, in whole rupiah (`InvalidQuery` past `MAX_RUPIAH` in all)."""
    cost = np.rint(request.cost_fixed + request.cost_per_person * people)
    if float(cost.sum()) > MAX_RUPIAH:  # sums stay exact integers (and int64 in JSON) below this
        raise InvalidTargeting(
            "cost_too_large",
            f"cost_per_person: the villages would cost {float(cost.sum()):.3g} rupiah together, more than "
            f"{MAX_RUPIAH:.0e}; give the cost per person in rupiah (e.g. 250000)",
            total=float(cost.sum()),
        )
    return cost


def _positions_of(codes: Sequence[str], known: Sequence[str], field: str) -> IntArray:
    index = pd.Index(known)
    at = index.get_indexer(pd.Index([str(c) for c in codes]))
    unknown = [str(c) for c, a in zip(codes, at, strict=True) if a < 0]
    if unknown:
        kind = "kabupaten" if "kabupaten" in field else "village"
        quoted = ", ".join(f"'{excerpt(c)}'" for c in unknown[:5]) + (
            f" and {len(unknown) - 5} more" if len(unknown) > 5 else ""
        )
        raise Infeasible(
            f"unknown_{kind}",
            f"{field}: unknown {kind} code(s) {quoted}",
            field=field,
            codes=quoted,
        )
    return at.astype(np.int64)


def _guards(request: TargetRequest, people: FloatArray, cost: FloatArray) -> tuple[BoolArray, BoolArray]:
    """Villages below the minimum people, and those above the maximum cost per person reached."""
    few = (people > 0) & (people < request.min_people)
    limit = request.max_cost_per_person
    with np.errstate(divide="ignore", invalid="ignore"):
        dear = (people > 0) & (cost > people * limit) if limit is not None else np.zeros(len(people), bool)
    return few, dear & ~few


def _eligible_max(vil: _Villages, request: TargetRequest) -> IntArray:
    """Each kabupaten's maximum: its size, 0 where not eligible, ``kabupaten_max`` where given."""
    base = vil.base
    size = np.bincount(base.kab_pos, minlength=len(base.kab_codes))
    gmax = size.copy()
    if request.kabupaten:
        only = np.zeros(len(size), bool)
        only[_positions_of(request.kabupaten, base.kab_codes, "kabupaten")] = True
        gmax[~only] = 0
    gmax[_positions_of(request.exclude_kabupaten, base.kab_codes, "exclude_kabupaten")] = 0
    at = _positions_of(list(request.kabupaten_max), base.kab_codes, "kabupaten_max")
    gmax[at] = np.minimum(gmax[at], list(request.kabupaten_max.values()))
    return gmax


def _problem(vil: _Villages, request: TargetRequest) -> Problem:
    base = vil.base
    n = len(base.codes)
    forced = np.zeros(n, bool)
    forced[_positions_of(request.include, base.codes, "include")] = True
    banned = np.zeros(n, bool)
    banned[_positions_of(request.exclude, base.codes, "exclude")] = True
    if request.min_score is not None:
        banned |= ~(vil.summary.M0 >= request.min_score) & ~forced
    few, dear = _guards(request, vil.people, vil.cost)
    banned |= (few | dear) & ~forced
    gmin = np.zeros(len(base.kab_codes), np.int64)
    gmin[_positions_of(list(request.kabupaten_min), base.kab_codes, "kabupaten_min")] = list(
        request.kabupaten_min.values()
    )
    return make_problem(
        vil.value,
        vil.cost,
        base.kab_pos,
        budget=request.budget,
        max_count=request.max_villages,
        group_min=gmin,
        group_max=_eligible_max(vil, request),
        forced=forced,
        banned=banned,
        item_labels=base.codes,
        group_labels=base.kab_codes,
    )


def scenario_weights(spec: IndicatorSpec, n: int, seed: int) -> tuple[FloatArray, FloatArray]:
    """Draw perturbed indicator weights and k around the spec's (reproducible with ``seed``).

    Dimension weights are drawn from a Dirichlet with concentration `CONCENTRATION` × the spec's
    dimension weights and split over each dimension's indicators as in the spec; k is uniform in
    ``[k - K_JITTER, k + K_JITTER]`` clipped to (0, 1].

    Parameters
    ----------
    spec
        The chosen spec.
    n
        Number of scenarios.
    seed
        Seed of `numpy.random.Generator`.

    Returns
    -------
    tuple[ndarray, ndarray]
        Weights (indicators × n, columns summing to 1) and k (n).

    Examples
    --------
    >>> w, k = scenario_weights(default_spec(), 3, seed=1)
    >>> w.shape, bool(np.allclose(w.sum(axis=0), 1))
    ((11, 3), True)
    """
    rng = np.random.default_rng(seed)
    dims = np.asarray(spec.dimension_weights)
    drawn = rng.dirichlet(CONCENTRATION * dims, size=n) if len(dims) > 1 else np.ones((n, 1))
    weights = np.asarray(spec.weights)[:, None] * (drawn / dims).T[np.asarray(spec.dimension_index)]
    k = np.clip(rng.uniform(spec.k - K_JITTER, spec.k + K_JITTER, size=n), 1e-9, 1.0)
    return weights, k


def _confidence(
    problem: Problem,
    chosen: BoolArray,
    vil: _Villages,
    vp: VillageProfiles,
    spec: IndicatorSpec,
    request: TargetRequest,
) -> tuple[FloatArray | None, int]:
    """Share of the feasible scenarios in which each village stays chosen, as whole percentages.

    Each scenario rescores the villages and is re-solved from the chosen list by the optimiser's
    own search (`layers.targeting.knapsack.reoptimise`), with the same guards and rules.
    """
    if request.scenarios == 0:
        return None, 0
    weights, k = scenario_weights(spec, request.scenarios, request.seed)
    poor, intensity = vp.poor_and_intensity(weights, k)
    with np.errstate(divide="ignore", invalid="ignore"):
        m0 = intensity / vp.population[:, None]
        mean_score = np.where(poor > 0, intensity / poor, 0.0)
    excluded = np.zeros(len(vil.people), bool)
    excluded[_positions_of(request.exclude, vil.base.codes, "exclude")] = True
    counts = np.zeros(len(vil.people), np.int64)
    used = 0
    weighs_scores = request.objective in ("mpi_poor", "m0_people")
    for s in range(request.scenarios):
        people = np.rint(poor[:, s]) if weighs_scores else vil.people
        score = people * mean_score[:, s] if request.objective == "m0_people" else people
        cost = _costs(request, people)
        banned = excluded.copy()
        if request.min_score is not None:
            banned |= ~(m0[:, s] >= request.min_score)
        few, dear = _guards(request, people, cost)
        banned = (banned | few | dear) & ~problem.forced
        scenario = replace(problem, value=score * vil.factor, cost=cost, banned=banned)
        picked = reoptimise(scenario, chosen, REL_GAP)
        if picked is not None:
            counts += picked
            used += 1
    if not used:
        return np.full(len(counts), np.nan), 0
    # whole percentages, half up, in integers: 65 of 200 is 33 %, on every interface
    return ((200 * counts + used) // (2 * used)) / 100, used


# ------------------------------------------------------------------------------------------------
# The answer
# ------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class _Answer:
    """Turns a solved request into its `TargetResult` (statuses, explanations, tables)."""

    year: int
    spec: IndicatorSpec
    request: TargetRequest
    vil: _Villages
    problem: Problem
    solution: Solution
    plain: BoolArray | None
    """The list without the priority (None: no priority asked)."""

    def result(self, confidence: FloatArray | None, scenario_info: dict[str, Any]) -> TargetResult:
        """The whole answer."""
        p, request, chosen = self.problem, self.request, self.solution.chosen
        useful = ~p.banned & (p.value > 0) & (p.group_max[p.group] > 0)
        cheapest = float(p.cost[useful].min()) if useful.any() else None
        status = "optimal" if self.solution.gap is not None and self.solution.gap <= REL_GAP else "work_limit"
        reason = None
        if (
            not chosen.any()
            and request.budget is not None
            and cheapest is not None
            and cheapest > request.budget
        ):
            status = "budget_too_small"
            reason = (
                f"the budget ({request.budget:,.0f}) is below the cost of the cheapest village that could "
                f"be chosen ({cheapest:,.0f}: cost_fixed + cost_per_person x its people reached)"
            )
        statuses = self.statuses()
        order = np.lexsort((np.arange(len(chosen)), -p.value))
        picked = order[chosen[order]]
        candidates = order[~chosen[order] & (statuses[order] != "kabupaten_excluded")]
        why = _Why.of(self, useful, candidates)
        titles = indicator_titles(self.spec)
        selected = [
            self.explain(int(i), rank, confidence, titles) | why.selected(int(i))
            for rank, i in enumerate(picked, 1)
        ]
        below = [self.below(int(i), statuses[i]) for i in candidates[:BELOW_LINE]]
        guarded = order[np.isin(statuses[order], GUARD_REASONS)][:MAX_GUARDED]
        solver = {"bound": self.solution.bound, "tolerance": REL_GAP, **self.solution.work}
        return TargetResult.model_validate(
            {
                "year": self.year,
                "objective": request.objective,
                "weighted": self.weighted,
                "spec": spec_to_dict(self.spec),
                "status": status,
                "reason": reason,
                "gap": self.solution.gap,
                "solve_seconds": self.solution.seconds,
                "solver": solver,
                "summary": self.summary(statuses, cheapest) | {"candidates": int((useful | chosen).sum())},
                "selected": selected,
                "below_line": below,
                "guarded": [self.guarded(int(i), statuses[i]) for i in guarded],
                "villages": self.village_table(statuses, why.per_million),
                "priority_effect": self.priority_effect(),
                "scenarios": scenario_info,
                "parameters": self.parameters(),
            }
        )

    @property
    def weighted(self) -> bool:
        """Whether the value is a score rather than people (M0 × people, or a priority)."""
        return self.request.objective == "m0_people" or self.plain is not None

    def score_of(self, i: int) -> float | None:
        """Village i's value when it is a score (None when the value is its people)."""
        return float(self.problem.value[i]) if self.weighted else None

    def statuses(self) -> np.ndarray:
        """Each village's status: ``selected`` or the first rule that kept it out (docs/targeting.md §5)."""
        p, vil, request, chosen = self.problem, self.vil, self.request, self.solution.chosen
        n = len(chosen)
        out = np.full(n, "budget", dtype=object)
        count = int(chosen.sum())
        per_group = np.bincount(p.group[chosen], minlength=len(p.group_max))
        few, dear = _guards(request, vil.people, vil.cost)
        excluded = np.zeros(n, bool)
        excluded[_positions_of(request.exclude, vil.base.codes, "exclude")] = True
        below_min = (
            ~(vil.summary.M0 >= request.min_score) if request.min_score is not None else np.zeros(n, bool)
        )
        rules: list[tuple[str, BoolArray]] = [
            ("kabupaten_excluded", p.group_max[p.group] == 0),
            ("excluded", excluded),
            ("min_score", below_min & ~p.forced),
            ("no_people", p.value <= 0),
            ("min_people", few & ~p.forced),
            ("max_cost_per_person", dear & ~p.forced),
            ("priority", self.plain if self.plain is not None else np.zeros(n, bool)),
            ("quota", per_group[p.group] >= p.group_max[p.group]),
            ("max_villages", np.full(n, p.max_count is not None and count >= p.max_count)),
        ]
        decided = chosen.copy()
        out[chosen] = "selected"
        for name, mask in rules:
            take = mask & ~decided
            out[take] = name
            decided |= take
        return out

    def explain(
        self, i: int, rank: int, confidence: FloatArray | None, titles: dict[str, dict[str, str]]
    ) -> dict[str, Any]:
        """A chosen village: who it reaches, at what cost, and what drives its deprivation."""
        vil, spec, base = self.vil, self.spec, self.vil.base
        s = vil.summary
        dims = s.contribution_dimension[i]
        inds = s.contribution_indicator[i]
        drivers = [
            {"dimension": spec.dimensions[d], "share": dims[d]} for d in np.argsort(-np.nan_to_num(dims))
        ]
        top = [j for j in np.argsort(-np.nan_to_num(inds), kind="stable")[:3] if inds[j] > 0]
        kab, kec = base.kab_pos[i], base.kec_pos[i]
        return {
            "rank": rank,
            "village_code": base.codes[i],
            "village_name": base.village_names[i],
            "kecamatan_code": base.kec_codes[kec],
            "kecamatan_name": base.kec_names[kec],
            "kabupaten_code": base.kab_codes[kab],
            "kabupaten_name": base.kab_names[kab],
            "population": vil.population[i],
            "people_reached": vil.people[i],
            "score": self.score_of(i),
            "cost": vil.cost[i],
            "cost_per_person_reached": vil.cost[i] / vil.people[i] if vil.people[i] > 0 else None,
            "H": s.H[i],
            "A": s.A[i],
            "M0": s.M0[i],
            "drivers": drivers,
            "top_indicators": [
                {"indicator": spec.names[j], "share": inds[j], "title": titles[spec.names[j]]} for j in top
            ],
            "priority_shares": {g: share[i] for g, share in vil.shares.items()},
            "confidence": None if confidence is None else confidence[i],
        }

    def below(self, i: int, reason: str) -> dict[str, Any]:
        """A village not chosen, with the first rule that kept it out."""
        vil, base = self.vil, self.vil.base
        left = self.budget_left()
        return {
            "village_code": base.codes[i],
            "village_name": base.village_names[i],
            "kecamatan_name": base.kec_names[base.kec_pos[i]],
            "kabupaten_code": base.kab_codes[base.kab_pos[i]],
            "kabupaten_name": base.kab_names[base.kab_pos[i]],
            "people_reached": vil.people[i],
            "score": self.score_of(i),
            "cost": vil.cost[i],
            "cost_per_person_reached": vil.cost[i] / vil.people[i] if vil.people[i] > 0 else None,
            "M0": vil.summary.M0[i],
            "value_per_million": _per_million(self.problem.value[i], vil.cost[i]),
            "reason": reason,
            "budget_left": left,
        }

    def guarded(self, i: int, reason: str) -> dict[str, Any]:
        """A village a guard left out."""
        vil, base = self.vil, self.vil.base
        return {
            "village_code": base.codes[i],
            "village_name": base.village_names[i],
            "kabupaten_name": base.kab_names[base.kab_pos[i]],
            "people_reached": vil.people[i],
            "cost": vil.cost[i],
            "cost_per_person_reached": vil.cost[i] / vil.people[i] if vil.people[i] > 0 else None,
            "reason": reason,
        }

    def budget_left(self) -> float | None:
        """Budget not spent (None without a budget)."""
        if self.request.budget is None:
            return None
        return max(self.request.budget - float(self.vil.cost[self.solution.chosen].sum()), 0.0)

    def village_table(self, statuses: np.ndarray, per_million: FloatArray) -> dict[str, Any]:
        """Every village, column by column, rounded here (`layers.targeting.result.VillageTable`)."""
        vil = self.vil
        ratio = np.round(per_million, 2)
        return {
            "village_code": vil.base.codes,
            "population": vil.population.astype(np.int64).tolist(),
            "people_reached": vil.people.astype(np.int64).tolist(),
            "cost": vil.cost.astype(np.int64).tolist(),
            "value_per_million": [v if math.isfinite(v) else None for v in ratio.tolist()],
            "M0": [v if math.isfinite(v) else None for v in np.round(vil.summary.M0, 4).tolist()],
            "status": statuses.tolist(),
        }

    def summary(self, statuses: np.ndarray, cheapest: float | None) -> dict[str, Any]:
        """Totals, the guards and the breakdowns by kabupaten and kecamatan."""
        p, vil, request, chosen = self.problem, self.vil, self.request, self.solution.chosen
        base = vil.base
        total_cost = float(vil.cost[chosen].sum())
        reached = float(vil.people[chosen].sum())
        objective_total = float(vil.people.sum())
        excluded_kab = p.group_max == 0
        return {
            "n_selected": int(chosen.sum()),
            "total_cost": total_cost,
            "budget": request.budget,
            "budget_used_share": total_cost / request.budget if request.budget else None,
            "people_reached": reached,
            "score": self.score_total(chosen),
            "objective_total": objective_total,
            "coverage": reached / objective_total if objective_total > 0 else None,
            "cheapest_cost": cheapest,
            "budget_left": self.budget_left(),
            "excluded_kabupaten": [
                {"kabupaten_code": base.kab_codes[g], "kabupaten_name": base.kab_names[g]}
                for g in np.flatnonzero(excluded_kab)
            ],
            "guards": {
                "min_people": {
                    "value": request.min_people or None,
                    "excluded": int((statuses == "min_people").sum()),
                },
                "max_cost_per_person": {
                    "value": request.max_cost_per_person,
                    "excluded": int((statuses == "max_cost_per_person").sum()),
                },
            },
            "by_kabupaten": self.areas(base.kab_pos, len(base.kab_codes), excluded_kab, kecamatan=False),
            "by_kecamatan": self.areas(
                base.kec_pos, len(base.kec_codes), excluded_kab[base.kec_kab], kecamatan=True
            ),
        }

    def score_total(self, chosen: BoolArray) -> float | None:
        """The chosen villages' scores added up as shown (2 decimals each), or None."""
        if not self.weighted:
            return None
        return float(np.rint(100 * self.problem.value[chosen]).sum()) / 100

    def areas(self, pos: IntArray, n: int, excluded: BoolArray, kecamatan: bool) -> list[dict[str, Any]]:
        """Chosen villages, people, score and cost per area; areas not eligible are left out."""
        vil, chosen, base = self.vil, self.solution.chosen, self.vil.base
        count = np.bincount(pos, weights=chosen, minlength=n)
        reached = np.bincount(pos, weights=np.where(chosen, vil.people, 0.0), minlength=n)
        spent = np.bincount(pos, weights=np.where(chosen, vil.cost, 0.0), minlength=n)
        total = np.bincount(pos, weights=vil.people, minlength=n)
        cents = np.bincount(
            pos, weights=np.where(chosen, np.rint(100 * self.problem.value), 0.0), minlength=n
        )
        rows = []
        for g in np.flatnonzero(~excluded).tolist():
            kab = base.kec_kab[g] if kecamatan else g
            row = {
                "kabupaten_code": base.kab_codes[kab],
                "kabupaten_name": base.kab_names[kab],
                "n_selected": count[g],
                "people_reached": reached[g],
                "score": cents[g] / 100 if self.weighted else None,
                "cost": spent[g],
                "objective_total": total[g],
                "coverage": reached[g] / total[g] if total[g] > 0 else None,
            }
            if kecamatan:
                row |= {"kecamatan_code": base.kec_codes[g], "kecamatan_name": base.kec_names[g]}
            rows.append(row)
        return rows

    def priority_effect(self) -> dict[str, Any] | None:
        """Villages the priority brought in and pushed out, with their values with and without it."""
        if self.plain is None:
            return None
        vil, chosen, plain, base = self.vil, self.solution.chosen, self.plain, self.vil.base

        def listed(mask: BoolArray) -> list[dict[str, Any]]:
            return [
                {
                    "village_code": base.codes[i],
                    "village_name": base.village_names[i],
                    "kabupaten_name": base.kab_names[base.kab_pos[i]],
                    "people_reached": vil.people[i],
                    "cost": vil.cost[i],
                    "value_without": vil.score[i],
                    "value_with": vil.value[i],
                    "priority_shares": {g: share[i] for g, share in vil.shares.items()},
                }
                for i in np.flatnonzero(mask)
            ]

        return {
            "priority": {g: w for g, w in self.request.priority.items() if w > 0},
            "changed": bool((chosen != plain).any()),
            "tolerance": REL_GAP,
            "value_with": float(vil.value[chosen].sum()),
            "value_without": float(vil.value[plain].sum()),
            "gained": listed(chosen & ~plain),
            "lost": listed(plain & ~chosen),
            "n_selected_without": int(plain.sum()),
            "people_reached_without": float(vil.people[plain].sum()),
        }

    def parameters(self) -> dict[str, Any]:
        """The request with what the defaults resolved to (the year, k, the dimension weights)."""
        raw = self.request.model_dump(exclude={"spec", "time_limit_s", "k", "dimension_weights", "year"})
        weights = dict(zip(self.spec.dimensions, self.spec.dimension_weights.tolist(), strict=True))
        return {
            "year": self.year,
            "k": self.spec.k,
            "dimension_weights": weights,
            "custom_spec": self.request.spec is not None,
        } | raw


def _per_million(value: float, cost: float) -> float | None:
    return 1e6 * float(value) / float(cost) if cost > 0 else None


@dataclass(frozen=True)
class _Why:
    """What an officer can repeat about a chosen village: value per rupiah, its rank on that
    measure, and what the next village would need to take its place."""

    per_million: FloatArray
    """Value (people reached or the score, with the priority) per Rp 1,000,000 of cost."""
    rank: IntArray
    """Rank on `per_million` among the villages that could be chosen (1 = most per rupiah)."""
    next_village: int | None
    """The best village not chosen that could have been (None: there is none)."""
    slack: float
    """Budget left unspent (inf without a budget)."""
    answer: _Answer

    @classmethod
    def of(cls, answer: _Answer, useful: BoolArray, candidates: IntArray) -> _Why:
        """The ratios and ranks of every village, and the next village in line."""
        problem, chosen = answer.problem, answer.solution.chosen
        with np.errstate(divide="ignore", invalid="ignore"):
            per_million = np.where(problem.cost > 0, 1e6 * problem.value / problem.cost, np.inf)
        eligible = useful | chosen
        rank = np.zeros(len(per_million), np.int64)
        by_ratio = np.flatnonzero(eligible)[np.argsort(-per_million[eligible], kind="stable")]
        rank[by_ratio] = np.arange(1, len(by_ratio) + 1)
        open_ = candidates[useful[candidates]]
        left = answer.budget_left()
        slack = math.inf if left is None else left
        return cls(per_million, rank, int(open_[0]) if len(open_) else None, slack, answer)

    def selected(self, i: int) -> dict[str, Any]:
        """The village's value per rupiah, its rank, its replacement condition, priority gain."""
        out: dict[str, Any] = {
            "value_per_million": self.per_million[i],
            "value_per_rupiah_rank": int(self.rank[i]) or None,
            "replace_by": self._replace_by(i),
        }
        plain = self.answer.plain
        if plain is not None:
            out["priority_gained"] = not bool(plain[i])
        return out

    def _replace_by(self, i: int) -> dict[str, Any] | None:
        """A one-for-one swap of village i for the next village pays off only if the next village
        is worth more than i (after the priority) and its extra cost fits in the budget left."""
        j = self.next_village
        if j is None:
            return None
        p, vil, weighted = self.answer.problem, self.answer.vil, self.answer.weighted
        return {
            "village_code": vil.base.codes[j],
            "village_name": vil.base.village_names[j],
            "people_reached": vil.people[j],
            "people_needed": None if weighted else math.floor(p.value[i]) + 1,
            "value": p.value[j],
            "value_needed": p.value[i],
            "cost": p.cost[j],
            "cost_allowed": p.cost[i] + self.slack,
        }


def warm_up(frame: ScoringFrame, base: TargetingBase, spec: IndicatorSpec) -> None:
    """Run one small selection on the latest year: the solver's imports, the deprivation profiles
    and the tables of ``spec`` are then ready, so a service's first request is as fast as the next.

    Parameters
    ----------
    frame
        The store's scoring frame.
    base
        Its villages prepared for targeting.
    spec
        The spec requests use by default (the store's).
    """
    select_targets(frame, base, TargetRequest(max_villages=1, scenarios=1), spec)
