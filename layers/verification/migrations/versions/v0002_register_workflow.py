"""The register's rounds, villages in the workflow, and the families' working copy.

Revision ID: 0002
Revises: 0001
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None

TIME = sa.String(32)


def upgrade() -> None:
    """Create ``rounds``, ``villages`` and ``families`` (empty: seeded from the store on first use)."""
    op.create_table(
        "rounds",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("number", sa.Integer, nullable=False),
        sa.Column("state", sa.String(16), nullable=False),
        sa.Column("year", sa.Integer, nullable=False),
        sa.Column("key_id", sa.String(16), nullable=False),
        sa.Column("source", sa.Text, nullable=False),
        sa.Column("families", sa.Integer, nullable=False),
        sa.Column("villages", sa.Integer, nullable=False),
        sa.Column("started_at", TIME, nullable=False),
        sa.Column("started_by", sa.String(128), nullable=False),
        sa.Column("archived_at", TIME),
        sa.PrimaryKeyConstraint("id", name="pk_rounds"),
        sa.UniqueConstraint("number", name="uq_rounds_number"),
    )
    op.create_table(
        "villages",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("round_id", sa.Integer, nullable=False),
        sa.Column("code", sa.String(16), nullable=False),
        sa.Column("name", sa.String(255), nullable=False),
        sa.Column("kecamatan_code", sa.String(16), nullable=False),
        sa.Column("kecamatan_name", sa.String(255), nullable=False),
        sa.Column("kabupaten_code", sa.String(16), nullable=False),
        sa.Column("kabupaten_name", sa.String(255), nullable=False),
        sa.Column("state", sa.String(16), nullable=False),
        sa.Column("note", sa.Text),
        sa.Column("counts", sa.Text, nullable=False),
        sa.Column("version", sa.Integer, nullable=False),
        sa.Column("updated_at", TIME, nullable=False),
        sa.Column("updated_by", sa.String(128), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_villages"),
        sa.ForeignKeyConstraint(["round_id"], ["rounds.id"], name="fk_villages_round_id_rounds"),
        sa.UniqueConstraint("round_id", "code", name="uq_villages_round_id_code"),
    )
    op.create_table(
        "families",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("round_id", sa.Integer, nullable=False),
        sa.Column("village_code", sa.String(16), nullable=False),
        sa.Column("origin", sa.String(16), nullable=False),
        sa.Column("family_key", sa.String(32), nullable=False),
        sa.Column("nik_key", sa.String(32), nullable=False),
        sa.Column("personal", sa.Text, nullable=False),
        sa.Column("decile", sa.Integer, nullable=False),
        sa.Column("members", sa.Integer, nullable=False),
        sa.Column("elderly", sa.Integer),
        sa.Column("disabled", sa.Integer),
        sa.Column("female_head", sa.Boolean),
        sa.Column("attributes", sa.Text, nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("reason", sa.Text),
        sa.Column("changes", sa.Text),
        sa.Column("version", sa.Integer, nullable=False),
        sa.Column("updated_at", TIME, nullable=False),
        sa.Column("updated_by", sa.String(128), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_families"),
        sa.ForeignKeyConstraint(["round_id"], ["rounds.id"], name="fk_families_round_id_rounds"),
        sa.UniqueConstraint("round_id", "family_key", name="uq_families_round_id_family_key"),
    )
    op.create_index("ix_families_round_village", "families", ["round_id", "village_code", "id"])
    op.create_index("ix_families_round_nik", "families", ["round_id", "nik_key"])


def downgrade() -> None:
    """Not supported: restore a backup instead."""
    raise NotImplementedError("the verification database is never downgraded; restore a backup instead")
