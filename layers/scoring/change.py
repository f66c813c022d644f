"""Change between two years per village, kecamatan or kabupaten: poverty rate, H, M0, poor people.

Both years are scored with the same indicator spec (the cells' access values are static, the
village values come from each year's poverty table), so a change reflects the villages' poverty
figures, not a change of method. Units are ranked by their fall in one measure, largest fall
first: the kabupaten planners commend.

**Cut-off crossings.** Without a household register a village's H and M0 move only when one of its
village-level indicators (the poverty rate, the share without electricity, ...) crosses its cutoff:
a rate going from 9.68 % to 8.68 % across 9.03 % takes a village's H from 1 to 0, a cliff rather
than an improvement of that size. Each village therefore names the indicators that crossed
(``crossing``, with the value before and after and the cutoff when only one did), and at village
level a village whose H or M0 changed with a crossing is **not ranked** by H or M0 (``rank`` null);
kecamatan and kabupaten count their crossing villages (``crossings``). Poor people are summed from
the poverty table (``poor_population_*``), never recomputed from a rounded rate.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from layers.errors import InvalidQuery
from layers.rounding import round_array, round_value
from layers.schema import AREA_LEVELS
from layers.schema import level as level_schema
from layers.scoring.rescore import ScoringFrame, store_spec
from layers.scoring.spec import IndicatorSpec, spec_to_dict
from layers.scoring.titles import indicator_titles
from layers.store import LayerStore
from layers.types import BoolArray, FloatArray, IntArray

#: Measures compared: the income poverty rate (percent of people below the BPS line) and the
#: Alkire-Foster headcount ratio H and adjusted headcount M0.
MEASURES: tuple[str, ...] = ("poverty_rate", "H", "M0")
CHANGE_LEVELS: tuple[str, ...] = AREA_LEVELS


def changes(
    frame: ScoringFrame,
    store: LayerStore,
    year_from: int,
    year_to: int,
    spec: IndicatorSpec | None = None,
    level: str = "kabupaten",
    rank_by: str = "M0",
) -> pd.DataFrame:
    """Poverty rate, H and M0 in two years per unit, their change, and a ranking by the fall.

    Parameters
    ----------
    frame
        The store's scoring frame.
    store
        The store (unit codes and names).
    year_from, year_to
        The two years (both in the store).
    spec
        Indicator spec for H and M0; default the store's.
    level
        ``village``, ``kecamatan`` or ``kabupaten``.
    rank_by
        The measure whose fall ranks the units (``poverty_rate``, ``H`` or ``M0``).

    Returns
    -------
    pandas.DataFrame
        One row per unit, sorted by ``rank`` (1 = largest fall; units without a value last):
        the unit's code and name columns, ``population_from``, ``population_to``, and for each
        measure ``<m>_from``, ``<m>_to``, ``<m>_change`` (to - from; negative is a fall) and
        ``<m>_change_rel`` (change / from), then ``rank``.

    Examples
    --------
    >>> from layers.scoring.rescore import ScoringFrame
    >>> table = changes(ScoringFrame.from_store(store), store, 2023, 2024)
    >>> first = table.iloc[0]
    >>> int(first["rank"]), bool(first["M0_change"] == table["M0_change"].min())
    (1, True)
    """
    if level not in CHANGE_LEVELS:
        raise InvalidQuery(f"level must be one of {', '.join(CHANGE_LEVELS)}, got '{level}'")
    if rank_by not in MEASURES:
        raise InvalidQuery(f"rank_by must be one of {', '.join(MEASURES)}, got '{rank_by}'")
    spec = spec or store_spec(store)
    units = _units(store, level)
    out = units.copy()
    for suffix, year in (("from", year_from), ("to", year_to)):
        for name, values in _measures(frame, store, spec, year, level).items():
            out[f"{name}_{suffix}"] = values
    for name in MEASURES:
        before, after = out[f"{name}_from"].to_numpy(), out[f"{name}_to"].to_numpy()
        out[f"{name}_change"] = after - before
        with np.errstate(divide="ignore", invalid="ignore"):
            out[f"{name}_change_rel"] = np.where(before > 0, (after - before) / before, np.nan)
    out["poor_population_change"] = out["poor_population_to"] - out["poor_population_from"]
    crossed = _crossings(frame, spec, year_from, year_to)
    if level == "village":
        out = pd.concat([out, crossed.drop(columns="n")], axis=1)
        jumped = (crossed["n"].to_numpy() > 0) & (np.abs(out[f"{rank_by}_change"].to_numpy()) > 0)
        cliff = jumped if rank_by in ("H", "M0") else np.zeros(len(out), bool)
        crossing_columns = list(crossed.columns.drop("n"))
    else:
        pos = _village_to_level(store, frame, level)
        out["crossings"] = np.bincount(pos, weights=crossed["n"].to_numpy() > 0, minlength=len(out)).astype(
            np.int64
        )
        cliff = np.zeros(len(out), bool)
        crossing_columns = ["crossings"]
    ranked = out[f"{rank_by}_change"].where(~cliff)
    out["rank"] = ranked.rank(method="min", na_option="keep").astype("Int64")
    order = [*units.columns, "population_from", "population_to"]
    order += [f"{name}_{part}" for name in MEASURES for part in ("from", "to", "change", "change_rel")]
    order += ["poor_population_from", "poor_population_to", "poor_population_change", *crossing_columns]
    out = out[[*order, "rank"]]
    return out.sort_values(["rank", units.columns[0]], na_position="last").reset_index(drop=True)


def _crossings(frame: ScoringFrame, spec: IndicatorSpec, year_from: int, year_to: int) -> pd.DataFrame:
    """Per village (in the frame's order): the village-level indicators whose deprivation flipped
    between the years (``crossing``: their names), and for a single one its values and cutoff."""
    _, before = frame.year_rows(year_from)
    _, after = frame.year_rows(year_to)
    n = len(before)
    flipped: list[tuple[str, FloatArray, FloatArray, float, BoolArray]] = []
    for indicator in spec.indicators:
        column = indicator.column
        if column in frame.cell_columns or column not in before or column not in after:
            continue  # a cell value (travel time, distance) does not change between years
        a, b = before[column].to_numpy(np.float64), after[column].to_numpy(np.float64)
        above = indicator.deprived_when == "above"
        was = a > indicator.cutoff if above else a < indicator.cutoff
        now = b > indicator.cutoff if above else b < indicator.cutoff
        moved = (was != now) & np.isfinite(a) & np.isfinite(b)
        flipped.append((indicator.name, a, b, indicator.cutoff, moved))
    count = np.zeros(n, np.int64)
    names = np.full(n, "", dtype=object)
    value_from, value_to, cutoff = np.full(n, np.nan), np.full(n, np.nan), np.full(n, np.nan)
    for name, a, b, cut, moved in flipped:
        count += moved
        names[moved] = [f"{x}, {name}" if x else name for x in names[moved]]
        value_from[moved], value_to[moved], cutoff[moved] = a[moved], b[moved], cut
    single = count == 1
    return pd.DataFrame(
        {
            "crossing": [x or None for x in names],
            "crossing_from": np.where(single, value_from, np.nan),
            "crossing_to": np.where(single, value_to, np.nan),
            "crossing_cutoff": np.where(single, cutoff, np.nan),
            "n": count,
        }
    )


def _units(store: LayerStore, level: str) -> pd.DataFrame:
    unit = level_schema(level)
    columns = [unit.id_column or "", unit.name_column or ""]
    if level == "village":
        columns += ["kecamatan_name", "kabupaten_code", "kabupaten_name"]
    elif level == "kecamatan":
        columns += ["kabupaten_code", "kabupaten_name"]
    table = store.layer(unit.layer or "")
    return pd.DataFrame({c: table[c].astype(str).to_numpy() for c in columns if c in table})


def _measures(
    frame: ScoringFrame, store: LayerStore, spec: IndicatorSpec, year: int, level: str
) -> dict[str, FloatArray]:
    """Population, poverty rate, H and M0 per unit of ``level`` in ``year``."""
    year, rows = frame.year_rows(year)
    summary = frame.summarize(frame.score_cells(spec, year), spec, level)
    pos = _village_to_level(store, frame, level)
    n = frame.n_groups[level]
    people = np.nan_to_num(rows["population"].to_numpy(np.float64))
    poor = np.nan_to_num(rows["poor_population"].to_numpy(np.float64)) if "poor_population" in rows else None
    population = np.bincount(pos, weights=people, minlength=n)
    if poor is None:
        rate = poor_people = np.full(n, np.nan)
    else:
        poor_people = np.bincount(pos, weights=poor, minlength=n)
        with np.errstate(divide="ignore", invalid="ignore"):
            rate = np.where(population > 0, 100 * poor_people / population, np.nan)
    return {
        "population": population,
        "poverty_rate": rate,
        "H": summary.H,
        "M0": summary.M0,
        "poor_population": poor_people,
    }


def _village_to_level(store: LayerStore, frame: ScoringFrame, level: str) -> IntArray:
    """Position of each village (in scoring order) among the units of ``level``."""
    if level == "village":
        return np.arange(len(frame.village_codes))
    unit = level_schema(level)
    layer, code = unit.layer or "", unit.id_column or ""
    villages = store.layer("villages")
    at = pd.Index(villages["village_code"].astype(str)).get_indexer(frame.village_codes.astype(str))
    wanted = villages[code].astype(str).to_numpy()[at]
    pos = pd.Index(store.layer(layer)[code].astype(str)).get_indexer(wanted)
    if (pos < 0).any():
        raise InvalidQuery(f"villages name a {level} code the {layer} layer lacks")
    return pos.astype(np.int64)


def _field(key: str) -> str:
    """The field a change column is read as: ``H_change`` as ``H``, ``*_change_rel`` as a fraction."""
    if key.endswith("_change_rel"):
        return "coverage"  # a fraction, 4 decimals
    if key in ("crossing_from", "crossing_to", "crossing_cutoff"):
        return "crossing_value"  # the indicator's own unit: as many digits as it has (up to 12)
    for suffix in ("_from", "_to", "_change"):
        if key.endswith(suffix):
            return key.removesuffix(suffix)
    return key


def _shown(key: str, value: Any) -> Any:
    return round_value(_field(key), value)


def changes_to_csv(table: pd.DataFrame) -> str:
    """A `changes` table as CSV text, numbers rounded as a person reads them."""
    shown = table.copy()
    for column in shown.columns:
        if pd.api.types.is_float_dtype(shown[column]):
            shown[column] = round_array(_field(str(column)), shown[column].to_numpy(np.float64))
    return shown.to_csv(index=False)


def changes_to_json(
    table: pd.DataFrame, year_from: int, year_to: int, level: str, spec: IndicatorSpec, rank_by: str = "M0"
) -> dict[str, Any]:
    """Convert a `changes` table to the ``GET /changes`` answer; NaN becomes None.

    Parameters
    ----------
    table
        Output of `changes`.
    year_from, year_to, level, spec, rank_by
        As passed to `changes`.

    Returns
    -------
    dict
        ``{"from", "to", "level", "rank_by", "spec", "units": [row, ...]}``, rows in rank order.
    """
    records = [{k: _shown(k, v) for k, v in row.items()} for row in table.to_dict(orient="records")]
    return {
        "from": year_from,
        "to": year_to,
        "level": level,
        "rank_by": rank_by,
        "spec": spec_to_dict(spec),
        "indicator_titles": indicator_titles(spec),
        "units": records,
    }
