"""``sasaran rounds``, ``sasaran snapshots``, ``sasaran backup`` and ``sasaran restore``."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Annotated

import typer

from layers.cli.users import DatabaseOption, StoreOption, opened

rounds_app = typer.Typer(
    name="rounds", help="Rounds of verification: list them, start a new one.", no_args_is_help=True
)
snapshots_app = typer.Typer(
    name="snapshots", help="Snapshots of the verified register: list, take, compare.", no_args_is_help=True
)


@rounds_app.command("list")
def rounds_list(store: StoreOption = None, database: DatabaseOption = None) -> None:
    """Every round: number, state, year, families, villages, when and by whom it started."""
    from layers.verification.rounds import list_rounds

    with opened(store, database) as db:
        found = list_rounds(db)
    if not found:
        typer.echo(
            "no round yet: name a store built with [sources.households] (--store) and set the register key"
        )
    for r in found:
        typer.echo(
            f"round {r.number} {r.state:<8} year {r.year} {r.families} families in {r.villages} villages, "
            f"started {r.started_at[:19].replace('T', ' ')} by {r.started_by}"
        )


@rounds_app.command("new")
def rounds_new(
    store: Annotated[
        Path, typer.Option("--store", help="The store whose register the new round starts from.")
    ],
    database: DatabaseOption = None,
    yes: Annotated[bool, typer.Option("--yes", help="Do not ask for confirmation.")] = False,
) -> None:
    """Archive the active round (kept, read-only) and start the next from the store's register now."""
    from layers.store import LayerStore
    from layers.verification.audit import cli_actor
    from layers.verification.seeding import register_key, start_new_round

    if not yes and sys.stdin.isatty():
        typer.confirm("Archive the active round and start a new one from the store's register?", abort=True)
    key, _ = register_key()
    with opened(store, database) as db:
        made = start_new_round(db, LayerStore.open(store), key, cli_actor())
    typer.echo(
        f"round {made.number} started: {made.families} families of {made.year} in {made.villages} villages"
    )


@snapshots_app.command("list")
def snapshots_list(store: StoreOption = None, database: DatabaseOption = None) -> None:
    """Every snapshot: number, round, families, approved villages, audit position."""
    from layers.verification.snapshots import list_snapshots

    with opened(store, database) as db:
        found = list_snapshots(db)
    for s in found:
        typer.echo(
            f"snapshot {s.id} (round {s.round}, {s.year}) {s.taken_at[:19].replace('T', ' ')} "
            f"by {s.taken_by}: {s.families} families, {len(s.verified_villages)} approved villages; "
            f"audit entry {s.audit_seq} {s.audit_hash[:16]}"
        )


@snapshots_app.command("take")
def snapshots_take(
    store: StoreOption = None,
    database: DatabaseOption = None,
    note: Annotated[str | None, typer.Option("--note", help="What it is for.")] = None,
) -> None:
    """Snapshot the active round now (``sasaran build --verified`` takes one itself)."""
    from layers.verification.audit import cli_actor
    from layers.verification.seeding import cipher_for, register_key
    from layers.verification.snapshots import take_snapshot

    key, problem = register_key()
    if key is None:
        raise typer.BadParameter(problem or "no register key")
    with opened(store, database) as db:
        from layers.verification.rounds import require_active

        with db.read() as conn:
            round_ = require_active(conn)
        made = take_snapshot(db, cipher_for(round_, key), cli_actor(), note=note)
    typer.echo(
        f"snapshot {made.id}: {made.families} families, {len(made.verified_villages)} approved villages; "
        f"audit entry {made.audit_seq} {made.audit_hash}"
    )


@snapshots_app.command("compare")
def snapshots_compare(
    older: Annotated[int, typer.Argument(help="The earlier snapshot.")],
    newer: Annotated[int, typer.Argument(help="The later snapshot.")],
    store: StoreOption = None,
    database: DatabaseOption = None,
    out: Annotated[
        Path | None, typer.Option("--out", help="Write CSV here (default: a table on screen).")
    ] = None,
) -> None:
    """Families added, removed, moved, and with a changed decile, per village (no names)."""
    from layers.atomic import write_text
    from layers.verification.snapshots import compare

    with opened(store, database) as db:
        table = compare(db, older, newer)
    if out is not None:
        write_text(table.to_csv(index=False), out)
        typer.echo(f"Wrote {out} ({len(table)} villages)")
        return
    typer.echo(table.to_string(index=False))
    totals = table.drop(columns=["village_code"]).sum()
    typer.echo("total: " + ", ".join(f"{name} {int(value)}" for name, value in totals.items()))


def backup_command(
    out: Annotated[
        Path, typer.Option("--out", help="The backup file (one SQLite file, whatever the database).")
    ],
    store: StoreOption = None,
    database: DatabaseOption = None,
) -> None:
    """Write a consistent copy of the verification database (safe while the service runs)."""
    from layers.verification.audit import cli_actor
    from layers.verification.backup import backup

    with opened(store, database) as db:
        report = backup(db, out, cli_actor())
    typer.echo(report.summary())


def restore_command(
    backup_file: Annotated[Path, typer.Argument(help="A file written by `sasaran backup`.")],
    store: StoreOption = None,
    database: DatabaseOption = None,
) -> None:
    """Copy a backup into an empty database (``--database URL``, or a new one beside ``--store``)."""
    from layers.verification.audit import cli_actor
    from layers.verification.backup import restore
    from layers.verification.db import Database, database_url

    target = Database.open(database_url(store=store, url=database))
    try:
        report = restore(backup_file, target, cli_actor())
    finally:
        target.dispose()
    typer.echo(report.summary())
