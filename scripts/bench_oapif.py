"""Whole layers over OGC API - Features with GDAL's defaults: ``ogr2ogr`` of every hexagon.

Starts the service (uvicorn, one worker) from the code at ``--code`` over ``--store`` on a free
port, runs ``ogr2ogr -f GeoJSON out.geojson OAPIF:.../collections/hexagons`` as an analyst would (no
options), and prints the wall time, the items requests GDAL made (from the access log) and the
features read. Run it once on the code before a change and once after (docs/benchmarks.md):

    .venv/bin/python scripts/bench_oapif.py --store store --code .
"""

from __future__ import annotations

import argparse
import json
import os
import re
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def main() -> None:
    """Measure one ogr2ogr of a layer and print the result as JSON."""
    parser = argparse.ArgumentParser()
    parser.add_argument("--store", type=Path, required=True)
    parser.add_argument("--code", type=Path, default=Path(__file__).resolve().parents[1])
    parser.add_argument("--layer", default="hexagons")
    args = parser.parse_args()
    port = _free_port()
    base = f"http://127.0.0.1:{port}"
    env = os.environ | {
        "SASARAN_STORE_DIR": str(args.store.resolve()),
        "PYTHONPATH": str(args.code.resolve()),
    }
    with tempfile.TemporaryDirectory() as tmp:
        log = Path(tmp) / "access.log"
        command = [
            sys.executable,
            "-m",
            "uvicorn",
            "--factory",
            "service.app:create_app",
            "--port",
            str(port),
        ]
        with log.open("wb") as out:
            server = subprocess.Popen(command, env=env, cwd=args.code, stdout=out, stderr=subprocess.STDOUT)
            try:
                for _ in range(600):
                    try:
                        urllib.request.urlopen(f"{base}/healthz", timeout=1)  # noqa: S310 (loopback)
                        break
                    except OSError:
                        time.sleep(0.2)
                started = time.perf_counter()
                target = Path(tmp) / "out.geojson"
                source = f"OAPIF:{base}/collections/{args.layer}"
                subprocess.run(
                    ["ogr2ogr", "-f", "GeoJSON", str(target), source], check=True, capture_output=True
                )
                seconds = time.perf_counter() - started
                features = len(json.loads(target.read_text())["features"])
            finally:
                server.terminate()
                server.wait(timeout=30)
        requests = len(re.findall(rf"GET /collections/{args.layer}/items", log.read_text()))
    print(json.dumps({"code": str(args.code), "layer": args.layer, "features": features,  # noqa: T201
                      "items_requests": requests, "seconds": round(seconds, 1)}))  # fmt: skip


if __name__ == "__main__":
    main()
