"""One module per schema revision, oldest first (v0001, v0002, ...)."""
