import numpy as np
import shapely
from pyproj import Geod
from scipy.spatial import cKDTree

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


def every_candidate_km(lon, lat, tlon, tlat, k=3):
    """The rule before pruning: the k nearest on the sphere, every one measured on the ellipsoid."""

    def unit(x, y):
        x, y = np.radians(x), np.radians(y)
        return np.column_stack((np.cos(y) * np.cos(x), np.cos(y) * np.sin(x), np.sin(y)))

    _, nearest = cKDTree(unit(tlon, tlat)).query(unit(lon, lat), k=k)
    _, _, metres = Geod(ellps="WGS84").inv(
        np.repeat(lon, k), np.repeat(lat, k), tlon[nearest.ravel()], tlat[nearest.ravel()]
    )
    return metres.reshape(len(lon), k).min(axis=1) / 1000


def test_candidates_that_cannot_be_nearest_are_skipped_without_changing_a_bit():
    """Targets on rings around each point (radii within 0.4 %: sphere and ellipsoid order them
    differently by azimuth), and far points with a clear winner: measuring only the candidates
    that can be nearest gives bit for bit what measuring all three gives, and with three targets
    on a point's ring, that is the brute-force minimum."""
    rng = np.random.default_rng(7)
    lon, lat = rng.uniform(111.0, 115.5, 300), rng.uniform(-3.0, 0.5, 300)
    azimuth = rng.uniform(0, 360, (300, 3))
    radius_m = 5000.0 * (1 + rng.uniform(0, 0.004, (300, 3)))
    tlon, tlat, _ = Geod(ellps="WGS84").fwd(
        np.repeat(lon, 3), np.repeat(lat, 3), azimuth.ravel(), radius_m.ravel()
    )
    far_lon, far_lat = rng.uniform(111.0, 115.5, 300), rng.uniform(-3.0, 0.5, 300)
    all_lon, all_lat = np.concatenate([lon, far_lon]), np.concatenate([lat, far_lat])
    ours = nearest_km(all_lon, all_lat, tlon, tlat)
    np.testing.assert_array_equal(ours, every_candidate_km(all_lon, all_lat, tlon, tlat))
    own = np.array(
        [
            brute_force_km(lon[i : i + 1], lat[i : i + 1], tlon[3 * i : 3 * i + 3], tlat[3 * i : 3 * i + 3])[
                0
            ]
            for i in range(300)
        ]
    )
    assert (ours[:300] <= own).all()  # another ring may be nearer still, never farther
