"""Each bad input stops the build with exit status 2, a message naming file, row and field, and
nothing written — through the real ``sasaran`` command."""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
from pathlib import Path

import geopandas as gpd
import pandas as pd
import pyogrio
import pytest
import shapely


def run_build(config: Path, store: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "layers.cli", "build", str(config), "--store", str(store), "--quiet"],
        check=False,
        capture_output=True,
        text=True,
        timeout=300,
    )


@pytest.fixture
def sources(demo_sources: Path, tmp_path: Path) -> Path:
    """A private copy of the demo source files, to break."""
    copy = tmp_path / "src"
    shutil.copytree(demo_sources.parent, copy)
    return copy


def edit_villages(sources: Path, change) -> None:
    path = sources / "villages.gpkg"
    frame = pyogrio.read_dataframe(path, layer="villages")
    frame = change(frame)
    path.unlink()
    pyogrio.write_dataframe(frame, path, layer="villages")


def edit_poverty(sources: Path, change) -> None:
    path = sources / "poverty.csv"
    frame = pd.read_csv(path, dtype=str)
    change(frame).to_csv(path, index=False)


def drop_column(frame):
    return frame.drop(columns="nama_kec")


def duplicate_code(frame):
    frame.loc[5, "kode_desa"] = frame.loc[3, "kode_desa"]
    return frame


def empty_geometry(frame):
    frame.loc[4, "geometry"] = shapely.Polygon()
    return frame


def invalid_geometry(frame):
    frame.loc[2, "geometry"] = shapely.Polygon(
        [(113, -2), (113.1, -2.1), (113.1, -2), (113, -2.1), (113, -2)]
    )
    return frame


def point_geometry(frame):
    geoms = frame.geometry.copy()
    geoms.iloc[1] = shapely.Point(113, -2)
    return gpd.GeoDataFrame(frame.drop(columns="geometry"), geometry=geoms.values, crs=frame.crs)


def no_crs(frame):
    return frame.set_crs(None, allow_override=True)


# GeoPackage FIDs start at 1: the feature at row position i is "feature i + 1", as QGIS shows it.
CASES = {
    "missing column": (
        edit_villages,
        drop_column,
        [r"villages.gpkg", r"field 'nama_kec'", "column not found"],
    ),
    "duplicate code": (
        edit_villages,
        duplicate_code,
        [r"villages.gpkg, feature 6, field 'kode_desa'", "duplicate code .* \\(first at feature 4\\)"],
    ),
    "empty geometry": (
        edit_villages,
        empty_geometry,
        [r"villages.gpkg, feature 5, field 'geometry'", "empty"],
    ),
    "invalid geometry": (
        edit_villages,
        invalid_geometry,
        [r"villages.gpkg, feature 3, field 'geometry'", "invalid geometry"],
    ),
    "wrong geometry type": (
        edit_villages,
        point_geometry,
        [r"villages.gpkg, feature 2, field 'geometry'", "Point"],
    ),
    "missing crs": (edit_villages, no_crs, [r"villages.gpkg", "coordinate reference system"]),
    "unmatched poverty code": (
        edit_poverty,
        lambda f: f.assign(kode_desa=f["kode_desa"].where(f.index != 7, "6299999999")),
        [r"poverty.csv, row 8, field 'kode_desa'", "6299999999", "match no village"],
    ),
    "village without poverty row": (
        edit_poverty,
        lambda f: f.drop(index=[0]),
        [r"poverty.csv, field 'kode_desa'", "no row for year"],
    ),
    "non-numeric count": (
        edit_poverty,
        lambda f: f.assign(jumlah_kk=f["jumlah_kk"].where(f.index != 3, "banyak")),
        [r"poverty.csv, row 4, field 'jumlah_kk'", "'banyak' is not a number"],
    ),
    "negative count": (
        edit_poverty,
        lambda f: f.assign(lansia=f["lansia"].where(f.index != 10, "-4")),
        [r"poverty.csv, row 11, field 'lansia'", "negative"],
    ),
}


@pytest.mark.parametrize("case", sorted(CASES))
def test_bad_input_exits_2_names_the_place_and_writes_nothing(case, sources, tmp_path):
    edit, change, patterns = CASES[case]
    edit(sources, change)
    store = tmp_path / "store"
    result = run_build(sources / "sasaran.toml", store)
    assert result.returncode == 2, result.stderr
    message = result.stderr.strip().splitlines()[-1]
    for pattern in patterns:
        assert re.search(pattern, message), message
    assert not store.exists()
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith(".")] == []


def test_bad_input_keeps_an_existing_store(sources, store_dir, tmp_path):
    store = tmp_path / "store"
    shutil.copytree(store_dir, store)
    before = (store / "manifest.json").read_bytes()
    edit_villages(sources, duplicate_code)
    assert run_build(sources / "sasaran.toml", store).returncode == 2
    assert (store / "manifest.json").read_bytes() == before


def test_missing_config_is_exit_2(tmp_path):
    result = run_build(tmp_path / "nope.toml", tmp_path / "store")
    assert result.returncode == 2
    assert "nope.toml: config file not found" in result.stderr
