"""No output a person reads carries float noise (677.0000000000001 people, 971749999.9999999 rupiah),
and people and rupiah are whole: every JSON answer, CSV and XLSX download is scanned."""

from __future__ import annotations

import csv
import io
import json
import math
from collections.abc import Iterator
from typing import Any

import openpyxl
import pytest
from fastapi.testclient import TestClient

from layers.rounding import is_float_noise
from layers.schema import field_for

JSON_PATHS = (
    "/collections/hexagons/items?limit=500",
    "/collections/villages/items?limit=500",
    "/collections/kecamatan/items",
    "/collections/kabupaten/items",
    "/collections/villages/items?year=2023&limit=500",
    "/collections/hexagons/items?year=2023&limit=500",
    "/scores/hexagon?limit=500",
    "/scores/village?limit=500",
    "/scores/kecamatan",
    "/scores/kabupaten",
    "/scores/province",
    "/scores/kabupaten?f=geojson",
    "/changes?from=2023&to=2024&level=village",
    "/changes?from=2023&to=2024",
)
CSV_PATHS = (
    "/exports/villages.csv",
    "/exports/kabupaten.csv",
    "/exports/village_years.csv",
    "/scores/village?f=csv&limit=500",
    "/changes?from=2023&to=2024&level=village&f=csv",
)
XLSX_PATHS = ("/exports/villages.xlsx", "/exports/kecamatan.xlsx")
WHOLE_UNITS = {"people", "households", "rupiah", "count"}


#: Objects whose members are named after a field but hold something else: a village's share of
#: elderly people is a fraction, not people; a priority weight is a weight.
QUALIFIED = {"priority_shares", "priority"}


def _numbers(value: Any, key: str = "") -> Iterator[tuple[str, float]]:
    if isinstance(value, dict):
        for k, v in value.items():
            yield from _numbers(v, f"{key}.{k}" if key in QUALIFIED else k)
    elif isinstance(value, list):
        for v in value:
            yield from _numbers(v, key)
    elif isinstance(value, float | int) and not isinstance(value, bool):
        yield key, float(value)


def _check(where: str, pairs: Iterator[tuple[str, float]]) -> int:
    count = 0
    for key, number in pairs:
        count += 1
        assert not is_float_noise(number), f"{where}: {key} = {number!r} is float noise"
        field = field_for(key)
        if field is not None and field.unit in WHOLE_UNITS and math.isfinite(number):
            assert number == round(number), f"{where}: {key} = {number!r} should be whole {field.unit}"
    return count


@pytest.mark.parametrize("path", JSON_PATHS)
def test_json_answers(client: TestClient, path: str) -> None:
    r = client.get(path)
    assert r.status_code == 200, r.text
    assert _check(path, _numbers(json.loads(r.content))) > 0


def _cells(rows: list[list[str]]) -> Iterator[tuple[str, float]]:
    header = rows[0]
    for row in rows[1:]:
        for key, text in zip(header, row, strict=False):
            if key in ("lon", "lat", "geometry_wkt") or key.endswith("_code"):
                continue  # coordinates have 7 decimals on purpose; codes are text
            try:
                yield key, float(text)
            except ValueError:
                continue


@pytest.mark.parametrize("path", CSV_PATHS)
def test_csv_downloads(client: TestClient, path: str) -> None:
    r = client.get(path)
    assert r.status_code == 200, r.text
    rows = list(csv.reader(io.StringIO(r.text)))
    assert _check(path, _cells(rows)) > 0
    # whole units are written without a decimal point
    header = rows[0]
    if "population" in header:
        at = header.index("population")
        assert all("." not in row[at] for row in rows[1:] if row[at]), path


@pytest.mark.parametrize("path", XLSX_PATHS)
def test_xlsx_downloads(client: TestClient, path: str) -> None:
    r = client.get(path)
    assert r.status_code == 200, r.text
    sheet = openpyxl.load_workbook(io.BytesIO(r.content), read_only=True).worksheets[0]
    rows = [["" if v is None else str(v) for v in row] for row in sheet.iter_rows(values_only=True)]
    assert _check(path, _cells(rows)) > 0


def test_the_scan_finds_noise() -> None:
    """The checks above can fail: a noisy value and a fractional person are caught."""
    with pytest.raises(AssertionError, match="float noise"):
        _check("x", iter([("M0", 0.1 + 0.2)]))
    with pytest.raises(AssertionError, match="whole people"):
        _check("x", iter([("population", 12.5)]))


@pytest.mark.parametrize("fmt", ["json", "csv", "xlsx"])
def test_target_answers(client: TestClient, fmt: str) -> None:
    """The planner's downloads: whole people and rupiah, indices to 4 decimals."""
    r = client.post(f"/targets?f={fmt}", json={"budget": 5e9, "scenarios": 20})
    assert r.status_code == 200, r.text
    if fmt == "json":
        assert _check("targets", _numbers(json.loads(r.content))) > 0
    elif fmt == "csv":  # the Indonesian Excel dialect: ";" between fields, a decimal comma
        rows = [
            [cell.replace(",", ".") for cell in row] for row in csv.reader(io.StringIO(r.text), delimiter=";")
        ]
        assert _check("targets.csv", _cells(rows)) > 0
    else:
        book = openpyxl.load_workbook(io.BytesIO(r.content), read_only=True)
        for sheet in book.worksheets:
            rows = [["" if v is None else str(v) for v in row] for row in sheet.iter_rows(values_only=True)]
            _check(f"targets.xlsx/{sheet.title}", _cells(rows))
