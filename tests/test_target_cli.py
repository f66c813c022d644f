"""``sasaran target`` and ``sasaran changes`` through the command line."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pyogrio
import pytest
import typer
from typer.testing import CliRunner

from layers.cli.target import changes_command, target_command
from layers.errors import InfeasibleTargeting, InvalidQuery

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
    )  # fmt: skip
    assert r.exit_code == 0, r.output
    out = json.loads(r.stdout)
    codes = [x["village_code"] for x in out["selected"]]
    assert first in codes and last not in codes and len(codes) <= 6
    assert 1 <= sum(x["kabupaten_code"] == kab for x in out["selected"]) <= 2
    assert out["objective"] == "dimension"


@pytest.mark.parametrize("fmt", ["csv", "xlsx", "gpkg", "json"])
def test_target_files(app, store_dir, tmp_path, fmt):
    path = tmp_path / f"targets.{fmt}"
    r = _run(app, "target", "--store", store_dir, "--max-villages", "4", "--format", fmt, "--out", path)
    assert r.exit_code == 0, r.output
    assert path.exists() and not list(tmp_path.glob(".*"))  # no temporary file left behind
    rank = "rank"
    if fmt == "csv":  # meeting-ready: Indonesian headers by default
        frame = pd.read_csv(path, dtype={"Kode desa": str}, encoding="utf-8-sig")
        rank = "Peringkat"
    elif fmt == "xlsx":
        frame = pd.read_excel(path, sheet_name="terpilih")
        sheets = pd.read_excel(path, sheet_name=None)
        assert set(sheets) == {"terpilih", "di_bawah_garis", "per_kabupaten", "tentang"}
        assert "SINTETIS" in sheets["tentang"].to_string()
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
    assert list(frame[rank]) == [1, 2, 3, 4]


def test_downloads_are_meeting_ready_in_both_languages(app, store_dir, tmp_path):
    """Issue 14, item 8: titled headers, whole people and rupiah, stated precision, every parameter."""
    args = ["--budget", "3e9", "--priority", "elderly=2", "--kabupaten-max", "6201=1", "--k", "0.4"]
    for lang, people, cost, m0, about in (
        ("id", "Penduduk terjangkau", "Biaya", "Indeks M0", "tentang"),
        ("en", "People reached", "Cost", "Adjusted headcount M0", "about"),
    ):
        path = tmp_path / f"targets-{lang}.xlsx"
        r = _run(
            app, "target", "--store", store_dir, *args, "--format", "xlsx", "--lang", lang, "--out", path
        )
        assert r.exit_code == 0, r.output
        sheets = pd.read_excel(path, sheet_name=None, dtype=object)
        selected = next(iter(sheets.values()))
        assert {people, cost, m0} <= set(selected.columns)
        assert all(isinstance(v, int) for v in selected[people]) and all(
            isinstance(v, int) for v in selected[cost]
        )
        assert all(len(str(v).split(".")[-1]) <= 4 for v in selected[m0])
        items = dict(zip(*(sheets[about][c] for c in sheets[about].columns), strict=True))
        text = " ".join(f"{k}={v}" for k, v in items.items())
        for needle in (
            "6201",
            "3.000.000.000" if lang == "id" else "3,000,000,000",
            "100.000.000" if lang == "id" else "100,000,000",
        ):
            assert needle in text, (lang, needle, text)
        assert "0,4000" in text if lang == "id" else "0.4000" in text
        assert ("lansia = 2,00" if lang == "id" else "elderly = 2.00") in text
        assert ("optimal" in text) and ("SINTETIS" in text if lang == "id" else "SYNTHETIC" in text)


def test_target_table_and_csv_on_stdout(app, store_dir):
    r = _run(
        app, "target", "--store", store_dir, "--max-villages", "3", "--format", "table", "--scenarios", "0"
    )
    assert r.exit_code == 0 and "3 villages" in r.stdout
    r = _run(app, "target", "--store", store_dir, "--max-villages", "3", "--format", "csv")
    assert r.exit_code == 0 and r.stdout.startswith("Peringkat,Kode desa")
    r = _run(app, "target", "--store", store_dir, "--max-villages", "3", "--format", "csv", "--lang", "en")
    assert r.exit_code == 0 and r.stdout.startswith("Rank,Village code")


@pytest.mark.parametrize(
    ("args", "error", "match"),
    [
        (["--budget", "-5"], InvalidQuery, "budget"),
        (["--kabupaten-min", "6201"], InvalidQuery, "--kabupaten-min"),
        (["--priority", "children=1"], InvalidQuery, "priority"),
        (["--format", "docx"], InvalidQuery, "--format"),
        (["--lang", "fr"], InvalidQuery, "--lang"),
        (["--objective", "dimension"], InvalidQuery, "dimension"),
        (["--include", "nope"], InfeasibleTargeting, "include: unknown village"),
        (["--kabupaten-min", "9999=1"], InfeasibleTargeting, "kabupaten_min: unknown kabupaten"),
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


@pytest.mark.skipif(not _registered(), reason="target/changes not registered in layers/cli/main.py yet")
def test_sasaran_target_exit_codes(store_dir: Path):
    def run(*args: str) -> subprocess.CompletedProcess[bytes]:
        command = [sys.executable, "-m", "layers.cli", *args]
        return subprocess.run(command, check=False, capture_output=True)

    ok = run("target", "--store", str(store_dir), "--max-villages", "3")
    assert ok.returncode == 0, ok.stderr
    assert len(json.loads(ok.stdout)["selected"]) == 3  # stdout holds the answer only
    bad = run("target", "--store", str(store_dir), "--budget", "-1")
    assert bad.returncode == 2 and b"budget" in bad.stderr
    assert run("target", "--store", str(store_dir), "--include", "nope").returncode == 2
    free = run(
        "target", "--store", str(store_dir), "--budget", "1e11", "--cost-fixed", "0", "--cost-per-person", "0"
    )
    assert free.returncode == 2 and b"a budget needs a cost" in free.stderr
    changes = run("changes", "--store", str(store_dir), "--format", "table")
    assert changes.returncode == 0 and b"M0_change" in changes.stdout
