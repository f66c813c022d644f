"""``sasaran audit``: check the audit chain, read the log (docs/verification.md, "The audit chain")."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated, Any

import typer

from layers.cli.users import DatabaseOption, StoreOption, opened

#: Exit status of ``audit verify`` when the chain is broken (0: intact; 2: bad input; 1: a fault).
BROKEN_EXIT = 3

audit_app = typer.Typer(
    name="audit", help="The audit log: verify its hash chain, list its entries.", no_args_is_help=True
)


@audit_app.command("verify")
def verify_command(store: StoreOption = None, database: DatabaseOption = None) -> None:
    """Check every entry's hash and link. Exit 0 when the chain is intact; 3 naming the first broken entry.

    With ``--store``, also check that the audit position the store's manifest records (the snapshot
    its register came from) is still in the log, unchanged.
    """
    from layers.verification import audit

    with opened(store, database) as db:
        check = audit.verify(db)
        anchor = _store_anchor(db, store) if store is not None and check.ok else None
    if not check.ok:
        typer.echo(check.summary(), err=True)
        raise typer.Exit(BROKEN_EXIT)
    if anchor:
        typer.echo(anchor, err=True)
        raise typer.Exit(BROKEN_EXIT)
    typer.echo(check.summary())


def _store_anchor(db: object, store: Path) -> str | None:
    """A problem with the store's recorded audit position, or None (also when it records none)."""
    from sqlalchemy import select

    from layers.store import LayerStore
    from layers.verification.tables import audit_log

    try:
        manifest = LayerStore.open(store).manifest
    except Exception:  # no store there: nothing anchored
        return None
    register = manifest.get("households")
    snapshot: dict[str, Any] = dict(register.get("verification") or {}) if register else {}
    seq, digest = snapshot.get("audit_seq"), snapshot.get("audit_hash")
    if not seq:
        return None
    with db.read() as conn:  # type: ignore[attr-defined]
        found = conn.execute(select(audit_log.c.hash).where(audit_log.c.seq == int(seq))).scalar_one_or_none()
    if found != digest:
        return (
            f"audit chain BROKEN at entry {seq}: the store {store} was built from the snapshot recorded "
            f"there, and the log no longer holds that entry unchanged"
        )
    return None


@audit_app.command("log")
def log_command(
    store: StoreOption = None,
    database: DatabaseOption = None,
    record: Annotated[
        str | None, typer.Option("--record", help="Only this record (family:12, village:CODE).")
    ] = None,
    region: Annotated[
        str | None, typer.Option("--region", help="Only entries within this region code.")
    ] = None,
    limit: Annotated[int, typer.Option("--limit", min=1, max=100_000)] = 50,
    as_json: Annotated[bool, typer.Option("--json", help="One JSON object per line.")] = False,
) -> None:
    """The newest entries: number, time, who, action, record, field, old → new, reason.

    Values of personal fields are sealed in the log and shown as ``(sealed)``.
    """
    from layers.verification import audit
    from layers.verification.crypto import SEALED

    with opened(store, database) as db, db.read() as conn:
        found = audit.entries(conn, record=record, region_prefix=region, limit=limit)
    for entry in found:
        item = entry.as_dict()
        for side in ("old", "new"):
            if isinstance(item[side], str) and item[side].startswith(SEALED):
                item[side] = "(sealed)"
        if as_json:
            typer.echo(json.dumps(item, ensure_ascii=False))
            continue
        change = f" {item['field']}: {item['old']} → {item['new']}" if item["field"] else ""
        why = f" ({item['reason']})" if item["reason"] else ""
        typer.echo(
            f"{item['seq']:>7} {item['at'][:19].replace('T', ' ')} {item['actor']} [{item['role']}] "
            f"{item['action']} {item['record']}{change}{why}"
        )
