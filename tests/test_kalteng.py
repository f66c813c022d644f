"""A build on the real Central Kalimantan boundaries and schools (`SHARED_DATA` in conftest.py).

The real folder has no village poverty table, health facilities or roads (see its SOURCES.md), so
this test supplies synthetic ones on the real geography; boundaries and schools are real.
"""

from __future__ import annotations

import geopandas as gpd
import numpy as np
import pandas as pd
import pyogrio
import pytest
import shapely

from layers.config import load_config
from layers.pipeline.province import build
from layers.store import LayerStore
from tests.conftest import SHARED_DATA

BOUNDARIES = SHARED_DATA / "kalteng_admin_boundaries.gpkg"
SCHOOLS = SHARED_DATA / "kalteng_schools_kemdikbud_2019.gpkg"

pytestmark = pytest.mark.skipif(not BOUNDARIES.exists(), reason=f"real data not found at {SHARED_DATA}")


@pytest.fixture(scope="module")
def kalteng_store(tmp_path_factory: pytest.TempPathFactory) -> LayerStore:
    work = tmp_path_factory.mktemp("kalteng")
    desa = pyogrio.read_dataframe(
        BOUNDARIES, layer="desa_kelurahan", columns=["kode_digits", "kode_kec", "kode_kab"]
    )
    rng = np.random.default_rng(62)
    n = len(desa)
    population = rng.integers(300, 5000, n)
    poverty = pd.DataFrame(
        {
            "kode_desa": np.tile(desa["kode_digits"].to_numpy(), 2),
            "tahun": np.repeat([2023, 2024], n),
            "jumlah_penduduk": np.tile(population, 2),
            "penduduk_miskin": np.tile((population * rng.uniform(0, 0.15, n)).astype(int), 2),
        }
    )
    poverty.to_csv(work / "poverty.csv", index=False)
    # Synthetic health facilities and a trunk road on the real geography.
    kec = pyogrio.read_dataframe(BOUNDARIES, layer="kecamatan")
    kab = pyogrio.read_dataframe(BOUNDARIES, layer="kabupaten_kota")
    puskesmas = shapely.point_on_surface(kec.geometry.values)
    hospitals = shapely.point_on_surface(kab.geometry.values)
    gpd.GeoDataFrame(
        {"jenis": ["puskesmas"] * len(puskesmas) + ["hospital"] * len(hospitals)},
        geometry=np.concatenate([puskesmas, hospitals]),
        crs=4326,
    ).to_file(work / "health.gpkg")
    order = np.argsort(shapely.get_x(hospitals))
    gpd.GeoDataFrame(
        {"highway": ["trunk"]}, geometry=[shapely.LineString(hospitals[order])], crs=4326
    ).to_file(work / "roads.gpkg")
    (work / "sasaran.toml").write_text(
        f"""
name = "Kalimantan Tengah (real boundaries and schools; synthetic poverty, health, roads)"
synthetic = true
[sources.villages]
file = "{BOUNDARIES}"
layer = "desa_kelurahan"
code = "kode_digits"
name = "nama_desa"
[sources.poverty]
file = "poverty.csv"
[sources.poverty.columns]
population = "jumlah_penduduk"
poor_population = "penduduk_miskin"
[sources.schools]
file = "{SCHOOLS}"
layer = "schools"
level = "bentuk"
name = "nama_sekolah"
[sources.health_facilities]
file = "health.gpkg"
type = "jenis"
[sources.roads]
file = "roads.gpkg"
kind = "highway"
"""
    )
    build(load_config(work / "sasaran.toml"), work / "store", progress=False)
    return LayerStore.open(work / "store")


def test_all_1571_villages_get_cells(kalteng_store: LayerStore):
    villages = kalteng_store.layer("villages")
    hexes = kalteng_store.layer("hexagons")
    assert len(villages) == 1571
    assert set(hexes["village_code"]) == set(villages["village_code"])
    assert (villages["n_cells"] >= 1).all()
    assert len(kalteng_store.layer("kabupaten")) == 14
    assert len(kalteng_store.layer("kecamatan")) == 136
    # Kemendagri's dotted codes (kecamatan "62.01.01") are stored without dots: safe feature ids.
    for layer, column in (
        ("villages", "village_code"),
        ("kecamatan", "kecamatan_code"),
        ("kabupaten", "kabupaten_code"),
    ):
        codes = kalteng_store.layer(layer)[column]
        assert not codes.str.contains(".", regex=False).any()
    assert "620101" in set(kalteng_store.layer("kecamatan")["kecamatan_code"])
    # ~154,000 km² at ~0.74 km² a cell.
    assert 180_000 < len(hexes) < 240_000


def weighted_median(values: np.ndarray, weights: np.ndarray) -> float:
    """The smallest value with at least half the total weight at or below it."""
    order = np.argsort(values, kind="stable")
    cumulative = np.cumsum(weights[order])
    return float(values[order][np.searchsorted(cumulative, 0.5 * cumulative[-1])])


def test_weighted_median_weighs_people_not_distance():
    # Ten people 1 km from school, one at 2 km, one at 100 km: the median person is 1 km away.
    # The former formula (cumulative sorted distances / total distance) gave about 50 km here.
    values, people = np.array([100.0, 1.0, 2.0]), np.array([1.0, 10.0, 1.0])
    assert weighted_median(values, people) == 1.0
    assert weighted_median(values, np.array([1.0, 1.0, 10.0])) == 2.0
    assert weighted_median(values, np.array([10.0, 1.0, 1.0])) == 100.0


def test_distances_to_real_schools_are_sane(kalteng_store: LayerStore):
    hexes = kalteng_store.layer("hexagons")
    schools = kalteng_store.layer("schools")
    assert (schools["kind"] == "school_sd").sum() == 2596 + 3  # SD and SDLB in SOURCES.md
    sd = hexes["dist_km_school_sd"]
    assert sd.notna().all() and (sd >= 0).all()
    assert sd.max() < 120  # the remotest interior of Kalteng is far, but not farther than this
    # Where people live (weighted by people, not by distance), a primary school is within a few km.
    people = hexes["population"].to_numpy(float)
    median = weighted_median(sd.to_numpy(float), people)
    # An independent computation: numpy's inverted-CDF quantile with the same weights.
    assert median == np.quantile(sd.to_numpy(float), 0.5, method="inverted_cdf", weights=people)
    assert median < 5  # the people-weighted median is ~3 km; weighting by distance gave ~8 km
    # The cells holding a school are within a cell's radius of it.
    cells_with_school = hexes.sjoin(schools[schools["kind"] == "school_sd"], predicate="contains")
    assert (cells_with_school["dist_km_school_sd"] < 0.6).all()


def test_indicators_without_sources_are_dropped_and_reported(kalteng_store: LayerStore):
    dropped = set(kalteng_store.manifest["indicators"]["dropped"])
    # No households, deciles or amenities in this poverty table.
    assert {"income_extreme_poor", "qol_electricity", "qol_water", "qol_sanitation"} <= dropped
    weights = [i["weight"] for i in kalteng_store.manifest["indicators"]["indicator"]]
    assert sum(float(eval(str(w))) if isinstance(w, str) else w for w in weights) == pytest.approx(1.0)
