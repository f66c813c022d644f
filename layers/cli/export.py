"""``sasaran export``: write store layers as GeoPackage, FlatGeobuf, GeoParquet, GeoJSON, CSV or XLSX,
one year or every year, and ``sasaran export qgis``: a QGIS project of the styled GeoPackage."""

from __future__ import annotations

from enum import StrEnum
from pathlib import Path
from typing import Annotated

import typer

from layers.export.formats import FORMATS

#: Export formats (file extensions), from the one format table.
ExportFormat = StrEnum("ExportFormat", {ext: ext for ext in FORMATS})  # type: ignore[misc]
_GPKG = ExportFormat("gpkg")
#: Rows an XLSX is written for unless --max-rows allows more (the service's default limit too).
XLSX_ROWS = 100_000


def export_command(
    layer: Annotated[
        str,
        typer.Argument(
            help="Layer to export (hexagons, villages, ...), 'all' for one styled GeoPackage, or 'qgis' "
            "for a QGIS project (.qgz) with the styled GeoPackage beside it."
        ),
    ] = "all",
    store: Annotated[Path, typer.Option("--store", help="Layer store directory.")] = Path("store"),
    fmt: Annotated[ExportFormat, typer.Option("--format", "-f", help="Output format.")] = _GPKG,
    out: Annotated[
        Path | None,
        typer.Option("--out", "-o", help="Output file (default: sasaran[-LAYER][-synthetic].EXT here)."),
    ] = None,
    year: Annotated[
        int | None, typer.Option("--year", help="The values of this year (default: the latest).")
    ] = None,
    years: Annotated[
        str | None,
        typer.Option(
            "--years", help="'all': every year stacked, with date and date_end (QGIS's temporal controller)."
        ),
    ] = None,
    max_rows: Annotated[
        int,
        typer.Option("--max-rows", help="XLSX only: the most rows written (a sheet holds 1,048,575)."),
    ] = XLSX_ROWS,
) -> None:
    """Export a layer (one year or every year), every layer into one styled GeoPackage, or a QGIS project."""
    from layers.errors import InvalidQuery
    from layers.export import csvt_for, export_all_gpkg, export_filename, export_layer
    from layers.export.qgis_project import write_qgis_project
    from layers.store import LayerStore

    opened = LayerStore.open(store)
    if years is not None and years != "all":
        raise InvalidQuery(f"--years takes 'all' (every year stacked), got '{years}'")
    all_years = years == "all"
    if all_years and year is not None:
        raise InvalidQuery("give --year or --years all, not both")
    if layer in ("all", "qgis") and (year is not None or all_years):
        raise InvalidQuery(f"'{layer}' holds the latest year plus <area>_by_year layers; drop --year/--years")
    if layer == "qgis":
        target = out or Path(export_filename(opened, "all", "qgz"))
        written = write_qgis_project(opened, target)
        _done(opened, written, f" and {written.with_suffix('.gpkg').name}")
        return
    if layer == "all" and fmt != "gpkg":
        raise InvalidQuery(
            "'all' exports every layer into one GeoPackage; name a layer for --format " + fmt.value
        )
    tag = "all" if all_years else year
    target = out or Path(export_filename(opened, layer, fmt.value, tag))
    if layer == "all":
        written = export_all_gpkg(opened, target)
    else:
        written = export_layer(opened, layer, target, fmt.value, year, all_years, max_rows=max_rows)
    if fmt.value == "csv" and layer != "all":
        # GDAL (and QGIS through it) read the column types from the .csvt beside the CSV.
        written.with_suffix(".csvt").write_text(csvt_for(opened, layer, year, all_years))
    _done(opened, written)


def _done(store: object, written: Path, more: str = "") -> None:
    note = " (SYNTHETIC demo data)" if getattr(store, "synthetic", False) else ""
    typer.echo(f"Wrote {written} ({written.stat().st_size / 1e6:.1f} MB){more}{note}")
