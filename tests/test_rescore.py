import numpy as np
import pytest

from layers.errors import InvalidQuery
from layers.scoring import af as scoring
from layers.scoring.af import summarize
from layers.scoring.rescore import ScoringFrame, store_spec
from layers.scoring.spec import default_spec, spec_from_dict, with_overrides


@pytest.fixture(scope="module")
def frame(store):
    return ScoringFrame.from_store(store)


def test_rescoring_with_the_build_spec_reproduces_the_stored_scores(store, frame):
    spec = store_spec(store)
    for year in (2023, 2024):
        cells = frame.score_cells(spec, year)
        rows = store.layer("village_years")
        stored = rows[rows["year"] == year].set_index("village_code").loc[frame.village_codes]
        summary = frame.summarize(cells, spec, "village")
        np.testing.assert_allclose(summary.M0, stored["M0"], rtol=1e-12)
    latest = frame.score_cells(spec)
    np.testing.assert_allclose(latest.scores.c, store.layer("hexagons")["score"], rtol=1e-12)
    province = frame.summarize(latest, spec, "province")
    assert province.M0[0] == pytest.approx(store.manifest["province"]["2024"]["M0"], rel=1e-12)


def test_other_weights_and_k_change_the_answer(store, frame):
    spec = store_spec(store)
    base = frame.summarize(frame.score_cells(spec), spec, "kabupaten")
    strict = frame.summarize(frame.score_cells(spec, k=0.9), spec, "kabupaten")
    assert (strict.H <= base.H).all() and (strict.H < base.H).any()
    heavy = with_overrides(
        spec, dimension_weights={"income": 0.7, "education": 0.1, "health": 0.1, "quality_of_life": 0.1}
    )
    assert not np.allclose(frame.summarize(frame.score_cells(heavy), heavy, "kabupaten").M0, base.M0)


def test_unknown_year_and_column_are_invalid_queries(frame):
    with pytest.raises(InvalidQuery, match="year 1999 is not in the store"):
        frame.score_cells(default_spec(), 1999)
    raw = {
        "indicator": [
            {
                "name": "x",
                "column": "nope",
                "dimension": "d",
                "weight": 1,
                "cutoff": 1,
                "deprived_when": "above",
            }
        ]
    }
    with pytest.raises(InvalidQuery, match="'nope'"):
        frame.score_cells(spec_from_dict(raw), 2024)
    # A store's own scores are results of a spec, never a column to score (issue 23: the OpenAPI
    # document listed them, and codes, names and areas, as indicator columns).
    assert {"M0", "H", "A", "village_code", "area_km2"}.isdisjoint(frame.indicator_columns())
    raw["indicator"][0]["column"] = "M0"
    with pytest.raises(InvalidQuery, match="column 'M0'"):
        frame.score_cells(spec_from_dict(raw), 2024)


def test_deprivations_are_reused_only_while_cutoffs_stay_the_same(store, frame):
    spec = store_spec(store)
    frame.score_cells(spec, 2024)
    reweighted = with_overrides(
        spec, dimension_weights={"income": 0.1, "education": 0.3, "health": 0.3, "quality_of_life": 0.3}
    )
    recut = with_overrides(spec, cutoffs={"edu_dist_sd": 0.5})
    for other in (reweighted, recut):
        fresh = ScoringFrame.from_store(store).score_cells(other, 2024)  # no cache
        cached = frame.score_cells(other, 2024)
        np.testing.assert_array_equal(cached.scores.c, fresh.scores.c)
        np.testing.assert_array_equal(cached.scores.poor, fresh.scores.poor)
    assert not np.array_equal(frame.score_cells(recut, 2024).scores.c, frame.score_cells(spec, 2024).scores.c)


@pytest.mark.parametrize("dense", [True, False])
def test_tables_kept_per_level_give_what_summarize_gives(store, frame, monkeypatch, dense):
    # The frame keeps each level's (unit, profile) table across requests that change only weights
    # or k; every answer must equal a fresh `summarize` over the cells, dense table or sparse.
    if not dense:
        monkeypatch.setattr(scoring, "_MAX_TABLE_CELLS", 0)
    fresh_frame = ScoringFrame.from_store(store)
    spec = store_spec(store)
    reweighted = with_overrides(
        spec, dimension_weights={"income": 0.1, "education": 0.3, "health": 0.3, "quality_of_life": 0.3}
    )
    for other, k, year in ((spec, None, 2024), (reweighted, 0.5, 2024), (reweighted, None, 2023)):
        cells = fresh_frame.score_cells(other, year, k)
        for level in ("village", "kecamatan", "kabupaten", "province"):
            kept = fresh_frame.summarize(cells, other, level)
            direct = summarize(
                cells.scores, other, cells.weights, frame.group_pos[level], frame.n_groups[level]
            )
            for name in ("n_units", "n_excluded", "population", "H", "A", "M0", "severe"):
                np.testing.assert_allclose(getattr(kept, name), getattr(direct, name), rtol=1e-12)
            np.testing.assert_allclose(kept.censored_headcount, direct.censored_headcount, rtol=1e-12)
            people = np.bincount(frame.group_pos[level], weights=cells.weights)
            np.testing.assert_allclose(fresh_frame.people(cells, level), people, rtol=1e-12)
    assert set(cells._tables or {}) == {"village", "kecamatan", "kabupaten", "province"}
    # The people per cell and per unit are shared between requests and must not be changed by one.
    with pytest.raises(ValueError, match="read-only"):
        fresh_frame.population(2024)[0] = 1.0
