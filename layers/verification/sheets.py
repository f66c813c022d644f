"""Offline sheets: a village's families as an XLSX to fill without a connection, and its upload.

The workbook (`write_sheet`) has, in Bahasa Indonesia:

* ``Petunjuk``: how to fill it, what each status means, the village and who downloaded it when;
* ``Keluarga``: one row per family. Grey columns (the row's ``id`` and ``versi``, the family's
  register values) are protected; the operator fills ``Status`` (a drop-down), ``Alasan`` and, for a
  correction, the ``Perbaikan: …`` columns. A hidden ``sidik`` column fingerprints each row's status,
  reason and corrections as downloaded, so the upload knows which rows were touched;
* ``Usulan baru``: families missing from the register, one per row, with the register's fields
  (drop-downs for the coded ones).

The upload (`read_sheet`, then `apply_sheet`) is checked whole first: every error, with its sheet,
row and column, in Bahasa Indonesia; if there is any, nothing is written (`SheetRejected`). Then, in
one transaction, each touched row is written if nobody changed the family since the download
(its version is still the sheet's) and reported as a conflict otherwise, never overwritten.
Untouched rows are not written at all.
"""

from __future__ import annotations

import hashlib
import io
import json
import zipfile
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import pandas as pd
from openpyxl import Workbook, load_workbook
from openpyxl.styles import Alignment, Font, PatternFill, Protection
from openpyxl.utils import get_column_letter
from openpyxl.worksheet.datavalidation import DataValidation
from openpyxl.worksheet.worksheet import Worksheet

from layers.register import CODES
from layers.verification import audit
from layers.verification.accounts import Caller
from layers.verification.crypto import FieldCipher
from layers.verification.db import Database
from layers.verification.errors import InvalidInput, SheetRejected
from layers.verification.records import family_record
from layers.verification.rounds import Round, require_active
from layers.verification.tables import now
from layers.verification.validation import RuleBroken, Validator, indonesian
from layers.verification.workflow import (
    EDITABLE_STATES,
    FAMILY_STATUSES,
    NEEDS_REASON,
    PROPOSAL_STATUSES,
    REGISTER_STATUSES,
    VILLAGE_STATES,
    apply_change,
    editable_village,
    families_of_villages,
    insert_proposal,
    move_counts,
    plan_change,
    proposal_ids,
    village_row,
)

MEDIA_TYPE = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
FAMILIES = "Keluarga"
PROPOSALS = "Usulan baru"
GUIDE = "Petunjuk"
LISTS = "Daftar"
META = "_sasaran"
FORMAT = 1
#: Rows an upload may hold (a village has at most a few thousand families).
MAX_ROWS = 20_000
#: Errors reported at most (the first ones; enough to fix a sheet in one go).
MAX_ERRORS = 200
#: Empty rows offered for proposals.
PROPOSAL_ROWS = 50
GREY = PatternFill("solid", fgColor="E7E6E6")
UNLOCKED = Protection(locked=False)
YELLOW = PatternFill("solid", fgColor="FFF2CC")
HEAD = Font(bold=True)


@dataclass(frozen=True)
class Column:
    """One column of a sheet: its key, header (Bahasa Indonesia), width and kind."""

    key: str
    header: str
    width: int = 14
    kind: str = "text"  # text | whole | flag | status | code:<column> | hidden
    editable: bool = False


#: ``Keluarga``: protected register values, then what the operator fills.
FAMILY_COLUMNS: tuple[Column, ...] = (
    Column("id", "id", 8, "whole"),
    Column("version", "versi", 6, "whole"),
    Column("family_id", "ID keluarga", 16),
    Column("nik", "NIK kepala keluarga", 19),
    Column("head_name", "Nama kepala keluarga", 26),
    Column("address", "Alamat", 30),
    Column("decile", "Desil", 6, "whole"),
    Column("members", "Anggota", 8, "whole"),
    Column("elderly", "Lansia", 7, "whole"),
    Column("disabled", "Disabilitas", 9, "whole"),
    Column("female_head", "KK perempuan", 9, "flag"),
    Column("status", "Status", 16, "status", True),
    Column("reason", "Alasan", 30, "text", True),
    Column("fix:head_name", "Perbaikan: nama kepala keluarga", 26, "text", True),
    Column("fix:nik", "Perbaikan: NIK", 19, "text", True),
    Column("fix:address", "Perbaikan: alamat", 30, "text", True),
    Column("fix:members", "Perbaikan: anggota", 10, "whole", True),
    Column("fix:elderly", "Perbaikan: lansia", 10, "whole", True),
    Column("fix:disabled", "Perbaikan: disabilitas", 10, "whole", True),
    Column("fix:female_head", "Perbaikan: KK perempuan", 10, "flag", True),
    Column("fingerprint", "sidik", 4, "hidden"),
)
#: ``Usulan baru``: a family missing from the register, with the register's fields.
PROPOSAL_COLUMNS: tuple[Column, ...] = (
    Column("family_id", "ID keluarga (boleh kosong)", 16, "text", True),
    Column("nik", "NIK kepala keluarga", 19, "text", True),
    Column("head_name", "Nama kepala keluarga", 26, "text", True),
    Column("address", "Alamat", 30, "text", True),
    Column("decile", "Desil (1-10)", 8, "whole", True),
    Column("members", "Anggota", 8, "whole", True),
    Column("elderly", "Lansia", 7, "whole", True),
    Column("disabled", "Disabilitas", 9, "whole", True),
    Column("children_out_of_school", "Anak tidak sekolah", 9, "whole", True),
    Column("female_head", "KK perempuan", 9, "flag", True),
    *(
        Column(name, title, 16, f"code:{name}", True)
        for name, title in (
            ("floor", "Lantai"),
            ("walls", "Dinding"),
            ("water", "Air minum"),
            ("sanitation", "Sanitasi"),
            ("electricity", "Penerangan"),
            ("cooking_fuel", "Bahan bakar memasak"),
            ("head_schooling", "Pendidikan KK"),
            ("health_cover", "JKN"),
        )
    ),
    Column("reason", "Alasan diusulkan", 30, "text", True),
)
FLAGS = {"ya": True, "tidak": False}
#: Correction columns (``fix:<field>``) and the family fields they correct.
FIXES = tuple(c.key.removeprefix("fix:") for c in FAMILY_COLUMNS if c.key.startswith("fix:"))


def fingerprint(status: str, reason: str | None, changes: dict[str, Any]) -> str:
    """12 hex digits identifying a row's status, reason and corrections (touched rows differ)."""
    body = json.dumps(
        [status, reason or "", {k: changes[k] for k in sorted(changes)}], ensure_ascii=False, default=str
    )
    return hashlib.sha256(body.encode()).hexdigest()[:12]


# ------------------------------------------------------------------ writing


def write_sheet(db: Database, cipher: FieldCipher, caller: Caller, code: str) -> tuple[bytes, str]:
    """The village's sheet as XLSX bytes and a file name; audited as a by-name download.

    Parameters
    ----------
    db, cipher
        The database and the register key's cipher.
    caller
        Any account whose region holds the village.
    code
        The village.

    Returns
    -------
    tuple[bytes, str]
        The workbook and ``verifikasi-<code>-<date>.xlsx``.
    """
    with db.read() as conn:
        round_ = require_active(conn)
        village = village_row(conn, round_, caller.account, code)
        rows = families_of_villages(conn, round_, [village["code"]])
    records = [family_record(r, cipher) for r in rows]
    stamp = now()
    book = Workbook()
    _guide(book.active, village, round_, caller, stamp, len(records))
    _lists(book.create_sheet(LISTS))
    _families(book.create_sheet(FAMILIES), records)
    _proposals(book.create_sheet(PROPOSALS))
    meta = book.create_sheet(META)
    meta.append(["format", "round", "village", "downloaded_at", "by"])
    meta.append([FORMAT, round_.number, village["code"], stamp, caller.account.name])
    meta.sheet_state = "veryHidden"
    book[LISTS].sheet_state = "hidden"
    sink = io.BytesIO()
    book.save(sink)
    audit.record(
        db,
        caller.actor.event(
            "download.sheet",
            f"village:{village['code']}",
            region=village["code"],
            reason=f"xlsx, {len(records)} families",
        ),
    )
    return sink.getvalue(), f"verifikasi-{village['code']}-{stamp[:10]}.xlsx"


def _guide(ws: Worksheet, village: Any, round_: Round, caller: Caller, stamp: str, families: int) -> None:
    ws.title = GUIDE
    lines = [
        ("Lembar verifikasi dan validasi keluarga", HEAD),
        (
            f"Desa {village['name']} ({village['code']}), Kec. {village['kecamatan_name']}, "
            f"{village['kabupaten_name']}",
            None,
        ),
        (
            f"Putaran {round_.number}, data tahun {round_.year}; {families} keluarga. "
            f"Diunduh {stamp[:16].replace('T', ' ')} UTC oleh {caller.account.name}.",
            None,
        ),
    ]
    if round_.synthetic:
        lines.append(("DATA SINTETIS (demo): nama, NIK dan alamat ini rekaan, bukan orang sungguhan.", HEAD))
    lines += [
        ("", None),
        ("Cara mengisi", HEAD),
        (
            "1. Buka lembar 'Keluarga'. Kolom abu-abu dikunci: jangan diubah (id dan versi dipakai saat "
            "unggah).",
            None,
        ),
        (
            "2. Untuk setiap keluarga pilih Status dari daftar. Status selain 'valid' dan 'diperbaiki' wajib "
            "diberi Alasan.",
            None,
        ),
        (
            "3. Jika data keluarga salah, pilih 'diperbaiki' dan tulis nilai yang benar di kolom "
            "'Perbaikan: …' (kuning).",
            None,
        ),
        (
            "4. Keluarga miskin yang belum ada di daftar ditulis di lembar 'Usulan baru', satu keluarga "
            "per baris.",
            None,
        ),
        (
            "5. Simpan sebagai .xlsx lalu unggah di halaman verifikasi. Lembar diperiksa utuh: jika ada "
            "kesalahan, tidak ada yang disimpan dan setiap kesalahan disebut baris dan kolomnya.",
            None,
        ),
        (
            "6. Baris yang sudah diubah orang lain sejak lembar ini diunduh tidak ditimpa: baris itu "
            "dilaporkan sebagai bentrok; periksa di halaman atau unduh lembar baru.",
            None,
        ),
        (
            "7. NIK ditulis 16 angka sebagai teks (kolom sudah diformat Teks: jangan ubah menjadi angka).",
            None,
        ),
        ("", None),
        ("Status", HEAD),
    ]
    for status, label in FAMILY_STATUSES.items():
        need = " (wajib alasan)" if status in NEEDS_REASON else ""
        lines.append((f"{status}: {label.id}{need}", None))
    lines += [("", None), ("Tahapan desa", HEAD)]
    lines += [(f"{state}: {label.id}", None) for state, label in VILLAGE_STATES.items()]
    for text, font in lines:
        ws.append([text])
        if font is not None:
            ws.cell(ws.max_row, 1).font = font
    ws.column_dimensions["A"].width = 120
    for row in ws.iter_rows():
        row[0].alignment = Alignment(wrap_text=True, vertical="top")


def _lists(ws: Worksheet) -> None:
    ws.append(["status", "ya/tidak", *CODES])
    columns: list[Sequence[str]] = [
        list(REGISTER_STATUSES),
        list(FLAGS),
        *(codes.names for codes in CODES.values()),
    ]
    for i in range(max(len(c) for c in columns)):
        ws.append([c[i] if i < len(c) else None for c in columns])


def _list_range(kind: str, length: int) -> str:
    keys = ["status", "flag", *(f"code:{name}" for name in CODES)]
    column = get_column_letter(keys.index(kind) + 1)
    return f"'{LISTS}'!${column}$2:${column}${length + 1}"


def _lengths() -> dict[str, int]:
    return {"status": len(REGISTER_STATUSES), "flag": len(FLAGS)} | {
        f"code:{name}": len(codes.names) for name, codes in CODES.items()
    }


def _layout(ws: Worksheet, columns: Sequence[Column], rows: int) -> None:
    """Headers, widths, text format, drop-downs, and protection (only editable cells unlocked)."""
    ws.append([c.header for c in columns])
    lengths = _lengths()
    for i, column in enumerate(columns, start=1):
        letter = get_column_letter(i)
        head = ws.cell(1, i)
        head.font = HEAD
        head.alignment = Alignment(wrap_text=True, vertical="top")
        head.fill = YELLOW if column.editable else GREY
        ws.column_dimensions[letter].width = column.width
        if column.kind == "hidden":
            ws.column_dimensions[letter].hidden = True
        kind = "flag" if column.kind == "flag" else column.kind
        if column.editable and kind in lengths:
            check = DataValidation(
                type="list",
                formula1=_list_range(kind, lengths[kind]),
                allow_blank=True,
                showErrorMessage=True,
                errorTitle="Nilai tidak dikenal",
                error="Pilih salah satu nilai dari daftar.",
            )
            check.add(f"{letter}2:{letter}{rows + 1}")
            ws.add_data_validation(check)
    ws.freeze_panes = "C2" if columns is FAMILY_COLUMNS else "A2"
    ws.protection.sheet = True
    ws.protection.autoFilter = False
    ws.protection.sort = False
    ws.protection.formatColumns = False
    ws.auto_filter.ref = f"A1:{get_column_letter(len(columns))}{rows + 1}"


def _families(ws: Worksheet, records: list[dict[str, Any]]) -> None:
    _layout(ws, FAMILY_COLUMNS, len(records))
    text_columns = [
        i for i, c in enumerate(FAMILY_COLUMNS, start=1) if c.kind in ("text", "status") or c.key == "nik"
    ]
    for number, record in enumerate(records, start=2):
        corrected = {f: record[f] for f in record["changes"] if f in FIXES}
        values = []
        for column in FAMILY_COLUMNS:
            if column.key.startswith("fix:"):
                value = corrected.get(column.key.removeprefix("fix:"))
            elif column.key == "fingerprint":
                value = fingerprint(record["status"], record["reason"], _fixes(corrected))
            else:
                value = record.get(column.key)
            values.append(_cell(value, column))
        ws.append(values)
        # Cells by their known row (``ws.max_row`` scans every cell: quadratic over a village).
        for i, column in enumerate(FAMILY_COLUMNS, start=1):
            cell = ws.cell(number, i)
            if column.editable:
                cell.protection = UNLOCKED
                cell.fill = YELLOW
            else:
                cell.fill = GREY
        for i in text_columns:
            ws.cell(number, i).number_format = "@"


def _proposals(ws: Worksheet) -> None:
    _layout(ws, PROPOSAL_COLUMNS, PROPOSAL_ROWS)
    for row in range(2, PROPOSAL_ROWS + 2):
        for i, column in enumerate(PROPOSAL_COLUMNS, start=1):
            cell = ws.cell(row, i)
            cell.protection = Protection(locked=False)
            if column.kind == "text":
                cell.number_format = "@"


def _cell(value: Any, column: Column) -> Any:
    if value is None:
        return None
    if column.kind == "flag":
        return "ya" if value else "tidak"
    if column.kind == "text":
        return str(value)
    return value


def _fixes(corrected: dict[str, Any]) -> dict[str, Any]:
    """Corrections as the sheet holds them (text as text, flags as ya/tidak), for fingerprints."""
    out = {}
    for name, value in corrected.items():
        column = next(c for c in FAMILY_COLUMNS if c.key == f"fix:{name}")
        out[name] = _cell(value, column)
    return out


# ------------------------------------------------------------------ reading


@dataclass
class SheetRow:
    """One touched row of ``Keluarga``: the family, the version downloaded, what to set."""

    row: int
    id: int
    version: int
    status: str
    reason: str | None
    changes: dict[str, Any]


@dataclass
class Sheet:
    """An upload, read and checked row by row (`read_sheet`)."""

    village: str
    round: int
    rows: list[SheetRow] = field(default_factory=list)
    untouched: int = 0
    proposals: list[tuple[int, dict[str, Any]]] = field(default_factory=list)
    errors: list[dict[str, Any]] = field(default_factory=list)

    def error(self, sheet: str, row: int | None, column: str | None, message: str) -> None:
        """Note an error (the first `MAX_ERRORS` are kept)."""
        if len(self.errors) < MAX_ERRORS:
            self.errors.append({"sheet": sheet, "row": row, "column": column, "message": message})


def _whole(value: Any, low: int = 0) -> int:
    if isinstance(value, bool):
        raise ValueError
    number = float(str(value).strip().replace(",", "."))
    if number != int(number) or number < low:
        raise ValueError
    return int(number)


def _parse(value: Any, column: Column) -> Any:
    """A cell as the family field wants it; `ValueError` with a message in Bahasa Indonesia."""
    if value is None or (isinstance(value, str) and not value.strip()):
        return None
    if column.kind == "whole":
        low = 1 if column.key in ("fix:members", "members", "decile") else 0
        try:
            return _whole(value, low)
        except ValueError:
            raise ValueError(f"'{str(value)[:20]}' bukan bilangan bulat ≥ {low}") from None
    if column.kind == "flag":
        word = str(value).strip().lower()
        if word not in FLAGS:
            raise ValueError("isi 'ya' atau 'tidak'")
        return FLAGS[word]
    if column.key in ("nik", "fix:nik") and isinstance(value, float | int):
        raise ValueError(
            "NIK tersimpan sebagai angka (angka terakhir bisa hilang): format kolom sebagai Teks"
        )
    return str(value).strip()


def read_sheet(content: bytes, code: str) -> Sheet:
    """Read an uploaded workbook: every row checked for what the sheet itself can tell.

    Parameters
    ----------
    content
        The XLSX bytes.
    code
        The village the upload is for (the sheet must be that village's).

    Returns
    -------
    Sheet
        The touched rows, the proposals and the errors found (none written yet).
    """
    try:
        book = load_workbook(io.BytesIO(content), read_only=True, data_only=True)
    except (zipfile.BadZipFile, KeyError, ValueError, OSError):
        raise SheetRejected(
            [
                {
                    "sheet": None,
                    "row": None,
                    "column": None,
                    "message": "berkas ini bukan lembar XLSX yang dapat dibaca; unggah lembar "
                    "yang diunduh dari halaman verifikasi (disimpan sebagai .xlsx)",
                }
            ]
        ) from None
    sheet = Sheet(village=code, round=0)
    try:
        meta = _meta(book, code, sheet)
        if sheet.errors:
            raise SheetRejected(sheet.errors)
        sheet.round = int(meta["round"])
        _read_families(book[FAMILIES], sheet)
        if PROPOSALS in book.sheetnames:
            _read_proposals(book[PROPOSALS], sheet)
    finally:
        book.close()
    return sheet


def _meta(book: Any, code: str, sheet: Sheet) -> dict[str, Any]:
    if META not in book.sheetnames or FAMILIES not in book.sheetnames:
        sheet.error(
            FAMILIES,
            None,
            None,
            "ini bukan lembar verifikasi Sasaran (lembar 'Keluarga' atau "
            "penandanya hilang); unduh lembar desa dari halaman verifikasi",
        )
        return {}
    rows = list(book[META].iter_rows(min_row=1, max_row=2, values_only=True))
    meta = dict(zip(rows[0], rows[1], strict=False)) if len(rows) == 2 else {}
    if str(meta.get("village")) != code:
        sheet.error(FAMILIES, None, None, f"lembar ini untuk desa {meta.get('village')}, bukan desa {code}")
    if meta.get("format") != FORMAT:
        sheet.error(FAMILIES, None, None, "format lembar tidak dikenal; unduh lembar baru")
    return meta


def _header(ws: Any, columns: Sequence[Column], sheet: Sheet, name: str) -> dict[str, int] | None:
    header = next(ws.iter_rows(min_row=1, max_row=1, values_only=True), ())
    where = {str(h).strip(): i for i, h in enumerate(header) if h is not None}
    positions = {}
    for column in columns:
        if column.header not in where:
            sheet.error(
                name,
                1,
                column.header,
                "kolom ini hilang dari baris judul; jangan hapus atau ganti nama kolom",
            )
            continue
        positions[column.key] = where[column.header]
    return positions if len(positions) == len(columns) else None


def _read_families(ws: Any, sheet: Sheet) -> None:
    positions = _header(ws, FAMILY_COLUMNS, sheet, FAMILIES)
    if positions is None:
        return
    by_key = {c.key: c for c in FAMILY_COLUMNS}
    seen: dict[int, int] = {}
    for number, cells in enumerate(ws.iter_rows(min_row=2, values_only=True), start=2):
        if number > MAX_ROWS + 1:
            sheet.error(FAMILIES, number, None, f"lebih dari {MAX_ROWS} baris")
            return
        values = {key: cells[at] if at < len(cells) else None for key, at in positions.items()}
        if all(v is None or str(v).strip() == "" for v in values.values()):
            continue
        parsed = _family_row(values, by_key, sheet, number)
        if parsed is None:
            continue
        if parsed.id in seen:
            sheet.error(
                FAMILIES, number, "id", f"keluarga id {parsed.id} sudah ada di baris {seen[parsed.id]}"
            )
            continue
        seen[parsed.id] = number
        if fingerprint(parsed.status, parsed.reason, _fixes_of(values)) == str(
            values.get("fingerprint") or ""
        ):
            sheet.untouched += 1
            continue
        sheet.rows.append(parsed)


def _fixes_of(values: dict[str, Any]) -> dict[str, Any]:
    """The correction cells of an uploaded row as `_fixes` writes them (for its fingerprint)."""
    out: dict[str, Any] = {}
    for name in FIXES:
        value = values.get(f"fix:{name}")
        if value is None or str(value).strip() == "":
            continue
        kind = next(c.kind for c in FAMILY_COLUMNS if c.key == f"fix:{name}")
        if kind == "flag":
            out[name] = str(value).strip().lower()
        elif kind == "whole" and isinstance(value, float) and value.is_integer():
            out[name] = int(value)
        elif kind == "whole":
            out[name] = value
        else:
            out[name] = str(value).strip()
    return out


def _family_row(
    values: dict[str, Any], by_key: dict[str, Column], sheet: Sheet, number: int
) -> SheetRow | None:
    ok = True

    def bad(key: str, message: str) -> None:
        nonlocal ok
        ok = False
        sheet.error(FAMILIES, number, by_key[key].header, message)

    ident: dict[str, int] = {}
    for key in ("id", "version"):
        try:
            ident[key] = _whole(values[key], 1)
        except (ValueError, TypeError):
            bad(key, "kolom terkunci ini diubah atau kosong; salin baris dari lembar asli")
    status = str(values.get("status") or "").strip().lower()
    if not status:
        bad("status", "status kosong; pilih dari daftar")
    elif status not in FAMILY_STATUSES:
        bad("status", f"'{status[:20]}' bukan status yang dikenal; pilih dari daftar")
    reason = str(values.get("reason") or "").strip() or None
    if status in NEEDS_REASON and not reason:
        bad("reason", f"status '{status}' wajib diberi alasan")
    changes: dict[str, Any] = {}
    for name in FIXES:
        column = by_key[f"fix:{name}"]
        try:
            changes[name] = _parse(values.get(column.key), column)
        except ValueError as exc:
            bad(column.key, str(exc))
    given = {k: v for k, v in changes.items() if v is not None}
    if status == "diperbaiki" and not given:
        bad("status", "status 'diperbaiki' perlu minimal satu kolom 'Perbaikan: …' diisi")
    if given and status not in ("diperbaiki", "usulan_baru"):
        first = next(iter(given))
        bad(f"fix:{first}", "kolom perbaikan hanya diisi bersama status 'diperbaiki'")
    if not ok:
        return None
    return SheetRow(number, ident["id"], ident["version"], status, reason, changes)


def _read_proposals(ws: Any, sheet: Sheet) -> None:
    positions = _header(ws, PROPOSAL_COLUMNS, sheet, PROPOSALS)
    if positions is None:
        return
    required = ("nik", "head_name", "address", "decile", "members")
    for number, cells in enumerate(ws.iter_rows(min_row=2, values_only=True), start=2):
        if number > MAX_ROWS + 1:
            sheet.error(PROPOSALS, number, None, f"lebih dari {MAX_ROWS} baris")
            return
        raw = {key: cells[at] if at < len(cells) else None for key, at in positions.items()}
        if all(v is None or str(v).strip() == "" for v in raw.values()):
            continue
        values: dict[str, Any] = {}
        for column in PROPOSAL_COLUMNS:
            try:
                values[column.key] = _parse(raw[column.key], column)
            except ValueError as exc:
                sheet.error(PROPOSALS, number, column.header, str(exc))
        for key in required:
            if values.get(key) is None and key in values:
                header = next(c.header for c in PROPOSAL_COLUMNS if c.key == key)
                sheet.error(PROPOSALS, number, header, "wajib diisi untuk keluarga yang diusulkan")
        sheet.proposals.append((number, values))


# ------------------------------------------------------------------ applying


@dataclass
class UploadResult:
    """What an upload did."""

    applied: int = 0
    unchanged: int = 0
    proposed: int = 0
    conflicts: list[dict[str, Any]] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        """The JSON answer."""
        return {
            "applied": self.applied,
            "unchanged": self.unchanged,
            "proposed": self.proposed,
            "conflicts": self.conflicts,
        }


def apply_sheet(
    db: Database,
    cipher: FieldCipher,
    caller: Caller,
    code: str,
    content: bytes,
    validate: Validator | None = None,
) -> UploadResult:
    """Check an uploaded sheet whole, then write it in one transaction (or nothing at all).

    Parameters
    ----------
    db, cipher
        The database and the register key's cipher.
    caller
        The village's desa account.
    code
        The village.
    content
        The XLSX bytes.
    validate
        The register's rules (corrections and proposals pass them).

    Returns
    -------
    UploadResult
        Rows written, rows the sheet left as they were, proposals added, and conflicts (rows
        changed by someone else since the download: not written, each with the family as it is).

    Raises
    ------
    SheetRejected
        With every error found (sheet, row, column, message in Bahasa Indonesia); nothing written.
    """
    with db.read() as conn:
        round_ = require_active(conn)
        village = editable_village(conn, round_, caller, code)  # who may upload, before reading anything
        current = {r["id"]: r for r in families_of_villages(conn, round_, [village["code"]])}
    sheet = read_sheet(content, code)
    if sheet.round != round_.number:
        sheet.error(
            FAMILIES,
            None,
            None,
            f"lembar ini dari putaran {sheet.round}; putaran kini {round_.number}: unduh lembar baru",
        )
    _plan(sheet, current, round_, cipher, validate)
    proposals = _check_proposals(sheet, round_, current, cipher, validate, village["code"])
    if sheet.errors:
        raise SheetRejected(sheet.errors)
    return _write(db, cipher, caller, village["code"], sheet, proposals)


def _plan(
    sheet: Sheet, current: dict[int, Any], round_: Round, cipher: FieldCipher, validate: Validator | None
) -> list[tuple[SheetRow, Any]]:
    planned = []
    corrected: list[tuple[SheetRow, dict[str, Any]]] = []
    for item in sheet.rows:
        row = current.get(item.id)
        if row is None:
            sheet.error(FAMILIES, item.row, "id", f"keluarga id {item.id} bukan keluarga desa ini")
            continue
        allowed = PROPOSAL_STATUSES if row["origin"] == "usulan_baru" else REGISTER_STATUSES
        if item.status not in allowed:
            sheet.error(
                FAMILIES, item.row, "Status", f"status '{item.status}' tidak berlaku untuk keluarga ini"
            )
            continue
        try:
            plan = plan_change(row, round_, cipher, item.status, item.reason, item.changes)
        except InvalidInput as exc:
            sheet.error(FAMILIES, item.row, "Status", str(exc))
            continue
        planned.append((item, plan))
        if plan.after:
            corrected.append((item, plan.canonical()))
    if validate is not None and corrected:
        _register_rules(sheet, FAMILIES, [(i.row, values) for i, values in corrected], validate)
    return planned


def _places(numbers: list[int]) -> Callable[[int], str]:
    """Position in a checked frame -> ``baris N``, N the sheet's own row."""
    return lambda position: f"baris {numbers[position]}"


def _register_rules(
    sheet: Sheet, name: str, rows: list[tuple[int, dict[str, Any]]], validate: Validator
) -> pd.DataFrame | None:
    """The register's rules on rows of a sheet; each refusal becomes its row's error, in Bahasa Indonesia.

    The rules stop at the first refusal; its row is set aside and the rest checked again, so that
    every broken row is named (at most `MAX_ERRORS`). Returns the rows typed when all pass.
    """
    pending = list(rows)
    # A correction's refusal points at its "Perbaikan: …" column; a proposal's at the proposal's.
    headers = {c.key: c.header for c in FAMILY_COLUMNS} | {
        c.key.removeprefix("fix:"): c.header for c in FAMILY_COLUMNS if c.key.startswith("fix:")
    }
    if name == PROPOSALS:
        headers = {c.key: c.header for c in PROPOSAL_COLUMNS}
    while pending and len(sheet.errors) < MAX_ERRORS:
        numbers = [number for number, _ in pending]
        try:
            return validate(pd.DataFrame([values for _, values in pending]), place=_places(numbers))
        except RuleBroken as exc:
            number = int(exc.row.split()[-1]) if exc.row else numbers[0]
            column = headers.get(exc.field or "", exc.field)
            sheet.error(name, number, column, indonesian(exc.problem))
            pending = [(n, v) for n, v in pending if n != number]
    return None


def _check_proposals(
    sheet: Sheet,
    round_: Round,
    current: dict[int, Any],
    cipher: FieldCipher,
    validate: Validator | None,
    code: str,
) -> list[tuple[int, dict[str, Any], str | None]]:
    """Proposals typed by the register's rules; those uploaded before (same NIK, proposed here) skipped.

    A proposal without a family id gets one when written (``family_id`` None here).
    """
    known = {r["nik_key"]: r for r in current.values()}
    fresh: list[tuple[int, dict[str, Any], str | None]] = []
    for number, values in sheet.proposals:
        existing = known.get(cipher.index("nik", str(values["nik"]))) if values.get("nik") else None
        if existing is not None and existing["origin"] == "usulan_baru":
            sheet.untouched += 1  # uploaded before: already proposed
            continue
        if existing is not None:
            sheet.error(
                PROPOSALS,
                number,
                "NIK kepala keluarga",
                "NIK ini sudah ada di daftar desa: beri status pada keluarga itu di lembar 'Keluarga'",
            )
            continue
        canonical = {k: v for k, v in values.items() if k != "reason" and v is not None}
        fresh.append(
            (number, canonical | {"village_code": code, "year": round_.year or None}, values.get("reason"))
        )
    if not fresh or sheet.errors:
        return []
    temporary = [
        (n, {**v, "family_id": v.get("family_id") or f"BARU-{i}"}) for i, (n, v, _) in enumerate(fresh)
    ]
    typed = _register_rules(sheet, PROPOSALS, temporary, validate) if validate is not None else None
    if sheet.errors:
        return []
    records = typed.to_dict("records") if typed is not None else [v for _, v in temporary]
    out = []
    for (number, values, reason), record in zip(fresh, records, strict=True):
        out.append((number, {**record, "family_id": values.get("family_id")}, reason))
    return out


def _write(
    db: Database,
    cipher: FieldCipher,
    caller: Caller,
    code: str,
    sheet: Sheet,
    proposals: list[tuple[int, dict[str, Any], str | None]],
) -> UploadResult:
    result = UploadResult(unchanged=sheet.untouched)
    stamp = now()
    with db.write() as conn:
        round_ = require_active(conn)
        village = editable_village(conn, round_, caller, code)
        if village["state"] not in EDITABLE_STATES:  # pragma: no cover - editable_village refuses first
            raise InvalidInput("the village is not open")
        current = {r["id"]: r for r in families_of_villages(conn, round_, [code])}
        events = []
        moved: dict[str, int] = {}
        for item in sheet.rows:
            row = current[item.id]
            plan = plan_change(row, round_, cipher, item.status, item.reason, item.changes)
            if plan.unchanged:
                result.unchanged += 1
                continue
            if row["version"] != item.version:
                result.conflicts.append(
                    {
                        "row": item.row,
                        "id": row["id"],
                        "version": row["version"],
                        "status": row["status"],
                        "updated_by": row["updated_by"],
                        "updated_at": row["updated_at"],
                    }
                )
                continue
            events += apply_change(conn, caller, plan, cipher, stamp)
            result.applied += 1
            if plan.status != row["status"]:
                moved[row["status"]] = moved.get(row["status"], 0) - 1
                moved[plan.status] = moved.get(plan.status, 0) + 1
        if moved:
            move_counts(conn, round_, code, moved, caller.account.name, stamp)
        if events:
            audit.append(conn, events)
        ids = iter(proposal_ids(conn, round_, code, len(proposals)))
        for _, record, reason in proposals:
            frame = pd.DataFrame([{**record, "family_id": record["family_id"] or next(ids)}])
            insert_proposal(conn, round_, caller, code, frame, reason, cipher, stamp)
            result.proposed += 1
        audit.append(
            conn,
            caller.actor.event(
                "upload.sheet",
                f"village:{code}",
                region=code,
                reason=f"{result.applied} applied, {result.proposed} proposed, {result.unchanged} unchanged, "
                f"{len(result.conflicts)} conflicts",
            ),
        )
    return result
