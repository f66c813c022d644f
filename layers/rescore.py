"""Rescoring a built store with any indicator spec, year and k, without a rebuild.

`ScoringFrame` is prepared once per store (the service does it at startup): each cell's static
indicator columns, its village/kecamatan/kabupaten positions and its share of its village's people.
A rescoring is then one matrix gather, `score_units` and one `summarize` per level.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from layers.errors import InvalidQuery, StoreError
from layers.indicator_spec import IndicatorSpec, default_spec, spec_from_dict
from layers.indicators import indicator_matrix, share_in_village
from layers.scoring import Summary, UnitScores, deprivation_profiles, scores_from_profiles, summarize
from layers.store import LayerStore
from layers.types import BoolArray, FloatArray, IntArray

#: Deprivation matrices kept per (year, columns, cutoffs): each is ~2 MB for 200k cells.
_PROFILE_CACHE_SIZE = 8
_Profiles = tuple[BoolArray, BoolArray, IntArray, BoolArray]

#: Levels a score can be asked for, finest first.
LEVELS: tuple[str, ...] = ("hexagon", "village", "kecamatan", "kabupaten", "province")
#: The layer and id column of each area level.
LEVEL_LAYERS: dict[str, tuple[str, str]] = {
    "hexagon": ("hexagons", "h3"),
    "village": ("villages", "village_code"),
    "kecamatan": ("kecamatan", "kecamatan_code"),
    "kabupaten": ("kabupaten", "kabupaten_code"),
}


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
    _profiles: dict[tuple[Any, ...], _Profiles] = field(default_factory=dict, compare=False, repr=False)

    @classmethod
    def from_store(cls, store: LayerStore) -> ScoringFrame:
        """Prepare a store's cells for rescoring (positions by `searchsorted`, never a join)."""
        hexes = store.layer("hexagons")
        villages = store.layer("villages")
        village_codes = villages["village_code"].to_numpy()
        village_pos = _positions(village_codes, hexes["village_code"].to_numpy())
        group_pos = {"village": village_pos}
        n_groups = {"village": len(village_codes)}
        for level in ("kecamatan", "kabupaten"):
            layer, column = LEVEL_LAYERS[level]
            group_pos[level] = _positions(store.layer(layer)[column].to_numpy(), hexes[column].to_numpy())
            n_groups[level] = store.rows(layer)
        group_pos["province"] = np.zeros(len(hexes), np.int64)
        n_groups["province"] = 1
        people = hexes["population"].to_numpy(np.float64)
        share = share_in_village(people, village_pos, len(village_codes))
        static = {
            c: hexes[c].to_numpy(np.float64) for c in hexes.columns if c.startswith(("time_min_", "dist_km_"))
        }
        table = store.layer("village_years")
        years = {
            int(year): rows.set_index("village_code").loc[village_codes].reset_index()
            for year, rows in table.groupby("year")
        }
        return cls(static, village_pos, group_pos, n_groups, share, village_codes, years)

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
        profiles = self._profiles.get(key)
        if profiles is None:
            profiles = deprivation_profiles(self.matrix(list(spec.columns), year), spec)
            if len(self._profiles) >= _PROFILE_CACHE_SIZE:
                self._profiles.pop(next(iter(self._profiles)))
            self._profiles[key] = profiles
        scores = scores_from_profiles(*profiles, spec.weights, spec.k if k is None else k)
        return CellScores(year, scores, self.population(year))

    def summarize(self, cells: CellScores, spec: IndicatorSpec, level: str) -> Summary:
        """Aggregate cell scores to an area level (village, kecamatan, kabupaten or province)."""
        if level not in self.group_pos:
            raise InvalidQuery(f"level '{level}' is not an area level; use one of {list(self.group_pos)}")
        return summarize(cells.scores, spec, cells.weights, self.group_pos[level], self.n_groups[level])


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
