"""National build benchmark (issue 12): the synthetic country, built partitioned, at several sizes.

    python scripts/bench_country.py [--sizes 1520,5000,20000,84000] [--workers 2] [--work DIR]
                                    [--scheduler-check]

For each size: ``write_country`` (seconds), then ``sasaran build`` in its own process with a local
Dask cluster of ``--workers`` processes, while the build's process tree is sampled every 0.5 s
for resident memory (the largest single process, i.e. a worker or the client, and the tree's
total). Prints one markdown table (a row per size) plus the border-buffer certificate counts of
the largest build.

``--scheduler-check`` rebuilds the largest size against a separately started ``dask scheduler``
and two ``dask worker`` processes on loopback, kills one worker 20 s into the build, and compares
every layer's values with the local build's.
"""

from __future__ import annotations

import argparse
import json
import os
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

import pandas as pd
import psutil

from layers.demo.country import write_country
from layers.store import LayerStore

BIN = Path(sys.executable).parent


def _tree_rss(root: psutil.Process) -> tuple[int, int]:
    """(largest process RSS, total RSS) of a process and its descendants, in bytes."""
    sizes = []
    for process in [root, *root.children(recursive=True)]:
        try:
            sizes.append(process.memory_info().rss)
        except psutil.Error:
            continue
    return (max(sizes), sum(sizes)) if sizes else (0, 0)


def timed_build(config: Path, store: Path, *args: str) -> dict[str, float]:
    """Run ``sasaran build`` in a subprocess; wall seconds and peak memory (GiB)."""
    start = time.perf_counter()
    process = subprocess.Popen(
        [str(BIN / "sasaran"), "build", str(config), "--store", str(store), "-q", "--accept-changes", *args],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    root = psutil.Process(process.pid)
    largest = total = 0
    while process.poll() is None:
        one, all_ = _tree_rss(root)
        largest, total = max(largest, one), max(total, all_)
        time.sleep(0.5)
    out, err = process.communicate()
    if process.returncode:
        raise SystemExit(f"build failed ({process.returncode}):\n{err[-3000:]}")
    return {
        "seconds": time.perf_counter() - start,
        "largest_gib": largest / 2**30,
        "total_gib": total / 2**30,
    }


def bench_size(work: Path, villages: int, workers: int) -> dict[str, object]:
    """Generate and build one size."""
    out = work / f"country-{villages}"
    start = time.perf_counter()
    config = write_country(out / "src", villages=villages)
    generated = time.perf_counter() - start
    built = timed_build(config, out / "store", "--workers", str(workers))
    manifest = json.loads((out / "store" / "manifest.json").read_text())
    uncertain: dict[str, int] = {}
    for entry in manifest["partitions"]:
        for kind, n in entry["border_uncertain_cells"].items():
            uncertain[kind] = uncertain.get(kind, 0) + n
    return {
        "villages": manifest["layers"]["villages"],
        "cells": manifest["layers"]["hexagons"],
        "partitions": len(manifest["partitions"]),
        "generate_s": generated,
        **built,
        "uncertain": uncertain,
        "store": out / "store",
        "config": config,
    }


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def scheduler_check(config: Path, local: Path, work: Path) -> list[str]:
    """The largest build again on a scheduler + 2 workers (one killed mid-build); same values?"""
    port = _free_port()
    address = f"tcp://127.0.0.1:{port}"
    dask = str(BIN / "dask")
    quiet = {"stdout": subprocess.DEVNULL, "stderr": subprocess.DEVNULL}
    scheduler = subprocess.Popen([dask, "scheduler", "--host", "127.0.0.1", "--port", str(port)], **quiet)  # type: ignore[call-overload]
    workers = [
        subprocess.Popen([dask, "worker", address, "--nthreads", "1", "--no-dashboard"], **quiet)  # type: ignore[call-overload]
        for _ in range(2)
    ]
    try:
        time.sleep(5)
        killer = threading.Timer(20.0, workers[0].kill)
        killer.start()
        built = timed_build(config, work / "remote-store", "--scheduler", address)
        killer.cancel()
    finally:
        for process in [*workers, scheduler]:
            process.kill()
    a, b = LayerStore.open(local), LayerStore.open(work / "remote-store")
    figures = "identical" if a.manifest["province"] == b.manifest["province"] else "DIFFERENT"
    same = []
    for name in ("hexagons", "villages", "kecamatan", "kabupaten", "village_years"):
        try:
            pd.testing.assert_frame_equal(a.layer(name), b.layer(name), check_exact=True)
            same.append(f"{name}: identical")
        except AssertionError as exc:
            same.append(f"{name}: DIFFERENT ({str(exc).splitlines()[0]})")
    return [
        f"Scheduler + 2 workers on loopback, one worker killed 20 s in: {built['seconds']:.0f} s; "
        + "; ".join(same)
        + f"; national figures {figures}."
    ]


def main() -> None:
    """Run the sizes and print the tables."""
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--sizes", default="1520,5000,20000,84000")
    parser.add_argument("--workers", type=int, default=os.cpu_count() or 1)
    parser.add_argument("--work", type=Path, default=Path("/tmp/sasaran-bench-country"))
    parser.add_argument("--scheduler-check", action="store_true")
    args = parser.parse_args()
    rows = [bench_size(args.work, int(size), args.workers) for size in args.sizes.split(",")]
    print(f"Machine: {os.cpu_count()} CPUs, {psutil.virtual_memory().total / 2**30:.0f} GiB; "
          f"local cluster of {args.workers} workers.\n")  # fmt: skip
    print(
        "| villages | H3 cells | partitions | generate s | build s | peak per process GiB | peak total GiB |"
    )
    print("|---|---|---|---|---|---|---|")
    for row in rows:
        print(
            f"| {row['villages']:,} | {row['cells']:,} | {row['partitions']} | {row['generate_s']:.0f} | "
            f"{row['seconds']:.0f} | {row['largest_gib']:.2f} | {row['total_gib']:.2f} |"
        )
    largest = rows[-1]
    print(f"\nBorder-buffer certificate, {largest['villages']:,} villages: cells whose time could be "
          f"shorter through a facility beyond the buffer, by kind: {largest['uncertain']}")  # fmt: skip
    if args.scheduler_check:
        print("\n" + "\n".join(scheduler_check(largest["config"], largest["store"], args.work)))  # type: ignore[arg-type]


if __name__ == "__main__":
    main()
