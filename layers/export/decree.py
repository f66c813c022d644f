"""A kabupaten's final list of families for the Bupati's decree: XLSX and PDF.

Both carry the same things: the title with the kabupaten, the round and the year; a warning when
villages are not approved yet (the list does not cover them); the counts of families by status in
every approved village, with totals; the families that stay in the register; who prepared the
list, when, and its audit position (the entry of the log that recorded this read); and a signature
block for the Bupati. Bahasa Indonesia by default (the decree's language), English on request.
"""

from __future__ import annotations

import io
from typing import Any

import pandas as pd
from fpdf.fonts import FontFace
from openpyxl import Workbook
from openpyxl.styles import Alignment, Font

from layers.export.briefing import _Briefing
from layers.verification.final_list import FinalList
from layers.verification.workflow import FAMILY_STATUSES, VILLAGE_STATES

TEXT: dict[str, dict[str, str]] = {
    "id": {
        "title": "Daftar akhir keluarga hasil verifikasi dan validasi",
        "subtitle": "{kab} ({code}), putaran {round}, data tahun {year}",
        "annex": "Lampiran Keputusan Bupati {kab} Nomor: ............... Tanggal: ...............",
        "synthetic": "DATA SINTETIS (demo): nama, NIK dan alamat rekaan, bukan orang sungguhan.",
        "incomplete": "BELUM LENGKAP: {n} desa belum disetujui kabupaten dan tidak termasuk daftar ini.",
        "counts": "Jumlah keluarga menurut status, per desa yang disetujui",
        "families": "Daftar keluarga ({n})",
        "waiting": "Desa yang belum disetujui",
        "total": "Jumlah",
        "village": "Desa",
        "kecamatan": "Kecamatan",
        "code": "Kode desa",
        "state": "Tahap",
        "kept": "Tetap dalam daftar",
        "prepared": "Disiapkan oleh {who} ({role}) pada {at} UTC; catatan audit no. {seq} ({hash}).",
        "place_date": "Ditetapkan di ....................., tanggal .....................",
        "signer": "BUPATI {kab}",
        "signature_name": "( ........................................ )",
        "sheet_summary": "Ringkasan",
        "sheet_families": "Daftar keluarga",
        "sheet_waiting": "Belum disetujui",
        "no": "No.",
        "yes_word": "ya",
        "no_word": "tidak",
        "page": "halaman {n}",
    },
    "en": {
        "title": "Final list of families after verification and validation",
        "subtitle": "{kab} ({code}), round {round}, data of {year}",
        "annex": "Annex to the Decree of the Bupati of {kab} No.: ............... Date: ...............",
        "synthetic": "SYNTHETIC DATA (demo): names, NIKs and addresses are made up, not real people.",
        "incomplete": "INCOMPLETE: {n} villages are not approved by the kabupaten yet: not in this list.",
        "counts": "Families by status, per approved village",
        "families": "List of families ({n})",
        "waiting": "Villages not approved yet",
        "total": "Total",
        "village": "Village",
        "kecamatan": "Kecamatan",
        "code": "Village code",
        "state": "Stage",
        "kept": "Stay in the list",
        "prepared": "Prepared by {who} ({role}) on {at} UTC; audit entry no. {seq} ({hash}).",
        "place_date": "Set in ....................., on .....................",
        "signer": "THE BUPATI OF {kab}",
        "signature_name": "( ........................................ )",
        "sheet_summary": "Summary",
        "sheet_families": "Families",
        "sheet_waiting": "Not approved",
        "no": "No.",
        "yes_word": "yes",
        "no_word": "no",
        "page": "page {n}",
    },
}
HEADERS: dict[str, dict[str, str]] = {
    "id": {
        "family_id": "ID keluarga",
        "nik": "NIK kepala keluarga",
        "head_name": "Nama kepala keluarga",
        "address": "Alamat",
        "village_code": "Kode desa",
        "village_name": "Desa",
        "kecamatan_name": "Kecamatan",
        "decile": "Desil",
        "members": "Anggota",
        "elderly": "Lansia",
        "disabled": "Disabilitas",
        "female_head": "KK perempuan",
        "status": "Status",
    },
    "en": {
        "family_id": "Family id",
        "nik": "NIK of the head",
        "head_name": "Head of family",
        "address": "Address",
        "village_code": "Village code",
        "village_name": "Village",
        "kecamatan_name": "Kecamatan",
        "decile": "Decile",
        "members": "Members",
        "elderly": "Elderly",
        "disabled": "Disabled",
        "female_head": "Female head",
        "status": "Status",
    },
}
#: Columns of the printed list (the XLSX has every column of the list).
PDF_COLUMNS = ("family_id", "nik", "head_name", "address", "village_name", "decile", "members", "status")
PDF_WIDTHS = (25, 31, 38, 52, 27, 11, 13, 20)


def filename(final: FinalList, fmt: str) -> str:
    """``daftar-akhir-<kabupaten>-<year>.<fmt>``."""
    return f"daftar-akhir-{final.kabupaten_code}-{final.round.year}.{fmt}"


def _words(final: FinalList, lang: str) -> dict[str, str]:
    text = TEXT[lang]
    values = {
        "kab": final.kabupaten_name,
        "code": final.kabupaten_code,
        "round": final.round.number,
        "year": final.round.year,
        "n": len(final.waiting),
        "who": final.prepared_by,
        "role": final.prepared_role,
        "at": final.prepared_at[:16].replace("T", " "),
        "seq": final.audit_seq,
        "hash": final.audit_hash[:16],
    }
    return {key: value.format(**values) if "{" in value else value for key, value in text.items()}


def _status_label(status: str, lang: str) -> str:
    label = FAMILY_STATUSES[status]
    return label.id if lang == "id" else label.en


def _counts_table(final: FinalList, lang: str) -> tuple[list[str], list[list[Any]]]:
    words = TEXT[lang]
    statuses = [s for s in FAMILY_STATUSES if s != "belum"]
    header = [
        words["kecamatan"],
        words["village"],
        *(_status_label(s, lang) for s in statuses),
        words["kept"],
    ]
    rows = [
        [row["kecamatan_name"], row["name"], *(int(row[s]) for s in statuses), int(row["kept"])]
        for row in final.counts.to_dict("records")
    ]
    totals = [
        words["total"],
        "",
        *(int(final.counts[s].sum()) for s in statuses),
        int(final.counts["kept"].sum()),
    ]
    return header, [*rows, totals]


def _family_rows(final: FinalList, lang: str, columns: tuple[str, ...]) -> list[list[Any]]:
    frame = final.families
    out = []
    for record in frame[list(columns)].to_dict("records"):
        row = []
        for column in columns:
            value = record[column]
            if column == "status":
                value = _status_label(str(value), lang)
            elif column == "female_head":
                value = (
                    "" if value is None or pd.isna(value) else TEXT[lang]["yes_word" if value else "no_word"]
                )
            elif value is None or (isinstance(value, float) and pd.isna(value)):
                value = ""
            row.append(value)
        out.append(row)
    return out


def write_xlsx(final: FinalList, lang: str = "id") -> bytes:
    """The final list as XLSX: a summary (counts, signature block), the families, the villages waiting."""
    words = _words(final, lang)
    book = Workbook()
    summary = book.active
    summary.title = TEXT[lang]["sheet_summary"]
    lines = [words["annex"], words["title"], words["subtitle"]]
    lines += [words["synthetic"]] if final.round.synthetic else []
    lines += [words["incomplete"]] if not final.complete else []
    for line in lines:
        summary.append([line])
    summary.append([])
    summary.append([words["counts"]])
    header, rows = _counts_table(final, lang)
    summary.append(header)
    header_row = summary.max_row
    for row in rows:
        summary.append(row)
    for cell in (*summary[2], *summary[header_row], *summary[summary.max_row]):
        cell.font = Font(bold=True)
    summary.append([])
    summary.append([words["prepared"]])
    summary.append([])
    for line in (words["place_date"], words["signer"], "", "", "", words["signature_name"]):
        summary.append(["", "", "", line])
    summary.column_dimensions["A"].width = 24
    summary.column_dimensions["B"].width = 24
    listing = book.create_sheet(TEXT[lang]["sheet_families"])
    columns = tuple(final.families.columns)
    listing.append([HEADERS[lang][c] for c in columns])
    for cell in listing[1]:
        cell.font = Font(bold=True)
        cell.alignment = Alignment(wrap_text=True, vertical="top")
    for row in _family_rows(final, lang, columns):
        listing.append(row)
    for letter, width in {"A": 18, "B": 20, "C": 28, "D": 40, "E": 13, "F": 22, "G": 22}.items():
        listing.column_dimensions[letter].width = width
    for cell in listing["B"][1:]:
        cell.number_format = "@"  # a NIK is text: 16 digits, never a rounded number
    listing.freeze_panes = "A2"
    waiting = book.create_sheet(TEXT[lang]["sheet_waiting"])
    waiting.append([words["code"], words["village"], words["kecamatan"], words["state"]])
    for item in final.waiting.to_dict("records"):
        waiting.append(
            [item["code"], item["name"], item["kecamatan_name"], getattr(VILLAGE_STATES[item["state"]], lang)]
        )
    sink = io.BytesIO()
    book.save(sink)
    return sink.getvalue()


class _Decree(_Briefing):
    def __init__(self, lang: str, footer_text: str):
        super().__init__(lang, footer_text)
        self.page_text = TEXT[lang]["page"]

    def footer(self) -> None:
        """Footer: the list's name, the audit position and the page."""
        self.set_y(-11)
        self.set_font("DejaVu", size=7)
        self.set_text_color(90, 100, 114)
        self.cell(0, 5, f"{self.footer_text}  ·  {self.page_text.format(n=self.page_no())}", align="C")
        self.set_text_color(0, 0, 0)


def write_pdf(final: FinalList, lang: str = "id") -> bytes:
    """The final list as a PDF: title, counts by status, the families, the signature block."""
    words = _words(final, lang)
    footer = f"{final.kabupaten_name} · {words['title']} · audit {final.audit_seq}"
    pdf = _Decree(lang, footer)
    pdf.add_page(orientation="L")
    pdf.paragraph(words["annex"], size=8)
    pdf.heading(words["title"], size=14)
    pdf.paragraph(words["subtitle"], size=10)
    if final.round.synthetic:
        _banner(pdf, words["synthetic"], (255, 243, 205))
    if not final.complete:
        _banner(pdf, words["incomplete"], (253, 226, 226))
    pdf.heading(words["counts"], size=11)
    header, rows = _counts_table(final, lang)
    pdf.grid(header, [[str(v) for v in row] for row in rows], set(range(2, len(header))))
    pdf.heading(words["families"].format(n=len(final.families)), size=11)
    _families(pdf, final, lang)
    if not final.complete:
        pdf.heading(words["waiting"], size=11)
        waiting = [
            [i["code"], i["name"], i["kecamatan_name"], getattr(VILLAGE_STATES[i["state"]], lang)]
            for i in final.waiting.to_dict("records")
        ]
        pdf.grid([words["code"], words["village"], words["kecamatan"], words["state"]], waiting, set())
    _signature(pdf, words)
    return bytes(pdf.output())


def _banner(pdf: _Briefing, text: str, fill: tuple[int, int, int]) -> None:
    pdf.set_fill_color(*fill)
    pdf.set_font("DejaVu", "B", 9)
    pdf.multi_cell(0, 6, text, fill=True, new_x="LMARGIN", new_y="NEXT")
    pdf.ln(2)
    pdf.set_font("DejaVu", size=9)


def _families(pdf: _Briefing, final: FinalList, lang: str) -> None:
    """The list in plain cells (a table object per 30,000 rows is slow), header repeated per page."""
    header = [TEXT[lang]["no"], *(HEADERS[lang][c] for c in PDF_COLUMNS)]
    widths = (10, *PDF_WIDTHS)
    rows = _family_rows(final, lang, PDF_COLUMNS)
    head = FontFace(emphasis="BOLD", fill_color=(238, 241, 244))
    pdf.set_font("DejaVu", size=6.5)
    with pdf.table(
        col_widths=widths,
        headings_style=head,
        line_height=3.4,
        padding=0.6,
        text_align=("RIGHT", "LEFT", "LEFT", "LEFT", "LEFT", "LEFT", "RIGHT", "RIGHT", "LEFT"),
        repeat_headings=1,
    ) as table:
        table.row([str(h) for h in header])
        for number, row in enumerate(rows, start=1):
            table.row([str(number), *(str(v) for v in row)])
    pdf.ln(3)
    pdf.set_font("DejaVu", size=9)


def _signature(pdf: _Briefing, words: dict[str, str]) -> None:
    """Who prepared the list and the Bupati's signature block, kept together on one page."""
    if pdf.get_y() > pdf.h - 75:
        pdf.add_page(orientation="L")
    pdf.ln(4)
    pdf.paragraph(words["prepared"], size=8)
    pdf.ln(4)
    x = pdf.w - pdf.r_margin - 100
    pdf.set_font("DejaVu", size=10)
    for text, gap in ((words["place_date"], 6), (words["signer"], 28), (words["signature_name"], 6)):
        pdf.set_x(x)
        pdf.cell(100, 6, text, align="C", new_x="LMARGIN", new_y="NEXT")
        pdf.ln(gap - 6 if gap > 6 else 0)
