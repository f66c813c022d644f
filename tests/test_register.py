"""The register's contract: its canonical columns in docs/schema.md, its key, its encryption."""

from __future__ import annotations

import base64
from pathlib import Path

import pytest

from layers.errors import ConfigError, StoreError
from layers.register import (
    KEY_ENV,
    KEY_FILE_ENV,
    RegisterLocked,
    decrypt,
    encrypt,
    load_key,
    parse_key,
    register_markdown,
    write_key_file,
)

ROOT = Path(__file__).resolve().parents[1]


def test_schema_doc_lists_the_register_columns_and_codes():
    text = (ROOT / "docs" / "schema.md").read_text(encoding="utf-8")
    block = text.split("<!-- register:start -->\n", 1)[1].split("<!-- register:end -->", 1)[0]
    assert block == register_markdown()


def test_key_from_the_environment_file_or_config(tmp_path):
    key = write_key_file(tmp_path / "k")
    assert (tmp_path / "k").stat().st_mode & 0o777 == 0o600
    text = (tmp_path / "k").read_text().strip()
    assert load_key(environ={}) is None
    assert load_key(tmp_path / "k", environ={}).key_id == key.key_id
    assert load_key(environ={KEY_ENV: text}).key_id == key.key_id
    assert load_key(None, environ={KEY_FILE_ENV: str(tmp_path / "k")}).key_id == key.key_id
    # The variable wins over the config's file.
    other = base64.b64encode(b"x" * 32).decode()
    assert load_key(tmp_path / "k", environ={KEY_ENV: other}).key_id != key.key_id
    with pytest.raises(ConfigError, match="exists"):
        write_key_file(tmp_path / "k")


def test_a_malformed_key_is_named_never_shown():
    with pytest.raises(ConfigError, match=f"{KEY_ENV}: the register key is not base64") as bad:
        load_key(environ={KEY_ENV: "not-base64!!"})
    assert "not-base64" not in str(bad.value)
    short = base64.b64encode(b"s3cret").decode()
    with pytest.raises(ConfigError, match="6 bytes; it must be 32") as wrong:
        parse_key(short, KEY_ENV)
    assert short not in str(wrong.value)
    assert "secret" not in repr(parse_key(base64.b64encode(b"k" * 32).decode(), "test")).lower()


def test_encryption_is_authenticated_and_bound_to_its_partition(tmp_path):
    key = write_key_file(tmp_path / "a")
    other = write_key_file(tmp_path / "b")
    blob = encrypt(b"Siti Contoh, Jl. Sintetis 1", key, "62")
    assert b"Siti" not in blob
    assert decrypt(blob, key, "62") == b"Siti Contoh, Jl. Sintetis 1"
    with pytest.raises(RegisterLocked):
        decrypt(blob, other, "62")
    with pytest.raises(RegisterLocked):
        decrypt(blob, key, "63")  # one province's file cannot pass for another's
    tampered = blob[:-1] + bytes([blob[-1] ^ 1])
    with pytest.raises(RegisterLocked):
        decrypt(tampered, key, "62")
    with pytest.raises(StoreError, match="not a Sasaran register"):
        decrypt(b"garbage", key)
