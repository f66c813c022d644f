"""Straight-line (geodesic) distance from points to the nearest facility or line.

The province spans UTM zones 49S and 50S, so no single UTM projection is right everywhere. Points go
to 3-D unit vectors on the sphere, where the chord length is monotonic in great-circle distance: a
KD-tree there finds the true nearest neighbour on the sphere in one vectorised query. The distance
reported is then the WGS84 ellipsoidal geodesic between the pair (pyproj ``Geod.inv``, vectorised),
among the few nearest candidates on the sphere: sphere and ellipsoid disagree on which facility is
nearer only when distances are within ~0.5 % of each other, so three candidates settle it.
"""

from __future__ import annotations

import numpy as np
import shapely
from numpy.typing import NDArray
from pyproj import Geod
from scipy.spatial import cKDTree

from layers.types import FloatArray

_WGS84 = Geod(ellps="WGS84")

#: Vertex spacing (degrees, ≈ 111 m) when lines are sampled as points for nearest-line distance.
LINE_SAMPLE_DEG = 0.001
#: The resulting worst-case overestimate of distance to a line, in km (half the spacing).
LINE_SAMPLE_ERROR_KM = 0.056


def _unit_vectors(lon: FloatArray, lat: FloatArray) -> FloatArray:
    lon_r, lat_r = np.radians(lon), np.radians(lat)
    cos_lat = np.cos(lat_r)
    return np.column_stack((cos_lat * np.cos(lon_r), cos_lat * np.sin(lon_r), np.sin(lat_r)))


def nearest_km(
    lon: FloatArray, lat: FloatArray, target_lon: FloatArray, target_lat: FloatArray, candidates: int = 3
) -> FloatArray:
    """Geodesic km from each point to its nearest target; ``inf`` when there are no targets.

    The ``candidates`` nearest targets on the sphere are measured on the ellipsoid and the closest
    kept, so a near-tie that the sphere orders wrongly is still resolved exactly.

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
    tree = cKDTree(_unit_vectors(target_lon, target_lat))
    _, nearest = tree.query(_unit_vectors(lon, lat), k=k, workers=-1)
    nearest = nearest.reshape(len(lon), k)
    _, _, metres = _WGS84.inv(
        np.repeat(lon, k), np.repeat(lat, k), target_lon[nearest.ravel()], target_lat[nearest.ravel()]
    )
    return np.asarray(metres).reshape(len(lon), k).min(axis=1) / 1000.0


def line_sample_points(lines: NDArray[np.object_]) -> tuple[FloatArray, FloatArray]:
    """Points along lines every `LINE_SAMPLE_DEG` (vertices included), as lon and lat arrays."""
    if len(lines) == 0:
        return np.empty(0), np.empty(0)
    dense = shapely.segmentize(np.asarray(lines, dtype=object), LINE_SAMPLE_DEG)
    coords = shapely.get_coordinates(dense)
    return coords[:, 0], coords[:, 1]


def nearest_line_km(lon: FloatArray, lat: FloatArray, lines: NDArray[np.object_]) -> FloatArray:
    """Geodesic km from each point to the nearest line, within `LINE_SAMPLE_ERROR_KM`."""
    line_lon, line_lat = line_sample_points(lines)
    # Neighbouring samples lie on the same line, so one candidate is enough here.
    return nearest_km(lon, lat, line_lon, line_lat, candidates=1)
