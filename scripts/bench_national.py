"""National-scale service benchmark (issue 12, "National service" targets) on any built store.

    python scripts/bench_national.py --store STORE [--tile 13] [--skip-targets] [--skip-service]

Prints one markdown table per part:

- **rescoring**: the work of ``/scores`` on every cell and level (score every cell under new weights,
  summarise to villages, kecamatan, kabupaten and the province, plus the overall summary), warm
  (weights or k moved: the common case) and cold (a new cutoff: deprivations recomputed).
  Target ≤ 300 ms for 2.6 M cells.
- **targets**: `select_targets` (the whole ``POST /targets`` answer less JSON). Target: optimal
  (gap ≤ 0.1 %) within 10 s over 84,000 villages.
- **service**: a real ``sasaran serve`` on 127.0.0.1 over the store: seconds until ``/healthz``
  answers, resident memory after start and after the requests, median latency of items, bbox and
  tile requests (serial), and each export of ``hexagons`` (seconds, the server's peak memory).

``--tile N`` repeats the store's cells, villages and areas N times in memory (new positions and
codes) for the rescoring and targeting parts, so a province store stands in for a nation before a
national store exists: 13 copies of a 6,700-village demo give 87,100 villages and 2.68 M cells.
The service part always serves the store as it is on disk.
"""

from __future__ import annotations

import argparse
import os
import random
import statistics
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "scripts"))

from bench_service import HOST, Server, box, fetch, free_port, sample_points, tile_of  # noqa: E402

from layers.scoring.rescore import ScoringFrame, store_spec  # noqa: E402
from layers.scoring.spec import default_spec, with_overrides  # noqa: E402
from layers.store import LayerStore  # noqa: E402

WEIGHTS = {"income": 0.4, "education": 0.2, "health": 0.2, "quality_of_life": 0.2}
LEVELS = ("village", "kecamatan", "kabupaten", "province")
BUDGETS = (10e9, 100e9, 1e12)
EXPORT_FORMATS = ("csv", "gpkg", "fgb", "geojson", "parquet")


def tiled_frame(frame: ScoringFrame, n: int) -> ScoringFrame:
    """``frame`` repeated ``n`` times: each copy's villages and areas get positions and codes of their own."""
    if n == 1:
        return frame
    nv = len(frame.village_codes)
    cells = {c: np.tile(v, n) for c, v in frame.cell_columns.items()}
    village_pos = np.concatenate([frame.village_pos + i * nv for i in range(n)])
    areas = {
        name: (
            np.concatenate([frame.group_pos[name] + i * frame.n_groups[name] for i in range(n)]),
            frame.n_groups[name] * n,
        )
        for name in ("kecamatan", "kabupaten")
    }
    codes = np.concatenate([tiled_codes(frame.village_codes, i) for i in range(n)])
    years = []
    rng = np.random.default_rng(12)
    # Each copy's villages get people ×0.8–1.2 (copy 0 as stored): exact copies would tie, and
    # thousands of ties make the selection far harder than a real nation's distinct villages.
    factors = [np.ones(nv)] + [rng.uniform(0.8, 1.2, nv) for _ in range(n - 1)]
    for year, rows in frame.years.items():
        for i in range(n):
            people = np.rint(rows["population"].to_numpy(np.float64) * factors[i])
            years.append(rows.assign(village_code=codes[i * nv : (i + 1) * nv], year=year, population=people))
    # Each copy's cells keep their share of their village's people, so the shares are the people.
    people = np.tile(frame.share_in_village, n)
    return ScoringFrame.from_arrays(
        cells, village_pos, areas, people, codes, pd.concat(years, ignore_index=True)
    )


def tiled_codes(codes: np.ndarray, i: int) -> np.ndarray:
    """Codes of copy ``i``: a two-digit prefix keeps them unique across copies."""
    return np.char.add(f"{i:02d}", np.asarray(codes).astype(str)).astype(object)


def tiled_villages(villages: pd.DataFrame, n: int) -> pd.DataFrame:
    """The villages table (no geometry) repeated like `tiled_frame`."""
    table = pd.DataFrame(villages.drop(columns="geometry", errors="ignore"))
    if n == 1:
        return table  # as `tiled_frame`: the store itself, codes unchanged
    copies = [
        table.assign(
            village_code=tiled_codes(table["village_code"].to_numpy(), i),
            kabupaten_code=tiled_codes(table["kabupaten_code"].to_numpy(), i),
        )
        for i in range(n)
    ]
    return pd.concat(copies, ignore_index=True)


def bench_rescoring(frame: ScoringFrame, repeat: int = 10) -> list[str]:
    """Warm and cold rescoring of every cell and level."""
    spec = with_overrides(default_spec(), dimension_weights=WEIGHTS)

    def rescore(s: object, k: float | None = None) -> None:
        cells = frame.score_cells(s, None, k)  # type: ignore[arg-type]
        frame.summarize(cells, s, "province")  # type: ignore[arg-type]
        for level in LEVELS:
            frame.summarize(cells, s, level)  # type: ignore[arg-type]
            frame.people(cells, level)

    started = time.perf_counter()
    rescore(spec)
    first = time.perf_counter() - started
    times = []
    for i in range(repeat):
        started = time.perf_counter()
        rescore(spec, 0.3 + 0.01 * i)  # a new k each time: nothing per-request is reused
        times.append(time.perf_counter() - started)
    recut = with_overrides(spec, cutoffs={"edu_dist_sd": 0.5 + random.random()})
    started = time.perf_counter()
    rescore(recut)
    cold = time.perf_counter() - started
    return [
        f"### Rescoring ({frame.n_cells:,} cells, {len(frame.village_codes):,} villages, "
        f"{frame.n_groups['kecamatan']:,} kecamatan, {frame.n_groups['kabupaten']:,} kabupaten)",
        "",
        "| case | ms |",
        "|---|---|",
        f"| warm: new weights and k, best of {repeat} | {min(times) * 1000:.1f} |",
        f"| warm: median of {repeat} | {statistics.median(times) * 1000:.1f} |",
        f"| first request after start | {first * 1000:.1f} |",
        f"| cold: a new cutoff (deprivations and tables recomputed) | {cold * 1000:.1f} |",
        "",
        "Target: ≤ 300 ms for 2.6 M cells and all levels (warm).",
        "",
    ]


def bench_targets(frame: ScoringFrame, villages: pd.DataFrame, store: LayerStore) -> list[str]:
    """`select_targets` at a few budgets with the default cost model and 200 scenarios."""
    from layers.targeting.selection import TargetRequest, select_targets

    lines = [
        f"### Targets ({len(frame.village_codes):,} villages, default costs, 200 scenarios)",
        "",
        "| budget | status | gap | villages | solve s | total s | solver work |",
        "|---|---|---|---|---|---|---|",
    ]
    for budget in BUDGETS:
        started = time.perf_counter()
        result = select_targets(frame, villages, TargetRequest(budget=budget), store_spec(store))
        total = time.perf_counter() - started
        gap = "—" if result.gap is None else f"{result.gap:.1e}"
        lines.append(
            f"| Rp {budget / 1e9:,.0f} bn | {result.status} | {gap} | {result.summary['n_selected']} | "
            f"{result.solve_seconds:.2f} | {total:.2f} | {result.solver} |"
        )
        print(lines[-1], file=sys.stderr)
    return [*lines, "", "Target: optimal (gap ≤ 0.1 %) within 10 s over 84,000 villages.", ""]


def rss_mib(pid: int, field: str = "VmRSS") -> float:
    """Resident (``VmRSS``) or peak resident (``VmHWM``) memory of a process, in MiB."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1]) / 1024
    return float("nan")


def server_pid(server: Server) -> int:
    """The uvicorn process: the child of ``sasaran serve`` with one worker, else itself."""
    children = Path(f"/proc/{server.proc.pid}/task/{server.proc.pid}/children")
    kids = children.read_text().split() if children.exists() else []
    return int(kids[0]) if len(kids) == 1 else server.proc.pid


def median_ms(base: str, paths: list[str]) -> tuple[float, float]:
    """Median and worst latency of GETs of ``paths`` (serial); every answer must be 200."""
    times = []
    for path in paths:
        started = time.perf_counter()
        status, _, body = fetch(base + path)
        times.append((time.perf_counter() - started) * 1000)
        if status != 200:
            raise RuntimeError(f"{path}: {status} {body[:300]!r}")
    return statistics.median(times), max(times)


def bench_service(store_dir: Path, exports: bool) -> list[str]:
    """Start a real server, time its start, its requests and its exports of hexagons."""
    store = LayerStore.open(store_dir)
    work = Path(tempfile.mkdtemp(prefix="bench-national-"))
    port = free_port()
    env = os.environ | {"SASARAN_EXPORT_DIR": str(work / "exports")}
    argv = [sys.executable, "-m", "layers.cli", "serve", "--store", str(store_dir), "--port", str(port)]
    argv += ["--workers", "1"]
    base = f"http://{HOST}:{port}"
    started = time.perf_counter()
    with Server("sasaran", argv, env, ROOT, work / "serve.log") as server:
        server.wait_ready(base + "/healthz", timeout_s=600)
        ready = time.perf_counter() - started
        pid = server_pid(server)
        rss_start = rss_mib(pid)
        points = sample_points(store_dir, 40)
        rows = store.rows("villages")
        cases = {
            "villages items, limit=100": [
                f"/collections/villages/items?limit=100&offset={random.randrange(max(rows - 100, 1))}"
                for _ in range(40)
            ],
            "villages bbox 0.5°, limit=100": [
                f"/collections/villages/items?bbox={box(lon, lat, 0.25)}&limit=100" for lon, lat in points
            ],
            "hexagons bbox 0.2°, limit=1000": [
                f"/collections/hexagons/items?bbox={box(lon, lat, 0.1)}&limit=1000" for lon, lat in points
            ],
        }
        for z in (5, 8, 10):
            tiles = sorted({tile_of(lon, lat, z) for lon, lat in points})
            cases[f"hexagon tiles z{z} (first render)"] = [
                f"/collections/hexagons/tiles/WebMercatorQuad/{z}/{y}/{x}" for x, y in tiles
            ]
        cases["/scores/kabupaten, new weights"] = [
            f"/scores/kabupaten?w_income={w / 100:.2f}&w_education=0.2&w_health=0.2"
            f"&w_quality_of_life={(60 - w) / 100:.2f}"
            for w in range(20, 40, 2)
        ]
        lines = [
            f"### Service ({store.rows('hexagons'):,} cells, {rows:,} villages; one worker)",
            "",
            f"Ready (`/healthz` 200) {ready:.1f} s after start; resident memory then {rss_start:,.0f} MiB.",
            "",
            "| request | median ms | worst ms |",
            "|---|---|---|",
        ]
        for name, paths in cases.items():
            p50, worst = median_ms(base, paths)
            lines.append(f"| {name} | {p50:.1f} | {worst:.1f} |")
            print(lines[-1], file=sys.stderr)
        lines += ["", f"Resident memory after the requests: {rss_mib(pid):,.0f} MiB.", ""]
        if exports:
            lines += ["| export of hexagons | seconds | MB | server peak RSS MiB |", "|---|---|---|---|"]
            for fmt in EXPORT_FORMATS:
                started = time.perf_counter()
                status, body = _download(f"{base}/exports/hexagons.{fmt}")
                seconds = time.perf_counter() - started
                if status != 200:
                    lines.append(f"| {fmt} | {status} | — | {rss_mib(pid, 'VmHWM'):,.0f} |")
                    continue
                lines.append(
                    f"| {fmt} | {seconds:.1f} | {len(body) / 1e6:,.0f} | {rss_mib(pid, 'VmHWM'):,.0f} |"
                )
                print(lines[-1], file=sys.stderr)
        lines += [
            "",
            "Targets: ready ≤ 30 s, RSS ≤ 4 GiB per worker, latencies within 2× the province's.",
            "",
        ]
    return lines


def _download(url: str) -> tuple[int, bytes]:
    """Status and body of a big download: a nation's hexagons take minutes in some formats."""
    import urllib.error
    import urllib.request

    try:
        with urllib.request.urlopen(url, timeout=900) as answer:
            return answer.status, answer.read()
    except urllib.error.HTTPError as err:
        return err.code, err.read()


def main() -> None:
    """Run the parts asked for and print the tables."""
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--store", type=Path, required=True, help="a built store (province or national)")
    parser.add_argument("--tile", type=int, default=1, help="repeat the store N times for rescoring/targets")
    parser.add_argument("--skip-targets", action="store_true")
    parser.add_argument("--skip-service", action="store_true")
    parser.add_argument("--skip-exports", action="store_true")
    args = parser.parse_args()
    random.seed(12)
    store = LayerStore.open(args.store)
    started = time.perf_counter()
    base = ScoringFrame.from_store(store)
    prepared = time.perf_counter() - started
    frame = tiled_frame(base, args.tile)
    lines = [f"## National service benchmark ({args.store}, ×{args.tile})", ""]
    lines += [f"Scoring frame prepared from the store in {prepared:.2f} s.", ""]
    lines += bench_rescoring(frame)
    print("\n".join(lines), file=sys.stderr)
    if not args.skip_targets:
        lines += bench_targets(frame, tiled_villages(store.layer("villages"), args.tile), store)
    if not args.skip_service:
        lines += bench_service(args.store, exports=not args.skip_exports)
    print("\n".join(lines))


if __name__ == "__main__":
    main()
