"""The change gate: a build shows its headline figures beside those of the store it would replace,
and refuses to replace it when they shift beyond the config's tolerances.

A wrong source file that still parses (a column in thousands, a shifted year, half the villages
missing) produces a store that looks fine and silently changes every number a district office
has already published. The gate makes such a build stop and say what moved; a deliberate change
passes with ``sasaran build --accept-changes``.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from layers.config import ChangeGate
from layers.errors import SasaranError
from layers.store import LayerStore, read_manifest


class ChangeRefused(SasaranError, ValueError):
    """The new build's headline figures moved beyond the tolerances; the old store is kept."""


@dataclass(frozen=True)
class Headline:
    """The figures compared between builds (the default year's)."""

    year: int
    population: float
    villages_with_cells: int
    H: float
    M0: float
    kabupaten: dict[str, tuple[str, float, float]] = field(default_factory=dict)
    """Kabupaten code → (name, H, M0)."""


@dataclass(frozen=True)
class Shift:
    """One compared figure."""

    what: str
    old: float
    new: float
    change: float
    limit: float
    relative: bool

    @property
    def exceeded(self) -> bool:
        """Whether the change is beyond the tolerance (a figure that appears or vanishes is)."""
        return not math.isfinite(self.change) or abs(self.change) > self.limit + 1e-12


def headline_of(kabupaten: pd.DataFrame, villages: pd.DataFrame, year: int) -> Headline:
    """The headline of a build from its kabupaten and villages layers (or the frames about to be written)."""
    people = kabupaten["population"].to_numpy(np.float64)
    total = float(people.sum())
    poor = float((kabupaten["H"].fillna(0) * people).sum())
    weighted_m0 = float((kabupaten["M0"].fillna(0) * people).sum())
    rows = zip(
        kabupaten["kabupaten_code"].astype(str),
        kabupaten["kabupaten_name"].astype(str),
        kabupaten["H"].astype(float),
        kabupaten["M0"].astype(float),
        strict=True,
    )
    return Headline(
        year=year,
        population=total,
        villages_with_cells=int((villages["n_cells"].to_numpy() > 0).sum()),
        H=poor / total if total else math.nan,
        M0=weighted_m0 / total if total else math.nan,
        kabupaten={code: (name, h, m0) for code, name, h, m0 in rows},
    )


def headline_of_store(store_dir: Path) -> Headline | None:
    """The headline of the store at ``store_dir``, or None when there is no readable store there."""
    try:
        manifest = read_manifest(store_dir)
        files = manifest["files"]
        kabupaten = pd.read_parquet(
            store_dir / files["kabupaten"],
            columns=["kabupaten_code", "kabupaten_name", "population", "H", "M0"],
        )
        villages = pd.read_parquet(store_dir / files["villages"], columns=["n_cells"])
    except (OSError, ValueError, KeyError):
        return None
    return headline_of(kabupaten, villages, LayerStore(store_dir, manifest).default_year or 0)


def compare(old: Headline, new: Headline, gate: ChangeGate) -> list[Shift]:
    """Every compared figure, old beside new, with its tolerance."""
    shifts = [
        _relative("population", old.population, new.population, gate.population_rel),
        _relative("villages with cells", old.villages_with_cells, new.villages_with_cells, gate.villages_rel),
        Shift("province H", old.H, new.H, new.H - old.H, gate.province_h_abs, False),
        Shift("province M0", old.M0, new.M0, new.M0 - old.M0, gate.province_m0_abs, False),
    ]
    for code in sorted(set(old.kabupaten) | set(new.kabupaten)):
        name, h_old, m0_old = old.kabupaten.get(code, (None, math.nan, math.nan))
        new_name, h_new, m0_new = new.kabupaten.get(code, (None, math.nan, math.nan))
        label = f"{new_name or name} ({code})"
        shifts.append(Shift(f"{label} H", h_old, h_new, h_new - h_old, gate.kabupaten_h_abs, False))
        shifts.append(Shift(f"{label} M0", m0_old, m0_new, m0_new - m0_old, gate.kabupaten_m0_abs, False))
    return shifts


def _relative(what: str, old: float, new: float, limit: float) -> Shift:
    change = (new - old) / old if old else (0.0 if new == old else math.inf)
    return Shift(what, float(old), float(new), change, limit, True)


def render(shifts: list[Shift], old_year: int, new_year: int) -> str:
    """The comparison as text: figures beyond tolerance marked, the rest summarised."""
    lines = [f"Compared with the store it replaces ({old_year} → {new_year}):"]
    for shift in shifts:
        if shift.relative or shift.exceeded or shift.what.startswith("province"):
            change = f"{100 * shift.change:+.1f} %" if shift.relative else f"{shift.change:+.3f}"
            limit = f"{100 * shift.limit:.0f} %" if shift.relative else f"{shift.limit:.3f}"
            mark = "  REFUSED" if shift.exceeded else ""
            figures = f"{_as_text(shift.old)} → {_as_text(shift.new)}"
            lines.append(f"  {shift.what}: {figures} ({change}, limit ±{limit}){mark}")
    within = [s for s in shifts if not s.exceeded and not s.relative and not s.what.startswith("province")]
    if within:
        lines.append(f"  {len(within)} kabupaten figure(s) within tolerance")
    return "\n".join(lines)


def _as_text(value: float) -> str:
    """A headline figure as the comparison prints it: people whole, shares to 3 decimals."""
    if not math.isfinite(value):
        return "none"
    return f"{value:,.0f}" if abs(value) >= 100 or float(value).is_integer() else f"{value:.3f}"


def check(store_dir: Path, new: Headline, gate: ChangeGate, accept: bool) -> str | None:
    """Compare ``new`` with the store at ``store_dir``; `ChangeRefused` when beyond tolerance.

    Returns the comparison text (None when there is no store to compare with).
    """
    old = headline_of_store(store_dir)
    if old is None:
        return None
    shifts = compare(old, new, gate)
    text = render(shifts, old.year, new.year)
    refused = [s for s in shifts if s.exceeded]
    if refused and not accept:
        raise ChangeRefused(
            f"{store_dir}: not replaced: {len(refused)} headline figure(s) moved beyond the tolerances of "
            f"[change_gate] in the build config.\n{text}\nIf the change is intended, run the build again "
            "with --accept-changes; if not, check the sources (units, thousands separators, CRS, year)."
        )
    return text
