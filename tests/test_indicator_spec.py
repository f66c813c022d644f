"""Indicator spec: the TOML format of docs/contracts.md, validation messages, overrides, restriction."""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import pytest

from layers.errors import ConfigError
from layers.scoring.spec import (
    Indicator,
    IndicatorSpec,
    default_spec,
    default_spec_dict,
    load_spec,
    parse_fraction,
    restrict_to_columns,
    spec_from_dict,
    spec_to_dict,
    with_overrides,
)

SPEC_TOML = """
k = "1/3"

[[indicator]]
name = "d_income"
column = "pce_rp"
dimension = "income"
weight = "1/4"
cutoff = 550000
deprived_when = "below"

[[indicator]]
name = "d_school"
column = "school_years"
dimension = "education"
weight = 0.25
cutoff = 6
deprived_when = "below"

[[indicator]]
name = "d_water"
column = "water_km"
dimension = "living"
weight = "1/4"
cutoff = 1
deprived_when = "above"

[[indicator]]
name = "d_power"
column = "no_power"
dimension = "living"
weight = "1/4"
cutoff = 0.5
deprived_when = "above"
"""


def raw_spec() -> dict:
    return spec_to_dict(spec_from_dict(__import__("tomllib").loads(SPEC_TOML), "x.toml"))


@pytest.fixture
def spec_file(tmp_path: Path) -> Path:
    path = tmp_path / "household.toml"
    path.write_text(SPEC_TOML, encoding="utf-8")
    return path


def test_default_spec_is_the_documented_set():
    spec = default_spec()
    assert spec.names == [
        "income_poverty_rate",
        "income_extreme_poor",
        "edu_dist_sd",
        "edu_dist_smp",
        "edu_dist_sma",
        "health_time_primary",
        "health_time_hospital",
        "qol_road",
        "qol_electricity",
        "qol_water",
        "qol_sanitation",
    ]
    assert spec.columns == [
        "poverty_rate",
        "extreme_poor_share",
        "dist_km_school_sd",
        "dist_km_school_smp",
        "dist_km_school_sma",
        "time_min_health_primary",
        "time_min_health_hospital",
        "dist_km_road",
        "no_electricity_share",
        "no_safe_water_share",
        "no_sanitation_share",
    ]
    assert spec.dimensions == ["income", "education", "health", "quality_of_life"]
    np.testing.assert_allclose(spec.dimension_weights, [0.25] * 4, rtol=0, atol=1e-15)
    # SD 3 km and SMP 6 km walking (Permendiknas 24/2007), RAI 2 km (SDG 9.1.1).
    # Shares are fractions 0-1; the poverty rate is in percent, as BPS publishes it.
    np.testing.assert_array_equal(spec.cutoffs, [9.03, 0.1, 3, 6, 10, 60, 120, 2, 0.1, 0.2, 0.2])
    np.testing.assert_allclose(
        spec.weights, [1 / 8] * 2 + [1 / 12] * 3 + [1 / 8] * 2 + [1 / 16] * 4, atol=1e-15
    )
    assert spec.above.all()
    assert spec.k == 1 / 3
    assert spec.source.endswith("indicators.toml")
    for ind in spec.indicators:
        assert ind.source is not None and ind.source.document and ind.source.article, ind.name
        assert 2000 <= ind.source.year <= 2030, ind.name
        assert ind.rationale and len(ind.rationale) > 40, ind.name
    water = spec.indicators[spec.names.index("qol_water")]
    assert "layak" in water.rationale.lower() and "7.36" in water.source.article


def test_built_in_set_must_cite_user_specs_may():
    raw = default_spec_dict()
    del raw["indicator"][3]["rationale"]
    with pytest.raises(ConfigError, match=r"indicator 'edu_dist_smp': missing key\(s\) 'rationale'"):
        spec_from_dict(raw, "indicators.toml", require_provenance=True)
    spec = spec_from_dict(raw, "mine.toml")  # a user spec may leave provenance out
    assert spec.indicators[3].rationale is None and spec.indicators[3].source is not None


@pytest.mark.parametrize(
    ("source", "pattern"),
    [
        ("Permendiknas", r"indicator 'd_income', source: expected a table"),
        ({"document": "x", "article": "y"}, r"source: needs exactly document, article, year; missing year"),
        ({"document": "x", "article": "y", "year": 2024, "page": 3}, r"unknown page"),
        ({"document": "", "article": "y", "year": 2024}, r"document must be a non-empty string"),
        ({"document": "x", "article": "y", "year": "2024"}, r"year must be a whole year"),
    ],
)
def test_bad_source_names_the_indicator(source, pattern):
    raw = raw_spec()
    raw["indicator"][0]["source"] = source
    with pytest.raises(ConfigError, match=pattern):
        spec_from_dict(raw, "household.toml")


def test_provenance_is_kept_in_the_dict_and_the_manifest_form():
    spec = default_spec()
    again = spec_from_dict(spec_to_dict(spec), require_provenance=True)
    assert again == spec
    assert spec_to_dict(spec)["indicator"][2]["source"]["document"].startswith("Permendiknas No. 24")


def test_load_spec_reads_fractions_and_arrays(spec_file: Path):
    spec = load_spec(spec_file)
    assert spec.source == str(spec_file)
    assert spec.k == 1 / 3
    assert spec.weights.dtype == np.float64
    np.testing.assert_array_equal(spec.above, [False, False, True, True])
    np.testing.assert_array_equal(spec.dimension_index, [0, 1, 2, 2])
    assert spec.dimensions == ["income", "education", "living"]
    with pytest.raises(ValueError):
        spec.weights[0] = 1.0  # shared arrays are read-only


def test_spec_to_dict_round_trips_through_json(spec_file: Path):
    spec = load_spec(spec_file)
    again = spec_from_dict(json.loads(json.dumps(spec_to_dict(spec))), "json")
    assert again == spec
    assert spec_from_dict(spec_to_dict(default_spec())) == default_spec()


@pytest.mark.parametrize(
    ("value", "expected"),
    [(1, 1.0), (0.25, 0.25), ("1/3", 1 / 3), (" 1/4 ", 0.25), ("0.25", 0.25), ("2", 2.0), ("-1/2", -0.5)],
)
def test_parse_fraction_accepts(value, expected):
    assert parse_fraction(value, "here") == expected


@pytest.mark.parametrize("value", ["a third", "1/0", "", True, None, [1], "nan", math.inf])
def test_parse_fraction_rejects(value):
    with pytest.raises(ConfigError, match="^here: "):
        parse_fraction(value, "here")


def _broken(mutate) -> dict:
    raw = raw_spec()
    mutate(raw)
    return raw


@pytest.mark.parametrize(
    ("mutate", "pattern"),
    [
        (lambda r: r["indicator"][2].update(weight=0), r"indicator 'd_water': weight must be positive"),
        (lambda r: r["indicator"][2].update(weight="-1/4"), r"indicator 'd_water': weight must be positive"),
        (lambda r: r["indicator"][1].update(weight="1/3"), r"weights must sum to 1.*d_school=0\.3333"),
        (
            lambda r: r["indicator"][3].update(deprived_when="greater"),
            r"indicator 'd_power': deprived_when must be 'below' or 'above', got 'greater'",
        ),
        (lambda r: r["indicator"][3].update(name="d_water"), r"indicator 'd_water': duplicate"),
        (lambda r: r["indicator"][0].pop("cutoff"), r"indicator 'd_income': missing key\(s\) 'cutoff'"),
        (lambda r: r["indicator"][0].pop("name"), r"indicator #1: missing key\(s\) 'name'"),
        (lambda r: r["indicator"][0].update(cutof=1), r"indicator 'd_income': unknown key\(s\) 'cutof'"),
        (
            lambda r: r["indicator"][0].update(weight="half"),
            r"indicator 'd_income', weight: expected a number",
        ),
        (lambda r: r.update(k=0), r"k must be in \(0, 1\]"),
        (lambda r: r.update(k=33), r"k must be in \(0, 1\].*not a percent.*33"),
        (lambda r: r.update(k="4/3"), r"k must be in \(0, 1\]"),
        (lambda r: r.update(indicators=[]), r"unknown top-level key\(s\) 'indicators'"),
        (lambda r: r.update(indicator=[]), r"no \[\[indicator\]\] entries"),
    ],
)
def test_invalid_specs_name_source_and_indicator(mutate, pattern):
    with pytest.raises(ConfigError, match=pattern) as info:
        spec_from_dict(_broken(mutate), "household.toml")
    assert str(info.value).startswith("household.toml")


def test_load_spec_errors_name_the_file(tmp_path: Path):
    with pytest.raises(ConfigError, match="missing.toml: indicator spec file not found"):
        load_spec(tmp_path / "missing.toml")
    bad = tmp_path / "bad.toml"
    bad.write_text("k = = 1", encoding="utf-8")
    with pytest.raises(ConfigError, match="bad.toml: not valid TOML"):
        load_spec(bad)


def test_weights_within_tolerance_are_accepted():
    raw = raw_spec()
    for entry, w in zip(
        raw["indicator"], ["0.3333333333", "0.3333333333", "0.1666666667", "0.1666666667"], strict=True
    ):
        entry["weight"] = w
    assert spec_from_dict(raw).weights.sum() == pytest.approx(1, abs=1e-9)
    raw["indicator"][0]["weight"] = "0.333"
    with pytest.raises(ConfigError, match="must sum to 1"):
        spec_from_dict(raw)


def test_dataclass_construction_validates():
    ind = Indicator("a", "a", "d", 1.0, 0.0, "above")
    assert len(IndicatorSpec((ind,))) == 1
    with pytest.raises(ConfigError, match="<spec>, indicator 'a': deprived_when"):
        IndicatorSpec((Indicator("a", "a", "d", 1.0, 0.0, "over"),))  # type: ignore[arg-type]


def test_with_overrides(spec_file: Path):
    spec = load_spec(spec_file)
    new = with_overrides(
        spec,
        k="1/2",
        weights={"d_water": 0.375, "d_power": 0.125},
        cutoffs={"d_income": "600000"},
    )
    assert new.k == 0.5
    np.testing.assert_allclose(new.weights, [0.25, 0.25, 0.375, 0.125])
    assert new.cutoffs[0] == 600000
    assert spec.k == 1 / 3 and spec.weights[2] == 0.25  # input unchanged
    # A dimension weight is split in proportion to the (overridden) indicator weights: 3:1.
    moved = with_overrides(
        spec, weights={"d_water": 0.375, "d_power": 0.125}, dimension_weights={"living": 0.6, "income": 0.15}
    )
    np.testing.assert_allclose(moved.weights, [0.15, 0.25, 0.45, 0.15])
    assert moved.dimension_weights.sum() == pytest.approx(1)


@pytest.mark.parametrize(
    ("kwargs", "pattern"),
    [
        ({"weights": {"d_nope": 0.1}}, r"unknown indicator\(s\) 'd_nope'"),
        ({"dimension_weights": {"wealth": 0.1}}, r"unknown dimension\(s\) 'wealth'"),
        ({"weights": {"d_water": 0.5}}, r"must sum to 1"),
        ({"k": 0}, r"k must be in \(0, 1\]"),
        ({"cutoffs": {"d_water": "far"}}, r"indicator 'd_water', cutoff: expected a number"),
    ],
)
def test_with_overrides_errors(spec_file: Path, kwargs, pattern):
    with pytest.raises(ConfigError, match=pattern):
        with_overrides(load_spec(spec_file), **kwargs)


def test_restrict_within_a_dimension(spec_file: Path):
    spec = load_spec(spec_file)
    restricted, dropped = restrict_to_columns(spec, {"pce_rp", "school_years", "water_km"})
    assert dropped == ["d_power"]
    assert restricted.names == ["d_income", "d_school", "d_water"]
    np.testing.assert_allclose(restricted.weights, [0.25, 0.25, 0.5])  # living keeps its 1/2


def test_restrict_when_a_dimension_disappears():
    spec = default_spec()
    available = set(spec.columns) - {"poverty_rate", "extreme_poor_share", "dist_km_road"}
    restricted, dropped = restrict_to_columns(spec, available)
    assert dropped == ["income_poverty_rate", "income_extreme_poor", "qol_road"]
    assert restricted.dimensions == ["education", "health", "quality_of_life"]
    np.testing.assert_allclose(restricted.dimension_weights, [1 / 3] * 3)
    np.testing.assert_allclose(restricted.weights[-3:], [1 / 9] * 3)  # qol split over 3 survivors
    assert restricted.weights.sum() == pytest.approx(1, abs=1e-12)


def test_restrict_nothing_missing_and_nothing_left():
    spec = default_spec()
    same, dropped = restrict_to_columns(spec, set(spec.columns) | {"extra"})
    assert same is spec and dropped == []
    with pytest.raises(ConfigError, match="none of the indicator columns"):
        restrict_to_columns(spec, {"population"})
