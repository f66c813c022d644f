"""Read OpenStreetMap extracts into the frames the access layers use.

`read_osm` reads ``.osm`` / ``.osm.pbf`` through GDAL's OSM driver (layers ``points``, ``lines``,
``multipolygons``) or any other vector file holding OSM columns (a GeoPackage or GeoJSON exported by
osmium, QGIS or Overpass). `normalise_osm_frames` turns either into four EPSG:4326 frames:

* ``roads``: lines with a ``highway`` value (not proposed, under construction or abandoned);
* ``rivers``: lines with ``waterway`` in `RIVER_CLASSES`;
* ``schools``: ``amenity=school`` points and polygon centroids, with ``level`` (SD, SMP, SMA, SMK,
  MI, MTS, MA, ...) from ``isced:level``, then ``school:level``, then the name's prefix;
* ``health_facilities``: ``amenity=hospital|clinic|doctors`` or ``healthcare=hospital|clinic|doctor|
  centre``, with ``type`` hospital, clinic or puskesmas.

Tags the OSM driver does not give a column of its own sit in ``other_tags`` as an hstore string
(``"amenity"=>"school","isced:level"=>"1"``); they are read with one vectorised regex per key.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Iterable
from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd
import pyogrio
import shapely

from layers.errors import SourceError

log = logging.getLogger(__name__)

#: Layers of GDAL's OSM driver that hold the features used here.
OSM_LAYERS: tuple[str, ...] = ("points", "lines", "multipolygons")
#: ``waterway`` classes travelled by boat.
RIVER_CLASSES: tuple[str, ...] = ("river", "canal", "stream")
#: Column names of the normalised frames.
SCHOOL_LEVEL_COLUMN = "level"
HEALTH_TYPE_COLUMN = "type"

_TAGS = ("name", "highway", "waterway", "amenity", "healthcare", "isced:level", "school:level")
# Lifecycle values that are not (yet, or any more) a road.
_NOT_ROADS = ("proposed", "construction", "abandoned", "disused", "razed", "planned")
_ISCED_LEVELS = {"0": "TK", "1": "SD", "2": "SMP", "3": "SMA"}
_SCHOOL_LEVELS = {
    "primary": "SD",
    "lower_secondary": "SMP",
    "middle": "SMP",
    "secondary": "SMA",
    "upper_secondary": "SMA",
    "high": "SMA",
    "vocational": "SMK",
}
# Indonesian school names start with their form: "SDN 1 Palangka", "SMP Negeri 2", "MTsN", "SMAK".
# A suffix N (negeri), S (swasta), K (Katolik/Kristen) or IT (Islam Terpadu) may follow.
_NAME_LEVEL = re.compile(
    r"^\s*(SMPLB|SMALB|SDLB|SMLB|SMK|SMA|SMP|SD|MTS|MI|MA)(?:N|S|K|IT)?(?![A-Z])", re.IGNORECASE
)
_HEALTH_AMENITIES = ("hospital", "clinic", "doctors")
_HEALTHCARE = ("hospital", "clinic", "doctor", "centre")
_LINES, _POINTS, _POLYGONS = (1, 5), (0,), (3, 6)  # shapely geometry type ids


def read_osm(path: str | Path) -> dict[str, gpd.GeoDataFrame]:
    """Read roads, rivers, schools and health facilities from an OSM extract.

    Parameters
    ----------
    path : str or pathlib.Path
        ``.osm`` or ``.osm.pbf`` (GDAL's OSM driver), or a GeoPackage / GeoJSON / other vector file
        whose layers hold OSM tag columns (``highway``, ``amenity``, ...) or ``other_tags``.

    Returns
    -------
    dict of str to geopandas.GeoDataFrame
        ``roads``, ``rivers``, ``schools`` and ``health_facilities`` (see the module docstring).

    Raises
    ------
    SourceError
        When the file is missing or GDAL cannot read it.
    """
    path = Path(path)
    if not path.exists():
        raise SourceError(str(path), None, None, "file not found")
    is_osm = path.name.lower().endswith((".osm", ".osm.pbf", ".pbf", ".osm.xml"))
    try:
        layers = list(OSM_LAYERS) if is_osm else [str(name) for name, _ in pyogrio.list_layers(path)]
        frames = [pyogrio.read_dataframe(path, layer=layer) for layer in layers]
    except (pyogrio.errors.DataSourceError, pyogrio.errors.DataLayerError) as exc:
        raise SourceError(str(path), None, None, f"cannot read it as OSM data ({exc})") from None
    return normalise_osm_frames(frames)


def normalise_osm_frames(frames: Iterable[gpd.GeoDataFrame]) -> dict[str, gpd.GeoDataFrame]:
    """Sort OSM features of any geometry into roads, rivers, schools and health facilities.

    Parameters
    ----------
    frames : iterable of geopandas.GeoDataFrame
        Frames with OSM tags as columns and/or in ``other_tags`` (hstore). A frame without a CRS
        is taken as EPSG:4326. The input frames are not changed.

    Returns
    -------
    dict of str to geopandas.GeoDataFrame
        ``roads`` (osm_id, name, highway), ``rivers`` (osm_id, name, waterway), ``schools``
        (osm_id, name, level) and ``health_facilities`` (osm_id, name, type), all EPSG:4326, the
        last two as points.

    Examples
    --------
    >>> f = gpd.GeoDataFrame({"other_tags": ['"amenity"=>"school","isced:level"=>"1"']},
    ...                      geometry=gpd.points_from_xy([113.9], [-2.2]), crs=4326)
    >>> normalise_osm_frames([f])["schools"]["level"].tolist()
    ['SD']
    """
    tables = [_tag_table(frame) for frame in frames]
    features = pd.concat(tables, ignore_index=True) if tables else _tag_table(None)
    features = gpd.GeoDataFrame(features, geometry="geometry", crs=4326)
    kind = shapely.get_type_id(np.asarray(features.geometry.values, dtype=object))
    lines = features[np.isin(kind, _LINES)]
    places = features[np.isin(kind, _POINTS + _POLYGONS)].copy()
    # A school or hospital mapped as a building or grounds counts at its centroid.
    places["geometry"] = shapely.centroid(np.asarray(places.geometry.values, dtype=object))
    highway, waterway = lines["highway"].str.lower(), lines["waterway"].str.lower()
    roads = lines[highway.notna() & ~highway.isin(_NOT_ROADS)]
    rivers = lines[waterway.isin(RIVER_CLASSES)]
    amenity, healthcare = places["amenity"].str.lower(), places["healthcare"].str.lower()
    schools = places[amenity.eq("school").fillna(False)].copy()
    schools[SCHOOL_LEVEL_COLUMN] = _school_level(schools)
    health = places[(amenity.isin(_HEALTH_AMENITIES) | healthcare.isin(_HEALTHCARE)).fillna(False)].copy()
    health[HEALTH_TYPE_COLUMN] = _health_type(health)
    return {
        "roads": _select(roads, "highway"),
        "rivers": _select(rivers, "waterway"),
        "schools": _select(schools, SCHOOL_LEVEL_COLUMN),
        "health_facilities": _select(health, HEALTH_TYPE_COLUMN),
    }


def _select(frame: gpd.GeoDataFrame, column: str) -> gpd.GeoDataFrame:
    out = frame[["osm_id", "name", column, "geometry"]].reset_index(drop=True)
    return gpd.GeoDataFrame(out, geometry="geometry", crs=4326)


def _tag_table(frame: gpd.GeoDataFrame | None) -> gpd.GeoDataFrame:
    """osm_id, the tags of `_TAGS` as string columns, and the geometry in EPSG:4326."""
    if frame is None or len(frame) == 0 or frame.geometry.name not in frame.columns:
        empty = {col: pd.Series(dtype="string") for col in ("osm_id", *_TAGS)}
        return gpd.GeoDataFrame(empty, geometry=gpd.GeoSeries([], crs=4326), crs=4326)
    geometry = frame.geometry if frame.crs is not None else frame.geometry.set_crs(4326)
    table = {"osm_id": _osm_id(frame)}
    table.update({key: _tag(frame, key) for key in _TAGS})
    return gpd.GeoDataFrame(table, geometry=geometry.to_crs(4326).values, crs=4326)


def _osm_id(frame: pd.DataFrame) -> pd.Series:
    ids = pd.Series(pd.NA, index=frame.index, dtype="string")
    for column in ("osm_id", "osm_way_id", "id", "@id"):  # multipolygons from ways carry osm_way_id
        if column in frame.columns:
            ids = ids.fillna(frame[column].astype("string"))
    return ids


def _tag(frame: pd.DataFrame, key: str) -> pd.Series:
    """One tag as a string column: its own column where the driver made one, else ``other_tags``."""
    value = pd.Series(pd.NA, index=frame.index, dtype="string")
    if key in frame.columns:
        value = frame[key].astype("string")
    if "other_tags" in frame.columns:
        # hstore escapes quotes and backslashes inside values with a backslash.
        pattern = rf'(?:^|,)"{re.escape(key)}"=>"((?:[^"\\]|\\.)*)"'
        found = frame["other_tags"].astype("string").str.extract(pattern, expand=False)
        found = found.str.replace(r"\\(.)", r"\1", regex=True)
        value = value.fillna(found)
    return value.str.strip().replace("", pd.NA)


def _school_level(schools: pd.DataFrame) -> pd.Series:
    """SD/SMP/SMA/... from isced:level (first listed), school:level, then the name's prefix."""
    isced = schools["isced:level"].str.extract(r"^\s*([0-3])", expand=False).map(_ISCED_LEVELS)
    stated = schools["school:level"].str.lower()
    stated = stated.map(_SCHOOL_LEVELS).fillna(stated.str.upper())
    named = schools["name"].str.extract(_NAME_LEVEL, expand=False).str.upper().replace("SMALB", "SMLB")
    return isced.astype("string").fillna(stated).fillna(named.astype("string"))


def _health_type(health: pd.DataFrame) -> pd.Series:
    """hospital, clinic or puskesmas (healthcare=centre or a name starting "Puskesmas")."""
    amenity, healthcare = health["amenity"].str.lower(), health["healthcare"].str.lower()
    puskesmas = healthcare.eq("centre") | health["name"].str.match(r"(?i)\s*puskesmas")
    hospital = amenity.eq("hospital") | healthcare.eq("hospital")
    kind = np.select(
        [puskesmas.fillna(False).to_numpy(bool), hospital.fillna(False).to_numpy(bool)],
        ["puskesmas", "hospital"],
        default="clinic",  # the remaining amenity/healthcare values are clinics and doctors
    )
    return pd.Series(kind, index=health.index, dtype="string")
