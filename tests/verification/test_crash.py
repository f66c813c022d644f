"""A server killed in the middle of an upload leaves the database as it was before the upload.

The real service runs under uvicorn; a desa operator uploads a sheet that changes every family of
the village (hundreds of updates and audit entries in one transaction). While that transaction is
open (seen from outside: SQLite's write lock held, or PostgreSQL holding a row lock on
``families``), the server is killed with SIGKILL. Then every family is as before, the audit log
holds exactly the entries it held before and its chain is intact, on SQLite and PostgreSQL.
"""

from __future__ import annotations

import io
import sqlite3
import threading
import time
from pathlib import Path
from typing import Any

import httpx
import pytest
from openpyxl import load_workbook
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url

from layers.verification import accounts, audit
from layers.verification.audit import cli_actor
from layers.verification.db import Database, normalise_url
from tests.conftest import running_service
from tests.verification.conftest import BACKENDS, fresh_database_url

XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
#: Polls (every ~2 ms) that must see the write open before the kill: a lock held that long is the
#: upload's transaction, not a token's "last used" touch.
HELD_POLLS = 3


def _state(db: Database, code: str) -> tuple[list[Any], int, str]:
    """The village's families (id, status, version, changes) and the audit log's length and head."""
    with db.read() as conn:
        rows = conn.execute(
            text("SELECT id, status, version, changes FROM families WHERE village_code = :c ORDER BY id"),
            {"c": code},
        ).all()
        seq, digest = audit.head(conn)
    return [tuple(r) for r in rows], seq, digest


class WriteWatch:
    """Sees, from outside the server, whether a write transaction touching the families is open."""

    def __init__(self, url: str):
        self.url = normalise_url(url)
        parsed = make_url(self.url)
        if parsed.get_backend_name() == "sqlite":
            self.sqlite = sqlite3.connect(parsed.database, timeout=0, isolation_level=None)
            self.engine = None
        else:
            self.sqlite = None
            options = parsed.query.get("options", "")
            self.schema = str(options).split("search_path=")[-1]
            self.engine = create_engine(self.url, isolation_level="AUTOCOMMIT")

    def open(self) -> bool:
        """Whether a writer holds the families (SQLite: the write lock; PostgreSQL: a row lock)."""
        if self.sqlite is not None:
            try:
                self.sqlite.execute("BEGIN IMMEDIATE")
            except sqlite3.OperationalError:
                return True
            self.sqlite.execute("ROLLBACK")
            return False
        assert self.engine is not None
        with self.engine.connect() as conn:
            found = conn.execute(
                text(
                    "SELECT count(*) FROM pg_locks l JOIN pg_class c ON c.oid = l.relation "
                    "JOIN pg_namespace n ON n.oid = c.relnamespace WHERE c.relname = 'families' "
                    "AND n.nspname = :schema AND l.mode = 'RowExclusiveLock' AND l.pid <> pg_backend_pid()"
                ),
                {"schema": self.schema},
            ).scalar_one()
        return bool(found)

    def close(self) -> None:
        """Release the watcher's connection."""
        if self.sqlite is not None:
            self.sqlite.close()
        if self.engine is not None:
            self.engine.dispose()


def _everything_valid(content: bytes) -> bytes:
    book = load_workbook(io.BytesIO(content))
    sheet = book["Keluarga"]
    status = [c.value for c in sheet[1]].index("Status")
    for row in sheet.iter_rows(min_row=2):
        row[status].value = "valid"
    sink = io.BytesIO()
    book.save(sink)
    return sink.getvalue()


@pytest.mark.parametrize("backend", BACKENDS)
def test_a_server_killed_mid_upload_leaves_the_database_as_it_was(
    backend: str, store_dir: Path, register_key_file: Path, tmp_path: Path
) -> None:
    for url in fresh_database_url(backend, tmp_path):
        db = Database.open(url)
        env = {"SASARAN_DATABASE_URL": url, "SASARAN_REGISTER_KEY_FILE": str(register_key_file)}
        try:
            with running_service(store_dir, tmp_path / "uvicorn.log", env=env) as (base, proc):
                code = _largest_village(db)
                accounts.create_account(db, "operator", "desa", code, "kopi-tubruk-2024", cli_actor())
                token = accounts.issue_token(db, "operator", cli_actor())
                headers = {"Authorization": f"Bearer {token}"}
                sheet = httpx.get(f"{base}/verification/villages/{code}/sheet", headers=headers, timeout=120)
                assert sheet.status_code == 200
                body = _everything_valid(sheet.content)
                # touch the token now, so its "last used" write is not inside the watched window
                assert httpx.get(f"{base}/verification/me", headers=headers, timeout=60).status_code == 200
                before = _state(db, code)
                killed = _upload_and_kill(base, code, body, headers, proc, WriteWatch(url))
            assert killed, "the upload's transaction was never seen open: nothing was tested"
            after = _state(db, code)
            assert after == before
            check = audit.verify(db)
            assert check.ok and check.head_seq == before[1]
            # the same upload, left to finish, changes every family: the killed one was a real write
            with running_service(store_dir, tmp_path / "uvicorn-again.log", env=env) as (base, _):
                done = httpx.post(
                    f"{base}/verification/villages/{code}/sheet",
                    content=body,
                    headers=headers | {"Content-Type": XLSX},
                    timeout=600,
                )
            assert done.status_code == 200 and done.json()["applied"] == len(before[0])
            assert audit.verify(db).ok
        finally:
            db.dispose()


def _largest_village(db: Database) -> str:
    """The village with the most families, once the service has seeded the register."""
    deadline = time.monotonic() + 300
    while time.monotonic() < deadline:
        with db.read() as conn:
            row = conn.execute(
                text("SELECT village_code FROM families GROUP BY village_code ORDER BY count(*) DESC LIMIT 1")
            ).first()
        if row is not None:
            return str(row[0])
        time.sleep(0.5)
    raise AssertionError("the service never seeded the register")


def _upload_and_kill(
    base: str, code: str, body: bytes, headers: dict[str, str], proc: Any, watch: WriteWatch
) -> bool:
    """Upload in a thread; SIGKILL the server once its write has been open for `HELD_POLLS` polls."""
    outcome: dict[str, Any] = {}

    def upload() -> None:
        try:
            outcome["answer"] = httpx.post(
                f"{base}/verification/villages/{code}/sheet",
                content=body,
                headers=headers | {"Content-Type": XLSX},
                timeout=300,
            )
        except httpx.HTTPError as exc:
            outcome["error"] = exc

    thread = threading.Thread(target=upload)
    thread.start()
    held = 0
    killed = False
    try:
        while thread.is_alive() and not killed:
            held = held + 1 if watch.open() else 0
            if held >= HELD_POLLS:
                proc.kill()
                proc.wait(timeout=30)
                killed = True
            time.sleep(0.002)
    finally:
        thread.join(timeout=60)
        watch.close()
    assert "answer" not in outcome or not killed, "the upload finished before the kill"
    return killed
