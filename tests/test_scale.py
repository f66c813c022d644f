"""Scale runs (``make test-all`` or ``pytest -m slow``): a province three times the demo's density.

Speed targets live in scripts/bench.py; these check that the invariants still hold at scale.
"""

from __future__ import annotations

import numpy as np
import pytest

from layers.config import load_config
from layers.demo.province import write_demo
from layers.pipeline.province import build
from layers.store import LayerStore

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def big_store(tmp_path_factory: pytest.TempPathFactory) -> LayerStore:
    work = tmp_path_factory.mktemp("scale")
    config = write_demo(work / "sources", villages=5000, seed=5)
    return LayerStore.open(build(load_config(config), work / "store", progress=False).store)


def test_five_thousand_villages_keep_every_invariant(big_store: LayerStore) -> None:
    hexes = big_store.layer("hexagons")
    villages = big_store.layer("villages")
    assert len(villages) == 5000
    assert (villages["n_cells"] >= 1).all()
    per_village = hexes.groupby("village_code")["population"].sum().reindex(villages["village_code"])
    np.testing.assert_allclose(per_village.to_numpy(), villages["population"].to_numpy(), rtol=1e-6)
    for kind in ("school_sd", "health_hospital"):
        assert np.isfinite(hexes[f"time_min_{kind}"]).all()
    kab = big_store.layer("kabupaten")
    combined = np.average(kab["M0"], weights=kab["population"])
    assert combined == pytest.approx(big_store.manifest["province"]["2024"]["M0"], rel=1e-9)
