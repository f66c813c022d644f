"""Vector sources: reading a layer (whole or a partition's part), its geometry and CRS checks, villages."""

from __future__ import annotations

import logging
from functools import lru_cache
from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd
import pyogrio
import shapely
from pyproj import CRS, Transformer

from layers.config import (
    BuildConfig,
    VectorSource,
    VillageSource,
)
from layers.errors import SourceError
from layers.sources.common import (
    crs_name,
    feature_at,
    feature_place,
    not_found,
    refuse,
    refuse_scientific_codes,
    unreadable,
)
from layers.sources.osm import read_osm
from layers.types import BBox

VILLAGE_COLUMNS = (
    "village_code",
    "village_name",
    "kecamatan_code",
    "kecamatan_name",
    "kabupaten_code",
    "kabupaten_name",
)

#: File endings GDAL's OSM driver reads; such a source is read through `layers.sources.osm`.
OSM_SUFFIXES = (".osm", ".osm.pbf", ".pbf", ".osm.xml")

log = logging.getLogger(__name__)


def is_osm_extract(path: Path) -> bool:
    """Whether a path is an OpenStreetMap extract (read with GDAL's OSM driver)."""
    return path.name.lower().endswith(OSM_SUFFIXES)


@lru_cache(maxsize=2)
def _osm_themes(path: Path, mtime_ns: int) -> dict[str, gpd.GeoDataFrame]:
    # One extract usually feeds roads, rivers, schools and health facilities: parse it once.
    del mtime_ns  # part of the cache key only: a changed file is read again
    return read_osm(path)


class Part:
    """What one partition of a national build reads of each source (`layers.pipeline.national`).

    National files are read in part: the villages by feature id, every other vector source by the
    lon/lat box ``area`` (through the file's spatial index), so no partition reads a whole national
    road network. A part may hold no feature of a source, or no facility of a kind, where a whole
    file may not: the whole files are checked once, before the partitions run.
    """

    fids: np.ndarray
    """Feature ids of the partition's villages in the villages file."""
    area: BBox
    """West, south, east, north (degrees): the partition's villages widened by its border buffer."""


def read_vector(
    source: VectorSource,
    path: Path,
    columns: list[str],
    section: str,
    osm_theme: str | None = None,
    where: str | None = None,
    fids: np.ndarray | None = None,
    area: BBox | None = None,
) -> gpd.GeoDataFrame:
    """Read a vector source; ``fids`` or ``area`` (lon/lat) read only part of it (`Part`)."""
    if not path.exists():
        raise not_found(path)
    try:
        if osm_theme is not None and is_osm_extract(path):
            # OSM tags become columns (highway, waterway, level, type, name); see layers.sources.osm.
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
        raise unreadable(path, "", exc) from None
    missing = [c for c in columns if c not in frame.columns]
    if missing:
        raise SourceError(
            path.name, None, missing[0], f"column not found; the file has {list(frame.columns[:-1])}"
        )
    if frame.crs is None:
        raise SourceError(path.name, None, "geometry", "no coordinate reference system (CRS) defined")
    check_shapefile_text(frame, path, source, section)
    return frame


def bbox_in_file_crs(path: Path, layer: str | None, area: BBox) -> BBox:
    """The lon/lat box ``area`` in the CRS of a layer, for pyogrio's spatial-index filter."""
    crs = pyogrio.read_info(path, layer=layer).get("crs")
    if crs is None or CRS.from_user_input(crs).equals(CRS.from_epsg(4326)):
        return area
    to_file = Transformer.from_crs(4326, crs, always_xy=True)
    return tuple(to_file.transform_bounds(*area, densify_pts=21))  # type: ignore[return-value]


def check_shapefile_text(frame: gpd.GeoDataFrame, path: Path, source: VectorSource, section: str) -> None:
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
                feature_place(frame),
                column,
                quote,
                "has non-ASCII text, but the shapefile has no .cpg file saying how its text is "
                f"encoded, so it was decoded as Latin-1 and may be garbled{reading}",
                f'Declare the encoding in [{section}], e.g. encoding = "UTF-8" (or "cp1252"), '
                f"or add {path.stem}.cpg containing the encoding's name",
            )


def check_geometry(frame: gpd.GeoDataFrame, name: str, allowed: tuple[str, ...]) -> None:
    """Refuse empty, missing, invalid geometries and types other than ``allowed``."""
    geoms = frame.geometry.values
    feature = feature_place(frame)
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


def surroundings(villages: gpd.GeoDataFrame, margin: float = MARGIN_DEG) -> BBox:
    """The villages' extent (EPSG:4326) widened by ``margin`` degrees: where other sources belong."""
    west, south, east, north = villages.total_bounds.tolist()
    return (west - margin, south - margin, east + margin, north + margin)


def to_lonlat_within(
    frame: gpd.GeoDataFrame, file: str, section: str, bounds: BBox, region: str, every: bool
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
    declared = crs_name(frame.crs)
    raw = shapely.bounds(frame.geometry.values)
    first = int(np.flatnonzero(outside)[0])
    x, y = raw[first, 0], raw[first, 1]
    if frame.crs.is_geographic and west <= y <= east and south <= x <= north:
        why = (
            f"Its coordinates ({x:.6g}, {y:.6g}) read as (latitude, longitude): swapped, they lie in "
            "the region. The axes are swapped: give longitude first (GeoJSON always does)"
        )
    elif frame.crs.is_geographic and (abs(x) > 180 or abs(y) > 90):
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
            feature_place(frame),
            "geometry",
            lambda position: f"lands {where(position)}",
            f"{reprojected}, outside {region}",
            fix,
        )
    # Not one feature near the villages: the whole file is misplaced, one example says enough.
    raise SourceError(
        file,
        feature_at(frame, first),
        "geometry",
        f"all {len(out)} features land outside {region} {reprojected}; this one lands {where(first)}. {fix}",
    )


def _region(bounds: BBox, what: str) -> str:
    west, south, east, north = bounds
    return f"{what} ({west:.3f} to {east:.3f} °E, {south:.3f} to {north:.3f} °N)"


def refuse_empty(
    frame: pd.DataFrame,
    file: str,
    section: str,
    what: str,
    consequence: str = "every person would count as deprived of them",
) -> None:
    """Refuse a source with no features.

    An empty file is a mistake (wrong layer, a failed export), never "none in the province".
    """
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
    frame = read_vector(source, path, list(mapping), "sources.villages", fids=fids)
    if frame.empty:
        raise SourceError(path.name, None, None, "no village features")
    check_geometry(frame, path.name, ("Polygon", "MultiPolygon"))
    refuse_scientific_codes(frame[source.code], path.name, source.code, feature_place(frame))
    out = gpd.GeoDataFrame(
        {canonical: as_code(frame[column]) for column, canonical in mapping.items()},
        geometry=frame.geometry.values,
        crs=frame.crs,
    )
    out.index = frame.index
    for column, canonical in ((source.code, "village_code"),):
        blank = out[canonical].isna() | (out[canonical] == "")
        if blank.any():
            raise SourceError(path.name, feature_at(out, int(np.flatnonzero(blank)[0])), column, "empty code")
        duplicated = out[canonical].duplicated(keep="first").to_numpy()
        if duplicated.any():
            at = int(np.flatnonzero(duplicated)[0])
            code = out[canonical].iloc[at]
            first = out.index[int(np.flatnonzero((out[canonical] == code).to_numpy())[0])]
            raise SourceError(
                path.name, feature_at(out, at), column, f"duplicate code '{code}' (first at feature {first})"
            )
    region = _region(config.region_bounds, "the region where sources must lie (region_bounds)")
    out = to_lonlat_within(out, path.name, "sources.villages", config.region_bounds, region, every=True)
    # Note: QGIS treats a mixed Polygon/MultiPolygon layer badly, so villages are always MultiPolygon.
    geoms = out.geometry.values
    single = shapely.get_type_id(geoms) == 3
    geoms = np.asarray(geoms, dtype=object)
    geoms[single] = shapely.multipolygons(geoms[single, None])  # wrap each polygon on its own
    out = out.set_geometry(gpd.GeoSeries(geoms, index=out.index, crs=4326))
    return out.reset_index(drop=True)


def within(config: BuildConfig, area: BBox | None) -> tuple[BBox, str]:
    """Where a source's features must lie (``area``, else ``region_bounds``) and how to say it."""
    if area is None:
        return config.region_bounds, _region(config.region_bounds, "the region (region_bounds)")
    return area, _region(area, f"the villages' extent widened by {MARGIN_DEG:g}°")
