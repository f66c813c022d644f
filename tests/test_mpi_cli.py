"""``sasaran mpi`` through the real command line: formats, options, and exit status 2 on bad input."""

from __future__ import annotations

import csv
import io
import json
import os
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest

REPO = Path(__file__).resolve().parents[1]

# The Alkire & Foster (2011) example (see test_scoring.py), with two kabupaten and population weights.
UNITS_CSV = """kab,income,schooling,bmi,insurance,people
0101,13.1,14,4,1,1
0101,15.2,7,5,0,3
0202,12.5,10,1,0,2
0202,20,11,3,1,2
0303,,1,1,1,9
"""

SPEC = """k = "1/2"
{indicators}
"""

INDICATOR = """
[[indicator]]
name = "{name}"
column = "{column}"
dimension = "{dimension}"
weight = "{weight}"
cutoff = {cutoff}
deprived_when = "{when}"
"""

AF = [
    ("income", "income", "income", "1/4", 13, "below"),
    ("schooling", "schooling", "education", "1/4", 12, "below"),
    ("bmi", "bmi", "health", "1/4", 3, "below"),
    ("insurance", "insurance", "health", "1/4", 1, "below"),
]


def spec_text(rows=AF) -> str:
    keys = ("name", "column", "dimension", "weight", "cutoff", "when")
    return SPEC.format(indicators="".join(INDICATOR.format(**dict(zip(keys, r, strict=True))) for r in rows))


def run(*args: str, cwd: Path) -> subprocess.CompletedProcess:
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    return subprocess.run(
        [sys.executable, "-m", "layers.cli", "mpi", *args],
        check=False,
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )


@pytest.fixture
def files(tmp_path: Path) -> Path:
    (tmp_path / "units.csv").write_text(UNITS_CSV, encoding="utf-8")
    (tmp_path / "spec.toml").write_text(spec_text(), encoding="utf-8")
    return tmp_path


def test_json_ungrouped(files: Path):
    r = run("units.csv", "--indicators", "spec.toml", cwd=files)
    assert r.returncode == 0, r.stderr
    out = json.loads(r.stdout)
    assert list(out) == [
        "k",
        "n_units",
        "n_excluded",
        "population",
        "H",
        "A",
        "M0",
        "vulnerable",
        "severe",
        "uncensored_headcount",
        "censored_headcount",
        "contribution_indicator",
        "contribution_dimension",
    ]
    assert out["k"] == 0.5 and out["n_units"] == 4 and out["n_excluded"] == 1 and out["population"] == 4
    assert (out["H"], out["A"], out["M0"]) == pytest.approx((1 / 2, 3 / 4, 3 / 8))
    assert out["censored_headcount"] == pytest.approx(
        {"income": 0.25, "schooling": 0.5, "bmi": 0.25, "insurance": 0.5}
    )
    assert out["contribution_dimension"] == pytest.approx(
        {"income": 1 / 6, "education": 1 / 3, "health": 1 / 2}
    )


def test_json_grouped_weighted_with_k(files: Path):
    r = run(
        "units.csv",
        "--indicators",
        "spec.toml",
        "--group-by",
        "kab",
        "--weight-column",
        "people",
        "--k",
        "1/4",
        cwd=files,
    )
    assert r.returncode == 0, r.stderr
    out = json.loads(r.stdout)
    assert out["k"] == 0.25
    assert list(out["groups"]) == ["0101", "0202", "0303"]  # codes keep their leading zeros
    a, b, c = (out["groups"][g] for g in ("0101", "0202", "0303"))
    assert (a["population"], b["population"], c["population"]) == (4.0, 4.0, 0.0)
    assert a["H"] == pytest.approx(3 / 4) and b["H"] == pytest.approx(1.0)
    assert c["H"] is None and c["n_units"] == 0
    assert a["pop_share"] + b["pop_share"] == pytest.approx(1)
    assert out["M0"] == pytest.approx(a["pop_share"] * a["M0"] + b["pop_share"] * b["M0"])
    assert a["contribution_to_M0"] + b["contribution_to_M0"] == pytest.approx(1)
    # weighted by people (1, 3, 2, 2) and k = 1/4: persons 2, 3, 4 are poor
    assert out["H"] == pytest.approx(7 / 8)
    assert out["M0"] == pytest.approx((3 * 0.5 + 2 * 1 + 2 * 0.25) / 8)


def test_csv_and_out_file(files: Path):
    r = run(
        "units.csv",
        "--indicators",
        "spec.toml",
        "--group-by",
        "kab",
        "--format",
        "csv",
        "--out",
        "r/o.csv",
        cwd=files,
    )
    assert r.returncode == 0, r.stderr
    assert r.stdout == ""
    rows = list(csv.DictReader(io.StringIO((files / "r" / "o.csv").read_text(encoding="utf-8"))))
    assert [row["group"] for row in rows] == ["all", "0101", "0202", "0303"]
    assert list(rows[0])[:8] == ["group", "n_units", "n_excluded", "population", "pop_share", "H", "A", "M0"]
    assert float(rows[0]["M0"]) == pytest.approx(3 / 8)
    assert rows[3]["H"] == "" and rows[3]["n_excluded"] == "1"
    assert not [p for p in (files / "r").iterdir() if p.name != "o.csv"]  # no temporary left behind


def test_table_for_people(files: Path):
    r = run("units.csv", "--indicators", "spec.toml", "--format", "table", "--group-by", "kab", cwd=files)
    assert r.returncode == 0, r.stderr
    assert "Alkire-Foster" in r.stdout and "0202" in r.stdout and "schooling" in r.stdout
    assert "50.0%" in r.stdout  # H of all units


@pytest.mark.parametrize("suffix", [".parquet", ".xlsx"])
def test_reads_parquet_and_xlsx(files: Path, suffix: str):
    df = pd.read_csv(files / "units.csv", dtype={"kab": str})
    path = files / f"units{suffix}"
    if suffix == ".parquet":
        df.to_parquet(path)
    else:
        df.to_excel(path, index=False)
    r = run(path.name, "--indicators", "spec.toml", "--group-by", "kab", cwd=files)
    assert r.returncode == 0, r.stderr
    out = json.loads(r.stdout)
    assert out["M0"] == pytest.approx(3 / 8) and set(out["groups"]) == {"0101", "0202", "0303"}


def _bad_spec(files: Path, rows, extra: str = "") -> subprocess.CompletedProcess:
    (files / "bad.toml").write_text(spec_text(rows) + extra, encoding="utf-8")
    return run("units.csv", "--indicators", "bad.toml", cwd=files)


@pytest.mark.parametrize(
    ("rows", "needles"),
    [
        (
            [AF[0], AF[1], AF[2], ("insurance", "asuransi", "health", "1/4", 1, "below")],
            ["bad.toml", "indicator 'insurance'", "column 'asuransi' not found", "units.csv"],
        ),
        (
            [AF[0], AF[1], AF[2], AF[3][:3] + ("1/3",) + AF[3][4:]],
            ["bad.toml", "sum to 1", "insurance=0.333"],
        ),
        (
            [AF[0], AF[1], AF[2], AF[3][:5] + ("less",)],
            ["bad.toml", "indicator 'insurance'", "deprived_when"],
        ),
        ([AF[0], AF[1], AF[2], ("bmi",) + AF[3][1:]], ["bad.toml", "indicator 'bmi'", "duplicate"]),
        (
            [AF[0], AF[1], AF[2], AF[3][:3] + ("0",) + AF[3][4:]],
            ["bad.toml", "indicator 'insurance'", "positive"],
        ),
    ],
)
def test_bad_spec_exits_2_naming_file_and_indicator(files: Path, rows, needles):
    r = _bad_spec(files, rows)
    assert r.returncode == 2, r.stderr
    assert r.stderr.startswith("error: ")
    for needle in needles:
        assert needle in r.stderr
    assert "Traceback" not in r.stderr


@pytest.mark.parametrize(
    ("content", "args", "needles"),
    [
        (
            UNITS_CSV.replace("15.2", "lima belas"),
            (),
            ["units.csv", "row 2", "field 'income'", "not a number"],
        ),
        (
            UNITS_CSV.replace("0202,20,11,3,1,2", "0202,20,11,3,1,-2"),
            ("--weight-column", "people"),
            ["row 4", "people"],
        ),
        (
            UNITS_CSV.replace("0202,20,11,3,1,2", "0202,20,11,3,1,"),
            ("--weight-column", "people"),
            ["row 4", "missing weight"],
        ),
        (
            UNITS_CSV,
            ("--weight-column", "penduduk"),
            ["units.csv", "field 'penduduk'", "--weight-column", "no such column"],
        ),
        (UNITS_CSV, ("--group-by", "kabupaten"), ["units.csv", "field 'kabupaten'", "--group-by"]),
        (UNITS_CSV, ("--k", "33"), ["--k", "not a percent"]),
        (UNITS_CSV, ("--k", "a third"), ["--k", "expected a number"]),
    ],
)
def test_bad_units_or_options_exit_2(files: Path, content, args, needles):
    (files / "units.csv").write_text(content, encoding="utf-8")
    r = run("units.csv", "--indicators", "spec.toml", *args, cwd=files)
    assert r.returncode == 2, (r.stdout, r.stderr)
    for needle in needles:
        assert needle in r.stderr
    assert "Traceback" not in r.stderr


def test_missing_files_exit_2(files: Path):
    r = run("nope.csv", "--indicators", "spec.toml", cwd=files)
    assert r.returncode == 2 and "nope.csv: file not found" in r.stderr
    r = run("units.csv", "--indicators", "nope.toml", cwd=files)
    assert r.returncode == 2 and "nope.toml" in r.stderr
    r = run("units.csv", "--indicators", "spec.toml", "--format", "xml", cwd=files)
    assert r.returncode == 2


def test_a_semicolon_csv_reads_like_the_build_reads_its_tables(files: Path):
    """`sasaran mpi` reads unit tables through the build's table reader (delimiter detected)."""
    (files / "units_semicolon.csv").write_text(UNITS_CSV.replace(",", ";"), encoding="utf-8")
    comma = run("units.csv", "--indicators", "spec.toml", cwd=files)
    semicolon = run("units_semicolon.csv", "--indicators", "spec.toml", cwd=files)
    assert comma.returncode == semicolon.returncode == 0, semicolon.stderr
    assert json.loads(comma.stdout) == json.loads(semicolon.stdout)
