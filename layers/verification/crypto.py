"""Personal fields encrypted in the verification database, and keyed indexes to find them.

A family's family id, NIK, name, address and coordinates are kept in the database only as
AES-256-GCM ciphertext (`FieldCipher.seal`), bound to the record they belong to, under a key
derived (HKDF-SHA256) from the register key (``SASARAN_REGISTER_KEY``, `layers.register`): a copy
of ``verification.db`` or a PostgreSQL dump shows no name. Exact look-ups (a NIK typed in the
search box, a family id already in the round, a proposed family's NIK that is already registered)
use keyed hashes (HMAC-SHA256 under another derived key, `FieldCipher.index`), which reveal nothing
without the key.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import secrets
from typing import Any, Protocol

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

from layers.verification.errors import DatabaseError

#: Prefix of every sealed value (the format's version).
SEALED = "v1:"
_NONCE = 12


class KeyLike(Protocol):
    """A register key (`layers.register.RegisterKey`): 32 secret bytes."""

    @property
    def secret(self) -> bytes:
        """The key's bytes."""
        ...


def _derive(secret: bytes, info: bytes) -> bytes:
    return HKDF(algorithm=hashes.SHA256(), length=32, salt=None, info=info).derive(secret)


class FieldCipher:
    """Seals and opens the personal fields of records; computes the keyed look-up indexes."""

    def __init__(self, key: KeyLike):
        self._aead = AESGCM(_derive(key.secret, b"sasaran verification fields v1"))
        self._index_key = _derive(key.secret, b"sasaran verification index v1")
        #: Identifies the key without revealing it (stored with a round; a wrong key is told apart).
        self.key_id = hmac.new(self._index_key, b"key id", hashlib.sha256).hexdigest()[:16]

    def __repr__(self) -> str:
        return f"FieldCipher(key_id={self.key_id!r})"

    def seal(self, values: dict[str, Any], bound_to: str) -> str:
        """``values`` as JSON, encrypted and authenticated, bound to ``bound_to`` (the record's key).

        Parameters
        ----------
        values
            JSON-ready mapping.
        bound_to
            Authenticated data: the ciphertext opens only for this record.

        Returns
        -------
        str
            ``v1:`` and base64 of nonce, ciphertext and tag.
        """
        nonce = secrets.token_bytes(_NONCE)
        plain = json.dumps(values, ensure_ascii=False, separators=(",", ":")).encode("utf-8")
        sealed = self._aead.encrypt(nonce, plain, bound_to.encode("utf-8"))
        return SEALED + base64.b64encode(nonce + sealed).decode("ascii")

    def open(self, text: str, bound_to: str) -> dict[str, Any]:
        """The values `seal` sealed for ``bound_to``.

        Raises
        ------
        DatabaseError
            Another key, another record's ciphertext, or an altered value.
        """
        if not text.startswith(SEALED):
            raise DatabaseError("a personal field is not sealed in a format this Sasaran knows")
        raw = base64.b64decode(text[len(SEALED) :])
        try:
            plain = self._aead.decrypt(raw[:_NONCE], raw[_NONCE:], bound_to.encode("utf-8"))
        except InvalidTag:
            raise DatabaseError(
                "a personal field does not open with this register key (another key, or a value "
                "altered or moved in the database)"
            ) from None
        return dict(json.loads(plain))

    def index(self, kind: str, value: str) -> str:
        """Keyed hash (32 hex digits) of a value for exact look-up: ``index("nik", "6201...")``."""
        normal = "".join(str(value).split()).lower()
        return hmac.new(self._index_key, f"{kind}\x00{normal}".encode(), hashlib.sha256).hexdigest()[:32]
