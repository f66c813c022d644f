"""The synthetic country: a small 3-province, 2-island country read back from its real files."""

from __future__ import annotations

import filecmp
from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd
import pyogrio
import pytest
import rasterio
import shapely
from rasterio.windows import Window
from typer.testing import CliRunner

from layers.cli.main import app
from layers.config import load_config
from layers.demo.country import PROVINCES, build_country, calibrated_rates, write_country
from layers.demo.province import POVERTY_HEADERS
from layers.pipeline.province import read_inputs

SMALL = {"villages": 3000, "seed": 62, "provinces": ["62", "63", "51"]}
FILES = (
    "villages.gpkg",
    "poverty.csv",
    "schools.gpkg",
    "health_facilities.gpkg",
    "roads.gpkg",
    "rivers.gpkg",
    "population.vrt",
    "README.txt",
    "sasaran.toml",
)


@pytest.fixture(scope="module")
def out(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("country") / "small"
    write_country(path, **SMALL)
    return path


@pytest.fixture(scope="module")
def villages(out: Path) -> gpd.GeoDataFrame:
    return pyogrio.read_dataframe(out / "villages.gpkg", layer="villages")


@pytest.fixture(scope="module")
def poverty(out: Path) -> pd.DataFrame:
    return pd.read_csv(out / "poverty.csv", dtype={"kode_desa": str})


def test_files_contract_and_synthetic_notices(out: Path) -> None:
    for name in FILES:
        assert (out / name).is_file(), name
    assert sorted(p.name for p in (out / "population").iterdir()) == ["51.tif", "62.tif", "63.tif"]
    assert "SYNTHETIC" in (out / "README.txt").read_text()
    assert "SYNTHETIC" in (out / "sasaran.toml").read_text()
    for name, layer in (
        ("villages", "villages"),
        ("roads", "roads"),
        ("health_facilities", "health_facilities"),
    ):
        meta = pyogrio.read_info(out / f"{name}.gpkg", layer=layer)
        assert meta["dataset_metadata"]["SYNTHETIC"] == "true"
    with rasterio.open(out / "population" / "62.tif") as tif:
        assert tif.tags()["SYNTHETIC"] == "true"
        assert tif.tags(ns="IMAGE_STRUCTURE")["LAYOUT"] == "COG"
        assert tif.overviews(1)  # overviewed for display at low zoom
    config = load_config(out / "sasaran.toml")
    assert config.synthetic is True
    assert config.sources.population is not None
    assert config.sources.population.file.name == "population.vrt"
    assert list(pd.read_csv(out / "poverty.csv", nrows=0).columns) == [
        "kode_desa",
        "tahun",
        *POVERTY_HEADERS.values(),
    ]


def test_read_inputs_accepts_the_country(out: Path) -> None:
    inputs = read_inputs(load_config(out / "sasaran.toml"))

    assert len(inputs.villages) == SMALL["villages"]
    assert set(inputs.poverty["year"]) == {2023, 2024}
    assert inputs.roads is not None and inputs.schools is not None and inputs.health is not None


def test_same_seed_same_country(out: Path, tmp_path: Path, villages: gpd.GeoDataFrame) -> None:
    again = tmp_path / "again"
    write_country(again, **SMALL)

    assert filecmp.cmp(out / "poverty.csv", again / "poverty.csv", shallow=False)
    assert filecmp.cmp(out / "population.vrt", again / "population.vrt", shallow=False)
    for name in ("villages", "roads", "schools", "health_facilities", "rivers"):
        a = pyogrio.read_dataframe(out / f"{name}.gpkg")
        b = pyogrio.read_dataframe(again / f"{name}.gpkg")
        pd.testing.assert_frame_equal(a.drop(columns="geometry"), b.drop(columns="geometry"))
        assert shapely.equals_exact(a.geometry.values, b.geometry.values, tolerance=0).all(), name


def test_three_provinces_on_two_islands(out: Path, villages: gpd.GeoDataFrame) -> None:
    province = villages["kode_desa"].str[:2]
    assert sorted(province.unique()) == ["51", "62", "63"]
    # Villages in proportion to the real counts (Kalteng 1,576, Kalsel 2,016, Bali 716).
    real = {p.code: p.villages for p in PROVINCES}
    counts = province.value_counts()
    total = sum(real[c] for c in ("51", "62", "63"))
    for code in ("51", "62", "63"):
        assert abs(counts[code] - SMALL["villages"] * real[code] / total) <= 1
        assert villages.loc[province == code, "kode_kab"].nunique() >= 2
    land = villages.dissolve(by=province).geometry
    islands = shapely.get_parts(shapely.union_all(shapely.buffer(land.values, 1e-6)))
    assert len(islands) == 2
    assert land["62"].distance(land["63"]) < 1e-6  # Kalimantan: a land border
    assert land["51"].distance(land["63"]) > 0.05  # Bali: sea all round
    readme = (out / "README.txt").read_text()
    assert "3 provinces on 2 islands" in readme


def test_codes_unique_and_nested(villages: gpd.GeoDataFrame, poverty: pd.DataFrame) -> None:
    code, kec, kab = villages["kode_desa"], villages["kode_kec"], villages["kode_kab"]
    assert code.is_unique
    assert code.str.fullmatch(r"\d{10}").all()
    assert (code.str[:7] == kec).all() and (kec.str[:4] == kab).all()
    # A kecamatan code belongs to one kabupaten, and names are unique nationally too.
    assert villages.groupby("kode_kec")["kode_kab"].nunique().max() == 1
    assert villages["nama_desa"].is_unique
    assert villages.groupby("kode_kec")["nama_kec"].nunique().max() == 1
    assert villages.drop_duplicates("kode_kec")["nama_kec"].is_unique
    assert set(poverty["kode_desa"]) == set(code)


def test_villages_tile_their_provinces_without_overlap(villages: gpd.GeoDataFrame) -> None:
    geoms = villages.geometry.values
    assert shapely.is_valid(geoms).all()
    tree = shapely.STRtree(geoms)
    left, right = tree.query(geoms, predicate="intersects")
    pairs = left < right
    overlap = shapely.area(shapely.intersection(geoms[left[pairs]], geoms[right[pairs]]))
    assert overlap.max() < 1e-9  # shared borders only (square degrees)
    # Each province is one piece of land, its kabupaten nest inside it.
    for _, group in villages.groupby(villages["kode_desa"].str[:2]):
        province = shapely.union_all(group.geometry.values)
        assert shapely.get_num_geometries(province.buffer(1e-7)) == 1


def test_facilities_in_their_province_and_every_kind(out: Path, villages: gpd.GeoDataFrame) -> None:
    province = villages.dissolve(by=villages["kode_desa"].str[:2]).geometry
    for name, column, kinds in (
        ("schools", "bentuk", {"SD", "SMP", "SMA", "SMK"}),
        ("health_facilities", "jenis", {"hospital", "puskesmas", "pustu", "clinic"}),
    ):
        frame = pyogrio.read_dataframe(out / f"{name}.gpkg")
        areas = gpd.GeoDataFrame({"province": province.index}, geometry=province.values, crs=4326)
        hit = gpd.sjoin(frame, areas, predicate="intersects")
        assert len(hit) == len(frame)  # every point on land, in exactly one province
        assert hit.index.is_unique
        for code in province.index:
            assert set(hit.loc[hit["province"] == code, column]) == kinds, (name, code)
    schools = pyogrio.read_dataframe(out / "schools.gpkg", read_geometry=False)
    assert schools["npsn"].is_unique


def test_trunk_road_crosses_the_kalimantan_border_but_no_sea(out: Path, villages: gpd.GeoDataFrame) -> None:
    roads = pyogrio.read_dataframe(out / "roads.gpkg")
    land = villages.dissolve(by=villages["kode_desa"].str[:2]).geometry
    trunk = roads[roads["highway"] == "trunk"]
    crossing = trunk[trunk.intersects(land["62"]) & trunk.intersects(land["63"])]
    assert len(crossing) >= 1
    # It is one line from one capital to the other, over land all the way.
    line = shapely.line_merge(crossing.geometry.iloc[0])
    assert line.geom_type == "LineString"
    island = shapely.union_all([land["62"], land["63"]]).buffer(1e-4)
    assert island.covers(line)
    # No road touches two islands.
    kalimantan, bali = land["62"].union(land["63"]).buffer(1e-4), land["51"].buffer(1e-4)
    assert not (roads.intersects(kalimantan) & roads.intersects(bali)).any()


def test_vrt_reads_in_windows_and_sums_to_the_people(out: Path, poverty: pd.DataFrame) -> None:
    people_2024 = poverty.loc[poverty["tahun"] == 2024, "jumlah_penduduk"].sum()
    total = 0.0
    with rasterio.open(out / "population.vrt") as vrt:
        assert vrt.crs.to_epsg() == 4326 and vrt.nodata == -1
        assert vrt.res == pytest.approx((0.0025, 0.0025))
        for top in range(0, vrt.height, 500):
            block = vrt.read(1, window=Window(0, top, vrt.width, min(500, vrt.height - top)))
            total += float(block[block > 0].sum(dtype=np.float64))
        # Bali's corner of the mosaic holds Bali's people only.
        bali = poverty[(poverty["tahun"] == 2024) & poverty["kode_desa"].str.startswith("51")]
        with rasterio.open(out / "population" / "51.tif") as tif:
            window = rasterio.windows.from_bounds(*tif.bounds, transform=vrt.transform)
            part = vrt.read(1, window=window.round_offsets().round_lengths())
        assert float(part[part > 0].sum(dtype=np.float64)) == pytest.approx(
            bali["jumlah_penduduk"].sum(), rel=1e-4
        )
    assert total == pytest.approx(people_2024, rel=1e-4)


def test_province_rates_match_the_table(poverty: pd.DataFrame) -> None:
    poverty = poverty.assign(province=poverty["kode_desa"].str[:2])
    sums = poverty.groupby(["province", "tahun"])[["penduduk_miskin", "jumlah_penduduk"]].sum()
    got = sums["penduduk_miskin"] / sums["jumlah_penduduk"]
    for year in (2023, 2024):
        table = calibrated_rates(year)
        for code in ("51", "62", "63"):
            assert got[(code, year)] == pytest.approx(table[code], abs=2e-4), (code, year)
    # Bali and Kalsel among the lowest in Indonesia, Kalteng above them.
    assert got[("51", 2024)] < got[("62", 2024)] and got[("63", 2024)] < got[("62", 2024)]


def test_national_rate_is_bps_and_provinces_resemble_bps() -> None:
    people = np.array([p.population_k for p in PROVINCES])
    for year, national in ((2023, 0.0936), (2024, 0.0903)):
        rates = calibrated_rates(year)
        weighted = sum(rates[p.code] * p.population_k for p in PROVINCES) / people.sum()
        assert weighted == pytest.approx(national, abs=1e-9)
    rates = calibrated_rates(2024)
    assert rates["51"] < 0.05 and rates["31"] < 0.05 and rates["63"] < 0.05
    assert rates["97"] > 0.28 and rates["96"] > 0.28
    assert len(PROVINCES) == 38
    assert sum(p.villages for p in PROVINCES) == pytest.approx(84_000, rel=0.01)
    assert sum(p.area_km2 for p in PROVINCES) == pytest.approx(1.9e6, rel=0.02)
    assert sum(p.population_k for p in PROVINCES) == pytest.approx(280_000, rel=0.02)


def test_cli_writes_the_small_country(tmp_path: Path) -> None:
    result = CliRunner().invoke(
        app,
        ["demo", "--country", "--villages", "3000", "--provinces", "62,63,51", "--out", str(tmp_path / "c")],
    )
    assert result.exit_code == 0, result.output
    assert "3,000 villages" in result.output and "3 provinces on 2 islands" in result.output
    assert (tmp_path / "c" / "population.vrt").is_file()


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--provinces", "62,99"], "unknown province code(s) 99"),
        (["--provinces", "62,63", "--villages", "30"], "between 80"),
    ],
)
def test_cli_refuses_bad_input(tmp_path: Path, args: list[str], message: str) -> None:
    result = CliRunner().invoke(app, ["demo", "--country", "--out", str(tmp_path / "c"), *args])
    assert result.exit_code == 2
    assert message in " ".join(result.output.split())
    assert not (tmp_path / "c").exists()


def test_write_country_refuses_unknown_codes(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="unknown province code"):
        write_country(tmp_path / "x", villages=500, provinces=["62", "00"])


@pytest.mark.slow
def test_full_country(tmp_path: Path) -> None:
    report = build_country(tmp_path / "full")

    assert report.provinces == 38 and report.islands == 12
    assert report.villages == 84_000
    assert 270e6 < report.people < 290e6
    assert 1.7e6 < report.area_km2 < 2.0e6
    poverty = pd.read_csv(tmp_path / "full" / "poverty.csv", dtype={"kode_desa": str})
    for year, national in ((2023, 0.0936), (2024, 0.0903)):
        rows = poverty[poverty["tahun"] == year]
        assert rows["penduduk_miskin"].sum() / rows["jumlah_penduduk"].sum() == pytest.approx(
            national, abs=5e-4
        )
    read_inputs(load_config(report.config))
