import numpy as np
import shapely
from pyproj import Geod

from layers.geo.distance import LINE_SAMPLE_ERROR_KM, nearest_km, nearest_line_km


def brute_force_km(lon, lat, tlon, tlat):
    geod = Geod(ellps="WGS84")
    lon2, tlon2 = np.meshgrid(lon, tlon, indexing="ij")
    lat2, tlat2 = np.meshgrid(lat, tlat, indexing="ij")
    _, _, metres = geod.inv(lon2.ravel(), lat2.ravel(), tlon2.ravel(), tlat2.ravel())
    return metres.reshape(lon2.shape).min(axis=1) / 1000


def test_nearest_matches_brute_force_geodesic_across_utm_zones():
    rng = np.random.default_rng(1)
    # Points on both sides of 114°E (the UTM 49S/50S boundary).
    lon, lat = rng.uniform(110.7, 116.0, 500), rng.uniform(-3.6, 0.8, 500)
    tlon, tlat = rng.uniform(110.7, 116.0, 80), rng.uniform(-3.6, 0.8, 80)
    np.testing.assert_allclose(
        nearest_km(lon, lat, tlon, tlat), brute_force_km(lon, lat, tlon, tlat), rtol=1e-9
    )


def test_no_targets_is_infinitely_far():
    assert np.isinf(nearest_km(np.array([113.0]), np.array([-2.0]), np.empty(0), np.empty(0))).all()


def test_distance_to_line_within_sampling_error():
    road = shapely.LineString([(113.0, -2.0), (113.5, -2.0)])
    lon = np.array([113.25, 113.1, 113.6])
    lat = np.array([-2.1, -2.0, -2.0])
    d = nearest_line_km(lon, lat, np.array([road], dtype=object))
    geod = Geod(ellps="WGS84")
    exact = (
        np.array([geod.inv(113.25, -2.1, 113.25, -2.0)[2], 0.0, geod.inv(113.6, -2.0, 113.5, -2.0)[2]]) / 1000
    )
    assert (d >= exact - 1e-9).all()
    assert (d - exact <= LINE_SAMPLE_ERROR_KM).all()
