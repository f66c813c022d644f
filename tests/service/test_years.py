"""Years through every interface of the real app: items, single features, CQL2 filters, exports,
vector tiles and /scores answer with the year asked for (``year``, ``datetime`` or ``year = N`` in a
filter), compared with the store's own rows; a year outside the data is a 400 naming the years."""

from __future__ import annotations

import io

import mapbox_vector_tile
import numpy as np
import pandas as pd
import pyogrio
import pytest
from fastapi.testclient import TestClient

from layers.maps.tiles import tile_bounds
from layers.rounding import round_value
from layers.scoring.rescore import ScoringFrame, layer_for_year, store_spec
from layers.store import LayerStore


@pytest.fixture(scope="module")
def first(store: LayerStore) -> int:
    """The year that is not stored in the layers (the store keeps the latest)."""
    assert len(store.years) >= 2, "the test province has two years"
    return min(store.years)


@pytest.fixture(scope="module")
def rows(store: LayerStore, first: int) -> pd.DataFrame:
    """The store's own rows of that year (village_years), by village code."""
    table = store.layer("village_years")
    return table[table["year"] == first].set_index("village_code")


def _problem(client: TestClient, url: str) -> str:
    r = client.get(url)
    assert r.status_code == 400, (url, r.status_code, r.text[:300])
    assert r.headers["content-type"].startswith("application/problem+json")
    return r.json()["detail"]


@pytest.mark.parametrize("how", ["year={y}", "datetime={y}", "datetime={y}-06-01T00:00:00Z",
                                 "datetime={y}-01-01/{y}-12-31", "datetime=../{y}",
                                 "filter=year={y}", "filter=year = {y} AND population > 0"])  # fmt: skip
def test_items_show_the_year_asked_for(client, store, first, rows, how):
    url = f"/collections/villages/items?limit=500&{how.format(y=first)}"
    body = client.get(url).json()
    assert body.get("numberMatched", 0) > 0, body
    for feature in body["features"]:
        props = feature["properties"]
        expected = rows.loc[props["village_code"]]
        assert props["year"] == first
        assert props["poverty_rate"] == round_value("poverty_rate", expected["poverty_rate"])
        assert props["M0"] == round_value("M0", expected["M0"])
        assert props["population"] == round_value("population", expected["population"])


def test_a_single_feature_shows_the_year_asked_for(client, store, first, rows):
    code = str(rows.index[0])
    stored = client.get(f"/collections/villages/items/{code}").json()["properties"]
    assert stored["year"] == max(store.years)
    for query in (f"year={first}", f"datetime={first}", f"datetime={first}-03-01"):
        props = client.get(f"/collections/villages/items/{code}?{query}").json()["properties"]
        assert props["year"] == first
        assert props["poverty_rate"] == round_value("poverty_rate", rows.loc[code, "poverty_rate"])
        assert props["M0"] == round_value("M0", rows.loc[code, "M0"])
    assert "years available" in _problem(client, f"/collections/villages/items/{code}?year=1999")
    assert "unknown parameter" in _problem(client, f"/collections/villages/items/{code}?yaer={first}")


def test_kecamatan_and_kabupaten_exist_per_year_with_geometry(client, store, first):
    scoring = ScoringFrame.from_store(store)
    for name in ("kecamatan", "kabupaten"):
        # The year view, computed for the stored year, is the stored layer: the same computation.
        stored = store.layer(name)
        again = scoring.layer_values(name, max(store.years), list(stored.columns), store_spec(store))
        assert set(again) >= {"population", "poor_population", "poverty_rate", "M0", "H", "A", "year"}
        for column, values in again.items():
            np.testing.assert_allclose(np.asarray(values, float), stored[column].to_numpy(float), rtol=1e-9,
                                       err_msg=f"{name}.{column}")  # fmt: skip
        # The other year: sums of that year's villages, and served with geometry.
        villages = store.layer("village_years")
        villages = villages[villages["year"] == first].merge(
            store.layer("villages")[["village_code", f"{name}_code"]], on="village_code"
        )
        poor = villages.groupby(f"{name}_code")["poor_population"].sum()
        body = client.get(f"/collections/{name}/items?datetime={first}&limit=500").json()
        assert body["numberMatched"] == store.rows(name)
        for feature in body["features"]:
            assert feature["geometry"]["type"] == "MultiPolygon"
            assert feature["properties"]["year"] == first
            assert feature["properties"]["poor_population"] == round_value(
                "poor_population", poor[feature["id"]]
            )
        assert [f["properties"]["M0"] for f in body["features"]] != stored["M0"].tolist()


def test_years_outside_the_data_are_400_naming_the_years(client, store):
    years = ", ".join(map(str, store.years))
    for url in (
        "/collections/villages/items?year=1999",
        "/collections/villages/items?datetime=1999",
        "/collections/villages/items?datetime=1990/1999-12-31",
        "/collections/villages/items?filter=year=1999",
        "/collections/hexagons/tiles/WebMercatorQuad/0/0/0?year=1999",
        "/collections/hexagons/tiles/WebMercatorQuad/0/0/0?datetime=1999",
        "/exports/villages.csv?year=1999",
        "/exports/villages.csv?datetime=1999-01-01",
        "/scores/village?datetime=1999",
    ):
        assert years in _problem(client, url), url
    assert "not a date-time" in _problem(client, "/collections/villages/items?datetime=yesterday")
    assert "does not vary by year" in _problem(client, f"/collections/roads/items?datetime={store.years[0]}")
    assert "a feature shows one year" in _problem(client, "/collections/villages/items/x?datetime=../..")


@pytest.mark.parametrize("how", ["datetime=../..", "datetime={a}/{b}", "datetime={a}-06-01/{b}-01-01",
                                 "filter=year >= {a}", "filter=year IN ({a}, {b})",
                                 "filter-lang=cql2-json&filter="
                                 + '{{"op":">=","args":[{{"property":"year"}},{a}]}}'])  # fmt: skip
def test_an_interval_over_several_years_answers_every_years_features(client, store, how):
    """Each unit once per year, each feature with its year and values, ids ``code@year``."""
    a, b = min(store.years), max(store.years)
    body = client.get(f"/collections/villages/items?limit=1000&{how.format(a=a, b=b)}").json()
    n = store.rows("villages")
    assert body["numberMatched"] == n * len(store.years), body.get("detail")
    table = store.layer("village_years").set_index(["village_code", "year"])
    seen = set()
    for feature in body["features"]:
        props = feature["properties"]
        assert feature["id"] == f"{props['village_code']}@{props['year']}"
        assert props["M0"] == round_value("M0", table.loc[(props["village_code"], props["year"]), "M0"])
        seen.add((props["village_code"], props["year"]))
    assert len(seen) == n * len(store.years)
    # Year-major: every feature of the first year, then the next.
    years = [f["properties"]["year"] for f in body["features"]]
    assert years == sorted(years)
    # A feature of one year by its id.
    code = body["features"][0]["properties"]["village_code"]
    one = client.get(f"/collections/villages/items/{code}@{a}").json()
    assert one["properties"]["year"] == a and one["properties"]["village_code"] == code


def test_year_datetime_and_a_filter_on_year_are_anded(client, store):
    a, b = min(store.years), max(store.years)
    both = client.get(f"/collections/villages/items?year={a}&datetime={b}").json()
    assert both["numberMatched"] == 0 and both["features"] == []
    same = client.get(f"/collections/villages/items?year={a}&datetime=../..&limit=1").json()
    assert same["numberMatched"] == store.rows("villages") and same["features"][0]["id"].isdigit()
    mixed = client.get(f"/collections/villages/items?filter=year = {a} OR M0 > 0.3&limit=1000").json()
    table = store.layer("village_years")
    expected = ((table["year"] == a) | (table["M0"] > 0.3)).sum()
    assert mixed["numberMatched"] == expected
    # Sorted across years: the highest M0 of any village in any year first.
    top = client.get("/collections/villages/items?datetime=../..&sortby=-M0&limit=5").json()
    m0 = [f["properties"]["M0"] for f in top["features"]]
    assert m0 == sorted(m0, reverse=True) and m0[0] == round_value("M0", table["M0"].max())


def test_exports_carry_the_year_asked_for(client, store, first, rows):
    for query in (f"year={first}", f"datetime={first}"):
        r = client.get(f"/exports/villages.csv?{query}")
        assert r.status_code == 200
        assert f"-{first}" in r.headers["content-disposition"]
        table = pd.read_csv(io.BytesIO(r.content), dtype={"village_code": str}).set_index("village_code")
        assert (table["year"] == first).all() and len(table) == store.rows("villages")
        # Downloads show numbers as a person reads them: percent to 2 decimals, M0 to 4.
        np.testing.assert_allclose(table["poverty_rate"], rows.loc[table.index, "poverty_rate"], atol=0.005)
        np.testing.assert_allclose(table["M0"], rows.loc[table.index, "M0"], atol=5e-5)
    latest = pd.read_csv(io.BytesIO(client.get("/exports/villages.csv").content))
    assert (latest["year"] == max(store.years)).all()
    assert "unknown parameter" in _problem(client, "/exports/villages.csv?yr=2023")


def test_a_geopackage_of_every_year_for_qgis_time(client, store, tmp_path):
    r = client.get("/exports/villages.gpkg?years=all")
    assert r.status_code == 200 and "all-years" in r.headers["content-disposition"]
    path = tmp_path / "villages.gpkg"
    path.write_bytes(r.content)
    frame = pyogrio.read_dataframe(path)
    assert len(frame) == store.rows("villages") * len(store.years)
    assert sorted(frame["year"].unique()) == store.years
    assert (pd.to_datetime(frame["date"]).dt.year == frame["year"]).all()
    assert (pd.to_datetime(frame["date_end"]).dt.year == frame["year"] + 1).all()
    table = store.layer("village_years").set_index(["village_code", "year"])
    expected = table.loc[list(zip(frame["village_code"], frame["year"], strict=True)), "poverty_rate"]
    np.testing.assert_allclose(frame["poverty_rate"], expected, rtol=1e-9)
    assert "years must be 'all'" in _problem(client, "/exports/villages.gpkg?years=2023")


def _tile_values(client: TestClient, url: str, layer: str, key: str) -> dict[str, float]:
    r = client.get(url)
    assert r.status_code == 200, r.text[:200]
    decoded = mapbox_vector_tile.decode(r.content)
    return {f["properties"][key]: f["properties"] for f in decoded[layer]["features"]}  # type: ignore[misc]


def test_tiles_carry_the_year_asked_for(client, store, first, rows):
    z, x, y = _covering_tile(store, 9)
    base = f"/collections/villages/tiles/WebMercatorQuad/{z}/{y}/{x}"
    stored = _tile_values(client, base, "villages", "village_code")
    assert stored
    for query in (f"year={first}", f"datetime={first}"):
        shown = _tile_values(client, f"{base}?{query}", "villages", "village_code")
        assert set(shown) == set(stored)
        for code, props in shown.items():
            # Tiles are drawn, not read: they keep the store's precision.
            assert props["M0"] == pytest.approx(rows.loc[code, "M0"], abs=1e-9)
            assert props["population"] == pytest.approx(rows.loc[code, "population"])
    # Hexagons of that year: their village's people spread as in the stored year, rescored.
    hexes = layer_for_year(store, "hexagons", first).set_index("h3")
    z, x, y = _covering_tile(store, 12)
    cells = _tile_values(client, f"/collections/hexagons/tiles/WebMercatorQuad/{z}/{y}/{x}?year={first}",
                         "hexagons", "h3")  # fmt: skip
    assert cells
    for h3, props in cells.items():
        assert props["population"] == pytest.approx(hexes.loc[h3, "population"])
        if "score" in props:
            assert props["score"] == pytest.approx(hexes.loc[h3, "score"])
    assert "does not vary by year" in _problem(
        client, f"/collections/roads/tiles/WebMercatorQuad/0/0/0?year={first}"
    )
    tilejson = client.get(f"/collections/villages/tiles/WebMercatorQuad/tilejson.json?year={first}").json()
    assert tilejson["tiles"][0].endswith(f"?year={first}")


def _covering_tile(store: LayerStore, z: int) -> tuple[int, int, int]:
    """A tile at zoom z over the middle of the province's first village."""
    point = store.layer("villages").geometry.iloc[0].representative_point()
    n = 1 << z
    x = int((point.x + 180) / 360 * n)
    lat = np.radians(point.y)
    y = int((1 - np.arcsinh(np.tan(lat)) / np.pi) / 2 * n)
    assert tile_bounds(z, x, y)[0] < 2e7
    return z, x, y


def test_scores_accept_datetime(client, store, first):
    by_year = client.get(f"/scores/village?year={first}&limit=5").json()
    by_datetime = client.get(f"/scores/village?datetime={first}&limit=5").json()
    assert by_year["year"] == by_datetime["year"] == first
    by_year.pop("links"), by_datetime.pop("links")
    assert by_year == by_datetime


def test_unknown_parameters_are_400_on_every_path(client):
    for url in (
        "/?foo=1",
        "/conformance?foo=1",
        "/collections?foo=1",
        "/collections/villages?foo=1",
        "/collections/villages/queryables?foo=1",
        "/collections/villages/items/x?foo=1",
        "/collections/villages/tiles?foo=1",
        "/collections/villages/tiles/WebMercatorQuad?foo=1",
        "/collections/villages/tiles/WebMercatorQuad/tilejson.json?foo=1",
        "/collections/villages/tiles/WebMercatorQuad/style.json?foo=1",
        "/collections/villages/tiles/WebMercatorQuad/0/0/0?foo=1",
        "/exports?foo=1",
        "/exports/villages.csv?foo=1",
        "/classes?foo=1",
    ):
        assert "foo" in _problem(client, url), url


def test_yearly_features_carry_their_date_and_it_selects_the_year(client, store, first):
    """``date`` (1 January of ``year``) is the features' temporal property: a CQL2 ``DATE()``, a
    property filter and ``datetime`` on it select the year, as QGIS 3.22 sends a subset on a date
    field (``"date" = '2023-01-01'`` becomes ``datetime=2023-01-01``)."""
    n = store.rows("villages")
    for how in (f"filter=date = DATE('{first}-01-01')", f"date={first}-01-01", f"datetime={first}-01-01",
                f"filter=date >= DATE('{first}-01-01') AND date < DATE('{first + 1}-01-01')"):  # fmt: skip
        body = client.get(f"/collections/villages/items?limit=1000&{how}").json()
        assert body["numberMatched"] == n, (how, body)
        assert {f["properties"]["date"] for f in body["features"]} == {f"{first}-01-01"}
        assert {f["properties"]["year"] for f in body["features"]} == {first}
    none = client.get(f"/collections/villages/items?date={first}-06-01").json()
    assert none["numberMatched"] == 0
    queryables = client.get("/collections/villages/queryables").json()["properties"]
    assert queryables["date"]["format"] == "date" and queryables["date"]["x-title-id"] == "Awal tahun"
    bad = client.get("/collections/villages/items?filter=date = 2023")
    assert bad.status_code == 400 and "DATE('2023-01-01')" in bad.json()["detail"]
