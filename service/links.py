"""Absolute links in answers: one place that decides which root URL the service writes.

Answers that carry links are marked ``Cache-Control: public``; a link built from whatever ``Host``
header a client sent let one request poison a shared cache for everyone behind it, and sent
``Location: http://evil.example.com/planner``. So, like pygeoapi (which takes its links from
``server.url`` in its configuration only), links never come from an unchecked ``Host``. The root is:

1. ``SASARAN_PUBLIC_URL`` when set (``sasaran serve`` sets it from ``--public-url``, or from the
   address it was started on);
2. otherwise, when ``SASARAN_ALLOWED_HOSTS`` is set, the request's ``Host``, which
   `service.middleware.ServiceMiddleware` has already checked to be one of them (Django's way);
3. otherwise the address of the server's own socket the request came in on (the ASGI ``server``),
   which no client header can change.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from urllib.parse import parse_qsl, quote, urlencode

from starlette.requests import Request

#: ``host[:port]``: DNS labels (underscores tolerated, as in container names), IPv4, or a bracketed
#: IPv6 literal. Anything else (quotes, angle brackets, spaces, ``@``, a path) is not a host.
_LABEL = r"[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?"
#: A single label may carry underscores (container names such as ``api_1``); a dotted DNS name may
#: not (RFC 1123: ``evil_example.com`` is no host name).
_SINGLE = r"[A-Za-z0-9_](?:[A-Za-z0-9_-]{0,61}[A-Za-z0-9_])?"
HOST_PATTERN = re.compile(
    rf"(?:{_SINGLE}|{_LABEL}(?:\.{_LABEL})+\.?|\[[0-9A-Fa-f:.]{{2,45}}\])(?::[0-9]{{1,5}})?"
)
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
    """The service root clients should use, without a trailing slash (see the module docstring)."""
    # A router may be mounted on an app without settings (its own tests): then no public URL.
    settings = getattr(request.app.state, "settings", None)
    public: str | None = getattr(settings, "public_url", None)
    if public:
        return public
    root_path = request.scope.get("root_path", "").rstrip("/")
    host = request.headers.get("host")
    if getattr(settings, "allowed_hosts", None) and host:  # checked against them already
        return f"{request.url.scheme}://{host}{root_path}"
    return server_root(request.scope.get("scheme", "http"), request.scope.get("server")) + root_path


def server_root(scheme: str, server: tuple[str, int | None] | None) -> str:
    """``scheme://host[:port]`` of the server's own socket (the ASGI ``server``), not of any header.

    Examples
    --------
    >>> server_root("http", ("127.0.0.1", 8000)), server_root("https", ("::1", 443))
    ('http://127.0.0.1:8000', 'https://[::1]')
    """
    if not server:  # a Unix socket: only the configured public URL can say where clients are
        return f"{scheme}://localhost"
    host, port = server
    if ":" in host and not host.startswith("["):
        host = f"[{host}]"
    default = {"http": 80, "https": 443}.get(scheme)
    return f"{scheme}://{host}" + ("" if port in (None, default) else f":{port}")


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
