"""From villages to families: the by-name list of a selection, and the register's anonymised microdata.

`family_list` reads the register with the key (`layers.register.read_register`) for the chosen
villages and one year, scores every family with the store's household spec and ranks them by their
own score, the poorest first, with their priority groups, decile and main deprivations flagged.
`write_family_list` writes it as XLSX, CSV or PDF, in Bahasa Indonesia or English, every page and
sheet marked as personal data. ``sasaran households list`` and the verification module's endpoint
write through it; each caller records the list in the audit trail (who, when, which villages).

`anonymised` gives the microdata an analyst may hold: a keyed hash of the family id, the village,
members, year and every column the household indicator set reads, under the names it reads them,
and nothing that names a person or places a family more finely than its village's or its cell's
access values. ``sasaran mpi FILE.csv --indicators layers/data/household_indicators.toml
--weight-column members --group-by village_code`` on it gives the store's household figures.
"""

from __future__ import annotations

import csv
import io
import logging
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from layers.atomic import atomic_path
from layers.errors import InvalidQuery
from layers.export.wording import check_lang
from layers.register import REGISTER_COLUMNS, RegisterKey, check_key, read_register
from layers.scoring.households import HouseholdFrame, default_household_spec
from layers.scoring.rescore import ScoringFrame
from layers.store import LayerStore

#: Formats of a by-name list.
LIST_FORMATS: tuple[str, ...] = ("xlsx", "csv", "pdf")
#: Most villages one list may name (a kabupaten has a few hundred; a province ~1,600).
MAX_VILLAGES = 5_000

#: Short words for the household indicators, for a list's "main deprivations" column.
INDICATOR_WORDS: dict[str, tuple[str, str]] = {
    "hh_income_decile_1_4": ("desil 1-4", "decile 1-4"),
    "hh_income_decile_1": ("desil 1", "decile 1"),
    "hh_edu_head": ("pendidikan KK", "head's schooling"),
    "hh_edu_children": ("anak tidak sekolah", "child out of school"),
    "hh_edu_dist_sd": ("jauh dari SD", "far from SD"),
    "hh_edu_dist_smp": ("jauh dari SMP", "far from SMP"),
    "hh_health_cover": ("tanpa JKN", "no JKN"),
    "hh_health_time_primary": ("jauh dari puskesmas", "far from puskesmas"),
    "hh_health_time_hospital": ("jauh dari RS", "far from hospital"),
    "hh_qol_floor": ("lantai", "floor"),
    "hh_qol_walls": ("dinding", "walls"),
    "hh_qol_water": ("air minum", "drinking water"),
    "hh_qol_sanitation": ("sanitasi", "sanitation"),
    "hh_qol_electricity": ("listrik", "electricity"),
    "hh_qol_cooking_fuel": ("bahan bakar", "cooking fuel"),
    "hh_qol_road": ("jauh dari jalan", "far from road"),
}

#: The list's columns (canonical name -> Bahasa Indonesia, English), in order.
LIST_COLUMNS: dict[str, tuple[str, str]] = {
    "rank": ("Peringkat", "Rank"),
    "village_code": ("Kode desa", "Village code"),
    "village_name": ("Desa/kelurahan", "Village"),
    "kecamatan_name": ("Kecamatan", "Kecamatan"),
    "family_id": (REGISTER_COLUMNS["family_id"].title.id, REGISTER_COLUMNS["family_id"].title.en),
    "nik": (REGISTER_COLUMNS["nik"].title.id, REGISTER_COLUMNS["nik"].title.en),
    "head_name": (REGISTER_COLUMNS["head_name"].title.id, REGISTER_COLUMNS["head_name"].title.en),
    "address": (REGISTER_COLUMNS["address"].title.id, REGISTER_COLUMNS["address"].title.en),
    "decile": ("Desil", "Decile"),
    "members": ("Anggota", "Members"),
    "c": ("Skor deprivasi keluarga c", "Family's deprivation score c"),
    "poor": ("Miskin multidimensi", "MPI-poor"),
    "severe": ("Miskin parah", "Severely poor"),
    "p3ke": ("Desil 1-4 (P3KE)", "Decile 1-4 (P3KE)"),
    "elderly": ("Lansia", "Elderly"),
    "disabled": ("Disabilitas", "With disability"),
    "female_head": ("KK perempuan", "Female head"),
    "priority": ("Kelompok prioritas", "Priority groups"),
    "deprivations": ("Deprivasi utama", "Main deprivations"),
}
_PRIORITY_WORDS = {
    "elderly": ("lansia", "elderly"),
    "disabled": ("disabilitas", "disability"),
    "female_head": ("KK perempuan", "female head"),
}
_NOTICE = {
    "id": "RAHASIA: data pribadi (UU No. 27 Tahun 2022 tentang Pelindungan Data Pribadi). Hanya untuk "
    "petugas yang berwenang; jangan disebarkan.",
    "en": "CONFIDENTIAL: personal data (Law No. 27 of 2022 on Personal Data Protection). For authorised "
    "officers only; do not pass on.",
}
_SYNTHETIC = {
    "id": "DATA SINTETIS (demo): bukan orang, NIK atau alamat sebenarnya.",
    "en": "SYNTHETIC demo data: not real people, NIKs or addresses.",
}


@dataclass(frozen=True)
class FamilyList:
    """The families of some villages in one year, ranked by their own score (poorest first)."""

    families: pd.DataFrame
    """One row per family: `LIST_COLUMNS` in canonical names (`poor`, `p3ke` ... booleans)."""
    deprived: np.ndarray
    """families × indicators: where each family is deprived (rows in the list's order)."""
    indicators: list[str]
    weights: np.ndarray
    year: int
    villages: list[str]
    k: float
    spec_source: str
    store_name: str
    build_id: str
    synthetic: bool
    created: str = field(default_factory=lambda: datetime.now(UTC).isoformat(timespec="seconds"))

    def summary(self) -> str:
        """One line for the audit trail and the command line (counts only: nothing personal)."""
        frame = self.families
        return (
            f"{len(frame)} families in {len(self.villages)} village(s), {self.year}: "
            f"{int(frame['poor'].sum())} MPI-poor"
        )


def family_list(
    store: LayerStore,
    key: RegisterKey | None,
    villages: Sequence[str],
    year: int | None = None,
    scoring: ScoringFrame | None = None,
) -> FamilyList:
    """The families of ``villages`` in ``year`` (the register's latest by default), ranked.

    Parameters
    ----------
    store
        An open store with a register.
    key
        The register key (`layers.register.load_key`); `layers.register.RegisterLocked` without
        the right one.
    villages
        Village codes (a selection's, or a kabupaten's); an unknown code is `InvalidQuery`.
    year
        A year of the register.
    scoring
        The store's prepared scoring frame (prepared here when not given).

    Returns
    -------
    FamilyList
        Ranked by the family's own score c (descending), then decile, then members (larger first).
    """
    check_key(store, key)
    codes = list(dict.fromkeys(str(v) for v in villages))
    if not codes:
        raise InvalidQuery("no village to list families of")
    if len(codes) > MAX_VILLAGES:
        raise InvalidQuery(f"{len(codes):,} villages; a list may name at most {MAX_VILLAGES:,}")
    layer = store.layer("villages")
    known = pd.Index(layer["village_code"].astype(str))
    unknown = [c for c in codes if c not in known]
    if unknown:
        raise InvalidQuery(f"unknown village code(s) {unknown[:5]} ({len(unknown)} in all)")
    scoring = scoring if scoring is not None else ScoringFrame.from_store(store)
    households = scoring.households
    if households is None or households.spec is None:
        raise InvalidQuery("this store has no register of families")
    year, _ = households.rows_of(year)
    register = read_register(store, key, villages=codes, positions=True)
    register = register[register["year"] == year]
    families, deprived = _ranked(households, register, year, layer)
    return FamilyList(
        families=families,
        deprived=deprived,
        indicators=list(households.spec.names),
        weights=np.asarray(households.spec.weights),
        year=year,
        villages=codes,
        k=float(households.spec.k),
        spec_source=_spec_source(households),
        store_name=str(store.manifest.get("name", "")),
        build_id=str(store.manifest.get("build_id", "")),
        synthetic=store.synthetic,
    )


def _spec_source(households: HouseholdFrame) -> str:
    """Which household indicator set scored the list: the packaged one, or the build's own."""
    spec = households.spec
    default = default_household_spec()
    same = (
        spec is not None and spec.names == default.names and spec.cutoffs.tolist() == default.cutoffs.tolist()
    )
    return default.source if same else "the build's own set ([sources.households] indicators)"


def _ranked(
    households: HouseholdFrame, register: pd.DataFrame, year: int, layer: pd.DataFrame
) -> tuple[pd.DataFrame, np.ndarray]:
    """The register rows with their scores and flags, ranked, and their deprivations (same order)."""
    spec = households.spec
    assert spec is not None
    scores = households.score(spec, year)
    # Position of each listed family among the year's scored families (rows of the frame).
    at = pd.Index(scores.rows).get_indexer(register["_row"].to_numpy())
    units = scores.scores
    names = layer.set_index(layer["village_code"].astype(str))
    out = pd.DataFrame(
        {
            "village_code": register["village_code"].astype(str).to_numpy(),
            "family_id": register["family_id"].to_numpy(),
            "nik": register["nik"].to_numpy(),
            "head_name": register["head_name"].to_numpy(),
            "address": register["address"].to_numpy(),
            "decile": register["decile"].to_numpy(),
            "members": register["members"].to_numpy(),
            "c": units.c[at],
            "poor": units.poor[at],
            "severe": units.severe[at],
            "p3ke": (register["decile"] <= 4).to_numpy(bool),
            "elderly": register["elderly"].fillna(0).to_numpy() if "elderly" in register else 0,
            "disabled": register["disabled"].fillna(0).to_numpy() if "disabled" in register else 0,
            "female_head": register["female_head"].fillna(False).to_numpy(bool)
            if "female_head" in register
            else False,
        }
    )
    out["village_name"] = names["village_name"].reindex(out["village_code"]).to_numpy()
    out["kecamatan_name"] = names["kecamatan_name"].reindex(out["village_code"]).to_numpy()
    order = np.lexsort((-out["members"].to_numpy(np.float64), out["decile"].to_numpy(np.float64),
                        -np.nan_to_num(out["c"].to_numpy(np.float64), nan=-1.0)))  # fmt: skip
    out = out.iloc[order].reset_index(drop=True)
    out["rank"] = np.arange(1, len(out) + 1)
    return out, units.deprived[at][order]


def _words(families: FamilyList, lang: str) -> tuple[list[str], list[str]]:
    """Each family's priority groups and main deprivations (heaviest first) as text."""
    frame = families.families
    at = 0 if lang == "id" else 1
    groups = [
        np.where(frame[c].to_numpy() > 0, _PRIORITY_WORDS[c][at] + ", ", "") for c in ("elderly", "disabled")
    ]
    groups.append(
        np.where(frame["female_head"].to_numpy(bool), _PRIORITY_WORDS["female_head"][at] + ", ", "")
    )
    priority = [s.rstrip(", ") for s in np.char.add(np.char.add(groups[0], groups[1]), groups[2]).tolist()]
    order = np.argsort(-families.weights, kind="stable")
    labels = np.array([INDICATOR_WORDS.get(n, (n, n))[at] for n in families.indicators], dtype=object)
    ordered = families.deprived[:, order]
    text = np.full(len(frame), "", dtype=object)
    for j, label in enumerate(labels[order]):  # a loop over the few indicators, not the families
        text = np.where(ordered[:, j], np.where(text == "", label, text + ", " + label), text)
    return priority, text.tolist()


def list_table(families: FamilyList, lang: str = "id") -> pd.DataFrame:
    """The list as people read it: headers and yes/no in ``lang``, scores rounded."""
    check_lang(lang)
    frame = families.families
    at = 0 if lang == "id" else 1
    yes, no = ("ya", "tidak") if lang == "id" else ("yes", "no")
    priority, deprivations = _words(families, lang)
    table = pd.DataFrame(
        {
            "rank": frame["rank"].to_numpy(),
            "village_code": frame["village_code"].to_numpy(),
            "village_name": frame["village_name"].to_numpy(),
            "kecamatan_name": frame["kecamatan_name"].to_numpy(),
            "family_id": frame["family_id"].to_numpy(),
            "nik": frame["nik"].to_numpy(),
            "head_name": frame["head_name"].to_numpy(),
            "address": frame["address"].to_numpy(),
            "decile": frame["decile"].to_numpy(),
            "members": frame["members"].to_numpy(),
            "c": np.round(frame["c"].to_numpy(np.float64), 4),
            "poor": np.where(frame["poor"].to_numpy(bool), yes, no),
            "severe": np.where(frame["severe"].to_numpy(bool), yes, no),
            "p3ke": np.where(frame["p3ke"].to_numpy(bool), yes, no),
            "elderly": frame["elderly"].to_numpy(),
            "disabled": frame["disabled"].to_numpy(),
            "female_head": np.where(frame["female_head"].to_numpy(bool), yes, no),
            "priority": priority,
            "deprivations": deprivations,
        }
    )
    return table.rename(columns={name: words[at] for name, words in LIST_COLUMNS.items()})


def list_filename(families: FamilyList, fmt: str) -> str:
    """Download name, e.g. ``daftar-keluarga-2024-6201010001-synthetic.xlsx``."""
    place = families.villages[0] if len(families.villages) == 1 else f"{len(families.villages)}-desa"
    return f"daftar-keluarga-{families.year}-{place}{'-synthetic' if families.synthetic else ''}.{fmt}"


def about_items(families: FamilyList, lang: str) -> list[tuple[str, str]]:
    """The parameters of a list, for its about sheet and PDF header (nothing personal)."""
    check_lang(lang)
    id_ = lang == "id"
    items = [
        ("Catatan" if id_ else "Notice", _NOTICE[lang]),
        ("Tahun" if id_ else "Year", str(families.year)),
        ("Desa" if id_ else "Villages", ", ".join(families.villages)),
        ("Keluarga" if id_ else "Families", str(len(families.families))),
        ("Miskin multidimensi" if id_ else "MPI-poor", str(int(families.families["poor"].sum()))),
        ("Batas miskin k" if id_ else "Poverty cutoff k", f"{families.k:.4f}"),
        ("Set indikator" if id_ else "Indicator set", families.spec_source),
        ("Urutan" if id_ else "Order",
         "skor keluarga c menurun, lalu desil, lalu anggota" if id_ else
         "family's score c descending, then decile, then members"),
        ("Penyimpanan" if id_ else "Store", families.store_name),
        ("ID build" if id_ else "Build id", families.build_id),
        ("Dibuat" if id_ else "Created", families.created),
    ]  # fmt: skip
    if families.synthetic:
        items.insert(1, ("Data", _SYNTHETIC[lang]))
    return items


def write_family_list(families: FamilyList, path: str | Path, fmt: str, lang: str = "id") -> Path:
    """Write a by-name list to ``path`` atomically as XLSX, CSV or PDF.

    Parameters
    ----------
    families
        The list (`family_list`).
    path
        The file to (re)place.
    fmt
        One of `LIST_FORMATS`.
    lang
        ``id`` (default) or ``en``.

    Returns
    -------
    Path
        The written file. The caller records it in the audit trail.
    """
    if fmt not in LIST_FORMATS:
        raise InvalidQuery(f"format must be one of {', '.join(LIST_FORMATS)}, got '{fmt}'")
    check_lang(lang)
    table = list_table(families, lang)
    path = Path(path)
    with atomic_path(path) as tmp:
        if fmt == "csv":
            _write_csv(table, about_items(families, lang), tmp)
        elif fmt == "xlsx":
            _write_xlsx(table, about_items(families, lang), tmp, lang)
        else:
            _write_pdf(table, families, tmp, lang)
    return path


def _write_csv(table: pd.DataFrame, about: list[tuple[str, str]], path: Path) -> None:
    # utf-8-sig: Excel reads the names' accents right. The notice comes first, as a comment line a
    # spreadsheet shows above the header.
    buffer = io.StringIO()
    buffer.write(f"# {about[0][1]}\n")
    table.to_csv(buffer, index=False, quoting=csv.QUOTE_MINIMAL, lineterminator="\n")
    path.write_text(buffer.getvalue(), encoding="utf-8-sig")


#: Column widths of the list's sheet (characters), in `LIST_COLUMNS` order.
_WIDTHS = (9, 12, 22, 18, 22, 19, 26, 44, 7, 9, 11, 11, 10, 10, 7, 10, 11, 28, 48)


def _write_xlsx(table: pd.DataFrame, about: list[tuple[str, str]], path: Path, lang: str) -> None:
    """The list as an XLSX workbook whose sheet XML is built column by column with Arrow.

    A 30,000-family list is 600,000 cells: a writer that makes a Python object per cell
    (openpyxl: 26 s on the benchmark machine) is far from the 5 s a by-name list may take. Cells
    are inline strings (text, the NIK and ids always as text: a spreadsheet keeps 15 digits of a
    number) or numbers; the notice row is red, the header bold, frozen and filtered.
    """
    import zipfile

    sheet = "keluarga" if lang == "id" else "families"
    about_name = "tentang" if lang == "id" else "about"
    header = [_text_cell(_letter(j), 2, str(name), style=1) for j, name in enumerate(table.columns)]
    notice = _text_cell("A", 1, about[0][1], style=2)
    rows = _rows_xml(table, first_row=3)
    last = f"{_letter(len(table.columns) - 1)}{len(table) + 2}"
    cols = "".join(
        f'<col min="{j + 1}" max="{j + 1}" width="{_WIDTHS[j] if j < len(_WIDTHS) else 14}" customWidth="1"/>'
        for j in range(len(table.columns))
    )
    body = (
        f'{_XML}<worksheet xmlns="{_MAIN}" xmlns:r="{_REL}">'
        '<sheetViews><sheetView workbookViewId="0"><pane ySplit="2" topLeftCell="A3" activePane="bottomLeft" '
        'state="frozen"/></sheetView></sheetViews>'
        f"<cols>{cols}</cols><sheetData>"
        f'<row r="1">{notice}</row><row r="2">{"".join(header)}</row>'
    )
    end = f'</sheetData><autoFilter ref="A2:{last}"/></worksheet>'
    about_rows = "".join(
        f'<row r="{i + 1}">{_text_cell("A", i + 1, item, 1)}{_text_cell("B", i + 1, value)}</row>'
        for i, (item, value) in enumerate(about)
    )
    about_xml = (
        f'{_XML}<worksheet xmlns="{_MAIN}" xmlns:r="{_REL}">'
        f'<cols><col min="1" max="1" width="24" customWidth="1"/><col min="2" max="2" width="100" '
        f'customWidth="1"/></cols><sheetData>{about_rows}</sheetData></worksheet>'
    )
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED, compresslevel=1) as archive:
        archive.writestr("[Content_Types].xml", _CONTENT_TYPES)
        archive.writestr("_rels/.rels", _ROOT_RELS)
        archive.writestr("xl/workbook.xml", _workbook(sheet, about_name, f"$A$2:${last[0]}${len(table) + 2}"))
        archive.writestr("xl/_rels/workbook.xml.rels", _WORKBOOK_RELS)
        archive.writestr("xl/styles.xml", _STYLES)
        with archive.open("xl/worksheets/sheet1.xml", "w") as stream:
            stream.write(body.encode())
            for chunk in rows:
                stream.write(chunk)
            stream.write(end.encode())
        archive.writestr("xl/worksheets/sheet2.xml", about_xml)


_XML = '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n'
_MAIN = "http://schemas.openxmlformats.org/spreadsheetml/2006/main"
_REL = "http://schemas.openxmlformats.org/officeDocument/2006/relationships"
_CONTENT_TYPES = (
    '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n'
    '<Types xmlns="http://schemas.openxmlformats.org/package/2006/content-types">'
    '<Default Extension="rels" ContentType="application/vnd.openxmlformats-package.relationships+xml"/>'
    '<Default Extension="xml" ContentType="application/xml"/>'
    '<Override PartName="/xl/workbook.xml" '
    'ContentType="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet.main+xml"/>'
    '<Override PartName="/xl/worksheets/sheet1.xml" '
    'ContentType="application/vnd.openxmlformats-officedocument.spreadsheetml.worksheet+xml"/>'
    '<Override PartName="/xl/worksheets/sheet2.xml" '
    'ContentType="application/vnd.openxmlformats-officedocument.spreadsheetml.worksheet+xml"/>'
    '<Override PartName="/xl/styles.xml" '
    'ContentType="application/vnd.openxmlformats-officedocument.spreadsheetml.styles+xml"/></Types>'
)
_ROOT_RELS = (
    '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n'
    '<Relationships xmlns="http://schemas.openxmlformats.org/package/2006/relationships">'
    '<Relationship Id="rId1" Type="http://schemas.openxmlformats.org/officeDocument/2006/relationships/'
    'officeDocument" Target="xl/workbook.xml"/></Relationships>'
)
_WORKBOOK_RELS = (
    '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n'
    '<Relationships xmlns="http://schemas.openxmlformats.org/package/2006/relationships">'
    f'<Relationship Id="rId1" Type="{_REL}/worksheet" Target="worksheets/sheet1.xml"/>'
    f'<Relationship Id="rId2" Type="{_REL}/worksheet" Target="worksheets/sheet2.xml"/>'
    f'<Relationship Id="rId3" Type="{_REL}/styles" Target="styles.xml"/></Relationships>'
)
#: Cell styles: 0 plain, 1 bold (headers), 2 bold red on pink (the personal-data notice).
_STYLES = (
    f'<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n<styleSheet xmlns="{_MAIN}">'
    '<fonts count="3"><font><sz val="11"/><name val="Calibri"/></font>'
    '<font><b/><sz val="11"/><name val="Calibri"/></font>'
    '<font><b/><color rgb="FFB00020"/><sz val="11"/><name val="Calibri"/></font></fonts>'
    '<fills count="3"><fill><patternFill patternType="none"/></fill>'
    '<fill><patternFill patternType="gray125"/></fill>'
    '<fill><patternFill patternType="solid"><fgColor rgb="FFFDE9E7"/></patternFill></fill></fills>'
    '<borders count="1"><border/></borders><cellStyleXfs count="1"><xf/></cellStyleXfs>'
    '<cellXfs count="3"><xf/><xf fontId="1" applyFont="1"/><xf fontId="2" fillId="2" applyFont="1" '
    'applyFill="1"/></cellXfs><cellStyles count="1"><cellStyle name="Normal" xfId="0" builtinId="0"/>'
    "</cellStyles></styleSheet>"
)


def _workbook(sheet: str, about: str, filtered: str) -> str:
    return (
        f'{_XML}<workbook xmlns="{_MAIN}" xmlns:r="{_REL}">'
        f'<sheets><sheet name="{sheet}" sheetId="1" r:id="rId1"/><sheet name="{about}" sheetId="2" '
        f'r:id="rId2"/></sheets><definedNames><definedName name="_xlnm._FilterDatabase" localSheetId="0" '
        f"hidden=\"1\">'{sheet}'!{filtered}</definedName></definedNames></workbook>"
    )


def _letter(j: int) -> str:
    """The spreadsheet column of position ``j`` (A, B, ..., Z, AA, ...)."""
    name = ""
    j += 1
    while j:
        j, rest = divmod(j - 1, 26)
        name = chr(ord("A") + rest) + name
    return name


def _escape(text: str) -> str:
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def _text_cell(column: str, row: int, text: str, style: int = 0) -> str:
    styled = f' s="{style}"' if style else ""
    return (
        f'<c r="{column}{row}" t="inlineStr"{styled}><is><t xml:space="preserve">{_escape(text)}</t></is></c>'
    )


def _rows_xml(table: pd.DataFrame, first_row: int, chunk: int = 20_000) -> Iterator[bytes]:
    """The sheet's data rows as XML, ``chunk`` rows at a time, each column's cells made by Arrow."""
    import pyarrow as pa
    import pyarrow.compute as pc

    for start in range(0, len(table), chunk):
        part = table.iloc[start : start + chunk]
        numbers = pa.array(np.arange(first_row + start, first_row + start + len(part)).astype(str))
        cells = []
        for j, column in enumerate(part.columns):
            ref = pc.binary_join_element_wise(f'<c r="{_letter(j)}', numbers, '"', "")
            values = part[column]
            if pd.api.types.is_numeric_dtype(values.dtype) and not pd.api.types.is_bool_dtype(values.dtype):
                array = pa.array(values.to_numpy(np.float64, na_value=np.nan), from_pandas=True)
                whole = pc.equal(array, pc.floor(array))
                text = pc.if_else(whole, pc.cast(pc.cast(array, pa.int64(), safe=False), pa.string()),
                                  pc.cast(array, pa.string()))  # fmt: skip
                cell = pc.binary_join_element_wise(ref, "><v>", text, "</v></c>", "")
            else:
                text = pa.array(values.astype(object).where(values.notna(), None).to_numpy(), pa.string())
                text = pc.replace_substring_regex(text, r"[\x00-\x08\x0b\x0c\x0e-\x1f]", "")
                for old, new in (("&", "&amp;"), ("<", "&lt;"), (">", "&gt;")):
                    text = pc.replace_substring(text, old, new)
                cell = pc.binary_join_element_wise(
                    ref, ' t="inlineStr"><is><t xml:space="preserve">', text, "</t></is></c>", ""
                )
            cells.append(pc.fill_null(cell, ""))  # a missing value: no cell
        rows = pc.binary_join_element_wise(
            pc.binary_join_element_wise('<row r="', numbers, '">', ""), *cells, "</row>", ""
        )
        yield "".join(rows.to_pylist()).encode()


def _write_pdf(table: pd.DataFrame, families: FamilyList, path: Path, lang: str) -> None:
    from fpdf import FPDF

    # fontTools logs every glyph table it subsets at INFO: a list is read, not its font.
    logging.getLogger("fontTools").setLevel(logging.WARNING)

    from layers.export.briefing import FONT_DIR

    notice = _NOTICE[lang] + (" " + _SYNTHETIC[lang] if families.synthetic else "")

    class _List(FPDF):
        def header(self) -> None:
            self.set_font("DejaVu", "B", 7)
            self.set_text_color(176, 0, 32)
            self.multi_cell(0, 3.5, notice, new_x="LMARGIN", new_y="NEXT")
            self.set_text_color(0, 0, 0)
            self.ln(1)

        def footer(self) -> None:
            self.set_y(-10)
            self.set_font("DejaVu", "", 6.5)
            self.cell(0, 5, f"{families.summary()} · {self.page_no()}/{{nb}}", align="C")

    pdf = _List(orientation="L", unit="mm", format="A4")
    pdf.add_font("DejaVu", "", str(FONT_DIR / "DejaVuSans.ttf"))
    pdf.add_font("DejaVu", "B", str(FONT_DIR / "DejaVuSans-Bold.ttf"))
    pdf.set_auto_page_break(False)
    pdf.alias_nb_pages()
    pdf.add_page()
    pdf.set_font("DejaVu", "B", 11)
    title = "Daftar keluarga" if lang == "id" else "List of families"
    pdf.cell(0, 7, f"{title} {families.year}", new_x="LMARGIN", new_y="NEXT")
    pdf.set_font("DejaVu", "", 7)
    for item, value in about_items(families, lang)[1:]:
        pdf.multi_cell(0, 3.6, f"{item}: {value}", new_x="LMARGIN", new_y="NEXT")
    pdf.ln(2)
    keep = ["rank", "village_name", "family_id", "nik", "head_name", "address", "decile", "members", "c",
            "poor", "priority", "deprivations"]  # fmt: skip
    at = 0 if lang == "id" else 1
    short = {
        "rank": ("No.", "No."),
        "c": ("Skor c", "Score c"),
        "members": ("Anggota", "Members"),
        "poor": ("Miskin MPI", "MPI-poor"),
        "priority": ("Prioritas", "Priority"),
    }
    headings = [short[name][at] if name in short else LIST_COLUMNS[name][at] for name in keep]
    widths = (9, 24, 30, 27, 28, 42, 10, 14, 12, 14, 24, 43)
    lines = [
        _two_lines(table[LIST_COLUMNS[name][at]], width) for name, width in zip(keep, widths, strict=True)
    ]
    _pdf_rows(pdf, headings, widths, lines)
    pdf.output(str(path))


#: Height of a list row in the PDF (two lines of 6-point text), mm.
_ROW_MM = 6.4
#: Characters of 6-point DejaVu Sans per mm of column (a generous average: narrow letters fit more).
_CHARS_PER_MM = 0.82


def _two_lines(column: pd.Series, width_mm: float) -> tuple[list[str], list[str]]:
    """A column's cells as two lines that fit the column (wrapped at words; the rest cut with …)."""
    size = max(int(width_mm * _CHARS_PER_MM), 3)
    text = (
        column.map(_pdf_text)
        if column.dtype.kind == "f"
        else column.astype(str).replace({"None": "", "nan": ""})
    )
    wrapped = text.str.wrap(size, break_long_words=True).str.split("\n", n=1, expand=True)
    first = wrapped[0].fillna("")
    second = (
        wrapped[1].fillna("").str.replace("\n", " ") if 1 in wrapped else pd.Series("", index=first.index)
    )
    long = second.str.len() > size
    second = second.where(~long, second.str.slice(0, size - 1) + "…")
    return first.tolist(), second.tolist()


def _pdf_rows(
    pdf: Any, headings: list[str], widths: tuple[float, ...], lines: list[tuple[list[str], list[str]]]
) -> None:
    """The table: text placed directly (no cell layout per value: 30,000 families in seconds), rules
    drawn once per row and column, headings repeated on every page."""
    left = pdf.l_margin
    edges = np.concatenate([[left], left + np.cumsum(widths)])
    bottom = pdf.h - 12
    n = len(lines[0][0])

    def heading() -> float:
        pdf.set_font("DejaVu", "B", 6)
        top = pdf.get_y()
        for x, title in zip(edges[:-1], headings, strict=True):
            pdf.text(float(x) + 0.8, top + 3.6, title)
        pdf.line(float(edges[0]), top + _ROW_MM, float(edges[-1]), top + _ROW_MM)
        pdf.set_font("DejaVu", "", 6)
        return top + _ROW_MM

    y = heading()
    top = y - _ROW_MM
    for i in range(n):  # one pass per row: fpdf2 draws text one string at a time
        if y + _ROW_MM > bottom:
            for x in edges:
                pdf.line(float(x), top, float(x), y)
            pdf.add_page()
            y = heading()
            top = y - _ROW_MM
        for x, (first, second) in zip(edges[:-1], lines, strict=True):
            if first[i]:
                pdf.text(float(x) + 0.8, y + 2.6, first[i])
            if second[i]:
                pdf.text(float(x) + 0.8, y + 5.4, second[i])
        y += _ROW_MM
        pdf.line(float(edges[0]), y, float(edges[-1]), y)
    for x in edges:
        pdf.line(float(x), top, float(x), y)


def _pdf_text(value: Any) -> str:
    if isinstance(value, float):
        return "" if not np.isfinite(value) else f"{value:.4f}"
    return str(value)


# ------------------------------------------------------------------------------------------------
# Anonymised microdata
# ------------------------------------------------------------------------------------------------


def anonymised(store: LayerStore, key: RegisterKey | None, year: int | None = None) -> pd.DataFrame:
    """The register as microdata an analyst may hold: no name, NIK, address or coordinates.

    Columns: ``family`` (a keyed hash of the family id, the same for the same family in every
    export under the same key), ``village_code``, ``members``, ``year`` (when the register has
    years) and every column the store's household indicator set reads, under the names it reads
    them (access values are the family's H3 cell's, else its village's: never finer than a cell).

    Parameters
    ----------
    store
        An open store with a register.
    key
        The register key (the hash is keyed by it).
    year
        Only this year; default every year of the register.
    """
    key = check_key(store, key)
    scoring = ScoringFrame.from_store(store)
    households = scoring.households
    if households is None or households.spec is None:
        raise InvalidQuery("this store has no register of families")
    register = read_register(store, key, positions=True)
    if year is not None:
        households.rows_of(year)
        register = register[register["year"] == year]
    rows = register["_row"].to_numpy()
    out = pd.DataFrame(
        {
            "family": key.family_hash(register["family_id"]).to_numpy(),
            "village_code": register["village_code"].astype(str).to_numpy(),
            "members": register["members"].astype("Int64").to_numpy(),
        }
    )
    if store.manifest["households"].get("dated", True):
        out.insert(3, "year", register["year"].to_numpy())
    for column in dict.fromkeys(households.spec.columns):
        if column not in out:
            values = households.matrix([column], rows)[:, 0]
            # Register answers are whole numbers (codes, counts); access values are measurements.
            whole = column in households.values and bool(
                np.all(np.isnan(values) | (values == np.round(values)))
            )
            out[column] = pd.array(values, dtype="Float64").astype("Int64") if whole else values
    return out


def write_anonymised(frame: pd.DataFrame, path: str | Path) -> Path:
    """Write the anonymised microdata as CSV: Arrow's writer, whose numbers read back exactly
    (shortest round-trip digits, ``inf`` for an unreachable place, empty for a missing answer)."""
    import pyarrow as pa
    import pyarrow.csv as pacsv

    path = Path(path)
    table = pa.Table.from_pandas(frame, preserve_index=False)
    options = pacsv.WriteOptions(quoting_style="needed")
    with atomic_path(path) as tmp:
        pacsv.write_csv(table, tmp, write_options=options)
    return path


__all__ = [
    "LIST_FORMATS",
    "FamilyList",
    "about_items",
    "anonymised",
    "family_list",
    "list_filename",
    "list_table",
    "write_anonymised",
    "write_family_list",
]
