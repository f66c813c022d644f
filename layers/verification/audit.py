"""The audit trail: every change, sign-in and by-name read, appended to a hash-chained log.

Each entry records who (``actor``, ``role``, ``region``), when (``at``), what (``action`` on
``record``, one ``field`` going from ``old`` to ``new``), why (``reason``) and from where
(``address``). Entry *n* stores ``prev_hash`` (entry *n−1*'s hash) and its own ``hash``: the SHA-256
of its number, its fields and ``prev_hash`` (`entry_hash`). Altering, removing or reordering any
row breaks the chain at that row, and `verify` names the first broken entry. The log's head
(``audit_head``: the newest number and hash) is locked by every writer, which also orders the
entries of concurrent writers. No endpoint edits or deletes entries, and database triggers refuse
``UPDATE`` and ``DELETE`` on ``audit_log`` whoever asks.

The API other modules use (stable; `layers.export.households` records every by-name list with it)::

    from layers.verification.audit import Event, record
    record(db, Event(actor="ani", role="kabupaten", action="download.family_list",
                     record="villages:6201012001,6201012002", region="6201", reason="xlsx, 812 families"))

or, inside a write transaction that also changes data, `append` (the entry commits with the
change, or neither does). Values of personal fields are written already encrypted by the caller
(`layers.verification.crypto`): the log itself never holds a name, NIK or address in clear.
"""

from __future__ import annotations

import getpass
import hashlib
import json
import socket
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import asdict, dataclass
from typing import Any

from sqlalchemy import Connection, func, insert, select, update

from layers.verification.db import Database
from layers.verification.tables import audit_head, audit_log, now

#: ``prev_hash`` of the first entry.
GENESIS = "0" * 64
#: Rows read at a time by `verify` (a log of millions of entries is checked in constant memory).
VERIFY_BATCH = 5_000
#: Longest text kept in one field of an entry (a reason, an old or new value).
MAX_TEXT = 4_000
#: The fields of an entry, in the order its hash covers them (after ``seq``).
HASHED = ("at", "actor", "role", "region", "action", "record", "field", "old", "new", "reason", "address")


@dataclass(frozen=True)
class Event:
    """One thing to record. ``record`` names what it is about: ``family:123``, ``village:6201012001``,
    ``account:ani``, ``villages:CODE,CODE`` for a list; ``region`` is the village (or wider region)
    the record belongs to, so that a kabupaten can read the history of its own villages."""

    actor: str
    role: str
    action: str
    record: str
    region: str | None = None
    field: str | None = None
    old: str | None = None
    new: str | None = None
    reason: str | None = None
    address: str | None = None


@dataclass(frozen=True)
class Actor:
    """Who acts: an account (name, role, region) or the command line, and from which address."""

    name: str
    role: str
    region: str | None = None
    address: str | None = None

    def event(self, action: str, record: str, **fields: str | None) -> Event:
        """An `Event` by this actor (``region`` defaults to the actor's own)."""
        fields.setdefault("region", self.region)
        return Event(
            actor=self.name, role=self.role, action=action, record=record, address=self.address, **fields
        )


#: The role recorded for what an operator does on the server's command line.
CLI_ROLE = "cli"


def cli_actor() -> Actor:
    """The person running a ``sasaran`` command here (`local_actor`), with role ``cli``."""
    return Actor(local_actor(), CLI_ROLE)


@dataclass(frozen=True)
class Entry:
    """A stored entry: an `Event` with its number, time and hashes."""

    seq: int
    at: str
    actor: str
    role: str
    region: str | None
    action: str
    record: str
    field: str | None
    old: str | None
    new: str | None
    reason: str | None
    address: str | None
    prev_hash: str
    hash: str

    def as_dict(self) -> dict[str, Any]:
        """The entry as a JSON-ready mapping."""
        return asdict(self)


@dataclass(frozen=True)
class ChainCheck:
    """What `verify` found: ``ok``, entries checked, and the first broken entry with the reason."""

    ok: bool
    entries: int
    head_seq: int
    head_hash: str
    broken_seq: int | None = None
    problem: str | None = None

    def summary(self) -> str:
        """One line for a person."""
        if self.ok:
            return f"audit chain intact: {self.entries} entries, head {self.head_seq} {self.head_hash}"
        return f"audit chain BROKEN at entry {self.broken_seq}: {self.problem}"


def entry_hash(seq: int, fields: dict[str, Any], prev_hash: str) -> str:
    """SHA-256 (hex) of an entry: its number, its `HASHED` fields and the previous entry's hash.

    Parameters
    ----------
    seq
        The entry's number (1, 2, ...).
    fields
        The entry's values by name (missing names count as null).
    prev_hash
        The previous entry's hash (`GENESIS` for the first).

    Returns
    -------
    str
        64 hexadecimal digits.
    """
    body = [seq, *(fields.get(name) for name in HASHED), prev_hash]
    text = json.dumps(body, ensure_ascii=False, separators=(",", ":"))
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def _clip(value: str | None) -> str | None:
    if value is None:
        return None
    value = str(value)
    return value if len(value) <= MAX_TEXT else value[: MAX_TEXT - 1] + "…"


def append(conn: Connection, events: Event | Iterable[Event]) -> list[int]:
    """Append events to the log inside the caller's write transaction; their numbers, in order.

    The head row is locked (``SELECT … FOR UPDATE`` on PostgreSQL; SQLite's write transaction holds
    the whole database), so concurrent writers chain one after the other.

    Parameters
    ----------
    conn
        A connection in a write transaction (`Database.write`).
    events
        One event or several.

    Returns
    -------
    list[int]
        The numbers given to the events.
    """
    batch = [events] if isinstance(events, Event) else list(events)
    if not batch:
        return []
    locked = select(audit_head.c.seq, audit_head.c.hash).where(audit_head.c.id == 1).with_for_update()
    seq, prev = conn.execute(locked).one()
    at = now()
    rows = []
    for event in batch:
        seq += 1
        fields = {name: _clip(value) for name, value in asdict(event).items()} | {"at": at}
        digest = entry_hash(seq, fields, prev)
        rows.append({"seq": seq, **fields, "prev_hash": prev, "hash": digest})
        prev = digest
    conn.execute(insert(audit_log), rows)
    conn.execute(update(audit_head).where(audit_head.c.id == 1).values(seq=seq, hash=prev))
    return [row["seq"] for row in rows]


def record(db: Database, event: Event | Sequence[Event]) -> int:
    """Append events in a transaction of their own; the number of the last one.

    Parameters
    ----------
    db
        The verification database.
    event
        One event or several.

    Returns
    -------
    int
        The number of the (last) entry written.
    """
    with db.write() as conn:
        return append(conn, event)[-1]


def local_actor() -> str:
    """Who runs a command on this machine: ``cli:<login>@<host>`` (for entries the CLI writes)."""
    try:
        login = getpass.getuser()
    except (KeyError, OSError):
        login = "unknown"
    return f"cli:{login}@{socket.gethostname()}"


def head(conn: Connection) -> tuple[int, str]:
    """The newest entry's number and hash (0 and `GENESIS` for an empty log)."""
    seq, digest = conn.execute(select(audit_head.c.seq, audit_head.c.hash).where(audit_head.c.id == 1)).one()
    return int(seq), str(digest)


def _rows(conn: Connection) -> Iterator[dict[str, Any]]:
    """Every entry in number order, read in batches by number (keyset paging: constant memory)."""
    after = 0
    while True:
        batch = conn.execute(
            select(audit_log).where(audit_log.c.seq > after).order_by(audit_log.c.seq).limit(VERIFY_BATCH)
        ).mappings()
        got = 0
        for row in batch:
            got += 1
            after = row["seq"]
            yield dict(row)
        if got < VERIFY_BATCH:
            return


def verify(db: Database) -> ChainCheck:
    """Check the whole chain: numbers without gaps, each hash right, each link to its predecessor.

    Parameters
    ----------
    db
        The verification database.

    Returns
    -------
    ChainCheck
        ``ok`` when every entry is intact and the head names the last one; otherwise the first
        broken entry's number and what is wrong with it (altered, removed, reordered, inserted).
    """
    with db.read() as conn:
        head_seq, head_hash = head(conn)
        expected, prev, count = 1, GENESIS, 0
        for row in _rows(conn):
            count += 1
            problem = _row_problem(row, expected, prev)
            if problem:
                return ChainCheck(False, count, head_seq, head_hash, broken_seq=expected, problem=problem)
            prev = row["hash"]
            expected += 1
        last = expected - 1
        if last != head_seq or prev != head_hash:
            if last < head_seq:
                problem = f"entries {last + 1} to {head_seq} are missing (removed from the end)"
            else:
                problem = f"the log's head says {head_seq} entries, but {last} are chained (head altered)"
            return ChainCheck(False, count, head_seq, head_hash, broken_seq=last + 1, problem=problem)
        return ChainCheck(True, count, head_seq, head_hash)


def _row_problem(row: dict[str, Any], expected: int, prev: str) -> str | None:
    seq = row["seq"]
    if seq != expected:
        if seq > expected:
            gap = f"entry {expected} is" if seq == expected + 1 else f"entries {expected}–{seq - 1} are"
            return f"{gap} missing (removed): entry {expected - 1} is followed by entry {seq}"
        return f"entry {seq} appears out of order after entry {expected - 1}"
    if row["prev_hash"] != prev:
        return (
            f"its link to entry {expected - 1} is wrong (an entry before it was removed, "
            "inserted or reordered)"
        )
    if entry_hash(seq, row, row["prev_hash"]) != row["hash"]:
        return "its content does not match its hash (the row was altered or moved)"
    return None


def entries(
    conn: Connection,
    *,
    record: str | None = None,
    region_prefix: str | None = None,
    actions: Sequence[str] | None = None,
    before: int | None = None,
    limit: int = 100,
) -> list[Entry]:
    """Entries newest first, filtered by record, region (a code prefix) or action; paged by number.

    Parameters
    ----------
    conn
        A connection.
    record
        Only entries about this record (``family:123``).
    region_prefix
        Only entries whose region starts with this code.
    actions
        Only these actions.
    before
        Only entries numbered below this (the next page after the last number seen).
    limit
        At most this many.

    Returns
    -------
    list[Entry]
        The entries.
    """
    query = select(audit_log).order_by(audit_log.c.seq.desc()).limit(limit)
    if record is not None:
        query = query.where(audit_log.c.record == record)
    if region_prefix:
        query = query.where(audit_log.c.region.like(region_prefix.replace("%", "") + "%"))
    if actions:
        query = query.where(audit_log.c.action.in_(list(actions)))
    if before is not None:
        query = query.where(audit_log.c.seq < before)
    return [Entry(**row) for row in conn.execute(query).mappings()]


def count(conn: Connection) -> int:
    """Entries in the log."""
    return int(conn.execute(select(func.count()).select_from(audit_log)).scalar_one())
