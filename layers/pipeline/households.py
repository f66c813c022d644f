"""The register's part of a build: families placed and scored, aggregates, the encrypted register.

`place_and_score` runs after the cells are scored (`layers.pipeline.compute.compute`): it gives every
family with coordinates its H3 cell, prepares a `layers.scoring.households.HouseholdFrame` on the
build's own arrays, scores every register year with the household spec and aggregates the
families to villages, kecamatan, kabupaten and the province. `write` puts the register into the
store being written: its values in the clear, its names, NIKs, addresses and coordinates encrypted
(`layers.register`).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from layers.config import BuildConfig
from layers.errors import ConfigError
from layers.geo import grid
from layers.register import (
    DIRECTORY,
    KEY_ENV,
    KEY_FILE_ENV,
    MIN_FAMILIES,
    RegisterKey,
    load_key,
    split,
    write_register,
)
from layers.scoring.households import HouseholdFrame, default_household_spec, totals, village_access
from layers.scoring.rescore import ScoringFrame
from layers.scoring.spec import IndicatorSpec, load_spec, restrict_to_columns, spec_to_dict
from layers.sources.households import validate_families
from layers.store import HouseholdsEntry
from layers.types import CellIds, FloatArray, IntArray

if TYPE_CHECKING:
    from layers.verification.snapshots import VerifiedRegister

log = logging.getLogger(__name__)


def register_key(config: BuildConfig) -> RegisterKey | None:
    """The key a build with a register encrypts it with; None without a register.

    Raises
    ------
    ConfigError
        A register without a key: its names and addresses cannot be stored in the clear.
    """
    source = config.sources.households
    if source is None:
        return None
    key = load_key(config.resolve(source.key_file) if source.key_file else None)
    if key is None:
        raise ConfigError(
            f"[sources.households]: the register's names, NIKs and addresses are stored encrypted, and "
            f"no key is given: set {KEY_ENV} (base64) or {KEY_FILE_ENV}, or key_file in "
            "[sources.households]; make a key with `sasaran households keygen --out FILE` and keep it "
            "outside the store"
        )
    return key


def with_verified(
    register: pd.DataFrame | None,
    verified: VerifiedRegister,
    config: BuildConfig,
    villages: pd.DataFrame,
    years: list[int],
) -> pd.DataFrame:
    """The register a build uses with ``sasaran build --verified``: the verification snapshot's
    families for its year (checked by the register's rules, like a file), the register file's for
    the other years.

    Parameters
    ----------
    register
        The register file's families (`layers.sources.read_households`), if the config names one.
    verified
        The snapshot (`layers.verification.snapshots.verified_register`).
    config
        The build config (``synthetic``, ``nik_any_province``).
    villages
        The build's villages (codes and polygons).
    years
        The poverty table's years; the snapshot's year must be one of them.

    Returns
    -------
    pandas.DataFrame
        Canonical columns, as `layers.sources.read_households` returns them.
    """
    source = config.sources.households
    if verified.year not in years:
        raise ConfigError(
            f"--verified: the verification round is of {verified.year}, not a year of the poverty table "
            f"({', '.join(map(str, years))})"
        )
    checked = validate_families(
        verified.frame,
        f"verification snapshot {verified.entry['id']}",
        villages["village_code"].astype(str).tolist(),
        synthetic=config.synthetic,
        nik_any_province=bool(source and source.nik_any_province),
        villages=villages[["village_code", "geometry"]],
        years=years,
    )
    if register is None or register.empty:
        return checked
    others = register[register["year"] != verified.year]
    combined = pd.concat([others, checked], ignore_index=True)
    order = np.lexsort(
        (np.arange(len(combined)), combined["village_code"].to_numpy(str), combined["year"].to_numpy())
    )
    return combined.iloc[order].reset_index(drop=True)


def household_spec(config: BuildConfig) -> IndicatorSpec:
    """The build's household indicator spec: ``[sources.households] indicators``, else the packaged set."""
    source = config.sources.households
    if source is not None and source.indicators is not None:
        return load_spec(config.resolve(source.indicators))
    return default_household_spec()


@dataclass
class HouseholdResult:
    """The register as scored by one build (or partition): what is stored and reported."""

    register: pd.DataFrame
    """Canonical register plus each family's ``h3`` cell (null without usable coordinates)."""
    spec: IndicatorSpec
    dropped: list[str]
    years: list[int]
    aggregates: dict[int, dict[str, dict[str, FloatArray]]]
    """Year -> level -> `layers.scoring.households.HOUSEHOLD_COLUMNS` (suppressed)."""
    placed: int
    """Families placed in their own H3 cell (the others take their village's access)."""
    totals: dict[int, dict[str, float]] = field(default_factory=dict)
    """Year -> `layers.scoring.households.TOTALS` of the whole build (unsuppressed: to combine
    partitions; never published)."""
    frame: HouseholdFrame | None = field(default=None, repr=False)

    def manifest(self) -> HouseholdsEntry:
        """The manifest's ``households`` entry (no key, no personal value)."""
        counts = self.register.groupby("year").size()
        province: dict[str, dict[str, float | None]] = {}
        for year, levels in self.aggregates.items():
            whole = levels.get("all", levels["province"])
            province[str(year)] = {name: _num(values[0]) for name, values in whole.items()}
        return {
            "families": {str(int(y)): int(n) for y, n in counts.items()},
            "years": self.years,
            "dated": bool(self.register.attrs.get("dated", True)),
            "placed_by_cell": self.placed,
            "min_families": MIN_FAMILIES,
            "indicators": {**spec_to_dict(self.spec), "dropped": list(self.dropped)},
            "province": province,
        }


def _num(value: Any) -> float | None:
    value = float(value)
    return value if np.isfinite(value) else None


def place_and_score(
    config: BuildConfig,
    register: pd.DataFrame,
    frame: ScoringFrame,
    cells: CellIds,
    cell_people: FloatArray,
    village_pos: IntArray,
) -> HouseholdResult:
    """Place the families in their cells, score every register year and aggregate them.

    Parameters
    ----------
    config
        The build config (resolution, household spec).
    register
        The canonical register (`layers.sources.households.read_households`).
    frame
        The build's scoring frame (cells of this build or partition).
    cells, cell_people, village_pos
        The build's cells (sorted ids), their people in the stored year and their villages.
    """
    register = register.copy(deep=False)  # a new column, the register's columns shared
    cell = np.full(len(register), -1, np.int64)
    if "lon" in register:
        given = np.flatnonzero(register["lon"].notna().to_numpy())
        found = grid.positions_of(
            cells,
            grid.lonlat_to_cells(register["lon"].to_numpy()[given], register["lat"].to_numpy()[given],
                                 config.h3_resolution),
        )  # fmt: skip
        cell[given] = found
    # A family outside every cell of the build (on a coast the cells do not reach) takes its
    # village's access, like a family without coordinates.
    # Each family's cell id as text, taken from the build's cells' (a family's cell is one of them).
    ids = grid.cells_to_strings(cells)
    h3 = pc.take(pa.array(ids, pa.large_string()), pa.array(cell, mask=cell < 0))
    register["h3"] = pd.array(h3, dtype="string")
    means = village_access(frame.cell_columns, cell_people, village_pos, len(frame.village_codes))
    households = HouseholdFrame.build(register, frame, pd.Index(ids), means, cell_pos=cell)
    spec, dropped = restrict_to_columns(household_spec(config), households.columns())
    if dropped:
        log.warning("household indicators dropped for lack of a register column: %s", dropped)
    years = households.years
    aggregates = {year: households.aggregates(spec, year) for year in years}
    sums = {year: totals(households.level_values(households.score(spec, year), spec, "province", raw=True)[0])
            for year in years}  # fmt: skip
    placed = int((cell >= 0).sum())
    return HouseholdResult(register, spec, dropped, years, aggregates, placed, sums, households)


def write(root: Path, result: HouseholdResult, key: RegisterKey, part: str = "") -> None:
    """Write the register into the store being written (``households/``, or its partition's part)."""
    values, personal = split(result.register)
    directory = root / DIRECTORY / (f"province={part}" if part else "")
    write_register(directory, values, personal, key, part)
