from __future__ import annotations

import math
from pathlib import Path

import mapbox_vector_tile
import numpy as np
import pytest
import shapely

from layers.errors import InvalidQuery, LayerNotFound
from layers.geo import grid
from layers.maps import _mvt
from layers.maps.tiles import (
    EXTENT,
    VectorTiles,
    check_tile,
    hexagon_parents,
    hexagon_resolution,
    tile_bounds,
)
from layers.store import LayerStore


@pytest.fixture(scope="module")
def store(store_dir: Path) -> LayerStore:
    return LayerStore.open(store_dir)


@pytest.fixture(scope="module")
def tiles(store: LayerStore) -> VectorTiles:
    return VectorTiles(store)


def tile_of(lon: float, lat: float, z: int) -> tuple[int, int]:
    n = 1 << z
    x = int((lon + 180) / 360 * n)
    y = int((1 - math.asinh(math.tan(math.radians(lat))) / math.pi) / 2 * n)
    return x, y


def tiles_covering(bounds: np.ndarray, z: int) -> list[tuple[int, int]]:
    x0, y0 = tile_of(bounds[0], bounds[3], z)
    x1, y1 = tile_of(bounds[2], bounds[1], z)
    return [(x, y) for x in range(x0, x1 + 1) for y in range(y0, y1 + 1)]


def decode(body: bytes) -> dict:
    return mapbox_vector_tile.decode(body, default_options={"y_coord_down": True})


def test_resolution_grows_with_zoom():
    assert [hexagon_resolution(z) for z in range(15)] == [4] * 6 + [5, 5, 6, 6, 7, 8, 8, 8, 8]
    assert hexagon_resolution(14, finest=7) == 7


@pytest.mark.parametrize(("z", "x", "y"), [(-1, 0, 0), (23, 0, 0), (3, 8, 0), (3, 0, -1), (0, 1, 0)])
def test_tiles_outside_the_grid_are_invalid_queries(z, x, y):
    with pytest.raises(InvalidQuery, match="tile"):
        check_tile(z, x, y)


def test_tile_bounds_cover_the_world_at_zoom_0():
    minx, miny, maxx, maxy = tile_bounds(0, 0, 0)
    assert minx == -maxx and miny == -maxy and maxx == pytest.approx(20037508.34, abs=0.01)
    assert tile_bounds(1, 1, 1) == (0.0, -maxx, maxx, 0.0)


def test_high_zoom_tile_has_the_cells_with_their_properties(store, tiles):
    hexagons = store.layer("hexagons")
    row = hexagons.iloc[len(hexagons) // 2]
    centre = row.geometry.centroid
    x, y = tile_of(centre.x, centre.y, 13)
    features = decode(tiles.tile("hexagons", 13, x, y))["hexagons"]["features"]
    by_h3 = {f["properties"]["h3"]: f for f in features}
    feature = by_h3[row["h3"]]
    props = feature["properties"]
    assert props["score"] == pytest.approx(row["score"])
    assert props["population"] == pytest.approx(row["population"])
    assert props["poor"] == bool(row["poor"])
    assert props["village_code"] == row["village_code"]
    assert props["resolution"] == 8
    assert feature["id"] == int(grid.strings_to_cells(np.array([row["h3"]], dtype=object))[0])
    assert feature["geometry"]["type"] == "Polygon"
    # every decoded vertex lies in the tile plus its buffer
    coords = np.array(feature["geometry"]["coordinates"][0])
    assert coords.min() >= -64 and coords.max() <= EXTENT + 64


def test_low_zoom_tiles_carry_parent_cells_and_stay_small(store, tiles):
    hexagons = store.layer("hexagons")
    parents = hexagon_parents(hexagons, 4)
    seen: dict[str, dict] = {}
    for x, y in tiles_covering(hexagons.total_bounds, 5):
        body = tiles.tile("hexagons", 5, x, y)
        assert len(body) < 20_000
        for feature in decode(body).get("hexagons", {}).get("features", []):
            seen[feature["properties"]["h3"]] = feature["properties"]
    assert set(seen) == set(parents["h3"])
    assert len(seen) < len(hexagons) / 50
    assert all(p["resolution"] == 4 for p in seen.values())
    total = sum(p["population"] for p in seen.values())
    assert total == pytest.approx(hexagons["population"].sum())


def test_parents_aggregate_population_and_weight_the_score(store):
    hexagons = store.layer("hexagons")
    parents = hexagon_parents(hexagons, 6)
    assert parents["n_cells"].sum() == len(hexagons)
    assert parents["population"].sum() == pytest.approx(hexagons["population"].sum())
    own = grid.cell_parents(grid.strings_to_cells(hexagons["h3"].to_numpy(dtype=object)), 6)
    first = grid.strings_to_cells(parents["h3"].to_numpy(dtype=object))[0]
    members = hexagons[own == first]
    scored = members["score"].notna()  # cells of fewer than 0.5 people have no score
    expected = np.average(members["score"][scored], weights=members["population"][scored])
    assert parents["score"].iloc[0] == pytest.approx(expected)
    assert parents.crs.to_epsg() == 4326
    assert hexagons.shape == store.layer("hexagons").shape  # input untouched


def test_area_and_facility_tiles(store, tiles):
    villages = store.layer("villages")
    v = villages.iloc[0]
    point = v.geometry.representative_point()
    x, y = tile_of(point.x, point.y, 10)
    features = decode(tiles.tile("villages", 10, x, y))["villages"]["features"]
    match = [f for f in features if f["properties"]["village_code"] == v["village_code"]]
    assert match and match[0]["properties"]["M0"] == pytest.approx(v["M0"])
    assert match[0]["properties"]["village_name"] == v["village_name"]
    assert match[0]["id"] == int(v["village_code"])

    schools = store.layer("schools")
    s = schools.iloc[0]
    x, y = tile_of(s.geometry.x, s.geometry.y, 12)
    features = decode(tiles.tile("schools", 12, x, y))["schools"]["features"]
    kinds = {f["properties"]["name"]: f["properties"]["kind"] for f in features}
    assert kinds[s["name"]] == s["kind"]
    assert all(f["geometry"]["type"] == "Point" for f in features)


def test_tile_outside_the_data_is_empty(tiles):
    assert tiles.tile("hexagons", 10, 0, 0) == b""
    assert decode(b"") == {}


def test_repeated_tiles_come_from_the_cache(store, tiles):
    point = store.layer("roads").geometry.iloc[0].representative_point()
    first = tiles.tile("roads", 6, *tile_of(point.x, point.y, 6))
    again = tiles.tile("roads", 6, *tile_of(point.x, point.y, 6))
    assert first and first is again


def test_unknown_and_untiled_layers(tiles):
    with pytest.raises(LayerNotFound, match="no vector tiles"):
        tiles.tile("village_years", 0, 0, 0)
    with pytest.raises(LayerNotFound):
        tiles.tile("nope", 0, 0, 0)


def test_fields_describe_tile_properties(tiles):
    fields = tiles.fields("hexagons")
    assert fields["score"] == "Number" and fields["h3"] == "String" and fields["poor"] == "Boolean"
    assert fields["poor_population"] == "Number"


def test_encoder_matches_the_reference_encoder():
    shell = shapely.box(400, 400, 900, 900)
    geometries = np.array(
        [
            shapely.box(10, 10, 100, 100),
            shapely.MultiPolygon(
                [
                    shapely.box(200, 200, 300, 300),
                    shapely.Polygon(shell.exterior, [shapely.box(500, 500, 600, 600).exterior]),
                ]
            ),
            shapely.Polygon([(0, 0), (0, 50), (50, 50), (50, 0)]),  # clockwise in shapely terms
        ]
    )
    ids = np.array([1, 2, 3], np.uint64)
    props = {
        "name": np.array(["a", None, "c"], object),
        "score": np.array([0.5, np.nan, 1.0]),
        "n": np.array([1, -2, 3]),
    }
    ours = decode(_mvt.encode_tile([_mvt.encode_layer("t", geometries, ids, props)]))["t"]["features"]
    reference = mapbox_vector_tile.encode(
        [
            {
                "name": "t",
                "features": [
                    {"geometry": g, "properties": {}, "id": int(i)}
                    for g, i in zip(geometries, ids, strict=True)
                ],
            }
        ],
        default_options={"y_coord_down": True},
    )
    expected = decode(reference)["t"]["features"]
    assert [f["geometry"] for f in ours] == [f["geometry"] for f in expected]
    assert ours[1]["geometry"]["type"] == "MultiPolygon"  # holes recognised by winding order
    assert ours[0]["properties"] == {"name": "a", "score": 0.5, "n": 1}
    assert ours[1]["properties"] == {"n": -2}


def test_lines_and_multipoints_encode():
    lines = np.array(
        [
            shapely.LineString([(0, 0), (10, 10)]),
            shapely.MultiLineString([[(5, 5), (6, 6)], [(7, 7), (9, 1)]]),
        ]
    )
    points = np.array([shapely.MultiPoint([(1, 2), (3, 4)]), shapely.Point(4000, 4000)])
    body = _mvt.encode_tile(
        [
            _mvt.encode_layer("l", lines, np.array([1, 2], np.uint64), {}),
            _mvt.encode_layer("p", points, np.array([1, 2], np.uint64), {"k": np.array([True, False])}),
        ]
    )
    tile = decode(body)
    assert tile["l"]["features"][1]["geometry"]["coordinates"] == [[[5, 5], [6, 6]], [[7, 7], [9, 1]]]
    assert tile["p"]["features"][0]["geometry"]["coordinates"] == [[1, 2], [3, 4]]
    assert tile["p"]["features"][1]["properties"] == {"k": False}
