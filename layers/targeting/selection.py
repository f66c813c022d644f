"""Choosing villages for a programme (docs/targeting.md): an exact 0-1 programme, explained per village.

A planner's `TargetRequest` becomes a `layers.targeting.knapsack.Problem` on arrays, one entry per village:
the people the programme would reach there (its objective), a cost, a kabupaten, and which villages
are forced in (``include``) or out (``exclude``, ``min_score``). `layers.targeting.knapsack.solve` maximises
the people reached, weighted by the vulnerable-group priority, subject to the budget, a maximum
number of villages and per-kabupaten minimums and maximums, with a proven optimality gap
(a count decomposition with Lagrangian bounds, HiGHS for what is left; see `layers.targeting.knapsack`).
The limits are counted work, never seconds: the same request gives the same selection on an idle
or a busy server.

The default cost model (`DEFAULT_COST_FIXED` per village plus `DEFAULT_COST_PER_PERSON` per person
reached) and the default confidence scenarios (`DEFAULT_SCENARIOS`, `DEFAULT_SEED`) are defined
here once, as `TargetRequest`'s field defaults: ``POST /targets`` (and its OpenAPI schema, which
the planner page reads) and ``sasaran target`` share them.

Each selected village is explained by what drives its deprivation score (dimension and indicator
contributions to its M0) and by a *confidence*: the share of perturbed scenarios (dimension weights
drawn from a Dirichlet around the chosen ones, k varied by ±0.05) in which it is still chosen.
Scenarios are rescored per village, not per cell: a village's people are grouped once by
deprivation profile (`VillageProfiles`), so all scenarios cost one sparse matrix product. Each
scenario is then re-solved by the value-per-cost rule (`layers.targeting.knapsack.greedy`, ~0.15 ms)
rather than exactly (20 ms to 1 s each on the 1,500-village demo). Villages chosen by the exact solver
only to use the last of the budget therefore get a low confidence: under slightly different
weights, other villages of similar size would take their place.

No I/O and no HTTP here: the CLI (`layers.cli.target`) and ``POST /targets``
(`service.targets`) convert their input to a `TargetRequest` and the `TargetResult` back.
"""

from __future__ import annotations

import math
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from typing import Annotated, Any, Literal

import numpy as np
import pandas as pd
from pydantic import BaseModel, ConfigDict, Field, StrictFloat, StrictInt, StrictStr, ValidationError
from scipy import sparse

from layers.errors import InfeasibleTargeting, InvalidQuery, excerpt
from layers.rounding import finite_or_none
from layers.scoring.af import K_TOLERANCE, Summary
from layers.scoring.rescore import CellScores, ScoringFrame
from layers.scoring.spec import IndicatorSpec, default_spec, spec_from_dict, spec_to_dict, with_overrides
from layers.targeting.knapsack import Problem, Solution, greedy, make_problem, quote_labels, solve
from layers.types import BoolArray, FloatArray, IntArray

Objective = Literal["mpi_poor", "m0_people", "income_poor", "dimension"]
PriorityGroup = Literal["elderly", "disabled", "female_headed_hh"]

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
#: Villages listed below the line.
BELOW_LINE = 10
MAX_SCENARIOS = 2000
#: The default cost model, in Rupiah: what a programme spends to work in a village at all
#: (a facilitator, transport, a posko) and per person it reaches (a transfer, a kit).
DEFAULT_COST_FIXED = 100_000_000.0
DEFAULT_COST_PER_PERSON = 250_000.0
#: The default confidence scenarios: how many, and the seed that makes them repeatable.
DEFAULT_SCENARIOS = 200
DEFAULT_SEED = 62
MAX_TIME_LIMIT_S = 120.0
#: Largest priority weight (docs/targeting.md): at 100 a village whose people are all elderly counts
#: 101 times; beyond that the objective's scale breaks the solver (1e308 overflows it).
MAX_PRIORITY = 100.0
#: Largest budget or cost in Rupiah (a thousand times Indonesia's yearly state budget): keeps every
#: cost sum finite.
MAX_RUPIAH = 1e18
#: Largest count (max_villages, kabupaten quotas): more than any province has villages, and within
#: int64 where the quotas are stored.
MAX_COUNT = 1_000_000_000
#: Seeds are non-negative and fit in 63 bits (numpy's generators and the JSON answer need both).
MAX_SEED = 2**63 - 1


# ------------------------------------------------------------------------------------------------
# The request
# ------------------------------------------------------------------------------------------------


#: Strict types: JSON ``true`` is no number, ``"5"`` no count (pydantic would convert both).
_Count = Annotated[StrictInt, Field(ge=0, le=MAX_COUNT)]
_Priority = Annotated[StrictFloat, Field(ge=0, le=MAX_PRIORITY)]


class TargetRequest(BaseModel):
    """What a planner asks for (also the body of ``POST /targets``).

    The objective value of village *i* is its people reached *p_i* (by ``objective``) times the
    priority factor ``1 + Σ_g priority[g] · share_g,i`` where ``share`` is the village's elderly /
    population, disabled / population, or female-headed households / households (each clipped to
    [0, 1]). Its cost is ``cost_fixed + cost_per_person · p_i`` (by default the cost model of
    `DEFAULT_COST_FIXED` and `DEFAULT_COST_PER_PERSON`; a budget with both costs 0 is refused).
    Villages listed in ``include`` are always selected (even below ``min_score``); those in
    ``exclude`` or with M0 below ``min_score`` never are.
    """

    model_config = ConfigDict(extra="forbid")

    year: StrictInt | None = Field(None, description="Poverty-table year; the latest when omitted.")
    spec: dict[str, Any] | None = Field(None, description="A full indicator spec (JSON form).")
    k: StrictFloat | StrictStr | None = Field(
        None, description="Poverty cutoff in (0, 1], e.g. 0.33 or '1/3'."
    )
    dimension_weights: dict[str, StrictFloat] | None = Field(None, description="Dimension -> total weight.")
    objective: Objective = Field("mpi_poor", description="Whose people the programme reaches.")
    dimension: str | None = Field(None, description="The dimension, when objective is 'dimension'.")
    budget: StrictFloat | None = Field(
        None, ge=0, le=MAX_RUPIAH, description="Total budget in Rupiah; none: unlimited."
    )
    cost_fixed: StrictFloat = Field(
        DEFAULT_COST_FIXED, ge=0, le=MAX_RUPIAH, description="Cost per selected village (Rupiah)."
    )
    cost_per_person: StrictFloat = Field(
        DEFAULT_COST_PER_PERSON, ge=0, le=MAX_RUPIAH, description="Cost per person reached (Rupiah)."
    )
    max_villages: StrictInt | None = Field(
        None, ge=0, le=MAX_COUNT, description="At most this many villages."
    )
    kabupaten_min: dict[str, _Count] = Field(default_factory=dict, description="Kabupaten code -> minimum.")
    kabupaten_max: dict[str, _Count] = Field(default_factory=dict, description="Kabupaten code -> maximum.")
    include: list[str] = Field(default_factory=list, description="Village codes always selected.")
    exclude: list[str] = Field(default_factory=list, description="Village codes never selected.")
    min_score: StrictFloat | None = Field(
        None, ge=0, le=1, description="Villages with M0 below this are not selected."
    )
    priority: dict[PriorityGroup, _Priority] = Field(default_factory=dict, description="Group -> priority.")
    scenarios: StrictInt = Field(
        DEFAULT_SCENARIOS,
        ge=0,
        le=MAX_SCENARIOS,
        description="Perturbed scenarios behind each village's confidence.",
    )
    seed: StrictInt = Field(
        DEFAULT_SEED, ge=0, le=MAX_SEED, description="Seed of the scenarios (same seed, same confidence)."
    )
    time_limit_s: StrictFloat | None = Field(
        None, description="Ignored (deprecated): the solver's limits count work, not seconds."
    )

    @classmethod
    def from_dict(cls, raw: Mapping[str, Any]) -> TargetRequest:
        """Validate a mapping (e.g. parsed JSON); `InvalidQuery` naming the field on a bad one."""
        try:
            return cls.model_validate(raw)
        except ValidationError as exc:
            errors = exc.errors()
            parts = [
                f"{'.'.join(excerpt(p, 40) for p in e['loc']) or 'request'}: {excerpt(e['msg'])}"
                for e in errors[:5]
            ]
            more = f"; and {len(errors) - 5} more" if len(errors) > 5 else ""
            raise InvalidQuery("; ".join(parts) + more) from None

    def check(self) -> TargetRequest:
        """Check values pydantic's types let through; `InvalidQuery` names the field."""
        for name in ("budget", "cost_fixed", "cost_per_person"):
            _check_number(name, getattr(self, name), MAX_RUPIAH)
        _check_number("min_score", self.min_score, 1.0)
        _check_number("max_villages", self.max_villages, MAX_COUNT)
        for name, maximum in (
            ("kabupaten_min", MAX_COUNT),
            ("kabupaten_max", MAX_COUNT),
            ("priority", MAX_PRIORITY),
        ):
            for key, value in getattr(self, name).items():
                _check_number(f"{name}['{excerpt(key, 40)}']", value, maximum)
        _check_number("seed", self.seed, MAX_SEED)
        if not 0 <= self.scenarios <= MAX_SCENARIOS:
            raise InvalidQuery(f"scenarios must be in [0, {MAX_SCENARIOS}], got {self.scenarios}")
        if self.budget is not None and self.cost_fixed == 0 and self.cost_per_person == 0:
            raise InvalidQuery(
                "budget: a budget needs a cost, but cost_fixed and cost_per_person are both 0; give a "
                f"cost per village and/or per person (defaults {DEFAULT_COST_FIXED:,.0f} and "
                f"{DEFAULT_COST_PER_PERSON:,.0f} Rupiah), or no budget"
            )
        if (self.objective == "dimension") != (self.dimension is not None):
            raise InvalidQuery("dimension names the dimension when, and only when, objective is 'dimension'")
        return self


def _check_number(name: str, value: float | None, maximum: float) -> None:
    """The one check of the request's numbers: finite, in [0, maximum] (`InvalidQuery` naming it)."""
    # Plain comparisons: nan and inf fail them, and an int of any size compares exactly.
    if value is not None and not 0 <= value <= maximum:
        raise InvalidQuery(f"{name} must be a number in [0, {maximum:,.12g}], got {excerpt(value, 40)}")


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
    def from_cells(cls, cells: CellScores, village_pos: IntArray, n_villages: int) -> VillageProfiles:
        """Group a rescoring's cells by village and profile (one sparse matrix build)."""
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
    """People reached per village under the chosen objective, the request's spec."""
    if objective == "income_poor":
        return np.nan_to_num(rows["poor_population"].to_numpy(np.float64), nan=0.0)
    if objective == "dimension":
        if dimension not in spec.dimensions:
            raise InvalidQuery(
                f"dimension '{dimension}' is not in the spec; dimensions are {spec.dimensions}"
            )
        return vp.deprived_in_any(
            np.flatnonzero(np.array(spec.dimension_index) == spec.dimensions.index(dimension))
        )
    poor, intensity = vp.poor_and_intensity(np.asarray(spec.weights)[:, None], np.array([spec.k]))
    return (poor if objective == "mpi_poor" else intensity)[:, 0]


def priority_shares(rows: pd.DataFrame) -> dict[str, FloatArray]:
    """Each priority group's share per village (count over population or households, in [0, 1]).

    Parameters
    ----------
    rows
        Village rows with the count columns of `PRIORITY_SHARES`.

    Returns
    -------
    dict
        Group -> share per village; 0 where the count or its base is missing.
    """
    out = {}
    for group, (count, base) in PRIORITY_SHARES.items():
        if count not in rows or base not in rows:
            out[group] = np.zeros(len(rows))
            continue
        num, den = rows[count].to_numpy(np.float64), rows[base].to_numpy(np.float64)
        with np.errstate(divide="ignore", invalid="ignore"):
            out[group] = np.clip(np.nan_to_num(np.where(den > 0, num / den, 0.0)), 0.0, 1.0)
    return out


# ------------------------------------------------------------------------------------------------
# Selecting targets
# ------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class _Villages:
    """The villages in scoring order, with the request's per-village inputs."""

    units: pd.DataFrame
    rows: pd.DataFrame
    codes: list[str]
    kab_codes: list[str]
    kab_names: list[str]
    kab_pos: IntArray
    summary: Summary
    people: FloatArray
    factor: FloatArray
    shares: dict[str, FloatArray]


def select_targets(
    frame: ScoringFrame,
    villages: pd.DataFrame,
    request: TargetRequest,
    base_spec: IndicatorSpec | None = None,
) -> TargetResult:
    """Choose the villages that reach the most people for the budget, and explain each.

    Parameters
    ----------
    frame
        The store's scoring frame (`ScoringFrame.from_store`).
    villages
        The store's ``villages`` layer (codes, names, kabupaten).
    request
        The planner's request.
    base_spec
        The spec when the request carries none (e.g. `store_spec`); default the packaged one.

    Returns
    -------
    TargetResult
        Selection, summary, explanations, villages below the line; ``to_json()`` for the API.

    Raises
    ------
    InvalidQuery
        On a bad request value (the message names the field).
    InfeasibleTargeting
        When no selection meets every constraint (the message names the constraint).

    Examples
    --------
    >>> frame = ScoringFrame.from_store(store)
    >>> req = TargetRequest(budget=5e9, cost_fixed=1e8, cost_per_person=2e6)
    >>> result = select_targets(frame, store.layer("villages"), req)
    >>> result.summary["total_cost"] <= 5e9 and result.summary["n_selected"] > 0
    True
    """
    request.check()
    spec = resolve_spec(request, base_spec)
    year, rows = frame.year_rows(request.year)
    cells = frame.score_cells(spec, year)
    vp = VillageProfiles.from_cells(cells, frame.village_pos, len(frame.village_codes))
    vil = _prepare(frame, villages, rows, cells, spec, vp, request)
    problem = _problem(vil, request, vil.people * vil.factor, vil.summary.M0)
    solution = solve(problem)
    # The effect of the priority: the same request solved again on people alone (work-limited
    # like the first solve, so still repeatable); only when a priority is set.
    plain = solve(replace(problem, value=vil.people)).chosen if _has_priority(request) else None
    scenarios_started = time.perf_counter()
    confidence, used = _confidence(problem, vil, vp, spec, request)
    scenario_info = {
        "n": request.scenarios,
        "feasible": used,
        "seed": request.seed,
        "method": "greedy",
        "concentration": CONCENTRATION,
        "k_range": [max(spec.k - K_JITTER, 0.0), min(spec.k + K_JITTER, 1.0)],
        "seconds": time.perf_counter() - scenarios_started,
    }
    return _result(year, spec, request, vil, problem, solution, confidence, scenario_info, plain)


def _has_priority(request: TargetRequest) -> bool:
    return any(weight > 0 for weight in request.priority.values())


def _prepare(
    frame: ScoringFrame,
    villages: pd.DataFrame,
    rows: pd.DataFrame,
    cells: CellScores,
    spec: IndicatorSpec,
    vp: VillageProfiles,
    request: TargetRequest,
) -> _Villages:
    at = pd.Index(villages["village_code"].astype(str)).get_indexer(frame.village_codes.astype(str))
    if (at < 0).any():
        raise InvalidQuery("the villages table does not match the scoring frame (missing village codes)")
    units = villages.iloc[at].reset_index(drop=True)
    kab = units["kabupaten_code"].astype(str).to_numpy()
    kab_codes, kab_pos = np.unique(kab, return_inverse=True)
    names = units.groupby(units["kabupaten_code"].astype(str))["kabupaten_name"].first()
    shares = priority_shares(rows)
    factor = np.ones(len(units))
    for group, weight in request.priority.items():
        factor += weight * shares[group]
    return _Villages(
        units=units,
        rows=rows,
        codes=units["village_code"].astype(str).tolist(),
        kab_codes=kab_codes.tolist(),
        kab_names=[str(names[c]) for c in kab_codes],
        kab_pos=kab_pos.astype(np.int64),
        summary=frame.summarize(cells, spec, "village"),
        people=_objective_people(request.objective, request.dimension, spec, vp, rows),
        factor=factor,
        shares=shares,
    )


def _positions_of(codes: Sequence[str], known: Sequence[str], field: str) -> IntArray:
    index = pd.Index(known)
    at = index.get_indexer(pd.Index([str(c) for c in codes]))
    unknown = [str(c) for c, a in zip(codes, at, strict=True) if a < 0]
    if unknown:
        kind = "kabupaten" if field.startswith("kabupaten") else "village"
        raise InfeasibleTargeting(
            f"{field}: unknown {kind} code(s) {quote_labels(unknown, range(len(unknown)))}"
        )
    return at.astype(np.int64)


def _problem(vil: _Villages, request: TargetRequest, value: FloatArray, m0: FloatArray) -> Problem:
    n = len(vil.codes)
    forced = np.zeros(n, bool)
    forced[_positions_of(request.include, vil.codes, "include")] = True
    banned = np.zeros(n, bool)
    banned[_positions_of(request.exclude, vil.codes, "exclude")] = True
    if request.min_score is not None:
        banned |= ~(m0 >= request.min_score) & ~forced
    size = np.bincount(vil.kab_pos, minlength=len(vil.kab_codes))
    gmin, gmax = np.zeros(len(size), np.int64), size.copy()
    gmin[_positions_of(list(request.kabupaten_min), vil.kab_codes, "kabupaten_min")] = list(
        request.kabupaten_min.values()
    )
    gmax[_positions_of(list(request.kabupaten_max), vil.kab_codes, "kabupaten_max")] = list(
        request.kabupaten_max.values()
    )
    return make_problem(
        value,
        request.cost_fixed + request.cost_per_person * vil.people,
        vil.kab_pos,
        budget=request.budget,
        max_count=request.max_villages,
        group_min=gmin,
        group_max=gmax,
        forced=forced,
        banned=banned,
        item_labels=vil.codes,
        group_labels=vil.kab_codes,
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
    problem: Problem, vil: _Villages, vp: VillageProfiles, spec: IndicatorSpec, request: TargetRequest
) -> tuple[FloatArray | None, int]:
    """Share of the feasible scenarios in which each village is selected (greedy re-solves)."""
    if request.scenarios == 0:
        return None, 0
    weights, k = scenario_weights(spec, request.scenarios, request.seed)
    poor, intensity = vp.poor_and_intensity(weights, k)
    with np.errstate(divide="ignore", invalid="ignore"):
        m0 = intensity / vp.population[:, None]
    excluded = np.zeros(len(vil.codes), bool)
    excluded[_positions_of(request.exclude, vil.codes, "exclude")] = True
    counts = np.zeros(len(vil.codes))
    used = 0
    for s in range(request.scenarios):
        people = {"mpi_poor": poor[:, s], "m0_people": intensity[:, s]}.get(request.objective, vil.people)
        banned = problem.banned
        if request.min_score is not None:
            banned = excluded | (~(m0[:, s] >= request.min_score) & ~problem.forced)
        scenario = replace(
            problem,
            value=people * vil.factor,
            cost=request.cost_fixed + request.cost_per_person * people,
            banned=banned,
        )
        chosen = greedy(scenario)
        if chosen is not None:
            counts += chosen
            used += 1
    return (counts / used if used else np.full(len(counts), np.nan)), used


# ------------------------------------------------------------------------------------------------
# The result
# ------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class TargetResult:
    """A selection with its summary, per-village explanations and the villages below the line."""

    year: int
    objective: str
    spec: IndicatorSpec
    status: str
    gap: float | None
    solve_seconds: float
    summary: dict[str, Any]
    selected: list[dict[str, Any]]
    below_line: list[dict[str, Any]]
    scenarios: dict[str, Any]
    reason: str | None = None
    solver: dict[str, Any] | None = None
    priority_effect: dict[str, Any] | None = None
    """Villages gained and lost against the same request without priority (None: no priority)."""
    parameters: dict[str, Any] | None = None
    """The request as solved: every rule, the cost model, the year, k and dimension weights."""

    def to_json(self) -> dict[str, Any]:
        """The ``POST /targets`` answer (a contract of the planner page); NaN is None.

        Returns
        -------
        dict
            ``year, objective, spec, status, reason, gap, solve_seconds, solver, summary,
            selected, below_line, priority_effect, scenarios, parameters``.
        """
        return {
            "year": self.year,
            "objective": self.objective,
            "spec": spec_to_dict(self.spec),
            "status": self.status,
            "reason": self.reason,
            "gap": finite_or_none(self.gap) if self.gap is not None else None,
            "solve_seconds": self.solve_seconds,
            "solver": self.solver,
            "summary": self.summary,
            "selected": self.selected,
            "below_line": self.below_line,
            "priority_effect": self.priority_effect,
            "scenarios": self.scenarios,
            "parameters": self.parameters,
        }

    def selected_frame(self) -> pd.DataFrame:
        """Selected villages as a flat table (one row each; drivers and shares as columns).

        Returns
        -------
        pandas.DataFrame
            Ranked rows; ``drivers`` and ``top_indicators`` as text such as ``"health 45%, ..."``.
        """
        keys: tuple[str, ...] = (
            "rank",
            "village_code",
            "village_name",
            "kecamatan_name",
            "kabupaten_code",
            "kabupaten_name",
        )
        keys += ("population", "people_reached", "cost", "H", "A", "M0", "confidence")
        keys += ("value_per_million", "value_per_rupiah_rank")
        if self.priority_effect is not None:
            keys += ("priority_gained",)
        rows = []
        for item in self.selected:
            row = {key: item.get(key) for key in keys}
            row["drivers"] = _as_text(item["drivers"], "dimension")
            row["top_indicators"] = _as_text(item["top_indicators"], "indicator")
            row |= {f"{g}_share": v for g, v in item["priority_shares"].items()}
            rows.append(row)
        columns = [*keys, "drivers", "top_indicators", *(f"{g}_share" for g in PRIORITY_SHARES)]
        return pd.DataFrame(rows, columns=columns)


def _as_text(items: list[dict[str, Any]], key: str) -> str:
    return ", ".join(f"{item[key]} {100 * item['share']:.0f}%" for item in items if item["share"])


def _result(
    year: int,
    spec: IndicatorSpec,
    request: TargetRequest,
    vil: _Villages,
    problem: Problem,
    solution: Solution,
    confidence: FloatArray | None,
    scenario_info: dict[str, Any],
    plain: BoolArray | None = None,
) -> TargetResult:
    chosen = solution.chosen
    people, cost = vil.people, problem.cost
    # the cheapest village that could be chosen and would reach someone
    useful = ~problem.banned & (problem.value > 0) & (problem.group_max[problem.group] > 0)
    cheapest = float(cost[useful].min()) if useful.any() else None
    status, reason = solution.status, None
    if not chosen.any() and request.budget is not None and cheapest is not None and cheapest > request.budget:
        status = "budget_too_small"
        reason = (
            f"the budget ({request.budget:,.0f}) is below the cost of the cheapest village that could "
            f"be chosen ({cheapest:,.0f}: cost_fixed + cost_per_person x its people reached)"
        )
    total_cost = float(cost[chosen].sum())
    reached = float(people[chosen].sum())
    objective_total = float(people.sum())
    excluded_kab = problem.group_max == 0
    summary = {
        "n_selected": int(chosen.sum()),
        "total_cost": total_cost,
        "budget": request.budget,
        "budget_used_share": finite_or_none(total_cost / request.budget) if request.budget else None,
        "people_reached": reached,
        "objective_total": objective_total,
        "coverage": finite_or_none(reached / objective_total) if objective_total > 0 else None,
        "cheapest_cost": cheapest,
        "budget_left": None if request.budget is None else max(request.budget - total_cost, 0.0),
        "by_kabupaten": _by_kabupaten(vil, chosen, cost, excluded_kab),
        "excluded_kabupaten": [
            {"kabupaten_code": vil.kab_codes[g], "kabupaten_name": vil.kab_names[g]}
            for g in np.flatnonzero(excluded_kab)
        ],
    }
    order = np.lexsort((np.arange(len(chosen)), -problem.value))
    picked = order[chosen[order]]
    # Villages of an excluded kabupaten are not "just below the line": they were never candidates.
    candidates = order[~chosen[order] & ~excluded_kab[problem.group[order]]]
    why = _Why.of(vil, problem, request, chosen, useful, candidates)
    selected = [
        _explain(vil, spec, problem, int(i), rank, confidence) | why.selected(int(i), plain)
        for rank, i in enumerate(picked, 1)
    ]
    below = [_below(vil, problem, request, chosen, int(i)) for i in candidates[:BELOW_LINE]]
    return TargetResult(
        year=year,
        objective=request.objective,
        spec=spec,
        status=status,
        reason=reason,
        gap=solution.gap,
        solve_seconds=solution.seconds,
        solver={
            "bound": finite_or_none(solution.bound) if solution.bound is not None else None,
            **solution.work,
        },
        summary=summary,
        selected=selected,
        below_line=below,
        scenarios=scenario_info,
        priority_effect=_priority_effect(vil, chosen, plain, request),
        parameters=_parameters(request, spec, year),
    )


def _parameters(request: TargetRequest, spec: IndicatorSpec, year: int) -> dict[str, Any]:
    """The request with what the defaults resolved to (the year, k, the dimension weights)."""
    raw = request.model_dump(exclude={"spec", "time_limit_s", "k", "dimension_weights", "year"})
    weights = dict(zip(spec.dimensions, spec.dimension_weights, strict=True))
    return {
        "year": year,
        "k": spec.k,
        "dimension_weights": weights,
        "custom_spec": request.spec is not None,
    } | raw


@dataclass(frozen=True)
class _Why:
    """What an officer can repeat about a chosen village: value per rupiah, its rank on that
    measure, and what the next village would need to take its place."""

    per_million: FloatArray
    """Value (people reached, priority-weighted) per Rp 1,000,000 of cost."""
    rank: IntArray
    """Rank on `per_million` among the villages that could be chosen (1 = most per rupiah)."""
    next_village: int | None
    """The best village not chosen that could have been (None: there is none)."""
    slack: float
    """Budget left unspent (inf without a budget)."""
    vil: _Villages
    problem: Problem

    @classmethod
    def of(
        cls,
        vil: _Villages,
        problem: Problem,
        request: TargetRequest,
        chosen: BoolArray,
        useful: BoolArray,
        candidates: IntArray,
    ) -> _Why:
        with np.errstate(divide="ignore", invalid="ignore"):
            per_million = np.where(problem.cost > 0, 1e6 * problem.value / problem.cost, np.inf)
        eligible = useful | chosen
        rank = np.zeros(len(per_million), np.int64)
        by_ratio = np.flatnonzero(eligible)[np.argsort(-per_million[eligible], kind="stable")]
        rank[by_ratio] = np.arange(1, len(by_ratio) + 1)
        open_ = candidates[useful[candidates]]
        slack = math.inf if request.budget is None else request.budget - float(problem.cost[chosen].sum())
        return cls(per_million, rank, int(open_[0]) if len(open_) else None, slack, vil, problem)

    def selected(self, i: int, plain: BoolArray | None) -> dict[str, Any]:
        """The village's value per rupiah, its rank, its replacement condition, priority gain."""
        out: dict[str, Any] = {
            "value_per_million": finite_or_none(self.per_million[i]),
            "value_per_rupiah_rank": int(self.rank[i]) or None,
            "replace_by": self._replace_by(i),
        }
        if plain is not None:
            out["priority_gained"] = not bool(plain[i])
        return out

    def _replace_by(self, i: int) -> dict[str, Any] | None:
        """A one-for-one swap of village i for the next village pays off only if the next village
        is worth more than i (after the priority) and its extra cost fits in the budget left."""
        j = self.next_village
        if j is None:
            return None
        p, vil = self.problem, self.vil
        factor = float(vil.factor[j])
        return {
            "village_code": vil.codes[j],
            "village_name": str(vil.units["village_name"].iloc[j]),
            "people_reached": float(vil.people[j]),
            "people_needed": float(p.value[i] / factor) if factor > 0 else None,
            "cost": float(p.cost[j]),
            "cost_allowed": finite_or_none(p.cost[i] + self.slack),
        }


def _priority_effect(
    vil: _Villages, chosen: BoolArray, plain: BoolArray | None, request: TargetRequest
) -> dict[str, Any] | None:
    """Villages the priority brought in and pushed out, against the same request without it."""
    if plain is None:
        return None

    def listed(mask: BoolArray) -> list[dict[str, Any]]:
        return [
            {
                "village_code": vil.codes[i],
                "village_name": str(vil.units["village_name"].iloc[i]),
                "kabupaten_name": vil.kab_names[vil.kab_pos[i]],
                "people_reached": float(vil.people[i]),
            }
            for i in np.flatnonzero(mask)
        ]

    return {
        "priority": dict(request.priority),
        "gained": listed(chosen & ~plain),
        "lost": listed(plain & ~chosen),
        "n_selected_without": int(plain.sum()),
        "people_reached_without": float(vil.people[plain].sum()),
    }


def _by_kabupaten(
    vil: _Villages, chosen: BoolArray, cost: FloatArray, excluded: BoolArray
) -> list[dict[str, Any]]:
    n = len(vil.kab_codes)
    count = np.bincount(vil.kab_pos, weights=chosen, minlength=n)
    reached = np.bincount(vil.kab_pos, weights=np.where(chosen, vil.people, 0.0), minlength=n)
    spent = np.bincount(vil.kab_pos, weights=np.where(chosen, cost, 0.0), minlength=n)
    total = np.bincount(vil.kab_pos, weights=vil.people, minlength=n)
    return [
        {
            "kabupaten_code": vil.kab_codes[g],
            "kabupaten_name": vil.kab_names[g],
            "n_selected": int(count[g]),
            "people_reached": float(reached[g]),
            "cost": float(spent[g]),
            "coverage": finite_or_none(reached[g] / total[g]) if total[g] > 0 else None,
        }
        for g in range(n)
        if not excluded[g]  # an excluded kabupaten is named in summary.excluded_kabupaten instead
    ]


def _explain(
    vil: _Villages, spec: IndicatorSpec, problem: Problem, i: int, rank: int, confidence: FloatArray | None
) -> dict[str, Any]:
    s, unit = vil.summary, vil.units.iloc[i]
    dims = s.contribution_dimension[i]
    inds = s.contribution_indicator[i]
    drivers = [
        {"dimension": spec.dimensions[d], "share": finite_or_none(dims[d])}
        for d in np.argsort(-np.nan_to_num(dims))
    ]
    top = [j for j in np.argsort(-np.nan_to_num(inds), kind="stable")[:3] if inds[j] > 0]
    return {
        "rank": rank,
        "village_code": vil.codes[i],
        "village_name": str(unit["village_name"]),
        "kecamatan_name": str(unit.get("kecamatan_name", "")),
        "kabupaten_code": vil.kab_codes[vil.kab_pos[i]],
        "kabupaten_name": vil.kab_names[vil.kab_pos[i]],
        "population": finite_or_none(vil.rows["population"].iloc[i]),
        "people_reached": float(vil.people[i]),
        "cost": float(problem.cost[i]),
        "H": finite_or_none(s.H[i]),
        "A": finite_or_none(s.A[i]),
        "M0": finite_or_none(s.M0[i]),
        "drivers": drivers,
        "top_indicators": [{"indicator": spec.names[j], "share": finite_or_none(inds[j])} for j in top],
        "priority_shares": {g: float(share[i]) for g, share in vil.shares.items()},
        "confidence": None if confidence is None else finite_or_none(confidence[i]),
    }


def _below(
    vil: _Villages, problem: Problem, request: TargetRequest, chosen: BoolArray, i: int
) -> dict[str, Any]:
    """A village not chosen, with the first rule that kept it out (docs/targeting.md §5)."""
    g = vil.kab_pos[i]
    m0 = vil.summary.M0[i]
    left = math.inf if request.budget is None else request.budget - float(problem.cost[chosen].sum())
    if vil.codes[i] in set(request.exclude):
        reason = "excluded"
    elif request.min_score is not None and not problem.forced[i] and not m0 >= request.min_score:
        reason = "min_score"
    elif problem.value[i] <= 0:
        reason = "no_people"
    elif chosen[vil.kab_pos == g].sum() >= problem.group_max[g]:
        reason = "quota"
    elif problem.max_count is not None and chosen.sum() >= problem.max_count:
        reason = "max_villages"
    else:
        # Allowed, yet left out: its cost is more than the budget left, so taking it means dropping
        # chosen villages that together reach more (or, rarely, within the stated gap).
        reason = "budget"
    return {
        "village_code": vil.codes[i],
        "village_name": str(vil.units["village_name"].iloc[i]),
        "kabupaten_code": vil.kab_codes[g],
        "kabupaten_name": vil.kab_names[g],
        "people_reached": float(vil.people[i]),
        "cost": float(problem.cost[i]),
        "M0": finite_or_none(m0),
        "reason": reason,
        "budget_left": None if request.budget is None else max(left, 0.0),
    }
