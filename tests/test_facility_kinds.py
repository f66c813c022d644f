"""A facility kind declared in the build config alone (``[facilities.<kind>]``) flows through the
build, the store, OGC API, exports and ``POST /scores`` like the five built-in kinds."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import geopandas as gpd
import numpy as np
import pyogrio
import pytest
import shapely
from fastapi.testclient import TestClient
from pyproj import Geod

from layers.config import FacilitySource, load_config
from layers.export import export_all_gpkg, export_layer
from layers.pipeline.province import build
from layers.sources import read_declared_facility
from layers.store import LayerStore
from service.app import create_app
from service.settings import Settings

MARKET = """
[facilities.market]
file = "pasar.gpkg"
layer = "pasar"
where = "jenis = 'pasar'"
label = "Pasar / market"
name = "nama"
"""


def _write_markets(sources: Path) -> gpd.GeoDataFrame:
    """Twelve markets and eight banks in UTM 50S (a CRS unlike the other sources'), from the villages."""
    villages = pyogrio.read_dataframe(sources / "villages.gpkg", layer="villages")
    points = shapely.point_on_surface(villages.geometry.values[:20])
    frame = gpd.GeoDataFrame(
        {"jenis": ["pasar"] * 12 + ["bank"] * 8, "nama": [f"Pasar {i}" for i in range(20)]},
        geometry=points,
        crs=villages.crs,
    ).to_crs(32750)
    pyogrio.write_dataframe(frame, sources / "pasar.gpkg", layer="pasar")
    return frame.to_crs(4326)


@pytest.fixture(scope="module")
def market_build(
    demo_sources: Path, tmp_path_factory: pytest.TempPathFactory
) -> tuple[Path, gpd.GeoDataFrame]:
    sources = tmp_path_factory.mktemp("market") / "src"
    shutil.copytree(demo_sources.parent, sources)
    markets = _write_markets(sources)
    config = sources / "sasaran.toml"
    config.write_text(config.read_text() + MARKET)
    store = sources.parent / "store"
    build(load_config(config), store, progress=False)
    return store, markets[markets["jenis"] == "pasar"]


def test_the_store_has_the_kind_columns_and_points(market_build) -> None:
    store_dir, markets = market_build
    store = LayerStore.open(store_dir)
    hexes = store.layer("hexagons")
    assert {"time_min_market", "dist_km_market"} <= set(hexes.columns)
    assert np.isfinite(hexes["dist_km_market"]).all()
    # The filter kept the markets only, and the distance is to the nearest market (geodesic).
    facilities = store.layer("facilities")
    assert len(facilities) == 12 and set(facilities["kind"]) == {"market"}
    centres = shapely.centroid(hexes.geometry.values[:50])
    geod = Geod(ellps="WGS84")
    mx, my = shapely.get_x(markets.geometry.values), shapely.get_y(markets.geometry.values)
    for centre, got in zip(centres, hexes["dist_km_market"].to_numpy()[:50], strict=True):
        _, _, metres = geod.inv(np.full(len(mx), centre.x), np.full(len(my), centre.y), mx, my)
        assert got == pytest.approx(metres.min() / 1000, abs=0.2)  # cell centre vs polygon centroid
    times = hexes["time_min_market"].to_numpy()
    assert np.isfinite(times).mean() > 0.5 and (times[np.isfinite(times)] >= 0).all()
    villages = store.layer("villages")
    assert "time_min_market" in villages.columns
    kinds = [k.name for k in store.facility_kinds]
    assert kinds[-1] == "market" and store.facility_kinds[-1].label.en == "Pasar / market"
    assert any(s["name"] == "facilities.market" and s["rows"] == 12 for s in store.manifest["sources"])


def test_served_over_ogc_api_and_usable_in_a_scores_spec(market_build) -> None:
    store_dir, _ = market_build
    with TestClient(create_app(Settings(store_dir=store_dir))) as client:
        r = client.get("/collections/facilities/items", params={"limit": 100})
        assert r.status_code == 200
        assert {f["properties"]["kind"] for f in r.json()["features"]} == {"market"}
        assert r.json()["numberMatched"] == 12
        hexes = client.get("/collections/hexagons/items", params={"limit": 3}).json()
        assert "time_min_market" in hexes["features"][0]["properties"]
        queryables = client.get("/collections/hexagons/queryables").json()["properties"]
        assert "dist_km_market" in queryables
        spec = {
            "k": "1/2",
            "indicator": [
                {"name": "market", "column": "time_min_market", "dimension": "access", "weight": "1/2",
                 "cutoff": 30, "deprived_when": "above"},
                {"name": "poverty", "column": "poverty_rate", "dimension": "income", "weight": "1/2",
                 "cutoff": 10, "deprived_when": "above"},
            ],
        }  # fmt: skip
        r = client.post("/scores/village", json=spec)
        assert r.status_code == 200, r.text
        units = r.json()["units"]
        assert all("market" in u["deprivations"] for u in units)
        assert any((u["deprivations"]["market"] or 0) > 0 for u in units)


def test_exported_with_its_columns_and_a_styled_facilities_layer(market_build, tmp_path: Path) -> None:
    store = LayerStore.open(market_build[0])
    csv = export_layer(store, "hexagons", tmp_path / "h.csv", "csv")
    assert "time_min_market" in csv.read_text().splitlines()[0].split(",")
    gpkg = export_all_gpkg(store, tmp_path / "all.gpkg")
    assert "facilities" in pyogrio.list_layers(gpkg)[:, 0]
    import sqlite3

    with sqlite3.connect(gpkg) as db:
        (qml,) = db.execute("SELECT styleQML FROM layer_styles WHERE f_table_name='facilities'").fetchone()
    assert 'value="market"' in qml and "Pasar / market" in qml


def _build_with(demo_sources: Path, tmp_path: Path, section: str) -> tuple[subprocess.CompletedProcess, Path]:
    """``sasaran build`` of the demo sources, the markets and ``section`` added to the config."""
    sources = tmp_path / "src"
    shutil.copytree(demo_sources.parent, sources)
    _write_markets(sources)
    config = sources / "sasaran.toml"
    config.write_text(config.read_text() + section + "\n")
    store = tmp_path / "store"
    done = subprocess.run(
        [sys.executable, "-m", "layers.cli", "build", str(config), "--store", str(store), "--quiet"],
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    return done, store


@pytest.mark.parametrize(
    ("section", "needles"),
    [
        (MARKET.replace("pasar.gpkg", "no_such.gpkg"), ["no_such.gpkg", "[facilities.market]"]),
        (MARKET.replace("'pasar'", "'kantor pos'"), ["pasar.gpkg", "[facilities.market]", "where"]),
        (
            MARKET.replace("[facilities.market]", "[facilities.school_sd]"),
            ["facilities", "school_sd", "clash"],
        ),
        (MARKET.replace("[facilities.market]", '[facilities."Pasar Baru"]'), ["facilities", "Pasar Baru"]),
        (MARKET.replace("jenis = 'pasar'", "no_column = 1"), ["pasar.gpkg", "[facilities.market]"]),
    ],
    ids=["missing file", "empty after filter", "name clash", "unsafe name", "bad filter"],
)
def test_bad_declarations_exit_2_naming_the_key(demo_sources: Path, tmp_path: Path, section, needles) -> None:
    done, store = _build_with(demo_sources, tmp_path, section)
    assert done.returncode == 2, done.stderr
    for needle in needles:
        assert needle in done.stderr, done.stderr
    assert "Traceback" not in done.stderr
    assert not store.exists()


#: Each optional key of ``[facilities.<kind>]`` and what the store shows without it.
OPTIONAL_KEYS = ["layer", "where", "label", "name"]


@pytest.mark.parametrize("left_out", OPTIONAL_KEYS)
def test_a_kind_builds_without_each_optional_key(demo_sources: Path, tmp_path: Path, left_out: str) -> None:
    """``sasaran build`` succeeds with only ``file`` and any three of the optional keys."""
    section = "\n".join(line for line in MARKET.splitlines() if not line.startswith(f"{left_out} ="))
    done, store_dir = _build_with(demo_sources, tmp_path, section)
    assert done.returncode == 0, done.stderr
    store = LayerStore.open(store_dir)
    facilities = store.layer("facilities")
    assert set(facilities["kind"]) == {"market"}
    # Without the filter the banks in the same layer count as markets too.
    assert len(facilities) == (20 if left_out == "where" else 12)
    names = set(facilities["name"])
    assert names == {""} if left_out == "name" else names <= {f"Pasar {i}" for i in range(20)}
    (kind,) = [k for k in store.facility_kinds if k.name == "market"]
    assert kind.label.en == ("market" if left_out == "label" else "Pasar / market")
    assert np.isfinite(store.layer("hexagons")["dist_km_market"]).all()


def test_a_partition_with_no_point_of_a_nameless_kind_reads_an_empty_typed_frame(
    demo_sources: Path, tmp_path: Path
) -> None:
    """A national build's partition may hold no point of a kind: an empty frame, not a crash."""
    sources = tmp_path / "src"
    shutil.copytree(demo_sources.parent, sources)
    _write_markets(sources)
    config = load_config(sources / "sasaran.toml")
    source = FacilitySource(file=Path("pasar.gpkg"))
    frame = read_declared_facility("market", source, config, area=(100.0, -1.0, 100.1, -0.9), partial=True)
    assert len(frame) == 0 and list(frame.columns) == ["kind", "name", "geometry"]
    assert frame.crs.to_epsg() == 4326
