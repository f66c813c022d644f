"""The final list of a kabupaten: its approved villages' families, for the Bupati's decree.

What the decree's annex lists: every family that stays in the register (``valid``, ``diperbaiki``,
``usulan_baru``) in the kabupaten's approved villages, as it is now (corrections laid over the
register's values); the counts by status of every approved village (those who left the register
too); and the villages not approved yet, which the list does not cover. Reading it is a by-name
read: it is audited (``read.final_list``), and the audit position is printed on the documents.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

import pandas as pd
from sqlalchemy import and_, select

from layers.verification import audit
from layers.verification.accounts import Caller
from layers.verification.crypto import FieldCipher
from layers.verification.db import Database
from layers.verification.errors import Forbidden, RecordNotFound
from layers.verification.records import family_record
from layers.verification.rounds import Round, require_active
from layers.verification.tables import audit_log, now, villages
from layers.verification.workflow import APPROVED, FAMILY_STATUSES, KEPT_STATUSES, families_of_villages

#: Columns of the list, in order (canonical names; the writers give them their headers).
LIST_COLUMNS = (
    "family_id",
    "nik",
    "head_name",
    "address",
    "village_code",
    "village_name",
    "kecamatan_name",
    "decile",
    "members",
    "elderly",
    "disabled",
    "female_head",
    "status",
)
#: Roles that may read a kabupaten's final list: the kabupaten itself and the province.
READERS = ("kabupaten", "provinsi")


@dataclass(frozen=True)
class FinalList:
    """What the decree's documents show."""

    kabupaten_code: str
    kabupaten_name: str
    round: Round
    families: pd.DataFrame  # LIST_COLUMNS, by kecamatan, village, then register order
    counts: pd.DataFrame  # one row per approved village: code, name, kecamatan, statuses..., kept
    waiting: pd.DataFrame  # villages not approved yet: code, name, kecamatan_name, state
    prepared_by: str
    prepared_role: str
    prepared_at: str
    audit_seq: int
    audit_hash: str

    @property
    def complete(self) -> bool:
        """Whether every village of the kabupaten is approved."""
        return self.waiting.empty


def final_list(db: Database, cipher: FieldCipher, caller: Caller, kabupaten: str) -> FinalList:
    """The final list of a kabupaten (kabupaten and provinsi accounts of its region); audited.

    Parameters
    ----------
    db, cipher
        The database and the register key's cipher.
    caller
        A kabupaten account of that kabupaten, or a provinsi account of its province.
    kabupaten
        The kabupaten's 4-digit code.

    Returns
    -------
    FinalList
        Families, counts, villages waiting, and who prepared it when (with the audit position).
    """
    code = str(kabupaten)
    region = caller.account.region
    if not (code.startswith(region) or region.startswith(code)):
        raise RecordNotFound(f"no kabupaten {code[:8]!r} in your region")
    if caller.account.role not in READERS:
        raise Forbidden("the final list is for kabupaten and provinsi accounts")
    with db.read() as conn:
        round_ = require_active(conn)
        rows = list(
            conn.execute(
                select(villages)
                .where(and_(villages.c.round_id == round_.id, villages.c.kabupaten_code == code))
                .order_by(villages.c.kecamatan_code, villages.c.code)
            ).mappings()
        )
        if not rows:
            raise RecordNotFound(f"no kabupaten {code[:8]!r} in your region")
        approved = [r for r in rows if r["state"] == APPROVED]
        members = families_of_villages(conn, round_, [r["code"] for r in approved])
    by_code = {r["code"]: r for r in rows}
    records = []
    for row in members:
        if row["status"] not in KEPT_STATUSES:
            continue
        record = family_record(row, cipher)
        village = by_code[row["village_code"]]
        records.append(
            {**record, "village_name": village["name"], "kecamatan_name": village["kecamatan_name"]}
        )
    families = (
        pd.DataFrame(records, columns=list(LIST_COLUMNS)) if records else pd.DataFrame(columns=LIST_COLUMNS)
    )
    counts = _counts(approved)
    waiting = pd.DataFrame(
        [
            {"code": r["code"], "name": r["name"], "kecamatan_name": r["kecamatan_name"], "state": r["state"]}
            for r in rows
            if r["state"] != APPROVED
        ],
        columns=["code", "name", "kecamatan_name", "state"],
    )
    stamp = now()
    seq = audit.record(
        db,
        caller.actor.event(
            "read.final_list",
            f"kabupaten:{code}",
            region=code,
            reason=f"{len(families)} families in {len(approved)} approved villages",
        ),
    )
    with db.read() as conn:
        digest = conn.execute(select(audit_log.c.hash).where(audit_log.c.seq == seq)).scalar_one()
    return FinalList(
        kabupaten_code=code,
        kabupaten_name=rows[0]["kabupaten_name"],
        round=round_,
        families=families,
        counts=counts,
        waiting=waiting,
        prepared_by=caller.account.name,
        prepared_role=caller.account.role,
        prepared_at=stamp,
        audit_seq=seq,
        audit_hash=digest,
    )


def _counts(approved: list[Any]) -> pd.DataFrame:
    columns = ["code", "name", "kecamatan_name", *FAMILY_STATUSES, "kept"]
    table = []
    for row in approved:
        counts = json.loads(row["counts"])
        entry = {"code": row["code"], "name": row["name"], "kecamatan_name": row["kecamatan_name"]}
        entry |= {status: int(counts.get(status, 0)) for status in FAMILY_STATUSES}
        entry["kept"] = sum(entry[s] for s in KEPT_STATUSES)
        table.append(entry)
    return pd.DataFrame(table, columns=columns)
