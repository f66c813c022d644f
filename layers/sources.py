"""Reading and validating source files into Sasaran's canonical schema.

Every problem stops the build with a `SourceError` naming the file, the feature or row, the field
and what is wrong, before anything is written. Feature numbers are the file's own FIDs where the
format has them (what QGIS shows), row numbers are 1-based data rows (what a spreadsheet shows
is that plus the header).
"""

from __future__ import annotations

import hashlib
import logging
from functools import lru_cache
from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd
import pyogrio
import shapely

from layers.config import (
    HEALTH_TYPE_KINDS,
    SCHOOL_LEVEL_KINDS,
    BuildConfig,
    FacilitySource,
    HealthSource,
    LineSource,
    PovertySource,
    SchoolSource,
    VectorSource,
    VillageSource,
)
from layers.errors import SourceError
from layers.osm import read_osm

log = logging.getLogger(__name__)

VILLAGE_COLUMNS = (
    "village_code",
    "village_name",
    "kecamatan_code",
    "kecamatan_name",
    "kabupaten_code",
    "kabupaten_name",
)


def sha256(path: Path) -> str:
    """Hex SHA-256 of a file, for the manifest's provenance record."""
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


#: File endings GDAL's OSM driver reads; such a source is read through `layers.osm`.
OSM_SUFFIXES = (".osm", ".osm.pbf", ".pbf", ".osm.xml")


def is_osm_extract(path: Path) -> bool:
    """Whether a path is an OpenStreetMap extract (read with GDAL's OSM driver)."""
    return path.name.lower().endswith(OSM_SUFFIXES)


@lru_cache(maxsize=2)
def _osm_themes(path: Path, mtime_ns: int) -> dict[str, gpd.GeoDataFrame]:
    # One extract usually feeds roads, rivers, schools and health facilities: parse it once.
    del mtime_ns  # part of the cache key only: a changed file is read again
    return read_osm(path)


def _read_vector(
    source: VectorSource,
    path: Path,
    columns: list[str],
    osm_theme: str | None = None,
    where: str | None = None,
) -> gpd.GeoDataFrame:
    if not path.exists():
        raise SourceError(path.name, None, None, f"file not found ({path})")
    try:
        if osm_theme is not None and is_osm_extract(path):
            # OSM tags become columns (highway, waterway, level, type, name); see layers.osm.
            frame = _osm_themes(path, path.stat().st_mtime_ns)[osm_theme].copy()
            frame.index = pd.RangeIndex(1, len(frame) + 1)
        else:
            frame = pyogrio.read_dataframe(path, layer=source.layer, fid_as_index=True, where=where)
    except SourceError:
        raise
    except Exception as exc:  # pyogrio raises DataSourceError, DataLayerError, ...
        raise SourceError(path.name, None, None, f"cannot read ({exc})") from None
    missing = [c for c in columns if c not in frame.columns]
    if missing:
        raise SourceError(
            path.name, None, missing[0], f"column not found; the file has {list(frame.columns[:-1])}"
        )
    if frame.crs is None:
        raise SourceError(path.name, None, "geometry", "no coordinate reference system (CRS) defined")
    return frame


def _feature(frame: pd.DataFrame, position: int) -> str:
    return f"feature {frame.index[position]}"


def _check_geometry(frame: gpd.GeoDataFrame, name: str, allowed: tuple[str, ...]) -> None:
    geoms = frame.geometry.values
    missing = shapely.is_missing(geoms) | shapely.is_empty(geoms)
    if missing.any():
        at = int(np.flatnonzero(missing)[0])
        raise SourceError(name, _feature(frame, at), "geometry", "geometry is empty or missing")
    types = shapely.get_type_id(geoms)
    allowed_ids = [_TYPE_IDS[t] for t in allowed]
    wrong = ~np.isin(types, allowed_ids)
    if wrong.any():
        at = int(np.flatnonzero(wrong)[0])
        raise SourceError(
            name,
            _feature(frame, at),
            "geometry",
            f"geometry type {geoms[at].geom_type} where {' or '.join(allowed)} is expected",
        )
    invalid = ~shapely.is_valid(geoms)
    if invalid.any():
        at = int(np.flatnonzero(invalid)[0])
        reason = shapely.is_valid_reason(geoms[at])
        raise SourceError(name, _feature(frame, at), "geometry", f"invalid geometry ({reason})")


_TYPE_IDS = {
    "Point": 0,
    "LineString": 1,
    "Polygon": 3,
    "MultiPoint": 4,
    "MultiLineString": 5,
    "MultiPolygon": 6,
}


def _as_code(series: pd.Series) -> pd.Series:
    """Codes as clean identifiers: text, trimmed, without separators.

    A float-looking code from a spreadsheet ("6201010001.0") loses its spurious decimal part, and
    Kemendagri's dotted codes lose their dots ("62.07.01.2001" → "6207012001"), so every code is
    safe as a feature id and URL segment (OGC API feature ids must not contain dots) and the two
    spellings of one code join.
    """
    text = series.astype("string").str.strip().str.replace(r"\.0$", "", regex=True)
    return text.str.replace(".", "", regex=False)


def read_villages(source: VillageSource, config: BuildConfig) -> gpd.GeoDataFrame:
    """Village polygons with canonical code/name columns, MultiPolygon, EPSG:4326."""
    path = config.resolve(source.file)
    mapping = {
        source.code: "village_code",
        source.name: "village_name",
        source.kecamatan_code: "kecamatan_code",
        source.kecamatan_name: "kecamatan_name",
        source.kabupaten_code: "kabupaten_code",
        source.kabupaten_name: "kabupaten_name",
    }
    frame = _read_vector(source, path, list(mapping))
    if frame.empty:
        raise SourceError(path.name, None, None, "no village features")
    _check_geometry(frame, path.name, ("Polygon", "MultiPolygon"))
    out = gpd.GeoDataFrame(
        {canonical: _as_code(frame[column]) for column, canonical in mapping.items()},
        geometry=frame.geometry.values,
        crs=frame.crs,
    )
    out.index = frame.index
    for column, canonical in ((source.code, "village_code"),):
        blank = out[canonical].isna() | (out[canonical] == "")
        if blank.any():
            raise SourceError(path.name, _feature(out, int(np.flatnonzero(blank)[0])), column, "empty code")
        duplicated = out[canonical].duplicated(keep="first").to_numpy()
        if duplicated.any():
            at = int(np.flatnonzero(duplicated)[0])
            code = out[canonical].iloc[at]
            first = out.index[int(np.flatnonzero((out[canonical] == code).to_numpy())[0])]
            raise SourceError(
                path.name, _feature(out, at), column, f"duplicate code '{code}' (first at feature {first})"
            )
    out = out.to_crs(4326)
    # Note: QGIS treats a mixed Polygon/MultiPolygon layer badly, so villages are always MultiPolygon.
    geoms = out.geometry.values
    single = shapely.get_type_id(geoms) == 3
    geoms = np.asarray(geoms, dtype=object)
    geoms[single] = shapely.multipolygons(geoms[single, None])  # wrap each polygon on its own
    out = out.set_geometry(gpd.GeoSeries(geoms, index=out.index, crs=4326))
    return out.reset_index(drop=True)


def _read_table(path: Path, sheet: str | None) -> pd.DataFrame:
    if not path.exists():
        raise SourceError(path.name, None, None, f"file not found ({path})")
    suffix = path.suffix.lower()
    try:
        if suffix in (".csv", ".txt"):
            return pd.read_csv(path, dtype=str, keep_default_na=False, na_values=[""])
        if suffix in (".xlsx", ".xls"):
            return pd.read_excel(path, sheet_name=sheet or 0, dtype=str)
        if suffix == ".parquet":
            return pd.read_parquet(path)
    except Exception as exc:
        raise SourceError(path.name, None, None, f"cannot read ({exc})") from None
    raise SourceError(
        path.name, None, None, f"unsupported table format '{suffix}' (use CSV, XLSX or Parquet)"
    )


def read_poverty(source: PovertySource, config: BuildConfig, village_codes: pd.Series) -> pd.DataFrame:
    """The poverty table in canonical columns, one row per (village_code, year), every code checked.

    Counts must be numbers ≥ 0; every row must match a village and every village must have a row
    for every year in the table.
    """
    path = config.resolve(source.file)
    raw = _read_table(path, source.sheet)
    needed = [source.code, source.year, *source.columns.values()]
    missing = [c for c in needed if c not in raw.columns]
    if missing:
        raise SourceError(path.name, None, missing[0], f"column not found; the file has {list(raw.columns)}")
    if "population" not in source.columns:
        raise SourceError(path.name, None, None, "config maps no 'population' column (required)")
    out = pd.DataFrame({"village_code": _as_code(raw[source.code])})
    out["year"] = _numbers(raw[source.year], path.name, source.year, integer=True)
    for canonical, column in source.columns.items():
        out[canonical] = _numbers(raw[column], path.name, column, integer=False)
    _check_keys(out, path.name, source, village_codes)
    return out.sort_values(["year", "village_code"], kind="stable").reset_index(drop=True)


def _numbers(column: pd.Series, file: str, field: str, integer: bool) -> np.ndarray:
    values = pd.to_numeric(column, errors="coerce").to_numpy(dtype=np.float64)
    bad = np.isnan(values) & column.notna().to_numpy()
    if bad.any():
        at = int(np.flatnonzero(bad)[0])
        raise SourceError(file, at + 1, field, f"'{column.iloc[at]}' is not a number")
    if np.isnan(values).any() and integer:
        raise SourceError(file, int(np.flatnonzero(np.isnan(values))[0]) + 1, field, "value missing")
    negative = values < 0
    if negative.any():
        at = int(np.flatnonzero(negative)[0])
        raise SourceError(file, at + 1, field, f"negative value {column.iloc[at]}")
    return values.astype(np.int64) if integer else values


def _check_keys(out: pd.DataFrame, file: str, source: PovertySource, village_codes: pd.Series) -> None:
    known = set(village_codes)
    unmatched = ~out["village_code"].isin(known).to_numpy()
    if unmatched.any():
        rows = np.flatnonzero(unmatched)
        codes = out["village_code"].iloc[rows[:5]].tolist()
        raise SourceError(
            file,
            int(rows[0]) + 1,
            source.code,
            f"{len(rows)} row(s) match no village code, e.g. {codes}; check the join key "
            "(BPS and Kemendagri codes differ in Kalimantan Tengah)",
        )
    duplicated = out.duplicated(["village_code", "year"]).to_numpy()
    if duplicated.any():
        at = int(np.flatnonzero(duplicated)[0])
        raise SourceError(
            file,
            at + 1,
            source.code,
            f"second row for village '{out['village_code'].iloc[at]}' in year {out['year'].iloc[at]}",
        )
    for year, rows in out.groupby("year")["village_code"]:
        absent = sorted(known - set(rows))
        if absent:
            raise SourceError(
                file,
                None,
                source.code,
                f"{len(absent)} village(s) have no row for year {year}, e.g. {absent[:5]}",
            )


def read_facilities(
    source: SchoolSource | HealthSource,
    config: BuildConfig,
    kind_column: str,
    kinds: dict[str, str],
    osm_theme: str,
) -> gpd.GeoDataFrame:
    """Facility points with ``kind`` (a facility kind or empty), the source class and ``name``."""
    path = config.resolve(source.file)
    columns = [kind_column] + ([source.name] if source.name else [])
    frame = _read_vector(source, path, columns, osm_theme)
    _check_geometry(frame, path.name, ("Point", "MultiPoint", "Polygon", "MultiPolygon"))
    frame = frame.to_crs(4326)
    # Facilities mapped as building outlines (common in OSM) count at their representative point.
    points = shapely.point_on_surface(frame.geometry.values)
    label = frame[kind_column].astype("string").str.strip()
    lookup = {key.lower(): kind for key, kind in kinds.items()}
    kind = label.str.lower().map(lookup).fillna("")
    unmapped = label[kind == ""].value_counts()
    if len(unmapped):
        log.warning(
            "%s: %d feature(s) of unmapped %s %s are kept but count for no facility kind",
            path.name,
            int(unmapped.sum()),
            kind_column,
            dict(unmapped.head(5)),
        )
    class_name = "level" if isinstance(source, SchoolSource) else "type"
    return gpd.GeoDataFrame(
        {
            "kind": kind.astype(str).to_numpy(),
            class_name: label.fillna("").astype(str).to_numpy(),
            "name": frame[source.name].astype(str).to_numpy() if source.name else "",
        },
        geometry=points,
        crs=4326,
    )


def read_schools(source: SchoolSource, config: BuildConfig) -> gpd.GeoDataFrame:
    """School points, ``kind`` from the level (SD → school_sd, SMP → school_smp, SMA/SMK → school_sma)."""
    return read_facilities(source, config, source.level, SCHOOL_LEVEL_KINDS, "schools")


def read_health(source: HealthSource, config: BuildConfig) -> gpd.GeoDataFrame:
    """Health facility points, ``kind`` health_hospital or health_primary from the type."""
    return read_facilities(source, config, source.type, HEALTH_TYPE_KINDS, "health_facilities")


def read_lines(source: LineSource, config: BuildConfig, osm_theme: str) -> gpd.GeoDataFrame:
    """Roads or rivers (``osm_theme``) as lines with a ``class`` column, EPSG:4326."""
    path = config.resolve(source.file)
    frame = _read_vector(source, path, [source.kind], osm_theme)
    _check_geometry(frame, path.name, ("LineString", "MultiLineString"))
    out = gpd.GeoDataFrame(
        {"class": frame[source.kind].astype("string").str.strip().fillna("").astype(str).to_numpy()},
        geometry=frame.geometry.values,
        crs=frame.crs,
    )
    if "name" in frame.columns:
        out["name"] = frame["name"].astype("string").fillna("").astype(str).to_numpy()
    return out.to_crs(4326)


def read_barriers(source: VectorSource, config: BuildConfig) -> gpd.GeoDataFrame:
    """Barrier polygons or lines (walking is blocked there), EPSG:4326."""
    path = config.resolve(source.file)
    frame = _read_vector(source, path, [])
    _check_geometry(frame, path.name, ("Polygon", "MultiPolygon", "LineString", "MultiLineString"))
    return frame[["geometry"]].to_crs(4326)


def read_declared_facility(kind: str, source: FacilitySource, config: BuildConfig) -> gpd.GeoDataFrame:
    """Points of a facility kind declared under ``[facilities.<kind>]``: ``kind``, ``name``, EPSG:4326.

    A file that is missing or unreadable, a filter GDAL rejects, and a kind left with no point are
    errors naming the config key: a kind without facilities would make everyone "deprived" of it.
    """
    path = config.resolve(source.file)
    key = f"[facilities.{kind}]"
    try:
        frame = _read_vector(source, path, [source.name] if source.name else [], where=source.where)
    except SourceError as exc:
        raise SourceError(exc.file, exc.row, exc.field, f"{exc.problem} (declared by {key})") from None
    if len(frame) == 0:
        what = f"after the filter where = {source.where!r}" if source.where else "in the file"
        raise SourceError(path.name, None, "where" if source.where else None, f"no facility {what} ({key})")
    _check_geometry(frame, path.name, ("Point", "MultiPoint", "Polygon", "MultiPolygon"))
    frame = frame.to_crs(4326)
    names = frame[source.name].astype("string").fillna("").astype(str).to_numpy() if source.name else ""
    return gpd.GeoDataFrame(
        {"kind": kind, "name": names}, geometry=shapely.point_on_surface(frame.geometry.values), crs=4326
    )
