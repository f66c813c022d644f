"""Benchmarks of the register of families (issue 18); writes its section of docs/benchmarks.md.

    python scripts/bench_households.py [--families 1000000] [--work DIR] [--out docs/benchmarks.md]

A demo province sized to hold about ``--families`` families in its register's latest year is
written, and its register cut to that one year. It is built twice, in fresh processes, with and
without ``[sources.households]``: what the register adds to a build is the difference (seconds and
peak resident memory). Then, on the built store: rescoring a village's families, rescoring every
family under new weights or cutoffs (the service's ``/scores?basis=household``), a kabupaten's
by-name list of about 30,000 families (reading and decrypting the register, scoring, writing XLSX,
CSV and PDF), and the anonymised export. Targets (issue 18): build adds ≤ 60 s and ≤ 2 GiB peak;
a village's families rescored ≤ 50 ms; a 30,000-family list as XLSX ≤ 5 s. Not timed tests.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import pyarrow.compute as pc
import pyarrow.parquet as pq
from bench import best_of  # scripts/bench.py, beside this script

ROOT = Path(__file__).resolve().parents[1]
#: Families per demo village (1,878 people in households of ~3.6 people).
FAMILIES_PER_VILLAGE = 521.7
START, END = "<!-- households:start -->", "<!-- households:end -->"

_BUILD = """
import json, resource, sys, time
from layers.config import load_config
from layers.pipeline.province import build
start = time.perf_counter()
result = build(load_config(sys.argv[1]), sys.argv[2], progress=False)
print(json.dumps({"seconds": time.perf_counter() - start, "stages": result.seconds,
                  "maxrss_gib": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024**2}))
"""


def build_in_a_process(config: Path, store: Path) -> dict:
    """Build in a fresh process: its wall seconds, stage seconds and peak resident memory."""
    env = dict(os.environ, PYTHONPATH=str(ROOT))
    done = subprocess.run([sys.executable, "-c", _BUILD, str(config), str(store)], capture_output=True,
                          text=True, env=env, check=True)  # fmt: skip
    return json.loads(done.stdout.strip().splitlines()[-1])


def prepare(work: Path, families: int) -> tuple[Path, Path, int]:
    """Demo sources with a one-year register of about ``families`` families; configs with and without it."""
    from layers.demo.province import REGISTER_FILE, write_demo

    villages = max(20, round(families / FAMILIES_PER_VILLAGE))
    config = write_demo(work / "demo", villages=villages)
    path = config.parent / REGISTER_FILE
    table = pq.read_table(path)
    latest = pc.max(table["tahun"]).as_py()
    pq.write_table(table.filter(pc.equal(table["tahun"], latest)), path, compression="zstd")
    text = config.read_text()
    area = config.with_name("sasaran_area.toml")
    area.write_text(text.split("\n# The register of families", 1)[0] + "\n")
    return config, area, villages


def main() -> None:
    """Prepare, build twice, measure on the store, write the section of docs/benchmarks.md."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--families", type=int, default=1_000_000)
    parser.add_argument("--work", type=Path, default=None)
    parser.add_argument("--out", type=Path, default=ROOT / "docs" / "benchmarks.md")
    args = parser.parse_args()
    work = args.work or Path(tempfile.mkdtemp(prefix="sasaran-bench-households-"))
    config, area_config, villages = prepare(work, args.families)
    os.environ["SASARAN_REGISTER_KEY_FILE"] = str(config.parent / "register.key")

    area = build_in_a_process(area_config, work / "store_area")
    with_register = build_in_a_process(config, work / "store")

    from layers.export.households import anonymised, family_list, write_anonymised, write_family_list
    from layers.register import load_key
    from layers.scoring.af import score_units
    from layers.scoring.rescore import ScoringFrame
    from layers.scoring.spec import with_overrides
    from layers.store import LayerStore

    store = LayerStore.open(work / "store")
    key = load_key()
    start = time.perf_counter()
    frame = ScoringFrame.from_store(store)
    prepare_seconds = time.perf_counter() - start
    households = frame.households
    assert households is not None and households.spec is not None
    spec = households.spec
    year = households.years[-1]
    _, rows = households.rows_of(year)
    n_families = len(rows)
    # One village's families: its matrix gathered and scored under new cutoffs.
    counts = np.bincount(households.village_pos[rows], minlength=len(frame.village_codes))
    biggest = int(np.argmax(counts))
    own = rows[households.village_pos[rows] == biggest]
    cutoffs = with_overrides(spec, cutoffs={spec.names[0]: 4})
    village_best, village_median = best_of(
        50, lambda: score_units(households.matrix(list(cutoffs.columns), own), cutoffs)
    )
    households.score(spec, year)
    weights = with_overrides(spec, dimension_weights={"income": 0.4, "education": 0.2, "health": 0.2,
                                                       "quality_of_life": 0.2})  # fmt: skip

    def all_villages(which: object) -> None:
        scores = households.score(which, year)  # type: ignore[arg-type]
        households.level_values(scores, which, "village")  # type: ignore[arg-type]

    reweigh = best_of(5, lambda: all_villages(weights))
    recut = best_of(3, lambda: (households._cache.clear(), all_villages(cutoffs)))
    # A kabupaten's by-name list of about 30,000 families.
    layer = store.layer("villages").set_index("village_code")
    per_village = dict(zip(frame.village_codes.astype(str), counts, strict=True))
    by_kab: dict[str, list[str]] = {}
    for code in layer.index.astype(str):
        by_kab.setdefault(str(layer.loc[code, "kabupaten_code"]), []).append(code)
    kab = min(by_kab, key=lambda k: abs(sum(per_village[c] for c in by_kab[k]) - 30_000))
    codes, total = [], 0
    for code in by_kab[kab]:
        if total >= 30_000:
            break
        codes.append(code)
        total += per_village[code]
    start = time.perf_counter()
    listed = family_list(store, key, codes, year, scoring=frame)
    list_seconds = time.perf_counter() - start
    writes = {}
    for fmt in ("xlsx", "csv", "pdf"):
        start = time.perf_counter()
        write_family_list(listed, work / f"list.{fmt}", fmt)
        writes[fmt] = time.perf_counter() - start
    start = time.perf_counter()
    write_anonymised(anonymised(store, key, year), work / "anonymised.csv")
    export_seconds = time.perf_counter() - start

    added = with_register["seconds"] - area["seconds"]
    lines = [
        START,
        f"## The register of families (issue 18): {n_families:,} families",
        "",
        f"`python scripts/bench_households.py --families {args.families}`: a {villages:,}-village demo "
        f"province whose register holds {n_families:,} families in {year} (the demo register cut to one "
        f"year), built in fresh processes with and without `[sources.households]`. {platform.machine()}, "
        f"{os.cpu_count()} cores, Python {platform.python_version()}; the machine was shared with other "
        "work, so the seconds are upper bounds.",
        "",
        "| | without the register | with it | the register adds | target |",
        "|---|---|---|---|---|",
        f"| build, seconds | {area['seconds']:.1f} | {with_register['seconds']:.1f} | {added:.1f} | ≤ 60 |",
        f"| build, peak resident memory (GiB) | {area['maxrss_gib']:.2f} | {with_register['maxrss_gib']:.2f} "
        f"| {with_register['maxrss_gib'] - area['maxrss_gib']:.2f} | ≤ 2 |",
        "",
        "Build stages with the register (seconds): "
        + ", ".join(f"{k} {v:.1f}" for k, v in with_register["stages"].items())
        + "; without: "
        + ", ".join(f"{k} {v:.1f}" for k, v in area["stages"].items())
        + ".",
        "",
        "| on the built store | best | median | target |",
        "|---|---|---|---|",
        f"| prepare the scoring frame with the register (service start) | {prepare_seconds:.2f} s | | |",
        f"| rescore one village's families ({int(counts[biggest]):,} families, new cutoffs) | "
        f"{village_best * 1000:.1f} ms | {village_median * 1000:.1f} ms | ≤ 50 ms |",
        f"| rescore every family under new weights, aggregate to villages | {reweigh[0] * 1000:.0f} ms | "
        f"{reweigh[1] * 1000:.0f} ms | |",
        f"| rescore every family under new cutoffs, aggregate to villages | {recut[0] * 1000:.0f} ms | "
        f"{recut[1] * 1000:.0f} ms | |",
        f"| by-name list of {len(listed.families):,} families in {len(codes)} villages of kabupaten {kab}: "
        f"read, decrypt, score, rank | {list_seconds:.2f} s | | |",
        f"| ... written as XLSX | {writes['xlsx']:.2f} s | | ≤ 5 s |",
        f"| ... written as CSV | {writes['csv']:.2f} s | | |",
        f"| ... written as PDF | {writes['pdf']:.2f} s | | |",
        f"| anonymised export of {n_families:,} families (CSV) | {export_seconds:.2f} s | | |",
        END,
    ]
    section = "\n".join(lines) + "\n"
    text = args.out.read_text() if args.out.exists() else ""
    if START in text:
        head, rest = text.split(START, 1)
        text = head + section + rest.split(END, 1)[1].lstrip("\n")
    else:
        text = text.rstrip("\n") + "\n\n" + section
    args.out.write_text(text)
    print(section)


if __name__ == "__main__":
    main()
