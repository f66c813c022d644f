"""Pure-ASGI guards around the app: request body size, the ``Host`` header, security headers.

Pure ASGI (like `service.app.CacheControlMiddleware`): they read the request's start and edit the
response's start message only, so answers stay streamed and nothing is buffered here.
"""

from __future__ import annotations

from starlette.datastructures import Headers, MutableHeaders
from starlette.exceptions import HTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

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


class HostGuardMiddleware:
    """Answer 400 to a ``Host`` header that is not a well-formed ``host[:port]`` or not allowed.

    RFC 9112 §3.2 asks servers to refuse a malformed Host with 400; doing it here means no link,
    redirect or message can ever carry one (`service.links`).
    """

    def __init__(self, app: ASGIApp, allowed_hosts: list[str]):
        self.app = app
        self.allowed_hosts = allowed_hosts

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Check the Host header (a request without one, HTTP/1.0, falls back to the server address)."""
        if scope["type"] == "http":
            host = Headers(scope=scope).get("host")
            if host is not None:
                detail = None
                if not host_is_valid(host):
                    detail = "the Host header is not a valid host[:port]"
                elif not host_is_allowed(host, self.allowed_hosts):
                    detail = "this service does not answer to that Host (allowed_hosts)"
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
