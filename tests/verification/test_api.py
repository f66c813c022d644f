"""The verification API over HTTP as pages and scripts use it: signing in (cookies, CSRF, session
fixation, brute force), tokens that outlive nothing, families and their versions, the village's
steps, the offline sheet and the final list; on SQLite and PostgreSQL."""

from __future__ import annotations

import io
import subprocess
from pathlib import Path

import pandas as pd
import pytest
from openpyxl import load_workbook

from layers.verification import accounts, audit
from layers.verification.audit import cli_actor
from tests.verification.conftest import Service

XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


def _sign_in(service: Service, client: object, name: str, password: str | None = None) -> object:
    return client.post(  # type: ignore[attr-defined]
        "/verification/signin", json={"name": name, "password": password or service.password}
    )


# ------------------------------------------------------------------ sessions


def test_sign_in_sets_a_strict_http_only_secure_cookie_and_gives_the_csrf_token(service: Service) -> None:
    browser = service.fresh_client()
    answer = _sign_in(service, browser, "kabupaten")
    assert answer.status_code == 200 and answer.headers["cache-control"] == "no-store"
    cookie = answer.headers["set-cookie"]
    for attribute in ("HttpOnly", "Secure", "SameSite=strict", "Path=/verification", "Max-Age=43200"):
        assert attribute in cookie, cookie
    body = answer.json()
    assert (
        body["account"]["name"] == "kabupaten"
        and len(body["csrf"]) == 64
        and service.password not in str(body)
    )
    me = browser.get("/verification/me")
    assert me.status_code == 200 and me.json()["csrf"] == body["csrf"] and me.json()["verification"]["names"]
    assert me.json()["verification"]["register_changed"] is False and me.json()["round"]["number"] == 1
    assert browser.get("/healthz").request.headers.get("cookie") is None  # only /verification gets it


def test_csrf_is_required_on_every_change_made_with_the_cookie(service: Service) -> None:
    browser = service.fresh_client()
    csrf = _sign_in(service, browser, "desa").json()["csrf"]
    family = service.family_in(service.codes["village"])
    url = f"/verification/families/{family['id']}"
    body = {"status": "tidak_ditemukan", "reason": "rumah kosong", "version": family["version"]}
    for headers in ({}, {"X-CSRF-Token": "0" * 64}, {"X-CSRF-Token": csrf, "Origin": "https://evil.example"}):
        refused = browser.patch(url, json=body, headers=headers)
        assert refused.status_code == 403, headers
    assert service.family_in(service.codes["village"])["version"] == family["version"]
    done = browser.patch(url, json=body, headers={"X-CSRF-Token": csrf, "Origin": "https://testserver"})
    assert done.status_code == 200 and done.json()["status"] == "tidak_ditemukan"
    # every state-changing form: sign-out, steps, proposals, sheets, accounts
    for method, path in (
        ("POST", "/verification/signout"),
        ("POST", f"/verification/villages/{service.codes['village']}/submit"),
        ("POST", f"/verification/villages/{service.codes['village']}/families"),
        ("POST", f"/verification/villages/{service.codes['village']}/sheet"),
    ):
        assert browser.request(method, path, json={}).status_code == 403, path
    assert browser.get("/verification/me").status_code == 200  # still signed in: the sign-out was refused


def test_signing_in_never_keeps_a_session_id_someone_else_chose(service: Service) -> None:
    browser = service.fresh_client()
    browser.cookies.set(
        "sasaran_session", "chosen-by-an-attacker", domain="testserver.local", path="/verification"
    )
    first = _sign_in(service, browser, "kecamatan")
    planted = first.cookies.get("sasaran_session")
    assert planted and planted != "chosen-by-an-attacker"
    # an attacker's own valid session planted in the victim's browser is revoked by the sign-in
    attacker = service.fresh_client()
    _sign_in(service, attacker, "kecamatan")
    attacker_secret = attacker.cookies.get("sasaran_session")
    victim = service.fresh_client()
    victim.cookies.set("sasaran_session", attacker_secret)
    victim_answer = _sign_in(service, victim, "kabupaten")
    assert victim_answer.cookies.get("sasaran_session") not in (None, attacker_secret)
    assert attacker.get("/verification/me").status_code == 401
    assert victim.get("/verification/me").json()["account"]["name"] == "kabupaten"


def test_sign_out_ends_the_session(service: Service) -> None:
    browser = service.fresh_client()
    csrf = _sign_in(service, browser, "provinsi").json()["csrf"]
    secret = browser.cookies.get("sasaran_session")
    assert browser.post("/verification/signout", headers={"X-CSRF-Token": csrf}).status_code == 204
    replay = service.fresh_client()
    replay.cookies.set("sasaran_session", secret)
    assert replay.get("/verification/me").status_code == 401


def test_sign_in_takes_json_from_this_origin_only(service: Service) -> None:
    browser = service.fresh_client()
    form = browser.post("/verification/signin", data={"name": "desa", "password": service.password})
    # A cross-site HTML form can only send a form: refused as a body that is not JSON (service.bodies).
    assert form.status_code == 415 and "sasaran_session" not in form.headers.get("set-cookie", "")
    foreign = browser.post(
        "/verification/signin",
        json={"name": "desa", "password": service.password},
        headers={"Origin": "https://evil.example"},
    )
    assert foreign.status_code == 403 and "sasaran_session" not in foreign.headers.get("set-cookie", "")


def test_brute_force_is_stopped_for_the_account_and_the_address(service: Service) -> None:
    accounts.create_account(
        service.db, "target", "desa", service.codes["village"], service.password, cli_actor()
    )
    browser = service.fresh_client()
    for _ in range(accounts.MAX_FAILURES_PER_ACCOUNT):
        wrong = _sign_in(service, browser, "target", "not-the-password")
        assert wrong.status_code == 401 and wrong.json()["detail"].startswith("wrong name or password")
    locked = _sign_in(service, browser, "target")
    assert (
        locked.status_code == 429 and 0 < int(locked.headers["retry-after"]) <= accounts.FAILURE_WINDOW_S + 1
    )
    # an unknown name answers like a wrong password: nothing tells which names exist
    unknown = _sign_in(service, browser, "nobody-here", "whatever-password")
    assert unknown.status_code == 401 and unknown.json()["detail"] == wrong.json()["detail"]
    with service.db.read() as conn:
        failures = [
            e for e in audit.entries(conn, actions=["signin.failed"], limit=50) if e.actor == "target"
        ]
    assert len(failures) >= accounts.MAX_FAILURES_PER_ACCOUNT


def test_a_token_does_not_outlive_its_account(service: Service) -> None:
    accounts.create_account(
        service.db, "leaving", "desa", service.codes["village"], service.password, cli_actor()
    )
    token = accounts.issue_token(service.db, "leaving", cli_actor())
    headers = {"Authorization": f"Bearer {token}"}
    assert service.client.get("/verification/me", headers=headers).status_code == 200
    browser = service.fresh_client()
    _sign_in(service, browser, "leaving")
    off = service.client.post("/verification/accounts/leaving/disable", headers=service.auth("kabupaten"))
    assert off.status_code == 200 and off.json()["disabled"] is True
    assert service.client.get("/verification/me", headers=headers).status_code == 401
    assert browser.get("/verification/me").status_code == 401
    back = service.client.post("/verification/accounts/leaving/enable", headers=service.auth("kabupaten"))
    assert back.status_code == 200
    assert service.client.get("/verification/me", headers=headers).status_code == 401  # revoked for good


def test_a_kabupaten_makes_accounts_with_a_password_shown_once(service: Service) -> None:
    made = service.client.post(
        "/verification/accounts",
        headers=service.auth("kabupaten"),
        json={"name": "operator-baru", "role": "desa", "region": service.codes["village"]},
    )
    assert made.status_code == 201
    password = made.json()["password"]
    assert _sign_in(service, service.fresh_client(), "operator-baru", password).status_code == 200
    listing = service.client.get("/verification/accounts", headers=service.auth("kabupaten")).json()
    assert "operator-baru" in {a["name"] for a in listing} and password not in str(listing)
    other = service.client.post(
        "/verification/accounts",
        headers=service.auth("kabupaten_other"),
        json={"name": "operator-lain", "role": "desa", "region": service.codes["village"]},
    )
    assert other.status_code == 403


# ------------------------------------------------------------------ families and villages


def test_a_stale_version_is_409_with_the_family_as_it_is(service: Service) -> None:
    family = service.family_in(service.codes["village_same_kecamatan"])
    desa = accounts.create_account(
        service.db, "desa-dua", "desa", service.codes["village_same_kecamatan"], service.password, cli_actor()
    )
    token = {"Authorization": f"Bearer {accounts.issue_token(service.db, desa.name, cli_actor())}"}
    url = f"/verification/families/{family['id']}"
    first = service.client.patch(url, headers=token, json={"status": "valid", "version": family["version"]})
    assert first.status_code == 200 and first.json()["version"] == family["version"] + 1
    second = service.client.patch(
        url, headers=token, json={"status": "meninggal", "reason": "x", "version": family["version"]}
    )
    assert second.status_code == 409
    body = second.json()
    assert body["current"]["status"] == "valid" and body["current"]["version"] == family["version"] + 1
    assert service.family_in(service.codes["village_same_kecamatan"])["status"] == "valid"
    unknown = service.client.patch(url, headers=token, json={"status": "valid", "version": 1, "staus": "x"})
    assert unknown.status_code == 400
    history = service.client.get(f"{url}/history", headers=token).json()["entries"]
    assert (
        history[0]["field"] == "status" and history[0]["new"] == "valid" and history[0]["actor"] == "desa-dua"
    )


def test_families_are_paged_and_searched(service: Service) -> None:
    code = service.codes["village_other_kabupaten"]
    token = service.auth("desa_other")
    page = service.client.get(
        f"/verification/villages/{code}/families?limit=5&offset=5", headers=token
    ).json()
    assert len(page["families"]) == 5 and page["total"] > 10 and page["offset"] == 5
    assert all({"id", "status", "version"} <= set(f) for f in page["families"])
    target = page["families"][2]
    surname = target["head_name"].split()[-1]
    found = service.client.get(
        f"/verification/villages/{code}/families", params={"q": surname.lower()}, headers=token
    ).json()
    assert target["id"] in {f["id"] for f in found["families"]}
    by_nik = service.client.get(
        f"/verification/villages/{code}/families", params={"q": target["nik"]}, headers=token
    ).json()
    assert [f["id"] for f in by_nik["families"]] == [target["id"]]
    todo = service.client.get(f"/verification/villages/{code}/families?status=belum&limit=1", headers=token)
    assert todo.json()["total"] <= page["total"]
    assert (
        service.client.get(f"/verification/villages/{code}/families?limit=201", headers=token).status_code
        == 400
    )


def test_the_progress_of_the_region_names_no_one(service: Service) -> None:
    progress = service.client.get("/verification/progress", headers=service.auth("kabupaten")).json()
    assert progress["total"]["villages"] == len(progress["villages"]) > 10
    assert {k["code"] for k in progress["kabupaten"]} == {service.codes["kabupaten"]}
    names = {f["head_name"] for f in [service.family_in(service.codes["village"])]}
    assert not any(name in str(progress) for name in names)


# ------------------------------------------------------------------ offline sheets and the final list


def _fill(
    content: bytes, edits: dict[int, dict[str, object]], proposals: list[dict[str, object]] = ()
) -> bytes:
    """Edit a downloaded sheet as a person would in a spreadsheet program: rows by their ``id``."""
    book = load_workbook(io.BytesIO(content))
    sheet = book["Keluarga"]
    header = [c.value for c in sheet[1]]
    for row in sheet.iter_rows(min_row=2):
        values = edits.get(row[0].value)
        for column, value in (values or {}).items():
            row[header.index(column)].value = value
    extra = book["Usulan baru"]
    head = [c.value for c in extra[1]]
    for i, proposal in enumerate(proposals, start=2):
        for column, value in proposal.items():
            extra.cell(i, head.index(column) + 1).value = value
    sink = io.BytesIO()
    book.save(sink)
    return sink.getvalue()


def test_a_sheet_goes_out_and_comes_back(service: Service, tmp_path: Path) -> None:
    code = service.codes["village"]
    desa = service.auth("desa")
    download = service.client.get(f"/verification/villages/{code}/sheet", headers=desa)
    assert download.status_code == 200 and download.headers["content-type"] == XLSX
    assert (
        download.headers["cache-control"] == "no-store"
        and "attachment" in download.headers["content-disposition"]
    )
    book = load_workbook(io.BytesIO(download.content))
    assert (
        book.sheetnames[:1] == ["Petunjuk"]
        and "Keluarga" in book.sheetnames
        and "Usulan baru" in book.sheetnames
    )
    families = book["Keluarga"]
    assert (
        families.protection.sheet
        and families["A2"].protection.locked
        and not families["L2"].protection.locked
    )
    assert families.data_validations.dataValidation, "no status drop-down"
    rows = list(families.iter_rows(min_row=2, values_only=True))
    page = service.client.get(f"/verification/villages/{code}/families?limit=200", headers=desa).json()
    assert len(rows) == page["total"]
    ids = [r[0] for r in rows]
    # errors everywhere: nothing is written, each named by row and column in Bahasa Indonesia
    bad_rows = {
        ids[0]: {"Status": "hilang"},
        ids[1]: {"Status": "meninggal", "Alasan": None},
        ids[2]: {"Status": "diperbaiki", "Perbaikan: NIK": "123"},
        ids[3]: {"versi": "x"},
    }
    bad = _fill(download.content, bad_rows)
    refused = service.client.post(
        f"/verification/villages/{code}/sheet", content=bad, headers=desa | {"Content-Type": XLSX}
    )
    assert refused.status_code == 422, refused.text
    errors = {(e["row"], e["column"]): e["message"] for e in refused.json()["errors"]}
    assert "bukan status yang dikenal" in errors[(2, "Status")]
    assert "wajib diberi alasan" in errors[(3, "Alasan")]
    assert "bukan 16 angka" in errors[(4, "Perbaikan: NIK")]
    assert (5, "versi") in errors
    after_refusal = service.client.get(
        f"/verification/villages/{code}/families?limit=200", headers=desa
    ).json()
    assert [f["version"] for f in after_refusal["families"]] == [f["version"] for f in page["families"]]
    # someone changes a family meanwhile: its row becomes a conflict, the rest is written
    changed = after_refusal["families"][4]
    moved = {"status": "pindah", "reason": "ke kota", "version": changed["version"]}
    service.client.patch(f"/verification/families/{changed['id']}", headers=desa, json=moved)
    good_rows = {
        ids[0]: {"Status": "valid"},
        ids[1]: {"Status": "meninggal", "Alasan": "2024"},
        ids[2]: {"Status": "diperbaiki", "Perbaikan: anggota": 7},
        changed["id"]: {"Status": "valid"},
    }
    good = _fill(
        download.content,
        good_rows,
        [
            {
                "NIK kepala keluarga": "6201014108850777",
                "Nama kepala keluarga": "Usulan Lembar",
                "Alamat": "RT 2",
                "Desil (1-10)": 2,
                "Anggota": 4,
            }
        ],
    )
    applied = service.client.post(
        f"/verification/villages/{code}/sheet", content=good, headers=desa | {"Content-Type": XLSX}
    )
    assert applied.status_code == 200, applied.text
    result = applied.json()
    assert result["applied"] == 3 and result["proposed"] == 1
    assert [c["id"] for c in result["conflicts"]] == [changed["id"]] and result["conflicts"][0][
        "status"
    ] == "pindah"
    assert result["unchanged"] == len(rows) - 4
    again = service.client.post(
        f"/verification/villages/{code}/sheet", content=good, headers=desa | {"Content-Type": XLSX}
    )
    assert (
        again.json()["applied"] == 0 and again.json()["proposed"] == 0
    )  # uploading twice changes nothing more
    fixed = service.client.get(f"/verification/families/{ids[2]}", headers=desa).json()
    assert fixed["status"] == "diperbaiki" and fixed["members"] == 7
    assert (
        service.client.get(f"/verification/families/{changed['id']}", headers=desa).json()["status"]
        == "pindah"
    )


def test_the_final_list_for_the_decree(service: Service, tmp_path: Path) -> None:
    code = service.codes["village_same_kecamatan"]
    desa = accounts.create_account(service.db, "desa-final", "desa", code, service.password, cli_actor())
    token = {"Authorization": f"Bearer {accounts.issue_token(service.db, desa.name, cli_actor())}"}
    # the whole village checked offline in one sheet: two leave the register, the rest are found
    sheet = service.client.get(f"/verification/villages/{code}/sheet", headers=token).content
    ids = [r[0] for r in load_workbook(io.BytesIO(sheet))["Keluarga"].iter_rows(min_row=2, values_only=True)]
    statuses = {i: {"Status": "valid"} for i in ids}
    statuses[ids[0]] = {"Status": "tidak_layak", "Alasan": "PNS"}
    statuses[ids[1]] = {"Status": "meninggal", "Alasan": "2024"}
    upload = service.client.post(
        f"/verification/villages/{code}/sheet",
        content=_fill(sheet, statuses),
        headers=token | {"Content-Type": XLSX},
    )
    assert upload.status_code == 200, upload.text
    page = service.client.get(f"/verification/villages/{code}/families?limit=200", headers=token).json()
    assert page["village"]["counts"].get("belum", 0) == 0
    assert service.client.post(f"/verification/villages/{code}/submit", headers=token).status_code == 200
    assert (
        service.client.post(
            f"/verification/villages/{code}/pass", headers=service.auth("kecamatan")
        ).status_code
        == 200
    )
    approved = service.client.post(
        f"/verification/villages/{code}/approve", headers=service.auth("kabupaten")
    )
    assert approved.status_code == 200 and approved.json()["state"] == "disetujui"
    kabupaten = service.codes["kabupaten"]
    xlsx = service.client.get(
        f"/verification/kabupaten/{kabupaten}/final-list?f=xlsx", headers=service.auth("kabupaten")
    )
    assert xlsx.status_code == 200 and xlsx.headers["content-type"] == XLSX
    sheets = pd.read_excel(io.BytesIO(xlsx.content), sheet_name=None, header=None)
    listing = pd.read_excel(io.BytesIO(xlsx.content), sheet_name="Daftar keluarga", dtype=str)
    assert len(listing) == len(ids) - 2 and set(listing["Status"]) <= {"Ditemukan, data benar", "Diperbaiki"}
    assert listing["NIK kepala keluarga"].str.fullmatch(r"\d{16}").all()
    summary = sheets["Ringkasan"].astype(str).to_string()
    assert "BUPATI" in summary and "BELUM LENGKAP" in summary and "DATA SINTETIS" in summary
    pdf = service.client.get(
        f"/verification/kabupaten/{kabupaten}/final-list?f=pdf", headers=service.auth("provinsi")
    )
    assert pdf.status_code == 200 and pdf.content[:5] == b"%PDF-"
    path = tmp_path / "final.pdf"
    path.write_bytes(pdf.content)
    words = subprocess.run(
        ["pdftotext", "-layout", str(path), "-"], capture_output=True, text=True, check=False
    )
    if words.returncode == 0:
        assert "Daftar akhir keluarga" in words.stdout and "BUPATI" in words.stdout
        assert page["families"][2]["head_name"] in words.stdout
    refused = service.client.get(
        f"/verification/kabupaten/{kabupaten}/final-list", headers=service.auth("kecamatan")
    )
    assert refused.status_code == 403
    with service.db.read() as conn:
        reads = audit.entries(conn, actions=["read.final_list"])
    assert {e.actor for e in reads} >= {"kabupaten", "provinsi"}


@pytest.mark.parametrize("path", ["/verification", "/verification/dashboard"])
def test_the_pages_are_public_and_hold_no_data(service: Service, path: str) -> None:
    page = service.client.get(path)
    assert page.status_code == 200 and page.headers["content-type"].startswith("text/html")
    assert "Content-Security-Policy" in page.headers


def test_a_selection_becomes_a_list_of_families_for_authorised_users_only(service: Service) -> None:
    villages = [service.codes["village"], service.codes["village_same_kecamatan"]]
    answer = service.client.post(
        "/verification/family-lists?f=xlsx", headers=service.auth("kabupaten"), json={"villages": villages}
    )
    assert answer.status_code == 200, answer.text
    assert answer.headers["cache-control"] == "no-store" and answer.headers["content-type"] == XLSX
    listing = pd.read_excel(io.BytesIO(answer.content), sheet_name="keluarga", header=1, dtype=str)
    assert set(listing["Kode desa"]) == set(villages) and len(listing) > 100
    assert service.family_in(service.codes["village"])["head_name"] in set(listing["Nama kepala keluarga"])
    with service.db.read() as conn:
        (entry,) = audit.entries(conn, actions=["download.family_list"], limit=1)
    assert (
        entry.actor == "kabupaten"
        and entry.region == service.codes["kecamatan"]
        and "families" in entry.reason
    )
    csv = service.client.post(
        "/verification/family-lists?f=csv&lang=en",
        headers=service.auth("desa"),
        json={"villages": villages[:1]},
    )
    assert csv.status_code == 200 and csv.headers["content-type"].startswith("text/csv")
    outside = service.client.post(
        "/verification/family-lists", headers=service.auth("desa"), json={"villages": villages}
    )
    assert outside.status_code == 404
    anonymous = service.client.post("/verification/family-lists", json={"villages": villages})
    assert anonymous.status_code == 401
