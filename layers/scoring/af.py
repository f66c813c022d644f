"""Alkire-Foster counting on arrays (docs/method.md): deprivations, scores and their aggregates.

Pure numpy, no I/O. Units are rows of a ``(n, m)`` value matrix whose columns follow the
`IndicatorSpec` order; the CLI, the build and the service each convert their input to that matrix.

Conventions (OPHI practice):

* a value exactly at its cutoff is not deprived (deprivation is strictly beyond the cutoff);
* a unit is poor iff ``c >= k``, compared with the tolerance `K_TOLERANCE` so that floating error
  never flips a unit sitting exactly on ``k`` (``1/6 + 1/6`` at ``k = 1/3`` is poor);
* the bands are OPHI's fixed ones, whatever ``k`` is: vulnerable ``1/5 <= c < 1/3`` and severe
  ``c >= 1/2``, with the same tolerance (a unit exactly on 1/3 is not vulnerable, one on 1/2 is
  severe);
* a unit missing any indicator value is excluded from numerator and denominator alike (complete-case)
  and counted in ``n_excluded``.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd
from scipy import sparse

from layers.errors import InvalidQuery
from layers.rounding import finite_or_none
from layers.scoring.spec import IndicatorSpec
from layers.types import BoolArray, FloatArray, IntArray

#: Tolerance of the comparisons ``c >= k``, ``c >= 0.2``, ``c < 1/3`` and ``c >= 0.5``. A score is a sum of at
#: most a few dozen weights, so its rounding error is ~1e-16 per term; weights are accepted when they
#: sum to 1 within 1e-9 (decimal weights written to 9 places), so a unit deprived in exactly a third
#: of decimal weights may sit up to ~1e-9 below 1/3. A tolerance of 1e-9 makes both cases poor, and
#: no meaningful score lies within 1e-9 below a cutoff.
K_TOLERANCE = 1e-9

#: OPHI's vulnerable band, 20 % <= c < 33.3 %, and its severe band, c >= 50 %. They are fixed and
#: do not move with k (OPHI's global MPI methodological notes define them on the score alone): at
#: k = 1/2 a unit with c = 0.4 is neither poor nor "vulnerable".
VULNERABLE_FROM = 0.2
VULNERABLE_BELOW = 1 / 3
SEVERE_FROM = 0.5


@dataclass(frozen=True)
class UnitScores:
    """Per-unit results of `score_units` (arrays of length n, or n × m for ``deprived``)."""

    c: FloatArray
    """Weighted deprivation score in [0, 1]; NaN for incomplete units."""
    poor: BoolArray
    """``c >= k`` (with `K_TOLERANCE`); False for incomplete units."""
    vulnerable: BoolArray
    """``0.2 <= c < 1/3`` (OPHI's fixed band, independent of k)."""
    severe: BoolArray
    """``c >= 0.5``."""
    deprived: BoolArray
    """Uncensored deprivation matrix g (n × m); all False on incomplete rows."""
    complete: BoolArray
    """True where every indicator value is present."""
    k: float
    """The poverty cutoff used."""
    profile: IntArray
    """Row of `profiles` holding each unit's deprivation profile (its row of ``deprived``)."""
    weights: FloatArray
    """The indicator weights used."""
    profiles: BoolArray
    """The distinct deprivation profiles (P × m). Units sharing a profile share c and every flag, so
    aggregates are computed per (group, profile): one ``bincount`` and one small matmul per level."""

    def __len__(self) -> int:
        return len(self.c)


@dataclass(frozen=True)
class Summary:
    """Population-weighted aggregates per group (length-1 arrays when ungrouped).

    Ratios are NaN where undefined: ``H`` and ``M0`` of a group with no population, ``A`` where
    nobody is poor (OPHI reports intensity as undefined there), contributions where ``M0 == 0``.
    """

    k: float
    n_units: IntArray
    """Complete units per group."""
    n_excluded: IntArray
    """Units dropped for a missing indicator value."""
    population: FloatArray
    """Sum of the weights of complete units."""
    H: FloatArray
    A: FloatArray
    M0: FloatArray
    vulnerable: FloatArray
    severe: FloatArray
    uncensored_headcount: FloatArray
    """groups × m."""
    censored_headcount: FloatArray
    """groups × m."""
    contribution_indicator: FloatArray
    """groups × m: ``w_j h_j(k) / M0``."""
    contribution_dimension: FloatArray
    """groups × dimensions."""
    pop_share: FloatArray
    """Group population / total population."""
    contribution_to_M0: FloatArray
    """``pop_share * M0_g / M0``: the group's share of the total M0 (sums to 1)."""

    @property
    def n_groups(self) -> int:
        """Number of groups (1 when ungrouped)."""
        return len(self.H)


def _check_values(values: Any, spec: IndicatorSpec) -> FloatArray:
    arr = np.asarray(values, dtype=np.float64)
    if arr.ndim != 2 or arr.shape[1] != len(spec):
        raise InvalidQuery(
            f"values should be an (n, {len(spec)}) matrix with one column per indicator "
            f"({', '.join(spec.names)}), got shape {arr.shape}"
        )
    return arr


def _complete_rows(values: FloatArray) -> BoolArray:
    # A NaN anywhere propagates through the row sum (one BLAS pass, ~5x faster than isnan().any()).
    # The sum is also NaN for rows holding +inf and -inf, so such rows are checked exactly.
    with np.errstate(invalid="ignore"):
        suspect = np.isnan(values @ np.ones(values.shape[1]))
    complete = ~suspect
    if suspect.any():
        complete[suspect] = ~np.isnan(values[suspect]).any(axis=1)
    return complete


def deprivations(values: Any, spec: IndicatorSpec) -> tuple[BoolArray, BoolArray]:
    """Return the deprivation matrix g and which rows are complete.

    Parameters
    ----------
    values
        ``(n, m)`` raw indicator values, columns in ``spec`` order; NaN marks a missing value.
    spec
        The indicator spec (cutoffs and directions).

    Returns
    -------
    tuple[ndarray, ndarray]
        ``g`` (bool, n × m): True where the value is strictly beyond the cutoff (``>`` for
        ``above``, ``<`` for ``below``), all False on incomplete rows; ``complete`` (bool, n).

    Examples
    --------
    >>> from layers.scoring.spec import default_spec
    >>> g, complete = deprivations([[9.03, 10, 3, 6, 10, 60, 120, 2, 10, 20, float("nan")]], default_spec())
    >>> int(g.sum()), complete.tolist()
    (0, [False])
    """
    arr = _check_values(values, spec)
    # "below" is "above" on negated values; negation is exact, so one compare serves both.
    sign = np.where(spec.above, 1.0, -1.0)
    g = arr * sign > spec.cutoffs * sign
    complete = _complete_rows(arr)
    if not complete.all():
        g[~complete] = False
    return g, complete


#: Up to this many indicators, profiles are found with a lookup table of all 2**m codes.
_LUT_MAX_INDICATORS = 20
#: Up to this many indicators, a profile code is exact in float64 (integers below 2**53).
_CODE_MAX_INDICATORS = 52


def _profiles(g: BoolArray) -> tuple[IntArray, BoolArray]:
    """Distinct rows of g and the row of each unit; the order of the profiles is unspecified.

    Every path is linear in cells × indicators plus one sort of one integer key per cell: a row is
    packed into integer codes, never compared column by column (``np.unique(g, axis=0)`` sorted a
    structured view of the rows: 7.6 s of CPU for 206,355 cells at 53 indicators, 0.3 s at 52).
    """
    n, m = g.shape
    if m > _CODE_MAX_INDICATORS:
        return _packed_profiles(g)
    bits = np.left_shift(1, np.arange(m, dtype=np.int64))
    # A uint8 view times float powers of two runs through BLAS and is exact below 2**53.
    codes = (g.view(np.uint8) @ bits.astype(np.float64)).astype(np.int64)
    if m <= _LUT_MAX_INDICATORS:
        present = np.flatnonzero(np.bincount(codes, minlength=1 << m))
        lookup = np.empty(1 << m, dtype=np.intp)
        lookup[present] = np.arange(len(present))
        inverse = lookup[codes]
    else:
        present, inverse = np.unique(codes, return_inverse=True)
    profiles = (present[:, None] & bits) != 0
    return inverse.reshape(n), profiles


def profile_words(g: BoolArray) -> np.ndarray:
    """Each row of g packed into ``ceil(m / 64)`` unsigned 64-bit words, first column most significant.

    Comparing the words of two rows in order compares the rows lexicographically (False < True),
    so sorting by them orders the rows as ``np.unique(g, axis=0)`` does, at the cost of one integer
    key per 64 indicators instead of m boolean fields.

    Parameters
    ----------
    g
        Boolean matrix, n × m.

    Returns
    -------
    ndarray
        ``uint64``, n × ceil(m / 64) (at least one column).
    """
    n, m = g.shape
    words = max(-(-m // 64), 1)
    packed = np.zeros((n, 8 * words), dtype=np.uint8)
    packed[:, : -(-m // 8)] = np.packbits(g, axis=1)
    return packed.view(">u8").astype(np.uint64)


def _packed_profiles(g: BoolArray) -> tuple[IntArray, BoolArray]:
    """`_profiles` for more indicators than a float code holds: rows as 64-bit words, one sort."""
    n, m = g.shape
    words = profile_words(g)
    if words.shape[1] == 1:
        present, inverse = np.unique(words[:, 0], return_inverse=True)
        firsts = present[:, None]
    else:  # more than 64 indicators (only through the library: a spec lists at most 64)
        order = np.lexsort(words[:, ::-1].T)
        ranked = words[order]
        starts = np.ones(n, dtype=bool)
        starts[1:] = (ranked[1:] != ranked[:-1]).any(axis=1)
        inverse = np.empty(n, dtype=np.intp)
        inverse[order] = np.cumsum(starts) - 1
        firsts = ranked[starts]
    as_bytes = np.ascontiguousarray(firsts.astype(">u8")).view(np.uint8)
    profiles = np.unpackbits(as_bytes, axis=1, count=m).astype(bool)
    return inverse.reshape(n).astype(np.intp), profiles


@dataclass(frozen=True)
class _ProfileScores:
    c: FloatArray
    poor: BoolArray
    vulnerable: BoolArray
    severe: BoolArray


def _score_profiles(profiles: BoolArray, weights: FloatArray, k: float) -> _ProfileScores:
    c = profiles @ weights
    poor = c >= k - K_TOLERANCE
    return _ProfileScores(
        c=c,
        poor=poor,
        vulnerable=(c >= VULNERABLE_FROM - K_TOLERANCE) & (c < VULNERABLE_BELOW - K_TOLERANCE),
        severe=c >= SEVERE_FROM - K_TOLERANCE,
    )


def _check_k(k: float) -> float:
    if not (isinstance(k, int | float) and 0 < k <= 1):
        raise InvalidQuery(f"k must be in (0, 1] (a share, not a percent), got {k!r}")
    return float(k)


def score_units(values: Any, spec: IndicatorSpec, k: float | None = None) -> UnitScores:
    """Score each unit: deprivation score c, poor, vulnerable and severe flags.

    Parameters
    ----------
    values
        ``(n, m)`` raw indicator values, columns in ``spec`` order; NaN marks a missing value.
    spec
        The indicator spec.
    k
        Poverty cutoff in (0, 1]; default ``spec.k``.

    Returns
    -------
    UnitScores
        Per-unit arrays.

    Examples
    --------
    >>> from layers.scoring.spec import default_spec
    >>> s = score_units([[10] + [0] * 10, [10, 11] + [0] * 9], default_spec())
    >>> s.c.tolist(), s.poor.tolist(), s.vulnerable.tolist()
    ([0.125, 0.25], [False, False], [False, True])
    """
    k = _check_k(spec.k if k is None else k)
    return scores_from_profiles(*deprivation_profiles(values, spec), spec.weights, k)


def deprivation_profiles(
    values: Any, spec: IndicatorSpec
) -> tuple[BoolArray, BoolArray, IntArray, BoolArray]:
    """The part of scoring that weights and k do not change: deprivations and their profiles.

    Returns ``(deprived, complete, profile, profiles)`` for `scores_from_profiles`; a caller that
    rescores the same values under many weights (the service, robustness checks) computes it once.
    """
    g, complete = deprivations(values, spec)
    profile, profiles = _profiles(g)
    return g, complete, profile, profiles


def scores_from_profiles(
    deprived: BoolArray,
    complete: BoolArray,
    profile: IntArray,
    profiles: BoolArray,
    weights: FloatArray,
    k: float,
) -> UnitScores:
    """Score units whose deprivations are already known, e.g. again under other weights or k.

    Parameters
    ----------
    deprived, complete, profile, profiles
        As in `UnitScores` (reuse those of an earlier `score_units` result).
    weights
        Indicator weights (length m, summing to 1).
    k
        Poverty cutoff in (0, 1].

    Returns
    -------
    UnitScores
        Per-unit arrays; c and the flags are computed once per profile, then gathered.
    """
    k = _check_k(k)
    w = np.asarray(weights, dtype=np.float64)
    per = _score_profiles(profiles, w, k)
    c = per.c[profile]
    c[~complete] = np.nan
    return UnitScores(
        c=c,
        poor=per.poor[profile] & complete,
        vulnerable=per.vulnerable[profile] & complete,
        severe=per.severe[profile] & complete,
        deprived=deprived,
        complete=complete,
        k=k,
        weights=w,
        profile=profile,
        profiles=profiles,
    )


def _dimension_matrix(spec: IndicatorSpec) -> FloatArray:
    """m × dims matrix with ``w_j`` in the column of indicator j's dimension."""
    out = np.zeros((len(spec), len(spec.dimensions)))
    out[np.arange(len(spec)), spec.dimension_index] = spec.weights
    return out


def dimension_share(scores: UnitScores, spec: IndicatorSpec) -> FloatArray:
    """Share of each unit's score c coming from each dimension (rows sum to 1).

    Parameters
    ----------
    scores
        Output of `score_units` with the same ``spec``.
    spec
        The indicator spec.

    Returns
    -------
    ndarray
        float, n × number of dimensions; NaN rows where c is 0 or the unit is incomplete.

    Examples
    --------
    >>> from layers.scoring.spec import default_spec
    >>> spec = default_spec()
    >>> dimension_share(score_units([[10, 11, 0, 0, 0, 0, 0, 9, 0, 0, 0]], spec), spec).round(3).tolist()
    [[0.8, 0.0, 0.0, 0.2]]
    """
    parts = scores.deprived @ _dimension_matrix(spec)
    with np.errstate(invalid="ignore", divide="ignore"):
        out = parts / scores.c[:, None]
    out[~(scores.c > 0)] = np.nan
    return out


def _check_weights(weights: Any, n: int) -> FloatArray:
    if weights is None:
        return np.ones(n)
    p = np.asarray(weights, dtype=np.float64)
    if p.shape != (n,):
        raise InvalidQuery(f"population weights should have shape ({n},), got {p.shape}")
    bad = ~(np.isfinite(p) & (p >= 0))
    if bad.any():
        first = int(np.flatnonzero(bad)[0])
        raise InvalidQuery(f"population weights must be finite and >= 0; unit {first} has {p[first]!r}")
    return p


def _check_groups(groups: Any, n_groups: int | None, n: int) -> tuple[IntArray, int]:
    if groups is None:
        return np.zeros(n, dtype=np.intp), 1
    gr = np.asarray(groups)
    if gr.shape != (n,) or not np.issubdtype(gr.dtype, np.integer):
        raise InvalidQuery(f"groups should be an integer array of shape ({n},), got {gr.dtype} {gr.shape}")
    if n_groups is None:
        n_groups = int(gr.max()) + 1 if n else 0
    if n and (gr.min() < 0 or gr.max() >= n_groups):
        raise InvalidQuery(f"group positions must lie in [0, {n_groups}), got {gr.min()}..{gr.max()}")
    return gr, n_groups


def _ratio(num: np.ndarray, den: np.ndarray) -> FloatArray:
    """num / den, NaN where den == 0 (broadcasting den over trailing axes of num)."""
    with np.errstate(invalid="ignore", divide="ignore"):
        out = num / den
    out[np.broadcast_to(den == 0, out.shape)] = np.nan
    return out


@dataclass(frozen=True)
class _GroupSums:
    """Population-weighted sums per group; every ratio of a `Summary` is one of these over another."""

    population: FloatArray
    poor: FloatArray
    intensity: FloatArray
    vulnerable: FloatArray
    severe: FloatArray
    uncensored: FloatArray
    censored: FloatArray


#: Above this many (group, profile) cells a dense table costs more than it saves (its matrix product
#: runs over every empty cell too), so it is kept sparse: only the pairs that occur.
_MAX_TABLE_CELLS = 1 << 20


@dataclass(frozen=True)
class GroupTable:
    """People per (group, deprivation profile) and units per group: all `summarize` needs of the units.

    It depends on the profiles, which units are complete, their weights and their groups, but not on the
    indicator weights or k: a caller rescoring the same units under other weights or k (the service)
    builds it once per level and summarises each request with one small matrix product.
    """

    n_groups: int
    people: FloatArray | sparse.csr_matrix
    """groups × profiles: dense when small (`_MAX_TABLE_CELLS`), else sparse (only pairs that occur)."""
    n_units: IntArray
    """Complete units per group."""
    n_all: IntArray
    """All units per group."""

    def sums(self, columns: FloatArray) -> FloatArray:
        """``people @ columns``: per-group sums of per-profile values (profiles × k)."""
        return np.asarray(self.people @ columns, dtype=np.float64)


@dataclass(frozen=True)
class WeightedScores:
    """One year's scores of units, with the weight each unit carries (a cell's people, a family's
    members): what the levels aggregate (`layers.scoring.rescore.CellScores`,
    `layers.scoring.households.FamilyScores`)."""

    year: int
    scores: UnitScores
    weights: FloatArray
    # The tables by level of the cache entry these scores came from, reused by the frame that made them.
    _tables: dict[str, GroupTable] | None = field(default=None, compare=False, repr=False)


def group_table(
    scores: UnitScores, weights: Any = None, groups: Any = None, n_groups: int | None = None
) -> GroupTable:
    """Tabulate units by (group, deprivation profile); see `summarize` for the parameters.

    Returns
    -------
    GroupTable
        For `summarize_table`.
    """
    n = len(scores.complete)
    p = _check_weights(weights, n)
    gr, n_groups = _check_groups(groups, n_groups, n)
    pc = np.where(scores.complete, p, 0.0)  # excluded units weigh nothing
    n_prof = len(scores.profiles)
    code = gr.astype(np.int64) * n_prof + scores.profile
    people: FloatArray | sparse.csr_matrix
    if n_groups * n_prof <= _MAX_TABLE_CELLS:
        table = np.bincount(code, weights=pc, minlength=n_groups * n_prof)
        people = table[: n_groups * n_prof].reshape(n_groups, n_prof)
    else:
        # Sorting the codes once costs more than a dense bincount, but a dense table of every village
        # and profile of a nation (87k × 1,200) would be 800 MB; only the pairs that occur are kept.
        pairs, at = _sorted_unique(code)
        sums = np.bincount(at.reshape(-1), weights=pc, minlength=len(pairs))
        people = sparse.csr_matrix((sums, (pairs // n_prof, pairs % n_prof)), shape=(n_groups, n_prof))
    n_units = np.bincount(gr, weights=scores.complete, minlength=n_groups)[:n_groups]
    n_all = np.bincount(gr, minlength=n_groups)[:n_groups]
    return GroupTable(n_groups, people, np.rint(n_units).astype(np.int64), n_all)


def _sorted_unique(values: IntArray) -> tuple[IntArray, IntArray]:
    """``np.unique(values, return_inverse=True)`` by hashing, then sorting only the distinct values
    (a few thousand (group, profile) pairs among a million units)."""
    codes, distinct = pd.factorize(values)
    order = np.argsort(distinct, kind="stable")
    rank = np.empty(len(order), np.intp)
    rank[order] = np.arange(len(order))
    return distinct[order], rank[codes]


def _sums_by_profile(scores: UnitScores, table: GroupTable) -> _GroupSums:
    # Every per-group sum is the table times a property of the profile: one small matrix product.
    per = _score_profiles(scores.profiles, scores.weights, scores.k)
    n_prof, m = scores.profiles.shape
    dep = scores.profiles.astype(np.float64)
    columns = np.column_stack(
        [
            np.ones(n_prof),
            per.poor,
            per.c * per.poor,
            per.vulnerable,
            per.severe,
            dep,
            dep * per.poor[:, None],
        ]
    )
    sums = table.sums(columns)
    return _GroupSums(
        population=sums[:, 0],
        poor=sums[:, 1],
        intensity=sums[:, 2],
        vulnerable=sums[:, 3],
        severe=sums[:, 4],
        uncensored=sums[:, 5 : 5 + m],
        censored=sums[:, 5 + m :],
    )


def summarize(
    scores: UnitScores,
    spec: IndicatorSpec,
    weights: Any = None,
    groups: Any = None,
    n_groups: int | None = None,
) -> Summary:
    """Aggregate unit scores into H, A, M0, headcounts and contributions, optionally per group.

    Parameters
    ----------
    scores
        Output of `score_units` with the same ``spec``.
    spec
        The indicator spec (its dimensions; the weights are those ``scores`` was computed with).
    weights
        Population weight of each unit (e.g. people in a cell); default 1 each.
    groups
        Group position of each unit (``0 .. n_groups-1``), e.g. the kabupaten of each cell.
    n_groups
        Number of groups; default ``groups.max() + 1``. Groups with no units get NaN ratios.

    Returns
    -------
    Summary
        Arrays with one entry (row) per group, or one entry when ``groups`` is None.

    Examples
    --------
    >>> from layers.scoring.spec import default_spec
    >>> spec = default_spec()
    >>> s = summarize(score_units([[10, 11, 0, 0, 0, 61, 0, 0, 0, 0, 0], [0] * 11], spec), spec, [3, 1])
    >>> float(s.H[0]), float(s.A[0]), float(s.M0[0])
    (0.75, 0.375, 0.28125)
    """
    n, m = scores.deprived.shape
    if m != len(spec):
        raise InvalidQuery(f"scores have {m} indicators but the spec has {len(spec)}")
    return summarize_table(scores, spec, group_table(scores, weights, groups, n_groups))


def summarize_table(scores: UnitScores, spec: IndicatorSpec, table: GroupTable) -> Summary:
    """`summarize` with the units already tabulated by `group_table` (from the same profiles).

    Parameters
    ----------
    scores
        Scores of the units the table was built from (their profiles, weights and k).
    spec
        The indicator spec.
    table
        The units by (group, profile).

    Returns
    -------
    Summary
        As `summarize`.
    """
    if scores.profiles.shape[1] != len(spec):
        raise InvalidQuery(f"scores have {scores.profiles.shape[1]} indicators but the spec has {len(spec)}")
    sums = _sums_by_profile(scores, table)
    return _summary_from_sums(sums, table.n_units, table.n_all, scores.weights, scores.k, spec)


def _summary_from_sums(
    sums: _GroupSums, n_units: IntArray, n_all: IntArray, weights: FloatArray, k: float, spec: IndicatorSpec
) -> Summary:
    pop = sums.population
    contribution = _ratio(sums.censored * weights, sums.intensity[:, None])
    return Summary(
        k=k,
        n_units=n_units,
        n_excluded=n_all - n_units,
        population=pop,
        H=_ratio(sums.poor, pop),
        A=_ratio(sums.intensity, sums.poor),
        M0=_ratio(sums.intensity, pop),
        vulnerable=_ratio(sums.vulnerable, pop),
        severe=_ratio(sums.severe, pop),
        uncensored_headcount=_ratio(sums.uncensored, pop[:, None]),
        censored_headcount=_ratio(sums.censored, pop[:, None]),
        contribution_indicator=contribution,
        contribution_dimension=_by_dimension(contribution, spec),
        pop_share=_ratio(pop, np.asarray(pop.sum())),
        # pop_share_g * M0_g / M0 simplifies to the group's share of the total intensity sum.
        contribution_to_M0=_ratio(sums.intensity, np.asarray(sums.intensity.sum())),
    )


def _by_dimension(per_indicator: FloatArray, spec: IndicatorSpec) -> FloatArray:
    onehot = np.zeros((len(spec), len(spec.dimensions)))
    onehot[np.arange(len(spec)), spec.dimension_index] = 1.0
    return per_indicator @ onehot


def summary_total(summary: Summary, spec: IndicatorSpec) -> Summary:
    """Combine a grouped summary into one overall summary (M0 decomposes exactly by subgroup).

    Parameters
    ----------
    summary
        A summary with one or more groups.
    spec
        The indicator spec it was computed with.

    Returns
    -------
    Summary
        Length-1 arrays for the union of all groups.

    Examples
    --------
    >>> from layers.scoring.spec import default_spec
    >>> spec = default_spec()
    >>> s = summarize(score_units([[10, 11, 0, 0, 0, 61, 0, 0, 0, 0, 0], [0] * 11], spec), spec, None, [0, 1])
    >>> float(summary_total(s, spec).M0[0])
    0.1875
    """
    pop = summary.population
    has = pop > 0

    def pooled(ratio: np.ndarray) -> np.ndarray:
        # Σ_g pop_g · ratio_g over groups with people (their ratios are defined), as one row.
        shape = (-1,) + (1,) * (ratio.ndim - 1)
        return (pop.reshape(shape) * np.where(has.reshape(shape), ratio, 0.0)).sum(axis=0, keepdims=True)

    poor = pooled(summary.H)
    sums = _GroupSums(
        population=np.array([pop.sum()]),
        poor=poor,
        intensity=pooled(summary.M0),
        vulnerable=pooled(summary.vulnerable),
        severe=pooled(summary.severe),
        uncensored=pooled(summary.uncensored_headcount),
        censored=pooled(summary.censored_headcount),
    )
    n_units = np.array([summary.n_units.sum()])
    n_all = n_units + summary.n_excluded.sum()
    return _summary_from_sums(sums, n_units, n_all, spec.weights, summary.k, spec)


def _named(values: np.ndarray, names: Sequence[str]) -> dict[str, float | None]:
    return {name: finite_or_none(v) for name, v in zip(names, values, strict=True)}


def summary_to_json(
    summary: Summary, spec: IndicatorSpec, group_labels: Sequence[Any] | None = None
) -> dict[str, Any]:
    """Convert a summary to the ``sasaran mpi --format json`` object (docs/contracts.md); NaN becomes None.

    Parameters
    ----------
    summary
        Output of `summarize`, grouped or not.
    spec
        The indicator spec it was computed with.
    group_labels
        One label per group (converted to strings). When given, the answer has a ``groups`` map and
        the top-level figures are the totals over all groups.

    Returns
    -------
    dict
        ``k, n_units, n_excluded, population, H, A, M0, vulnerable, severe, uncensored_headcount,
        censored_headcount, contribution_indicator, contribution_dimension`` and, when grouped,
        ``groups``: label -> ``n_units, population, pop_share, H, A, M0, censored_headcount,
        contribution_to_M0``.

    Examples
    --------
    >>> from layers.scoring.spec import default_spec
    >>> spec = default_spec()
    >>> unit = [[10, 11, 0, 0, 0, 61, 0, 0, 0, 0, 0]]
    >>> out = summary_to_json(summarize(score_units(unit, spec), spec), spec)
    >>> out["H"], out["A"], out["contribution_dimension"]["income"]
    (1.0, 0.375, 0.6666666666666666)
    """
    if group_labels is not None and len(group_labels) != summary.n_groups:
        raise InvalidQuery(f"{len(group_labels)} group labels for {summary.n_groups} groups")
    if group_labels is None and summary.n_groups != 1:
        raise InvalidQuery("a grouped summary needs group_labels")
    total = summary_total(summary, spec) if group_labels is not None else summary
    out: dict[str, Any] = {
        "k": float(summary.k),
        "n_units": int(total.n_units[0]),
        "n_excluded": int(total.n_excluded[0]),
        "population": float(total.population[0]),
        "H": finite_or_none(total.H[0]),
        "A": finite_or_none(total.A[0]),
        "M0": finite_or_none(total.M0[0]),
        "vulnerable": finite_or_none(total.vulnerable[0]),
        "severe": finite_or_none(total.severe[0]),
        "uncensored_headcount": _named(total.uncensored_headcount[0], spec.names),
        "censored_headcount": _named(total.censored_headcount[0], spec.names),
        "contribution_indicator": _named(total.contribution_indicator[0], spec.names),
        "contribution_dimension": _named(total.contribution_dimension[0], spec.dimensions),
    }
    if group_labels is not None:
        labels = [str(label) for label in group_labels]
        if len(set(labels)) != len(labels):
            raise InvalidQuery("group labels must be unique as strings")
        out["groups"] = {
            label: {
                "n_units": int(summary.n_units[i]),
                "population": float(summary.population[i]),
                "pop_share": finite_or_none(summary.pop_share[i]),
                "H": finite_or_none(summary.H[i]),
                "A": finite_or_none(summary.A[i]),
                "M0": finite_or_none(summary.M0[i]),
                "censored_headcount": _named(summary.censored_headcount[i], spec.names),
                "contribution_to_M0": finite_or_none(summary.contribution_to_M0[i]),
            }
            for i, label in enumerate(labels)
        }
    return out
