"""Map domain errors to HTTP answers: one table, ``application/problem+json`` bodies (RFC 9457).

The body's ``detail`` is the domain error's message, written for a person. Unexpected exceptions
get a fixed message; the traceback goes to the log only.
"""

from __future__ import annotations

import logging

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.responses import Response
from starlette.routing import Match

from layers.cancel import Cancelled
from layers.errors import (
    EXCERPT_ITEMS,
    ConfigError,
    InvalidQuery,
    LayerNotFound,
    SourceError,
    StoreError,
    excerpt,
)
from service.responses import PROBLEM_JSON, ORJSONResponse

log = logging.getLogger(__name__)

STATUS_CODES: dict[type[Exception], int] = {
    LayerNotFound: 404,
    InvalidQuery: 400,
    SourceError: 422,
    ConfigError: 400,
    StoreError: 503,
    # The client went away and its work stopped (`service.heavy`): nobody reads this answer.
    Cancelled: 503,
}

#: Longest ``detail`` sent: domain messages quote inputs through `layers.errors.excerpt`; this
#: bounds whatever slips through (a list of known names, a library's message).
MAX_DETAIL_CHARS = 2_000

TITLES = {400: "Bad request", 404: "Not found", 405: "Method not allowed", 422: "Unprocessable input"}
TITLES |= {413: "Content too large", 415: "Unsupported media type", 500: "Internal server error"}
TITLES |= {503: "Service unavailable"}


def status_for(exc: Exception) -> int:
    """HTTP status of a domain error: the entry of its nearest class in `STATUS_CODES`, else 500."""
    for cls in type(exc).__mro__:
        if cls in STATUS_CODES:
            return STATUS_CODES[cls]
    return 500


def printable(text: object, limit: int = MAX_DETAIL_CHARS) -> str:
    """``text`` as an error message can always carry it: shortened, lone surrogates escaped.

    A lone surrogate (``"\\ud800"`` in a JSON string) is a Python ``str`` that no UTF-8 encoder
    accepts; quoted into a message as it is, it made the problem+json writer itself fail.
    """
    shown = excerpt(text, limit)
    return shown.encode("utf-8", "backslashreplace").decode("utf-8")


#: The answer when even a problem document cannot be written (it never should).
_FALLBACK = b'{"type":"about:blank","title":"Internal server error","status":500,"detail":"error"}'


def problem(status: int, detail: str, title: str | None = None) -> Response:
    """A problem document (RFC 9457) response; it is written whatever ``detail`` holds."""
    body = {
        "type": "about:blank",
        "title": printable(title or TITLES.get(status, "Error"), 200),
        "status": status,
        "detail": printable(detail),
    }
    try:
        return ORJSONResponse(body, status_code=status, media_type=PROBLEM_JSON)
    except Exception:  # pragma: no cover - printable() leaves nothing orjson refuses
        log.exception("could not write a problem document")
        return Response(_FALLBACK, status_code=500, media_type=PROBLEM_JSON)


async def _domain_error(request: Request, exc: Exception) -> Response:
    status = status_for(exc)
    if isinstance(exc, Cancelled):
        return problem(status, str(exc))
    if status >= 500:
        log.error("%s %s failed: %s", request.method, request.url.path, exc, exc_info=exc)
    return problem(status, str(exc))


async def _validation_error(_request: Request, exc: Exception) -> Response:
    assert isinstance(exc, RequestValidationError)
    errors = exc.errors()
    parts = []
    for err in errors[:EXCERPT_ITEMS]:
        # A location holds the caller's keys (e.g. a priority group): quote a short excerpt of each.
        loc = [excerpt(p, 40) for p in err.get("loc", ()) if p not in ("query", "path", "body")]
        parts.append(f"{'.'.join(loc) or 'request'}: {excerpt(err.get('msg', 'invalid'))}")
    more = f"; and {len(errors) - EXCERPT_ITEMS} more" if len(errors) > EXCERPT_ITEMS else ""
    return problem(400, "; ".join(parts) + more or "invalid request")


async def _http_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, StarletteHTTPException)
    if exc.status_code == 404 and exc.detail == "Not Found":
        return problem(404, f"no resource at {excerpt(request.url.path)}; start at / for the links")
    response = problem(exc.status_code, str(exc.detail))
    response.headers.update(exc.headers or {})
    if exc.status_code == 405:
        # RFC 9110 §15.5.6: list every method of the resource. Starlette names only those of the
        # first route that matched the path (GET /scores/{level}, not also its POST).
        response.headers["Allow"] = ", ".join(sorted(_allowed_methods(request)))
    return response


def _allowed_methods(request: Request) -> set[str]:
    # Asked of the routes themselves, method by method: routers nest (include_router), so a route's
    # own `methods` are not all at the top level.
    routes = request.app.router.routes
    return {
        method
        for method in _METHODS
        if any(route.matches({**request.scope, "method": method})[0] == Match.FULL for route in routes)
    }


_METHODS = ("GET", "HEAD", "POST", "PUT", "PATCH", "DELETE")


async def _unexpected(request: Request, exc: Exception) -> Response:
    log.error("%s %s failed", request.method, request.url.path, exc_info=exc)
    return problem(500, "an unexpected error occurred; it has been logged")


def add_exception_handlers(app: FastAPI) -> None:
    """Install the handlers: domain errors by `STATUS_CODES`, validation → 400, anything else → 500."""
    for cls in STATUS_CODES:
        app.add_exception_handler(cls, _domain_error)
    app.add_exception_handler(RequestValidationError, _validation_error)
    app.add_exception_handler(StarletteHTTPException, _http_error)
    app.add_exception_handler(Exception, _unexpected)
