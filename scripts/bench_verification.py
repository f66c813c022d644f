"""Verification benchmarks (docs/benchmarks.md, "Verification"): the targets of issue 19.

``load``: 50 verifiers at once, each changing a family's status every 2 s (with jitter) for 5
minutes, against the real service (uvicorn, 2 workers) on SQLite or PostgreSQL. Verifiers work in
pairs on one village (a village has two operators), so stale versions happen and are answered 409
and retried, as the page does. Reported: latency p50/p95/p99 of the status changes and of the
page reads, errors (anything but 2xx and the expected 409), then **lost updates**: each family's
final version must be 1 + the successful changes the verifiers made to it, and its status the last
one they set; and the audit chain must be intact.

``sheet``: a 500-row sheet of one village uploaded and validated (every row touched), median of 5.

``page``: a village's families page (25 families; and a name search) on a register of 1,000,000
families in 1,600 villages, seeded straight into the database; p50 and p95 over 300 requests.

    python scripts/bench_verification.py load --store STORE --key-file KEY [--database URL]
        [--verifiers 50] [--seconds 300]
    python scripts/bench_verification.py sheet --store STORE --key-file KEY [--database URL]
    python scripts/bench_verification.py page --store STORE [--database URL] [--families 1000000]

STORE is a built store with a register (``sasaran demo`` then ``sasaran build``), KEY its register
key. Without ``--database`` a fresh SQLite file in a temporary directory is used; with a PostgreSQL
URL the database must be empty (``scripts/ci-postgres.sh start --durable`` makes one).
"""

from __future__ import annotations

import argparse
import asyncio
import io
import os
import random
import statistics
import subprocess
import sys
import tempfile
import time
from collections import defaultdict
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import httpx
import numpy as np
import pandas as pd
from openpyxl import load_workbook

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from layers.verification import accounts, audit  # noqa: E402
from layers.verification.audit import cli_actor  # noqa: E402
from layers.verification.db import Database  # noqa: E402

PASSWORD = "kopi-tubruk-2024"
XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
STATUSES = ("valid", "pindah", "meninggal", "tidak_ditemukan", "tidak_layak", "ganda")


def quantiles(values: list[float]) -> dict[str, float]:
    """p50, p95, p99 and max in milliseconds."""
    ms = np.asarray(values) * 1000
    if not len(ms):
        return {"n": 0}
    return {
        "n": len(ms),
        "p50": float(np.percentile(ms, 50)),
        "p95": float(np.percentile(ms, 95)),
        "p99": float(np.percentile(ms, 99)),
        "max": float(ms.max()),
    }


@contextmanager
def server(store: Path, url: str, key_file: Path | None, workers: int = 2) -> Any:
    """``sasaran serve`` (uvicorn, ``workers`` processes) on a free port until the block ends."""
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    env = os.environ | {
        "SASARAN_DATABASE_URL": url,
        "PYTHONPATH": str(ROOT),
        "SASARAN_RELOAD_INTERVAL_S": "0",
    }
    if key_file:
        env["SASARAN_REGISTER_KEY_FILE"] = str(key_file)
    log = open(Path(tempfile.gettempdir()) / f"bench-verification-{port}.log", "wb")  # noqa: SIM115
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "uvicorn",
            "--factory",
            "service.app:create_app",
            "--host",
            "127.0.0.1",
            "--port",
            str(port),
            "--workers",
            str(workers),
            "--log-level",
            "warning",
        ],
        env=env | {"SASARAN_STORE_DIR": str(store)},
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 600
        while time.monotonic() < deadline:
            try:
                if httpx.get(f"{base}/healthz", timeout=2).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            time.sleep(0.3)
        yield base
    finally:
        proc.terminate()
        proc.wait(timeout=30)
        log.close()


def wait_seeded(db: Database, timeout_s: float = 900) -> None:
    """Until the service has copied the register into the database."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        with db.read() as conn:
            if conn.exec_driver_sql("SELECT count(*) FROM rounds").scalar():
                return
        time.sleep(0.5)
    raise SystemExit("the service did not seed the register")


def database_for(args: argparse.Namespace) -> str:
    """The database URL to measure: --database, or a fresh SQLite file in the work directory."""
    if args.database:
        return str(args.database)
    return f"sqlite:///{Path(tempfile.mkdtemp(prefix='bench-verification-')) / 'verification.db'}"


# ------------------------------------------------------------------ load


async def verifier(
    base: str, token: str, code: str, until: float, log: dict[str, Any], rng: random.Random
) -> None:
    """One operator: read a page of the village, then every ~2 s change one family's status."""
    headers = {"Authorization": f"Bearer {token}"}
    async with httpx.AsyncClient(base_url=base, headers=headers, timeout=30) as client:
        await asyncio.sleep(rng.uniform(0, 2))
        page = None
        while time.monotonic() < until:
            started = time.perf_counter()
            try:
                if page is None or rng.random() < 0.1:
                    answer = await client.get(
                        f"/verification/villages/{code}/families",
                        params={"limit": 25, "offset": rng.randrange(0, 75)},
                    )
                    log["read"].append(time.perf_counter() - started)
                    if answer.status_code != 200:
                        log["errors"].append(f"GET {answer.status_code}")
                        page = None
                    else:
                        page = answer.json()["families"]
                    started = time.perf_counter()
                if page:
                    family = rng.choice(page)
                    status = rng.choice(STATUSES)
                    body = {
                        "status": status,
                        "version": family["version"],
                        "reason": None if status == "valid" else "benchmark",
                    }
                    answer = await client.patch(f"/verification/families/{family['id']}", json=body)
                    log["write"].append(time.perf_counter() - started)
                    if answer.status_code == 200:
                        fresh = answer.json()
                        log["done"][fresh["id"]].append((fresh["version"], fresh["status"]))
                        page = [fresh if f["id"] == fresh["id"] else f for f in page]
                    elif answer.status_code == 409:
                        log["conflicts"] += 1
                        current = answer.json().get("current")
                        page = [current if f["id"] == family["id"] and current else f for f in page]
                    else:
                        log["errors"].append(f"PATCH {answer.status_code} {answer.text[:100]}")
            except httpx.HTTPError as exc:
                log["errors"].append(f"{exc.__class__.__name__}")
            await asyncio.sleep(max(0.0, 2.0 + rng.uniform(-0.3, 0.3) - (time.perf_counter() - started)))


def bench_load(args: argparse.Namespace) -> dict[str, Any]:
    """Concurrent operators' reads and status changes against one database."""
    url = database_for(args)
    db = Database.open(url)
    with server(args.store, url, args.key_file) as base:
        wait_seeded(db)
        with db.read() as conn:
            codes = [
                r[0]
                for r in conn.exec_driver_sql(
                    "SELECT village_code FROM families GROUP BY village_code"
                    " HAVING count(*) >= 100 ORDER BY village_code"
                )
            ]
        villages = codes[: (args.verifiers + 1) // 2]
        tokens = []
        for i in range(args.verifiers):
            code = villages[i // 2]
            name = f"bench-{i:02d}"
            accounts.create_account(db, name, "desa", code, PASSWORD, cli_actor())
            tokens.append((accounts.issue_token(db, name, cli_actor()), code))
        log: dict[str, Any] = {
            "read": [],
            "write": [],
            "errors": [],
            "conflicts": 0,
            "done": defaultdict(list),
        }
        until = time.monotonic() + args.seconds
        rng = random.Random(19)

        async def run() -> None:
            await asyncio.gather(
                *(verifier(base, t, c, until, log, random.Random(rng.random())) for t, c in tokens)
            )

        started = time.monotonic()
        asyncio.run(run())
        elapsed = time.monotonic() - started
    lost = lost_updates(db, log["done"])
    check = audit.verify(db)
    db.dispose()
    return {
        "database": db.dialect,
        "load_average": os.getloadavg(),
        "verifiers": args.verifiers,
        "seconds": round(elapsed),
        "changes": len(log["write"]),
        "changes_per_s": round(len(log["write"]) / elapsed, 1),
        "write_ms": quantiles(log["write"]),
        "read_ms": quantiles(log["read"]),
        "conflicts_409": log["conflicts"],
        "errors": len(log["errors"]),
        "error_kinds": sorted(set(log["errors"]))[:5],
        "lost_updates": lost,
        "audit": check.summary(),
    }


def lost_updates(db: Database, done: dict[int, list[tuple[int, str]]]) -> int:
    """Families whose final version or status is not what the successful changes say it must be.

    Each successful change that changed something made exactly one new version (a change to the
    status the family already had answers its current version: no new one). So the versions the
    verifiers were answered, without repeats, run without a gap from 2, the family's version is the
    highest of them, and its status the one that version was answered with.
    """
    lost = 0
    with db.read() as conn:
        rows = {r[0]: (r[1], r[2]) for r in conn.exec_driver_sql("SELECT id, version, status FROM families")}
    for family_id, changes in done.items():
        answered = dict(changes)  # version -> status (a repeated version is a no-op change)
        versions = sorted(answered)
        version, status = rows[family_id]
        if (
            versions != list(range(2, versions[-1] + 1))
            or version != versions[-1]
            or status != answered[version]
        ):
            lost += 1
    return lost


# ------------------------------------------------------------------ sheet


def bench_sheet(args: argparse.Namespace) -> dict[str, Any]:
    """An offline sheet written, filled and uploaded for the largest villages."""
    url = database_for(args)
    db = Database.open(url)
    timings = []
    with server(args.store, url, args.key_file, workers=1) as base:
        wait_seeded(db)
        with db.read() as conn:
            code = conn.exec_driver_sql(
                "SELECT village_code FROM families GROUP BY village_code"
                " HAVING count(*) >= 500 ORDER BY count(*) LIMIT 1"
            ).scalar()
        if code is None:
            raise SystemExit("no village of the store has 500 families")
        accounts.create_account(db, "bench-sheet", "desa", code, PASSWORD, cli_actor())
        headers = {"Authorization": f"Bearer {accounts.issue_token(db, 'bench-sheet', cli_actor())}"}
        for round_number in range(args.repeat):
            got = httpx.get(f"{base}/verification/villages/{code}/sheet", headers=headers, timeout=300)
            if got.status_code != 200:
                raise SystemExit(f"the sheet of {code}: HTTP {got.status_code}: {got.text[:300]}")
            book = load_workbook(io.BytesIO(got.content))
            sheet = book["Keluarga"]
            header = [c.value for c in sheet[1]]
            status, reason = header.index("Status"), header.index("Alasan")
            for row in list(sheet.iter_rows(min_row=2))[:500]:
                row[status].value = "valid" if round_number % 2 == 0 else "tidak_ditemukan"
                row[reason].value = None if round_number % 2 == 0 else "benchmark"
            sink = io.BytesIO()
            book.save(sink)
            started = time.perf_counter()
            answer = httpx.post(
                f"{base}/verification/villages/{code}/sheet",
                content=sink.getvalue(),
                headers=headers | {"Content-Type": XLSX},
                timeout=300,
            )
            timings.append(time.perf_counter() - started)
            assert answer.status_code == 200 and answer.json()["applied"] == 500, answer.text[:300]
    db.dispose()
    return {
        "database": db.dialect,
        "rows": 500,
        "seconds": [round(t, 3) for t in timings],
        "median_s": round(statistics.median(timings), 3),
    }


# ------------------------------------------------------------------ page on 1,000,000 families


def synthetic_register(families: int, villages: int, seed: int = 1) -> tuple[pd.DataFrame, pd.DataFrame]:
    """A register of ``families`` in ``villages`` (canonical columns; every value plausible)."""
    rng = np.random.default_rng(seed)
    codes = np.array(
        [f"62{1 + v // 400:02d}{10 + (v // 20) % 20:03d}{1 + v % 20:03d}" for v in range(villages)]
    )
    village_of = np.sort(rng.integers(0, villages, families))
    ids = np.arange(families)
    surnames = np.array(["Sintetis", "Contoh", "Tiruan", "Rekaan", "Khayalan"])
    frame = pd.DataFrame(
        {
            "family_id": [f"BENCH-{i:07d}" for i in ids],
            "nik": [
                f"{codes[v][:6]}0101{85 + i % 10:02d}{i % 9000 + 1:04d}"
                for i, v in zip(ids, village_of, strict=True)
            ],
            "head_name": [f"Kepala {surnames[i % 5]} {i}" for i in ids],
            "address": [f"RT {i % 20 + 1:02d} Dusun {i % 7} (sintetis)" for i in ids],
            "village_code": codes[village_of],
            "year": 2024,
            "decile": rng.integers(1, 11, families),
            "members": rng.integers(1, 9, families),
            "elderly": rng.integers(0, 2, families),
            "disabled": 0,
            "female_head": rng.random(families) < 0.2,
        }
    )
    table = pd.DataFrame(
        {
            "village_code": codes,
            "village_name": [f"Desa Bench {c}" for c in codes],
            "kecamatan_code": [c[:7] for c in codes],
            "kecamatan_name": [f"Kec {c[:7]}" for c in codes],
            "kabupaten_code": [c[:4] for c in codes],
            "kabupaten_name": [f"Kab {c[:4]}" for c in codes],
        }
    )
    return frame, table


def bench_page(args: argparse.Namespace) -> dict[str, Any]:
    """The desa page's families of one large village, signed in."""
    from layers.verification.crypto import FieldCipher
    from layers.verification.rounds import seed_round

    url = database_for(args)
    db = Database.open(url)
    frame, table = synthetic_register(args.families, args.villages)

    class Key:
        secret = b"b" * 32

    started = time.perf_counter()
    seed_round(db, FieldCipher(Key()), frame, table, {"store": "bench", "synthetic": True}, cli_actor())
    seeded_s = time.perf_counter() - started
    accounts.create_account(db, "bench-prov", "provinsi", "62", PASSWORD, cli_actor())
    token = accounts.issue_token(db, "bench-prov", cli_actor())
    codes = table["village_code"].tolist()
    rng = random.Random(7)
    plain, search = [], []
    # The service reads pages with the key of the round: here the benchmark's own key, given as env.
    import base64

    key_file = Path(tempfile.mkdtemp()) / "bench.key"
    key_file.write_text(base64.b64encode(Key.secret).decode())
    with server(args.store, url, key_file, workers=1) as base:
        headers = {"Authorization": f"Bearer {token}"}
        with httpx.Client(base_url=base, headers=headers, timeout=60) as client:
            for i in range(args.requests + 20):
                code = rng.choice(codes)
                t = time.perf_counter()
                answer = client.get(f"/verification/villages/{code}/families", params={"limit": 25})
                if i >= 20:  # warm-up
                    plain.append(time.perf_counter() - t)
                assert answer.status_code == 200, answer.text[:200]
                t = time.perf_counter()
                answer = client.get(
                    f"/verification/villages/{code}/families", params={"q": "tiruan", "limit": 25}
                )
                if i >= 20:
                    search.append(time.perf_counter() - t)
    db.dispose()
    per_village = frame.groupby("village_code").size()
    return {
        "database": db.dialect,
        "families": len(frame),
        "villages": len(table),
        "families_per_village": {"median": int(per_village.median()), "max": int(per_village.max())},
        "seed_s": round(seeded_s, 1),
        "page_ms": quantiles(plain),
        "search_ms": quantiles(search),
    }


def main() -> None:
    """Run one measurement and print its figures as JSON."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("what", choices=["load", "sheet", "page"])
    parser.add_argument("--store", type=Path, required=True)
    parser.add_argument("--key-file", type=Path)
    parser.add_argument("--database")
    parser.add_argument("--verifiers", type=int, default=50)
    parser.add_argument("--seconds", type=float, default=300)
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--families", type=int, default=1_000_000)
    parser.add_argument("--villages", type=int, default=1_600)
    parser.add_argument("--requests", type=int, default=300)
    args = parser.parse_args()
    result = {"load": bench_load, "sheet": bench_sheet, "page": bench_page}[args.what](args)
    import json

    print(json.dumps(result, indent=1))


if __name__ == "__main__":
    main()
