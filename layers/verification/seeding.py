"""From a store's register to the database's round: on first use, and when a new round is asked for.

The register comes from the store's restricted part (`layers.register.read_register`, with the
register key); the villages' names and parents from its ``villages`` layer. Reading it is a by-name
read: the round's ``round.start`` audit entry records it.
"""

from __future__ import annotations

import time
from typing import Any

import pandas as pd
from sqlalchemy.exc import OperationalError

from layers.errors import ConfigError
from layers.register import KEY_ENV, KEY_FILE_ENV, RegisterKey, has_register, load_key, read_register
from layers.store import LayerStore
from layers.verification.audit import Actor
from layers.verification.crypto import FieldCipher
from layers.verification.db import Database
from layers.verification.errors import DatabaseError
from layers.verification.rounds import VILLAGE_COLUMNS, Round, active_round, seed_round


def register_key() -> tuple[RegisterKey | None, str | None]:
    """The register key from the environment, or None and why there is none (for messages)."""
    try:
        key = load_key()
    except ConfigError as exc:
        return None, str(exc)
    if key is None:
        return None, f"no register key: set {KEY_ENV} or {KEY_FILE_ENV} to see names and change families"
    return key, None


def cipher_for(round_: Round, key: RegisterKey) -> FieldCipher:
    """The cipher of ``key`` if it is the key the round was sealed with."""
    cipher = FieldCipher(key)
    if cipher.key_id != round_.key_id:
        raise DatabaseError(
            f"the register key ({key.origin}) is not the one round {round_.number} of the verification "
            "database was sealed with"
        )
    return cipher


def store_villages(store: LayerStore) -> pd.DataFrame:
    """The store's villages with their names and parents (`rounds.VILLAGE_COLUMNS`)."""
    frame = pd.DataFrame(store.layer("villages")[list(VILLAGE_COLUMNS)]).astype(str)
    return frame.sort_values("village_code").reset_index(drop=True)


def store_source(store: LayerStore) -> dict[str, Any]:
    """What a round records of the store its register came from."""
    manifest = store.manifest
    households: dict[str, Any] = dict(manifest.get("households") or {})
    return {
        "store": str(manifest.get("name", store.path)),
        "build_id": manifest.get("build_id"),
        "built": manifest.get("created"),
        "synthetic": bool(store.synthetic),
        "register_sha256": _register_sha256(store),
        "nik_any_province": bool(households.get("nik_any_province", False)),
    }


def ensure_round(db: Database, store: LayerStore, key: RegisterKey | None, by: Actor) -> Round | None:
    """The active round; seeded from the store's register if the database has none yet.

    Parameters
    ----------
    db
        The database.
    store
        The served (or named) store.
    key
        The register key (needed only to seed).
    by
        Who seeds (audited).

    Returns
    -------
    Round | None
        The active round, or None when there is none and the store holds no register.
    """
    with db.read() as conn:
        found = active_round(conn)
    if found is not None:
        return found
    if not has_register(store):
        return None
    return _seed(db, store, key, by, new_round=False)


def start_new_round(db: Database, store: LayerStore, key: RegisterKey | None, by: Actor) -> Round:
    """Archive the active round and start the next from the store's register as it is now."""
    if not has_register(store):
        raise DatabaseError(f"{store.path}: this store holds no register of families to start a round from")
    return _seed(db, store, key, by, new_round=True)


#: How long a process waits for another one (a second service worker) that is seeding.
SEED_WAIT_S = 3600


def _seed(db: Database, store: LayerStore, key: RegisterKey | None, by: Actor, *, new_round: bool) -> Round:
    if key is None:
        _, problem = register_key()
        raise DatabaseError(f"cannot copy the register into the verification database: {problem}")
    register = read_register(store, key)
    villages_table, source = store_villages(store), store_source(store)
    deadline = time.monotonic() + SEED_WAIT_S
    while True:
        try:
            return seed_round(db, FieldCipher(key), register, villages_table, source, by, new_round=new_round)
        except OperationalError as exc:
            # SQLite: another process (the service's other worker) holds the write lock longer than
            # the busy timeout while it seeds. Its round is the round: wait for it, never fail.
            if "locked" not in str(exc.orig) or time.monotonic() > deadline:
                raise
            if not new_round:
                with db.read() as conn:
                    found = active_round(conn)
                if found is not None:
                    return found
            time.sleep(1.0)


def _register_sha256(store: LayerStore) -> str | None:
    """The SHA-256 of the register file the store was built from (its manifest's ``sources``)."""
    for entry in store.manifest.get("sources") or []:
        if isinstance(entry, dict) and entry.get("name") == "households":
            return entry.get("sha256")
    return None


def register_changed(round_: Round, store: LayerStore) -> bool:
    """Whether the store's register is another than the one the round was seeded from."""
    digest = _register_sha256(store)
    return bool(digest) and digest != round_.source.get("register_sha256")
