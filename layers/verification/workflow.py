"""The workflow: each family's status, each village's way from the desa to the kabupaten.

A desa operator checks each family of the village and gives it a status (`FAMILY_STATUSES`), with a
reason where the status needs one and, for a correction (``diperbaiki``), the corrected fields;
families missing from the register are proposed (``usulan_baru``) with the register's fields and
checked by the register's own rules. When no family is left ``belum``, the desa submits the village;
the kecamatan passes it or returns it with a note; the kabupaten approves it (or returns it). An
approved village is read-only.

Every function takes the account that acts and answers only within its region: a village or family
outside it is `RecordNotFound`, worded the same as one that does not exist, whatever its id. Every
change is made against the version the caller saw (a stale version is `Conflict` carrying the
record as it is now, never a silent overwrite), and is written with its audit entries in one
transaction. Every read of names is audited too.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import pandas as pd
from sqlalchemy import Connection, RowMapping, and_, func, insert, select, update

from layers.schema import Text
from layers.verification import audit
from layers.verification.accounts import Account, Caller
from layers.verification.audit import Event
from layers.verification.crypto import SEALED, FieldCipher
from layers.verification.db import Database
from layers.verification.errors import Conflict, Forbidden, InvalidInput, RecordNotFound
from layers.verification.records import (
    EDITABLE_FIELDS,
    PERSONAL_FIELDS,
    PROPOSAL_FIELDS,
    bound_to,
    family_record,
    plain,
    rows_for_insert,
)
from layers.verification.rounds import Round, require_active
from layers.verification.tables import families, now, villages

FAMILY_STATUSES: dict[str, Text] = {
    "belum": Text("Not yet checked", "Belum diperiksa"),
    "valid": Text("Found and correct", "Ditemukan, data benar"),
    "diperbaiki": Text("Corrected", "Diperbaiki"),
    "pindah": Text("Moved away", "Pindah"),
    "meninggal": Text("Deceased", "Meninggal"),
    "tidak_ditemukan": Text("Not found", "Tidak ditemukan"),
    "tidak_layak": Text("No longer eligible", "Tidak layak lagi"),
    "ganda": Text("Duplicate", "Ganda"),
    "usulan_baru": Text("Proposed new family", "Usulan baru"),
}
#: Statuses that need a reason (who moved where, why not eligible, duplicate of which family).
NEEDS_REASON = frozenset({"pindah", "meninggal", "tidak_ditemukan", "tidak_layak", "ganda"})
#: A register family's statuses; a proposed family's (it was never ``belum``, ``valid`` or corrected).
REGISTER_STATUSES = tuple(s for s in FAMILY_STATUSES if s != "usulan_baru")
PROPOSAL_STATUSES = tuple(s for s in FAMILY_STATUSES if s not in ("belum", "valid", "diperbaiki"))
#: Families that stay in the verified register (a snapshot); the others leave it.
KEPT_STATUSES = frozenset({"valid", "diperbaiki", "usulan_baru"})
#: Suggested reasons the pages offer per status (free text is always allowed).
SUGGESTED_REASONS: dict[str, tuple[Text, ...]] = {
    "tidak_layak": (
        Text("Now a civil servant (PNS)", "Sudah menjadi PNS"),
        Text("Now PPPK", "Sudah menjadi PPPK"),
        Text("TNI/Polri", "Anggota TNI/Polri"),
        Text("Well-off", "Sudah mampu"),
    ),
    "pindah": (
        Text("Moved to another village", "Pindah ke desa lain"),
        Text("Moved out of the province", "Pindah ke luar provinsi"),
    ),
    "meninggal": (
        Text(
            "Head of family deceased, no remaining members",
            "Kepala keluarga meninggal, tidak ada anggota tersisa",
        ),
    ),
    "tidak_ditemukan": (
        Text("Address not found", "Alamat tidak ditemukan"),
        Text("Nobody knows the family", "Tidak dikenal warga"),
    ),
    "ganda": (Text("Registered twice", "Terdaftar dua kali"),),
}

VILLAGE_STATES: dict[str, Text] = {
    "terbuka": Text("Open", "Terbuka"),
    "diajukan": Text("Submitted to the kecamatan", "Diajukan ke kecamatan"),
    "ditinjau": Text("Passed by the kecamatan", "Lolos tinjauan kecamatan"),
    "dikembalikan": Text("Returned for correction", "Dikembalikan untuk diperbaiki"),
    "disetujui": Text("Approved by the kabupaten", "Disetujui kabupaten"),
}
#: States in which the desa may change its families.
EDITABLE_STATES = frozenset({"terbuka", "dikembalikan"})
APPROVED = "disetujui"
MAX_REASON = 500
DEFAULT_PAGE = 25
MAX_PAGE = 200


@dataclass(frozen=True)
class Transition:
    """A step of a village: who may take it, from which states, to which state."""

    roles: Mapping[str, frozenset[str]]  # role -> states it may take the step from
    to: str
    needs_note: bool = False


TRANSITIONS: dict[str, Transition] = {
    "submit": Transition({"desa": frozenset({"terbuka", "dikembalikan"})}, "diajukan"),
    "pass": Transition({"kecamatan": frozenset({"diajukan"})}, "ditinjau"),
    "return": Transition(
        {"kecamatan": frozenset({"diajukan"}), "kabupaten": frozenset({"diajukan", "ditinjau"})},
        "dikembalikan",
        needs_note=True,
    ),
    "approve": Transition({"kabupaten": frozenset({"ditinjau"})}, APPROVED),
}

#: Checks families in canonical columns by the register's rules; raises `InvalidInput` naming the
#: field (`layers.verification.validation.validator_for` makes one for a round).
Validator = Callable[[pd.DataFrame], pd.DataFrame]


# ------------------------------------------------------------------ reading


def village_row(conn: Connection, round_: Round, account: Account, code: str) -> RowMapping:
    """A village of the account's region (`RecordNotFound` outside it, worded as for none)."""
    code = str(code)
    row = None
    if account.covers(code):
        row = (
            conn.execute(
                select(villages).where(and_(villages.c.round_id == round_.id, villages.c.code == code))
            )
            .mappings()
            .first()
        )
    if row is None:
        raise RecordNotFound(f"no village {code[:16]!r} in your region")
    return row


def _family_row(conn: Connection, round_: Round, account: Account, family_id: int) -> RowMapping:
    row = (
        conn.execute(
            select(families).where(and_(families.c.id == int(family_id), families.c.round_id == round_.id))
        )
        .mappings()
        .first()
    )
    if row is None or not account.covers(row["village_code"]):
        raise RecordNotFound(f"no family {int(family_id)} in your region")
    return row


def village_record(row: RowMapping) -> dict[str, Any]:
    """A village as the API shows it: place, state, note, counts by status, share checked."""
    counts = {k: v for k, v in json.loads(row["counts"]).items() if v}
    total = sum(counts.values())
    return {
        "code": row["code"],
        "name": row["name"],
        "kecamatan_code": row["kecamatan_code"],
        "kecamatan_name": row["kecamatan_name"],
        "kabupaten_code": row["kabupaten_code"],
        "kabupaten_name": row["kabupaten_name"],
        "state": row["state"],
        "note": row["note"],
        "version": row["version"],
        "families": total,
        "checked": total - counts.get("belum", 0),
        "counts": counts,
        "updated_at": row["updated_at"],
        "updated_by": row["updated_by"],
    }


def list_villages(db: Database, account: Account, *, state: str | None = None) -> dict[str, Any]:
    """The villages of the account's region with their state and counts (no names of people)."""
    with db.read() as conn:
        round_ = require_active(conn)
        query = (
            select(villages)
            .where(and_(villages.c.round_id == round_.id, villages.c.code.like(account.region + "%")))
            .order_by(villages.c.code)
        )
        if state is not None:
            query = query.where(villages.c.state == _known(state, VILLAGE_STATES, "state"))
        rows = [village_record(r) for r in conn.execute(query).mappings()]
    return {"round": round_.public(), "villages": rows}


def get_village(db: Database, account: Account, code: str) -> dict[str, Any]:
    """One village of the account's region."""
    with db.read() as conn:
        round_ = require_active(conn)
        return village_record(village_row(conn, round_, account, code))


def _known(value: str, table: Mapping[str, Any], what: str) -> str:
    if value not in table:
        raise InvalidInput(f"unknown {what} {str(value)[:40]!r}: one of {', '.join(table)}")
    return value


def families_page(
    db: Database,
    cipher: FieldCipher,
    caller: Caller,
    code: str,
    *,
    q: str | None = None,
    status: str | None = None,
    offset: int = 0,
    limit: int = DEFAULT_PAGE,
) -> dict[str, Any]:
    """A page of a village's families, optionally searched by name, NIK or family id; audited.

    Parameters
    ----------
    db, cipher
        The database and the register key's cipher.
    caller
        Who reads (any role, within its region).
    code
        The village.
    q
        Search text: part of the head's name (any case), or of the NIK or family id.
    status
        Only families of this status (``belum``: those still to check).
    offset, limit
        The page (``limit`` at most `MAX_PAGE`).

    Returns
    -------
    dict
        ``village``, ``total`` (matching families), ``offset``, ``limit`` and ``families``.
    """
    if not 1 <= limit <= MAX_PAGE:
        raise InvalidInput(f"limit is 1 to {MAX_PAGE}")
    if offset < 0:
        raise InvalidInput("offset is 0 or more")
    with db.read() as conn:
        round_ = require_active(conn)
        village = village_row(conn, round_, caller.account, code)
        where = and_(families.c.round_id == round_.id, families.c.village_code == village["code"])
        if status is not None:
            where = and_(where, families.c.status == _known(status, FAMILY_STATUSES, "status"))
        query = select(families).where(where).order_by(families.c.id)
        needle = (q or "").strip()
        if not needle:
            total = int(conn.execute(select(func.count()).select_from(families).where(where)).scalar_one())
            rows = conn.execute(query.offset(offset).limit(limit)).mappings().all()
            records = [family_record(r, cipher) for r in rows]
        else:
            # Names are sealed: a village's families are opened and searched here (a village holds
            # hundreds to a few thousand families; the page is bounded by the village).
            matches = [
                rec
                for rec in (family_record(r, cipher) for r in conn.execute(query).mappings())
                if _matches(rec, needle)
            ]
            total = len(matches)
            records = matches[offset : offset + limit]
    ids = ",".join(str(r["id"]) for r in records)
    details = f"offset {offset}, {len(records)} of {total}" + (", search" if needle else "")
    details += f", status {status}" if status else ""
    audit.record(
        db,
        caller.actor.event(
            "read.families",
            f"village:{village['code']}",
            region=village["code"],
            field="families",
            new=ids or None,
            reason=details,
        ),
    )
    return {
        "village": village_record(village),
        "total": total,
        "offset": offset,
        "limit": limit,
        "families": records,
    }


def _matches(record: dict[str, Any], needle: str) -> bool:
    folded = needle.casefold()
    digits = "".join(ch for ch in needle if ch.isdigit())
    if folded in str(record.get("head_name") or "").casefold():
        return True
    if digits and len(digits) >= 4 and digits == needle.replace(" ", "").replace(".", ""):
        return digits in str(record.get("nik") or "") or digits in str(record.get("family_id") or "")
    return folded == str(record.get("family_id") or "").casefold()


def get_family(db: Database, cipher: FieldCipher, caller: Caller, family_id: int) -> dict[str, Any]:
    """One family of the caller's region, with its village's state; audited as a by-name read."""
    with db.read() as conn:
        round_ = require_active(conn)
        row = _family_row(conn, round_, caller.account, family_id)
        village = village_row(conn, round_, caller.account, row["village_code"])
    record = family_record(row, cipher) | {"village_state": village["state"]}
    audit.record(db, caller.actor.event("read.family", f"family:{row['id']}", region=row["village_code"]))
    return record


def family_history(db: Database, cipher: FieldCipher, caller: Caller, family_id: int) -> dict[str, Any]:
    """Every audit entry about one family, newest first, sealed values opened; audited."""
    with db.read() as conn:
        round_ = require_active(conn)
        row = _family_row(conn, round_, caller.account, family_id)
        entries = audit.entries(conn, record=f"family:{row['id']}", limit=1000)
    where = bound_to(round_.id, row["family_key"])
    shown = []
    for entry in entries:
        item = entry.as_dict()
        for side in ("old", "new"):
            if isinstance(item[side], str) and item[side].startswith(SEALED):
                item[side] = cipher.open(item[side], where).get("v")
        shown.append(
            {k: item[k] for k in ("seq", "at", "actor", "role", "action", "field", "old", "new", "reason")}
        )
    audit.record(db, caller.actor.event("read.history", f"family:{row['id']}", region=row["village_code"]))
    return {"id": row["id"], "entries": shown}


# ------------------------------------------------------------------ changing a family


def editable_village(conn: Connection, round_: Round, caller: Caller, code: str) -> RowMapping:
    """The village row if the caller may change its families now; else `Forbidden` or `Conflict`."""
    village = village_row(conn, round_, caller.account, code)
    if caller.account.role != "desa":
        raise Forbidden(
            f"only the village's desa account changes its families (you are {caller.account.role})"
        )
    if village["state"] not in EDITABLE_STATES:
        state = VILLAGE_STATES[village["state"]]
        raise Conflict(
            f"village {village['code']} is {state.en.lower()} ({village['state']}): its families are "
            "read-only until it is returned",
            current=village_record(village),
        )
    return village


def _reason(status: str, reason: str | None) -> str | None:
    text = (reason or "").strip()
    if len(text) > MAX_REASON:
        raise InvalidInput(f"a reason has at most {MAX_REASON} characters")
    if status in NEEDS_REASON and not text:
        raise InvalidInput(f"status {status!r} needs a reason")
    return text or None


def _seal_value(cipher: FieldCipher, where: str, field: str, value: Any) -> str | None:
    """An audit entry's old or new value: sealed for a personal field, text for the others."""
    if value is None:
        return None
    if field in PERSONAL_FIELDS:
        return cipher.seal({"v": plain(value)}, where)
    return str(plain(value))


def change_family(
    db: Database,
    cipher: FieldCipher,
    caller: Caller,
    family_id: int,
    *,
    status: str,
    version: int,
    reason: str | None = None,
    changes: Mapping[str, Any] | None = None,
    validate: Validator | None = None,
) -> dict[str, Any]:
    """Set a family's status (and, for ``diperbaiki``, its corrected fields) against ``version``.

    Parameters
    ----------
    db, cipher
        The database and the register key's cipher.
    caller
        A desa account of the family's village.
    family_id
        The family (``id`` in answers).
    status
        The new status (`FAMILY_STATUSES`).
    version
        The version the caller saw; another version is a `Conflict` with the record as it is.
    reason
        Why (required by `NEEDS_REASON` statuses).
    changes
        Corrected fields (`EDITABLE_FIELDS`) and their new values; only with ``diperbaiki`` (or on
        a proposed family). Merged over earlier corrections; a value equal to the register's drops
        that correction.
    validate
        Checks the family as it would be by the register's rules (`Validator`).

    Returns
    -------
    dict
        The family as it is now (`layers.verification.records.family_record`).
    """
    status = _known(status, FAMILY_STATUSES, "status")
    with db.write() as conn:
        round_ = require_active(conn)
        row = _family_row(conn, round_, caller.account, family_id)
        editable_village(conn, round_, caller, row["village_code"])
        if int(row["version"]) != int(version):
            raise Conflict(
                f"family {row['id']} was changed by {row['updated_by']} at {row['updated_at']} "
                f"(version {row['version']}, yours {int(version)}): look at it again",
                current=family_record(row, cipher),
            )
        planned = plan_change(row, round_, cipher, status, reason, changes)
        if planned.after and validate is not None:
            validate(pd.DataFrame([planned.canonical()]))
        stamp = now()
        events = apply_change(conn, caller, planned, cipher, stamp)
        if not events:
            return family_record(row, cipher)  # nothing changed: no new version
        if planned.status != row["status"]:
            moved = {row["status"]: -1, planned.status: +1}
            move_counts(conn, round_, row["village_code"], moved, caller.account.name, stamp)
        audit.append(conn, events)
        fresh = conn.execute(select(families).where(families.c.id == row["id"])).mappings().one()
        return family_record(fresh, cipher)


@dataclass(frozen=True)
class PlannedChange:
    """A family's change, checked and ready to write: its new status, reason and corrections."""

    row: RowMapping
    status: str
    note: str | None
    before: dict[str, Any]
    after: dict[str, Any]
    register_values: dict[str, Any]
    where: str

    def canonical(self) -> dict[str, Any]:
        """The family as it would be, in canonical columns (for the register's rules)."""
        return {**_canonical(self.register_values), **self.after}

    @property
    def unchanged(self) -> bool:
        """Whether writing it would change nothing."""
        return (
            self.status == self.row["status"]
            and self.note == self.row["reason"]
            and self.before == self.after
        )


def plan_change(
    row: RowMapping,
    round_: Round,
    cipher: FieldCipher,
    status: str,
    reason: str | None,
    changes: Mapping[str, Any] | None,
) -> PlannedChange:
    """Check a change of one family against the workflow's rules (not its version, not the register's).

    Raises `InvalidInput` for a status the family cannot take, a missing reason or correction, or a
    field that cannot be corrected.
    """
    allowed = PROPOSAL_STATUSES if row["origin"] == "usulan_baru" else REGISTER_STATUSES
    if status not in allowed:
        raise InvalidInput(
            f"a {'proposed' if row['origin'] == 'usulan_baru' else 'register'} family "
            f"cannot be {status!r}: one of {', '.join(allowed)}"
        )
    note = _reason(status, reason)
    where = bound_to(round_.id, row["family_key"])
    register_values = family_record({**row, "changes": None}, cipher)
    before = cipher.open(row["changes"], where) if row["changes"] else {}
    corrects = status == "diperbaiki" or (row["origin"] == "usulan_baru" and status == "usulan_baru")
    if any(value not in (None, "") for value in (changes or {}).values()) and not corrects:
        raise InvalidInput("corrected fields come with status 'diperbaiki' (or on a proposed family)")
    if changes is None and corrects:
        changes = {}
        after = dict(before)  # a status set again keeps its corrections
    else:
        after = _merge_changes(before if status == row["status"] else {}, changes or {}, register_values)
    after = after if corrects else {}
    if status == "diperbaiki" and not after:
        raise InvalidInput("status 'diperbaiki' needs at least one corrected field (changes)")
    return PlannedChange(row, status, note, before, after, register_values, where)


def apply_change(
    conn: Connection, caller: Caller, planned: PlannedChange, cipher: FieldCipher, stamp: str
) -> list[Event]:
    """Write a planned change; its audit events (none: nothing changed). The caller moves the counts."""
    row = planned.row
    events = _change_events(caller, planned, cipher)
    if not events:
        return []
    conn.execute(
        update(families)
        .where(and_(families.c.id == row["id"], families.c.version == row["version"]))
        .values(
            status=planned.status,
            reason=planned.note,
            changes=cipher.seal(planned.after, planned.where) if planned.after else None,
            version=row["version"] + 1,
            updated_at=stamp,
            updated_by=caller.account.name,
        )
    )
    return events


def _canonical(record: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in record.items() if k in (*PROPOSAL_FIELDS, "village_code", "year")}


def _merge_changes(
    before: dict[str, Any], new: Mapping[str, Any], register: dict[str, Any]
) -> dict[str, Any]:
    unknown = sorted(set(new) - set(EDITABLE_FIELDS))
    if unknown:
        raise InvalidInput(
            f"field {unknown[0][:40]!r} cannot be corrected here; correctable: {', '.join(EDITABLE_FIELDS)}"
        )
    merged = dict(before)
    for field, given in new.items():
        value = plain(given)
        if isinstance(value, str):
            value = value.strip()
        if value == register.get(field) or value in ("", None):
            merged.pop(field, None)  # back to the register's value
        else:
            merged[field] = value
    return merged


def _change_events(caller: Caller, planned: PlannedChange, cipher: FieldCipher) -> list[Event]:
    row = planned.row
    record, region = f"family:{row['id']}", row["village_code"]
    events = []
    if planned.status != row["status"] or planned.note != row["reason"]:
        events.append(
            caller.actor.event(
                "family.status",
                record,
                region=region,
                field="status",
                old=row["status"],
                new=planned.status,
                reason=planned.note,
            )
        )
    for field in sorted(set(planned.before) | set(planned.after)):
        old = planned.before.get(field, planned.register_values.get(field))
        new = planned.after.get(field, planned.register_values.get(field))
        if old != new:
            events.append(
                caller.actor.event(
                    "family.correct",
                    record,
                    region=region,
                    field=field,
                    old=_seal_value(cipher, planned.where, field, old),
                    new=_seal_value(cipher, planned.where, field, new),
                    reason=planned.note,
                )
            )
    return events


def move_counts(
    conn: Connection, round_: Round, code: str, delta: Mapping[str, int], by: str, stamp: str
) -> None:
    """Move a village's counts by status (in the same transaction as the change)."""
    row = conn.execute(
        select(villages.c.id, villages.c.counts).where(
            and_(villages.c.round_id == round_.id, villages.c.code == code)
        )
    ).one()
    counts = json.loads(row.counts)
    for status, step in delta.items():
        counts[status] = counts.get(status, 0) + step
    conn.execute(
        update(villages)
        .where(villages.c.id == row.id)
        .values(counts=json.dumps({k: v for k, v in counts.items() if v}), updated_at=stamp, updated_by=by)
    )


def propose_family(
    db: Database,
    cipher: FieldCipher,
    caller: Caller,
    code: str,
    fields: Mapping[str, Any],
    *,
    reason: str | None = None,
    validate: Validator | None = None,
) -> dict[str, Any]:
    """Propose a family missing from the register (``usulan_baru``), checked by the register's rules.

    ``fields`` are the register's (`PROPOSAL_FIELDS`); without a ``family_id`` one is made
    (``BARU-<village>-<n>``). A NIK already in the round is refused (say ``ganda`` on the family
    that is there instead).
    """
    unknown = sorted(set(fields) - set(PROPOSAL_FIELDS))
    if unknown:
        raise InvalidInput(
            f"field {unknown[0][:40]!r} is not a register field; they are {', '.join(PROPOSAL_FIELDS)}"
        )
    note = _reason("usulan_baru", reason)
    with db.write() as conn:
        round_ = require_active(conn)
        village = editable_village(conn, round_, caller, code)
        values = {k: plain(v) for k, v in fields.items()}
        if not str(values.get("family_id") or "").strip():
            values["family_id"] = proposal_ids(conn, round_, village["code"], 1)[0]
        values |= {"village_code": village["code"], "year": round_.year or None}
        frame = pd.DataFrame([values])
        if validate is not None:
            frame = validate(frame)
        new_id = insert_proposal(conn, round_, caller, village["code"], frame, note, cipher, now())
        row = conn.execute(select(families).where(families.c.id == new_id)).mappings().one()
        return family_record(row, cipher)


def proposal_ids(conn: Connection, round_: Round, code: str, n: int) -> list[str]:
    """Family ids for ``n`` new proposals of a village: ``BARU-<village>-<number>``, numbered on."""
    count = conn.execute(
        select(func.count())
        .select_from(families)
        .where(
            and_(
                families.c.round_id == round_.id,
                families.c.village_code == code,
                families.c.origin == "usulan_baru",
            )
        )
    ).scalar_one()
    return [f"BARU-{code}-{int(count) + 1 + i}" for i in range(n)]


def insert_proposal(
    conn: Connection,
    round_: Round,
    caller: Caller,
    code: str,
    frame: pd.DataFrame,
    note: str | None,
    cipher: FieldCipher,
    stamp: str,
) -> int:
    """Insert one checked proposal (a one-row canonical frame), count it and audit it; its id.

    A NIK or family id already in the round is `InvalidInput` (mark that family instead).
    """
    rows = rows_for_insert(frame, cipher, round_.id, origin="usulan_baru", status="usulan_baru",
                           by=caller.account.name, at=stamp)  # fmt: skip
    row = rows[0] | {"reason": note}
    in_round = families.c.round_id == round_.id
    if conn.execute(
        select(families.c.id).where(and_(in_round, families.c.nik_key == row["nik_key"]))
    ).first():
        raise InvalidInput("field 'nik': a family with this NIK is already in the register (mark it instead)")
    if conn.execute(
        select(families.c.id).where(and_(in_round, families.c.family_key == row["family_key"]))
    ).first():
        raise InvalidInput("field 'family_id': a family with this id is already in the register")
    new_id = int(conn.execute(insert(families), row).inserted_primary_key[0])  # type: ignore[index]
    move_counts(conn, round_, code, {"usulan_baru": +1}, caller.account.name, stamp)
    audit.append(conn, caller.actor.event("family.propose", f"family:{new_id}", region=code, field="status",
                                          new="usulan_baru", reason=note))  # fmt: skip
    return new_id


# ------------------------------------------------------------------ the village's steps


def transition(
    db: Database,
    caller: Caller,
    code: str,
    action: str,
    *,
    note: str | None = None,
    version: int | None = None,
) -> dict[str, Any]:
    """Take a village one step (`TRANSITIONS`: submit, pass, return, approve); audited.

    Parameters
    ----------
    db
        The database.
    caller
        The account taking the step (its role decides which steps it may take).
    code
        The village.
    action
        ``submit`` (desa), ``pass`` (kecamatan), ``return`` (kecamatan or kabupaten, with a note),
        ``approve`` (kabupaten).
    note
        Why it is returned (required for ``return``; optional otherwise).
    version
        The village version the caller saw (optional; a stale one is a `Conflict`).

    Returns
    -------
    dict
        The village as it is now.
    """
    step = TRANSITIONS.get(action)
    if step is None:
        raise InvalidInput(f"unknown step {str(action)[:20]!r}: one of {', '.join(TRANSITIONS)}")
    text = (note or "").strip() or None
    if text is not None and len(text) > MAX_REASON:
        raise InvalidInput(f"a note has at most {MAX_REASON} characters")
    if step.needs_note and not text:
        raise InvalidInput(f"'{action}' needs a note saying what to correct")
    with db.write() as conn:
        round_ = require_active(conn)
        village = village_row(conn, round_, caller.account, code)
        role = caller.account.role
        if role not in step.roles:
            raise Forbidden(f"a {role} account cannot {action} a village")
        current = village_record(village)
        if version is not None and int(version) != village["version"]:
            raise Conflict(
                f"village {village['code']} changed since you saw it (version {village['version']})",
                current=current,
            )
        if village["state"] not in step.roles[role]:
            raise Conflict(
                f"a village that is {village['state']} cannot be {action}ed by a {role} account "
                f"(from: {', '.join(sorted(step.roles[role]))})",
                current=current,
            )
        if action == "submit" and current["counts"].get("belum"):
            raise Conflict(
                f"{current['counts']['belum']} families are not checked yet (status belum)", current=current
            )
        if action == "submit" and not current["families"]:
            raise Conflict("a village with no family to check has nothing to submit", current=current)
        stamp = now()
        conn.execute(
            update(villages)
            .where(villages.c.id == village["id"])
            .values(
                state=step.to,
                note=text,
                version=village["version"] + 1,
                updated_at=stamp,
                updated_by=caller.account.name,
            )
        )
        audit.append(
            conn,
            caller.actor.event(
                f"village.{action}",
                f"village:{village['code']}",
                region=village["code"],
                field="state",
                old=village["state"],
                new=step.to,
                reason=text,
            ),
        )
        fresh = conn.execute(select(villages).where(villages.c.id == village["id"])).mappings().one()
        return village_record(fresh)


def families_of_villages(conn: Connection, round_: Round, codes: Sequence[str]) -> list[RowMapping]:
    """The rows of the families of some villages of a round (for sheets, lists and snapshots)."""
    return list(
        conn.execute(
            select(families)
            .where(and_(families.c.round_id == round_.id, families.c.village_code.in_(list(codes))))
            .order_by(families.c.village_code, families.c.id)
        ).mappings()
    )
