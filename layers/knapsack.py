"""The 0-1 selection problem on arrays: maximise value under a budget, a count and group quotas.

`solve` states it exactly as a mixed-integer programme for HiGHS (`scipy.optimize.milp`):
maximise ``Σ v_i x_i`` subject to ``Σ c_i x_i <= budget``, ``Σ x_i <= max_count``,
``min_g <= Σ_{i in g} x_i <= max_g`` for every group g, ``x_i = 1`` for forced items, ``x_i = 0``
for banned ones, x binary. Obvious conflicts are named before solving (`check_feasible`); when
HiGHS finds the problem infeasible, the constraint families are relaxed one at a time to name the
one at fault. `greedy` (value per cost, honouring every constraint) is the fallback when HiGHS
finds nothing in time, and the fast re-solve of `layers.targeting`'s scenarios.

Items and groups are positions; labels (village and kabupaten codes) only appear in messages.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from typing import Any

import numpy as np
from scipy import sparse
from scipy.optimize import Bounds, LinearConstraint, OptimizeResult, milp

from layers.errors import InfeasibleTargeting, excerpt
from layers.types import BoolArray, FloatArray, IntArray

#: Relative optimality gap at which HiGHS stops: a selection within 0.1 % of the best possible
#: (in people reached) is reported as optimal. Proving a tighter gap can take HiGHS seconds on a
#: 1,500-village budget problem whose costs grow with the people reached, for a handful of people.
MIP_REL_GAP = 1e-3
#: HiGHS presolve costs ~0.35 s even on an easy 1,500-village problem, but without it the hard ones
#: (costs growing with the people reached, a ``min_score``) take up to 7x longer; kept on.
PRESOLVE = True


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
    """A selection and how it was found."""

    chosen: BoolArray
    status: str
    """``optimal``, ``time_limit`` (best found when time ran out) or ``greedy`` (fallback)."""
    gap: float | None
    """Relative gap between the selection's value and the solver's bound on the optimum."""
    seconds: float


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


def _milp(
    p: Problem, objective: FloatArray, time_limit_s: float, mip_rel_gap: float = MIP_REL_GAP
) -> OptimizeResult:
    """Maximise ``objective @ x`` under the problem's constraints with HiGHS."""
    n = len(p.value)
    rows: list[Any] = []
    lower: list[float] = []
    upper: list[float] = []
    if p.budget is not None:
        scale = max(p.budget, 1.0)  # a row of costs / budget: HiGHS's tolerances are then relative
        rows.append(sparse.csr_array(p.cost[None, :] / scale))
        lower.append(-np.inf)
        upper.append(p.budget / scale)
    if p.max_count is not None:
        rows.append(sparse.csr_array(np.ones((1, n))))
        lower.append(-np.inf)
        upper.append(p.max_count)
    quota = np.flatnonzero((p.group_min > 0) | (p.group_max < p.group_size))
    if len(quota):
        member = sparse.csr_array((np.ones(n), (p.group, np.arange(n))), shape=(len(p.group_min), n))
        rows.append(member[quota])
        lower += p.group_min[quota].astype(float).tolist()
        upper += p.group_max[quota].astype(float).tolist()
    constraints = LinearConstraint(sparse.vstack(rows), lower, upper) if rows else None
    options = {"time_limit": time_limit_s, "mip_rel_gap": mip_rel_gap, "presolve": PRESOLVE}
    bounds = Bounds(p.forced.astype(float), (~p.banned).astype(float))
    return milp(-objective, integrality=np.ones(n), bounds=bounds, constraints=constraints, options=options)


def _within_budget(p: Problem, chosen: BoolArray) -> bool:
    return p.budget is None or float(p.cost[chosen].sum()) <= p.budget


def solve(problem: Problem, time_limit_s: float = 10.0, mip_rel_gap: float = MIP_REL_GAP) -> Solution:
    """Solve the problem exactly (HiGHS), falling back to `greedy` when no solution comes in time.

    Parameters
    ----------
    problem
        The problem (checked with `check_feasible` first).
    time_limit_s
        Time limit of the exact solver.

    Returns
    -------
    Solution
        The selection; villages worth nothing are kept only where a minimum or include needs them.

    Raises
    ------
    InfeasibleTargeting
        When no selection meets every constraint; the message names the constraint.
    """
    started = time.perf_counter()
    check_feasible(problem)
    p = problem
    res = _milp(p, p.value, time_limit_s, mip_rel_gap)
    for _ in range(3):  # HiGHS may accept a cost a hair above the budget; tighten and solve again
        if res.x is None or _within_budget(p, res.x > 0.5):
            break
        assert p.budget is not None
        excess = float(p.cost[res.x > 0.5].sum()) - p.budget
        p = replace(p, budget=p.budget - 2 * excess)
        res = _milp(p, p.value, time_limit_s, mip_rel_gap)
    if res.status == 2:
        _diagnose(problem, time_limit_s)
    if res.x is not None and _within_budget(problem, res.x > 0.5):
        status = "optimal" if res.status == 0 else "time_limit"
        chosen = _prune(problem, res.x > 0.5)
        return Solution(chosen, status, _gap(res), time.perf_counter() - started)
    chosen_or_none = greedy(problem)
    if chosen_or_none is None:
        raise InfeasibleTargeting(
            f"no selection was found within time_limit_s={time_limit_s:g} s ({res.message}); "
            "allow more time or loosen kabupaten_min"
        )
    bound = getattr(res, "mip_dual_bound", None)
    value = float(problem.value[chosen_or_none].sum())
    # HiGHS minimises -value, so its dual bound is minus an upper bound on the value.
    gap = (
        max((-bound - value) / value, 0.0)
        if bound is not None and math.isfinite(bound) and value > 0
        else None
    )
    return Solution(chosen_or_none, "greedy", gap, time.perf_counter() - started)


def _gap(res: OptimizeResult) -> float | None:
    gap = getattr(res, "mip_gap", None)
    if gap is not None and math.isfinite(gap):
        return max(float(gap), 0.0)
    bound, fun = getattr(res, "mip_dual_bound", None), res.fun
    if bound is None or fun is None or fun == 0:
        return None
    return max((fun - bound) / abs(fun), 0.0)


def _prune(p: Problem, chosen: BoolArray) -> BoolArray:
    """Drop selected items worth nothing unless forced or needed for a group minimum."""
    chosen = chosen.copy()
    per_group = np.bincount(p.group[chosen], minlength=len(p.group_min))
    for i in np.flatnonzero(chosen & (p.value <= 0) & ~p.forced):
        if per_group[p.group[i]] > p.group_min[p.group[i]]:
            chosen[i] = False
            per_group[p.group[i]] -= 1
    return chosen


_RELAXATIONS: dict[str, Callable[[Problem], Problem]] = {
    "budget": lambda p: replace(p, budget=None),
    "max_villages": lambda p: replace(p, max_count=None),
    "kabupaten_min": lambda p: replace(p, group_min=np.zeros_like(p.group_min)),
    "kabupaten_max": lambda p: replace(p, group_max=p.group_size),
    "include": lambda p: replace(p, forced=np.zeros_like(p.forced)),
}


def _diagnose(p: Problem, time_limit_s: float) -> None:
    """Name the constraint family whose removal alone makes the problem feasible."""
    for family, relax in _RELAXATIONS.items():
        relaxed = relax(p)
        if family == "budget" and p.budget is not None:
            res = _milp(relaxed, -relaxed.cost, time_limit_s)
            if res.x is not None:
                cheapest = float(p.cost[res.x > 0.5].sum())
                raise InfeasibleTargeting(
                    f"budget: the cheapest selection meeting include, kabupaten_min and max_villages "
                    f"together costs {cheapest:,.0f}, budget is {p.budget:,.0f}"
                )
        elif family == "max_villages" and p.max_count is not None:
            res = _milp(relaxed, -np.ones(len(p.value)), time_limit_s)
            if res.x is not None:
                fewest = int((res.x > 0.5).sum())
                raise InfeasibleTargeting(
                    f"max_villages: include and kabupaten_min within the budget need at least {fewest} "
                    f"villages, max_villages is {p.max_count}"
                )
        elif family not in ("budget", "max_villages"):
            if _milp(relaxed, np.zeros(len(p.value)), time_limit_s).x is not None:
                raise InfeasibleTargeting(f"{family}: cannot be met together with the other constraints")
    raise InfeasibleTargeting(
        "budget, max_villages, kabupaten_min, kabupaten_max and include cannot all be met; loosen several"
    )


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
