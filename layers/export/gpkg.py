"""GeoPackage writing shared by layer exports and target lists: chunked, indexed, styled.

Every GeoPackage Sasaran writes is version 1.3 (readable without warnings by the GDAL 3.6 of
Debian 12's QGIS; 1.4 needs 3.7), has an R-tree spatial index and a layer description, writes
areas as MultiPolygon, and can carry QGIS default styles in the ``layer_styles`` table.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Sequence
from pathlib import Path

import geopandas as gpd
import pandas as pd
import pyogrio

from layers.schema import AREA_LAYERS

#: Rows per write when a layer is written in pieces (the 209k-cell province is ~5 pieces).
CHUNK_ROWS = 50_000

# QGIS's own DDL for saved styles (QgsOgrProviderUtils, checked against QGIS 3.22 saving a style).
_LAYER_STYLES_DDL = """
CREATE TABLE IF NOT EXISTS "layer_styles" (
  "id" INTEGER PRIMARY KEY AUTOINCREMENT NOT NULL, "f_table_catalog" TEXT(256),
  "f_table_schema" TEXT(256), "f_table_name" TEXT(256), "f_geometry_column" TEXT(256),
  "styleName" TEXT(30), "styleQML" TEXT, "styleSLD" TEXT, "useAsDefault" BOOLEAN, "description" TEXT,
  "owner" TEXT(30), "ui" TEXT(30),
  "update_time" DATETIME DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ','now')))
"""
_REGISTER_STYLES = """
INSERT OR IGNORE INTO gpkg_contents (table_name, data_type, identifier, description, last_change)
VALUES ('layer_styles', 'attributes', 'layer_styles', 'QGIS layer styles',
        strftime('%Y-%m-%dT%H:%M:%fZ','now'))
"""
_INSERT_STYLE = """
INSERT INTO layer_styles (f_table_catalog, f_table_schema, f_table_name, f_geometry_column, "styleName",
  "styleQML", "styleSLD", "useAsDefault", description, owner)
VALUES ('', '', ?, ?, ?, ?, '', 1, ?, '')
"""


def promote_to_multi(name: str, frame: pd.DataFrame) -> bool | None:
    """Whether to write a layer's geometry as Multi* (pyogrio's ``promote_to_multi``).

    Note: QGIS treats a mixed Polygon/MultiPolygon layer as generic geometry, so areas are always
    MultiPolygon, and any layer mixing single and multi parts is promoted.
    """
    if name in AREA_LAYERS:
        return True
    types = set(frame.geometry.geom_type.dropna().unique()) if len(frame) else set()
    return True if any(t.startswith("Multi") for t in types) and len(types) > 1 else None


def write_gpkg_layer(
    frame: pd.DataFrame, path: Path, layer: str, description: str, create: bool, promote_as: str | None = None
) -> None:
    """Write one layer or table into a GeoPackage, in chunks of `CHUNK_ROWS`.

    Parameters
    ----------
    frame
        The layer (GeoDataFrame in EPSG:4326) or a table.
    path
        The GeoPackage (created when ``create``; else the layer is added).
    layer
        Layer name in the file.
    description
        Stored as the layer's description (QGIS shows it in the layer properties).
    create
        Whether this is the first layer of a new file.
    promote_as
        Layer name whose geometry rule applies (`promote_to_multi`); default ``layer``.
    """
    spatial = isinstance(frame, gpd.GeoDataFrame)
    layer_options = {"DESCRIPTION": description, "IDENTIFIER": layer}
    if spatial:
        layer_options["SPATIAL_INDEX"] = "YES"
    dataset_options = {"VERSION": "1.3"} if create else {}
    promote = promote_to_multi(promote_as or layer, frame) if spatial else None
    for start in range(0, max(len(frame), 1), CHUNK_ROWS):
        chunk = frame.iloc[start : start + CHUNK_ROWS]
        pyogrio.write_dataframe(
            chunk, path, driver="GPKG", layer=layer, append=start > 0,
            promote_to_multi=promote, layer_options=layer_options if start == 0 else None,
            dataset_options=dataset_options if start == 0 else None,
        )  # fmt: skip


def write_styles(path: Path, styles: Sequence[tuple[str, str]]) -> None:
    """Add QGIS's ``layer_styles`` table with a default style (layer, QML) per layer (sqlite3, after GDAL)."""
    if not styles:
        return
    with sqlite3.connect(path) as db:
        db.execute(_LAYER_STYLES_DDL)
        # Registered as an attributes table, as QGIS and GDAL do, so the file stays a valid GeoPackage.
        db.execute(_REGISTER_STYLES)
        geometry_column = dict(
            db.execute("SELECT table_name, column_name FROM gpkg_geometry_columns").fetchall()
        )
        db.executemany(
            _INSERT_STYLE,
            [
                (name, geometry_column.get(name, "geom"), name, qml, "Sasaran default style")
                for name, qml in styles
            ],
        )
    db.close()
