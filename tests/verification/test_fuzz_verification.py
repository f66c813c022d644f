"""Schemathesis against the ``/verification`` operations of the real service, signed in.

The service runs under uvicorn with a verification database of its own and the register key; the
fuzzer sends a kabupaten account's bearer token with every request (``/verification/signout``
is left out: it would revoke that token). Every check runs. A schema-valid request is answered
2xx, or refused for what the data or the role says (400 a rule no schema states, 403 a step the
role may not take, 404 a record outside the region, 409 a state or version, 422 a sheet that is
not a sheet); sign-in with made-up credentials answers 401 or, after many, 429. Never a 5xx, never
an answer the OpenAPI document does not describe.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

from layers.verification import accounts
from layers.verification.audit import cli_actor
from layers.verification.db import Database
from tests.conftest import running_service

ROOT = Path(__file__).resolve().parents[2]
MAX_EXAMPLES = 8
TIME_LIMIT_S = 240
CONFIG = """
[[operations]]
include-path-regex = '^/verification/signin$'
checks.positive_data_acceptance.expected-statuses = ["2xx", "400", "401", "429"]

[[operations]]
include-path-regex = '^/verification/(?!signin$)'
checks.positive_data_acceptance.expected-statuses = ["2xx", "400", "403", "404", "409", "422"]
"""


@pytest.fixture(scope="module")
def run(store_dir: Path, register_key_file: Path, tmp_path_factory: pytest.TempPathFactory) -> dict:
    """The JSON report of one schemathesis run against the /verification operations."""
    work = tmp_path_factory.mktemp("verification-fuzz")
    url = f"sqlite:///{work / 'verification.db'}"
    db = Database.open(url)
    env = {"SASARAN_DATABASE_URL": url, "SASARAN_REGISTER_KEY_FILE": str(register_key_file)}
    try:
        with running_service(store_dir, work / "uvicorn.log", env=env) as (base, _):
            deadline = time.monotonic() + 300
            while time.monotonic() < deadline:
                with db.read() as conn:
                    kabupaten = conn.exec_driver_sql("SELECT min(kabupaten_code) FROM villages").scalar()
                if kabupaten:
                    break
                time.sleep(0.5)
            assert kabupaten, "the service did not seed the register"
            accounts.create_account(db, "fuzz", "kabupaten", kabupaten, "kopi-tubruk-2024", cli_actor())
            token = accounts.issue_token(db, "fuzz", cli_actor())
            report = work / "report.json"
            config = work / "schemathesis.toml"
            config.write_text(CONFIG)
            cmd = [str(Path(sys.executable).with_name("schemathesis")), "--config-file", str(config)]
            cmd += ["run", f"{base}/openapi", "--checks", "all", "-H", f"Authorization: Bearer {token}"]
            cmd += ["--include-path-regex", "^/verification", "--exclude-path-regex", "/signout$"]
            cmd += ["--max-examples", str(MAX_EXAMPLES), "--seed", "20261201", "--workers", "1"]
            cmd += ["--request-timeout", "60", "--generation-database", "none", "--no-color"]
            cmd += ["--report", "json", "--report-json-path", str(report)]
            env_run = os.environ | {
                "PYTHONPATH": str(ROOT),
                "SCHEMATHESIS_HOOKS": "tests.verification.fuzz_hooks",
            }
            done = subprocess.run(
                cmd,
                capture_output=True,
                text=True,
                timeout=TIME_LIMIT_S + 60,
                check=False,
                cwd=work,
                env=env_run,
            )
    finally:
        db.dispose()
    if not report.exists():
        pytest.fail(
            f"schemathesis wrote no report (exit {done.returncode}):\n{done.stdout[-3000:]}{done.stderr}"
        )
    return json.loads(report.read_text()) | {"console": done.stdout}


def test_every_verification_operation_is_fuzzed(run: dict) -> None:
    assert run["complete"], run["stop_reason"]
    ops = run["operations"]
    assert ops["tested"] == ops["selected"] >= 25 and ops["errored"] == 0, ops


def test_no_server_error_and_no_failed_check(run: dict) -> None:
    console = run["console"][-6000:]
    assert [f for f in run["failures"] if f["code"] in ("ST101", "ST102")] == [], console
    assert run["failures"] == [], console
    assert run["errors"] == [], console
    assert run["exit_code"] == 0, console
