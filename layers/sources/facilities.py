"""Facility points (schools, health facilities, declared kinds), roads, rivers and barriers."""

from __future__ import annotations

import logging
from collections.abc import Iterable, Mapping

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely

from layers.config import (
    HEALTH_TYPE_KINDS,
    SCHOOL_LEVEL_KINDS,
    BuildConfig,
    FacilitySource,
    HealthSource,
    LineSource,
    PlaceCheck,
    SchoolSource,
    VectorSource,
)
from layers.errors import SourceError
from layers.sources.common import SHOWN
from layers.sources.vector import (
    MARGIN_DEG,
    check_geometry,
    read_vector,
    refuse_empty,
    to_lonlat_within,
    within,
)
from layers.types import BBox

log = logging.getLogger(__name__)


def read_facilities(
    source: SchoolSource | HealthSource,
    config: BuildConfig,
    kind_column: str,
    kinds: dict[str, str],
    osm_theme: str,
    area: BBox | None = None,
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
    frame = read_vector(source, path, columns, section, osm_theme, area=area if partial else None)
    if not partial:
        refuse_empty(frame, path.name, section, what)
    check_geometry(frame, path.name, ("Point", "MultiPoint", "Polygon", "MultiPolygon"))
    frame = to_lonlat_within(frame, path.name, section, *within(config, area), every=False)
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
    if not partial:
        lonlat = shapely.get_coordinates(out.geometry.values)
        check_places(lonlat, out["kind"].to_numpy(), path.name, section, source.accept, area)
    return out


#: Points closer to (0°, 0°) than this (degrees) are at (0, 0): where failed geocoding puts them.
AT_ZERO_DEG = 1e-6
#: One point holding at least this many features and this share of the file is a geocoding
#: fallback (every facility placed on the kabupaten's centre), not a building.
ONE_POINT_MIN, ONE_POINT_SHARE = 10, 0.05
#: Features repeating an earlier one (same point, same kind) beyond this share: the file was
#: appended to itself. Fewer are reported in the log (the real schools file has 1.7 %).
DUPLICATED_MIN, DUPLICATED_SHARE = 10, 0.10
#: Beyond this share of features outside the villages' surroundings, the file is not this
#: province's (or its points were geocoded elsewhere); a national file is declared with ``far``.
FAR_SHARE = 0.5
#: Coordinates are compared to this many decimals of a degree (~0.1 m).
_PLACE_DECIMALS = 6


def check_places(
    lonlat: np.ndarray,
    kinds: np.ndarray | None,
    file: str,
    section: str,
    accept: Mapping[PlaceCheck, str],
    area: BBox | None = None,
) -> None:
    """Refuse facility points that cannot be where the facilities are.

    Geocoding failures parse and reproject without error: every health facility on one point, the
    schools at (0°, 0°), the file appended twice, a file for another region. Each of these moves
    every distance and travel time, so each is a `SourceError` naming the file and the count,
    unless ``accept`` declares it with a reason (``[<section>.accept]``): a national file is
    ``far`` from one province, a market hall may hold several markets.

    Parameters
    ----------
    lonlat
        ``(n, 2)`` longitude and latitude of every feature (EPSG:4326).
    kinds
        The facility kind of each feature (a duplicate repeats point and kind), or None: one kind.
    file
        The source file's name, for the message.
    section
        Its config section (``sources.schools``, ``facilities.pasar``), for the message.
    accept
        The checks declared not to apply, with their reasons.
    area
        West, south, east, north (degrees) where the features serve villages; None: no ``far`` check.
    """
    total = len(lonlat)
    if total == 0:
        return
    how = f'if that is really so, declare it in [{section}] as accept.{{check}} = "the reason"'

    def refuse_unless(check: PlaceCheck, count: int, what: str, fix: str) -> None:
        if check not in accept:
            raise SourceError(
                file,
                None,
                "geometry",
                f"{count:,} of {total:,} features {what}. {fix}; {how.format(check=check)}",
            )
        log.warning("%s: %d of %d features %s (accepted: %s)", file, count, total, what, accept[check])

    # Each misplacement is counted once: points at (0, 0) are neither "far" nor a stack, and the
    # features of a stack are not also "duplicates" of one another.
    with np.errstate(invalid="ignore"):
        zero = (np.abs(lonlat) < AT_ZERO_DEG).all(axis=1)
    if zero.any():
        refuse_unless(
            "at_zero", int(zero.sum()), "lie at (0°, 0°), where failed geocoding puts points",
            "Give them their coordinates, or leave them out",
        )  # fmt: skip
    if area is not None:
        west, south, east, north = area
        lon, lat = lonlat[:, 0], lonlat[:, 1]
        with np.errstate(invalid="ignore"):
            far = int((~((lon >= west) & (lon <= east) & (lat >= south) & (lat <= north)) & ~zero).sum())
        if far > FAR_SHARE * total:
            refuse_unless(
                "far", far, f"lie more than {MARGIN_DEG:g}° (~110 km) beyond the villages' extent",
                "This file is not this province's, or its points were geocoded elsewhere",
            )  # fmt: skip
    rounded = np.round(lonlat[~zero], _PLACE_DECIMALS)
    if not len(rounded):
        return
    keyed = pd.DataFrame({"x": rounded[:, 0], "y": rounded[:, 1]})
    keyed["kind"] = "" if kinds is None else np.asarray(kinds)[~zero]
    here = keyed.groupby(["x", "y"])["kind"].transform("size").to_numpy()
    busiest = int(here.max())
    if busiest >= ONE_POINT_MIN and busiest >= ONE_POINT_SHARE * total:
        x, y = rounded[int(np.argmax(here))]
        refuse_unless(
            "one_point", busiest, f"share one point ({x:.6f}°, {y:.6f}°)",
            "Facilities geocoded to a village's, kecamatan's or kabupaten's centre are not where they "
            "are: give each its own coordinates",
        )  # fmt: skip
    duplicated = int((keyed.duplicated().to_numpy() & (here < ONE_POINT_MIN)).sum())
    if duplicated >= DUPLICATED_MIN and duplicated > DUPLICATED_SHARE * total:
        refuse_unless(
            "duplicated", duplicated, "repeat an earlier feature (same point, same kind)",
            "The file holds its features twice (appended to itself?): remove the copies",
        )  # fmt: skip
    elif duplicated:
        log.warning(
            "%s: %d of %d features repeat an earlier one (same point and kind)", file, duplicated, total
        )


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
    source: SchoolSource, config: BuildConfig, area: BBox | None = None, partial: bool = False
) -> gpd.GeoDataFrame:
    """School points, ``kind`` from the level (SD → school_sd, SMP → school_smp, SMA/SMK → school_sma)."""
    return read_facilities(source, config, source.level, SCHOOL_LEVEL_KINDS, "schools", area, partial=partial)


def read_health(
    source: HealthSource, config: BuildConfig, area: BBox | None = None, partial: bool = False
) -> gpd.GeoDataFrame:
    """Health facility points, ``kind`` health_hospital or health_primary from the type."""
    return read_facilities(
        source, config, source.type, HEALTH_TYPE_KINDS, "health_facilities", area, partial=partial
    )


def read_lines(
    source: LineSource,
    config: BuildConfig,
    osm_theme: str,
    area: BBox | None = None,
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
    frame = read_vector(source, path, [source.kind], section, osm_theme, area=area if partial else None)
    if not partial:
        consequence = (
            "every person would count as deprived of them"
            if osm_theme == "roads"
            else "travel by boat would be ignored"
        )
        refuse_empty(frame, path.name, section, osm_theme, consequence)
    check_geometry(frame, path.name, ("LineString", "MultiLineString"))
    out = gpd.GeoDataFrame(
        {"class": frame[source.kind].astype("string").str.strip().fillna("").astype(str).to_numpy()},
        geometry=frame.geometry.values,
        crs=frame.crs,
    )
    out.index = frame.index
    if "name" in frame.columns:
        out["name"] = frame["name"].astype("string").fillna("").astype(str).to_numpy()
    out = to_lonlat_within(out, path.name, section, *within(config, area), every=False)
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
    source: VectorSource, config: BuildConfig, area: BBox | None = None, partial: bool = False
) -> gpd.GeoDataFrame:
    """Barrier polygons or lines (walking is blocked there), EPSG:4326; ``partial`` as `read_lines`."""
    path = config.resolve(source.file)
    frame = read_vector(source, path, [], "sources.barriers", area=area if partial else None)
    if not partial:
        refuse_empty(frame, path.name, "sources.barriers", "barrier", "nothing would block walking")
    check_geometry(frame, path.name, ("Polygon", "MultiPolygon", "LineString", "MultiLineString"))
    frame = to_lonlat_within(
        frame[["geometry"]], path.name, "sources.barriers", *within(config, area), every=False
    )
    return frame.reset_index(drop=True)


def read_declared_facility(
    kind: str,
    source: FacilitySource,
    config: BuildConfig,
    area: BBox | None = None,
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
        frame = read_vector(
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
    check_geometry(frame, path.name, ("Point", "MultiPoint", "Polygon", "MultiPolygon"))
    frame = to_lonlat_within(frame, path.name, section, *within(config, area), every=False)
    # Without a ``name`` column every facility is nameless: one empty name per point (a scalar
    # beside scalars would leave pandas without a length, and an empty frame must stay typed).
    names = (
        frame[source.name].astype("string").fillna("").astype(str).to_numpy()
        if source.name
        else np.full(len(frame), "", dtype=object)
    )
    points = shapely.point_on_surface(frame.geometry.values)
    if not partial:
        check_places(shapely.get_coordinates(points), None, path.name, section, source.accept, area)
    return gpd.GeoDataFrame(
        {"kind": np.full(len(frame), kind, dtype=object), "name": names}, geometry=points, crs=4326
    )
