"""Rescoring a built store with any indicator spec, year and k, without a rebuild.

`ScoringFrame` is prepared once per store (the service does it at startup): each cell's static
indicator columns, its village/kecamatan/kabupaten positions and its share of its village's people.
A rescoring is then one matrix gather, `score_units` and one `summarize` per level.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from dataclasses import dataclass, field, replace
from typing import Any, Literal

import numpy as np
import pandas as pd

from layers.cancel import checkpoint
from layers.errors import InvalidQuery, StoreError, excerpt
from layers.register import has_register, read_values
from layers.schema import AREA_LEVELS, YEAR_LAYERS, level
from layers.scoring.af import (
    GroupTable,
    Summary,
    UnitScores,
    WeightedScores,
    deprivation_profiles,
    group_table,
    scores_from_profiles,
    summarize,
    summarize_table,
)
from layers.scoring.households import HOUSEHOLD_COLUMNS, HouseholdFrame, positions
from layers.scoring.indicators import (
    YEARLY_SHARES,
    add_yearly_indicators,
    indicator_matrix,
    share_in_village,
)
from layers.scoring.spec import IndicatorSpec, default_spec, spec_from_dict
from layers.store import LayerStore
from layers.types import BoolArray, FloatArray, IntArray

#: Deprivation matrices kept per (year, columns, cutoffs): each is ~2 MB for 200k cells (~30 MB for a
#: nation's 2.6 M), plus its tables by level (`layers.scoring.af.GroupTable`).
_PROFILE_CACHE_SIZE = 8


@dataclass(frozen=True)
class _Profiles:
    """What a rescoring reuses while only weights or k change: one entry per (year, columns, cutoffs)."""

    deprived: BoolArray
    inhabited: BoolArray
    """Complete and at least `INHABITED_MIN_PEOPLE` people that year: the cells that get a score."""
    profile: IntArray
    distinct: BoolArray
    tables: dict[str, GroupTable] = field(default_factory=dict)
    """Cells by (unit, profile) per level, filled on first use (under the frame's lock)."""


#: A cell with fewer people than this in a year (it rounds to nobody) gets no score that year: it is
#: left out of every aggregate like a unit with a missing value, and maps draw it transparent.
#: Empty forest and swamp then neither dominates a map nor any class statistic (docs/method.md).
INHABITED_MIN_PEOPLE = 0.5

#: The level of a national store's whole (its ``province`` level has a unit per province).
WHOLE = "all"

#: `ScoringFrame.from_store`: prepare the register's families of every year.
EVERY_YEAR: Literal["every"] = "every"

#: Area aggregates of the cell scores, per unit and year (store columns of areas and village_years).
AF_COLUMNS: tuple[str, ...] = (
    "H", "A", "M0", "mpi_poor_population", "vulnerable_share", "severe_share", "scored_population"
)  # fmt: skip


@dataclass(frozen=True)
class CellScores(WeightedScores):
    """One rescoring of every cell: the scores, the people each cell weighs, and the year."""


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
    households: HouseholdFrame | None = field(default=None, compare=False, repr=False)
    """The register's families, when the store has a register (`layers.scoring.households`)."""
    # Deprivations per (year, columns, cutoffs), least recently used first. Handlers run in threads,
    # so every read and eviction holds the lock.
    _profiles: OrderedDict[tuple[Any, ...], _Profiles] = field(
        default_factory=OrderedDict, compare=False, repr=False
    )
    _lock: threading.Lock = field(default_factory=threading.Lock, compare=False, repr=False)
    # People per cell and per unit of each level, per year (read-only arrays; a store has few years).
    _people: dict[tuple[int, str], FloatArray] = field(default_factory=dict, compare=False, repr=False)

    @classmethod
    def from_arrays(
        cls,
        cell_columns: dict[str, FloatArray],
        village_pos: IntArray,
        area_pos: dict[str, tuple[IntArray, int]],
        cell_people: FloatArray,
        village_codes: np.ndarray,
        village_years: pd.DataFrame,
        province_pos: tuple[IntArray, int] | None = None,
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
        province_pos
            Each cell's province position and the number of provinces (a national store); default:
            every cell in one province. With more than one, level ``all`` is the whole store.
        """
        n_villages = len(village_codes)
        group_pos = {"village": village_pos} | {name: pos for name, (pos, _) in area_pos.items()}
        n_groups = {"village": n_villages} | {name: n for name, (_, n) in area_pos.items()}
        group_pos["province"] = np.zeros(len(village_pos), np.int64)
        n_groups["province"] = 1
        if province_pos is not None and province_pos[1] > 1:
            group_pos[WHOLE], n_groups[WHOLE] = group_pos["province"], 1
            group_pos["province"], n_groups["province"] = province_pos
        years = {
            int(year): rows.set_index("village_code").loc[village_codes].reset_index()
            for year, rows in village_years.groupby("year")
        }
        share = share_in_village(cell_people, village_pos, n_villages)
        return cls(cell_columns, village_pos, group_pos, n_groups, share, village_codes, years)

    @classmethod
    def from_store(
        cls, store: LayerStore, register_year: int | None | Literal["every"] = EVERY_YEAR
    ) -> ScoringFrame:
        """Prepare a store's cells (and its register's families) for rescoring.

        Parameters
        ----------
        store
            An open layer store.
        register_year
            Prepare only the register's families of the year a request for this year scores (None:
            the latest, as `year_rows`): a one-off request (``sasaran target``) then reads and
            places half the families or fewer, and gets the same answer. Default `EVERY_YEAR`: the
            families of every year (a service answering any year).

        Raises
        ------
        InvalidQuery
            When ``register_year`` is not a year of the store (as `year_rows`).
        """
        # The columns scoring reads, no more: the cells' geometry and yearly values are not needed
        # to score them, and decoding them was most of the time `sasaran target` took (issue 20).
        units = [level(name) for name in AREA_LEVELS]
        static_names = [c for c in store.column_names("hexagons") if c.startswith(("time_min_", "dist_km_"))]
        hexes = store.attributes(
            "hexagons", ["h3", *(unit.id_column or "" for unit in units), "population", *static_names]
        )
        village_codes = store.attributes("villages", ["village_code"])["village_code"].to_numpy()
        village_pos = _positions(village_codes, hexes["village_code"])
        area_pos = {}
        for unit in units[1:]:
            codes = store.attributes(unit.layer or "", [unit.id_column or ""])[unit.id_column].to_numpy()
            area_pos[unit.name] = (_positions(codes, hexes[unit.id_column]), len(codes))
        static = {c: hexes[c].to_numpy(np.float64) for c in static_names}
        people = hexes["population"].to_numpy(np.float64)
        keys = [entry["key"] for entry in store.partitions]
        province_pos = None
        if len(keys) > 1:  # a national store: its provinces are the partitions, in code order
            of_village = pd.Index(keys).get_indexer(pd.Series(village_codes).astype(str).str[: len(keys[0])])
            province_pos = (of_village[village_pos].astype(np.int64), len(keys))
        frame = cls.from_arrays(
            static, village_pos, area_pos, people, village_codes, store.layer("village_years"), province_pos
        )
        if not has_register(store):
            return frame
        years = None if register_year == EVERY_YEAR else [frame.year_rows(register_year)[0]]
        return replace(frame, households=_households(store, frame, hexes["h3"], years))

    @property
    def provinces(self) -> int:
        """How many provinces the store holds (one but for a national store)."""
        return self.n_groups["province"]

    def summarize_whole(self, cells: CellScores, spec: IndicatorSpec) -> Summary:
        """The whole store's summary: its province's, or for a national store the nation's."""
        return self.summarize(cells, spec, WHOLE if WHOLE in self.group_pos else "province")

    def year_rows(self, year: int | None) -> tuple[int, pd.DataFrame]:
        """A year's village rows in village position order (latest year when ``None``)."""
        if year is None:
            year = max(self.years)
        if year not in self.years:
            raise InvalidQuery(f"year {year} is not in the store; years are {sorted(self.years)}")
        return year, self.years[year]

    def columns(self) -> set[str]:
        """Raw value columns of the cells (static values and every village-year column)."""
        any_year = next(iter(self.years.values()))
        return set(self.cell_columns) | {c for c in any_year.columns if c not in ("village_code", "year")}

    def indicator_columns(self) -> list[str]:
        """The columns an indicator spec may name, sorted: every raw value but the scores themselves.

        A store's own H, A, M0 ... are results of a spec, not values to score against a cutoff (a
        spec scoring them would score itself); codes, names and areas are not cell values at all.
        """
        return sorted(self.columns() - set(AF_COLUMNS))

    @property
    def n_cells(self) -> int:
        """Number of cells."""
        return len(self.village_pos)

    def population(self, year: int | None = None) -> FloatArray:
        """People per cell in a year: its share of its village's people times that year's total.

        Computed once per year (a read-only array: 20 MB and a gather for a nation's cells).
        """
        year, rows = self.year_rows(year)
        with self._lock:
            people = self._people.get((year, "cell"))
        if people is None:
            people = self.share_in_village * rows["population"].to_numpy(np.float64)[self.village_pos]
            people.setflags(write=False)
            with self._lock:
                self._people[(year, "cell")] = people
        return people

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
        wrong = sorted(set(spec.columns) - set(self.indicator_columns()))
        if wrong:
            bad = [i for i in spec.indicators if i.column in wrong]
            named = ", ".join(f"'{i.name}' (column '{i.column}')" for i in bad)
            raise InvalidQuery(
                f"indicator(s) {excerpt(named, 200)} name no indicator column of this store; "
                f"columns: {', '.join(self.indicator_columns())}"
            )
        people = self.population(year)
        key = (year, tuple(spec.columns), tuple(spec.cutoffs.tolist()), tuple(spec.above.tolist()))
        with self._lock:
            entry = self._profiles.get(key)
            if entry is not None:
                self._profiles.move_to_end(key)
        if entry is None:
            # Computed outside the lock: two threads may both compute one key; both results are equal.
            values = self.matrix(list(spec.columns), year)
            checkpoint()
            deprived, complete, profile, distinct = deprivation_profiles(values, spec)
            checkpoint()
            entry = _Profiles(deprived, complete & (people >= INHABITED_MIN_PEOPLE), profile, distinct)
            with self._lock:
                self._profiles[key] = entry
                while len(self._profiles) > _PROFILE_CACHE_SIZE:
                    self._profiles.popitem(last=False)
        scores = scores_from_profiles(
            entry.deprived,
            entry.inhabited,
            entry.profile,
            entry.distinct,
            spec.weights,
            spec.k if k is None else k,
        )
        return CellScores(year, scores, people, entry.tables)

    def summarize(self, cells: CellScores, spec: IndicatorSpec, level: str) -> Summary:
        """Aggregate cell scores to an area level (village, kecamatan, kabupaten or province)."""
        if level not in self.group_pos:
            raise InvalidQuery(f"level '{level}' is not an area level; use one of {list(self.group_pos)}")
        groups, n = self.group_pos[level], self.n_groups[level]
        tables = cells._tables
        if tables is None:  # scores not made by `score_cells`
            return summarize(cells.scores, spec, cells.weights, groups, n)
        # The table of people by (unit, profile) does not depend on weights or k: one pass over the
        # cells per level and (year, columns, cutoffs), then each request is a small matrix product.
        with self._lock:
            table = tables.get(level)
        if table is None:
            checkpoint()
            table = group_table(cells.scores, cells.weights, groups, n)
            with self._lock:
                tables[level] = table
        return summarize_table(cells.scores, spec, table)

    def people(self, cells: CellScores, level: str) -> FloatArray:
        """Everybody in each unit of a level that year, scored or not (`INHABITED_MIN_PEOPLE`)."""
        key = (cells.year, level)
        with self._lock:
            people = self._people.get(key)
        if people is None or cells._tables is None:
            counted = np.bincount(
                self.group_pos[level], weights=cells.weights, minlength=self.n_groups[level]
            )
            people = counted.astype(np.float64)
            if cells._tables is not None:  # the weights are the year's people: keep them
                people.setflags(write=False)
                with self._lock:
                    self._people[key] = people
        return people

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

    def village_groups(self, level: str) -> IntArray:
        """Each village's unit position at an area level (``kecamatan``, ``kabupaten``).

        Read off the cells: every village owns at least one (`layers.geo.grid.cells_for_villages`).
        """
        if level not in self.group_pos:
            raise InvalidQuery(f"level '{level}' is not an area level; use one of {list(self.group_pos)}")
        groups = np.zeros(len(self.village_codes), np.int64)
        groups[self.village_pos] = self.group_pos[level]
        return groups

    def area_values(
        self, year: int, level: str, columns: list[str], spec: IndicatorSpec
    ) -> dict[str, np.ndarray]:
        """What an area layer (kecamatan, kabupaten) would hold for ``year``, for its named columns.

        Village counts (people, households, deciles ...) are summed per unit, the shares of
        `layers.scoring.indicators.YEARLY_SHARES` recomputed from the sums, and `AF_COLUMNS` aggregated
        from that year's cell scores, exactly as the build computes the stored year. Static columns
        (travel times, distances, area) are not year-bearing and are left out.
        """
        _, rows = self.year_rows(year)
        groups, n = self.village_groups(level), self.n_groups[level]
        skip = {"village_code", "year", "poverty_rate", *YEARLY_SHARES, *AF_COLUMNS, *HOUSEHOLD_COLUMNS}
        counts = [c for c in columns if c in rows.columns and c not in skip]
        sums = pd.DataFrame(
            {c: np.bincount(groups, weights=rows[c].to_numpy(np.float64), minlength=n) for c in counts}
        )
        shares = add_yearly_indicators(sums)
        out: dict[str, np.ndarray] = {c: shares[c].to_numpy() for c in columns if c in shares.columns}
        if "year" in columns:
            out["year"] = np.full(n, year, np.int64)
        aggregates = self.area_aggregates(self.score_cells(spec, year), spec)[level]
        out |= {c: aggregates[c] for c in AF_COLUMNS if c in columns}
        if self.households is not None:
            out |= self.households.year_values(year, level, columns)
        return out

    def layer_values(
        self, layer: str, year: int, columns: list[str], spec: IndicatorSpec | None
    ) -> dict[str, np.ndarray]:
        """The year-bearing columns of a store layer (`layers.schema.YEAR_LAYERS`) for ``year``.

        Parameters
        ----------
        layer
            ``hexagons``, ``villages``, ``kecamatan`` or ``kabupaten``.
        year
            A year of the store (`InvalidQuery` naming the years otherwise).
        columns
            The layer's columns; only those that vary by year are returned.
        spec
            The store's indicator spec (scores of hexagons, aggregates of areas).

        Returns
        -------
        dict
            Column name → values in the layer's row order; replace them in the stored layer to get
            the layer as the build would have written it for ``year``.
        """
        self.year_rows(year)
        if layer == "villages":
            return self.village_values(year, columns)
        if layer == "hexagons":
            return self.cell_values(year, columns, spec if "score" in columns else None)
        if layer in ("kecamatan", "kabupaten"):
            return self.area_values(year, level(layer).name, columns, spec or default_spec())
        raise InvalidQuery(f"'{layer}' does not vary by year")


def _households(
    store: LayerStore, frame: ScoringFrame, h3: pd.Series, years: list[int] | None = None
) -> HouseholdFrame:
    """The register's families on a store's cells and villages (the values only: no key needed)."""
    villages = store.attributes("villages", ["village_code", *frame.cell_columns])  # not the geometry
    means = {
        c: np.where(np.isnan(v := villages[c].to_numpy(np.float64)), np.inf, v)
        for c in frame.cell_columns
        if c in villages.columns
    }
    # In the villages layer's order; the frame's villages are in the same (code) order.
    at = pd.Index(villages["village_code"].astype(str)).get_indexer(frame.village_codes.astype(str))
    means = {c: v[at] for c, v in means.items()}
    raw = store.manifest["households"].get("indicators") or {}
    spec = (
        spec_from_dict({key: raw[key] for key in ("k", "indicator") if key in raw}, "store manifest")
        if raw
        else None
    )
    return HouseholdFrame.build(read_values(store, years=years), frame, pd.Index(h3.astype(str)), means, spec)


def score_flags(units: UnitScores) -> dict[str, pd.arrays.BooleanArray]:
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
    raw: Any = store.manifest.get("indicators")
    if not isinstance(raw, dict) or not raw.get("indicator"):
        return default_spec()
    return spec_from_dict({key: raw[key] for key in ("k", "indicator") if key in raw}, "store manifest")


def _positions(codes: np.ndarray, wanted: pd.Series | np.ndarray) -> IntArray:
    """Position of each wanted code in ``codes``; a code that is absent means a broken store."""
    # A hash lookup: a sorted search compares strings (2.8 s for a nation's 2.4 M cells, 0.3 s so).
    at = (
        positions(pd.Series(wanted), pd.Index(codes))
        if pd.Index(codes).is_unique
        else _sorted_positions(codes, wanted)
    )
    found = at >= 0
    if not found.all():
        raise StoreError(
            f"{(~found).sum()} cell(s) name a unit code the store's layers lack, e.g. "
            f"'{np.asarray(wanted)[~found][0]}'; rebuild the store"
        )
    return at.astype(np.int64)


def _sorted_positions(codes: np.ndarray, wanted: pd.Series | np.ndarray) -> IntArray:
    wanted = np.asarray(wanted)
    order = np.argsort(codes, kind="stable")
    at = np.minimum(np.searchsorted(codes[order], wanted), max(len(order) - 1, 0))
    found = codes[order][at] == wanted if len(order) else np.zeros(len(wanted), bool)
    return np.where(found, order[at], -1)


def check_year(store: LayerStore, year: int) -> int:
    """``year`` when the store holds it; else `InvalidQuery` naming the years available."""
    if year not in store.years:
        available = ", ".join(map(str, store.years)) or "none"
        raise InvalidQuery(f"year {year} is not in the data; years available: {available}")
    return year


def layer_for_year(
    store: LayerStore, name: str, year: int | None, scoring: ScoringFrame | None = None
) -> pd.DataFrame:
    """A store layer as the build would have written it for ``year`` (same rows and geometry).

    Parameters
    ----------
    store
        An open layer store.
    name
        A layer; only year-bearing ones (`layers.schema.YEAR_LAYERS`) accept a year other than the
        stored one.
    year
        A year of the store; None for the stored year.
    scoring
        The store's prepared `ScoringFrame` (prepared here when not given).

    Returns
    -------
    DataFrame
        The stored layer itself for the stored year, else a copy with the year's values.

    Examples
    --------
    >>> old = layer_for_year(store, "kecamatan", store.years[0])
    >>> bool((old["year"] == store.years[0]).all())
    True
    """
    frame = store.layer(name)
    if year is None or year == store.default_year:
        return frame
    if name not in YEAR_LAYERS:
        raise InvalidQuery(f"'{name}' does not vary by year; drop the year")
    check_year(store, year)
    scoring = scoring if scoring is not None else ScoringFrame.from_store(store)
    return frame.assign(**scoring.layer_values(name, year, list(frame.columns), store_spec(store)))


def layer_by_years(store: LayerStore, name: str, scoring: ScoringFrame | None = None) -> pd.DataFrame:
    """Every year of a year-bearing layer stacked, with ``date`` and ``date_end`` for time-aware GIS.

    ``date`` is 1 January of the row's year and ``date_end`` 1 January of the next (exclusive), so
    QGIS's temporal controller (start and end from fields, end excluded) shows each year's rows
    for that year only.
    """
    scoring = scoring if scoring is not None else ScoringFrame.from_store(store)
    frames = []
    for year in store.years:
        frame = layer_for_year(store, name, year, scoring)
        frame = frame.assign(
            year=np.int64(year),
            date=pd.Timestamp(year=year, month=1, day=1),
            date_end=pd.Timestamp(year=year + 1, month=1, day=1),
        )
        frames.append(frame)
    return pd.concat(frames, ignore_index=True)
