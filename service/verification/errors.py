"""Verification's errors as HTTP answers (problem+json, never cached, never naming a person).

=====================  =====  ============================================================
`NotSignedIn`          401    with ``WWW-Authenticate: Bearer``
`Forbidden`            403    the role may not do this (or CSRF / origin refused)
`RecordNotFound`       404    also for records outside the caller's region
`Conflict`             409    with ``current``: the record as it is now
`InvalidInput`         400
`SheetRejected`        422    with ``errors``: every row and column, in Bahasa Indonesia
`TooManyAttempts`      429    with ``Retry-After``
`DatabaseError`        503    the database or the register cannot be used right now
=====================  =====  ============================================================
"""

from __future__ import annotations

import logging
from typing import Any

from fastapi import FastAPI, Request
from starlette.responses import Response

from layers.errors import excerpt
from layers.verification.errors import (
    Conflict,
    DatabaseError,
    Forbidden,
    InvalidInput,
    NotSignedIn,
    RecordNotFound,
    SheetRejected,
    TooManyAttempts,
    VerificationError,
)
from service.errors import MAX_DETAIL_CHARS
from service.responses import PROBLEM_JSON, ORJSONResponse

log = logging.getLogger(__name__)

STATUS: dict[type[VerificationError], int] = {
    NotSignedIn: 401,
    Forbidden: 403,
    RecordNotFound: 404,
    Conflict: 409,
    InvalidInput: 400,
    SheetRejected: 422,
    TooManyAttempts: 429,
    DatabaseError: 503,
}
TITLES = {
    400: "Bad request",
    401: "Sign in first",
    403: "Forbidden",
    404: "Not found",
    409: "Conflict",
    422: "Unprocessable input",
    429: "Too many attempts",
    503: "Service unavailable",
}
#: Every answer of ``/verification``: never stored by a browser or a proxy (it may name people).
NO_STORE = {"Cache-Control": "no-store", "Pragma": "no-cache"}


def status_of(exc: VerificationError) -> int:
    """The status of an error: its nearest class in `STATUS` (500 if none)."""
    for cls in type(exc).__mro__:
        if cls in STATUS:
            return STATUS[cls]
    return 500


def problem(status: int, detail: str, **extra: Any) -> Response:
    """A problem+json answer that no cache keeps."""
    body = {
        "type": "about:blank",
        "title": TITLES.get(status, "Error"),
        "status": status,
        "detail": excerpt(detail, MAX_DETAIL_CHARS),
        **extra,
    }
    return ORJSONResponse(body, status_code=status, media_type=PROBLEM_JSON, headers=dict(NO_STORE))


async def _verification_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, VerificationError)
    status = status_of(exc)
    extra: dict[str, Any] = {}
    if isinstance(exc, Conflict) and exc.current is not None:
        extra["current"] = exc.current
    if isinstance(exc, SheetRejected):
        extra["errors"] = exc.errors
    response = problem(status, str(exc), **extra)
    if status == 401:
        response.headers["WWW-Authenticate"] = 'Bearer realm="sasaran"'
    if isinstance(exc, TooManyAttempts):
        response.headers["Retry-After"] = str(exc.retry_after_s)
    if status >= 500:
        # The message says what is wrong with the database or the key, never whose data.
        log.warning("%s %s: %s", request.method, request.url.path, exc)
    return response


def add_handlers(app: FastAPI) -> None:
    """Answer every `VerificationError` by `STATUS`."""
    app.add_exception_handler(VerificationError, _verification_error)
