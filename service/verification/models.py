"""Request bodies and answers of ``/verification``: they document the API in OpenAPI.

Bodies are strict (an unknown member is a 400, so a mistyped ``staus`` is not silently ignored);
answers are open (a client must not break on a member added later).
"""

from __future__ import annotations

from typing import Any, Literal, get_args

from pydantic import BaseModel, ConfigDict, Field

from layers.verification.roles import ROLES
from layers.verification.workflow import FAMILY_STATUSES, MAX_REASON, VILLAGE_STATES

# Spelled out for the type checker; `_same` below checks them against the library's tables.
Status = Literal[
    "belum",
    "valid",
    "diperbaiki",
    "pindah",
    "meninggal",
    "tidak_ditemukan",
    "tidak_layak",
    "ganda",
    "usulan_baru",
]
State = Literal["terbuka", "diajukan", "ditinjau", "dikembalikan", "disetujui"]
Role = Literal["provinsi", "kabupaten", "kecamatan", "desa"]


def _same(literal: Any, table: Any) -> None:
    if tuple(get_args(literal)) != tuple(table):
        raise AssertionError(f"{literal} differs from {tuple(table)}")


for _literal, _table in ((Status, FAMILY_STATUSES), (State, VILLAGE_STATES), (Role, ROLES)):
    _same(_literal, _table)


class _Body(BaseModel):
    model_config = ConfigDict(extra="forbid")


class _Open(BaseModel):
    model_config = ConfigDict(extra="allow", populate_by_name=True)


# ------------------------------------------------------------------ bodies


class SignIn(_Body):
    """A name and a password."""

    name: str = Field(min_length=1, max_length=64)
    password: str = Field(min_length=1, max_length=1024)


class FamilyChange(_Body):
    """A family's new status, against the version the caller saw."""

    status: Status
    version: int = Field(ge=1, le=2**31 - 1, description="The family's `version` as you last saw it.")
    reason: str | None = Field(None, max_length=MAX_REASON)
    changes: dict[str, Any] | None = Field(
        None,
        description="Corrected fields and their new values (status `diperbaiki`, or on a proposed family).",
    )


class Proposal(_Body):
    """A family missing from the register (``usulan_baru``), with the register's fields."""

    nik: str = Field(min_length=1, max_length=32)
    head_name: str = Field(min_length=1, max_length=200)
    address: str = Field(min_length=1, max_length=300)
    decile: int = Field(ge=1, le=10)
    members: int = Field(ge=1, le=100)
    family_id: str | None = Field(None, max_length=64)
    elderly: int | None = Field(None, ge=0, le=100)
    disabled: int | None = Field(None, ge=0, le=100)
    children_out_of_school: int | None = Field(None, ge=0, le=100)
    female_head: bool | None = None
    floor: str | None = Field(None, max_length=64)
    walls: str | None = Field(None, max_length=64)
    water: str | None = Field(None, max_length=64)
    sanitation: str | None = Field(None, max_length=64)
    electricity: str | None = Field(None, max_length=64)
    cooking_fuel: str | None = Field(None, max_length=64)
    head_schooling: str | None = Field(None, max_length=64)
    health_cover: str | None = Field(None, max_length=64)
    lon: float | None = Field(None, ge=-180, le=180)
    lat: float | None = Field(None, ge=-90, le=90)
    reason: str | None = Field(None, max_length=MAX_REASON)


class StepBody(_Body):
    """A village's step: a note (required to return it) and the version seen (optional)."""

    note: str | None = Field(None, max_length=MAX_REASON)
    version: int | None = Field(None, ge=1, le=2**31 - 1)


class AccountBody(_Body):
    """A new kecamatan or desa account in the caller's kabupaten; its password is generated."""

    name: str = Field(min_length=3, max_length=64, pattern=r"^[a-z0-9][a-z0-9._-]{1,62}[a-z0-9]$")
    role: Literal["kecamatan", "desa"]
    region: str = Field(pattern=r"^[0-9]{7}$|^[0-9]{10}$")


class FamilyListBody(_Body):
    """The villages whose families to list (as ``POST /targets`` chose them, or by code)."""

    villages: list[str] = Field(min_length=1, max_length=5000)


# ------------------------------------------------------------------ answers


class AccountOut(_Open):
    """An account (never its password)."""

    name: str
    role: Role
    region: str
    disabled: bool
    created_at: str
    created_by: str
    last_signin_at: str | None = None
    sign_in: Literal["password", "oidc"]


class NewAccount(_Open):
    """A new account, with its password shown this once."""

    account: AccountOut
    password: str


class Me(_Open):
    """Who is signed in, the page's CSRF token, and what the service can do now."""

    account: AccountOut
    csrf: str | None = Field(None, description="Send it as X-CSRF-Token with every change (pages only).")
    verification: dict[str, Any]
    round: dict[str, Any] | None = None


class SignedIn(_Open):
    """A new session (the cookie is set); its CSRF token."""

    account: AccountOut
    csrf: str
    expires_at: str


class Village(_Open):
    """A village in the workflow: state, note, counts by status."""

    code: str
    name: str
    kecamatan_code: str
    kecamatan_name: str
    kabupaten_code: str
    kabupaten_name: str
    state: State
    note: str | None = None
    version: int
    families: int
    checked: int
    counts: dict[str, int]
    updated_at: str
    updated_by: str


class Villages(_Open):
    """The villages of the caller's region."""

    round: dict[str, Any]
    villages: list[Village]


class Family(_Open):
    """A family as it is now: its register fields with any correction laid over them."""

    id: int
    status: Status
    reason: str | None = None
    version: int
    origin: Literal["register", "usulan_baru"]
    village_code: str
    family_id: str | None = None
    nik: str | None = None
    head_name: str | None = None
    address: str | None = None
    decile: int | None = None
    members: int | None = None
    changes: list[str]
    register_values: dict[str, Any] = Field(
        alias="register", description="The register's own corrected values"
    )
    updated_at: str
    updated_by: str


class FamiliesPage(_Open):
    """A page of a village's families."""

    village: Village
    total: int
    offset: int
    limit: int
    families: list[Family]


class HistoryEntry(_Open):
    """One audit entry."""

    seq: int
    at: str
    actor: str
    role: str
    action: str
    field: str | None = None
    old: Any = None
    new: Any = None
    reason: str | None = None


class History(_Open):
    """Audit entries about one record, newest first."""

    entries: list[HistoryEntry]


class Progress(_Open):
    """Progress in the caller's region."""

    round: dict[str, Any]
    total: dict[str, Any]
    kabupaten: list[dict[str, Any]]
    kecamatan: list[dict[str, Any]]
    villages: list[dict[str, Any]]


class SheetResult(_Open):
    """What an uploaded sheet changed: rows applied, unchanged, and conflicts (not written)."""

    applied: int
    unchanged: int
    proposed: int
    conflicts: list[dict[str, Any]]


class ConflictProblem(_Open):
    """409: the record as it is now is in ``current``."""

    status: int
    detail: str
    current: dict[str, Any] | None = None


class SheetProblem(_Open):
    """422: the sheet's errors, each with its sheet, row, column and message in Bahasa Indonesia."""

    status: int
    detail: str
    errors: list[dict[str, Any]]
