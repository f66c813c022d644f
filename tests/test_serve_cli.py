"""``sasaran serve``: worker processes, the printed URL, and a shutdown that ends on time."""

from __future__ import annotations

import signal
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

from tests.conftest import _free_port


def _children(pid: int) -> list[int]:
    out = subprocess.run(
        ["ps", "-o", "pid=", "--ppid", str(pid)], capture_output=True, text=True, check=False
    )
    return [int(p) for p in out.stdout.split()]


def test_serve_with_two_workers_answers_and_stops_on_sigterm(store_dir: Path, tmp_path: Path) -> None:
    port = _free_port()
    command = [sys.executable, "-m", "layers.cli", "serve", "--store", str(store_dir), "--port", str(port)]
    log = (tmp_path / "serve.log").open("wb")
    proc = subprocess.Popen([*command, "--workers", "2", "--shutdown-timeout", "3"], stdout=log, stderr=log)
    try:
        deadline = time.monotonic() + 90
        while True:
            try:
                if httpx.get(f"http://127.0.0.1:{port}/healthz", timeout=1).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            assert proc.poll() is None, (tmp_path / "serve.log").read_text()
            assert time.monotonic() < deadline, (tmp_path / "serve.log").read_text()
            time.sleep(0.2)
        # The supervisor's worker processes (multiprocessing may add a resource tracker).
        assert len(_children(proc.pid)) >= 2, _children(proc.pid)
        assert {httpx.get(f"http://127.0.0.1:{port}/healthz").status_code for _ in range(10)} == {200}
        # The URLs are announced once they answer: after the first worker's start-up, never before.
        while "planner page:" not in (text := (tmp_path / "serve.log").read_text()):
            assert time.monotonic() < deadline, text
            time.sleep(0.2)
        assert f"http://127.0.0.1:{port}/" in text and "2 workers" in text
        assert text.index("Application startup complete") < text.index("Sasaran serving"), text
    finally:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(timeout=60)  # a hang guard: it stops once its 3 s shutdown timeout has passed
        except subprocess.TimeoutExpired:
            proc.kill()
            pytest.fail("sasaran serve did not stop after SIGTERM")
        log.close()


def test_serve_refuses_a_missing_store(tmp_path: Path) -> None:
    done = subprocess.run(
        [sys.executable, "-m", "layers.cli", "serve", "--store", str(tmp_path / "none")],
        capture_output=True, text=True, timeout=60, check=False,
    )  # fmt: skip
    assert done.returncode == 2 and "no layer store here" in done.stderr


def test_serve_gives_busy_workers_time_before_killing_them(store_dir: Path, monkeypatch) -> None:
    # uvicorn kills a worker that leaves its health check unanswered for timeout_worker_healthcheck
    # seconds (default 5); a long GDAL export holds the GIL longer and was killed mid-download.
    import uvicorn
    from typer.testing import CliRunner

    from layers.cli.main import app

    seen: dict = {}
    monkeypatch.setattr(uvicorn, "run", lambda *args, **kwargs: seen.update(kwargs))
    monkeypatch.setenv("SASARAN_STORE_DIR", "")  # serve sets it; undone by monkeypatch
    done = CliRunner().invoke(app, ["serve", "--store", str(store_dir), "--workers", "2"])
    assert done.exit_code == 0, done.output
    assert seen["workers"] == 2 and seen["timeout_worker_healthcheck"] >= 30
