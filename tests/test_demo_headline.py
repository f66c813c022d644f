"""The default demo (1,500 villages, seed 62) against BPS and published multidimensional poverty.

* Income poverty: BPS Kalimantan Tengah, March 2023 5.11 % and March 2024 5.17 % (145,630 people),
  population-weighted over villages (sum poor / sum population), within 0.05 points.
* Kabupaten rates spread like the real per-kabupaten figures (BPS P0 2024 where published, DTKS
  registration shares elsewhere; docs/method.md, "The demo province").
* Headline H for 2024 inside the published range for Indonesian provinces (PRAKARSA 2018: 2.17 %
  DKI Jakarta to 60.56 % Papua) and below 0.15 in any case.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pyogrio
import pytest

from layers.demo.province import _KABUPATEN_POVERTY, _KOTA_POVERTY, kabupaten_poverty_weights
from tests.conftest import SHARED_DATA

#: Published provincial multidimensional headcounts (PRAKARSA, Indeks Kemiskinan Multidimensi
#: Indonesia 2015-2018: lowest DKI Jakarta 2.17 %, highest Papua 60.56 % in 2018).
PUBLISHED_H = (0.0217, 0.6056)
BPS_RATE = {2023: 0.0511, 2024: 0.0517}


@pytest.fixture(scope="module")
def demo(default_demo: tuple[Path, Path]) -> tuple[Path, Path]:
    """The default demo's sources and its built store (tests/conftest.py)."""
    return default_demo


def test_province_poverty_matches_bps(demo: tuple[Path, Path]) -> None:
    poverty = pd.read_csv(demo[0] / "poverty.csv", dtype={"kode_desa": str})
    totals = poverty.groupby("tahun")[["penduduk_miskin", "jumlah_penduduk"]].sum()
    share = totals["penduduk_miskin"] / totals["jumlah_penduduk"]
    for year, rate in BPS_RATE.items():
        assert abs(share[year] - rate) < 0.0005, (year, share[year])
    # 145,630 poor people in March 2024: the demo's population is sized to match (within 1 %).
    assert totals.loc[2024, "penduduk_miskin"] == pytest.approx(145_630, rel=0.01)


def test_headline_is_in_the_published_range(demo: tuple[Path, Path]) -> None:
    manifest = json.loads((demo[1] / "manifest.json").read_text(encoding="utf-8"))
    h = manifest["province"]["2024"]["H"]
    m0 = manifest["province"]["2024"]["M0"]
    assert PUBLISHED_H[0] <= h <= PUBLISHED_H[1]
    assert h < 0.15
    assert 0 < m0 <= h  # M0 = H x A with A <= 1
    assert manifest["synthetic"] is True


def test_kabupaten_rates_follow_the_real_spread(demo: tuple[Path, Path]) -> None:
    poverty = pd.read_csv(demo[0] / "poverty.csv", dtype={"kode_desa": str})
    year = poverty[poverty["tahun"] == 2024]
    kab = year.groupby(year["kode_desa"].str[:4])[["penduduk_miskin", "jumlah_penduduk"]].sum()
    rate = (kab["penduduk_miskin"] / kab["jumlah_penduduk"]).to_numpy()
    # Kabupaten 01..13 west to east, then the kota (71): the embedded real figures in that order.
    target = kabupaten_poverty_weights(len(kab) - 1)
    assert np.corrcoef(rate, target)[0, 1] > 0.95
    # In proportion: one common factor (BPS province level / the real figures' level) fits all.
    np.testing.assert_allclose(rate / target, np.median(rate / target), rtol=0.12)


@pytest.mark.skipif(not SHARED_DATA.exists(), reason=f"real data not found at {SHARED_DATA}")
def test_embedded_kabupaten_table_matches_the_real_data() -> None:
    real = pd.read_csv(SHARED_DATA / "kalteng_poverty_bps_compiled.csv", dtype=str)
    kab = real[real["level"] == "kabupaten_kota"]
    p0 = kab[kab["indicator"] == "p0_persen"].set_index("kode_bps")["value"].astype(float)
    dtks = kab[kab["indicator"].str.startswith("dtks")].pivot(
        index="kode_bps", columns="indicator", values="value"
    )
    share = dtks["dtks_jumlah_orang_terdaftar"].astype(float) / dtks["dtks_penduduk_total"].astype(float)
    rows = [*_KABUPATEN_POVERTY, _KOTA_POVERTY]
    codes = [name.split("(")[1].rstrip(")") for name, _, _ in rows]
    assert sorted(codes) == sorted(share.index)  # all 14 kabupaten/kota, once each
    for code, (name, dtks_share, rate) in zip(codes, rows, strict=True):
        assert dtks_share == pytest.approx(share[code], abs=5e-5), name
        if code in p0.index:
            assert rate == p0[code], name  # BPS P0 used as published
    # Where BPS gives no rate, the rate is one affine function of the DTKS share, below BPS's top 3.
    others = [(s, r) for code, (_, s, r) in zip(codes, rows, strict=True) if code not in p0.index]
    s, r = np.array(others).T
    np.testing.assert_allclose(r, 3.4724 + 4.6317 * s, atol=0.006)
    assert r.max() < p0.min()
    # The table runs west to east like the demo's numbering (centroids of the real kabupaten).
    kabupaten = pyogrio.read_dataframe(
        SHARED_DATA / "kalteng_admin_boundaries.gpkg", layer="kabupaten_kota", columns=["kode_bps_kab"]
    )
    lon = kabupaten.to_crs(32750).centroid.to_crs(4326).x
    west_to_east = kabupaten.assign(lon=lon.to_numpy()).sort_values("lon")["kode_bps_kab"].tolist()
    assert [c for c in west_to_east if c != "6271"] == codes[:-1] and codes[-1] == "6271"
