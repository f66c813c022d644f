"""Source parsing and checks below the CLI: number formats, delimiters, encodings, options."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pyogrio
import pytest

from layers.config import PovertySource, config_from_dict, load_config
from layers.errors import ConfigError, SourceError
from layers.sources import parse_numbers, read_poverty, read_villages, sniff_delimiter


@pytest.mark.parametrize(
    ("cells", "number_format", "values", "bad"),
    [
        (
            ["1.053", "5,17", "", "12.345.678", "-3"],
            (",", "."),
            [1053, 5.17, np.nan, 12345678, -3],
            [0, 0, 0, 0, 0],
        ),
        (["1,053", "5.17", "1,053.5"], (".", ","), [1053, 5.17, 1053.5], [0, 0, 0]),
        (["1 053", "1\u00a0053", "5,17"], (",", " "), [1053, 1053, 5.17], [0, 0, 0]),
        # Declared grouping is strict: "1.05" is not 1.05 thousand, "10.53.1" no number at all.
        (["1.05", "10.53.1", "1.053"], (",", "."), [np.nan, np.nan, 1053], [1, 1, 0]),
        # Undeclared: plain numbers; "1.053" is 1.053 (refused later as a fractional count).
        (["1.053", "5,17", "inf", "NaN", " 7 "], None, [1.053, np.nan, np.inf, np.nan, 7], [0, 1, 0, 1, 0]),
    ],
)
def test_parse_numbers(cells, number_format, values, bad):
    got, not_number = parse_numbers(pd.Series(cells, dtype=str), number_format)
    np.testing.assert_array_equal(got, np.array(values, np.float64))
    assert not_number.tolist() == [bool(b) for b in bad]


def test_parse_numbers_keeps_spreadsheet_number_cells():
    # A number cell is a number whatever the declared text format; text cells follow the format.
    column = pd.Series([1053, 5.17, "1.053", "5,17", None], dtype=object)
    got, not_number = parse_numbers(column, (",", "."))
    np.testing.assert_array_equal(got, [1053, 5.17, 1053, 5.17, np.nan])
    assert not not_number.any()


@pytest.mark.parametrize(
    ("header", "delimiter"),
    [
        ("kode_desa,tahun,jumlah_penduduk", ","),
        ("kode_desa;tahun;jumlah_penduduk", ";"),
        ("kode_desa\ttahun\tjumlah_penduduk", "\t"),
        ("kode_desa|tahun", "|"),
        ('"kode;desa",tahun,jumlah', ","),
        ("kode_desa", ","),
    ],
)
def test_sniff_delimiter(header, delimiter):
    assert sniff_delimiter(header) == delimiter


def test_number_format_defaults_and_conflicts():
    assert PovertySource(file="p.csv").number_format is None
    assert PovertySource(file="p.csv", thousands=".").number_format == (",", ".")
    assert PovertySource(file="p.csv", decimal=",").number_format == (",", ".")
    assert PovertySource(file="p.csv", thousands=",").number_format == (".", ",")
    assert PovertySource(file="p.csv", decimal=".", thousands="").number_format == (".", "")
    raw = {
        "sources": {
            "villages": {"file": "v.gpkg"},
            "poverty": {"file": "p.csv", "decimal": ",", "thousands": ","},
        }
    }
    with pytest.raises(ConfigError, match="both ','"):
        config_from_dict(raw, Path("."))
    raw["sources"]["poverty"] = {"file": "p.csv", "encoding": "klingon"}
    with pytest.raises(ConfigError, match="unknown text encoding 'klingon'"):
        config_from_dict(raw, Path("."))
    raw["sources"]["poverty"] = {"file": "p.csv"}
    raw["region_bounds"] = [140, -11, 95, 6]
    with pytest.raises(ConfigError, match="region_bounds"):
        config_from_dict(raw, Path("."))


def _config(sources: Path, poverty: dict, villages: dict | None = None):
    base = load_config(sources / "sasaran.toml")
    raw = base.model_dump(mode="json", exclude={"base_dir"})
    raw["sources"]["poverty"].update(poverty)
    raw["sources"]["villages"].update(villages or {})
    return config_from_dict(raw, base_dir=sources)


def test_declared_encoding_and_delimiter_read_a_windows_export(demo_sources, tmp_path):
    sources = demo_sources.parent
    frame = pd.read_csv(sources / "poverty.csv", dtype=str)
    frame.insert(1, "nama_desa", "Pénda")
    path = tmp_path / "kemiskinan.csv"
    path.write_bytes(frame.to_csv(index=False, sep="|").encode("cp1252"))
    villages = read_villages(load_config(demo_sources).sources.villages, load_config(demo_sources))
    config = _config(sources, {"file": str(path), "encoding": "cp1252", "delimiter": "|"})
    table = read_poverty(config.sources.poverty, config, villages["village_code"])
    assert len(table) == len(frame)
    assert table["population"].sum() == frame["jumlah_penduduk"].astype(int).sum()
    # Declared wrongly, the message names the delimiter that was used.
    config = _config(sources, {"file": str(path), "encoding": "cp1252", "delimiter": ";"})
    with pytest.raises(SourceError, match="delimiter ';'"):
        read_poverty(config.sources.poverty, config, villages["village_code"])


def test_xlsx_with_text_numbers_in_declared_format(demo_sources, tmp_path):
    sources = demo_sources.parent
    frame = pd.read_csv(sources / "poverty.csv")
    # Mixed as spreadsheets are: number cells, and a few counts typed as text in Indonesian style.
    frame["jumlah_penduduk"] = frame["jumlah_penduduk"].astype(object)
    frame.loc[:4, "jumlah_penduduk"] = [f"{v:,}".replace(",", ".") for v in frame.loc[:4, "jumlah_penduduk"]]
    path = tmp_path / "kemiskinan.xlsx"
    frame.to_excel(path, index=False)
    config = load_config(demo_sources)
    villages = read_villages(config.sources.villages, config)
    declared = _config(sources, {"file": str(path), "thousands": "."})
    table = read_poverty(declared.sources.poverty, declared, villages["village_code"])
    expected = pd.read_csv(sources / "poverty.csv")["jumlah_penduduk"].sum()
    assert table["population"].sum() == expected
    undeclared = _config(sources, {"file": str(path)})
    with pytest.raises(
        SourceError, match=r"row \d+, field 'jumlah_penduduk': '\d\.\d{3}' is not a whole number"
    ):
        read_poverty(undeclared.sources.poverty, undeclared, villages["village_code"])


def test_shapefile_encoding_option(demo_sources, tmp_path):
    sources = demo_sources.parent
    frame = pyogrio.read_dataframe(sources / "villages.gpkg", layer="villages")
    frame.loc[0, "nama_desa"] = "Pénda"
    pyogrio.write_dataframe(frame, tmp_path / "desa.shp", encoding="UTF-8")
    (tmp_path / "desa.cpg").unlink()
    config = _config(sources, {}, {"file": str(tmp_path / "desa.shp"), "layer": None})
    with pytest.raises(SourceError, match=r"desa.shp, feature 0, field 'nama_desa': 'PÃ©nda'"):
        read_villages(config.sources.villages, config)
    config = _config(sources, {}, {"file": str(tmp_path / "desa.shp"), "layer": None, "encoding": "UTF-8"})
    assert read_villages(config.sources.villages, config)["village_name"].iloc[0] == "Pénda"
    # Plain ASCII text reads the same in every encoding: no .cpg needed.
    frame.loc[0, "nama_desa"] = "Penda"
    pyogrio.write_dataframe(frame, tmp_path / "ascii.shp", encoding="UTF-8")
    (tmp_path / "ascii.cpg").unlink()
    config = _config(sources, {}, {"file": str(tmp_path / "ascii.shp"), "layer": None})
    assert read_villages(config.sources.villages, config)["village_name"].iloc[0] == "Penda"
