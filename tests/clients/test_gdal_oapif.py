"""GDAL's OAPIF driver (through pyogrio) as a real client of the running service.

The app runs under uvicorn in a subprocess on a free local port; its access log (uvicorn's, on
stderr) shows which requests GDAL made, so we can see that attribute filters reach the server.
"""

from __future__ import annotations

import json
import re
import shutil
import subprocess
from pathlib import Path
from urllib.parse import parse_qsl

import pyogrio
import pytest

from layers.store import LayerStore

pytestmark = pytest.mark.skipif("OAPIF" not in pyogrio.list_drivers(), reason="GDAL built without OAPIF")

ROOT = Path(__file__).resolve().parents[2]
STARTUP_SECONDS = 60


@pytest.fixture(scope="module")
def server(live_server: tuple[str, Path]) -> tuple[str, Path]:
    return live_server


@pytest.fixture(scope="module")
def service_store(store_dir: Path) -> Path:
    return store_dir


def _requests(log_path: Path) -> list[str]:
    return [line for line in log_path.read_text().splitlines() if '"GET ' in line]


def test_gdal_reads_every_village(server: tuple[str, Path], service_store: Path) -> None:
    base, log_path = server
    expected = LayerStore.open(service_store).layer("villages")
    frame = pyogrio.read_dataframe(f"OAPIF:{base}/collections/villages")
    assert len(frame) == len(expected)
    assert sorted(frame["village_code"]) == sorted(expected["village_code"])
    assert {"village_name", "kabupaten_code", "M0", "H", "population"} <= set(frame.columns)
    assert set(frame.geom_type) == {"MultiPolygon"}
    assert frame.crs is not None and frame.crs.to_string() == "OGC:CRS84"  # lon, lat
    by_code = expected.set_index("village_code")
    row = frame.iloc[0]
    assert row["M0"] == pytest.approx(by_code.loc[row["village_code"], "M0"])
    assert any("/collections/villages/items" in line for line in _requests(log_path))


def test_gdal_pushes_attribute_filter_to_the_server(server: tuple[str, Path], service_store: Path) -> None:
    base, log_path = server
    villages = LayerStore.open(service_store).layer("villages")
    code = villages["kabupaten_code"].iloc[0]
    before = len(_requests(log_path))
    frame = pyogrio.read_dataframe(f"OAPIF:{base}/collections/villages", where=f"kabupaten_code = '{code}'")
    assert len(frame) == (villages["kabupaten_code"] == code).sum()
    assert set(frame["kabupaten_code"]) == {code}
    sent = _requests(log_path)[before:]
    assert any(f"kabupaten_code={code}" in line or "filter=" in line for line in sent), sent


def _items_requests(lines: list[str], collection: str) -> list[dict[str, str]]:
    """Query parameters of each ``GET /collections/<collection>/items`` in access-log lines."""
    out = []
    for line in lines:
        match = re.search(rf'"GET /collections/{collection}/items\??(\S*) HTTP', line)
        if match:
            out.append(dict(parse_qsl(match.group(1))))
    return out


@pytest.mark.skipif(shutil.which("ogr2ogr") is None, reason="gdal-bin (ogr2ogr, ogrinfo) not installed")
def test_gdal_command_line_reads_hexagons_in_pages_of_a_thousand(
    server: tuple[str, Path], service_store: Path, tmp_path: Path
) -> None:
    """``ogr2ogr``/``ogrinfo`` with no options: after the first page, every request asks for 1,000.

    GDAL ≤ 3.8 asks for ``limit=10`` (its default page size; it does not read the OpenAPI document
    unless a filter is set) and then follows the ``next`` links as they are; the service's next
    links ask for 1,000 (`service.ogc.next_limit`).
    """
    base, log_path = server
    hexagons = LayerStore.open(service_store).rows("hexagons")
    assert hexagons > 2_000  # several big pages
    before = len(_requests(log_path))
    out = tmp_path / "hexagons.geojson"
    done = subprocess.run(
        ["ogr2ogr", "-f", "GeoJSON", str(out), f"OAPIF:{base}/collections/hexagons"],
        capture_output=True, text=True, timeout=300, check=False,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert len(json.loads(out.read_text())["features"]) == hexagons
    sent = _items_requests(_requests(log_path)[before:], "hexagons")
    following = [r for r in sent if int(r.get("offset", 0)) > 0]
    assert following and all(int(r["limit"]) >= 1_000 for r in following), sent
    assert len(sent) <= 2 + -(-hexagons // 1_000), sent  # not the 1 + n/10 of GDAL's default

    before = len(_requests(log_path))
    info = subprocess.run(
        ["ogrinfo", "-al", "-so", f"OAPIF:{base}/collections/hexagons"],
        capture_output=True, text=True, timeout=120, check=False,
    )  # fmt: skip
    assert info.returncode == 0 and f"Feature Count: {hexagons}" in info.stdout, info.stdout + info.stderr
    assert len(_items_requests(_requests(log_path)[before:], "hexagons")) == 1  # numberMatched, one page
