"""Benchmarks: build the demo province stage by stage, rescore it, and write docs/benchmarks.md.

Run with ``make bench`` (or ``python scripts/bench.py --villages 1500``). Figures are wall-clock
seconds on this machine; the report records the machine and package versions beside them.
"""

from __future__ import annotations

import argparse
import os
import platform
import resource
import statistics
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np

from layers.config import load_config
from layers.demo import write_demo
from layers.indicator_spec import default_spec, with_overrides
from layers.indicators import indicator_matrix
from layers.pipeline import build
from layers.scoring import score_units, summarize
from layers.store import LayerStore, package_versions

ROOT = Path(__file__).resolve().parents[1]


def best_of(repeat: int, func: Callable[[], object]) -> tuple[float, float]:
    """Best and median wall time of ``repeat`` runs, in seconds."""
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        func()
        times.append(time.perf_counter() - start)
    return min(times), statistics.median(times)


def bench_build(work: Path, villages: int) -> tuple[list[str], Path]:
    """Generate and build the demo; report seconds per stage and peak memory."""
    start = time.perf_counter()
    config = write_demo(work / "demo-data", villages=villages)
    demo_seconds = time.perf_counter() - start
    result = build(load_config(config), work / "store", progress=False)
    total = sum(result.seconds.values())
    peak_gib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024**2
    lines = [
        f"## Build of the demo province ({villages:,} villages, {result.counts['hexagons']:,} H3 cells)",
        "",
        f"`sasaran demo` wrote the source files in {demo_seconds:.2f} s. Build stages:",
        "",
        "| stage | seconds |",
        "|---|---|",
        *[f"| {stage} | {seconds:.2f} |" for stage, seconds in result.seconds.items()],
        f"| **total** | **{total:.2f}** |",
        "",
        "Goal: under 15 s on a 2-core machine.",
        f"Peak resident memory of the process so far: {peak_gib:.2f} GiB.",
        "",
    ]
    return lines, result.store


def bench_rescoring(store_dir: Path) -> list[str]:
    """Rescore every cell with new weights and aggregate to every level (issue 3 goal: ≤ 50 ms)."""
    store = LayerStore.open(store_dir)
    hexes = store.layer("hexagons")
    villages = store.layer("villages")
    years = store.layer("village_years")
    latest = years[years["year"] == store.manifest["default_year"]].set_index("village_code")
    latest = latest.loc[villages["village_code"].to_numpy()].reset_index()
    village_pos = np.searchsorted(
        np.sort(villages["village_code"].to_numpy()), hexes["village_code"].to_numpy()
    )
    order = np.argsort(villages["village_code"].to_numpy())
    village_pos = order[village_pos]
    kec_codes, kec_pos = np.unique(hexes["kecamatan_code"].to_numpy(), return_inverse=True)
    kab_codes, kab_pos = np.unique(hexes["kabupaten_code"].to_numpy(), return_inverse=True)
    cell_columns = {c: hexes[c].to_numpy() for c in hexes.columns if c.startswith(("time_min_", "dist_km_"))}
    spec = with_overrides(
        default_spec(),
        dimension_weights={"income": 0.4, "education": 0.2, "health": 0.2, "quality_of_life": 0.2},
    )
    matrix = indicator_matrix(spec.columns, cell_columns, latest, village_pos)
    weights = hexes["population"].to_numpy()
    levels = [
        (village_pos, len(villages)),
        (kec_pos, len(kec_codes)),
        (kab_pos, len(kab_codes)),
        (np.zeros(len(hexes), np.int64), 1),
    ]

    def rescore() -> None:
        scores = score_units(matrix, spec)
        for groups, n in levels:
            summarize(scores, spec, weights, groups, n)

    best, median = best_of(20, rescore)
    return [
        f"## Rescoring ({len(hexes):,} cells × {len(spec.names)} indicators, 4 levels)",
        "",
        "New dimension weights, `score_units` on every cell, then `summarize` to villages, kecamatan,",
        "kabupaten and the province (the work of one `/scores` request, less serialisation).",
        "",
        f"Best {best * 1000:.1f} ms, median {median * 1000:.1f} ms of 20 runs. Goal: ≤ 50 ms.",
        "",
    ]


def machine() -> list[str]:
    """Where and with what the figures were measured."""
    versions = ", ".join(f"{k} {v}" for k, v in package_versions().items())
    return [
        "# Benchmarks",
        "",
        "Written by `scripts/bench.py` (`make bench`). Re-run it after a change that touches a hot path.",
        "",
        f"- Machine: {platform.machine()}, {os.cpu_count()} cores, Python {platform.python_version()}, "
        f"{platform.system()} {platform.release()}",
        f"- Packages: {versions}",
        f"- Date: {time.strftime('%Y-%m-%d')}",
        "",
    ]


def main() -> None:
    """Run the benchmarks and write the report."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--villages", type=int, default=1500)
    parser.add_argument("--out", type=Path, default=ROOT / "docs" / "benchmarks.md")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        lines = machine()
        build_lines, store_dir = bench_build(Path(tmp), args.villages)
        lines += build_lines
        lines += bench_rescoring(store_dir)
    args.out.write_text("\n".join(lines))
    print("\n".join(lines))


if __name__ == "__main__":
    main()
