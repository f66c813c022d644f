"""Issue 23, findings 4, 5 and 10: input that never becomes a 500, through the real app.

Every field of every POST body (read off the OpenAPI document, so a new field is covered the day
it is added) fed a lone surrogate; bodies sent as another media type; numbers in other scripts,
non-finite numbers and inverted boxes in every place a number is read; repeated parameters; runs of
``%`` in LIKE; and messages that blame the caller's parameter, not the store.
"""

from __future__ import annotations

import copy
import json
import socket
import threading
import urllib.parse
from collections.abc import Iterator
from typing import Any

import numpy as np
import orjson
import pytest
from fastapi.testclient import TestClient

from layers.cancel import Cancelled, cancellable
from layers.query import cql2
from service.errors import problem as problem_response

SURROGATE = "\ud800"


def problem(r, status: int = 400) -> str:
    assert r.status_code == status, r.text
    assert r.headers["content-type"] == "application/problem+json"
    body = r.json()
    assert body["status"] == status and body["detail"]
    return body["detail"]


def resolve(doc: dict, schema: dict) -> dict:
    """``schema`` with its ``$ref`` (and a one-member ``allOf``) followed."""
    while True:
        if "$ref" in schema:
            node: Any = doc
            for part in schema["$ref"].split("/")[1:]:
                node = node[part]
            schema = node
        elif "allOf" in schema and len(schema["allOf"]) == 1:
            schema = schema["allOf"][0]
        else:
            return schema


def field_paths(doc: dict, schema: dict, path: tuple = ()) -> Iterator[tuple]:
    """Every place a body can hold a value: object properties, array items (index 0), map keys."""
    schema = resolve(doc, schema)
    for option in schema.get("oneOf", []) + schema.get("anyOf", []):
        if resolve(doc, option).get("type") in ("object", "array"):
            yield from field_paths(doc, option, path)
    kind = schema.get("type")
    if kind == "object" or "properties" in schema:
        for name, sub in schema.get("properties", {}).items():
            yield (*path, name)
            yield from field_paths(doc, sub, (*path, name))
        if isinstance(schema.get("additionalProperties"), dict):
            yield (*path, ("key",))  # a map: its keys are the caller's text too
    elif kind == "array":
        yield from field_paths(doc, schema.get("items", {}), (*path, 0))


def with_value(body: Any, path: tuple, value: Any) -> Any:
    """A copy of ``body`` with ``value`` at ``path`` (intermediate objects and arrays made)."""
    out = copy.deepcopy(body)
    node = out
    for step, following in zip(path[:-1], path[1:], strict=True):
        empty: Any = [] if isinstance(following, int) else {}
        if isinstance(step, int):
            if not node:
                node.append(empty)
            node = node[step]
        else:
            if not isinstance(node.get(step), (dict, list)):
                node[step] = empty
            node = node[step]
    last = path[-1]
    if isinstance(last, tuple):  # a map key
        node[value] = 1
    elif isinstance(last, int):
        if node:
            node[0] = value
        else:
            node.append(value)
    else:
        node[last] = value
    return out


def shown(path: tuple) -> str:
    """The field as the answer names it: ``indicator[0].name``, ``include[0]``, ``priority.<key>``."""
    text = ""
    for step in path:
        if isinstance(step, int):
            text += f"[{step}]"
        elif isinstance(step, tuple):
            text += ("." if text else "") + "\\ud800 (a key)"
        else:
            text += ("." if text else "") + step
    return text


@pytest.fixture(scope="module")
def post_bodies(client: TestClient) -> tuple[dict, list[tuple[str, dict, dict]]]:
    """The OpenAPI document, and (path, body schema, a valid body) of every POST operation in it."""
    doc = client.get("/openapi").json()
    found = []
    for path, item in doc["paths"].items():
        op = item.get("post")
        if not op or "application/json" not in op.get("requestBody", {}).get("content", {}):
            continue
        if path.startswith("/verification"):  # signed in: tests/verification/test_fuzz_verification.py
            continue
        schema = op["requestBody"]["content"]["application/json"]["schema"]
        example = resolve(doc, schema).get("example", {"budget": 1e9})
        found.append((path.replace("{level}", "kabupaten"), schema, example))
    assert {p for p, _, _ in found} >= {"/scores/kabupaten", "/targets"}
    return doc, found


def test_a_lone_surrogate_in_any_field_of_any_post_body_is_a_400_naming_it(client: TestClient, post_bodies):
    """Finding 4: 16 fields of POST /targets and /scores answered 500."""
    doc, operations = post_bodies
    tried = 0
    for path, schema, example in operations:
        for field in field_paths(doc, schema):
            body = with_value(example, field, SURROGATE)
            # ensure_ascii: the JSON text carries the escape \ud800, as a hostile client sends it.
            raw = json.dumps(body, ensure_ascii=True).encode()
            r = client.post(path, content=raw, headers={"content-type": "application/json"})
            detail = problem(r, 400)
            assert shown(field) in detail and "not valid Unicode" in detail, (path, field, detail)
            tried += 1
    assert tried >= 30, tried  # the spec's and the selection's fields, nested ones included


def test_the_problem_writer_cannot_fail() -> None:
    for text in (SURROGATE, "a\udfffb", "x" * 100_000, "\x00"):
        response = problem_response(400, text)
        body = orjson.loads(response.body)
        assert body["status"] == 400 and len(body["detail"]) <= 2_100  # MAX_DETAIL_CHARS and the length note


def test_a_body_that_is_not_json_is_a_415(client: TestClient) -> None:
    for path in ("/targets", "/scores/kabupaten"):
        for content_type in ("text/plain", "application/x-www-form-urlencoded", None):
            headers = {"content-type": content_type} if content_type else {}
            r = client.post(path, content=b'{"budget": 1e9}', headers=headers)
            detail = problem(r, 415)
            assert "Content-Type: application/json" in detail
            assert r.headers["accept-post"] == "application/json"
    # JSON by another name is JSON.
    r = client.post("/targets", content=b'{"budget": 1e9}', headers={"content-type": "application/geo+json"})
    assert r.status_code == 200, r.text


@pytest.mark.parametrize(
    "url, named",
    [
        ("/collections/villages/items?limit=１０", "limit"),
        ("/collections/villages/items?offset=1_0", "offset"),
        ("/collections/villages/items?year=٢٠٢٤", "year"),
        ("/collections/villages/items?population=١٠", "population"),
        ("/scores/kabupaten?k=٠.٥", "k"),
        ("/scores/kabupaten?limit=１", "limit"),
        ("/collections/villages/items?filter=population > ١٠", "filter"),
    ],
)
def test_numbers_are_ascii_digits(client: TestClient, url: str, named: str) -> None:
    """Finding 10: ``limit=１０`` and ``k=٠.٥`` were read as numbers."""
    assert named in problem(client.get(url))


@pytest.mark.parametrize(
    "url, says",
    [
        ("/collections/villages/items?population=1e400", "finite"),
        ("/collections/villages/items?M0=nan", "finite"),
        ("/collections/villages/items?M0=inf", "finite"),
        ("/collections/villages/items?bbox=113,-2,nan,-1", "finite"),
        ("/collections/villages/items?filter=S_INTERSECTS(geometry, POINT(nan nan))", "not a finite number"),
        ("/collections/villages/items?filter=S_INTERSECTS(geometry, BBOX(114,-1,113,-2))", "swapped"),
        ("/collections/villages/items?bbox=113,-1,114,-2", "swapped"),
        ("/scores/kabupaten?k=nan", "query, k: expected a number"),
    ],
)
def test_non_finite_numbers_and_inverted_boxes_are_refused(client: TestClient, url: str, says: str) -> None:
    """Finding 10: ``?population=1e400``, ``?M0=nan``, ``POINT(nan nan)``, ``BBOX(114,-1,113,-2)``."""
    assert says in problem(client.get(url))


@pytest.mark.parametrize(
    "url",
    [
        "/collections/villages/items?limit=1&limit=2",
        "/scores/kabupaten?k=1/3&k=1/2",
        "/collections/villages/items?filter=TRUE&filter=FALSE",
        "/exports/villages.csv?year=2023&year=2024",
        "/healthz?x=1&x=2",
    ],
)
def test_a_repeated_parameter_is_refused(client: TestClient, url: str) -> None:
    """Finding 10: ``limit=1&limit=2`` silently took one of them."""
    name = url.split("?")[1].split("=")[0]
    assert f"'{name}' given more than once" in problem(client.get(url))


def test_the_same_value_twice_is_one_question(client: TestClient) -> None:
    """GDAL appends its URL's query (``?datetime=../..``) to ``next`` links that already carry it."""
    once = client.get("/collections/villages/items?limit=5&datetime=../..")
    twice = client.get("/collections/villages/items?datetime=..%2F..&limit=5&datetime=../..")
    assert twice.status_code == 200 and twice.json()["features"] == once.json()["features"]


def test_errors_blame_the_parameter_not_the_store(client: TestClient) -> None:
    """Finding 10: the caller's own k or weights were blamed on the "store manifest"."""
    for url in ("/scores/kabupaten?k=2", "/scores/kabupaten?w_income=0.9", "/scores/kabupaten?k=0"):
        detail = problem(client.get(url))
        assert detail.startswith("query") and "store manifest" not in detail, detail
    detail = problem(client.get("/scores/kabupaten?w_income=0"))
    assert "query, dimension 'income', weight must be positive" in detail
    detail = problem(client.post("/targets", json={"budget": 1e9, "k": 2}))
    assert detail.startswith("request") and "store manifest" not in detail, detail


def test_a_run_of_percent_signs_is_one(client: TestClient) -> None:
    """Finding 5: 1,000 ``%`` cost 60 s a request; a run of them now means what one means."""
    url = "/collections/hexagons/items?limit=1&filter=h3 LIKE '{}'"
    one = client.get(url.format("%a%")).json()["numberMatched"]
    assert one > 0
    many = client.get(url.format("%" * 5000 + "a" + "%" * 5000)).json()
    assert many["numberMatched"] == one
    assert len(cql2._like_segments("%" * 5000 + "a" + "%" * 5000)) == 3  # not 10,001 passes


def test_filter_work_stops_when_its_token_is_set() -> None:
    """The LIKE loop and every filter node are checkpoints: a client that hangs up stops them."""
    values = np.array(["Desa Maju", "Kelurahan"] * 1000)
    token = threading.Event()
    token.set()
    with cancellable(token), pytest.raises(Cancelled):
        cql2.like(values, "%a%b%c%")
    node = cql2.parse("village_name LIKE 'D%'")
    with cancellable(token), pytest.raises(Cancelled):
        cql2.evaluate(node, None, 0)  # type: ignore[arg-type]


def _raw(port: int, request: bytes) -> tuple[bytes, bytes]:
    """Send raw bytes, read the whole answer: (head, body)."""
    with socket.create_connection(("127.0.0.1", port), timeout=60) as sock:
        sock.sendall(request)
        answer = b""
        while chunk := sock.recv(65536):
            answer += chunk
    head, _, body = answer.partition(b"\r\n\r\n")
    return head, body


def test_uvicorns_own_errors_are_problem_json(live_server) -> None:
    """Finding 9: a URL over 64 KiB got uvicorn's plain-text "Invalid HTTP request received."."""
    port = int(live_server[0].rsplit(":", 1)[1])
    long_filter = urllib.parse.quote("population > 0 AND " * 3000 + "TRUE")  # 87 KB as a URL
    head, body = _raw(
        port,
        f"GET /collections/villages/items?filter={long_filter} HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n".encode(),
    )
    assert head.startswith(b"HTTP/1.1 400 ") and b"content-type: application/problem+json" in head.lower()
    detail = orjson.loads(body)["detail"]
    assert "bytes; this server reads at most 65,535" in detail and "POST" in detail
    head, body = _raw(port, b"GET /a b c HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n")
    assert head.startswith(b"HTTP/1.1 400 ") and orjson.loads(body)["status"] == 400
    # Just under the limit, a long filter is read and answered.
    fits = urllib.parse.quote("population > 0 AND " * 2000 + "TRUE")
    head, body = _raw(
        port,
        f"GET /collections/villages/items?limit=1&filter={fits} HTTP/1.1\r\nHost: 127.0.0.1\r\n"
        "Connection: close\r\n\r\n".encode(),
    )
    assert head.startswith(b"HTTP/1.1 200 "), head
