"""Verification and validation of the register, village by village (docs/verification.md).

A database of its own (SQLite beside the store, or PostgreSQL): accounts bound to regions, the
working copy of the register with each family's status, the village workflow (desa → kecamatan →
kabupaten), a hash-chained audit log, offline sheets, and snapshots of approved villages that the
next build reads. No HTTP here: `service.verification` serves it.
"""
