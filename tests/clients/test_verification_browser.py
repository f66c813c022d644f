"""The verification pages in a real Chromium against the real service (uvicorn): a desa operator on
a 390 px phone over a slow connection, a kabupaten officer on the progress page.

Skips, saying why, where node, Chromium or playwright-core is missing. Set
``SASARAN_E2E_SCREENSHOTS=DIR`` to keep the screenshots for a person to look at.
"""

from __future__ import annotations

import os
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from PIL import Image

from layers.verification import accounts
from layers.verification.audit import cli_actor
from layers.verification.db import Database
from tests.clients.test_planner_browser import _skip_reason, run_browser_script
from tests.conftest import running_service

HERE = Path(__file__).resolve().parent
SCRIPT = HERE / "verification_e2e.mjs"
PASSWORD = "kopi-tubruk-2024"
BROWSER_SECONDS = 200


@pytest.fixture(scope="module")
def served(
    store_dir: Path, demo_sources: Path, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[tuple[str, Database]]:
    """The real service with a verification database of its own and the register key."""
    reason = _skip_reason()
    if reason:
        pytest.skip(reason)
    work = tmp_path_factory.mktemp("verification-browser")
    url = f"sqlite:///{work / 'verification.db'}"
    db = Database.open(url)
    env = {
        "SASARAN_DATABASE_URL": url,
        "SASARAN_REGISTER_KEY_FILE": str(demo_sources.parent / "register.key"),
    }
    with running_service(store_dir, work / "uvicorn.log", env=env) as (base, _):
        yield base, db
    db.dispose()


def _seeded(base: str, db: Database) -> tuple[str, str]:
    """Wait for the service to seed the register; make a desa and a kabupaten account."""
    token = None
    deadline = time.monotonic() + 300
    while time.monotonic() < deadline:
        with db.read() as conn:
            code = conn.exec_driver_sql("SELECT code FROM villages ORDER BY code LIMIT 1").scalar()
        if code:
            break
        time.sleep(0.5)
    assert code, "the service did not seed the register"
    accounts.create_account(db, "operator-desa", "desa", code, PASSWORD, cli_actor())
    accounts.create_account(db, "petugas-kab", "kabupaten", code[:4], PASSWORD, cli_actor())
    token = accounts.issue_token(db, "operator-desa", cli_actor())
    answer = httpx.get(f"{base}/verification/villages/{code}", headers={"Authorization": f"Bearer {token}"})
    assert answer.status_code == 200, answer.text
    return "operator-desa", "petugas-kab"


@pytest.fixture(scope="module")
def e2e(served: tuple[str, Database], tmp_path_factory: pytest.TempPathFactory) -> dict:
    base, db = served
    desa, kabupaten = _seeded(base, db)
    keep = os.environ.get("SASARAN_E2E_SCREENSHOTS")
    out = Path(keep) if keep else tmp_path_factory.mktemp("verification-e2e")
    out.mkdir(parents=True, exist_ok=True)
    report = run_browser_script(SCRIPT, [base, str(out), desa, kabupaten, PASSWORD], BROWSER_SECONDS)
    assert report["ok"], f"browser run failed: {report.get('error')}"
    return report


def test_nothing_leaves_the_service_and_nothing_breaks(e2e: dict) -> None:
    assert e2e["externalRequests"] == [] and e2e["failedRequests"] == []
    # the one refusal the run asks for: the wrong password (Chromium logs it as a console error)
    assert e2e["errorResponses"] == ["401 /verification/signin"]
    assert len(e2e["consoleErrors"]) == 1 and "401" in e2e["consoleErrors"][0] and e2e["pageErrors"] == []
    assert e2e["cspPhone"] == [] and e2e["dashboard"]["csp"] == []


def test_a_desa_operator_signs_in_on_a_phone_over_a_slow_connection(e2e: dict) -> None:
    assert e2e["signinLang"] == "id" and e2e["signinHeading"] == "Masuk"
    assert e2e["wrongPassword"] == "Nama atau kata sandi salah."
    assert e2e["cards"] == 25 and e2e["pageOf"].startswith("Halaman 1 dari ")
    assert e2e["syntheticBanner"]
    # small enough for 3G: the page, its scripts and the first 25 families
    assert e2e["bytesToFirstList"] < 120_000, e2e["bytesToFirstList"]
    assert e2e["horizontalOverflow"] <= 0
    assert min(e2e["tapHeights"]) >= 44


def test_one_tap_sets_a_status_and_other_statuses_need_a_reason(e2e: dict) -> None:
    assert e2e["flashAfterTap"].startswith("Tersimpan") and e2e["firstDone"]
    assert e2e["countBefore"] != e2e["countAfter"] and e2e["countAfter"].startswith("1 dari")
    assert e2e["reasonNeeded"] == "Alasan wajib diisi untuk status ini."
    assert e2e["secondBadge"] == "Meninggal"


def test_search_paging_filter_and_english(e2e: dict) -> None:
    assert e2e["searchCards"] >= 1
    assert e2e["pageTwo"].startswith("Halaman 2")
    assert e2e["todoBadges"] == ["Belum diperiksa"]
    assert e2e["langEn"] == "en" and e2e["titleEn"] == "Family verification and validation"
    assert e2e["validEn"] == "✓ Correct" and e2e["titleId"] == "Verifikasi dan validasi keluarga"


def test_the_progress_page_maps_and_tabulates_the_region(e2e: dict) -> None:
    dash = e2e["dashboard"]
    assert e2e["kabVillages"] > 5
    assert (
        dash["kabupatenRows"] == 1
        and dash["kecamatanRows"] >= 2
        and dash["waitingRows"] == e2e["kabVillages"]
    )
    assert dash["features"] >= e2e["kabVillages"] and dash["coloured"] > 0
    assert any("final-list?f=pdf" in link for link in dash["finalLinks"])
    assert "2 dari" in dash["totals"]


#: Screenshots docs/verification.md shows (refreshed with SASARAN_UPDATE_SCREENSHOT=1).
DOC_IMAGES = {"phone-after-taps": "verification-phone.png", "dashboard-desktop": "verification-dashboard.png"}


def test_screenshots_are_drawn(e2e: dict) -> None:
    for name, path in e2e["screenshots"].items():
        with Image.open(path) as image:
            rgb = image.convert("RGB")
            colours = rgb.getcolors(maxcolors=1 << 20) or []
            assert len(colours) > 20, f"{name} is nearly blank"
            if os.environ.get("SASARAN_UPDATE_SCREENSHOT") == "1" and name in DOC_IMAGES:
                target = HERE.parents[1] / "docs" / "img" / DOC_IMAGES[name]
                rgb.quantize(colors=256, method=Image.Quantize.MEDIANCUT).save(target, optimize=True)
