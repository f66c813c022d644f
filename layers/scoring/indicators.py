"""The per-unit indicator table: raw values per village-year and per cell, and area aggregates.

Raw values (percent, minutes, km) are stored, never only 0/1 flags, so any cutoff, weight or k can be
applied later without a rebuild (issue 3). Year-varying values belong to villages; a cell takes
its village's value for a year by position (``village_pos``), never by a join.
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np
import pandas as pd

from layers.errors import ConfigError
from layers.types import FloatArray, IntArray

#: Indicators computed per village and year from the poverty table: name -> (numerator, denominator,
#: scale). A ``*_share`` is a fraction 0-1 like every share Sasaran shows; ``poverty_rate`` is in
#: percent, as BPS publishes it (5.17 %). A zero or missing denominator gives NaN (the unit is then
#: excluded).
YEARLY_SHARES: dict[str, tuple[str, str, float]] = {
    "poverty_rate": ("poor_population", "population", 100.0),
    "extreme_poor_share": ("hh_decile_1", "households", 1.0),
    "no_electricity_share": ("hh_no_electricity", "households", 1.0),
    "no_safe_water_share": ("hh_no_safe_water", "households", 1.0),
    "no_sanitation_share": ("hh_no_sanitation", "households", 1.0),
    "elderly_share": ("elderly", "population", 1.0),
}


def add_yearly_indicators(poverty: pd.DataFrame) -> pd.DataFrame:
    """Return a copy of the poverty table with the `YEARLY_SHARES` rate and shares added.

    Where the source gives ``poverty_rate`` directly and no poor-population count, it is kept.
    """
    out = poverty.copy()
    for name, (numerator, denominator, scale) in YEARLY_SHARES.items():
        if numerator in out and denominator in out:
            den = out[denominator].to_numpy(np.float64)
            with np.errstate(divide="ignore", invalid="ignore"):
                out[name] = np.where(den > 0, scale * out[numerator].to_numpy(np.float64) / den, np.nan)
    return out


def available_columns(cell_columns: Mapping[str, FloatArray], village_year: pd.DataFrame) -> set[str]:
    """Names an indicator spec may use: static cell columns and yearly village columns."""
    return set(cell_columns) | {c for c in village_year.columns if c not in ("village_code", "year")}


def indicator_matrix(
    columns: list[str],
    cell_columns: Mapping[str, FloatArray],
    village_year: pd.DataFrame,
    village_pos: IntArray,
) -> FloatArray:
    """Cells × indicators matrix of raw values for one year.

    Parameters
    ----------
    columns
        The spec's raw value columns, in indicator order.
    cell_columns
        Static per-cell arrays (travel times, distances).
    village_year
        One year's village rows, in village position order.
    village_pos
        Each cell's village position.
    """
    matrix = np.empty((len(village_pos), len(columns)), np.float64)
    for j, column in enumerate(columns):
        if column in cell_columns:
            matrix[:, j] = cell_columns[column]
        elif column in village_year.columns:
            matrix[:, j] = village_year[column].to_numpy(np.float64)[village_pos]
        else:
            raise ConfigError(f"indicator column '{column}' is neither a cell nor a village column")
    # Unreachable travel time is +inf: deprived under any "above" cutoff, which is what it means.
    return matrix


def weighted_mean(values: FloatArray, weights: FloatArray, groups: IntArray, n_groups: int) -> FloatArray:
    """Weighted mean per group over finite values; NaN for a group with none.

    Examples
    --------
    >>> weighted_mean(np.array([1.0, 3.0, np.inf]), np.array([1.0, 1.0, 5.0]), np.array([0, 0, 1]), 2)
    array([ 2., nan])
    """
    finite = np.isfinite(values)
    w = np.where(finite, weights, 0.0)
    total = np.bincount(groups, weights=w, minlength=n_groups)
    summed = np.bincount(groups, weights=np.where(finite, values, 0.0) * w, minlength=n_groups)
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(total > 0, summed / total, np.nan)


def share_in_village(cell_people: FloatArray, village_pos: IntArray, n_villages: int) -> FloatArray:
    """Each cell's share of its village's people (0 in a village with nobody).

    A cell's people in another year is this share times that year's village total, so the
    raster's settlement pattern carries over while the poverty table sets the totals.

    Examples
    --------
    >>> share_in_village(np.array([1.0, 3.0, 0.0]), np.array([0, 0, 1]), 2)
    array([0.25, 0.75, 0.  ])
    """
    village_people = np.bincount(village_pos, weights=cell_people, minlength=n_villages)
    total = village_people[village_pos]
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(total > 0, cell_people / total, 0.0)
