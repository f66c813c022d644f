"""Issue 13, findings 2 and 6: request body size, Host header and links, security headers, /docs.

Through the real app (TestClient over `create_app`, lifespan included) and, where the wire matters
(a body the client has not finished sending), the real service under uvicorn (`live_server`).
"""

from __future__ import annotations

import hashlib
import re
import socket
from collections.abc import Iterator
from pathlib import Path

import orjson
import pytest
from fastapi.testclient import TestClient
from starlette.requests import Request

from service.app import create_app
from service.scores import spec_digest
from service.settings import Settings

ROOT = Path(__file__).resolve().parents[2]
SWAGGER = ROOT / "service" / "static" / "swagger"
MIB = 1 << 20

#: GET answers that carry absolute links (and so must never carry a caller's Host).
LINKED = [
    "/",
    "/collections",
    "/collections/villages",
    "/collections/villages/items?limit=2&offset=2",
    "/collections/villages/queryables",
    "/collections/hexagons/tiles/WebMercatorQuad",
    "/collections/hexagons/tiles/WebMercatorQuad/tilejson.json",
    "/exports",
    "/scores/kabupaten?limit=1",
]


def _problem(r, status: int) -> dict:
    assert r.status_code == status, r.text
    assert r.headers["content-type"] == "application/problem+json"
    body = r.json()
    assert body["status"] == status and body["type"] == "about:blank" and body["title"] and body["detail"]
    return body


@pytest.fixture(scope="module")
def small_limit(service_store: Path) -> Iterator[TestClient]:
    """The app with a 64 KiB body limit."""
    with TestClient(create_app(Settings(store_dir=service_store, max_body_bytes=64 * 1024))) as c:
        yield c


# ---------------------------------------------------------------- request body size (finding 2)


def test_a_100_mb_post_is_refused_without_parsing(
    client: TestClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    reads: list[int] = []
    real_body = Request.body

    async def counted_body(self: Request) -> bytes:  # every handler reads its body through this
        reads.append(1)
        return await real_body(self)

    monkeypatch.setattr(Request, "body", counted_body)
    assert client.post("/targets", json={"scenarios": 0, "max_villages": 1}).status_code in (200, 400)
    assert reads, "the counter sees a body being read"
    reads.clear()
    body = b'{"scenarios": 20, "max_villages": 5, "pad": "' + b"x" * (100 * MIB) + b'"}'
    r = client.post("/targets", content=body, headers={"content-type": "application/json"})
    detail = _problem(r, 413)["detail"]
    assert "1048576 bytes" in detail and "max_body_bytes" in detail
    assert r.headers["cache-control"] == "no-store"
    assert not reads, "the body was read by a handler"  # parsing it took 12 s


def test_limit_is_a_setting_and_smaller_bodies_pass(small_limit: TestClient) -> None:
    spec = small_limit.get("/scores/kabupaten?limit=1").json()["spec"]
    ok = small_limit.post("/scores/kabupaten?limit=1", json=spec)
    assert ok.status_code == 200, ok.text
    padded = spec | {"note": "x" * (64 * 1024)}
    _problem(small_limit.post("/scores/kabupaten?limit=1", json=padded), 413)


def test_a_chunked_body_is_cut_off_at_the_limit(small_limit: TestClient) -> None:
    """An endless body without Content-Length: the app stops reading just past the limit."""
    app = small_limit.app
    chunk = 8192
    pulled = 0
    sent: list[dict] = []

    async def receive() -> dict:
        nonlocal pulled
        pulled += 1
        if pulled > 10_000:  # 80 MB: the middleware failed to stop it
            raise AssertionError("the body was read far past the limit")
        return {"type": "http.request", "body": b" " * chunk, "more_body": True}

    async def send(message: dict) -> None:
        sent.append(message)

    scope = {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": "POST",
        "scheme": "http",
        "path": "/targets",
        "raw_path": b"/targets",
        "root_path": "",
        "query_string": b"",
        "headers": [(b"host", b"testserver"), (b"content-type", b"application/json")],
        "client": ("127.0.0.1", 50000),
        "server": ("testserver", 80),
        "state": {},
    }
    small_limit.portal.call(app, scope, receive, send)
    start = next(m for m in sent if m["type"] == "http.response.start")
    assert start["status"] == 413
    body = b"".join(m.get("body", b"") for m in sent if m["type"] == "http.response.body")
    assert orjson.loads(body)["status"] == 413
    assert pulled <= 64 * 1024 // chunk + 1  # never more than the limit plus one chunk


def _request_head(port: int, extra: str) -> bytes:
    return (
        f"POST /targets HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nContent-Type: application/json\r\n{extra}\r\n"
    ).encode()


def _send_until_answered(sock: socket.socket, chunks: Iterator[bytes]) -> tuple[bytes, int]:
    """Send chunks until the server answers; (the answer's first bytes, bytes sent by then)."""
    sent = 0
    sock.settimeout(0.05)
    for piece in chunks:
        try:
            sock.sendall(piece)
        except (BrokenPipeError, ConnectionResetError):
            break  # the server answered and closed: read what it said
        sent += len(piece)
        try:
            answer = sock.recv(65536)
            if answer:
                return answer, sent
        except TimeoutError:
            continue
    sock.settimeout(10)
    return sock.recv(65536), sent


@pytest.mark.parametrize("framing", ["content-length", "chunked"])
def test_the_live_server_answers_413_before_the_body_is_sent(
    live_server: tuple[str, Path], framing: str
) -> None:
    """Over HTTP: a 100 MB upload is answered 413 after the first few MB at most."""
    port = int(live_server[0].rsplit(":", 1)[1])
    total = 100 * MIB
    piece = b"x" * 65536
    if framing == "content-length":
        head = _request_head(port, f"Content-Length: {total}\r\n")
        chunks: Iterator[bytes] = (piece for _ in range(total // len(piece)))
    else:
        head = _request_head(port, "Transfer-Encoding: chunked\r\n")
        chunks = (b"%x\r\n%b\r\n" % (len(piece), piece) for _ in range(total // len(piece)))
    with socket.create_connection(("127.0.0.1", port), timeout=10) as sock:
        sock.sendall(head)
        answer, sent = _send_until_answered(sock, chunks)
    assert answer.startswith(b"HTTP/1.1 413 "), answer[:200]
    assert b"application/problem+json" in answer
    assert sent < 20 * MIB, f"the server let {sent} bytes in before answering"


# ---------------------------------------------------------------- Host header and links (finding 6)

EVIL = 'evil.example"><script>alert(1)</script>'


@pytest.mark.parametrize(
    "host",
    [EVIL, "evil.example/path", "a b", "user@evil.example", "x" * 300, "h:99999999", "evil_example.com"],
)
def test_a_malformed_host_is_refused_and_never_reflected(client: TestClient, host: str) -> None:
    for path in [*LINKED, "/planner/", "/docs", "/healthz"]:
        r = client.get(path, headers={"host": host}, follow_redirects=False)
        _problem(r, 400)
        assert r.headers["cache-control"] == "no-store"
        assert host not in r.text and all(host not in v for v in r.headers.values())


def test_well_formed_hosts_are_served_but_links_never_take_them(client: TestClient) -> None:
    """Issue 23, finding 7: with default settings the attacker's Host was reflected into links."""
    for host in ["testserver", "sasaran.example.go.id:8443", "127.0.0.1:8000", "[::1]:8000", "api_1"]:
        r = client.get("/", headers={"host": host})
        assert r.status_code == 200, (host, r.text)
        # No public URL, no host list: the server's own address (TestClient's is testserver:80).
        assert r.json()["links"][0]["href"] == "http://testserver/"


def _fill(path: str, doc: dict, store) -> str:
    """A GET path of the OpenAPI document with every path parameter given a value that exists."""
    tile = "8/130/205"
    values = {
        "{collection_id}": "villages",
        "{feature_id}": str(store.layer("villages")["village_code"].iloc[0]),
        "{level}": "kabupaten",
        "{layer}": "villages",
        "{ext}": "csv",
        "{z}/{y}/{x}": tile,
        "{style_id}": "default",
        "{tile_matrix_set_id}": "WebMercatorQuad",
        "{fontstack}/{glyph_range}": "DejaVu Sans Book/0-255",
    }
    if "/tiles/WebMercatorQuad/{z}" in path:
        path = path.replace("{collection_id}", "hexagons")
    for name, value in values.items():
        path = path.replace(name, value)
    if path.startswith("/verification"):  # signed-in paths: any id (a 401 must not show the host either)
        path = re.sub(r"\{[^}]+\}", "1", path)
    assert "{" not in path, path
    return path


#: Query parameters some GET operations need (the rest answer with their defaults).
_REQUIRED = {"/changes": "?from={first}&to={last}"}


def test_an_attacker_host_never_appears_in_any_answer_by_default(client: TestClient, store) -> None:
    """Every GET route of the OpenAPI document, with ``Host: evil.example.com`` and default settings."""
    doc = client.get("/openapi").json()
    years = sorted(store.years)
    paths = [p for p, item in doc["paths"].items() if "get" in item]
    assert len(paths) >= 20
    seen = 0
    for path in paths:
        url = _fill(path, doc, store) + _REQUIRED.get(path, "").format(first=years[0], last=years[-1])
        for extra in ("", "&f=html" if "?" in url else "?f=html"):
            r = client.get(url + extra, headers={"host": "evil.example.com"}, follow_redirects=False)
            assert r.status_code < 500, (url, r.status_code, r.text[:300])
            assert b"evil.example" not in r.content, (url + extra, r.text[:300])
            assert not any("evil.example" in value for value in r.headers.values()), (url, r.headers)
            seen += r.status_code == 200
    # The planner's trailing-slash redirect is relative: it can carry no host.
    r = client.get("/planner/", headers={"host": "evil.example.com"}, follow_redirects=False)
    assert r.status_code == 308 and r.headers["location"] == "../planner"
    assert seen >= len([p for p in paths if not p.startswith("/verification")]), seen


@pytest.fixture(scope="module")
def public(service_store: Path) -> Iterator[TestClient]:
    """The app told its public URL (behind a proxy, under a path)."""
    settings = Settings(store_dir=service_store, public_url="https://peta.example.go.id/sasaran/")
    with TestClient(create_app(settings)) as c:
        yield c


def _urls(value: object) -> list[str]:
    """Every absolute URL in a JSON document (links, ``$id``, TileJSON ``tiles``)."""
    if isinstance(value, dict):
        return [u for v in value.values() for u in _urls(v)]
    if isinstance(value, list):
        return [u for v in value for u in _urls(v)]
    return [value] if isinstance(value, str) and value.startswith("http") else []


#: Standards' own URLs in our documents (conformance classes, CRS, JSON Schema), not our links.
EXTERNAL = re.compile(r"https?://(www\.opengis\.net|schemas\.opengis\.net|json-schema\.org)/")


def test_links_use_the_public_url_whatever_the_host(public: TestClient) -> None:
    for path in LINKED:
        r = public.get(path, headers={"host": "evil.example"})
        assert r.status_code == 200, (path, r.text)
        assert r.headers["cache-control"].startswith("public")
        assert "evil.example" not in r.text, path
        ours = [u for u in _urls(r.json()) if not EXTERNAL.match(u)]
        assert ours and all(h.startswith("https://peta.example.go.id/sasaran/") for h in ours), (path, ours)
    tilejson = public.get("/collections/hexagons/tiles/WebMercatorQuad/tilejson.json").json()
    assert tilejson["tiles"][0].startswith("https://peta.example.go.id/sasaran/collections/hexagons/tiles/")
    redirect = public.get("/planner/?lang=en", headers={"host": "evil.example"}, follow_redirects=False)
    assert redirect.headers["location"] == "../planner?lang=en"  # relative: right behind any prefix


def test_page_links_keep_the_query_under_the_public_url(public: TestClient) -> None:
    links = {
        link["rel"]: link["href"]
        for link in public.get("/collections/villages/items?limit=2&offset=2&year=2024").json()["links"]
    }
    root = "https://peta.example.go.id/sasaran/collections/villages"
    assert links["self"] == f"{root}/items?limit=2&offset=2&year=2024"
    assert links["next"] == f"{root}/items?year=2024&offset=4&limit=1000"  # next pages are big
    assert links["prev"] == f"{root}/items?year=2024&offset=0&limit=2"
    assert links["collection"] == root


def test_links_behind_a_path_prefix_without_public_url(service_store: Path) -> None:
    with TestClient(create_app(Settings(store_dir=service_store)), root_path="/sasaran") as c:
        page = c.get("/collections/villages/items?limit=1", headers={"host": "evil.example"})
        links = {link["rel"]: link["href"] for link in page.json()["links"]}
    assert links["self"] == "http://testserver/sasaran/collections/villages/items?limit=1"
    assert links["collection"] == "http://testserver/sasaran/collections/villages"


def test_allowed_hosts(service_store: Path) -> None:
    settings = Settings(store_dir=service_store, allowed_hosts=["sasaran.example.go.id", "*.internal"])
    with TestClient(create_app(settings), base_url="http://sasaran.example.go.id") as c:
        assert c.get("/").status_code == 200
        assert c.get("/", headers={"host": "sasaran.example.go.id:8443"}).status_code == 200
        assert c.get("/", headers={"host": "api.internal"}).status_code == 200
        detail = _problem(c.get("/", headers={"host": "evil.example"}), 400)["detail"]
        assert "allowed_hosts" in detail and "evil" not in detail
        # A host of the list is checked: links may follow it (several names for one service).
        links = c.get("/", headers={"host": "api.internal"}).json()["links"]
        assert links[0]["href"] == "http://api.internal/"


@pytest.mark.parametrize(
    "url", ["ftp://x.example", "peta.example.go.id", "https://x.example/?a=1", "https://"]
)
def test_a_bad_public_url_is_refused_at_startup(url: str) -> None:
    with pytest.raises(ValueError, match="public_url"):
        Settings(public_url=url)


# ---------------------------------------------------------------- headers, spec digest, /docs (finding 6)


def test_html_answers_carry_a_same_origin_csp(client: TestClient) -> None:
    for path in ["/planner", "/docs"]:
        r = client.get(path)
        assert r.status_code == 200 and r.headers["content-type"].startswith("text/html")
        csp = r.headers["content-security-policy"]
        directives = dict(d.strip().split(" ", 1) for d in csp.split(";"))
        assert directives["default-src"] == "'self'" and directives["script-src"] == "'self'"
        assert directives["object-src"] == "'none'" and "frame-ancestors" in directives
        assert not re.search(r"https?:|\*|'unsafe-inline'|'unsafe-eval'", csp), csp
        assert r.headers["x-content-type-options"] == "nosniff"


@pytest.mark.parametrize(
    "path",
    [
        "/",
        "/collections/villages/items?limit=1",
        "/collections/hexagons/tiles/WebMercatorQuad/8/130/205",
        "/scores/kabupaten?f=csv",
        "/planner/static/planner.js",
        "/docs/static/swagger/swagger-ui.css",
        "/nowhere",
        "/collections/villages/items?limit=x",
    ],
)
def test_every_answer_says_nosniff(client: TestClient, path: str) -> None:
    r = client.get(path)
    assert r.headers["x-content-type-options"] == "nosniff", (path, r.status_code)
    if not r.headers.get("content-type", "").startswith("text/html"):
        assert "content-security-policy" not in r.headers


def test_a_405_lists_every_method_of_the_resource(client: TestClient) -> None:
    r = client.request("OPTIONS", "/scores/village")
    _problem(r, 405)
    assert r.headers["allow"] == "GET, HEAD, POST"  # HEAD: every GET resource answers it
    assert client.request("TRACE", "/healthz").headers["allow"] == "GET, HEAD"


def test_no_spec_is_echoed_into_headers(client: TestClient) -> None:
    """The spec a caller posts (100 KB of it was seen echoed) comes back as a fixed-size digest."""
    spec = client.get("/scores/kabupaten?limit=1").json()["spec"]
    spec["indicator"][0]["weight"] = 0.2  # not the default spec: the answer is the caller's own
    spec["indicator"][1]["weight"] = 0.05
    r = client.post("/scores/kabupaten?f=csv", json=spec)
    assert r.status_code == 200, r.text
    assert not any(k.startswith("sasaran-spec") and k != "sasaran-spec-digest" for k in r.headers)
    digest = r.headers["sasaran-spec-digest"]
    assert re.fullmatch(r"sha256:[0-9a-f]{16}", digest)
    assert digest == spec_digest(client.post("/scores/kabupaten?f=json&limit=1", json=spec).json()["spec"])
    assert digest != client.get("/scores/kabupaten?f=csv").headers["sasaran-spec-digest"]


def test_docs_are_served_from_pinned_vendored_files(client: TestClient) -> None:
    page = client.get("/docs").text
    remote = re.findall(r"(?:https?:)?//[\w.-]+\.[a-z]{2,}", page)
    assert remote == [], remote
    assert "<script>" not in page.replace(" ", "")  # no inline script (the CSP forbids them)
    readme = (SWAGGER / "README.md").read_text()
    for name, media_type in [
        ("swagger-ui-bundle.js", "text/javascript; charset=utf-8"),
        ("swagger-ui.css", "text/css; charset=utf-8"),
        ("LICENSE", "text/plain; charset=utf-8"),
    ]:
        r = client.get(f"/docs/static/swagger/{name}")
        assert r.status_code == 200 and r.headers["content-type"] == media_type
        assert r.headers["cache-control"] == "public, max-age=86400"
        assert f"{hashlib.sha256(r.content).hexdigest()}  {name}" in readme, f"{name} differs from the pin"
    assert (
        "5.35.0" in readme and "sourceMappingURL" not in (SWAGGER / "swagger-ui-bundle.js").read_text()[-500:]
    )
    init = client.get("/docs/static/docs.js")
    assert init.status_code == 200 and "validatorUrl: null" in init.text
    for path in ["/docs/static/../docs.py", "/docs/static/docs.html", "/docs/static/nope.js"]:
        assert client.get(path).status_code == 404
