"""``POST /targets`` and ``GET /changes`` through the real app."""

from __future__ import annotations

from collections.abc import Iterator

import pandas as pd
import pyogrio
import pytest
from fastapi.testclient import TestClient

from layers.store import LayerStore
from service import targets
from service.app import create_app
from service.settings import Settings

PROBLEM = "application/problem+json"


@pytest.fixture(scope="module")
def client(store_dir) -> Iterator[TestClient]:
    """The real app over the session store; the targets router is added if the app lacks it."""
    app = create_app(Settings(store_dir=store_dir))
    if not any(getattr(route, "path", None) == "/targets" for route in app.routes):
        app.include_router(targets.router)
    with TestClient(app) as c:
        yield c


@pytest.fixture(scope="module")
def codes(store: LayerStore) -> dict[str, str]:
    villages = store.layer("villages")
    poorest = villages[villages["M0"] >= 0.3]["kabupaten_code"].astype(str).value_counts().index
    return {
        "kab": str(villages["kabupaten_code"].iloc[0]),
        "kab_poor": str(poorest[0]),
        "kab_other": next(k for k in villages["kabupaten_code"].astype(str) if k != str(poorest[0])),
        "first": str(villages["village_code"].iloc[0]),
        "last": str(villages["village_code"].iloc[-1]),
    }


def _post(client: TestClient, body: dict, **params: str):
    return client.post("/targets", json={"scenarios": 20, **body}, params=params)


def test_default_request(client):
    r = _post(client, {"max_villages": 5})
    assert r.status_code == 200
    assert r.headers["content-type"].startswith("application/json")
    out = r.json()
    assert out["objective"] == "mpi_poor" and out["status"] == "optimal"
    assert out["summary"]["n_selected"] == 5 and len(out["selected"]) == 5
    assert out["summary"]["budget"] is None and out["summary"]["budget_used_share"] is None
    assert isinstance(out["gap"], float) and out["solve_seconds"] >= 0
    assert all(0 <= s["confidence"] <= 1 for s in out["selected"])


@pytest.mark.parametrize(
    "body",
    [
        {"objective": "mpi_poor"},
        {"objective": "m0_people"},
        {"objective": "income_poor"},
        {"objective": "dimension", "dimension": "education"},
    ],
)
def test_each_objective(client, body):
    r = _post(client, {**body, "budget": 5e9, "cost_fixed": 2e8, "cost_per_person": 3e5})
    assert r.status_code == 200, r.text
    out = r.json()
    assert out["objective"] == body["objective"]
    assert 0 < out["summary"]["total_cost"] <= 5e9
    for item in out["selected"]:
        # whole persons, and the cost model applied to them exactly (issue 20, item 3)
        assert isinstance(item["people_reached"], int) and item["cost"] == 2e8 + 3e5 * item["people_reached"]


def test_every_constraint(client, codes):
    body = {
        "year": 2024, "k": "1/3", "dimension_weights": {"income": 0.4, "education": 0.2, "health": 0.2,
        "quality_of_life": 0.2}, "budget": 2e10, "cost_fixed": 2e8, "cost_per_person": 1e5,
        "max_villages": 10, "kabupaten_min": {codes["kab_poor"]: 2}, "kabupaten_max": {codes["kab_other"]: 1},
        "include": [codes["first"]], "exclude": [codes["last"]], "min_score": 0.1,
        "priority": {"elderly": 0.5, "disabled": 1.0, "female_headed_hh": 0.25}, "seed": 5, "time_limit_s": 5,
    }  # fmt: skip
    r = _post(client, body)
    assert r.status_code == 200, r.text
    out = r.json()
    selected = out["selected"]
    chosen = [s["village_code"] for s in selected]
    assert codes["first"] in chosen and codes["last"] not in chosen and len(chosen) <= 10
    assert sum(s["kabupaten_code"] == codes["kab_poor"] for s in selected) >= 2
    assert sum(s["kabupaten_code"] == codes["kab_other"] for s in selected) <= 1
    assert all(s["M0"] >= 0.1 for s in selected if s["village_code"] != codes["first"])
    assert out["summary"]["total_cost"] <= 2e10
    income = sum(i["weight"] for i in out["spec"]["indicator"] if i["dimension"] == "income")
    assert income == pytest.approx(0.4)


def test_same_seed_same_confidence(client):
    a = _post(client, {"max_villages": 6, "seed": 11}).json()["selected"]
    b = _post(client, {"max_villages": 6, "seed": 11}).json()["selected"]
    assert [x["confidence"] for x in a] == [x["confidence"] for x in b]


@pytest.mark.parametrize(
    ("body", "detail"),
    [
        ({"budget": -1}, "budget"),
        ({"objective": "dimension"}, "dimension"),
        ({"objective": "dimension", "dimension": "wealth"}, "wealth"),
        ({"budgett": 1}, "budgett"),
        ({"priority": {"children": 1}}, "priority"),
        ({"include": ["nope"]}, "include: unknown village"),
        ({"kabupaten_min": {"9999": 1}}, "kabupaten_min: unknown kabupaten"),
        ({"kabupaten_min": {"KAB": 10000}}, "kabupaten_min"),
        ({"include": ["FIRST"], "budget": 10, "cost_fixed": 100}, "include"),
        ({"year": 1990}, "1990"),
        ({"k": 5}, "k"),
    ],
)
def test_bad_requests_are_problems_naming_the_field(client, codes, body, detail):
    body = dict(body)
    if "kabupaten_min" in body and "KAB" in body["kabupaten_min"]:
        body["kabupaten_min"] = {codes["kab"]: 10000}
    if body.get("include") == ["FIRST"]:
        body["include"] = [codes["first"]]
    r = _post(client, body)
    assert r.status_code == 400
    assert r.headers["content-type"].startswith(PROBLEM)
    assert detail in r.json()["detail"]


def test_bad_format(client):
    r = _post(client, {}, f="docx")
    assert r.status_code == 400


@pytest.mark.parametrize(
    ("fmt", "media_type"),
    [
        ("csv", "text/csv"),
        ("xlsx", "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"),
        ("gpkg", "application/geopackage+sqlite3"),
    ],
)
def test_downloads(client, store, tmp_path, fmt, media_type):
    r = _post(client, {"max_villages": 4}, f=fmt)
    assert r.status_code == 200
    assert r.headers["content-type"].startswith(media_type)
    disposition = r.headers["content-disposition"]
    assert disposition.startswith("attachment") and f'.{fmt}"' in disposition
    assert ("synthetic" in disposition) == store.synthetic
    path = tmp_path / f"t.{fmt}"
    path.write_bytes(r.content)
    if fmt == "csv":  # the Indonesian Excel dialect (lang=id): ";" between fields, a total row last
        frame = pd.read_csv(path, sep=";", decimal=",", encoding="utf-8-sig").iloc[:-1]
    elif fmt == "xlsx":
        frame = pd.read_excel(path, sheet_name="terpilih").iloc[:-1]  # lang=id; the last row is the total
    else:
        frame = pyogrio.read_dataframe(path, layer="targets")
        assert frame.crs.to_epsg() == 4326 and set(frame.geom_type) == {"MultiPolygon"}
    assert len(frame) == 4


@pytest.mark.parametrize("level", ["kabupaten", "kecamatan", "village"])
def test_changes(client, store, level):
    years = store.years
    r = client.get("/changes", params={"from": years[0], "to": years[-1], "level": level})
    assert r.status_code == 200
    assert r.headers["content-type"].startswith("application/json")
    out = r.json()
    assert (out["from"], out["to"], out["level"]) == (years[0], years[-1], level)
    ranked = [u for u in out["units"] if u["rank"] is not None]
    changes = [u["M0_change"] for u in ranked]
    assert changes == sorted(changes)  # largest fall first
    assert out["units"][: len(ranked)] == ranked  # units not ranked (cut-off crossings) come last
    assert out["units"][0]["rank"] == 1
    assert len(out["units"]) == store.rows({"village": "villages"}.get(level, level))


def test_changes_csv_and_errors(client, store):
    years = store.years
    r = client.get("/changes", params={"from": years[0], "to": years[-1], "f": "csv"})
    assert r.status_code == 200 and r.headers["content-type"].startswith("text/csv")
    assert "synthetic" in r.headers["content-disposition"]
    assert client.get("/changes", params={"from": 1990, "to": years[-1]}).status_code == 400
    assert (
        client.get("/changes", params={"from": years[0], "to": years[-1], "level": "desa"}).status_code == 400
    )
    assert client.get("/changes", params={"to": years[-1]}).status_code == 400


def test_a_budget_with_no_cost_is_a_400_that_says_so(client):
    r = _post(client, {"budget": 1e11, "cost_fixed": 0, "cost_per_person": 0})
    assert r.status_code == 400 and r.headers["content-type"].startswith(PROBLEM)
    assert "a budget needs a cost" in r.json()["detail"]


def test_the_page_reads_the_default_cost_model_from_the_openapi_schema(client):
    from layers.targeting import selection as targeting

    fields = client.get("/openapi").json()["components"]["schemas"]["TargetRequest"]["properties"]
    assert fields["cost_fixed"]["default"] == targeting.DEFAULT_COST_FIXED
    assert fields["cost_per_person"]["default"] == targeting.DEFAULT_COST_PER_PERSON
    assert fields["scenarios"]["default"] == targeting.DEFAULT_SCENARIOS
    assert fields["seed"]["default"] == targeting.DEFAULT_SEED
    # and a request that leaves them out is costed with them
    assert fields["min_people"]["default"] == targeting.DEFAULT_MIN_PEOPLE
    assert fields["max_cost_per_person"]["default"] == targeting.DEFAULT_MAX_COST_PER_PERSON
    out = _post(client, {"budget": 5e9}).json()
    assert out["selected"] and all(
        s["cost"] == targeting.DEFAULT_COST_FIXED + targeting.DEFAULT_COST_PER_PERSON * s["people_reached"]
        for s in out["selected"]
    )


def test_a_budget_below_the_cheapest_village_is_reported(client):
    out = _post(client, {"budget": 1e6}).json()
    assert out["status"] == "budget_too_small" and out["summary"]["n_selected"] == 0
    assert out["reason"] and out["summary"]["cheapest_cost"] > 1e6


def test_the_answer_is_its_openapi_schema(client):
    """Issue 21, point 2: one declaration for the answer, the page and the OpenAPI document."""
    from layers.targeting.result import TargetResult

    doc = client.get("/openapi").json()
    schemas = doc["components"]["schemas"]
    content = doc["paths"]["/targets"]["post"]["responses"]["200"]["content"]
    assert content["application/json"]["schema"] == {"$ref": "#/components/schemas/TargetResult"}
    assert "application/pdf" in content and "TargetResponse" not in schemas
    declared = schemas["TargetResult"]["properties"]
    out = _post(client, {"budget": 3e9, "priority": {"elderly": 0.5}}).json()
    assert set(out) == set(declared) == set(TargetResult.model_fields)
    assert TargetResult.model_validate(out).to_json() == out
    summary = schemas["Summary"]["properties"]
    assert summary["n_selected"]["type"] == "integer" and summary["people_reached"]["type"] == "integer"
    assert isinstance(out["scenarios"]["n"], int) and isinstance(out["summary"]["n_selected"], int)


def test_errors_are_in_the_language_asked(client, codes):
    """Issue 20, item 8: the page in Bahasa Indonesia shows the service's errors in Bahasa Indonesia."""
    body = {"kabupaten_min": {codes["kab"]: 10_000}, "scenarios": 0}
    said = client.post("/targets", json=body, params={"lang": "id"})
    assert said.status_code == 400 and "memerlukan" in said.json()["detail"]
    english = client.post("/targets", json=body, params={"lang": "en"})
    assert english.status_code == 400 and english.json()["detail"].startswith("kabupaten_min:")
    money = client.post(
        "/targets", json={"budget": 1e11, "cost_fixed": 0, "cost_per_person": 0}, params={"lang": "id"}
    )
    assert money.status_code == 400 and "Anggaran memerlukan biaya" in money.json()["detail"]


def test_targeting_is_prepared_at_start(client):
    """The first POST /targets finds the villages and the default scores prepared (a count, not a clock)."""
    catalog = client.app.state.served.catalog
    base = catalog.targeting()
    assert len(base.codes) == len(catalog.scoring.village_codes)
    assert len(catalog.scoring._profiles) >= 1  # the default spec's deprivations, computed at start


@pytest.mark.parametrize("level", ["village", "kecamatan"])
def test_changes_name_cut_off_crossings_and_count_poor_people(client, store, level):
    """Issue 20, item 10: villages moved by one indicator crossing its cutoff say so and are not
    ranked as improvements; poor people are summed, not recomputed from a rounded rate."""
    years = store.years
    out = client.get("/changes", params={"from": years[0], "to": years[-1], "level": level}).json()
    assert set(out["indicator_titles"]) == {i["name"] for i in out["spec"]["indicator"]}
    rows = store.layer("village_years")
    poor = rows.groupby("year")["poor_population"].sum()
    assert sum(u["poor_population_to"] for u in out["units"]) == pytest.approx(
        poor[years[-1]], abs=len(out["units"])
    )
    for unit in out["units"]:
        assert isinstance(unit["poor_population_change"], int)
        if level == "village" and unit["crossing"] and unit["M0_change"]:
            assert unit["rank"] is None  # a cliff is not an improvement
        if level == "kecamatan":
            assert unit["crossings"] >= 0


def test_costs_past_ten_to_the_eighteen_are_a_400_not_a_500(client):
    """A schema-valid cost per person of 10^18 rupiah (the fuzzer's) would overflow the answer's
    integers: the request is refused, naming the field."""
    r = client.post("/targets", json={"budget": 0.0, "cost_fixed": 1e8, "cost_per_person": 1e18})
    assert r.status_code == 400 and r.json()["detail"].startswith("cost_per_person:")
    said = client.post("/targets", params={"lang": "id"}, json={"cost_per_person": 1e18})
    assert said.status_code == 400 and "Biaya per orang terlalu besar" in said.json()["detail"]
