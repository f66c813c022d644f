"""Vectorised row selection on a prepared table (level 4): `table` (bbox, equality, sort, paging)
and `cql2` (the CQL2 text and JSON filters)."""
