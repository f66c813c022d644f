"""Start-up benchmark: how long until the service can answer.

Three figures, each the median of ``--runs`` fresh processes, as wall-clock seconds and as the CPU
seconds the process used (on a shared, loaded machine the wall clock waits for other processes;
the CPU time is close to what an idle core would take):

- ``import fastapi, geopandas``: the floor, what any such service imports;
- ``import service.app``: ours (target: at most twice the floor);
- ``sasaran serve --store STORE --workers 1`` until ``GET /healthz`` answers 200 (target: 3 s on
  the demo store, on an idle 2-core machine), polled every 50 ms.

Run alone: ``python scripts/bench_startup.py --store store [--runs 5]``; from ``scripts/bench.py``
call `bench_startup`, which returns markdown lines. The machine's load average is reported beside
the figures: on a shared machine they move with it.
"""

from __future__ import annotations

import argparse
import os
import socket
import statistics
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
POLL_S = 0.05
GIVE_UP_S = 300.0


def import_seconds(statement: str) -> tuple[float, float]:
    """Wall and CPU seconds a fresh interpreter spends on ``statement`` (inside it, start-up excluded)."""
    code = (
        "import time\nt, c = time.perf_counter(), time.process_time()\n"
        f"{statement}\nprint(time.perf_counter() - t, time.process_time() - c)"
    )
    done = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, check=True)
    wall, cpu = done.stdout.strip().splitlines()[-1].split()
    return float(wall), float(cpu)


def _cpu_seconds(pid: int) -> float:
    """User and system CPU seconds a running process has used (Linux /proc)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def healthz_seconds(store: Path) -> tuple[float, float]:
    """Wall and CPU seconds from starting ``sasaran serve --workers 1`` to the first 200 from ``/healthz``."""
    port = _free_port()
    cmd = [sys.executable, "-m", "layers.cli", "serve", "--store", str(store), "--port", str(port)]
    start = time.perf_counter()
    proc = subprocess.Popen(
        [*cmd, "--workers", "1"], cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
    )
    try:
        while time.perf_counter() - start < GIVE_UP_S:
            if proc.poll() is not None:
                raise RuntimeError(f"sasaran serve exited with {proc.returncode}")
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=1) as answer:
                    if answer.status == 200:
                        return time.perf_counter() - start, _cpu_seconds(proc.pid)
            except (urllib.error.URLError, ConnectionError, TimeoutError):
                pass
            time.sleep(POLL_S)
        raise RuntimeError(f"/healthz did not answer within {GIVE_UP_S:.0f} s")
    finally:
        proc.terminate()
        proc.wait(timeout=30)


def bench_startup(store: Path, runs: int = 5) -> list[str]:
    """The start-up figures as markdown lines for docs/benchmarks.md."""
    load = ", ".join(f"{x:.1f}" for x in os.getloadavg())
    floor = _medians([import_seconds("import fastapi, geopandas") for _ in range(runs)])
    ours = _medians([import_seconds("import service.app") for _ in range(runs)])
    healthz = _medians([healthz_seconds(store) for _ in range(runs)])
    return [
        f"## Start-up (median of {runs} fresh processes; load average {load} on {os.cpu_count()} cores)",
        "",
        "| what | wall s | CPU s | target |",
        "|---|---|---|---|",
        f"| `import fastapi, geopandas` | {floor[0]:.2f} | {floor[1]:.2f} | (the floor) |",
        f"| `import service.app` | {ours[0]:.2f} | {ours[1]:.2f} ({ours[1] / floor[1]:.1f}× the floor) "
        "| ≤ 2× the floor |",
        f"| `sasaran serve --workers 1` → `/healthz` 200 ({store.name}) "
        f"| {healthz[0]:.2f} | {healthz[1]:.2f} | ≤ 3 s idle |",
        "",
    ]


def _medians(pairs: list[tuple[float, float]]) -> tuple[float, float]:
    return statistics.median(p[0] for p in pairs), statistics.median(p[1] for p in pairs)


def main() -> None:
    """Print the start-up figures."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--store", type=Path, default=ROOT / "store")
    parser.add_argument("--runs", type=int, default=5)
    args = parser.parse_args()
    print("\n".join(bench_startup(args.store, args.runs)))


if __name__ == "__main__":
    main()
