"""The register of families (``[sources.households]``): one row per family (and year), every value checked.

`read_households` reads the file as written (CSV, XLSX, Parquet; a national build reads one
province's rows at a time), maps the file's headers and values to the canonical register
(`layers.register.REGISTER_COLUMNS`, `layers.register.CODES`) and hands it to `check_families`,
the one set of rules every register row passes: the build's, and the verification module's for a
proposed family (``usulan_baru``) or an uploaded sheet (`validate_families`).

The rules (docs/sources.md, "The register of families"): every required column present; a family
id and the head's name and address in every row; the NIK 16 digits, its first two the province of
the family's village, its date part a possible date of birth (day + 40 for women) and its serial
not 0000; no family id and no NIK twice in a year; every village code known; the welfare decile a
whole number 1-10; members a whole number ≥ 1 and no part (elderly, disabled, children out of
school) larger than its family; categorical values in the declared map (or canonical names); the
year one of the poverty table's; coordinates both or neither, inside the region and within 1 km of
the family's village. A refused row stops the build with the file, the row, the field and what is
wrong, and never quotes a name, an address, a NIK or a family id (UU PDP No. 27/2022): those are
described ("a NIK of 15 digits"), not shown.
"""

from __future__ import annotations

import csv
import os
from collections.abc import Callable, Collection, Iterator, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import geopandas as gpd
import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pacsv
import pyarrow.parquet as pq
import shapely

from layers.config import INDONESIA_BOUNDS, BuildConfig, HouseholdSource
from layers.errors import SourceError, excerpt_list
from layers.register import (
    CODES,
    FLAG_VALUES,
    MEMBER_PARTS,
    PROVINCE_CODES,
    REGISTER_COLUMNS,
    REQUIRED_COLUMNS,
)
from layers.sources.common import SHOWN, as_code, refuse, row_place
from layers.sources.tables import parse_numbers, read_table, sniff_delimiter, table_kind
from layers.types import BBox

#: How far (km) a family's coordinates may lie outside its village's polygon: GPS error and
#: village boundaries drawn coarsely; farther, the point or the village code is wrong.
COORDINATE_TOLERANCE_KM = 1.0
#: Plausible register years.
YEARS = (1990, 2100)
_KM_PER_DEG = 111.32
#: Days in each month of a NIK's date part (29 in February: the year's century is not in a NIK).
_MONTH_DAYS = np.array([0, 31, 29, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31])
#: The month the synthetic demo's NIKs carry (no month 00 exists): accepted in synthetic builds only.
SYNTHETIC_NIK_MONTH = 0

#: Text columns as Arrow strings: their string functions run in C++, not per row in Python.
TEXT = pd.StringDtype("pyarrow")

_TEXT_HINT = "format the column as Text in the spreadsheet (Excel keeps only 15 digits of a number)"


def headers_of(source: HouseholdSource) -> dict[str, str]:
    """Canonical column -> the file's header for it (its own name when the config maps none)."""
    return {name: source.columns.get(name, name) for name in REGISTER_COLUMNS}


def read_households(
    source: HouseholdSource,
    config: BuildConfig,
    villages: gpd.GeoDataFrame,
    years: Sequence[int],
    province: str | None = None,
) -> pd.DataFrame:
    """The register in canonical columns, one row per family and year, every row checked.

    Parameters
    ----------
    source
        ``[sources.households]`` of the build config.
    config
        The build config (paths, ``synthetic``, ``region_bounds``).
    villages
        The build's villages (``village_code``, geometry): codes are checked against them and
        coordinates against their polygons.
    years
        The poverty table's years; a register year must be one of them. Without a year column
        every family is of the latest.
    province
        Read only the families of this province (first two digits of the village code): a
        partition of a national build, which never holds the whole country's register.

    Returns
    -------
    pandas.DataFrame
        Canonical columns (`layers.register.REGISTER_COLUMNS` order); categorical columns as code
        numbers (nullable Int8), counts as nullable Int64, ``female_head`` boolean; sorted by year
        and village code, the file's order within a village.

    Raises
    ------
    SourceError
        At the first rule a row breaks (file, row, field; no personal value quoted).
    """
    path = config.resolve(source.file)
    headers = headers_of(source)
    if province is None:
        raw, how = read_table(path, source)
        rows = np.arange(len(raw))
    else:
        raw, rows, how = read_province_rows(path, source, headers["village_code"], province)
    present = [name for name, header in headers.items() if header in raw.columns]
    missing = [name for name in REQUIRED_COLUMNS if name not in present]
    if missing:
        found = list(map(str, raw.columns))
        note = f"; {how}" if how else ""
        raise SourceError(
            path.name,
            None,
            headers[missing[0]],
            f"column not found (register column '{missing[0]}'); the file has {found}{note}. Map it "
            f'in [sources.households.columns], e.g. {missing[0]} = "{found[0] if found else "..."}"',
        )
    frame = pd.DataFrame({name: raw[headers[name]] for name in present})
    register = check_families(
        frame,
        path.name,
        villages["village_code"],
        headers=headers,
        values=source.values,
        number_format=source.number_format,
        synthetic=config.synthetic,
        nik_any_province=source.nik_any_province,
        villages=villages,
        years=years,
        region_bounds=config.region_bounds,
        place=lambda position: row_place(int(rows[position])),
    )
    # Whether the file dates its records (else they are of the poverty table's latest year).
    register.attrs["dated"] = "year" in present
    return register


def read_province_rows(
    path: Path, source: HouseholdSource, code_header: str, province: str
) -> tuple[pd.DataFrame, np.ndarray, str]:
    """One province's rows of a register file, read batch by batch (never the whole country at once).

    Returns the rows (every cell as written), their 0-based positions in the file (for messages)
    and how the file was read.
    """
    if not path.exists():
        raise SourceError(path.name, None, None, f"file not found ({path})")
    kind = table_kind(path)
    if kind == "excel":
        raise SourceError(
            path.name,
            None,
            None,
            "a national build reads the register one province at a time, which a spreadsheet does "
            "not allow; save it as Parquet or CSV",
        )
    batches: list[pa.RecordBatch] = []
    positions: list[np.ndarray] = []
    start = 0
    for batch in _batches(path, source, kind):
        if code_header not in batch.schema.names:
            raise SourceError(
                path.name, None, code_header, f"column not found; the file has {batch.schema.names}"
            )
        codes = pc.utf8_trim_whitespace(pc.cast(batch.column(code_header), pa.string()))
        keep = pc.fill_null(pc.starts_with(codes, province), False).to_numpy(zero_copy_only=False)
        if keep.any():
            batches.append(batch.filter(pa.array(keep)))
            positions.append(start + np.flatnonzero(keep))
        start += batch.num_rows
    if not batches:
        return pd.DataFrame(columns=[]), np.zeros(0, np.int64), ""
    table = pa.Table.from_batches(batches)
    frame = table.to_pandas(types_mapper=lambda t: pd.StringDtype() if pa.types.is_string(t) else None)
    return frame, np.concatenate(positions), ""


def _batches(
    path: Path, source: HouseholdSource, kind: str, columns: list[str] | None = None
) -> Iterator[pa.RecordBatch]:
    try:
        if kind == "parquet":
            yield from pq.ParquetFile(path).iter_batches(batch_size=1 << 16, columns=columns)
            return
        names, delimiter = _header(path, source)
        reader = pacsv.open_csv(
            path,
            read_options=pacsv.ReadOptions(encoding=source.encoding or "utf8", block_size=1 << 22),
            parse_options=pacsv.ParseOptions(delimiter=delimiter),
            # Every column as text, as the whole-file reader keeps it: the checks parse numbers.
            convert_options=pacsv.ConvertOptions(
                column_types=dict.fromkeys(names, pa.string()),
                strings_can_be_null=True,
                include_columns=columns,
            ),
        )
        yield from reader
    except SourceError:
        raise
    except Exception as exc:
        raise SourceError(path.name, None, None, f"cannot read ({exc})") from None


def _header(path: Path, source: HouseholdSource) -> tuple[list[str], str]:
    """The header fields of a CSV register and its delimiter (declared, or detected from the header)."""
    with path.open("rb") as handle:
        line = handle.readline()
    text = line.decode(source.encoding or "utf-8-sig", errors="replace").strip("\r\n\ufeff")
    delimiter = source.delimiter or sniff_delimiter(text)
    return next(csv.reader([text], delimiter=delimiter), []), delimiter


def check_register_file(source: HouseholdSource, config: BuildConfig, provinces: Collection[str]) -> None:
    """What the partitions of a national build cannot check alone, on the whole register file.

    Read a few columns at a time (never the country's register whole): every family's village must
    be in a province of the build (a family elsewhere would be silently left out), and no family id
    and no NIK may appear twice in a year anywhere in the country (a family registered in two
    provinces). Duplicates are found by 64-bit hashes of the values; names are never quoted.
    """
    path = config.resolve(source.file)
    if not path.exists():
        raise SourceError(path.name, None, None, f"file not found ({path})")
    kind = table_kind(path)
    if kind == "excel":
        raise SourceError(path.name, None, None, "a national build reads the register one province at a "
                          "time, which a spreadsheet does not allow; save it as Parquet or CSV")  # fmt: skip
    headers = headers_of(source)
    wanted = [headers[c] for c in ("village_code", "family_id", "nik", "year") if c != "year" or
              "year" in source.columns or _has_column(path, source, kind, headers["year"])]  # fmt: skip
    known = set(provinces)
    hashes: dict[str, list[np.ndarray]] = {"family_id": [], "nik": []}
    years: list[np.ndarray] = []
    start = 0
    for batch in _batches(path, source, kind, wanted):
        table = batch.to_pandas()
        missing = [h for h in wanted if h not in table.columns]
        if missing:
            raise SourceError(
                path.name, None, missing[0], f"column not found; the file has {batch.schema.names}"
            )
        codes = as_code(table[headers["village_code"]].astype(TEXT)).fillna("").to_numpy(str)
        outside = ~pd.Series(np.char.ljust(codes, 2).astype("<U2")).isin(known).to_numpy()
        if outside.any():
            at = int(np.flatnonzero(outside)[0])
            raise SourceError(
                path.name,
                start + at + 1,
                headers["village_code"],
                f"'{codes[at]}' is in no province of the build ({', '.join(sorted(known))}): its family "
                "would be left out",
            )
        for name in hashes:
            text = _as_text(table[headers[name]]).fillna("")
            hashes[name].append(pd.util.hash_array(text.to_numpy(dtype=object)))
        year = table[headers["year"]] if headers["year"] in table else pd.Series(np.zeros(len(table)))
        years.append(pd.to_numeric(year, errors="coerce").fillna(0).to_numpy(np.int64))
        start += len(table)
    if not years:
        return
    year = np.concatenate(years)
    for name, parts in hashes.items():
        keys = pd.DataFrame({"h": np.concatenate(parts), "y": year})
        again = keys.duplicated().to_numpy()
        if again.any():
            at = int(np.flatnonzero(again)[0])
            first = int(
                np.flatnonzero((keys["h"] == keys["h"].iloc[at]) & (keys["y"] == keys["y"].iloc[at]))[0]
            )
            what = "a family id" if name == "family_id" else "a head's NIK"
            raise SourceError(
                path.name,
                at + 1,
                headers[name],
                f"{what} already given in row {first + 1} appears twice in {year[at]} (a family is "
                "registered once a year, in one province)",
            )


def _has_column(path: Path, source: HouseholdSource, kind: str, header: str) -> bool:
    if kind == "parquet":
        return header in pq.ParquetFile(path).schema_arrow.names
    return header in _header(path, source)[0]


def validate_families(
    frame: pd.DataFrame,
    file: str,
    village_codes: Collection[str],
    *,
    values: Mapping[str, Mapping[str, str]] | None = None,
    synthetic: bool = False,
    nik_any_province: bool = False,
    villages: gpd.GeoDataFrame | None = None,
    years: Sequence[int] | None = None,
    place: Callable[[int], str] = row_place,
) -> pd.DataFrame:
    """Check families given in canonical columns by the rules of the build's register.

    For the verification module: a proposed family (``usulan_baru``) or an uploaded sheet passes
    exactly the checks a register file passes in ``sasaran build``.

    Parameters
    ----------
    frame
        One row per family, columns named as `layers.register.REGISTER_COLUMNS` (a subset holding
        at least the required ones), values as typed (text or numbers); categorical columns
        hold canonical code names (``"tanah"``) or values of ``values``.
    file
        What to call the input in messages (``"usulan_baru"``, the sheet's file name).
    village_codes
        The known village codes (a family's village must be one of them).
    values
        Declared value maps per categorical column, as ``[sources.households.values]``.
    synthetic
        Accept the synthetic demo's NIKs (month 00), as a synthetic build does.
    nik_any_province
        Accept a NIK of any Indonesian province, not only its village's.
    villages
        Village polygons (``village_code``, geometry) to check coordinates against.
    years
        The years a record may have; default any plausible year.
    place
        Position -> where the row is, as the user counts (default ``row 1`` for the first).

    Returns
    -------
    pandas.DataFrame
        The families in canonical columns and types (as `read_households` returns them).

    Raises
    ------
    SourceError
        Naming ``file``, the row and the field of the first broken rule; never quoting a name,
        address, NIK or family id.

    Examples
    --------
    >>> row = {"family_id": "KK-1", "nik": "6201014108850001", "head_name": "Siti Contoh",
    ...        "address": "Jl. Contoh 1", "village_code": "6201010001", "decile": 2, "members": 4}
    >>> validate_families(pd.DataFrame([row]), "usulan_baru", ["6201010001"])["decile"].tolist()
    [2]
    """
    missing = [name for name in REQUIRED_COLUMNS if name not in frame.columns]
    if missing:
        raise SourceError(file, None, missing[0], "column not found (a required register column)")
    unknown = [c for c in frame.columns if c not in REGISTER_COLUMNS]
    if unknown:
        raise SourceError(
            file, None, str(unknown[0]), f"not a register column; they are {list(REGISTER_COLUMNS)}"
        )
    return check_families(
        frame.reset_index(drop=True),
        file,
        pd.Series(list(village_codes), dtype=TEXT),
        values=values,
        synthetic=synthetic,
        nik_any_province=nik_any_province,
        villages=villages,
        years=years,
        place=place,
    )


def check_families(
    frame: pd.DataFrame,
    file: str,
    village_codes: pd.Series,
    *,
    headers: Mapping[str, str] | None = None,
    values: Mapping[str, Mapping[str, str]] | None = None,
    number_format: tuple[str, str] | None = None,
    synthetic: bool = False,
    nik_any_province: bool = False,
    villages: gpd.GeoDataFrame | None = None,
    years: Sequence[int] | None = None,
    region_bounds: BBox = INDONESIA_BOUNDS,
    place: Callable[[int], str] = row_place,
) -> pd.DataFrame:
    """Every register rule on a frame in canonical columns (see the module's docstring).

    ``headers`` names each canonical column as the user's file does (for messages); ``years``
    are those a record may carry, the latest being the year of a register without a year column.
    """
    shown = {name: (headers or {}).get(name, name) for name in REGISTER_COLUMNS}
    check = _Checker(file, place, shown, number_format)
    out = pd.DataFrame(index=frame.index)
    for name in ("family_id", "head_name", "address"):
        out[name] = check.text(frame[name], name)
    out["nik"] = check.nik(frame["nik"])
    out["village_code"], village_keys = check.village(frame["village_code"], village_codes)
    if "year" in frame:
        out["year"] = check.year(frame["year"], years)
    else:
        out["year"] = pd.array(np.full(len(frame), max(years) if years else 0), dtype="int64")
    out["decile"] = check.whole(frame["decile"], "decile", low=1, high=10, required=True)
    out["members"] = check.whole(frame["members"], "members", low=1, required=True)
    for name in MEMBER_PARTS:
        if name in frame:
            out[name] = check.whole(frame[name], name, low=0)
            check.part(out[name], out["members"], name)
    if "female_head" in frame:
        out["female_head"] = check.flag(frame["female_head"], (values or {}).get("female_head", {}))
    for name, codes in CODES.items():
        if name in frame:
            out[name] = check.category(frame[name], name, codes.names, (values or {}).get(name, {}))
    if ("lon" in frame) != ("lat" in frame):
        given = "lon" if "lon" in frame else "lat"
        raise SourceError(file, None, shown[given], "coordinates need both lon and lat (or neither)")
    if "lon" in frame:
        out["lon"], out["lat"] = check.coordinates(frame["lon"], frame["lat"], village_keys, villages,
                                                   region_bounds)  # fmt: skip
    check.province_of_nik(out["nik"], out["village_code"], village_keys, nik_any_province, synthetic)
    check.unique(out, "family_id", "a family id")
    check.unique(out, "nik", "a head's NIK")
    ordered = [c for c in REGISTER_COLUMNS if c in out.columns]
    # Sorted by year, village code (as text) and the file's order: the codes' ranks among the few
    # distinct codes stand for the codes, so the sort compares integers, not a million strings.
    rank = np.unique(village_keys.uniques.to_numpy(str), return_inverse=True)[1].reshape(-1)
    order = np.lexsort((np.arange(len(out)), rank[village_keys.codes], out["year"].to_numpy()))
    # Arrow's take releases the GIL: the columns (the long texts above all) are moved in threads.
    columns = [out[name] for name in ordered]
    with ThreadPoolExecutor(max_workers=min(len(columns), os.cpu_count() or 1) or 1) as pool:
        moved = list(pool.map(lambda column: column.take(order).reset_index(drop=True), columns))
    return pd.DataFrame(dict(zip(ordered, moved, strict=True)))


class _Checker:
    """The checks of one register input, each refusing with the file, row and the user's header."""

    def __init__(
        self,
        file: str,
        place: Callable[[int], str],
        shown: Mapping[str, str],
        number_format: tuple[str, str] | None,
    ):
        self.file, self.place, self.shown, self.number_format = file, place, shown, number_format
        #: Every NIK's 16 digits (n × 16, uint8) once `nik` found them all ASCII digits, else None.
        self._nik_digits: np.ndarray | None = None

    def refuse(
        self, bad: np.ndarray, name: str, describe: Callable[[int], str], problem: str, hint: str = ""
    ) -> None:
        refuse(self.file, bad, self.place, self.shown[name], describe, problem, hint)

    # --- personal text: described, never quoted -------------------------------------------------

    def text(self, column: pd.Series, name: str) -> pd.Series:
        """Trimmed text; an empty cell is refused (its value is never quoted)."""
        cells = _as_text(column)  # blank cells are missing: an empty cell is a missing one
        empty = cells.isna()
        self.refuse(
            empty.to_numpy(bool),
            name,
            lambda _: "an empty cell",
            f"where every family needs its {name.replace('_', ' ')}",
        )
        return cells

    def nik(self, column: pd.Series) -> pd.Series:
        """16 digits, a possible date part and serial (province checked with the village)."""
        numeric = _numeric_cells(column)
        self.refuse(numeric, "nik", lambda _: "a NIK stored as a number", "loses its last digits", _TEXT_HINT)
        text = _as_text(column)
        array = pa.array(text.array, type=pa.large_string(), from_pandas=True)
        # Separators are rare: the regex runs only when one of them occurs at all.
        if any(pc.any(pc.match_substring(array, mark)).as_py() for mark in " .-"):
            array = pc.replace_substring_regex(array, r"[ .\-]", "")
        cells = pd.Series(pd.array(array, dtype=TEXT), index=text.index)
        ascii = bool(pc.all(pc.string_is_ascii(array), min_count=0).as_py())
        if ascii:  # RE2's \d, ASCII digits: a length and a class test say the same, without a regex
            digits = pc.and_(pc.equal(pc.binary_length(array), 16), pc.ascii_is_decimal(array))
            digits = pc.fill_null(digits, False).to_numpy(zero_copy_only=False)
        else:  # pandas matches \d by Python's rules (digits of every script) on non-ASCII text
            digits = cells.str.fullmatch(r"\d{16}").fillna(False).to_numpy(bool)
        if not digits.all():  # a cell with "e+" is no 16 digits: only then is it looked for
            looks_float = cells.str.contains(r"[eE]\+", regex=True).fillna(False).to_numpy(bool)
            self.refuse(
                looks_float,
                "nik",
                lambda _: "a NIK written in scientific notation",
                "has lost its digits",
                _TEXT_HINT,
            )
            length = cells.str.len().fillna(0).astype(int).to_numpy()
            self.refuse(
                ~digits,
                "nik",
                lambda at: f"a NIK of {length[at]} characters" if length[at] else "an empty NIK",
                "is not 16 digits",
            )
        if ascii:  # every NIK is 16 ASCII digits now: one row of 16 numbers each
            self._nik_digits = _fixed_digits(array, 16)
            serial = (self._nik_digits[:, 12:16] == 0).all(axis=1)
        else:
            serial = _arrow_bool(cells, lambda a: pc.equal(pc.utf8_slice_codeunits(a, 12, 16), "0000"))
        self.refuse(
            serial,
            "nik",
            lambda _: "a NIK with serial 0000",
            "cannot exist (serials start at 0001)",
        )
        return cells

    def province_of_nik(
        self, nik: pd.Series, village: pd.Series, keys: _Keys, any_province: bool, synthetic: bool
    ) -> None:
        """The NIK's province (digits 1-2) and date of birth (digits 7-12, day + 40 for women).

        ``keys`` are the village codes factorized (`village`); ``nik`` passed `nik`.
        """
        digits = self._nik_digits
        if digits is not None:  # ASCII digits: the provinces and dates as numbers
            number = _number(digits, 0, 2)
            if any_province:
                wrong = ~np.isin(number, [int(code) for code in PROVINCE_CODES])
            else:  # a village code's first two characters as a number when they are ASCII digits
                own = np.array([int(c[:2]) if _two_digits(c[:2]) else -1 for c in keys.uniques], np.int64)
                wrong = number != own[keys.codes]

            def prefix_at(at: int) -> str:
                return str(nik.iloc[at])[:2]

            day = _number(digits, 6, 8)
            month = _number(digits, 8, 10)
        else:
            prefix = nik.str.slice(0, 2)
            if any_province:
                wrong = ~prefix.isin(PROVINCE_CODES).fillna(False).to_numpy(bool)
            else:
                wrong = (prefix != village.str.slice(0, 2)).fillna(True).to_numpy(bool)

            def prefix_at(at: int) -> str:
                return str(prefix.iloc[at])

            day = _digits(nik, 6, 8)
            month = _digits(nik, 8, 10)
        if any_province:
            self.refuse(
                wrong,
                "nik",
                lambda at: f"a NIK of province {prefix_at(at)}",
                "names no Indonesian province",
            )
        else:
            self.refuse(
                wrong,
                "nik",
                lambda at: (
                    f"a NIK of province {prefix_at(at)} for a family in province {str(village.iloc[at])[:2]}"
                ),
                "does not match its village",
                "A family that moved in keeps its NIK: declare nik_any_province = true in "
                "[sources.households]",
            )
        day = np.where(day > 40, day - 40, day)
        marker = month == SYNTHETIC_NIK_MONTH
        month_ok = (month >= 1) & (month <= 12)
        day_ok = (day >= 1) & (day <= _MONTH_DAYS[np.clip(month, 0, 12)])
        # The synthetic mark replaces the month only: the day must still be one (1-31, +40).
        marked = marker & synthetic & (day >= 1) & (day <= 31)
        impossible = ~(month_ok & day_ok) & ~marked
        self.refuse(
            impossible,
            "nik",
            lambda at: (
                "a NIK whose date part" + (" has month 00 (the synthetic demo's mark)" if marker[at] else "")
            ),
            "is not a possible date of birth (digits 7-12: day, +40 for women, month, year)",
            "The demo's synthetic NIKs are accepted only in a build with synthetic = true"
            if marker.any()
            else "",
        )

    # --- codes and numbers ------------------------------------------------------------------------

    def village(self, column: pd.Series, known: pd.Series) -> tuple[pd.Series, _Keys]:
        """Clean village codes, each one known; and the codes factorized (for the later checks)."""
        # A register has a few thousand villages and a million families: each distinct code is
        # cleaned and looked up once.
        raw = _factorized(column.astype(TEXT))
        clean = _factorized(as_code(pd.Series(raw.uniques, dtype=TEXT)).astype(TEXT))
        keys = _Keys(_lookup(clean.codes, raw.codes, -1), clean.uniques)
        codes = pd.Series(keys.uniques.take(keys.codes, allow_fill=True), index=column.index)
        found = pd.Series(keys.uniques).isin(pd.Index(known.astype(str))).fillna(False).to_numpy(bool)
        unknown = ~_lookup(found, keys.codes, False)
        self.refuse(
            unknown,
            "village_code",
            lambda at: repr(str(codes.iloc[at])) if pd.notna(codes.iloc[at]) else "an empty cell",
            "is not a village code of the villages source",
            "Check the join key (BPS and Kemendagri codes differ in Kalimantan Tengah)",
        )
        return codes, keys

    def year(self, column: pd.Series, years: Sequence[int] | None) -> pd.Series:
        values = self.whole(column, "year", low=YEARS[0], high=YEARS[1], required=True)
        if years:
            cells = values.to_numpy()
            outside = ~np.isin(cells, list(years))
            listed = ", ".join(map(str, sorted(years)))
            self.refuse(
                outside,
                "year",
                lambda at: repr(str(cells[at])),
                f"is not a year of the poverty table ({listed})",
            )
        return values.astype("int64")

    def numbers(self, column: pd.Series, name: str) -> np.ndarray:
        values, not_number = parse_numbers(column, self.number_format)

        def quote(at: int) -> str:  # only for a refused cell: never a column's worth of text
            return repr(str(column.iloc[at]).strip())

        hint = "" if self.number_format else 'Declare how numbers are written (thousands = "." or ",")'
        self.refuse(not_number, name, quote, "is not a number", hint)
        self.refuse(np.isinf(values), name, quote, "is not a finite number")
        return values

    def whole(
        self, column: pd.Series, name: str, low: float = 0, high: float | None = None, required: bool = False
    ) -> pd.Series:
        """Whole numbers in [low, high]; a blank cell is missing (refused when ``required``)."""
        values = self.numbers(column, name)

        def quote(at: int) -> str:
            return repr(str(column.iloc[at]).strip())

        if required:
            self.refuse(
                np.isnan(values), name, lambda _: "an empty cell", f"where every family needs its {name}"
            )
        with np.errstate(invalid="ignore"):
            self.refuse(
                np.isfinite(values) & (values != np.floor(values)), name, quote, "is not a whole number"
            )
            self.refuse(values < low, name, quote, f"is below {low:g}")
            if high is not None:
                self.refuse(values > high, name, quote, f"is above {high:g}")
        whole = pd.array(np.nan_to_num(values).astype(np.int64), dtype="Int64")
        whole[np.isnan(values)] = pd.NA
        return pd.Series(whole, index=column.index)

    def part(self, part: pd.Series, members: pd.Series, name: str) -> None:
        p = part.to_numpy(dtype=np.float64, na_value=np.nan)
        m = members.to_numpy(dtype=np.float64)
        with np.errstate(invalid="ignore"):
            self.refuse(p > m, name, lambda at: f"{p[at]:,.0f} (> members {m[at]:,.0f})",
                        "exceeds its family's members")  # fmt: skip

    def flag(self, column: pd.Series, declared: Mapping[str, str]) -> pd.Series:
        table = {**{k.lower(): v for k, v in FLAG_VALUES.items()},
                 **{k.strip().lower(): FLAG_VALUES[v] for k, v in declared.items()}}  # fmt: skip
        return self._mapped(column, table, "female_head", ["ya", "tidak"], "boolean")

    def category(
        self, column: pd.Series, name: str, names: tuple[str, ...], declared: Mapping[str, str]
    ) -> pd.Series:
        number = {code: i + 1 for i, code in enumerate(names)}
        table = {code.lower(): n for code, n in number.items()}
        table |= {k.strip().lower(): number[v] for k, v in declared.items()}
        return self._mapped(column, table, name, list(names), "Int8")

    def _mapped(
        self, column: pd.Series, table: Mapping[str, Any], name: str, names: list[str], dtype: str
    ) -> pd.Series:
        """A categorical column through its map, as ``dtype``: text trimmed and lower-cased, integers
        by number (a Parquet column of codes is looked up as numbers, no text made of it).

        Each distinct cell is looked up once (a register has a handful per column).
        """
        if pd.api.types.is_integer_dtype(column.dtype):
            numeric = {int(k): v for k, v in table.items() if k.lstrip("-").isdigit()}
            keys = _factorized(column)
            looked_up = pd.Series(keys.uniques).map(numeric)
        else:
            # Text columns are keyed per distinct cell; other columns (a spreadsheet's numbers and
            # text) are made text first, as they always were, and keyed per distinct text.
            text = column if _is_text(column) else column.astype(TEXT)
            raw = _factorized(text)
            words = _factorized(_keys(pd.Series(raw.uniques, dtype=text.dtype)))
            keys = _Keys(_lookup(words.codes, raw.codes, -1), words.uniques)
            looked_up = pd.Series(keys.uniques).map(dict(table))
        unmapped = _lookup(looked_up.isna().to_numpy(bool), keys.codes, False)
        if unmapped.any():
            shown = _keys(column[unmapped]).reindex(column.index)
            distinct = list(dict.fromkeys(shown[unmapped].tolist()))
            self.refuse(
                unmapped,
                name,
                lambda at: repr(shown.iloc[at]),
                "is not a mapped value",
                f"Unmapped values: {excerpt_list(distinct, SHOWN)}. Map each to one of {names} in "
                f'[sources.households.values.{name}], e.g. "{distinct[0]}" = "{names[0]}"',
            )
        typed = looked_up.astype(dtype).array
        return pd.Series(typed.take(keys.codes, allow_fill=True), index=column.index)

    def coordinates(
        self,
        lon_column: pd.Series,
        lat_column: pd.Series,
        village: _Keys,
        villages: gpd.GeoDataFrame | None,
        bounds: BBox,
    ) -> tuple[np.ndarray, np.ndarray]:
        lon, lat = self.numbers(lon_column, "lon"), self.numbers(lat_column, "lat")
        half = np.isnan(lon) != np.isnan(lat)
        self.refuse(half, "lon" if np.isnan(lat[half]).all() else "lat", lambda _: "one coordinate",
                    "is given without the other (give both, or neither)")  # fmt: skip
        given = ~np.isnan(lon)
        west, south, east, north = bounds
        outside = given & ~((lon >= west) & (lon <= east) & (lat >= south) & (lat <= north))
        swapped = outside & (lat >= west) & (lat <= east) & (lon >= south) & (lon <= north)
        # Coordinates are personal (where a family lives): the message says where, not the values.
        self.refuse(
            outside,
            "lon",
            lambda _: "the coordinates",
            f"lie outside the region {list(bounds)}",
            "lon and lat look swapped" if swapped.any() else "They are WGS 84 degrees (EPSG:4326)",
        )
        if villages is not None and given.any():
            index = pd.Index(villages["village_code"].astype(str))
            found = index.get_indexer(pd.Index(village.uniques.astype(str)))
            at = _lookup(found, village.codes, -1)
            rows = np.flatnonzero(given & (at >= 0))
            polygons = np.asarray(villages.geometry.values)
            shapely.prepare(polygons)  # each village's polygon once, for every family in it
            geoms = polygons[at[rows]]
            near = shapely.contains_xy(geoms, lon[rows], lat[rows])
            # Only the few points outside their polygon are measured against the tolerance.
            outside = np.flatnonzero(~near)
            near[outside] = shapely.dwithin(
                geoms[outside], shapely.points(lon[rows][outside], lat[rows][outside]),
                COORDINATE_TOLERANCE_KM / _KM_PER_DEG,
            )  # fmt: skip
            far = np.zeros(len(lon), bool)
            far[rows[~near]] = True
            self.refuse(
                far,
                "lon",
                lambda _: "the coordinates",
                f"lie more than {COORDINATE_TOLERANCE_KM:g} km outside the family's village",
                "Check the point and the village code",
            )
        return lon, lat

    def unique(self, frame: pd.DataFrame, name: str, what: str) -> None:
        # (value, year) pairs as one integer each: a hash table of integers finds a repeat (if any)
        # far sooner than one of (text, year) tuples; the rows are named only when one exists.
        year = _factorized(frame["year"])
        if name == "nik" and self._nik_digits is not None:  # 16 digits: the NIK as a number
            value = _number(self._nik_digits, 0, 16)
        else:
            value = _factorized(frame[name]).codes
        if all(pd.Index(value[year.codes == y]).is_unique for y in range(len(year.uniques))):
            return
        keys = frame[[name, "year"]]
        again = keys.duplicated(keep=False).to_numpy()
        if not again.any():
            return
        first = keys.groupby([name, "year"], sort=False).ngroup().to_numpy()
        positions = np.arange(len(frame))
        earliest = pd.Series(positions).groupby(first).transform("min").to_numpy()
        repeat = again & (positions != earliest)
        years = frame["year"].to_numpy()
        self.refuse(
            repeat,
            name,
            lambda at: f"{what} already given in {self.place(int(earliest[at]))}",
            f"appears twice in {years[np.flatnonzero(repeat)[0]]} (a family is registered once a year)",
        )


@dataclass(frozen=True)
class _Keys:
    """A column factorized: each cell's position among the distinct values (-1: missing)."""

    codes: np.ndarray
    uniques: Any  # a pandas ExtensionArray or ndarray of the column's type


def _factorized(column: pd.Series) -> _Keys:
    codes, uniques = pd.factorize(column.array, use_na_sentinel=True)
    return _Keys(np.asarray(codes, np.int64), uniques)


def _lookup(values: np.ndarray, codes: np.ndarray, missing: Any) -> np.ndarray:
    """``values[codes]``, and ``missing`` where a code is -1 (a missing cell)."""
    if len(values) == 0:
        return np.full(len(codes), missing, dtype=values.dtype)
    out = values[codes]
    absent = codes < 0
    if absent.any():
        out[absent] = missing
    return out


def _is_text(column: pd.Series) -> bool:
    return isinstance(column.dtype, pd.StringDtype)


def _two_digits(text: str) -> bool:
    return len(text) == 2 and text.isascii() and text.isdigit()


def _fixed_digits(array: pa.Array | pa.ChunkedArray, width: int) -> np.ndarray:
    """Strings of exactly ``width`` ASCII digits each (checked before) as an n × width digit matrix.

    Their characters lie back to back in the Arrow data buffer: one view, no string made per row.
    """
    if len(array) == 0:
        return np.zeros((0, width), np.uint8)
    if isinstance(array, pa.ChunkedArray):
        array = array.combine_chunks()
    offsets_type = np.int64 if pa.types.is_large_string(array.type) else np.int32
    offsets = np.frombuffer(array.buffers()[1], offsets_type)[array.offset : array.offset + len(array) + 1]
    data = np.frombuffer(array.buffers()[2], np.uint8)[offsets[0] : offsets[-1]]
    return data.reshape(len(array), width) - np.uint8(ord("0"))


def _number(digits: np.ndarray, start: int, stop: int) -> np.ndarray:
    """The number the digit columns ``start:stop`` of `_fixed_digits` make, as int64."""
    out = np.zeros(len(digits), np.int64)
    for column in range(start, stop):
        out *= 10
        out += digits[:, column]
    return out


def _as_text(column: pd.Series) -> pd.Series:
    """Cells as trimmed text (numbers as written: 12 not 12.0); NA for blank."""
    text = column.astype(TEXT).str.strip()
    return text.mask(text == "", pd.NA)


def _keys(column: pd.Series) -> pd.Series:
    """Categorical cells as lookup keys: trimmed, lower case, numbers without '.0'; NA for blank."""
    return _arrow(_as_text(column), lambda a: pc.utf8_lower(pc.replace_substring_regex(a, r"\.0$", "")))


def _arrow_bool(text: pd.Series, function: Callable[[pa.Array], pa.Array]) -> np.ndarray:
    """An Arrow predicate over a text column, as a numpy bool array (null: False)."""
    array = pa.array(text.array, type=pa.string(), from_pandas=True)
    return pc.fill_null(function(array), False).to_numpy(zero_copy_only=False)


def _digits(text: pd.Series, start: int, stop: int) -> np.ndarray:
    """The number the characters ``start:stop`` of each (16-digit) text make, by Arrow."""
    array = pa.array(text.array, type=pa.string(), from_pandas=True)
    part = pc.utf8_slice_codeunits(array, start, stop)
    return pc.fill_null(pc.cast(part, pa.int64()), 0).to_numpy(zero_copy_only=False)


def _arrow(text: pd.Series, function: Callable[[pa.Array], pa.Array]) -> pd.Series:
    """An Arrow compute function applied to a text column (C++, never a Python loop over rows)."""
    array = pa.array(text.array, type=pa.string(), from_pandas=True)
    return pd.Series(pd.array(function(array), dtype=TEXT), index=text.index)


def _numeric_cells(column: pd.Series) -> np.ndarray:
    """Cells where a NIK arrived as a floating or spreadsheet number (its last digits may be lost).

    A Parquet integer column is exact and accepted; a float column, or a spreadsheet cell typed as
    a number (Excel keeps 15 significant digits, a NIK has 16), is not.
    """
    if pd.api.types.is_float_dtype(column.dtype):
        return column.notna().to_numpy()
    if column.dtype == object:
        return column.map(lambda v: isinstance(v, int | float) and not isinstance(v, bool)).to_numpy(bool)
    return np.zeros(len(column), bool)
