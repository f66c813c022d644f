"""Each bad input stops the build with exit status 2, a message naming file, row and field, and
nothing written — through the real ``sasaran`` command."""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd
import pyogrio
import pytest
import rasterio
import shapely

from tests.conftest import snapshot


def run_build(config: Path, store: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "layers.cli", "build", str(config), "--store", str(store), "--quiet"],
        check=False,
        capture_output=True,
        text=True,
        timeout=300,
    )


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


# --- wrong data on a good store (issue 10): refused at read time, the old store untouched ---------


def edit_config(sources: Path, old: str, new: str) -> None:
    path = sources / "sasaran.toml"
    text = path.read_text(encoding="utf-8")
    assert old in text
    path.write_text(text.replace(old, new, 1), encoding="utf-8")


def edit_layer(name: str, change) -> object:
    """An edit of one demo GeoPackage (layer named like the file)."""

    def edit(sources: Path) -> None:
        path = sources / f"{name}.gpkg"
        frame = change(pyogrio.read_dataframe(path, layer=name))
        path.unlink()
        pyogrio.write_dataframe(frame, path, layer=name)

    return edit


def edit_table(change) -> object:
    def edit(sources: Path) -> None:
        edit_poverty(sources, change)

    return edit


def set_cell(column: str, row: int, value: str):
    def change(frame):
        frame.loc[row, column] = value
        return frame

    return change


def dotted_thousands(frame):
    # What an Indonesian spreadsheet exports: 1973 people written "1.973".
    frame["jumlah_penduduk"] = [f"{int(v):,}".replace(",", ".") for v in frame["jumlah_penduduk"]]
    return frame


def ten_times_poor(frame):
    frame["penduduk_miskin"] = (frame["jumlah_penduduk"].astype(int) * 10).astype(str)
    return frame


def deciles_over_households(frame):
    households = frame["jumlah_kk"].astype(int)
    frame.loc[5, "kk_desil_1"] = str(households[5] // 2 + 1)
    frame.loc[5, "kk_desil_2"] = str(households[5] // 2 + 1)
    return frame


def no_households(frame):
    for column in [c for c in frame.columns if c.startswith("kk_") or c == "jumlah_kk"]:
        frame.loc[8, column] = "0"
    return frame


def cp1252_table(sources: Path) -> None:
    # Excel on Windows saves "CSV" in cp1252: é is the single byte E9, invalid in UTF-8.
    path = sources / "poverty.csv"
    frame = pd.read_csv(path, dtype=str)
    frame.insert(1, "nama_desa", "Sukamaju")
    frame.loc[4, "nama_desa"] = "Pénda Asam"
    path.write_bytes(frame.to_csv(index=False).encode("cp1252"))


def semicolon_indonesian_undeclared(sources: Path) -> None:
    path = sources / "poverty.csv"
    frame = dotted_thousands(pd.read_csv(path, dtype=str))
    frame.to_csv(path, index=False, sep=";")


def shapefile_without_cpg(sources: Path) -> None:
    frame = pyogrio.read_dataframe(sources / "villages.gpkg", layer="villages")
    frame.loc[2, "nama_desa"] = "Tumbang Ñamé"
    pyogrio.write_dataframe(frame, sources / "villages.shp", encoding="UTF-8")
    (sources / "villages.cpg").unlink()
    edit_config(sources, 'file = "villages.gpkg"\nlayer = "villages"', 'file = "villages.shp"')


def relabel(crs):
    return lambda frame: frame.set_crs(crs, allow_override=True)


def shifted(dx: float):
    return lambda frame: frame.set_geometry(frame.geometry.translate(xoff=dx))


def empty(frame):
    return frame.iloc[:0]


def edit_raster(change):
    def edit(sources: Path) -> None:
        path = sources / "population.tif"
        with rasterio.open(path) as src:
            profile, data = src.profile, src.read(1)
        data, profile = change(data, profile)
        path.unlink()
        with rasterio.open(path, "w", **profile) as dst:
            dst.write(data, 1)

    return edit


def raster_elsewhere(data, profile):
    t = profile["transform"]
    return data, {**profile, "transform": rasterio.Affine(t.a, t.b, t.c + 20.0, t.d, t.e, t.f)}


def raster_all_nodata(data, profile):
    return np.full_like(data, profile["nodata"]), profile


def raster_labelled_3857(data, profile):
    return data, {**profile, "crs": "EPSG:3857"}


POVERTY_ROWS = 120  # 60 demo villages x 2 years
WRONG_DATA = {
    "indonesian thousands separators": (
        edit_table(dotted_thousands),
        [
            r"poverty.csv, row \d+, field 'jumlah_penduduk': '\d\.\d{3}' is not a whole number",
            r"also row \d+ '\d\.\d{3}'",
            r"looks like '\.' separates thousands",
            r'thousands = "\."',
        ],
    ),
    "semicolon csv with thousands separators": (
        semicolon_indonesian_undeclared,
        [r"poverty.csv, row \d+, field 'jumlah_penduduk': '\d\.\d{3}' is not a whole number"],
    ),
    "cp1252 csv": (
        cp1252_table,
        [
            r"poverty.csv, row 5 \(line 6\), field 'nama_desa'",
            r"byte\(s\) E9 at character 13 are not UTF-8",
            r'encoding = "cp1252"',
        ],
    ),
    "shapefile without cpg": (
        shapefile_without_cpg,
        [
            r"villages.shp, feature 2, field 'nama_desa': 'Tumbang Ã\\x91amÃ©' has non-ASCII text",
            r"no \.cpg file",
            r"read as UTF-8 it is 'Tumbang Ñamé'",
            r'encoding = "UTF-8"',
        ],
    ),
    "villages in degrees labelled EPSG:3857": (
        edit_layer("villages", relabel(3857)),
        [
            r"villages.gpkg, feature 1, field 'geometry': lands at 0\.0010°, -0\.0000°",
            r"declared CRS EPSG:3857 \(WGS 84 / Pseudo-Mercator\)",
            r"60 in all",
            r"look like degrees",
        ],
    ),
    "schools in degrees labelled EPSG:3857": (
        edit_layer("schools", relabel(3857)),
        [
            r"schools.gpkg, feature 1, field 'geometry'",
            r"declared CRS EPSG:3857",
            r"all \d+ features land outside the villages' extent",
        ],
    ),
    "roads far outside the villages": (
        edit_layer("roads", shifted(15.0)),
        [
            r"roads.gpkg, feature 1, field 'geometry': all \d+ features land outside the villages' extent",
            r"EPSG:4326",
        ],
    ),
    "health facilities far outside the villages": (
        edit_layer("health_facilities", shifted(-8.0)),
        [r"health_facilities.gpkg, feature 1, field 'geometry'", r"outside the villages' extent"],
    ),
    "empty schools file": (
        edit_layer("schools", empty),
        [r"schools.gpkg: no schools features", r"remove \[sources.schools\] to go without"],
    ),
    "empty health file": (
        edit_layer("health_facilities", empty),
        [r"health_facilities.gpkg: no health facilities features"],
    ),
    "empty roads file": (edit_layer("roads", empty), [r"roads.gpkg: no roads features"]),
    "schools empty after filtering": (
        edit_layer("schools", lambda f: f.assign(bentuk="Sekolah")),
        [r"schools.gpkg, field 'bentuk': no feature of kind school_sd \(values MI, SD, SDLB\)", "Sekolah"],
    ),
    "no hospital": (
        edit_layer("health_facilities", lambda f: f.assign(jenis="puskesmas")),
        [r"health_facilities.gpkg, field 'jenis': no feature of kind health_hospital"],
    ),
    "roads empty after filtering": (
        edit_layer("roads", lambda f: f.assign(highway="residential")),
        [r"roads.gpkg, field 'highway': no all-weather road"],
    ),
    "raster elsewhere": (
        edit_raster(raster_elsewhere),
        [r"population.tif, field 'band 1': the raster covers", "does not overlap the villages"],
    ),
    "raster all nodata": (
        edit_raster(raster_all_nodata),
        [r"population.tif, field 'band 1': every pixel is nodata \(nodata = -1.0\)"],
    ),
    "raster labelled EPSG:3857": (
        edit_raster(raster_labelled_3857),
        [r"population.tif, field 'band 1'", "declared CRS EPSG:3857", "look like degrees"],
    ),
    "poor population ten times population": (
        edit_table(ten_times_poor),
        [
            r"poverty.csv, row 1, field 'penduduk_miskin': [\d,]+ \(> jumlah_penduduk [\d,]+\) "
            "exceeds its population",
            rf"{POVERTY_ROWS} in all",
        ],
    ),
    "inf": (
        edit_table(set_cell("lansia", 6, "inf")),
        [r"poverty.csv, row 7, field 'lansia': 'inf' is not a finite number"],
    ),
    "1e400": (
        edit_table(set_cell("jumlah_kk", 9, "1e400")),
        [r"poverty.csv, row 10, field 'jumlah_kk': '1e400' is not a finite number"],
    ),
    "NaN population": (
        edit_table(set_cell("jumlah_penduduk", 11, "NaN")),
        [r"poverty.csv, row 12, field 'jumlah_penduduk': 'NaN' is not a number"],
    ),
    "blank population": (
        edit_table(set_cell("jumlah_penduduk", 12, "")),
        [r"poverty.csv, row 13, field 'jumlah_penduduk': empty cell where population is required"],
    ),
    "population 0": (
        edit_table(set_cell("jumlah_penduduk", 14, "0")),
        [r"poverty.csv, row 15, field 'jumlah_penduduk': '0' is zero", "at least one H3 cell"],
    ),
    "deciles over households": (
        edit_table(deciles_over_households),
        [
            r"poverty.csv, row 6, field 'kk_desil_1': kk_desil_1 \+ kk_desil_2 \+ .* = [\d,]+ "
            r"\(> jumlah_kk [\d,]+\) exceeds its households \(a household is in one decile\)"
        ],
    ),
    "one decile over households": (
        edit_table(lambda f: f.assign(kk_desil_3=f["kk_desil_3"].where(f.index != 3, "99999"))),
        [r"poverty.csv, row 4, field 'kk_desil_3': 99,999 \(> jumlah_kk [\d,]+\) exceeds its households"],
    ),
    "no households for people": (
        edit_table(no_households),
        [r"poverty.csv, row 9, field 'jumlah_kk': 0 households for [\d,]+ people is impossible"],
    ),
    "fractional year": (
        edit_table(set_cell("tahun", 0, "2023.5")),
        [r"poverty.csv, row 1, field 'tahun': '2023.5' is not a whole number"],
    ),
}


@pytest.mark.parametrize("case", sorted(WRONG_DATA))
def test_wrong_data_exits_2_and_keeps_the_old_store(case, sources, old_store):
    edit, patterns = WRONG_DATA[case]
    before = snapshot(old_store)
    edit(sources)
    result = run_build(sources / "sasaran.toml", old_store)
    assert result.returncode == 2, result.stderr
    message = result.stderr.strip().splitlines()[-1]
    assert message.startswith("error: "), message
    for pattern in patterns:
        assert re.search(pattern, message), (pattern, message)
    assert snapshot(old_store) == before
    assert [p.name for p in old_store.parent.iterdir() if p.name.startswith(".")] == []


def test_declared_number_format_and_detected_delimiter_build(sources, old_store):
    """An Indonesian export (semicolons, 1.973 people, 5,17 %) builds once its format is declared,
    and reads the same numbers as the plain CSV the old store was built from."""
    columns = ["village_code", "year", "population", "households", "poor_population", "hh_decile_1"]
    before = pd.read_parquet(old_store / "village_years.parquet", columns=columns)
    path = sources / "poverty.csv"
    frame = pd.read_csv(path, dtype=str)
    # The rate agrees with the counts (the build cross-checks them), written as "9,19".
    rate = 100 * frame["penduduk_miskin"].astype(float) / frame["jumlah_penduduk"].astype(float)
    frame["persen_miskin"] = [f"{r:.2f}".replace(".", ",") for r in rate]
    for column in frame.columns.drop(["kode_desa", "tahun", "persen_miskin"]):
        frame[column] = [f"{int(v):,}".replace(",", ".") for v in frame[column]]
    frame.to_csv(path, index=False, sep=";")
    edit_config(sources, 'year = "tahun"', 'year = "tahun"\nthousands = "."')
    edit_config(
        sources, "[sources.poverty.columns]", '[sources.poverty.columns]\npoverty_rate = "persen_miskin"'
    )
    result = run_build(sources / "sasaran.toml", old_store)
    assert result.returncode == 0, result.stderr
    after = pd.read_parquet(old_store / "village_years.parquet", columns=columns)
    assert (after["population"] > 1000).any()  # values written "1.973" were read as 1973
    pd.testing.assert_frame_equal(after, before)
