"""The files a selection of villages is downloaded as: JSON, CSV, XLSX, a GeoPackage and a PDF briefing.

``sasaran target --format`` and ``POST /targets?f=`` write the same files through `write_targets`.
Tables for people (CSV, XLSX, PDF) have headers in Bahasa Indonesia or English (``lang``) and the
reasons in sentences (`layers.export.wording`); the JSON and the GeoPackage keep the field names
(for programs and GIS). Every number is the answer's own (`layers.targeting.result` rounded it once).

- **CSV** follows the spreadsheet habits of the language (docs/targeting.md, "Files"): ``lang=id``
  is the Indonesian Excel dialect, ``;`` between fields and ``,`` before decimals; ``lang=en`` uses
  ``,`` and ``.``. Both are UTF-8 with a byte-order mark (Excel then reads the names' accents right),
  numbers without thousands separators.
- **XLSX** stores numbers as numbers with number formats (thousands grouped, percentages), a total
  row under each table whose rows add up, an autofilter and frozen headers.
"""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import pandas as pd

from layers.atomic import atomic_path
from layers.errors import InvalidQuery
from layers.export.formats import TARGET_FORMATS
from layers.export.wording import (
    Item,
    Table,
    about_items,
    below_line_table,
    by_kabupaten_table,
    by_kecamatan_table,
    check_lang,
    guarded_table,
    number_format,
    provenance_items,
    selected_table,
    summary_items,
    word,
)
from layers.store import Provenance
from layers.targeting.result import TargetResult

#: CSV field separator and decimal mark by language.
CSV_DIALECTS: dict[str, tuple[str, str]] = {"id": (";", ","), "en": (",", ".")}


def target_filename(result: TargetResult, fmt: str, synthetic: bool) -> str:
    """Download name of a selection, e.g. ``sasaran-targets-2024-synthetic.xlsx``.

    Parameters
    ----------
    result
        The selection.
    fmt
        File extension.
    synthetic
        Whether the store is the synthetic demo (then the name says so).

    Returns
    -------
    str
        The file name.
    """
    return f"sasaran-targets-{result.year}{'-synthetic' if synthetic else ''}.{fmt}"


def targets_csv(result: TargetResult, lang: str) -> str:
    """The ranked list and its total row as CSV text in the spreadsheet dialect of `CSV_DIALECTS`."""
    sep, decimal = CSV_DIALECTS[check_lang(lang)]
    return str(
        selected_table(result, lang)
        .frame(lang, with_total=True)
        .to_csv(index=False, sep=sep, decimal=decimal)
    )


def write_targets(
    result: TargetResult,
    path: str | Path,
    fmt: str,
    villages: pd.DataFrame | None = None,
    synthetic: bool = False,
    lang: str = "id",
    provenance: Provenance | None = None,
    slide: bool = False,
) -> Path:
    """Write a selection to ``path`` atomically as json, csv, xlsx, gpkg or pdf.

    Parameters
    ----------
    result
        The selection.
    path
        The file to (re)place.
    fmt
        One of `TARGET_FORMATS`.
    villages
        The store's villages layer (geometry for gpkg, required there, and the PDF's map).
    synthetic
        Whether the store is the synthetic demo (said in the XLSX, the GeoPackage and the PDF).
    lang
        ``id`` (default) or ``en``: the headers and words of the CSV, XLSX and PDF.
    provenance
        The store's name, build id and date and sources (`LayerStore.provenance`: the XLSX about
        sheet and the PDF); its ``synthetic`` counts as ``synthetic``.
    slide
        PDF only: add a slide-sized (16:9) summary page first.

    Returns
    -------
    Path
        The written file.
    """
    if fmt not in TARGET_FORMATS:
        raise InvalidQuery(f"format must be one of {', '.join(TARGET_FORMATS)} for a file, got '{fmt}'")
    check_lang(lang)
    synthetic = synthetic or (provenance is not None and provenance.synthetic)
    if provenance is not None and synthetic != provenance.synthetic:
        provenance = replace(provenance, synthetic=synthetic)
    path = Path(path)
    with atomic_path(path) as tmp:
        if fmt == "json":
            tmp.write_text(result.model_dump_json(indent=2) + "\n", encoding="utf-8")
        elif fmt == "csv":
            # utf-8-sig: Excel, which planners open a CSV with, reads the names' accents right
            tmp.write_text(targets_csv(result, lang), encoding="utf-8-sig")
        elif fmt == "xlsx":
            write_xlsx(result, tmp, lang, provenance)
        elif fmt == "pdf":
            from layers.export.briefing import write_briefing  # matplotlib and fpdf2: only for a PDF

            write_briefing(result, tmp, villages, lang, provenance, slide=slide)
        else:
            _write_gpkg(result, villages, tmp, synthetic)
    return path


def write_xlsx(result: TargetResult, path: Path, lang: str, provenance: Provenance | None) -> None:
    """The workbook: the ranked list, below the line, left out by the guards, per kabupaten/kota and
    kecamatan (each with its total row), and the "about" sheet (parameters, totals, provenance)."""
    tables = [
        selected_table(result, lang),
        below_line_table(result, lang),
        guarded_table(result, lang),
        by_kabupaten_table(result, lang),
        by_kecamatan_table(result, lang),
    ]
    items = [
        *about_items(result, lang),
        *summary_items(result, lang),
        *provenance_items(result, lang, provenance),
    ]
    with pd.ExcelWriter(path, engine="openpyxl") as writer:
        for table in tables:
            _sheet(writer, table, lang)
        _about_sheet(writer, items, lang)


def _sheet(writer: pd.ExcelWriter, table: Table, lang: str) -> None:
    from openpyxl.styles import Alignment, Font

    name = word(table.name, lang)
    frame = table.frame(lang, with_total=True)
    frame.to_excel(writer, sheet_name=name, index=False)
    sheet = writer.sheets[name]
    n_rows = len(table.rows)
    for i, column in enumerate(table.columns, 1):
        letter = sheet.cell(1, i).column_letter
        fmt = number_format(column)
        if fmt is not None:
            for row in range(2, n_rows + 3):
                sheet.cell(row, i).number_format = fmt
        texts = [str(v) for v in frame.iloc[:, i - 1].head(300) if v is not None]
        longest = max([len(str(frame.columns[i - 1])), *(len(t) for t in texts)] + [6])
        wide = column in ("why", "reason", "top_indicators")
        sheet.column_dimensions[letter].width = min(longest + 2, 80 if wide else 40)
        if wide:
            for row in range(2, n_rows + 2):
                sheet.cell(row, i).alignment = Alignment(wrap_text=True, vertical="top")
    for cell in sheet[1]:
        cell.font = Font(bold=True)
    if table.total is not None:
        for cell in sheet[n_rows + 2]:
            cell.font = Font(bold=True)
    last = sheet.cell(1, len(table.columns)).column_letter
    sheet.auto_filter.ref = f"A1:{last}{max(n_rows + 1, 2)}"  # the rows, not the total
    sheet.freeze_panes = "A2"


def _about_sheet(writer: pd.ExcelWriter, items: list[Item], lang: str) -> None:
    from openpyxl.styles import Font

    name = word("about", lang)
    frame = pd.DataFrame(
        [[i.label, i.value] for i in items], columns=[word("item", lang), word("value", lang)]
    )
    frame.to_excel(writer, sheet_name=name, index=False)
    sheet = writer.sheets[name]
    for row, item in enumerate(items, 2):
        if item.fmt is not None and isinstance(item.value, int | float):
            sheet.cell(row, 2).number_format = item.fmt
    sheet.column_dimensions["A"].width = max(len(i.label) for i in items) + 2
    sheet.column_dimensions["B"].width = 80
    for cell in sheet[1]:
        cell.font = Font(bold=True)
    sheet.freeze_panes = "A2"


def _write_gpkg(result: TargetResult, villages: pd.DataFrame | None, path: Path, synthetic: bool) -> None:
    import geopandas as gpd
    import shapely

    from layers.export.gpkg import write_gpkg_layer, write_styles
    from layers.maps.qml import targets_style

    if villages is None:
        raise InvalidQuery("a GeoPackage needs the villages layer for the geometry")
    table = selected_table(result, "en")
    frame = pd.DataFrame(table.rows, columns=table.columns)
    geometry = villages.set_index(villages["village_code"].astype(str)).geometry
    shapes = shapely.force_2d(geometry.reindex(frame["village_code"]).to_numpy())
    out = gpd.GeoDataFrame(frame, geometry=shapes, crs="EPSG:4326")
    description = "Villages selected by Sasaran targeting"
    if synthetic:
        description = f"SYNTHETIC demo data, not real statistics. {description}"
    # Written like the villages layer: MultiPolygon, GeoPackage 1.3, spatial index, a default style.
    write_gpkg_layer(out, path, "targets", description, create=True, promote_as="villages")
    write_styles(path, [("targets", targets_style(frame))])
