"""A fixed sample of answers stays byte-identical while the request path is made faster.

Each request of `REQUESTS` is answered by the real app over the session's demo store
(tests/conftest.py: 60 villages, seed 7), built without its register of families; its status,
the headers a client or cache reads and a SHA-256 of its body are compared with
`golden_answers.json`. Items pages carry the time of the
answer (``timeStamp``), which is replaced by a fixed text before hashing; nothing else is.

The fixture records the answers as they were before issue 24's optimisations. An answer may change
only on purpose (a new link, a new property): then regenerate the fixture with
``SASARAN_WRITE_GOLDEN=1 python -m pytest tests/service/test_golden_answers.py`` and say why in the
commit.
"""

from __future__ import annotations

import hashlib
import json
import math
import os
import re
import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest
import shapely
from fastapi.testclient import TestClient

from layers.store import LayerStore
from service.app import create_app
from service.settings import Settings

FIXTURE = Path(__file__).with_name("golden_answers.json")
#: Headers compared besides the body (``date`` and ``server`` are the transport's). Requests go
#: without compression unless their entry asks for gzip (the body hashed is then the decompressed one).
HEADERS = (
    "content-type",
    "cache-control",
    "vary",
    "etag",
    "x-content-type-options",
    "referrer-policy",
    "content-security-policy",
    "content-encoding",
)
_TIME_STAMP = re.compile(rb'"timeStamp":"[0-9T:Z-]+"')

#: The sample: one entry per request, ``{village}``, ``{village2}``, ``{hexagon}``, ``{facility}``,
#: ``{box}``, ``{small_box}``, ``{tile8}``, ``{tile10}``, ``{tile12}``, ``{tile5}`` filled from the store.
REQUESTS: list[tuple[str, dict[str, str]]] = [
    ("/", {}),
    ("/openapi", {}),
    ("/conformance", {}),
    ("/collections", {}),
    ("/collections/villages", {}),
    ("/collections/hexagons", {}),
    ("/collections/villages/queryables", {}),
    ("/collections/villages/items", {}),
    ("/collections/villages/items?limit=100", {}),
    ("/collections/villages/items?limit=10&offset=20", {}),
    ("/collections/villages/items?limit=100&offset=50", {}),
    ("/collections/villages/items?bbox={box}&limit=100", {}),
    ("/collections/villages/items?bbox={small_box}", {}),
    ("/collections/villages/items?limit=7&sortby=-M0", {}),
    ("/collections/villages/items?limit=5&filter=M0%20%3E%3D%200.1", {}),
    ("/collections/villages/items?limit=5&year=2023", {}),
    ("/collections/villages/items?limit=5&datetime=2023-06-01", {}),
    ("/collections/villages/items?kabupaten_code={kabupaten}&limit=5", {}),
    ("/collections/villages/items?limit=3&f=html", {}),
    ("/collections/villages/items?limit=3", {"accept": "text/html"}),
    ("/collections/villages/items/{village}", {}),
    ("/collections/villages/items/{village2}", {}),
    ("/collections/villages/items/{village}?year=2023", {}),
    ("/collections/villages/items/{village}?f=html", {}),
    ("/collections/villages/items/{village}", {"accept-encoding": "gzip"}),
    ("/collections/villages/items?limit=100", {"accept-encoding": "gzip, deflate"}),
    ("/collections/hexagons/tiles/WebMercatorQuad/{tile10}", {"accept-encoding": "gzip"}),
    ("/collections/villages/items?limit=3&f=html", {"accept-encoding": "gzip"}),
    ("/collections/hexagons/items?bbox={small_box}&limit=1000", {}),
    ("/collections/hexagons/items?limit=50&offset=7", {}),
    ("/collections/hexagons/items/{hexagon}", {}),
    ("/collections/kecamatan/items?limit=5", {}),
    ("/collections/kabupaten/items?year=2023", {}),
    ("/collections/schools/items?limit=20", {}),
    ("/collections/schools/items/{facility}", {}),
    ("/collections/roads/items?limit=5&offset=3", {}),
    ("/collections/hexagons/tiles/WebMercatorQuad/{tile5}", {}),
    ("/collections/hexagons/tiles/WebMercatorQuad/{tile8}", {}),
    ("/collections/hexagons/tiles/WebMercatorQuad/{tile10}", {}),
    ("/collections/hexagons/tiles/WebMercatorQuad/{tile10}?year=2023", {}),
    ("/collections/villages/tiles/WebMercatorQuad/{tile8}", {}),
    ("/collections/villages/tiles/WebMercatorQuad/{tile12}", {}),
    ("/collections/hexagons/tiles/WebMercatorQuad/tilejson.json", {}),
    ("/scores/kabupaten", {}),
    ("/scores/kabupaten?w_income=0.4&w_education=0.2&w_health=0.2&w_quality_of_life=0.2", {}),
    ("/scores/village?limit=20&f=csv", {}),
    ("/scores/kecamatan?f=geojson&limit=5", {}),
    ("/scores/province?year=2023", {}),
    # Errors: their problem+json bodies and headers are answers too.
    ("/collections/nowhere/items", {}),
    ("/collections/villages/items?limit=abc", {}),
    ("/collections/villages/items?limt=5", {}),
    ("/collections/villages/items/no-such-village", {}),
    ("/collections/villages/items?year=1999", {}),
    ("/collections/villages/tiles/WebMercatorQuad/3/9/9", {}),
    ("/collections/villages/items", {"host": "bad host"}),
]


def _tile(lon: float, lat: float, z: int) -> str:
    n = 1 << z
    col = int((lon + 180.0) / 360.0 * n)
    row = int((1 - math.asinh(math.tan(math.radians(lat))) / math.pi) / 2 * n)
    return f"{z}/{min(row, n - 1)}/{min(col, n - 1)}"


def sample_values(store_dir: Path) -> dict[str, str]:
    """The ids, boxes and tiles the sample names, chosen by position in the store (deterministic)."""
    store = LayerStore.open(store_dir)
    villages = store.layer("villages")
    point = shapely.point_on_surface(villages.geometry.to_numpy()[len(villages) // 3])
    lon, lat = round(point.x, 3), round(point.y, 3)
    return {
        "village": str(villages["village_code"].iloc[0]),
        "village2": str(villages["village_code"].iloc[len(villages) // 2]),
        "kabupaten": str(villages["kabupaten_code"].iloc[-1]),
        "hexagon": str(store.layer("hexagons")["h3"].iloc[100]),
        "facility": "3",
        "box": f"{lon - 0.25:.3f},{lat - 0.25:.3f},{lon + 0.25:.3f},{lat + 0.25:.3f}",
        "small_box": f"{lon - 0.05:.3f},{lat - 0.05:.3f},{lon + 0.05:.3f},{lat + 0.05:.3f}",
        **{f"tile{z}": _tile(lon, lat, z) for z in (5, 8, 10, 12)},
    }


def answer_digest(status: int, headers: dict[str, str], body: bytes) -> dict[str, object]:
    """What the fixture keeps of one answer: status, compared headers, body length and hash."""
    body = _TIME_STAMP.sub(b'"timeStamp":"T"', body)
    kept = {name: headers[name] for name in HEADERS if name in headers}
    return {"status": status, "headers": kept, "bytes": len(body), "sha256": hashlib.sha256(body).hexdigest()}


def _answers(client: TestClient, values: dict[str, str]) -> Iterator[tuple[str, dict[str, object]]]:
    for template, headers in REQUESTS:
        # Without Accept-Encoding, like wrk and most API clients (httpx would ask for gzip).
        sent = {"accept-encoding": "identity"} | headers
        answer = client.get(template.format(**values), headers=sent)
        key = template + (f" {json.dumps(headers, sort_keys=True)}" if headers else "")
        yield key, answer_digest(answer.status_code, dict(answer.headers), answer.content)


@pytest.fixture(scope="module")
def places_store(demo_sources: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The session's demo built without its register of families: the answers about places, which
    issue 18's household columns (on purpose) would otherwise all change."""
    from layers.demo import households
    from layers.demo.province import REGISTER_FILE
    from layers.testing import tiny_build

    sources = tmp_path_factory.mktemp("golden") / "sources"
    shutil.copytree(demo_sources.parent, sources)
    config = sources / demo_sources.name
    text = config.read_text()
    section = households.config_section(REGISTER_FILE)
    assert section in text, "the demo config no longer holds the register section as written"
    config.write_text(text.replace(section, ""))
    return tiny_build(config, sources.parent / "store").store


@pytest.fixture(scope="module")
def golden_client(places_store: Path) -> Iterator[TestClient]:
    """The real app with default settings over the demo store of places."""
    with TestClient(create_app(Settings(store_dir=places_store))) as client:
        yield client


def test_the_sample_answers_as_recorded(golden_client: TestClient, places_store: Path):
    answers = dict(_answers(golden_client, sample_values(places_store)))
    if os.environ.get("SASARAN_WRITE_GOLDEN"):
        FIXTURE.write_text(json.dumps(answers, indent=1, sort_keys=True) + "\n")
        pytest.skip(f"wrote {FIXTURE.name} ({len(answers)} answers)")
    recorded = json.loads(FIXTURE.read_text())
    assert set(answers) == set(recorded), "the sample changed: regenerate the fixture on purpose"
    changed = {key: (recorded[key], answers[key]) for key in answers if answers[key] != recorded[key]}
    assert not changed, "answers differ from the recorded ones:\n" + "\n".join(
        f"{key}\n  recorded {old}\n  now      {new}" for key, (old, new) in changed.items()
    )


def test_the_sample_covers_every_kind_of_answer():
    # Collections, items pages, single items, tiles, scores, HTML, errors: each is in the sample.
    paths = [template for template, _ in REQUESTS]
    kinds = ("/collections/villages", "items?", "items/{village}", "WebMercatorQuad/{tile", "/scores/")
    for part in kinds:
        assert any(part in path for path in paths), part
    assert any("f=html" in path for path in paths)
    assert any(path.startswith("/collections/nowhere") for path in paths)
