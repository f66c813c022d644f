"""The province build against a plain reference pass over the same cells (issue 24).

The reference pass is what a careful analyst would write by hand with h3-py and scipy, and what any
build must do at least: read the villages and schools, tessellate every village into H3 cells
(``h3.geo_to_cells``, one call per village), take each cell's centre (``h3.cell_to_latlng``), and
find each cell's nearest school of every level with a ``cKDTree`` on unit vectors (great-circle
km). The build does far more (people from the raster, distances to five kinds and to roads, travel
times on a friction surface, Alkire-Foster scores for every year, five layers written atomically);
its time over the reference pass's says how much that costs, stage by stage.

``python scripts/bench_build.py [--villages 1500] [--repeat 2] [--write-docs]``: generates the demo,
times the reference pass and `sasaran build` (best of ``--repeat`` each, alternating), and prints
(or writes into docs/benchmarks.md, between ``<!-- bench_build -->`` markers) seconds per stage and
the ratio, with the load average around each run.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

import h3
import numpy as np
import pyogrio
from scipy.spatial import cKDTree

sys.path.insert(0, str(Path(__file__).resolve().parent))

from bench_peers import DOCS, _machine, write_docs  # noqa: E402  (scripts/ is not a package)

from layers.config import load_config  # noqa: E402
from layers.demo.province import write_demo  # noqa: E402
from layers.pipeline.province import build  # noqa: E402

EARTH_KM = 6371.0088


def _unit(lon: np.ndarray, lat: np.ndarray) -> np.ndarray:
    lon, lat = np.radians(lon), np.radians(lat)
    return np.column_stack((np.cos(lat) * np.cos(lon), np.cos(lat) * np.sin(lon), np.sin(lat)))


def reference_pass(sources: Path, resolution: int) -> tuple[float, int]:
    """Seconds of the plain pass (cells of every village, nearest school of each level) and cells."""
    start = time.perf_counter()
    villages = pyogrio.read_dataframe(sources / "villages.gpkg")
    schools = pyogrio.read_dataframe(sources / "schools.gpkg")
    cells: set[str] = set()
    for geometry in villages.geometry:
        cells.update(h3.geo_to_cells(geometry, resolution))
    ordered = sorted(cells)
    centres = np.array([h3.cell_to_latlng(c) for c in ordered])
    points = _unit(centres[:, 1], centres[:, 0])
    level = schools["bentuk"].astype(str).to_numpy()
    xy = np.column_stack((schools.geometry.x, schools.geometry.y))
    for value in np.unique(level):
        tree = cKDTree(_unit(xy[level == value, 0], xy[level == value, 1]))
        chord, _ = tree.query(points, workers=-1)
        _ = 2 * EARTH_KM * np.arcsin(np.minimum(chord / 2, 1.0))
    return time.perf_counter() - start, len(ordered)


def main() -> None:
    """Generate the demo, alternate reference passes and builds, report."""
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--villages", type=int, default=1500)
    parser.add_argument("--repeat", type=int, default=2)
    parser.add_argument("--write-docs", action="store_true")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="sasaran-bench-build-") as tmp:
        config_path = write_demo(Path(tmp) / "demo", villages=args.villages)
        config = load_config(config_path)
        references, builds, loads = [], [], []
        n_cells = 0
        for i in range(args.repeat):
            loads.append(os.getloadavg()[0])
            seconds, n_cells = reference_pass(config_path.parent, config.h3_resolution)
            references.append(seconds)
            result = build(config, Path(tmp) / f"store-{i}", progress=False)
            builds.append(result.seconds)
            loads.append(os.getloadavg()[0])
    best = min(range(len(builds)), key=lambda i: sum(builds[i].values()))
    stages = builds[best]
    total = sum(stages.values())
    reference = min(references)
    lines = [
        "## The build against a plain reference pass (issue 24)",
        "",
        f"`python scripts/bench_build.py --write-docs`, {time.strftime('%Y-%m-%d %H:%M')} "
        f"({_machine()}): the "
        f"{args.villages:,}-village demo ({n_cells:,} cells at resolution {config.h3_resolution}), best of "
        f"{args.repeat} alternating runs each; 1-minute load average {min(loads):.1f}–{max(loads):.1f}. The "
        "reference pass reads the villages and schools, tessellates each village with `h3.geo_to_cells`, "
        "takes each cell's centre and finds its nearest school of every level with a `cKDTree` "
        f"(scripts/bench_build.py): **{reference:.2f} s** "
        f"(runs: {', '.join(f'{s:.2f}' for s in references)}).",
        "",
        "| build stage | seconds | × reference |",
        "|---|---:|---:|",
        *[f"| {stage} | {seconds:.2f} | {seconds / reference:.2f} |" for stage, seconds in stages.items()],
        f"| **total** | **{total:.2f}** | **{total / reference:.1f}×** |",
        "",
        "Build totals of the runs: "
        + ", ".join(f"{sum(b.values()):.2f} s" for b in builds)
        + f" (median {statistics.median(sum(b.values()) for b in builds):.2f} s).",
        "",
    ]
    if args.write_docs:
        write_docs("bench_build", lines, DOCS)
    print("\n".join(lines))


if __name__ == "__main__":
    main()
