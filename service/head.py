"""``HEAD`` on every ``GET`` resource (HTTP/1.1, RFC 9110 §9.3.2; OGC API - Features Part 1 asks for it).

A pure ASGI wrapper: a ``HEAD`` request runs as the ``GET`` it stands for, and its answer goes out
with the same status and headers (``Content-Length``, ``ETag``, ``Content-Type``...) and no body.
Where a path has no ``GET``, the ``405`` lists ``HEAD`` only beside a ``GET`` it names.
"""

from __future__ import annotations

from starlette.datastructures import MutableHeaders
from starlette.types import ASGIApp, Message, Receive, Scope, Send


class HeadMiddleware:
    """Answer ``HEAD`` as ``GET`` without the body, for every route at once."""

    def __init__(self, app: ASGIApp):
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Run a HEAD as a GET and drop the body; name HEAD in a 405's Allow beside GET."""
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        head = scope["method"] == "HEAD"

        async def answer(message: Message) -> None:
            if message["type"] == "http.response.start":
                if message["status"] == 405:
                    headers = MutableHeaders(scope=message)
                    methods = {m.strip() for m in headers.get("allow", "").split(",") if m.strip()}
                    if "GET" in methods and "HEAD" not in methods:
                        headers["Allow"] = ", ".join(sorted(methods | {"HEAD"}))
                await send(message)
            elif head and message["type"] == "http.response.body":
                if not message.get("more_body", False):
                    await send({"type": "http.response.body", "body": b"", "more_body": False})
            else:
                await send(message)

        await self.app({**scope, "method": "GET"} if head else scope, receive, answer)
