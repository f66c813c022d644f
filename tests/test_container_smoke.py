"""The container smoke test (scripts/container_smoke.py) passes against the real service and fails
when it should: CI trusts its verdict on the image, so its checks must be able to fail."""

from __future__ import annotations

import importlib.util
import socket
import sys
from pathlib import Path
from types import ModuleType

import httpx
import mapbox_vector_tile
import pytest

ROOT = Path(__file__).resolve().parents[1]


def _load_smoke() -> ModuleType:
    # scripts/ is not a package: load the file CI runs, as CI runs it.
    spec = importlib.util.spec_from_file_location("container_smoke", ROOT / "scripts" / "container_smoke.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module


smoke = _load_smoke()


def test_smoke_passes_against_the_real_service(live_server, capsys):
    base, _ = live_server
    assert smoke.main([base, "--wait", "30"]) == 0
    out = capsys.readouterr().out
    assert all(f"{check} ok" in out for check in ("/healthz", "items", "tile", "export"))


def test_mvt_reader_agrees_with_an_independent_decoder(live_server):
    base, _ = live_server
    page = httpx.get(f"{base}/collections/hexagons/items?limit=1").json()
    lon, lat = smoke.first_vertex(page["features"][0]["geometry"])
    x, y = smoke.tile_of(lon, lat, smoke.TILE_ZOOM)
    body = httpx.get(f"{base}/collections/hexagons/tiles/WebMercatorQuad/{smoke.TILE_ZOOM}/{y}/{x}").content
    decoded = mapbox_vector_tile.decode(body)
    assert smoke.mvt_layers(body) == {name: len(layer["features"]) for name, layer in decoded.items()}
    assert smoke.mvt_layers(body)["hexagons"] >= 1


def test_tile_of_known_tiles():
    assert smoke.tile_of(0.0, 0.0, 1) == (1, 1)
    assert smoke.tile_of(-179.9, 85.0, 3) == (0, 0)
    assert smoke.tile_of(179.9, -85.0, 3) == (7, 7)
    # Palangka Raya (113.92 E, 2.21 S) at zoom 12
    assert smoke.tile_of(113.92, -2.21, 12) == (3344, 2073)


class _Clock:
    """The smoke script's clock, advanced only by its own sleeps: its wait is counted, not timed."""

    def __init__(self) -> None:
        self.now = 0.0
        self.sleeps = 0

    def monotonic(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.sleeps += 1
        self.now += seconds


def test_smoke_fails_within_its_wait_when_nothing_listens(capsys, monkeypatch):
    clock = _Clock()
    monkeypatch.setattr(smoke, "time", clock)
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]  # bound, not listening: connections are refused
        assert smoke.main([f"http://127.0.0.1:{port}", "--wait", "1.5"]) == 1
    assert clock.sleeps == 2  # tried at 0 s and 1 s, gave up at the 1.5 s wait
    err = capsys.readouterr().err
    assert "FAILED" in err and "/healthz not healthy within 2 s" in err


def test_smoke_rejects_error_answers_and_non_tiles(live_server):
    # A live service that is not a Sasaran store: an unknown collection answers 404.
    base, _ = live_server
    with pytest.raises(smoke.SmokeFailure, match="HTTP 404"):
        smoke.get_json(f"{base}/collections/no_such_layer/items?limit=5")
    with pytest.raises(smoke.SmokeFailure, match="not a vector tile"):
        smoke.mvt_layers(b"\x0f\x00")
