"""The authorisation matrix: every ``/verification`` endpoint × every role in its own region and in
another, anonymous, a disabled account, an expired and a forged token; on SQLite and PostgreSQL.

The endpoints are found by walking the app's routes, so a new one cannot escape: a route missing
from `RULES` (or from `PUBLIC`) fails `test_every_route_has_a_rule`. Whatever the caller, nothing
outside its region is readable or writable (404, worded the same as for an id that does not exist),
a role may do only what `RULES` allows it (403 otherwise), and no answer to a caller without valid
credentials, or to a caller outside the region, carries any name, NIK or address of the families.
"""

from __future__ import annotations

import io
import re
from typing import Any

import pytest
from fastapi.routing import APIRoute
from openpyxl import Workbook
from sqlalchemy import text
from starlette.routing import Route

from layers.verification import accounts
from layers.verification.audit import cli_actor
from service.app import create_app
from tests.verification.conftest import Service

ROLES = ("desa", "kecamatan", "kabupaten", "provinsi")
ALL = frozenset(ROLES)
#: (method, route path) -> the roles allowed to use it in their own region.
RULES: dict[tuple[str, str], frozenset[str]] = {
    ("GET", "/verification/me"): ALL,
    ("POST", "/verification/signout"): ALL,
    ("GET", "/verification/villages"): ALL,
    ("GET", "/verification/villages/{code}"): ALL,
    ("GET", "/verification/villages/{code}/families"): ALL,
    ("POST", "/verification/villages/{code}/families"): frozenset({"desa"}),
    ("POST", "/verification/villages/{code}/submit"): frozenset({"desa"}),
    ("POST", "/verification/villages/{code}/pass"): frozenset({"kecamatan"}),
    ("POST", "/verification/villages/{code}/return"): frozenset({"kecamatan", "kabupaten"}),
    ("POST", "/verification/villages/{code}/approve"): frozenset({"kabupaten"}),
    ("GET", "/verification/villages/{code}/history"): ALL,
    ("GET", "/verification/villages/{code}/sheet"): ALL,
    ("POST", "/verification/villages/{code}/sheet"): frozenset({"desa"}),
    ("GET", "/verification/families/{family_id}"): ALL,
    ("GET", "/verification/families/{family_id}/history"): ALL,
    ("PATCH", "/verification/families/{family_id}"): frozenset({"desa"}),
    ("GET", "/verification/progress"): ALL,
    ("GET", "/verification/accounts"): frozenset({"kabupaten", "provinsi"}),
    ("POST", "/verification/accounts"): frozenset({"kabupaten"}),
    ("POST", "/verification/accounts/{name}/disable"): frozenset({"kabupaten"}),
    ("POST", "/verification/accounts/{name}/enable"): frozenset({"kabupaten"}),
    ("POST", "/verification/accounts/{name}/reset"): frozenset({"kabupaten"}),
    ("GET", "/verification/kabupaten/{code}/final-list"): frozenset({"kabupaten", "provinsi"}),
    ("POST", "/verification/family-lists"): ALL,
}
#: Routes anyone may call: the pages (no data in them), their assets, the sign-in itself, and
#: the OpenID Connect redirects (their own tests: test_oidc.py).
PUBLIC = {
    ("GET", "/verification"),
    ("GET", "/verification/"),
    ("GET", "/verification/dashboard"),
    ("GET", "/verification/static/{path:path}"),
    ("POST", "/verification/signin"),
    ("GET", "/verification/signin-options"),
    ("GET", "/verification/oidc/login"),
    ("GET", "/verification/oidc/callback"),
}
#: Answers a role allowed in its region may get: done, or refused by the data (a state, a version,
#: a duplicate, a bad sheet), never by who is asking.
ALLOWED = {200, 201, 204, 400, 409, 422}
#: Callers without valid credentials.
NO_CREDENTIALS = ("anonymous", "forged", "expired", "disabled")


def _walk(routes: list[Any]) -> list[Any]:
    """Every route, those of included routers too (FastAPI nests them)."""
    found = []
    for route in routes:
        nested = getattr(route, "original_router", None)
        found += _walk(nested.routes) if nested is not None else [route]
    return found


def _routes() -> list[tuple[str, str]]:
    app = create_app()
    found = []
    for route in _walk(app.routes):
        if isinstance(route, APIRoute | Route) and route.path.startswith("/verification"):
            for method in sorted(route.methods or ()):
                if method != "HEAD":
                    found.append((method, route.path))
    return sorted(found)


ROUTES = _routes()
PROTECTED = [r for r in ROUTES if r not in PUBLIC]


def test_every_route_has_a_rule() -> None:
    unknown = [r for r in ROUTES if r not in RULES and r not in PUBLIC]
    assert unknown == [], f"add these /verification routes to RULES or PUBLIC: {unknown}"
    assert set(RULES) <= set(ROUTES), f"rules for routes that no longer exist: {set(RULES) - set(ROUTES)}"
    assert len(PROTECTED) >= 20


@pytest.fixture(scope="module")
def personal(service: Service) -> list[str]:
    """Every name, NIK and address of the families of the own village and its kecamatan neighbour."""
    values = []
    for code in (service.codes["village"], service.codes["village_same_kecamatan"]):
        page = service.client.get(
            f"/verification/villages/{code}/families?limit=200", headers=service.auth("provinsi")
        )
        for family in page.json()["families"]:
            values += [family["head_name"], family["nik"], family["address"]]
    assert len(values) > 30
    return values


@pytest.fixture(scope="module")
def extra_tokens(service: Service) -> dict[str, str]:
    """An expired token, a forged one, and a victim account for the account endpoints."""
    expired = accounts.issue_token(service.db, "desa", cli_actor(), days=1)
    with service.db.write() as conn:
        conn.execute(
            text("UPDATE credentials SET expires_at = '2001-01-01T00:00:00+00:00' WHERE secret_hash = :h"),
            {"h": accounts.digest(expired)},
        )
    accounts.create_account(
        service.db, "victim", "desa", service.codes["village"], service.password, cli_actor()
    )
    return {"expired": expired, "forged": "sasaran_" + "Q" * 43}


def _sheet_bytes() -> bytes:
    book = Workbook()
    book.active.append(["not", "a", "sasaran", "sheet"])
    sink = io.BytesIO()
    book.save(sink)
    return sink.getvalue()


def _request(
    service: Service, method: str, path: str, headers: dict[str, str], family: dict[str, Any]
) -> Any:
    """The request for a route with its parameters filled for the own village."""
    code = service.codes["village"]
    url = path.replace("{family_id}", str(family["id"])).replace("{name}", "victim")
    url = url.replace("/kabupaten/{code}", f"/kabupaten/{code[:4]}").replace("{code}", code)
    kwargs: dict[str, Any] = {"headers": dict(headers)}
    if method in ("POST", "PATCH"):
        if url.endswith("/sheet"):
            kwargs["content"] = _sheet_bytes()
            kwargs["headers"]["Content-Type"] = (
                "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
            )
        elif url.endswith("/families") and method == "POST":
            kwargs["json"] = {
                "nik": "6201014108850991",
                "head_name": "Usulan Matriks",
                "address": "RT 1",
                "decile": 1,
                "members": 3,
            }
        elif method == "PATCH":
            kwargs["json"] = {"status": "valid", "version": family["version"]}
        elif url.endswith("/family-lists"):
            kwargs["json"] = {"villages": [code]}
        elif url.endswith("/accounts"):
            kwargs["json"] = {
                "name": f"made-{abs(hash(str(headers))) % 10**8}",
                "role": "desa",
                "region": code,
            }
        elif re.search(r"/(submit|pass|approve|return)$", url):
            kwargs["json"] = {"note": "cek"}
    return service.client.request(method, url, **kwargs)


def _headers(service: Service, who: str, path: str) -> dict[str, str]:
    """The caller's bearer token; a token of its own for signing out (which revokes it)."""
    if path.endswith("/signout"):
        return {
            "Authorization": f"Bearer {accounts.issue_token(service.db, who.replace('_', '-'), cli_actor())}"
        }
    return service.auth(who)


def _leaks(body: str, personal: list[str]) -> list[str]:
    return [value for value in personal if value and value in body]


@pytest.mark.parametrize(("method", "path"), PROTECTED, ids=[f"{m} {p}" for m, p in PROTECTED])
def test_no_credentials_is_401_and_says_nothing(
    service: Service, extra_tokens: dict[str, str], personal: list[str], method: str, path: str
) -> None:
    family = service.family_in(service.codes["village"])
    callers = {
        "anonymous": {},
        "forged": {"Authorization": f"Bearer {extra_tokens['forged']}"},
        "expired": {"Authorization": f"Bearer {extra_tokens['expired']}"},
        "disabled": service.auth("disabled"),
        "not bearer": {"Authorization": f"Basic {service.tokens['desa']}"},
        "forged cookie": {"Cookie": "sasaran_session=forged-session-value"},
    }
    for who, headers in callers.items():
        answer = _request(service, method, path, headers, family)
        assert answer.status_code == 401, (who, answer.status_code, answer.text[:200])
        assert answer.headers["www-authenticate"].startswith("Bearer")
        assert answer.headers["cache-control"] == "no-store"
        assert _leaks(answer.text, personal) == [], who


@pytest.mark.parametrize(("method", "path"), PROTECTED, ids=[f"{m} {p}" for m, p in PROTECTED])
def test_each_role_in_its_own_region_may_do_what_its_rule_says(
    service: Service, extra_tokens: dict[str, str], method: str, path: str
) -> None:
    allowed = RULES[(method, path)]
    for role in ROLES:
        family = service.family_in(service.codes["village"])
        answer = _request(service, method, path, _headers(service, role, path), family)
        if role in allowed:
            assert answer.status_code in ALLOWED, (role, answer.status_code, answer.text[:300])
        else:
            assert answer.status_code == 403, (role, answer.status_code, answer.text[:300])
        assert answer.headers.get("cache-control") == "no-store"


@pytest.mark.parametrize(("method", "path"), PROTECTED, ids=[f"{m} {p}" for m, p in PROTECTED])
def test_outside_its_region_no_role_reads_or_writes_anything(
    service: Service, extra_tokens: dict[str, str], personal: list[str], method: str, path: str
) -> None:
    family = service.family_in(service.codes["village"])
    before = service.family_in(service.codes["village"])
    for role in ROLES:
        answer = _request(service, method, path, _headers(service, f"{role}_other", path), family)
        if ("{" in path and "{name}" not in path) or path.endswith("/family-lists"):
            # a record named in the path (or the body): outside the region it is not found
            assert answer.status_code == 404, (role, answer.status_code, answer.text[:300])
        elif "{name}" in path:
            assert answer.status_code in (403, 404), (role, answer.status_code)
        else:
            assert answer.status_code in (200, 201, 204, 400, 403, 409), (role, answer.status_code)
            assert service.codes["village"] not in answer.text or path.endswith("/accounts"), role
        assert _leaks(answer.text, personal) == [], role
    after = service.family_in(service.codes["village"])
    assert after["version"] == before["version"] and after["status"] == before["status"]


def test_every_id_outside_the_region_is_answered_alike(service: Service) -> None:
    """Guessing ids (IDOR): another region's family and a family that does not exist look the same."""
    other = service.family_in(service.codes["village_other_kabupaten"])
    neighbour = service.family_in(service.codes["village_same_kecamatan"])
    answers = {}
    for family_id in (other["id"], neighbour["id"], 10**9, 1):
        if family_id == 1 and service.family_in(service.codes["village"])["id"] == 1:
            continue
        got = service.client.get(f"/verification/families/{family_id}", headers=service.auth("desa"))
        answers[family_id] = (got.status_code, got.json()["detail"].replace(str(family_id), "N"))
        changed = service.client.patch(
            f"/verification/families/{family_id}",
            headers=service.auth("desa"),
            json={"status": "valid", "version": 1},
        )
        assert changed.status_code == 404
    assert len(set(answers.values())) == 1 and next(iter(answers.values()))[0] == 404
    for code in (
        service.codes["village_other_kabupaten"],
        service.codes["village_same_kecamatan"],
        "6299999999",
    ):
        got = service.client.get(f"/verification/villages/{code}/families", headers=service.auth("desa"))
        assert got.status_code == 404 and got.json()["detail"] == f"no village '{code}' in your region"
