"""The workflow on the library's interface: seeding, reading within a region, statuses and
corrections against versions, proposals, the village's steps, progress; on SQLite and PostgreSQL."""

from __future__ import annotations

import pytest
from sqlalchemy import text

from layers.verification import accounts, audit, progress, workflow
from layers.verification.accounts import Caller
from layers.verification.audit import cli_actor
from layers.verification.crypto import FieldCipher
from layers.verification.db import Database
from layers.verification.errors import Conflict, Forbidden, InvalidInput, RecordNotFound
from layers.verification.rounds import Round, list_rounds, seed_round
from tests.verification.conftest import VILLAGES, make_register

A, B, C, D = VILLAGES["village_code"]
PASSWORD = "kopi-tubruk-2024"


def _caller(db: Database, name: str, role: str, region: str) -> Caller:
    account = accounts.create_account(db, name, role, region, PASSWORD, cli_actor())
    return Caller(account=account, credential_id=0, kind="token", address="10.0.0.1")


@pytest.fixture
def people(seeded: tuple[Database, FieldCipher, Round]) -> dict[str, Caller]:
    db = seeded[0]
    return {
        "desa": _caller(db, "desa-a", "desa", A),
        "desa_b": _caller(db, "desa-b", "desa", B),
        "kec": _caller(db, "kec-1", "kecamatan", A[:7]),
        "kab": _caller(db, "kab-1", "kabupaten", A[:4]),
        "kab2": _caller(db, "kab-2", "kabupaten", D[:4]),
        "prov": _caller(db, "prov", "provinsi", "62"),
    }


def _first(db: Database, cipher: FieldCipher, who: Caller, code: str = A) -> dict:
    return workflow.families_page(db, cipher, who, code, limit=1)["families"][0]


def test_seeding_copies_the_register_once_and_seals_what_names_people(seeded, people) -> None:
    db, cipher, round_ = seeded
    assert (round_.number, round_.families, round_.villages, round_.year) == (1, 24, 4, 2024)
    again = seed_round(db, cipher, make_register(9), VILLAGES, {}, cli_actor())
    assert again.id == round_.id and again.families == 24  # seeding happens once
    with db.read() as conn:
        dump = " ".join(str(v) for row in conn.execute(text("SELECT * FROM families")) for v in row)
        dump += " ".join(str(v) for row in conn.execute(text("SELECT * FROM audit_log")) for v in row)
    register = make_register()
    for column in ("head_name", "nik", "address", "family_id"):
        assert not any(str(v) in dump for v in register[column]), column
    page = workflow.families_page(db, cipher, people["desa"], A, limit=50)
    assert page["total"] == 6 and {f["head_name"] for f in page["families"]} <= set(register["head_name"])
    assert all(f["status"] == "belum" and f["version"] == 1 for f in page["families"])


def test_a_new_round_archives_the_old_one_and_keeps_it(seeded) -> None:
    db, cipher, round_ = seeded
    fresh = seed_round(db, cipher, make_register(2), VILLAGES, {}, cli_actor(), new_round=True)
    assert fresh.number == 2 and fresh.families == 8
    states = {r.number: r.state for r in list_rounds(db)}
    assert states == {1: "archived", 2: "active"}
    with db.read() as conn:
        assert conn.execute(text("SELECT count(*) FROM families")).scalar_one() == 32


def test_pages_searches_and_filters_are_audited_without_the_search_text(seeded, people) -> None:
    db, cipher, _ = seeded
    desa = people["desa"]
    first = workflow.families_page(db, cipher, desa, A, offset=0, limit=4)
    second = workflow.families_page(db, cipher, desa, A, offset=4, limit=4)
    assert first["total"] == second["total"] == 6
    assert len(first["families"]) == 4 and len(second["families"]) == 2
    assert not {f["id"] for f in first["families"]} & {f["id"] for f in second["families"]}
    target = second["families"][0]
    by_name = workflow.families_page(db, cipher, desa, A, q=target["head_name"].split()[-1].upper() + " ")
    assert [f["id"] for f in by_name["families"]] == [target["id"]]
    by_nik = workflow.families_page(db, cipher, desa, A, q=target["nik"][-6:])
    assert [f["id"] for f in by_nik["families"]] == [target["id"]]
    assert workflow.families_page(db, cipher, desa, A, q="no such person")["total"] == 0
    assert workflow.families_page(db, cipher, desa, A, status="valid")["total"] == 0
    with db.read() as conn:
        reads = audit.entries(conn, actions=["read.families"])
    assert len(reads) == 6 and all(e.actor == "desa-a" and e.region == A for e in reads)
    assert reads[-1].new == ",".join(str(f["id"]) for f in first["families"])
    assert all(target["head_name"] not in str(e.as_dict()) for e in reads)
    with pytest.raises(InvalidInput):
        workflow.families_page(db, cipher, desa, A, limit=workflow.MAX_PAGE + 1)


def test_outside_the_region_nothing_is_found_and_said_the_same(seeded, people) -> None:
    db, cipher, _ = seeded
    other = _first(db, cipher, people["desa_b"], B)
    messages = set()
    for ask in (
        lambda: workflow.families_page(db, cipher, people["desa"], B),
        lambda: workflow.get_village(db, people["desa"].account, B),
        lambda: workflow.get_village(db, people["kab"].account, D),
    ):
        with pytest.raises(RecordNotFound):
            ask()
    for family_id in (other["id"], 10**6):
        with pytest.raises(RecordNotFound) as err:
            workflow.get_family(db, cipher, people["desa"], family_id)
        messages.add(str(err.value).replace(str(family_id), "N"))
        with pytest.raises(RecordNotFound):
            workflow.change_family(db, cipher, people["desa"], family_id, status="valid", version=1)
    assert len(messages) == 1  # the same words whether the family exists elsewhere or nowhere
    assert workflow.get_family(db, cipher, people["prov"], other["id"])["id"] == other["id"]
    assert workflow.get_family(db, cipher, people["kec"], _first(db, cipher, people["desa"])["id"])


def test_a_status_change_is_made_against_a_version_and_never_overwrites(seeded, people) -> None:
    db, cipher, _ = seeded
    desa = people["desa"]
    family = _first(db, cipher, desa)
    done = workflow.change_family(db, cipher, desa, family["id"], status="valid", version=1)
    assert (done["status"], done["version"]) == ("valid", 2)
    with pytest.raises(Conflict) as stale:
        workflow.change_family(db, cipher, desa, family["id"], status="meninggal", reason="x", version=1)
    assert stale.value.current is not None and stale.value.current["status"] == "valid"
    assert stale.value.current["version"] == 2
    with pytest.raises(InvalidInput, match="needs a reason"):
        workflow.change_family(db, cipher, desa, family["id"], status="meninggal", version=2)
    with pytest.raises(InvalidInput, match="unknown status"):
        workflow.change_family(db, cipher, desa, family["id"], status="hilang", version=2)
    with pytest.raises(InvalidInput, match="register family cannot be"):
        workflow.change_family(db, cipher, desa, family["id"], status="usulan_baru", version=2)
    same = workflow.change_family(db, cipher, desa, family["id"], status="valid", version=2)
    assert same["version"] == 2  # nothing changed, no new version
    for who in ("kec", "kab", "prov"):
        with pytest.raises(Forbidden):
            workflow.change_family(
                db, cipher, people[who], family["id"], status="ganda", reason="x", version=2
            )


def test_corrections_are_merged_checked_sealed_and_shown_in_the_history(seeded, people) -> None:
    db, cipher, _ = seeded
    desa = people["desa"]
    family = _first(db, cipher, desa)
    with pytest.raises(InvalidInput, match="at least one corrected field"):
        workflow.change_family(db, cipher, desa, family["id"], status="diperbaiki", version=1)
    with pytest.raises(InvalidInput, match="cannot be corrected"):
        workflow.change_family(
            db, cipher, desa, family["id"], status="diperbaiki", version=1, changes={"decile": 1}
        )
    with pytest.raises(InvalidInput, match="come with status"):
        workflow.change_family(
            db, cipher, desa, family["id"], status="valid", version=1, changes={"members": 9}
        )
    fixed = workflow.change_family(
        db,
        cipher,
        desa,
        family["id"],
        status="diperbaiki",
        version=1,
        reason="cek lapangan",
        changes={"head_name": "Nama Baru Sintetis", "members": 7},
    )
    assert fixed["head_name"] == "Nama Baru Sintetis" and fixed["members"] == 7
    assert fixed["changes"] == ["head_name", "members"]
    assert fixed["register"] == {"head_name": family["head_name"], "members": family["members"]}
    # a value equal to the register's drops that correction
    again = workflow.change_family(
        db,
        cipher,
        desa,
        family["id"],
        status="diperbaiki",
        version=2,
        reason="cek lapangan",
        changes={"members": family["members"]},
    )
    assert again["changes"] == ["head_name"] and again["members"] == family["members"]
    history = workflow.family_history(db, cipher, desa, family["id"])["entries"]
    corrections = [(e["field"], e["old"], e["new"]) for e in history if e["action"] == "family.correct"]
    assert ("head_name", family["head_name"], "Nama Baru Sintetis") in corrections
    assert ("members", str(family["members"]), "7") in corrections
    with db.read() as conn:
        dump = " ".join(str(v) for row in conn.execute(text("SELECT * FROM audit_log")) for v in row)
    assert "Nama Baru Sintetis" not in dump and family["head_name"] not in dump


def test_a_village_goes_from_desa_to_kabupaten_and_is_then_read_only(seeded, people) -> None:
    db, cipher, _ = seeded
    desa, kec, kab = people["desa"], people["kec"], people["kab"]
    with pytest.raises(Conflict, match="6 families are not checked"):
        workflow.transition(db, desa, A, "submit")
    for family in workflow.families_page(db, cipher, desa, A, limit=50)["families"]:
        workflow.change_family(db, cipher, desa, family["id"], status="valid", version=family["version"])
    with pytest.raises(Forbidden):
        workflow.transition(db, kec, A, "submit")
    with pytest.raises(Conflict):
        workflow.transition(db, kec, A, "pass")  # not submitted yet
    assert workflow.transition(db, desa, A, "submit")["state"] == "diajukan"
    with pytest.raises(Conflict, match="read-only"):
        workflow.change_family(db, cipher, desa, _first(db, cipher, desa)["id"], status="valid", version=2)
    with pytest.raises(InvalidInput, match="needs a note"):
        workflow.transition(db, kec, A, "return")
    returned = workflow.transition(db, kec, A, "return", note="cek ulang RT 03")
    assert (returned["state"], returned["note"]) == ("dikembalikan", "cek ulang RT 03")
    assert workflow.get_village(db, desa.account, A)["note"] == "cek ulang RT 03"
    workflow.transition(db, desa, A, "submit")
    with pytest.raises(Forbidden):
        workflow.transition(db, kec, A, "approve")
    passed = workflow.transition(db, kec, A, "pass")
    with pytest.raises(Conflict, match="changed since"):
        workflow.transition(db, kab, A, "approve", version=passed["version"] - 1)
    with pytest.raises(RecordNotFound):
        workflow.transition(db, people["kab2"], A, "approve")
    approved = workflow.transition(db, kab, A, "approve", version=passed["version"])
    assert approved["state"] == "disetujui" and approved["checked"] == 6
    for step, who in (("return", kab), ("return", kec), ("submit", desa)):
        with pytest.raises(Conflict):
            workflow.transition(db, who, A, step, note="x")
    with pytest.raises(Conflict, match="read-only"):
        workflow.change_family(
            db, cipher, desa, _first(db, cipher, desa)["id"], status="ganda", reason="x", version=2
        )
    with db.read() as conn:
        steps = [
            e.action
            for e in reversed(
                audit.entries(
                    conn,
                    region_prefix=A,
                    actions=["village.submit", "village.pass", "village.return", "village.approve"],
                )
            )
        ]
    assert steps == ["village.submit", "village.return", "village.submit", "village.pass", "village.approve"]
    assert audit.verify(db).ok


def test_a_proposed_family_is_checked_and_counted(seeded, people) -> None:
    db, cipher, _ = seeded
    desa = people["desa"]
    fields = {
        "nik": "6201015505900007",
        "head_name": "Usulan Sintetis",
        "address": "RT 09",
        "decile": 2,
        "members": 4,
    }
    made = workflow.propose_family(db, cipher, desa, A, fields, reason="belum terdaftar")
    assert made["status"] == made["origin"] == "usulan_baru" and made["family_id"] == f"BARU-{A}-1"
    with pytest.raises(InvalidInput, match="NIK is already"):
        workflow.propose_family(db, cipher, desa, A, fields | {"family_id": "X-2"})
    with pytest.raises(InvalidInput, match="not a register field"):
        workflow.propose_family(db, cipher, desa, A, fields | {"salary": 1})
    with pytest.raises(Forbidden):
        workflow.propose_family(db, cipher, people["kec"], A, fields | {"nik": "6201015505900008"})
    village = workflow.get_village(db, desa.account, A)
    assert village["counts"] == {"belum": 6, "usulan_baru": 1} and village["families"] == 7
    withdrawn = workflow.change_family(
        db, cipher, desa, made["id"], status="ganda", reason="sudah ada", version=1
    )
    assert withdrawn["status"] == "ganda"
    with pytest.raises(InvalidInput, match="proposed family"):
        workflow.change_family(db, cipher, desa, made["id"], status="valid", version=2)


def test_progress_sums_villages_kecamatan_and_kabupaten_within_the_region(seeded, people) -> None:
    db, cipher, _ = seeded
    desa = people["desa"]
    for family in workflow.families_page(db, cipher, desa, A, limit=3)["families"]:
        workflow.change_family(db, cipher, desa, family["id"], status="valid", version=1)
    kab = progress.progress(db, people["kab"].account)
    assert kab["total"]["villages"] == 3 and kab["total"]["families"] == 18 and kab["total"]["checked"] == 3
    assert [k["code"] for k in kab["kabupaten"]] == [A[:4]]
    assert {k["code"]: k["checked"] for k in kab["kecamatan"]} == {A[:7]: 3, C[:7]: 0}
    first = kab["villages"][0]
    assert first["state"] == "terbuka" and first["share"] == 0.0  # least checked first
    assert {v["code"]: v["share"] for v in kab["villages"]}[A] == 0.5
    province = progress.progress(db, people["prov"].account)
    assert province["total"]["families"] == 24 and len(province["kabupaten"]) == 2
    assert province["total"]["share"] == round(3 / 24, 4)
    assert "head_name" not in str(province)


def test_a_store_with_another_register_file_is_noticed_not_applied(seeded) -> None:
    from types import SimpleNamespace

    from layers.verification.seeding import register_changed

    db, _, round_ = seeded
    same = SimpleNamespace(manifest={"sources": [{"name": "households", "sha256": None}]})
    assert not register_changed(round_, same)  # a round without a recorded file: nothing to compare
    with db.write() as conn:
        conn.execute(text("UPDATE rounds SET source = :s"), {"s": '{"register_sha256": "aaa"}'})
    with db.read() as conn:
        from layers.verification.rounds import active_round

        recorded = active_round(conn)
    assert recorded is not None
    assert not register_changed(
        recorded, SimpleNamespace(manifest={"sources": [{"name": "households", "sha256": "aaa"}]})
    )
    assert register_changed(
        recorded, SimpleNamespace(manifest={"sources": [{"name": "households", "sha256": "bbb"}]})
    )
