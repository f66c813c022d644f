"""GDAL's OAPIF driver (through pyogrio) as a real client of the running service.

The app runs under uvicorn in a subprocess on a free local port; its access log (uvicorn's, on
stderr) shows which requests GDAL made, so we can see that attribute filters reach the server.
"""

from __future__ import annotations

from pathlib import Path

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
