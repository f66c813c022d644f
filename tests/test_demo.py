"""The synthetic demo province: read back its real files and check them against each other."""

from __future__ import annotations

from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd
import pyogrio
import pytest
import rasterio
import shapely

from layers.config import POVERTY_COLUMNS, load_config
from layers.demo import province as demo
from layers.demo.province import DEMO_BBOX, POVERTY_HEADERS, village_id_raster, write_demo

SMALL = 60
COUNT_COLUMNS = list(POVERTY_HEADERS.values())
HH_COLUMNS = [c for c in COUNT_COLUMNS if c.startswith("kk_")]
FILES = (
    "villages.gpkg",
    "poverty.csv",
    "schools.gpkg",
    "health_facilities.gpkg",
    "roads.gpkg",
    "rivers.gpkg",
    "population.tif",
    "README.txt",
    "sasaran.toml",
)


@pytest.fixture(scope="module")
def small(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("demo") / "small"
    write_demo(out, villages=SMALL, seed=62)
    return out


@pytest.fixture(scope="module")
def out(small: Path) -> Path:
    return small


@pytest.fixture(scope="module")
def villages(out: Path) -> gpd.GeoDataFrame:
    return pyogrio.read_dataframe(out / "villages.gpkg", layer="villages")


@pytest.fixture(scope="module")
def poverty(out: Path) -> pd.DataFrame:
    return pd.read_csv(out / "poverty.csv", dtype={"kode_desa": str})


def _area_km2(frame: gpd.GeoDataFrame) -> pd.Series:
    return frame.to_crs("EPSG:6933").area / 1e6  # equal-area (cylindrical), fine at the equator


# --- the API and the config ---------------------------------------------------------------------


def test_returns_a_config_that_loads(out: Path) -> None:
    config = load_config(out / "sasaran.toml")

    assert config.synthetic is True
    assert "synthetic" in config.name.lower()
    assert config.h3_resolution == 8
    sources = config.sources
    for source in (
        sources.villages,
        sources.poverty,
        sources.schools,
        sources.health_facilities,
        sources.roads,
        sources.rivers,
        sources.population,
    ):
        assert source is not None and config.resolve(source.file).is_file()
    assert set(sources.poverty.columns) == set(POVERTY_COLUMNS) - {"poverty_rate"}
    assert (out / "sasaran.toml").read_text().startswith("# SYNTHETIC")


def test_writes_every_file_and_no_leftovers(out: Path) -> None:
    assert sorted(p.name for p in out.iterdir()) == sorted(FILES)
    assert [p.name for p in out.parent.iterdir()] == [out.name]  # no temporary siblings


def test_too_few_villages_is_refused(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="between 20 and 20,000"):
        write_demo(tmp_path / "d", villages=5)
    assert not tmp_path.joinpath("d").exists()


def test_every_file_says_it_is_synthetic(out: Path) -> None:
    assert "SYNTHETIC" in (out / "README.txt").read_text()
    for name in ("villages", "schools", "health_facilities", "roads", "rivers"):
        info = pyogrio.read_info(out / f"{name}.gpkg", layer=name)
        assert info["dataset_metadata"]["SYNTHETIC"] == "true"
        assert "SYNTHETIC" in info["layer_metadata"]["DESCRIPTION"]
    with rasterio.open(out / "population.tif") as src:
        assert src.tags()["SYNTHETIC"] == "true"


# --- determinism and atomic replacement --------------------------------------------------------


def test_same_seed_same_province_other_seed_another(out: Path, tmp_path: Path) -> None:
    again = write_demo(tmp_path / "again", villages=SMALL, seed=62).parent
    other = write_demo(tmp_path / "other", villages=SMALL, seed=63).parent

    assert (again / "poverty.csv").read_bytes() == (out / "poverty.csv").read_bytes()
    for name in ("villages", "roads", "rivers", "schools", "health_facilities"):
        a = pyogrio.read_dataframe(out / f"{name}.gpkg")
        b = pyogrio.read_dataframe(again / f"{name}.gpkg")
        pd.testing.assert_frame_equal(a.drop(columns="geometry"), b.drop(columns="geometry"))
        assert list(shapely.to_wkb(a.geometry.values)) == list(shapely.to_wkb(b.geometry.values))
    with rasterio.open(out / "population.tif") as a, rasterio.open(again / "population.tif") as b:
        assert np.array_equal(a.read(1), b.read(1))
    assert (other / "poverty.csv").read_bytes() != (out / "poverty.csv").read_bytes()
    first = pyogrio.read_dataframe(out / "villages.gpkg").geometry.values
    second = pyogrio.read_dataframe(other / "villages.gpkg").geometry.values
    assert len(first) != len(second) or not shapely.equals_exact(first, second).all()


def test_replaces_an_existing_directory(tmp_path: Path) -> None:
    target = tmp_path / "demo"
    target.mkdir()
    (target / "stale.txt").write_text("old")

    write_demo(target, villages=20, seed=1)

    assert not (target / "stale.txt").exists()
    assert (target / "sasaran.toml").is_file()
    assert [p.name for p in tmp_path.iterdir()] == ["demo"]


def test_a_failure_leaves_the_previous_directory_alone(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    target = tmp_path / "demo"
    target.mkdir()
    (target / "keep.txt").write_text("previous demo")

    def broken(*_: object) -> str:
        raise RuntimeError("disk full")

    monkeypatch.setattr(demo, "_config_toml", broken)
    with pytest.raises(RuntimeError, match="disk full"):
        write_demo(target, villages=20, seed=1)

    assert [p.name for p in target.iterdir()] == ["keep.txt"]
    assert [p.name for p in tmp_path.iterdir()] == ["demo"]


# --- villages -----------------------------------------------------------------------------------


def test_village_layer_schema(out: Path, villages: gpd.GeoDataFrame) -> None:
    info = pyogrio.read_info(out / "villages.gpkg", layer="villages")
    assert list(info["fields"]) == ["kode_desa", "nama_desa", "kode_kec", "nama_kec", "kode_kab", "nama_kab"]
    assert set(info["ogr_types"]) == {"OFTString"}
    assert info["geometry_type"] == "MultiPolygon"
    assert villages.crs.to_epsg() == 4326
    assert len(villages) == SMALL


def test_villages_are_valid_and_partition_the_province(villages: gpd.GeoDataFrame) -> None:
    geoms = villages.geometry.values

    assert (shapely.get_type_id(geoms) == 6).all()
    assert shapely.is_valid(geoms).all()
    assert not shapely.is_empty(geoms).any()
    union = shapely.union_all(geoms)
    assert shapely.area(geoms).sum() == pytest.approx(union.area, rel=1e-6)  # no overlaps
    assert len(shapely.get_parts(union)) == 1
    # Gaps would show as holes in the union; the outline itself has none.
    assert shapely.get_num_interior_rings(shapely.get_parts(union)).sum() == 0
    minx, miny, maxx, maxy = union.bounds
    assert DEMO_BBOX[0] <= minx and maxx <= DEMO_BBOX[2] and DEMO_BBOX[1] <= miny and maxy <= DEMO_BBOX[3]


def test_codes_are_bps_style_and_nested(villages: gpd.GeoDataFrame) -> None:
    codes = villages["kode_desa"]

    assert codes.is_unique
    assert codes.str.fullmatch(r"62\d{8}").all()
    assert villages["kode_kec"].str.fullmatch(r"62\d{2}\d{2}0").all()
    assert villages["kode_kab"].str.fullmatch(r"62(0[1-9]|1[0-3]|71)").all()
    assert (codes.str[:7] == villages["kode_kec"]).all()
    assert (villages["kode_kec"].str[:4] == villages["kode_kab"]).all()
    assert (villages.groupby("kode_kec")["nama_kec"].nunique() == 1).all()
    assert (villages.groupby("kode_kab")["nama_kab"].nunique() == 1).all()
    assert "6271" in set(villages["kode_kab"])  # the kota
    assert villages["nama_desa"].str.contains("Sintetis").all()


def test_small_province_has_few_units_and_a_proportional_area(villages: gpd.GeoDataFrame) -> None:
    assert 2 <= villages["kode_kab"].nunique() <= 4
    assert 6 <= villages["kode_kec"].nunique() <= 10
    assert _area_km2(villages).sum() == pytest.approx(SMALL * 100, rel=0.05)


def test_kecamatan_and_kabupaten_are_contiguous(villages: gpd.GeoDataFrame) -> None:
    for column in ("kode_kec", "kode_kab"):
        unions = villages.dissolve(column).geometry.values
        assert (shapely.get_num_geometries(unions) == 1).all(), column


# --- population raster and poverty table --------------------------------------------------------


def test_raster_sums_to_the_2024_population_of_each_village(
    out: Path, villages: gpd.GeoDataFrame, poverty: pd.DataFrame
) -> None:
    with rasterio.open(out / "population.tif") as src:
        people = src.read(1)
        assert src.crs.to_epsg() == 4326
        assert src.dtypes[0] == "float32"
        assert src.res[0] == pytest.approx(0.0009)
        assert src.profile["compress"] == "deflate" and src.profile["tiled"]
        vid = village_id_raster(villages.geometry.values, src.transform, people.shape)
        nodata = src.nodata
    inside = vid >= 0
    sums = np.bincount(vid[inside], weights=people[inside].astype(np.float64), minlength=len(villages))
    pop = poverty[poverty["tahun"] == 2024].set_index("kode_desa")["jumlah_penduduk"]

    np.testing.assert_allclose(sums, pop.loc[villages["kode_desa"]].to_numpy(), rtol=1e-3)
    assert (people[inside] > 0).all()
    assert (people[~inside] == nodata).all()


def test_poverty_table_is_complete_and_consistent(villages: gpd.GeoDataFrame, poverty: pd.DataFrame) -> None:
    assert list(poverty.columns) == ["kode_desa", "tahun", *COUNT_COLUMNS]
    assert sorted(poverty["tahun"].unique()) == [2023, 2024]
    assert set(poverty["kode_desa"]) == set(villages["kode_desa"])
    assert not poverty.duplicated(["kode_desa", "tahun"]).any()
    counts = poverty[COUNT_COLUMNS]
    assert all(pd.api.types.is_integer_dtype(t) for t in counts.dtypes)
    assert (counts >= 0).all().all()
    assert (poverty["penduduk_miskin"] <= poverty["jumlah_penduduk"]).all()
    assert (poverty["lansia"] <= poverty["jumlah_penduduk"]).all()
    assert (poverty["disabilitas"] <= poverty["jumlah_penduduk"]).all()
    for column in HH_COLUMNS:
        assert (poverty[column] <= poverty["jumlah_kk"]).all(), column
    deciles = poverty[[f"kk_desil_{k}" for k in range(1, 5)]].sum(axis=1)
    assert (deciles <= poverty["jumlah_kk"]).all()
    assert (poverty["jumlah_kk"] >= 1).all()


def test_poverty_rates_are_plausible_and_change_between_years(poverty: pd.DataFrame) -> None:
    year = poverty.set_index(["tahun", "kode_desa"])
    totals = year.groupby(level="tahun")[["jumlah_penduduk", "penduduk_miskin"]].sum()
    rate = totals["penduduk_miskin"] / totals["jumlah_penduduk"]
    assert rate.between(0.035, 0.085).all()
    growth = totals.loc[2024, "jumlah_penduduk"] / totals.loc[2023, "jumlah_penduduk"] - 1
    assert 0.005 < growth < 0.025
    village_rate = year["penduduk_miskin"] / year["jumlah_penduduk"]
    assert (village_rate.loc[2024] > 0.0903).any()  # above the national rate somewhere
    change = village_rate.loc[2024] - village_rate.loc[2023]
    # BPS: the province rate rose from 5.11 % to 5.17 %; villages move both ways around that.
    assert (change < 0).any() and (change > 0).any()
    assert abs(rate.loc[2023] - 0.0511) < 0.0005 and abs(rate.loc[2024] - 0.0517) < 0.0005


# --- facilities and lines -----------------------------------------------------------------------


def test_schools(out: Path, villages: gpd.GeoDataFrame) -> None:
    schools = pyogrio.read_dataframe(out / "schools.gpkg", layer="schools")

    assert {"npsn", "nama_sekolah", "bentuk", "status"} <= set(schools.columns)
    assert schools["npsn"].is_unique and schools["npsn"].str.fullmatch(r"\d{8}").all()
    assert set(schools["bentuk"]) == {"SD", "SMP", "SMA", "SMK"}
    assert set(schools["status"]) <= {"N", "S"}
    assert (schools.geom_type == "Point").all()
    assert schools.crs.to_epsg() == 4326
    counts = schools["bentuk"].value_counts()
    assert counts["SD"] > counts["SMP"] > counts["SMA"]
    assert 1.3 * SMALL < counts["SD"] < 2.2 * SMALL
    located = schools.sjoin(villages, predicate="within")
    assert len(located) == len(schools)  # every school lies inside a village
    with_sd = located.loc[located["bentuk"] == "SD", "kode_desa"].nunique()
    assert with_sd >= 0.75 * SMALL


def test_health_facilities(out: Path, villages: gpd.GeoDataFrame) -> None:
    health = pyogrio.read_dataframe(out / "health_facilities.gpkg", layer="health_facilities")

    assert {"nama", "jenis"} <= set(health.columns)
    assert set(health["jenis"]) <= {"hospital", "puskesmas", "pustu", "clinic"}
    located = health.sjoin(villages, predicate="within")
    assert len(located) == len(health)
    hospitals = located[located["jenis"] == "hospital"]
    assert set(hospitals["kode_kab"]) == set(villages["kode_kab"])  # one in every capital
    assert set(located.loc[located["jenis"] == "puskesmas", "kode_kec"]) == set(villages["kode_kec"])


def test_rivers_and_roads(out: Path, villages: gpd.GeoDataFrame) -> None:
    rivers = pyogrio.read_dataframe(out / "rivers.gpkg", layer="rivers")
    roads = pyogrio.read_dataframe(out / "roads.gpkg", layer="roads")
    province = shapely.union_all(villages.geometry.values).buffer(1e-6)

    assert set(rivers["waterway"]) == {"river", "stream"}
    assert rivers["name"].str.contains("sintetis").all()
    assert {"trunk", "secondary", "tertiary"} <= set(roads["highway"])
    assert set(roads["highway"]) <= {"trunk", "primary", "secondary", "tertiary", "unclassified", "track"}
    for lines in (rivers, roads):
        assert lines.crs.to_epsg() == 4326
        assert (lines.geom_type == "MultiLineString").all()
        assert shapely.is_valid(lines.geometry.values).all()
        assert shapely.within(lines.geometry.values, province).all()


# --- the default size ---------------------------------------------------------------------------


def test_default_province_is_central_kalimantan_sized(tmp_path: Path) -> None:
    # How long it takes is a benchmark (docs/benchmarks.md, "Build of the demo province").
    out = write_demo(tmp_path / "default").parent
    villages = pyogrio.read_dataframe(out / "villages.gpkg", columns=["kode_kec", "kode_kab"])
    poverty = pd.read_csv(out / "poverty.csv", usecols=["tahun", "jumlah_penduduk"])

    assert len(villages) == 1500
    assert villages["kode_kab"].nunique() == 14
    assert 120 <= villages["kode_kec"].nunique() <= 150
    assert 120_000 <= _area_km2(villages).sum() <= 180_000
    people = poverty.loc[poverty["tahun"] == 2024, "jumlah_penduduk"].sum()
    assert 2_400_000 <= people <= 3_000_000
