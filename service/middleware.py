"""Pure-ASGI guards around the app: request body size, the ``Host`` header, security headers.

Pure ASGI (like `service.app.CacheControlMiddleware`): they read the request's start and edit the
response's start message only, so answers stay streamed and nothing is buffered here.
"""

from __future__ import annotations

from urllib.parse import parse_qsl

from starlette.datastructures import Headers, MutableHeaders
from starlette.exceptions import HTTPException
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


class BodySizeLimitMiddleware:
    """Refuse request bodies larger than ``max_bytes`` with 413, without reading or parsing them.

    A declared ``Content-Length`` over the limit is answered at once, before the app runs. A body
    without one (chunked) is counted as the app receives it, and the app is stopped as soon as the
    count passes the limit, so at most ``max_bytes`` plus one chunk are ever held.
    """

    def __init__(self, app: ASGIApp, max_bytes: int):
        self.app = app
        self.max_bytes = max_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Check the declared length, then count the body as it streams in."""
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        declared = Headers(scope=scope).get("content-length", "")
        if declared.isdigit() and int(declared) > self.max_bytes:
            await self._refuse(scope, receive, send)
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
            await send(message)

        try:
            await self.app(scope, counting_receive, tracking_send)
        except BodyTooLarge:
            # Raised where no exception handler sits (a reader outside the routes): answer here.
            if started:
                raise
            await self._refuse(scope, receive, send)

    async def _refuse(self, scope: Scope, receive: Receive, send: Send) -> None:
        response = problem(413, BodyTooLarge(self.max_bytes).detail)
        response.headers["Connection"] = "close"  # the unread rest of the body is not wanted
        await response(scope, receive, send)


def repeated_parameters(query_string: bytes) -> list[str]:
    """Names given more than once in a query string (``limit=1&limit=2``), in order of appearance."""
    seen: set[str] = set()
    repeated: list[str] = []
    for name, _ in parse_qsl(query_string.decode("latin-1"), keep_blank_values=True):
        if name in seen and name not in repeated:
            repeated.append(name)
        seen.add(name)
    return repeated


def refusal(scope: Scope, allowed_hosts: list[str]) -> str | None:
    """Why a request is refused before any route sees it (400), or None.

    A ``Host`` that is not a well-formed ``host[:port]`` or not in ``allowed_hosts`` (RFC 9112 §3.2:
    refuse a malformed Host with 400), and a query parameter given twice: every route reads one
    value, and silently taking the first or the last of ``limit=1&limit=2`` answers a question
    the client may not have asked.
    """
    host = Headers(scope=scope).get("host")
    if host is not None:
        if not host_is_valid(host):
            return "the Host header is not a valid host[:port]"
        if not host_is_allowed(host, allowed_hosts):
            return "this service does not answer to that Host (allowed_hosts)"
    repeated = repeated_parameters(scope.get("query_string", b""))
    if repeated:
        return f"query parameter(s) {excerpt_list(repeated)} given more than once; give each once"
    return None


class HostGuardMiddleware:
    """Answer 400 to a request `refusal` refuses: a bad or unlisted ``Host``, a repeated parameter.

    Doing it here means no link, redirect or message can ever carry a malformed Host
    (`service.links`), and no route ever has to choose between two values of one parameter.
    """

    def __init__(self, app: ASGIApp, allowed_hosts: list[str]):
        self.app = app
        self.allowed_hosts = allowed_hosts

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Check the request (one without a Host, HTTP/1.0, falls back to the server address)."""
        if scope["type"] == "http":
            detail = refusal(scope, self.allowed_hosts)
            if detail:
                await problem(400, detail)(scope, receive, send)
                return
        await self.app(scope, receive, send)


class SecurityHeadersMiddleware:
    """``X-Content-Type-Options: nosniff`` on every answer; a same-origin CSP on HTML answers."""

    def __init__(self, app: ASGIApp):
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Pass the request on; add the headers to the response's start message."""
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = MutableHeaders(scope=message)
                headers["X-Content-Type-Options"] = "nosniff"
                if headers.get("content-type", "").startswith("text/html"):
                    headers.setdefault("Content-Security-Policy", HTML_CSP)
                headers.setdefault("Referrer-Policy", "same-origin")
            await send(message)

        await self.app(scope, receive, send_with_headers)
