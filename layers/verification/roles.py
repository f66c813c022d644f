"""The verification's roles and token lifetime: constants the command line needs to build its options.

Apart from `layers.verification.accounts` (which imports SQLAlchemy and argon2) so that ``sasaran``
starts without loading the database stack for commands that never open one (``sasaran target``).
"""

from __future__ import annotations

#: Role → digits of its region code.
ROLES: dict[str, int] = {"provinsi": 2, "kabupaten": 4, "kecamatan": 7, "desa": 10}
#: Days a bearer token lives unless its issuer says otherwise.
DEFAULT_TOKEN_DAYS = 90
