"""Accounts, passwords, sessions, tokens and sign-in limits (the library; the HTTP side is in
test_auth_api.py), on SQLite and PostgreSQL."""

from __future__ import annotations

import pytest
from sqlalchemy import select, text, update

from layers.verification import accounts, audit
from layers.verification.accounts import SESSION, TOKEN
from layers.verification.audit import cli_actor
from layers.verification.db import Database
from layers.verification.errors import (
    Forbidden,
    InvalidInput,
    NotSignedIn,
    RecordNotFound,
    SignInFailed,
    TooManyAttempts,
)
from layers.verification.tables import credentials

PASSWORD = "kopi-tubruk-2024"


def _add(db: Database, name: str = "ani", role: str = "desa", region: str = "6201012001") -> accounts.Account:
    return accounts.create_account(db, name, role, region, PASSWORD, cli_actor())


def test_names_roles_and_regions_are_checked(db: Database) -> None:
    with pytest.raises(InvalidInput, match="name"):
        _add(db, name="A")
    with pytest.raises(InvalidInput, match="unknown role"):
        _add(db, role="camat")
    with pytest.raises(InvalidInput, match="10-digit"):
        _add(db, region="6201")
    with pytest.raises(InvalidInput, match="at least 10"):
        accounts.create_account(db, "budi", "desa", "6201012001", "short", cli_actor())
    made = _add(db, name="Ani.Lestari", region="62.01.012.001")
    assert (made.name, made.region) == ("ani.lestari", "6201012001")
    with pytest.raises(InvalidInput, match="exists already"):
        _add(db, name="ani.lestari")


def test_the_password_is_stored_as_argon2id_only(db: Database) -> None:
    _add(db)
    with db.read() as conn:
        stored = conn.execute(text("SELECT password_hash FROM accounts")).scalar_one()
    assert stored.startswith("$argon2id$") and PASSWORD not in stored


def test_sign_in_gives_a_new_session_each_time_and_counts_it_in_the_audit(db: Database) -> None:
    _add(db)
    first = accounts.sign_in(db, "ani", PASSWORD, "10.0.0.1")
    second = accounts.sign_in(db, "ANI ", PASSWORD, "10.0.0.1")
    assert first.secret != second.secret and first.csrf != second.csrf
    caller = accounts.authenticate(db, first.secret, SESSION)
    assert caller.account.name == "ani" and caller.kind == SESSION
    assert accounts.csrf_matches(first.secret, first.csrf)
    assert not accounts.csrf_matches(first.secret, second.csrf) and not accounts.csrf_matches(
        first.secret, None
    )
    with db.read() as conn:
        stored = conn.execute(select(credentials.c.secret_hash)).scalars().all()
    assert first.secret not in stored and accounts.digest(first.secret) in stored
    with db.read() as conn:
        actions = [e.action for e in audit.entries(conn)]
    assert actions.count("signin") == 2


def test_wrong_passwords_lock_the_account_and_then_even_the_right_one_is_refused(db: Database) -> None:
    _add(db)
    for _ in range(accounts.MAX_FAILURES_PER_ACCOUNT):
        with pytest.raises(SignInFailed):
            accounts.sign_in(db, "ani", "not-the-password", "10.0.0.9")
    with pytest.raises(TooManyAttempts) as locked:
        accounts.sign_in(db, "ani", PASSWORD, "10.0.0.99")  # another address: the account is locked
    assert 0 < locked.value.retry_after_s <= accounts.FAILURE_WINDOW_S + 1
    # the lock ends with the window: age the failures past it
    with db.write() as conn:
        conn.execute(text("UPDATE signin_failures SET at = '2000-01-01T00:00:00.000000+00:00'"))
    assert accounts.sign_in(db, "ani", PASSWORD, "10.0.0.9").account.name == "ani"


def test_one_address_guessing_many_names_is_locked(db: Database) -> None:
    _add(db)
    for i in range(accounts.MAX_FAILURES_PER_ADDRESS):
        with pytest.raises(SignInFailed):
            accounts.sign_in(db, f"guess{i}", "whatever-password", "10.0.0.66")
    with pytest.raises(TooManyAttempts):
        accounts.sign_in(db, "ani", PASSWORD, "10.0.0.66")
    assert accounts.sign_in(db, "ani", PASSWORD, "10.0.0.67")  # other addresses are not


def test_failed_names_are_not_stored_in_clear(db: Database) -> None:
    with pytest.raises(SignInFailed):
        accounts.sign_in(db, "my-secret-password-typed-as-name", "x" * 12, "10.0.0.5")
    with db.read() as conn:
        dump = " ".join(str(v) for row in conn.execute(text("SELECT * FROM signin_failures")) for v in row)
        entries = audit.entries(conn)
    assert "my-secret-password" not in dump
    assert entries[0].action == "signin.failed" and entries[0].actor == "(unknown)"


def test_tokens_are_tokens_sessions_are_sessions(db: Database) -> None:
    _add(db)
    token = accounts.issue_token(db, "ani", cli_actor(), days=1, label="script")
    assert token.startswith("sasaran_")
    assert accounts.authenticate(db, token, TOKEN).account.name == "ani"
    with pytest.raises(NotSignedIn):
        accounts.authenticate(db, token, SESSION)
    session = accounts.sign_in(db, "ani", PASSWORD, "10.0.0.1").secret
    with pytest.raises(NotSignedIn):
        accounts.authenticate(db, session, TOKEN)
    for forged in (
        "",
        None,
        "sasaran_" + "A" * 43,
        token[:-1] + ("A" if token[-1] != "A" else "B"),
        "x" * 5000,
    ):
        with pytest.raises(NotSignedIn):
            accounts.authenticate(db, forged, TOKEN)


def test_an_expired_token_is_refused(db: Database) -> None:
    _add(db)
    token = accounts.issue_token(db, "ani", cli_actor(), days=1)
    with db.write() as conn:
        conn.execute(update(credentials).values(expires_at="2001-01-01T00:00:00.000000+00:00"))
    with pytest.raises(NotSignedIn):
        accounts.authenticate(db, token, TOKEN)


def test_nothing_outlives_a_disabled_or_reset_account(db: Database) -> None:
    _add(db)
    token = accounts.issue_token(db, "ani", cli_actor())
    session = accounts.sign_in(db, "ani", PASSWORD, "10.0.0.1").secret
    accounts.set_disabled(db, "ani", True, cli_actor())
    for secret, kind in ((token, TOKEN), (session, SESSION)):
        with pytest.raises(NotSignedIn):
            accounts.authenticate(db, secret, kind)
    with pytest.raises(SignInFailed):
        accounts.sign_in(db, "ani", PASSWORD, "10.0.0.1")
    accounts.set_disabled(db, "ani", False, cli_actor())
    with pytest.raises(NotSignedIn):  # enabling again does not revive what was revoked
        accounts.authenticate(db, token, TOKEN)
    fresh = accounts.issue_token(db, "ani", cli_actor())
    accounts.reset_password(db, "ani", "a-new-long-password", cli_actor())
    with pytest.raises(NotSignedIn):
        accounts.authenticate(db, fresh, TOKEN)
    assert accounts.count_sessions(db, "ani") == 0
    assert accounts.sign_in(db, "ani", "a-new-long-password", "10.0.0.1")


def test_a_kabupaten_manages_only_kecamatan_and_desa_accounts_in_its_kabupaten(db: Database) -> None:
    boss = accounts.create_account(db, "kab", "kabupaten", "6201", PASSWORD, cli_actor())
    other = accounts.create_account(db, "kab2", "kabupaten", "6202", PASSWORD, cli_actor())
    made = accounts.create_account(db, "desa1", "desa", "6201012001", PASSWORD, boss.actor(), manager=boss)
    assert made.created_by == "kab"
    with pytest.raises(Forbidden):
        accounts.create_account(db, "desa2", "desa", "6202012001", PASSWORD, boss.actor(), manager=boss)
    with pytest.raises(Forbidden):
        accounts.create_account(db, "kab3", "kabupaten", "6201", PASSWORD, boss.actor(), manager=boss)
    with pytest.raises(RecordNotFound):
        accounts.set_disabled(db, "desa1", True, other.actor(), manager=other)
    with pytest.raises(RecordNotFound):  # another kabupaten account is not its to manage
        accounts.reset_password(db, "kab2", "another-password", boss.actor(), manager=boss)
    assert accounts.set_disabled(db, "desa1", True, boss.actor(), manager=boss).disabled


def test_generated_passwords_are_long_and_readable() -> None:
    words = {accounts.generate_password() for _ in range(50)}
    assert len(words) == 50
    for word in words:
        assert len(word) == 23 and not set(word) & set("01lIoO")
        accounts.check_password(word)
