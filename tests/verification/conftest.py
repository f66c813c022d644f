"""Fixtures of the verification tests: every test that takes `database_url` runs on SQLite and on
PostgreSQL.

PostgreSQL comes from ``SASARAN_TEST_DATABASE_URL`` (``.ci/run`` starts one with
``scripts/ci-postgres.sh``); each test gets a schema of its own in that database, dropped after it.
Without the variable the PostgreSQL variants skip and say how to run them.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url

from layers.verification.db import Database, normalise_url

PG_URL = os.environ.get("SASARAN_TEST_DATABASE_URL")
PG_SKIP = (
    "PostgreSQL variant: set SASARAN_TEST_DATABASE_URL to a PostgreSQL database "
    '(eval "$(bash scripts/ci-postgres.sh start)" starts one)'
)
BACKENDS = ("sqlite", "postgresql")


def postgres_schema_url(schema: str) -> str:
    """The test database's URL with ``schema`` first on the search path."""
    assert PG_URL
    url = make_url(normalise_url(PG_URL))
    url = url.update_query_dict({"options": f"-csearch_path={schema}"})
    return url.render_as_string(hide_password=False)


def _admin_execute(statement: str) -> None:
    assert PG_URL
    engine = create_engine(normalise_url(PG_URL), isolation_level="AUTOCOMMIT")
    try:
        with engine.connect() as conn:
            conn.execute(text(statement))
    finally:
        engine.dispose()


def fresh_database_url(backend: str, directory: Path) -> Iterator[str]:
    """An empty database of ``backend`` for one test (a SQLite file, or a PostgreSQL schema)."""
    if backend == "sqlite":
        yield f"sqlite:///{directory / 'verification.db'}"
        return
    if not PG_URL:
        pytest.skip(PG_SKIP)
    schema = f"t_{uuid.uuid4().hex[:16]}"
    _admin_execute(f'CREATE SCHEMA "{schema}"')
    try:
        yield postgres_schema_url(schema)
    finally:
        _admin_execute(f'DROP SCHEMA "{schema}" CASCADE')


@pytest.fixture(params=BACKENDS)
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """An empty database URL, once for SQLite and once for PostgreSQL."""
    yield from fresh_database_url(request.param, tmp_path)


@pytest.fixture
def db(database_url: str) -> Iterator[Database]:
    """The database at `database_url`, migrated to the newest schema."""
    opened = Database.open(database_url)
    try:
        yield opened
    finally:
        opened.dispose()
