"""Domain errors. They carry no HTTP status; `service.errors` maps them.

Each also inherits from the builtin a caller would naturally catch (h3-py's manners), and the
message names the place: file, row or feature, field, problem.
"""

from __future__ import annotations


class SasaranError(Exception):
    """Base class of every error Sasaran raises on purpose."""


class SourceError(SasaranError, ValueError):
    """A source file is unreadable or its content is invalid.

    The message reads ``villages.gpkg, feature 17, field 'kode_desa': duplicate code '6201010001'``.
    """

    def __init__(self, file: str, row: int | str | None, field: str | None, problem: str):
        self.file, self.row, self.field, self.problem = str(file), row, field, problem
        parts = [self.file]
        if row is not None:
            parts.append(row if isinstance(row, str) else f"row {row}")
        if field is not None:
            parts.append(f"field '{field}'")
        super().__init__(f"{', '.join(parts)}: {problem}")


class ConfigError(SasaranError, ValueError):
    """A configuration or indicator spec is invalid (the message names the file and the entry)."""


class StoreError(SasaranError, OSError):
    """A layer store is missing, incomplete or from an incompatible version."""


class StoreLocked(StoreError):
    """Another build is writing the same store (its lock is held)."""


class LayerNotFound(SasaranError, KeyError):
    """A layer (collection) name that the store does not hold."""

    def __str__(self) -> str:  # KeyError quotes its argument; a person wants the sentence.
        return str(self.args[0]) if self.args else "layer not found"


class InvalidQuery(SasaranError, ValueError):
    """A request parameter that cannot be honoured (the message says which and why)."""


class InfeasibleTargeting(InvalidQuery):
    """Targeting constraints that no selection can satisfy (the message names the constraint)."""
