"""The 0-1 selection problem on arrays: maximise value under a budget, a count and group quotas.

Maximise ``Σ v_i x_i`` subject to ``Σ c_i x_i <= budget``, ``Σ x_i <= max_count``,
``min_g <= Σ_{i in g} x_i <= max_g`` for every group g, ``x_i = 1`` for forced items, ``x_i = 0``
for banned ones, x binary. `solve` returns a selection with a *proven* bound on how far it can be
from the best (``gap``); it is deterministic: no clock enters any decision, only counted work.

Why a plain MIP struggles: a village's cost is a fixed part plus a part per person reached
(``c = F + P·p``) and its value is those people (``v = p``, times a priority factor). Value and
cost then rise together (a *strongly correlated* knapsack) and the linear relaxation may take a
fraction of a village, paying only a fraction of its fixed cost F. That fraction is worth up to
F/P people (400 with Rp 100 juta and Rp 250,000) more than any real selection, about 1 % of a
Rp 10 bn programme; HiGHS then branches for tens of seconds to close a gap the relaxation made up.

What `solve` does instead (the count decomposition):

1. For every number of selected items n, bound the best value with exactly n items,
   ``U(n)``: the linear relaxation with ``Σ x = n`` fixed, solved exactly by a Lagrangian
   multiplier on the budget (the inner problem, "the n best by v - λc within the quotas", is the
   maximum-weight base of a matroid, so its relaxation is integral and the Lagrangian dual equals
   the relaxation). Fixing n takes the fractional fixed cost away. ``U`` is concave in n (a
   linear programme's value as its right-hand side moves), so the counts worth searching are an
   interval around the peak, found by bisection.
2. Search the counts in decreasing ``U(n)``: the multiplier's best feasible solution, and its
   last over-budget one repaired by swaps, each improved by best-improvement swaps (one in, one
   out, within the quotas), give the incumbent z.
3. While some count's bound exceeds ``z·(1 + REL_GAP)``: fix items whose inclusion (or exclusion)
   provably cannot beat z (reduced-cost fixing: the best base containing an item is one exchange
   away), then give the rest of that count to HiGHS (`scipy.optimize.milp`) with ``Σ x = n``
   fixed and a node limit; its proven bound replaces ``U(n)``. When more than `EXACT_COUNTS`
   counts are open (U flat in n: costs nearly proportional to values, so the count hardly
   matters and the plain formulation is not weak), HiGHS takes their whole range at once.

The answer is ``optimal`` when the largest remaining bound is within `REL_GAP` of z, otherwise
``work_limit`` with the proven gap. Obvious conflicts are named before solving
(`check_feasible`); once it passes, the cheapest selection meeting the includes and minimums is
feasible, so every problem that passes has an answer. `greedy` (value per cost) re-solves
`layers.targeting.selection`'s confidence scenarios.

Items and groups are positions; labels (village and kabupaten codes) only appear in messages.
"""

from __future__ import annotations

import math
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from scipy import sparse

from layers.errors import InfeasibleTargeting, excerpt
from layers.types import BoolArray, FloatArray, IntArray

#: Relative optimality tolerance: ``optimal`` means no selection is worth more than 0.1 % more
#: (in people reached). The searches usually end far closer; ``gap`` says how close.
REL_GAP = 1e-3
MIP_REL_GAP = REL_GAP  # the former name
#: Deterministic work limits (the same request does the same work on an idle or a busy server).
#: Cutting-plane steps for one count's multiplier (it converges in ~5-15).
LAGRANGE_STEPS = 100
#: Counts whose incumbent is improved by swaps, and matrix entries the swap search may examine
#: per count (~50 ms of numpy).
SEARCH_COUNTS = 8
SWAP_WORK = 5_000_000
#: Swaps allowed to bring the over-budget start under the budget.
REPAIR_STEPS = 8
#: A gap left this wide by the first count searched means its starts are poor (`_Search.start_greedy`):
#: the value-per-cost selection is tried before more counts are searched.
GREEDY_GAP = 0.01
#: Problems with at least this many free items (national ones; the largest province, Jawa Timur,
#: has about 8,500 villages) also get `GREEDY_GAP`'s start and fixings at a second multiplier
#: (`_Counts.exact`). Below it the search is the one province answers were pinned with: the same
#: request keeps its selection across versions.
LARGE_ITEMS = 20_000
#: Counts handed to HiGHS, and its branch-and-bound nodes per count.
EXACT_COUNTS = 6
NODE_LIMIT = 1000
#: A selection may cost this much (relative) over the budget: the rounding of a sum of costs, so
#: that a selection costing exactly the budget (common: people are whole) is not refused.
BUDGET_TOLERANCE = 1e-12


@dataclass(frozen=True)
class Problem:
    """Maximise ``value @ x`` over binary x subject to the budget, count and group quotas.

    Build it with `make_problem`. ``forced`` and ``banned`` fix x to 1 and 0.
    """

    value: FloatArray
    cost: FloatArray
    group: IntArray
    budget: float | None
    max_count: int | None
    group_min: IntArray
    group_max: IntArray
    forced: BoolArray
    banned: BoolArray
    item_labels: Sequence[str]
    group_labels: Sequence[str]

    @property
    def group_size(self) -> IntArray:
        """Items per group."""
        return np.bincount(self.group, minlength=len(self.group_min))


def make_problem(
    value: Any,
    cost: Any,
    group: Any = None,
    *,
    budget: float | None = None,
    max_count: int | None = None,
    group_min: Any = None,
    group_max: Any = None,
    forced: Any = None,
    banned: Any = None,
    item_labels: Sequence[str] | None = None,
    group_labels: Sequence[str] | None = None,
) -> Problem:
    """Build a `Problem` from array-likes, filling the defaults (no quota, nothing forced).

    Parameters
    ----------
    value, cost
        Per item: what selecting it is worth (>= 0) and what it costs (>= 0).
    group
        Group position of each item (default: one group).
    budget, max_count
        Upper bounds on the total cost and the number of items (None: none).
    group_min, group_max
        Per group: at least / at most this many items.
    forced, banned
        Items that must / must not be selected.
    item_labels, group_labels
        Names used in error messages (default: positions).

    Returns
    -------
    Problem
        The problem.

    Examples
    --------
    >>> solve(make_problem([3, 2, 2], [2, 1, 1], budget=2)).chosen.tolist()
    [False, True, True]
    """
    v = np.asarray(value, dtype=np.float64)
    n = len(v)
    g = np.zeros(n, np.int64) if group is None else np.asarray(group, dtype=np.int64)
    sized = [np.size(a) for a in (group_min, group_max, group_labels) if a is not None]
    n_groups = max([int(g.max()) + 1 if n else 1, *sized])
    gmin = np.zeros(n_groups, np.int64) if group_min is None else np.asarray(group_min, dtype=np.int64)
    size = np.bincount(g, minlength=n_groups)
    gmax = size if group_max is None else np.minimum(np.asarray(group_max, dtype=np.int64), size)
    return Problem(
        value=v,
        cost=np.asarray(cost, dtype=np.float64),
        group=g,
        budget=None if budget is None else float(budget),
        max_count=None if max_count is None else int(max_count),
        group_min=gmin,
        group_max=gmax,
        forced=np.zeros(n, bool) if forced is None else np.asarray(forced, dtype=bool),
        banned=np.zeros(n, bool) if banned is None else np.asarray(banned, dtype=bool),
        item_labels=list(item_labels) if item_labels is not None else [str(i) for i in range(n)],
        group_labels=list(group_labels) if group_labels is not None else [str(i) for i in range(n_groups)],
    )


@dataclass(frozen=True)
class Solution:
    """A selection, how close to the best it is proven to be, and the work it took."""

    chosen: BoolArray
    status: str
    """``optimal`` (proven within `REL_GAP` of the best possible) or ``work_limit`` (a work limit
    came first: the selection is the best found and ``gap`` bounds what was missed)."""
    gap: float | None
    """Proven relative gap: no selection is worth more than ``(1 + gap)`` times this one."""
    seconds: float
    """Wall-clock time, reported only: no decision depends on it."""
    bound: float | None = None
    """Proven upper bound on the value of any selection."""
    work: dict[str, int] = field(default_factory=dict)
    """Deterministic work: counts bounded, searched and given to HiGHS, its nodes, swaps made."""


def check_feasible(problem: Problem) -> None:
    """Raise `InfeasibleTargeting` naming the constraint when an obvious one cannot hold.

    Checks, in order: include vs exclude, minimum above maximum, minimum above the selectable
    villages of a kabupaten, includes above a maximum, the count, and the cheapest way to meet the
    includes and minimums against the budget. Subtler conflicts are found by `solve`.

    Parameters
    ----------
    problem
        The problem.
    """
    p = problem
    both = np.flatnonzero(p.forced & p.banned)
    if len(both):
        raise InfeasibleTargeting(
            f"include: village(s) {quote_labels(p.item_labels, both)} are also excluded"
        )
    forced_n = np.bincount(p.group[p.forced], minlength=len(p.group_min))
    _check_groups(p, forced_n)
    needed = int(np.maximum(p.group_min, forced_n).sum())
    if p.max_count is not None and needed > p.max_count:
        what = "include lists" if needed == p.forced.sum() else "include and kabupaten_min need"
        raise InfeasibleTargeting(f"max_villages: {what} {needed} villages, max_villages is {p.max_count}")
    _check_budget(p, forced_n)


def _check_groups(p: Problem, forced_n: IntArray) -> None:
    selectable = np.bincount(p.group[~p.banned], minlength=len(p.group_min))
    capped = p.group_max < p.group_size
    for g in np.flatnonzero((p.group_min > p.group_max) & capped).tolist():
        raise InfeasibleTargeting(
            f"kabupaten_min: {p.group_labels[g]} needs {p.group_min[g]} villages "
            f"but kabupaten_max allows {p.group_max[g]}"
        )
    for g in np.flatnonzero(p.group_min > selectable).tolist():
        raise InfeasibleTargeting(
            f"kabupaten_min: {p.group_labels[g]} needs {p.group_min[g]} villages but has only "
            f"{selectable[g]} that may be selected (after exclude and min_score)"
        )
    for g in np.flatnonzero(forced_n > p.group_max).tolist():
        raise InfeasibleTargeting(
            f"kabupaten_max: {p.group_labels[g]} allows {p.group_max[g]} villages "
            f"but include lists {forced_n[g]} there"
        )


def _check_budget(p: Problem, forced_n: IntArray) -> None:
    if p.budget is None:
        return
    forced_cost = float(p.cost[p.forced].sum())
    if forced_cost > p.budget:
        raise InfeasibleTargeting(
            f"include: the listed villages cost {forced_cost:,.0f}, budget is {p.budget:,.0f}"
        )
    extra = 0.0
    for g in np.flatnonzero(p.group_min > forced_n):
        costs = np.sort(p.cost[(p.group == g) & ~p.banned & ~p.forced])
        extra += float(costs[: p.group_min[g] - forced_n[g]].sum())
    if forced_cost + extra > p.budget:
        raise InfeasibleTargeting(
            f"kabupaten_min: the cheapest villages meeting the minimums (with the include list) cost "
            f"{forced_cost + extra:,.0f}, budget is {p.budget:,.0f}"
        )


def quote_labels(labels: Sequence[str], positions: Sequence[int] | np.ndarray, limit: int = 5) -> str:
    """Quote the labels at ``positions`` for a message (``'a', 'b' and 3 more``)."""
    names = [f"'{excerpt(labels[int(i)])}'" for i in list(positions)[:limit]]
    more = len(positions) - limit
    return ", ".join(names) + (f" and {more} more" if more > 0 else "")


@dataclass(frozen=True)
class _Bound:
    """The relaxation of one count: its value, its multiplier and its best feasible selection."""

    value: float
    lam: float
    feasible: BoolArray
    """Free items of the best budget-feasible inner solution met (a starting incumbent)."""
    over: BoolArray | None = None
    """The inner solution just over the budget at the end (a second start, once repaired)."""


@dataclass(frozen=True)
class _Counts:
    """The problem seen one number of selected items at a time (module docstring, steps 1-3).

    Forced items are always in and banned ones never, so only the *free* items are decided: per
    group at least ``need`` and at most ``cap`` of them, ``n - n_forced`` in all, costing at most
    ``room``.
    """

    p: Problem
    free: IntArray
    v: FloatArray
    w: FloatArray
    g: IntArray
    need: IntArray
    cap: IntArray
    start: IntArray
    n_forced: int
    base_value: float
    room: float
    n_lo: int
    n_hi: int

    @classmethod
    def of(cls, p: Problem) -> _Counts:
        """Split the problem into forced and free items (after `check_feasible`)."""
        n_groups = len(p.group_min)
        free = np.flatnonzero(~p.banned & ~p.forced)
        g = p.group[free]
        size = np.bincount(g, minlength=n_groups)
        forced_n = np.bincount(p.group[p.forced], minlength=n_groups)
        need = np.maximum(p.group_min - forced_n, 0)
        cap = np.minimum(np.maximum(p.group_max - forced_n, 0), size)
        n_forced = int(p.forced.sum())
        n_hi = n_forced + int(cap.sum())
        room = math.inf
        if p.budget is not None:
            room = p.budget * (1 + BUDGET_TOLERANCE) - float(p.cost[p.forced].sum())
        return cls(
            p=p,
            free=free,
            v=p.value[free],
            w=p.cost[free],
            g=g,
            need=need,
            cap=cap,
            start=np.concatenate([[0], np.cumsum(size)[:-1]]).astype(np.int64),
            n_forced=n_forced,
            base_value=float(p.value[p.forced].sum()),
            room=room,
            n_lo=n_forced + int(need.sum()),
            n_hi=n_hi if p.max_count is None else min(n_hi, p.max_count),
        )

    @property
    def large(self) -> bool:
        """Whether the national-scale steps apply (`LARGE_ITEMS`)."""
        return len(self.free) >= LARGE_ITEMS

    def full(self, x: BoolArray) -> BoolArray:
        """The selection over all items from a choice of free items."""
        chosen = self.p.forced.copy()
        chosen[self.free[x]] = True
        return chosen

    def inner(self, lam: float, n: int) -> BoolArray | None:
        """The best n items by ``v - lam·w`` within the quotas, ignoring the budget (None: none).

        Per group, the ``need`` best are taken; then the best of the rest, at most ``cap`` per
        group, up to n. This greedy is exact: the admissible sets are the bases of a matroid (a
        partition matroid with lower bounds and a fixed size). ``lam = inf`` ranks by cost (then
        value): the cheapest selection of n. Ties go to the lower position.
        """
        m = n - self.n_lo
        if m < 0:
            return None
        idx = np.arange(len(self.free))
        # Stable sorts keep ties in position order, as a lexsort with the position last would, at a
        # third of its cost (one float sort, then a radix sort of the groups in that order).
        if math.isinf(lam):
            by_worth = np.lexsort((idx, -self.v, self.w))
        else:
            by_worth = np.argsort(-(self.v - lam * self.w), kind="stable")
        pos = np.empty(len(idx), np.int64)
        pos[by_worth] = idx
        grouped = by_worth[np.argsort(self.g[by_worth], kind="stable")]
        rank = np.empty(len(idx), np.int64)
        rank[grouped] = idx - self.start[self.g[grouped]]
        x = rank < self.need[self.g]
        optional = np.flatnonzero(~x & (rank < self.cap[self.g]))
        if m > len(optional):
            return None
        x[optional[np.argsort(pos[optional], kind="stable")[:m]]] = True
        return x

    def _vw(self, x: BoolArray) -> tuple[float, float]:
        return float(self.v[x].sum()), float(self.w[x].sum())

    def bound(self, n: int) -> _Bound | None:
        """U(n), the relaxation's value with exactly n items (None: no selection of n exists).

        The Lagrangian dual ``min over lam >= 0 of lam·room + max_x Σ (v - lam·w) x`` is convex and
        piecewise linear in lam; Kelley's cutting planes meet its minimum exactly after a few
        steps: intersect the best lines seen on either side (over and under the budget) until
        the inner problem at the intersection adds no new line. Every step's value is a valid
        bound, so the step limit only costs tightness.
        """
        x0 = self.inner(0.0, n)
        if x0 is None:
            return None
        v0, w0 = self._vw(x0)
        if w0 <= self.room:  # the n best fit the budget: exact
            return _Bound(self.base_value + v0, 0.0, x0)
        cheapest = self.inner(math.inf, n)
        assert cheapest is not None
        vc, wc = self._vw(cheapest)
        if wc > self.room:  # even the cheapest n do not fit
            return None
        over, under = (v0, w0), (vc, wc)
        best, best_lam, feasible, feasible_v = v0, 0.0, cheapest, vc
        for _ in range(LAGRANGE_STEPS):
            lam = (over[0] - under[0]) / (over[1] - under[1])
            x = self.inner(lam, n)
            assert x is not None
            v, w = self._vw(x)
            value = v + lam * (self.room - w)
            if value < best:
                best, best_lam = value, lam
            if w <= self.room and v > feasible_v:
                feasible, feasible_v = x, v
            if value <= over[0] + lam * (self.room - over[1]) + 1e-12 * max(1.0, abs(value)):
                break  # no new line: lam is the minimiser
            if w > self.room:
                over = (v, w)
            else:
                under = (v, w)
        return _Bound(self.base_value + best, best_lam, feasible, self.inner(best_lam, n))

    def improve(self, x: BoolArray) -> tuple[BoolArray, int]:
        """Best-improvement swaps (one free item out, one in, within quotas and budget).

        Each swap strictly raises the value, so the search ends; `SWAP_WORK` caps the pairs it
        examines. Returns the selection and the number of swaps.
        """
        x = x.copy()
        count = np.bincount(self.g[x], minlength=len(self.need))
        work = swaps = 0
        while work < SWAP_WORK:
            inside = np.flatnonzero(x)
            if not len(inside):
                break
            outside = np.flatnonzero(~x & (self.v > self.v[inside].min()))
            if not len(outside):
                break
            work += len(inside) * len(outside)
            slack = self.room - float(self.w[x].sum())
            gain = self.v[outside][None, :] - self.v[inside][:, None]
            extra = self.w[outside][None, :] - self.w[inside][:, None]
            g_in, g_out = self.g[inside], self.g[outside]
            may_leave = count[g_in] > self.need[g_in]
            may_enter = count[g_out] < self.cap[g_out]
            quota = (g_in[:, None] == g_out[None, :]) | (may_leave[:, None] & may_enter[None, :])
            ok = (gain > 0) & (extra <= slack) & quota
            if not ok.any():
                break
            k = int(np.argmax(np.where(ok, gain, -np.inf)))
            a, b = inside[k // len(outside)], outside[k % len(outside)]
            x[a], x[b] = False, True
            count[self.g[a]] -= 1
            count[self.g[b]] += 1
            swaps += 1
        return x, swaps

    def repair(self, x: BoolArray) -> BoolArray | None:
        """Swap an over-budget selection under the budget, losing as little value as possible.

        Each step takes the best-valued swap that fits, else the one saving the most; None
        when no swap saves anything or `REPAIR_STEPS` do not suffice.
        """
        x = x.copy()
        count = np.bincount(self.g[x], minlength=len(self.need))
        for _ in range(REPAIR_STEPS):
            over = float(self.w[x].sum()) - self.room
            if over <= 0:
                return x
            inside, outside = np.flatnonzero(x), np.flatnonzero(~x)
            if not len(inside) or not len(outside):
                return None
            gain = self.v[outside][None, :] - self.v[inside][:, None]
            saving = self.w[inside][:, None] - self.w[outside][None, :]
            g_in, g_out = self.g[inside], self.g[outside]
            may_leave = count[g_in] > self.need[g_in]
            may_enter = count[g_out] < self.cap[g_out]
            ok = (saving > 0) & (
                (g_in[:, None] == g_out[None, :]) | (may_leave[:, None] & may_enter[None, :])
            )
            if not ok.any():
                return None
            fits = ok & (saving >= over)
            k = int(
                np.argmax(np.where(fits, gain, -np.inf))
                if fits.any()
                else np.argmax(np.where(ok, saving, -np.inf))
            )
            a, b = inside[k // len(outside)], outside[k % len(outside)]
            x[a], x[b] = False, True
            count[self.g[a]] -= 1
            count[self.g[b]] += 1
        return None

    def fixings(self, n: int, lam: float, threshold: float) -> tuple[BoolArray, BoolArray]:
        """Free items that must be in / out of any count-n selection worth more than ``threshold``.

        At the multiplier lam, the best inner solution with item i forced in (or out) is one
        exchange away from the unconstrained one (matroid bases), so its Lagrangian bound is
        ``U - r_out + r_i`` (or ``U - r_i + r_in``) with the best partner the quotas allow.
        """
        x = self.inner(lam, n)
        assert x is not None
        r = self.v - lam * self.w
        total = self.base_value + float(r[x].sum()) + (lam * self.room if lam else 0.0)
        n_groups = len(self.need)
        count = np.bincount(self.g[x], minlength=n_groups)
        can_leave, can_enter = count > self.need, count < self.cap
        # an outside item enters: the cheapest (in r) inside item of its group, or of any group
        # above its minimum when its own group has room
        low_same = np.full(n_groups, np.inf)
        np.minimum.at(low_same, self.g[x], r[x])
        leavers = x & can_leave[self.g]
        low_any = float(r[leavers].min()) if leavers.any() else np.inf
        partner_out = np.minimum(low_same[self.g], np.where(can_enter[self.g], low_any, np.inf))
        with np.errstate(invalid="ignore"):
            if_in = total - partner_out + r
        # an inside item leaves: the best outside item of its group, or of any group with room
        # when its own group stays at or above its minimum
        high_same = np.full(n_groups, -np.inf)
        np.maximum.at(high_same, self.g[~x], r[~x])
        enterers = ~x & can_enter[self.g]
        high_any = float(r[enterers].max()) if enterers.any() else -np.inf
        partner_in = np.maximum(high_same[self.g], np.where(can_leave[self.g], high_any, -np.inf))
        with np.errstate(invalid="ignore"):
            if_out = total - r + partner_in
        return x & (np.nan_to_num(if_out, nan=-np.inf) <= threshold), ~x & (
            np.nan_to_num(if_in, nan=-np.inf) <= threshold
        )

    def exact(
        self, counts: tuple[int, int], lam: float, threshold: float, rel_gap: float = REL_GAP
    ) -> tuple[BoolArray | None, float, int]:
        """HiGHS on the counts ``lo..hi``: (its selection or None, a bound over them, nodes).

        One count (``lo == hi``) is first reduced by `fixings` at ``lam``. Selections HiGHS
        returns over the budget by its tolerance are dropped; the bound holds.
        """
        lo, hi = counts
        if lo == hi:
            fixed_in, fixed_out = self.fixings(lo, lam, threshold)
            if lam > 0 and self.large:
                # Every multiplier gives a valid bound, so fixings at two add up. Near-proportional
                # costs tie every item at the best one (nothing is fixed); at 0 the bound is by value
                # alone and fixes out every village too small to beat the incumbent.
                more_in, more_out = self.fixings(lo, 0.0, threshold)
                fixed_in, fixed_out = fixed_in | more_in, fixed_out | more_out
            if (fixed_in & fixed_out).any():  # no selection of this count beats the threshold
                return None, threshold, 0
        else:
            fixed_in = fixed_out = np.zeros(len(self.free), bool)
        keep = np.flatnonzero(~fixed_out)
        k = len(keep)
        rows: list[Any] = [sparse.csr_array(np.ones((1, k)))]
        lower, upper = [float(lo - self.n_forced)], [float(hi - self.n_forced)]
        if math.isfinite(self.room):
            scale = self.room if self.room > 0 else 1.0
            rows.append(sparse.csr_array(self.w[keep][None, :] / scale))
            lower.append(-np.inf)
            upper.append(self.room / scale)
        g = self.g[keep]
        n_groups = len(self.need)
        size = np.bincount(g, minlength=n_groups)
        quota = np.flatnonzero((self.need > 0) | (self.cap < size))
        if len(quota):
            member = sparse.csr_array((np.ones(k), (g, np.arange(k))), shape=(n_groups, k))
            rows.append(member[quota])
            lower += self.need[quota].astype(float).tolist()
            upper += self.cap[quota].astype(float).tolist()
        # HiGHS (scipy.optimize, ~0.3 s to import) loads with the first exact solve, not with the service.
        from scipy.optimize import Bounds, LinearConstraint, milp

        res = milp(
            -self.v[keep],
            integrality=np.ones(k),
            bounds=Bounds(fixed_in[keep].astype(float), np.ones(k)),
            constraints=LinearConstraint(sparse.vstack(rows), lower, upper),
            options={"presolve": False, "node_limit": NODE_LIMIT, "mip_rel_gap": rel_gap / 2},
        )
        nodes = int(getattr(res, "mip_node_count", 0) or 0)
        if res.status == 2:  # nothing left: every selection of these counts is worth at most the threshold
            return None, threshold, nodes
        dual = getattr(res, "mip_dual_bound", None)
        bound = math.inf if dual is None or not math.isfinite(dual) else self.base_value - dual
        chosen = None
        if res.x is not None:
            x = np.zeros(len(self.free), bool)
            x[keep[res.x > 0.5]] = True
            if float(self.w[x].sum()) <= self.room:
                chosen = x
        return chosen, max(bound, threshold), nodes


class _Frontier:
    """Counts in decreasing U(n), from the peak outwards (U is concave: two sorted runs)."""

    def __init__(self, peak: int, lo: int, hi: int, ub: Any) -> None:
        self.ub, self.lo, self.hi = ub, lo, hi
        self.left, self.right = peak - 1, peak + 1
        self.first: int | None = peak if lo <= peak <= hi else None

    def peek(self) -> tuple[int, float] | None:
        """The next count and its bound, or None when no count is left."""
        if self.first is not None:
            return self.first, self.ub(self.first)
        sides = [n for n in (self.left, self.right) if self.lo <= n <= self.hi]
        if not sides:
            return None
        n = max(sides, key=lambda m: (self.ub(m), -m))
        return (n, self.ub(n)) if self.ub(n) > -math.inf else None

    def pop(self) -> int:
        """Take the next count."""
        nxt = self.peek()
        assert nxt is not None
        n = nxt[0]
        if n == self.first:
            self.first = None
        elif n == self.left:
            self.left -= 1
        else:
            self.right += 1
        return n

    def drop(self, counts: tuple[int, int]) -> None:
        """Take the counts ``lo..hi`` out (they are settled together)."""
        lo, hi = counts
        if self.first is not None and lo <= self.first <= hi:
            self.first = None
        if lo <= self.left <= hi:
            self.left = lo - 1
        if lo <= self.right <= hi:
            self.right = hi + 1

    def __iter__(self) -> Iterator[int]:
        while self.peek() is not None:
            yield self.pop()


def solve(problem: Problem, rel_gap: float = REL_GAP) -> Solution:
    """Choose the items of greatest total value, with a proven gap (module docstring).

    Parameters
    ----------
    problem
        The problem (checked with `check_feasible` first).
    rel_gap
        Stop once no selection can be worth more than ``(1 + rel_gap)`` times the one found.

    Returns
    -------
    Solution
        The selection (``optimal`` within ``rel_gap``, or ``work_limit`` with its proven gap);
        items worth nothing are kept only where a minimum or include needs them. The same
        problem always gives the same selection: the limits count work, not seconds.

    Raises
    ------
    InfeasibleTargeting
        When no selection meets every constraint; the message names the constraint.
    """
    started = time.perf_counter()
    check_feasible(problem)
    search = _Search(problem, rel_gap)
    search.search_frontier()
    search.exact_wide()
    search.exact_counts()
    return search.result(started)


class _Search:
    """One run of `solve` (module docstring, steps 1-3): the counts, their bounds, the incumbent.

    ``bounds`` caches U(n) per count (its size is the ``counts_bounded`` work); ``proven`` holds
    the bound of every count settled so far (U(n), or HiGHS's tighter one); the frontier hands
    out the counts not yet searched in decreasing U(n). The order of the calls is `solve`'s; the
    work counters and the answer depend on it, and on nothing else.
    """

    def __init__(self, problem: Problem, rel_gap: float) -> None:
        """Bound the counts to find the peak of U, and start from the cheapest selection."""
        self.problem, self.rel_gap = problem, rel_gap
        self.counts = _Counts.of(problem)
        self.bounds: dict[int, _Bound | None] = {}
        lo, hi = self.counts.n_lo, max(self.counts.n_lo, self.counts.n_hi)
        peak = self._peak(lo, hi)
        # the cheapest selection meeting the includes and minimums is feasible (check_feasible)
        cheapest = self.counts.inner(math.inf, self.counts.n_lo)
        assert cheapest is not None
        self.best = self.counts.full(cheapest)
        self.best_value = float(problem.value[self.best].sum())
        self.frontier = _Frontier(peak, lo, hi, self.ub)
        self.proven: dict[int, float] = {}
        self.searched: set[int] = set()
        self.work = {"counts_searched": 0, "counts_exact": 0, "nodes": 0, "swaps": 0}

    def bound(self, n: int) -> _Bound | None:
        """U(n) and its multiplier, computed once per count."""
        if n not in self.bounds:
            self.bounds[n] = self.counts.bound(n)
        return self.bounds[n]

    def ub(self, n: int) -> float:
        """U(n) as a number (-inf: no selection of n items exists)."""
        b = self.bound(n)
        return -math.inf if b is None else b.value

    def _peak(self, lo: int, hi: int) -> int:
        """The peak of the concave U(n) on ``lo..hi``, by bisection on its slope."""
        while lo < hi:
            mid = (lo + hi) // 2
            if self.ub(mid + 1) > self.ub(mid):
                lo = mid + 1
            else:
                hi = mid
        return lo

    def start_greedy(self) -> None:
        """Offer the value-per-cost selection, improved by swaps, as an incumbent.

        Called on large problems (`LARGE_ITEMS`) when the first count searched leaves a gap
        above `GREEDY_GAP`. Where costs are nearly proportional to values (the default cost model, national
        budgets), every count's multiplier ties almost all items, so its feasible start is about
        the n cheapest: worth a third of the best at Rp 1,000 bn over 84,000 villages. Greedy by
        value per cost then fills the budget with the largest villages and is within F/P people
        (one village's fixed cost) of the bound, closing the gap before any count is searched.
        """
        chosen = greedy(self.problem)
        if chosen is None:
            return
        x, swaps = self.counts.improve(chosen[self.counts.free])
        self.offer(x)
        self.work["swaps"] += swaps

    def offer(self, x: BoolArray) -> None:
        """Keep a choice of free items when it is worth more than the incumbent and fits."""
        chosen = self.counts.full(x)
        value = float(self.problem.value[chosen].sum())
        if value > self.best_value and _within_budget(self.problem, chosen):
            self.best, self.best_value = chosen, value

    def closed(self, u: float, rel_gap: float | None = None) -> bool:
        """Whether a bound u is within ``rel_gap`` of the incumbent (nothing to gain there)."""
        gap = self.rel_gap if rel_gap is None else max(rel_gap, self.rel_gap)
        return u <= self.best_value + gap * abs(self.best_value)

    def search_count(self, n: int) -> None:
        """Improve count n's starts by swaps and offer them; U(n) becomes its proven bound."""
        b = self.bound(n)
        assert b is not None
        x, swaps = self.counts.improve(b.feasible)
        self.offer(x)
        repaired = self.counts.repair(b.over) if b.over is not None and not self.closed(b.value) else None
        if repaired is not None:  # a second start, from just over the budget
            x, more = self.counts.improve(repaired)
            self.offer(x)
            swaps += more
        self.proven[n] = b.value
        self.searched.add(n)
        self.work["counts_searched"] += 1
        self.work["swaps"] += swaps

    def search_frontier(self) -> None:
        """Search the counts in decreasing bound while the gap is open (`SEARCH_COUNTS` at most)."""
        for n in self.frontier:
            self.search_count(n)
            nxt = self.frontier.peek()
            first = len(self.searched) == 1 and self.counts.large
            if first and nxt is not None and not self.closed(nxt[1], GREEDY_GAP):
                self.start_greedy()  # the multiplier's starts are poor: U(n) is flat (start_greedy)
            if nxt is None or self.closed(nxt[1]) or len(self.searched) >= SEARCH_COUNTS:
                break

    def exact_wide(self) -> None:
        """Give HiGHS every open count at once when more than `EXACT_COUNTS` are open.

        Where U(n) is flat (costs nearly proportional to value), many counts stay open and fixing
        one count helps little: HiGHS then takes all of them as one programme.
        """
        wide = self._open_range(SEARCH_COUNTS * 8)
        if wide is None or wide[1] - wide[0] + 1 <= EXACT_COUNTS:
            return
        x, bound_wide, nodes = self.counts.exact(wide, 0.0, self.best_value, self.rel_gap)
        if x is not None:
            self.offer(x)
        for m in range(wide[0], wide[1] + 1):
            # ub(m) is evaluated even when m has a proven bound: it is cached work either way
            self.proven[m] = min(self.proven.get(m, self.ub(m)), bound_wide)
        self.frontier.drop(wide)
        self.work["counts_exact"] += wide[1] - wide[0] + 1
        self.work["nodes"] += nodes

    def _open_range(self, limit: int) -> tuple[int, int] | None:
        """The range of counts whose bound is still open (searched or not), or None.

        Unsearched counts are looked at outward from the frontier (U is concave, so the open ones
        are contiguous), at most ``limit`` of them.
        """
        f = self.frontier
        found = [m for m, u in self.proven.items() if not self.closed(u)]
        for side, step in ((f.left, -1), (f.right, 1)):
            m = side
            for _ in range(limit):
                if not (f.lo <= m <= f.hi) or self.closed(f.ub(m)):
                    break
                found.append(m)
                m += step
        return (min(found), max(found)) if found else None

    def exact_counts(self) -> None:
        """HiGHS on the open count of largest bound, one count at a time, `EXACT_COUNTS` in all.

        An unsearched count whose U(n) is larger than every open proven bound is searched first
        (at most ``2 * SEARCH_COUNTS`` counts are searched in all).
        """
        exhausted: set[int] = set()
        while self.work["counts_exact"] < EXACT_COUNTS:
            open_ = [m for m in self.proven if m not in exhausted and not self.closed(self.proven[m])]
            pick = max(open_, key=lambda m: (self.proven[m], -m)) if open_ else None
            if self._frontier_first(pick):
                if len(self.searched) >= 2 * SEARCH_COUNTS:
                    break
                pick = self.frontier.pop()
                self.search_count(pick)
                if self.closed(self.proven[pick]):
                    continue
            if pick is None:
                break
            self.exact_count(pick)
            exhausted.add(pick)

    def _frontier_first(self, pick: int | None) -> bool:
        """Whether the frontier's next count is open and its bound above that of ``pick``."""
        nxt = self.frontier.peek()
        return nxt is not None and not self.closed(nxt[1]) and (pick is None or nxt[1] > self.proven[pick])

    def exact_count(self, n: int) -> None:
        """HiGHS on count n alone, reduced by fixings at its multiplier; its bound replaces U(n)."""
        b = self.bound(n)
        assert b is not None
        x, self.proven[n], nodes = self.counts.exact((n, n), b.lam, self.best_value, self.rel_gap)
        if x is not None:
            self.offer(x)
        self.work["counts_exact"] += 1
        self.work["nodes"] += nodes

    def result(self, started: float) -> Solution:
        """The incumbent (pruned), its status and proven gap, and the work done."""
        nxt = self.frontier.peek()
        upper = max([self.best_value, *self.proven.values(), nxt[1] if nxt is not None else -math.inf])
        self.work["counts_bounded"] = len(self.bounds)
        if self.best_value > 0:
            gap: float | None = max((upper - self.best_value) / self.best_value, 0.0)
        else:
            gap = 0.0 if upper <= 0 else None
        status = "optimal" if gap is not None and gap <= self.rel_gap else "work_limit"
        chosen = _prune(self.problem, self.best)
        return Solution(chosen, status, gap, time.perf_counter() - started, upper, self.work)


def _within_budget(p: Problem, chosen: BoolArray) -> bool:
    return p.budget is None or float(p.cost[chosen].sum()) <= p.budget * (1 + BUDGET_TOLERANCE)


def _prune(p: Problem, chosen: BoolArray) -> BoolArray:
    """Drop selected items worth nothing unless forced or needed for a group minimum."""
    chosen = chosen.copy()
    per_group = np.bincount(p.group[chosen], minlength=len(p.group_min))
    for i in np.flatnonzero(chosen & (p.value <= 0) & ~p.forced):
        if per_group[p.group[i]] > p.group_min[p.group[i]]:
            chosen[i] = False
            per_group[p.group[i]] -= 1
    return chosen


def greedy(problem: Problem) -> BoolArray | None:
    """Select by value per cost, honouring every constraint; None when it cannot meet a minimum.

    Forced items first; then, for each group short of its minimum, its best items by value per
    cost (or, when those overrun the budget, its cheapest); then every other item in order of value
    per cost while the budget, count and group maximums allow.

    Parameters
    ----------
    problem
        The problem.

    Returns
    -------
    ndarray or None
        The selection (bool per item), or None.
    """
    p = problem
    with np.errstate(divide="ignore", invalid="ignore"):
        ratio = np.where(p.cost > 0, p.value / p.cost, np.inf)
    ratio[p.value <= 0] = -np.inf
    by_ratio = np.lexsort((p.cost, -p.value, -ratio))
    chosen = _meet_minimums(p, by_ratio)
    if chosen is None or not _within_budget(p, chosen):
        chosen = _meet_minimums(p, np.lexsort((-p.value, p.cost)))
    if chosen is None or not _within_budget(p, chosen):
        return None
    if p.max_count is not None and chosen.sum() > p.max_count:
        return None
    if (np.bincount(p.group[chosen], minlength=len(p.group_max)) > p.group_max).any():
        return None
    return _fill(p, chosen, by_ratio)


def _meet_minimums(p: Problem, order: IntArray) -> BoolArray | None:
    chosen = p.forced.copy()
    short = p.group_min - np.bincount(p.group[chosen], minlength=len(p.group_min))
    for g in np.flatnonzero(short > 0):
        candidates = order[(p.group[order] == g) & ~chosen[order] & ~p.banned[order]]
        if len(candidates) < short[g]:
            return None
        chosen[candidates[: short[g]]] = True
    return chosen


def _fill(p: Problem, chosen: BoolArray, order: IntArray) -> BoolArray:
    order = order[~chosen[order] & ~p.banned[order] & (p.value[order] > 0)]
    left = math.inf if p.budget is None else p.budget - float(p.cost[chosen].sum())
    count = int(chosen.sum())
    room = (p.group_max - np.bincount(p.group[chosen], minlength=len(p.group_min))).tolist()
    max_count = len(chosen) if p.max_count is None else p.max_count
    cheapest_after = np.minimum.accumulate(p.cost[order][::-1])[::-1].tolist()
    costs, groups = p.cost[order].tolist(), p.group[order].tolist()
    chosen = chosen.copy()
    for j, i in enumerate(order.tolist()):
        if count >= max_count or left < cheapest_after[j]:
            break
        if costs[j] <= left and room[groups[j]] > 0:
            chosen[i] = True
            left -= costs[j]
            count += 1
            room[groups[j]] -= 1
    return chosen
