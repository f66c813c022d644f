"""Absolute links in answers: one place that decides which root URL the service writes.

Answers that carry links are marked ``Cache-Control: public``; a link built from whatever ``Host``
header a client sent would let one request poison a shared cache for everyone behind it. So links
start at the configured public URL (``SASARAN_PUBLIC_URL``) when there is one, and otherwise at the
request's own root, whose ``Host`` `service.middleware.ServiceMiddleware` has already checked to be
a well-formed ``host[:port]`` (and, if ``SASARAN_ALLOWED_HOSTS`` is set, one of those).
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from urllib.parse import parse_qsl, quote, urlencode

from starlette.requests import Request

#: ``host[:port]``: DNS labels (underscores tolerated, as in container names), IPv4, or a bracketed
#: IPv6 literal. Anything else (quotes, angle brackets, spaces, ``@``, a path) is not a host.
_LABEL = r"[A-Za-z0-9_](?:[A-Za-z0-9_-]{0,61}[A-Za-z0-9_])?"
HOST_PATTERN = re.compile(rf"(?:{_LABEL}(?:\.{_LABEL})*\.?|\[[0-9A-Fa-f:.]{{2,45}}\])(?::[0-9]{{1,5}})?")
#: Longer Host headers are refused before the pattern is tried (a DNS name has at most 253 characters).
MAX_HOST_LENGTH = 260
#: Characters kept as they are in link paths; quotes, angle brackets and spaces are percent-encoded.
_PATH_SAFE = "/:@!$&()*+,;=~-._%"


def host_is_valid(host: str) -> bool:
    """Whether ``host`` is a well-formed ``host[:port]`` (an HTTP ``Host`` header value)."""
    return len(host) <= MAX_HOST_LENGTH and HOST_PATTERN.fullmatch(host) is not None


def host_is_allowed(host: str, allowed: list[str]) -> bool:
    """Whether a well-formed ``host[:port]`` is in ``allowed`` (empty: every host is).

    An entry ``example.org`` allows that host on any port, ``example.org:8443`` only that port, and
    ``*.example.org`` every subdomain.
    """
    if not allowed:
        return True
    host = host.lower().rstrip(".")
    name = host.rsplit(":", 1)[0] if not host.endswith("]") else host
    for entry in allowed:
        if entry in (host, name) or (entry.startswith("*.") and name.endswith(entry[1:])):
            return True
    return False


def root_url(request: Request) -> str:
    """The service root clients should use, without a trailing slash."""
    # A router may be mounted on an app without settings (its own tests): then no public URL.
    settings = getattr(request.app.state, "settings", None)
    public: str | None = getattr(settings, "public_url", None)
    if public:
        return public
    return str(request.base_url).rstrip("/")


def href(request: Request, path: str) -> str:
    """The absolute URL of a service path (``/collections/villages``)."""
    return root_url(request) + quote(path, safe=_PATH_SAFE)


def request_href(request: Request, **params: object) -> str:
    """This request's own URL under `root_url`, with the query parameters ``params`` set."""
    return request_hrefs(request, [params])[0]


def request_hrefs(request: Request, variants: Sequence[Mapping[str, object]]) -> list[str]:
    """This request's own URL under `root_url` once per set of query parameters to set.

    What Starlette's ``URL.include_query_params`` writes (the other parameters in their order, then
    the ones set), with the path, root and query parsed once for all: a page's self, alternate,
    next and prev links.
    """
    url = request.url
    path = url.path
    prefix = request.base_url.path.rstrip("/")  # a root_path (behind a proxy prefix) is in both
    if prefix and path.startswith(prefix):
        path = path[len(prefix) :]
    base = href(request, path)
    pairs: list[tuple[str, str]] | None = None
    out = []
    for params in variants:
        query = url.query
        if params:
            if pairs is None:
                pairs = parse_qsl(url.query, keep_blank_values=True)
            new = {str(key): str(value) for key, value in params.items()}
            query = urlencode([(k, v) for k, v in pairs if k not in new] + list(new.items()))
        out.append(base + (f"?{query}" if query else ""))
    return out
