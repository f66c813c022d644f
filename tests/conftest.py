"""Shared fixtures: one small synthetic province, written and built once per test session."""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx
import pytest

from layers.pipeline.province import BuildResult
from layers.store import LayerStore
from layers.testing import tiny_build, tiny_sources

ROOT = Path(__file__).resolve().parents[1]
# A worktree sits one level deeper than the main checkout; SASARAN_SHARED_DATA points at the folder.
SHARED_DATA = Path(os.environ.get("SASARAN_SHARED_DATA", ROOT.parent / "shared" / "data" / "kalteng"))
STARTUP_SECONDS = 60


@pytest.fixture(scope="session")
def demo_sources(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Config path of a 60-village synthetic province (source files only)."""
    return tiny_sources(tmp_path_factory.mktemp("demo") / "sources", villages=60, seed=7)


@pytest.fixture(scope="session")
def demo_build(demo_sources: Path, tmp_path_factory: pytest.TempPathFactory) -> BuildResult:
    """The build of `demo_sources` (its store is shared: tests must not modify it)."""
    return tiny_build(demo_sources, tmp_path_factory.mktemp("built") / "store")


@pytest.fixture(scope="session")
def store_dir(demo_build: BuildResult) -> Path:
    """Directory of the session's built demo store."""
    return demo_build.store


@pytest.fixture(scope="session")
def default_demo(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """The default demo (``sasaran demo``: 1,500 villages, seed 62), its sources and built store:
    what the README and docs describe. Built once per session (about a minute)."""
    from layers.config import load_config
    from layers.demo.province import write_demo
    from layers.pipeline.province import build

    config = write_demo(tmp_path_factory.mktemp("default_demo") / "sources")
    store = build(
        load_config(config), tmp_path_factory.mktemp("default_demo") / "store", progress=False
    ).store
    return config.parent, store


@pytest.fixture(scope="session")
def store(store_dir: Path) -> LayerStore:
    """The session's demo store, opened."""
    return LayerStore.open(store_dir)


@pytest.fixture
def sources(demo_sources: Path, tmp_path: Path) -> Path:
    """A private copy of the demo source files, to break."""
    copy = tmp_path / "src"
    shutil.copytree(demo_sources.parent, copy)
    return copy


@pytest.fixture
def old_store(store_dir: Path, tmp_path: Path) -> Path:
    """A copy of the session's demo store (built once), to be wrongly replaced."""
    store = tmp_path / "store"
    shutil.copytree(store_dir, store)
    return store


def snapshot(directory: Path) -> dict[str, bytes]:
    """Every file of a directory tree, by relative path, with its bytes."""
    return {
        str(p.relative_to(directory)): p.read_bytes() for p in sorted(directory.rglob("*")) if p.is_file()
    }


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@contextmanager
def running_service(
    store_dir: Path, log_path: Path, env: dict[str, str] | None = None, args: tuple[str, ...] = ()
) -> Iterator[tuple[str, subprocess.Popen]]:
    """The real service under uvicorn on a free loopback port, until the block ends: (base URL, process)."""
    port = _free_port()
    full_env = os.environ | {"SASARAN_STORE_DIR": str(store_dir)} | (env or {})
    cmd = [sys.executable, "-m", "uvicorn", "--factory", "service.app:create_app"]
    cmd += ["--http", "service.protocol:ProblemHTTPProtocol"]  # as `sasaran serve` and the container
    cmd += ["--host", "127.0.0.1", "--port", str(port), "--log-level", "info", *args]
    base = f"http://127.0.0.1:{port}"
    with log_path.open("wb") as log:
        proc = subprocess.Popen(cmd, cwd=ROOT, env=full_env, stdout=log, stderr=subprocess.STDOUT)
        try:
            _wait_until_up(base, proc, log_path)
            yield base, proc
        finally:
            proc.terminate()
            try:
                proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()


@pytest.fixture(scope="session")
def live_server(store_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, Path]]:
    """The real service under uvicorn on a free loopback port: (base URL, access-log path).

    Real clients (GDAL, QGIS, a browser) talk to it over HTTP; the log shows what they asked for.
    """
    log_path = tmp_path_factory.mktemp("uvicorn") / "access.log"
    with running_service(store_dir, log_path) as (base, _):
        yield base, log_path


def _wait_until_up(base: str, proc: subprocess.Popen, log_path: Path) -> None:
    deadline = time.monotonic() + STARTUP_SECONDS
    while True:
        if proc.poll() is not None:
            pytest.fail(f"uvicorn exited with {proc.returncode}:\n{log_path.read_text()}")
        try:
            answer = httpx.get(f"{base}/healthz", timeout=1)
            # Up: answering, and its store prepared (the catalog is prepared after the start).
            if answer.status_code == 200 and answer.json().get("ready", True):
                return
        except httpx.TransportError:
            pass
        if time.monotonic() > deadline:
            pytest.fail(f"service not up after {STARTUP_SECONDS} s:\n{log_path.read_text()}")
        time.sleep(0.1)
