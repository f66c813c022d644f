"""Service benchmark: Sasaran's HTTP API under load, and pygeoapi serving the same villages layer.

Both servers run on 127.0.0.1 on this machine with the same number of worker processes; the load
generator is ``wrk`` (Debian), one thread, in a process of its own. For each endpoint it runs a
warm-up and then ``duration_s`` seconds at 1, 16 and 64 concurrent connections, and records
requests/s, p50 and p99 latency and errors (non-2xx answers, socket errors, time-outs).

Sasaran: ``uvicorn --factory service.app:create_app --workers N``. pygeoapi: the pinned release in a
venv of its own (``scripts/pygeoapi/setup.sh``), SQLiteGPKG provider on a GeoPackage exported from
the same store, served as its Docker image does: ``gunicorn --worker-class gevent --workers N
pygeoapi.flask_app:APP``. No request asks for compression (wrk sends no ``Accept-Encoding``).

Run alone: ``python scripts/bench_service.py --store STORE [--duration 10] [--out FILE]``; from
``scripts/bench.py`` call `bench_service`, which returns markdown lines.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import random
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import shapely

from layers.store import LayerStore

ROOT = Path(__file__).resolve().parents[1]
PYGEOAPI_DIR = ROOT / "scripts" / "pygeoapi"
#: Where the pygeoapi venv lives (outside the repo); kept between runs, since it takes a while.
PYGEOAPI_VENV = Path(os.environ.get("SASARAN_BENCH_PYGEOAPI_VENV", "/tmp/sasaran-bench/pygeoapi-venv"))
CONCURRENCY = (1, 16, 64)
WORKERS = 2
WARMUP_S = 3.0
SCORE_QUERY = "w_income=0.4&w_education=0.2&w_health=0.2&w_quality_of_life=0.2"
HOST = "127.0.0.1"


@dataclass(frozen=True)
class Endpoint:
    """One benchmarked request kind: a name for the table and the paths cycled through."""

    name: str
    paths: list[str]


@dataclass(frozen=True)
class Result:
    """What wrk measured for one endpoint at one concurrency."""

    requests: int
    seconds: float
    p50_ms: float
    p99_ms: float
    errors: int
    mbytes_s: float
    error_kinds: str = ""

    @property
    def rps(self) -> float:
        """Requests per second."""
        return self.requests / self.seconds if self.seconds else 0.0


class Server:
    """A server process group started by the benchmark, stopped on exit."""

    def __init__(self, name: str, argv: Sequence[str], env: dict[str, str], cwd: Path, log: Path):
        self.name = name
        self.log = log
        self.handle = log.open("wb")
        self.proc = subprocess.Popen(
            list(argv), env=env, cwd=cwd, stdout=self.handle, stderr=subprocess.STDOUT, start_new_session=True
        )

    def wait_ready(self, url: str, timeout_s: float = 120.0) -> None:
        """Poll ``url`` until it answers 200; fail with the server's log if it dies or times out
        (the server is stopped then: no caller holds it yet)."""
        try:
            self._wait_ready(url, timeout_s)
        except BaseException:
            self.stop()
            raise

    def _wait_ready(self, url: str, timeout_s: float) -> None:
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"{self.name} exited:\n{self.log.read_text()[-3000:]}")
            try:
                with urllib.request.urlopen(url, timeout=5) as answer:
                    if answer.status == 200:
                        return
            except (urllib.error.URLError, ConnectionError, TimeoutError):
                pass
            time.sleep(0.3)
        raise RuntimeError(f"{self.name} not ready after {timeout_s:.0f} s:\n{self.log.read_text()[-3000:]}")

    def stop(self) -> None:
        """SIGTERM the process group this object started; SIGKILL it if it lingers."""
        if self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGTERM)
            try:
                self.proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                os.killpg(self.proc.pid, signal.SIGKILL)
                self.proc.wait(timeout=5)
        self.handle.close()

    def __enter__(self) -> Server:
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()


def free_port() -> int:
    """A TCP port on 127.0.0.1 that is free now."""
    with socket.socket() as sock:
        sock.bind((HOST, 0))
        return int(sock.getsockname()[1])


def fetch(url: str) -> tuple[int, str, bytes]:
    """Status, content type and body of one GET (no compression asked for)."""
    try:
        with urllib.request.urlopen(url, timeout=60) as answer:
            return answer.status, answer.headers.get("Content-Type", ""), answer.read()
    except urllib.error.HTTPError as err:
        return err.code, err.headers.get("Content-Type", ""), err.read()


# ------------------------------------------------------------------------------------------------
# Requests
# ------------------------------------------------------------------------------------------------


def tile_of(lon: float, lat: float, z: int) -> tuple[int, int]:
    """WebMercatorQuad column and row of the tile holding ``lon, lat`` at zoom ``z``."""
    n = 1 << z
    col = int((lon + 180.0) / 360.0 * n)
    row = int((1 - math.asinh(math.tan(math.radians(lat))) / math.pi) / 2 * n)
    return min(col, n - 1), min(row, n - 1)


def sample_points(store_dir: Path, count: int, seed: int = 5) -> list[tuple[float, float]]:
    """``count`` points inside randomly chosen villages (lon, lat), the same on every run."""
    villages = LayerStore.open(store_dir).layer("villages")
    points = shapely.point_on_surface(villages.geometry.to_numpy())
    xy = shapely.get_coordinates(points)
    rng = random.Random(seed)
    picks = rng.sample(range(len(xy)), min(count, len(xy)))
    return [(round(float(xy[i, 0]), 3), round(float(xy[i, 1]), 3)) for i in picks]


def box(lon: float, lat: float, half: float) -> str:
    """A ``bbox`` parameter value centred on ``lon, lat``."""
    return f"{lon - half:.3f},{lat - half:.3f},{lon + half:.3f},{lat + half:.3f}"


def endpoints(store_dir: Path) -> tuple[list[Endpoint], list[Endpoint]]:
    """The Sasaran endpoints, and the pygeoapi ones (villages only), with their varied paths."""
    n_villages = len(LayerStore.open(store_dir).layer("villages"))
    points = sample_points(store_dir, 64)
    offsets = list(range(0, max(n_villages - 100, 1), 100))
    items = "/collections/villages/items?limit=100&offset={}"
    village_boxes = [box(lon, lat, 0.25) for lon, lat in points]
    tiles = sorted({(z, *tile_of(lon, lat, z)) for lon, lat in points for z in (8, 9, 10)})
    sasaran = [
        Endpoint("villages items, limit=100", [items.format(o) for o in offsets]),
        Endpoint(
            "villages bbox 0.5°×0.5°, limit=100",
            [f"/collections/villages/items?bbox={b}&limit=100" for b in village_boxes],
        ),
        Endpoint(
            "hexagons bbox 0.2°×0.2°, limit=1000",
            [f"/collections/hexagons/items?bbox={box(lon, lat, 0.1)}&limit=1000" for lon, lat in points],
        ),
        Endpoint("scores kabupaten, new weights", [f"/scores/kabupaten?{SCORE_QUERY}"]),
        Endpoint(
            "hexagon tile z8–10",
            [f"/collections/hexagons/tiles/WebMercatorQuad/{z}/{y}/{x}" for z, x, y in tiles],
        ),
    ]
    pygeoapi = [
        Endpoint(sasaran[0].name, [items.format(o) + "&f=json" for o in offsets]),
        Endpoint(
            sasaran[1].name, [f"/collections/villages/items?bbox={b}&limit=100&f=json" for b in village_boxes]
        ),
    ]
    return sasaran, pygeoapi


def check_paths(base: str, endpoint: Endpoint, media: str) -> Endpoint:
    """GET every path once: all must be 200 with ``media``; drop empty tiles. Returns what is kept."""
    kept = []
    for path in endpoint.paths:
        status, content_type, body = fetch(base + path)
        if status != 200 or not content_type.startswith(media):
            raise RuntimeError(f"{base}{path}: {status} {content_type} {body[:300]!r}")
        if body:
            kept.append(path)
    if not kept:
        raise RuntimeError(f"{endpoint.name}: every answer was empty")
    return Endpoint(endpoint.name, kept)


def first_render(base: str, endpoint: Endpoint, media: str) -> tuple[Endpoint, list[float]]:
    """Request each path once, serially, before anything is cached: the non-empty paths, and the
    latency of each (ms). Every answer must be 200 with ``media``."""
    kept, times = [], []
    for path in endpoint.paths:
        start = time.perf_counter()
        status, content_type, body = fetch(base + path)
        elapsed = (time.perf_counter() - start) * 1000
        if status != 200 or not content_type.startswith(media):
            raise RuntimeError(f"{base}{path}: {status} {content_type} {body[:300]!r}")
        if body:
            kept.append(path)
            times.append(elapsed)
    if not kept:
        raise RuntimeError(f"{endpoint.name}: every answer was empty")
    return Endpoint(endpoint.name, kept), times


# ------------------------------------------------------------------------------------------------
# Load generator
# ------------------------------------------------------------------------------------------------

WRK_SCRIPT = """\
local paths = {%s}
local i = 0
request = function()
  i = i %% #paths + 1
  return wrk.format("GET", paths[i])
end
done = function(summary, latency, requests)
  local e = summary.errors
  io.write(string.format(
    'WRKJSON {"requests":%%d,"duration_us":%%d,"bytes":%%d,"status":%%d,"connect":%%d,' ..
    '"read":%%d,"write":%%d,"timeout":%%d,"p50":%%d,"p99":%%d}\\n',
    summary.requests, summary.duration, summary.bytes, e.status, e.connect, e.read, e.write,
    e.timeout, latency:percentile(50), latency:percentile(99)))
end
"""


def wrk_script(work: Path, endpoint: Endpoint, tag: str) -> Path:
    """A Lua script for wrk that cycles through the endpoint's paths."""
    path = work / f"wrk-{tag}.lua"
    path.write_text(WRK_SCRIPT % ", ".join(json.dumps(p) for p in endpoint.paths))
    return path


def run_wrk(base: str, script: Path, connections: int, seconds: float) -> Result:
    """One bounded wrk run: 1 thread, ``connections`` keep-alive connections, ``seconds`` long."""
    if not base.startswith(f"http://{HOST}:"):
        raise ValueError(f"only {HOST} is a target: {base}")
    argv = ["wrk", "-t1", f"-c{connections}", f"-d{max(seconds, 1):.0f}s", "--timeout", "10s"]
    argv += ["-s", str(script), base + "/"]
    out = subprocess.run(argv, capture_output=True, text=True, timeout=seconds + 60, check=True).stdout
    line = next((x for x in out.splitlines() if x.startswith("WRKJSON ")), None)
    if line is None:
        raise RuntimeError(f"wrk printed no summary:\n{out}")
    s = json.loads(line.removeprefix("WRKJSON "))
    seconds_run = s["duration_us"] / 1e6
    kinds = {"non-2xx": s["status"], "connect": s["connect"], "read": s["read"], "write": s["write"]}
    kinds["timeout"] = s["timeout"]
    errors = sum(kinds.values())
    error_kinds = ", ".join(f"{n} {k}" for k, n in kinds.items() if n)
    return Result(
        s["requests"],
        seconds_run,
        s["p50"] / 1000,
        s["p99"] / 1000,
        errors,
        s["bytes"] / 1e6 / seconds_run,
        error_kinds,
    )


def load_test(base: str, work: Path, endpoint: Endpoint, tag: str, duration_s: float) -> dict[int, Result]:
    """Warm up, then measure at each concurrency."""
    script = wrk_script(work, endpoint, tag)
    run_wrk(base, script, 16, WARMUP_S)
    results = {}
    for connections in CONCURRENCY:
        results[connections] = run_wrk(base, script, connections, duration_s)
        r = results[connections]
        print(
            f"  {tag:<24} c={connections:<3} {r.rps:8.1f} req/s  p50 {r.p50_ms:7.1f} ms  "
            f"p99 {r.p99_ms:7.1f} ms  errors {r.errors} {r.error_kinds}",
            file=sys.stderr,
        )
    return results


# ------------------------------------------------------------------------------------------------
# Servers
# ------------------------------------------------------------------------------------------------


def start_sasaran(store_dir: Path, work: Path, port: int) -> Server:
    """``uvicorn --factory service.app:create_app --workers WORKERS`` on 127.0.0.1."""
    uvicorn = Path(sys.executable).parent / "uvicorn"
    argv = [str(uvicorn), "--factory", "service.app:create_app", "--host", HOST, "--port", str(port)]
    argv += ["--workers", str(WORKERS), "--no-access-log", "--log-level", "warning"]
    env = os.environ | {"SASARAN_STORE_DIR": str(store_dir.resolve())}
    server = Server("sasaran", argv, env, ROOT, work / "sasaran.log")
    server.wait_ready(f"http://{HOST}:{port}/healthz")
    return server


def sasaran_label() -> str:
    """How uvicorn will serve Sasaran here: event loop, HTTP parser, BLAS threads."""
    code = "import importlib.util as u; print(*(bool(u.find_spec(m)) for m in ('uvloop', 'httptools')))"
    out = subprocess.run([sys.executable, "-c", code], check=True, capture_output=True, text=True).stdout
    uvloop, httptools = (x == "True" for x in out.split())
    label = f"{'uvloop' if uvloop else 'asyncio'} loop, {'httptools' if httptools else 'h11'} parser"
    blas = os.environ.get("OPENBLAS_NUM_THREADS")
    return label + (f", OPENBLAS_NUM_THREADS={blas}" if blas else "")


def setup_pygeoapi(venv: Path, work: Path) -> None:
    """Create (or reuse) pygeoapi's venv with ``scripts/pygeoapi/setup.sh`` (output to a log)."""
    with (work / "pygeoapi-setup.log").open("wb") as log:
        argv = ["bash", str(PYGEOAPI_DIR / "setup.sh"), str(venv)]
        subprocess.run(argv, check=True, timeout=900, stdout=log, stderr=subprocess.STDOUT)


def export_villages(store_dir: Path, work: Path) -> Path:
    """The store's villages as a GeoPackage, with ``sasaran export``."""
    gpkg = work / "villages.gpkg"
    if not gpkg.exists():
        sasaran = Path(sys.executable).parent / "sasaran"
        argv = [str(sasaran), "export", "villages", "--store", str(store_dir), "--format", "gpkg"]
        subprocess.run([*argv, "--out", str(gpkg)], check=True, timeout=300, capture_output=True)
    return gpkg


def start_pygeoapi(store_dir: Path, work: Path, venv: Path, port: int) -> Server:
    """pygeoapi under gunicorn with gevent workers, configured from the template for ``port``."""
    gpkg = export_villages(store_dir, work)
    bounds = LayerStore.open(store_dir).layer("villages").total_bounds
    config = (PYGEOAPI_DIR / "pygeoapi-config.yml.in").read_text()
    config = config.replace("@PORT@", str(port)).replace("@GPKG@", str(gpkg.resolve()))
    config = config.replace("@BBOX@", ", ".join(f"{v:.6f}" for v in bounds))
    config_path = work / "pygeoapi-config.yml"
    config_path.write_text(config)
    openapi = work / "pygeoapi-openapi.yml"
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "VIRTUAL_ENV")}
    env |= {"PYGEOAPI_CONFIG": str(config_path), "PYGEOAPI_OPENAPI": str(openapi)}
    subprocess.run(
        [
            str(venv / "bin" / "pygeoapi"),
            "openapi",
            "generate",
            str(config_path),
            "--output-file",
            str(openapi),
        ],
        env=env,
        check=True,
        timeout=300,
        capture_output=True,
    )
    argv = [str(venv / "bin" / "gunicorn"), "--workers", str(WORKERS), "--worker-class", "gevent"]
    argv += ["--bind", f"{HOST}:{port}", "--log-level", "warning", "pygeoapi.flask_app:APP"]
    server = Server("pygeoapi", argv, env, work, work / "pygeoapi.log")
    server.wait_ready(f"http://{HOST}:{port}/collections/villages?f=json")
    return server


def pygeoapi_version(venv: Path) -> str:
    """The installed pygeoapi, gunicorn and gevent versions."""
    code = (
        "from importlib.metadata import version as v; "
        "print(', '.join(f'{p} {v(p)}' for p in ('pygeoapi', 'gunicorn', 'gevent', 'Flask')))"
    )
    return subprocess.run(
        [str(venv / "bin" / "python"), "-c", code], check=False, capture_output=True, text=True
    ).stdout.strip()


def pygeoapi_log_notes(log: Path) -> list[str]:
    """What pygeoapi's log says about the errors it answered with."""
    text = log.read_text(errors="replace") if log.exists() else ""
    failed = text.count("ERROR - Exception on")
    if not failed:
        return []
    plugin = text.count("pygeoapi.plugin.InvalidPluginError")
    why = (
        f" ({plugin} InvalidPluginError: its provider opens the GeoPackage and loads SpatiaLite anew "
        "for every request, and under load that sometimes fails)"
        if plugin
        else ""
    )
    return [f"pygeoapi answered {failed} request(s) with HTTP 500{why}; see its log."]


# ------------------------------------------------------------------------------------------------
# Report
# ------------------------------------------------------------------------------------------------


def table(rows: list[tuple[str, str, dict[int, Result]]]) -> list[str]:
    """Markdown table: server × endpoint × concurrency → req/s, p50, p99, errors."""
    lines = [
        "| server | request | conns | req/s | p50 ms | p99 ms | MB/s | errors |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for server, name, results in rows:
        for c, r in results.items():
            lines.append(
                f"| {server} | {name} | {c} | {r.rps:,.0f} | {r.p50_ms:.1f} | {r.p99_ms:.1f} | "
                f"{r.mbytes_s:.1f} | {r.errors}{f' ({r.error_kinds})' if r.errors else ''} |"
            )
    return lines


def bench_service(store_dir: Path, work: Path, duration_s: float = 10, pygeoapi: bool = True) -> list[str]:
    """Run the service benchmark against Sasaran and pygeoapi; markdown lines for docs/benchmarks.md."""
    if shutil.which("wrk") is None:
        subprocess.run(["apt-get", "install", "-y", "-qq", "wrk"], check=False, timeout=300)
        if shutil.which("wrk") is None:
            raise RuntimeError("wrk not found: apt-get install -y wrk")
    work.mkdir(parents=True, exist_ok=True)
    sasaran_endpoints, pygeoapi_endpoints = endpoints(store_dir)
    rows: list[tuple[str, str, dict[int, Result]]] = []
    notes: list[str] = []

    port = free_port()
    base = f"http://{HOST}:{port}"
    print(f"Sasaran on {base}", file=sys.stderr)
    with start_sasaran(store_dir, work, port):
        media = ["application/geo+json", "application/geo+json", "application/geo+json", "application/json"]
        media.append("application/vnd.mapbox-vector-tile")
        tiles, cold = first_render(base, sasaran_endpoints[-1], media[-1])
        checked = [check_paths(base, e, m) for e, m in zip(sasaran_endpoints[:-1], media[:-1], strict=True)]
        sasaran_endpoints = [*checked, tiles]
        for i, endpoint in enumerate(sasaran_endpoints):
            rows.append(
                ("Sasaran", endpoint.name, load_test(base, work, endpoint, f"sasaran-{i}", duration_s))
            )

    pygeoapi_label = "not run"
    try:
        if not pygeoapi:
            raise RuntimeError("skipped (--no-pygeoapi)")
        setup_pygeoapi(PYGEOAPI_VENV, work)
        pygeoapi_label = pygeoapi_version(PYGEOAPI_VENV)
        port = free_port()
        base = f"http://{HOST}:{port}"
        print(f"pygeoapi on {base}", file=sys.stderr)
        with start_pygeoapi(store_dir, work, PYGEOAPI_VENV, port):
            for i, unchecked in enumerate(pygeoapi_endpoints):
                endpoint = check_paths(base, unchecked, "application/json")
                status, _, body = fetch(base + endpoint.paths[0])
                links = [link["href"] for link in json.loads(body)["links"]]
                if not all(h.startswith(base) for h in links):
                    raise RuntimeError(f"pygeoapi links do not match {base}: {links}")
                rows.append(
                    ("pygeoapi", endpoint.name, load_test(base, work, endpoint, f"pygeoapi-{i}", duration_s))
                )
        notes += pygeoapi_log_notes(work / "pygeoapi.log")
    except (subprocess.SubprocessError, RuntimeError, OSError) as err:
        notes.append(f"pygeoapi was not measured: {err}")

    labels = (sasaran_label(), pygeoapi_label)
    return report(rows, notes, labels, cold, duration_s, len(tiles.paths))


def report(
    rows: list[tuple[str, str, dict[int, Result]]],
    notes: list[str],
    labels: tuple[str, str],
    cold_tiles_ms: list[float],
    duration_s: float,
    n_tiles: int,
) -> list[str]:
    """The markdown section."""
    by_key = {(server, name): results for server, name, results in rows}
    ratios = []
    for server, name, results in rows:
        if server != "pygeoapi" or ("Sasaran", name) not in by_key:
            continue
        ours = by_key[("Sasaran", name)]
        cells = [f"{ours[c].rps / results[c].rps:.1f}×" for c in CONCURRENCY if results[c].rps]
        ratios.append(f"| {name} | " + " | ".join(cells) + " |")
    sasaran_label, pygeoapi_label = labels
    cold = sorted(cold_tiles_ms)
    cold_p99 = cold[min(len(cold) - 1, int(0.99 * len(cold)))] if cold else 0.0
    lines = [
        "## HTTP service under load, and pygeoapi on the same villages",
        "",
        f"Written by `scripts/bench_service.py`. Both servers on 127.0.0.1 with {WORKERS} worker processes;",
        f"load from `wrk` (1 thread, keep-alive) on the same machine, {duration_s:.0f} s per row after a",
        f"{WARMUP_S:.0f} s warm-up; no compression (no `Accept-Encoding`). Errors count non-2xx answers,",
        "socket errors and time-outs.",
        "",
        f"- Sasaran: `uvicorn --factory service.app:create_app --workers {WORKERS}` ({sasaran_label}).",
        f"- pygeoapi: {pygeoapi_label}; provider SQLiteGPKG (SpatiaLite) on the villages GeoPackage from",
        f"  `sasaran export villages`; `gunicorn --worker-class gevent --workers {WORKERS} "
        "pygeoapi.flask_app:APP`, as in pygeoapi's Docker image; `f=json` (GeoJSON as `application/json`).",
        "- Items pages cycle through every offset; bbox requests through 64 boxes centred in random",
        f"  villages; tiles through the {n_tiles} non-empty z8–10 tiles holding those villages",
        "  (each rendered once before the run, so the run measures Sasaran's tile cache).",
        "",
        *table(rows),
        "",
    ]
    if ratios:
        header = " | ".join(f"{c} conns" for c in CONCURRENCY)
        lines += [
            "Sasaran throughput ÷ pygeoapi throughput (goal ≥ 3×):",
            "",
            f"| request | {header} |",
            "|---|" + "---|" * len(CONCURRENCY),
            *ratios,
            "",
        ]
    if cold:
        lines += [
            f"First render of each of the {len(cold)} tiles (serial, uncached): median "
            f"{statistics.median(cold):.1f} ms, p99 {cold_p99:.1f} ms, "
            f"max {cold[-1]:.1f} ms (the first includes preparing the layer in that worker).",
            "",
        ]
    if sasaran_label.startswith("asyncio"):
        lines += [
            "Note: `uvicorn --workers N` on the asyncio loop leaves TCP_NODELAY off on accepted sockets",
            "(the listening socket is made with proto 0; uvicorn issue #3149), so a keep-alive answer",
            "written in two sends can wait ~40 ms for the client's delayed ACK: the 40–60 ms p50 of",
            "small answers at 1 connection is that, not work.",
            "",
        ]
    lines += [f"Note: {n}" for n in notes]
    if notes:
        lines.append("")
    return lines


def main() -> None:
    """Run the service benchmark alone and print (or write) its markdown."""
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--store", type=Path, required=True, help="Sasaran store directory")
    parser.add_argument("--work", type=Path, help="scratch directory (default: a temporary one)")
    parser.add_argument("--duration", type=float, default=10, help="seconds per measured row")
    parser.add_argument("--out", type=Path, help="also write the markdown here")
    parser.add_argument("--no-pygeoapi", action="store_true", help="measure Sasaran only")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="sasaran-bench-") as tmp:
        lines = bench_service(args.store, args.work or Path(tmp), args.duration, not args.no_pygeoapi)
    text = "\n".join(lines)
    if args.out:
        args.out.write_text(text + "\n")
    print(text)


if __name__ == "__main__":
    main()
