"""The printable briefing (``--format pdf``, ``POST /targets?f=pdf``): real PDFs, rendered and read back.

Pages are rendered to PNG with poppler's ``pdftoppm`` and read with ``pdftotext`` (Debian
``poppler-utils``, installed by ``scripts/ci-system-deps.sh``); the tests skip, saying so, without
them. ``SASARAN_BRIEFING_PNG=DIR`` keeps the rendered pages for a person to look at.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest
import typer
from fastapi.testclient import TestClient
from PIL import Image
from typer.testing import CliRunner

from layers.cli.target import target_command
from layers.store import LayerStore
from service.app import create_app
from service.settings import Settings

pytestmark = pytest.mark.skipif(
    shutil.which("pdftoppm") is None or shutil.which("pdftotext") is None,
    reason="poppler-utils (pdftoppm, pdftotext) is not installed: apt-get install poppler-utils",
)


def _pages(pdf: Path, out: Path) -> list[Path]:
    subprocess.run(["pdftoppm", "-r", "60", "-png", str(pdf), str(out / "page")], check=True, timeout=60)
    pages = sorted(out.glob("page-*.png"))
    keep = os.environ.get("SASARAN_BRIEFING_PNG")
    if keep:
        Path(keep).mkdir(parents=True, exist_ok=True)
        for page in pages:
            shutil.copy(page, Path(keep) / f"{pdf.stem}-{page.name}")
    return pages


def _text(pdf: Path, page: int | None = None) -> str:
    args = ["pdftotext", "-layout"]
    if page is not None:
        args += ["-f", str(page), "-l", str(page)]
    return subprocess.run([*args, str(pdf), "-"], check=True, capture_output=True, text=True).stdout


def _not_blank(png: Path) -> None:
    with Image.open(png) as image:
        gray = image.convert("L")
        ink = sum(n for n, level in (gray.getcolors(256) or []) if level < 200)
        assert ink > 0.005 * gray.size[0] * gray.size[1], f"{png.name} is (nearly) blank"


@pytest.fixture(scope="module")
def client(store_dir) -> Iterator[TestClient]:
    with TestClient(create_app(Settings(store_dir=store_dir))) as c:
        yield c


def test_cli_briefing_has_the_map_the_list_and_the_parameters_of_the_request(store_dir, store, tmp_path):
    kab = sorted(store.layer("kabupaten")["kabupaten_code"].astype(str))
    pdf = tmp_path / "briefing.pdf"
    args = ["--store", str(store_dir), "--budget", "2500000000", "--cost-fixed", "50000000"]
    args += ["--cost-per-person", "300000", "--priority", "elderly=1.5", "--k", "0.4", "--scenarios", "20"]
    args += ["--kabupaten-max", f"{kab[-1]}=0", "--format", "pdf", "--out", str(pdf)]
    cli = typer.Typer()
    cli.command()(target_command)
    r = CliRunner().invoke(cli, args)
    assert r.exit_code == 0, r.output
    assert pdf.read_bytes()[:5] == b"%PDF-"
    pages = _pages(pdf, tmp_path)
    assert len(pages) >= 3
    for page in pages:
        _not_blank(page)
    # the map page: an image of the province, not only text (many colours, red selection)
    with Image.open(pages[0]) as first:
        assert len(first.convert("RGB").getcolors(1 << 16) or []) > 50
    text = _text(pdf)
    assert "Briefing seleksi desa sasaran" in text and "DATA SINTETIS" in text
    last = _text(pdf, len(pages))
    # the parameters page repeats the request, in Indonesian number format
    for needle in ("2.500.000.000", "50.000.000", "300.000", "0,4000", "lansia = 1,50", "Seed acak"):
        assert needle in last, (needle, last)
    excluded = store.layer("kabupaten").set_index("kabupaten_code")["kabupaten_name"].astype(str)[kab[-1]]
    assert excluded in last and "Kabupaten/kota dikecualikan" in last
    assert "Sumber" in last and "villages" in last and store.manifest["build_id"] in last
    assert "Alkire-Foster" in last


def test_api_briefing_in_english(client: TestClient, tmp_path, store: LayerStore):
    body = {"budget": 3e9, "max_villages": 5, "scenarios": 0}
    r = client.post("/targets?f=pdf&lang=en", json=body)
    assert r.status_code == 200, r.text
    assert r.headers["content-type"] == "application/pdf"
    assert r.headers["content-disposition"].endswith('.pdf"')
    pdf = tmp_path / "briefing-en.pdf"
    pdf.write_bytes(r.content)
    pages = _pages(pdf, tmp_path)
    for page in pages:
        _not_blank(page)
    text = _text(pdf)
    assert "Village targeting briefing" in text and "SYNTHETIC" in text
    assert "Selection parameters" in text and "3,000,000,000" in text and "Maximum number of villages" in text
    # no Indonesian label left in the English briefing
    for word in ("Anggaran", "Desa terpilih", "Parameter seleksi", "Halaman"):
        assert word not in text
    selected = client.post("/targets", json=body).json()["selected"]
    assert all(s["village_name"] in text for s in selected)


def test_api_refuses_an_unknown_language(client: TestClient):
    r = client.post("/targets?f=pdf&lang=fr", json={"budget": 3e9})
    assert r.status_code in (400, 422) and "lang" in r.text
