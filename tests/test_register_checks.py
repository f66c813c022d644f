"""The register of families read and scored fast without changing a value or a message: the same
register through its different paths (typed Parquet, all-text CSV, shuffled rows) gives the same
frame, a refused row is named with its number and field wherever it lies, and the household frame
places families the same whether it is told their cells or looks them up."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from layers.config import load_config
from layers.errors import SourceError
from layers.register import CHUNK_ROWS, RegisterKey, read_personal, read_values, write_register
from layers.scoring.af import _sorted_unique
from layers.scoring.households import HouseholdFrame, positions
from layers.scoring.rescore import ScoringFrame
from layers.sources import read_households, read_villages
from layers.sources.households import validate_families
from layers.store import LayerStore

REGISTER = "keluarga.parquet"


def read(config_path: Path, file: str | None = None) -> pd.DataFrame:
    """The register a build reads (its villages and years as the demo's)."""
    if file is not None:
        text = config_path.read_text().replace(f'file = "{REGISTER}"', f'file = "{file}"')
        config_path.write_text(text)
    config = load_config(config_path)
    villages = read_villages(config.sources.villages, config)
    assert config.sources.households is not None
    return read_households(config.sources.households, config, villages, [2023, 2024])


@pytest.fixture(scope="module")
def register(demo_sources: Path) -> pd.DataFrame:
    return read(demo_sources)


@pytest.fixture
def raw(sources: Path) -> pd.DataFrame:
    return pd.read_parquet(sources / REGISTER)


def test_a_register_in_text_cells_reads_as_the_typed_one(sources: Path, raw: pd.DataFrame, register):
    """A CSV (every cell text: numbers parsed, categorical codes looked up as text, village codes
    with dots) gives the very frame the typed Parquet gives (codes looked up as numbers)."""
    text = raw.astype("string")
    codes = text["kode_desa"]
    text["kode_desa"] = codes.str.slice(0, 2) + "." + codes.str.slice(2, 4) + "." + codes.str.slice(4)
    text["jenis_kelamin_kepala"] = " " + text["jenis_kelamin_kepala"].str.lower() + " "
    text["nik_kepala"] = text["nik_kepala"].str.slice(0, 6) + " " + text["nik_kepala"].str.slice(6)
    text.to_csv(sources / "keluarga.csv", index=False)
    from_csv = read(sources / "sasaran.toml", "keluarga.csv")
    pd.testing.assert_frame_equal(from_csv, register, check_exact=True)
    assert [str(t) for t in from_csv.dtypes] == [str(t) for t in register.dtypes]


def test_families_are_sorted_by_year_village_and_file_order(sources: Path, raw: pd.DataFrame, register):
    shuffled = raw.sample(frac=1, random_state=3).reset_index(drop=True)
    shuffled.to_parquet(sources / REGISTER, index=False)
    out = read(sources / "sasaran.toml")
    # The order a person would write down: year, village code as text, then the file's row.
    years, codes = shuffled["tahun"].tolist(), shuffled["kode_desa"].astype(str).tolist()
    expected = sorted(range(len(shuffled)), key=lambda i: (years[i], codes[i], i))
    assert out["family_id"].tolist() == shuffled["id_keluarga"].to_numpy()[expected].tolist()
    assert out["nik"].tolist() == shuffled["nik_kepala"].to_numpy()[expected].tolist()
    # The same families and values as the file in its own order, only moved.
    key = ["year", "family_id"]
    pd.testing.assert_frame_equal(
        out.sort_values(key).reset_index(drop=True), register.sort_values(key).reset_index(drop=True)
    )


def _nik(frame: pd.DataFrame, row: int, start: int, text: str) -> None:
    nik = str(frame.loc[row, "nik_kepala"])
    frame.loc[row, "nik_kepala"] = nik[:start] + text + nik[start + len(text) :]


def _put(column: str, value: object) -> Callable[[pd.DataFrame, int], None]:
    def change(frame: pd.DataFrame, row: int) -> None:
        frame.loc[row, column] = value(frame.loc[row, column]) if callable(value) else value

    return change


# Each change breaks one rule at one row; the message must name that row and field, the first
# broken rule in the checks' order, worded as it always was.
CHANGES = {
    "short NIK": (
        _put("nik_kepala", lambda nik: nik[:15]),
        "nik_kepala",
        "a NIK of 15 characters is not 16 digits",
    ),
    "NIK in scientific notation": (
        _put("nik_kepala", "6.20101E+15"),
        "nik_kepala",
        "a NIK written in scientific notation has lost its digits. format the column as Text in the "
        "spreadsheet (Excel keeps only 15 digits of a number)",
    ),
    "NIK in full-width digits": (
        lambda f, r: _nik(f, r, 0, "６２"),
        "nik_kepala",
        "a NIK of province ６２ for a family in province 62 does not match its village. A family that "
        "moved in keeps its NIK: declare nik_any_province = true in [sources.households]",
    ),
    "NIK with serial 0000": (
        lambda f, r: _nik(f, r, 12, "0000"),
        "nik_kepala",
        "a NIK with serial 0000 cannot exist (serials start at 0001)",
    ),
    "NIK of another province": (
        lambda f, r: _nik(f, r, 0, "63"),
        "nik_kepala",
        "a NIK of province 63 for a family in province 62 does not match its village. A family that "
        "moved in keeps its NIK: declare nik_any_province = true in [sources.households]",
    ),
    "NIK with month 13": (
        lambda f, r: _nik(f, r, 8, "13"),
        "nik_kepala",
        "a NIK whose date part is not a possible date of birth (digits 7-12: day, +40 for women, "
        "month, year). The demo's synthetic NIKs are accepted only in a build with synthetic = true",
    ),
    "unknown village": (
        _put("kode_desa", "62.99.99.9999"),
        "kode_desa",
        "'6299999999' is not a village code of the villages source. Check the join key (BPS and "
        "Kemendagri codes differ in Kalimantan Tengah)",
    ),
    "unmapped sex": (
        _put("jenis_kelamin_kepala", " X "),
        "jenis_kelamin_kepala",
        "'x' is not a mapped value. Unmapped values: 'x'. Map each to one of ['ya', 'tidak'] in "
        '[sources.households.values.female_head], e.g. "x" = "ya"',
    ),
    "unmapped floor code": (
        _put("jenis_lantai", 9),
        "jenis_lantai",
        "'9' is not a mapped value. Unmapped values: '9'. Map each to one of ['tanah', 'bambu', "
        "'kayu_murah', 'kayu', 'semen', 'keramik'] in [sources.households.values.floor], e.g. "
        '"9" = "tanah"',
    ),
    "empty name": (
        _put("nama_kepala", "   "),
        "nama_kepala",
        "an empty cell where every family needs its head name",
    ),
}


@pytest.mark.parametrize("where", ["first", "middle", "last"])
@pytest.mark.parametrize("case", sorted(CHANGES))
def test_a_refused_row_is_named_wherever_it_lies(case: str, where: str, sources: Path, raw: pd.DataFrame):
    change, field, message = CHANGES[case]
    row = {"first": 0, "middle": len(raw) // 2, "last": len(raw) - 1}[where]
    change(raw, row)
    raw.to_parquet(sources / REGISTER, index=False)
    with pytest.raises(SourceError) as error:
        read(sources / "sasaran.toml")
    assert str(error.value) == f"{REGISTER}, row {row + 1}, field '{field}': {message}"


@pytest.mark.parametrize("column", ["id_keluarga", "nik_kepala"])
def test_a_repeat_in_a_year_names_both_rows(column: str, sources: Path, raw: pd.DataFrame):
    year = raw["tahun"].to_numpy()
    first = int(np.flatnonzero(year == year[-1])[0])
    last = len(raw) - 1
    raw.loc[last, column] = raw.loc[first, column]
    raw.to_parquet(sources / REGISTER, index=False)
    with pytest.raises(SourceError) as error:
        read(sources / "sasaran.toml")
    what = "a family id" if column == "id_keluarga" else "a head's NIK"
    assert str(error.value) == (
        f"{REGISTER}, row {last + 1}, field '{column}': {what} already given in row {first + 1} appears "
        f"twice in {year[-1]} (a family is registered once a year)"
    )


# --- the household frame ------------------------------------------------------------------------


@pytest.fixture(scope="module")
def area(store: LayerStore) -> ScoringFrame:
    return ScoringFrame.from_store(store)


def test_families_told_their_cells_score_as_families_looked_up_by_id(store: LayerStore, area: ScoringFrame):
    """The build tells the frame each family's cell; the service looks it up by the stored id."""
    looked_up = area.households
    assert looked_up is not None and looked_up.spec is not None
    values = read_values(store)
    ids = pd.Index(store.layer("hexagons")["h3"].astype(str))
    villages = store.layer("villages").set_index("village_code").loc[area.village_codes.astype(str)]
    means = {c: np.where(np.isnan(v := villages[c].to_numpy(np.float64)), np.inf, v)
             for c in area.cell_columns if c in villages.columns}  # fmt: skip
    cell = np.array([ids.get_loc(h) if isinstance(h, str) else -1 for h in values["h3"].astype(object)])
    assert (cell >= 0).any() and (cell < 0).any()  # families placed by their cell and by their village
    told = HouseholdFrame.build(values, area, ids, means, looked_up.spec, cell_pos=cell)
    assert list(told.access) == list(looked_up.access)
    for name in looked_up.access:
        np.testing.assert_array_equal(told.access[name], looked_up.access[name])
    np.testing.assert_array_equal(told.village_pos, looked_up.village_pos)
    for year in looked_up.years:
        mine, theirs = told.aggregates(looked_up.spec, year), looked_up.aggregates(looked_up.spec, year)
        for level in theirs:
            for column in theirs[level]:
                np.testing.assert_array_equal(mine[level][column], theirs[level][column])


def test_a_matrix_of_scattered_rows_is_the_rows_gathered(area: ScoringFrame):
    households = area.households
    assert households is not None and households.spec is not None
    columns = list(households.spec.columns)
    rng = np.random.default_rng(5)
    for rows in (
        np.arange(len(households.year)),
        np.sort(rng.choice(len(households.year), 50, replace=False)),
    ):
        expected = np.column_stack(
            [
                (households.values[c] if c in households.values else households.access[c])[rows]
                for c in columns
            ]
        )
        np.testing.assert_array_equal(households.matrix(columns, rows), expected)


def test_positions_are_get_indexer_for_text_with_gaps():
    index = pd.Index(["b", "a", "c"])
    values = pd.Series(["a", None, "c", "z", "a", "b"], dtype="string")
    assert positions(values, index).tolist() == [1, -1, 2, -1, 1, 0]
    assert positions(pd.Series(["a"], dtype="str"), index).tolist() == [1]


def test_sorted_unique_is_numpy_unique():
    rng = np.random.default_rng(1)
    for values in (rng.integers(0, 50, 10_000), rng.integers(-(10**12), 10**12, 3_000), np.array([7])):
        pairs, at = _sorted_unique(values)
        expected_pairs, expected_at = np.unique(values, return_inverse=True)
        np.testing.assert_array_equal(pairs, expected_pairs)
        np.testing.assert_array_equal(at, expected_at.reshape(-1))


# --- the encrypted register ---------------------------------------------------------------------


def test_chunks_written_in_threads_read_back_in_order(tmp_path: Path):
    rows = 2 * CHUNK_ROWS + 17
    personal = pd.DataFrame({"family_id": [f"KK-{i}" for i in range(rows)], "lon": np.arange(rows) / 7})
    values = pd.DataFrame({"village_code": ["6201010001"] * rows})
    key = RegisterKey(b"k" * 32, "test")
    write_register(tmp_path, values, personal, key, "62")
    everything = read_personal(tmp_path / "register.enc", key, "62", np.arange(rows))
    pd.testing.assert_frame_equal(everything, personal, check_dtype=False)
    # Each chunk is the Parquet of its rows alone (the ones a list decrypts).
    some = read_personal(tmp_path / "register.enc", key, "62", np.array([5, CHUNK_ROWS + 3, rows - 1]))
    assert some["family_id"].tolist() == ["KK-5", f"KK-{CHUNK_ROWS + 3}", f"KK-{rows - 1}"]


# --- columns with no value at all -------------------------------------------------------------

ROW = {
    "family_id": "KK-1", "nik": "6201014108850001", "head_name": "Siti Contoh", "address": "Jl. Contoh 1",
    "village_code": "6201010001", "decile": "2", "members": "4",
}  # fmt: skip


def test_an_optional_column_without_a_value_reads_as_missing():
    rows = pd.DataFrame([dict(ROW, floor=None, female_head=None), dict(ROW, family_id="KK-2", floor=None,
                         female_head=None, nik="6201014108850002")])  # fmt: skip
    out = validate_families(rows, "usulan_baru", ["6201010001"], years=[2024])
    assert out["floor"].isna().all() and str(out["floor"].dtype) == "Int8"
    assert out["female_head"].isna().all() and str(out["female_head"].dtype) == "boolean"


def test_a_required_column_without_a_value_names_its_first_row():
    rows = pd.DataFrame([dict(ROW, village_code=None), dict(ROW, family_id="KK-2", village_code=None)])
    with pytest.raises(SourceError) as error:
        validate_families(rows, "usulan_baru", ["6201010001"])
    assert str(error.value) == (
        "usulan_baru, row 1, field 'village_code': an empty cell is not a village code of the villages "
        "source (also row 2 an empty cell). Check the join key (BPS and Kemendagri codes differ in "
        "Kalimantan Tengah)"
    )
