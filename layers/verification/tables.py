"""The tables of the verification database (SQLAlchemy Core), as the newest migration leaves them.

The migrations in ``layers/verification/migrations/versions`` create and change them; a test
checks that migrating an empty database gives exactly these tables. Times are ISO 8601 text in
UTC with microseconds (`now`), so that they sort, compare and hash the same on SQLite and
PostgreSQL. Personal fields (a family's name, NIK, address, coordinates) are stored only as
ciphertext (`layers.verification.crypto`).
"""

from __future__ import annotations

from datetime import UTC, datetime

from sqlalchemy import (
    Boolean,
    Column,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    String,
    Table,
    Text,
    UniqueConstraint,
)

metadata = MetaData(
    naming_convention={
        "ix": "ix_%(table_name)s_%(column_0_N_name)s",
        "uq": "uq_%(table_name)s_%(column_0_N_name)s",
        "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
        "pk": "pk_%(table_name)s",
        "ck": "ck_%(table_name)s_%(constraint_name)s",
    }
)

TIME = String(32)


def now() -> str:
    """The current time as stored: ``2026-11-01T08:30:00.123456+00:00``."""
    return datetime.now(UTC).isoformat(timespec="microseconds")


# ------------------------------------------------------------------ accounts (revision 0001)

accounts = Table(
    "accounts",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("name", String(64), nullable=False, unique=True),
    Column("role", String(16), nullable=False),
    Column("region", String(16), nullable=False),
    # argon2id (PHC string); null for an account that signs in only through OpenID Connect.
    Column("password_hash", String(255)),
    Column("oidc_subject", String(255), unique=True),
    Column("disabled", Boolean, nullable=False, default=False),
    Column("created_at", TIME, nullable=False),
    Column("created_by", String(128), nullable=False),
    Column("updated_at", TIME, nullable=False),
    Column("last_signin_at", TIME),
)

#: Sessions (cookie) and bearer tokens. Only the SHA-256 of a secret is kept: a copy of the
#: database gives nobody a way in.
credentials = Table(
    "credentials",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("secret_hash", String(64), nullable=False, unique=True),
    Column("account_id", Integer, ForeignKey("accounts.id"), nullable=False, index=True),
    Column("kind", String(8), nullable=False),  # session | token
    Column("label", String(128)),
    Column("created_at", TIME, nullable=False),
    Column("expires_at", TIME, nullable=False),
    Column("last_used_at", TIME),
    Column("revoked_at", TIME),
)

#: Failed sign-ins, for the limits per account and per address (`layers.verification.accounts`).
signin_failures = Table(
    "signin_failures",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("account_name", String(64), nullable=False),
    Column("address", String(64), nullable=False),
    Column("at", TIME, nullable=False),
    Index("ix_signin_failures_account_at", "account_name", "at"),
    Index("ix_signin_failures_address_at", "address", "at"),
)

# ------------------------------------------------------------------ the audit log (revision 0001)

#: Append-only and hash-chained (`layers.verification.audit`); triggers refuse UPDATE and DELETE.
audit_log = Table(
    "audit_log",
    metadata,
    Column("seq", Integer, primary_key=True, autoincrement=False),
    Column("at", TIME, nullable=False),
    Column("actor", String(128), nullable=False),
    Column("role", String(16), nullable=False),
    Column("region", String(16)),
    Column("action", String(64), nullable=False),
    Column("record", String(255), nullable=False),
    Column("field", String(64)),
    Column("old", Text),
    Column("new", Text),
    Column("reason", Text),
    Column("address", String(64)),
    Column("prev_hash", String(64), nullable=False),
    Column("hash", String(64), nullable=False),
    Index("ix_audit_log_record", "record"),
    Index("ix_audit_log_region", "region"),
)

#: One row: the newest entry's number and hash. Writers lock it, which orders the chain.
audit_head = Table(
    "audit_head",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=False),
    Column("seq", Integer, nullable=False),
    Column("hash", String(64), nullable=False),
)

# ------------------------------------------------------------------ the register's rounds (revision 0002)

#: A round of verification: the register as it was when the round started. One is ``active``;
#: starting a new one archives it (its villages and families stay, read-only).
rounds = Table(
    "rounds",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("number", Integer, nullable=False, unique=True),
    Column("state", String(16), nullable=False),  # active | archived
    Column("year", Integer, nullable=False),
    Column("key_id", String(16), nullable=False),
    Column("source", Text, nullable=False),  # JSON: store name, build id, register digest, synthetic
    Column("families", Integer, nullable=False),
    Column("villages", Integer, nullable=False),
    Column("started_at", TIME, nullable=False),
    Column("started_by", String(128), nullable=False),
    Column("archived_at", TIME),
)

#: The villages of a round with their place in the workflow (`layers.verification.workflow`).
villages = Table(
    "villages",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("round_id", Integer, ForeignKey("rounds.id"), nullable=False),
    Column("code", String(16), nullable=False),
    Column("name", String(255), nullable=False),
    Column("kecamatan_code", String(16), nullable=False),
    Column("kecamatan_name", String(255), nullable=False),
    Column("kabupaten_code", String(16), nullable=False),
    Column("kabupaten_name", String(255), nullable=False),
    Column("state", String(16), nullable=False),
    Column("note", Text),
    Column("counts", Text, nullable=False),  # JSON: status -> families
    Column("version", Integer, nullable=False),
    Column("updated_at", TIME, nullable=False),
    Column("updated_by", String(128), nullable=False),
    UniqueConstraint("round_id", "code", name="uq_villages_round_id_code"),
)

#: The working copy of the register: one row per family of a round, personal fields sealed.
families = Table(
    "families",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("round_id", Integer, ForeignKey("rounds.id"), nullable=False),
    Column("village_code", String(16), nullable=False),
    Column("origin", String(16), nullable=False),  # register | usulan_baru
    Column("family_key", String(32), nullable=False),  # keyed hash of the family id
    Column("nik_key", String(32), nullable=False),  # keyed hash of the head's NIK
    Column("personal", Text, nullable=False),  # sealed: family_id, nik, head_name, address, lon, lat
    Column("decile", Integer, nullable=False),
    Column("members", Integer, nullable=False),
    Column("elderly", Integer),
    Column("disabled", Integer),
    Column("female_head", Boolean),
    Column("attributes", Text, nullable=False),  # JSON: the household attributes, year
    Column("status", String(16), nullable=False),
    Column("reason", Text),
    Column("changes", Text),  # sealed: corrected fields -> new values
    Column("version", Integer, nullable=False),
    Column("updated_at", TIME, nullable=False),
    Column("updated_by", String(128), nullable=False),
    UniqueConstraint("round_id", "family_key", name="uq_families_round_id_family_key"),
    Index("ix_families_round_village", "round_id", "village_code", "id"),
    Index("ix_families_round_nik", "round_id", "nik_key"),
)

# ------------------------------------------------------------------ snapshots (revision 0003)

#: A snapshot of the verified register, taken for a build (`layers.verification.snapshots`): its
#: time and its place in the audit log (the ``snapshot.take`` entry's number and hash).
snapshots = Table(
    "snapshots",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("round_id", Integer, ForeignKey("rounds.id"), nullable=False),
    Column("year", Integer, nullable=False),
    Column("taken_at", TIME, nullable=False),
    Column("taken_by", String(128), nullable=False),
    Column("audit_seq", Integer, nullable=False),
    Column("audit_hash", String(64), nullable=False),
    Column("families", Integer, nullable=False),
    Column("verified_villages", Text, nullable=False),  # JSON: the approved villages' codes
    Column("note", Text),
)

#: The families of a snapshot as they were: approved villages' kept families with corrections laid
#: over them (``verified`` true), and the other villages' families as the round's register had them.
snapshot_families = Table(
    "snapshot_families",
    metadata,
    Column("snapshot_id", Integer, ForeignKey("snapshots.id"), primary_key=True),
    Column("family_key", String(32), primary_key=True),
    Column("village_code", String(16), nullable=False),
    Column("verified", Boolean, nullable=False),
    Column("origin", String(16), nullable=False),
    Column("status", String(16), nullable=False),
    Column("decile", Integer, nullable=False),
    Column("members", Integer, nullable=False),
    Column("elderly", Integer),
    Column("disabled", Integer),
    Column("female_head", Boolean),
    Column("attributes", Text, nullable=False),
    Column("personal", Text, nullable=False),  # sealed, bound to the snapshot
)

__all__ = [
    "accounts",
    "audit_head",
    "audit_log",
    "credentials",
    "families",
    "metadata",
    "now",
    "rounds",
    "signin_failures",
    "snapshot_families",
    "snapshots",
    "villages",
]
