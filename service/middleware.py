"""The one pure-ASGI layer around the app: the ``Host`` header, request body size, compression,
``Cache-Control`` and security headers.

It reads the request's start and edits the response's start message only, so answers stay
streamed and nothing is buffered here (but by the compressor, for gzip). One layer, not five: each
stacked layer cost ~12 µs of every answer (a coroutine, a wrapped ``send`` and a parsed header
list each); the checks themselves are the small functions below, called in the same order.
"""

from __future__ import annotations

from urllib.parse import parse_qsl

from starlette.exceptions import HTTPException
from starlette.middleware.gzip import GZipResponder, IdentityResponder
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from layers.errors import excerpt_list
from service.errors import problem
from service.links import host_is_allowed, host_is_valid

#: The policy of every HTML answer (the planner, /docs): this origin only. ``blob:`` workers and
#: images are MapLibre's (its worker and its canvas images); ``data:`` images are Swagger UI's icons.
HTML_CSP = "; ".join(
    [
        "default-src 'self'",
        "script-src 'self'",
        "style-src 'self'",
        "img-src 'self' data: blob:",
        "font-src 'self'",
        "connect-src 'self'",
        "worker-src 'self' blob:",
        "child-src 'self' blob:",
        "object-src 'none'",
        "base-uri 'self'",
        "form-action 'self'",
        "frame-ancestors 'self'",
    ]
)


class BodyTooLarge(HTTPException):
    """A request body beyond ``max_body_bytes``: 413.

    An `HTTPException` so that FastAPI, which turns other errors raised while reading a body into a
    generic 400, passes it on to the problem+json handler unchanged.
    """

    def __init__(self, limit: int):
        super().__init__(413, f"request body larger than {limit} bytes (max_body_bytes); send less")


def host_refusal(host: str, allowed_hosts: list[str]) -> str | None:
    """Why a ``Host`` header is refused with 400 (None: it is answered).

    RFC 9112 §3.2 asks servers to refuse a malformed Host with 400; doing it before the app means no
    link, redirect or message can ever carry one (`service.links`).
    """
    if not host_is_valid(host):
        return "the Host header is not a valid host[:port]"
    if not host_is_allowed(host, allowed_hosts):
        return "this service does not answer to that Host (allowed_hosts)"
    return None


def repeated_parameters(query_string: bytes) -> list[str]:
    """Names given more than once with different values (``limit=1&limit=2``), in order of appearance.

    The same value twice is one question: GDAL and QGIS append the query of the URL they were
    given (``?datetime=../..``) to every ``next`` link, which already carries it (encoded or not).
    """
    if b"&" not in query_string:  # one parameter or none: nothing to parse on the common path
        return []
    seen: dict[str, str] = {}
    repeated: list[str] = []
    for name, value in parse_qsl(query_string.decode("latin-1"), keep_blank_values=True):
        if name in seen and seen[name] != value and name not in repeated:
            repeated.append(name)
        seen.setdefault(name, value)
    return repeated


def query_refusal(query_string: bytes) -> str | None:
    """Why a query string is refused with 400 (None: it is read): a parameter given twice.

    Every route reads one value per parameter; silently taking the first or the last of
    ``limit=1&limit=2`` answers a question the client may not have asked.
    """
    repeated = repeated_parameters(query_string)
    if repeated:
        return f"query parameter(s) {excerpt_list(repeated)} given more than once; give each once"
    return None


def request_refusal(host: bytes | None, query_string: bytes, allowed_hosts: list[str]) -> str | None:
    """Why a request is answered 400 before any route sees it: its Host, then its query string.

    A request without a Host (HTTP/1.0) falls back to the server address (`service.links`).
    """
    if host is not None:
        detail = host_refusal(host.decode("latin-1"), allowed_hosts)
        if detail:
            return detail
    return query_refusal(query_string)


def declared_too_large(content_length: str | None, max_bytes: int) -> bool:
    """Whether a declared ``Content-Length`` is over the limit (answered 413 before the app runs)."""
    return content_length is not None and content_length.isdigit() and int(content_length) > max_bytes


def _set(headers: list[tuple[bytes, bytes]], key: bytes, value: bytes) -> None:
    """Set a header, replacing the first of that name and dropping the others (``MutableHeaders``)."""
    found = [i for i, (name, _) in enumerate(headers) if name == key]
    for i in reversed(found[1:]):
        del headers[i]
    if found:
        headers[found[0]] = (key, value)
    else:
        headers.append((key, value))


def _first(headers: list[tuple[bytes, bytes]], key: bytes) -> bytes | None:
    for name, value in headers:
        if name == key:
            return value
    return None


def _setdefault(headers: list[tuple[bytes, bytes]], key: bytes, value: bytes) -> None:
    if _first(headers, key) is None:
        headers.append((key, value))


def edit_response_headers(
    headers: list[tuple[bytes, bytes]], status: int, method: str, public_cache: bytes
) -> None:
    """The headers every answer gets, in place.

    ``Cache-Control`` where the answer set none: ``public_cache`` for a successful GET, ``no-store``
    otherwise. ``X-Content-Type-Options: nosniff`` always; a same-origin CSP on HTML;
    ``Referrer-Policy: same-origin`` unless set.
    """
    if _first(headers, b"cache-control") is None:
        ok = method == "GET" and status < 400
        headers.append((b"cache-control", public_cache if ok else b"no-store"))
    _set(headers, b"x-content-type-options", b"nosniff")
    if (_first(headers, b"content-type") or b"").startswith(b"text/html"):
        _setdefault(headers, b"content-security-policy", _HTML_CSP)
    _setdefault(headers, b"referrer-policy", b"same-origin")


_HTML_CSP = HTML_CSP.encode("latin-1")


class ServiceMiddleware:
    """Every request's checks and every answer's headers, in one pure-ASGI layer.

    In order: a ``Host`` that is malformed or not allowed, and a query parameter given twice, are
    answered 400 (`request_refusal`); a declared ``Content-Length`` over ``max_body_bytes`` 413 at
    once, and a body without one (chunked) is counted as the app receives it, the app stopped as
    soon as the count passes the limit (at most ``max_body_bytes`` plus one chunk are ever held).
    Every answer, those included, gets
    `edit_response_headers`, then is gzipped when the client asks and it is at least
    ``gzip_min_bytes`` (Starlette's own responders, as its ``GZipMiddleware`` uses them).
    """

    def __init__(
        self,
        app: ASGIApp,
        *,
        max_body_bytes: int,
        allowed_hosts: list[str],
        cache_max_age: int,
        gzip_min_bytes: int,
        gzip_level: int = 9,
    ):
        self.app = app
        self.max_bytes = max_body_bytes
        self.allowed_hosts = allowed_hosts
        self.public_cache = f"public, max-age={cache_max_age}".encode()
        self.gzip_min_bytes = gzip_min_bytes
        self.gzip_level = gzip_level

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Compress (or not) around the checked app."""
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        accept = _first(scope["headers"], b"accept-encoding") or b""
        if b"gzip" in accept:
            await GZipResponder(self._checked, self.gzip_min_bytes, self.gzip_level)(scope, receive, send)
        else:
            await IdentityResponder(self._checked, self.gzip_min_bytes)(scope, receive, send)

    async def _checked(self, scope: Scope, receive: Receive, send: Send) -> None:
        method = scope["method"]

        async def edited(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = message["headers"] = list(message["headers"])
                edit_response_headers(headers, message["status"], method, self.public_cache)
            await send(message)

        detail = request_refusal(
            _first(scope["headers"], b"host"), scope.get("query_string", b""), self.allowed_hosts
        )
        if detail:
            await problem(400, detail)(scope, receive, edited)
            return
        declared = _first(scope["headers"], b"content-length")
        if declared_too_large(None if declared is None else declared.decode("latin-1"), self.max_bytes):
            await self._refuse(scope, receive, edited)
            return

        received = 0
        started = False

        async def counting_receive() -> Message:
            nonlocal received
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > self.max_bytes:
                    raise BodyTooLarge(self.max_bytes)
            return message

        async def tracking_send(message: Message) -> None:
            nonlocal started
            started = started or message["type"] == "http.response.start"
            await edited(message)

        try:
            await self.app(scope, counting_receive, tracking_send)
        except BodyTooLarge:
            # Raised where no exception handler sits (a reader outside the routes): answer here.
            if started:
                raise
            await self._refuse(scope, receive, edited)

    async def _refuse(self, scope: Scope, receive: Receive, send: Send) -> None:
        response = problem(413, BodyTooLarge(self.max_bytes).detail)
        response.headers["Connection"] = "close"  # the unread rest of the body is not wanted
        await response(scope, receive, send)
