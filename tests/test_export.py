from __future__ import annotations

import sqlite3
import xml.etree.ElementTree as ET
from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd
import pyogrio
import pytest
import shapely
from typer.testing import CliRunner

from layers.errors import InvalidQuery, LayerNotFound
from layers.export import (
    cached_export,
    export_all_gpkg,
    export_filename,
    export_layer,
    formats_for,
)
from layers.export.fields import whole_counts
from layers.maps.classes import MIN_PEOPLE_SHOWN, SCORE
from layers.maps.qml import SHOWN_SCORE, style_for
from layers.rounding import round_frame
from layers.store import SPATIAL_LAYERS, LayerStore


@pytest.fixture(scope="module")
def store(store_dir: Path) -> LayerStore:
    return LayerStore.open(store_dir)


@pytest.fixture(scope="module")
def all_gpkg(store: LayerStore, tmp_path_factory: pytest.TempPathFactory) -> Path:
    return export_all_gpkg(store, tmp_path_factory.mktemp("all") / "sasaran.gpkg")


def _values_equal(left: pd.Series, right: pd.Series, shown: bool = False) -> None:
    """``right`` holds ``left``'s values; with ``shown``, as a person reads them (layers/rounding.py).

    Counts (people, households, cells) are whole numbers in every format (layers/export/fields.py).
    """
    if pd.api.types.is_numeric_dtype(left) and not pd.api.types.is_bool_dtype(left):
        want = left.to_numpy(float)
        if whole_counts(pd.DataFrame({left.name: want}))[left.name].dtype == "Int64":
            want = np.round(want)
            assert pd.api.types.is_integer_dtype(right), (left.name, right.dtype)
        if shown:
            want = round_frame(pd.DataFrame({left.name: want}))[left.name].to_numpy(float, na_value=np.nan)
        np.testing.assert_allclose(right.to_numpy(float), want, rtol=1e-9, equal_nan=True)
    else:
        assert left.astype(str).tolist() == right.astype(str).tolist()


def _in_store_order(back: gpd.GeoDataFrame, layer: gpd.GeoDataFrame) -> gpd.GeoDataFrame:
    key = shapely.to_wkb(shapely.normalize(back.geometry.values), hex=True)
    want = shapely.to_wkb(shapely.normalize(layer.geometry.values), hex=True)
    position = pd.Series(np.arange(len(back)), index=key)
    return back.iloc[position.loc[want].to_numpy()].reset_index(drop=True)


@pytest.mark.parametrize("fmt", ["gpkg", "fgb", "geojson", "parquet"])
@pytest.mark.parametrize("name", ["villages", "hexagons", "schools", "roads"])
def test_spatial_exports_read_back_like_the_store(store, tmp_path, name, fmt):
    out = export_layer(store, name, tmp_path / f"{name}.{fmt}", fmt)
    back = (
        gpd.read_parquet(out)
        if fmt == "parquet"
        else pyogrio.read_dataframe(out, layer=name if fmt != "geojson" else None)
    )
    layer = store.layer(name)
    if fmt == "fgb":  # FlatGeobuf's spatial index stores features in Hilbert order
        back = _in_store_order(back, layer)
    assert len(back) == len(layer)
    assert back.crs.to_epsg() == 4326
    assert set(layer.columns) <= set(back.columns) | {"geometry"}
    for column in ("village_code", "score", "M0", "kind", "class", "population"):
        if column in layer.columns:
            # GeoJSON is read by people: rounded by unit; GIS formats keep full precision.
            _values_equal(layer[column], back[column], shown=fmt == "geojson")
    assert shapely.equals_exact(
        back.geometry.normalize().values, layer.geometry.normalize().values, tolerance=1e-7
    ).all()
    assert [p.name for p in tmp_path.iterdir()] == [out.name]  # no temporary file left behind


def test_geojson_geometry_is_close(store, tmp_path):
    out = export_layer(store, "villages", tmp_path / "v.geojson", "geojson")
    back = pyogrio.read_dataframe(out)
    layer = store.layer("villages")
    assert shapely.equals_exact(
        back.geometry.normalize().values, layer.geometry.normalize().values, tolerance=1e-7
    ).all()
    assert shapely.is_ccw(
        shapely.get_exterior_ring(shapely.get_geometry(back.geometry.values, 0))
    ).all()  # RFC 7946


def test_gpkg_villages_are_multipolygons_with_index_extent_and_description(store, tmp_path):
    out = export_layer(store, "villages", tmp_path / "v.gpkg", "gpkg")
    info = pyogrio.read_info(out, layer="villages")
    assert info["geometry_type"] == "MultiPolygon"
    assert info["crs"] == "EPSG:4326"
    with sqlite3.connect(out) as db:
        tables = {r[0] for r in db.execute("SELECT name FROM sqlite_master WHERE type='table'")}
        assert "rtree_villages_geom" in tables
        desc, min_x, min_y, max_x, max_y, srs = db.execute(
            "SELECT description, min_x, min_y, max_x, max_y, srs_id FROM gpkg_contents "
            "WHERE table_name='villages'"
        ).fetchone()
    bounds = store.layer("villages").total_bounds
    assert (min_x, min_y, max_x, max_y) == pytest.approx(tuple(bounds))
    assert srs == 4326
    assert ("SYNTHETIC demo data" in desc) == store.synthetic


def test_all_layers_gpkg_has_default_qgis_styles(store, all_gpkg):
    layers = dict(pyogrio.list_layers(all_gpkg))
    assert set(store.names) <= set(layers)
    assert layers["villages"] == "MultiPolygon" and layers["village_years"] is None
    for name in store.names:
        assert pyogrio.read_info(all_gpkg, layer=name)["features"] == store.rows(name)
    with sqlite3.connect(all_gpkg) as db:
        rows = db.execute(
            'SELECT f_table_name, f_geometry_column, "styleQML", "useAsDefault" FROM layer_styles'
        ).fetchall()
        kind = db.execute("SELECT data_type FROM gpkg_contents WHERE table_name='layer_styles'").fetchone()
        columns = [r[1] for r in db.execute("PRAGMA table_info(layer_styles)")]
    assert kind == ("attributes",)
    assert columns == [
        "id", "f_table_catalog", "f_table_schema", "f_table_name", "f_geometry_column", "styleName",
        "styleQML", "styleSLD", "useAsDefault", "description", "owner", "ui", "update_time",
    ]  # fmt: skip
    styles = {name: (geom, qml, default) for name, geom, qml, default in rows}
    by_year = {f"{n}_by_year" for n in ("villages", "kecamatan", "kabupaten")}
    assert set(styles) == {n for n in store.names if n in SPATIAL_LAYERS} | by_year
    assert all(default == 1 and geom == "geom" for geom, _, default in styles.values())
    renderer = ET.fromstring(styles["hexagons"][1].split("\n", 1)[1]).find("renderer-v2")
    # Coloured by score where a cell holds enough people to show (layers.maps.classes.MIN_PEOPLE_SHOWN).
    assert renderer.get("type") == "graduatedSymbol" and renderer.get("attr") == SHOWN_SCORE
    # The legend lists the score classes the shown cells fall in, no more.
    hexagons = store.layer("hexagons")
    shown = hexagons["score"].where(hexagons["population"] >= MIN_PEOPLE_SHOWN)
    present = SCORE.present(shown.to_numpy(float))
    assert len(renderer.findall("ranges/range")) == len(present) == len(renderer.findall("symbols/symbol"))
    village = ET.fromstring(styles["villages"][1].split("\n", 1)[1]).find("renderer-v2")
    assert village.get("attr") == "M0"
    # Loaded together, kabupaten and kecamatan are outlines over the villages.
    kabupaten = ET.fromstring(styles["kabupaten"][1].split("\n", 1)[1])
    assert kabupaten.find("renderer-v2").get("type") == "singleSymbol"
    fill = {o.get("name"): o.get("value") for o in kabupaten.iter("Option") if o.get("name")}
    assert fill["style"] == "no" and fill["outline_style"] == "solid"
    assert kabupaten.find("labeling/settings/text-style").get("fieldName") == "kabupaten_name"
    temporal = ET.fromstring(styles["villages_by_year"][1].split("\n", 1)[1]).find("temporal")
    wanted = {"enabled": "1", "mode": "2", "startField": "date", "endField": "date_end"}
    assert {k: temporal.get(k) for k in wanted} == wanted
    for name in by_year:
        stacked = pyogrio.read_dataframe(all_gpkg, layer=name, read_geometry=False)
        assert len(stacked) == store.rows(name.removesuffix("_by_year")) * len(store.years)
        assert sorted(stacked["year"].unique()) == store.years


def test_every_style_is_well_formed_qml():
    for name in SPATIAL_LAYERS:
        root = ET.fromstring(style_for(name).split("\n", 1)[1])
        assert root.tag == "qgis"
        renderer = root.find("renderer-v2")
        symbols = {s.get("name") for s in renderer.findall("symbols/symbol")}
        refs = {e.get("symbol") for e in renderer.iter() if e.tag in ("range", "category")}
        assert refs <= symbols
    facilities = ET.fromstring(style_for("schools").split("\n", 1)[1]).find("renderer-v2")
    assert facilities.get("type") == "categorizedSymbol" and facilities.get("attr") == "kind"
    values = [c.get("value") for c in facilities.findall("categories/category")]
    # A legend lists the kinds its layer holds, not every facility kind.
    assert values == ["school_sd", "school_smp", "school_sma", ""]
    health = ET.fromstring(style_for("health_facilities").split("\n", 1)[1]).find("renderer-v2")
    assert [c.get("value") for c in health.findall("categories/category")] == [
        "health_primary",
        "health_hospital",
        "",
    ]
    assert style_for("village_years") is None


def test_score_at_exactly_k_falls_in_the_poor_class():
    ranges = ET.fromstring(style_for("hexagons").split("\n", 1)[1]).findall("renderer-v2/ranges/range")
    for c in (1 / 3, 1 / 3 - 1e-12, sum([1 / 33] * 11)):
        first = next(r for r in ranges if float(r.get("lower")) <= c <= float(r.get("upper")))
        assert first.get("label").startswith("Miskin (1/3")


def test_csv_has_lon_lat_and_wkt_for_areas(store, tmp_path):
    villages = pd.read_csv(
        export_layer(store, "villages", tmp_path / "v.csv", "csv"), dtype={"village_code": str}
    )
    layer = store.layer("villages")
    assert len(villages) == len(layer)
    _values_equal(layer["village_code"], villages["village_code"])
    _values_equal(layer["M0"], villages["M0"], shown=True)
    geoms = shapely.from_wkt(villages["geometry_wkt"].to_numpy())
    assert shapely.contains(geoms, shapely.points(villages["lon"], villages["lat"])).all()
    schools = pd.read_csv(export_layer(store, "schools", tmp_path / "s.csv", "csv"))
    assert "geometry_wkt" not in schools.columns
    np.testing.assert_allclose(schools["lon"], store.layer("schools").geometry.x, atol=1e-7)


def test_xlsx_has_attributes_and_coordinates(store, tmp_path):
    out = export_layer(store, "villages", tmp_path / "v.xlsx", "xlsx")
    back = pd.read_excel(out, sheet_name="villages", dtype={"village_code": str})
    assert len(back) == store.rows("villages")
    assert {"lon", "lat", "M0", "village_name"} <= set(back.columns)
    assert "geometry" not in back.columns and "geometry_wkt" not in back.columns


def test_tables_export_without_geometry(store, tmp_path):
    back = pd.read_csv(export_layer(store, "village_years", tmp_path / "y.csv", "csv"))
    assert len(back) == store.rows("village_years")
    assert formats_for("village_years") == ("gpkg", "parquet", "csv", "xlsx")
    with pytest.raises(InvalidQuery, match="without geometry"):
        export_layer(store, "village_years", tmp_path / "y.fgb", "fgb")
    with pytest.raises(InvalidQuery, match="format"):
        export_layer(store, "villages", tmp_path / "v.shp", "shp")
    with pytest.raises(LayerNotFound):
        export_layer(store, "nope", tmp_path / "n.csv", "csv")


def test_cached_export_is_written_once(store, tmp_path):
    first = cached_export(store, "schools", "geojson", cache_dir=tmp_path)
    stamp = first.stat().st_mtime_ns
    again = cached_export(store, "schools", "geojson", cache_dir=tmp_path)
    assert again == first and again.stat().st_mtime_ns == stamp
    assert first.name == export_filename(store, "schools", "geojson")
    assert ("synthetic" in first.name) == store.synthetic
    with pytest.raises(InvalidQuery):
        cached_export(store, "all", "csv", cache_dir=tmp_path)


def test_export_command(store, tmp_path):
    import typer

    from layers.cli.export import export_command

    app = typer.Typer()
    app.command("export")(export_command)
    app.command("other")(lambda: None)  # a group, so "export" is a subcommand as in `sasaran export`
    result = CliRunner().invoke(
        app,
        [
            "export",
            "villages",
            "--store",
            str(store.path),
            "--format",
            "fgb",
            "--out",
            str(tmp_path / "v.fgb"),
        ],
    )
    assert result.exit_code == 0, result.output
    assert pyogrio.read_info(tmp_path / "v.fgb")["features"] == store.rows("villages")
    result = CliRunner().invoke(
        app, ["export", "--store", str(store.path), "--out", str(tmp_path / "all.gpkg")]
    )
    assert result.exit_code == 0, result.output
    assert "hexagons" in dict(pyogrio.list_layers(tmp_path / "all.gpkg"))


@pytest.mark.parametrize("fmt", ["fgb", "geojson"])
@pytest.mark.parametrize("name", ["villages", "hexagons"])
def test_streamed_exports_in_many_chunks_equal_the_layer(store, tmp_path, monkeypatch, name, fmt):
    # FlatGeobuf and GeoJSON go to GDAL in chunks and batches (a nation's hexagons are 2.6 M rows);
    # with tiny chunks every piece must arrive, typed and promoted like the whole layer.
    from layers.export import store_layers

    layer = store.layer(name)
    chunk = max(17, len(layer) // 5)  # a handful of chunks, a few batches each
    monkeypatch.setattr(store_layers, "CHUNK_ROWS", chunk)
    monkeypatch.setattr(store_layers, "OGR_BATCH_ROWS", chunk // 2 - 1)
    out = export_layer(store, name, tmp_path / f"{name}.{fmt}", fmt)
    back = pyogrio.read_dataframe(out, layer=name if fmt != "geojson" else None)
    assert len(layer) > 2 * chunk
    if fmt == "fgb":
        back = _in_store_order(back, layer)
    assert len(back) == len(layer)
    for column in ("village_code", "score", "population"):
        if column in layer.columns:
            _values_equal(layer[column], back[column], shown=fmt == "geojson")
    kinds = set(back.geometry.geom_type)
    assert kinds == ({"MultiPolygon"} if name == "villages" else {"Polygon"})
    assert shapely.equals_exact(
        back.geometry.normalize().values, layer.geometry.normalize().values, tolerance=1e-7
    ).all()
