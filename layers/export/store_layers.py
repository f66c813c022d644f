"""Exports of store layers: styled GeoPackage, FlatGeobuf, GeoParquet, GeoJSON, CSV, XLSX.

Every file is written beside its target under a temporary name and renamed into place
(`layers.export.atomic`), so a reader never sees half a file. All geometry is EPSG:4326.

- **gpkg**: one layer per file (or every layer with `export_all_gpkg`), written by
  `layers.export.gpkg`: R-tree index, a layer description (``SYNTHETIC demo data`` for the demo
  store), areas as MultiPolygon and a QGIS default style in ``layer_styles``.
- **fgb**, **geojson** (RFC 7946): geometry and attributes.
- **parquet**: the store's own GeoParquet file, copied (it already is the layer).
- **csv**: attributes, ``lon`` and ``lat`` (the point; for lines and areas a point on the feature,
  `shapely.point_on_surface`) and, for lines and areas, the geometry as ``geometry_wkt`` (QGIS's
  *Delimited text* and GDAL's CSV driver read it). Written in chunks.
- **xlsx**: attributes with ``lon`` and ``lat`` as in CSV, no geometry (a sheet holds 1,048,576 rows).
"""

from __future__ import annotations

import hashlib
import shutil
import tempfile
import threading
from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd
import pyogrio
import shapely

from layers.errors import InvalidQuery
from layers.export.atomic import atomic_path
from layers.export.formats import FORMATS, FORMATS_BY_EXT, TABLE_FORMATS
from layers.export.gpkg import CHUNK_ROWS, promote_to_multi, write_gpkg_layer, write_styles
from layers.qml import style_for
from layers.rounding import round_frame
from layers.schema import LAYERS
from layers.store import LayerStore

XLSX_MAX_ROWS = 1_048_575


def formats_for(name: str) -> tuple[str, ...]:
    """Formats a layer can be exported to (tables have no FlatGeobuf or GeoJSON)."""
    return FORMATS if name in LAYERS and LAYERS[name].spatial else TABLE_FORMATS


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
    with atomic_path(path) as tmp:
        if fmt == "gpkg":
            write_gpkg_layer(frame, tmp, name, layer_description(store, name), create=True)
            write_styles(tmp, _styles(store, [name] if spatial else []))
        elif fmt == "parquet":
            # From memory, not a copy of the store's file: the store directory may already hold a
            # newer build than the one being served.
            if spatial:
                frame.to_parquet(tmp, index=False, compression="zstd", write_covering_bbox=True)
            else:
                frame.to_parquet(tmp, index=False, compression="zstd")
        elif fmt == "csv":
            _write_csv(frame, tmp)
        elif fmt == "xlsx":
            _write_xlsx(frame, tmp, name)
        else:
            # GeoJSON is read by people and web pages: numbers rounded like every JSON answer.
            shown = _geo_rounded(frame) if fmt == "geojson" else frame
            pyogrio.write_dataframe(
                shown, tmp, driver=FORMATS_BY_EXT[fmt].driver, layer=name,
                promote_to_multi=promote_to_multi(name, frame),
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
    with atomic_path(path) as tmp:
        styled = []
        for i, name in enumerate(store.names):
            frame = store.layer(name)
            write_gpkg_layer(frame, tmp, name, layer_description(store, name), create=i == 0)
            if isinstance(frame, gpd.GeoDataFrame):
                styled.append(name)
        write_styles(tmp, _styles(store, styled))
    return path


def layer_description(store: LayerStore, name: str) -> str:
    """The description stored with a layer: what it holds, its year, and whether it is synthetic."""
    text = LAYERS[name].description.en if name in LAYERS else name
    if store.manifest.get("default_year"):
        text += f" ({store.manifest['default_year']})"
    text += ". Sasaran"
    if store.synthetic:
        text = f"SYNTHETIC demo data, not real statistics. {text}"
    return text


def _styles(store: LayerStore, layers: list[str]) -> list[tuple[str, str]]:
    """(layer, QML) of each layer that has a default style."""
    rows = [(name, style_for(name, store.facility_kinds)) for name in layers]
    return [(name, qml) for name, qml in rows if qml]


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


def _geo_rounded(frame: gpd.GeoDataFrame) -> gpd.GeoDataFrame:
    attributes = round_frame(pd.DataFrame(frame.drop(columns=frame.geometry.name)))
    return gpd.GeoDataFrame(attributes, geometry=frame.geometry.values, crs=frame.crs)


def _tabular(frame: pd.DataFrame, wkt: bool) -> pd.DataFrame:
    """Attributes plus ``lon``/``lat`` (and ``geometry_wkt`` for lines and areas when ``wkt``).

    Numbers are rounded as a person reads them (`layers.rounding`): spreadsheets are read by people.
    """
    if not isinstance(frame, gpd.GeoDataFrame):
        return round_frame(pd.DataFrame(frame))
    geoms = frame.geometry.to_numpy()
    out = pd.DataFrame(frame.drop(columns=frame.geometry.name))
    points = shapely.get_type_id(geoms) == shapely.GeometryType.POINT
    anchor = np.where(points, geoms, shapely.point_on_surface(geoms))
    out["lon"] = np.round(shapely.get_x(anchor), 7)
    out["lat"] = np.round(shapely.get_y(anchor), 7)
    if wkt and not points.all():
        out["geometry_wkt"] = shapely.to_wkt(geoms, rounding_precision=7, trim=True)
    return round_frame(out)


_LOCKS: dict[Path, threading.Lock] = {}
_LOCKS_GUARD = threading.Lock()
#: Builds whose cached exports are kept per store: the served one and the one before it (a worker
#: that has not yet swapped to a rebuilt store may still be sending the older files).
KEEP_BUILDS = 2


def cached_export(
    store: LayerStore,
    name: str,
    fmt: str,
    cache_dir: str | Path | None = None,
    max_xlsx_rows: int = XLSX_MAX_ROWS,
) -> Path:
    """The export of a layer (``name="all"``: every layer in one GeoPackage), written once per build.

    Files go to ``<cache_dir>/<store>/<build id>/`` (default ``cache_dir``: the system's temporary
    directory), never into the store itself: a service keeps serving its build while a rebuild
    replaces the store directory. Everything is written from the layers already in memory. Older
    builds' files are removed, all but the newest `KEEP_BUILDS`. Concurrent callers of the same
    file wait for one writer.

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
        rows = store.rows(name)  # LayerNotFound before any work
        if fmt == "xlsx" and rows > max_xlsx_rows:
            raise InvalidQuery(
                f"'{name}' has {rows:,} rows; XLSX downloads are limited to {max_xlsx_rows:,} rows here "
                f"(a spreadsheet that large is slow to write and to open). Download csv, parquet or "
                f"gpkg, or run 'sasaran export {name} --format xlsx'"
            )
    path = _build_dir(store, cache_dir) / export_filename(store, name, fmt)
    with _LOCKS_GUARD:
        lock = _LOCKS.setdefault(path, threading.Lock())
    with lock:
        if not path.exists():
            if name == "all":
                export_all_gpkg(store, path)
            else:
                export_layer(store, name, path, fmt)
    return path


def _age(path: Path) -> float:
    return path.stat().st_mtime


def _build_dir(store: LayerStore, cache_dir: str | Path | None) -> Path:
    root = Path(cache_dir) if cache_dir is not None else Path(tempfile.gettempdir()) / "sasaran-exports"
    store_key = hashlib.sha256(str(store.path.resolve()).encode()).hexdigest()[:16]
    build = str(store.manifest.get("build_id") or store.manifest.get("created", "unknown"))
    directory = root / store_key / "".join(c for c in build if c.isalnum())
    if not directory.exists():
        directory.mkdir(parents=True, exist_ok=True)
        builds = sorted(
            (d for d in directory.parent.iterdir() if d.is_dir()), key=lambda d: d.stat().st_mtime
        )
        for stale in builds[:-KEEP_BUILDS]:
            shutil.rmtree(stale, ignore_errors=True)
    return directory
