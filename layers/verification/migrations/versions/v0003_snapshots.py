"""Snapshots of the verified register, for builds and year-on-year comparison.

Revision ID: 0003
Revises: 0002
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None

TIME = sa.String(32)


def upgrade() -> None:
    """Create ``snapshots`` and ``snapshot_families``."""
    op.create_table(
        "snapshots",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("round_id", sa.Integer, nullable=False),
        sa.Column("year", sa.Integer, nullable=False),
        sa.Column("taken_at", TIME, nullable=False),
        sa.Column("taken_by", sa.String(128), nullable=False),
        sa.Column("audit_seq", sa.Integer, nullable=False),
        sa.Column("audit_hash", sa.String(64), nullable=False),
        sa.Column("families", sa.Integer, nullable=False),
        sa.Column("verified_villages", sa.Text, nullable=False),
        sa.Column("note", sa.Text),
        sa.PrimaryKeyConstraint("id", name="pk_snapshots"),
        sa.ForeignKeyConstraint(["round_id"], ["rounds.id"], name="fk_snapshots_round_id_rounds"),
    )
    op.create_table(
        "snapshot_families",
        sa.Column("snapshot_id", sa.Integer, nullable=False),
        sa.Column("family_key", sa.String(32), nullable=False),
        sa.Column("village_code", sa.String(16), nullable=False),
        sa.Column("verified", sa.Boolean, nullable=False),
        sa.Column("origin", sa.String(16), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("decile", sa.Integer, nullable=False),
        sa.Column("members", sa.Integer, nullable=False),
        sa.Column("elderly", sa.Integer),
        sa.Column("disabled", sa.Integer),
        sa.Column("female_head", sa.Boolean),
        sa.Column("attributes", sa.Text, nullable=False),
        sa.Column("personal", sa.Text, nullable=False),
        sa.PrimaryKeyConstraint("snapshot_id", "family_key", name="pk_snapshot_families"),
        sa.ForeignKeyConstraint(
            ["snapshot_id"], ["snapshots.id"], name="fk_snapshot_families_snapshot_id_snapshots"
        ),
    )


def downgrade() -> None:
    """Not supported: restore a backup instead."""
    raise NotImplementedError("the verification database is never downgraded; restore a backup instead")
