"""Sign-in through OpenID Connect against a small OpenID Connect provider this test starts on a
free loopback port (discovery, authorization with PKCE, token, JWKS; RS256 ID tokens): no network.
"""

from __future__ import annotations

import base64
import hashlib
import secrets
import socket
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlencode, urlsplit

import httpx
import pytest
import uvicorn
from joserfc import jwt
from joserfc.jwk import KeySet, RSAKey
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, RedirectResponse, Response
from starlette.routing import Route

from layers.verification import audit
from tests.verification.conftest import BACKENDS, Service, fresh_database_url, running_app

CLIENT_ID = "sasaran"
CLIENT_SECRET = "rahasia-klien"


@dataclass
class Provider:
    """A minimal OpenID Connect provider: who is signed in there, and what to get wrong on purpose."""

    url: str = ""
    user: dict[str, str] = field(default_factory=lambda: {"sub": "u-1", "preferred_username": "kecamatan"})
    tamper: str | None = None  # nonce | aud | signature | expired | issuer
    key: RSAKey = field(default_factory=lambda: RSAKey.generate_key(2048, parameters={"kid": "k1"}))
    codes: dict[str, dict[str, Any]] = field(default_factory=dict)

    def app(self) -> Starlette:
        async def discovery(_: Request) -> Response:
            return JSONResponse({
                "issuer": self.url if self.tamper != "issuer" else self.url + "/other",
                "authorization_endpoint": f"{self.url}/authorize",
                "token_endpoint": f"{self.url}/token",
                "jwks_uri": f"{self.url}/jwks",
                "response_types_supported": ["code"],
                "subject_types_supported": ["public"],
                "id_token_signing_alg_values_supported": ["RS256"],
                "code_challenge_methods_supported": ["S256"],
            })  # fmt: skip

        async def authorize(request: Request) -> Response:
            q = request.query_params
            assert q["client_id"] == CLIENT_ID and q["response_type"] == "code"
            assert q["code_challenge_method"] == "S256"
            code = secrets.token_urlsafe(16)
            self.codes[code] = {
                "nonce": q["nonce"],
                "challenge": q["code_challenge"],
                "redirect": q["redirect_uri"],
                "user": dict(self.user),
            }
            return RedirectResponse(
                f"{q['redirect_uri']}?{urlencode({'code': code, 'state': q['state']})}", 302
            )

        async def token(request: Request) -> Response:
            # parsed by hand: starlette's request.form() needs python-multipart, which the
            # service does not depend on (a fresh CI install failed here)
            form = {k: v[0] for k, v in parse_qs((await request.body()).decode()).items()}
            basic = request.headers.get("authorization", "")
            sent = base64.b64decode(basic.split()[1]).decode() if basic.startswith("Basic ") else ""
            if sent != f"{CLIENT_ID}:{CLIENT_SECRET}":
                return JSONResponse({"error": "invalid_client"}, 401)
            grant = self.codes.pop(str(form["code"]), None)
            verifier = str(form.get("code_verifier", ""))
            challenge = (
                base64.urlsafe_b64encode(hashlib.sha256(verifier.encode()).digest()).rstrip(b"=").decode()
            )
            if (
                grant is None
                or grant["challenge"] != challenge
                or grant["redirect"] != form.get("redirect_uri")
            ):
                return JSONResponse({"error": "invalid_grant"}, 400)
            now = int(time.time())
            claims = {"iss": self.url, "sub": grant["user"]["sub"], "aud": CLIENT_ID, "iat": now,
                      "exp": now + 300, "nonce": grant["nonce"], **grant["user"]}  # fmt: skip
            if self.tamper == "nonce":
                claims["nonce"] = "another"
            if self.tamper == "aud":
                claims["aud"] = "someone-else"
            if self.tamper == "expired":
                claims["exp"] = now - 10
            signer = (
                RSAKey.generate_key(2048, parameters={"kid": "k1"})
                if self.tamper == "signature"
                else self.key
            )
            id_token = jwt.encode({"alg": "RS256", "kid": "k1"}, claims, signer)
            return JSONResponse({"access_token": "opaque", "token_type": "Bearer", "expires_in": 300,
                                 "id_token": id_token})  # fmt: skip

        async def jwks(_: Request) -> Response:
            return JSONResponse(KeySet([self.key]).as_dict(private=False))

        return Starlette(routes=[
            Route("/.well-known/openid-configuration", discovery),
            Route("/authorize", authorize),
            Route("/token", token, methods=["POST"]),
            Route("/jwks", jwks),
        ])  # fmt: skip


@pytest.fixture(scope="module")
def provider() -> Iterator[Provider]:
    """The provider, served by uvicorn in a thread on a free loopback port."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    made = Provider(url=f"http://127.0.0.1:{port}")
    server = uvicorn.Server(uvicorn.Config(made.app(), host="127.0.0.1", port=port, log_level="warning"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 30
    while not server.started and time.monotonic() < deadline:
        time.sleep(0.05)
    try:
        yield made
    finally:
        server.should_exit = True
        thread.join(timeout=10)


@pytest.fixture(scope="module", params=BACKENDS)
def service(
    request: pytest.FixtureRequest,
    provider: Provider,
    store_dir: Path,
    register_key_file: Path,
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[Service]:
    """The app with OpenID Connect configured to the test's provider."""
    settings = {"oidc_issuer": provider.url, "oidc_client_id": CLIENT_ID, "oidc_client_secret": CLIENT_SECRET}
    for url in fresh_database_url(request.param, tmp_path_factory.mktemp("oidc")):
        with running_app(store_dir, register_key_file, url, **settings) as served:
            yield served


def _sign_in(service: Service, provider: Provider, **change: str) -> tuple[Any, Any]:
    """The whole redirect dance: Sasaran → provider → Sasaran; the browser and the last answer."""
    provider.tamper = change.pop("tamper", None)
    provider.user = {"sub": "u-1", "preferred_username": "kecamatan"} | change
    browser = service.fresh_client()
    assert browser.get("/verification/signin-options").json()["oidc"] is True
    start = browser.get("/verification/oidc/login", follow_redirects=False)
    assert start.status_code == 303 and start.headers["cache-control"] == "no-store"
    assert start.headers["location"].startswith(provider.url + "/authorize?")
    assert "SameSite=lax" in start.headers["set-cookie"] and "HttpOnly" in start.headers["set-cookie"]
    at_provider = httpx.get(start.headers["location"], follow_redirects=False)
    back = urlsplit(at_provider.headers["location"])
    assert back.path == "/verification/oidc/callback"
    done = browser.get(f"{back.path}?{back.query}", follow_redirects=False)
    return browser, done


def test_an_identity_signs_in_as_its_account_and_stays_bound_to_it(
    service: Service, provider: Provider
) -> None:
    browser, done = _sign_in(service, provider)
    assert done.status_code == 303 and done.headers["location"].endswith("/verification")
    assert "sasaran_session" in done.headers["set-cookie"] and "SameSite=strict" in done.headers["set-cookie"]
    me = browser.get("/verification/me").json()
    assert me["account"]["name"] == "kecamatan" and me["csrf"]
    # bound by its subject: a renamed username still signs in as the same account
    browser, done = _sign_in(service, provider, preferred_username="renamed-at-the-provider")
    assert browser.get("/verification/me").json()["account"]["name"] == "kecamatan"
    with service.db.read() as conn:
        actions = [e.action for e in audit.entries(conn, record="account:kecamatan", limit=20)]
        reasons = [e.reason for e in audit.entries(conn, actions=["signin"], limit=5)]
    assert "account.bind_oidc" in actions and "oidc" in reasons


@pytest.mark.parametrize(
    ("change", "outcome"),
    [
        ({"sub": "u-9", "preferred_username": "nobody"}, "refused"),  # no Sasaran account
        ({"sub": "u-2", "preferred_username": "kecamatan"}, "refused"),  # the account is bound to u-1
        ({"sub": "u-3", "preferred_username": "disabled"}, "refused"),  # a disabled account
        ({"tamper": "nonce"}, "failed"),
        ({"tamper": "aud"}, "failed"),
        ({"tamper": "expired"}, "failed"),
        ({"tamper": "signature"}, "failed"),
    ],
    ids=["unknown", "bound-elsewhere", "disabled", "nonce", "audience", "expired", "signature"],
)
def test_a_wrong_identity_or_token_signs_nobody_in(
    service: Service, provider: Provider, change: dict[str, str], outcome: str
) -> None:
    _sign_in(service, provider)  # binds u-1 to kecamatan (idempotent)
    browser, done = _sign_in(service, provider, **change)
    assert done.status_code == 303 and done.headers["location"].endswith(f"/verification?signin={outcome}")
    assert "sasaran_session" not in done.headers.get("set-cookie", "")
    assert browser.get("/verification/me").status_code == 401


def test_a_callback_that_did_not_start_here_is_refused(service: Service, provider: Provider) -> None:
    attacker = service.fresh_client()
    start = attacker.get("/verification/oidc/login", follow_redirects=False)
    at_provider = httpx.get(start.headers["location"], follow_redirects=False)
    back = urlsplit(at_provider.headers["location"])
    victim = service.fresh_client()  # login CSRF: the attacker's code in the victim's browser
    done = victim.get(f"{back.path}?{back.query}", follow_redirects=False)
    assert (
        done.headers["location"].endswith("?signin=failed")
        and victim.get("/verification/me").status_code == 401
    )
    forged = {k: v[0] for k, v in parse_qs(back.query).items()} | {"state": "forged"}
    done = attacker.get(f"{back.path}?{urlencode(forged)}", follow_redirects=False)
    assert done.headers["location"].endswith("?signin=failed")


def test_without_configuration_there_is_no_oidc(
    tmp_path: Path, store_dir: Path, register_key_file: Path
) -> None:
    for url in fresh_database_url("sqlite", tmp_path):
        with running_app(store_dir, register_key_file, url) as served:
            assert served.client.get("/verification/signin-options").json()["oidc"] is False
            assert served.client.get("/verification/oidc/login", follow_redirects=False).status_code == 404
