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
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from unittest import mock

import pandas as pd
import pytest
from fastapi.testclient import TestClient
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url

from layers.verification.audit import cli_actor
from layers.verification.crypto import FieldCipher
from layers.verification.db import Database, normalise_url
from layers.verification.rounds import Round, seed_round
from service.app import create_app
from service.settings import Settings

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
    dummy = cheap.hash("dummy")
    monkeypatch.setattr(accounts, "_dummy_hash", lambda: dummy)


# ------------------------------------------------------------------ the service over the session store


@dataclass
class Service:
    """The real app (TestClient over https) on the session's demo store with its register seeded."""

    app: Any
    client: TestClient
    db: Database
    #: Village codes: a desa's own village and others at each level (`regions`).
    codes: dict[str, str]
    #: role or case -> bearer token of an account for it.
    tokens: dict[str, str]
    password: str = "kopi-tubruk-2024"

    def auth(self, who: str) -> dict[str, str]:
        """Headers with the bearer token of ``who``."""
        return {"Authorization": f"Bearer {self.tokens[who]}"}

    def fresh_client(self) -> TestClient:
        """Another browser (its own cookie jar) on the same app."""
        return TestClient(self.app, base_url="https://testserver")

    def family_in(self, code: str) -> dict[str, Any]:
        """The first family of a village, read with the provinsi token."""
        page = self.client.get(
            f"/verification/villages/{code}/families?limit=1", headers=self.auth("provinsi")
        )
        assert page.status_code == 200, page.text
        return page.json()["families"][0]


def _regions(db: Database) -> dict[str, str]:
    with db.read() as conn:
        rows = conn.execute(
            text("SELECT code, kecamatan_code, kabupaten_code FROM villages ORDER BY code")
        ).all()
    own = rows[0]
    same_kecamatan = next(r for r in rows if r.kecamatan_code == own.kecamatan_code and r.code != own.code)
    other_kabupaten = next(r for r in rows if r.kabupaten_code != own.kabupaten_code)
    return {
        "village": own.code,
        "village_same_kecamatan": same_kecamatan.code,
        "village_other_kabupaten": other_kabupaten.code,
        "kecamatan": own.kecamatan_code,
        "kecamatan_other": other_kabupaten.kecamatan_code,
        "kabupaten": own.kabupaten_code,
        "kabupaten_other": other_kabupaten.kabupaten_code,
    }


#: Accounts the service fixture makes: name -> (role, region key in `_regions` or a code).
ACCOUNTS = {
    "desa": ("desa", "village"),
    "desa_other": ("desa", "village_other_kabupaten"),
    "kecamatan": ("kecamatan", "kecamatan"),
    "kecamatan_other": ("kecamatan", "kecamatan_other"),
    "kabupaten": ("kabupaten", "kabupaten"),
    "kabupaten_other": ("kabupaten", "kabupaten_other"),
    "provinsi": ("provinsi", "62"),
    "provinsi_other": ("provinsi", "63"),
    "disabled": ("desa", "village"),
}


@contextmanager
def running_app(store_dir: Path, key_file: Path, url: str, **settings: Any) -> Iterator[Service]:
    """The app on ``store_dir`` with database ``url``, register seeded, accounts and tokens made."""
    from argon2 import PasswordHasher

    from layers.verification import accounts

    app = create_app(Settings(store_dir=store_dir, database_url=url, reload_interval_s=0, **settings))
    cheap = PasswordHasher(time_cost=1, memory_cost=1024, parallelism=1)
    with (
        mock.patch.dict(os.environ, {"SASARAN_REGISTER_KEY_FILE": str(key_file)}),
        mock.patch.object(accounts, "_hasher", cheap),
        TestClient(app, base_url="https://testserver") as client,
    ):
        state = app.state.verification
        assert state.seeded.wait(300), "seeding did not finish"
        assert state.seed_problem is None, state.seed_problem
        db = state.db
        codes = _regions(db)
        tokens = {}
        for name, (role, region) in ACCOUNTS.items():
            accounts.create_account(
                db, name.replace("_", "-"), role, codes.get(region, region), "kopi-tubruk-2024", cli_actor()
            )
            tokens[name] = accounts.issue_token(db, name.replace("_", "-"), cli_actor(), days=1)
        accounts.set_disabled(db, "disabled", True, cli_actor())
        yield Service(app=app, client=client, db=db, codes=codes, tokens=tokens)


@pytest.fixture(scope="session")
def register_key_file(demo_sources: Path) -> Path:
    """The demo's register key (written beside its sources, outside the store)."""
    return demo_sources.parent / "register.key"


@pytest.fixture(scope="module", params=BACKENDS)
def service(
    request: pytest.FixtureRequest,
    store_dir: Path,
    register_key_file: Path,
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[Service]:
    """The app on the session store, once with SQLite and once with PostgreSQL (per test module)."""
    for url in fresh_database_url(request.param, tmp_path_factory.mktemp("verification")):
        with running_app(store_dir, register_key_file, url) as served:
            yield served
