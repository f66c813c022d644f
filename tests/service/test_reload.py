"""A running service picks up a rebuilt store without a failed request, and never writes into it."""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import threading
import time
from collections import Counter
from pathlib import Path

import httpx
import pandas as pd
import pytest
from fastapi.testclient import TestClient

from service.app import create_app
from service.settings import Settings
from tests.conftest import running_service

PATHS = (
    "/collections/villages/items?limit=50",
    "/collections/hexagons/items?limit=200&bbox=110,-3,115,0",
    "/scores/kabupaten?w_income=0.4&w_education=0.2&w_health=0.2&w_quality_of_life=0.2",
    "/collections/hexagons/tiles/WebMercatorQuad/7/64/104",  # a tile of the province (row 65 is off it)
    "/healthz",
)


def _rebuild(sources: Path, store: Path) -> None:
    """Rebuild the store from sources whose population is 10 % higher (so values visibly change)."""
    poverty = sources / "poverty.csv"
    table = pd.read_csv(poverty, dtype=str)
    table["jumlah_penduduk"] = (table["jumlah_penduduk"].astype(int) * 11 // 10).astype(str)
    table.to_csv(poverty, index=False)
    command = [sys.executable, "-m", "layers.cli", "build", str(sources / "sasaran.toml")]
    done = subprocess.run(
        [*command, "--store", str(store), "-q", "--accept-changes"],
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert done.returncode == 0, done.stderr


def _hammer(base: str, stop: threading.Event, statuses: Counter) -> None:
    with httpx.Client(base_url=base, timeout=30) as client:
        i = 0
        while not stop.is_set():
            r = client.get(PATHS[i % len(PATHS)])
            statuses[r.status_code] += 1
            i += 1


def _build_id(base: str) -> str:
    return httpx.get(f"{base}/healthz", timeout=10).json()["build_id"]


def _wait_for_new_build(base: str, old: str, seconds: float) -> str:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if (new := _build_id(base)) != old:
            return new
        time.sleep(0.2)
    pytest.fail(f"the service still serves build {old} after {seconds} s")


@pytest.fixture
def private_store(store_dir: Path, demo_sources: Path, tmp_path: Path) -> tuple[Path, Path]:
    """A copy of the session store and of its sources, free to rebuild."""
    store = tmp_path / "store"
    shutil.copytree(store_dir, store)
    sources = tmp_path / "sources"
    shutil.copytree(demo_sources.parent, sources)
    return store, sources


def test_a_rebuilt_store_is_picked_up_without_a_failed_request(private_store, tmp_path: Path) -> None:
    store, sources = private_store
    env = {"SASARAN_RELOAD_INTERVAL_S": "0.5", "SASARAN_EXPORT_DIR": str(tmp_path / "exports")}
    with running_service(store, tmp_path / "uvicorn.log", env) as (base, _):
        before = httpx.get(f"{base}/collections/kabupaten/items").json()["features"]
        old = _build_id(base)
        old_export = httpx.get(f"{base}/exports/kabupaten.csv", timeout=60).text
        statuses: Counter = Counter()
        stop = threading.Event()
        workers = [threading.Thread(target=_hammer, args=(base, stop, statuses)) for _ in range(4)]
        for w in workers:
            w.start()
        try:
            _rebuild(sources, store)
            new = _wait_for_new_build(base, old, 20)
            time.sleep(1)  # requests keep flowing across the swap
        finally:
            stop.set()
            for w in workers:
                w.join()
        assert set(statuses) == {200}, statuses
        assert sum(statuses.values()) > 20
        after = httpx.get(f"{base}/collections/kabupaten/items").json()["features"]
        people = (
            [f["properties"]["population"] for f in before],
            [f["properties"]["population"] for f in after],
        )
        assert sum(people[1]) == pytest.approx(1.1 * sum(people[0]), rel=0.01)
        assert new != old
        new_export = httpx.get(f"{base}/exports/kabupaten.csv", timeout=60).text
        assert new_export != old_export
        log = (tmp_path / "uvicorn.log").read_text()
        assert f"serving rebuilt store {store}: build {new}" in log
    # The service wrote nothing into the store directory: only the build's own files are there.
    import json

    manifest = json.loads((store / "manifest.json").read_text())
    expected = {"manifest.json", *manifest["files"].values(), *manifest.get("rasters", {}).values()}
    if "households" in manifest:  # the register's restricted directory (docs/schema.md)
        expected.add("households")
    assert {p.name for p in store.iterdir()} == expected


def test_sighup_asks_for_a_check_at_once(private_store, tmp_path: Path) -> None:
    store, sources = private_store
    env = {"SASARAN_RELOAD_INTERVAL_S": "3600"}  # only a signal can make it look in time
    with running_service(store, tmp_path / "uvicorn.log", env) as (base, proc):
        old = _build_id(base)
        _rebuild(sources, store)
        time.sleep(1)
        assert _build_id(base) == old
        os.kill(proc.pid, signal.SIGHUP)
        assert _wait_for_new_build(base, old, 20) != old


def test_a_broken_store_keeps_the_old_build_served(private_store, tmp_path: Path) -> None:
    store, _ = private_store
    env = {"SASARAN_RELOAD_INTERVAL_S": "0.3"}
    with running_service(store, tmp_path / "uvicorn.log", env) as (base, _):
        old = _build_id(base)
        manifest = store / "manifest.json"
        text = manifest.read_text().replace('"build_id": "', '"build_id": "x', 1)
        (store / manifest.name).write_text(text)
        (store / "villages.parquet").unlink()  # the manifest names a file that is gone
        time.sleep(1.5)
        assert _build_id(base) == old
        assert httpx.get(f"{base}/collections/villages/items?limit=1").status_code == 200
        assert "could not be opened" in (tmp_path / "uvicorn.log").read_text()


def test_a_store_that_cannot_be_prepared_at_start_is_served_once_rebuilt(private_store) -> None:
    """A start over a damaged store answers 503 naming it; a rebuild is then served, no restart."""
    store, sources = private_store
    (store / "villages.parquet").write_bytes(b"not parquet")  # opens (the file is there), fails to load
    with TestClient(create_app(Settings(store_dir=store, reload_interval_s=0.3))) as client:
        deadline = time.monotonic() + 60
        while (answer := client.get("/healthz")).status_code != 503:
            assert time.monotonic() < deadline, answer.json()
            time.sleep(0.1)
        assert "could not be prepared" in answer.json()["detail"]
        assert client.get("/collections").status_code == 503
        _rebuild(sources, store)
        while not (answer := client.get("/healthz")).json().get("ready"):
            assert time.monotonic() < deadline + 240, answer.json()
            time.sleep(0.2)
        assert client.get("/collections/villages/items?limit=1").status_code == 200
