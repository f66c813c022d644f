"""Exports of store layers: styled GeoPackage, FlatGeobuf, GeoParquet, GeoJSON, CSV, XLSX.

Every file is written beside its target under a temporary name and renamed into place
(`layers.atomic`), so a reader never sees half a file. All geometry is EPSG:4326.

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
import itertools
import shutil
import tempfile
import threading
from collections.abc import Iterator
from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd
import pyarrow as pa
import pyogrio
import shapely

from layers.atomic import atomic_path
from layers.errors import InvalidQuery
from layers.export.formats import FORMATS, FORMATS_BY_EXT, TABLE_FORMATS
from layers.export.gpkg import CHUNK_ROWS, promote_to_multi, write_gpkg_layer, write_styles
from layers.maps.qml import style_for
from layers.rounding import round_frame
from layers.schema import AREA_LEVELS, LAYERS, YEAR_LAYERS, level
from layers.scoring.rescore import ScoringFrame, check_year, layer_by_years, layer_for_year
from layers.store import LayerStore

XLSX_MAX_ROWS = 1_048_575
#: Rows per Arrow batch GDAL writes to FlatGeobuf or GeoJSON in one call (`_write_ogr`).
OGR_BATCH_ROWS = 10_000
#: Suffix of the layers of every year stacked (``villages_by_year``) in the all-layers GeoPackage.
BY_YEAR = "_by_year"
#: Layers written a second time with every year in the all-layers GeoPackage (the areas: small).
BY_YEAR_LAYERS: tuple[str, ...] = tuple(level(n).layer or n for n in AREA_LEVELS)


def formats_for(name: str) -> tuple[str, ...]:
    """Formats a layer can be exported to (tables have no FlatGeobuf or GeoJSON)."""
    return FORMATS if name in LAYERS and LAYERS[name].spatial else TABLE_FORMATS


def export_filename(store: LayerStore, name: str, fmt: str, year: int | str | None = None) -> str:
    """File name for a download: ``sasaran-villages-synthetic.gpkg`` (``-synthetic`` for demo data),
    ``sasaran-villages-2023.csv`` for a year, ``sasaran-villages-all-years.gpkg`` for every year."""
    tag = "-synthetic" if store.synthetic else ""
    stem = "sasaran" if name == "all" else f"sasaran-{name}"
    if year is not None:
        stem += "-all-years" if year == "all" else f"-{year}"
    return f"{stem}{tag}.{fmt}"


def export_layer(
    store: LayerStore,
    name: str,
    path: str | Path,
    fmt: str,
    year: int | None = None,
    all_years: bool = False,
    scoring: ScoringFrame | None = None,
) -> Path:
    """Write one store layer to ``path`` in format ``fmt``, for one year or for every year.

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
    year
        For a year-bearing layer: the year whose values to write (default: the stored year).
    all_years
        For a year-bearing layer: every year stacked, with ``date`` and ``date_end``
        (`layers.scoring.rescore.layer_by_years`); its GeoPackage style sets QGIS's temporal properties.
    scoring
        The store's prepared `ScoringFrame`, when the caller has one (else prepared when needed).

    Returns
    -------
    Path
        The written file.

    Examples
    --------
    >>> out = export_layer(store, "villages", tmp_path / "v.gpkg", "gpkg")
    >>> pyogrio.read_info(out)["features"] == store.rows("villages")
    True
    """
    if fmt not in FORMATS:
        raise InvalidQuery(f"export format '{fmt}' is not one of {', '.join(FORMATS)}")
    frame = _year_frame(store, name, year, all_years, scoring)
    spatial = isinstance(frame, gpd.GeoDataFrame)
    if not spatial and fmt in ("fgb", "geojson"):
        raise InvalidQuery(f"'{name}' is a table without geometry; export it as gpkg, parquet, csv or xlsx")
    path = Path(path)
    with atomic_path(path) as tmp:
        if fmt == "gpkg":
            description = layer_description(store, name, "all" if all_years else year)
            write_gpkg_layer(frame, tmp, name, description, create=True)
            write_styles(tmp, _styles(store, [name] if spatial else [], temporal=all_years))
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
            _write_ogr(frame, tmp, name, fmt)
    return path


def _write_ogr(frame: gpd.GeoDataFrame, path: Path, name: str, fmt: str) -> None:
    """FlatGeobuf or GeoJSON, streamed to GDAL as Arrow batches of `CHUNK_ROWS` rows.

    One ``write_dataframe`` of a whole layer holds the GIL for as long as GDAL writes (27 s for the
    206k cells of a province as GeoJSON, minutes for a nation's 2.6 M): the server's worker then
    cannot answer uvicorn's health check (5 s) and is killed mid-download. Streamed, GDAL takes one
    batch at a time and only that batch is converted (and, for GeoJSON, rounded) in memory.
    (Appending chunks with ``write_dataframe`` is no way out: GDAL re-reads the file on each append.)
    """
    promote = bool(promote_to_multi(name, frame))
    kinds = sorted(set(frame.geometry.geom_type.dropna().unique())) if len(frame) else []
    kind = kinds[0] if len(kinds) == 1 else "Unknown"
    if promote and kind in ("Point", "LineString", "Polygon"):
        kind = f"Multi{kind}"

    def tables() -> Iterator[pa.Table]:
        for start in range(0, max(len(frame), 1), CHUNK_ROWS):
            chunk = frame.iloc[start : start + CHUNK_ROWS]
            # GeoJSON is read by people and web pages: numbers rounded like every JSON answer.
            yield _arrow_table(_geo_rounded(chunk) if fmt == "geojson" else chunk, promote)

    chunks = tables()
    first = next(chunks)

    def batches() -> Iterator[pa.RecordBatch]:
        # Every chunk in the first one's types (a column all null in one chunk would differ). GDAL
        # holds the GIL while it writes a batch (~1 s per 10k GeoJSON features): keep them small.
        for table in itertools.chain([first], chunks):
            yield from table.cast(first.schema).to_batches(max_chunksize=OGR_BATCH_ROWS)

    pyogrio.write_arrow(
        pa.RecordBatchReader.from_batches(first.schema, batches()), path,
        driver=FORMATS_BY_EXT[fmt].driver, layer=name, geometry_name="geometry", geometry_type=kind,
        crs="EPSG:4326", layer_options={"RFC7946": "YES"} if fmt == "geojson" else {"SPATIAL_INDEX": "YES"},
    )  # fmt: skip


def _arrow_table(frame: gpd.GeoDataFrame, promote: bool) -> pa.Table:
    """Attributes as Arrow columns plus the geometry as WKB (``geoarrow.wkb``), Multi* when ``promote``."""
    geoms = frame.geometry.to_numpy()
    if promote:
        # type ids 0, 1, 3: Point, LineString, Polygon (-1 is a missing geometry)
        single = np.isin(shapely.get_type_id(geoms), (0, 1, 3))
        if single.any():
            geoms = geoms.copy()
            kind = shapely.get_type_id(geoms[single])
            for type_id, make in (
                (0, shapely.multipoints),
                (1, shapely.multilinestrings),
                (3, shapely.multipolygons),
            ):
                at = np.flatnonzero(single)[kind == type_id]
                if len(at):
                    geoms[at] = make(geoms[at], indices=np.arange(len(at)))
    table = pa.Table.from_pandas(pd.DataFrame(frame.drop(columns=frame.geometry.name)), preserve_index=False)
    field = pa.field("geometry", pa.binary(), metadata={"ARROW:extension:name": "geoarrow.wkb"})
    return table.append_column(field, pa.array(shapely.to_wkb(geoms), pa.binary()))


def export_all_gpkg(store: LayerStore, path: str | Path, scoring: ScoringFrame | None = None) -> Path:
    """Write every layer and table of the store into one GeoPackage, each spatial layer styled.

    The area layers are there a second time with every year stacked (``villages_by_year`` ...),
    styled with QGIS's temporal properties so the temporal controller steps through the years.

    Parameters
    ----------
    store
        An open layer store.
    path
        Target file; replaced atomically.
    scoring
        The store's prepared `ScoringFrame`, when the caller has one.

    Returns
    -------
    Path
        The written file.

    Examples
    --------
    >>> out = export_all_gpkg(store, tmp_path / "sasaran.gpkg")
    >>> "hexagons" in pyogrio.list_layers(out)[:, 0]
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
        stacked = by_year_layers(store)
        if stacked and scoring is None:
            scoring = ScoringFrame.from_store(store)
        for name in stacked:
            frame = layer_by_years(store, name, scoring)
            layer = f"{name}{BY_YEAR}"
            write_gpkg_layer(
                frame, tmp, layer, layer_description(store, layer), create=False, promote_as=name
            )
            styled.append(layer)
        write_styles(tmp, _styles(store, styled))
    return path


def by_year_layers(store: LayerStore) -> list[str]:
    """Area layers the all-layers GeoPackage also holds for every year (``<name>_by_year``)."""
    if len(store.years) < 2 or "village_years" not in store.names:
        return []
    return [name for name in BY_YEAR_LAYERS if name in store.names]


def _year_frame(
    store: LayerStore, name: str, year: int | None, all_years: bool, scoring: ScoringFrame | None
) -> pd.DataFrame:
    if all_years:
        if name not in YEAR_LAYERS:
            raise InvalidQuery(f"'{name}' does not vary by year; drop years=all")
        return layer_by_years(store, name, scoring)
    return layer_for_year(store, name, year, scoring)


def layer_description(store: LayerStore, name: str, year: int | str | None = None) -> str:
    """The description stored with a layer: what it holds, its year(s), and whether it is synthetic."""
    base = name.removesuffix(BY_YEAR)
    text = LAYERS[base].description.en if base in LAYERS else name
    if name.endswith(BY_YEAR) or year == "all":
        text += f" (one row per feature and year: {', '.join(map(str, store.years))})"
    elif year is not None or store.default_year is not None:
        text += f" ({year or store.default_year})"
    text += ". Sasaran"
    if store.synthetic:
        text = f"SYNTHETIC demo data, not real statistics. {text}"
    return text


def _styles(store: LayerStore, layers: list[str], temporal: bool = False) -> list[tuple[str, str]]:
    """(layer, QML) of each layer that has a default style (``*_by_year`` layers: temporal)."""
    rows = []
    for name in layers:
        by_year = name.endswith(BY_YEAR)
        base = name.removesuffix(BY_YEAR)
        frame = store.layer(base) if base in store.names else None
        qml = style_for(
            base, store.facility_kinds, values=frame, temporal=temporal or by_year, stacked=len(layers) > 1
        )
        rows.append((name, qml))
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
    year: int | None = None,
    all_years: bool = False,
    scoring: ScoringFrame | None = None,
) -> Path:
    """The export of a layer (``name="all"``: every layer in one GeoPackage), written once per build
    and year (``year``: one year's values, ``all_years``: every year stacked; see `export_layer`).

    Files go to ``<cache_dir>/<store>/<build id>/`` (default ``cache_dir``: the system's temporary
    directory), never into the store itself: a service keeps serving its build while a rebuild
    replaces the store directory. Everything is written from the layers already in memory. Older
    builds' files are removed, all but the newest `KEEP_BUILDS`. Concurrent callers of the same
    file wait for one writer.

    Examples
    --------
    >>> cached_export(store, "villages", "csv").name
    'sasaran-villages-synthetic.csv'
    """
    if fmt not in FORMATS:
        raise InvalidQuery(f"export format '{fmt}' is not one of {', '.join(FORMATS)}")
    if name == "all" and fmt != "gpkg":
        raise InvalidQuery("the export of every layer in one file is a GeoPackage (sasaran.gpkg)")
    if name == "all" and (year is not None or all_years):
        raise InvalidQuery("sasaran.gpkg holds the stored year plus <area>_by_year layers; drop year")
    if name != "all":
        rows = store.rows(name)  # LayerNotFound before any work
        if year is not None and year == store.default_year:
            year = None  # the stored layer: one cached file, whichever way it was asked for
        if year is not None or all_years:
            if name not in YEAR_LAYERS:
                raise InvalidQuery(f"'{name}' does not vary by year; drop the year")
            if year is not None:
                check_year(store, year)
        rows *= len(store.years) if all_years else 1
        if fmt == "xlsx" and rows > max_xlsx_rows:
            raise InvalidQuery(
                f"'{name}' has {rows:,} rows; XLSX downloads are limited to {max_xlsx_rows:,} rows here "
                f"(a spreadsheet that large is slow to write and to open). Download csv, parquet or "
                f"gpkg, or run 'sasaran export {name} --format xlsx'"
            )
    tag = "all" if all_years else year
    path = _build_dir(store, cache_dir) / export_filename(store, name, fmt, tag)
    with _LOCKS_GUARD:
        lock = _LOCKS.setdefault(path, threading.Lock())
    with lock:
        if not path.exists():
            if name == "all":
                export_all_gpkg(store, path, scoring)
            else:
                export_layer(store, name, path, fmt, year, all_years, scoring)
    return path


def _age(path: Path) -> float:
    return path.stat().st_mtime


def _build_dir(store: LayerStore, cache_dir: str | Path | None) -> Path:
    root = Path(cache_dir) if cache_dir is not None else Path(tempfile.gettempdir()) / "sasaran-exports"
    store_key = hashlib.sha256(str(store.path.resolve()).encode()).hexdigest()[:16]
    directory = root / store_key / "".join(c for c in store.build_id if c.isalnum())
    if not directory.exists():
        directory.mkdir(parents=True, exist_ok=True)
        builds = sorted(
            (d for d in directory.parent.iterdir() if d.is_dir()), key=lambda d: d.stat().st_mtime
        )
        for stale in builds[:-KEEP_BUILDS]:
            shutil.rmtree(stale, ignore_errors=True)
    return directory
