"""Rounds of verification: the register copied into the database, once per round.

The first time the database is used with a store that holds a register (the service starting,
any ``sasaran users`` or ``sasaran audit`` command with ``--store``), the register's latest year is
copied in as round 1: every family ``belum`` (not yet checked), every village ``terbuka`` (open).
A rebuilt store with a new register never touches that work: the database notes that the store's
register differs (`pending_register`), and only ``sasaran rounds new`` starts round 2 from it,
archiving round 1 (its villages, families and statuses stay, read-only, and its snapshots).
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
from sqlalchemy import Connection, RowMapping, func, insert, select, update

from layers.verification import audit
from layers.verification.audit import Actor
from layers.verification.crypto import FieldCipher
from layers.verification.db import Database
from layers.verification.errors import DatabaseError, InvalidInput
from layers.verification.records import rows_for_insert
from layers.verification.tables import families, now, rounds, villages

ACTIVE = "active"
ARCHIVED = "archived"
#: Families inserted per statement while seeding (bounded memory for a register of millions).
SEED_BATCH = 5_000
#: Columns the villages frame passed to `seed_round` must have.
VILLAGE_COLUMNS = (
    "village_code",
    "village_name",
    "kecamatan_code",
    "kecamatan_name",
    "kabupaten_code",
    "kabupaten_name",
)


@dataclass(frozen=True)
class Round:
    """A round as stored."""

    id: int
    number: int
    state: str
    year: int
    key_id: str
    source: dict[str, Any]
    families: int
    villages: int
    started_at: str
    started_by: str
    archived_at: str | None

    @property
    def synthetic(self) -> bool:
        """Whether the register of this round is the synthetic demo's."""
        return bool(self.source.get("synthetic"))

    def public(self) -> dict[str, Any]:
        """What the API shows of a round (no key id)."""
        return {
            "number": self.number,
            "state": self.state,
            "year": self.year,
            "families": self.families,
            "villages": self.villages,
            "started_at": self.started_at,
            "started_by": self.started_by,
            "archived_at": self.archived_at,
            "synthetic": self.synthetic,
            "source": {k: v for k, v in self.source.items() if k in ("store", "build_id", "digest", "built")},
        }


def _round(row: RowMapping) -> Round:
    return Round(**{**row, "source": json.loads(row["source"])})


def active_round(conn: Connection) -> Round | None:
    """The round being worked on, if the database has one."""
    row = conn.execute(select(rounds).where(rounds.c.state == ACTIVE)).mappings().first()
    return _round(row) if row is not None else None


def list_rounds(db: Database) -> list[Round]:
    """Every round, newest first."""
    with db.read() as conn:
        return [_round(r) for r in conn.execute(select(rounds).order_by(rounds.c.number.desc())).mappings()]


def register_digest(register: pd.DataFrame) -> str:
    """A fingerprint of a register's content (order-independent), to tell a new register from the same one."""
    hashed = np.sort(pd.util.hash_pandas_object(register.sort_index(axis=1), index=False).to_numpy())
    return hashlib.sha256(hashed.tobytes()).hexdigest()[:32]


def latest_year(register: pd.DataFrame) -> pd.DataFrame:
    """The families of the register's latest year (a round verifies one year: the newest)."""
    if "year" not in register or register.empty:
        return register
    years = pd.to_numeric(register["year"], errors="coerce")
    return register[years == years.max()].reset_index(drop=True)


def seed_round(
    db: Database,
    cipher: FieldCipher,
    register: pd.DataFrame,
    village_table: pd.DataFrame,
    source: dict[str, Any],
    by: Actor,
    *,
    new_round: bool = False,
) -> Round:
    """Copy a register into the database as a new round (the first, or with ``new_round`` the next).

    Parameters
    ----------
    db
        The database.
    cipher
        Seals the personal fields (from the register key).
    register
        The register in canonical columns (`layers.register.read_register`); its latest year is
        copied.
    village_table
        The store's villages: `VILLAGE_COLUMNS`, one row per village.
    source
        What the register came from (store name, build id, ``synthetic``); the digest is added.
    by
        Who starts the round (audited as ``round.start``).
    new_round
        Archive the active round and start the next. Without it, a database that already has a
        round is left as it is and that round is returned: seeding happens once.

    Returns
    -------
    Round
        The active round.
    """
    missing = [c for c in VILLAGE_COLUMNS if c not in village_table.columns]
    if missing:
        raise InvalidInput(f"the villages table lacks {missing}")
    current = latest_year(register)
    source = {**source, "digest": register_digest(register)}
    year = int(pd.to_numeric(current["year"]).max()) if "year" in current and len(current) else 0
    with db.write() as conn:
        active = active_round(conn)
        if active is not None and not new_round:
            return active  # another worker (or command) seeded it first
        stamp = now()
        number = int(conn.execute(select(func.coalesce(func.max(rounds.c.number), 0))).scalar_one()) + 1
        if active is not None:
            conn.execute(
                update(rounds).where(rounds.c.id == active.id).values(state=ARCHIVED, archived_at=stamp)
            )
            audit.append(conn, by.event("round.archive", f"round:{active.number}", region=None))
        round_id = conn.execute(
            insert(rounds).values(
                number=number,
                state=ACTIVE,
                year=year,
                key_id=cipher.key_id,
                source=json.dumps(source, default=str),
                families=len(current),
                villages=len(village_table),
                started_at=stamp,
                started_by=by.name,
            )
        ).inserted_primary_key[0]  # type: ignore[index]
        _insert_villages(conn, round_id, village_table, current, by.name, stamp)
        for start in range(0, len(current), SEED_BATCH):
            chunk = current.iloc[start : start + SEED_BATCH]
            rows = rows_for_insert(
                chunk, cipher, round_id, origin="register", status="belum", by=by.name, at=stamp
            )
            conn.execute(insert(families), rows)
        audit.append(
            conn,
            by.event(
                "round.start",
                f"round:{number}",
                region=None,
                reason=f"{len(current)} families of {year} in {len(village_table)} villages; "
                f"register {source['digest']}",
            ),
        )
        seeded = active_round(conn)
        assert seeded is not None
        return seeded


def _insert_villages(
    conn: Connection, round_id: int, table: pd.DataFrame, register: pd.DataFrame, by: str, at: str
) -> None:
    counts = register["village_code"].astype(str).value_counts() if len(register) else pd.Series(dtype=int)
    rows = []
    for row in table[list(VILLAGE_COLUMNS)].astype(str).to_dict("records"):
        n = int(counts.get(row["village_code"], 0))
        rows.append(
            {
                "round_id": round_id,
                "code": row["village_code"],
                "name": row["village_name"],
                "kecamatan_code": row["kecamatan_code"],
                "kecamatan_name": row["kecamatan_name"],
                "kabupaten_code": row["kabupaten_code"],
                "kabupaten_name": row["kabupaten_name"],
                "state": "terbuka",
                "note": None,
                "counts": json.dumps({"belum": n} if n else {}),
                "version": 1,
                "updated_at": at,
                "updated_by": by,
            }
        )
    if rows:
        conn.execute(insert(villages), rows)


def require_active(conn: Connection) -> Round:
    """The active round, or a `DatabaseError` saying how to get one."""
    found = active_round(conn)
    if found is None:
        raise DatabaseError(
            "the verification database holds no register yet: serve or name a store built with "
            "[sources.households] and the register key (SASARAN_REGISTER_KEY)"
        )
    return found
