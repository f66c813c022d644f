"""Alembic migrations of the verification database (`layers.verification.db.upgrade` runs them)."""
