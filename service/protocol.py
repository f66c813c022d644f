"""uvicorn's HTTP protocol with its own errors as problem+json, like every other answer.

A request uvicorn cannot parse never reaches the app: uvicorn answers it itself, as
``text/plain`` "Invalid HTTP request received.". That happens to URLs longer than 65,535 bytes
(httptools reads URL offsets as 16-bit numbers), to malformed request lines and headers. This
protocol is uvicorn's own (httptools when installed, else h11), changed in one method: the 400 it
sends is an RFC 9457 problem document with the service's security and cache headers.

Select it with ``uvicorn --http service.protocol:ProblemHTTPProtocol`` (``sasaran serve`` and the
container do).
"""

from __future__ import annotations

import orjson
from uvicorn.protocols.http.auto import AutoHTTPProtocol

#: The longest URL uvicorn's parser (httptools) reads.
MAX_URL_BYTES = 65_535


def problem_response(status: int, title: str, detail: str, extra: list[tuple[bytes, bytes]]) -> bytes:
    """A complete HTTP/1.1 response carrying a problem document, closing the connection."""
    body = orjson.dumps({"type": "about:blank", "title": title, "status": status, "detail": detail})
    head = [f"HTTP/1.1 {status} {title}".encode()]
    head += [name + b": " + value for name, value in extra]
    head += [
        b"content-type: application/problem+json",
        b"content-length: " + str(len(body)).encode(),
        b"cache-control: no-store",
        b"x-content-type-options: nosniff",
        b"connection: close",
    ]
    return b"\r\n".join(head) + b"\r\n\r\n" + body


class ProblemHTTPProtocol(AutoHTTPProtocol):  # type: ignore[misc, valid-type]
    """uvicorn's protocol whose own 400 answers are ``application/problem+json``."""

    def send_400_response(self, msg: str) -> None:
        """Answer a request uvicorn could not parse (and close the connection, as uvicorn does)."""
        del msg  # uvicorn's own text ("Invalid HTTP request received."), which it has logged
        url = getattr(self, "url", b"") or b""
        if len(url) > MAX_URL_BYTES:
            detail = (
                f"the URL has {len(url):,} bytes; this server reads at most {MAX_URL_BYTES:,}. Send a long "
                "query in the body of a POST where the API offers one, or shorten it"
            )
        else:
            detail = "the request is not valid HTTP/1.1 (request line or headers); it was not read"
        extra = list(getattr(self.server_state, "default_headers", []))
        self.transport.write(problem_response(400, "Bad request", detail, extra))
        self.transport.close()
