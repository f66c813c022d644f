"""The change gate: a build shows its headline figures beside those of the store it would replace,
and refuses to replace it when they shift beyond the config's tolerances.

A wrong source file that still parses (a column in thousands, a shifted year, half the villages
missing) produces a store that looks fine and silently changes every number a district office
has already published. The gate makes such a build stop and say what moved; a deliberate change
passes with ``sasaran build --accept-changes``.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field, replace
from pathlib import Path

import numpy as np
import pandas as pd

from layers.config import ChangeGate
from layers.errors import SasaranError
from layers.store import read_manifest


class ChangeRefused(SasaranError, ValueError):
    """The new build's headline figures moved beyond the tolerances; the old store is kept."""


@dataclass(frozen=True)
class Headline:
    """The figures of one year compared between builds."""

    year: int
    population: float
    villages_with_cells: int
    H: float
    M0: float
    kabupaten: dict[str, tuple[str, float, float]] = field(default_factory=dict)
    """Kabupaten code → (name, H, M0)."""
    villages: pd.DataFrame | None = field(default=None, compare=False, repr=False)
    """Village code → the source figures of that year (`VILLAGE_FIGURES` the build has)."""


@dataclass(frozen=True)
class Shift:
    """One compared figure."""

    what: str
    old: float
    new: float
    change: float
    limit: float
    relative: bool
    text: str | None = None
    """How to show it, when not as old → new (a count of villages, a year that disappeared)."""

    @property
    def exceeded(self) -> bool:
        """Whether the change is beyond the tolerance (a figure that appears or vanishes is)."""
        return not math.isfinite(self.change) or abs(self.change) > self.limit + 1e-12


#: The source figures compared village by village in every year both builds hold.
VILLAGE_FIGURES = ("population", "poor_population", "poverty_rate")
#: The area figures a year's headline is summed from (village_years columns).
_SUMMED = ("population", "mpi_poor_population", "scored_population", "M0")


def headlines_of(villages: pd.DataFrame, village_years: pd.DataFrame) -> dict[int, Headline]:
    """Every year's headline of a build from its villages and village_years layers.

    Kabupaten and province H and M0 are the sums of their villages' (MPI-poor people and M0 over
    scored people), which is what the build's area layers hold for their year.
    """
    units = villages[["village_code", "kabupaten_code", "kabupaten_name"]].astype(str)
    n_cells = int((villages["n_cells"].to_numpy() > 0).sum())
    rows = village_years.assign(village_code=village_years["village_code"].astype(str))
    rows = rows.merge(units, on="village_code", how="left")
    out: dict[int, Headline] = {}
    for year, part in rows.groupby("year"):
        scored = part["scored_population"].to_numpy(np.float64)
        poor = part["mpi_poor_population"].to_numpy(np.float64)
        m0 = np.nan_to_num(part["M0"].to_numpy(np.float64)) * scored
        kab = (
            pd.DataFrame(
                {
                    "code": part["kabupaten_code"],
                    "name": part["kabupaten_name"],
                    "s": scored,
                    "p": poor,
                    "m": m0,
                }
            )
            .groupby(["code", "name"], sort=True)[["s", "p", "m"]]
            .sum()
        )
        with np.errstate(invalid="ignore", divide="ignore"):
            kabupaten = {
                str(code): (
                    str(name),
                    float(r.p / r.s) if r.s else math.nan,
                    float(r.m / r.s) if r.s else math.nan,
                )
                for (code, name), r in kab.iterrows()
            }
        total = float(np.nansum(scored))
        figures = [c for c in VILLAGE_FIGURES if c in part.columns]
        if "poor_population" in figures and "poverty_rate" in figures:
            figures.remove("poverty_rate")  # the build derives it from the counts
        out[int(year)] = Headline(
            year=int(year),
            population=float(np.nansum(part["population"].to_numpy(np.float64))),
            villages_with_cells=n_cells,
            H=_ratio(np.nansum(poor), total),
            M0=_ratio(np.nansum(m0), total),
            kabupaten=kabupaten,
            villages=part.set_index("village_code")[figures],
        )
    return out


def _ratio(part: float, whole: float) -> float:
    return float(part) / float(whole) if whole else math.nan


def headline_of(kabupaten: pd.DataFrame, villages: pd.DataFrame, year: int) -> Headline:
    """One year's headline from its kabupaten and villages layers (without village figures)."""
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


def headlines_of_store(store_dir: Path) -> dict[int, Headline] | None:
    """Every year's headline of the store at ``store_dir``, or None when there is no readable store."""
    try:
        manifest = read_manifest(store_dir)
        files = manifest["files"]
        villages = pd.read_parquet(
            store_dir / files["villages"],
            columns=["village_code", "kabupaten_code", "kabupaten_name", "n_cells"],
        )
        village_years = pd.read_parquet(store_dir / files["village_years"])
    except (OSError, ValueError, KeyError):
        return None
    return headlines_of(villages, village_years)


def headline_of_store(store_dir: Path) -> Headline | None:
    """The latest year's headline of the store at ``store_dir`` (None: no readable store)."""
    headlines = headlines_of_store(store_dir)
    return headlines[max(headlines)] if headlines else None


def compare(old: Headline, new: Headline, gate: ChangeGate) -> list[Shift]:
    """Every compared figure of one year, old beside new, with its tolerance."""
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
    if old.villages is not None and new.villages is not None:
        shifts.append(_villages_moved(old.villages, new.villages, gate))
    return shifts


def _villages_moved(old: pd.DataFrame, new: pd.DataFrame, gate: ChangeGate) -> Shift:
    """The share of villages whose source figures for an already published year changed.

    A year already built keeps its figures unless its source was revised: swapped or shifted
    years, a column in another unit or from another table move most villages at once, while their
    sums may hardly move (a swap of two similar years leaves the province H within tolerance).
    """
    both = old.index.intersection(new.index)
    figures = [c for c in VILLAGE_FIGURES if c in old.columns and c in new.columns]
    moved = np.zeros(len(both), dtype=bool)
    for column in figures:
        a = old.loc[both, column].to_numpy(np.float64)
        b = new.loc[both, column].to_numpy(np.float64)
        with np.errstate(invalid="ignore"):
            change = np.abs(b - a)
            # Relative, with a floor: 26 → 28 poor people moved, 3 → 4 did not.
            moved |= (change > gate.village_rel * np.abs(a)) & (change > 1.0) | (np.isnan(a) != np.isnan(b))
    lost = len(old.index.difference(new.index))
    count = int(moved.sum()) + lost
    share = count / len(old) if len(old) else 0.0
    text = (
        f"villages whose {'/'.join(figures)} moved more than {100 * gate.village_rel:.0f} %: "
        f"{count:,} of {len(old):,} ({100 * share:.1f} %, limit {100 * gate.villages_moved:.0f} %)"
    )
    return Shift("villages moved", 0.0, share, share, gate.villages_moved, True, text)


def compare_years(old: dict[int, Headline], new: dict[int, Headline], gate: ChangeGate) -> list[Shift]:
    """Every year of the old store beside the new build's: a year that disappears is a change.

    A year the new build adds has nothing to compare with (the yearly update); a year the store had
    and the build lacks, or holds with other figures, is what the gate is for.
    """
    shifts: list[Shift] = []
    for year in sorted(set(old) | set(new)):
        if year not in new:
            text = f"in the store, missing from the build ({', '.join(map(str, sorted(new)))})"
            shifts.append(Shift(f"{year}: year", 1.0, 0.0, math.inf, 0.0, False, text))
        elif year in old:
            shifts += [replace(s, what=f"{year}: {s.what}") for s in compare(old[year], new[year], gate)]
    return shifts


def _relative(what: str, old: float, new: float, limit: float) -> Shift:
    change = (new - old) / old if old else (0.0 if new == old else math.inf)
    return Shift(what, float(old), float(new), change, limit, True)


def render(shifts: list[Shift], old_years: list[int], new_years: list[int]) -> str:
    """The comparison as text: figures beyond tolerance marked, the rest summarised."""
    added = sorted(set(new_years) - set(old_years))
    lines = [
        f"Compared with the store it replaces (years {_years(old_years)} → {_years(new_years)}"
        + (f"; {_years(added)} new, nothing to compare" if added else "")
        + "):"
    ]
    for shift in shifts:
        headline = shift.relative or shift.exceeded or shift.text or "province" in shift.what
        if not headline:
            continue
        mark = "  REFUSED" if shift.exceeded else ""
        if shift.text:
            lines.append(f"  {shift.what.split(':')[0]}: {shift.text}{mark}")
            continue
        change = f"{100 * shift.change:+.1f} %" if shift.relative else f"{shift.change:+.3f}"
        limit = f"{100 * shift.limit:.0f} %" if shift.relative else f"{shift.limit:.3f}"
        figures = f"{_as_text(shift.old)} → {_as_text(shift.new)}"
        lines.append(f"  {shift.what}: {figures} ({change}, limit ±{limit}){mark}")
    within = [s for s in shifts if not (s.relative or s.exceeded or s.text or "province" in s.what)]
    if within:
        lines.append(f"  {len(within)} kabupaten figure(s) within tolerance")
    return "\n".join(lines)


def _years(years: list[int]) -> str:
    return ", ".join(map(str, sorted(years))) or "none"


def _as_text(value: float) -> str:
    """A headline figure as the comparison prints it: people whole, shares to 3 decimals."""
    if not math.isfinite(value):
        return "none"
    return f"{value:,.0f}" if abs(value) >= 100 or float(value).is_integer() else f"{value:.3f}"


def check(store_dir: Path, new: dict[int, Headline], gate: ChangeGate, accept: bool) -> str | None:
    """Compare every year of ``new`` with the store at ``store_dir``; `ChangeRefused` beyond tolerance.

    Returns the comparison text (None when there is no store to compare with: the build's own
    plausibility checks are source checks, `layers.sources`, and ran all the same).
    """
    old = headlines_of_store(store_dir)
    if old is None:
        return None
    shifts = compare_years(old, new, gate)
    text = render(shifts, list(old), list(new))
    refused = [s for s in shifts if s.exceeded]
    if refused and not accept:
        raise ChangeRefused(
            f"{store_dir}: not replaced: {len(refused)} figure(s) moved beyond the tolerances of "
            f"[change_gate] in the build config.\n{text}\nIf the change is intended, run the build again "
            "with --accept-changes; if not, check the sources (units, thousands separators, CRS, years)."
        )
    return text
