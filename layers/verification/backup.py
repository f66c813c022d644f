"""Backups of the verification database, and restoring one.

``sasaran backup`` writes a single SQLite file, whatever the database is: SQLite is copied with its
online backup API (a consistent copy while the service runs); PostgreSQL is read in one
``REPEATABLE READ`` transaction (a consistent view) and its rows written into a new SQLite file with
the same schema. The file is written under a temporary name and renamed when complete, and its
audit chain is verified before it is kept. Personal fields stay sealed in it (the register key is
needed to read them, and is not in the file).

``sasaran restore FILE --database URL`` copies such a file into an empty database (SQLite or
PostgreSQL) and checks that the restored chain ends where the backup's did.
"""

from __future__ import annotations

import sqlite3
from dataclasses import dataclass
from pathlib import Path

from sqlalchemy import Connection, func, insert, select, text, update

from layers.atomic import atomic_path
from layers.verification import audit
from layers.verification.audit import Actor
from layers.verification.db import Database, redacted
from layers.verification.errors import DatabaseError
from layers.verification.tables import accounts, audit_head, metadata

#: Rows copied per statement.
BATCH = 5_000
#: Tables whose ``id`` a PostgreSQL sequence numbers (reset after a restore).
SERIAL_TABLES = ("accounts", "credentials", "signin_failures", "rounds", "villages", "families", "snapshots")


@dataclass(frozen=True)
class BackupReport:
    """What a backup or restore wrote."""

    path: str
    rows: dict[str, int]
    audit_entries: int
    head_hash: str

    def summary(self) -> str:
        """One line for a person."""
        total = sum(self.rows.values())
        return (
            f"{self.path}: {total} rows in {len(self.rows)} tables; audit chain intact, "
            f"{self.audit_entries} entries, head {self.head_hash[:16]}"
        )


def backup(db: Database, out: Path, by: Actor) -> BackupReport:
    """Write a consistent copy of ``db`` to the SQLite file ``out`` (replaced only when complete).

    Parameters
    ----------
    db
        The database (SQLite or PostgreSQL).
    out
        The backup file.
    by
        Who asks (audited as ``backup`` in ``db`` before the copy, so the copy holds it).

    Returns
    -------
    BackupReport
        Rows per table and the copied chain's head.
    """
    check = audit.verify(db)
    if not check.ok:
        raise DatabaseError(f"the audit chain is broken; not backing up over it: {check.summary()}")
    audit.record(db, by.event("backup", "database", region=None, reason=f"to {Path(out).name}"))
    out = Path(out)
    with atomic_path(out) as tmp:
        if db.is_sqlite:
            source_path = db.engine.url.database
            assert source_path is not None
            with sqlite3.connect(source_path) as source, sqlite3.connect(tmp) as target:
                source.backup(target)
            target_db = Database.open(f"sqlite:///{tmp}")
        else:
            target_db = Database.open(f"sqlite:///{tmp}")
            with db.read() as conn:
                _copy(conn, target_db)
        try:
            report = _report(target_db, str(out))
        finally:
            target_db.dispose()
    return report


def restore(source_file: Path, target: Database, by: Actor) -> BackupReport:
    """Copy a backup file into ``target``, which must be empty (no account, no audit entry).

    Parameters
    ----------
    source_file
        A file written by `backup`.
    target
        The database to fill (migrated already by `Database.open`).
    by
        Who restores (audited in the restored database, after the copied entries).

    Returns
    -------
    BackupReport
        Rows per table and the restored chain's head.
    """
    if not Path(source_file).is_file():
        raise DatabaseError(f"{source_file}: no such backup file")
    with target.read() as conn:
        if conn.execute(select(func.count()).select_from(accounts)).scalar_one() or audit.count(conn):
            raise DatabaseError(f"{redacted(target.url)} is not empty: restore into a new, empty database")
    source = Database.open(f"sqlite:///{Path(source_file).absolute()}")
    try:
        expected = audit.verify(source)
        if not expected.ok:
            raise DatabaseError(f"{source_file}: the backup's audit chain is broken: {expected.summary()}")
        with source.read() as conn:
            _copy(conn, target)
    finally:
        source.dispose()
    restored = audit.verify(target)
    if not restored.ok or restored.head_hash != expected.head_hash:
        raise DatabaseError(f"the restored audit chain differs from the backup's: {restored.summary()}")
    audit.record(
        target, by.event("restore", "database", region=None, reason=f"from {Path(source_file).name}")
    )
    return _report(target, redacted(target.url))


def _copy(source: Connection, target: Database) -> None:
    """Every table's rows from ``source`` into ``target`` (same schema), in one write transaction."""
    with target.write() as conn:
        for table in metadata.sorted_tables:
            if table.name == "audit_head":
                continue
            key = list(table.primary_key.columns)
            result = source.execution_options(yield_per=BATCH).execute(select(table).order_by(*key))
            for part in result.mappings().partitions(BATCH):
                conn.execute(insert(table), [dict(row) for row in part])
        seq, digest = source.execute(
            select(audit_head.c.seq, audit_head.c.hash).where(audit_head.c.id == 1)
        ).one()
        conn.execute(update(audit_head).where(audit_head.c.id == 1).values(seq=seq, hash=digest))
        if not target.is_sqlite:
            for name in SERIAL_TABLES:
                sequence = f"pg_get_serial_sequence('{name}', 'id')"
                conn.execute(text(f"SELECT setval({sequence}, COALESCE(MAX(id), 0) + 1, false) FROM {name}"))


def _report(db: Database, path: str) -> BackupReport:
    check = audit.verify(db)
    if not check.ok:
        raise DatabaseError(f"the copy's audit chain is broken: {check.summary()}")
    with db.read() as conn:
        rows = {
            t.name: int(conn.execute(select(func.count()).select_from(t)).scalar_one())
            for t in metadata.sorted_tables
        }
    return BackupReport(path=path, rows=rows, audit_entries=check.entries, head_hash=check.head_hash)
