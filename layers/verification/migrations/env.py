"""Alembic's environment for the verification database.

Migrations always run on a connection that `layers.verification.db.upgrade` opens and passes in
``config.attributes["connection"]`` (in its own write transaction); there is no ``alembic.ini``.
To add a migration, copy the newest file in ``versions/``, give it the next number and its
``down_revision``, and change `layers.verification.tables` to match: ``tests/verification/
test_migrations.py`` checks that migrating gives exactly those tables and loses no row.
"""

from __future__ import annotations

from alembic import context

from layers.verification.tables import metadata

connection = context.config.attributes.get("connection")
if connection is None:
    raise RuntimeError("run migrations through layers.verification.db.upgrade (it passes a connection)")

context.configure(
    connection=connection,
    target_metadata=metadata,
    # SQLite alters a table by copying it: batch mode does that where a migration needs it.
    render_as_batch=connection.dialect.name == "sqlite",
    compare_type=True,
)
with context.begin_transaction():
    context.run_migrations()
