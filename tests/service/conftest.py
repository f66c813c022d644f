"""Service fixtures: the real app over the session's built store (lifespan included)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from service.app import create_app
from service.catalog import Served
from service.settings import Settings


@pytest.fixture(scope="session")
def service_store(store_dir: Path) -> Path:
    """The session's built demo store (tests/conftest.py)."""
    return store_dir


@pytest.fixture(scope="session")
def app_settings(service_store: Path) -> Settings:
    """Settings over the session store, with a small max_limit to exercise clamping."""
    return Settings(store_dir=service_store, max_limit=500)


def prepared(client: TestClient) -> Served:
    """The build a started app serves, once its catalog is prepared (the lifespan prepares it in
    the background: `service.app.lifespan`)."""

    async def wait() -> Served:
        return await client.app.state.preparing  # type: ignore[attr-defined]

    return client.portal.call(wait)  # type: ignore[union-attr]


@pytest.fixture(scope="module")
def client(app_settings: Settings) -> Iterator[TestClient]:
    """The real app; `with` runs the lifespan (store opened and prepared once per module)."""
    with TestClient(create_app(app_settings)) as c:
        prepared(c)
        yield c
