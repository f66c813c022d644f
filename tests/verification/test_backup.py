"""Backups and restores between SQLite and PostgreSQL: every row, the audit chain intact."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy import text

from layers.verification import accounts, audit, backup, workflow
from layers.verification.accounts import Caller
from layers.verification.audit import cli_actor
from layers.verification.db import Database
from layers.verification.errors import DatabaseError
from tests.verification.conftest import BACKENDS, VILLAGES, fresh_database_url

A = VILLAGES["village_code"][0]


@pytest.mark.parametrize("target_backend", BACKENDS)
def test_a_backup_restores_into_an_empty_database_with_its_chain(
    seeded, tmp_path: Path, target_backend: str
) -> None:
    db, cipher, _ = seeded
    desa = Caller(
        accounts.create_account(db, "desa-a", "desa", A, "kopi-tubruk-2024", cli_actor()), 0, "token"
    )
    family = workflow.families_page(db, cipher, desa, A, limit=1)["families"][0]
    workflow.change_family(db, cipher, desa, family["id"], status="valid", version=1)
    made = backup.backup(db, tmp_path / "copy.db", cli_actor())
    assert (
        made.rows["families"] == 24
        and made.rows["accounts"] == 1
        and made.rows["audit_log"] == made.audit_entries
    )
    assert not list(tmp_path.glob(".copy*"))  # nothing half-written left beside it
    target_dir = tmp_path / "target"
    target_dir.mkdir()
    for url in fresh_database_url(target_backend, target_dir):
        target = Database.open(url)
        try:
            restored = backup.restore(tmp_path / "copy.db", target, cli_actor())
            assert restored.rows["families"] == 24 and restored.audit_entries == made.audit_entries + 1
            assert audit.verify(target).ok
            # the restored database works: its sequences continue after the copied ids
            again = accounts.create_account(
                target, "desa-b", "desa", VILLAGES["village_code"][1], "kopi-tubruk-2024", cli_actor()
            )
            assert again.id == 2
            copy = workflow.get_family(target, cipher, desa, family["id"])
            assert copy["status"] == "valid" and copy["head_name"] == family["head_name"]
            with pytest.raises(DatabaseError, match="not empty"):
                backup.restore(tmp_path / "copy.db", target, cli_actor())
        finally:
            target.dispose()


def test_no_backup_over_a_broken_chain(seeded, tmp_path: Path) -> None:
    db, _, _ = seeded
    with db.engine.connect() as conn, conn.begin():
        if db.is_sqlite:
            conn.execute(text("DROP TRIGGER audit_log_no_update"))
        else:
            conn.execute(text("ALTER TABLE audit_log DISABLE TRIGGER USER"))
        conn.execute(text("UPDATE audit_log SET reason = 'x' WHERE seq = 1"))
    with pytest.raises(DatabaseError, match="broken"):
        backup.backup(db, tmp_path / "copy.db", cli_actor())
    assert not (tmp_path / "copy.db").exists()
