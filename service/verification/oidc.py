"""Optional sign-in through a provincial OpenID Connect provider (Keycloak, Authentik, ...).

Configured with ``SASARAN_OIDC_ISSUER``, ``SASARAN_OIDC_CLIENT_ID`` and
``SASARAN_OIDC_CLIENT_SECRET`` (docs/verification.md has a working example); without them these
routes answer 404 and the pages offer passwords only. The flow is the authorization code flow with
PKCE (authlib's OAuth2 client): ``/verification/oidc/login`` sends the browser to the provider with
a fresh ``state``, ``nonce`` and code verifier kept in a short-lived cookie; the provider sends it
back to ``/verification/oidc/callback``, which exchanges the code, checks the ID token (signature
against the provider's published keys, issuer, audience, expiry, nonce: joserfc), and signs the
browser in as the Sasaran account the identity belongs to (`layers.verification.accounts.
account_for_oidc`): roles and regions stay Sasaran's, so only an existing, enabled account can sign
in this way.
"""

from __future__ import annotations

import hmac
import logging
import secrets
import threading
import time
from typing import TYPE_CHECKING, Annotated, Any
from urllib.parse import urlsplit

from fastapi import APIRouter, Query, Request
from fastapi.responses import RedirectResponse
from joserfc import jwt
from joserfc.errors import JoseError
from joserfc.jwk import KeySet

from layers.verification import accounts
from layers.verification.errors import NotSignedIn, RecordNotFound, SignInFailed
from service.links import href, root_url
from service.settings import Settings
from service.verification.auth import VerificationDep, client_address, secure_cookies, set_session_cookie
from service.verification.errors import NO_STORE

if TYPE_CHECKING:
    from authlib.integrations.httpx_client import OAuth2Client

log = logging.getLogger(__name__)

router = APIRouter(prefix="/verification/oidc", tags=["verification: sign-in"])

COOKIE = "sasaran_oidc"
#: Seconds a browser has to come back from the provider.
FLOW_SECONDS = 600
#: Seconds the provider's discovery document and keys are kept.
CACHE_SECONDS = 3600
HTTP_TIMEOUT_S = 10.0
#: ID token signatures accepted (asymmetric only: a provider's published key can check them).
SIGNING_ALGORITHMS = ("RS256", "PS256", "ES256", "EdDSA")

_cache: dict[str, tuple[float, Any]] = {}
_cache_lock = threading.Lock()


class OidcFailure(ValueError):
    """The provider's answer fails a check of the protocol (state, token, signature, claims)."""


def _settings(request: Request) -> Settings:
    settings: Settings = request.app.state.settings
    if not (settings.oidc_issuer and settings.oidc_client_id):
        raise RecordNotFound("OpenID Connect sign-in is not configured here (SASARAN_OIDC_ISSUER)")
    return settings


def _fetch(url: str) -> Any:
    """A JSON document of the provider, kept `CACHE_SECONDS`."""
    with _cache_lock:
        hit = _cache.get(url)
        if hit is not None and time.monotonic() - hit[0] < CACHE_SECONDS:
            return hit[1]
    import httpx  # its package imports its command line (rich): only when someone signs in this way

    answer = httpx.get(url, timeout=HTTP_TIMEOUT_S, follow_redirects=False)
    answer.raise_for_status()
    document = answer.json()
    with _cache_lock:
        _cache[url] = (time.monotonic(), document)
    return document


def _http_error() -> type[Exception]:
    """httpx's error class, imported when an except clause is reached (httpx loads rich)."""
    import httpx

    return httpx.HTTPError


def _discovery(issuer: str) -> dict[str, Any]:
    document = _fetch(issuer.rstrip("/") + "/.well-known/openid-configuration")
    if document.get("issuer", "").rstrip("/") != issuer.rstrip("/"):
        raise OidcFailure("the OpenID Connect provider names another issuer than SASARAN_OIDC_ISSUER")
    return dict(document)


def _client(settings: Settings, request: Request) -> OAuth2Client:
    # authlib's httpx client imports httpx's command line (rich): only when someone signs in with it.
    from authlib.integrations.httpx_client import OAuth2Client

    return OAuth2Client(
        client_id=settings.oidc_client_id,
        client_secret=settings.oidc_client_secret,
        scope=settings.oidc_scopes,
        redirect_uri=root_url(request) + "/verification/oidc/callback",
        code_challenge_method="S256",
        timeout=HTTP_TIMEOUT_S,
    )


def _cookie_path(request: Request) -> str:
    return urlsplit(root_url(request)).path.rstrip("/") + "/verification/oidc"


@router.get("/login", summary="Sign in through the provincial OpenID Connect provider (redirect)")
def oidc_login(request: Request) -> RedirectResponse:
    """Send the browser to the provider, with a fresh state, nonce and PKCE code challenge."""
    settings = _settings(request)
    assert settings.oidc_issuer is not None
    try:
        document = _discovery(settings.oidc_issuer)
    except (_http_error(), ValueError) as exc:
        log.warning("OpenID Connect provider unavailable: %s: %s", exc.__class__.__name__, str(exc)[:200])
        return RedirectResponse(
            href(request, "/verification") + "?signin=failed", status_code=303, headers=dict(NO_STORE)
        )
    state, nonce, verifier = (secrets.token_urlsafe(32) for _ in range(3))
    with _client(settings, request) as client:
        url, _ = client.create_authorization_url(
            document["authorization_endpoint"], state=state, code_verifier=verifier, nonce=nonce
        )
    response = RedirectResponse(url, status_code=303, headers=dict(NO_STORE))
    # Lax, not Strict: the provider's redirect back is a top-level navigation from its site.
    response.set_cookie(
        COOKIE,
        f"{state}.{nonce}.{verifier}",
        max_age=FLOW_SECONDS,
        path=_cookie_path(request),
        secure=secure_cookies(request),
        httponly=True,
        samesite="lax",
    )
    return response


@router.get("/callback", summary="Where the OpenID Connect provider sends the browser back")
def oidc_callback(
    request: Request,
    verification: VerificationDep,
    code: Annotated[str | None, Query(max_length=4096)] = None,
    state: Annotated[str | None, Query(max_length=512)] = None,
    error: Annotated[str | None, Query(max_length=200)] = None,
) -> RedirectResponse:
    """Check the answer, exchange the code, verify the ID token, and sign the browser in."""
    settings = _settings(request)
    try:
        claims = _claims(settings, request, code, state, error)
        account = accounts.account_for_oidc(
            verification.db,
            str(claims["sub"]),
            str(claims.get(settings.oidc_username_claim) or ""),
            client_address(request),
        )
        signed = accounts.open_session_for(
            verification.db,
            account,
            client_address(request),
            session_hours=settings.session_hours,
            method="oidc",
        )
        response = RedirectResponse(href(request, "/verification"), status_code=303, headers=dict(NO_STORE))
        set_session_cookie(response, request, signed.secret, int(settings.session_hours * 3600))
    except (SignInFailed, NotSignedIn) as exc:
        log.info("OpenID Connect sign-in refused: %s", exc)
        response = RedirectResponse(
            href(request, "/verification") + "?signin=refused", status_code=303, headers=dict(NO_STORE)
        )
    except (_http_error(), JoseError, KeyError, ValueError) as exc:
        # The reason goes to the log (no personal data in it); the browser is told it failed.
        log.warning("OpenID Connect sign-in failed: %s: %s", exc.__class__.__name__, str(exc)[:200])
        response = RedirectResponse(
            href(request, "/verification") + "?signin=failed", status_code=303, headers=dict(NO_STORE)
        )
    response.delete_cookie(
        COOKIE, path=_cookie_path(request), secure=secure_cookies(request), httponly=True, samesite="lax"
    )
    return response


def _claims(
    settings: Settings, request: Request, code: str | None, state: str | None, error: str | None
) -> Any:
    """The ID token's claims once every check passes (`OidcFailure` naming what did not)."""
    if error or not code or not state:
        raise OidcFailure("the provider did not sign you in")
    kept = request.cookies.get(COOKIE, "").split(".")
    if len(kept) != 3 or not hmac.compare_digest(kept[0], state):
        raise OidcFailure("this sign-in did not start here, or took too long: start again")
    _, nonce, verifier = kept
    assert settings.oidc_issuer is not None
    document = _discovery(settings.oidc_issuer)
    with _client(settings, request) as client:
        token = client.fetch_token(
            document["token_endpoint"], code=code, code_verifier=verifier, grant_type="authorization_code"
        )
    keys = KeySet.import_key_set(_fetch(document["jwks_uri"]))
    decoded = jwt.decode(token["id_token"], keys, algorithms=list(SIGNING_ALGORITHMS))
    claims = decoded.claims
    audience = claims.get("aud")
    audiences = audience if isinstance(audience, list) else [audience]
    checks = {
        "iss": claims.get("iss", "").rstrip("/") == document["issuer"].rstrip("/"),
        "aud": settings.oidc_client_id in audiences,
        "exp": float(claims.get("exp", 0)) > time.time(),
        "nonce": hmac.compare_digest(str(claims.get("nonce", "")), nonce),
        "sub": bool(claims.get("sub")),
    }
    failed = [name for name, ok in checks.items() if not ok]
    if failed:
        raise OidcFailure(f"the ID token fails its checks ({', '.join(failed)})")
    return claims
