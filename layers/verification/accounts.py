"""Accounts bound to regions, passwords (argon2id), sessions and bearer tokens, sign-in limits.

Four roles, each bound to one region code (BPS codes: province 2 digits, kabupaten 4, kecamatan 7,
village 10):

======================  ===========================================================================
``provinsi``            reads everything in its province; edits nothing
``kabupaten``           approves or returns its villages; manages kecamatan and desa accounts in it
``kecamatan``           passes or returns the villages it reviews
``desa``                checks the families of its own village, proposes new ones, submits it
======================  ===========================================================================

Secrets are never stored: a session or token is 256 random bits given to the client once, and the
database keeps its SHA-256. A page's CSRF token is derived from its session secret
(`csrf_token`), so it needs no storage either and cannot be known without the session. Disabling an
account or resetting its password revokes every session and token it has: nothing outlives it.

Failed sign-ins are counted per account and per address in the database (so every service worker
sees them): `MAX_FAILURES_PER_ACCOUNT` failures within `FAILURE_WINDOW_S` lock the account for the
rest of the window, `MAX_FAILURES_PER_ADDRESS` lock the address; a right password is refused too
while locked, so guessing gains nothing.
"""

from __future__ import annotations

import functools
import hashlib
import hmac
import re
import secrets
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError
from sqlalchemy import Connection, RowMapping, and_, delete, func, insert, select, update

from layers.verification import audit
from layers.verification.audit import Actor
from layers.verification.db import Database
from layers.verification.errors import (
    Forbidden,
    InvalidInput,
    NotSignedIn,
    RecordNotFound,
    SignInFailed,
    TooManyAttempts,
)
from layers.verification.roles import DEFAULT_TOKEN_DAYS as DEFAULT_TOKEN_DAYS
from layers.verification.roles import ROLES as ROLES
from layers.verification.tables import accounts, credentials, now, signin_failures

#: Roles a kabupaten account may create, disable and reset within its kabupaten.
MANAGED_BY_KABUPATEN = ("kecamatan", "desa")
SESSION = "session"
TOKEN = "token"
#: Prefix of bearer tokens (so that a token pasted where it does not belong is recognisable).
TOKEN_PREFIX = "sasaran_"
DEFAULT_SESSION_HOURS = 12.0
MAX_FAILURES_PER_ACCOUNT = 5
MAX_FAILURES_PER_ADDRESS = 20
FAILURE_WINDOW_S = 15 * 60
#: A session's last use is written at most this often (reads stay reads).
TOUCH_EVERY_S = 60
MIN_PASSWORD_CHARS = 10
MAX_PASSWORD_CHARS = 1024
NAME_PATTERN = re.compile(r"^[a-z0-9][a-z0-9._-]{1,62}[a-z0-9]$")
#: Letters and digits that no one misreads on a phone screen or a printout (no 0/O, 1/l/I).
_PASSWORD_ALPHABET = "abcdefghjkmnpqrstuvwxyz23456789"

# argon2id with argon2-cffi's defaults (RFC 9106's low-memory profile: t=3, 64 MiB, p=4).
_hasher = PasswordHasher()


@functools.cache
def _dummy_hash() -> str:
    """Verified against when the name is unknown, so that a wrong name costs what a wrong password
    does (made on first use: importing this module costs no hash)."""
    return _hasher.hash(secrets.token_hex(16))


@dataclass(frozen=True)
class Account:
    """An account as the code sees it (never its password hash)."""

    id: int
    name: str
    role: str
    region: str
    disabled: bool
    created_at: str
    created_by: str
    last_signin_at: str | None
    has_password: bool
    oidc_subject: str | None

    def covers(self, code: str) -> bool:
        """Whether a village (or wider region) code lies within this account's region."""
        return code.startswith(self.region)

    def actor(self, address: str | None = None) -> Actor:
        """This account as the actor of audit entries."""
        return Actor(self.name, self.role, self.region, address)

    def public(self) -> dict[str, Any]:
        """What an account listing shows."""
        return {
            "name": self.name,
            "role": self.role,
            "region": self.region,
            "disabled": self.disabled,
            "created_at": self.created_at,
            "created_by": self.created_by,
            "last_signin_at": self.last_signin_at,
            "sign_in": "password" if self.has_password else "oidc",
        }


@dataclass(frozen=True)
class Caller:
    """The account behind a request, with the credential it used."""

    account: Account
    credential_id: int
    kind: str  # session | token
    address: str | None = None

    @property
    def actor(self) -> Actor:
        """The caller as the actor of audit entries."""
        return self.account.actor(self.address)


@dataclass(frozen=True)
class SignedIn:
    """A new session: its secret (the cookie) and its CSRF token, each shown to the client once."""

    account: Account
    secret: str
    csrf: str
    expires_at: str


def _account(row: RowMapping) -> Account:
    return Account(
        id=row["id"],
        name=row["name"],
        role=row["role"],
        region=row["region"],
        disabled=bool(row["disabled"]),
        created_at=row["created_at"],
        created_by=row["created_by"],
        last_signin_at=row["last_signin_at"],
        has_password=row["password_hash"] is not None,
        oidc_subject=row["oidc_subject"],
    )


def digest(secret: str) -> str:
    """SHA-256 (hex) of a secret: what the database keeps of a session or token."""
    return hashlib.sha256(secret.encode("utf-8")).hexdigest()


def csrf_token(session_secret: str) -> str:
    """The CSRF token of a session: derived from its secret, so only its holder can know it."""
    return hashlib.sha256(b"sasaran-csrf\x00" + session_secret.encode("utf-8")).hexdigest()


def csrf_matches(session_secret: str, token: str | None) -> bool:
    """Whether ``token`` is the session's CSRF token (compared in constant time)."""
    return bool(token) and hmac.compare_digest(csrf_token(session_secret), str(token))


def _at(delta_s: float) -> str:
    return (datetime.now(UTC) + timedelta(seconds=delta_s)).isoformat(timespec="microseconds")


# ------------------------------------------------------------------ names, roles, passwords


def check_name(name: str) -> str:
    """An account name: 3-64 lower-case letters, digits, ``.``, ``_`` or ``-`` (returned lower-cased)."""
    cleaned = str(name).strip().lower()
    if not NAME_PATTERN.match(cleaned):
        raise InvalidInput(
            "an account name is 3 to 64 characters: lower-case letters, digits, '.', '_' or '-', "
            "starting and ending with a letter or digit"
        )
    return cleaned


def check_role_region(role: str, region: str) -> tuple[str, str]:
    """A known role and a region code of that role's length (digits only; dots are dropped)."""
    if role not in ROLES:
        raise InvalidInput(f"unknown role {role!r}: one of {', '.join(ROLES)}")
    code = str(region).replace(".", "").strip()
    if not code.isdigit() or len(code) != ROLES[role]:
        raise InvalidInput(
            f"a {role} account's region is a {ROLES[role]}-digit code "
            f"({'province' if role == 'provinsi' else role}), not {region!r}"
        )
    return role, code


def check_password(password: str, name: str = "") -> str:
    """A password of `MIN_PASSWORD_CHARS` to `MAX_PASSWORD_CHARS` characters, not the account's name."""
    if len(password) < MIN_PASSWORD_CHARS:
        raise InvalidInput(f"a password has at least {MIN_PASSWORD_CHARS} characters")
    if len(password) > MAX_PASSWORD_CHARS:
        raise InvalidInput(f"a password has at most {MAX_PASSWORD_CHARS} characters")
    if name and password.strip().lower() == name.lower():
        raise InvalidInput("a password must not be the account's name")
    return password


def generate_password() -> str:
    """A password to read aloud or copy from a phone: four groups of five (about 99 bits)."""
    groups = ("".join(secrets.choice(_PASSWORD_ALPHABET) for _ in range(5)) for _ in range(4))
    return "-".join(groups)


def hash_password(password: str) -> str:
    """The argon2id hash (PHC string) of a password."""
    return _hasher.hash(password)


# ------------------------------------------------------------------ managing accounts


def may_manage(manager: Account | None, role: str, region: str) -> bool:
    """Whether ``manager`` may create or change an account of ``role`` in ``region``.

    None is the server's command line, which may do anything; a kabupaten account manages
    kecamatan and desa accounts in its kabupaten; no other role manages accounts.
    """
    if manager is None:
        return True
    return manager.role == "kabupaten" and role in MANAGED_BY_KABUPATEN and region.startswith(manager.region)


def get_account(conn: Connection, name: str) -> Account:
    """The account called ``name`` (`RecordNotFound` when there is none)."""
    row = (
        conn.execute(select(accounts).where(accounts.c.name == str(name).strip().lower())).mappings().first()
    )
    if row is None:
        raise RecordNotFound(f"no account called {str(name)[:64]!r}")
    return _account(row)


def create_account(
    db: Database,
    name: str,
    role: str,
    region: str,
    password: str | None,
    by: Actor,
    *,
    manager: Account | None = None,
    oidc_subject: str | None = None,
) -> Account:
    """Create an account (audited as ``account.create``).

    Parameters
    ----------
    db
        The database.
    name, role, region
        The account (checked by `check_name` and `check_role_region`).
    password
        Its password (checked by `check_password`), or None for an OpenID Connect-only account.
    by
        Who creates it.
    manager
        The account that asks (a kabupaten account); None for the server's command line.
    oidc_subject
        The ``sub`` of its OpenID Connect identity, if it signs in that way.

    Returns
    -------
    Account
        The new account.
    """
    name = check_name(name)
    role, region = check_role_region(role, region)
    if not may_manage(manager, role, region):
        raise Forbidden(f"a {manager.role if manager else '?'} account cannot create a {role} account here")
    hashed = hash_password(check_password(password, name)) if password is not None else None
    if hashed is None and oidc_subject is None:
        raise InvalidInput("an account needs a password or an OpenID Connect identity")
    stamp = now()
    with db.write() as conn:
        taken = conn.execute(select(accounts.c.id).where(accounts.c.name == name)).first()
        if taken is not None:
            raise InvalidInput(f"an account called {name!r} exists already")
        if oidc_subject is not None:
            used = conn.execute(
                select(accounts.c.name).where(accounts.c.oidc_subject == oidc_subject)
            ).first()
            if used is not None:
                raise InvalidInput(f"that OpenID Connect identity belongs to the account {used[0]!r}")
        conn.execute(
            insert(accounts).values(
                name=name,
                role=role,
                region=region,
                password_hash=hashed,
                oidc_subject=oidc_subject,
                disabled=False,
                created_at=stamp,
                created_by=by.name,
                updated_at=stamp,
            )
        )
        audit.append(conn, by.event("account.create", f"account:{name}", new=f"{role} {region}"))
        return get_account(conn, name)


def list_accounts(db: Database, region_prefix: str | None = None) -> list[Account]:
    """Accounts by name, those whose region lies within ``region_prefix`` if given."""
    query = select(accounts).order_by(accounts.c.name)
    if region_prefix:
        query = query.where(accounts.c.region.like(region_prefix + "%"))
    with db.read() as conn:
        return [_account(row) for row in conn.execute(query).mappings()]


def _managed(conn: Connection, name: str, manager: Account | None) -> Account:
    target = get_account(conn, name)
    if not may_manage(manager, target.role, target.region):
        # Outside the manager's reach, an account is as good as absent: never say it exists.
        raise RecordNotFound(f"no account called {str(name)[:64]!r} that you manage")
    return target


def set_disabled(
    db: Database, name: str, disabled: bool, by: Actor, *, manager: Account | None = None
) -> Account:
    """Disable (revoking every session and token) or enable an account; audited."""
    with db.write() as conn:
        target = _managed(conn, name, manager)
        stamp = now()
        conn.execute(
            update(accounts).where(accounts.c.id == target.id).values(disabled=disabled, updated_at=stamp)
        )
        revoked = _revoke_all(conn, target.id, stamp) if disabled else 0
        action = "account.disable" if disabled else "account.enable"
        reason = f"{revoked} sessions and tokens revoked" if disabled else None
        audit.append(conn, by.event(action, f"account:{target.name}", reason=reason))
        return get_account(conn, target.name)


def reset_password(
    db: Database, name: str, password: str, by: Actor, *, manager: Account | None = None
) -> Account:
    """Give an account a new password, revoking every session and token it has; audited."""
    with db.write() as conn:
        target = _managed(conn, name, manager)
        hashed = hash_password(check_password(password, target.name))
        stamp = now()
        conn.execute(
            update(accounts).where(accounts.c.id == target.id).values(password_hash=hashed, updated_at=stamp)
        )
        revoked = _revoke_all(conn, target.id, stamp)
        audit.append(
            conn,
            by.event(
                "account.reset", f"account:{target.name}", reason=f"{revoked} sessions and tokens revoked"
            ),
        )
        return get_account(conn, target.name)


def _revoke_all(conn: Connection, account_id: int, stamp: str) -> int:
    result = conn.execute(
        update(credentials)
        .where(and_(credentials.c.account_id == account_id, credentials.c.revoked_at.is_(None)))
        .values(revoked_at=stamp)
    )
    return int(result.rowcount or 0)


def issue_token(
    db: Database, name: str, by: Actor, *, days: float = DEFAULT_TOKEN_DAYS, label: str = ""
) -> str:
    """A bearer token for a script acting as ``name``, valid ``days`` days; shown here once.

    Parameters
    ----------
    db
        The database.
    name
        The account.
    by
        Who asks (audited as ``token.issue``).
    days
        Lifetime (more than 0, at most 3,660).
    label
        What the token is for (listed with it).

    Returns
    -------
    str
        The token: ``sasaran_`` and 43 URL-safe characters.
    """
    if not 0 < days <= 3660:
        raise InvalidInput("a token lives more than 0 and at most 3,660 days")
    secret = TOKEN_PREFIX + secrets.token_urlsafe(32)
    with db.write() as conn:
        target = get_account(conn, name)
        if target.disabled:
            raise InvalidInput(f"the account {target.name!r} is disabled: enable it first")
        conn.execute(
            insert(credentials).values(
                secret_hash=digest(secret),
                account_id=target.id,
                kind=TOKEN,
                label=label[:128] or None,
                created_at=now(),
                expires_at=_at(days * 86400),
            )
        )
        audit.append(
            conn,
            by.event(
                "token.issue", f"account:{target.name}", reason=label[:200] or None, new=f"{days:g} days"
            ),
        )
    return secret


# ------------------------------------------------------------------ signing in


def _failure_key(name: str) -> str:
    # The name as typed may be a password typed in the wrong box: only its hash is kept.
    return digest("account\x00" + str(name).strip().lower()[:256])


def _lock_remaining_s(conn: Connection, column: Any, key: str, limit: int) -> int:
    """Seconds until ``key`` has fewer than ``limit`` failures in the window (0: not locked)."""
    since = _at(-FAILURE_WINDOW_S)
    recent = conn.execute(
        select(signin_failures.c.at)
        .where(and_(column == key, signin_failures.c.at > since))
        .order_by(signin_failures.c.at.desc())
        .limit(limit)
    ).scalars()
    times = list(recent)
    if len(times) < limit:
        return 0
    oldest_counted = datetime.fromisoformat(times[-1])
    remaining = oldest_counted + timedelta(seconds=FAILURE_WINDOW_S) - datetime.now(UTC)
    return max(1, int(remaining.total_seconds()) + 1)


def _check_limits(conn: Connection, name_key: str, address: str) -> None:
    wait = max(
        _lock_remaining_s(conn, signin_failures.c.account_name, name_key, MAX_FAILURES_PER_ACCOUNT),
        _lock_remaining_s(conn, signin_failures.c.address, address, MAX_FAILURES_PER_ADDRESS),
    )
    if wait:
        minutes = max(1, round(wait / 60))
        raise TooManyAttempts(
            f"too many failed sign-ins for this account or address: try again in about {minutes} minutes",
            retry_after_s=wait,
        )


def sign_in(
    db: Database, name: str, password: str, address: str, *, session_hours: float = DEFAULT_SESSION_HOURS
) -> SignedIn:
    """Check a name and password and open a new session (a new secret every time: no fixation).

    Parameters
    ----------
    db
        The database.
    name, password
        As typed.
    address
        The client's address (for the per-address limit and the audit entry).
    session_hours
        How long the session lives.

    Returns
    -------
    SignedIn
        The account, the session secret and its CSRF token.

    Raises
    ------
    TooManyAttempts
        The account or the address is locked for a while (even if the password is right).
    SignInFailed
        Wrong name or password (which one is never said).
    """
    address = str(address)[:64] or "unknown"
    name_key = _failure_key(name)
    with db.read() as conn:
        _check_limits(conn, name_key, address)
        row = (
            conn.execute(select(accounts).where(accounts.c.name == str(name).strip().lower()[:64]))
            .mappings()
            .first()
        )
    ok = _password_matches(row["password_hash"] if row is not None else None, password)
    if row is None or not ok or row["disabled"]:
        _record_failure(db, name_key, address, row)
        raise SignInFailed("wrong name or password, or the account is disabled")
    return _open_session(
        db, _account(row), address, session_hours, method="password", clear_failures=name_key
    )


def _password_matches(hashed: str | None, password: str) -> bool:
    if len(password) > MAX_PASSWORD_CHARS:
        return False
    try:
        return _hasher.verify(hashed or _dummy_hash(), password) and hashed is not None
    except (VerifyMismatchError, VerificationError, InvalidHashError):
        return False


def _record_failure(db: Database, name_key: str, address: str, row: RowMapping | None) -> None:
    stamp = now()
    with db.write() as conn:
        # A failure that arrives while another request locked the account still counts.
        conn.execute(insert(signin_failures).values(account_name=name_key, address=address, at=stamp))
        conn.execute(delete(signin_failures).where(signin_failures.c.at < _at(-86400)))
        who = row["name"] if row is not None else "(unknown)"
        reason = "account disabled" if row is not None and row["disabled"] else "wrong name or password"
        event = audit.Event(
            actor=who,
            role=row["role"] if row is not None else "-",
            region=row["region"] if row is not None else None,
            action="signin.failed",
            record=f"account:{who}",
            reason=reason,
            address=address,
        )
        audit.append(conn, event)


def account_for_oidc(db: Database, subject: str, name: str, address: str | None = None) -> Account:
    """The account an OpenID Connect identity signs in as: bound by its ``sub``, or found by name.

    A Sasaran account decides the role and region, so the identity must match an existing account:
    the one already bound to ``subject``, or else the account called ``name`` (the provider's
    username claim), which is then bound to ``subject`` for good (audited as
    ``account.bind_oidc``). An account bound to another identity, a disabled account, or no account
    at all is `SignInFailed`.
    """
    cleaned = str(name or "").strip().lower()[:64]
    with db.write() as conn:
        row = conn.execute(select(accounts).where(accounts.c.oidc_subject == subject)).mappings().first()
        if row is None and cleaned:
            row = conn.execute(select(accounts).where(accounts.c.name == cleaned)).mappings().first()
            if row is not None and row["oidc_subject"] not in (None, subject):
                row = None
            elif row is not None:
                conn.execute(update(accounts).where(accounts.c.id == row["id"]).values(oidc_subject=subject))
                event = Actor(row["name"], row["role"], row["region"], address).event(
                    "account.bind_oidc", f"account:{row['name']}", reason="first OpenID Connect sign-in"
                )
                audit.append(conn, event)
        if row is None or row["disabled"]:
            who = row["name"] if row is not None else "(unknown)"
            audit.append(
                conn,
                audit.Event(
                    actor=who,
                    role=row["role"] if row is not None else "-",
                    action="signin.failed",
                    record=f"account:{who}",
                    reason="OpenID Connect identity without an enabled account",
                    address=address,
                ),
            )
            failed = True
        else:
            failed = False
    if failed or row is None:
        raise SignInFailed("this identity has no enabled Sasaran account: ask your kabupaten")
    return get_account_by_id(db, int(row["id"]))


def get_account_by_id(db: Database, account_id: int) -> Account:
    """The account with this id."""
    with db.read() as conn:
        return _account(conn.execute(select(accounts).where(accounts.c.id == account_id)).mappings().one())


def open_session_for(
    db: Database, account: Account, address: str, *, session_hours: float = DEFAULT_SESSION_HOURS, method: str
) -> SignedIn:
    """A new session for an account already authenticated elsewhere (OpenID Connect)."""
    if account.disabled:
        raise SignInFailed("the account is disabled")
    return _open_session(db, account, address, session_hours, method=method, clear_failures=None)


def _open_session(
    db: Database,
    account: Account,
    address: str,
    session_hours: float,
    *,
    method: str,
    clear_failures: str | None,
) -> SignedIn:
    secret = secrets.token_urlsafe(32)
    stamp = now()
    expires = _at(session_hours * 3600)
    with db.write() as conn:
        conn.execute(
            insert(credentials).values(
                secret_hash=digest(secret),
                account_id=account.id,
                kind=SESSION,
                created_at=stamp,
                expires_at=expires,
                last_used_at=stamp,
            )
        )
        conn.execute(update(accounts).where(accounts.c.id == account.id).values(last_signin_at=stamp))
        if clear_failures:
            conn.execute(delete(signin_failures).where(signin_failures.c.account_name == clear_failures))
        audit.append(conn, account.actor(address).event("signin", f"account:{account.name}", reason=method))
    return SignedIn(account=account, secret=secret, csrf=csrf_token(secret), expires_at=expires)


def authenticate(db: Database, secret: str | None, kind: str, address: str | None = None) -> Caller:
    """The caller behind a session secret (cookie) or a bearer token.

    Parameters
    ----------
    db
        The database.
    secret
        What the client sent.
    kind
        `SESSION` (from the cookie) or `TOKEN` (from ``Authorization: Bearer``); a secret of the
        other kind is refused.
    address
        The client's address (carried into audit entries).

    Returns
    -------
    Caller
        The account and credential.

    Raises
    ------
    NotSignedIn
        No secret, or one that is unknown, of the other kind, expired, revoked, or of a disabled
        account.
    """
    if not secret or len(secret) > 256:
        raise NotSignedIn("sign in first (no session or token)")
    stamp = now()
    with db.read() as conn:
        found = (
            conn.execute(
                select(
                    credentials.c.id.label("credential_id"),
                    credentials.c.kind,
                    credentials.c.expires_at,
                    credentials.c.revoked_at,
                    credentials.c.last_used_at,
                    *accounts.c,
                )
                .join(accounts, accounts.c.id == credentials.c.account_id)
                .where(credentials.c.secret_hash == digest(secret))
            )
            .mappings()
            .first()
        )
    if (
        found is None
        or found["kind"] != kind
        or found["revoked_at"] is not None
        or found["expires_at"] <= stamp
        or found["disabled"]
    ):
        raise NotSignedIn("the session or token is unknown, expired or revoked: sign in again")
    account = _account(found)
    last = found["last_used_at"]
    if last is None or last < _at(-TOUCH_EVERY_S):
        with db.write() as conn:
            conn.execute(
                update(credentials)
                .where(credentials.c.id == found["credential_id"])
                .values(last_used_at=stamp)
            )
    return Caller(account=account, credential_id=found["credential_id"], kind=kind, address=address)


def sign_out(db: Database, caller: Caller) -> None:
    """End the caller's session (or revoke its token); audited."""
    with db.write() as conn:
        conn.execute(
            update(credentials).where(credentials.c.id == caller.credential_id).values(revoked_at=now())
        )
        audit.append(conn, caller.actor.event("signout", f"account:{caller.account.name}"))


def count_sessions(db: Database, name: str) -> int:
    """Live (unrevoked, unexpired) sessions and tokens of an account."""
    with db.read() as conn:
        target = get_account(conn, name)
        return int(
            conn.execute(
                select(func.count())
                .select_from(credentials)
                .where(
                    and_(
                        credentials.c.account_id == target.id,
                        credentials.c.revoked_at.is_(None),
                        credentials.c.expires_at > now(),
                    )
                )
            ).scalar_one()
        )
