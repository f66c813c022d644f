"""Rounding for people: by the field dictionary's unit, and a detector of float noise."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest
from hypothesis import given
from hypothesis import strategies as st

from layers.rounding import is_float_noise, round_frame, round_record, round_value


@pytest.mark.parametrize(
    ("name", "value", "shown"),
    [
        ("population", 677.0000000000001, 677),
        ("mpi_poor_population", 3423.6, 3424),
        ("cost", 971749999.9999999, 971750000),
        ("M0", 0.044123456, 0.0441),
        ("H", 0.29912, 0.2991),
        ("poverty_rate", 5.172222, 5.17),
        ("time_min_school_sd", 31.46, 31.5),
        ("dist_km_market", 2.345678, 2.35),
        ("not_a_field", 0.1 + 0.2, 0.3),
        ("population", math.nan, None),
        ("time_min_school_sd", math.inf, None),
        ("poor", True, True),
        ("village_name", "Desa 1", "Desa 1"),
    ],
)
def test_values_are_rounded_by_their_unit(name, value, shown) -> None:
    got = round_value(name, value)
    assert got == shown and type(got) is type(shown)


def test_records_and_nested_shares() -> None:
    record = {"population": 10.4, "deprivations": {"d_water": 0.123456}, "units": [{"M0": 0.55556}]}
    assert round_record(record) == {
        "population": 10,
        "deprivations": {"d_water": 0.1235},
        "units": [{"M0": 0.5556}],
    }


def test_frames_keep_missing_values_and_whole_units_are_integers() -> None:
    frame = pd.DataFrame({"population": [1.6, np.nan], "M0": [0.123456, np.nan], "name": ["a", "b"]})
    out = round_frame(frame)
    assert out["population"].tolist()[0] == 2 and out["population"].isna().tolist() == [False, True]
    assert str(out["population"].dtype) == "Int64"
    assert out["M0"].tolist()[0] == 0.1235 and math.isnan(out["M0"].tolist()[1])
    assert frame["population"].tolist()[0] == 1.6  # the input is not changed


@pytest.mark.parametrize("noisy", [677.0000000000001, 971749999.9999999, 0.1 + 0.2, 1.1 * 3])
def test_noise_is_detected(noisy: float) -> None:
    assert is_float_noise(noisy)


@pytest.mark.parametrize("clean", [677.0, 5.17, 1 / 3, 0.0441, 0.299123456789, 2.0**-30, 1e20])
def test_clean_numbers_are_not_noise(clean: float) -> None:
    assert not is_float_noise(clean)


# Each field at the magnitudes it has (an index beyond 1e6 cannot even hold 4 decimals in a double).
MAGNITUDES = {"M0": 1.0, "poverty_rate": 100.0, "time_min_school_sd": 1e4, "population": 1e9, "x": 1e6}


@given(st.floats(min_value=-1, max_value=1), st.sampled_from(sorted(MAGNITUDES)))
def test_rounded_values_are_never_noise(fraction: float, name: str) -> None:
    shown = round_value(name, fraction * MAGNITUDES[name])
    assert not is_float_noise(float(shown))
