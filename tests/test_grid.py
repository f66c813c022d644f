import h3
import numpy as np
import shapely

from layers.geo import grid


def test_cells_belong_to_the_village_containing_their_centre():
    left = shapely.box(113.0, -2.1, 113.05, -2.0)
    right = shapely.box(113.05, -2.1, 113.1, -2.0)
    cells, pos = grid.cells_for_villages(np.array([left, right], dtype=object), 8)
    assert len(np.unique(cells)) == len(cells)
    lon, lat = grid.cell_centres(cells)
    inside_left = shapely.contains_xy(left, lon, lat)
    assert (pos[inside_left] == 0).all()
    assert (pos[~inside_left] == 1).all()
    # Matches h3-py's own polygon fill, which uses the same centre containment.
    expected = {h3.str_to_int(c) for c in h3.geo_to_cells(left, 8)}
    assert set(cells[pos == 0].tolist()) == expected


def test_a_village_smaller_than_a_cell_still_gets_one():
    big = shapely.box(113.0, -2.1, 113.1, -2.0)
    tiny = shapely.box(113.0400, -2.0500, 113.0401, -2.0499)  # ~11 m across, inside big's area
    big_with_hole = big.difference(tiny)
    cells, pos = grid.cells_for_villages(np.array([big_with_hole, tiny], dtype=object), 8)
    assert (pos == 1).sum() == 1
    assert (pos == 0).sum() > 100
    tiny_cell = cells[pos == 1][0]
    assert tiny_cell == grid.lonlat_to_cells(np.array([113.04005]), np.array([-2.04995]), 8)[0]


def test_round_trips_and_parents():
    cells = grid.lonlat_to_cells(np.array([113.0, 114.2]), np.array([-2.0, -1.5]), 8)
    strings = grid.cells_to_strings(cells)
    assert list(strings) == [h3.latlng_to_cell(-2.0, 113.0, 8), h3.latlng_to_cell(-1.5, 114.2, 8)]
    assert (grid.strings_to_cells(strings) == cells).all()
    parents = grid.cell_parents(cells, 6)
    assert [h3.int_to_str(int(p)) for p in parents] == [h3.cell_to_parent(s, 6) for s in strings]
    polygons = grid.cells_to_polygons(cells)
    lon, lat = grid.cell_centres(cells)
    assert shapely.contains_xy(polygons, lon, lat).all()


def test_positions_of_marks_absent_cells():
    cells = np.array([3, 5, 9], dtype=np.uint64)
    assert grid.positions_of(cells, np.array([9, 4, 3, 10], dtype=np.uint64)).tolist() == [2, -1, 0, -1]
