"""scripts/bench_peers.py without servers: its arguments, its plan, its answer check, its report.

The benchmark itself installs PostgreSQL, tipg and pygeoapi and runs for minutes: not a test. What
decides whether its table can be trusted is checked here: that answers which differ are caught,
that the rows name the same requests on every server, and that the docs section is replaced whole.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "scripts"))

import bench_peers  # noqa: E402


def test_arguments_are_checked():
    args = bench_peers.parse_args(["ab", "--base", "7546689", "--conns", "1,64", "--pairs", "2"])
    assert (args.mode, args.base, args.conns, args.pairs) == ("ab", "7546689", [1, 64], 2)
    assert bench_peers.parse_args(["peers"]).conns == [1, 16, 64]
    for bad in (["peers", "--pairs", "0"], ["peers", "--conns", "0"], ["nowhere"]):
        with pytest.raises(SystemExit):
            bench_peers.parse_args(bad)


def test_a_dry_run_plans_the_same_requests_for_every_server(store_dir: Path, capsys):
    bench_peers.main(["peers", "--store", str(store_dir), "--dry-run", "--cache", str(store_dir.parent)])
    plan = capsys.readouterr().out
    assert "4 rows × 3 connection counts × 3 pairs × 3 servers" in plan
    rows = bench_peers.rows_for(store_dir, ["sasaran", "tipg", "pygeoapi"])
    for row in rows:
        ours, tipg, pygeoapi = (row.paths[s] for s in ("sasaran", "tipg", "pygeoapi"))
        assert len(ours) == len(tipg) == len(pygeoapi) > 0
        assert [p.replace("public.", "") for p in tipg] == ours
        assert [p.replace("&f=json", "").replace("?f=json", "") for p in pygeoapi] == ours
    ab = bench_peers.ab_rows(store_dir, ["base", "this"])
    assert {row.kind for row in ab} == {"items", "item", "json", "tile"}


def _feature(feature_id: str, **properties: object) -> dict:
    geometry = {"type": "Point", "coordinates": [113.1234567, -2.0]}
    return {"type": "Feature", "id": feature_id, "geometry": geometry, "properties": properties}


def test_answers_that_differ_are_caught():
    row = bench_peers.Row("villages", "villages", {}, kind="items")
    ours = {"features": [_feature("1", village_code="1", M0=0.1188, population=10)]}
    same = {"features": [_feature("1", village_code="1", M0=0.11875, population=10.0, fid=1)]}
    same["features"][0]["geometry"]["coordinates"] = [113.12345671, -2.00000001]
    bodies = {"sasaran": json.dumps(ours).encode(), "tipg": json.dumps(same).encode()}
    assert bench_peers.compare_answers(row, bodies) == []
    other = {"features": [_feature("1", village_code="1", M0=0.2, population=10)]}
    assert "M0" in bench_peers.compare_answers(row, bodies | {"tipg": json.dumps(other).encode()})[0]
    moved = {"features": [_feature("2", village_code="2", M0=0.1188, population=10)]}
    assert "ids differ" in bench_peers.compare_answers(row, bodies | {"tipg": json.dumps(moved).encode()})[0]
    extra = {"features": [_feature("1", village_code="1", M0=0.1188, population=10, name="x")]}
    assert "in name" in bench_peers.compare_answers(row, bodies | {"tipg": json.dumps(extra).encode()})[0]
    far = json.loads(json.dumps(ours))
    far["features"][0]["geometry"]["coordinates"] = [113.2, -2.0]
    assert "geometry" in bench_peers.compare_answers(row, bodies | {"tipg": json.dumps(far).encode()})[0]


def test_the_docs_section_is_replaced_whole(tmp_path: Path):
    docs = tmp_path / "benchmarks.md"
    docs.write_text("# Benchmarks\n\nkept\n")
    bench_peers.write_docs("bench_peers:ab", ["first"], docs)
    bench_peers.write_docs("bench_peers:peers", ["peers"], docs)
    bench_peers.write_docs("bench_peers:ab", ["second", "run"], docs)
    text = docs.read_text()
    assert "first" not in text and "second\nrun" in text and "kept" in text and "peers" in text
    assert text.count("<!-- bench_peers:ab -->") == 1


def test_tables_give_the_median_of_the_pairs_ratios():
    def run(server: str, requests: int, cpu_s: float) -> bench_peers.Measured:
        result = bench_peers.Result(requests, 5.0, 1.0, 2.0, 0, 1.0)
        return bench_peers.Measured(server, result, 1.0, 2.5, cpu_s)

    row = bench_peers.RowResult("single village by id", 1)
    row.runs = [
        [run("sasaran", 1000, 1.0), run("tipg", 200, 2.0)],  # 5× throughput, 10× less CPU a request
        [run("tipg", 250, 2.0), run("sasaran", 1000, 1.0)],  # 4×, 8×
        [run("sasaran", 1200, 1.2), run("tipg", 200, 2.0)],  # 6×, 10×
    ]
    assert bench_peers.summary_table([row], "sasaran", "tipg", [1])[-1] == "| single village by id | 5.0× |"
    assert bench_peers._times(float("inf")) == "∞ (none answered)"
    assert bench_peers.summary_table([row], "sasaran", "tipg", [1], cpu=True)[-1].endswith("| 10.0× |")
    line = bench_peers.detail_table([row], ["sasaran", "tipg"], "sasaran", "tipg")[-1]
    assert "5.00 / 4.00 / 6.00 | **5.00×**" in line and "1.00 / 10.00" in line and "1.0–2.5" in line
