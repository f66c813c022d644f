"""H3 cells of villages: tessellation, cell centres and boundaries, parents.

Every function works on whole arrays (h3ronpy over Arrow: docs/benchmarks.md); h3-py is used only at the
edges. A cell belongs to the village containing its centre; a village too small to contain any
cell centre gets the cell containing its representative point, so no village is dropped.
"""

from __future__ import annotations

import logging

import h3
import numpy as np
import pyarrow as pa
import shapely
from h3ronpy import cells_parse, cells_to_string, change_resolution
from h3ronpy.vector import (
    ContainmentMode,
    cells_to_coordinates,
    cells_to_wkb_polygons,
    coordinates_to_cells,
    wkb_to_cells,
)
from numpy.typing import NDArray

from layers.types import CellIds, FloatArray, IntArray

log = logging.getLogger(__name__)


def cells_for_villages(polygons: NDArray[np.object_], resolution: int) -> tuple[CellIds, IntArray]:
    """Tessellate village polygons into H3 cells, each cell in exactly one village.

    Parameters
    ----------
    polygons
        Shapely (Multi)Polygons in lon/lat (EPSG:4326), one per village.
    resolution
        H3 resolution (8 is ~0.74 km² per cell).

    Returns
    -------
    cells, village_pos
        Sorted unique cell ids and, for each cell, the position of its village in ``polygons``.
        Every village owns at least one cell.

    Examples
    --------
    >>> import shapely
    >>> cells, pos = cells_for_villages([shapely.box(113.0, -2.1, 113.1, -2.0)], 8)
    >>> bool(len(cells) > 100 and (pos == 0).all())
    True
    """
    polygons = np.asarray(polygons, dtype=object)
    if len(polygons) == 0:
        return np.empty(0, np.uint64), np.empty(0, np.int64)
    nested = pa.array(
        wkb_to_cells(shapely.to_wkb(polygons), resolution, containment_mode=ContainmentMode.ContainsCentroid)
    )
    counts = nested.value_lengths().fill_null(0).to_numpy(zero_copy_only=False)
    flat = nested.flatten().to_numpy().astype(np.uint64)
    owner = np.repeat(np.arange(len(polygons), dtype=np.int64), counts)
    # Overlapping inputs could give a cell to two villages: the first village keeps it.
    cells, first = np.unique(flat, return_index=True)
    village_pos = owner[first]
    return _give_cells_to_small_villages(polygons, resolution, cells, village_pos)


def _give_cells_to_small_villages(
    polygons: NDArray[np.object_], resolution: int, cells: CellIds, village_pos: IntArray
) -> tuple[CellIds, IntArray]:
    n_cells_per_village = np.bincount(village_pos, minlength=len(polygons))
    empty = np.flatnonzero(n_cells_per_village == 0)
    if len(empty) == 0:
        return cells, village_pos
    points = shapely.point_on_surface(polygons[empty])
    wanted = lonlat_to_cells(shapely.get_x(points), shapely.get_y(points), resolution)
    cells = cells.copy()
    village_pos = village_pos.copy()
    # A loop over the few villages smaller than a cell (not over cells): each takes its point's cell,
    # or a neighbour of it, from a village that can spare one.
    homeless = []
    for village, cell in zip(empty.tolist(), wanted.tolist(), strict=True):
        for candidate in _cell_and_rings(int(cell)):
            cells, village_pos, taken = _take_cell(
                cells, village_pos, n_cells_per_village, candidate, village
            )
            if taken:
                break
        else:
            homeless.append(village)
    if homeless:
        log.warning(
            "%d village(s) smaller than a cell, among neighbours as small, could not be given a cell "
            "(positions %s%s); a finer h3_resolution gives them one",
            len(homeless),
            homeless[:5],
            " …" if len(homeless) > 5 else "",
        )
    log.info("%d villages smaller than a cell got the cell at their representative point", len(empty))
    return cells, village_pos


def _cell_and_rings(cell: int) -> list[int]:
    """The cell, then its first ring, then its second: in a town of villages smaller than a cell
    (Java's kelurahan at resolution 8), the nearest cell a neighbour can spare may be two away."""
    origin = h3.int_to_str(cell)
    out = [cell]
    for k in (1, 2):
        out += [h3.str_to_int(c) for c in h3.grid_ring(origin, k)]
    return out


def _take_cell(
    cells: CellIds, village_pos: IntArray, counts: IntArray, cell: int, village: int
) -> tuple[CellIds, IntArray, bool]:
    at = int(np.searchsorted(cells, np.uint64(cell)))
    if at < len(cells) and cells[at] == cell:
        donor = int(village_pos[at])
        if counts[donor] <= 1:
            return cells, village_pos, False
        counts[donor] -= 1
        village_pos[at] = village
    else:  # the cell lies outside every village (e.g. a coastal sliver): add it
        cells = np.insert(cells, at, np.uint64(cell))
        village_pos = np.insert(village_pos, at, village)
    counts[village] += 1
    return cells, village_pos, True


def lonlat_to_cells(lon: FloatArray, lat: FloatArray, resolution: int) -> CellIds:
    """H3 cells containing the given points (vectorised)."""
    lon = np.ascontiguousarray(lon, dtype=np.float64)
    lat = np.ascontiguousarray(lat, dtype=np.float64)
    if len(lon) == 0:
        return np.empty(0, np.uint64)
    return pa.array(coordinates_to_cells(lat, lon, resolution)).to_numpy().astype(np.uint64)


def cell_centres(cells: CellIds) -> tuple[FloatArray, FloatArray]:
    """Longitude and latitude of cell centres."""
    if len(cells) == 0:
        return np.empty(0), np.empty(0)
    batch = pa.record_batch(cells_to_coordinates(pa.array(cells, pa.uint64())))
    return batch.column("lng").to_numpy(), batch.column("lat").to_numpy()


def cells_to_polygons(cells: CellIds) -> NDArray[np.object_]:
    """Cell boundaries as shapely Polygons in lon/lat."""
    if len(cells) == 0:
        return np.empty(0, dtype=object)
    wkb = pa.array(cells_to_wkb_polygons(pa.array(cells, pa.uint64())))
    return shapely.from_wkb(wkb.to_numpy(zero_copy_only=False))


def cells_to_strings(cells: CellIds) -> NDArray[np.object_]:
    """Cell ids as H3 hex strings (the public id form)."""
    return pa.array(cells_to_string(pa.array(cells, pa.uint64()))).to_numpy(zero_copy_only=False)


def strings_to_cells(strings: NDArray[np.object_]) -> CellIds:
    """Cell ids parsed from H3 hex strings."""
    if len(strings) == 0:
        return np.empty(0, np.uint64)
    return pa.array(cells_parse(pa.array(strings, pa.string()))).to_numpy().astype(np.uint64)


def cell_parents(cells: CellIds, resolution: int) -> CellIds:
    """Parent cells at a coarser resolution (for low-zoom tiles and summaries)."""
    if len(cells) == 0:
        return np.empty(0, np.uint64)
    return pa.array(change_resolution(pa.array(cells, pa.uint64()), resolution)).to_numpy().astype(np.uint64)


def positions_of(cells: CellIds, wanted: CellIds) -> IntArray:
    """Position of each ``wanted`` cell in sorted ``cells``; -1 where absent."""
    at = np.searchsorted(cells, wanted)
    at_clipped = np.minimum(at, max(len(cells) - 1, 0))
    found = (at < len(cells)) & (cells[at_clipped] == wanted) if len(cells) else np.zeros(len(wanted), bool)
    return np.where(found, at_clipped, -1).astype(np.int64)
