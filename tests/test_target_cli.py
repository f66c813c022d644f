"""``sasaran target`` and ``sasaran changes`` through the command line."""

from __future__ import annotations

import io
import json
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pyogrio
import pytest
import typer
from openpyxl import load_workbook
from typer.testing import CliRunner

from layers.cli.target import changes_command, target_command
from layers.errors import InfeasibleTargeting, InvalidQuery
from layers.targeting.request import TargetRequest

runner = CliRunner()


@pytest.fixture(scope="module")
def app() -> typer.Typer:
    """The two commands on their own app (layers/cli/main.py registers the same functions)."""
    app = typer.Typer()
    app.command("target")(target_command)
    app.command("changes")(changes_command)
    return app


def _run(app, *args: str):
    return runner.invoke(app, [str(a) for a in args])


def test_target_json(app, store_dir):
    r = _run(
        app, "target", "--store", store_dir, "--budget", "4e9", "--cost-fixed", "2e8", "--scenarios", "20"
    )
    assert r.exit_code == 0, r.output
    out = json.loads(r.stdout)
    assert out["summary"]["total_cost"] <= 4e9
    assert out["status"] == "optimal" and out["objective"] == "mpi_poor"
    assert out["selected"][0]["confidence"] is not None
    assert isinstance(out["summary"]["people_reached"], int)


def test_every_request_field_is_an_option(app):
    """Issue 21, point 3: the options are the model's fields, not a copy that can drift."""
    r = _run(app, "target", "--help")
    assert r.exit_code == 0
    text = " ".join(r.stdout.split())
    for name in TargetRequest.model_fields:
        if name not in ("spec", "time_limit_s"):
            assert f"--{name.replace('_', '-')}" in text, name
    assert "--request" in text and "(default 100.000.000)" in text


def test_target_every_option(app, store, store_dir):
    villages = store.layer("villages")
    kab = str(villages["kabupaten_code"].iloc[-1])
    first, last = str(villages["village_code"].iloc[0]), str(villages["village_code"].iloc[-1])
    r = _run(
        app, "target", "--store", store_dir, "--year", max(store.years), "--objective", "dimension",
        "--dimension", "education", "--budget", "1e10", "--cost-fixed", "1e8", "--cost-per-person", "1e5",
        "--max-villages", "6", "--kabupaten-min", f"{kab}=1", "--kabupaten-max", f"{kab}=2",
        "--include", first, "--exclude", last, "--min-score", "0", "--priority", "elderly=0.5",
        "--priority", "female_headed_hh=1", "--scenarios", "10", "--seed", "3", "--k", "1/3",
        "--min-people", "0", "--max-cost-per-person", "none", "--title", "Program uji",
    )  # fmt: skip
    assert r.exit_code == 0, r.output
    out = json.loads(r.stdout)
    codes = [x["village_code"] for x in out["selected"]]
    assert first in codes and last not in codes and len(codes) <= 6
    assert 1 <= sum(x["kabupaten_code"] == kab for x in out["selected"]) <= 2
    assert out["objective"] == "dimension"
    assert out["parameters"]["max_cost_per_person"] is None and out["parameters"]["title"] == "Program uji"


def test_one_kabupaten_is_one_option(app, store, store_dir):
    """Issue 20, item 11: ``--kabupaten 6204`` instead of a ``--kabupaten-max CODE=0`` per other one."""
    kabs = sorted(store.layer("kabupaten")["kabupaten_code"].astype(str))
    one = _run(
        app, "target", "--store", store_dir, "--budget", "3e9", "--kabupaten", kabs[1], "--scenarios", "0"
    )
    caps = [a for k in kabs if k != kabs[1] for a in ("--kabupaten-max", f"{k}=0")]
    many = _run(app, "target", "--store", store_dir, "--budget", "3e9", *caps, "--scenarios", "0")
    assert one.exit_code == 0 and many.exit_code == 0, one.output + many.output
    chosen = [x["village_code"] for x in json.loads(one.stdout)["selected"]]
    assert chosen and chosen == [x["village_code"] for x in json.loads(many.stdout)["selected"]]
    assert {x["kabupaten_code"] for x in json.loads(one.stdout)["selected"]} == {kabs[1]}
    out = _run(
        app, "target", "--store", store_dir, "--budget", "3e9", "--exclude-kabupaten", f"{kabs[1]},{kabs[2]}"
    )
    assert {x["kabupaten_code"] for x in json.loads(out.stdout)["selected"]}.isdisjoint({kabs[1], kabs[2]})


@pytest.mark.parametrize(
    ("typed", "amount"),
    [
        ("2.000.000.000", 2e9),
        ("2 miliar", 2e9),
        ("2M", 2e9),
        ("2,5 M", 2.5e9),
        ("2500 juta", 2.5e9),
        ("2e9", 2e9),
    ],
)
def test_budgets_are_read_as_planners_type_them_and_echoed(app, store_dir, typed, amount):
    """Issue 20, item 8: ``--budget 2.000.000.000`` is two billion rupiah, and the echo says so."""
    r = _run(app, "target", "--store", store_dir, "--budget", typed, "--scenarios", "0")
    assert r.exit_code == 0, r.output
    assert json.loads(r.stdout)["parameters"]["budget"] == amount
    assert f"Rp {amount:,.0f}".replace(",", ".") in r.stderr


def test_an_ambiguous_amount_is_refused_with_a_hint(app, store_dir):
    r = _run(app, "target", "--store", store_dir, "--budget", "2m")
    assert isinstance(r.exception, InvalidQuery) and "2M or 2 miliar" in str(r.exception)
    r = _run(app, "target", "--store", store_dir, "--budget", "dua miliar")
    assert isinstance(r.exception, InvalidQuery) and "--budget" in str(r.exception)


def test_a_request_file_and_options_over_it(app, store_dir, tmp_path):
    body = {"budget": 3e9, "priority": {"elderly": 0.5}, "scenarios": 0}
    path = tmp_path / "request.json"
    path.write_text(json.dumps(body))
    r = _run(app, "target", "--store", store_dir, "--request", path)
    assert r.exit_code == 0, r.output
    assert json.loads(r.stdout)["parameters"]["priority"] == {"elderly": 0.5}
    r = _run(app, "target", "--store", store_dir, "--request", path, "--budget", "1 miliar")
    assert json.loads(r.stdout)["parameters"]["budget"] == 1e9
    path.write_text("[1, 2]")
    r = _run(app, "target", "--store", store_dir, "--request", path)
    assert isinstance(r.exception, InvalidQuery) and "JSON object" in str(r.exception)


def _xlsx_rows(path: Path, sheet: str) -> pd.DataFrame:
    frame = pd.read_excel(path, sheet_name=sheet)
    return frame.iloc[:-1]  # the last row is the total


@pytest.mark.parametrize("fmt", ["csv", "xlsx", "gpkg", "json"])
def test_target_files(app, store_dir, tmp_path, fmt):
    path = tmp_path / f"targets.{fmt}"
    r = _run(app, "target", "--store", store_dir, "--max-villages", "4", "--format", fmt, "--out", path)
    assert r.exit_code == 0, r.output
    assert path.exists() and not list(tmp_path.glob(".*"))  # no temporary file left behind
    rank = "rank"
    if fmt == "csv":  # meeting-ready: Indonesian headers and the Indonesian Excel dialect by default
        frame = pd.read_csv(path, sep=";", decimal=",", dtype={"Kode desa": str}, encoding="utf-8-sig")
        rank = "Peringkat"
        frame = frame.iloc[:-1] if str(frame[rank].iloc[-1]) == "Jumlah" else frame
    elif fmt == "xlsx":
        sheets = pd.read_excel(path, sheet_name=None)
        assert set(sheets) == {
            "terpilih", "di_bawah_garis", "dikecualikan_penjaga", "per_kabupaten", "per_kecamatan", "tentang"
        }  # fmt: skip
        assert "SINTETIS" in sheets["tentang"].to_string()
        frame = _xlsx_rows(path, "terpilih")
        rank = "Peringkat"
    elif fmt == "gpkg":
        frame = pyogrio.read_dataframe(path, layer="targets")
        assert frame.crs.to_epsg() == 4326
        assert set(frame.geom_type) == {"MultiPolygon"}
        assert "SYNTHETIC" in pyogrio.read_info(path, layer="targets")["layer_metadata"].get(
            "DESCRIPTION", ""
        )
    else:
        frame = pd.DataFrame(json.loads(path.read_text())["selected"])
    assert len(frame) == 4
    assert [int(x) for x in frame[rank]] == [1, 2, 3, 4]


def test_csv_is_the_indonesian_excel_dialect_or_the_english_one(app, store_dir):
    """Issue 20, item 8: ``;`` and ``,`` for Bahasa Indonesia (what Indonesian Excel reads), ``,`` and
    ``.`` for English; whole people and rupiah; the rows add up to the total row."""
    r = _run(app, "target", "--store", store_dir, "--budget", "3e9", "--format", "csv", "--scenarios", "5")
    assert r.exit_code == 0 and r.stdout.startswith("Peringkat;Kode desa")
    frame = pd.read_csv(io.StringIO(r.stdout), sep=";", decimal=",", dtype=str)
    rows, total = frame.iloc[:-1], frame.iloc[-1]
    assert total["Peringkat"] == "Jumlah"
    people = rows["Penduduk terjangkau"].astype(int)
    assert people.sum() == int(total["Penduduk terjangkau"]) and rows["Biaya"].str.isdigit().all()
    assert rows["Indeks M0"].str.match(r"^0,\d{1,4}$").all()  # a decimal comma, 4 places at most
    en = _run(app, "target", "--store", store_dir, "--budget", "3e9", "--format", "csv", "--lang", "en")
    assert en.exit_code == 0 and en.stdout.startswith("Rank,Village code")
    assert pd.read_csv(io.StringIO(en.stdout))["Adjusted headcount M0"].iloc[0] < 1


def test_xlsx_stores_numbers_with_formats_totals_and_a_filter(app, store_dir, tmp_path):
    """Issue 20, item 8: numbers as numbers (never text), thousands and percentage formats, a total
    row that adds up, an autofilter; the about sheet's amounts are numbers too."""
    path = tmp_path / "t.xlsx"
    args = ["--budget", "3e9", "--priority", "elderly=2", "--kabupaten-max", "6201=1", "--k", "0.4"]
    r = _run(app, "target", "--store", store_dir, *args, "--format", "xlsx", "--out", path)
    assert r.exit_code == 0, r.output
    book = load_workbook(path)
    sheet = book["terpilih"]
    header = [c.value for c in sheet[1]]
    rows = list(sheet.iter_rows(min_row=2, values_only=True))
    body, total = rows[:-1], rows[-1]
    people = header.index("Penduduk terjangkau")
    cost, m0, conf = header.index("Biaya"), header.index("Indeks M0"), header.index("Keyakinan seleksi")
    assert all(isinstance(r[people], int) and isinstance(r[cost], int) for r in body)
    assert total[people] == sum(r[people] for r in body) and total[cost] == sum(r[cost] for r in body)
    assert sheet.cell(2, people + 1).number_format == "#,##0"
    assert sheet.cell(2, m0 + 1).number_format == "0.0000"
    assert sheet.cell(2, conf + 1).number_format == "0%"
    assert sheet.auto_filter.ref.startswith("A1:")
    about = book["tentang"]
    values = {row[0]: row[1] for row in about.iter_rows(min_row=2, values_only=True)}
    assert values["Anggaran (Rp)"] == 3_000_000_000 and values["Batas miskin k"] == pytest.approx(0.4)
    assert values["Penjaga: minimum orang terjangkau per desa"] == 10
    assert "lansia = 2,00" in values["Prioritas"]
    kab = book["per_kabupaten"]
    kab_rows = list(kab.iter_rows(min_row=2, values_only=True))
    kab_header = [c.value for c in kab[1]]
    j = kab_header.index("Penduduk terjangkau")
    assert kab_rows[-1][j] == sum(r[j] for r in kab_rows[:-1]) == total[people]


def test_target_table_on_stdout_counts_whole_people(app, store_dir):
    r = _run(
        app, "target", "--store", store_dir, "--max-villages", "3", "--format", "table", "--scenarios", "0"
    )
    assert r.exit_code == 0 and "3 villages" in r.stdout
    people = [line.split()[-4] for line in r.stdout.splitlines()[2:]]
    assert people and all(p.replace(",", "").isdigit() for p in people)  # never 968.863 people


@pytest.mark.parametrize(
    ("args", "error", "match"),
    [
        (["--budget", "-5"], InvalidQuery, "budget"),
        (["--kabupaten-min", "6201"], InvalidQuery, "--kabupaten-min"),
        (["--priority", "children=1"], InvalidQuery, "priority"),
        (["--format", "docx"], InvalidQuery, "--format"),
        (["--lang", "fr"], InvalidQuery, "--lang"),
        (["--objective", "dimension"], InvalidQuery, "dimension"),
        (["--max-villages", "0"], InvalidQuery, "max_villages"),
        (["--include", "nope"], InfeasibleTargeting, "include: unknown village"),
        (["--kabupaten-min", "9999=1"], InfeasibleTargeting, "kabupaten_min: unknown kabupaten"),
        (["--kabupaten", "9999"], InfeasibleTargeting, "kabupaten: unknown kabupaten"),
    ],
)
def test_target_bad_input_raises_a_domain_error(app, store_dir, args, error, match):
    r = _run(app, "target", "--store", store_dir, *args)
    assert r.exit_code != 0
    assert isinstance(r.exception, error), r.output
    assert match in str(r.exception)


@pytest.mark.parametrize("level", ["kabupaten", "kecamatan", "village"])
def test_changes(app, store, store_dir, level):
    years = store.years
    r = _run(app, "changes", "--store", store_dir, "--from", years[0], "--to", years[-1], "--level", level)
    assert r.exit_code == 0, r.output
    out = json.loads(r.stdout)
    assert out["level"] == level and out["from"] == years[0]
    assert out["units"][0]["rank"] == 1
    unit = out["units"][0]
    assert isinstance(unit["poor_population_change"], int)
    assert ("crossing" in unit) if level == "village" else ("crossings" in unit)
    r = _run(app, "changes", "--store", store_dir, "--level", level, "--format", "csv")
    assert r.exit_code == 0 and "M0_change" in r.stdout.splitlines()[0]


def test_changes_bad_input(app, store_dir):
    r = _run(app, "changes", "--store", store_dir, "--from", "1990")
    assert isinstance(r.exception, InvalidQuery) and "1990" in str(r.exception)
    r = _run(app, "changes", "--store", store_dir, "--level", "desa")
    assert isinstance(r.exception, InvalidQuery) and "level" in str(r.exception)


def _registered() -> bool:
    from layers.cli import app

    return {"target", "changes"} <= {c.name for c in app.registered_commands}


def _sasaran(*args: str) -> subprocess.CompletedProcess[bytes]:
    command = [sys.executable, "-m", "layers.cli", *args]
    return subprocess.run(command, check=False, capture_output=True)


@pytest.mark.skipif(not _registered(), reason="target/changes not registered in layers/cli/main.py yet")
def test_sasaran_target_exit_codes(store_dir: Path):
    ok = _sasaran("target", "--store", str(store_dir), "--max-villages", "3")
    assert ok.returncode == 0, ok.stderr
    assert len(json.loads(ok.stdout)["selected"]) == 3  # stdout holds the answer only
    bad = _sasaran("target", "--store", str(store_dir), "--budget", "-1")
    assert bad.returncode == 2 and b"budget" in bad.stderr
    assert _sasaran("target", "--store", str(store_dir), "--include", "nope").returncode == 2
    free = _sasaran(
        "target", "--store", str(store_dir), "--budget", "1e11", "--cost-fixed", "0", "--cost-per-person", "0"
    )
    assert free.returncode == 2 and b"a budget needs a cost" in free.stderr
    changes = _sasaran("changes", "--store", str(store_dir), "--format", "table")
    assert changes.returncode == 0 and b"M0_change" in changes.stdout


@pytest.mark.skipif(not _registered(), reason="target/changes not registered in layers/cli/main.py yet")
def test_a_pdf_is_written_quietly(store_dir: Path, tmp_path: Path):
    """Issue 20, item 11: no font-subsetting log; one line saying what was written."""
    out = tmp_path / "b.pdf"
    run = _sasaran(
        "target", "--store", str(store_dir), "--budget", "2 miliar", "--format", "pdf", "--out", str(out)
    )
    assert run.returncode == 0, run.stderr
    lines = run.stderr.decode().strip().splitlines()
    assert lines == ["budget: Rp 2.000.000.000 (2 miliar)"], lines  # the echo of the amount, nothing else
    assert run.stdout.decode().startswith(f"Wrote {out}")
    assert out.read_bytes()[:5] == b"%PDF-"


#: What a JSON or CSV answer never needs: drawing and PDF (the briefing), spreadsheets, geometry, the
#: verification database. Loading them was a second of ``sasaran target``'s start (issue 20).
HEAVY = (
    "matplotlib",
    "fpdf",
    "openpyxl",
    "geopandas",
    "shapely",
    "pyproj",
    "pyogrio",
    "sqlalchemy",
    "argon2",
)


def _modules_after(store_dir: Path, out: Path, *args: str) -> set[str]:
    """The top-level packages loaded by one ``sasaran target`` run (in a fresh interpreter)."""
    script = (
        "import sys\n"
        "from layers.cli.main import app\n"
        "try:\n"
        f"    app({['target', '--store', str(store_dir), '--out', str(out), *args]!r})\n"
        "except SystemExit as exit:\n"
        "    assert not exit.code, exit.code\n"
        "print(' '.join(sorted({name.split('.')[0] for name in sys.modules})))\n"
    )
    run = subprocess.run([sys.executable, "-c", script], check=False, capture_output=True, text=True)
    assert run.returncode == 0, run.stderr
    return set(run.stdout.split())


@pytest.mark.parametrize("fmt", ["json", "csv"])
def test_an_answer_as_text_loads_no_drawing_spreadsheet_geometry_or_database(
    store_dir: Path, tmp_path: Path, fmt: str
):
    loaded = _modules_after(store_dir, tmp_path / f"answer.{fmt}", "--budget", "2 miliar", "--format", fmt)
    assert "layers" in loaded and "pandas" in loaded  # the run did happen
    assert not loaded & set(HEAVY), sorted(loaded & set(HEAVY))
    assert (tmp_path / f"answer.{fmt}").stat().st_size > 0


def test_a_briefing_loads_what_it_draws_with(store_dir: Path, tmp_path: Path):
    """The same check sees the libraries when a run needs them (so the test above can fail)."""
    loaded = _modules_after(store_dir, tmp_path / "b.pdf", "--budget", "2 miliar", "--format", "pdf")
    assert {"matplotlib", "fpdf", "geopandas", "shapely"} <= loaded
