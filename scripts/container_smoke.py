"""Smoke test of a running Sasaran container, from outside it (scripts/ci-container.sh).

Waits for ``/healthz``, then checks an items page of hexagons, the vector tile that holds the
first of those hexagons, and a CSV download (written into the store by the service's user).
Standard library only, so it runs with any host Python >= 3.9 and needs nothing from the
project's virtual environment. Exit 0 when every check passes, 1 otherwise, naming the check.

    python3 scripts/container_smoke.py http://127.0.0.1:18000 --wait 120
"""

from __future__ import annotations

import argparse
import csv
import json
import math
import sys
import time
import urllib.error
import urllib.request
from typing import Any

MVT_MEDIA_TYPE = "application/vnd.mapbox-vector-tile"
TILE_ZOOM = 12  # at zoom >= 11 the hexagons layer carries the stored cells, not coarser parents


class SmokeFailure(Exception):
    """A check failed; the message says which and what was seen."""


def get(url: str, timeout: float = 30.0) -> tuple[int, dict[str, str], bytes]:
    """GET ``url``: status, headers (lower-case names) and body; HTTP errors are returned, not raised."""
    request = urllib.request.Request(url, headers={"Accept": "*/*"})
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:
            return response.status, {k.lower(): v for k, v in response.headers.items()}, response.read()
    except urllib.error.HTTPError as error:
        return error.code, {k.lower(): v for k, v in error.headers.items()}, error.read()


def get_json(url: str) -> Any:
    """GET ``url`` and parse JSON, failing on any status but 200."""
    status, _, body = get(url)
    if status != 200:
        raise SmokeFailure(f"GET {url}: HTTP {status}: {body[:300]!r}")
    return json.loads(body)


def wait_healthy(base: str, wait_s: float) -> dict[str, Any]:
    """Poll ``/healthz`` until it answers 200 or ``wait_s`` seconds pass."""
    deadline = time.monotonic() + wait_s
    last = "no answer yet"
    while time.monotonic() < deadline:
        try:
            status, _, body = get(f"{base}/healthz", timeout=5)
            if status == 200:
                health: dict[str, Any] = json.loads(body)
                return health
            last = f"HTTP {status}: {body[:200]!r}"
        except (OSError, ValueError) as error:  # refused or reset while the workers start
            last = f"{type(error).__name__}: {error}"
        time.sleep(1)
    raise SmokeFailure(f"/healthz not healthy within {wait_s:.0f} s (last: {last})")


def tile_of(lon: float, lat: float, z: int) -> tuple[int, int]:
    """WebMercatorQuad column and row of the tile holding ``(lon, lat)`` at zoom ``z``."""
    n = 2**z
    x = int((lon + 180.0) / 360.0 * n)
    y = int((1.0 - math.asinh(math.tan(math.radians(lat))) / math.pi) / 2.0 * n)
    return x, y


def _varint(buf: bytes, i: int) -> tuple[int, int]:
    value = shift = 0
    while True:
        byte = buf[i]
        i += 1
        value |= (byte & 0x7F) << shift
        if byte < 0x80:
            return value, i
        shift += 7


def _fields(buf: bytes) -> list[tuple[int, int | bytes]]:
    """Top-level protobuf fields of ``buf``: (field number, varint value or length-delimited bytes)."""
    out: list[tuple[int, int | bytes]] = []
    i = 0
    while i < len(buf):
        key, i = _varint(buf, i)
        number, wire = key >> 3, key & 7
        if wire == 0:
            value, i = _varint(buf, i)
            out.append((number, value))
        elif wire == 2:
            size, i = _varint(buf, i)
            out.append((number, buf[i : i + size]))
            i += size
        elif wire in (1, 5):
            i += 8 if wire == 1 else 4
        else:
            raise SmokeFailure(f"not a vector tile: protobuf wire type {wire} at byte {i}")
    return out


def mvt_layers(body: bytes) -> dict[str, int]:
    """Layer name -> feature count of a Mapbox vector tile.

    Tile.layers is field 3; in a Layer, name is field 1 and each feature one field 2.
    """
    layers: dict[str, int] = {}
    for number, layer in _fields(body):
        if number == 3 and isinstance(layer, bytes):
            parts = _fields(layer)
            name = next((v for n, v in parts if n == 1 and isinstance(v, bytes)), b"").decode()
            layers[name] = sum(1 for n, _ in parts if n == 2)
    return layers


def first_vertex(geometry: dict[str, Any]) -> tuple[float, float]:
    """The first vertex of a GeoJSON geometry (a hexagon is a Polygon)."""
    coords: Any = geometry["coordinates"]
    while isinstance(coords[0], list):
        coords = coords[0]
    return float(coords[0]), float(coords[1])


def smoke(base: str, wait_s: float) -> None:
    """Every check, in order; raise SmokeFailure at the first that fails."""
    t0 = time.monotonic()
    health = wait_healthy(base, wait_s)
    if health.get("status") != "ok" or health.get("synthetic") is not True or health.get("layers", 0) < 8:
        raise SmokeFailure(f"/healthz: expected status ok, synthetic demo store, >= 8 layers; got {health}")
    print(f"smoke: /healthz ok after {time.monotonic() - t0:.1f} s: {health}")

    t1 = time.monotonic()
    page = get_json(f"{base}/collections/hexagons/items?limit=5")
    features = page.get("features", [])
    if page.get("type") != "FeatureCollection" or len(features) != 5:
        raise SmokeFailure(f"items: expected a FeatureCollection of 5 hexagons, got {str(page)[:300]}")
    for feature in features:
        if feature.get("geometry", {}).get("type") != "Polygon" or "h3" not in feature.get("properties", {}):
            raise SmokeFailure(f"items: a hexagon without Polygon geometry or h3 id: {str(feature)[:300]}")
    if not any(link.get("rel") == "next" for link in page.get("links", [])):
        raise SmokeFailure("items: no 'next' link on the first page of 5 of ~200,000 hexagons")
    strangers = [link["href"] for link in page["links"] if not str(link.get("href", "")).startswith(base)]
    if strangers:  # links start at SASARAN_PUBLIC_URL, which the run sets to this address
        raise SmokeFailure(f"items: links outside {base}: {strangers[:3]}")
    print(f"smoke: items ok ({time.monotonic() - t1:.2f} s): first hexagon {features[0]['properties']['h3']}")

    t2 = time.monotonic()
    lon, lat = first_vertex(features[0]["geometry"])
    x, y = tile_of(lon, lat, TILE_ZOOM)
    url = f"{base}/collections/hexagons/tiles/WebMercatorQuad/{TILE_ZOOM}/{y}/{x}"
    status, headers, body = get(url)
    if status != 200 or not headers.get("content-type", "").startswith(MVT_MEDIA_TYPE):
        raise SmokeFailure(f"tile {url}: HTTP {status}, {headers.get('content-type')}: {body[:200]!r}")
    layers = mvt_layers(body)
    if layers.get("hexagons", 0) < 1:
        raise SmokeFailure(f"tile {url}: expected a 'hexagons' layer with features, got layers {layers}")
    print(
        f"smoke: tile ok ({time.monotonic() - t2:.2f} s): z{TILE_ZOOM}/{y}/{x}, {len(body):,} bytes, "
        f"{layers['hexagons']} hexagons"
    )

    # A download is written into the export cache on first request: the service user must be able to.
    t3 = time.monotonic()
    url = f"{base}/exports/kabupaten.csv"
    status, headers, body = get(url, timeout=120)
    lines = body.decode("utf-8", "replace").splitlines()
    header = next(csv.reader(lines[:1]), [])
    if status != 200 or not header or header[0] != "kabupaten_code" or len(lines) < 2:
        raise SmokeFailure(f"export {url}: HTTP {status}, {headers.get('content-type')}: {body[:300]!r}")
    print(f"smoke: export ok ({time.monotonic() - t3:.2f} s): kabupaten.csv, {len(lines) - 1} rows")


def main(argv: list[str] | None = None) -> int:
    """Command line: the service's base URL and how long to wait for it."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("base_url", help="e.g. http://127.0.0.1:18000")
    parser.add_argument("--wait", type=float, default=120.0, help="seconds to wait for /healthz")
    args = parser.parse_args(argv)
    try:
        smoke(args.base_url.rstrip("/"), args.wait)
    except SmokeFailure as failure:
        print(f"smoke: FAILED: {failure}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
