"""How far verification has come: the share of families checked per village, kecamatan, kabupaten
and province, villages by workflow state, and the villages still waiting.

Read from each village's counts by status (kept in step with every change, `workflow._count`), so a
province of thousands of villages and a million families is summed from one row per village.
Nothing here names a person: these figures may be shown to any signed-in role of the region.
"""

from __future__ import annotations

import json
from typing import Any

import pandas as pd
from sqlalchemy import and_, select

from layers.verification.accounts import Account
from layers.verification.db import Database
from layers.verification.rounds import require_active
from layers.verification.tables import villages
from layers.verification.workflow import APPROVED, FAMILY_STATUSES, VILLAGE_STATES

LEVELS = ("kabupaten", "kecamatan")


def progress(db: Database, account: Account) -> dict[str, Any]:
    """Progress within the account's region.

    Parameters
    ----------
    db
        The database.
    account
        Whose region to sum.

    Returns
    -------
    dict
        ``round``; ``total`` (the region); ``kabupaten`` and ``kecamatan`` (one entry each); and
        ``villages`` (every village: state, families, checked, share, counts by status), the
        villages not yet approved first, least checked first. Shares are checked / families
        (null for a village without families).
    """
    with db.read() as conn:
        round_ = require_active(conn)
        rows = conn.execute(
            select(villages)
            .where(and_(villages.c.round_id == round_.id, villages.c.code.like(account.region + "%")))
            .order_by(villages.c.code)
        ).mappings()
        frame = pd.DataFrame([dict(r) for r in rows])
    if frame.empty:
        return {
            "round": round_.public(),
            "total": _summary(frame),
            "kabupaten": [],
            "kecamatan": [],
            "villages": [],
        }
    counts = pd.DataFrame([json.loads(c) for c in frame["counts"]]).reindex(columns=list(FAMILY_STATUSES))
    counts = counts.fillna(0).astype(int)
    frame = pd.concat([frame.drop(columns=["counts"]), counts], axis=1)
    frame["families"] = counts.sum(axis=1)
    frame["checked"] = frame["families"] - frame["belum"]
    answer: dict[str, Any] = {"round": round_.public(), "total": _summary(frame)}
    for level in LEVELS:
        groups = frame.groupby([f"{level}_code", f"{level}_name"], sort=True)
        answer[level] = [{"code": code, "name": name, **_summary(group)} for (code, name), group in groups]
    waiting_first = frame.assign(
        _done=frame["state"] == APPROVED, _share=_share(frame["checked"], frame["families"]).fillna(2.0)
    ).sort_values(["_done", "_share", "code"], kind="stable")
    answer["villages"] = [_village(row) for row in waiting_first.to_dict("records")]
    return answer


def _share(checked: pd.Series, families: pd.Series) -> pd.Series:
    return (checked / families.where(families > 0)).astype(float)


def _summary(frame: pd.DataFrame) -> dict[str, Any]:
    if frame.empty:
        return {
            "villages": 0,
            "families": 0,
            "checked": 0,
            "share": None,
            "states": {},
            "statuses": {},
            "waiting": 0,
        }
    families = int(frame["families"].sum())
    checked = int(frame["checked"].sum())
    states = frame["state"].value_counts()
    return {
        "villages": len(frame),
        "families": families,
        "checked": checked,
        "share": round(checked / families, 4) if families else None,
        "states": {s: int(states.get(s, 0)) for s in VILLAGE_STATES},
        "statuses": {s: int(frame[s].sum()) for s in FAMILY_STATUSES},
        "waiting": int((frame["state"] != APPROVED).sum()),
    }


def _village(row: dict[str, Any]) -> dict[str, Any]:
    families = int(row["families"])
    return {
        "code": row["code"],
        "name": row["name"],
        "kecamatan_code": row["kecamatan_code"],
        "kecamatan_name": row["kecamatan_name"],
        "kabupaten_code": row["kabupaten_code"],
        "kabupaten_name": row["kabupaten_name"],
        "state": row["state"],
        "families": families,
        "checked": int(row["checked"]),
        "share": round(int(row["checked"]) / families, 4) if families else None,
        "statuses": {s: int(row[s]) for s in FAMILY_STATUSES if row[s]},
        "updated_at": row["updated_at"],
    }
