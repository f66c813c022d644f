"""Dijkstra on the friction grid itself, compiled with Numba (`layers.geo.access` uses it).

Edges are not stored: each move's cost is computed from the friction where it is relaxed, as
`layers.geo.access` describes its moves (half in each pixel for king moves, a quarter in each of
the four a knight move crosses), summed in float64 in a fixed order and times the resolution.
With non-negative costs, the minutes Dijkstra settles are the unique solution of
``d[v] = min(d[u] + w(u, v))`` whatever the order of ties, so this gives bit for bit what
``scipy.sparse.csgraph.dijkstra`` gives on the CSR graph of the same moves (tests/test_access.py
compares them), without building that graph (~0.6 GB and about 2 s at 3.3 M pixels).

How it is kept lean:
* The grid is padded with two rows and columns of impassable pixels, so no move needs a bounds
  check: a move that would leave the grid lands on an infinite cost and is never taken, exactly
  as the CSR graph's self-loops of infinite cost. Every pixel a move crosses lies in the box of its
  two ends, so the padding never opens or closes a move inside the grid.
* The moves come in three groups (orthogonal, diagonal, knight), each a loop without branches on
  the kind; the knight's two crossed pixels are precomputed offsets.
* The heap is 4-ary and keeps stale entries; a popped entry whose minutes exceed the pixel's is
  skipped, and a neighbour already at or below the popped minutes is not costed at all (no
  ``settled`` array: a settled pixel can never be improved by a non-negative move).

The solver releases the GIL, so the kinds of a build are solved in threads sharing one padded
friction array.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np
from numba import njit
from numpy.typing import NDArray

#: Rows and columns of impassable pixels around the grid: the longest move (a knight's) is two.
_PAD = 2


def _compiled(**options: Any) -> Callable[[Callable[..., Any]], Any]:
    """``njit`` that caches the machine code beside the module, or in the user's cache directory.

    Where neither can be written (a read-only install run by a user without a home, as in some
    containers) Numba refuses ``cache=True`` outright; the solver then compiles once per process
    (a few seconds) instead of failing to import.
    """

    def decorate(function: Callable[..., Any]) -> Any:
        try:
            return njit(cache=True, nogil=True, **options)(function)
        except RuntimeError:  # "cannot cache function ...: no locator available"
            return njit(cache=False, nogil=True, **options)(function)

    return decorate


@dataclass(frozen=True)
class PaddedGrid:
    """The friction grid padded with impassable pixels, and the moves as flat offsets in it."""

    friction: NDArray[np.float32]
    """Flat minutes per metre, ``inf`` impassable, padding included. Kept in float32 (half the
    memory traffic of the solver, which is bound by it: ~20 % faster); every cost is summed in
    float64 after an exact widening."""
    shape: tuple[int, int]
    """Rows and columns of the unpadded grid."""
    resolution_m: float
    orthogonal: NDArray[np.int64]
    orthogonal_factor: NDArray[np.float64]
    diagonal: NDArray[np.int64]
    diagonal_corners: NDArray[np.int64]
    """(4, 2): offsets of the two pixels a diagonal move passes between."""
    diagonal_factor: NDArray[np.float64]
    knight: NDArray[np.int64]
    knight_crossed: NDArray[np.int64]
    """(k, 2): offsets of the two pixels a knight move crosses besides its ends."""
    knight_factor: NDArray[np.float64]

    @classmethod
    def of(
        cls,
        friction: NDArray[np.floating[Any]],
        resolution_m: float,
        moves: tuple[tuple[int, int], ...],
    ) -> PaddedGrid:
        """Pad ``friction`` and lay out ``moves`` (row, column steps) as the module says they cost."""
        rows, cols = friction.shape
        width = cols + 2 * _PAD
        padded = np.full((rows + 2 * _PAD, width), np.inf, np.float32)
        padded[_PAD:-_PAD, _PAD:-_PAD] = friction
        orthogonal = [(r, c) for r, c in moves if abs(r) + abs(c) == 1]
        diagonal = [(r, c) for r, c in moves if abs(r) == abs(c)]
        knight = [(r, c) for r, c in moves if {abs(r), abs(c)} == {1, 2}]
        if len(orthogonal) + len(diagonal) + len(knight) != len(moves):
            raise ValueError(f"moves should be king or knight moves, got {moves!r}")

        def offsets(steps: list[tuple[int, int]]) -> NDArray[np.int64]:
            return np.array([r * width + c for r, c in steps], np.int64).reshape(len(steps))

        def factors(steps: list[tuple[int, int]], parts: float) -> NDArray[np.float64]:
            # The segment's length shared equally among the pixels it crosses.
            return np.array([math.hypot(r, c) / parts for r, c in steps], np.float64).reshape(len(steps))

        # A knight move (1, 2) crosses (0, 1) and (1, 1); (2, 1) crosses (1, 0) and (1, 1).
        crossed = [
            ((0, c // 2), (r, c // 2)) if abs(c) == 2 else ((r // 2, 0), (r // 2, c)) for r, c in knight
        ]
        return cls(
            friction=padded.reshape(-1),
            shape=(rows, cols),
            resolution_m=float(resolution_m),
            orthogonal=offsets(orthogonal),
            orthogonal_factor=factors(orthogonal, 2.0),
            diagonal=offsets(diagonal),
            diagonal_corners=np.array([[r * width, c] for r, c in diagonal], np.int64).reshape(-1, 2),
            diagonal_factor=factors(diagonal, 2.0),
            knight=offsets(knight),
            knight_crossed=np.array(
                [[a[0] * width + a[1], b[0] * width + b[1]] for a, b in crossed], np.int64
            ).reshape(-1, 2),
            knight_factor=factors(knight, 4.0),
        )

    def solve(self, sources: NDArray[np.int64]) -> NDArray[np.float32]:
        """Minutes (float32, ``inf`` unreachable) from the nearest of ``sources`` (flat indices of
        the unpadded grid) to every pixel, as a flat array of the unpadded grid."""
        rows, cols = self.shape
        width = cols + 2 * _PAD
        row, col = np.divmod(np.asarray(sources, np.int64), cols)
        minutes = _dijkstra(
            self.friction,
            (row + _PAD) * width + (col + _PAD),
            self.orthogonal,
            self.orthogonal_factor,
            self.diagonal,
            self.diagonal_corners,
            self.diagonal_factor,
            self.knight,
            self.knight_crossed,
            self.knight_factor,
            self.resolution_m,
        )
        inner = minutes.reshape(rows + 2 * _PAD, width)[_PAD:-_PAD, _PAD:-_PAD]
        return inner.astype(np.float32).reshape(-1)


@_compiled(inline="always")
def _sift_up(keys, nodes, i, key, node):  # type: ignore[no-untyped-def]
    while i > 0:
        parent = (i - 1) >> 2
        if keys[parent] <= key:
            break
        keys[i] = keys[parent]
        nodes[i] = nodes[parent]
        i = parent
    keys[i] = key
    nodes[i] = node


@_compiled(inline="always")
def _sift_down(keys, nodes, size, key, node):  # type: ignore[no-untyped-def]
    i = 0
    while True:
        first = 4 * i + 1
        if first >= size:
            break
        best = first
        best_key = keys[first]
        for q in range(first + 1, min(first + 4, size)):
            if keys[q] < best_key:
                best_key = keys[q]
                best = q
        if best_key >= key:
            break
        keys[i] = best_key
        nodes[i] = nodes[best]
        i = best
    keys[i] = key
    nodes[i] = node


@_compiled()
def _grown(keys, nodes, size):  # type: ignore[no-untyped-def]
    bigger_keys = np.empty(2 * len(keys), np.float64)
    bigger_nodes = np.empty(2 * len(nodes), np.int32)
    bigger_keys[:size] = keys[:size]
    bigger_nodes[:size] = nodes[:size]
    return bigger_keys, bigger_nodes


@_compiled(inline="always")
def _push(keys, nodes, size, key, node):  # type: ignore[no-untyped-def]
    if size == len(keys):
        keys, nodes = _grown(keys, nodes, size)
    _sift_up(keys, nodes, size, key, node)
    return keys, nodes, size + 1


@_compiled()
def _dijkstra(  # type: ignore[no-untyped-def]  # noqa: C901 (one flat loop per move group: the hot path)
    friction,
    sources,
    orthogonal,
    orthogonal_factor,
    diagonal,
    diagonal_corners,
    diagonal_factor,
    knight,
    knight_crossed,
    knight_factor,
    resolution_m,
):
    dist = np.full(len(friction), np.inf)
    keys = np.empty(max(1 << 16, 2 * len(sources)), np.float64)
    nodes = np.empty(len(keys), np.int32)  # pixels < 2**31 (access._MAX_PIXELS)
    size = 0
    for s in sources:
        if dist[s] > 0.0:
            dist[s] = 0.0
            if size == len(keys):
                keys, nodes = _grown(keys, nodes, size)
            _sift_up(keys, nodes, size, 0.0, s)
            size += 1
    while size > 0:
        d = keys[0]
        u = np.int64(nodes[0])
        size -= 1
        if size > 0:
            _sift_down(keys, nodes, size, keys[size], nodes[size])
        if d > dist[u]:
            continue  # a stale entry: the pixel was reached sooner since
        fu = np.float64(friction[u])
        for j in range(len(orthogonal)):
            v = u + orthogonal[j]
            if d >= dist[v]:
                continue
            candidate = d + ((fu + np.float64(friction[v])) * orthogonal_factor[j]) * resolution_m
            if candidate < dist[v]:
                dist[v] = candidate
                keys, nodes, size = _push(keys, nodes, size, candidate, v)
        for j in range(len(diagonal)):
            v = u + diagonal[j]
            if d >= dist[v]:
                continue
            # Closed when both pixels at the corners it passes are impassable.
            if math.isinf(friction[u + diagonal_corners[j, 0]]) and math.isinf(
                friction[u + diagonal_corners[j, 1]]
            ):
                continue
            candidate = d + ((fu + np.float64(friction[v])) * diagonal_factor[j]) * resolution_m
            if candidate < dist[v]:
                dist[v] = candidate
                keys, nodes, size = _push(keys, nodes, size, candidate, v)
        for j in range(len(knight)):
            v = u + knight[j]
            if d >= dist[v]:
                continue
            a = np.float64(friction[u + knight_crossed[j, 0]])
            b = np.float64(friction[u + knight_crossed[j, 1]])
            candidate = d + ((((fu + a) + b) + np.float64(friction[v])) * knight_factor[j]) * resolution_m
            if candidate < dist[v]:
                dist[v] = candidate
                keys, nodes, size = _push(keys, nodes, size, candidate, v)
    return dist
