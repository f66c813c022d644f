"""The verification database: where it is, how it is opened, and its schema brought up to date.

SQLite by default, embedded: ``verification.db`` beside the store directory (never inside it: a
build swaps the store directory whole). PostgreSQL (psycopg 3) for a province with many verifiers:
``SASARAN_DATABASE_URL=postgresql://user@host/db``. Both hold the same tables
(`layers.verification.tables`), created and upgraded by Alembic migrations
(``layers/verification/migrations``) each time a database is opened, so there is no separate setup
step and an old database is upgraded in place without losing a row.

Writes are serialised where they must be: on SQLite a write transaction starts with
``BEGIN IMMEDIATE`` (so two writers never both read and then fail to upgrade their lock), in WAL
mode with a busy timeout, so readers never wait for writers; on PostgreSQL the audit log's head row
is locked for the length of each write (`layers.verification.audit`).
"""

from __future__ import annotations

import logging
import os
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from sqlalchemy import Connection, Engine, create_engine, event, inspect
from sqlalchemy.engine import make_url
from sqlalchemy.exc import ArgumentError, OperationalError
from sqlalchemy.pool import StaticPool

from layers.verification.errors import DatabaseError

log = logging.getLogger(__name__)

#: The SQLite file's name, beside the store directory.
DB_FILENAME = "verification.db"
#: Environment variable naming the database for the service and the command line.
DATABASE_URL_ENV = "SASARAN_DATABASE_URL"
#: Seconds a SQLite writer waits for another writer before it gives up.
SQLITE_BUSY_TIMEOUT_S = 30
MIGRATIONS = Path(__file__).resolve().parent / "migrations"


def database_path_for_store(store: str | Path) -> Path:
    """The SQLite file that belongs to a store: ``verification.db`` in the store's parent directory.

    Parameters
    ----------
    store
        The store directory (it need not exist yet).

    Returns
    -------
    Path
        ``<parent of store>/verification.db``.
    """
    return Path(store).absolute().parent / DB_FILENAME


def database_url(store: str | Path | None = None, url: str | None = None) -> str:
    """The database to use: ``url`` if given, else ``SASARAN_DATABASE_URL``, else the store's SQLite.

    Parameters
    ----------
    store
        The store directory; its SQLite file is the default.
    url
        An explicit SQLAlchemy URL (``sqlite:///path``, ``postgresql://user@host/db``).

    Returns
    -------
    str
        A URL with the driver spelled out (``postgresql+psycopg://``).
    """
    chosen = url or os.environ.get(DATABASE_URL_ENV)
    if not chosen:
        if store is None:
            raise DatabaseError(f"no database: give --store DIR or --database URL (or {DATABASE_URL_ENV})")
        chosen = f"sqlite:///{database_path_for_store(store)}"
    return normalise_url(chosen)


def normalise_url(url: str) -> str:
    """``postgres://`` and ``postgresql://`` as psycopg 3 URLs; other URLs as given (checked)."""
    try:
        parsed = make_url(url)
    except ArgumentError:
        raise DatabaseError("the database URL is not a URL (sqlite:///path or postgresql://...)") from None
    backend = parsed.get_backend_name()
    if backend in ("postgres", "postgresql"):
        parsed = parsed.set(drivername="postgresql+psycopg")
    elif backend != "sqlite":
        raise DatabaseError(f"unsupported database {backend!r}: use sqlite:///path or postgresql://...")
    return parsed.render_as_string(hide_password=False)


def redacted(url: str) -> str:
    """A URL fit for a message or a log line: the password hidden."""
    return make_url(url).render_as_string(hide_password=True)


@dataclass
class Database:
    """An open verification database: its engine and how to begin reads and writes.

    Open one with `Database.open`; it is safe to share between threads (each transaction takes its
    own pooled connection).
    """

    url: str
    engine: Engine
    #: Anything the caller wants to keep beside the database (the service keeps its caches here).
    extras: dict[str, Any] = field(default_factory=dict)

    @classmethod
    def open(cls, url: str, *, migrate: bool = True) -> Database:
        """Connect to ``url`` and upgrade its schema to the newest migration (creating it if empty).

        Parameters
        ----------
        url
            A URL from `database_url`.
        migrate
            Upgrade the schema (default). False only for tests of the migrations themselves.

        Returns
        -------
        Database
            The open database.

        Raises
        ------
        DatabaseError
            The server cannot be reached, the file cannot be created, or the schema is newer than
            this code.
        """
        url = normalise_url(url)
        engine = _engine(url)
        db = cls(url=url, engine=engine)
        if migrate:
            try:
                upgrade(db)
            except OperationalError as exc:
                engine.dispose()
                raise DatabaseError(f"cannot open the database {redacted(url)}: {exc.orig}") from None
        return db

    @property
    def dialect(self) -> str:
        """``sqlite`` or ``postgresql``."""
        return self.engine.dialect.name

    @property
    def is_sqlite(self) -> bool:
        """Whether this is the embedded SQLite database."""
        return self.dialect == "sqlite"

    @contextmanager
    def write(self) -> Iterator[Connection]:
        """A write transaction: committed when the block ends, rolled back if it raises.

        Writes are serialised, the same on both databases: SQLite's write lock is taken by the first
        statement (``BEGIN IMMEDIATE``); on PostgreSQL the first statement locks the audit log's
        head row, which every write ends by moving. Taking that one lock first, always, means two
        writers never hold locks the other wants (no deadlock) and each sees the other's commit.
        """
        with self.engine.connect() as plain:
            conn = plain.execution_options(sasaran_write=True)
            with conn.begin():
                if not self.is_sqlite:
                    conn.exec_driver_sql("SELECT seq FROM audit_head WHERE id = 1 FOR UPDATE")
                yield conn

    @contextmanager
    def read(self) -> Iterator[Connection]:
        """A read-only transaction with a consistent view (a snapshot in WAL mode and PostgreSQL)."""
        with self.engine.connect() as plain:
            conn = plain if self.is_sqlite else plain.execution_options(isolation_level="REPEATABLE READ")
            with conn.begin():
                yield conn

    def dispose(self) -> None:
        """Close every pooled connection."""
        self.engine.dispose()

    def __repr__(self) -> str:
        return f"Database({redacted(self.url)!r})"


def _engine(url: str) -> Engine:
    if make_url(url).get_backend_name() == "sqlite":
        return _sqlite_engine(url)
    # READ COMMITTED (the default) with row locks and conditional updates for every write; the
    # pool is sized for one service worker's threads.
    return create_engine(url, pool_size=10, max_overflow=30, pool_pre_ping=True, pool_recycle=1800)


def _sqlite_engine(url: str) -> Engine:
    database = make_url(url).database
    if database and database != ":memory:":
        Path(database).parent.mkdir(parents=True, exist_ok=True)
    # Pooled (opening a connection and setting its pragmas costs more than most transactions here).
    # Service workers are spawned, not forked, so no connection is shared between processes;
    # ``:memory:`` databases keep one connection (each new one would be another database).
    memory = not database or database == ":memory:"
    engine = create_engine(
        url,
        connect_args={"timeout": SQLITE_BUSY_TIMEOUT_S, "check_same_thread": False},
        **({"poolclass": StaticPool} if memory else {"pool_size": 10, "max_overflow": 30}),
    )

    @event.listens_for(engine, "connect")
    def _pragmas(dbapi_connection: Any, _record: Any) -> None:
        # Let SQLAlchemy's "begin" event below issue BEGIN itself (pysqlite would defer it).
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute(f"PRAGMA busy_timeout={SQLITE_BUSY_TIMEOUT_S * 1000}")
        cursor.execute("PRAGMA foreign_keys=ON")
        # FULL: a committed change (and its audit entry) survives a power cut, not only a crash.
        cursor.execute("PRAGMA synchronous=FULL")
        cursor.close()

    @event.listens_for(engine, "begin")
    def _begin(conn: Connection) -> None:
        immediate = conn.get_execution_options().get("sasaran_write", False)
        conn.exec_driver_sql("BEGIN IMMEDIATE" if immediate else "BEGIN")

    return engine


def _alembic_config(conn: Connection) -> Any:
    from alembic.config import Config

    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    config.attributes["connection"] = conn
    return config


def upgrade(db: Database, revision: str = "head") -> None:
    """Bring the schema to ``revision`` (default the newest); a no-op when it is there already.

    Parameters
    ----------
    db
        The database.
    revision
        An Alembic revision id, or ``head``.
    """
    from alembic import command

    with db.engine.connect() as plain:
        conn = plain.execution_options(sasaran_write=True)
        with conn.begin():
            current = current_revision(conn)
            if current is not None and current not in revisions():
                raise DatabaseError(
                    f"the database {redacted(db.url)} has schema revision {current}, newer than this "
                    f"Sasaran knows ({head_revision()}): upgrade Sasaran"
                )
            if current == head_revision() and revision == "head":
                return
            command.upgrade(_alembic_config(conn), revision)


def current_revision(conn: Connection) -> str | None:
    """The schema revision of the database (None: empty)."""
    from alembic.runtime.migration import MigrationContext

    return MigrationContext.configure(conn).get_current_revision()


def head_revision() -> str:
    """The newest migration this code knows."""
    from alembic.script import ScriptDirectory

    config = _alembic_config(None)  # type: ignore[arg-type]
    head = ScriptDirectory.from_config(config).get_current_head()
    assert head is not None
    return head


def revisions() -> list[str]:
    """Every migration, oldest first."""
    from alembic.script import ScriptDirectory

    script = ScriptDirectory.from_config(_alembic_config(None))  # type: ignore[arg-type]
    return [rev.revision for rev in reversed(list(script.walk_revisions()))]


def table_names(db: Database) -> list[str]:
    """The tables in the database (for checks and tests)."""
    return sorted(inspect(db.engine).get_table_names())
