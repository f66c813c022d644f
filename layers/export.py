"""Exports of store layers: styled GeoPackage, FlatGeobuf, GeoParquet, GeoJSON, CSV, XLSX.

Every file is written beside its target under a temporary name and renamed into place, so a
reader never sees half a file. All geometry is EPSG:4326.

- **gpkg**: one layer per file (or every layer with `export_all_gpkg`), R-tree spatial index,
  a layer description (``SYNTHETIC demo data`` for the demo store), areas as MultiPolygon
  (QGIS treats a mixed Polygon/MultiPolygon layer as generic geometry), and a QGIS default style in
  the ``layer_styles`` table, so the layers open coloured by score. Written in chunks of
  `CHUNK_ROWS` with ``append``.
- **fgb**, **geojson** (RFC 7946): geometry and attributes.
- **parquet**: the store's own GeoParquet file, copied (it already is the layer).
- **csv**: attributes, ``lon`` and ``lat`` (the point; for lines and areas a point on the feature,
  `shapely.point_on_surface`) and, for lines and areas, the geometry as ``geometry_wkt`` (QGIS's
  *Delimited text* and GDAL's CSV driver read it). Written in chunks.
- **xlsx**: attributes with ``lon`` and ``lat`` as in CSV, no geometry (a sheet holds 1,048,576 rows).
"""

from __future__ import annotations

import os
import shutil
import sqlite3
import tempfile
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd
import pyogrio
import shapely

from layers.errors import InvalidQuery
from layers.qml import style_for
from layers.store import SPATIAL_LAYERS, LayerStore

FORMATS: tuple[str, ...] = ("gpkg", "fgb", "parquet", "geojson", "csv", "xlsx")
TABLE_FORMATS: tuple[str, ...] = ("gpkg", "parquet", "csv", "xlsx")
#: Rows per write when a layer is written in pieces (the 209k-cell province is ~5 pieces).
CHUNK_ROWS = 50_000
XLSX_MAX_ROWS = 1_048_575
_AREAS = ("villages", "kecamatan", "kabupaten")
_DRIVERS = {"gpkg": "GPKG", "fgb": "FlatGeobuf", "geojson": "GeoJSON"}
_DESCRIPTIONS = {
    "hexagons": "H3 cells with population, access and the Alkire-Foster deprivation score",
    "villages": "Villages (desa/kelurahan) with poverty counts and Alkire-Foster H, A, M0",
    "kecamatan": "Kecamatan (districts) with poverty counts and Alkire-Foster H, A, M0",
    "kabupaten": "Kabupaten/kota with poverty counts and Alkire-Foster H, A, M0",
    "schools": "Schools with their facility kind",
    "health_facilities": "Health facilities with their facility kind",
    "roads": "Roads with class and travel speed",
    "rivers": "Rivers with class and boat speed",
    "village_years": "Poverty values and scores per village and year",
}
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


def formats_for(name: str) -> tuple[str, ...]:
    """Formats a layer can be exported to (tables have no FlatGeobuf or GeoJSON)."""
    return FORMATS if name in SPATIAL_LAYERS else TABLE_FORMATS


def export_filename(store: LayerStore, name: str, fmt: str) -> str:
    """File name for a download: ``sasaran-villages-synthetic.gpkg`` (``-synthetic`` for demo data)."""
    tag = "-synthetic" if store.synthetic else ""
    stem = "sasaran" if name == "all" else f"sasaran-{name}"
    return f"{stem}{tag}.{fmt}"


def export_layer(store: LayerStore, name: str, path: str | Path, fmt: str) -> Path:
    """Write one store layer to ``path`` in format ``fmt``.

    Parameters
    ----------
    store
        An open layer store.
    name
        Layer or table name (``hexagons``, ``villages``, ``village_years`` ...).
    path
        Target file; replaced atomically.
    fmt
        One of `FORMATS`.

    Returns
    -------
    Path
        The written file.

    Examples
    --------
    >>> out = export_layer(store, "villages", tmp_path / "v.gpkg", "gpkg")  # doctest: +SKIP
    >>> pyogrio.read_info(out)["features"] == store.rows("villages")  # doctest: +SKIP
    True
    """
    if fmt not in FORMATS:
        raise InvalidQuery(f"export format '{fmt}' is not one of {', '.join(FORMATS)}")
    frame = store.layer(name)
    spatial = isinstance(frame, gpd.GeoDataFrame)
    if not spatial and fmt in ("fgb", "geojson"):
        raise InvalidQuery(f"'{name}' is a table without geometry; export it as gpkg, parquet, csv or xlsx")
    path = Path(path)
    with _atomic(path) as tmp:
        if fmt == "gpkg":
            _write_gpkg_layer(store, name, frame, tmp, create=True)
            _write_styles(tmp, [name] if spatial else [])
        elif fmt == "parquet":
            shutil.copyfile(store.path / store.manifest["files"][name], tmp)
        elif fmt == "csv":
            _write_csv(frame, tmp)
        elif fmt == "xlsx":
            _write_xlsx(frame, tmp, name)
        else:
            pyogrio.write_dataframe(
                frame, tmp, driver=_DRIVERS[fmt], layer=name,
                promote_to_multi=_promote(name, frame),
                layer_options={"RFC7946": "YES"} if fmt == "geojson" else {"SPATIAL_INDEX": "YES"},
            )  # fmt: skip
    return path


def export_all_gpkg(store: LayerStore, path: str | Path) -> Path:
    """Write every layer and table of the store into one GeoPackage, each spatial layer styled.

    Parameters
    ----------
    store
        An open layer store.
    path
        Target file; replaced atomically.

    Returns
    -------
    Path
        The written file.

    Examples
    --------
    >>> out = export_all_gpkg(store, tmp_path / "sasaran.gpkg")  # doctest: +SKIP
    >>> "hexagons" in pyogrio.list_layers(out)[:, 0]  # doctest: +SKIP
    True
    """
    path = Path(path)
    with _atomic(path) as tmp:
        styled = []
        for i, name in enumerate(store.names):
            frame = store.layer(name)
            _write_gpkg_layer(store, name, frame, tmp, create=i == 0)
            if isinstance(frame, gpd.GeoDataFrame):
                styled.append(name)
        _write_styles(tmp, styled)
    return path


def layer_description(store: LayerStore, name: str) -> str:
    """The description stored with a layer: what it holds, its year, and whether it is synthetic."""
    text = _DESCRIPTIONS.get(name, name)
    if store.manifest.get("default_year"):
        text += f" ({store.manifest['default_year']})"
    text += ". Sasaran"
    if store.synthetic:
        text = f"SYNTHETIC demo data, not real statistics. {text}"
    return text


def _write_gpkg_layer(store: LayerStore, name: str, frame: pd.DataFrame, path: Path, create: bool) -> None:
    spatial = isinstance(frame, gpd.GeoDataFrame)
    layer_options = {"DESCRIPTION": layer_description(store, name), "IDENTIFIER": name}
    if spatial:
        layer_options["SPATIAL_INDEX"] = "YES"
    # GeoPackage 1.3: readable without warnings by the GDAL 3.6 of Debian 12's QGIS (1.4 needs 3.7).
    dataset_options = {"VERSION": "1.3"} if create else {}
    promote = _promote(name, frame) if spatial else None
    for start in range(0, max(len(frame), 1), CHUNK_ROWS):
        chunk = frame.iloc[start : start + CHUNK_ROWS]
        pyogrio.write_dataframe(
            chunk, path, driver="GPKG", layer=name, append=start > 0,
            promote_to_multi=promote, layer_options=layer_options if start == 0 else None,
            dataset_options=dataset_options if start == 0 else None,
        )  # fmt: skip


def _write_styles(path: Path, layers: list[str]) -> None:
    """Add QGIS's ``layer_styles`` table with a default style per layer (sqlite3, after GDAL)."""
    rows = [(name, style_for(name)) for name in layers]
    rows = [(name, qml) for name, qml in rows if qml]
    if not rows:
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
                for name, qml in rows
            ],
        )
    db.close()


def _write_csv(frame: pd.DataFrame, path: Path) -> None:
    for start in range(0, max(len(frame), 1), CHUNK_ROWS):
        chunk = _tabular(frame.iloc[start : start + CHUNK_ROWS], wkt=True)
        chunk.to_csv(path, mode="w" if start == 0 else "a", header=start == 0, index=False)


def _write_xlsx(frame: pd.DataFrame, path: Path, name: str) -> None:
    if len(frame) > XLSX_MAX_ROWS:
        raise InvalidQuery(
            f"'{name}' has {len(frame):,} rows, more than a sheet holds; export csv or parquet"
        )
    with pd.ExcelWriter(path, engine="openpyxl") as writer:
        _tabular(frame, wkt=False).to_excel(writer, sheet_name=name[:31], index=False)


def _tabular(frame: pd.DataFrame, wkt: bool) -> pd.DataFrame:
    """Attributes plus ``lon``/``lat`` (and ``geometry_wkt`` for lines and areas when ``wkt``)."""
    if not isinstance(frame, gpd.GeoDataFrame):
        return pd.DataFrame(frame)
    geoms = frame.geometry.to_numpy()
    out = pd.DataFrame(frame.drop(columns=frame.geometry.name))
    points = shapely.get_type_id(geoms) == shapely.GeometryType.POINT
    anchor = np.where(points, geoms, shapely.point_on_surface(geoms))
    out["lon"] = np.round(shapely.get_x(anchor), 7)
    out["lat"] = np.round(shapely.get_y(anchor), 7)
    if wkt and not points.all():
        out["geometry_wkt"] = shapely.to_wkt(geoms, rounding_precision=7, trim=True)
    return out


def _promote(name: str, frame: pd.DataFrame) -> bool | None:
    # Note: QGIS treats a mixed Polygon/MultiPolygon layer as generic geometry, so areas are always
    # MultiPolygon (DESIGN §7), and any layer mixing single and multi parts is promoted.
    if name in _AREAS:
        return True
    types = set(frame.geometry.geom_type.dropna().unique()) if len(frame) else set()
    return True if any(t.startswith("Multi") for t in types) and len(types) > 1 else None


@contextmanager
def _atomic(path: Path) -> Iterator[Path]:
    """A temporary path beside ``path``, renamed onto it when the block succeeds."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.stem}.{os.getpid()}.{id(path):x}.tmp{path.suffix}")
    try:
        yield tmp
        os.replace(tmp, path)
    finally:
        for leftover in (tmp, tmp.with_name(tmp.name + "-journal"), tmp.with_name(tmp.name + "-wal")):
            leftover.unlink(missing_ok=True)


_LOCKS: dict[Path, threading.Lock] = {}
_LOCKS_GUARD = threading.Lock()


def cached_export(store: LayerStore, name: str, fmt: str, cache_dir: str | Path | None = None) -> Path:
    """The export of a layer (``name="all"``: every layer in one GeoPackage), written once per store.

    Files go to ``cache_dir`` or, by default, ``<store>/.exports/<build time>/`` (a temporary
    directory when the store is read-only). A rebuilt store has a new build time, so a stale file
    is never served. Concurrent callers of the same file wait for one writer.

    Examples
    --------
    >>> cached_export(store, "villages", "csv").name  # doctest: +SKIP
    'sasaran-villages-synthetic.csv'
    """
    if fmt not in FORMATS:
        raise InvalidQuery(f"export format '{fmt}' is not one of {', '.join(FORMATS)}")
    if name == "all" and fmt != "gpkg":
        raise InvalidQuery("the export of every layer in one file is a GeoPackage (sasaran.gpkg)")
    if name != "all":
        store.rows(name)  # LayerNotFound before any work
    path = _cache_dir(store, cache_dir) / export_filename(store, name, fmt)
    with _LOCKS_GUARD:
        lock = _LOCKS.setdefault(path, threading.Lock())
    with lock:
        if not path.exists():
            if name == "all":
                export_all_gpkg(store, path)
            else:
                export_layer(store, name, path, fmt)
    return path


def _cache_dir(store: LayerStore, cache_dir: str | Path | None) -> Path:
    stamp = "".join(c for c in str(store.manifest.get("created", "unknown")) if c.isalnum())
    if cache_dir is not None:
        directory = Path(cache_dir) / stamp
    else:
        directory = store.path / ".exports" / stamp
    try:
        directory.mkdir(parents=True, exist_ok=True)
    except OSError:  # a read-only store (e.g. a mounted volume)
        directory = Path(tempfile.gettempdir()) / "sasaran-exports" / f"{abs(hash(store.path))}-{stamp}"
        directory.mkdir(parents=True, exist_ok=True)
    return directory
