"""Sasaran's HTTP service: a thin FastAPI skin over `layers` (DESIGN §1, §7)."""
