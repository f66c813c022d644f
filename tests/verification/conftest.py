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

import pandas as pd
import pytest
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url

from layers.verification.audit import cli_actor
from layers.verification.crypto import FieldCipher
from layers.verification.db import Database, normalise_url
from layers.verification.rounds import Round, seed_round

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


# ------------------------------------------------------------------ a small register


class Key:
    """A register key (`layers.register.RegisterKey` has the same ``secret``)."""

    def __init__(self, secret: bytes = b"k" * 32):
        self.secret = secret


#: Four villages: two in one kecamatan, one in another kecamatan of the same kabupaten, one in
#: another kabupaten.
VILLAGES = pd.DataFrame(
    {
        "village_code": ["6201012001", "6201012002", "6201021001", "6202011001"],
        "village_name": ["Desa Satu", "Desa Dua", "Desa Tiga", "Desa Empat"],
        "kecamatan_code": ["6201012", "6201012", "6201021", "6202011"],
        "kecamatan_name": ["Kec Pertama", "Kec Pertama", "Kec Kedua", "Kec Ketiga"],
        "kabupaten_code": ["6201", "6201", "6201", "6202"],
        "kabupaten_name": ["Kab Alpha", "Kab Alpha", "Kab Alpha", "Kab Beta"],
    }
)


def make_register(per_village: int = 6, year: int = 2024) -> pd.DataFrame:
    """A register in canonical columns: ``per_village`` families in each of `VILLAGES`."""
    rows = []
    serial = 0
    for code in VILLAGES["village_code"]:
        for i in range(per_village):
            serial += 1
            rows.append(
                {
                    "family_id": f"P3KE-{serial:06d}",
                    "nik": f"{code[:6]}0101{85 + i % 10:02d}{serial:04d}",
                    "head_name": f"Kepala Sintetis {serial}",
                    "address": f"RT {i + 1:02d} Dusun Contoh {serial}",
                    "village_code": code,
                    "year": year,
                    "decile": 1 + i % 4,
                    "members": 3 + i % 3,
                    "elderly": i % 2,
                    "disabled": 0,
                    "female_head": i % 3 == 0,
                    "floor": "tanah" if i % 2 else "semen",
                    "water": "leding",
                    "lon": 113.5 + serial / 1000,
                    "lat": -2.0 - serial / 1000,
                }
            )
    return pd.DataFrame(rows)


def seed(db: Database, per_village: int = 6) -> tuple[FieldCipher, Round]:
    """Seed ``db`` with `make_register` (round 1)."""
    cipher = FieldCipher(Key())
    round_ = seed_round(
        db, cipher, make_register(per_village), VILLAGES, {"store": "test", "synthetic": True}, cli_actor()
    )
    return cipher, round_


@pytest.fixture
def seeded(db: Database) -> tuple[Database, FieldCipher, Round]:
    """A database seeded with the small register."""
    cipher, round_ = seed(db)
    return db, cipher, round_


@pytest.fixture(autouse=True)
def cheap_password_hashes(monkeypatch: pytest.MonkeyPatch) -> None:
    """argon2id with 1 MiB and one pass in this process: the tests create many accounts on 2 cores.

    Still argon2id, still checked; servers started by the tests (uvicorn) hash with the defaults.
    """
    from argon2 import PasswordHasher

    from layers.verification import accounts

    cheap = PasswordHasher(time_cost=1, memory_cost=1024, parallelism=1)
    monkeypatch.setattr(accounts, "_hasher", cheap)
    monkeypatch.setattr(accounts, "_DUMMY_HASH", cheap.hash("dummy"))
