"""Change between two years per village, kecamatan or kabupaten: poverty rate, H and M0.

Both years are scored with the same indicator spec (the cells' access values are static, the
village values come from each year's poverty table), so a change reflects the villages' poverty
figures, not a change of method. Units are ranked by their fall in one measure, largest fall
first: the kabupaten planners commend.
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
from layers.store import LayerStore
from layers.types import FloatArray, IntArray

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
    out["rank"] = out[f"{rank_by}_change"].rank(method="min", na_option="keep").astype("Int64")
    order = [*units.columns, "population_from", "population_to"]
    order += [f"{name}_{part}" for name in MEASURES for part in ("from", "to", "change", "change_rel")]
    out = out[[*order, "rank"]]
    return out.sort_values(["rank", units.columns[0]], na_position="last").reset_index(drop=True)


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
        rate = np.full(n, np.nan)
    else:
        with np.errstate(divide="ignore", invalid="ignore"):
            rate = np.where(
                population > 0, 100 * np.bincount(pos, weights=poor, minlength=n) / population, np.nan
            )
    return {"population": population, "poverty_rate": rate, "H": summary.H, "M0": summary.M0}


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
        "units": records,
    }
