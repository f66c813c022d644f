"""Snapshots: the verified register at one moment, for the next build and for year-on-year.

A snapshot (`take_snapshot`) holds, for every village of the active round:

* an **approved** village's families that stay in the register (``valid``, ``diperbaiki``,
  ``usulan_baru``), as they are now: corrections laid over the register's values; families that
  moved, died, were not found, are no longer eligible or were duplicates are left out;
* any other village's families as the round's register had them (not yet verified).

It records its time and its place in the audit log (the ``snapshot.take`` entry's number and
hash), which ``sasaran build`` writes into the store's manifest: a published figure can be traced
to the exact state of verification it used, and ``sasaran audit verify --store`` checks that the
log still holds that entry unchanged.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import asdict, dataclass
from typing import Any

import pandas as pd
from sqlalchemy import Connection, RowMapping, and_, insert, select, update

from layers.verification import audit
from layers.verification.audit import Actor
from layers.verification.crypto import FieldCipher
from layers.verification.db import Database
from layers.verification.errors import RecordNotFound
from layers.verification.records import (
    ATTRIBUTE_FIELDS,
    COUNT_FIELDS,
    PERSONAL_FIELDS,
    family_record,
)
from layers.verification.rounds import require_active
from layers.verification.tables import families, now, rounds, snapshot_families, snapshots, villages
from layers.verification.workflow import APPROVED, KEPT_STATUSES

#: Families read (and written) at a time while taking a snapshot.
BATCH = 5_000
#: Columns a register always has (the others only where some family has a value).
REQUIRED = ("family_id", "nik", "head_name", "address", "village_code", "decile", "members")
#: The canonical register columns a snapshot gives back, in the register's order.
REGISTER_ORDER = (
    *PERSONAL_FIELDS[:4],
    "village_code",
    "year",
    *COUNT_FIELDS,
    *(f for f in ATTRIBUTE_FIELDS if f != "year"),
    *PERSONAL_FIELDS[4:],
)


@dataclass(frozen=True)
class Snapshot:
    """A snapshot as stored."""

    id: int
    round: int
    year: int
    taken_at: str
    taken_by: str
    audit_seq: int
    audit_hash: str
    families: int
    verified_villages: list[str]
    note: str | None

    def manifest_entry(self) -> dict[str, Any]:
        """What a build records of the snapshot it used (no personal data)."""
        entry = asdict(self)
        entry["verified_villages"] = len(self.verified_villages)
        return entry


def _snapshot(row: RowMapping, number: int) -> Snapshot:
    return Snapshot(
        id=row["id"],
        round=number,
        year=row["year"],
        taken_at=row["taken_at"],
        taken_by=row["taken_by"],
        audit_seq=row["audit_seq"],
        audit_hash=row["audit_hash"],
        families=row["families"],
        verified_villages=json.loads(row["verified_villages"]),
        note=row["note"],
    )


def _bound(snapshot_id: int, family_key: str) -> str:
    return f"snapshot:{snapshot_id}:{family_key}"


def _batches(conn: Connection, round_id: int) -> Iterator[list[RowMapping]]:
    """The round's families in id order, `BATCH` at a time (keyset paging)."""
    after = 0
    while True:
        rows = list(
            conn.execute(
                select(families)
                .where(and_(families.c.round_id == round_id, families.c.id > after))
                .order_by(families.c.id)
                .limit(BATCH)
            ).mappings()
        )
        if not rows:
            return
        after = rows[-1]["id"]
        yield rows


def take_snapshot(db: Database, cipher: FieldCipher, by: Actor, note: str | None = None) -> Snapshot:
    """Snapshot the active round now (audited as ``snapshot.take``; its number and hash recorded).

    Parameters
    ----------
    db, cipher
        The database and the register key's cipher.
    by
        Who takes it (a build: the command line).
    note
        What it is for.

    Returns
    -------
    Snapshot
        The snapshot.
    """
    with db.write() as conn:
        round_ = require_active(conn)
        approved = sorted(
            conn.execute(
                select(villages.c.code).where(
                    and_(villages.c.round_id == round_.id, villages.c.state == APPROVED)
                )
            ).scalars()
        )
        stamp = now()
        snapshot_id = int(
            conn.execute(
                insert(snapshots).values(
                    round_id=round_.id,
                    year=round_.year,
                    taken_at=stamp,
                    taken_by=by.name,
                    audit_seq=0,
                    audit_hash="",
                    families=0,
                    verified_villages=json.dumps(approved),
                    note=note,
                )
            ).inserted_primary_key[0]  # type: ignore[index]
        )
        kept = 0
        done = set(approved)
        for batch in _batches(conn, round_.id):
            made = (_snapshot_row(snapshot_id, row, row["village_code"] in done, cipher) for row in batch)
            rows = [r for r in made if r is not None]
            if rows:
                conn.execute(insert(snapshot_families), rows)
                kept += len(rows)
        reason = f"{kept} families; {len(approved)} approved villages of {round_.villages}"
        (seq,) = audit.append(
            conn, by.event("snapshot.take", f"snapshot:{snapshot_id}", region=None, reason=reason)
        )
        _, digest = audit.head(conn)
        conn.execute(
            update(snapshots)
            .where(snapshots.c.id == snapshot_id)
            .values(audit_seq=seq, audit_hash=digest, families=kept)
        )
        row = conn.execute(select(snapshots).where(snapshots.c.id == snapshot_id)).mappings().one()
        return _snapshot(row, round_.number)


def _snapshot_row(
    snapshot_id: int, row: RowMapping, verified: bool, cipher: FieldCipher
) -> dict[str, Any] | None:
    if verified and row["status"] not in KEPT_STATUSES:
        return None  # moved, deceased, not found, not eligible, duplicate: out of the verified register
    if not verified and row["origin"] != "register":
        return None  # a proposal counts once its village is approved
    record = family_record(row if verified else {**row, "changes": None}, cipher)
    personal = {name: record.get(name) for name in PERSONAL_FIELDS}
    attributes = {name: record.get(name) for name in ATTRIBUTE_FIELDS}
    return {
        "snapshot_id": snapshot_id,
        "family_key": row["family_key"],
        "village_code": row["village_code"],
        "verified": verified,
        "origin": row["origin"],
        "status": row["status"],
        **{name: record.get(name) for name in COUNT_FIELDS},
        "attributes": json.dumps(attributes, separators=(",", ":")),
        "personal": cipher.seal(personal, _bound(snapshot_id, row["family_key"])),
    }


def list_snapshots(db: Database) -> list[Snapshot]:
    """Every snapshot, newest first."""
    with db.read() as conn:
        rows = conn.execute(
            select(snapshots, rounds.c.number.label("round_number"))
            .join(rounds, rounds.c.id == snapshots.c.round_id)
            .order_by(snapshots.c.id.desc())
        ).mappings()
        return [_snapshot(r, r["round_number"]) for r in rows]


def get_snapshot(db: Database, snapshot_id: int) -> Snapshot:
    """One snapshot (`RecordNotFound` if there is none with that number)."""
    for found in list_snapshots(db):
        if found.id == int(snapshot_id):
            return found
    raise RecordNotFound(f"no snapshot {int(snapshot_id)}")


def snapshot_register(db: Database, cipher: FieldCipher, snapshot_id: int) -> pd.DataFrame:
    """A snapshot's families as a register in canonical columns (what a build reads).

    Reading it is a by-name read: the caller audits it (a build records the snapshot in its
    manifest and the ``snapshot.take`` entry names it).
    """
    get_snapshot(db, snapshot_id)
    records = []
    with db.read() as conn:
        rows = conn.execute(
            select(snapshot_families)
            .where(snapshot_families.c.snapshot_id == int(snapshot_id))
            .order_by(snapshot_families.c.village_code, snapshot_families.c.family_key)
        ).mappings()
        for row in rows:
            values = cipher.open(row["personal"], _bound(int(snapshot_id), row["family_key"]))
            values |= json.loads(row["attributes"])
            values |= {name: row[name] for name in COUNT_FIELDS}
            values["village_code"] = row["village_code"]
            records.append(values)
    frame = pd.DataFrame(records, columns=list(REGISTER_ORDER))
    present = [c for c in REGISTER_ORDER if c in REQUIRED or frame[c].notna().any()]
    return frame[present]


def compare(db: Database, older: int, newer: int) -> pd.DataFrame:
    """Families added, removed, moved and with a changed decile between two snapshots, per village.

    Families are matched by their family id (through its keyed hash: nothing is decrypted), so
    snapshots of two rounds (two years) compare as long as the register keeps its family ids.

    Parameters
    ----------
    db
        The database.
    older, newer
        Snapshot numbers.

    Returns
    -------
    pandas.DataFrame
        One row per village: ``village_code``, ``families_before``, ``families_after``, ``added``,
        ``removed``, ``moved_in``, ``moved_out``, ``decile_up``, ``decile_down`` (a higher decile is
        better off), sorted by village code.
    """
    frames = []
    for which in (older, newer):
        get_snapshot(db, which)
        with db.read() as conn:
            rows = conn.execute(
                select(
                    snapshot_families.c.family_key,
                    snapshot_families.c.village_code,
                    snapshot_families.c.decile,
                ).where(snapshot_families.c.snapshot_id == int(which))
            ).all()
        frames.append(
            pd.DataFrame(rows, columns=["family_key", "village_code", "decile"]).set_index("family_key")
        )
    before, after = frames
    both = before.merge(after, left_index=True, right_index=True, suffixes=("_before", "_after"))
    moved = both[both["village_code_before"] != both["village_code_after"]]
    stayed = both[both["village_code_before"] == both["village_code_after"]]
    counts = {
        "families_before": before.groupby("village_code").size(),
        "families_after": after.groupby("village_code").size(),
        "added": after.loc[after.index.difference(before.index)].groupby("village_code").size(),
        "removed": before.loc[before.index.difference(after.index)].groupby("village_code").size(),
        "moved_in": moved.groupby("village_code_after").size(),
        "moved_out": moved.groupby("village_code_before").size(),
        "decile_up": stayed[stayed["decile_after"] > stayed["decile_before"]]
        .groupby("village_code_after")
        .size(),
        "decile_down": stayed[stayed["decile_after"] < stayed["decile_before"]]
        .groupby("village_code_after")
        .size(),
    }
    table = pd.DataFrame(counts).fillna(0).astype("int64")
    table.index.name = "village_code"
    return table.sort_index().reset_index()


@dataclass(frozen=True)
class VerifiedRegister:
    """The register a build takes from the verification database: a snapshot's families, and what the
    store's manifest records of it (``households.verification``: no personal data)."""

    frame: pd.DataFrame
    entry: dict[str, Any]

    @property
    def year(self) -> int:
        """The year of the snapshot's round (the register's year it replaces)."""
        return int(self.entry["year"])


def verified_register(
    db: Database, key: Any, by: Actor, snapshot_id: int | None = None, database: str = ""
) -> VerifiedRegister:
    """The register for a build: a new snapshot of the active round, or snapshot ``snapshot_id``.

    Parameters
    ----------
    db
        The verification database.
    key
        The register key (`layers.register.RegisterKey`) the round was sealed with.
    by
        Who builds (audited: ``snapshot.take``, or ``snapshot.read`` for an existing snapshot).
    snapshot_id
        Use this snapshot rather than taking a new one.
    database
        How the manifest names the database (a URL without its password).

    Returns
    -------
    VerifiedRegister
        The families in canonical columns and the manifest entry (snapshot number, time, audit
        position, approved villages, families).
    """
    from layers.verification.seeding import cipher_for

    with db.read() as conn:
        round_ = require_active(conn)
    cipher = cipher_for(round_, key)
    if snapshot_id is None:
        snapshot = take_snapshot(db, cipher, by, note="sasaran build --verified")
    else:
        snapshot = get_snapshot(db, snapshot_id)
        event = by.event("snapshot.read", f"snapshot:{snapshot.id}", region=None, reason="sasaran build")
        audit.record(db, event)
    frame = snapshot_register(db, cipher, snapshot.id)
    frame["year"] = snapshot.year
    return VerifiedRegister(frame, snapshot.manifest_entry() | {"database": database})
