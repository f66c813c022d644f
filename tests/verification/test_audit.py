"""The audit log: appended in order by concurrent writers, refused UPDATE and DELETE, and every
direct alteration, removal, insertion or reordering of its rows found by `verify`, on SQLite and
PostgreSQL."""

from __future__ import annotations

import threading

import pytest
from sqlalchemy import text
from sqlalchemy.exc import DBAPIError

from layers.verification import audit
from layers.verification.audit import GENESIS, Event, entry_hash
from layers.verification.db import Database


def _events(n: int) -> list[Event]:
    return [
        Event(
            actor=f"user{i}",
            role="desa",
            action="family.status",
            record=f"family:{i}",
            region="6201012001",
            field="status",
            old="belum",
            new="valid",
            reason=f"checked {i}",
        )
        for i in range(1, n + 1)
    ]


def _fill(db: Database, n: int = 6) -> None:
    for event in _events(n):
        audit.record(db, event)


def _untriggered(db: Database, *statements: str) -> None:
    """Run statements on audit_log directly, as someone with the database's owner rights could."""
    with db.engine.connect() as conn, conn.begin():
        if db.is_sqlite:
            conn.execute(text("DROP TRIGGER audit_log_no_update"))
            conn.execute(text("DROP TRIGGER audit_log_no_delete"))
        else:
            conn.execute(text("ALTER TABLE audit_log DISABLE TRIGGER USER"))
        for statement in statements:
            conn.execute(text(statement))


def test_an_untouched_chain_verifies(db: Database) -> None:
    empty = audit.verify(db)
    assert empty.ok and empty.entries == 0 and empty.head_hash == GENESIS
    _fill(db)
    check = audit.verify(db)
    assert check.ok and check.entries == 6 and check.head_seq == 6
    with db.read() as conn:
        rows = audit.entries(conn, limit=10)
    assert [e.seq for e in rows] == [6, 5, 4, 3, 2, 1]
    assert rows[-1].prev_hash == GENESIS and rows[0].hash == check.head_hash
    assert rows[0].hash == entry_hash(6, rows[0].as_dict(), rows[0].prev_hash)


def test_append_and_change_commit_together_or_not_at_all(db: Database) -> None:
    with pytest.raises(RuntimeError), db.write() as conn:
        audit.append(conn, _events(3))
        raise RuntimeError("the change failed")
    assert audit.verify(db).entries == 0
    with db.write() as conn:
        assert audit.append(conn, _events(3)) == [1, 2, 3]
    assert audit.verify(db).ok


def test_the_database_refuses_update_and_delete(db: Database) -> None:
    _fill(db, 2)
    for statement in (
        "UPDATE audit_log SET reason = 'x' WHERE seq = 1",
        "DELETE FROM audit_log WHERE seq = 2",
    ):
        with pytest.raises(DBAPIError, match="append-only"), db.engine.connect() as conn, conn.begin():
            conn.execute(text(statement))
    if not db.is_sqlite:
        with pytest.raises(DBAPIError, match="append-only"), db.engine.connect() as conn, conn.begin():
            conn.execute(text("TRUNCATE audit_log"))
    assert audit.verify(db).ok


@pytest.mark.parametrize(
    ("statements", "broken", "words"),
    [
        (["UPDATE audit_log SET reason = 'nothing happened' WHERE seq = 3"], 3, "does not match its hash"),
        (["UPDATE audit_log SET new = 'meninggal' WHERE seq = 1"], 1, "does not match its hash"),
        (["DELETE FROM audit_log WHERE seq = 3"], 3, "entry 3 is missing"),
        (["DELETE FROM audit_log WHERE seq IN (3, 4)"], 3, "entries 3–4 are missing"),
        (["DELETE FROM audit_log WHERE seq = 6"], 6, "missing (removed from the end)"),
        (["DELETE FROM audit_log WHERE seq = 1"], 1, "entry 1 is missing"),
        # reordered: two rows swap their numbers
        (
            [
                "UPDATE audit_log SET seq = -2 WHERE seq = 2",
                "UPDATE audit_log SET seq = 2 WHERE seq = 3",
                "UPDATE audit_log SET seq = 3 WHERE seq = -2",
            ],
            2,
            "link to entry 1 is wrong",
        ),
        # an entry inserted with a plausible number shifts the rest
        (
            [
                "UPDATE audit_log SET seq = seq + 100 WHERE seq >= 4",
                "UPDATE audit_log SET seq = seq - 99 WHERE seq >= 104",
                "INSERT INTO audit_log (seq, at, actor, role, action, record, prev_hash, hash) "
                "SELECT 4, at, 'intruder', 'desa', 'family.status', 'family:9', hash, hash "
                "FROM audit_log WHERE seq = 3",
            ],
            4,
            "does not match its hash",
        ),
    ],
    ids=[
        "altered",
        "altered-first",
        "removed",
        "removed-two",
        "removed-last",
        "removed-first",
        "reordered",
        "inserted",
    ],
)
def test_verify_names_the_first_broken_entry(
    db: Database, statements: list[str], broken: int, words: str
) -> None:
    _fill(db)
    _untriggered(db, *statements)
    check = audit.verify(db)
    assert not check.ok
    assert check.broken_seq == broken, check.summary()
    assert words in (check.problem or ""), check.summary()


def test_an_alteration_with_its_hash_recomputed_breaks_the_next_link(db: Database) -> None:
    _fill(db)
    with db.read() as conn:
        row = conn.execute(text("SELECT * FROM audit_log WHERE seq = 3")).mappings().one()
    forged = dict(row) | {"new": "meninggal"}
    digest = entry_hash(3, forged, forged["prev_hash"])
    _untriggered(db, f"UPDATE audit_log SET new = 'meninggal', hash = '{digest}' WHERE seq = 3")
    check = audit.verify(db)
    assert not check.ok and check.broken_seq == 4 and "link to entry 3" in (check.problem or "")


def test_concurrent_writers_chain_one_after_the_other(db: Database) -> None:
    errors: list[BaseException] = []

    def work(worker: int) -> None:
        try:
            for i in range(15):
                audit.record(db, Event(actor=f"w{worker}", role="desa", action="test", record=f"family:{i}"))
        except BaseException as exc:  # noqa: BLE001 - reported below
            errors.append(exc)

    threads = [threading.Thread(target=work, args=(w,)) for w in range(6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    check = audit.verify(db)
    assert check.ok and check.entries == 90 and check.head_seq == 90


def test_long_values_are_clipped_not_refused(db: Database) -> None:
    audit.record(db, Event(actor="a", role="desa", action="test", record="x", reason="r" * 10_000))
    with db.read() as conn:
        (entry,) = audit.entries(conn)
    assert entry.reason is not None and len(entry.reason) == audit.MAX_TEXT
    assert audit.verify(db).ok
