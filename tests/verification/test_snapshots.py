"""Snapshots of the verified register and their comparison, on SQLite and PostgreSQL."""

from __future__ import annotations

import pandas as pd
import pytest

from layers.verification import audit, snapshots, workflow
from layers.verification.accounts import Caller, create_account
from layers.verification.audit import cli_actor
from layers.verification.crypto import FieldCipher
from layers.verification.db import Database
from layers.verification.errors import RecordNotFound
from layers.verification.rounds import seed_round
from tests.verification.conftest import VILLAGES, Key, make_register

A, B = VILLAGES["village_code"][:2]
PASSWORD = "kopi-tubruk-2024"


def _who(db: Database, name: str, role: str, region: str) -> Caller:
    return Caller(create_account(db, name, role, region, PASSWORD, cli_actor()), 0, "token")


def _approve(
    db: Database, cipher: FieldCipher, code: str, statuses: list[tuple[str, str | None, dict | None]]
) -> None:
    desa = _who(db, f"d{code}", "desa", code)
    page = workflow.families_page(db, cipher, desa, code, limit=50)["families"]
    for family, (status, reason, changes) in zip(page, statuses, strict=False):
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
    workflow.transition(db, desa, code, "submit")
    workflow.transition(db, _who(db, f"k{code}", "kecamatan", code[:7]), code, "pass")
    workflow.transition(db, _who(db, f"b{code}", "kabupaten", code[:4]), code, "approve")


def test_a_snapshot_keeps_approved_families_as_verified_and_the_rest_as_registered(seeded) -> None:
    db, cipher, round_ = seeded
    statuses = [
        ("valid", None, None),
        ("diperbaiki", "cek", {"members": 9, "head_name": "Nama Koreksi"}),
        ("meninggal", "2024", None),
        ("tidak_layak", "PNS", None),
        ("valid", None, None),
        ("ganda", "sama dengan KK lain", None),
    ]
    _approve(db, cipher, A, statuses)
    snap = snapshots.take_snapshot(db, cipher, cli_actor(), note="build 2025")
    assert snap.verified_villages == [A] and snap.families == 24 - 3  # 3 of A's 6 leave the register
    entry = audit.entries(db.engine.connect(), record=f"snapshot:{snap.id}")[0]
    assert (entry.seq, entry.hash) == (snap.audit_seq, snap.audit_hash)
    register = snapshots.snapshot_register(db, cipher, snap.id)
    assert len(register) == 21 and register["village_code"].value_counts()[A] == 3
    fixed = register[register["head_name"] == "Nama Koreksi"]
    assert len(fixed) == 1 and int(fixed["members"].iloc[0]) == 9
    assert {"family_id", "nik", "head_name", "address", "decile", "members", "floor", "lon"} <= set(
        register.columns
    )
    original = make_register()
    assert set(register["nik"]) <= set(original["nik"])
    manifest = snap.manifest_entry()
    assert manifest["verified_villages"] == 1 and manifest["audit_seq"] == snap.audit_seq
    assert "head_name" not in str(manifest)
    with pytest.raises(RecordNotFound):
        snapshots.snapshot_register(db, cipher, 999)


def test_unapproved_work_and_proposals_wait_for_approval(seeded) -> None:
    db, cipher, _ = seeded
    desa = _who(db, "desa-b", "desa", B)
    first = workflow.families_page(db, cipher, desa, B, limit=1)["families"][0]
    workflow.change_family(db, cipher, desa, first["id"], status="meninggal", reason="x", version=1)
    workflow.propose_family(
        db,
        cipher,
        desa,
        B,
        {"nik": "6201015505900007", "head_name": "Baru", "address": "RT 1", "decile": 1, "members": 2},
    )
    snap = snapshots.take_snapshot(db, cipher, cli_actor())
    assert snap.families == 24 and snap.verified_villages == []


def test_comparing_two_snapshots_counts_added_removed_moved_and_decile_changes(db: Database) -> None:
    cipher = FieldCipher(Key())
    first = make_register(year=2024)
    seed_round(db, cipher, first, VILLAGES, {}, cli_actor())
    old = snapshots.take_snapshot(db, cipher, cli_actor())
    second = first.copy()
    second["year"] = 2025
    second = second.drop(index=[0, 1])  # two families of A gone
    second.loc[2, "decile"] = second.loc[2, "decile"] + 2  # better off
    second.loc[3, "decile"] = 1 if second.loc[3, "decile"] > 1 else second.loc[3, "decile"]
    second.loc[6, "village_code"] = A  # a family of B moved to A
    new_family = first.iloc[[0]].assign(
        family_id="P3KE-NEW", nik="6201010101909999", village_code=B, year=2025
    )
    second = pd.concat([second, new_family], ignore_index=True)
    seed_round(db, cipher, second, VILLAGES, {}, cli_actor(), new_round=True)
    new = snapshots.take_snapshot(db, cipher, cli_actor())
    table = snapshots.compare(db, old.id, new.id).set_index("village_code")
    assert table.loc[A, "removed"] == 2 and table.loc[A, "moved_in"] == 1 and table.loc[B, "moved_out"] == 1
    assert table.loc[B, "added"] == 1 and table.loc[A, "decile_up"] == 1
    assert table["families_before"].sum() == 24 and table["families_after"].sum() == 23


def test_snapshots_from_the_command_line(database_url: str, tmp_path) -> None:
    from tests.verification.test_cli import sasaran

    db = Database.open(database_url)
    try:
        cipher = FieldCipher(Key())
        seed_round(db, cipher, make_register(), VILLAGES, {}, cli_actor())
        first = snapshots.take_snapshot(db, cipher, cli_actor())
        second = snapshots.take_snapshot(db, cipher, cli_actor())
    finally:
        db.dispose()
    listed = sasaran("snapshots", "list", "--database", database_url)
    assert listed.returncode == 0 and f"snapshot {second.id} (round 1, 2024)" in listed.stdout
    table = sasaran("snapshots", "compare", str(first.id), str(second.id), "--database", database_url)
    assert table.returncode == 0 and "total: families_before 24, families_after 24, added 0" in table.stdout
    out = tmp_path / "compare.csv"
    written = sasaran(
        "snapshots", "compare", str(first.id), str(second.id), "--database", database_url, "--out", str(out)
    )
    assert written.returncode == 0 and out.read_text().startswith("village_code,families_before")
    missing = sasaran("snapshots", "compare", "1", "99", "--database", database_url)
    assert missing.returncode == 2 and "no snapshot 99" in missing.stderr
