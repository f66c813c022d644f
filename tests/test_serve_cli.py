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
        # Links come from the address serve was started on, never from the request's Host (issue 23).
        landing = httpx.get(f"http://127.0.0.1:{port}/", headers={"host": "evil.example.com"})
        assert "evil.example" not in landing.text
        assert landing.json()["links"][0]["href"] == f"http://127.0.0.1:{port}/"
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
    import importlib

    import uvicorn
    from typer.testing import CliRunner

    from layers.cli.main import app

    cli = importlib.import_module("layers.cli.main")  # `layers.cli.main` the attribute is the command
    seen: dict = {}
    monkeypatch.setattr(uvicorn, "run", lambda *args, **kwargs: seen.update(kwargs))
    monkeypatch.setattr(cli, "_announce_when_answering", lambda text, _: None)
    _restore_served_environment(monkeypatch)
    done = CliRunner().invoke(app, ["serve", "--store", str(store_dir), "--workers", "2"])
    assert done.exit_code == 0, done.output
    assert seen["workers"] == 2 and seen["timeout_worker_healthcheck"] >= 30
    assert seen["http"] == "service.protocol:ProblemHTTPProtocol"  # uvicorn's errors as problem+json


@pytest.mark.parametrize(
    "args, public",
    [
        (["--public-url", "https://peta.example.go.id/sasaran/"], "https://peta.example.go.id/sasaran"),
        (["--host", "localhost", "--port", "8123"], "http://localhost:8123"),
        (["--host", "::1", "--port", "8123"], "http://[::1]:8123"),
        (["--host", "0.0.0.0"], None),  # every interface: each request's own address (docs/security.md)
    ],
)
def test_serve_tells_the_workers_their_public_url(store_dir: Path, monkeypatch, args, public) -> None:
    import importlib
    import os

    import uvicorn
    from typer.testing import CliRunner

    cli = importlib.import_module("layers.cli.main")  # `layers.cli.main` the attribute is the command

    announced: list[str] = []
    monkeypatch.setattr(uvicorn, "run", lambda *a, **k: None)
    monkeypatch.setattr(cli, "_announce_when_answering", lambda text, _: announced.append(text))
    _restore_served_environment(monkeypatch)
    done = CliRunner().invoke(cli.app, ["serve", "--store", str(store_dir), *args])
    assert done.exit_code == 0, done.output
    assert os.environ.get("SASARAN_PUBLIC_URL") == public
    if public:
        assert f"{public}/planner" in announced[0]
    else:
        assert "--public-url" in done.output


def test_serve_refuses_a_bad_public_url(store_dir: Path) -> None:
    command = [sys.executable, "-m", "layers.cli", "serve", "--store", str(store_dir)]
    done = subprocess.run(
        [*command, "--public-url", "peta.example"], capture_output=True, text=True, timeout=60, check=False
    )
    assert done.returncode == 2 and "--public-url" in done.stderr and "absolute http(s) URL" in done.stderr


def _restore_served_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    """Unset what ``serve`` sets for its workers, and have monkeypatch put it back afterwards.

    ``delenv`` of an unset name records nothing to undo: set it first, so that the value ``serve``
    writes is removed when the test ends (a later test's app would read it as its public URL).
    """
    for name in ("SASARAN_STORE_DIR", "SASARAN_PUBLIC_URL", "SASARAN_REGISTER_KEY_FILE"):
        monkeypatch.setenv(name, "")
        monkeypatch.delenv(name)
