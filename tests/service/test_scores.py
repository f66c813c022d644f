"""/scores/{level}: rescoring per request with the caller's year, k, weights, cutoffs or full spec."""

from __future__ import annotations

import csv
import io
import re
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from fastapi.testclient import TestClient

from layers.rounding import round_value
from layers.scoring.rescore import store_spec
from layers.scoring.spec import spec_to_dict
from layers.store import LayerStore
from service.models import FeatureCollection, Problem, ScoreResponse
from service.scores import spec_digest

LEVELS = {"hexagon": "hexagons", "village": "villages", "kecamatan": "kecamatan", "kabupaten": "kabupaten"}


@pytest.fixture(scope="module")
def store(service_store: Path) -> LayerStore:
    return LayerStore.open(service_store)


def scores(client: TestClient, url: str) -> ScoreResponse:
    r = client.get(url)
    assert r.status_code == 200, r.text
    assert r.headers["content-type"].startswith("application/json")
    return ScoreResponse.model_validate(r.json())


def bad(r: Any, *words: str) -> None:
    assert r.status_code == 400, r.text
    assert r.headers["content-type"] == "application/problem+json"
    detail = Problem.model_validate(r.json()).detail
    for word in words:
        assert word in detail


@pytest.mark.parametrize("level", [*LEVELS, "province"])
def test_each_level(client: TestClient, store: LayerStore, level: str) -> None:
    body = scores(client, f"/scores/{level}?limit=5000")
    expected = store.rows(LEVELS[level]) if level in LEVELS else 1
    assert body.level == level and body.year == max(store.years)
    assert body.numberMatched == expected
    assert body.numberReturned == len(body.units) == min(expected, 500)  # max_limit
    unit = body.units[0]
    spec = store_spec(store)
    assert set(unit.deprivations) == set(spec.names)
    assert set(unit.dimension_share) == set(spec.dimensions)
    if level == "hexagon":
        assert unit.c is not None and isinstance(unit.poor, bool)
        assert set(unit.deprivations.values()) <= {0.0, 1.0, None}
    else:
        assert unit.M0 is not None and unit.H is not None
    assert body.spec == spec_to_dict(spec)
    assert 0 <= body.summary["M0"] <= 1


def test_stored_scores_are_reproduced(client: TestClient, store: LayerStore) -> None:
    hexes = store.layer("hexagons")
    body = scores(client, f"/scores/hexagon?limit={len(hexes)}")
    got = {u.id: u.c for u in body.units}
    for h3, score in zip(hexes["h3"][:500], hexes["score"][:500], strict=True):
        assert (got[h3] is None) if np.isnan(score) else got[h3] == round_value("c", score)
    villages = store.layer("villages").set_index("village_code")
    for unit in scores(client, "/scores/village?limit=500").units:
        assert unit.M0 == round_value("M0", villages.loc[unit.id, "M0"])
        assert unit.H == round_value("H", villages.loc[unit.id, "H"])


def test_paging_units(client: TestClient, store: LayerStore) -> None:
    first = scores(client, "/scores/village?limit=4")
    second = scores(client, "/scores/village?limit=4&offset=4")
    assert first.numberReturned == 4 and first.numberMatched == store.rows("villages")
    assert not {u.id for u in first.units} & {u.id for u in second.units}
    assert any(link.rel == "next" for link in first.links)


def _poor_share(client: TestClient, query: str) -> float:
    return scores(client, f"/scores/province?{query}").units[0].H or 0.0


def test_k_changes_the_poor(client: TestClient) -> None:
    default = _poor_share(client, "")
    assert _poor_share(client, "k=1") < default
    assert _poor_share(client, "k=0.01") >= default
    assert _poor_share(client, "k=1/8") >= default
    assert scores(client, "/scores/province?k=1/2").spec["k"] == 0.5


def test_cutoff_override(client: TestClient) -> None:
    body = scores(client, "/scores/province?cutoff_income_poverty_rate=1000")
    assert body.units[0].deprivations["income_poverty_rate"] == 0
    used = {i["name"]: i for i in body.spec["indicator"]}
    assert used["income_poverty_rate"]["cutoff"] == 1000
    loose = scores(client, "/scores/province?cutoff_income_poverty_rate=-1")
    assert loose.summary["uncensored_headcount"]["income_poverty_rate"] == pytest.approx(1.0)


def test_dimension_weights(client: TestClient) -> None:
    body = scores(client, "/scores/province?w_income=0.7&w_education=0.1&w_health=0.1&w_quality_of_life=0.1")
    weights: dict[str, float] = {}
    for ind in body.spec["indicator"]:
        weights[ind["dimension"]] = weights.get(ind["dimension"], 0) + ind["weight"]
    assert weights["income"] == pytest.approx(0.7)
    assert body.summary["M0"] != scores(client, "/scores/province").summary["M0"]


def test_indicator_weights(client: TestClient) -> None:
    body = scores(client, "/scores/province?w_income_poverty_rate=0.2&w_income_extreme_poor=0.05")
    used = {i["name"]: i["weight"] for i in body.spec["indicator"]}
    assert used["income_poverty_rate"] == pytest.approx(0.2)


def test_bad_overrides(client: TestClient) -> None:
    bad(client.get("/scores/province?w_income=0.9"), "sum")
    bad(client.get("/scores/province?w_colour=0.5"), "w_colour")
    bad(client.get("/scores/province?cutoff_colour=1"), "colour")
    bad(client.get("/scores/province?k=2"), "k")
    bad(client.get("/scores/province?k=a"))
    bad(client.get("/scores/province?year=1999"), "1999")
    bad(client.get("/scores/province?f=xml"), "f must be")
    bad(client.get("/scores/province?colour=red"), "colour")
    r = client.get("/scores/ward")
    assert r.status_code == 404 and "hexagon" in r.json()["detail"]


def test_year_changes_values(client: TestClient, store: LayerStore) -> None:
    first, last = min(store.years), max(store.years)
    old = scores(client, f"/scores/village?year={first}&limit=500")
    new = scores(client, f"/scores/village?year={last}&limit=500")
    assert old.year == first
    years = store.layer("village_years")
    pop_old = years[years["year"] == first].set_index("village_code")["population"]
    for unit in old.units[:10]:
        assert unit.population == round_value("population", pop_old[unit.id])
    assert [u.M0 for u in old.units] != [u.M0 for u in new.units]


def test_post_full_spec(client: TestClient, store: LayerStore) -> None:
    spec = {
        "k": "1/2",
        "indicator": [
            {
                "name": "rate",
                "column": "poverty_rate",
                "dimension": "income",
                "weight": "1/2",
                "cutoff": 5,
                "deprived_when": "above",
            },
            {
                "name": "sd",
                "column": "time_min_school_sd",
                "dimension": "education",
                "weight": "1/2",
                "cutoff": 30,
                "deprived_when": "above",
            },
        ],
    }
    r = client.post("/scores/kabupaten", json=spec)
    assert r.status_code == 200, r.text
    body = ScoreResponse.model_validate(r.json())
    assert [i["name"] for i in body.spec["indicator"]] == ["rate", "sd"] and body.spec["k"] == 0.5
    assert set(body.units[0].deprivations) == {"rate", "sd"}
    assert set(body.units[0].dimension_share) == {"income", "education"}
    r = client.post("/scores/province?k=1", json=spec)
    assert r.status_code == 200 and r.json()["spec"]["k"] == 1.0


def test_post_bad_spec(client: TestClient) -> None:
    one = {
        "name": "x",
        "column": "no_such_column",
        "dimension": "d",
        "weight": 1,
        "cutoff": 1,
        "deprived_when": "above",
    }
    bad(client.post("/scores/village", json={"indicator": [one]}), "no_such_column")
    bad(client.post("/scores/village", json={"indicator": [one | {"weight": 0.5}]}), "request body")
    bad(client.post("/scores/village", json={"indicator": [one | {"deprived_when": "sideways"}]}))
    bad(client.post("/scores/village", content=b"not json", headers={"content-type": "application/json"}))


def test_csv(client: TestClient, store: LayerStore) -> None:
    r = client.get("/scores/kecamatan?f=csv&limit=500")
    assert r.status_code == 200
    assert r.headers["content-type"].startswith("text/csv")
    rows = list(csv.DictReader(io.StringIO(r.text)))
    assert len(rows) == store.rows("kecamatan")
    assert {"id", "name", "M0", "H", "dep_income_poverty_rate", "share_income"} <= set(rows[0])
    # A digest of the spec, not the spec itself (a caller's spec echoed into headers grew unbounded).
    assert "sasaran-spec" not in r.headers
    as_json = client.get("/scores/kecamatan?f=json&limit=1").json()["spec"]
    assert r.headers["sasaran-spec-digest"] == spec_digest(as_json)
    assert re.fullmatch(r"sha256:[0-9a-f]{16}", r.headers["sasaran-spec-digest"])
    other = client.get("/scores/kecamatan?f=csv&limit=1&k=0.5").headers["sasaran-spec-digest"]
    assert other != r.headers["sasaran-spec-digest"]


def test_geojson(client: TestClient, store: LayerStore) -> None:
    r = client.get("/scores/kabupaten?f=geojson&k=0.5")
    assert r.status_code == 200
    assert r.headers["content-type"] == "application/geo+json"
    body = FeatureCollection.model_validate(r.json())
    assert len(body.features) == store.rows("kabupaten")
    props = body.features[0].properties or {}
    assert {"M0", "dep_income_poverty_rate", "share_health"} <= set(props)
    assert r.json()["spec"]["k"] == 0.5
    province = client.get("/scores/province?f=geojson").json()
    assert province["features"][0]["geometry"]["type"] in ("Polygon", "MultiPolygon")
    hexes = client.get("/scores/hexagon?f=geojson&limit=3").json()
    assert [f["geometry"]["type"] for f in hexes["features"]] == ["Polygon"] * 3


def test_areas_decompose(client: TestClient) -> None:
    kab = scores(client, "/scores/kabupaten?limit=500").units
    province = scores(client, "/scores/province").units[0]
    pop = np.array([u.scored_population or 0 for u in kab])  # the aggregates are over scored people
    m0 = np.array([u.M0 or 0 for u in kab])
    # Shown to 4 decimals, so the combination of rounded parts agrees within rounding.
    assert province.M0 == pytest.approx(float((pop * m0).sum() / pop.sum()), abs=1e-4)
