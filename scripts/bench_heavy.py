"""Heavy requests (issue 23, finding 3): the CPU of one rescoring against the number of indicators,
and ``/healthz`` while four distinct 64-indicator requests run against two workers.

Part 1 scores every cell of a store and summarises it at every level under specs of 52, 53 and 64
indicators (the documented maximum), in this process, with the deprivation profiles found as
`layers.scoring.af` finds them now and, for comparison, the way they were found before issue 23
(``np.unique(g, axis=0)`` beyond 52 indicators). It reports process CPU seconds, best of 3.

Part 2 starts ``uvicorn --workers 2`` on the store and sends four distinct 64-indicator
``POST /scores/hexagon?limit=10000`` at once, while ``/healthz`` is probed every 100 ms (each probe
on its own connection); it reports each request's status and seconds and the probes' latency.

Run: ``python scripts/bench_heavy.py --store STORE`` (the 1,500-village demo store for the figures
in docs/benchmarks.md).
"""

from __future__ import annotations

import argparse
import os
import socket
import statistics
import sys
import tempfile
import threading
import time
from pathlib import Path

import httpx
import numpy as np

from layers.scoring import af
from layers.scoring.rescore import ScoringFrame, store_spec
from layers.scoring.spec import IndicatorSpec, spec_from_dict
from layers.store import LayerStore

sys.path.insert(0, str(Path(__file__).resolve().parent))
from bench_service import Server, free_port  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]


def wide_spec(base: IndicatorSpec, m: int, seed: int) -> IndicatorSpec:
    """``m`` indicators on the store's own columns, cutoffs spread around the store's."""
    rng = np.random.default_rng(seed)
    indicators = []
    for i in range(m):
        like = base.indicators[i % len(base)]
        indicators.append(
            {
                "name": f"i{i}",
                "column": like.column,
                "dimension": like.dimension,
                "weight": f"1/{m}",
                "cutoff": like.cutoff * float(rng.uniform(0.5, 1.5)),
                "deprived_when": like.deprived_when,
            }
        )
    return spec_from_dict({"k": "1/3", "indicator": indicators}, "bench")


def _row_unique_profiles(g: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Profiles as found before issue 23 beyond 52 indicators: the rows themselves sorted."""
    uniq, inverse = np.unique(g, axis=0, return_inverse=True)
    return inverse.reshape(len(g)).astype(np.intp), uniq


def cpu_of_rescoring(store: LayerStore, repeat: int = 5) -> list[str]:
    """Process CPU seconds of one rescoring (every cell, four levels) against indicators."""
    frame = ScoringFrame.from_store(store)
    base = store_spec(store)
    lines = ["| indicators | distinct profiles | CPU s, before (row sort > 52) | CPU s, now |"]
    lines.append("|---|---|---|---|")
    current = af._profiles
    warm = wide_spec(base, 11, seed=1)  # the first rescoring pays for the arrays' first touch
    frame.summarize(frame.score_cells(warm), warm, "village")
    for m in (52, 53, 64):
        finders = {"before": _row_unique_profiles if m > 52 else current, "now": current}
        best = dict.fromkeys(finders, float("inf"))
        profiles = 0
        for attempt in range(repeat):  # interleaved: a busy moment of the machine hits both alike
            spec = wide_spec(base, m, seed=1000 * m + attempt)
            for name, finder in finders.items():
                frame._profiles.clear()  # nothing cached: every run finds its deprivations anew
                af._profiles = finder
                try:
                    started = time.process_time()
                    cells = frame.score_cells(spec)
                    for level in ("village", "kecamatan", "kabupaten", "province"):
                        frame.summarize(cells, spec, level)
                    best[name] = min(best[name], time.process_time() - started)
                    profiles = len(cells.scores.profiles)
                finally:
                    af._profiles = current
        lines.append(f"| {m} | {profiles:,} | {best['before']:.2f} | {best['now']:.2f} |")
    return lines


def healthz_status(port: int, timeout_s: float = 120.0) -> int:
    """``GET /healthz`` on a connection of its own, by hand: the status (0 when there was none).

    A raw socket, not an HTTP client: creating a client per probe costs the prober more CPU than
    the server spends answering, and a new connection may reach either worker.
    """
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=timeout_s) as sock:
            sock.sendall(b"GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n")
            head = b""
            while b"\r\n" not in head:
                chunk = sock.recv(4096)
                if not chunk:
                    break
                head += chunk
    except OSError:
        return 0
    parts = head.split(b" ", 2)
    return int(parts[1]) if len(parts) > 1 and parts[1].isdigit() else 0


def healthz_under_load(store_dir: Path, code: Path = ROOT) -> list[str]:
    """Four distinct 64-indicator requests against two workers (the service in ``code``) while
    /healthz is probed."""
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    env = os.environ | {"SASARAN_STORE_DIR": str(store_dir), "PYTHONPATH": str(code)}
    argv = [sys.executable, "-m", "uvicorn", "--factory", "service.app:create_app", "--workers", "2"]
    argv += ["--host", "127.0.0.1", "--port", str(port), "--log-level", "warning"]
    log = Path(tempfile.mkdtemp(prefix="sasaran-bench-heavy-")) / "uvicorn.log"
    with Server("sasaran", argv, env, code, log) as server:
        server.wait_ready(f"{base}/healthz", 300)
        indicators = httpx.get(f"{base}/scores/kabupaten?limit=1", timeout=60).json()["spec"]["indicator"]
        base_spec = spec_from_dict({"k": "1/3", "indicator": indicators}, "store")
        bodies = []
        for seed in range(4):
            spec = wide_spec(base_spec, 64, seed)
            bodies.append(
                {"k": "1/3", "indicator": [
                    {"name": i.name, "column": i.column, "dimension": i.dimension, "weight": i.weight,
                     "cutoff": i.cutoff, "deprived_when": i.deprived_when} for i in spec.indicators]}
            )  # fmt: skip
        probes: list[float] = []
        failed: list[str] = []
        stop = threading.Event()

        def probe() -> None:
            sent = time.perf_counter()
            status = healthz_status(port)
            if status == 200:
                probes.append(time.perf_counter() - sent)
            else:
                failed.append(str(status))

        def prober() -> None:
            threads = []
            while not stop.is_set():
                threads.append(threading.Thread(target=probe))
                threads[-1].start()
                stop.wait(0.1)
            for thread in threads:
                thread.join()

        results: list[tuple[int, float]] = []

        def heavy(body: dict) -> None:
            sent = time.perf_counter()
            try:
                status = httpx.post(f"{base}/scores/hexagon?limit=10000", json=body, timeout=300).status_code
            except httpx.HTTPError:  # before issue 23, uvicorn killed the stalled workers
                status = 0
            results.append((status, time.perf_counter() - sent))

        probing = threading.Thread(target=prober)
        probing.start()
        time.sleep(1)
        workers = [threading.Thread(target=heavy, args=(b,)) for b in bodies]
        for w in workers:
            w.start()
        for w in workers:
            w.join()
        stop.set()
        probing.join()
    answered = sorted(probes)
    return [
        "| request | status | seconds |",
        "|---|---|---|",
        *[f"| {i + 1} | {status} | {seconds:.2f} |" for i, (status, seconds) in enumerate(results)],
        "",
        f"`/healthz` probes: {len(answered)} answered, {len(failed)} failed; latency median "
        f"{statistics.median(answered) * 1000:.0f} ms, slowest {answered[-1] * 1000:.0f} ms.",
    ]


def main() -> None:
    """Run both parts and print markdown."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--store", type=Path, required=True)
    parser.add_argument("--code", type=Path, default=ROOT, help="Serve from this checkout (e.g. an old one).")
    parser.add_argument("--service-only", action="store_true", help="Part 2 only.")
    args = parser.parse_args()
    store = LayerStore.open(args.store)
    if not args.service_only:
        print(f"### One rescoring against indicators ({store.rows('hexagons'):,} cells, four levels)\n")
        print("\n".join(cpu_of_rescoring(store)))
    print(f"\n### /healthz while four 64-indicator requests run (2 workers, {args.code})\n")
    print("\n".join(healthz_under_load(args.store, args.code)))


if __name__ == "__main__":
    main()
