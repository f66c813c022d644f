"""The change gate, both ways, through the real ``sasaran build``: a rebuild whose headline figures
move beyond tolerance is refused (exit 2, old store byte-identical) unless --accept-changes."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest

from layers.config import ChangeGate
from layers.pipeline.change_gate import Headline, compare, headline_of_store
from tests.conftest import snapshot


def _build(config: Path, store: Path, *extra: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "layers.cli", "build", str(config), "--store", str(store), "--quiet", *extra],
        capture_output=True, text=True, timeout=300, check=False,
    )  # fmt: skip


@pytest.fixture
def built(demo_sources: Path, store_dir: Path, tmp_path: Path) -> tuple[Path, Path]:
    sources = tmp_path / "src"
    shutil.copytree(demo_sources.parent, sources)
    store = tmp_path / "store"
    shutil.copytree(store_dir, store)
    return sources / "sasaran.toml", store


def _scale_population(config: Path, factor: float) -> None:
    path = config.parent / "poverty.csv"
    table = pd.read_csv(path, dtype=str)
    for column in ("jumlah_penduduk", "penduduk_miskin"):
        table[column] = (table[column].astype(float) * factor).round().astype(int).astype(str)
    table.to_csv(path, index=False)


def test_an_unchanged_rebuild_passes_and_shows_the_comparison(built) -> None:
    config, store = built
    done = _build(config, store)
    assert done.returncode == 0, done.stderr
    assert "Compared with the store it replaces" in done.stdout
    assert "REFUSED" not in done.stdout
    assert "population: " in done.stdout and "(+0.0 %, limit ±10 %)" in done.stdout


def test_a_shifted_rebuild_is_refused_and_the_old_store_kept(built) -> None:
    config, store = built
    before = snapshot(store)
    _scale_population(config, 0.5)  # e.g. a column read in the wrong unit
    done = _build(config, store)
    assert done.returncode == 2, done.stdout + done.stderr
    assert "not replaced" in done.stderr and "population" in done.stderr and "REFUSED" in done.stderr
    assert "--accept-changes" in done.stderr and "Traceback" not in done.stderr
    assert snapshot(store) == before
    assert not list(store.parent.glob(".store.building-*"))


def test_accept_changes_replaces_the_store(built) -> None:
    config, store = built
    old = headline_of_store(store)
    _scale_population(config, 0.5)
    done = _build(config, store, "--accept-changes")
    assert done.returncode == 0, done.stderr
    assert "REFUSED" in done.stdout  # still shown, but accepted
    new = headline_of_store(store)
    assert old is not None and new is not None
    assert new.population == pytest.approx(0.5 * old.population, rel=0.01)


def test_tolerances_come_from_the_config() -> None:
    old = Headline(2024, 1000.0, 60, 0.10, 0.05, {"6201": ("A", 0.10, 0.05)})
    new = Headline(2024, 1080.0, 60, 0.12, 0.06, {"6201": ("A", 0.30, 0.05), "6202": ("B", 0.1, 0.1)})
    shifts = {s.what: s for s in compare(old, new, ChangeGate())}
    assert not shifts["population"].exceeded and shifts["population"].change == pytest.approx(0.08)
    assert shifts["A (6201) H"].exceeded  # +0.20 against ±0.10
    assert shifts["B (6202) H"].exceeded  # a kabupaten that appears is a change
    assert not shifts["province H"].exceeded
    strict = {s.what: s for s in compare(old, new, ChangeGate(population_rel=0.05))}
    assert strict["population"].exceeded


def _edit_years(config: Path, change) -> None:
    path = config.parent / "poverty.csv"
    change(pd.read_csv(path, dtype=str)).to_csv(path, index=False)


def test_swapped_years_are_refused(built) -> None:
    """Issue 23, finding 6: the gate compared only the latest year, and a swap passed it."""
    config, store = built
    before = snapshot(store)
    _edit_years(config, lambda f: f.assign(tahun=f["tahun"].map({"2023": "2024", "2024": "2023"})))
    done = _build(config, store)
    assert done.returncode == 2, done.stdout + done.stderr
    # Every year is compared, village by village: the province figures of two similar years may not
    # move beyond tolerance, but most villages' figures for a year already published do.
    for year in ("2023", "2024"):
        assert f"  {year}: villages whose population/poor_population moved more than 5 %" in done.stderr
    assert "REFUSED" in done.stderr and "Traceback" not in done.stderr
    assert snapshot(store) == before


def test_a_new_year_is_an_update_and_a_lost_year_a_change(built) -> None:
    config, store = built

    def add_2025(frame: pd.DataFrame) -> pd.DataFrame:
        return pd.concat([frame, frame[frame["tahun"] == "2024"].assign(tahun="2025")], ignore_index=True)

    _edit_years(config, add_2025)
    done = _build(config, store)
    assert done.returncode == 0, done.stderr
    assert "years 2023, 2024 → 2023, 2024, 2025; 2025 new, nothing to compare" in done.stdout
    assert "REFUSED" not in done.stdout
    # Shifted years (2023 dropped, as if every year had moved on by one) are refused. The register
    # of families loses 2023 too: it may only hold years of the poverty table.
    _edit_years(config, lambda f: f[f["tahun"] != "2023"])
    register = config.parent / "keluarga.parquet"
    families = pd.read_parquet(register)
    families[families["tahun"].astype(str) != "2023"].to_parquet(register, index=False)
    done = _build(config, store)
    assert done.returncode == 2, done.stdout + done.stderr
    assert "2023: in the store, missing from the build (2024, 2025)  REFUSED" in done.stderr


def test_build_help_shows_the_config_section() -> None:
    """Issue 23, finding 10: rich markup read ``[change_gate]`` as a style tag and dropped it."""
    done = subprocess.run(
        [sys.executable, "-m", "layers.cli", "build", "--help"], capture_output=True, text=True, check=False
    )
    assert done.returncode == 0 and "[change_gate]" in done.stdout
