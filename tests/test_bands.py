"""OPHI's fixed bands (vulnerable 0.2 <= c < 1/3, severe c >= 0.5) at k = 1/4, 1/3, 1/2 and 1.

The same spec is used on every surface: twelve indicators of weight 1/12 on one rate column, three
always deprived, two more deprived above 5 and one more above 8. A unit's score is then fixed by its
rate alone, so every expected figure below is worked out by hand from the rates:

=============  ==========  ==========  ===================  ===========
rate           c           vulnerable  poor at k            severe
=============  ==========  ==========  ===================  ===========
<= 5           3/12 = .25  yes         k = 1/4 only         no
5 < r <= 8     5/12        no          k <= 5/12 (1/4, 1/3) no
> 8            6/12 = .5   no          k <= 1/2             yes
=============  ==========  ==========  ===================  ===========

Under the old k-relative band (0.2 <= c < k) the middle row was "vulnerable" at k = 1/2 and k = 1,
and the top row at k = 1: each surface below would have failed there.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from fractions import Fraction
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from fastapi.testclient import TestClient

from layers.config import load_config
from layers.pipeline.province import build
from layers.scoring.af import score_units
from service.app import create_app
from service.settings import Settings
from tests.test_scoring import _equal_spec

REPO = Path(__file__).resolve().parents[1]
KS = ("1/4", "1/3", "1/2", "1")


def band_spec(column: str, k: str) -> dict:
    """The spec of the module docstring over ``column``."""
    cutoffs = [-1.0] * 3 + [5.0] * 2 + [8.0] + [1000.0] * 6
    return {
        "k": k,
        "indicator": [
            {
                "name": f"i{j:02d}",
                "column": column,
                "dimension": f"d{j % 4}",
                "weight": "1/12",
                "cutoff": cut,
                "deprived_when": "above",
            }
            for j, cut in enumerate(cutoffs)
        ],
    }


def band_toml(column: str, k: str) -> str:
    spec = band_spec(column, k)
    parts = [f'k = "{k}"']
    for ind in spec["indicator"]:
        parts.append(
            "[[indicator]]\n"
            + "\n".join(
                f'{key} = "{value}"' if isinstance(value, str) else f"{key} = {value}"
                for key, value in ind.items()
            )
        )
    return "\n\n".join(parts) + "\n"


def expected(rate: np.ndarray, people: np.ndarray, k: str) -> dict[str, float]:
    """H, vulnerable and severe shares worked out from the table in the module docstring."""
    low, mid, high = rate <= 5, (rate > 5) & (rate <= 8), rate > 8
    kf = Fraction(k)
    poor = (low & (kf <= Fraction(1, 4))) | (mid & (kf <= Fraction(5, 12))) | (high & (kf <= Fraction(1, 2)))
    total = people.sum()
    return {
        "H": float(people[poor].sum() / total),
        "vulnerable": float(people[low].sum() / total),
        "severe": float(people[high].sum() / total),
    }


def test_fixed_bands_in_the_engine() -> None:
    # c = 0.1, 0.2, 0.3, exactly 1/3 (as a sum of twelfths), 0.4, 0.5 and 1 at every k.
    spec10 = _equal_spec(10)
    values = [[1] * n + [0] * (10 - n) for n in (1, 2, 3, 4, 5, 10)]
    for k in (0.25, 1 / 3, 0.5, 1.0):
        s = score_units(values, spec10, k)
        np.testing.assert_array_equal(s.vulnerable, [False, True, True, False, False, False])
        np.testing.assert_array_equal(s.severe, [False, False, False, False, True, True])
    twelfths = score_units([[1] * 4 + [0] * 8], _equal_spec(12), 0.5)  # 4/12 sums to just under 1/3
    assert not twelfths.vulnerable[0] and not twelfths.poor[0]


# --- sasaran mpi, the real command line ----------------------------------------------------------

UNITS = pd.DataFrame({"rate": [1.0, 4.0, 6.0, 7.5, 9.0, 20.0], "people": [10, 30, 20, 5, 25, 10]})


@pytest.mark.parametrize("k", KS)
def test_sasaran_mpi(tmp_path: Path, k: str) -> None:
    UNITS.to_csv(tmp_path / "units.csv", index=False)
    (tmp_path / "spec.toml").write_text(band_toml("rate", "1/3"), encoding="utf-8")
    r = subprocess.run(
        [sys.executable, "-m", "layers.cli", "mpi", "units.csv", "--indicators", "spec.toml"]
        + ["--weight-column", "people", "--k", k, "--format", "json"],
        cwd=tmp_path,
        env={**os.environ, "PYTHONPATH": str(REPO)},
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert r.returncode == 0, r.stderr
    out = json.loads(r.stdout)
    want = expected(UNITS["rate"].to_numpy(), UNITS["people"].to_numpy(float), k)
    # By hand: vulnerable = rates 1 and 4 = 40 of 100 people, severe = rates 9 and 20 = 35.
    assert want["vulnerable"] == 0.4 and want["severe"] == 0.35
    for key, value in want.items():
        assert out[key] == pytest.approx(value, abs=1e-12), key


# --- /scores over the real app ---------------------------------------------------------------------


@pytest.fixture(scope="module")
def client(store_dir: Path):
    """The real app over the session's built demo store (lifespan included)."""
    with TestClient(create_app(Settings(store_dir=store_dir))) as c:
        yield c


@pytest.mark.parametrize("k", KS)
def test_scores_endpoint(client: TestClient, store_dir: Path, k: str) -> None:
    r = client.post(f"/scores/village?k={k}&limit=5000", json=band_spec("poverty_rate", "1/3"))
    assert r.status_code == 200, r.text
    body = r.json()
    villages = pd.read_parquet(store_dir / "village_years.parquet")
    rows = villages[villages["year"] == body["year"]]
    rates = rows["poverty_rate"].to_numpy(float)
    people = rows["scored_population"].to_numpy(float)  # the people in cells with a score
    known = np.isfinite(rates)
    want = expected(rates[known], people[known], k)
    for key, value in want.items():
        assert body["summary"][key] == pytest.approx(value, abs=5e-5), key  # shown to 4 decimals
    by_code = dict(zip(rows["village_code"], rates, strict=True))
    for unit in body["units"]:
        rate = by_code[unit["id"]]
        if unit["population"] and np.isfinite(rate):
            assert unit["vulnerable_share"] == (1.0 if rate <= 5 else 0.0)
            assert unit["severe_share"] == (1.0 if rate > 8 else 0.0)
    cells = client.post(f"/scores/hexagon?k={k}&limit=500", json=band_spec("poverty_rate", "1/3")).json()
    for unit in cells["units"]:
        if unit["c"] is not None:
            assert unit["vulnerable"] == (0.2 <= unit["c"] < 1 / 3 - 1e-9)
            assert unit["severe"] == (unit["c"] >= 0.5 - 1e-9)


# --- the built store ---------------------------------------------------------------------------------


@pytest.fixture(scope="module", params=KS)
def band_store(request: pytest.FixtureRequest, demo_sources: Path, tmp_path_factory: pytest.TempPathFactory):
    k = request.param
    spec_file = tmp_path_factory.mktemp("bands") / "bands.toml"
    spec_file.write_text(band_toml("poverty_rate", k), encoding="utf-8")
    config = load_config(demo_sources).model_copy(update={"indicators": spec_file})
    store = tmp_path_factory.mktemp("band_store") / "store"
    return k, build(config, store, progress=False).store


def test_built_store(band_store: tuple[str, Path]) -> None:
    k, store = band_store
    years = pd.read_parquet(store / "village_years.parquet")
    manifest = json.loads((store / "manifest.json").read_text(encoding="utf-8"))
    for year, rows in years.groupby("year"):
        rate = rows["poverty_rate"].to_numpy(float)
        known = np.isfinite(rate) & (rows["population"].to_numpy(float) > 0)
        low, high = rate <= 5, rate > 8
        np.testing.assert_allclose(rows["vulnerable_share"].to_numpy(float)[known], low[known].astype(float))
        np.testing.assert_allclose(rows["severe_share"].to_numpy(float)[known], high[known].astype(float))
        province = manifest["province"][str(year)]
        want = expected(rate[known], rows["scored_population"].to_numpy(float)[known], k)
        assert province["H"] == pytest.approx(want["H"], abs=1e-9)
        assert province["vulnerable_share"] == pytest.approx(want["vulnerable"], abs=1e-9)
        assert province["severe_share"] == pytest.approx(want["severe"], abs=1e-9)
    hexagons = pd.read_parquet(store / "hexagons.parquet", columns=["score", "vulnerable", "severe"])
    scored = hexagons["score"].notna()
    c = hexagons.loc[scored, "score"].to_numpy(float)
    np.testing.assert_array_equal(hexagons.loc[scored, "vulnerable"], (c >= 0.2 - 1e-9) & (c < 1 / 3 - 1e-9))
    np.testing.assert_array_equal(hexagons.loc[scored, "severe"], c >= 0.5 - 1e-9)
    assert set(np.round(c, 9)) <= {0.25, round(5 / 12, 9), 0.5}
