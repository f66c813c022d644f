"""Household scores: Alkire-Foster on the register's families, weighted by their members.

A family is a unit like a cell: its row of indicator values goes through the one engine
(`layers.scoring.af`), and its members are its weight. Its values are its own answers in the
register (decile, schooling, health cover, house, water, sanitation, light, fuel) and the access of
the place it lives in: its own H3 cell's distances and travel times when the register gives its
coordinates, else its village's people-weighted means (the ``villages`` layer's values; a village
all of whose people are unreachable has an infinite time).

`HouseholdFrame` is prepared once per store (or build) from the register's values
(`layers.register.read_values`: nothing personal) and the store's scoring frame; a rescoring
under other weights, k or cutoffs reuses each year's deprivations, like `ScoringFrame`. Aggregates
per village, kecamatan, kabupaten and province carry the `HOUSEHOLD_COLUMNS` (``hh_H``, ``hh_A``,
``hh_M0``, ``families``, ...), suppressed where a unit has fewer than
`layers.register.MIN_FAMILIES` families (docs/method.md, "Household and area basis").
"""

from __future__ import annotations

import threading
import tomllib
from collections import OrderedDict
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from functools import cached_property
from importlib import resources
from typing import Any, Protocol

import numpy as np
import pandas as pd

from layers.errors import InvalidQuery
from layers.register import CODES, MIN_FAMILIES
from layers.schema import AREA_LEVELS
from layers.scoring.af import (
    GroupTable,
    Summary,
    WeightedScores,
    deprivation_profiles,
    group_table,
    scores_from_profiles,
    summarize_table,
)
from layers.scoring.indicators import weighted_mean
from layers.scoring.spec import IndicatorSpec, spec_from_dict
from layers.types import BoolArray, FloatArray, IntArray

HOUSEHOLD_SPEC_SOURCE = "layers/data/household_indicators.toml"

#: What every area unit carries on the household basis (docs/schema.md). ``families`` counts the
#: registered families; the rest are suppressed (null) in units of fewer than `MIN_FAMILIES`.
HOUSEHOLD_COLUMNS: tuple[str, ...] = (
    "families", "hh_people", "families_mpi_poor", "people_mpi_poor", "hh_H", "hh_A", "hh_M0",
    "hh_vulnerable_share", "hh_severe_share", "hh_elderly", "hh_disabled", "hh_female_headed",
)  # fmt: skip
#: The household columns that are suppressed in small units (all but the count of families).
SUPPRESSED_COLUMNS: tuple[str, ...] = HOUSEHOLD_COLUMNS[1:]
#: Register values a household spec may read besides access (categorical codes are numbers).
REGISTER_VALUES: tuple[str, ...] = (
    "decile", "members", "elderly", "disabled", "children_out_of_school", *CODES,
)  # fmt: skip
#: Columns with the access of a place: a family takes its cell's, else its village's.
ACCESS_PREFIXES = ("time_min_", "dist_km_")
#: Deprivations kept per (year, columns, cutoffs).
_CACHE_SIZE = 8


def _household_spec_dict() -> dict[str, Any]:
    """The packaged household spec (``layers/data/household_indicators.toml``) as parsed TOML."""
    text = resources.files("layers").joinpath("data/household_indicators.toml").read_text(encoding="utf-8")
    return tomllib.loads(text)


def default_household_spec() -> IndicatorSpec:
    """The default household indicator set: four dimensions at 1/4 each, k = 1/3, every cutoff cited.

    Examples
    --------
    >>> spec = default_household_spec()
    >>> spec.dimensions, round(spec.k, 4)
    (['income', 'education', 'health', 'quality_of_life'], 0.3333)
    """
    return spec_from_dict(_household_spec_dict(), source=HOUSEHOLD_SPEC_SOURCE, require_provenance=True)


def village_access(
    columns: dict[str, FloatArray], people: FloatArray, village_pos: IntArray, n: int
) -> dict[str, FloatArray]:
    """Each village's people-weighted mean of each access column (as its ``villages`` layer holds it).

    The mean is over the cells with a finite value (`layers.scoring.indicators.weighted_mean`); a
    village whose every cell is unreachable gets ``inf`` (the layer stores NaN there), so its
    families count as beyond any travel-time cutoff.
    """
    out = {}
    for name, values in columns.items():
        mean = weighted_mean(values, people, village_pos, n)
        out[name] = np.where(np.isnan(mean), np.inf, mean)
    return out


class AreaFrame(Protocol):
    """What a household frame reads of the store's `layers.scoring.rescore.ScoringFrame`."""

    @property
    def cell_columns(self) -> dict[str, FloatArray]:
        """Static per-cell values (``time_min_*``, ``dist_km_*``)."""
        ...

    @property
    def village_codes(self) -> np.ndarray:
        """Village codes in position order."""
        ...

    @property
    def group_pos(self) -> dict[str, IntArray]:
        """Each cell's unit position per level."""
        ...

    @property
    def n_groups(self) -> dict[str, int]:
        """Units per level."""
        ...

    def village_groups(self, level: str) -> IntArray:
        """Each village's unit position at an area level."""
        ...

    def year_rows(self, year: int | None) -> tuple[int, pd.DataFrame]:
        """A year's village rows in village position order."""
        ...


@dataclass(frozen=True)
class FamilyScores(WeightedScores):
    """One rescoring of one year's families: families as units, their members as weights."""

    rows: IntArray = field(default_factory=lambda: np.zeros(0, np.int64), compare=False)
    """The families' rows in the frame (those of the year)."""


@dataclass(frozen=True)
class _Entry:
    deprived: BoolArray
    complete: BoolArray
    profile: IntArray
    distinct: BoolArray
    tables: dict[str, GroupTable] = field(default_factory=dict)


@dataclass(frozen=True)
class HouseholdFrame:
    """The register's families prepared for scoring: values, places and group positions."""

    year: IntArray
    village_pos: IntArray
    members: FloatArray
    values: dict[str, FloatArray]
    """Register values by column (categorical codes as numbers; NaN where missing)."""
    access: Mapping[str, FloatArray]
    """Access values per family (its cell's, else its village's), by column (each made when first
    read: a spec reads a few of them)."""
    counts: dict[str, FloatArray]
    """Priority counts per family: ``elderly``, ``disabled``, ``female_head`` (0/1); NaN unknown."""
    area: AreaFrame
    spec: IndicatorSpec | None = None
    """The household spec the store was built with (its manifest's ``households.indicators``)."""
    _cache: OrderedDict[tuple[Any, ...], _Entry] = field(
        default_factory=OrderedDict, compare=False, repr=False
    )
    _lock: threading.Lock = field(default_factory=threading.Lock, compare=False, repr=False)
    _year_counts: dict[int, dict[str, FloatArray]] = field(default_factory=dict, compare=False, repr=False)

    @classmethod
    def build(
        cls,
        register: pd.DataFrame,
        area: AreaFrame,
        cell_ids: pd.Index,
        village_means: dict[str, FloatArray],
        spec: IndicatorSpec | None = None,
        *,
        cell_pos: IntArray | None = None,
    ) -> HouseholdFrame:
        """Prepare families from the register's values and the place they live in.

        Parameters
        ----------
        register
            The register's values (`layers.register.read_values` or the build's canonical
            register): ``village_code``, ``year``, ``members``, counts, categorical codes as numbers,
            and ``h3``: the family's cell (null without coordinates).
        area
            The scoring frame of the same store: static cell columns, village codes and levels.
        cell_ids
            The cells' ids in the frame's cell order (the same type as ``register["h3"]``).
        village_means
            Each village's people-weighted access per column (`village_access`).
        spec
            The household spec the frame's stored figures were computed with.
        cell_pos
            Each family's position in ``cell_ids`` (-1: none), when the caller knows it (a build
            placed the families itself); default: looked up by ``register["h3"]``.
        """
        village_pos = positions(
            register["village_code"].astype(str), pd.Index(area.village_codes.astype(str))
        )
        if (village_pos < 0).any():
            raise InvalidQuery("the register names villages the store does not hold; rebuild the store")
        if cell_pos is not None:
            cell = np.asarray(cell_pos, np.int64)
        elif "h3" in register:
            cell = positions(register["h3"], cell_ids)
        else:
            cell = np.full(len(register), -1)
        access = _Access(cell, village_pos, area.cell_columns, village_means)
        values = {c: _floats(register[c]) for c in REGISTER_VALUES if c in register}
        counts = {c: values[c] if c in values else _floats(register[c])
                  for c in ("elderly", "disabled", "female_head") if c in register}  # fmt: skip
        return cls(
            year=register["year"].to_numpy(np.int64),
            village_pos=village_pos.astype(np.int64),
            members=_floats(register["members"]),
            values=values,
            access=access,
            counts=counts,
            area=area,
            spec=spec,
        )

    @cached_property
    def years(self) -> list[int]:
        """The register's years, oldest first."""
        return sorted(pd.unique(self.year).tolist())

    @cached_property
    def _year_rows(self) -> dict[int, IntArray]:
        # Each year's rows, found once (a year is scored and aggregated many times).
        return {year: np.flatnonzero(self.year == year) for year in self.years}

    def columns(self) -> set[str]:
        """The columns a household spec may read."""
        return set(self.values) | set(self.access)

    def rows_of(self, year: int | None) -> tuple[int, IntArray]:
        """A year (the latest when None) and its families' rows; `InvalidQuery` for another year."""
        if year is None:
            year = self.years[-1]
        if year not in self.years:
            raise InvalidQuery(f"year {year} is not in the register; its years are {self.years}")
        return year, self._year_rows[year]

    def matrix(self, columns: list[str], rows: IntArray) -> FloatArray:
        """Families × columns of raw values (their own, or their place's)."""
        missing = sorted(set(columns) - self.columns())
        if missing:
            raise InvalidQuery(
                f"household indicator column(s) {missing} are not in the register or the store; "
                f"available: {sorted(self.columns())}"
            )
        # Column-major: each column is copied whole (a slice when the rows run on, as a year's do).
        out = np.empty((len(rows), len(columns)), order="F")
        run = len(rows) > 0 and rows[-1] - rows[0] == len(rows) - 1 and bool((np.diff(rows) == 1).all())
        for j, column in enumerate(columns):
            source = self.values.get(column)
            source = source if source is not None else self.access[column]
            if run:
                out[:, j] = source[rows[0] : rows[-1] + 1]
            else:
                np.take(source, rows, out=out[:, j])
        return out

    def score(self, spec: IndicatorSpec, year: int | None = None, k: float | None = None) -> FamilyScores:
        """Score one year's families under a spec (deprivations kept for the next weights or k)."""
        year, rows = self.rows_of(year)
        key = (year, tuple(spec.columns), tuple(spec.cutoffs.tolist()), tuple(spec.above.tolist()))
        with self._lock:
            entry = self._cache.get(key)
            if entry is not None:
                self._cache.move_to_end(key)
        if entry is None:
            deprived, complete, profile, distinct = deprivation_profiles(
                self.matrix(list(spec.columns), rows), spec
            )
            entry = _Entry(deprived, complete, profile, distinct)
            with self._lock:
                self._cache[key] = entry
                while len(self._cache) > _CACHE_SIZE:
                    self._cache.popitem(last=False)
        units = scores_from_profiles(
            entry.deprived,
            entry.complete,
            entry.profile,
            entry.distinct,
            spec.weights,
            spec.k if k is None else k,
        )
        return FamilyScores(year, units, self.members[rows], entry.tables, rows=rows)

    def groups(self, level: str, rows: IntArray) -> tuple[IntArray, int]:
        """Each family's unit at a level (``village`` ... ``province``, ``all``) and the number of units."""
        village = self.village_pos[rows]
        if level == "village":
            return village, len(self.area.village_codes)
        if level not in self.area.group_pos:
            raise InvalidQuery(
                f"level '{level}' is not an area level; use one of {list(self.area.group_pos)}"
            )
        return self.area.village_groups(level)[village], self.area.n_groups[level]

    def summarize(self, scores: FamilyScores, spec: IndicatorSpec, level: str) -> Summary:
        """Aggregate a year's family scores to a level, weighted by members."""
        tables = scores._tables
        table = None
        if tables is not None:
            with self._lock:
                table = tables.get(level)
        if table is None:
            groups, n = self.groups(level, scores.rows)
            table = group_table(scores.scores, scores.weights, groups, n)
            if tables is not None:
                with self._lock:
                    tables[level] = table
        return summarize_table(scores.scores, spec, table)

    def aggregates(
        self, spec: IndicatorSpec, year: int, levels: tuple[str, ...] | None = None
    ) -> dict[str, dict[str, FloatArray]]:
        """`HOUSEHOLD_COLUMNS` of every unit of each level for a year, small units suppressed."""
        scores = self.score(spec, year)
        levels = levels or (*AREA_LEVELS, *(name for name in self.area.group_pos if name not in AREA_LEVELS))
        villages = self._village_sums(scores)  # once for every level
        return {name: self.level_values(scores, spec, name, villages=villages)[0] for name in levels}

    def _village_sums(self, scores: FamilyScores) -> dict[str, FloatArray]:
        """Per village: the year's families, MPI-poor families and priority counts.

        Whole numbers each: a larger unit's sums are its villages' sums exactly, so every level
        adds up a village table instead of every family again.
        """
        village, n = self.village_pos[scores.rows], len(self.area.village_codes)
        poor = scores.scores.poor.astype(np.float64)
        sums: dict[str, FloatArray] = {
            "families": np.bincount(village, minlength=n).astype(np.float64),
            "families_mpi_poor": _sum_by(village, poor, n),
        }
        counts = self._counts_of(scores.year, scores.rows)
        return sums | {c: _sum_by(village, v, n) for c, v in counts.items()}

    def level_values(
        self,
        scores: FamilyScores,
        spec: IndicatorSpec,
        level: str,
        raw: bool = False,
        villages: dict[str, FloatArray] | None = None,
    ) -> tuple[dict[str, FloatArray], Summary]:
        """`HOUSEHOLD_COLUMNS` of a level's units (suppressed) and their summary (not suppressed).

        The summary carries what `HOUSEHOLD_COLUMNS` do not (censored headcounts, contributions);
        a caller publishing it must null the units `suppressed` marks. ``raw``: nothing suppressed
        (for `totals`, which combine partitions into a nation; never published as such).
        ``villages``: `_village_sums` of these scores, when the caller has them.
        """
        summary = self.summarize(scores, spec, level)
        if villages is None:
            villages = self._village_sums(scores)
        if level == "village":
            n, sums = len(self.area.village_codes), villages
        else:
            groups, n = self.area.village_groups(level), self.area.n_groups[level]
            sums = {c: _sum_by(groups, v, n) for c, v in villages.items()}
        counts = {c: sums[c] for c in self.counts}
        columns = {
            "families": sums["families"],
            "hh_people": summary.population,
            "families_mpi_poor": sums["families_mpi_poor"],
            "people_mpi_poor": summary.H * summary.population,
            "hh_H": summary.H,
            "hh_A": summary.A,
            "hh_M0": summary.M0,
            "hh_vulnerable_share": summary.vulnerable,
            "hh_severe_share": summary.severe,
            "hh_elderly": counts.get("elderly", np.full(n, np.nan)),
            "hh_disabled": counts.get("disabled", np.full(n, np.nan)),
            "hh_female_headed": counts.get("female_head", np.full(n, np.nan)),
        }
        return (columns if raw else suppress(columns)), summary

    def _counts_of(self, year: int, rows: IntArray) -> dict[str, FloatArray]:
        """The priority counts of a year's families, unknown as 0 (kept per year: every level sums them)."""
        if rows is not self._year_rows.get(year):
            return {c: np.nan_to_num(v[rows]) for c, v in self.counts.items()}
        with self._lock:
            found = self._year_counts.get(year)
        if found is None:
            found = {c: np.nan_to_num(v[rows]) for c, v in self.counts.items()}
            with self._lock:
                self._year_counts[year] = found
        return found

    def year_values(self, year: int, level: str, columns: list[str]) -> dict[str, FloatArray]:
        """The named `HOUSEHOLD_COLUMNS` of a level's units in ``year`` under the stored spec (NaN
        for a year the register lacks): what a layer of that year holds."""
        wanted = [c for c in columns if c in HOUSEHOLD_COLUMNS]
        if not wanted:
            return {}
        n = len(self.area.village_codes) if level == "village" else self.area.n_groups[level]
        if year not in self.years or self.spec is None:
            return {c: np.full(n, np.nan) for c in wanted}
        values = self.aggregates(self.spec, year, (level,))[level]
        return {c: values[c] for c in wanted}

    def for_year(self, year: int | None) -> HouseholdYear:
        """One register year as a frame targeting can rescore villages with (`HouseholdYear`)."""
        year, rows = self.rows_of(year)
        return HouseholdYear(self, year, rows)


#: Sums a household figure of a larger whole is made of (`totals`, `from_totals`): every ratio of
#: `HOUSEHOLD_COLUMNS` is one of them over another, so wholes combine exactly from their parts.
TOTALS: tuple[str, ...] = (
    "families", "hh_people", "families_mpi_poor", "people_mpi_poor", "intensity", "vulnerable_people",
    "severe_people", "hh_elderly", "hh_disabled", "hh_female_headed",
)  # fmt: skip


def totals(columns: dict[str, FloatArray], at: int = 0) -> dict[str, float]:
    """The `TOTALS` of one unit of unsuppressed household columns (`HouseholdFrame.level_totals`)."""
    people = float(columns["hh_people"][at])
    return {
        "families": float(columns["families"][at]),
        "hh_people": people,
        "families_mpi_poor": float(columns["families_mpi_poor"][at]),
        "people_mpi_poor": float(columns["people_mpi_poor"][at]),
        "intensity": float(np.nan_to_num(columns["hh_M0"][at]) * people),
        "vulnerable_people": float(np.nan_to_num(columns["hh_vulnerable_share"][at]) * people),
        "severe_people": float(np.nan_to_num(columns["hh_severe_share"][at]) * people),
        **{c: float(columns[c][at]) for c in ("hh_elderly", "hh_disabled", "hh_female_headed")},
    }


def from_totals(parts: list[dict[str, float]]) -> dict[str, float]:
    """`HOUSEHOLD_COLUMNS` of a whole from its parts' `TOTALS` (suppressed below `MIN_FAMILIES`)."""
    whole = {name: float(sum(p[name] for p in parts)) for name in TOTALS}
    people, poor = whole["hh_people"], whole["people_mpi_poor"]
    columns = {
        "families": whole["families"],
        "hh_people": people,
        "families_mpi_poor": whole["families_mpi_poor"],
        "people_mpi_poor": poor,
        "hh_H": poor / people if people else np.nan,
        "hh_A": whole["intensity"] / poor if poor else np.nan,
        "hh_M0": whole["intensity"] / people if people else np.nan,
        "hh_vulnerable_share": whole["vulnerable_people"] / people if people else np.nan,
        "hh_severe_share": whole["severe_people"] / people if people else np.nan,
        **{c: whole[c] for c in ("hh_elderly", "hh_disabled", "hh_female_headed")},
    }
    return {name: float(v[0]) for name, v in suppress({k: np.array([v]) for k, v in columns.items()}).items()}


def suppressed(families: FloatArray) -> BoolArray:
    """Units whose household figures are withheld: fewer than `MIN_FAMILIES` families."""
    return np.asarray(families) < MIN_FAMILIES


def suppress(columns: dict[str, FloatArray]) -> dict[str, FloatArray]:
    """`SUPPRESSED_COLUMNS` set to NaN in units of fewer than `MIN_FAMILIES` families."""
    small = suppressed(columns["families"])
    return {name: np.where(small, np.nan, values) if name in SUPPRESSED_COLUMNS else values
            for name, values in columns.items()}  # fmt: skip


@dataclass(frozen=True)
class HouseholdYear:
    """One register year with the interface targeting uses of a `ScoringFrame`.

    Families are its units, members their weights: `layers.targeting.selection` rescoring villages
    on the household basis reads ``village_pos``, ``village_codes``, ``year_rows``,
    ``score_cells`` and ``summarize`` exactly as it reads them of the cells.
    """

    frame: HouseholdFrame
    year: int
    rows: IntArray

    @property
    def village_pos(self) -> IntArray:
        """Each family's village position."""
        return self.frame.village_pos[self.rows]

    @property
    def village_codes(self) -> np.ndarray:
        """Village codes in position order."""
        return self.frame.area.village_codes

    def year_rows(self, year: int | None) -> tuple[int, pd.DataFrame]:
        """The village rows of the register's year (the poverty table's and the register's values)."""
        if year is not None and year != self.year:
            raise InvalidQuery(f"this household frame is of {self.year}, not {year}")
        return self.frame.area.year_rows(self.year)

    def score_cells(
        self, spec: IndicatorSpec, year: int | None = None, k: float | None = None
    ) -> FamilyScores:
        """The year's families scored (the name `ScoringFrame` gives its cells')."""
        return self.frame.score(spec, self.year if year is None else year, k)

    def summarize(self, scores: FamilyScores, spec: IndicatorSpec, level: str) -> Summary:
        """Aggregate the families to a level."""
        return self.frame.summarize(scores, spec, level)

    def columns(self) -> set[str]:
        """The columns a household spec may read."""
        return self.frame.columns()


def _sum_by(groups: IntArray, values: FloatArray, n: int) -> FloatArray:
    return np.asarray(np.bincount(groups, weights=values, minlength=n), dtype=np.float64)


def _floats(column: pd.Series) -> FloatArray:
    """A register column as float64, NaN where missing (booleans as 0/1)."""
    return column.to_numpy(dtype=np.float64, na_value=np.nan)


def positions(values: pd.Series, index: pd.Index) -> IntArray:
    """Each value's position in ``index`` (-1: absent or missing), looked up once per distinct value.

    A register names a few thousand villages and cells for a million families: hashing the
    distinct values (factorized by Arrow for Arrow strings) is what makes this fast.
    """
    keys = _factorize(values.array)
    found = index.get_indexer(pd.Index(keys.uniques, dtype=object))
    return np.where(keys.codes >= 0, found[keys.codes], -1).astype(np.int64)


@dataclass(frozen=True)
class _Codes:
    codes: IntArray
    uniques: Any


def _factorize(values: Any) -> _Codes:
    codes, uniques = pd.factorize(values, use_na_sentinel=True)
    return _Codes(np.asarray(codes, np.int64), uniques)


class _Access(Mapping[str, FloatArray]):
    """Each family's access per column: its cell's value, else its village's mean; made on first read."""

    def __init__(
        self,
        cell: IntArray,
        village_pos: IntArray,
        cell_columns: dict[str, FloatArray],
        village_means: dict[str, FloatArray],
    ) -> None:
        self._placed = cell >= 0
        self._cell = np.maximum(cell, 0)
        self._village_pos = village_pos
        self._columns = {name: column for name, column in cell_columns.items() if name in village_means}
        self._means = village_means
        self._made: dict[str, FloatArray] = {}
        self._lock = threading.Lock()

    def __getitem__(self, name: str) -> FloatArray:
        with self._lock:
            made = self._made.get(name)
        if made is None:
            column = self._columns[name]
            made = np.where(self._placed, column[self._cell], self._means[name][self._village_pos])
            with self._lock:
                self._made[name] = made
        return made

    def __iter__(self) -> Iterator[str]:
        return iter(self._columns)

    def __len__(self) -> int:
        return len(self._columns)
