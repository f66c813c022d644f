"""Families, not only places: household MPI in the build, its labels, the register's privacy, the
by-name list and the anonymised export, through the real store, command and service."""

from __future__ import annotations

import csv
import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow.parquet as pq
import pytest
from fastapi.testclient import TestClient

from layers.errors import InvalidQuery
from layers.register import KEY_ENV, KEY_FILE_ENV, PERSONAL_COLUMNS, RegisterLocked, load_key, read_register
from layers.schema import FIELDS
from layers.scoring.af import score_units, summarize
from layers.scoring.households import HOUSEHOLD_COLUMNS, default_household_spec
from layers.scoring.rescore import ScoringFrame, store_spec
from layers.store import LayerStore
from layers.targeting.selection import TargetRequest, select_targets
from service.app import create_app
from service.settings import Settings
from tests.personal_data import Secrets

ROOT = Path(__file__).resolve().parents[1]
SPEC = ROOT / "layers" / "data" / "household_indicators.toml"


@pytest.fixture(scope="module")
def key_file(demo_sources: Path) -> Path:
    return demo_sources.parent / "register.key"


@pytest.fixture(scope="module")
def frame(store: LayerStore) -> ScoringFrame:
    return ScoringFrame.from_store(store)


def sasaran(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    environ = {k: v for k, v in os.environ.items() if k not in (KEY_ENV, KEY_FILE_ENV)} | (env or {})
    command = [sys.executable, "-m", "layers.cli", *args]
    return subprocess.run(command, check=False, capture_output=True, text=True, timeout=600, env=environ)


# --- the household MPI in the store ---------------------------------------------------------------


def test_villages_carry_household_figures_strictly_between_0_and_1(store: LayerStore):
    villages = store.layer("villages")
    h = villages["hh_H"].to_numpy(np.float64)
    inside = (h > 0) & (h < 1)
    assert inside.mean() > 0.8, f"only {inside.mean():.0%} of villages have 0 < hh_H < 1"
    # The area H of a village is 0 or 1 far more often: one place, one score.
    area = villages["H"].to_numpy(np.float64)
    assert ((area == 0) | (area == 1)).mean() > ((h == 0) | (h == 1)).mean()
    for column in HOUSEHOLD_COLUMNS:
        assert column in villages.columns and column in FIELDS
        assert "household" in FIELDS[column].title.en or column.startswith(("families", "hh_"))


def test_no_village_flips_between_0_and_1_unless_its_families_did(store: LayerStore, frame: ScoringFrame):
    years = store.layer("village_years").pivot(index="village_code", columns="year", values="hh_H")
    first, last = years.columns.min(), years.columns.max()
    flipped = ((years[first] == 0) & (years[last] == 1)) | ((years[first] == 1) & (years[last] == 0))
    households = frame.households
    assert households is not None and households.spec is not None
    poor = {}
    for year in (first, last):
        scores = households.score(households.spec, year)
        codes = frame.village_codes[households.village_pos[scores.rows]]
        poor[year] = pd.Series(scores.scores.poor, index=codes).groupby(level=0).mean()
    for code in years.index[flipped]:
        assert poor[first][code] in (0.0, 1.0) and poor[last][code] == 1 - poor[first][code], code


def test_small_units_are_suppressed_but_count_their_families(frame: ScoringFrame):
    households = frame.households
    assert households is not None and households.spec is not None
    scores = households.score(households.spec, households.years[-1])
    values, _ = households.level_values(scores, households.spec, "village")
    few = values["families"] < 3
    assert np.isnan(values["hh_H"][few]).all() and np.isnan(values["people_mpi_poor"][few]).all()
    raw, _ = households.level_values(scores, households.spec, "village", raw=True)
    assert not np.isnan(raw["hh_people"]).any()


def test_the_household_set_cites_every_cutoff_and_keeps_four_dimensions():
    spec = default_household_spec()
    assert spec.dimensions == ["income", "education", "health", "quality_of_life"]
    assert np.allclose(spec.dimension_weights, 0.25)
    assert all(ind.source is not None and ind.rationale for ind in spec.indicators)


def test_the_store_figures_are_the_engine_on_the_families(store: LayerStore, frame: ScoringFrame):
    households = frame.households
    assert households is not None and households.spec is not None
    year = households.years[-1]
    _, rows = households.rows_of(year)
    matrix = households.matrix(list(households.spec.columns), rows)
    summary = summarize(score_units(matrix, households.spec), households.spec, households.members[rows])
    assert store.manifest["households"]["province"][str(year)]["hh_H"] == pytest.approx(
        summary.H[0], rel=1e-12
    )


# --- the register: encrypted, read with the key only ----------------------------------------------


def test_names_and_niks_are_encrypted_in_the_store(store: LayerStore, key_file: Path):
    register = read_register(store, load_key(key_file, environ={}))
    raw = b"".join(p.read_bytes() for p in (store.path / "households").iterdir())
    for value in register["head_name"].head(200).tolist() + register["nik"].head(200).tolist():
        assert value.encode() not in raw
    values = pq.read_schema(store.path / "households" / "values.parquet").names
    assert not set(values) & set(PERSONAL_COLUMNS)
    assert not list(store.path.rglob("*.key"))
    assert "key_id" in store.manifest["households"] and key_file.read_text().strip() not in json.dumps(
        store.manifest
    )


def test_the_register_needs_its_own_key(store: LayerStore, tmp_path: Path):
    from layers.register import write_key_file

    with pytest.raises(RegisterLocked, match="encrypted; set SASARAN_REGISTER_KEY"):
        read_register(store, None) if not os.environ.get(KEY_ENV) else read_register(store, None)
    with pytest.raises(RegisterLocked, match="not the one this store was built with"):
        read_register(store, write_key_file(tmp_path / "other.key"))


def test_read_register_gives_canonical_columns_of_chosen_villages(store: LayerStore, key_file: Path):
    codes = store.layer("villages")["village_code"].astype(str).tolist()[:2]
    register = read_register(store, load_key(key_file, environ={}), villages=codes)
    assert set(register["village_code"]) == set(codes)
    assert list(register.columns)[:5] == ["family_id", "nik", "head_name", "address", "village_code"]
    assert register["floor"].isin(["tanah", "bambu", "kayu_murah", "kayu", "semen", "keramik"]).all()
    assert register["nik"].str.fullmatch(r"62\d{14}").all()


# --- by-name lists and the anonymised export, through the command ----------------------------------


def test_a_by_name_list_is_ranked_flagged_and_audited(store_dir: Path, key_file: Path, tmp_path: Path):
    store = tmp_path / "store"
    import shutil

    shutil.copytree(store_dir, store)  # the audit database lives beside the store
    codes = LayerStore.open(store).layer("villages")["village_code"].astype(str).tolist()[:3]
    out = tmp_path / "daftar.xlsx"
    locked = sasaran(
        "households", "list", "--store", str(store), "--villages", ",".join(codes), "--out", str(out)
    )
    assert locked.returncode == 2 and "encrypted" in locked.stderr and not out.exists()
    env = {KEY_FILE_ENV: str(key_file)}
    listing = ("households", "list", "--store", str(store), "--villages", ",".join(codes), "--out", str(out))
    done = sasaran(*listing, env=env)
    assert done.returncode == 0, done.stderr
    table = pd.read_excel(out, sheet_name=0, header=1, dtype={"NIK kepala keluarga": str})
    assert table["Kode desa"].astype(str).isin(codes).all()
    scores = table["Skor deprivasi keluarga c"].to_numpy()
    assert (np.diff(scores) <= 1e-12).all(), "ranked by the family's own score"
    assert table["NIK kepala keluarga"].str.fullmatch(r"\d{16}").all()  # kept as text: 16 digits
    assert "RAHASIA" in str(pd.read_excel(out, sheet_name=0, header=None).iloc[0, 0])
    assert set(table["Desil 1-4 (P3KE)"]) <= {"ya", "tidak"}
    log = sasaran("audit", "log", "--store", str(store), "--json")
    entries = [json.loads(line) for line in log.stdout.splitlines()]
    listed = [e for e in entries if e["action"] == "download.family_list"]
    assert len(listed) == 1 and listed[0]["record"] == "villages:" + ",".join(codes)
    assert listed[0]["actor"].startswith("cli:") and f"{len(table)} families" in listed[0]["reason"]
    assert sasaran("audit", "verify", "--store", str(store)).returncode == 0
    for fmt in ("csv", "pdf"):
        path = tmp_path / f"daftar.{fmt}"
        result = sasaran("households", "list", "--store", str(store), "--villages", codes[0], "--format", fmt,
                         "--out", str(path), "--lang", "en", env=env)  # fmt: skip
        assert result.returncode == 0 and path.stat().st_size > 0, result.stderr
        assert "fontTools" not in result.stderr


def test_a_list_from_a_selection_names_its_villages(store_dir: Path, key_file: Path, tmp_path: Path):
    import shutil

    store = tmp_path / "store"
    shutil.copytree(store_dir, store)
    selection = tmp_path / "targets.json"
    made = sasaran("target", "--store", str(store), "--budget", "3000000000", "--scenarios", "0",
                   "--format", "json", "--out", str(selection))  # fmt: skip
    assert made.returncode == 0, made.stderr
    chosen = [item["village_code"] for item in json.loads(selection.read_text())["selected"]]
    out = tmp_path / "families.csv"
    result = sasaran("households", "list", "--store", str(store), "--from-selection", str(selection),
                     "--format", "csv", "--out", str(out), env={KEY_FILE_ENV: str(key_file)})  # fmt: skip
    assert result.returncode == 0, result.stderr
    listed = pd.read_csv(out, comment="#", dtype=str, encoding="utf-8-sig")
    assert set(listed["Kode desa"]) == set(chosen)


def test_the_anonymised_export_equals_the_store_through_sasaran_mpi(
    store_dir: Path, key_file: Path, tmp_path
):
    import shutil

    store = tmp_path / "store"
    shutil.copytree(store_dir, store)
    opened = LayerStore.open(store)
    register = read_register(opened, load_key(key_file, environ={}))
    for year in opened.manifest["households"]["years"]:
        out = tmp_path / f"anon_{year}.csv"
        result = sasaran("households", "export", "--anonymised", "--store", str(store), "--out", str(out),
                         "--year", str(year), env={KEY_FILE_ENV: str(key_file)})  # fmt: skip
        assert result.returncode == 0, result.stderr
        text = out.read_text()
        assert not Secrets(register).found(text)
        header = next(csv.reader(text.splitlines()[:1]))
        assert header[:4] == ["family", "village_code", "members", "year"]
        assert not {"lon", "lat", "h3", *PERSONAL_COLUMNS} & set(header)
        assert set(default_household_spec().columns) <= set(header)
        answer = tmp_path / f"mpi_{year}.json"
        scored = sasaran("mpi", str(out), "--indicators", str(SPEC), "--weight-column", "members",
                         "--group-by", "village_code", "--format", "json", "--out", str(answer))  # fmt: skip
        assert scored.returncode == 0, scored.stderr
        groups = json.loads(answer.read_text())["groups"]
        stored = opened.layer("village_years")
        stored = stored[stored["year"] == year].set_index("village_code")
        compared = 0
        for code, group in groups.items():
            for name in ("H", "A", "M0"):
                mine = stored.loc[code, f"hh_{name}"]
                if np.isnan(mine) or group[name] is None:  # suppressed, or no MPI-poor (A undefined)
                    continue
                assert abs(mine - group[name]) <= 1e-12, (code, name)
                compared += 1
        assert compared > 100
    refused = sasaran("households", "export", "--store", str(store), "--out", str(tmp_path / "x.csv"),
                      env={KEY_FILE_ENV: str(key_file)})  # fmt: skip
    assert refused.returncode == 2 and "--anonymised is required" in refused.stderr


# --- the service: household basis, and /healthz -----------------------------------------------------


@pytest.fixture(scope="module")
def client(store_dir: Path) -> TestClient:
    previous = {k: os.environ.pop(k, None) for k in (KEY_ENV, KEY_FILE_ENV)}
    app = create_app(Settings(store_dir=store_dir, reload_interval_s=0))
    with TestClient(app) as c:
        yield c
    for k, v in previous.items():
        if v is not None:
            os.environ[k] = v


def test_healthz_says_the_register_is_locked_without_the_key(client: TestClient):
    register = client.get("/healthz").json()["households"]
    assert register["personal_data"] == "locked" and "aggregates only" in register["note"]
    assert register["families"] > 0 and register["years"] == [2023, 2024]


def test_healthz_says_the_register_is_readable_with_the_key(store_dir: Path, key_file: Path, monkeypatch):
    monkeypatch.setenv(KEY_FILE_ENV, str(key_file))
    with TestClient(create_app(Settings(store_dir=store_dir, reload_interval_s=0))) as c:
        assert c.get("/healthz").json()["households"]["personal_data"] == "available"


@pytest.mark.parametrize("level", ["village", "kecamatan", "kabupaten", "province"])
def test_scores_on_the_household_basis_match_the_store(client: TestClient, store: LayerStore, level: str):
    body = client.get(f"/scores/{level}?basis=household&limit=10000").json()
    assert body["basis"] == "household" and body["year"] == 2024
    units = body["units"]
    assert units and all("hh_H" in u and "H" not in u for u in units)
    if level != "province":
        layer = store.layer(f"{level}s" if level == "village" else level).set_index(f"{level}_code")
        for unit in units:
            stored = layer.loc[unit["id"], "hh_M0"]
            assert (unit["hh_M0"] is None) == bool(np.isnan(stored))
            if unit["hh_M0"] is not None:
                assert unit["hh_M0"] == pytest.approx(stored, abs=1e-4)
    weights = "w_income=0.4&w_health=0.1&w_education=0.25&w_quality_of_life=0.25"
    reweighted = client.get(f"/scores/{level}?basis=household&{weights}&limit=5").json()
    assert reweighted["spec"]["indicator"][0]["weight"] == pytest.approx(0.2)


def test_the_household_basis_refuses_hexagons_and_unknown_years(client: TestClient):
    assert client.get("/scores/hexagon?basis=household").status_code == 400
    assert "2019" in client.get("/scores/village?basis=household&year=2019").json()["detail"]
    assert client.get("/scores/village?basis=people").status_code == 400


# --- targeting: families by default where there is a register ---------------------------------------


def test_the_default_selection_counts_the_members_of_mpi_poor_families(
    frame: ScoringFrame, store: LayerStore
):
    villages = store.layer("villages")
    request = TargetRequest(budget=3e9, scenarios=20)
    chosen = select_targets(frame, villages, request, store_spec(store))
    assert chosen.parameters is not None and chosen.parameters.basis == "household"
    people = store.layer("villages").set_index("village_code")["people_mpi_poor"]
    for item in chosen.selected:  # whole persons (issue 20): the village figure, rounded
        assert item.people_reached == round(people[item.village_code])
    area = select_targets(
        frame, villages, TargetRequest(budget=3e9, scenarios=0, basis="area"), store_spec(store)
    )
    assert area.parameters is not None and area.parameters.basis == "area"
    assert chosen.summary.objective_total == pytest.approx(
        store.manifest["households"]["province"]["2024"]["people_mpi_poor"]
    )


def _answer(result) -> dict:
    """A selection as JSON without what the clock measured (``seconds``, ``solve_seconds``)."""

    def strip(value):
        if isinstance(value, dict):
            return {k: strip(v) for k, v in value.items() if k not in ("seconds", "solve_seconds")}
        return [strip(v) for v in value] if isinstance(value, list) else value

    return strip(json.loads(result.model_dump_json()))


@pytest.mark.parametrize("year", [None, 2023, 2024])
def test_a_frame_of_the_requested_register_year_gives_the_same_answer(
    frame: ScoringFrame, store: LayerStore, year: int | None
):
    """Issue 20 (``sasaran target`` in seconds): the command prepares only the register year its
    request scores; every answer of that year is the one the whole register gives."""
    one = ScoringFrame.from_store(LayerStore.open(store.path), register_year=year)
    assert one.households is not None and frame.households is not None
    chosen = year or max(frame.years)
    assert one.households.years == [chosen] and frame.households.years == [2023, 2024]
    villages = store.attributes("villages")
    for request in (
        TargetRequest(budget=3e9, scenarios=20, year=year),
        TargetRequest(
            budget=5e9, scenarios=10, seed=5, year=year, priority={"elderly": 2}, objective="m0_people"
        ),
    ):
        assert _answer(select_targets(one, villages, request, store_spec(store))) == _answer(
            select_targets(frame, villages, request, store_spec(store))
        )
    spec = frame.households.spec
    assert spec is not None
    whole, part = frame.households.aggregates(spec, chosen), one.households.aggregates(spec, chosen)
    for level, columns in whole.items():
        for name, values in columns.items():
            np.testing.assert_array_equal(part[level][name], values, err_msg=f"{level} {name}")
    with pytest.raises(InvalidQuery, match="year 2019 is not in the store"):
        ScoringFrame.from_store(store, register_year=2019)


def test_the_register_values_of_some_years_are_those_rows_of_all(store: LayerStore):
    from layers.register import read_values

    every = read_values(store)
    some = read_values(store, years=[2023])
    expected = every[every["year"] == 2023].reset_index(drop=True)
    pd.testing.assert_frame_equal(some, expected)  # same rows, order and column types
    assert read_values(store, years=[1999]).empty


def test_priority_shares_come_from_the_families(frame: ScoringFrame, store: LayerStore):
    from layers.targeting.selection import priority_shares

    _, rows = frame.year_rows(2024)
    shares = priority_shares(rows)
    published = rows["families"] >= 3
    expected = (rows["hh_elderly"] / rows["hh_people"]).to_numpy()
    assert np.allclose(shares["elderly"][published.to_numpy()], expected[published.to_numpy()])


def test_a_store_without_a_register_refuses_the_household_basis(frame: ScoringFrame, store: LayerStore):
    from dataclasses import replace

    bare = replace(frame, households=None)
    with pytest.raises(InvalidQuery, match="no register"):
        select_targets(bare, store.layer("villages"), TargetRequest(basis="household", scenarios=0))


def test_an_altered_register_file_is_refused(store_dir: Path, key_file: Path, tmp_path: Path):
    import shutil

    store = tmp_path / "store"
    shutil.copytree(store_dir, store)
    path = store / "households" / "register.enc"
    data = bytearray(path.read_bytes())
    data[-10] ^= 1  # one bit of the last chunk
    path.write_bytes(bytes(data))
    opened = LayerStore.open(store)
    key = load_key(key_file, environ={})
    first = opened.layer("villages")["village_code"].astype(str).iloc[0]
    assert len(read_register(opened, key, villages=[first])) > 0  # the first chunk is intact
    with pytest.raises(RegisterLocked, match="another key, or a damaged file"):
        read_register(opened, key)
