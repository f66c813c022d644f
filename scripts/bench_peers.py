"""Peer benchmark: Sasaran against tipg and pygeoapi on the same store, and A/B against any commit.

Two modes, each one command:

``python scripts/bench_peers.py peers [--store STORE] [--write-docs]``
    Installs what is missing (Debian: PostgreSQL 15, PostGIS 3, wrk, GDAL's ogr2ogr; PyPI: tipg and
    pygeoapi, each in a venv of its own under ``--cache``, never in the project's), starts a private
    PostgreSQL cluster on a free loopback port, loads the store's villages and hexagons with
    ``ogr2ogr`` (from ``sasaran export`` GeoPackages: exact doubles, ``-lco PRECISION=NO``), makes
    each id column the primary key, builds GIST indexes, ``CLUSTER``s on them and ``VACUUM ANALYZE``s;
    starts tipg on it and pygeoapi on the GeoPackages (``scripts/pygeoapi``); checks that every
    server answers the same features (ids, order, properties after the field dictionary's rounding,
    geometry to 1e-6°) for a sample of each request; then runs the rows.

``python scripts/bench_peers.py ab --base 7546689 [--write-docs]``
    A git worktree of ``--base`` (detached, under ``--cache``), its own demo store built by its own
    code (``PYTHONPATH`` = that worktree, this interpreter unless ``--base-python``), served beside
    this tree's; every request answered 200 by both; then the same rows, so a regression is caught
    before it lands. The requests come from this tree's store; both demos are 1,500 villages.

Rows alternate the servers (wrk: 1 thread, keep-alive, ``--seconds`` per run after a warm-up), in
``--pairs`` pairs per row (the order flips each pair), at each of ``--conns`` connections; a row's
figure is the median of its pairs' throughput ratios. The 1-minute load average is read before and
after every run and printed beside it: the machine is shared, and a ratio measured under load is
only as good as that load was even. ``--write-docs`` puts the tables into docs/benchmarks.md
(between ``<!-- bench_peers:MODE -->`` markers). ``--dry-run`` prints the plan and starts nothing.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator, Sequence
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass, field
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from bench_service import (  # noqa: E402  (scripts/ is not a package)
    HOST,
    Endpoint,
    Result,
    Server,
    box,
    fetch,
    free_port,
    run_wrk,
    sample_points,
    tile_of,
    wrk_script,
)

ROOT = Path(__file__).resolve().parents[1]
DOCS = ROOT / "docs" / "benchmarks.md"
PYGEOAPI_DIR = ROOT / "scripts" / "pygeoapi"
DEFAULT_CACHE = Path(os.environ.get("SASARAN_BENCH_CACHE", "/tmp/sasaran-bench"))
TIPG_VERSION = "1.6.1"
PG_VERSION = "15"
PG_BIN = Path(f"/usr/lib/postgresql/{PG_VERSION}/bin")
DEBIAN_PACKAGES = (f"postgresql-{PG_VERSION}", f"postgresql-{PG_VERSION}-postgis-3", "wrk", "gdal-bin")
WORKERS = 2
WARMUP_S = 2.0
#: Layers loaded into PostgreSQL and served by every peer, with their id column.
PEER_LAYERS = {"villages": "village_code", "hexagons": "h3"}
#: Answers compared per row before it is measured.
CHECKED_PATHS = 6
#: Seconds a server may take to answer after its start (0.1.0 prepares every layer's geometry
#: before it answers; on a loaded machine that took over two minutes).
READY_S = 600.0


# ------------------------------------------------------------------------------------------------
# Requests
# ------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Row:
    """One benchmarked request kind: per server, the paths cycled through (None: not served)."""

    name: str
    layer: str
    paths: dict[str, list[str]]
    kind: str = "items"
    """items (a FeatureCollection), item (one Feature), json (another document) or tile."""


def _village_codes(store_dir: Path, count: int, seed: int = 7, among: Path | None = None) -> list[str]:
    """``count`` village codes of the store (also in the store ``among``, when given), by seed."""
    import random

    from layers.store import LayerStore

    def codes_of(store: Path) -> list[str]:
        return LayerStore.open(store).layer("villages")["village_code"].astype(str).tolist()

    codes = codes_of(store_dir)
    if among is not None:
        theirs = set(codes_of(among))
        codes = [c for c in codes if c in theirs]
    return random.Random(seed).sample(codes, min(count, len(codes)))


def rows_for(store_dir: Path, servers: Sequence[str], among: Path | None = None) -> list[Row]:
    """The issue's four requests (and, for an A/B, a collection and a tile), per server."""
    from layers.store import LayerStore

    n_villages = len(LayerStore.open(store_dir).layer("villages"))
    points = sample_points(store_dir, 64)
    offsets = list(range(0, max(n_villages - 100, 1), 100))
    village_boxes = [box(lon, lat, 0.25) for lon, lat in points]
    hexagon_boxes = [box(lon, lat, 0.1) for lon, lat in points]
    codes = _village_codes(store_dir, 64, among=among)

    names = {"tipg": "public."}  # tipg names a table's collection by its schema
    f_json = {"pygeoapi": "&f=json"}
    paths: dict[str, dict[str, list[str]]] = {}
    for server in servers:
        p = names.get(server, "")
        q = f_json.get(server, "")
        one = "?f=json" if server == "pygeoapi" else ""
        paths[server] = {
            "items": [f"/collections/{p}villages/items?limit=100&offset={o}{q}" for o in offsets],
            "bbox": [f"/collections/{p}villages/items?bbox={b}&limit=100{q}" for b in village_boxes],
            "hexagons": [f"/collections/{p}hexagons/items?bbox={b}&limit=1000{q}" for b in hexagon_boxes],
            "single": [f"/collections/{p}villages/items/{c}{one}" for c in codes],
        }
    rows = [
        Row("villages items limit=100", "villages", {s: paths[s]["items"] for s in servers}),
        Row("villages bbox 0.5°", "villages", {s: paths[s]["bbox"] for s in servers}),
        Row("hexagons bbox 0.2° limit=1000", "hexagons", {s: paths[s]["hexagons"] for s in servers}),
        Row("single village by id", "villages", {s: paths[s]["single"] for s in servers}, kind="item"),
    ]
    return rows


def ab_rows(store_dir: Path, servers: Sequence[str], among: Path | None = None) -> list[Row]:
    """The A/B rows: the peer rows plus a collection document and hexagon tiles (z8–10); single
    villages among those both stores hold."""
    rows = rows_for(store_dir, servers, among)
    points = sample_points(store_dir, 64)
    tiles = sorted({(z, *tile_of(lon, lat, z)) for lon, lat in points for z in (8, 9, 10)})
    tile_paths = [f"/collections/hexagons/tiles/WebMercatorQuad/{z}/{y}/{x}" for z, x, y in tiles]
    rows.append(
        Row(
            "collection document (villages)",
            "villages",
            {s: ["/collections/villages"] for s in servers},
            "json",
        )
    )
    rows.append(Row("hexagon tile z8–10 (cached)", "hexagons", dict.fromkeys(servers, tile_paths), "tile"))
    return rows


# ------------------------------------------------------------------------------------------------
# Installing and starting the peers
# ------------------------------------------------------------------------------------------------


def run(argv: Sequence[str], log: Path | None = None, **kwargs: object) -> subprocess.CompletedProcess:
    """Run a command, its output to ``log`` (appended) when given; fail with the log's tail."""
    print(f"$ {' '.join(map(str, argv))}", file=sys.stderr)
    if log is None:
        return subprocess.run(list(map(str, argv)), check=True, **kwargs)  # type: ignore[call-overload]
    with log.open("ab") as out:
        done = subprocess.run(
            list(map(str, argv)), check=False, stdout=out, stderr=subprocess.STDOUT, **kwargs
        )  # type: ignore[call-overload]
    if done.returncode:
        raise RuntimeError(f"{argv[0]} exited {done.returncode}:\n{log.read_text(errors='replace')[-3000:]}")
    return done


def ensure_debian(log: Path) -> None:
    """apt-get install the Debian packages the peers need, when any is missing (needs root)."""
    missing = [
        p
        for p in DEBIAN_PACKAGES
        if subprocess.run(["dpkg", "-s", p], capture_output=True, check=False).returncode != 0
    ]
    if missing:
        run(["apt-get", "update", "-qq"], log)
        run(
            ["apt-get", "install", "-y", "-qq", *missing],
            log,
            env=os.environ | {"DEBIAN_FRONTEND": "noninteractive"},
        )


def ensure_tipg(venv: Path, log: Path) -> Path:
    """A venv of its own with tipg (from Debian's Python 3.11, as tipg needs ≥ 3.11)."""
    if not (venv / "bin" / "uvicorn").exists() or not _has_version(venv, "tipg", TIPG_VERSION):
        run(["/usr/bin/python3", "-m", "venv", str(venv)], log)
        run([venv / "bin" / "pip", "install", "-q", f"tipg=={TIPG_VERSION}", "uvicorn[standard]"], log)
    return venv


def ensure_pygeoapi(venv: Path, log: Path) -> Path:
    """pygeoapi's venv, made by ``scripts/pygeoapi/setup.sh``."""
    run(["bash", PYGEOAPI_DIR / "setup.sh", venv], log)
    return venv


def _has_version(venv: Path, package: str, version: str) -> bool:
    out = subprocess.run(
        [venv / "bin" / "pip", "show", package], capture_output=True, text=True, check=False
    ).stdout
    return f"Version: {version}" in out


def versions(venv: Path, packages: Sequence[str]) -> str:
    """``package version`` of each package installed in a venv."""
    code = (
        "from importlib.metadata import version as v; import sys; "
        "print(', '.join(f'{p} {v(p)}' for p in sys.argv[1:]))"
    )
    out = subprocess.run(
        [venv / "bin" / "python", "-c", code, *packages], capture_output=True, text=True, check=False
    )
    return out.stdout.strip() or "unknown"


class Postgres:
    """A private PostgreSQL cluster on a free loopback port (trust auth), stopped on exit."""

    def __init__(self, directory: Path, log: Path):
        self.directory = directory
        self.log = log
        self.port = free_port()
        # PostgreSQL refuses to run as root: as root, run it as Debian's postgres user.
        self.as_user = ["runuser", "-u", "postgres", "--"] if os.geteuid() == 0 else []
        self.user = "postgres" if os.geteuid() == 0 else os.environ.get("USER", "postgres")

    def start(self) -> Postgres:
        """initdb (when new) and start the server; create the database with PostGIS."""
        data = self.directory / "data"
        if not (data / "PG_VERSION").exists():
            shutil.rmtree(self.directory, ignore_errors=True)
            data.mkdir(parents=True)
            if self.as_user:
                shutil.chown(self.directory, "postgres")
                shutil.chown(data, "postgres")
            run(
                [*self.as_user, PG_BIN / "initdb", "-D", data, "-U", self.user, "--auth=trust", "-E", "UTF8"],
                self.log,
            )
        options = f"-p {self.port} -k {self.directory} -c listen_addresses={HOST} -c shared_buffers=256MB"
        run(
            [
                *self.as_user,
                PG_BIN / "pg_ctl",
                "-D",
                data,
                "-o",
                options,
                "-w",
                "-l",
                self.directory / "server.log",
                "start",
            ],
            self.log,
        )
        exists = self.psql("SELECT 1 FROM pg_database WHERE datname = 'bench'", database="postgres")
        if "1" not in exists:
            self.psql("CREATE DATABASE bench", database="postgres")
        self.psql("CREATE EXTENSION IF NOT EXISTS postgis")
        return self

    def stop(self) -> None:
        """pg_ctl stop (fast)."""
        run([*self.as_user, PG_BIN / "pg_ctl", "-D", self.directory / "data", "-m", "fast", "stop"], self.log)

    @property
    def pid(self) -> int:
        """The postmaster's process id (its backends are its children)."""
        return int((self.directory / "data" / "postmaster.pid").read_text().split()[0])

    @property
    def dsn(self) -> str:
        """A libpq connection string for ogr2ogr."""
        return f"host={HOST} port={self.port} dbname=bench user={self.user}"

    @property
    def url(self) -> str:
        """A postgresql:// URL for tipg."""
        return f"postgresql://{self.user}@{HOST}:{self.port}/bench"

    def psql(self, sql: str, database: str = "bench") -> str:
        """Run SQL; its unaligned output."""
        argv = [
            "psql",
            "-h",
            HOST,
            "-p",
            str(self.port),
            "-U",
            self.user,
            "-d",
            database,
            "-v",
            "ON_ERROR_STOP=1",
        ]
        done = subprocess.run([*argv, "-At", "-c", sql], capture_output=True, text=True, check=False)
        if done.returncode:
            raise RuntimeError(f"psql failed on {sql!r}: {done.stderr}")
        return done.stdout

    def load(self, gpkg: Path, layer: str, id_column: str) -> None:
        """``ogr2ogr`` a GeoPackage layer in (exact doubles), its id as primary key, GIST, CLUSTER,
        VACUUM ANALYZE."""
        run(
            ["ogr2ogr", "-f", "PostgreSQL", f"PG:{self.dsn}", gpkg, layer, "-nln", layer, "-overwrite",
             "-lco", "GEOMETRY_NAME=geom", "-lco", "FID=ogc_fid", "-lco", "PRECISION=NO",
             "-lco", "SPATIAL_INDEX=GIST", "-lco", "LAUNDER=NO", "--config", "PG_USE_COPY", "YES"],
            self.log,
        )  # fmt: skip
        self.psql(f'ALTER TABLE "{layer}" DROP COLUMN ogc_fid')
        self.psql(f'ALTER TABLE "{layer}" ADD PRIMARY KEY ("{id_column}")')
        index = self.psql(
            f"SELECT indexname FROM pg_indexes WHERE tablename = '{layer}' AND indexdef LIKE '%USING gist%'"
        ).strip()
        self.psql(f'CLUSTER "{layer}" USING "{index}"')
        self.psql(f'VACUUM ANALYZE "{layer}"')


def export_gpkg(python: str, tree: Path, store_dir: Path, layer: str, out: Path, log: Path) -> Path:
    """``sasaran export LAYER --format gpkg`` (kept between runs: keyed by the store's build)."""
    if not out.exists():
        code = "from layers.cli import main; main()"
        env = os.environ | {"PYTHONPATH": str(tree)}
        run(
            [python, "-c", code, "export", layer, "--store", store_dir, "--format", "gpkg", "--out", out],
            log,
            env=env,
        )
    return out


def build_id(store_dir: Path) -> str:
    """The store's build id (its manifest's, else its creation time)."""
    manifest = json.loads((store_dir / "manifest.json").read_text())
    return str(manifest.get("build_id") or manifest.get("created", "unknown")).replace(":", "")


def pygeoapi_config(port: int, layers: dict[str, Path], bounds: Sequence[float]) -> str:
    """pygeoapi's configuration: the template's server and metadata, one SQLiteGPKG resource a layer."""
    template = (PYGEOAPI_DIR / "pygeoapi-config.yml.in").read_text()
    head = template[: template.index("resources:")].replace("@PORT@", str(port))
    bbox = ", ".join(f"{v:.6f}" for v in bounds)
    resources = ["resources:"]
    for layer, gpkg in layers.items():
        resources += [
            f"  {layer}:",
            "    type: collection",
            f"    title: {layer}",
            f"    description: The {layer} layer of a Sasaran store.",
            "    keywords: [benchmark]",
            "    links: []",
            "    extents:",
            "      spatial:",
            f"        bbox: [{bbox}]",
            "        crs: http://www.opengis.net/def/crs/OGC/1.3/CRS84",
            "    providers:",
            "      - type: feature",
            "        name: SQLiteGPKG",
            f"        data: {gpkg}",
            f"        id_field: {PEER_LAYERS[layer]}",
            f"        table: {layer}",
        ]
    return head + "\n".join(resources) + "\n"


def start_sasaran(name: str, python: str, tree: Path, store_dir: Path, work: Path) -> tuple[Server, str]:
    """``uvicorn --factory service.app:create_app --workers 2`` of ``tree`` on its store."""
    port = free_port()
    uvicorn = ["-m", "uvicorn", "--factory", "service.app:create_app", "--host", HOST, "--port", str(port)]
    uvicorn += ["--workers", str(WORKERS), "--no-access-log", "--log-level", "warning"]
    env = os.environ | {"SASARAN_STORE_DIR": str(store_dir.resolve()), "PYTHONPATH": str(tree)}
    server = Server(name, [python, *uvicorn], env, tree, work / f"{name}.log")
    server.wait_ready(f"http://{HOST}:{port}/healthz", timeout_s=READY_S)
    return server, f"http://{HOST}:{port}"


def start_tipg(venv: Path, pg: Postgres, work: Path) -> tuple[Server, str]:
    """tipg under uvicorn with 2 workers, on the private PostgreSQL."""
    port = free_port()
    argv = [str(venv / "bin" / "uvicorn"), "tipg.main:app", "--host", HOST, "--port", str(port)]
    argv += ["--workers", str(WORKERS), "--no-access-log", "--log-level", "warning"]
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "VIRTUAL_ENV")}
    env |= {"DATABASE_URL": pg.url, "TIPG_DB_SCHEMAS": '["public"]', "TIPG_MAX_FEATURES_PER_QUERY": "10000"}
    server = Server("tipg", argv, env, work, work / "tipg.log")
    server.wait_ready(f"http://{HOST}:{port}/collections", timeout_s=READY_S)
    return server, f"http://{HOST}:{port}"


def start_pygeoapi(
    venv: Path, layers: dict[str, Path], bounds: Sequence[float], work: Path
) -> tuple[Server, str]:
    """pygeoapi under gunicorn with gevent workers (as its Docker image), on the GeoPackages."""
    port = free_port()
    config = work / "pygeoapi-config.yml"
    config.write_text(pygeoapi_config(port, layers, bounds))
    openapi = work / "pygeoapi-openapi.yml"
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "VIRTUAL_ENV")}
    env |= {"PYGEOAPI_CONFIG": str(config), "PYGEOAPI_OPENAPI": str(openapi)}
    run(
        [venv / "bin" / "pygeoapi", "openapi", "generate", config, "--output-file", openapi],
        work / "pygeoapi-setup.log",
        env=env,
    )
    argv = [str(venv / "bin" / "gunicorn"), "--workers", str(WORKERS), "--worker-class", "gevent"]
    argv += ["--bind", f"{HOST}:{port}", "--log-level", "warning", "pygeoapi.flask_app:APP"]
    server = Server("pygeoapi", argv, env, work, work / "pygeoapi.log")
    server.wait_ready(f"http://{HOST}:{port}/collections/villages?f=json", timeout_s=READY_S)
    return server, f"http://{HOST}:{port}"


# ------------------------------------------------------------------------------------------------
# The same answers
# ------------------------------------------------------------------------------------------------


def _features(kind: str, body: bytes) -> list[dict]:
    doc = json.loads(body)
    return [doc] if kind == "item" else doc["features"]


def _normalised(value: object, name: str) -> object:
    """A value as Sasaran's answers show it: numbers rounded by the field dictionary, with numpy's
    rounding, as `layers.rounding.round_array` does (0.11875 shows as 0.1188)."""
    import numpy as np

    from layers.rounding import round_array

    if isinstance(value, float) and value != value:  # NaN as a peer may write it
        return None
    if isinstance(value, float):
        return round_array(name, np.array([value])).tolist()[0]
    return value


def compare_answers(row: Row, bodies: dict[str, bytes], reference: str = "sasaran") -> list[str]:
    """Differences between each server's answer and the reference's (empty: the same features).

    Same ids in the same order; the same property names and values (each peer's value rounded by
    the field dictionary, as Sasaran shows it); geometries equal to 1e-6° once normalised.
    """
    import shapely

    problems = []
    ours = _features(row.kind, bodies[reference])
    for server, body in bodies.items():
        if server == reference:
            continue
        theirs = _features(row.kind, body)
        ids = [str(f["id"]) for f in ours]
        their_ids = [str(f["id"]) for f in theirs]
        if ids != their_ids:
            problems.append(
                f"{server}: ids differ ({len(ids)} against {len(their_ids)}; "
                f"first {ids[:3]} / {their_ids[:3]})"
            )
            continue
        for a, b in zip(ours, theirs, strict=True):
            pa, pb = a["properties"], dict(b["properties"])
            # pygeoapi's GeoPackage provider shows the file's fid and keeps the id only as "id".
            pb.pop("fid", None)
            id_column = PEER_LAYERS[row.layer]
            pb.setdefault(id_column, b["id"])
            missing = set(pa) ^ set(pb)
            if missing:
                problems.append(
                    f"{server}: feature {a['id']}: properties differ in name: {sorted(missing)[:5]}"
                )
                break
            values = [k for k in pa if _normalised(pa[k], k) != _normalised(pb[k], k)]
            if values:
                k = values[0]
                problems.append(f"{server}: feature {a['id']}: {k} = {pa[k]!r} against {pb[k]!r}")
                break
            ga, gb = (shapely.normalize(shapely.from_geojson(json.dumps(f["geometry"]))) for f in (a, b))
            if not shapely.equals_exact(ga, gb, tolerance=1e-6):
                problems.append(f"{server}: feature {a['id']}: geometry differs")
                break
    return problems


def check_row(row: Row, bases: dict[str, str], peers: bool) -> str:
    """GET a sample of the row's paths from every server: all 200 (and, between peers, the same
    features). Returns a summary; raises on a difference."""
    n = min(CHECKED_PATHS, *(len(p) for p in row.paths.values()))
    step = max(1, len(next(iter(row.paths.values()))) // n)
    for i in range(0, n * step, step):
        bodies = {}
        for server, base in bases.items():
            path = row.paths[server][i]
            status, media, body = fetch(base + path)
            if status != 200:
                raise RuntimeError(f"{server} {path}: {status} {body[:300]!r}")
            bodies[server] = body
        if peers:
            problems = compare_answers(row, bodies)
            if problems:
                raise RuntimeError(f"{row.name}: answers differ:\n  " + "\n  ".join(problems))
    what = "the same features, properties and geometry" if peers else "200"
    return f"{n} answers checked: {what}"


# ------------------------------------------------------------------------------------------------
# Alternating runs
# ------------------------------------------------------------------------------------------------


@dataclass
class Measured:
    """One server's run in one pair of one row: wrk's result, the load around it and the CPU time
    the server's processes (a database's included) spent on it."""

    server: str
    result: Result
    load_before: float
    load_after: float
    cpu_s: float = 0.0

    @property
    def cpu_ms_per_request(self) -> float:
        """Server CPU milliseconds per answered request: what a loaded machine distorts least."""
        return 1000 * self.cpu_s / self.result.requests if self.result.requests else float("inf")


@dataclass
class RowResult:
    """All runs of one row at one connection count."""

    row: str
    conns: int
    runs: list[list[Measured]] = field(default_factory=list)

    def rps(self, server: str) -> float:
        """Median requests/s of a server over the pairs."""
        return statistics.median(m.result.rps for pair in self.runs for m in pair if m.server == server)

    def ratios(self, server: str, other: str) -> list[float]:
        """``server`` ÷ ``other`` throughput in each pair."""
        out = []
        for pair in self.runs:
            by = {m.server: m.result.rps for m in pair}
            out.append(by[server] / by[other] if by.get(other) else float("inf"))
        return out

    def p99(self, server: str) -> float:
        """Median p99 latency (ms) of a server over the pairs."""
        return statistics.median(m.result.p99_ms for pair in self.runs for m in pair if m.server == server)

    def errors(self, server: str) -> int:
        """Errors summed over the pairs."""
        return sum(m.result.errors for pair in self.runs for m in pair if m.server == server)

    def cpu_ms(self, server: str) -> float:
        """Median server CPU ms per request over the pairs."""
        return statistics.median(
            m.cpu_ms_per_request for pair in self.runs for m in pair if m.server == server
        )

    def cpu_ratios(self, server: str, other: str) -> list[float]:
        """``other``'s CPU per request ÷ ``server``'s in each pair (above 1: ``server`` spends less)."""
        out = []
        for pair in self.runs:
            by = {m.server: m.cpu_ms_per_request for m in pair}
            out.append(by[other] / by[server] if by.get(server) else float("inf"))
        return out

    def loads(self) -> tuple[float, float]:
        """Lowest and highest 1-minute load average read around the row's runs."""
        values = [v for pair in self.runs for m in pair for v in (m.load_before, m.load_after)]
        return min(values), max(values)


def process_tree_cpu(roots: Sequence[int]) -> float:
    """CPU seconds (user + system, with reaped children's) of processes ``roots`` and descendants."""
    parent: dict[int, int] = {}
    times: dict[int, float] = {}
    tick = os.sysconf("SC_CLK_TCK")
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
        except OSError:  # the process ended meanwhile
            continue
        pid = int(entry.name)
        parent[pid] = int(fields[1])
        times[pid] = sum(int(fields[i]) for i in (11, 12, 13, 14)) / tick
    total = 0.0
    for pid, cpu in times.items():
        ancestor = pid
        while ancestor > 1 and ancestor not in roots:
            ancestor = parent.get(ancestor, 0)
        if ancestor in roots:
            total += cpu
    return total


def measure(
    rows: list[Row],
    bases: dict[str, str],
    conns: Sequence[int],
    pairs: int,
    seconds: float,
    work: Path,
    pids: dict[str, list[int]] | None = None,
) -> list[RowResult]:
    """For each row and connection count, ``pairs`` alternating rounds of one wrk run per server.

    ``pids``: each server's root processes, whose CPU time is read around every run."""
    pids = pids or {}
    results = []
    servers = list(bases)
    for r, row in enumerate(rows):
        scripts = {s: wrk_script(work, Endpoint(row.name, row.paths[s]), f"{r}-{s}") for s in servers}
        for s in servers:
            run_wrk(bases[s], scripts[s], 16, WARMUP_S)
        for c in conns:
            result = RowResult(row.name, c)
            for p in range(pairs):
                order = servers if p % 2 == 0 else servers[::-1]
                pair = []
                for s in order:
                    before = os.getloadavg()[0]
                    cpu = process_tree_cpu(pids.get(s, []))
                    measured = run_wrk(bases[s], scripts[s], c, seconds)
                    cpu = process_tree_cpu(pids.get(s, [])) - cpu
                    pair.append(Measured(s, measured, before, os.getloadavg()[0], cpu))
                    print(
                        f"  {row.name:32} c={c:<3} {s:9} {measured.rps:8.1f} req/s "
                        f"p99 {measured.p99_ms:7.1f} ms cpu {pair[-1].cpu_ms_per_request:6.2f} ms/req "
                        f"errors {measured.errors} load {before:.2f}→{os.getloadavg()[0]:.2f}",
                        file=sys.stderr,
                    )
                result.runs.append(pair)
            results.append(result)
    return results


# ------------------------------------------------------------------------------------------------
# Reports
# ------------------------------------------------------------------------------------------------


def _machine() -> str:
    python = platform.python_version()
    return f"{platform.machine()}, {os.cpu_count()} cores, Linux {platform.release()}, Python {python}"


def _git(*args: str, cwd: Path = ROOT) -> str:
    return subprocess.run(["git", *args], cwd=cwd, capture_output=True, text=True, check=False).stdout.strip()


def detail_table(results: list[RowResult], servers: Sequence[str], ours: str, other: str) -> list[str]:
    """Every row: median req/s and CPU ms per request per server, the pair ratios, p99, errors, load."""
    head = " | ".join(f"{s} req/s" for s in servers)
    cpu = " / ".join(servers)
    lines = [
        f"| request | conns | {head} | {ours} ÷ {other}, each pair | median | CPU ms/request ({cpu}) "
        f"| {ours} p99 ms | errors | load 1-min |",
        "|---|---:|" + "---:|" * len(servers) + "---|---:|---|---:|---:|---|",
    ]
    for r in results:
        ratios = r.ratios(ours, other)
        low, high = r.loads()
        errors = ", ".join(f"{s} {r.errors(s)}" for s in servers if r.errors(s)) or "0"
        lines.append(
            f"| {r.row} | {r.conns} | "
            + " | ".join(f"{r.rps(s):,.0f}" for s in servers)
            + f" | {' / '.join(f'{x:.2f}' for x in ratios)} | **{statistics.median(ratios):.2f}×** | "
            + " / ".join(f"{r.cpu_ms(s):.2f}" for s in servers)
            + f" | {r.p99(ours):.1f} | {errors} | {low:.1f}–{high:.1f} |"
        )
    return lines


def _times(ratio: float) -> str:
    """A ratio as ``4.2×``; one over a server that answered nothing in a run as ``∞ (none answered)``."""
    return "∞ (none answered)" if ratio == float("inf") else f"{ratio:.1f}×"


def summary_table(
    results: list[RowResult], ours: str, other: str, conns: Sequence[int], cpu: bool = False
) -> list[str]:
    """The issue's shape: one line per request, the median ratio at each connection count
    (throughput, or with ``cpu`` the other's CPU per request ÷ ours)."""
    names = list(dict.fromkeys(r.row for r in results))
    lines = [f"| request | {' / '.join(map(str, conns))} conns |", "|---|---:|"]
    for name in names:
        ratio = (lambda r: r.cpu_ratios(ours, other)) if cpu else (lambda r: r.ratios(ours, other))
        cells = [statistics.median(ratio(r)) for r in results if r.row == name]
        lines.append(f"| {name} | {' / '.join(_times(x) for x in cells)} |")
    return lines


def write_docs(marker: str, lines: list[str], docs: Path = DOCS) -> None:
    """Replace (or append) the ``<!-- MARKER -->`` section of docs/benchmarks.md."""
    start, end = f"<!-- {marker} -->", f"<!-- /{marker} -->"
    text = docs.read_text()
    block = "\n".join([start, *lines, end])
    if start in text and end in text:
        text = text[: text.index(start)] + block + text[text.index(end) + len(end) :]
    else:
        text = text.rstrip("\n") + "\n\n" + block + "\n"
    docs.write_text(text)


# ------------------------------------------------------------------------------------------------
# Modes
# ------------------------------------------------------------------------------------------------


def demo_store(python: str, tree: Path, directory: Path, log: Path) -> Path:
    """The 1,500-village demo built by ``tree``'s own code (kept between runs)."""
    store = directory / "store"
    if not (store / "manifest.json").exists():
        code = "from layers.cli import main; main()"
        env = os.environ | {"PYTHONPATH": str(tree)}
        run([python, "-c", code, "demo", "--out", directory / "demo"], log, env=env, cwd=tree)
        run(
            [python, "-c", code, "build", directory / "demo" / "sasaran.toml", "--store", store],
            log,
            env=env,
            cwd=tree,
        )
    return store


@contextmanager
def worktree(commit: str, cache: Path, log: Path) -> Iterator[tuple[Path, str]]:
    """A detached git worktree of ``commit`` (kept under ``cache`` between runs): (path, full sha)."""
    sha = _git("rev-parse", "--verify", f"{commit}^{{commit}}")
    if not sha:
        raise SystemExit(f"no commit {commit!r} in {ROOT}")
    path = cache / f"ab-{sha[:12]}"
    if not (path / ".git").exists():
        run(["git", "-C", ROOT, "worktree", "add", "--detach", path, sha], log)
    yield path, sha


def _run_folders(args: argparse.Namespace) -> tuple[Path, Path, Path, Path]:
    """The cache, this run's folder, its setup log and this tree's store (its demo, built once)."""
    cache: Path = args.cache
    cache.mkdir(parents=True, exist_ok=True)
    work = Path(tempfile.mkdtemp(prefix=f"run-{args.mode}-", dir=cache))
    log = work / "setup.log"
    store = args.store or demo_store(
        sys.executable, ROOT, cache / f"demo-{_git('rev-parse', '--short', 'HEAD')}", log
    )
    return cache, work, log, store


def peers(args: argparse.Namespace) -> list[str]:
    """The peer benchmark; returns the markdown section."""
    cache, work, log, store = _run_folders(args)
    python = sys.executable
    servers = ["sasaran", "tipg", "pygeoapi"]
    rows = rows_for(store, servers)
    if args.dry_run:
        return plan(rows, servers, args)
    ensure_debian(log)
    tipg_venv = ensure_tipg(cache / "tipg-venv", log)
    pygeoapi_venv = ensure_pygeoapi(cache / "pygeoapi-venv", log)
    gpkg_dir = cache / f"gpkg-{build_id(store)}"
    gpkg_dir.mkdir(exist_ok=True)
    gpkgs = {
        layer: export_gpkg(python, ROOT, store, layer, gpkg_dir / f"{layer}.gpkg", log)
        for layer in PEER_LAYERS
    }
    from layers.store import LayerStore

    bounds = LayerStore.open(store).layer("villages").total_bounds.tolist()
    with ExitStack() as stack:
        # Kept between runs (the layers are loaded anew each time); readable by the postgres user.
        cache.chmod(0o755)
        pg = Postgres(cache / "pg", log).start()
        stack.callback(pg.stop)
        for layer, id_column in PEER_LAYERS.items():
            pg.load(gpkgs[layer], layer, id_column)
        bases, pids = {}, {}
        for name, starter in (
            ("sasaran", lambda: start_sasaran("sasaran", python, ROOT, store, work)),
            ("tipg", lambda: start_tipg(tipg_venv, pg, work)),
            ("pygeoapi", lambda: start_pygeoapi(pygeoapi_venv, gpkgs, bounds, work)),
        ):
            server, base = starter()
            stack.enter_context(server)
            bases[name] = base
            pids[name] = [server.proc.pid] + ([pg.pid] if name == "tipg" else [])
        time.sleep(args.settle)  # Sasaran serialises the hexagons' geometry after start
        checks = {row.name: check_row(row, bases, peers=True) for row in rows}
        results = measure(rows, bases, args.conns, args.pairs, args.seconds, work, pids)
    labels = {
        "tipg": versions(tipg_venv, ["tipg", "fastapi", "asyncpg", "uvicorn"]),
        "pygeoapi": versions(pygeoapi_venv, ["pygeoapi", "gunicorn", "gevent"]),
        "postgres": postgres_version(),
    }
    return peers_report(results, checks, labels, args)


def postgres_version() -> str:
    """PostgreSQL and PostGIS as installed from Debian."""
    out = subprocess.run(
        [PG_BIN / "postgres", "--version"], capture_output=True, text=True, check=False
    ).stdout.strip()
    postgis = subprocess.run(
        ["dpkg-query", "-W", "-f", "${Version}", f"postgresql-{PG_VERSION}-postgis-3"],
        capture_output=True,
        text=True,
        check=False,
    ).stdout
    return f"{out}, PostGIS {postgis.split('+')[0]}"


def peers_report(
    results: list[RowResult],
    checks: dict[str, str],
    labels: dict[str, str],
    args: argparse.Namespace,
) -> list[str]:
    """The peer section of docs/benchmarks.md."""
    commit = _git("rev-parse", "--short", "HEAD")
    lines = [
        "## Sasaran, tipg and pygeoapi on the same store (issue 24)",
        "",
        f"`python scripts/bench_peers.py peers --write-docs` at `{commit}`, "
        f"{time.strftime('%Y-%m-%d %H:%M')} "
        f"({_machine()}). Each server with {WORKERS} worker processes on 127.0.0.1: Sasaran under uvicorn; "
        f"tipg ({labels['tipg']}) under uvicorn on {labels['postgres']} (a private cluster, the store's "
        "villages and hexagons loaded by `ogr2ogr` with exact doubles, id columns as primary keys, GIST "
        f"indexes, CLUSTER, VACUUM ANALYZE); pygeoapi ({labels['pygeoapi']}) under gunicorn with gevent "
        "workers on the GeoPackages `sasaran export` wrote (SQLiteGPKG). wrk: 1 thread, keep-alive, "
        f"{args.seconds:.0f} s a run after a {WARMUP_S:.0f} s warm-up, the servers alternating in "
        f"{args.pairs} pairs per row (the order flipping each pair); a ratio is the median of the pairs'.",
        "",
        "Before a row is measured, each server answers a sample of its requests and the answers are "
        "compared: " + "; ".join(f"{name}: {text}" for name, text in checks.items()) + ".",
        "",
        "Sasaran throughput ÷ tipg throughput (goal ≥ 5× on every row):",
        "",
        *summary_table(results, "sasaran", "tipg", args.conns),
        "",
        "Sasaran ÷ pygeoapi:",
        "",
        *summary_table(results, "sasaran", "pygeoapi", args.conns),
        "",
        "Server CPU time per request, tipg's (its PostgreSQL backends included) ÷ Sasaran's: the measure "
        "a loaded machine distorts least (a throughput ratio also counts how the scheduler shared the "
        "cores):",
        "",
        *summary_table(results, "sasaran", "tipg", args.conns, cpu=True),
        "",
        "Every run (the load average is the machine's 1-minute figure read before and after each run; "
        "the machine's 2 cores are shared with other work):",
        "",
        *detail_table(results, ["sasaran", "tipg", "pygeoapi"], "sasaran", "tipg"),
        "",
    ]
    return lines


def ab(args: argparse.Namespace) -> list[str]:
    """This tree against ``--base``, row by row; returns the markdown section."""
    cache, work, log, store = _run_folders(args)
    python = sys.executable
    head = _git("rev-parse", "--short", "HEAD")
    dirty = " (with uncommitted changes)" if _git("status", "--porcelain", "--untracked-files=no") else ""
    with worktree(args.base, cache, log) as (base_tree, sha):
        servers = ["base", "this"]
        if args.dry_run:
            return plan(ab_rows(store, servers), servers, args)
        base_python = args.base_python or python
        base_store = demo_store(base_python, base_tree, cache / f"demo-{sha[:12]}", log)
        rows = ab_rows(store, servers, among=base_store)
        with ExitStack() as stack:
            bases, pids = {}, {}
            for name, tree, py, st in (
                ("base", base_tree, base_python, base_store),
                ("this", ROOT, python, store),
            ):
                server, url = start_sasaran(f"sasaran-{name}", py, tree, st, work)
                stack.enter_context(server)
                bases[name] = url
                pids[name] = [server.proc.pid]
            time.sleep(args.settle)
            checks = {row.name: check_row(row, bases, peers=False) for row in rows}
            sizes = {row.name: _answer_sizes(row, bases) for row in rows}
            results = measure(rows, bases, args.conns, args.pairs, args.seconds, work, pids)
    lines = [
        f"## A/B: this tree (`{head}`{dirty}) against `{sha[:7]}`",
        "",
        f"`python scripts/bench_peers.py ab --base {args.base} --write-docs`, "
        f"{time.strftime('%Y-%m-%d %H:%M')} ({_machine()}). Each commit serves the 1,500-village demo its "
        f"own code built, with {WORKERS} uvicorn "
        f"workers; the requests come from this tree's store and every one answered 200 from both "
        f"({', '.join(f'{k}: {v}' for k, v in checks.items())}). wrk: 1 thread, keep-alive, "
        f"{args.seconds:.0f} s a run after a {WARMUP_S:.0f} s warm-up, alternating in {args.pairs} pairs per "
        "row; a ratio is the median "
        "of the pairs'. Mean answer size (bytes, this / base): "
        + "; ".join(f"{k} {v}" for k, v in sizes.items())
        + ".",
        "",
        "This tree's throughput ÷ the base's (goal ≥ 1.2× on every row):",
        "",
        *summary_table(results, "this", "base", args.conns),
        "",
        "Server CPU time per request, the base's ÷ this tree's (the measure a loaded machine distorts "
        "least):",
        "",
        *summary_table(results, "this", "base", args.conns, cpu=True),
        "",
        *detail_table(results, servers, "this", "base"),
        "",
    ]
    return lines


def _answer_sizes(row: Row, bases: dict[str, str]) -> str:
    sizes = {}
    for server, base in bases.items():
        bodies = [len(fetch(base + path)[2]) for path in row.paths[server][:8]]
        sizes[server] = statistics.mean(bodies)
    return f"{sizes['this']:,.0f} / {sizes['base']:,.0f}"


def plan(rows: list[Row], servers: Sequence[str], args: argparse.Namespace) -> list[str]:
    """What a run would do (``--dry-run``): its rows and one path of each per server."""
    lines = [f"{args.mode}: {len(rows)} rows × {len(args.conns)} connection counts × {args.pairs} pairs × "
             f"{len(servers)} servers × {args.seconds:.0f} s"]  # fmt: skip
    for row in rows:
        lines.append(
            f"- {row.name} ({row.kind}): "
            + "; ".join(f"{s} {row.paths[s][0]} (+{len(row.paths[s]) - 1})" for s in servers)
        )
    return lines


def parse_args(argv: Sequence[str] | None = None) -> argparse.Namespace:
    """The command line (see the module docstring)."""
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("mode", choices=("peers", "ab"))
    parser.add_argument("--base", default="7546689", help="ab: the commit to compare with (default: 0.1.0)")
    parser.add_argument("--base-python", help="ab: interpreter for the base commit (default: this one)")
    parser.add_argument("--store", type=Path, help="this tree's store (default: its demo, built once)")
    parser.add_argument(
        "--cache", type=Path, default=DEFAULT_CACHE, help="venvs, stores, worktrees, clusters"
    )
    parser.add_argument("--seconds", type=float, default=5.0, help="seconds per wrk run")
    parser.add_argument("--pairs", type=int, default=3, help="alternating pairs per row")
    parser.add_argument("--conns", type=lambda t: [int(c) for c in t.split(",")], default=[1, 16, 64])
    parser.add_argument("--settle", type=float, default=5.0, help="seconds between start and the checks")
    parser.add_argument("--write-docs", action="store_true", help="put the tables into docs/benchmarks.md")
    parser.add_argument("--dry-run", action="store_true", help="print the plan; install and start nothing")
    args = parser.parse_args(argv)
    if args.pairs < 1 or args.seconds < 1 or not args.conns or min(args.conns) < 1:
        parser.error("--pairs ≥ 1, --seconds ≥ 1 and --conns of positive counts")
    return args


def main(argv: Sequence[str] | None = None) -> None:
    """Run a mode; print its markdown (and write it into docs/benchmarks.md with --write-docs)."""
    args = parse_args(argv)
    if not args.dry_run and shutil.which("wrk") is None:
        ensure_debian(Path(tempfile.mkstemp(prefix="sasaran-bench-apt-", suffix=".log")[1]))
    lines = peers(args) if args.mode == "peers" else ab(args)
    if args.write_docs and not args.dry_run:
        write_docs(f"bench_peers:{args.mode}", lines)
    print("\n".join(lines))


if __name__ == "__main__":
    main()
