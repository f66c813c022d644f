"""Schemathesis against the real service: thousands of generated requests, not one 5xx.

The schemathesis command line runs against the session's uvicorn server (`live_server`, the demo
store) over HTTP, from the service's own ``/openapi`` document: its examples, coverage, fuzzing and
stateful phases, with a fixed seed so that a failure replays.

Checks: all of them except five that the OpenAPI document does not meet yet (it describes less than
the service does; making it true is a separate piece of work). What they report today:

- ``status_code_conformance`` (ST103): 400, 404, 405 problem answers are not declared (only 200/422).
- ``content_type_conformance`` (ST105): ``POST /targets?f=csv|xlsx|gpkg`` answers are not declared.
- ``response_schema_conformance`` (ST108): GeoJSON items pages and queryables are declared as strings.
- ``positive_data_acceptance`` (ST202): schema-valid values the data cannot satisfy (``year=0``, an
  empty ``filter``, ``tileMatrix=1550``) rightly get 400, which the document does not say can happen.
- ``negative_data_rejection`` (ST201): ``limit`` above its maximum is clamped, as OGC API - Features
  allows, instead of refused.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

#: Test cases per operation (examples, coverage and stateful phases add their own on top).
MAX_EXAMPLES = 30
MIN_CASES = 2_000
TIME_LIMIT_S = 170  # the whole run, on CI's 2 cores
#: Not met by the OpenAPI document yet (see the module docstring); every other check runs.
NOT_YET = (
    "status_code_conformance",
    "content_type_conformance",
    "response_schema_conformance",
    "positive_data_acceptance",
    "negative_data_rejection",
)


@pytest.fixture(scope="module")
def run(live_server: tuple[str, Path], tmp_path_factory: pytest.TempPathFactory) -> dict:
    """The JSON report of one schemathesis run against the live server, plus its console output."""
    base, _ = live_server
    out = tmp_path_factory.mktemp("schemathesis")
    report = out / "report.json"
    cmd = [str(Path(sys.executable).with_name("schemathesis")), "run", f"{base}/openapi"]
    cmd += ["--checks", "all", "--exclude-checks", ",".join(NOT_YET)]
    cmd += ["--max-examples", str(MAX_EXAMPLES), "--seed", "20260101", "--workers", "1"]
    cmd += ["--request-timeout", "20", "--generation-database", "none", "--no-color"]
    cmd += ["--report", "json", "--report-json-path", str(report)]
    try:
        # cwd: schemathesis keeps state in ./.schemathesis; not in the repository.
        done = subprocess.run(
            cmd, capture_output=True, text=True, timeout=TIME_LIMIT_S + 30, check=False, cwd=out
        )
    except subprocess.TimeoutExpired:
        pytest.fail(f"schemathesis did not finish within {TIME_LIMIT_S + 30} s")
    if not report.exists():
        pytest.fail(
            f"schemathesis wrote no report (exit {done.returncode}):\n{done.stdout[-3000:]}{done.stderr}"
        )
    return json.loads(report.read_text()) | {"console": done.stdout}


def test_every_operation_is_tested_with_thousands_of_cases(run: dict) -> None:
    assert run["complete"], run["stop_reason"]
    ops = run["operations"]
    assert ops["tested"] == ops["total"] >= 25 and ops["errored"] == 0
    assert run["test_cases"]["generated"] >= MIN_CASES, run["test_cases"]
    assert run["running_time"] < TIME_LIMIT_S


def test_no_server_error_and_no_failed_check(run: dict) -> None:
    console = run["console"][-6000:]
    server_errors = [f for f in run["failures"] if f["code"] in ("ST101", "ST102")]  # 5xx
    assert server_errors == [], console
    assert run["failures"] == [], console
    assert run["errors"] == [], console
    assert run["exit_code"] == 0, console
