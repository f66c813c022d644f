"""The files a selection of villages is downloaded as: JSON, CSV, XLSX, a GeoPackage and a PDF briefing.

``sasaran target --format`` and ``POST /targets?f=`` write the same files through `write_targets`.
Tables for people (CSV, XLSX, PDF) have headers in Bahasa Indonesia or English (``lang``), whole
people and rupiah and indices to their stated precision (`layers.export.wording`); the JSON and the
GeoPackage keep the field names (for programs and GIS) with the same rounding.
"""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path

import geopandas as gpd
import pandas as pd
import shapely

from layers.atomic import atomic_path
from layers.errors import InvalidQuery
from layers.export.formats import TARGET_FORMATS
from layers.export.gpkg import write_gpkg_layer, write_styles
from layers.export.wording import (
    about_table,
    below_line_table,
    by_kabupaten_table,
    check_lang,
    selected_table,
    word,
)
from layers.maps.qml import targets_style
from layers.rounding import round_frame, round_record
from layers.store import Provenance
from layers.targeting.selection import TargetResult


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


def write_targets(
    result: TargetResult,
    path: str | Path,
    fmt: str,
    villages: pd.DataFrame | None = None,
    synthetic: bool = False,
    lang: str = "id",
    provenance: Provenance | None = None,
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
            body = round_record(result.to_json())
            tmp.write_text(json.dumps(body, indent=2, ensure_ascii=False, allow_nan=False))
        elif fmt == "csv":
            # utf-8-sig: Excel, which planners open a CSV with, reads the names' accents right
            selected_table(result, lang).to_csv(tmp, index=False, encoding="utf-8-sig")
        elif fmt == "xlsx":
            _write_xlsx(result, tmp, lang, provenance)
        elif fmt == "pdf":
            # matplotlib and fpdf2 take seconds to import: only a PDF pays for them.
            from layers.export.briefing import write_briefing

            write_briefing(result, tmp, villages, lang, provenance)
        else:
            _write_gpkg(round_frame(result.selected_frame()), villages, tmp, synthetic)
    return path


def _write_xlsx(result: TargetResult, path: Path, lang: str, provenance: Provenance | None) -> None:
    sheets = {
        word("selected", lang): selected_table(result, lang),
        word("below_line", lang): below_line_table(result, lang),
        word("by_kabupaten", lang): by_kabupaten_table(result, lang),
        word("about", lang): about_table(result, lang, provenance),
    }
    with pd.ExcelWriter(path, engine="openpyxl") as writer:
        for name, frame in sheets.items():
            frame.to_excel(writer, sheet_name=name, index=False)
            sheet = writer.sheets[name]
            # columns wide enough for their header or their longest value (up to 60 characters)
            for i, column in enumerate(frame.columns, 1):
                longest = max([len(str(column)), *(len(str(v)) for v in frame[column].head(500))])
                sheet.column_dimensions[sheet.cell(1, i).column_letter].width = min(longest + 2, 60)
            sheet.freeze_panes = "A2"


def _write_gpkg(frame: pd.DataFrame, villages: pd.DataFrame | None, path: Path, synthetic: bool) -> None:
    if villages is None:
        raise InvalidQuery("a GeoPackage needs the villages layer for the geometry")
    geometry = villages.set_index(villages["village_code"].astype(str)).geometry
    shapes = shapely.force_2d(geometry.reindex(frame["village_code"]).to_numpy())
    out = gpd.GeoDataFrame(frame, geometry=shapes, crs="EPSG:4326")
    description = "Villages selected by Sasaran targeting"
    if synthetic:
        description = f"SYNTHETIC demo data, not real statistics. {description}"
    # Written like the villages layer: MultiPolygon, GeoPackage 1.3, spatial index, a default style.
    write_gpkg_layer(out, path, "targets", description, create=True, promote_as="villages")
    write_styles(path, [("targets", targets_style(frame))])
