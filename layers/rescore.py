"""Rescoring a built store with any indicator spec, year and k, without a rebuild.

`ScoringFrame` is prepared once per store (the service does it at startup): each cell's static
indicator columns, its village/kecamatan/kabupaten positions and its share of its village's people.
A rescoring is then one matrix gather, `score_units` and one `summarize` per level.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from layers.errors import InvalidQuery, StoreError
from layers.indicator_spec import IndicatorSpec, default_spec, spec_from_dict
from layers.indicators import indicator_matrix, share_in_village
from layers.schema import AREA_LEVELS, level
from layers.scoring import Summary, UnitScores, deprivation_profiles, scores_from_profiles, summarize
from layers.store import LayerStore
from layers.types import BoolArray, FloatArray, IntArray

#: Deprivation matrices kept per (year, columns, cutoffs): each is ~2 MB for 200k cells.
_PROFILE_CACHE_SIZE = 8
_Profiles = tuple[BoolArray, BoolArray, IntArray, BoolArray]

#: A cell with fewer people than this in a year (it rounds to nobody) gets no score that year: it is
#: left out of every aggregate like a unit with a missing value, and maps draw it transparent.
#: Empty forest and swamp then neither dominates a map nor any class statistic (docs/method.md).
INHABITED_MIN_PEOPLE = 0.5

#: Area aggregates of the cell scores, per unit and year (store columns of areas and village_years).
AF_COLUMNS: tuple[str, ...] = (
    "H", "A", "M0", "mpi_poor_population", "vulnerable_share", "severe_share", "scored_population"
)  # fmt: skip


@dataclass(frozen=True)
class CellScores:
    """One rescoring of every cell: the scores, the people each cell weighs, and the year."""

    year: int
    scores: UnitScores
    weights: FloatArray


@dataclass(frozen=True)
class ScoringFrame:
    """Everything a rescoring needs, gathered once from a store."""

    cell_columns: dict[str, FloatArray]
    village_pos: IntArray
    group_pos: dict[str, IntArray]
    n_groups: dict[str, int]
    share_in_village: FloatArray
    village_codes: np.ndarray
    years: dict[int, pd.DataFrame]
    # Deprivations per (year, columns, cutoffs), least recently used first. Handlers run in threads,
    # so every read and eviction holds the lock.
    _profiles: OrderedDict[tuple[Any, ...], _Profiles] = field(
        default_factory=OrderedDict, compare=False, repr=False
    )
    _lock: threading.Lock = field(default_factory=threading.Lock, compare=False, repr=False)

    @classmethod
    def from_arrays(
        cls,
        cell_columns: dict[str, FloatArray],
        village_pos: IntArray,
        area_pos: dict[str, tuple[IntArray, int]],
        cell_people: FloatArray,
        village_codes: np.ndarray,
        village_years: pd.DataFrame,
    ) -> ScoringFrame:
        """Prepare cells for rescoring from arrays (the build, before any store exists).

        Parameters
        ----------
        cell_columns
            Static per-cell values (``time_min_*``, ``dist_km_*``).
        village_pos
            Each cell's village position.
        area_pos
            ``kecamatan`` and ``kabupaten``: (each cell's position, number of units).
        cell_people
            People per cell in the year the raster was scaled to.
        village_codes
            Village codes in position order.
        village_years
            One row per village and year (``village_code``, ``year``, values).
        """
        n_villages = len(village_codes)
        group_pos = {"village": village_pos} | {name: pos for name, (pos, _) in area_pos.items()}
        n_groups = {"village": n_villages} | {name: n for name, (_, n) in area_pos.items()}
        group_pos["province"] = np.zeros(len(village_pos), np.int64)
        n_groups["province"] = 1
        years = {
            int(year): rows.set_index("village_code").loc[village_codes].reset_index()
            for year, rows in village_years.groupby("year")
        }
        share = share_in_village(cell_people, village_pos, n_villages)
        return cls(cell_columns, village_pos, group_pos, n_groups, share, village_codes, years)

    @classmethod
    def from_store(cls, store: LayerStore) -> ScoringFrame:
        """Prepare a store's cells for rescoring (positions by `searchsorted`, never a join)."""
        hexes = store.layer("hexagons")
        village_codes = store.layer("villages")["village_code"].to_numpy()
        village_pos = _positions(village_codes, hexes["village_code"].to_numpy())
        area_pos = {}
        for name in AREA_LEVELS[1:]:
            unit = level(name)
            codes = store.layer(unit.layer or "")[unit.id_column].to_numpy()
            area_pos[name] = (_positions(codes, hexes[unit.id_column].to_numpy()), len(codes))
        static = {
            c: hexes[c].to_numpy(np.float64) for c in hexes.columns if c.startswith(("time_min_", "dist_km_"))
        }
        people = hexes["population"].to_numpy(np.float64)
        return cls.from_arrays(
            static, village_pos, area_pos, people, village_codes, store.layer("village_years")
        )

    def year_rows(self, year: int | None) -> tuple[int, pd.DataFrame]:
        """A year's village rows in village position order (latest year when ``None``)."""
        if year is None:
            year = max(self.years)
        if year not in self.years:
            raise InvalidQuery(f"year {year} is not in the store; years are {sorted(self.years)}")
        return year, self.years[year]

    def columns(self) -> set[str]:
        """Raw value columns a spec may name."""
        any_year = next(iter(self.years.values()))
        return set(self.cell_columns) | {c for c in any_year.columns if c not in ("village_code", "year")}

    @property
    def n_cells(self) -> int:
        """Number of cells."""
        return len(self.village_pos)

    def population(self, year: int | None = None) -> FloatArray:
        """People per cell in a year: its share of its village's people times that year's total."""
        _, rows = self.year_rows(year)
        return self.share_in_village * rows["population"].to_numpy(np.float64)[self.village_pos]

    def matrix(self, columns: list[str], year: int | None = None) -> FloatArray:
        """Cells × columns raw values for a year (village-year values gathered by position)."""
        missing = sorted(set(columns) - self.columns())
        if missing:
            raise InvalidQuery(
                f"indicator column(s) {missing} are not in this store; available: {sorted(self.columns())}"
            )
        _, rows = self.year_rows(year)
        return indicator_matrix(list(columns), self.cell_columns, rows, self.village_pos)

    def score_cells(self, spec: IndicatorSpec, year: int | None = None, k: float | None = None) -> CellScores:
        """Score every cell for a year; each weighs its share of its village's people that year.

        Deprivations depend on the year, columns and cutoffs only, so they are kept for the next
        request that changes just weights or k (the common case: a planner moving sliders).
        """
        year, _ = self.year_rows(year)
        key = (year, tuple(spec.columns), tuple(spec.cutoffs.tolist()), tuple(spec.above.tolist()))
        with self._lock:
            profiles = self._profiles.get(key)
            if profiles is not None:
                self._profiles.move_to_end(key)
        if profiles is None:
            # Computed outside the lock: two threads may both compute one key; both results are equal.
            profiles = deprivation_profiles(self.matrix(list(spec.columns), year), spec)
            with self._lock:
                self._profiles[key] = profiles
                while len(self._profiles) > _PROFILE_CACHE_SIZE:
                    self._profiles.popitem(last=False)
        deprived, complete, profile, distinct = profiles
        people = self.population(year)
        inhabited = complete & (people >= INHABITED_MIN_PEOPLE)
        scores = scores_from_profiles(
            deprived, inhabited, profile, distinct, spec.weights, spec.k if k is None else k
        )
        return CellScores(year, scores, people)

    def summarize(self, cells: CellScores, spec: IndicatorSpec, level: str) -> Summary:
        """Aggregate cell scores to an area level (village, kecamatan, kabupaten or province)."""
        if level not in self.group_pos:
            raise InvalidQuery(f"level '{level}' is not an area level; use one of {list(self.group_pos)}")
        return summarize(cells.scores, spec, cells.weights, self.group_pos[level], self.n_groups[level])

    def people(self, cells: CellScores, level: str) -> FloatArray:
        """Everybody in each unit of a level that year, scored or not (`INHABITED_MIN_PEOPLE`)."""
        people = np.bincount(self.group_pos[level], weights=cells.weights, minlength=self.n_groups[level])
        return people.astype(np.float64)

    def area_aggregates(self, cells: CellScores, spec: IndicatorSpec) -> dict[str, dict[str, FloatArray]]:
        """`AF_COLUMNS` plus ``population`` of every unit of every area level and the province.

        This is what the build stores per unit and year, and what a rescoring reports.
        """
        out: dict[str, dict[str, FloatArray]] = {}
        for name in (*AREA_LEVELS, "province"):
            summary = self.summarize(cells, spec, name)
            out[name] = {
                "H": summary.H,
                "A": summary.A,
                "M0": summary.M0,
                "mpi_poor_population": summary.H * summary.population,
                "vulnerable_share": summary.vulnerable,
                "severe_share": summary.severe,
                "scored_population": summary.population,
                "population": self.people(cells, name),
            }
        return out

    def village_values(self, year: int, columns: list[str]) -> dict[str, FloatArray]:
        """A year's values of the named village-year columns, in village position order."""
        _, rows = self.year_rows(year)
        return {c: rows[c].to_numpy() for c in columns if c in rows.columns and c != "village_code"}

    def cell_values(
        self, year: int, columns: list[str], spec: IndicatorSpec | None = None
    ) -> dict[str, np.ndarray]:
        """What the hexagons layer would hold for ``year``: village values, people and, with a spec,
        each cell's score and bands."""
        _, rows = self.year_rows(year)
        fixed = ("population", "village_code", "year")
        varying = [c for c in columns if c in rows.columns and c not in fixed]
        out: dict[str, np.ndarray] = dict(zip(varying, self.matrix(varying, year).T, strict=True))
        out["population"] = self.population(year)
        out["year"] = np.full(self.n_cells, year)
        if spec is not None:
            units = self.score_cells(spec, year).scores
            out |= {"score": units.c, **score_flags(units)}
        return out


def score_flags(units: UnitScores) -> dict[str, Any]:
    """``poor``, ``vulnerable`` and ``severe`` as nullable booleans: null where a cell has no score."""
    flags = {"poor": units.poor, "vulnerable": units.vulnerable, "severe": units.severe}
    return {name: pd.arrays.BooleanArray(values, ~units.complete) for name, values in flags.items()}


def store_spec(store: LayerStore) -> IndicatorSpec:
    """The indicator spec a store's scores were built with (its manifest), else the default.

    Parameters
    ----------
    store
        An open layer store.

    Returns
    -------
    IndicatorSpec
        The spec, restricted to the indicators the build could compute.
    """
    raw = store.manifest.get("indicators")
    if not isinstance(raw, dict) or not raw.get("indicator"):
        return default_spec()
    return spec_from_dict({key: raw[key] for key in ("k", "indicator") if key in raw}, "store manifest")


def _positions(codes: np.ndarray, wanted: np.ndarray) -> IntArray:
    """Position of each wanted code in ``codes``; a code that is absent means a broken store."""
    order = np.argsort(codes, kind="stable")
    at = np.minimum(np.searchsorted(codes[order], wanted), max(len(order) - 1, 0))
    found = codes[order][at] == wanted if len(order) else np.zeros(len(wanted), bool)
    if not found.all():
        raise StoreError(
            f"{(~found).sum()} cell(s) name a unit code the store's layers lack, e.g. "
            f"'{wanted[~found][0]}'; rebuild the store"
        )
    return order[at].astype(np.int64)
