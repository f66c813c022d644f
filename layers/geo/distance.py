"""Straight-line (geodesic) distance from points to the nearest facility or line.

The province spans UTM zones 49S and 50S, so no single UTM projection is right everywhere. Points go
to 3-D unit vectors on the sphere, where the chord length is monotonic in great-circle distance: a
KD-tree there finds the true nearest neighbour on the sphere in one vectorised query. The distance
reported is then the WGS84 ellipsoidal geodesic between the pair (pyproj ``Geod.inv``, vectorised),
among the few nearest candidates on the sphere: sphere and ellipsoid disagree on which facility is
nearer only when distances are within ~0.5 % of each other, so three candidates settle it.

Only the candidates that can be nearest are measured on the ellipsoid: a geodesic is between
`_RADIUS_MIN_M` and `_RADIUS_MAX_M` times its points' angle on the sphere, so a candidate whose
angle is more than 1 % beyond the first's is farther and its geodesic is skipped (most cells have
one candidate left; the result is the same as measuring all three).
"""

from __future__ import annotations

import numpy as np
import shapely
from numpy.typing import NDArray
from pyproj import Geod
from scipy.spatial import cKDTree

from layers.types import FloatArray

_WGS84 = Geod(ellps="WGS84")

# The ellipsoid's radii of curvature lie between the meridian's at the equator, a(1 - e²), and
# both radii at the poles, a / sqrt(1 - e²). In geodetic latitude and longitude, a path on the
# ellipsoid is between these times its length on the unit sphere, so a geodesic of angle θ on that
# sphere (the chord's arc) is between _RADIUS_MIN_M * θ and _RADIUS_MAX_M * θ long.
_RADIUS_MIN_M = _WGS84.a * (1.0 - _WGS84.es)
_RADIUS_MAX_M = _WGS84.a / np.sqrt(1.0 - _WGS84.es)
#: Slack (metres) over the bounds for floating-point error in chords and geodesics (nanometres).
_BOUND_SLACK_M = 1e-3

#: Vertex spacing (degrees, ≈ 111 m) when lines are sampled as points for nearest-line distance.
LINE_SAMPLE_DEG = 0.001
#: The resulting worst-case overestimate of distance to a line, in km (half the spacing).
LINE_SAMPLE_ERROR_KM = 0.056


def unit_vectors(lon: FloatArray, lat: FloatArray) -> FloatArray:
    """Points on the unit sphere (geodetic latitude as spherical), where chords order arcs."""
    lon_r, lat_r = np.radians(lon), np.radians(lat)
    cos_lat = np.cos(lat_r)
    return np.column_stack((cos_lat * np.cos(lon_r), cos_lat * np.sin(lon_r), np.sin(lat_r)))


def nearest_km(
    lon: FloatArray,
    lat: FloatArray,
    target_lon: FloatArray,
    target_lat: FloatArray,
    candidates: int = 3,
    *,
    points: FloatArray | None = None,
) -> FloatArray:
    """Geodesic km from each point to its nearest target; ``inf`` when there are no targets.

    The ``candidates`` nearest targets on the sphere are measured on the ellipsoid and the closest
    kept, so a near-tie that the sphere orders wrongly is still resolved exactly. A candidate that
    cannot be the closest (its arc more than the ellipsoid's spread of radii beyond the first's) is
    not measured.

    ``points``: the points' unit vectors, when the caller measures them to several target sets
    (`unit_vectors`).

    Examples
    --------
    >>> d = nearest_km(np.array([113.0]), np.array([-2.0]), np.array([113.0, 114.0]), np.array([-2.1, -2.0]))
    >>> round(float(d[0]), 2)
    11.06
    """
    lon = np.asarray(lon, np.float64)
    lat = np.asarray(lat, np.float64)
    if len(target_lon) == 0:
        return np.full(len(lon), np.inf)
    if len(lon) == 0:
        return np.empty(0)
    target_lon = np.asarray(target_lon, np.float64)
    target_lat = np.asarray(target_lat, np.float64)
    k = min(candidates, len(target_lon))
    tree = cKDTree(unit_vectors(target_lon, target_lat))
    chord, nearest = tree.query(unit_vectors(lon, lat) if points is None else points, k=k, workers=-1)
    chord, nearest = chord.reshape(len(lon), k), nearest.reshape(len(lon), k)
    arc = 2.0 * np.arcsin(np.minimum(chord / 2.0, 1.0))
    # Candidate j can be nearest only if its shortest possible geodesic is within the first's longest.
    measured = arc * _RADIUS_MIN_M <= arc[:, :1] * _RADIUS_MAX_M + _BOUND_SLACK_M
    row, j = np.nonzero(measured)  # row-major: every row's first candidate is among them
    _, _, metres = _WGS84.inv(lon[row], lat[row], target_lon[nearest[row, j]], target_lat[nearest[row, j]])
    first = np.flatnonzero(np.r_[True, row[1:] != row[:-1]])
    return np.minimum.reduceat(np.asarray(metres), first) / 1000.0


def line_sample_points(lines: NDArray[np.object_]) -> tuple[FloatArray, FloatArray]:
    """Points along lines every `LINE_SAMPLE_DEG` (vertices included), as lon and lat arrays."""
    if len(lines) == 0:
        return np.empty(0), np.empty(0)
    dense = shapely.segmentize(np.asarray(lines, dtype=object), LINE_SAMPLE_DEG)
    coords = shapely.get_coordinates(dense)
    return coords[:, 0], coords[:, 1]


def nearest_line_km(
    lon: FloatArray, lat: FloatArray, lines: NDArray[np.object_], *, points: FloatArray | None = None
) -> FloatArray:
    """Geodesic km from each point to the nearest line, within `LINE_SAMPLE_ERROR_KM`."""
    line_lon, line_lat = line_sample_points(lines)
    # Neighbouring samples lie on the same line, so one candidate is enough here.
    return nearest_km(lon, lat, line_lon, line_lat, candidates=1, points=points)
