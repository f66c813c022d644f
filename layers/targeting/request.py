"""What a planner asks for: `TargetRequest`, the body of ``POST /targets`` and the options of
``sasaran target``, with every default defined once.

Light on purpose (pydantic only): the command line builds its options from this model before any
store or solver loads. `layers.targeting.selection` answers it.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, StrictFloat, StrictInt, StrictStr, ValidationError

from layers.errors import InvalidQuery, excerpt

Objective = Literal["mpi_poor", "m0_people", "income_poor", "dimension"]
PriorityGroup = Literal["elderly", "disabled", "female_headed_hh"]

MAX_SCENARIOS = 2000
#: The default cost model, in Rupiah: what a programme spends to work in a village at all
#: (a facilitator, transport, a posko) and per person it reaches (a transfer, a kit).
DEFAULT_COST_FIXED = 100_000_000.0
DEFAULT_COST_PER_PERSON = 250_000.0
#: The default guards: a village is chosen only where the programme reaches at least this many
#: people, and where it costs at most this much per person reached (Rp 10 juta: with the default
#: costs, villages of fewer than 11 people, whatever the budget).
DEFAULT_MIN_PEOPLE = 10
DEFAULT_MAX_COST_PER_PERSON = 10_000_000.0
#: The default confidence scenarios: how many, and the seed that makes them repeatable.
DEFAULT_SCENARIOS = 200
DEFAULT_SEED = 62
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
#: Longest programme title printed on the briefing.
MAX_TITLE = 120


class InvalidTargeting(InvalidQuery):
    """`InvalidQuery` with a ``key`` and ``params`` for `layers.export.wording` (see `Infeasible`)."""

    def __init__(self, key: str, message: str, **params: Any) -> None:
        super().__init__(message)
        self.key, self.params = key, params


# ------------------------------------------------------------------------------------------------
# The request
# ------------------------------------------------------------------------------------------------


#: Strict types: JSON ``true`` is no number, ``"5"`` no count (pydantic would convert both).
_Count = Annotated[StrictInt, Field(ge=0, le=MAX_COUNT)]
_Priority = Annotated[StrictFloat, Field(ge=0, le=MAX_PRIORITY)]
_Code = Annotated[StrictStr, Field(min_length=1, max_length=40)]


class TargetRequest(BaseModel):
    """What a planner asks for (also the body of ``POST /targets``, and the options of ``sasaran target``).

    A village's **people reached** are whole persons under ``objective``; its **value** is those
    people, or for ``m0_people`` the sum of the poor people's deprivation scores (M0 × people),
    times the priority factor ``1 + Σ_g priority[g] · share_g`` (``share``: the village's elderly /
    population, disabled / population, female-headed households / households, each in [0, 1]). Its
    cost is ``cost_fixed + cost_per_person · people reached`` in whole rupiah (a budget with both
    costs 0 is refused). Villages in ``include`` are always selected (even below ``min_score`` or a
    guard); those in ``exclude``, below ``min_score``, reaching fewer than ``min_people`` or costing
    more than ``max_cost_per_person`` per person reached never are.
    """

    model_config = ConfigDict(extra="forbid")

    year: StrictInt | None = Field(None, description="Poverty-table year; the latest when omitted.")
    spec: dict[str, Any] | None = Field(None, description="A full indicator spec (JSON form).")
    k: StrictFloat | StrictStr | None = Field(
        None, description="Poverty cutoff in (0, 1], e.g. 0.33 or '1/3'."
    )
    dimension_weights: dict[str, StrictFloat] | None = Field(None, description="Dimension -> total weight.")
    objective: Objective = Field("mpi_poor", description="Whose people the programme reaches.")
    basis: Literal["household", "area"] | None = Field(
        None,
        description="Who is scored: household (the register's families, weighted by members) or area "
        "(H3 cells, weighted by people); none: household where the store has a register for the year.",
    )
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
        None, ge=1, le=MAX_COUNT, description="At most this many villages (none: no limit)."
    )
    kabupaten: list[_Code] = Field(
        default_factory=list, description="Only these kabupaten/kota (codes) are eligible; none: all."
    )
    exclude_kabupaten: list[_Code] = Field(
        default_factory=list, description="Kabupaten/kota (codes) never chosen from."
    )
    kabupaten_min: dict[str, _Count] = Field(default_factory=dict, description="Kabupaten code -> minimum.")
    kabupaten_max: dict[str, _Count] = Field(
        default_factory=dict, description="Kabupaten code -> maximum (0: excluded)."
    )
    include: list[_Code] = Field(default_factory=list, description="Village codes always selected.")
    exclude: list[_Code] = Field(default_factory=list, description="Village codes never selected.")
    min_score: StrictFloat | None = Field(
        None, ge=0, le=1, description="Villages with M0 below this are not selected."
    )
    min_people: StrictInt = Field(
        DEFAULT_MIN_PEOPLE,
        ge=0,
        le=MAX_COUNT,
        description="Guard: villages where the programme reaches fewer people are not selected (0: none).",
    )
    max_cost_per_person: StrictFloat | None = Field(
        DEFAULT_MAX_COST_PER_PERSON,
        gt=0,
        le=MAX_RUPIAH,
        description="Guard: villages costing more per person reached (Rupiah) are not selected (null: none).",
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
    title: StrictStr | None = Field(
        None, min_length=1, max_length=MAX_TITLE, description="The programme's name, for the briefing."
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
        for name in ("budget", "cost_fixed", "cost_per_person", "max_cost_per_person"):
            _check_number(name, getattr(self, name), MAX_RUPIAH)
        _check_number("min_score", self.min_score, 1.0)
        _check_number("max_villages", self.max_villages, MAX_COUNT)
        _check_number("min_people", self.min_people, MAX_COUNT)
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
            raise InvalidTargeting(
                "budget_without_cost",
                "budget: a budget needs a cost, but cost_fixed and cost_per_person are both 0; give a "
                f"cost per village and/or per person (defaults {DEFAULT_COST_FIXED:,.0f} and "
                f"{DEFAULT_COST_PER_PERSON:,.0f} Rupiah), or no budget",
            )
        if (self.objective == "dimension") != (self.dimension is not None):
            raise InvalidTargeting(
                "dimension_objective",
                "dimension names the dimension when, and only when, objective is 'dimension'",
            )
        return self


def _check_number(name: str, value: float | None, maximum: float) -> None:
    """The one check of the request's numbers: finite, in [0, maximum] (`InvalidQuery` naming it)."""
    # Plain comparisons: nan and inf fail them, and an int of any size compares exactly.
    if value is not None and not 0 <= value <= maximum:
        raise InvalidQuery(f"{name} must be a number in [0, {maximum:,.12g}], got {excerpt(value, 40)}")
