"""The service starts without its heavy optional modules: they load when a request first needs them.

matplotlib and fpdf2 draw the PDF briefing, openpyxl writes XLSX, Dask runs national builds,
scikit-image and rasterio belong to the build, typer and rich to the command line. Importing
them cost a start seconds (issue 21: 10 s of 26 s was the briefing alone). Each check runs in a
fresh interpreter, so nothing another test imported counts. Timings are benchmarks
(docs/benchmarks.md, `scripts/bench_startup.py`), not tests.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
#: Loaded only by the request (or command) that needs them.
OPTIONAL = ("matplotlib", "fpdf", "openpyxl", "dask", "distributed", "skimage", "rasterio", "typer", "rich")


def _loaded_after(code: str, env: dict[str, str] | None = None) -> set[str]:
    """The top-level modules a fresh interpreter holds after running ``code``."""
    probe = code + "\nimport sys, json\nprint(json.dumps(sorted({m.split('.')[0] for m in sys.modules})))"
    done = subprocess.run(
        [sys.executable, "-c", probe],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=300,
        check=True,
        env=env,
    )
    return set(json.loads(done.stdout.strip().splitlines()[-1]))


def test_importing_the_app_loads_no_optional_module() -> None:
    loaded = _loaded_after("import service.app")
    assert "fastapi" in loaded and "layers" in loaded  # the probe sees real imports
    assert not loaded & set(OPTIONAL), sorted(loaded & set(OPTIONAL))


def test_starting_and_answering_loads_no_optional_module(store_dir: Path) -> None:
    """The lifespan (catalog, tiles, scoring) and the first requests need none of them either."""
    code = (
        "from fastapi.testclient import TestClient\n"
        "from service.app import create_app\n"
        "from service.settings import Settings\n"
        f"with TestClient(create_app(Settings(store_dir={str(store_dir)!r}))) as client:\n"
        "    for path in ('/healthz', '/collections/villages/items?limit=2', '/scores/kabupaten'):\n"
        "        assert client.get(path).status_code == 200, path\n"
    )
    # The test client itself (httpx) imports rich: only what the service adds counts.
    loaded = _loaded_after(code) - _loaded_after("from fastapi.testclient import TestClient")
    assert "service" in loaded
    assert not loaded & set(OPTIONAL), sorted(loaded & set(OPTIONAL))


@pytest.mark.parametrize(
    ("path", "needs"),
    [("/exports/villages.xlsx", "openpyxl"), ("/targets?f=pdf", "matplotlib")],
)
def test_a_download_loads_its_writer_when_asked(
    store_dir: Path, tmp_path: Path, path: str, needs: str
) -> None:
    """The probe is not blind: the request that needs a writer does load it (an export cache of its
    own: a file another test already wrote would be served without writing)."""
    request = "client.post(path, json={'budget': 5e9})" if path.startswith("/targets") else "client.get(path)"
    code = (
        "from fastapi.testclient import TestClient\n"
        "from service.app import create_app\n"
        "from service.settings import Settings\n"
        f"path = {path!r}\n"
        f"settings = Settings(store_dir={str(store_dir)!r}, export_dir={str(tmp_path)!r})\n"
        "with TestClient(create_app(settings)) as client:\n"
        f"    assert {request}.status_code == 200\n"
    )
    assert needs in _loaded_after(code)


def test_healthz_answers_while_the_catalog_is_prepared_and_data_waits_for_it(
    store_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """``/healthz`` does not wait for the catalog (ready: false); data requests do, then answer."""
    import threading

    from fastapi.testclient import TestClient

    from service import catalog
    from service.app import create_app
    from service.settings import Settings

    release = threading.Event()
    real = catalog.prepare_served

    def held(store):  # the preparation, held until the test lets it go
        assert release.wait(timeout=120), "never released"
        return real(store)

    monkeypatch.setattr("service.app.prepare_served", held)
    with TestClient(create_app(Settings(store_dir=store_dir))) as client:
        early = client.get("/healthz")
        assert early.status_code == 200 and early.json()["ready"] is False
        assert early.json()["build_id"] and early.json()["synthetic"] is True
        waiting: dict[str, int] = {}
        request = threading.Thread(
            target=lambda: waiting.update(status=client.get("/collections/villages").status_code)
        )
        request.start()
        request.join(timeout=0.5)
        assert request.is_alive() and not waiting  # it waits for the catalog, it is not refused
        release.set()
        request.join(timeout=120)
        assert waiting == {"status": 200}
        assert client.get("/healthz").json()["ready"] is True


def test_a_store_that_cannot_be_prepared_answers_503_naming_it(
    store_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from fastapi.testclient import TestClient

    from service.app import create_app
    from service.settings import Settings

    def broken(store):
        raise ValueError("a corrupt part.parquet")

    monkeypatch.setattr("service.app.prepare_served", broken)
    with TestClient(create_app(Settings(store_dir=store_dir))) as client:
        data = client.get("/collections/villages")
        assert data.status_code == 503
        assert data.headers["content-type"] == "application/problem+json"
        assert "could not be prepared" in data.json()["detail"] and str(store_dir) in data.json()["detail"]
        health = client.get("/healthz")
        assert health.status_code == 503 and "could not be prepared" in health.json()["detail"]
