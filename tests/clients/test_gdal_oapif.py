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


def _ogrinfo_years(url: str, where: str | None = None) -> tuple[int, set[int]]:
    """Feature count and the years GDAL's ``ogrinfo`` reads from an OAPIF (or GeoJSON) URL."""
    cmd = ["ogrinfo", "-ro", "-al", "-fields=YES", "-geom=NO", url] + (["-where", where] if where else [])
    done = subprocess.run(cmd, capture_output=True, text=True, timeout=120, check=False)
    assert done.returncode == 0, done.stderr
    years = {int(m) for m in re.findall(r"^\s+year \(Integer\) = (\d+)$", done.stdout, re.MULTILINE)}
    count = len(re.findall(r"^OGRFeature", done.stdout, re.MULTILINE))
    return count, years


@pytest.mark.skipif(shutil.which("ogrinfo") is None, reason="gdal-bin (ogrinfo) not installed")
def test_gdal_reaches_every_year(server: tuple[str, Path], service_store: Path) -> None:
    """``-where "year = N"``, an OAPIF URL with ``?year=N`` and a ``datetime`` interval each answer
    that year's features, filtered by the server (the access log shows the year sent)."""
    base, log_path = server
    store = LayerStore.open(service_store)
    first, n = min(store.years), store.rows("villages")
    before = len(_requests(log_path))
    assert _ogrinfo_years(f"OAPIF:{base}/collections/villages", f"year = {first}") == (n, {first})
    sent = _items_requests(_requests(log_path)[before:], "villages")
    # After its first page (read for the fields), every request carries the year.
    assert sent[1:] and all(r.get("year") == str(first) for r in sent[1:]), sent
    assert _ogrinfo_years(f"OAPIF:{base}/collections/villages?year={first}") == (n, {first})
    # The same URL with a property filter: both reach the server.
    code = store.layer("villages")["kabupaten_code"].iloc[0]
    count, years = _ogrinfo_years(
        f"OAPIF:{base}/collections/villages?year={first}", f"kabupaten_code = '{code}'"
    )
    assert years == {first} and count == (store.layer("villages")["kabupaten_code"] == code).sum()
    # An interval over every year: each village once per year.
    count, years = _ogrinfo_years(f"OAPIF:{base}/collections/villages?datetime=../..")
    assert (count, years) == (n * len(store.years), set(store.years))


@pytest.mark.skipif(shutil.which("ogr2ogr") is None, reason="gdal-bin (ogr2ogr) not installed")
def test_gdal_reads_answers_in_utm_and_latlon_boxes(
    server: tuple[str, Path], service_store: Path, tmp_path: Path
) -> None:
    """An answer in EPSG:32750 equals GDAL's own reprojection of the CRS84 answer (to the
    centimetre), and a lat/lon box with ``bbox-crs`` EPSG:4326 finds the villages of the lon/lat one."""
    base, _ = server
    items = f"{base}/collections/villages/items?limit=1000"
    ours, gdals = tmp_path / "ours.geojson", tmp_path / "gdal.geojson"
    crs = "http://www.opengis.net/def/crs/EPSG/0/32750"
    for cmd in (
        ["ogr2ogr", "-f", "GeoJSON", "-a_srs", "EPSG:32750", str(ours), f"{items}&crs={crs}"],
        [
            "ogr2ogr",
            "-f",
            "GeoJSON",
            "-t_srs",
            "EPSG:32750",
            str(gdals),
            f"OAPIF:{base}/collections/villages",
        ],
    ):
        done = subprocess.run(cmd, capture_output=True, text=True, timeout=120, check=False)
        assert done.returncode == 0, done.stderr
    a = pyogrio.read_dataframe(ours).set_index("village_code").sort_index()
    b = pyogrio.read_dataframe(gdals).set_index("village_code").sort_index()
    assert list(a.index) == list(b.index)
    assert a.geometry.geom_equals_exact(b.geometry, tolerance=0.02).all()
    assert 0 < a.total_bounds[0] < 1_000_000 and 9_000_000 < a.total_bounds[1] < 10_000_000  # metres

    villages = LayerStore.open(service_store).layer("villages")
    minx, miny, maxx, maxy = villages.total_bounds
    box = (minx, miny, (minx + maxx) / 2, (miny + maxy) / 2)
    lonlat = _ogrinfo_years(f"{items}&bbox={','.join(map(str, box))}")[0]
    latlon_box = ",".join(map(str, (box[1], box[0], box[3], box[2])))
    latlon = _ogrinfo_years(f"{items}&bbox={latlon_box}&bbox-crs=http://www.opengis.net/def/crs/EPSG/0/4326")[
        0
    ]
    assert 0 < latlon == lonlat < len(villages)


@pytest.mark.skipif(shutil.which("gdal_translate") is None, reason="gdal-bin not installed")
def test_gdal_ogcapi_works_offline(server: tuple[str, Path], service_store: Path, tmp_path: Path) -> None:
    """GDAL's OGCAPI driver follows the tileset's tiling-scheme link to this service (never to the
    OGC's schema site, which an offline office cannot reach), GDAL's own parser reads that tile
    matrix set, and ``OGCAPI:`` opens a collection's features (``-oo API=ITEMS``: Debian's GDAL 3.6
    builds the driver without its vector-tile reader)."""
    base, log_path = server
    before = len(_requests(log_path))
    auto = subprocess.run(["ogrinfo", "-ro", "-so", f"OGCAPI:{base}/collections/villages"],
                          capture_output=True, text=True, timeout=120, check=False)  # fmt: skip
    assert "resolve host" not in auto.stderr and "schemas.opengis.net" not in auto.stderr, auto.stderr
    assert any("GET /tileMatrixSets/WebMercatorQuad " in line for line in _requests(log_path)[before:])
    tms = tmp_path / "WebMercatorQuad.json"
    done = subprocess.run(["curl", "-sf", "-o", str(tms), f"{base}/tileMatrixSets/WebMercatorQuad"],
                          capture_output=True, timeout=60, check=False)  # fmt: skip
    assert done.returncode == 0
    raster = next(Path(service_store).glob("time_min_*.tif"))
    command = [
        "gdal_translate",
        "-q",
        "-of",
        "COG",
        "-co",
        f"TILING_SCHEME={tms}",
        str(raster),
        str(tmp_path / "c.tif"),
    ]
    cog = subprocess.run(command, capture_output=True, text=True, timeout=120, check=False)
    assert cog.returncode == 0, cog.stderr
    command = ["ogrinfo", "-ro", "-al", "-so", "-oo", "API=ITEMS", f"OGCAPI:{base}/collections/villages"]
    items = subprocess.run(command, capture_output=True, text=True, timeout=120, check=False)
    rows = LayerStore.open(service_store).rows("villages")
    assert items.returncode == 0 and f"Feature Count: {rows}" in items.stdout, items.stdout + items.stderr
