"""Reading and validating source files into Sasaran's canonical schema.

Every problem stops the build with a `SourceError` naming the file, the feature or row, the field
and what is wrong, before anything is written. Feature numbers are the file's own FIDs where the
format has them (what QGIS shows), row numbers are 1-based data rows (what a spreadsheet shows
is that plus the header). Checks run on whole columns and quote up to `SHOWN` offending rows in
one message; docs/sources.md lists them all.
"""

from __future__ import annotations

import codecs
import csv
import hashlib
import io
import logging
import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import pyogrio
import shapely
from pyproj import CRS, Transformer

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

#: (west, south, east, north) in degrees.
Bounds = tuple[float, float, float, float]

#: At most this many offending rows or features are quoted in one message.
SHOWN = 5

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


# --- reporting ------------------------------------------------------------------------------------


def refuse(
    file: str,
    bad: np.ndarray,
    place: Callable[[int], str],
    field: str | None,
    describe: Callable[[int], str],
    problem: str,
    hint: str = "",
) -> None:
    """Raise one `SourceError` for every position where ``bad`` is true, if any.

    The message names the first offending row or feature and quotes up to `SHOWN` of them, so a
    user fixes a column in one go instead of one row per build.

    Parameters
    ----------
    file
        File name for the message.
    bad
        Boolean array over the rows or features.
    place
        Position -> ``"row 4"`` or ``"feature 17"``.
    field
        The file's column (or ``"geometry"``).
    describe
        Position -> the offending value as the user wrote it (``"'1.053'"``).
    problem
        What is wrong, completing "<value> ...", e.g. ``"is not a whole number"``.
    hint
        What to do about it, appended as its own sentence.
    """
    at = np.flatnonzero(bad)
    if len(at) == 0:
        return
    first = int(at[0])
    text = f"{describe(first)} {problem}"
    if len(at) > 1:
        others = ", ".join(f"{place(int(i))} {describe(int(i))}" for i in at[1:SHOWN])
        more = f"; {len(at)} in all" if len(at) > SHOWN else ""
        text += f" (also {others}{more})"
    if hint:
        text += f". {hint}"
    raise SourceError(file, place(first), field, text)


def _row(position: int) -> str:
    return f"row {position + 1}"


def _feature_of(frame: pd.DataFrame) -> Callable[[int], str]:
    index = frame.index
    return lambda position: f"feature {index[position]}"


def _crs_name(crs: object) -> str:
    crs = CRS.from_user_input(crs)
    code = crs.to_string()
    return code if code == crs.name else f"{code} ({crs.name})"


# --- vector sources -------------------------------------------------------------------------------


@dataclass(frozen=True)
class Part:
    """What one partition of a national build reads of each source (`layers.partition`).

    National files are read in part: the villages by feature id, every other vector source by the
    lon/lat box ``area`` (through the file's spatial index), so no partition reads a whole national
    road network. A part may hold no feature of a source, or no facility of a kind, where a whole
    file may not: the whole files are checked once, before the partitions run.
    """

    fids: np.ndarray
    """Feature ids of the partition's villages in the villages file."""
    area: Bounds
    """West, south, east, north (degrees): the partition's villages widened by its border buffer."""


def _read_vector(
    source: VectorSource,
    path: Path,
    columns: list[str],
    section: str,
    osm_theme: str | None = None,
    where: str | None = None,
    fids: np.ndarray | None = None,
    area: Bounds | None = None,
) -> gpd.GeoDataFrame:
    """Read a vector source; ``fids`` or ``area`` (lon/lat) read only part of it (`Part`)."""
    if not path.exists():
        raise SourceError(path.name, None, None, f"file not found ({path})")
    try:
        if osm_theme is not None and is_osm_extract(path):
            # OSM tags become columns (highway, waterway, level, type, name); see layers.osm.
            frame = _osm_themes(path, path.stat().st_mtime_ns)[osm_theme].copy()
            frame.index = pd.RangeIndex(1, len(frame) + 1)
            if area is not None:
                frame = frame.loc[frame.geometry.intersects(shapely.box(*area)).to_numpy()]
        else:
            frame = pyogrio.read_dataframe(
                path,
                layer=source.layer,
                fid_as_index=True,
                encoding=source.encoding,
                where=where,
                fids=fids,
                bbox=None if area is None else bbox_in_file_crs(path, source.layer, area),
            )
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
    _check_shapefile_text(frame, path, source, section)
    return frame


def bbox_in_file_crs(path: Path, layer: str | None, area: Bounds) -> Bounds:
    """The lon/lat box ``area`` in the CRS of a layer, for pyogrio's spatial-index filter."""
    crs = pyogrio.read_info(path, layer=layer).get("crs")
    if crs is None or CRS.from_user_input(crs).equals(CRS.from_epsg(4326)):
        return area
    to_file = Transformer.from_crs(4326, crs, always_xy=True)
    return tuple(to_file.transform_bounds(*area, densify_pts=21))  # type: ignore[return-value]


def _check_shapefile_text(frame: gpd.GeoDataFrame, path: Path, source: VectorSource, section: str) -> None:
    """Refuse non-ASCII text from a shapefile that does not say how its text is encoded.

    Without a ``.cpg`` file GDAL decodes a shapefile's text as Latin-1, which turns UTF-8 names
    into mojibake ("PenyÃ©ngat") without any error; ASCII text reads the same in every encoding.
    """
    if path.suffix.lower() != ".shp" or source.encoding is not None:
        return
    if any(sibling.suffix.lower() == ".cpg" for sibling in path.parent.glob(f"{path.stem}.*")):
        return
    for column in frame.columns.drop(frame.geometry.name):
        if not (pd.api.types.is_object_dtype(frame[column]) or pd.api.types.is_string_dtype(frame[column])):
            continue
        text = frame[column].astype("string")
        non_ascii = text.str.contains(r"[^\x00-\x7f]", regex=True, na=False).to_numpy(dtype=bool)

        def quote(position: int, text: pd.Series = text) -> str:
            return repr(str(text.iloc[position]))

        if non_ascii.any():
            sample = str(text.iloc[int(np.flatnonzero(non_ascii)[0])])
            try:
                as_utf8 = sample.encode("latin-1").decode("utf-8")
                reading = f"; read as UTF-8 it is {as_utf8!r}, so the file is probably UTF-8"
            except UnicodeError:
                reading = ""
            refuse(
                path.name,
                non_ascii,
                _feature_of(frame),
                column,
                quote,
                "has non-ASCII text, but the shapefile has no .cpg file saying how its text is "
                f"encoded, so it was decoded as Latin-1 and may be garbled{reading}",
                f'Declare the encoding in [{section}], e.g. encoding = "UTF-8" (or "cp1252"), '
                f"or add {path.stem}.cpg containing the encoding's name",
            )


def _check_geometry(frame: gpd.GeoDataFrame, name: str, allowed: tuple[str, ...]) -> None:
    geoms = frame.geometry.values
    feature = _feature_of(frame)
    missing = shapely.is_missing(geoms) | shapely.is_empty(geoms)
    refuse(name, missing, feature, "geometry", lambda _: "geometry", "is empty or missing")
    types = shapely.get_type_id(geoms)
    allowed_ids = [_TYPE_IDS[t] for t in allowed]
    refuse(
        name,
        ~np.isin(types, allowed_ids),
        feature,
        "geometry",
        lambda at: f"geometry type {geoms[at].geom_type}",
        f"where {' or '.join(allowed)} is expected",
    )
    refuse(
        name,
        ~shapely.is_valid(geoms),
        feature,
        "geometry",
        lambda at: f"invalid geometry ({shapely.is_valid_reason(geoms[at])})",
        "(repair it, e.g. with QGIS's Fix geometries)",
    )


_TYPE_IDS = {
    "Point": 0,
    "LineString": 1,
    "Polygon": 3,
    "MultiPoint": 4,
    "MultiLineString": 5,
    "MultiPolygon": 6,
}

#: How far (degrees, ~110 km) around the villages other sources may usefully lie: a hospital
#: across the province border still serves it.
MARGIN_DEG = 1.0


def surroundings(villages: gpd.GeoDataFrame, margin: float = MARGIN_DEG) -> Bounds:
    """The villages' extent (EPSG:4326) widened by ``margin`` degrees: where other sources belong."""
    west, south, east, north = villages.total_bounds.tolist()
    return (west - margin, south - margin, east + margin, north + margin)


def _to_lonlat_within(
    frame: gpd.GeoDataFrame, file: str, section: str, bounds: Bounds, region: str, every: bool
) -> gpd.GeoDataFrame:
    """Reproject to EPSG:4326 and refuse features that land outside ``bounds``.

    A wrong CRS label moves a whole file: degrees labelled EPSG:3857 land near 0°, 0°, metres
    labelled EPSG:4326 land off the globe. With ``every`` each feature must be inside (villages);
    otherwise the file is refused only when none is (a national facility file may serve a
    province), and the features outside are reported in the log.
    """
    out = frame.to_crs(4326)
    box = shapely.bounds(out.geometry.values)
    west, south, east, north = bounds
    with np.errstate(invalid="ignore"):
        inside = (
            np.isfinite(box).all(axis=1)
            & (box[:, 2] >= west)
            & (box[:, 0] <= east)
            & (box[:, 3] >= south)
            & (box[:, 1] <= north)
        )
    outside = ~inside
    if not outside.any():
        return out
    if not every and inside.any():
        log.warning(
            "%s: %d of %d feature(s) lie outside %s and serve no village",
            file,
            int(outside.sum()),
            len(out),
            region,
        )
        return out
    declared = _crs_name(frame.crs)
    raw = shapely.bounds(frame.geometry.values)
    first = int(np.flatnonzero(outside)[0])
    x, y = raw[first, 0], raw[first, 1]
    if frame.crs.is_geographic and (abs(x) > 180 or abs(y) > 90):
        why = f"Its coordinates ({x:.6g}, {y:.6g}) are not degrees: is it a projected CRS such as UTM?"
    elif not frame.crs.is_geographic and abs(x) <= 180 and abs(y) <= 90:
        why = f"Its coordinates ({x:.6g}, {y:.6g}) look like degrees: is it EPSG:4326?"
    else:
        why = (
            f"Its coordinates start at ({x:.6g}, {y:.6g}): is the declared CRS right, and is this "
            "the file for this province?"
        )

    def where(position: int) -> str:
        lon, lat = box[position, 0], box[position, 1]
        return f"at {lon:.4f}°, {lat:.4f}°" if np.isfinite(lon) and np.isfinite(lat) else "off the globe"

    reprojected = f"after reprojection from the declared CRS {declared}"
    fix = f"{why} Fix the CRS label of the file (or the file named in [{section}])"
    if every:
        refuse(
            file,
            outside,
            _feature_of(frame),
            "geometry",
            lambda position: f"lands {where(position)}",
            f"{reprojected}, outside {region}",
            fix,
        )
    # Not one feature near the villages: the whole file is misplaced, one example says enough.
    raise SourceError(
        file,
        _feature(frame, first),
        "geometry",
        f"all {len(out)} features land outside {region} {reprojected}; this one lands {where(first)}. {fix}",
    )


def _region(bounds: Bounds, what: str) -> str:
    west, south, east, north = bounds
    return f"{what} ({west:.3f} to {east:.3f} °E, {south:.3f} to {north:.3f} °N)"


def _refuse_empty(
    frame: pd.DataFrame,
    file: str,
    section: str,
    what: str,
    consequence: str = "every person would count as deprived of them",
) -> None:
    # An empty file is a mistake (wrong layer, a failed export), never "none in the province".
    if frame.empty:
        raise SourceError(
            file,
            None,
            None,
            f"no {what} features: {consequence}. Give a file that has them, or remove "
            f"[{section}] to go without",
        )


def as_code(series: pd.Series) -> pd.Series:
    """Codes as clean identifiers: text, trimmed, without separators.

    A float-looking code from a spreadsheet ("6201010001.0") loses its spurious decimal part, and
    Kemendagri's dotted codes lose their dots ("62.07.01.2001" → "6207012001"), so every code is
    safe as a feature id and URL segment (OGC API feature ids must not contain dots) and the two
    spellings of one code join.
    """
    text = series.astype("string").str.strip().str.replace(r"\.0$", "", regex=True)
    return text.str.replace(".", "", regex=False)


def read_villages(
    source: VillageSource, config: BuildConfig, fids: np.ndarray | None = None
) -> gpd.GeoDataFrame:
    """Village polygons with canonical code/name columns, MultiPolygon, EPSG:4326.

    Every village must lie inside ``config.region_bounds`` once reprojected (a wrong CRS label is
    refused, naming the declared CRS). ``fids``: read only these features (a partition, `Part`).
    """
    path = config.resolve(source.file)
    mapping = {
        source.code: "village_code",
        source.name: "village_name",
        source.kecamatan_code: "kecamatan_code",
        source.kecamatan_name: "kecamatan_name",
        source.kabupaten_code: "kabupaten_code",
        source.kabupaten_name: "kabupaten_name",
    }
    frame = _read_vector(source, path, list(mapping), "sources.villages", fids=fids)
    if frame.empty:
        raise SourceError(path.name, None, None, "no village features")
    _check_geometry(frame, path.name, ("Polygon", "MultiPolygon"))
    out = gpd.GeoDataFrame(
        {canonical: as_code(frame[column]) for column, canonical in mapping.items()},
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
    region = _region(config.region_bounds, "the region where sources must lie (region_bounds)")
    out = _to_lonlat_within(out, path.name, "sources.villages", config.region_bounds, region, every=True)
    # Note: QGIS treats a mixed Polygon/MultiPolygon layer badly, so villages are always MultiPolygon.
    geoms = out.geometry.values
    single = shapely.get_type_id(geoms) == 3
    geoms = np.asarray(geoms, dtype=object)
    geoms[single] = shapely.multipolygons(geoms[single, None])  # wrap each polygon on its own
    out = out.set_geometry(gpd.GeoSeries(geoms, index=out.index, crs=4326))
    return out.reset_index(drop=True)


def _feature(frame: pd.DataFrame, position: int) -> str:
    return f"feature {frame.index[position]}"


def _within(config: BuildConfig, area: Bounds | None) -> tuple[Bounds, str]:
    if area is None:
        return config.region_bounds, _region(config.region_bounds, "the region (region_bounds)")
    return area, _region(area, f"the villages' extent widened by {MARGIN_DEG:g}°")


# --- tables ---------------------------------------------------------------------------------------

#: Field separators tried on a CSV header when none is declared.
DELIMITERS = (",", ";", "\t", "|")

#: A number in Indonesian digit grouping: 1.053, 12.345.678 (and 1.053,5).
_DOT_GROUPED = re.compile(r"^[+-]?\d{1,3}(?:\.\d{3})+(?:,\d+)?$")

_FORMAT_HINT = (
    'declare how numbers are written in [sources.poverty]: thousands = "." for Indonesian '
    'style (1.053 people, 5,17 %), or thousands = "," for English style (1,053 people, 5.17 %)'
)


#: Table files Sasaran reads, by suffix: the poverty table and `sasaran mpi`'s unit tables alike.
TABLE_KINDS: dict[str, str] = {
    ".csv": "csv", ".txt": "csv", ".tsv": "csv",
    ".xlsx": "excel", ".xls": "excel",
    ".parquet": "parquet", ".pq": "parquet",
}  # fmt: skip


def table_kind(path: Path) -> str:
    """``csv``, ``excel`` or ``parquet`` by the file's suffix; `SourceError` for any other."""
    kind = TABLE_KINDS.get(path.suffix.lower())
    if kind is None:
        raise SourceError(
            path.name, None, None, f"unsupported table format '{path.suffix}' (use CSV, XLSX or Parquet)"
        )
    return kind


def csv_text(path: Path, encoding: str | None = None, delimiter: str | None = None) -> tuple[str, str, str]:
    """A CSV file's text, its field separator (declared or detected) and how it was read."""
    text, used = _decode(path.read_bytes(), path.name, encoding, delimiter)
    separator = delimiter or sniff_delimiter(text.split("\n", 1)[0])
    how = f"read as {used} CSV with delimiter {separator!r}" + (
        "" if delimiter else ' (detected from the header; declare delimiter = "..." if wrong)'
    )
    return text, separator, how


def _read_table(path: Path, source: PovertySource) -> tuple[pd.DataFrame, str]:
    """The table, every cell as the user wrote it, and how it was read (for messages)."""
    if not path.exists():
        raise SourceError(path.name, None, None, f"file not found ({path})")
    kind = table_kind(path)
    if kind == "csv":
        return _read_csv(path, source)
    try:
        if kind == "excel":
            # object, not str: a number cell stays a number, so a declared decimal comma applies
            # only to numbers typed as text.
            return pd.read_excel(path, sheet_name=source.sheet or 0, dtype=object), ""
        return pd.read_parquet(path), ""
    except Exception as exc:
        raise SourceError(path.name, None, None, f"cannot read ({exc})") from None


def _read_csv(path: Path, source: PovertySource) -> tuple[pd.DataFrame, str]:
    text, delimiter, how = csv_text(path, source.encoding, source.delimiter)
    try:
        frame = pd.read_csv(
            io.StringIO(text), sep=delimiter, dtype=str, keep_default_na=False, na_values=[""]
        )
    except Exception as exc:  # pandas' ParserError names the line
        raise SourceError(path.name, None, None, f"cannot read ({exc}); {how}") from None
    return frame, how


def sniff_delimiter(header: str) -> str:
    """The field separator that splits a CSV header into the most fields (``,`` on a tie).

    Examples
    --------
    >>> sniff_delimiter("kode_desa;tahun;jumlah_penduduk")
    ';'
    >>> sniff_delimiter("kode_desa,nama;desa")
    ','
    """
    fields = {d: len(next(csv.reader([header], delimiter=d), [])) for d in DELIMITERS}
    return max(DELIMITERS, key=lambda d: fields[d])


def _decode(data: bytes, file: str, declared: str | None, delimiter: str | None) -> tuple[str, str]:
    """Text of a CSV: the declared encoding, else UTF-8 (a BOM, UTF-16's too, is honoured)."""
    if declared:
        encoding = declared
    elif data.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        encoding = "utf-16"
    else:
        encoding = "utf-8-sig"
    try:
        return data.decode(encoding), ("UTF-8" if encoding == "utf-8-sig" else encoding)
    except UnicodeDecodeError as exc:
        # Name the line, the character and the column, as an editor shows them, not a byte offset.
        line = data.count(b"\n", 0, exc.start) + 1
        line_start = data.rfind(b"\n", 0, exc.start) + 1
        before = data[line_start : exc.start].decode(encoding, errors="replace")
        header = data.split(b"\n", 1)[0].decode(encoding, errors="replace").strip("\r\ufeff")
        sep = delimiter or sniff_delimiter(header)
        names = next(csv.reader([header], delimiter=sep), [])
        index = before.count(sep)
        field = names[index] if line > 1 and index < len(names) else None
        byte = data[exc.start : exc.end].hex(" ").upper()
        if declared:
            problem = f"byte(s) {byte} at character {len(before) + 1} are not {declared} text"
            hint = "Check the encoding declared in [sources.poverty]"
        else:
            problem = f"byte(s) {byte} at character {len(before) + 1} are not UTF-8 text"
            hint = (
                "Save the file as UTF-8, or declare its encoding in [sources.poverty], e.g. "
                'encoding = "cp1252" (Excel on Windows) or encoding = "latin-1"'
            )
        place = f"row {line - 1} (line {line})" if line > 1 else "line 1 (header)"
        raise SourceError(file, place, field, f"{problem}. {hint}") from None


def _text_cells(column: pd.Series) -> np.ndarray:
    """Which cells hold text (a CSV's all do; a spreadsheet mixes numbers and text)."""
    kind = pd.api.types.infer_dtype(column, skipna=True)
    if kind in ("string", "empty"):
        return column.notna().to_numpy()
    if kind in ("integer", "floating", "decimal", "mixed-integer-float", "boolean"):
        return np.zeros(len(column), bool)
    # Mixed spreadsheet columns only: one isinstance per row of a table, not per cell.
    return column.map(lambda value: isinstance(value, str)).to_numpy(dtype=bool)


def parse_numbers(column: pd.Series, number_format: tuple[str, str] | None) -> tuple[np.ndarray, np.ndarray]:
    """Parse a table column into float64 (NaN where blank) and flag cells that are not numbers.

    Parameters
    ----------
    column
        Cells as read: text (CSV), numbers and text (XLSX) or numbers (Parquet).
    number_format
        ``(decimal, thousands)`` as declared, or ``None``: then ``1053.5`` style, no grouping.

    Returns
    -------
    values, not_number
        Float values (NaN for blank or unparseable cells) and where a non-blank cell is no number.

    Examples
    --------
    >>> values, bad = parse_numbers(pd.Series(["1.053", "5,17", "", "x"]), (",", "."))
    >>> values.tolist()[:2], bad.tolist()
    ([1053.0, 5.17], [False, False, False, True])
    """
    if pd.api.types.is_numeric_dtype(column.dtype) and not pd.api.types.is_bool_dtype(column.dtype):
        return column.to_numpy(dtype=np.float64, na_value=np.nan), np.zeros(len(column), bool)
    values = np.full(len(column), np.nan)
    not_number = np.zeros(len(column), bool)
    is_text = _text_cells(column)
    numbers = ~is_text & column.notna().to_numpy()
    if numbers.any():
        values[numbers] = pd.to_numeric(column[numbers], errors="coerce").to_numpy(np.float64)
        not_number[numbers] = np.isnan(values[numbers])
    if not is_text.any():
        return values, not_number
    # Arrow's regex match and string-to-double cast run in C++: ~25 ms per 166,000 cells (all of
    # Indonesia's villages over two years), where pandas.to_numeric on strings takes ~190 ms.
    text = pc.utf8_trim_whitespace(pa.array(column[is_text], pa.string(), from_pandas=True))
    blank = pc.fill_null(pc.equal(pc.utf8_length(text), 0), True).to_numpy(zero_copy_only=False)
    decimal, thousands = number_format or (".", "")
    if thousands == " ":  # spreadsheets group with a non-breaking space as often as a space
        text = pc.replace_substring(text, "\u00a0", " ")
    integer = rf"(?:\d{{1,3}}(?:{re.escape(thousands)}\d{{3}})+|\d+)" if thousands else r"\d+"
    mark = re.escape(decimal)
    pattern = rf"^[+-]?(?:{integer}(?:{mark}\d*)?|{mark}\d+)(?:[eE][+-]?\d+)?$"
    shaped = pc.fill_null(pc.match_substring_regex(text, pattern), False)
    plain = pc.replace_substring(text, thousands, "") if thousands else text
    plain = pc.replace_substring(plain, decimal, ".") if decimal != "." else plain
    parsed = pc.cast(pc.if_else(shaped, plain, None), pa.float64()).to_numpy(zero_copy_only=False)
    parsed = np.array(parsed, np.float64)  # writable, NaN for null
    # "inf" is a number to Python but not a count: flagged as non-finite, not as text.
    infinite = pc.fill_null(pc.match_substring_regex(text, r"^[+-]?inf(inity)?$", ignore_case=True), False)
    parsed[infinite.to_numpy(zero_copy_only=False)] = np.inf
    values[is_text] = parsed
    not_number[is_text] = ~blank & np.isnan(parsed)
    return values, not_number


#: Counts that cannot exceed another count in the same row: part -> whole.
_AT_MOST = {
    "poor_population": "population",
    "elderly": "population",
    "disabled": "population",
    "households": "population",
    "hh_decile_1": "households",
    "hh_decile_2": "households",
    "hh_decile_3": "households",
    "hh_decile_4": "households",
    "female_headed_hh": "households",
    "hh_no_electricity": "households",
    "hh_no_safe_water": "households",
    "hh_no_sanitation": "households",
}

#: Plausible survey years.
YEARS = (1900, 2100)


def read_poverty(source: PovertySource, config: BuildConfig, village_codes: pd.Series) -> pd.DataFrame:
    """The poverty table in canonical columns, one row per (village_code, year), every code checked.

    Numbers are parsed as declared (``decimal``, ``thousands``); the year and every count must be
    whole numbers, counts finite and ≥ 0, the population given and > 0 (every village owns at least
    one H3 cell), parts no larger than their whole (poor people ≤ people, deprived households ≤
    households, deciles 1-4 together ≤ households) and ``poverty_rate`` a percentage. Every row
    must match a village and every village must have a row for every year in the table.
    """
    path = config.resolve(source.file)
    raw, how = _read_table(path, source)
    needed = [source.code, source.year, *source.columns.values()]
    missing = [c for c in needed if c not in raw.columns]
    if missing:
        found = list(map(str, raw.columns))
        note = f"; {how}" if how else ""
        if len(found) == 1 and any(d in found[0] for d in DELIMITERS if d not in how):
            note += ": the header is one field, so the delimiter is probably another"
        raise SourceError(path.name, None, missing[0], f"column not found; the file has {found}{note}")
    if "population" not in source.columns:
        raise SourceError(path.name, None, None, "config maps no 'population' column (required)")
    out = pd.DataFrame({"village_code": as_code(raw[source.code])})
    fields = {"year": source.year, **source.columns}
    values = {
        canonical: _checked_numbers(raw[column], path.name, column, canonical, source.number_format)
        for canonical, column in fields.items()
    }
    _check_wholes(values, fields, path.name)
    out["year"] = values.pop("year").astype(np.int64)
    for canonical in source.columns:
        out[canonical] = values[canonical]
    _check_keys(out, path.name, source, village_codes)
    return out.sort_values(["year", "village_code"], kind="stable").reset_index(drop=True)


def _checked_numbers(
    column: pd.Series, file: str, field: str, canonical: str, number_format: tuple[str, str] | None
) -> np.ndarray:
    values, not_number = parse_numbers(column, number_format)
    cells = column.astype("string")

    def quote(position: int) -> str:
        return repr(str(cells.iloc[position]).strip())

    declared = (
        f'(read with decimal "{number_format[0]}" and thousands "{number_format[1]}" as declared in '
        "[sources.poverty])"
        if number_format
        else ""
    )
    # The number-format hint only where a refused cell has digits ("1.053,5"), not for "NaN".
    digits = cells[not_number].str.contains(r"\d", regex=True, na=False).any()
    required = canonical in ("year", "population")
    blank = (
        f"{canonical.capitalize()} is required in every row"
        if required
        else "Leave a cell empty for a missing value"
    )
    hint = declared or (blank + (f"; {_FORMAT_HINT}" if digits else ""))
    refuse(file, not_number, _row, field, quote, "is not a number", hint)
    refuse(
        file,
        np.isinf(values),
        _row,
        field,
        quote,
        "is not a finite number",
        "A count or rate must be an ordinary number",
    )
    refuse(
        file,
        required & np.isnan(values),
        _row,
        field,
        lambda _: "empty cell",
        f"where {canonical} is required",
    )
    with np.errstate(invalid="ignore"):
        refuse(file, values < 0, _row, field, quote, "is negative")
        if canonical != "poverty_rate":
            fractional = np.isfinite(values) & (values != np.floor(values))
            looks_grouped = number_format is None and bool(
                cells[fractional].str.strip().str.fullmatch(_DOT_GROUPED.pattern).any()
            )
            hint = (
                "It looks like '.' separates thousands (Indonesian style); " + _FORMAT_HINT
                if looks_grouped
                else (
                    declared
                    or ("A year" if canonical == "year" else "A count of people or households")
                    + " is a whole number"
                )
            )
            refuse(file, fractional, _row, field, quote, "is not a whole number", hint)
        if canonical == "year":
            refuse(
                file, (values < YEARS[0]) | (values > YEARS[1]), _row, field, quote, "is not a plausible year"
            )
        elif canonical == "population":
            refuse(
                file,
                values == 0,
                _row,
                field,
                quote,
                "is zero",
                "Every village owns at least one H3 cell, so it must have people to be scored",
            )
        elif canonical == "poverty_rate":
            refuse(file, values > 100, _row, field, quote, "is above 100 (poverty_rate is a percentage)")
    return values


def _check_wholes(values: dict[str, np.ndarray], fields: dict[str, str], file: str) -> None:
    """Refuse rows where a part exceeds its whole (poor people > people, ...)."""
    with np.errstate(invalid="ignore"):
        for part, whole in _AT_MOST.items():
            if part not in values or whole not in values:
                continue
            p, w = values[part], values[whole]
            # NaN compares false: a missing cell is not an excess.
            refuse(
                file,
                p > w,
                _row,
                fields[part],
                # refuse() calls it at once, so the loop's current p, w and whole are the right ones.
                lambda at: f"{p[at]:,.0f} (> {fields[whole]} {w[at]:,.0f})",  # noqa: B023
                f"exceeds its {whole}",
            )
        if "households" in values and "population" in values:
            h, n = values["households"], values["population"]
            refuse(
                file,
                (h == 0) & (n > 0),
                _row,
                fields["households"],
                lambda at: f"0 households for {n[at]:,.0f} people",
                "is impossible: people live in households",
            )
        deciles = [c for c in ("hh_decile_1", "hh_decile_2", "hh_decile_3", "hh_decile_4") if c in values]
        if len(deciles) > 1 and "households" in values:
            total = np.sum([values[c] for c in deciles], axis=0)
            h = values["households"]
            names = " + ".join(fields[c] for c in deciles)
            refuse(
                file,
                total > h,
                _row,
                fields[deciles[0]],
                lambda at: f"{names} = {total[at]:,.0f} (> {fields['households']} {h[at]:,.0f})",
                "exceeds its households (a household is in one decile)",
            )


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
    area: Bounds | None = None,
    section: str | None = None,
    partial: bool = False,
) -> gpd.GeoDataFrame:
    """Facility points with ``kind`` (a facility kind or empty), the source class and ``name``.

    The file must have features, inside ``area`` (the villages' surroundings; default the
    config's ``region_bounds``), and at least one of every kind the ``kinds`` mapping yields
    (`check_facility_kind`). ``partial``: read only the features in ``area``, which may be none
    (a partition of a national build, `Part`).
    """
    path = config.resolve(source.file)
    section = section or f"sources.{osm_theme}"
    what = osm_theme.replace("_", " ")
    columns = [kind_column] + ([source.name] if source.name else [])
    frame = _read_vector(source, path, columns, section, osm_theme, area=area if partial else None)
    if not partial:
        _refuse_empty(frame, path.name, section, what)
    _check_geometry(frame, path.name, ("Point", "MultiPoint", "Polygon", "MultiPolygon"))
    frame = _to_lonlat_within(frame, path.name, section, *_within(config, area), every=False)
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
    out = gpd.GeoDataFrame(
        {
            "kind": kind.astype(str).to_numpy(),
            class_name: label.fillna("").astype(str).to_numpy(),
            "name": frame[source.name].astype(str).to_numpy() if source.name else "",
        },
        geometry=points,
        crs=4326,
    )
    for wanted in dict.fromkeys(kinds.values()) if not partial else ():
        labels = [key for key, value in kinds.items() if value == wanted]
        check_facility_kind(out, path.name, wanted, kind_column, labels, section, unmapped.index)
    return out


def check_facility_kind(
    frame: gpd.GeoDataFrame,
    file: str,
    kind: str,
    field: str | None = None,
    labels: Iterable[str] = (),
    section: str | None = None,
    unmapped: Iterable[str] = (),
) -> None:
    """Refuse a facility file in which no feature is of ``kind``.

    Distances and travel times to a kind with no facility are infinite, so every person would
    count as deprived of it: a file lacking a kind is wrong data (or the wrong column or mapping),
    not a province without schools.

    Parameters
    ----------
    frame
        Facilities with a ``kind`` column (`read_facilities`).
    file
        The source file's name, for the message.
    kind
        The facility kind that must be present, e.g. ``"school_smp"``.
    field
        The file's column the kind comes from.
    labels
        The values of ``field`` that map to ``kind``, quoted in the message.
    section
        The config section of the source, quoted in the hint.
    unmapped
        Values of ``field`` found that map to no kind, quoted in the message.
    """
    if (frame["kind"] == kind).any():
        return
    expected = f" (values {', '.join(sorted(labels))})" if labels else ""
    seen = list(unmapped)[:SHOWN]
    found = f"; unmapped values found: {seen}" if seen else ""
    where = f" in [{section}]" if section else ""
    raise SourceError(
        file,
        None,
        field,
        f"no feature of kind {kind}{expected} among {len(frame)} feature(s){found}: everyone would "
        f"count as deprived of it. Check the file and the column named{where}",
    )


def read_schools(
    source: SchoolSource, config: BuildConfig, area: Bounds | None = None, partial: bool = False
) -> gpd.GeoDataFrame:
    """School points, ``kind`` from the level (SD → school_sd, SMP → school_smp, SMA/SMK → school_sma)."""
    return read_facilities(source, config, source.level, SCHOOL_LEVEL_KINDS, "schools", area, partial=partial)


def read_health(
    source: HealthSource, config: BuildConfig, area: Bounds | None = None, partial: bool = False
) -> gpd.GeoDataFrame:
    """Health facility points, ``kind`` health_hospital or health_primary from the type."""
    return read_facilities(
        source, config, source.type, HEALTH_TYPE_KINDS, "health_facilities", area, partial=partial
    )


def read_lines(
    source: LineSource,
    config: BuildConfig,
    osm_theme: str,
    area: Bounds | None = None,
    partial: bool = False,
) -> gpd.GeoDataFrame:
    """Roads or rivers (``osm_theme``) as lines with a ``class`` column, EPSG:4326.

    Refused when empty, outside ``area``, when no line has a class with a speed in ``[access]``,
    and (roads) when none is an all-weather road, which ``dist_km_road`` measures to.
    ``partial``: read only the lines in ``area``, which may be none or have no such class (a
    partition of a national build: the whole file is checked once, `check_whole_lines`).
    """
    path = config.resolve(source.file)
    section = f"sources.{osm_theme}"
    frame = _read_vector(source, path, [source.kind], section, osm_theme, area=area if partial else None)
    if not partial:
        consequence = (
            "every person would count as deprived of them"
            if osm_theme == "roads"
            else "travel by boat would be ignored"
        )
        _refuse_empty(frame, path.name, section, osm_theme, consequence)
    _check_geometry(frame, path.name, ("LineString", "MultiLineString"))
    out = gpd.GeoDataFrame(
        {"class": frame[source.kind].astype("string").str.strip().fillna("").astype(str).to_numpy()},
        geometry=frame.geometry.values,
        crs=frame.crs,
    )
    out.index = frame.index
    if "name" in frame.columns:
        out["name"] = frame["name"].astype("string").fillna("").astype(str).to_numpy()
    out = _to_lonlat_within(out, path.name, section, *_within(config, area), every=False)
    if not partial:
        check_line_classes(out["class"], path.name, source, config, osm_theme)
    return out.reset_index(drop=True)


def check_line_classes(
    classes: pd.Series, file: str, source: LineSource, config: BuildConfig, osm_theme: str
) -> None:
    """Refuse roads or rivers of which no line has a class with a speed, or (roads) none is all-weather.

    Parameters
    ----------
    classes
        The class of every line (stripped text).
    file
        The source file's name, for the message.
    source
        Its config section (the class column is named in the message).
    config
        The build config (its ``[access]`` speeds and all-weather classes).
    osm_theme
        ``"roads"`` or ``"rivers"``.
    """
    access = config.access
    roads = osm_theme == "roads"
    speeds = access.road_speeds_kmh if roads else access.river_speeds_kmh
    if not (roads and access.default_road_kmh) and not classes.isin(list(speeds)).any():
        raise SourceError(
            file,
            None,
            source.kind,
            f"no feature has a class with a speed (found {list(classes.value_counts().index[:SHOWN])}; "
            f"speeds are set for {sorted(speeds)}): set them in [access.{'road' if roads else 'river'}"
            "_speeds_kmh] or name the right column",
        )
    if roads and not classes.isin(list(access.all_weather_roads)).any():
        raise SourceError(
            file,
            None,
            source.kind,
            f"no all-weather road (classes {list(access.all_weather_roads)}) among "
            f"{len(classes)} feature(s): the distance to an all-weather road would be infinite for "
            "everyone. Set [access] all_weather_roads or name the right column",
        )


def read_barriers(
    source: VectorSource, config: BuildConfig, area: Bounds | None = None, partial: bool = False
) -> gpd.GeoDataFrame:
    """Barrier polygons or lines (walking is blocked there), EPSG:4326; ``partial`` as `read_lines`."""
    path = config.resolve(source.file)
    frame = _read_vector(source, path, [], "sources.barriers", area=area if partial else None)
    if not partial:
        _refuse_empty(frame, path.name, "sources.barriers", "barrier", "nothing would block walking")
    _check_geometry(frame, path.name, ("Polygon", "MultiPolygon", "LineString", "MultiLineString"))
    frame = _to_lonlat_within(
        frame[["geometry"]], path.name, "sources.barriers", *_within(config, area), every=False
    )
    return frame.reset_index(drop=True)


def read_declared_facility(
    kind: str,
    source: FacilitySource,
    config: BuildConfig,
    area: Bounds | None = None,
    partial: bool = False,
) -> gpd.GeoDataFrame:
    """Points of a facility kind declared under ``[facilities.<kind>]``: ``kind``, ``name``, EPSG:4326.

    A file that is missing or unreadable, a filter GDAL rejects, a kind left with no point, and
    points nowhere near the villages (a wrong CRS label) are errors naming the config key: a kind
    without facilities would make everyone "deprived" of it.
    """
    path = config.resolve(source.file)
    section = f"facilities.{kind}"
    key = f"[{section}]"
    try:
        frame = _read_vector(
            source,
            path,
            [source.name] if source.name else [],
            section,
            where=source.where,
            area=area if partial else None,
        )
    except SourceError as exc:
        raise SourceError(exc.file, exc.row, exc.field, f"{exc.problem} (declared by {key})") from None
    if len(frame) == 0 and not partial:
        what = f"after the filter where = {source.where!r}" if source.where else "in the file"
        raise SourceError(path.name, None, "where" if source.where else None, f"no facility {what} ({key})")
    _check_geometry(frame, path.name, ("Point", "MultiPoint", "Polygon", "MultiPolygon"))
    frame = _to_lonlat_within(frame, path.name, section, *_within(config, area), every=False)
    names = frame[source.name].astype("string").fillna("").astype(str).to_numpy() if source.name else ""
    return gpd.GeoDataFrame(
        {"kind": kind, "name": names}, geometry=shapely.point_on_surface(frame.geometry.values), crs=4326
    )
