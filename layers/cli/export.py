"""``sasaran export``: write store layers as GeoPackage, FlatGeobuf, GeoParquet, GeoJSON, CSV or XLSX."""

from __future__ import annotations

from enum import StrEnum
from pathlib import Path
from typing import Annotated

import typer

from layers.export.formats import FORMATS

#: Export formats (file extensions), from the one format table.
ExportFormat = StrEnum("ExportFormat", {ext: ext for ext in FORMATS})  # type: ignore[misc]
_GPKG = ExportFormat("gpkg")


def export_command(
    layer: Annotated[
        str,
        typer.Argument(help="Layer to export (hexagons, villages, ...), or 'all' for one styled GeoPackage."),
    ] = "all",
    store: Annotated[Path, typer.Option("--store", help="Layer store directory.")] = Path("store"),
    fmt: Annotated[ExportFormat, typer.Option("--format", "-f", help="Output format.")] = _GPKG,
    out: Annotated[
        Path | None,
        typer.Option("--out", "-o", help="Output file (default: sasaran[-LAYER][-synthetic].EXT here)."),
    ] = None,
) -> None:
    """Export a layer, or every layer into one GeoPackage with default QGIS styles."""
    from layers.errors import InvalidQuery
    from layers.export import export_all_gpkg, export_filename, export_layer
    from layers.store import LayerStore

    opened = LayerStore.open(store)
    if layer == "all" and fmt != "gpkg":
        raise InvalidQuery(
            "'all' exports every layer into one GeoPackage; name a layer for --format " + fmt.value
        )
    target = out or Path(export_filename(opened, layer, fmt.value))
    if layer == "all":
        written = export_all_gpkg(opened, target)
    else:
        written = export_layer(opened, layer, target, fmt.value)
    note = " (SYNTHETIC demo data)" if opened.synthetic else ""
    typer.echo(f"Wrote {written} ({written.stat().st_size / 1e6:.1f} MB){note}")
