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
from layers.demo.province import write_demo
from layers.pipeline.province import build
from layers.scoring.af import score_units, summarize
from layers.scoring.spec import default_spec, with_overrides
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
    from layers.scoring.rescore import ScoringFrame

    frame = ScoringFrame.from_store(LayerStore.open(store_dir))
    weights = {"income": 0.4, "education": 0.2, "health": 0.2, "quality_of_life": 0.2}
    spec = with_overrides(default_spec(), dimension_weights=weights)
    matrix = frame.matrix(list(spec.columns))
    people = frame.population()

    def rescore() -> None:
        scores = score_units(matrix, spec)
        for level in ("village", "kecamatan", "kabupaten", "province"):
            summarize(scores, spec, people, frame.group_pos[level], frame.n_groups[level])

    best, median = best_of(20, rescore)
    return [
        f"## Rescoring ({frame.n_cells:,} cells × {len(spec.names)} indicators, 4 levels)",
        "",
        "New dimension weights, `score_units` on every cell, then `summarize` to villages, kecamatan,",
        "kabupaten and the province (the work of one `/scores` request, less gathering and serialisation).",
        "",
        f"Best {best * 1000:.1f} ms, median {median * 1000:.1f} ms of 20 runs. Goal: ≤ 50 ms.",
        "",
    ]


def bench_access(sources_config: Path) -> list[str]:
    """Friction surface and travel time to all five facility kinds (issue 4 goal: ≤ 10 s, ≤ 2 GiB)."""
    from layers.geo import access
    from layers.geo.grid import cell_centres, cells_for_villages
    from layers.geo.units import union_of
    from layers.pipeline import province as pipeline

    config = load_config(sources_config)
    inputs = pipeline.read_inputs(config)
    cells, _ = cells_for_villages(inputs.villages.geometry.values, config.h3_resolution)
    targets = np.column_stack(cell_centres(cells))
    facilities = inputs.facility_points(config.facility_kinds())
    start = time.perf_counter()
    surface = access.friction_surface(
        tuple(inputs.villages.total_bounds.tolist()),
        inputs.roads,
        inputs.rivers,
        config.access,
        road_kind_column="class",
        river_kind_column="class",
        mask=union_of(inputs.villages.geometry.values),
    )
    friction_s = time.perf_counter() - start
    start = time.perf_counter()
    access.travel_times(surface, facilities, targets)
    solve_s = time.perf_counter() - start
    self_gib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024**2
    rows, cols = surface.minutes_per_m.shape
    return [
        f"## Travel time ({rows:,} × {cols:,} pixels at {config.access.resolution_m:.0f} m, "
        f"{len(targets):,} cells, 5 kinds)",
        "",
        "| step | seconds |",
        "|---|---|",
        f"| friction surface | {friction_s:.2f} |",
        f"| travel time, all five kinds (16-neighbour grid Dijkstra, two threads) | {solve_s:.2f} |",
        f"| **total** | **{friction_s + solve_s:.2f}** |",
        "",
        f"Goal: ≤ 10 s and ≤ 2 GiB. Peak resident memory: {self_gib:.2f} GiB (the kinds are "
        "solved in threads of this process).",
        "",
    ]


def bench_targeting(store_dir: Path) -> list[str]:
    """The planner requests of `bench_targets` (issue 14 goal: each optimal within 2 s)."""
    from bench_targets import bench

    lines, _ = bench(store_dir)
    return lines


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
    parser.add_argument("--no-service", action="store_true", help="skip the HTTP benchmark vs pygeoapi")
    parser.add_argument("--seconds", type=float, default=10.0, help="duration of each HTTP load run")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        lines = machine()
        build_lines, store_dir = bench_build(Path(tmp), args.villages)
        lines += build_lines
        lines += bench_access(Path(tmp) / "demo-data" / "sasaran.toml")
        lines += bench_rescoring(store_dir)
        lines += bench_targeting(store_dir)
        if not args.no_service:
            from bench_service import bench_service

            lines += bench_service(store_dir, Path(tmp), duration_s=args.seconds)
        from bench_startup import bench_startup

        lines += bench_startup(store_dir)
    args.out.write_text("\n".join(lines))
    print("\n".join(lines))


if __name__ == "__main__":
    main()
