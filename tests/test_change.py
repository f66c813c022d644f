"""Change between two years: values per unit agree with the rescoring, ranking by the largest fall."""

from __future__ import annotations

import json

import numpy as np
import pytest

from layers.errors import InvalidQuery
from layers.scoring.change import MEASURES, changes, changes_to_json
from layers.scoring.rescore import ScoringFrame, store_spec
from layers.store import LayerStore

LEVEL_CODE = {"kabupaten": "kabupaten_code", "kecamatan": "kecamatan_code", "village": "village_code"}


@pytest.fixture(scope="module")
def frame(store: LayerStore) -> ScoringFrame:
    return ScoringFrame.from_store(store)


@pytest.fixture(scope="module")
def years(store: LayerStore) -> tuple[int, int]:
    assert len(store.years) >= 2
    return store.years[0], store.years[-1]


@pytest.mark.parametrize(
    ("level", "layer"), [("kabupaten", "kabupaten"), ("kecamatan", "kecamatan"), ("village", "villages")]
)
def test_one_row_per_unit_ranked_by_the_fall(frame, store, years, level, layer):
    table = changes(frame, store, *years, level=level)
    assert len(table) == store.rows(layer)
    assert table[f"{LEVEL_CODE[level]}"].is_unique
    ranked = table.loc[table["rank"].notna(), "M0_change"].to_numpy()
    assert (np.diff(ranked) >= 0).all()  # largest fall (most negative change) first
    # villages moved by a cut-off crossing are not ranked, and come last
    assert table["rank"].notna().to_numpy()[: len(ranked)].all()
    assert table["rank"].iloc[0] == 1
    for name in MEASURES:
        expected = table[f"{name}_to"] - table[f"{name}_from"]
        np.testing.assert_allclose(table[f"{name}_change"], expected)


def test_values_agree_with_the_rescoring(frame, store, years):
    spec = store_spec(store)
    table = changes(frame, store, *years).set_index("kabupaten_code")
    codes = store.layer("kabupaten")["kabupaten_code"].astype(str)
    for suffix, year in zip(("from", "to"), years, strict=True):
        summary = frame.summarize(frame.score_cells(spec, year), spec, "kabupaten")
        np.testing.assert_allclose(table.loc[codes, f"M0_{suffix}"], summary.M0)
        np.testing.assert_allclose(table.loc[codes, f"H_{suffix}"], summary.H)


def test_village_poverty_rate_matches_the_poverty_table(frame, store, years):
    table = changes(frame, store, *years, level="village").set_index("village_code")
    rows = store.layer("village_years")
    rows = rows[rows["year"] == years[1]].set_index("village_code")
    np.testing.assert_allclose(
        table.loc[rows.index, "poverty_rate_to"], rows["poverty_rate"], rtol=1e-9, equal_nan=True
    )


def test_kabupaten_poverty_rate_pools_its_villages(frame, store, years):
    table = changes(frame, store, *years).set_index("kabupaten_code")
    villages = store.layer("villages")[["village_code", "kabupaten_code"]]
    rows = store.layer("village_years")
    rows = rows[rows["year"] == years[0]].merge(villages, on="village_code")
    pooled = rows.groupby("kabupaten_code")[["poor_population", "population"]].sum()
    expected = 100 * pooled["poor_population"] / pooled["population"]
    np.testing.assert_allclose(table.loc[expected.index, "poverty_rate_from"], expected)


def test_rank_by_another_measure(frame, store, years):
    table = changes(frame, store, *years, rank_by="poverty_rate")
    assert (np.diff(table["poverty_rate_change"].dropna().to_numpy()) >= 0).all()


def test_json_has_no_nan(frame, store, years):
    spec = store_spec(store)
    out = changes_to_json(changes(frame, store, *years, spec), *years, "kabupaten", spec)
    json.dumps(out, allow_nan=False)
    assert out["from"] == years[0] and out["units"][0]["rank"] == 1
    assert isinstance(out["units"][0]["kabupaten_code"], str)


def test_bad_arguments(frame, store, years):
    with pytest.raises(InvalidQuery, match="level"):
        changes(frame, store, *years, level="province")
    with pytest.raises(InvalidQuery, match="rank_by"):
        changes(frame, store, *years, rank_by="A")
    with pytest.raises(InvalidQuery, match="1990"):
        changes(frame, store, 1990, years[1])
