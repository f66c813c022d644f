"""The answer of a selection (``POST /targets``, ``sasaran target``) as typed models.

One declaration serves the service's ``response_model`` (so its OpenAPI schema is this file), the
command line and the downloads (`layers.export.targets`), which read it by attribute.

Numbers are rounded **once, here, when the answer is made**, to the precision every interface
shows, and nothing rounds them again (docs/targeting.md, "One rounding rule"):

- people and rupiah are whole numbers (``int``): people reached are whole persons and a village's
  cost is the cost model applied to them, so every table's rows add up to its total;
- H, A and M0 keep 4 decimals; shares (coverage, budget used) 4 decimals, shown as percentages with
  2; confidence and the dimension shares of a village's M0 are whole percentages (2 decimals);
- a *score* (the objective when it weighs people: M0 × people, or a priority) keeps 2 decimals and
  is never called people;
- value per Rp 1 juta keeps 2 decimals.

The page, the PDF, the CSV and the XLSX format these stored numbers; where they show fewer digits
they round half away from zero on the exact stored value (ECMA-402's ``halfExpand``, which is what
the page's ``Intl.NumberFormat`` does), so the same village reads the same everywhere.
"""

from __future__ import annotations

import math
from typing import Annotated, Any, Literal

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field


def _finite(value: Any) -> float | None:
    if value is None:
        return None
    number = float(value)
    return number if math.isfinite(number) else None


def _whole(value: Any) -> int | None:
    number = _finite(value)
    return None if number is None else int(round(number))


def _places(digits: int) -> Any:
    def rounded(value: Any) -> float | None:
        number = _finite(value)
        return None if number is None else round(number, digits) + 0.0  # no "-0.0"

    return rounded


#: Whole persons (people reached, population, counts of villages).
Whole = Annotated[int, BeforeValidator(_whole)]
WholeOrNone = Annotated[int | None, BeforeValidator(_whole)]
#: Whole rupiah.
Rupiah = Annotated[int, BeforeValidator(_whole)]
RupiahOrNone = Annotated[int | None, BeforeValidator(_whole)]
#: Indices (H, A, M0) and shares (coverage): 4 decimals.
Index = Annotated[float | None, BeforeValidator(_places(4))]
#: Whole percentages held as fractions (confidence, a dimension's share of M0): 2 decimals.
Percent = Annotated[float | None, BeforeValidator(_places(2))]
#: Weights and cutoffs echoed from the spec: 12 decimals, past which sums of twelfths leave only
#: float noise (0.24999999999999997 is a quarter).
Weight = Annotated[float, BeforeValidator(_places(12))]
#: Scores and ratios (value per Rp 1 juta): 2 decimals.
Score = Annotated[float | None, BeforeValidator(_places(2))]
#: Exact floats kept as they are (the proven gap, the solver's bound, seconds).
Exact = Annotated[float | None, BeforeValidator(_finite)]

#: Why a village is not on the list (docs/targeting.md §5), in the order they are checked.
Reason = Literal[
    "selected",
    "kabupaten_excluded",
    "excluded",
    "min_score",
    "no_people",
    "min_people",
    "max_cost_per_person",
    "priority",
    "quota",
    "max_villages",
    "budget",
]
#: Reasons that are guards a planner sets (villages left out by them are listed as such).
GUARD_REASONS: tuple[str, ...] = ("min_people", "max_cost_per_person")


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Title(_Model):
    """A name in both languages of the downloads."""

    id: str
    en: str


class Driver(_Model):
    """A dimension's share of a village's M0."""

    dimension: str
    share: Percent


class TopIndicator(_Model):
    """An indicator's share of a village's M0, with its name in words (``title``)."""

    indicator: str
    share: Percent
    title: Title


class PriorityShares(_Model):
    """A village's share of each priority group (0-1): elderly and disabled of its people,
    female-headed of its households."""

    elderly: Index
    disabled: Index
    female_headed_hh: Index


class ReplaceBy(_Model):
    """What the best village not chosen would need to take a chosen one's place (one for one)."""

    village_code: str
    village_name: str
    people_reached: Whole
    people_needed: WholeOrNone = Field(
        description="Whole people it would have to reach to be worth more (null when the objective "
        "weighs people: see value_needed)."
    )
    value: Score = Field(description="Its value now (people reached, or the score).")
    value_needed: Score = Field(description="The value it would need: more than the chosen village's.")
    cost: Rupiah
    cost_allowed: RupiahOrNone = Field(description="The chosen village's cost plus the budget left.")


class SelectedVillage(_Model):
    """One village on the list, with what makes it chosen."""

    rank: int
    village_code: str
    village_name: str
    kecamatan_code: str
    kecamatan_name: str
    kabupaten_code: str
    kabupaten_name: str
    population: Whole = Field(description="Everybody in the village in the year of the selection.")
    people_reached: Whole = Field(description="Whole persons the programme reaches there (the objective).")
    score: Score = Field(
        None,
        description="The objective's value when it weighs people (M0 × people, a priority): a score, "
        "not people. Null when the objective counts people.",
    )
    cost: Rupiah = Field(description="cost_fixed + cost_per_person × people_reached, whole rupiah.")
    cost_per_person_reached: RupiahOrNone = Field(description="cost / people_reached, whole rupiah.")
    H: Index
    A: Index
    M0: Index
    drivers: list[Driver]
    top_indicators: list[TopIndicator]
    priority_shares: PriorityShares
    confidence: Percent = Field(
        description="Share of the perturbed scenarios in which the optimiser, re-solving from this list, "
        "keeps the village (whole percent). Null without scenarios."
    )
    value_per_million: Score = Field(
        description="People reached (or the score, when the objective weighs) per Rp 1 juta of its cost."
    )
    value_per_rupiah_rank: int | None
    replace_by: ReplaceBy | None
    priority_gained: bool | None = Field(
        None, description="With a priority: on the list only because of it (null without priority)."
    )


class BelowLine(_Model):
    """A village just below the line, with the first rule that kept it out."""

    village_code: str
    village_name: str
    kecamatan_name: str
    kabupaten_code: str
    kabupaten_name: str
    people_reached: Whole
    score: Score = None
    cost: Rupiah
    cost_per_person_reached: RupiahOrNone
    M0: Index
    value_per_million: Score
    reason: Reason
    budget_left: RupiahOrNone


class _VillageLine(_Model):
    """A village named in a list beside the ranked one: who it is, whom it reaches, what it costs."""

    village_code: str
    village_name: str
    kabupaten_name: str
    people_reached: Whole
    cost: Rupiah


class Guarded(_VillageLine):
    """A village a guard (minimum people, maximum cost per person) left out."""

    cost_per_person_reached: RupiahOrNone
    reason: Reason


class VillageTable(_Model):
    """Every village of the store, column by column (popups on the page): its people reached and
    cost under this request, value per Rp 1 juta, population and M0 that year (under the request's
    spec), and its status (``selected`` or the reason it is not). Rounded like the rest (from
    rounded arrays: no work per item)."""

    village_code: list[str]
    population: list[int]
    people_reached: list[int]
    cost: list[int]
    value_per_million: list[float | None]
    M0: list[float | None]
    status: list[Reason]


class AreaRow(_Model):
    """Villages chosen, people reached and cost in one kabupaten/kota or kecamatan."""

    kabupaten_code: str
    kabupaten_name: str
    kecamatan_code: str | None = None
    kecamatan_name: str | None = None
    n_selected: Whole
    people_reached: Whole
    score: Score = None
    cost: Rupiah
    objective_total: Whole = Field(description="The area's people under the objective.")
    coverage: Index


class Kabupaten(_Model):
    """A kabupaten/kota by code and name."""

    kabupaten_code: str
    kabupaten_name: str


class Guard(_Model):
    """A guard as applied, and how many villages it left out."""

    value: float | None = Field(description="The limit (null: no guard).")
    excluded: Whole


class Guards(_Model):
    """The guards a planner sets (docs/targeting.md §3), with their counts."""

    min_people: Guard
    max_cost_per_person: Guard


class Summary(_Model):
    """The list in totals; ``by_kabupaten`` and ``by_kecamatan`` add up to them."""

    n_selected: Whole
    total_cost: Rupiah
    budget: RupiahOrNone
    budget_used_share: Index
    people_reached: Whole
    score: Score = Field(None, description="Total score when the objective weighs people (else null).")
    objective_total: Whole = Field(description="The province's people under the objective.")
    coverage: Index
    cheapest_cost: RupiahOrNone
    budget_left: RupiahOrNone
    candidates: Whole = Field(
        description="Villages that could be chosen: eligible, not excluded, reaching someone, within "
        "the guards (the denominator of value_per_rupiah_rank)."
    )
    excluded_kabupaten: list[Kabupaten]
    guards: Guards
    by_kabupaten: list[AreaRow]
    by_kecamatan: list[AreaRow]


class EffectVillage(_VillageLine):
    """A village the priority brought in or pushed out, with the numbers that did it."""

    value_without: Score = Field(description="Its value without the priority (people, or the score).")
    value_with: Score = Field(description="Its value with the priority.")
    priority_shares: PriorityShares


class PriorityEffect(_Model):
    """The list with the priority against the same request without it (docs/targeting.md §4)."""

    priority: dict[str, float]
    changed: bool = Field(description="Whether the priority changes the list at all.")
    tolerance: float = Field(
        description="The list changes only where the priority raises the value by more than this "
        "(relative): the solver's tolerance."
    )
    value_with: Score = Field(description="Priority value of the list with the priority.")
    value_without: Score = Field(description="Priority value of the list without the priority.")
    gained: list[EffectVillage]
    lost: list[EffectVillage]
    n_selected_without: Whole
    people_reached_without: Whole


class Solver(_Model):
    """What the exact solver proved and the work it did (counted work, never seconds)."""

    bound: Exact
    tolerance: float
    counts_bounded: int = 0
    counts_searched: int = 0
    counts_exact: int = 0
    nodes: int = 0
    swaps: int = 0


class Scenarios(_Model):
    """The perturbed scenarios behind each village's confidence."""

    n: int
    feasible: int
    seed: int
    method: Literal["warm_start"] = Field(
        "warm_start",
        description="Each scenario is re-solved by the optimiser's own search started from the chosen "
        "list, with a fixed work limit; the list changes only where one better by more than "
        "`tolerance` is found.",
    )
    tolerance: float
    concentration: float
    k_range: list[float]
    seconds: Exact


class Parameters(_Model):
    """The request as solved: every rule, with what the defaults resolved to."""

    year: int
    k: Weight
    dimension_weights: dict[str, Weight]
    custom_spec: bool
    objective: str
    basis: str
    dimension: str | None
    budget: float | None
    cost_fixed: float
    cost_per_person: float
    max_villages: int | None
    kabupaten: list[str]
    exclude_kabupaten: list[str]
    kabupaten_min: dict[str, int]
    kabupaten_max: dict[str, int]
    include: list[str]
    exclude: list[str]
    min_score: float | None
    min_people: int
    max_cost_per_person: float | None
    priority: dict[str, float]
    scenarios: int
    seed: int
    title: str | None


class TargetResult(_Model):
    """``POST /targets`` (JSON): the list, why each village is on it, what just missed out."""

    year: int
    objective: str
    weighted: bool = Field(
        description="Whether the objective weighs people (M0 × people or a priority): then `score` "
        "holds its value and people reached stay whole persons."
    )
    spec: dict[str, Any] = Field(description="The indicator spec used (JSON form).")
    status: Literal["optimal", "work_limit", "budget_too_small"]
    reason: str | None = None
    gap: Exact = Field(description="Proven relative optimality gap (0.001 = 0.1 %).")
    solve_seconds: Exact
    solver: Solver
    summary: Summary
    selected: list[SelectedVillage]
    below_line: list[BelowLine]
    guarded: list[Guarded] = Field(description="Villages a guard left out, most valuable first.")
    villages: VillageTable
    priority_effect: PriorityEffect | None
    scenarios: Scenarios
    parameters: Parameters

    def to_json(self) -> dict[str, Any]:
        """The JSON answer as a dict (what the service sends)."""
        return self.model_dump(mode="json")
