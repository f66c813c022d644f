"""The printable briefing (``--format pdf``, ``POST /targets?f=pdf``): real PDFs, rendered and read back.

Pages are rendered to PNG with poppler's ``pdftoppm`` and read with ``pdftotext`` (Debian
``poppler-utils``, installed by ``scripts/ci-system-deps.sh``); the tests skip, saying so, without
them. ``SASARAN_BRIEFING_PNG=DIR`` keeps the rendered pages for a person to look at.
"""

from __future__ import annotations

import io
import itertools
import os
import re
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
import shapely
import typer
from fastapi.testclient import TestClient
from PIL import Image
from typer.testing import CliRunner

from layers.cli.target import target_command
from layers.maps.classes import M0 as M0_CLASSES
from layers.scoring.rescore import ScoringFrame, store_spec
from layers.store import LayerStore
from layers.targeting.request import TargetRequest
from layers.targeting.selection import select_targets
from service.app import create_app
from service.settings import Settings

pytestmark = pytest.mark.skipif(
    shutil.which("pdftoppm") is None or shutil.which("pdftotext") is None,
    reason="poppler-utils (pdftoppm, pdftotext) is not installed: apt-get install poppler-utils",
)


def _pages(pdf: Path, out: Path, dpi: int = 60) -> list[Path]:
    subprocess.run(["pdftoppm", "-r", str(dpi), "-png", str(pdf), str(out / "page")], check=True, timeout=60)
    pages = sorted(out.glob("page-*.png"))
    keep = os.environ.get("SASARAN_BRIEFING_PNG")
    if keep:
        Path(keep).mkdir(parents=True, exist_ok=True)
        for page in pages:
            shutil.copy(page, Path(keep) / f"{pdf.stem}-{page.name}")
    return pages


def _text(pdf: Path, page: int | None = None, layout: bool = True) -> str:
    args = ["pdftotext", *(["-layout"] if layout else [])]
    if page is not None:
        args += ["-f", str(page), "-l", str(page)]
    return subprocess.run([*args, str(pdf), "-"], check=True, capture_output=True, text=True).stdout


def _not_blank(png: Path) -> None:
    with Image.open(png) as image:
        gray = image.convert("L")
        ink = sum(n for n, level in (gray.getcolors(256) or []) if level < 200)
        assert ink > 0.005 * gray.size[0] * gray.size[1], f"{png.name} is (nearly) blank"


def _no_word_split(text: str) -> None:
    """Headers and amounts are whole on their lines (issue 20, item 6)."""
    for broken in (r"Kabupaten/kot\s*$", r"Keyaki\s*$", r"Rp\s*$", r"terjangk\s*$", r"Pendudu\s*$"):
        assert not re.search(broken, text, re.M), broken


@pytest.fixture(scope="module")
def client(store_dir) -> Iterator[TestClient]:
    with TestClient(create_app(Settings(store_dir=store_dir))) as c:
        yield c


def test_cli_briefing_has_the_map_the_list_and_the_parameters_of_the_request(store_dir, store, tmp_path):
    kab = sorted(store.layer("kabupaten")["kabupaten_code"].astype(str))
    pdf = tmp_path / "briefing.pdf"
    args = ["--store", str(store_dir), "--budget", "2.500.000.000", "--cost-fixed", "50 juta"]
    args += ["--cost-per-person", "300000", "--priority", "elderly=1.5", "--k", "0.4", "--scenarios", "20"]
    args += ["--exclude-kabupaten", kab[-1], "--format", "pdf", "--out", str(pdf)]
    args += ["--title", "Program Bantuan Sosial Lansia 2025"]
    cli = typer.Typer()
    cli.command()(target_command)
    r = CliRunner().invoke(cli, args)
    assert r.exit_code == 0, r.output
    assert pdf.read_bytes()[:5] == b"%PDF-"
    pages = _pages(pdf, tmp_path)
    assert len(pages) >= 3
    for page in pages:
        _not_blank(page)
    text = _text(pdf)
    assert "Program Bantuan Sosial Lansia 2025" in text and "DATA SINTETIS" in text
    assert re.search(r"Tanggal: \d{1,2} \w+ 20\d\d", text)
    _no_word_split(text)
    # reasons in sentences, not "4,149 org/Rp1 jt"
    assert "Menjangkau" in text and "orang per Rp 1 juta" not in text.replace("skor per Rp 1 juta", "")
    # the map page: kabupaten/kota names are text, the villages are in the M0 classes' colours
    first = _text(pdf, 1)
    names = store.layer("kabupaten").set_index("kabupaten_code")["kabupaten_name"].astype(str)
    assert sum(name in first for name in names) >= len(names) - 2
    with Image.open(pages[0]) as image:
        colours = {c for _, c in image.convert("RGB").getcolors(1 << 18) or []}
    palette = {tuple(int(c.color[i : i + 2], 16) for i in (1, 3, 5)) for c in M0_CLASSES.classes}
    assert len(palette & colours) >= 3, "the map is not in the M0 colours"
    last = _text(pdf, len(pages))
    # the parameters repeat the request in Indonesian number format; provenance in words
    for needle in ("2.500.000.000", "50.000.000", "300.000", "0,4000", "lansia = 1,50", "Seed acak"):
        assert needle in _text(pdf), needle
    assert names[kab[-1]] in _text(pdf) and "Kabupaten/kota dikecualikan" in _text(pdf)
    assert "Sumber data" in _text(pdf) and "batas desa" in _text(pdf) and "docs/" not in text
    assert "Alkire-Foster" not in text or "M0 = H × A" in text
    assert "Disiapkan oleh" in last and "Disetujui oleh" in last and "NIP" in last


def test_the_breakdown_lists_only_eligible_kabupaten_and_adds_up(client: TestClient, store, tmp_path):
    kab = sorted(store.layer("kabupaten")["kabupaten_code"].astype(str))
    body = {"budget": 3e9, "kabupaten": [kab[0]], "scenarios": 0}
    r = client.post("/targets?f=pdf", json=body)
    assert r.status_code == 200, r.text
    pdf = tmp_path / "one.pdf"
    pdf.write_bytes(r.content)
    answer = client.post("/targets", json=body).json()
    page = _text(pdf, 1)
    table = page[page.index("Per kabupaten/kota") :]
    rows = table[: table.index("Jumlah")].splitlines()[2:]  # below the heading and the header row
    listed = [line for line in rows if line.strip()]
    assert len(listed) == 1 and answer["summary"]["by_kabupaten"][0]["kabupaten_name"] in listed[0]
    total = next(line for line in table.splitlines() if line.strip().startswith("Jumlah"))
    people = f"{answer['summary']['people_reached']:,}".replace(",", ".")
    assert people in total


def test_map_markers_never_overlap_and_the_map_is_zoomed_to_the_eligible_area(store: LayerStore):
    from layers.export.briefing import briefing_map

    frame = ScoringFrame.from_store(store)
    villages = store.layer("villages")
    kab = sorted(villages["kabupaten_code"].astype(str).unique())
    for body in ({"budget": 2e10}, {"budget": 2e9, "kabupaten": [kab[1]]}):
        result = select_targets(frame, villages, TargetRequest(**body, scenarios=0), store_spec(store))
        image = briefing_map(result, villages, "id")
        assert len(image.markers) == min(30, len(result.selected))
        for a, b in itertools.combinations(image.markers + [n.box for n in image.names], 2):
            assert a[2] <= b[0] or b[2] <= a[0] or a[3] <= b[1] or b[3] <= a[1], (a, b)
        with Image.open(io.BytesIO(image.png)) as png:
            assert png.size == (image.width, image.height)
        if "kabupaten" in body:  # zoomed to the one eligible kabupaten, not the whole province
            west, south, east, north = image.extent
            whole = shapely.total_bounds(np.asarray(villages.geometry))
            one = shapely.total_bounds(np.asarray(villages.geometry[villages["kabupaten_code"] == kab[1]]))
            assert west <= one[0] and east >= one[2] and south <= one[1] and north >= one[3]
            # tight around it on one axis (the other widens to the map's shape) ...
            tight_x = (east - west) <= 1.1 * (one[2] - one[0])
            tight_y = (north - south) <= 1.1 * (one[3] - one[1])
            assert tight_x or tight_y
            # ... and not the whole province
            assert not (west <= whole[0] and east >= whole[2] and south <= whole[1] and north >= whole[3])


def test_holes_are_drawn_as_holes():
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.collections import PathCollection
    from matplotlib.figure import Figure

    from layers.export.briefing import _compound_paths

    ring = shapely.Polygon([(0, 0), (10, 0), (10, 10), (0, 10)], [[(3, 3), (7, 3), (7, 7), (3, 7)]])
    figure = Figure(figsize=(2, 2), dpi=50)
    ax = figure.add_axes((0, 0, 1, 1))
    ax.set_axis_off()
    ax.add_collection(PathCollection(_compound_paths(np.array([ring])), facecolors="red", edgecolors="none"))
    ax.set_xlim(0, 10)
    ax.set_ylim(0, 10)
    canvas = FigureCanvasAgg(figure)
    canvas.draw()
    pixels = np.asarray(canvas.buffer_rgba())
    assert tuple(pixels[50, 50][:3]) == (255, 255, 255)  # the hole is empty
    assert tuple(pixels[10, 10][:3]) == (255, 0, 0)  # the ring is filled


def test_api_briefing_in_english_with_a_slide(client: TestClient, tmp_path, store: LayerStore):
    body = {"budget": 3e9, "max_villages": 5, "scenarios": 0, "title": "Mobile clinics"}
    r = client.post("/targets?f=pdf&lang=en&slide=true", json=body)
    assert r.status_code == 200, r.text
    assert r.headers["content-type"] == "application/pdf"
    assert r.headers["content-disposition"].endswith('.pdf"')
    pdf = tmp_path / "briefing-en.pdf"
    pdf.write_bytes(r.content)
    pages = _pages(pdf, tmp_path)
    for page in pages:
        _not_blank(page)
    with Image.open(pages[0]) as slide:  # 16:9
        assert slide.size[0] / slide.size[1] == pytest.approx(16 / 9, rel=0.02)
    text = _text(pdf)
    assert "Mobile clinics" in text and "SYNTHETIC" in text
    assert "Selection parameters" in text and "3,000,000,000" in text and "Maximum number of villages" in text
    assert "Prepared by" in text and "Where the data come from" in text
    _no_word_split(text)
    # no Indonesian label left in the English briefing
    for word in ("Anggaran", "Desa terpilih", "Parameter seleksi", "Halaman", "Disiapkan"):
        assert word not in text
    selected = client.post("/targets", json=body).json()["selected"]
    assert all(s["village_name"] in text for s in selected)


def test_api_refuses_an_unknown_language(client: TestClient):
    r = client.post("/targets?f=pdf&lang=fr", json={"budget": 3e9})
    assert r.status_code in (400, 422) and "lang" in r.text
