"""Schemathesis against the real service: thousands of generated requests, every check, no failure.

The schemathesis command line runs against the session's uvicorn server (`live_server`, the demo
store) over HTTP, from the service's own ``/openapi`` document: its examples, coverage, fuzzing and
stateful phases, with a fixed seed so that a failure replays. Every check runs: the document states
every answer each operation can give (media types, schemas, problem+json errors) and the true domain
of every parameter, so a schema-valid request is answered 2xx (or 404 for a name that does not
exist) and a schema-invalid one 400.

``tests/service/fuzz_hooks.py`` teaches the fuzzer the two rules the document declares that JSON
Schema cannot spell: the ``cql2-text`` format (the ``filter`` parameter) and a ``bbox`` whose
minlat does not exceed its maxlat (stated in the parameter's description). No check is relaxed for
them: the hooks generate what the document describes.

Two bodies and the tile path carry rules no JSON Schema can state, and their 400 naming the rule is
expected for schema-valid data (`BODY_RULES`, `TILE_PATH`): ``POST /scores/{level}`` (an indicator
spec's weights must sum to 1, its names be unique), ``POST /targets`` (a selection must be feasible:
quotas within ``max_villages``, codes that exist, a dimension of the spec) and a vector tile (its
row and column within the tileset's limits at its tile matrix).
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

#: Test cases per operation (examples, coverage and stateful phases add their own on top).
MAX_EXAMPLES = 30
MIN_CASES = 2_000
#: Seconds after which the run is called hung: far above its ~3 minutes on a loaded 2-core machine.
#: The run is bounded by its counts (`MAX_EXAMPLES` per operation), never asserted on its duration.
HANG_GUARD_S = 1_800
HOOKS = "tests.service.fuzz_hooks"
ROOT = Path(__file__).resolve().parents[2]
#: Operations whose bodies carry rules beyond JSON Schema (see the module docstring): there, a
#: schema-valid body may be answered 400 naming the rule. Every other operation: 2xx, 3xx or 404.
BODY_RULES = ("/scores/{level}", "/targets")
#: A tile's row and column must lie within the tileset's limits at its tile matrix, which depend on
#: the matrix (OGC API - Tiles ``tileMatrixSetLimits``): no JSON Schema can relate them, so a
#: schema-valid tile outside them is answered 400 naming the limits and the URL template.
TILE_PATH = "/collections/{collection_id}/tiles/WebMercatorQuad/{z}/{y}/{x}"
_PATHS = "|".join(re.escape(path) for path in BODY_RULES)
# A TOML literal string (single quotes): the regex's backslashes stay as they are.
CONFIG = f"""
[[operations]]
include-method = "POST"
include-path-regex = '^({_PATHS})$'
checks.positive_data_acceptance.expected-statuses = ["2xx", "400", "404"]

[[operations]]
include-method = "GET"
include-path-regex = '^{re.escape(TILE_PATH)}$'
checks.positive_data_acceptance.expected-statuses = ["2xx", "400", "404"]
"""


@pytest.fixture(scope="module")
def run(live_server: tuple[str, Path], tmp_path_factory: pytest.TempPathFactory) -> dict:
    """The JSON report of one schemathesis run against the live server, plus its console output."""
    base, _ = live_server
    out = tmp_path_factory.mktemp("schemathesis")
    report = out / "report.json"
    config = out / "schemathesis.toml"
    config.write_text(CONFIG)
    cmd = [str(Path(sys.executable).with_name("schemathesis")), "--config-file", str(config)]
    cmd += ["run", f"{base}/openapi", "--checks", "all"]
    # /verification needs an account: tests/verification/test_fuzz_verification.py fuzzes it signed in.
    cmd += ["--exclude-path-regex", "^/verification"]
    cmd += ["--max-examples", str(MAX_EXAMPLES), "--seed", "20260101", "--workers", "1"]
    # A request is hung after 120 s: the first XLSX of the hexagons took over 20 s on a loaded machine.
    cmd += ["--request-timeout", "120", "--generation-database", "none", "--no-color"]
    cmd += ["--report", "json", "--report-json-path", str(report)]
    try:
        # cwd: schemathesis keeps state in ./.schemathesis; not in the repository.
        env = os.environ | {"SCHEMATHESIS_HOOKS": HOOKS, "PYTHONPATH": str(ROOT)}
        done = subprocess.run(
            cmd, capture_output=True, text=True, timeout=HANG_GUARD_S, check=False, cwd=out, env=env
        )
    except subprocess.TimeoutExpired:
        pytest.fail(f"schemathesis hung: no report after {HANG_GUARD_S} s")
    if not report.exists():
        pytest.fail(
            f"schemathesis wrote no report (exit {done.returncode}):\n{done.stdout[-3000:]}{done.stderr}"
        )
    return json.loads(report.read_text()) | {"console": done.stdout}


def test_every_operation_is_tested_with_thousands_of_cases(run: dict) -> None:
    assert run["complete"], run["stop_reason"]
    ops = run["operations"]
    assert ops["tested"] == ops["selected"] >= 25 and ops["errored"] == 0
    assert run["test_cases"]["generated"] >= MIN_CASES, run["test_cases"]


def test_no_server_error_and_no_failed_check(run: dict) -> None:
    console = run["console"][-6000:]
    server_errors = [f for f in run["failures"] if f["code"] in ("ST101", "ST102")]  # 5xx
    assert server_errors == [], console
    assert run["failures"] == [], console
    assert run["errors"] == [], console
    assert run["exit_code"] == 0, console
