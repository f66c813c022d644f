"""The coordinate reference systems Sasaran answers in (OGC API - Features Part 2), and vectorised
reprojection between them and the store's CRS84.

The store holds lon/lat (CRS84). A GIS office in Indonesia works in one of a few systems: WGS 84 as
EPSG defines it (latitude first), Web Mercator, UTM zones 49S and 50S (Kalimantan Tengah straddles
114°E, their boundary) and DGN95, the national datum (EPSG:4755, latitude first). Each is named by
its OGC URI (``http://www.opengis.net/def/crs/EPSG/0/32750``); the short ``EPSG:32750``, the URN
``urn:ogc:def:crs:EPSG::32750`` and ``OGC:CRS84`` are accepted too, and always mean the EPSG axis
order (``EPSG:4326`` is latitude, longitude; only CRS84 is longitude, latitude).

Coordinates are transformed a whole array at a time (`pyproj.Transformer` over ``shapely.transform``'s
coordinate array), never feature by feature.

Examples
--------
>>> crs = parse_crs("EPSG:4326")
>>> crs.uri, crs.lat_first
('http://www.opengis.net/def/crs/EPSG/0/4326', True)
>>> import shapely
>>> to_crs(np.array([shapely.Point(113.9, -2.2)]), crs)[0].wkt
'POINT (-2.2 113.9)'
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import cache

import numpy as np
import shapely
from numpy.typing import NDArray
from pyproj import Transformer

from layers.errors import InvalidQuery, excerpt
from layers.types import BBox

CRS84 = "http://www.opengis.net/def/crs/OGC/1.3/CRS84"
_EPSG_URI = "http://www.opengis.net/def/crs/EPSG/0/{}"


@dataclass(frozen=True)
class Crs:
    """A CRS the service answers in: its URI, EPSG code (None for CRS84) and what it is."""

    uri: str
    epsg: int | None
    title: str
    lat_first: bool
    """Axis order latitude, longitude (EPSG:4326, EPSG:4755)."""
    decimals: int
    """Decimal places kept in answers: 7 for degrees (about 1 cm), 2 for metres."""

    @property
    def is_crs84(self) -> bool:
        """Whether this is the store's own CRS (no transformation)."""
        return self.epsg is None

    @property
    def header(self) -> str:
        """The ``Content-Crs`` header value (``<uri>``, OGC API - Features Part 2)."""
        return f"<{self.uri}>"


SUPPORTED: tuple[Crs, ...] = (
    Crs(CRS84, None, "WGS 84 longitude, latitude (CRS84)", False, 7),
    Crs(_EPSG_URI.format(4326), 4326, "WGS 84 latitude, longitude (EPSG:4326)", True, 7),
    Crs(_EPSG_URI.format(3857), 3857, "WGS 84 / Pseudo-Mercator (EPSG:3857)", False, 2),
    Crs(_EPSG_URI.format(32749), 32749, "WGS 84 / UTM zone 49S (EPSG:32749)", False, 2),
    Crs(_EPSG_URI.format(32750), 32750, "WGS 84 / UTM zone 50S (EPSG:32750)", False, 2),
    Crs(_EPSG_URI.format(4755), 4755, "DGN95 latitude, longitude (EPSG:4755)", True, 7),
)
#: Every supported URI, in the order the collections list them.
SUPPORTED_URIS: tuple[str, ...] = tuple(c.uri for c in SUPPORTED)
_BY_CODE = {c.epsg: c for c in SUPPORTED}
_SHORT = re.compile(
    r"^(?:\[?EPSG:(\d+)\]?|urn:ogc:def:crs:EPSG:[^:]*:(\d+)|https?://www\.opengis\.net/def/crs/EPSG/0/(\d+))$",
    re.IGNORECASE,
)
_CRS84_NAMES = {CRS84.lower(), "crs84", "ogc:crs84", "[ogc:crs84]", "urn:ogc:def:crs:ogc:1.3:crs84",
                "https://www.opengis.net/def/crs/ogc/1.3/crs84"}  # fmt: skip


def parse_crs(text: str | None, parameter: str = "crs") -> Crs:
    """The `Crs` a ``crs``, ``bbox-crs`` or ``filter-crs`` value names (CRS84 when absent).

    `InvalidQuery` naming the parameter and every supported URI for anything else.
    """
    if text is None:
        return SUPPORTED[0]
    value = text.strip()
    if value.lower() in _CRS84_NAMES:
        return SUPPORTED[0]
    match = _SHORT.match(value)
    if match:
        code = int(next(g for g in match.groups() if g))
        if code in _BY_CODE:
            return _BY_CODE[code]
    raise InvalidQuery(
        f"{parameter} '{excerpt(value)}' is not supported here; supported: {', '.join(SUPPORTED_URIS)} "
        "(EPSG:4326 and EPSG:4755 are latitude, longitude; CRS84 is longitude, latitude)"
    )


@cache
def _transformer(epsg: int, inverse: bool) -> Transformer:
    # Axis orders as the authorities define them: CRS84 lon/lat in, EPSG:4326 lat/lon out.
    source, target = ("OGC:CRS84", f"EPSG:{epsg}") if not inverse else (f"EPSG:{epsg}", "OGC:CRS84")
    return Transformer.from_crs(source, target, always_xy=False)


def _apply(
    geometries: NDArray[np.object_], transformer: Transformer, decimals: int | None
) -> NDArray[np.object_]:
    def project(coords: NDArray[np.float64]) -> NDArray[np.float64]:
        x, y = transformer.transform(coords[:, 0], coords[:, 1])
        out = np.column_stack([x, y])
        return np.round(out, decimals) if decimals is not None else out

    return shapely.transform(np.asarray(geometries, dtype=object), project)


def to_crs(geometries: NDArray[np.object_], crs: Crs, rounded: bool = False) -> NDArray[np.object_]:
    """CRS84 geometries in ``crs`` (its axis order), all coordinates in one transformation.

    ``rounded``: coordinates rounded to the CRS's `Crs.decimals`, as answers show them.
    """
    decimals = crs.decimals if rounded else None
    if crs.epsg is None:
        if decimals is None:
            return geometries
        return shapely.transform(np.asarray(geometries, dtype=object), lambda xy: np.round(xy, decimals))
    return _apply(geometries, _transformer(crs.epsg, False), decimals)


def from_crs(geometries: NDArray[np.object_], crs: Crs) -> NDArray[np.object_]:
    """Geometries given in ``crs`` (its axis order) as CRS84 lon/lat."""
    if crs.epsg is None:
        return geometries
    return _apply(geometries, _transformer(crs.epsg, True), None)


#: Points per edge of a box reprojected to CRS84: a projected box's edges curve in lon/lat.
BOX_EDGE_POINTS = 32


def box_to_crs84(bbox: BBox, crs: Crs) -> shapely.Geometry:
    """The area of a ``bbox`` given in ``crs`` (its axis order), as a CRS84 polygon.

    In CRS84 and the latitude-first geographic CRSs the box stays a box (axes swapped); a projected
    box is densified along its edges before reprojection, so the lon/lat outline follows its curve.
    """
    a0, b0, a1, b1 = bbox
    if crs.epsg is None:
        return shapely.box(a0, b0, a1, b1)
    if crs.lat_first and crs.epsg == 4326:
        return shapely.box(b0, a0, b1, a1)
    t = np.linspace(0.0, 1.0, BOX_EDGE_POINTS, endpoint=False)
    xs = np.concatenate([a0 + (a1 - a0) * t, np.full_like(t, a1), a1 - (a1 - a0) * t, np.full_like(t, a0)])
    ys = np.concatenate([np.full_like(t, b0), b0 + (b1 - b0) * t, np.full_like(t, b1), b1 - (b1 - b0) * t])
    ring = shapely.linearrings(np.column_stack([xs, ys]))
    outline = from_crs(np.array([shapely.Polygon(ring)], dtype=object), crs)[0]
    corners = shapely.get_coordinates(outline)
    if not np.isfinite(corners).all() or (np.abs(corners) > [180.0, 90.0]).any():
        raise InvalidQuery(
            f"bbox {', '.join(f'{v:g}' for v in bbox)} lies outside where {crs.uri} is defined; give it in "
            "that CRS's own coordinates (metres for UTM and EPSG:3857)"
        )
    return outline if outline.is_valid else shapely.make_valid(outline)
