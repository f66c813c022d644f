"""OSM reading: the test writes small .osm / GeoJSON / GPKG files itself."""

from __future__ import annotations

from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd
import pytest
import shapely

from layers.config import AccessConfig, config_from_dict
from layers.errors import SourceError
from layers.geo.access import friction_surface
from layers.sources import read_health, read_lines, read_schools
from layers.sources.osm import normalise_osm_frames, read_osm

NODES = {  # id: (lon, lat, tags)
    1: (113.00, -2.00, {}),
    2: (113.10, -2.00, {}),
    3: (113.00, -2.05, {}),
    4: (113.10, -2.05, {}),
    5: (113.00, -2.10, {}),
    6: (113.10, -2.10, {}),
    7: (113.00, -2.15, {}),
    8: (113.10, -2.15, {}),
    10: (113.02, -2.02, {"amenity": "school", "isced:level": "1", "name": "Sekolah Harapan"}),
    11: (113.03, -2.02, {"amenity": "school", "name": "SMPN 2 Kasongan"}),
    12: (113.04, -2.02, {"amenity": "hospital", "name": "RSUD Doris Sylvanus"}),
    13: (113.05, -2.02, {"healthcare": "centre", "name": "Puskesmas X"}),
    14: (113.06, -2.02, {"amenity": "clinic", "name": 'Klinik "Sehat" & Co'}),
    15: (113.07, -2.02, {"amenity": "school", "name": "MTsN 1 Katingan", "isced:level": "2;3"}),
    16: (113.08, -2.02, {"amenity": "school", "name": "TK Pertiwi"}),
    20: (113.05, -2.12, {}),
    21: (113.06, -2.12, {}),
    22: (113.06, -2.13, {}),
    23: (113.05, -2.13, {}),
}
WAYS = {  # id: (node refs, tags)
    100: ([1, 2], {"highway": "trunk", "name": "Jalan Tjilik Riwut"}),
    101: ([3, 4], {"highway": "track"}),
    102: ([5, 6], {"waterway": "river", "name": "Sungai Kahayan"}),
    103: ([7, 8], {"waterway": "drain"}),
    104: ([3, 6], {"highway": "proposed"}),
    105: ([20, 21, 22, 23, 20], {"amenity": "school", "building": "school", "name": "SMAN 1 Palangka Raya"}),
}


def _xml_attr(value: str) -> str:
    return value.replace("&", "&amp;").replace('"', "&quot;").replace("<", "&lt;")


def write_osm(path: Path) -> Path:
    lines = ['<?xml version="1.0" encoding="UTF-8"?>', '<osm version="0.6" generator="sasaran-test">']
    for nid, (lon, lat, tags) in NODES.items():
        lines.append(f'<node id="{nid}" version="1" lat="{lat}" lon="{lon}">')
        lines += [f'<tag k="{k}" v="{_xml_attr(v)}"/>' for k, v in tags.items()]
        lines.append("</node>")
    for wid, (refs, tags) in WAYS.items():
        lines.append(f'<way id="{wid}" version="1">')
        lines += [f'<nd ref="{r}"/>' for r in refs]
        lines += [f'<tag k="{k}" v="{_xml_attr(v)}"/>' for k, v in tags.items()]
        lines.append("</way>")
    lines.append("</osm>")
    path.write_text("\n".join(lines), encoding="utf-8")
    return path


@pytest.fixture(scope="module")
def osm(tmp_path_factory: pytest.TempPathFactory) -> dict[str, gpd.GeoDataFrame]:
    return read_osm(write_osm(tmp_path_factory.mktemp("osm") / "tiny.osm"))


def test_roads_and_rivers_by_class(osm: dict[str, gpd.GeoDataFrame]) -> None:
    assert sorted(osm["roads"]["highway"]) == ["track", "trunk"]  # proposed is not a road
    assert osm["rivers"]["waterway"].tolist() == ["river"]  # drains are not boat routes
    for name in ("roads", "rivers", "schools", "health_facilities"):
        assert osm[name].crs.to_epsg() == 4326


def test_school_levels(osm: dict[str, gpd.GeoDataFrame]) -> None:
    levels = dict(zip(osm["schools"]["name"], osm["schools"]["level"], strict=True))
    assert levels["Sekolah Harapan"] == "SD"  # isced:level=1
    assert levels["SMPN 2 Kasongan"] == "SMP"  # name prefix
    assert levels["MTsN 1 Katingan"] == "SMP"  # isced first listed value wins over the name
    assert levels["SMAN 1 Palangka Raya"] == "SMA"  # a closed way: counted at its centroid
    assert pd.isna(levels["TK Pertiwi"])  # a kindergarten: no level of ours, skipped later
    centroid = osm["schools"].set_index("name").geometry["SMAN 1 Palangka Raya"]
    assert centroid.geom_type == "Point" and centroid.x == pytest.approx(113.055)


def test_health_types(osm: dict[str, gpd.GeoDataFrame]) -> None:
    types = dict(zip(osm["health_facilities"]["name"], osm["health_facilities"]["type"], strict=True))
    assert types == {
        "RSUD Doris Sylvanus": "hospital",
        "Puskesmas X": "puskesmas",
        'Klinik "Sehat" & Co': "clinic",  # hstore escapes the quotes; they come back unescaped
    }


def test_a_build_reads_roads_rivers_and_facilities_from_an_osm_extract(tmp_path: Path) -> None:
    extract = write_osm(tmp_path / "tiny.osm")
    config = config_from_dict(
        {
            "sources": {
                "villages": {"file": "villages.gpkg"},
                "poverty": {"file": "poverty.csv"},
                "schools": {"file": extract.name, "level": "level", "name": "name"},
                "health_facilities": {"file": extract.name, "type": "type", "name": "name"},
                "roads": {"file": extract.name, "kind": "highway"},
                "rivers": {"file": extract.name, "kind": "waterway"},
            }
        },
        base_dir=tmp_path,
    )
    schools = read_schools(config.sources.schools, config)
    health = read_health(config.sources.health_facilities, config)
    counts = pd.concat([schools["kind"], health["kind"]]).value_counts().to_dict()
    assert counts == {
        "school_smp": 2,
        "health_primary": 2,
        "school_sd": 1,
        "school_sma": 1,
        "health_hospital": 1,
        "": 1,  # the kindergarten is kept but counts for no kind
    }
    hospital = health.geometry[(health["kind"] == "health_hospital").to_numpy()]
    assert [(p.x, p.y) for p in hospital] == [(113.04, -2.02)]
    assert sorted(read_lines(config.sources.roads, config, "roads")["class"]) == ["track", "trunk"]
    assert read_lines(config.sources.rivers, config, "rivers")["class"].tolist() == ["river"]


def test_speeds_reach_the_friction_surface(osm: dict[str, gpd.GeoDataFrame]) -> None:
    config = AccessConfig(resolution_m=100)
    surface = friction_surface((112.99, -2.16, 113.11, -1.99), osm["roads"], osm["rivers"], config)
    samples = np.array([[113.05, -2.00], [113.05, -2.05], [113.05, -2.10], [113.05, -2.15], [113.02, -2.08]])
    rows, cols = surface.lonlat_to_rowcol(samples)
    kmh = 60.0 / (1000.0 * surface.minutes_per_m[rows, cols])
    # trunk, track, river, a drain (walking) and open ground (walking)
    np.testing.assert_allclose(kmh, [60.0, 10.0, 15.0, 4.0, 4.0], rtol=1e-5)


def test_geojson_and_gpkg_with_osm_columns(tmp_path: Path) -> None:
    lines = gpd.GeoDataFrame(
        {"osm_id": ["1", "2"], "highway": ["primary", None], "waterway": [None, "canal"]},
        geometry=[
            shapely.LineString([(113, -2), (113.1, -2)]),
            shapely.LineString([(113, -2.1), (113.1, -2.1)]),
        ],
        crs=4326,
    )
    points = gpd.GeoDataFrame(
        {"osm_id": ["3", "4"], "other_tags": ['"amenity"=>"school","name"=>"SDN 3"', '"amenity"=>"doctors"']},
        geometry=gpd.points_from_xy([113.01, 113.02], [-2.01, -2.02]),
        crs=4326,
    )
    lines.to_file(tmp_path / "lines.geojson")
    lines.to_file(tmp_path / "osm.gpkg", layer="lines")
    points.to_file(tmp_path / "osm.gpkg", layer="points")
    assert read_osm(tmp_path / "lines.geojson")["roads"]["highway"].tolist() == ["primary"]
    frames = read_osm(tmp_path / "osm.gpkg")
    assert frames["rivers"]["waterway"].tolist() == ["canal"]
    assert frames["schools"]["level"].tolist() == ["SD"]
    assert frames["health_facilities"]["type"].tolist() == ["clinic"]


def test_normalise_keeps_input_and_handles_empty() -> None:
    frame = gpd.GeoDataFrame({"highway": ["track"]}, geometry=[shapely.LineString([(0, 0), (1, 1)])])
    before = frame.copy()
    out = normalise_osm_frames([frame, gpd.GeoDataFrame(geometry=[])])
    assert out["roads"]["highway"].tolist() == ["track"]
    assert list(out["schools"].columns) == ["osm_id", "name", "level", "geometry"]
    assert len(normalise_osm_frames([])["roads"]) == 0
    assert frame.equals(before)


def test_missing_file_is_a_source_error(tmp_path: Path) -> None:
    with pytest.raises(SourceError, match="not found"):
        read_osm(tmp_path / "nope.osm.pbf")
