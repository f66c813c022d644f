import numpy as np
import pytest
import rasterio
from rasterio.transform import from_origin

from layers.errors import SourceError
from layers.geo import grid
from layers.geo.population import raster_people_per_cell, scale_to_villages


def write_raster(path, data, transform, crs="EPSG:4326", nodata=-1.0):
    with rasterio.open(
        path,
        "w",
        driver="GTiff",
        width=data.shape[1],
        height=data.shape[0],
        count=1,
        dtype="float32",
        crs=crs,
        transform=transform,
        nodata=nodata,
    ) as dst:
        dst.write(data.astype("float32"), 1)


def test_raster_people_are_binned_into_cells_and_nothing_is_lost(tmp_path):
    transform = from_origin(113.0, -2.0, 0.001, 0.001)
    data = np.random.default_rng(0).uniform(0, 5, (100, 100))
    data[0, 0] = -1.0  # nodata
    write_raster(tmp_path / "pop.tif", data, transform)
    rows, cols = np.mgrid[0:100, 0:100]
    lon, lat = 113.0 + (cols.ravel() + 0.5) * 0.001, -2.0 - (rows.ravel() + 0.5) * 0.001
    cells = np.unique(grid.lonlat_to_cells(lon, lat, 8))
    totals = raster_people_per_cell(tmp_path / "pop.tif", cells, 8)
    assert totals.sum() == pytest.approx(data[data > 0].sum(), rel=1e-6)
    expected = np.bincount(
        grid.positions_of(cells, grid.lonlat_to_cells(lon, lat, 8)),
        weights=np.where(data.ravel() > 0, data.ravel(), 0),
        minlength=len(cells),
    )
    np.testing.assert_allclose(totals, expected, rtol=1e-6)


def test_projected_raster_is_reprojected(tmp_path):
    # UTM 49S, one pixel of 100 people near 113°E 2°S.
    write_raster(
        tmp_path / "utm.tif", np.array([[100.0]]), from_origin(722_000, 9_779_000, 100, 100), "EPSG:32749"
    )
    from pyproj import Transformer

    lon, lat = Transformer.from_crs(32749, 4326, always_xy=True).transform(722_050, 9_778_950)
    cells = grid.lonlat_to_cells(np.array([lon]), np.array([lat]), 8)
    assert raster_people_per_cell(tmp_path / "utm.tif", cells, 8).tolist() == [100.0]


def test_negative_pixels_are_an_error_naming_the_pixel(tmp_path):
    write_raster(tmp_path / "bad.tif", np.array([[1.0, -5.0]]), from_origin(113, -2, 0.001, 0.001))
    with pytest.raises(SourceError, match=r"bad.tif, pixel \(row 0, col 1\), field 'band 1': negative"):
        raster_people_per_cell(tmp_path / "bad.tif", np.array([1], np.uint64), 8)


def test_scaling_conserves_village_totals_and_spreads_empty_villages():
    raw = np.array([1.0, 3.0, 0.0, 0.0, 2.0])
    pos = np.array([0, 0, 1, 1, 2])
    scaled = scale_to_villages(raw, pos, np.array([100.0, 50.0, 7.0]))
    assert scaled.tolist() == [25.0, 75.0, 25.0, 25.0, 7.0]
