"""Every rule of the register of families, through the real ``sasaran build``: exit status 2, a
message naming the file, the row and the field, no personal value quoted, and the store that was
there kept byte for byte."""

from __future__ import annotations

import re
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from layers.register import KEY_ENV, KEY_FILE_ENV, REGISTER_COLUMNS
from layers.sources.households import validate_families
from tests.conftest import snapshot

REGISTER = "keluarga.parquet"


def run_build(
    config: Path, store: Path, env: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    import os

    environ = {k: v for k, v in os.environ.items() if k not in (KEY_ENV, KEY_FILE_ENV)} | (env or {})
    return subprocess.run(
        [sys.executable, "-m", "layers.cli", "build", str(config), "--store", str(store), "--quiet"],
        check=False,
        capture_output=True,
        text=True,
        timeout=600,
        env=environ,
    )


def read_register(sources: Path) -> pd.DataFrame:
    return pd.read_parquet(sources / REGISTER)


def write_register(sources: Path, frame: pd.DataFrame) -> None:
    frame.to_parquet(sources / REGISTER, index=False)


def personal_values(frame: pd.DataFrame) -> list[str]:
    """Every name, NIK, address and family id of a register file."""
    columns = ("nama_kepala", "nik_kepala", "alamat", "id_keluarga")
    return [str(v) for c in columns for v in frame[c].dropna().unique()]


def _set(column: str, row: int, value: object) -> Callable[[pd.DataFrame], pd.DataFrame]:
    def change(frame: pd.DataFrame) -> pd.DataFrame:
        # As text: a register cell may hold anything a clerk typed.
        frame[column] = frame[column].astype("string")
        frame.loc[row, column] = None if value is None else str(value)
        return frame

    return change


def _copy_from(column: str, row: int, source_row: int) -> Callable[[pd.DataFrame], pd.DataFrame]:
    def change(frame: pd.DataFrame) -> pd.DataFrame:
        frame.loc[row, column] = frame.loc[source_row, column]
        return frame

    return change


def _shift_nik(row: int, digits: slice, text: str) -> Callable[[pd.DataFrame], pd.DataFrame]:
    def change(frame: pd.DataFrame) -> pd.DataFrame:
        nik = list(str(frame.loc[row, "nik_kepala"]))
        nik[digits] = list(text)
        frame.loc[row, "nik_kepala"] = "".join(nik)
        return frame

    return change


def _other_village(row: int) -> Callable[[pd.DataFrame], pd.DataFrame]:
    def change(frame: pd.DataFrame) -> pd.DataFrame:
        frame.loc[row, "kode_desa"] = "6299999999"
        return frame

    return change


# Row numbers in messages are the file's data rows (row 1 is the first after the header): the
# edited position i is "row i + 1".
CASES: dict[str, tuple[Callable[[pd.DataFrame], pd.DataFrame], list[str]]] = {
    "NIK not 16 digits": (
        _shift_nik(4, slice(15, 16), ""),
        [r"keluarga.parquet, row 5, field 'nik_kepala'", "a NIK of 15 characters is not 16 digits"],
    ),
    "NIK of another province": (
        _shift_nik(6, slice(0, 2), "63"),
        [r"row 7, field 'nik_kepala'", "province 63 for a family in province 62", "nik_any_province"],
    ),
    "NIK with an impossible date": (
        _shift_nik(8, slice(6, 8), "32"),
        [r"row 9, field 'nik_kepala'", "not a possible date of birth"],
    ),
    "NIK with serial 0000": (
        _shift_nik(3, slice(12, 16), "0000"),
        [r"row 4, field 'nik_kepala'", "serial 0000"],
    ),
    "duplicate family": (
        _copy_from("id_keluarga", 12, 10),
        [r"row 13, field 'id_keluarga'", "already given in row 11", "appears twice in 2023"],
    ),
    "duplicate NIK": (
        _copy_from("nik_kepala", 15, 14),
        [r"row 16, field 'nik_kepala'", "already given in row 15"],
    ),
    "unknown village": (
        _other_village(20),
        [r"row 21, field 'kode_desa'", "'6299999999' is not a village code"],
    ),
    "no member": (_set("jumlah_anggota", 5, 0), [r"row 6, field 'jumlah_anggota'", "'0' is below 1"]),
    "a part larger than its whole": (
        _set("jumlah_lansia", 7, 40),
        [r"row 8, field 'jumlah_lansia'", r"40 \(> members \d+\) exceeds its family's members"],
    ),
    "unmapped category": (
        _set("jenis_lantai", 9, "lantai emas"),
        [
            r"row 10, field 'jenis_lantai'",
            "'lantai emas' is not a mapped value",
            r"\[sources.households.values.floor\]",
        ],
    ),
    "decile outside 1-10": (_set("desil", 2, 11), [r"row 3, field 'desil'", "'11' is above 10"]),
    "decile not whole": (_set("desil", 2, "2.5"), [r"row 3, field 'desil'", "not a whole number"]),
    "year not in the poverty table": (
        _set("tahun", 1, 2019),
        [r"row 2, field 'tahun'", r"'2019' is not a year of the poverty table \(2023, 2024\)"],
    ),
    "empty name": (_set("nama_kepala", 11, "  "), [r"row 12, field 'nama_kepala'", "an empty cell"]),
    "empty address": (_set("alamat", 11, None), [r"row 12, field 'alamat'", "an empty cell"]),
    "coordinates outside the region": (
        _set("bujur", 0, 150.0),
        [r"field 'bujur'", r"the coordinates lie outside the region"],
    ),
    "swapped coordinates": (
        lambda f: f.assign(bujur=f["lintang"], lintang=f["bujur"]),
        [r"field 'bujur'", "lon and lat look swapped"],
    ),
}


def _has_coordinates(frame: pd.DataFrame) -> int:
    return int(np.flatnonzero(frame["bujur"].notna().to_numpy())[0])


@pytest.mark.parametrize("case", sorted(CASES))
def test_a_bad_register_row_exits_2_names_the_place_and_keeps_the_store(case, sources, old_store):
    change, patterns = CASES[case]
    frame = read_register(sources)
    private = personal_values(frame)
    if case == "coordinates outside the region":  # the first row with coordinates
        change = _set("bujur", _has_coordinates(frame), 150.0)
    write_register(sources, change(frame.copy()))
    before = snapshot(old_store)
    result = run_build(sources / "sasaran.toml", old_store)
    assert result.returncode == 2, result.stderr
    message = result.stderr.strip().splitlines()[-1]
    for pattern in patterns:
        assert re.search(pattern, message), message
    assert snapshot(old_store) == before
    assert not [p for p in old_store.parent.iterdir() if p.name.startswith(".")]
    # UU PDP: a refused row is described, never quoted.
    quoted = [value for value in private if value in result.stderr]
    assert not quoted, f"the message quotes personal data: {quoted[:3]}"


def test_coordinates_far_from_their_village_are_refused(sources, old_store):
    frame = read_register(sources)
    row = _has_coordinates(frame)
    other = frame.index[frame["kode_desa"] != frame.loc[row, "kode_desa"]][-1]
    frame.loc[row, ["bujur", "lintang"]] = frame.loc[other, ["bujur", "lintang"]].to_numpy()
    if pd.isna(frame.loc[row, "bujur"]):
        frame.loc[row, ["bujur", "lintang"]] = [frame["bujur"].max(), frame["lintang"].max()]
    write_register(sources, frame)
    result = run_build(sources / "sasaran.toml", old_store)
    assert result.returncode == 2
    assert re.search(
        rf"row {row + 1}, field 'bujur'.*more than 1 km outside the family's village", result.stderr
    )


def test_the_synthetic_mark_is_refused_in_a_real_register(sources, old_store):
    # The demo's NIKs carry month 00: accepted only because its config says synthetic = true.
    config = sources / "sasaran.toml"
    config.write_text(config.read_text().replace("synthetic = true", "synthetic = false"))
    result = run_build(config, old_store)
    assert result.returncode == 2
    assert re.search(r"row 1, field 'nik_kepala': a NIK whose date part has month 00", result.stderr)
    assert "synthetic = true" in result.stderr


def test_a_nik_stored_as_a_spreadsheet_number_is_refused(sources, old_store):
    frame = read_register(sources).head(300)
    frame["nik_kepala"] = frame["nik_kepala"].astype("int64").astype(object)
    frame.loc[3:, "nik_kepala"] = frame.loc[3:, "nik_kepala"].astype(str)
    frame.to_excel(sources / "keluarga.xlsx", index=False)
    config = sources / "sasaran.toml"
    config.write_text(config.read_text().replace(f'file = "{REGISTER}"', 'file = "keluarga.xlsx"'))
    result = run_build(config, old_store)
    assert result.returncode == 2
    assert (
        "keluarga.xlsx, row 1, field 'nik_kepala': a NIK stored as a number loses its last digits"
        in result.stderr
    )
    assert "format the column as Text" in result.stderr


def test_a_missing_required_column_is_named_with_its_mapping(sources, old_store):
    write_register(sources, read_register(sources).drop(columns="alamat"))
    result = run_build(sources / "sasaran.toml", old_store)
    assert result.returncode == 2
    assert "keluarga.parquet, field 'alamat': column not found (register column 'address')" in result.stderr


def test_a_register_without_a_key_is_refused_before_any_work(sources, old_store):
    (sources / "register.key").unlink()
    config = sources / "sasaran.toml"
    config.write_text(config.read_text().replace('key_file = "register.key"\n', ""))
    before = snapshot(old_store)
    result = run_build(config, old_store)
    assert result.returncode == 2
    assert "no key is given: set SASARAN_REGISTER_KEY" in result.stderr
    assert snapshot(old_store) == before


def test_a_csv_register_with_indonesian_numbers_builds(sources, tmp_path):
    """The same register as a semicolon CSV with decimal commas builds the same household figures."""
    frame = read_register(sources)
    frame["bujur"] = frame["bujur"].map(lambda v: "" if pd.isna(v) else f"{v:.6f}".replace(".", ","))
    frame["lintang"] = frame["lintang"].map(lambda v: "" if pd.isna(v) else f"{v:.6f}".replace(".", ","))
    frame.to_csv(sources / "keluarga.csv", sep=";", index=False)
    config = sources / "sasaran.toml"
    text = config.read_text().replace(f'file = "{REGISTER}"', 'file = "keluarga.csv"\ndecimal = ","')
    config.write_text(text)
    result = run_build(config, tmp_path / "csv_store")
    assert result.returncode == 0, result.stderr
    assert "families: hh_H" in result.stdout


# --- the public function the verification module calls ----------------------------------------

ROW = {
    "family_id": "KK-1", "nik": "6201014108850001", "head_name": "Siti Contoh", "address": "Jl. Contoh 1",
    "village_code": "6201010001", "decile": "2", "members": "4", "elderly": "1", "female_head": "ya",
    "floor": "tanah", "water": "leding",
}  # fmt: skip


def test_validate_families_applies_the_build_rules_to_canonical_columns():
    out = validate_families(pd.DataFrame([ROW]), "usulan_baru", ["6201010001"], years=[2024])
    assert out.loc[0, "floor"] == 1 and out.loc[0, "water"] == 5 and bool(out.loc[0, "female_head"])
    assert out.loc[0, "year"] == 2024 and list(out.columns) == [c for c in REGISTER_COLUMNS if c in out]
    bad = dict(ROW, nik="6201013108850001")  # 31 August is fine; 31 + 40 = 71 is a woman's
    validate_families(pd.DataFrame([bad]), "usulan_baru", ["6201010001"])
    for field, value, problem in (
        ("nik", "6201013208850001", "not a possible date of birth"),
        ("village_code", "6201010002", "not a village code"),
        ("members", "0", "below 1"),
        ("elderly", "5", "exceeds its family's members"),
        ("floor", "emas", "not a mapped value"),
    ):
        with pytest.raises(ValueError, match=problem) as error:
            validate_families(pd.DataFrame([dict(ROW, **{field: value})]), "usulan_baru", ["6201010001"])
        assert f"usulan_baru, row 1, field '{field}'" in str(error.value)
        assert "Siti" not in str(error.value) and "6201013208850001" not in str(error.value)
    with pytest.raises(ValueError, match="month 00"):
        validate_families(pd.DataFrame([dict(ROW, nik="6201010500850001")]), "usulan_baru", ["6201010001"])
    out = validate_families(
        pd.DataFrame([dict(ROW, nik="6201010500850001")]), "usulan_baru", ["6201010001"], synthetic=True
    )
    assert len(out) == 1
