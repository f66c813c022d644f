"""The verification API: villages, families, their statuses and history, progress, accounts.

Parse → call `layers.verification` → answer. Every operation needs a signed-in caller
(`service.verification.auth`) and works within the caller's region; every answer is ``no-store``.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Path, Query
from starlette.responses import Response

from layers.verification import accounts, audit, progress, workflow
from layers.verification.accounts import generate_password
from layers.verification.crypto import SEALED
from layers.verification.errors import Forbidden
from service.verification import models
from service.verification.answers import private_json
from service.verification.auth import CallerDep, VerificationDep

router = APIRouter(prefix="/verification", tags=["verification"])

VillageCode = Annotated[str, Path(pattern=r"^[0-9]{10}$", description="BPS village code (10 digits)")]
FamilyId = Annotated[int, Path(ge=1, le=2**31 - 1, description="The family's `id` in this database")]
AccountName = Annotated[
    str, Path(min_length=3, max_length=64, pattern=r"^[a-z0-9][a-z0-9._-]{1,62}[a-z0-9]$")
]


@router.get(
    "/villages",
    summary="Villages of your region, with state and counts",
    responses={200: {"model": models.Villages}},
)
def villages(caller: CallerDep, state: VerificationDep, status: models.State | None = None) -> Response:
    """Every village of your region: its workflow state, note and families by status (no names)."""
    return private_json(workflow.list_villages(state.db, caller.account, state=status))


@router.get("/villages/{code}", summary="One village", responses={200: {"model": models.Village}})
def village(code: VillageCode, caller: CallerDep, state: VerificationDep) -> Response:
    """One village of your region."""
    return private_json(workflow.get_village(state.db, caller.account, code))


@router.get(
    "/villages/{code}/families",
    summary="A village's families, paged and searchable (by-name read, audited)",
    responses={200: {"model": models.FamiliesPage}},
)
def families(
    code: VillageCode,
    caller: CallerDep,
    state: VerificationDep,
    q: Annotated[
        str | None, Query(max_length=100, description="Part of the head's name, NIK or family id")
    ] = None,
    status: models.Status | None = None,
    offset: Annotated[int, Query(ge=0, le=10**6)] = 0,
    limit: Annotated[int, Query(ge=1, le=workflow.MAX_PAGE)] = workflow.DEFAULT_PAGE,
) -> Response:
    """A page of the village's families with each one's ``id``, ``status`` and ``version``."""
    cipher = state.require_cipher()
    page = workflow.families_page(
        state.db, cipher, caller, code, q=q, status=status, offset=offset, limit=limit
    )
    return private_json(page)


@router.post(
    "/villages/{code}/families",
    status_code=201,
    summary="Propose a family missing from the register (usulan_baru)",
    responses={201: {"model": models.Family}},
)
def propose(code: VillageCode, body: models.Proposal, caller: CallerDep, state: VerificationDep) -> Response:
    """Add a family the register lacks; it is checked by the register's own rules (desa only)."""
    cipher = state.require_cipher()
    fields = body.model_dump(exclude_none=True, exclude={"reason"})
    validate = state.active_validator()
    made = workflow.propose_family(
        state.db, cipher, caller, code, fields, reason=body.reason, validate=validate
    )
    return private_json(made, status=201)


def _step(action: str) -> Any:
    def take_step(
        code: VillageCode, caller: CallerDep, state: VerificationDep, body: models.StepBody | None = None
    ) -> Response:
        body = body or models.StepBody()
        return private_json(
            workflow.transition(state.db, caller, code, action, note=body.note, version=body.version)
        )

    take_step.__doc__ = {
        "submit": "Submit the village to its kecamatan (desa; no family may be left `belum`).",
        "pass": "Pass a submitted village on to the kabupaten (kecamatan).",
        "return": "Return a village to its desa with a note saying what to correct (kecamatan, kabupaten).",
        "approve": "Approve a village the kecamatan passed; it becomes read-only (kabupaten).",
    }[action]
    return take_step


for _action in workflow.TRANSITIONS:
    router.add_api_route(
        f"/villages/{{code}}/{_action}",
        _step(_action),
        methods=["POST"],
        summary=f"{_action.capitalize()} a village",
        name=f"village_{_action}",
        responses={200: {"model": models.Village}},
    )


@router.get(
    "/villages/{code}/history",
    summary="What happened in a village (audit entries; no personal values)",
    responses={200: {"model": models.History}},
)
def village_history(
    code: VillageCode,
    caller: CallerDep,
    state: VerificationDep,
    before: Annotated[int | None, Query(ge=1, le=2**62)] = None,
    limit: Annotated[int, Query(ge=1, le=500)] = 100,
) -> Response:
    """The village's audit entries, newest first (``before``: the next page); sealed values hidden."""
    workflow.get_village(state.db, caller.account, code)  # 404 outside the region
    with state.db.read() as conn:
        entries = audit.entries(conn, region_prefix=code, before=before, limit=limit)
    shown = []
    for entry in entries:
        item = entry.as_dict()
        for side in ("old", "new"):
            if isinstance(item[side], str) and item[side].startswith(SEALED):
                item[side] = "(data pribadi / personal data)"
        shown.append(
            {
                k: item[k]
                for k in ("seq", "at", "actor", "role", "action", "record", "field", "old", "new", "reason")
            }
        )
    return private_json({"entries": shown})


@router.get(
    "/families/{family_id}",
    summary="One family (by-name read, audited)",
    responses={200: {"model": models.Family}},
)
def family(family_id: FamilyId, caller: CallerDep, state: VerificationDep) -> Response:
    """One family of your region as it is now, with ``version`` for the next change."""
    return private_json(workflow.get_family(state.db, state.require_cipher(), caller, family_id))


@router.get(
    "/families/{family_id}/history",
    summary="A family's history (audited)",
    responses={200: {"model": models.History}},
)
def history(family_id: FamilyId, caller: CallerDep, state: VerificationDep) -> Response:
    """Every change of the family: who, when, field, old → new, reason; newest first."""
    return private_json(workflow.family_history(state.db, state.require_cipher(), caller, family_id))


@router.patch(
    "/families/{family_id}",
    summary="Set a family's status (against its version)",
    responses={200: {"model": models.Family}},
)
def change(
    family_id: FamilyId, body: models.FamilyChange, caller: CallerDep, state: VerificationDep
) -> Response:
    """Set ``status`` (with ``reason``; ``changes`` for a correction) against ``version``.

    A ``version`` that is no longer current is answered 409 with the family as it is now in
    ``current``: nothing is overwritten.
    """
    cipher = state.require_cipher()
    validate = state.active_validator()
    changed = workflow.change_family(
        state.db, cipher, caller, family_id, status=body.status, version=body.version, reason=body.reason,
        changes=body.changes, validate=validate,
    )  # fmt: skip
    return private_json(changed)


@router.get(
    "/progress",
    summary="Share of families checked per village, kecamatan, kabupaten",
    responses={200: {"model": models.Progress}},
)
def progress_answer(caller: CallerDep, state: VerificationDep) -> Response:
    """Progress in your region: totals, per kabupaten and kecamatan, and every village (waiting first)."""
    return private_json(progress.progress(state.db, caller.account))


# ------------------------------------------------------------------ accounts (kabupaten)


def _manager(caller: CallerDep, *, changes: bool = True) -> accounts.Account:
    """The caller if it may manage accounts (kabupaten), or list them (and provinsi); else 403."""
    allowed = ("kabupaten",) if changes else ("kabupaten", "provinsi")
    if caller.account.role not in allowed:
        raise Forbidden("only kabupaten accounts manage accounts (and provinsi accounts list them)")
    return caller.account


@router.get(
    "/accounts", summary="Accounts of your region", responses={200: {"model": list[models.AccountOut]}}
)
def account_list(caller: CallerDep, state: VerificationDep) -> Response:
    """The accounts whose region lies in yours (kabupaten and provinsi accounts)."""
    manager = _manager(caller, changes=False)
    return private_json([a.public() for a in accounts.list_accounts(state.db, manager.region)])


@router.post(
    "/accounts",
    status_code=201,
    summary="Create a kecamatan or desa account (its password is shown once)",
    responses={201: {"model": models.NewAccount}},
)
def account_create(body: models.AccountBody, caller: CallerDep, state: VerificationDep) -> Response:
    """A new account in your kabupaten with a generated password, shown in this answer only."""
    manager = _manager(caller)
    password = generate_password()
    made = accounts.create_account(
        state.db, body.name, body.role, body.region, password, caller.actor, manager=manager
    )
    return private_json({"account": made.public(), "password": password}, status=201)


@router.post(
    "/accounts/{name}/disable",
    summary="Disable an account (its sessions and tokens end)",
    responses={200: {"model": models.AccountOut}},
)
def account_disable(name: AccountName, caller: CallerDep, state: VerificationDep) -> Response:
    """Disable a kecamatan or desa account of your kabupaten; every session and token it has ends."""
    manager = _manager(caller)
    return private_json(accounts.set_disabled(state.db, name, True, caller.actor, manager=manager).public())


@router.post(
    "/accounts/{name}/enable",
    summary="Enable an account again",
    responses={200: {"model": models.AccountOut}},
)
def account_enable(name: AccountName, caller: CallerDep, state: VerificationDep) -> Response:
    """Enable a disabled account of your kabupaten (its old sessions stay revoked)."""
    manager = _manager(caller)
    return private_json(accounts.set_disabled(state.db, name, False, caller.actor, manager=manager).public())


@router.post(
    "/accounts/{name}/reset",
    summary="Give an account a new password (shown once; its sessions end)",
    responses={200: {"model": models.NewAccount}},
)
def account_reset(name: AccountName, caller: CallerDep, state: VerificationDep) -> Response:
    """A new generated password for a kecamatan or desa account of your kabupaten."""
    manager = _manager(caller)
    password = generate_password()
    done = accounts.reset_password(state.db, name, password, caller.actor, manager=manager)
    return private_json({"account": done.public(), "password": password})
