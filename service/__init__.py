"""Sasaran's HTTP service: a thin FastAPI skin over `layers` (docs/architecture.md)."""
