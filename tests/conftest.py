"""Shared fixtures: one small synthetic province, written and built once per test session."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from layers.config import load_config
from layers.demo import write_demo
from layers.pipeline import BuildResult, build
from layers.store import LayerStore

ROOT = Path(__file__).resolve().parents[1]
# A worktree sits one level deeper than the main checkout; SASARAN_SHARED_DATA points at the folder.
SHARED_DATA = Path(os.environ.get("SASARAN_SHARED_DATA", ROOT.parent / "shared" / "data" / "kalteng"))
STARTUP_SECONDS = 60


@pytest.fixture(scope="session")
def demo_sources(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Config path of a 60-village synthetic province (source files only)."""
    return write_demo(tmp_path_factory.mktemp("demo") / "sources", villages=60, seed=7)


@pytest.fixture(scope="session")
def demo_build(demo_sources: Path, tmp_path_factory: pytest.TempPathFactory) -> BuildResult:
    """The build of `demo_sources` (its store is shared: tests must not modify it)."""
    return build(load_config(demo_sources), tmp_path_factory.mktemp("built") / "store", progress=False)


@pytest.fixture(scope="session")
def store_dir(demo_build: BuildResult) -> Path:
    """Directory of the session's built demo store."""
    return demo_build.store


@pytest.fixture(scope="session")
def store(store_dir: Path) -> LayerStore:
    """The session's demo store, opened."""
    return LayerStore.open(store_dir)


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture(scope="session")
def live_server(store_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, Path]]:
    """The real service under uvicorn on a free loopback port: (base URL, access-log path).

    Real clients (GDAL, QGIS, a browser) talk to it over HTTP; the log shows what they asked for.
    """
    port = _free_port()
    log_path = tmp_path_factory.mktemp("uvicorn") / "access.log"
    env = os.environ | {"SASARAN_STORE_DIR": str(store_dir)}
    cmd = [sys.executable, "-m", "uvicorn", "--factory", "service.app:create_app"]
    cmd += ["--host", "127.0.0.1", "--port", str(port), "--log-level", "info"]
    base = f"http://127.0.0.1:{port}"
    with log_path.open("wb") as log:
        proc = subprocess.Popen(cmd, cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT)
        try:
            _wait_until_up(base, proc, log_path)
            yield base, log_path
        finally:
            proc.terminate()
            try:
                proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()


def _wait_until_up(base: str, proc: subprocess.Popen, log_path: Path) -> None:
    deadline = time.monotonic() + STARTUP_SECONDS
    while True:
        if proc.poll() is not None:
            pytest.fail(f"uvicorn exited with {proc.returncode}:\n{log_path.read_text()}")
        try:
            if httpx.get(f"{base}/healthz", timeout=1).status_code == 200:
                return
        except httpx.TransportError:
            pass
        if time.monotonic() > deadline:
            pytest.fail(f"service not up after {STARTUP_SECONDS} s:\n{log_path.read_text()}")
        time.sleep(0.1)
