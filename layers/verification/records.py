"""A family as the database holds it and as callers see it.

The register's canonical columns (`layers.register.REGISTER_COLUMNS`) are split three ways in the
``families`` table: the personal ones (family id, NIK, name, address, coordinates) sealed in one
ciphertext (`layers.verification.crypto`); the counts that progress and snapshots aggregate
(decile, members, elderly, disabled, female head) as columns; and the household attributes (floor,
walls, water, ..., year) as JSON. A correction (status ``diperbaiki``) is kept as the changed fields'
new values (sealed too: they may be a name); the family as it is now is the register's values with
the changes laid over them (`effective`).
"""

from __future__ import annotations

import json
import math
from typing import Any

import pandas as pd
from sqlalchemy import RowMapping

from layers.verification.crypto import FieldCipher

#: Sealed in ``families.personal``.
PERSONAL_FIELDS = ("family_id", "nik", "head_name", "address", "lon", "lat")
#: Columns of ``families``.
COUNT_FIELDS = ("decile", "members", "elderly", "disabled", "female_head")
#: JSON in ``families.attributes``.
ATTRIBUTE_FIELDS = (
    "year",
    "floor",
    "walls",
    "water",
    "sanitation",
    "electricity",
    "cooking_fuel",
    "head_schooling",
    "children_out_of_school",
    "health_cover",
)
#: Fields a correction may change. Not the family id (it is the record), the village (a family
#: that moved is ``pindah``), the decile (ranked nationally, not by the village) or the year.
EDITABLE_FIELDS = tuple(
    f
    for f in (*PERSONAL_FIELDS, *COUNT_FIELDS, *ATTRIBUTE_FIELDS)
    if f not in ("family_id", "decile", "year")
)
#: Fields of a proposed family (``usulan_baru``): every register field but the village (the URL's).
PROPOSAL_FIELDS = tuple(f for f in (*PERSONAL_FIELDS, *COUNT_FIELDS, *ATTRIBUTE_FIELDS) if f != "year")
ALL_FIELDS = (*PERSONAL_FIELDS, "village_code", *COUNT_FIELDS, *ATTRIBUTE_FIELDS)


def plain(value: Any) -> Any:
    """A value fit for JSON: numpy and pandas scalars as Python ones, NA and NaN as None."""
    if value is None:
        return None
    if isinstance(value, float) and math.isnan(value):
        return None
    try:
        if pd.isna(value):
            return None
    except (TypeError, ValueError):
        pass
    if hasattr(value, "item"):
        return value.item()
    return value


def bound_to(round_id: int, family_key: str) -> str:
    """What a family's sealed fields are bound to: its round and its family-id hash."""
    return f"family:{round_id}:{family_key}"


def family_record(row: RowMapping | dict[str, Any], cipher: FieldCipher | None) -> dict[str, Any]:
    """A family as the API shows it: its id, status, version, and its fields as they are now.

    Without a cipher (no register key) the personal fields are absent and ``locked`` is true.
    ``register`` holds the register's own values of the corrected fields, so a reader sees what
    changed.
    """
    attributes = json.loads(row["attributes"])
    values: dict[str, Any] = {"village_code": row["village_code"]}
    values |= {name: plain(row[name]) for name in COUNT_FIELDS}
    values |= {name: attributes.get(name) for name in ATTRIBUTE_FIELDS}
    if values["female_head"] is not None:
        values["female_head"] = bool(values["female_head"])
    changes: dict[str, Any] = {}
    if cipher is not None:
        where = bound_to(row["round_id"], row["family_key"])
        values |= cipher.open(row["personal"], where)
        if row["changes"]:
            changes = cipher.open(row["changes"], where)
    now_values = {**values, **changes}
    record = {
        "id": row["id"],
        "status": row["status"],
        "reason": row["reason"],
        "version": row["version"],
        "origin": row["origin"],
        **{
            name: now_values.get(name)
            for name in ALL_FIELDS
            if cipher is not None or name not in PERSONAL_FIELDS
        },
        "changes": sorted(changes),
        "register": {name: values.get(name) for name in sorted(changes)},
        "updated_at": row["updated_at"],
        "updated_by": row["updated_by"],
    }
    if cipher is None:
        record["locked"] = True
    return record


def split_values(values: dict[str, Any]) -> tuple[dict[str, Any], dict[str, Any], dict[str, Any]]:
    """A family's canonical values as (personal, counts, attributes)."""
    personal = {name: plain(values.get(name)) for name in PERSONAL_FIELDS}
    counts = {name: plain(values.get(name)) for name in COUNT_FIELDS}
    attributes = {name: plain(values.get(name)) for name in ATTRIBUTE_FIELDS}
    return personal, counts, attributes


def rows_for_insert(
    frame: pd.DataFrame, cipher: FieldCipher, round_id: int, *, origin: str, status: str, by: str, at: str
) -> list[dict[str, Any]]:
    """Rows of ``families`` for a frame in canonical columns (each family's personal fields sealed)."""
    rows = []
    columns = [c for c in ALL_FIELDS if c in frame.columns]
    for values in frame[columns].to_dict("records"):
        personal, counts, attributes = split_values(values)
        family_key = cipher.index("family", str(personal["family_id"]))
        if counts["female_head"] is not None:
            counts["female_head"] = bool(counts["female_head"])
        rows.append(
            {
                "round_id": round_id,
                "village_code": str(values["village_code"]),
                "origin": origin,
                "family_key": family_key,
                "nik_key": cipher.index("nik", str(personal["nik"])),
                "personal": cipher.seal(personal, bound_to(round_id, family_key)),
                **counts,
                "attributes": json.dumps(attributes, separators=(",", ":")),
                "status": status,
                "reason": None,
                "changes": None,
                "version": 1,
                "updated_at": at,
                "updated_by": by,
            }
        )
    return rows
