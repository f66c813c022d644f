"""Load while a rebuild is swapped in: N connections mixing items, bbox, scores and tiles for at least
S seconds against a real ``sasaran serve`` on loopback, while a rebuild into its store runs from the
start; the load goes on until the rebuilt store has been served for a while (at most 4 S).

Reports requests, errors (any status but 200, any transport error), latency percentiles and the
service's resident memory (all its processes) sampled every second. Used by the slow test
``tests/test_load_reload.py`` and to write the figures in docs/benchmarks.md:

    python scripts/load_reload.py --store /tmp/store --config /tmp/demo/sasaran.toml --seconds 60
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import signal
import socket
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

import httpx

PATHS = (
    "/collections/villages/items?limit=100",
    "/collections/hexagons/items?limit=200&bbox=113.0,-2.5,113.5,-2.0",
    "/collections/hexagons/items?limit=100",
    "/scores/kabupaten?w_income=0.4&w_education=0.2&w_health=0.2&w_quality_of_life=0.2",
    "/scores/village?k=0.5&limit=200",
    "/collections/hexagons/tiles/WebMercatorQuad/8/129/205",
    "/collections/villages/tiles/WebMercatorQuad/9/259/410",
    "/healthz",
)


@dataclass
class Tally:
    """What the load saw."""

    ok: int = 0
    errors: dict[str, int] = field(default_factory=dict)
    latencies: list[float] = field(default_factory=list)
    builds: set[str] = field(default_factory=set)

    def error(self, what: str) -> None:
        """Count one failed request by its cause."""
        self.errors[what] = self.errors.get(what, 0) + 1


def free_port() -> int:
    """A free loopback port."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def rss_mib(pid: int) -> float:
    """Resident memory of a process and all its descendants, in MiB (from /proc)."""
    total = 0.0
    stack = [pid]
    while stack:
        current = stack.pop()
        try:
            status = Path(f"/proc/{current}/status").read_text()
            total += int(next(line.split()[1] for line in status.splitlines() if line.startswith("VmRSS")))
            children = Path(f"/proc/{current}/task/{current}/children").read_text().split()
        except (OSError, StopIteration):
            continue
        stack += [int(c) for c in children]
    return total / 1024


async def _worker(client: httpx.AsyncClient, stop: asyncio.Event, tally: Tally, offset: int) -> None:
    i = offset
    while not stop.is_set():
        path = PATHS[i % len(PATHS)]
        i += 1
        started = time.monotonic()
        try:
            r = await client.get(path)
        except httpx.HTTPError as exc:
            tally.error(type(exc).__name__)
            continue
        tally.latencies.append(time.monotonic() - started)
        if r.status_code != 200:
            tally.error(f"HTTP {r.status_code} {path}")
        else:
            tally.ok += 1
            if path == "/healthz":
                tally.builds.add(r.json()["build_id"])


async def _load(base: str, connections: int, stop: asyncio.Event, tally: Tally) -> None:
    limits = httpx.Limits(max_connections=connections, max_keepalive_connections=connections)
    async with httpx.AsyncClient(base_url=base, timeout=30, limits=limits) as client:
        await asyncio.gather(*(_worker(client, stop, tally, i) for i in range(connections)))


def _wait_until_up(base: str, server: subprocess.Popen, seconds: float = 120) -> None:
    deadline = time.monotonic() + seconds
    while True:
        try:
            if httpx.get(f"{base}/healthz", timeout=1).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        if time.monotonic() > deadline or server.poll() is not None:
            raise RuntimeError("the service did not start")
        time.sleep(0.2)


def run(store: Path, config: Path, seconds: float, connections: int, workers: int) -> dict:
    """Serve ``store``, load it while rebuilding it from ``config``; return the figures."""
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    env = os.environ | {"SASARAN_RELOAD_INTERVAL_S": "1"}
    command = [sys.executable, "-m", "layers.cli", "serve", "--store", str(store), "--port", str(port)]
    server = subprocess.Popen(
        [*command, "--workers", str(workers)], env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
    )
    try:
        _wait_until_up(base, server)
        for path in PATHS:  # warm every worker's caches a little before measuring
            httpx.get(f"{base}{path}", timeout=60)
        tally = Tally()
        memory: list[float] = []
        rebuild: dict = {}

        async def rebuild_store() -> None:
            started = time.monotonic()
            done = await asyncio.to_thread(
                subprocess.run,
                [sys.executable, "-m", "layers.cli", "build", str(config), "--store", str(store),
                 "--quiet", "--accept-changes"],
                capture_output=True, text=True, check=False,
            )  # fmt: skip
            rebuild.update(exit=done.returncode, seconds=round(time.monotonic() - started, 1))

        async def main() -> None:
            stop = asyncio.Event()
            load = asyncio.create_task(_load(base, connections, stop, tally))
            build = asyncio.create_task(rebuild_store())
            started = time.monotonic()
            swapped_at = None
            while True:
                memory.append(rss_mib(server.pid))
                elapsed = time.monotonic() - started
                if swapped_at is None and len(tally.builds) >= 2:
                    swapped_at = elapsed
                    rebuild["rss_mib_at_swap"] = round(memory[-2] if len(memory) > 1 else memory[-1], 1)
                # long enough after the swap for the old build to be released (service.reload)
                served_new = swapped_at is not None and elapsed - swapped_at >= min(25.0, seconds / 2)
                if (elapsed >= seconds and (served_new or build.done() and rebuild.get("exit"))) or (
                    elapsed >= 4 * seconds
                ):
                    break
                await asyncio.sleep(1)
            stop.set()
            await load
            await build
            rebuild["swapped_after_s"] = None if swapped_at is None else round(swapped_at, 1)
            rebuild["load_s"] = round(time.monotonic() - started, 1)

        asyncio.run(main())
    finally:
        server.send_signal(signal.SIGTERM)
        try:
            server.wait(timeout=30)
        except subprocess.TimeoutExpired:
            server.kill()
    latencies = sorted(tally.latencies)

    def pct(p: float) -> float:
        return (
            round(1000 * latencies[min(len(latencies) - 1, int(p * len(latencies)))], 1) if latencies else 0.0
        )

    steady = memory[len(memory) // 4 :] or memory
    return {
        "seconds": seconds,
        "connections": connections,
        "workers": workers,
        "requests": tally.ok + sum(tally.errors.values()),
        "errors": tally.errors,
        "builds_seen": len(tally.builds),
        "rebuild": rebuild,
        "latency_ms": {"p50": pct(0.5), "p95": pct(0.95), "p99": pct(0.99)},
        "rss_mib": {"first": round(steady[0], 1), "last": round(steady[-1], 1), "max": round(max(steady), 1)},
    }


def main() -> None:
    """Command line."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--store", type=Path, required=True)
    parser.add_argument("--config", type=Path, required=True, help="build config to rebuild the store from")
    parser.add_argument("--seconds", type=float, default=60)
    parser.add_argument("--connections", type=int, default=64)
    parser.add_argument("--workers", type=int, default=2)
    args = parser.parse_args()
    print(json.dumps(run(args.store, args.config, args.seconds, args.connections, args.workers), indent=1))


if __name__ == "__main__":
    main()
