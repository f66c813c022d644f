"""Exports that explain themselves: titles in every format, counts as integers, codes as text."""

from __future__ import annotations

import sqlite3
import subprocess
import sys
from pathlib import Path

import openpyxl
import pandas as pd
import pyarrow.parquet as pq
import pyogrio
import pytest

from layers.export import csvt_for, export_all_gpkg, export_layer
from layers.store import LayerStore

ROOT = Path(__file__).resolve().parents[1]
COUNTS = ("population", "mpi_poor_population", "scored_population", "poor_population", "n_cells")


@pytest.fixture(scope="module")
def store(store_dir: Path) -> LayerStore:
    return LayerStore.open(store_dir)


@pytest.mark.parametrize("fmt", ["gpkg", "fgb", "parquet", "geojson"])
def test_counts_are_integers_in_every_format(store, tmp_path, fmt):
    out = export_layer(store, "villages", tmp_path / f"v.{fmt}", fmt)
    back = pd.read_parquet(out) if fmt == "parquet" else pyogrio.read_dataframe(out)
    for column in COUNTS:
        assert pd.api.types.is_integer_dtype(back[column]), (fmt, column, back[column].dtype)
    assert back["village_code"].map(type).eq(str).all()
    assert pd.api.types.is_float_dtype(back["M0"])


def test_geopackage_titles_in_data_columns_and_qgis_aliases(store, tmp_path):
    out = export_all_gpkg(store, tmp_path / "all.gpkg")
    with sqlite3.connect(out) as db:
        query = "SELECT table_name, column_name, name, title, description FROM gpkg_data_columns"
        rows = {(t, c): (n, ti, d) for t, c, n, ti, d in db.execute(query)}
        extensions = {r[0] for r in db.execute("SELECT extension_name FROM gpkg_extensions")}
        qml = dict(db.execute("SELECT f_table_name, styleQML FROM layer_styles").fetchall())
        sld = dict(db.execute("SELECT f_table_name, styleSLD FROM layer_styles").fetchall())
    db.close()
    assert rows[("villages", "M0")][:2] == ("Indeks M0 / Adjusted headcount M0", "Adjusted headcount M0")
    assert "H x A" in rows[("villages", "M0")][2]
    assert ("villages_by_year", "date") in rows and ("hexagons", "score") in rows
    assert "gpkg_schema" in extensions
    assert all(text.lstrip().startswith("<?xml") and "StyledLayerDescriptor" in text for text in sld.values())
    assert (
        '<alias field="M0"' in qml["villages"]
        and 'name="Indeks M0 / Adjusted headcount M0"' in qml["villages"]
    )
    # The layers of every year are filled (the temporal controller steps through colours).
    assert 'type="graduatedSymbol"' in qml["kabupaten_by_year"] and 'type="singleSymbol"' in qml["kabupaten"]


def test_parquet_field_metadata(store, tmp_path):
    out = export_layer(store, "villages", tmp_path / "v.parquet", "parquet")
    schema = pq.read_schema(out)
    meta = schema.field("M0").metadata
    assert meta[b"title"] == b"Adjusted headcount M0" and meta[b"title_id"] == b"Indeks M0"
    assert meta[b"unit"] == b"index"
    assert b"geo" in schema.metadata  # still GeoParquet


def test_csv_quotes_text_and_gdal_reads_codes_as_text(store, tmp_path):
    out = export_layer(store, "villages", tmp_path / "villages.csv", "csv")
    first = out.read_text().splitlines()[1]
    code = store.layer("villages")["village_code"].iloc[0]
    assert first.startswith(f'"{code}",')
    (tmp_path / "villages.csvt").write_text(csvt_for(store, "villages"))
    info = pyogrio.read_info(out)
    types = dict(zip(info["fields"], info["dtypes"], strict=True))
    assert types["village_code"] == "object" and types["population"] == "int64"
    assert types["M0"] == "float64"
    back = pyogrio.read_dataframe(out)
    assert back["village_code"].iloc[0] == code


def test_xlsx_has_a_dictionary_sheet(store, tmp_path):
    out = export_layer(store, "villages", tmp_path / "v.xlsx", "xlsx")
    book = openpyxl.load_workbook(out, read_only=True)
    assert book.sheetnames == ["villages", "Kamus data - Dictionary"]
    rows = list(book["Kamus data - Dictionary"].iter_rows(values_only=True))
    by_column = {r[0]: r for r in rows[1:] if r and r[0]}
    assert by_column["M0"][1:4] == ("Indeks M0", "Adjusted headcount M0", "index")
    assert by_column["lon"][2].startswith("Longitude")
    data = list(book["villages"].iter_rows(min_row=2, max_row=2, values_only=True))[0]
    header = next(book["villages"].iter_rows(max_row=1, values_only=True))
    row = dict(zip(header, data, strict=True))
    assert isinstance(row["village_code"], str) and isinstance(row["population"], int)


def _cli(*args: str) -> subprocess.CompletedProcess[str]:
    command = [sys.executable, "-m", "layers.cli", "export", *args]
    return subprocess.run(command, capture_output=True, text=True, timeout=300, check=False, cwd=ROOT)


def test_cli_years_xlsx_limit_and_csvt(store, tmp_path):
    first = min(store.years)
    out = tmp_path / "v.csv"
    done = _cli(
        "villages", "--store", str(store.path), "--format", "csv", "--year", str(first), "--out", str(out)
    )
    assert done.returncode == 0, done.stderr
    table = pd.read_csv(out, dtype={"village_code": str})
    assert (table["year"] == first).all()
    assert out.with_suffix(".csvt").read_text().startswith('"String"')
    every = tmp_path / "all.gpkg"
    done = _cli("villages", "--store", str(store.path), "--years", "all", "--out", str(every))
    assert done.returncode == 0, done.stderr
    assert sorted(pyogrio.read_dataframe(every)["year"].unique()) == store.years
    done = _cli("hexagons", "--store", str(store.path), "--format", "xlsx", "--max-rows", "1000",
                "--out", str(tmp_path / "h.xlsx"))  # fmt: skip
    assert done.returncode == 2 and "csv, parquet or gpkg" in done.stderr
    assert not (tmp_path / "h.xlsx").exists()
    assert _cli("villages", "--store", str(store.path), "--years", "2023").returncode == 2
