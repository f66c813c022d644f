"""Who is calling: a session cookie (pages) or a bearer token (scripts), and CSRF for the pages.

Every ``/verification`` endpoint that reads or writes data depends on `get_caller`; the dependency
runs before the endpoint's own parameters are looked at, so a caller without credentials gets 401
whatever the path names. A request with ``Authorization: Bearer`` is a script's: no cookie is
looked at and no CSRF token is needed (a browser never adds that header by itself). A request with
the session cookie that changes anything (not GET or HEAD) must carry the session's CSRF token in
``X-CSRF-Token`` and, if it has an ``Origin``, come from this service's origin.
"""

from __future__ import annotations

from typing import Annotated
from urllib.parse import urlsplit

from fastapi import Depends, Request
from starlette.responses import Response

from layers.verification.accounts import SESSION, TOKEN, Caller, authenticate, csrf_matches
from layers.verification.errors import Forbidden, NotSignedIn
from service.links import root_url
from service.settings import Settings
from service.verification.state import Verification, get_verification

#: The session cookie. Its path is the service's ``/verification``: nothing else receives it.
COOKIE = "sasaran_session"
CSRF_HEADER = "X-CSRF-Token"
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})

VerificationDep = Annotated[Verification, Depends(get_verification)]


def client_address(request: Request) -> str:
    """The client's address (behind a proxy: as uvicorn's ``--forwarded-allow-ips`` lets it through)."""
    return request.client.host if request.client else "unknown"


def _origin(url: str) -> str:
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc}".lower()


def check_same_origin(request: Request) -> None:
    """A browser's state-changing request must come from this service's own pages.

    Browsers send ``Origin`` with every cross-site POST, PATCH and fetch; a value other than this
    service's origin (its public URL's, or the request's own) is refused.
    """
    origin = request.headers.get("origin")
    if origin is None:
        return
    own = {_origin(root_url(request)), _origin(str(request.base_url))}
    if origin.lower() not in own:
        raise Forbidden("this request comes from another site's page: refused")


def get_caller(request: Request, state: VerificationDep) -> Caller:
    """The account behind the request (`NotSignedIn` → 401; a missing CSRF token → 403)."""
    address = client_address(request)
    header = request.headers.get("authorization")
    if header is not None:
        scheme, _, token = header.partition(" ")
        if scheme.lower() != "bearer":
            raise NotSignedIn("use Authorization: Bearer <token> (from `sasaran users token NAME`)")
        return authenticate(state.db, token.strip(), TOKEN, address)
    secret, caller = session_of(request, state)
    if request.method not in SAFE_METHODS:
        check_same_origin(request)
        if not csrf_matches(secret or "", request.headers.get(CSRF_HEADER)):
            raise Forbidden(f"missing or wrong CSRF token ({CSRF_HEADER}): reload the page and try again")
    return caller


CallerDep = Annotated[Caller, Depends(get_caller)]


def presented_sessions(request: Request) -> list[str]:
    """Every value of the session cookie the request carries (a browser may hold several, with
    other paths or domains: one planted by someone else among them)."""
    values = []
    for part in request.headers.get("cookie", "").split(";"):
        name, _, value = part.strip().partition("=")
        if name == COOKIE and value and value not in values:
            values.append(value)
    return values


def session_of(request: Request, state: Verification) -> tuple[str, Caller]:
    """The one live session among the cookies presented; `NotSignedIn` if none, or if several are live."""
    live = []
    for secret in presented_sessions(request)[:8]:
        try:
            live.append((secret, authenticate(state.db, secret, SESSION, client_address(request))))
        except NotSignedIn:
            continue
    if not live:
        raise NotSignedIn("sign in first (no session or token)")
    if len(live) > 1:
        raise NotSignedIn("this browser presents more than one session: sign in again")
    return live[0]


def cookie_path(request: Request) -> str:
    """``/verification`` under the service's root path (a proxy prefix included)."""
    return urlsplit(root_url(request)).path.rstrip("/") + "/verification"


def secure_cookies(request: Request) -> bool:
    """Cookies are ``Secure`` when the service is reached over HTTPS (as a proxy or the public URL says)."""
    settings: Settings | None = getattr(request.app.state, "settings", None)
    public = getattr(settings, "public_url", None) or ""
    return request.url.scheme == "https" or public.startswith("https://")


def set_session_cookie(response: Response, request: Request, secret: str, max_age_s: int) -> None:
    """The session cookie: HttpOnly, SameSite=Strict, Secure behind HTTPS, path ``/verification``."""
    response.set_cookie(
        COOKIE,
        secret,
        max_age=max_age_s,
        path=cookie_path(request),
        secure=secure_cookies(request),
        httponly=True,
        samesite="strict",
    )


def clear_session_cookie(response: Response, request: Request) -> None:
    """Remove the session cookie from the browser."""
    response.delete_cookie(
        COOKIE, path=cookie_path(request), secure=secure_cookies(request), httponly=True, samesite="strict"
    )
