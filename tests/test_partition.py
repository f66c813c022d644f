"""National builds partitioned by province on Dask (`layers.pipeline.national`), on a small country.

The country is the synthetic one (`layers.demo.country`) cut to three provinces on two islands:
Kalimantan Tengah (62) and Kalimantan Selatan (63) share a land border, Bali (51) is alone. Its
travel-time grid is coarse (1 km) so that every build here takes seconds.
"""

from __future__ import annotations

import json
import socket
import subprocess
import sys
import threading
from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd
import pyogrio
import pytest

from layers.cli import app
from layers.config import load_config
from layers.demo.country import write_country
from layers.errors import SourceError
from layers.pipeline import national as partition
from layers.pipeline.province import build
from layers.scoring.rescore import ScoringFrame
from layers.scoring.spec import spec_from_dict
from layers.store import LayerStore

PROVINCES = ["62", "63", "51"]
RESOLUTION_M = 1000


def _coarse(config_path: Path) -> Path:
    text = config_path.read_text()
    assert "\nresolution_m = 500\n" in text  # the country's own [access] grid
    config_path.write_text(text.replace("\nresolution_m = 500\n", f"\nresolution_m = {RESOLUTION_M}\n"))
    return config_path


@pytest.fixture(scope="module")
def country(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("country") / "src"
    return _coarse(write_country(out, villages=600, seed=7, provinces=PROVINCES))


@pytest.fixture(scope="module")
def national(country: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    store = tmp_path_factory.mktemp("national") / "store"
    build(load_config(country), store, progress=False, workers=2)
    return store


def test_a_country_is_planned_as_one_partition_per_province(country):
    config = load_config(country)
    assert partition.is_national(config)
    parts = partition.plan(config)
    assert sorted(p.key for p in parts) == sorted(PROVINCES)
    assert sum(p.villages for p in parts) == 600
    assert parts[0].villages >= parts[-1].villages  # largest first


def test_the_national_store_is_hive_partitioned_and_reads_as_one(national):
    store = LayerStore.open(national)
    assert [p["key"] for p in store.partitions] == sorted(PROVINCES)
    assert (national / "hexagons" / "province=62" / "part.parquet").exists()
    villages = store.layer("villages")
    assert len(villages) == 600 == store.rows("villages")
    codes = villages["village_code"].to_numpy()
    assert (codes[:-1] < codes[1:]).all()  # sorted across parts: positions by searchsorted hold
    hexagons = store.layer("hexagons")
    assert isinstance(hexagons, gpd.GeoDataFrame) and hexagons.crs.to_epsg() == 4326
    assert len(hexagons) == sum(p["rows"]["hexagons"] for p in store.partitions)
    assert hexagons["h3"].is_unique
    for entry in store.partitions:
        assert set(entry["border_uncertain_cells"]) == {k.name for k in store.facility_kinds}


def test_facilities_and_roads_are_kept_once_each(national, country):
    """Neighbouring partitions read the same features in their buffers; each lands in one part."""
    store = LayerStore.open(national)
    for name, file in (("schools", "schools.gpkg"), ("health_facilities", "health_facilities.gpkg")):
        source = gpd.read_file(country.parent / file)
        assert len(store.layer(name)) == len(source)
    roads = gpd.read_file(country.parent / "roads.gpkg")
    assert len(store.layer("roads")) == len(roads)


def test_national_figures_combine_the_provinces_exactly(national):
    store = LayerStore.open(national)
    frame = ScoringFrame.from_store(store)
    spec = spec_from_dict({k: v for k, v in store.manifest["indicators"].items() if k != "dropped"})
    assert frame.provinces == 3
    for year in store.years:
        cells = frame.score_cells(spec, year)
        whole = frame.summarize_whole(cells, spec)
        stored = store.manifest["province"][str(year)]
        figures = {"H": whole.H, "A": whole.A, "M0": whole.M0, "scored_population": whole.population,
                   "vulnerable_share": whole.vulnerable}  # fmt: skip
        for name, value in figures.items():
            assert stored[name] == pytest.approx(float(value[0]), rel=1e-12), name
        # Rescoring the national store per province gives each partition's own figures.
        provinces = frame.area_aggregates(cells, spec)["province"]
        for i, entry in enumerate(store.partitions):
            own = entry["province"][str(year)]
            for name in ("H", "M0", "mpi_poor_population", "population"):
                assert own[name] == pytest.approx(float(provinces[name][i]), rel=1e-12), name
    # A province's own figures are its kabupaten's combined.
    kabupaten = store.layer("kabupaten")
    for entry in store.partitions:
        own = kabupaten[kabupaten["kabupaten_code"].str[:2] == entry["key"]]
        poor = float(own["mpi_poor_population"].sum())
        assert entry["province"][str(store.years[-1])]["mpi_poor_population"] == pytest.approx(poor, rel=1e-9)


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _dask(*args: str) -> subprocess.Popen:
    dask = Path(sys.executable).with_name("dask")
    return subprocess.Popen([str(dask), *args], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


def test_a_separately_started_scheduler_and_workers_give_the_same_store_even_when_a_worker_dies(
    country, national, tmp_path
):
    from distributed import Client

    port = _free_port()
    address = f"tcp://127.0.0.1:{port}"
    scheduler = _dask("scheduler", "--host", "127.0.0.1", "--port", str(port), "--no-dashboard")
    workers = [_dask("worker", address, "--nthreads", "1", "--no-dashboard") for _ in range(2)]
    try:
        with Client(address, timeout="30s") as client:
            client.wait_for_workers(2, timeout=60)
        store = tmp_path / "store"
        # Kill one worker once the build is under way: its partition is retried on the other.
        killer = threading.Timer(3.0, workers[0].kill)
        killer.start()
        build(load_config(country), store, progress=False, scheduler=address)
        killer.cancel()
    finally:
        for process in [*workers, scheduler]:
            process.kill()
            process.wait(10)
    local, remote = LayerStore.open(national), LayerStore.open(store)
    for name in ("hexagons", "villages", "kecamatan", "kabupaten", "village_years"):
        pd.testing.assert_frame_equal(local.layer(name), remote.layer(name), check_exact=True)
    assert local.manifest["province"] == remote.manifest["province"]


def test_only_rebuilds_one_province_and_links_the_others(country, national, tmp_path):
    import shutil

    store = tmp_path / "store"
    shutil.copytree(national, store)
    before = json.loads((store / "manifest.json").read_text())
    # Bali's poor double in the poverty table: only its partition is rebuilt.
    source = country.parent
    edited = tmp_path / "src"
    shutil.copytree(source, edited)
    table = pd.read_csv(edited / "poverty.csv", dtype={"kode_desa": str})
    bali = table["kode_desa"].str[:2] == "51"
    table.loc[bali, "penduduk_miskin"] = np.minimum(
        table.loc[bali, "penduduk_miskin"] * 2, table.loc[bali, "jumlah_penduduk"]
    )
    table.to_csv(edited / "poverty.csv", index=False)
    inode = (store / "hexagons" / "province=62" / "part.parquet").stat().st_ino
    result = app_run(["build", str(edited / "sasaran.toml"), "--store", str(store), "--only", "51", "-q",
                      "--accept-changes", "--workers", "1"])  # fmt: skip
    assert result.exit_code == 0, result.output
    after = json.loads((store / "manifest.json").read_text())
    assert after["build_id"] != before["build_id"]
    assert (store / "hexagons" / "province=62" / "part.parquet").stat().st_ino == inode  # hard link
    old = {e["key"]: e for e in before["partitions"]}
    new = {e["key"]: e for e in after["partitions"]}
    assert new["62"]["province"] == old["62"]["province"]
    year = str(after["default_year"])
    assert new["51"]["province"][year]["H"] != old["51"]["province"][year]["H"]
    assert after["province"][year]["mpi_poor_population"] == pytest.approx(
        sum(e["province"][year]["mpi_poor_population"] for e in new.values())
    )
    LayerStore.open(store).layer("hexagons")  # every part is there


def app_run(args: list[str]):
    from typer.testing import CliRunner

    return CliRunner().invoke(app, args)


def test_only_an_unknown_province_is_refused_out_loud(country, national):
    sasaran = Path(sys.executable).with_name("sasaran")
    args = [str(sasaran), "build", str(country), "--store", str(national), "--only", "99", "-q"]
    result = subprocess.run(args, check=False, capture_output=True, text=True, timeout=120)
    assert result.returncode == 2
    assert "no village of province 99" in result.stderr


def test_a_partition_that_fails_leaves_the_previous_store_intact(country, national, tmp_path):
    import shutil

    store = tmp_path / "store"
    shutil.copytree(national, store)
    before = (store / "manifest.json").read_text()
    broken = tmp_path / "src"
    shutil.copytree(country.parent, broken)
    # The mosaic names a province raster that is no longer there: the worker reading it fails.
    victim = sorted((broken / "population").glob("*.tif"))[0]
    victim.unlink()
    with pytest.raises(SourceError):
        build(load_config(broken / "sasaran.toml"), store, progress=False, workers=1, accept_changes=True)
    assert (store / "manifest.json").read_text() == before
    assert not list(tmp_path.glob(".store.building-*"))
    LayerStore.open(store).layer("hexagons")


def test_people_reach_a_hospital_across_the_border_as_in_a_build_of_the_whole_island(
    country, national, tmp_path
):
    """The island (62 and 63) built as one province gives the same times within the pixel bound."""
    island = tmp_path / "island"
    island.mkdir()
    source = country.parent
    for name in source.iterdir():
        if name.name not in ("villages.gpkg", "poverty.csv", "sasaran.toml"):
            (island / name.name).symlink_to(name)
    # Places only: the register's families keep the codes of their provinces (tests/test_households.py
    # covers the national register).
    (island / "sasaran.toml").write_text(_without_register((source / "sasaran.toml").read_text()))
    villages = gpd.read_file(source / "villages.gpkg")
    villages = villages[villages["kode_desa"].str[:2] != "51"].copy()
    for column in ("kode_desa", "kode_kec", "kode_kab"):
        villages[column] = _one_province(villages[column])
    pyogrio.write_dataframe(villages, island / "villages.gpkg", layer="villages")
    table = pd.read_csv(source / "poverty.csv", dtype={"kode_desa": str})
    table = table[table["kode_desa"].str[:2] != "51"].copy()
    table["kode_desa"] = _one_province(table["kode_desa"])
    table.to_csv(island / "poverty.csv", index=False)
    config = load_config(island / "sasaran.toml")
    assert not partition.is_national(config)
    build(config, tmp_path / "store", progress=False)
    whole = LayerStore.open(tmp_path / "store").layer("hexagons").set_index("h3")
    store = LayerStore.open(national)
    parts = store.layer("hexagons").set_index("h3")
    hospitals = store.layer("health_facilities")
    hospitals = hospitals[hospitals["kind"] == "health_hospital"]
    # Cells of 62 whose nearest hospital (straight line) is in 63: the border case.
    tree = hospitals.sindex
    own = parts[parts["kabupaten_code"].str[:2] == "62"]
    centres = gpd.GeoSeries.from_xy(*_centres(own.index.to_numpy()), crs=4326)
    _, nearest = tree.nearest(centres.values, return_all=False)
    owner = _province_of(hospitals, store)[nearest]
    across = own.index.to_numpy()[owner == "63"]
    assert len(across) > 0, "the country should have border cells served across the border"
    minutes = parts.loc[across, "time_min_health_hospital"].to_numpy()
    reference = whole.loc[across, "time_min_health_hospital"].to_numpy()
    assert np.isfinite(minutes).all()
    # Two grids (each partition's own projection) put a cell and a hospital in different pixels:
    # at most half a pixel diagonal at walking speed at each end, plus 2.75 % for the path.
    walking = load_config(country).access.walking_kmh * 1000 / 60
    bound = 2 * (RESOLUTION_M * np.sqrt(2) / 2) / walking + 0.0275 * reference
    assert (np.abs(minutes - reference) <= bound).all()


def _one_province(codes: pd.Series) -> pd.Series:
    """Codes of 63 as codes of 62 (kabupaten 63KK becomes 62(50+KK)): one province, unique codes."""
    south = codes.str[:2] == "63"
    kabupaten = "62" + (50 + codes.str[2:4].astype(int)).astype(str).str.zfill(2)
    return codes.where(~south, kabupaten + codes.str[4:])


def _centres(h3: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    from layers.geo.grid import cell_centres, strings_to_cells

    return cell_centres(strings_to_cells(h3))


def _province_of(points: gpd.GeoDataFrame, store: LayerStore) -> np.ndarray:
    villages = store.layer("villages")
    _, at = villages.sindex.nearest(points.geometry.values, return_all=False)
    return villages["village_code"].str[:2].to_numpy()[at]


def test_a_province_store_stays_one_file_per_layer(demo_sources, store_dir):
    assert not partition.is_national(load_config(demo_sources))
    store = LayerStore.open(store_dir)
    assert store.partitions == [] and store.parts("hexagons") == [store_dir / "hexagons.parquet"]


@pytest.mark.slow
def test_the_whole_synthetic_country_builds_partitioned(tmp_path):
    """The national run (84,000 villages, 38 provinces): minutes, so out of the default suite."""
    config = write_country(tmp_path / "src", villages=84_000)
    result = build(load_config(config), tmp_path / "store", progress=False)
    store = LayerStore.open(tmp_path / "store")
    assert len(store.partitions) == 38
    assert store.rows("villages") == 84_000
    assert store.rows("hexagons") > 2_000_000
    people = store.manifest["province"][str(store.years[-1])]["population"]
    assert people == pytest.approx(result.province[store.years[-1]]["population"])
    assert 250e6 < people < 300e6


def test_a_national_file_without_a_facility_kind_is_refused_before_any_partition(country, tmp_path):
    """A province may have no hospital; the country's file may not (checked on attributes only)."""
    import shutil

    from layers.config import HEALTH_TYPE_KINDS

    broken = tmp_path / "src"
    shutil.copytree(country.parent, broken)
    health = gpd.read_file(broken / "health_facilities.gpkg")
    hospital = health["jenis"].str.lower().map({k.lower(): v for k, v in HEALTH_TYPE_KINDS.items()})
    pyogrio.write_dataframe(
        health[hospital != "health_hospital"], broken / "health_facilities.gpkg", layer="health_facilities"
    )
    with pytest.raises(SourceError, match="health_facilities.gpkg.*no feature of kind health_hospital"):
        build(load_config(broken / "sasaran.toml"), tmp_path / "store", progress=False, workers=1)
    assert not (tmp_path / "store").exists()


def test_the_service_scores_each_province_of_a_national_store_and_the_nation_as_a_whole(national):
    from fastapi.testclient import TestClient

    from service.app import create_app
    from service.settings import Settings

    store = LayerStore.open(national)
    with TestClient(create_app(Settings(store_dir=national))) as client:
        body = client.get("/scores/province").json()
        shapes = client.get("/scores/province?f=geojson").json()
    year = str(body["year"])
    assert [unit["id"] for unit in body["units"]] == sorted(PROVINCES) == [e["key"] for e in store.partitions]
    for unit, entry in zip(body["units"], store.partitions, strict=True):
        own = entry["province"][year]
        assert unit["mpi_poor_population"] == pytest.approx(own["mpi_poor_population"], abs=1)
        assert unit["H"] == pytest.approx(own["H"], abs=1e-4)
    # The summary is the nation: the manifest's combination of the provinces.
    assert body["summary"]["H"] == pytest.approx(store.manifest["province"][year]["H"], abs=1e-4)
    assert len(shapes["features"]) == 3
    assert {f["geometry"]["type"] for f in shapes["features"]} <= {"Polygon", "MultiPolygon"}
    assert [f["id"] for f in shapes["features"]] == sorted(PROVINCES)


def test_the_register_is_stored_per_province_and_the_nation_combines_it(national, country):
    from layers.register import load_key, read_register

    store = LayerStore.open(national)
    entry = store.manifest["households"]
    assert entry["cipher"] == "AES-256-GCM" and entry["years"] == [2023, 2024]
    for part in store.partitions:
        directory = national / "households" / part["path"]
        assert (directory / "values.parquet").exists() and (directory / "register.enc").exists()
        assert part["households"]["totals"]["2024"]["families"] > 0
    frame = ScoringFrame.from_store(store)
    households = frame.households
    assert households is not None and households.spec is not None
    for year in entry["years"]:
        scores = households.score(households.spec, year)
        whole, _ = households.level_values(scores, households.spec, "all")
        provinces, _ = households.level_values(scores, households.spec, "province")
        for name in ("hh_H", "hh_M0", "families", "people_mpi_poor"):
            assert entry["province"][str(year)][name] == pytest.approx(float(whole[name][0]), rel=1e-12), name
        for i, part in enumerate(store.partitions):
            assert part["households"]["province"][str(year)]["hh_H"] == pytest.approx(provinces["hh_H"][i])
    key = load_key(country.parent / "register.key", environ={})
    village = store.layer("villages")["village_code"].astype(str)
    one = village[village.str.startswith("63")].iloc[0]
    register = read_register(store, key, villages=[one])
    assert set(register["village_code"]) <= {one} and register["nik"].str.startswith("63").all()


def test_a_family_registered_in_two_provinces_is_refused_before_any_partition(country, tmp_path):
    import shutil

    source = tmp_path / "src"
    shutil.copytree(country.parent, source)
    path = source / "keluarga.parquet"
    register = pd.read_parquet(path)
    in_62 = register.index[(register["kode_desa"].str[:2] == "62") & (register["tahun"] == 2024)][0]
    in_63 = register.index[(register["kode_desa"].str[:2] == "63") & (register["tahun"] == 2024)][0]
    register.loc[in_63, "nik_kepala"] = register.loc[in_62, "nik_kepala"]
    register.to_parquet(path, index=False)
    with pytest.raises(SourceError, match=r"already given in row \d+ appears twice in 2024") as refused:
        build(load_config(source / "sasaran.toml"), tmp_path / "store", progress=False, workers=1)
    assert str(register.loc[in_62, "nik_kepala"]) not in str(refused.value)
    assert refused.value.row == int(max(in_62, in_63)) + 1
    assert not (tmp_path / "store").exists()


def _without_register(config: str) -> str:
    """A build config's text without its ``[sources.households]`` tables."""
    kept, skipping = [], False
    for line in config.splitlines(keepends=True):
        if line.startswith("["):
            skipping = line.startswith("[sources.households")
        if not skipping:
            kept.append(line)
    return "".join(kept)
