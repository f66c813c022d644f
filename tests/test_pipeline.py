"""Invariants of a whole build on the small synthetic province (built once per session)."""

from __future__ import annotations

import json
import os

import geopandas as gpd
import numpy as np
import pandas as pd
import pytest
import shapely
from pyproj import Geod

from layers.config import FACILITY_KINDS, load_config
from layers.errors import StoreError
from layers.pipeline.province import build
from layers.scoring.rescore import INHABITED_MIN_PEOPLE
from layers.store import SPATIAL_LAYERS, LayerStore, StoreWriter
from layers.testing import assert_layer_equal


def test_manifest_says_synthetic_and_lists_everything(store: LayerStore, demo_build):
    m = store.manifest
    assert m["synthetic"] is True and store.synthetic
    assert m["format_version"] == 1 and m["h3_resolution"] == 8
    assert m["years"] == [2023, 2024] and m["default_year"] == 2024
    assert set(SPATIAL_LAYERS) <= set(m["layers"])
    assert {s["name"] for s in m["sources"]} >= {"villages", "poverty", "schools", "population"}
    assert all(len(s["sha256"]) == 64 for s in m["sources"])
    assert set(m["build_seconds"]) == {
        "read",
        "grid",
        "population",
        "distance",
        "access",
        "scores",
        "households",
        "layers",
        "write",
    }
    assert m["packages"]["h3"].startswith("4.")
    for name, rows in m["layers"].items():
        assert len(store.layer(name)) == rows
    assert "SYNTHETIC" in demo_build.summary()


def test_population_is_conserved_per_village(store: LayerStore):
    hexes = store.layer("hexagons")
    villages = store.layer("villages")
    per_village = hexes.groupby("village_code")["population"].sum()
    expected = villages.set_index("village_code")["population"]
    rel = (per_village.reindex(expected.index) - expected).abs() / expected.clip(lower=1)
    assert rel.max() < 1e-6
    years = store.layer("village_years")
    latest = years[years["year"] == 2024].set_index("village_code")["population"]
    pd.testing.assert_series_equal(expected.sort_index(), latest.sort_index(), check_names=False)


def test_every_village_has_cells_and_cells_are_unique(store: LayerStore):
    hexes = store.layer("hexagons")
    villages = store.layer("villages")
    assert hexes["h3"].is_unique
    assert set(hexes["village_code"]) == set(villages["village_code"])
    assert (villages["n_cells"] >= 1).all()
    assert villages.geom_type.eq("MultiPolygon").all()
    assert hexes.crs.to_epsg() == 4326


def test_distances_match_brute_force_geodesic(store: LayerStore):
    hexes = store.layer("hexagons").sample(200, random_state=0)
    centres = shapely.centroid(hexes.geometry.values)
    schools = store.layer("schools")
    geod = Geod(ellps="WGS84")
    for kind in ("school_sd", "school_smp"):
        points = schools.geometry.values[(schools["kind"] == kind).to_numpy()]
        px, py = shapely.get_x(points), shapely.get_y(points)
        cx, cy = shapely.get_x(centres), shapely.get_y(centres)
        lon1, lon2 = np.meshgrid(cx, px, indexing="ij")
        lat1, lat2 = np.meshgrid(cy, py, indexing="ij")
        _, _, metres = geod.inv(lon1.ravel(), lat1.ravel(), lon2.ravel(), lat2.ravel())
        brute = metres.reshape(lon1.shape).min(axis=1) / 1000
        # The polygon centroid differs from the H3 centre by metres at most.
        np.testing.assert_allclose(hexes[f"dist_km_{kind}"].to_numpy(), brute, atol=0.02)


def test_hexagon_columns_follow_the_contract(store: LayerStore):
    hexes = store.layer("hexagons")
    expected = {
        "h3",
        "village_code",
        "kecamatan_code",
        "kabupaten_code",
        "population",
        "dist_km_road",
        "score",
        "poor",
        "vulnerable",
        "severe",
        "year",
    }
    expected |= {f"dist_km_{k}" for k in FACILITY_KINDS} | {f"time_min_{k}" for k in FACILITY_KINDS}
    assert expected <= set(hexes.columns)
    inhabited = hexes["population"] >= INHABITED_MIN_PEOPLE
    assert hexes["score"][inhabited].between(0, 1).all()
    # People, not land: a cell that rounds to nobody has no score and no flags.
    assert hexes["score"][~inhabited].isna().all() and hexes["poor"][~inhabited].isna().all()
    assert (~inhabited).any()
    scored = hexes[inhabited]
    assert (scored["poor"] == (scored["score"] >= 1 / 3 - 1e-12)).all()


def test_area_m0_is_the_population_weighted_combination_of_its_parts(store: LayerStore):
    villages = store.layer("villages")
    kab = store.layer("kabupaten").set_index("kabupaten_code")
    combined = villages.groupby("kabupaten_code").apply(
        lambda v: np.average(v["M0"], weights=v["scored_population"]), include_groups=False
    )
    np.testing.assert_allclose(combined.reindex(kab.index), kab["M0"], rtol=1e-9)
    province = store.manifest["province"]["2024"]
    np.testing.assert_allclose(
        np.average(kab["M0"], weights=kab["scored_population"]), province["M0"], rtol=1e-9
    )
    # Everybody is counted in population; only the people of cells with a score in the aggregates.
    assert (kab["scored_population"] <= kab["population"] + 1e-6).all()
    assert kab["scored_population"].sum() > 0.97 * kab["population"].sum()


def test_both_years_are_scored(store: LayerStore):
    years = store.layer("village_years")
    assert sorted(years["year"].unique()) == [2023, 2024]
    assert years["M0"].notna().all()
    by_year = years.pivot(index="village_code", columns="year", values="poverty_rate")
    assert (by_year[2023] != by_year[2024]).any()


def test_store_round_trips(store: LayerStore, tmp_path):
    villages = store.layer("villages")
    with_store = tmp_path / "copy"
    writer = StoreWriter(with_store)
    writer.write_layer("villages", villages)
    writer.commit({"synthetic": True})
    again = LayerStore.open(with_store).layer("villages")
    assert_layer_equal(villages, again)


def test_failed_build_leaves_the_previous_store_readable(demo_sources, tmp_path, monkeypatch):
    target = tmp_path / "store"
    build(load_config(demo_sources), target, progress=False)
    before = json.loads((target / "manifest.json").read_text())

    def disk_full(self, name, frame):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(StoreWriter, "write_layer", disk_full)
    with pytest.raises(OSError, match="No space"):
        build(load_config(demo_sources), target, progress=False)
    assert json.loads((target / "manifest.json").read_text()) == before
    assert len(LayerStore.open(target).layer("villages")) == before["layers"]["villages"]
    assert [p for p in os.listdir(tmp_path) if p.startswith(".")] == []  # no temp dirs left


def test_opening_a_missing_store_says_how_to_build_one(tmp_path):
    with pytest.raises(StoreError, match="sasaran build"):
        LayerStore.open(tmp_path)


def test_travel_time_is_at_least_straight_line_at_top_speed(store: LayerStore):
    hexes = store.layer("hexagons")
    speeds = store.manifest["access"]
    top_kmh = max(*speeds["road_speeds_kmh"].values(), *speeds["river_speeds_kmh"].values())
    for kind in FACILITY_KINDS:
        time_min = hexes[f"time_min_{kind}"].to_numpy()
        assert np.isfinite(time_min).all()  # walking reaches everywhere in the demo
        assert (time_min >= 0).all()
        floor = hexes[f"dist_km_{kind}"].to_numpy() / top_kmh * 60
        # One friction pixel (250 m) of slack for the cell-centre to pixel-centre offset.
        assert (time_min >= floor - 0.25 / top_kmh * 60 * 2).all()


def test_villages_export_as_multipolygon_gpkg(store: LayerStore, tmp_path):
    villages: gpd.GeoDataFrame = store.layer("villages")
    villages.to_file(tmp_path / "v.gpkg", engine="pyogrio")
    assert gpd.read_file(tmp_path / "v.gpkg").geom_type.eq("MultiPolygon").all()


def test_a_barrier_around_a_village_makes_it_unreachable_on_foot(demo_sources, tmp_path):
    """A barrier source blocks walking: a village ringed by one (and no road or river crossing it)
    cannot reach facilities outside, so its cells' travel time grows or becomes unreachable."""
    sources_dir = demo_sources.parent
    store = LayerStore.open(build(load_config(demo_sources), tmp_path / "base", progress=False).store)
    villages = store.layer("villages")
    hexes = store.layer("hexagons")
    # The village whose nearest SD is farthest: its own cells hold no SD.
    target = hexes.groupby("village_code")["dist_km_school_sd"].min().idxmax()
    ring = villages.set_index("village_code").geometry[target].buffer(0.02).boundary.buffer(0.004)
    gpd.GeoDataFrame(geometry=[ring], crs=4326).to_file(sources_dir.parent / "barrier.gpkg")
    config_text = (sources_dir / "sasaran.toml").read_text()
    config_path = sources_dir.parent / "with_barrier.toml"
    config_path.write_text(
        config_text.replace('file = "', f'file = "{sources_dir}/')
        + f'\n[sources.barriers]\nfile = "{sources_dir.parent / "barrier.gpkg"}"\n'
    )
    walled = LayerStore.open(build(load_config(config_path), tmp_path / "walled", progress=False).store)
    before = hexes.set_index("h3").loc[(hexes["village_code"] == target).to_numpy(), "time_min_school_sd"]
    after = walled.layer("hexagons").set_index("h3").loc[before.index, "time_min_school_sd"]
    assert (after >= before - 1e-9).all()
    assert (after > before).any() or np.isinf(after).any()
    assert "barriers" in {source["name"] for source in walled.manifest["sources"]}
