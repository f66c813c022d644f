"""Signing in and out: ``POST /verification/signin`` and ``/signout``, ``GET /verification/me``.

Sign-in takes JSON only (a cross-site HTML form cannot send it without the browser asking this
service first, which it refuses), checks the ``Origin``, revokes whatever session the browser held,
and sets a new session cookie: a session id chosen by someone else never becomes a signed-in one.
"""

from __future__ import annotations

from fastapi import APIRouter, Request
from starlette.responses import Response

from layers.verification import accounts, rounds
from layers.verification.accounts import SESSION
from layers.verification.errors import InvalidInput, NotSignedIn
from layers.verification.seeding import register_changed
from service.deps import ServedDep
from service.settings import Settings
from service.verification import models
from service.verification.answers import private_json
from service.verification.auth import (
    CallerDep,
    VerificationDep,
    check_same_origin,
    clear_session_cookie,
    client_address,
    presented_sessions,
    session_of,
    set_session_cookie,
)

router = APIRouter(prefix="/verification", tags=["verification: sign-in"])


def session_hours(request: Request) -> float:
    """How long a session lives (``SASARAN_SESSION_HOURS``)."""
    settings: Settings = request.app.state.settings
    return settings.session_hours


@router.post(
    "/signin",
    summary="Sign in with a name and password (sets the session cookie)",
    responses={200: {"model": models.SignedIn}},
)
def sign_in(body: models.SignIn, request: Request, state: VerificationDep) -> Response:
    """Check the name and password; on success a new session (cookie) and its CSRF token.

    Failed sign-ins are limited per account and per address: past the limit the answer is 429 with
    ``Retry-After``, whatever the password.
    """
    if not request.headers.get("content-type", "").startswith("application/json"):
        raise InvalidInput("send the name and password as JSON")
    check_same_origin(request)
    _revoke_presented(request, state)
    hours = session_hours(request)
    signed = accounts.sign_in(
        state.db, body.name, body.password, client_address(request), session_hours=hours
    )
    response = private_json(
        {"account": signed.account.public(), "csrf": signed.csrf, "expires_at": signed.expires_at}
    )
    set_session_cookie(response, request, signed.secret, int(hours * 3600))
    return response


def _revoke_presented(request: Request, state: VerificationDep) -> None:
    """End every session the browser presents (it is about to be replaced by a new one)."""
    for secret in presented_sessions(request)[:8]:
        try:
            caller = accounts.authenticate(state.db, secret, SESSION, client_address(request))
        except NotSignedIn:
            continue
        accounts.sign_out(state.db, caller)


@router.get("/signin-options", summary="How one can sign in here (password; OpenID Connect if configured)")
def sign_in_options(request: Request, state: VerificationDep) -> Response:
    """How to sign in, and whether this browser's session is live (so a page asks for no more).

    ``{"password": true, "oidc": true|false, "signed_in": true|false}``.
    """
    settings: Settings = request.app.state.settings
    try:
        session_of(request, state)
        live = True
    except NotSignedIn:
        live = False
    oidc = bool(settings.oidc_issuer and settings.oidc_client_id)
    return private_json({"password": True, "oidc": oidc, "signed_in": live})


@router.post(
    "/signout", summary="End the session", status_code=204, responses={204: {"description": "Signed out"}}
)
def sign_out(request: Request, caller: CallerDep, state: VerificationDep) -> Response:
    """Revoke the session (or the bearer token used) and clear the cookie."""
    accounts.sign_out(state.db, caller)
    response = Response(status_code=204, headers={"Cache-Control": "no-store"})
    clear_session_cookie(response, request)
    return response


@router.get(
    "/me", summary="Who is signed in, and the page's CSRF token", responses={200: {"model": models.Me}}
)
def me(request: Request, caller: CallerDep, state: VerificationDep, served: ServedDep) -> Response:
    """The signed-in account, the CSRF token for the page's changes, and the active round."""
    csrf = accounts.csrf_token(session_of(request, state)[0]) if caller.kind == SESSION else None
    with state.db.read() as conn:
        active = rounds.active_round(conn)
    # A rebuilt store with a new register never touches the round: say so, for `sasaran rounds new`.
    changed = active is not None and register_changed(active, served.store)
    return private_json(
        {
            "account": caller.account.public(),
            "csrf": csrf,
            "verification": state.describe() | {"register_changed": changed},
            "round": active.public() if active else None,
        }
    )
