"""Closing the loop: ``sasaran build --verified`` takes the register's year from the verification
database (a snapshot of approved villages), records it in the manifest, and ``sasaran audit verify
--store`` holds the store to it; on SQLite and PostgreSQL."""

from __future__ import annotations

import contextlib
import io
import json
import os
import sys
from pathlib import Path
from unittest import mock

import pytest
from sqlalchemy import text

from layers.cli.main import main
from layers.register import load_key, read_register
from layers.store import LayerStore
from layers.testing import tiny_build
from layers.verification import accounts, audit, workflow
from layers.verification.accounts import Caller
from layers.verification.audit import cli_actor, entry_hash
from layers.verification.db import Database
from layers.verification.seeding import cipher_for, ensure_round
from tests.verification.conftest import fresh_database_url


def sasaran(*args: str) -> tuple[int, str, str]:
    """The ``sasaran`` console entry point in this process: exit status, stdout, stderr."""
    out, err = io.StringIO(), io.StringIO()
    code: int | str | None = 0
    with (
        mock.patch.object(sys, "argv", ["sasaran", *args]),
        contextlib.redirect_stdout(out),
        contextlib.redirect_stderr(err),
    ):
        try:
            main()
        except SystemExit as exc:
            code = exc.code
    return int(code or 0), out.getvalue(), err.getvalue()


@pytest.mark.parametrize("backend", ["sqlite", "postgresql"])
def test_a_build_takes_the_verified_register_and_the_audit_holds_it(
    backend: str, demo_sources: Path, register_key_file: Path, tmp_path: Path
) -> None:
    for url in fresh_database_url(backend, tmp_path / "db"):
        store = tmp_path / "work" / "store"
        tiny_build(demo_sources, store)
        with mock.patch.dict(os.environ, {"SASARAN_REGISTER_KEY_FILE": str(register_key_file)}):
            key = load_key()
            assert key is not None
            db = Database.open(url)
            try:
                round_ = ensure_round(db, LayerStore.open(store), key, cli_actor())
                assert round_ is not None
                cipher = cipher_for(round_, key)
                code = _smallest_village(db)
                desa = Caller(
                    accounts.create_account(db, "desa", "desa", code, "kopi-tubruk-2024", cli_actor()),
                    0,
                    "token",
                )
                families = workflow.families_page(db, cipher, desa, code, limit=200)["families"]
                gone, fixed = families[0], families[1]
                for family in families:
                    status, reason, changes = "valid", None, None
                    if family["id"] == gone["id"]:
                        status, reason = "meninggal", "2024"
                    if family["id"] == fixed["id"]:
                        status, changes = "diperbaiki", {"members": fixed["members"] + 3}
                    workflow.change_family(
                        db,
                        cipher,
                        desa,
                        family["id"],
                        status=status,
                        reason=reason,
                        changes=changes,
                        version=family["version"],
                    )
                proposal = {
                    "nik": f"{code[:6]}5505900007",
                    "head_name": "Usulan Sintetis",
                    "address": "RT 9",
                    "decile": 1,
                    "members": 5,
                }
                workflow.propose_family(db, cipher, desa, code, proposal, reason="belum terdaftar")
                workflow.transition(db, desa, code, "submit")
                kec = Caller(
                    accounts.create_account(
                        db, "kec", "kecamatan", code[:7], "kopi-tubruk-2024", cli_actor()
                    ),
                    0,
                    "token",
                )
                kab = Caller(
                    accounts.create_account(
                        db, "kab", "kabupaten", code[:4], "kopi-tubruk-2024", cli_actor()
                    ),
                    0,
                    "token",
                )
                workflow.transition(db, kec, code, "pass")
                workflow.transition(db, kab, code, "approve")
            finally:
                db.dispose()
            status, out, err = sasaran(
                "build",
                str(demo_sources),
                "--store",
                str(store),
                "--quiet",
                "--verified",
                "--database",
                url,
                "--accept-changes",
            )
            assert status == 0, err
            assert "verified register: snapshot 1" in out and "1 approved villages" in out
            built = LayerStore.open(store)
            entry = built.manifest["households"]["verification"]
            assert entry["id"] == 1 and entry["verified_villages"] == 1 and entry["year"] == round_.year
            assert (
                entry["audit_seq"] > 0
                and len(entry["audit_hash"]) == 64
                and "password" not in json.dumps(entry)
            )
            register = read_register(built, key)
            mine = register[(register["village_code"] == code) & (register["year"] == round_.year)]
            assert len(mine) == len(families)  # one deceased left, one proposed joined
            assert gone["nik"] not in set(mine["nik"]) and "Usulan Sintetis" in set(mine["head_name"])
            assert int(mine.loc[mine["nik"] == fixed["nik"], "members"].iloc[0]) == fixed["members"] + 3
            others = register[(register["village_code"] != code) & (register["year"] == round_.year)]
            assert len(others) == round_.families - len(families)
            earlier = register[register["year"] < round_.year]
            assert len(earlier) > 0  # other years still from the register file
            # the audit log holds the store to its snapshot
            status, out, err = sasaran("audit", "verify", "--store", str(store), "--database", url)
            assert status == 0, err
            _rewrite_from(url, entry["audit_seq"])
            status, out, _ = sasaran("audit", "verify", "--database", url)
            assert status == 0  # the chain was rewritten whole: it verifies on its own
            status, _, err = sasaran("audit", "verify", "--store", str(store), "--database", url)
            assert status == 3 and f"BROKEN at entry {entry['audit_seq']}" in err and "snapshot" in err


def _smallest_village(db: Database) -> str:
    with db.read() as conn:
        return str(
            conn.execute(
                text("SELECT village_code FROM families GROUP BY village_code ORDER BY count(*), 1 LIMIT 1")
            ).scalar_one()
        )


def _rewrite_from(url: str, seq: int) -> None:
    """Alter entry ``seq`` and recompute every hash after it and the head, as a careful forger would."""
    db = Database.open(url)
    try:
        with db.engine.begin() as conn:
            if db.is_sqlite:
                conn.execute(text("DROP TRIGGER audit_log_no_update"))
            else:
                conn.execute(text("ALTER TABLE audit_log DISABLE TRIGGER USER"))
            rows = conn.execute(
                text("SELECT * FROM audit_log WHERE seq >= :s ORDER BY seq"), {"s": seq}
            ).mappings()
            rows = [dict(r) for r in rows]
            prev = rows[0]["prev_hash"]
            rows[0]["reason"] = "a snapshot that never was"
            for row in rows:
                row["prev_hash"] = prev
                row["hash"] = prev = entry_hash(row["seq"], row, prev)
                conn.execute(
                    text(
                        "UPDATE audit_log SET reason = :reason, prev_hash = :prev_hash, hash = :hash "
                        "WHERE seq = :seq"
                    ),
                    row,
                )
            conn.execute(text("UPDATE audit_head SET hash = :h"), {"h": prev})
        assert audit.verify(db).ok
    finally:
        db.dispose()
