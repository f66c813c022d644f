"""Issue 23, finding 3: one legal request must not stall a worker, nor two the service.

Through the real service under uvicorn over a 300-village demo store (41,000 cells): four distinct
64-indicator requests at once against two workers while ``/healthz`` is probed every 100 ms; a
bound on heavy requests per worker answered ``503`` with ``Retry-After``; and heavy work stopped
when its client hangs up. The CPU comparison of 52 and 53 indicators is a benchmark
(``scripts/bench_heavy.py``, docs/benchmarks.md); `tests/test_scoring.py` asserts its complexity.
"""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import numpy as np
import orjson
import pytest

from layers.testing import tiny_province
from tests.conftest import running_service

#: Seconds any single answer may take before the test calls it hung (far above the expected ~2 s).
HANG_GUARD_S = 60.0
PROBE_EVERY_S = 0.1
HEAVY = "/scores/hexagon?limit=10000"  # 10,000 hexagons × 64 deprivations: ~2 s of work each


@pytest.fixture(scope="module")
def mid_store(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A 300-village demo store: large enough that a 64-indicator answer takes seconds."""
    return tiny_province(tmp_path_factory.mktemp("mid"), villages=300, seed=5)


def wide_spec(base: list[dict], seed: int, m: int = 64) -> dict:
    """A distinct spec of ``m`` indicators (the documented maximum) on the store's own columns."""
    rng = np.random.default_rng(seed)
    indicators = []
    for i in range(m):
        like = base[i % len(base)]
        indicators.append(
            {
                "name": f"i{i}",
                "column": like["column"],
                "dimension": like["dimension"],
                "weight": f"1/{m}",
                "cutoff": float(like["cutoff"]) * float(rng.uniform(0.5, 1.5)),
                "deprived_when": like["deprived_when"],
            }
        )
    return {"k": "1/3", "indicator": indicators}


def _base_spec(base_url: str) -> list[dict]:
    return httpx.get(f"{base_url}/scores/kabupaten?limit=1", timeout=HANG_GUARD_S).json()["spec"]["indicator"]


def healthz_status(port: int) -> int:
    """``GET /healthz`` on a new connection (either worker may take it): the status, 0 if none.

    By hand on a socket: an HTTP client made per probe costs the prober more than the server
    spends answering, and that, not the service, was what slow probes measured.
    """
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=HANG_GUARD_S) as sock:
            sock.sendall(b"GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n")
            head = sock.recv(4096)
    except OSError:
        return 0
    parts = head.split(b" ", 2)
    return int(parts[1]) if len(parts) > 1 and parts[1].isdigit() else 0


class Prober:
    """``GET /healthz`` every `PROBE_EVERY_S`, each probe on its own connection and thread."""

    def __init__(self, base_url: str):
        self.port = int(base_url.rsplit(":", 1)[1])
        self.answers: list[tuple[float, float, int]] = []  # (sent, answered, status)
        self._stop = threading.Event()
        self._threads: list[threading.Thread] = []

    def _probe(self) -> None:
        sent = time.monotonic()
        status = healthz_status(self.port)
        self.answers.append((sent, time.monotonic(), status))

    def _run(self) -> None:
        while not self._stop.is_set():
            thread = threading.Thread(target=self._probe)
            thread.start()
            self._threads.append(thread)
            self._stop.wait(PROBE_EVERY_S)

    def __enter__(self) -> Prober:
        self._main = threading.Thread(target=self._run)
        self._main.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._main.join()
        for thread in self._threads:
            thread.join(HANG_GUARD_S + 5)


@pytest.fixture(scope="module")
def two_workers(mid_store: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    log = tmp_path_factory.mktemp("two-workers") / "uvicorn.log"
    with running_service(mid_store, log, args=("--workers", "2")) as (base, _):
        yield base


def test_four_64_indicator_requests_at_once_leave_healthz_answering(two_workers: str) -> None:
    base = two_workers
    specs = [wide_spec(_base_spec(base), seed) for seed in range(4)]
    answers: list[httpx.Response] = []
    ended: list[float] = []

    def heavy(spec: dict) -> None:
        answers.append(httpx.post(f"{base}{HEAVY}", json=spec, timeout=HANG_GUARD_S))
        ended.append(time.monotonic())

    with Prober(base) as prober:
        time.sleep(0.5)  # probes running before the heavy requests start
        started = time.monotonic()
        threads = [threading.Thread(target=heavy, args=(spec,)) for spec in specs]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(HANG_GUARD_S + 5)
        last_end = max(ended)
        time.sleep(0.3)
    # Every heavy request is answered: its scores, or 503 with Retry-After beyond the bound.
    assert len(answers) == 4
    for r in answers:
        assert r.status_code in (200, 503), r.text[:300]
        if r.status_code == 503:
            assert int(r.headers["retry-after"]) >= 1
            assert r.headers["content-type"] == "application/problem+json"
            assert "heavy" in r.json()["detail"]
        else:
            assert r.json()["numberReturned"] > 1000 and len(r.json()["spec"]["indicator"]) == 64
    assert any(r.status_code == 200 for r in answers)
    # Every probe is answered, and probes kept being answered while the heavy requests ran: a
    # stalled service answers none of them until the work is done.
    statuses = [status for _, _, status in prober.answers]
    assert statuses and set(statuses) == {200}, statuses
    during = [a for a in prober.answers if started < a[1] < last_end]
    window = last_end - started
    slowest = max(answered - sent for sent, answered, _ in prober.answers)
    assert len(during) >= 0.5 * window / PROBE_EVERY_S, (
        f"{len(during)} probes answered in the {window:.1f} s the heavy requests ran; "
        f"slowest probe {slowest:.2f} s"
    )


@pytest.fixture(scope="module")
def one_slot(mid_store: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, Path]]:
    """One worker that runs one heavy request at a time and makes nobody wait for a slot."""
    log = tmp_path_factory.mktemp("one-slot") / "uvicorn.log"
    env = {"SASARAN_HEAVY_REQUESTS": "1", "SASARAN_HEAVY_WAIT_S": "0"}
    with running_service(mid_store, log, env=env) as (base, _):
        yield base, log


def test_beyond_the_bound_a_heavy_request_gets_503_with_retry_after(one_slot: tuple[str, Path]) -> None:
    base, _ = one_slot
    specs = [wide_spec(_base_spec(base), 10 + seed) for seed in range(3)]
    answers: list[httpx.Response] = []
    threads = [
        threading.Thread(target=lambda s=s: answers.append(httpx.post(f"{base}{HEAVY}", json=s, timeout=60)))
        for s in specs
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(HANG_GUARD_S)
    codes = sorted(r.status_code for r in answers)
    assert codes[0] == 200 and codes[-1] == 503, codes
    assert httpx.get(f"{base}/healthz").json()["heavy"]["work"]["refused"] >= codes.count(503)
    busy = next(r for r in answers if r.status_code == 503)
    assert busy.headers["content-type"] == "application/problem+json"
    assert int(busy.headers["retry-after"]) >= 1
    assert "heavy_requests" in busy.json()["detail"]
    # Light requests are not heavy work: they are answered whatever runs.
    assert httpx.get(f"{base}/collections/villages/items?limit=1").status_code == 200


def test_a_client_that_hangs_up_stops_its_work(one_slot: tuple[str, Path]) -> None:
    base, log = one_slot
    port = int(base.rsplit(":", 1)[1])
    indicators = _base_spec(base)
    body = orjson.dumps(wide_spec(indicators, 99))
    request = (
        f"POST {HEAVY} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nContent-Type: application/json\r\n"
        f"Content-Length: {len(body)}\r\n\r\n"
    ).encode() + body
    stopped_before = log.read_text().count("client went away; work stopped")
    deadline = time.monotonic() + HANG_GUARD_S
    with socket.create_connection(("127.0.0.1", port), timeout=10) as sock:
        sock.sendall(request)
        # Hang up only once the work holds the worker's slot (/healthz says so): a client gone
        # before its body is read never starts any work.
        while httpx.get(f"{base}/healthz", timeout=60).json()["heavy"]["work"]["running"] == 0:
            assert time.monotonic() < deadline, "the request never took its slot"
            time.sleep(0.05)
    while log.read_text().count("client went away; work stopped") == stopped_before:
        assert time.monotonic() < deadline, log.read_text()[-3000:]
        time.sleep(0.1)
    # The slot is free again (it is released just after that log line): the next heavy request is
    # served. A leaked slot would refuse every one until the guard.
    while (
        again := httpx.post(f"{base}{HEAVY}", json=wide_spec(indicators, 100), timeout=60)
    ).status_code == 503:
        assert time.monotonic() < deadline, again.text
        time.sleep(0.1)
    assert again.status_code == 200, again.text[:300]
