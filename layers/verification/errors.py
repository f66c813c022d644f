"""The errors of verification. No HTTP codes here: `service.verification.errors` maps them.

Messages are written for the person who caused them and never quote personal data (a family's
name, NIK or address): they name records by their id and fields by their name.
"""

from __future__ import annotations

from typing import Any

from layers.errors import SasaranError


class VerificationError(SasaranError):
    """Base class of the errors below."""


class DatabaseError(VerificationError, OSError):
    """The verification database cannot be opened, or is of another schema than this code knows."""


class NotSignedIn(VerificationError, PermissionError):
    """No credentials, or credentials that are unknown, expired, revoked or of a disabled account."""


class SignInFailed(NotSignedIn):
    """A wrong name or password (which of the two is never said)."""


class TooManyAttempts(VerificationError, PermissionError):
    """Sign-in refused for a while after repeated failures for the account or the address."""

    def __init__(self, message: str, retry_after_s: int):
        super().__init__(message)
        self.retry_after_s = retry_after_s


class Forbidden(VerificationError, PermissionError):
    """The caller's role may not do this in its own region (a desa account approving, say)."""


class RecordNotFound(VerificationError, KeyError):
    """No such record in the caller's region. Said the same whether it exists elsewhere or nowhere."""

    def __str__(self) -> str:  # KeyError quotes its argument
        return str(self.args[0]) if self.args else "not found"


class Conflict(VerificationError):
    """A change made against a version that is no longer current, or in a state that forbids it.

    ``current`` is the record as it is now (what the caller should look at before trying again).
    """

    def __init__(self, message: str, current: dict[str, Any] | None = None):
        super().__init__(message)
        self.current = current


class InvalidInput(VerificationError, ValueError):
    """A value the workflow cannot take (an unknown status, a missing reason, a bad field)."""


class SheetRejected(VerificationError, ValueError):
    """An uploaded sheet with errors: nothing of it was written. ``errors`` lists each one.

    Every error is ``{"sheet", "row", "column", "message"}``, the message in Bahasa Indonesia.
    """

    def __init__(self, errors: list[dict[str, Any]]):
        self.errors = errors
        first = errors[0] if errors else {}
        where = f"lembar {first.get('sheet')}, baris {first.get('row')}, kolom {first.get('column')}"
        more = f" (dan {len(errors) - 1} kesalahan lain)" if len(errors) > 1 else ""
        super().__init__(
            f"lembar ditolak, tidak ada yang disimpan: {where}: {first.get('message')}{more}"
            if errors
            else "lembar ditolak"
        )
