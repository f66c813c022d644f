"""``sasaran users``: the verification's accounts (docs/verification.md).

Every command takes ``--store DIR`` (the database is ``verification.db`` beside the store, and the
store's register is copied in on first use) or ``--database URL`` (or ``SASARAN_DATABASE_URL``).
What a command does is recorded in the audit log as done by ``cli:<login>@<host>``.
"""

from __future__ import annotations

import getpass
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from enum import StrEnum
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from layers.verification.roles import DEFAULT_TOKEN_DAYS, ROLES

if TYPE_CHECKING:
    from layers.verification.db import Database

StoreOption = Annotated[
    Path | None,
    typer.Option(
        "--store",
        help="Store directory: the database is verification.db beside it (its register copied in first).",
    ),
]
DatabaseOption = Annotated[
    str | None,
    typer.Option(
        "--database", help="Database URL (postgresql://user@host/db); default SASARAN_DATABASE_URL."
    ),
]
Role = StrEnum("Role", {role: role for role in ROLES})  # type: ignore[misc]

users_app = typer.Typer(
    name="users",
    help="Accounts of the verification: add, token, list, disable, enable, reset.",
    no_args_is_help=True,
)


@contextmanager
def opened(store: Path | None, database: str | None) -> Iterator[Database]:
    """The database of ``--store`` or ``--database`` (migrated; seeded from the store's register if new)."""
    from layers.verification.db import Database, database_url

    db = Database.open(database_url(store=store, url=database))
    try:
        if store is not None:
            _seed(db, store)
        yield db
    finally:
        db.dispose()


def _seed(db: Database, store: Path) -> None:
    """Copy the store's register in on first use; say why not when it cannot be (no key)."""
    from layers.store import LayerStore
    from layers.verification.audit import cli_actor
    from layers.verification.errors import DatabaseError
    from layers.verification.seeding import ensure_round, register_key

    key, _ = register_key()
    try:
        ensure_round(db, LayerStore.open(store), key, cli_actor())
    except DatabaseError as exc:
        typer.echo(f"note: {exc}", err=True)


def read_password(generate: bool, name: str) -> tuple[str, bool]:
    """A password: generated, or read from standard input (piped: its first line; a terminal: asked twice).

    Returns the password and whether it was generated (then it is printed once).
    """
    from layers.verification.accounts import generate_password

    if generate:
        return generate_password(), True
    if not sys.stdin.isatty():
        line = sys.stdin.readline().rstrip("\r\n")
        return (line, False) if line else (generate_password(), True)
    first = getpass.getpass(f"password for {name} (empty: generate one): ")
    if not first:
        return generate_password(), True
    if getpass.getpass("again: ") != first:
        raise typer.BadParameter("the two passwords differ")
    return first, False


@users_app.command("add")
def add_command(
    name: Annotated[str, typer.Argument(help="Account name (lower-case letters, digits, . _ -).")],
    role: Annotated[Role, typer.Option("--role", help="provinsi, kabupaten, kecamatan or desa.")],
    region: Annotated[
        str, typer.Option("--region", help="Region code of the role (62, 6201, 6201012, 6201012001).")
    ],
    store: StoreOption = None,
    database: DatabaseOption = None,
    generate: Annotated[
        bool, typer.Option("--generate", help="Generate the password (printed once).")
    ] = False,
) -> None:
    """Add an account. The password comes from standard input, or is generated and printed once."""
    from layers.verification.accounts import create_account
    from layers.verification.audit import cli_actor

    password, generated = read_password(generate, name)
    with opened(store, database) as db:
        made = create_account(db, name, str(role.value), region, password, cli_actor())
    typer.echo(f"account {made.name} added: {made.role} {made.region}")
    if generated:
        typer.echo(f"password (shown once; give it to {made.name} in person): {password}")


@users_app.command("token")
def token_command(
    name: Annotated[str, typer.Argument(help="The account the script acts as.")],
    store: StoreOption = None,
    database: DatabaseOption = None,
    days: Annotated[
        float, typer.Option("--days", min=0.001, max=3660, help="Lifetime.")
    ] = DEFAULT_TOKEN_DAYS,
    label: Annotated[str, typer.Option("--label", help="What the token is for.")] = "",
) -> None:
    """Print a new bearer token for NAME on its own line (shown once: Authorization: Bearer TOKEN)."""
    from layers.verification.accounts import issue_token
    from layers.verification.audit import cli_actor

    with opened(store, database) as db:
        token = issue_token(db, name, cli_actor(), days=days, label=label)
    typer.echo(token)


@users_app.command("list")
def list_command(
    store: StoreOption = None,
    database: DatabaseOption = None,
    region: Annotated[str | None, typer.Option("--region", help="Only accounts within this region.")] = None,
) -> None:
    """List the accounts: name, role, region, status, last sign-in."""
    from layers.verification.accounts import list_accounts

    with opened(store, database) as db:
        found = list_accounts(db, region)
    typer.echo(f"{'name':<24} {'role':<10} {'region':<11} {'status':<9} {'sign-in':<9} last sign-in")
    for account in found:
        status = "disabled" if account.disabled else "active"
        how = "password" if account.has_password else "oidc"
        last = (account.last_signin_at or "never")[:19].replace("T", " ")
        typer.echo(f"{account.name:<24} {account.role:<10} {account.region:<11} {status:<9} {how:<9} {last}")


@users_app.command("disable")
def disable_command(
    name: Annotated[str, typer.Argument(help="The account.")],
    store: StoreOption = None,
    database: DatabaseOption = None,
) -> None:
    """Disable an account: it can no longer sign in, and every session and token it has ends now."""
    from layers.verification.accounts import count_sessions, set_disabled
    from layers.verification.audit import cli_actor

    with opened(store, database) as db:
        set_disabled(db, name, True, cli_actor())
        left = count_sessions(db, name)
    typer.echo(f"account {name} disabled ({left} sessions or tokens left)")


@users_app.command("enable")
def enable_command(
    name: Annotated[str, typer.Argument(help="The account.")],
    store: StoreOption = None,
    database: DatabaseOption = None,
) -> None:
    """Enable a disabled account again (its old sessions and tokens stay revoked)."""
    from layers.verification.accounts import set_disabled
    from layers.verification.audit import cli_actor

    with opened(store, database) as db:
        set_disabled(db, name, False, cli_actor())
    typer.echo(f"account {name} enabled")


@users_app.command("reset")
def reset_command(
    name: Annotated[str, typer.Argument(help="The account.")],
    store: StoreOption = None,
    database: DatabaseOption = None,
    generate: Annotated[
        bool, typer.Option("--generate", help="Generate the password (printed once).")
    ] = False,
) -> None:
    """Give an account a new password (standard input, or generated); its sessions and tokens end."""
    from layers.verification.accounts import reset_password
    from layers.verification.audit import cli_actor

    password, generated = read_password(generate, name)
    with opened(store, database) as db:
        reset_password(db, name, password, cli_actor())
    typer.echo(f"account {name}: new password set; its sessions and tokens are revoked")
    if generated:
        typer.echo(f"password (shown once): {password}")
