"""The files a selection of villages is downloaded as: JSON, CSV, XLSX and a GeoPackage.

``sasaran target --format`` and ``POST /targets?f=`` write the same files through `write_targets`.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import geopandas as gpd
import pandas as pd
import shapely

from layers.errors import InvalidQuery
from layers.export.atomic import atomic_path
from layers.export.formats import TARGET_FORMATS
from layers.export.gpkg import write_gpkg_layer, write_styles
from layers.qml import targets_style
from layers.targeting import TargetResult


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


def _about(result: TargetResult, synthetic: bool) -> pd.DataFrame:
    summary = {k: v for k, v in result.summary.items() if k != "by_kabupaten"}
    rows: dict[str, Any] = {
        "data": "SYNTHETIC demo data, not real statistics" if synthetic else "layer store",
        "year": result.year,
        "objective": result.objective,
        "k": result.spec.k,
        "status": result.status,
        "gap": result.gap,
        **summary,
    }
    rows |= {
        f"weight {d}": w for d, w in zip(result.spec.dimensions, result.spec.dimension_weights, strict=True)
    }
    return pd.DataFrame({"item": list(rows), "value": [str(v) for v in rows.values()]})


def write_targets(
    result: TargetResult,
    path: str | Path,
    fmt: str,
    villages: pd.DataFrame | None = None,
    synthetic: bool = False,
) -> Path:
    """Write a selection to ``path`` atomically as json, csv, xlsx or gpkg.

    Parameters
    ----------
    result
        The selection.
    path
        The file to (re)place.
    fmt
        One of `TARGET_FORMATS`.
    villages
        The store's villages layer (geometry for gpkg; required there).
    synthetic
        Whether the store is the synthetic demo (said in the XLSX and the GeoPackage).

    Returns
    -------
    Path
        The written file.
    """
    if fmt not in TARGET_FORMATS:
        raise InvalidQuery(f"format must be one of {', '.join(TARGET_FORMATS)} for a file, got '{fmt}'")
    path = Path(path)
    frame = result.selected_frame()
    with atomic_path(path) as tmp:
        if fmt == "json":
            tmp.write_text(json.dumps(result.to_json(), indent=2, ensure_ascii=False, allow_nan=False))
        elif fmt == "csv":
            frame.to_csv(tmp, index=False)
        elif fmt == "xlsx":
            with pd.ExcelWriter(tmp, engine="openpyxl") as writer:
                frame.to_excel(writer, sheet_name="selected", index=False)
                pd.DataFrame(result.below_line).to_excel(writer, sheet_name="below_line", index=False)
                pd.DataFrame(result.summary["by_kabupaten"]).to_excel(
                    writer, sheet_name="by_kabupaten", index=False
                )
                _about(result, synthetic).to_excel(writer, sheet_name="about", index=False)
        else:
            _write_gpkg(frame, villages, tmp, synthetic)
    return path


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
