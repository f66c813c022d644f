"""The migrations: from the first schema to the last, data kept at every step; the result equal to
`layers.verification.tables`; a database newer than the code refused. On SQLite and PostgreSQL."""

from __future__ import annotations

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import text

from layers.verification import audit
from layers.verification.audit import Event
from layers.verification.db import Database, current_revision, head_revision, revisions, upgrade
from layers.verification.errors import DatabaseError
from layers.verification.tables import metadata

#: Rows written at each revision (its own tables), then checked after every later upgrade.
ROWS = {
    "0001": [
        "INSERT INTO accounts (id, name, role, region, password_hash, disabled, created_at, created_by, "
        "updated_at) VALUES (1, 'ani', 'desa', '6201012001', '$argon2id$x', false, 't', 'cli', 't')",
        "INSERT INTO credentials (id, secret_hash, account_id, kind, created_at, expires_at) "
        "VALUES (1, 'h', 1, 'token', 't', 't2')",
        "INSERT INTO signin_failures (id, account_name, address, at) VALUES (1, 'x', '10.0.0.1', 't')",
    ],
    "0002": [
        "INSERT INTO rounds (id, number, state, year, key_id, source, families, villages, started_at, "
        "started_by) VALUES (1, 1, 'active', 2024, 'k', '{}', 1, 1, 't', 'cli')",
        "INSERT INTO villages (id, round_id, code, name, kecamatan_code, kecamatan_name, kabupaten_code, "
        "kabupaten_name, state, counts, version, updated_at, updated_by) VALUES "
        "(1, 1, '6201012001', 'Satu', '6201012', 'K', '6201', 'B', 'terbuka', '{}', 1, 't', 'cli')",
        "INSERT INTO families (id, round_id, village_code, origin, family_key, nik_key, personal, decile, "
        "members, attributes, status, version, updated_at, updated_by) "
        "VALUES (1, 1, '6201012001', 'register', 'fk', 'nk', 'v1:x', 2, 4, '{}', 'belum', 1, 't', 'cli')",
    ],
    "0003": [
        "INSERT INTO snapshots (id, round_id, year, taken_at, taken_by, audit_seq, audit_hash, "
        "families, verified_villages) VALUES (1, 1, 2024, 't', 'cli', 1, 'h', 1, '[]')",
        "INSERT INTO snapshot_families (snapshot_id, family_key, village_code, verified, origin, status, "
        "decile, members, attributes, personal) "
        "VALUES (1, 'fk', '6201012001', false, 'register', 'belum', 2, 4, '{}', 'v1:y')",
    ],
}
TABLES = {
    "0001": ["accounts", "credentials", "signin_failures"],
    "0002": ["rounds", "villages", "families"],
    "0003": ["snapshots", "snapshot_families"],
}


def test_every_revision_has_its_rows_and_tables_listed() -> None:
    assert revisions() == list(ROWS) == list(TABLES)
    assert head_revision() == revisions()[-1]


def test_upgrading_step_by_step_keeps_every_row(database_url: str) -> None:
    db = Database.open(database_url, migrate=False)
    try:
        written: list[str] = []
        for revision in revisions():
            upgrade(db, revision)
            with db.engine.connect() as conn:
                assert current_revision(conn) == revision
            with db.engine.begin() as conn:
                for statement in ROWS[revision]:
                    conn.execute(text(statement))
            # an audit entry at every step, chained across the upgrades
            audit.record(db, Event(actor="cli", role="cli", action="test", record=f"revision:{revision}"))
            written += TABLES[revision]
            with db.engine.connect() as conn:
                for table in written:
                    assert conn.execute(text(f"SELECT count(*) FROM {table}")).scalar_one() >= 1, (
                        revision,
                        table,
                    )
        check = audit.verify(db)
        assert check.ok and check.entries == len(revisions())
    finally:
        db.dispose()


def test_the_migrated_schema_is_the_tables_module(database_url: str) -> None:
    db = Database.open(database_url)
    try:
        with db.engine.connect() as conn:
            diff = compare_metadata(MigrationContext.configure(conn, opts={"compare_type": True}), metadata)
        assert diff == []
    finally:
        db.dispose()


def test_opening_twice_is_a_no_op_and_a_newer_schema_is_refused(database_url: str) -> None:
    Database.open(database_url).dispose()
    db = Database.open(database_url)
    with db.engine.begin() as conn:
        conn.execute(text("UPDATE alembic_version SET version_num = '9999'"))
    db.dispose()
    with pytest.raises(DatabaseError, match="newer than this Sasaran"):
        Database.open(database_url)
