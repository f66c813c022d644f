"""What the service keeps for verification: the open database, the register key's cipher, and
whether the database's register has been seeded.

Opened in the app's lifespan (`open_verification`): the database is migrated at once (a few
milliseconds); seeding from the store's register, which may take a minute for a million families,
runs in a thread meanwhile, and the endpoints that need the register answer 503 saying so until it
is done. Sign-in and accounts work from the start.
"""

from __future__ import annotations

import logging
import socket
import threading
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy.engine import make_url
from starlette.requests import Request

from layers.errors import SasaranError
from layers.register import RegisterKey, has_register
from layers.store import LayerStore
from layers.verification import rounds
from layers.verification.audit import Actor
from layers.verification.crypto import FieldCipher
from layers.verification.db import Database, database_path_for_store, database_url, redacted
from layers.verification.errors import DatabaseError
from layers.verification.rounds import Round
from layers.verification.seeding import cipher_for, ensure_round, register_key
from layers.verification.validation import Validator, validator_for
from service.settings import Settings

log = logging.getLogger(__name__)


class RegisterUnavailable(DatabaseError):
    """The register cannot be used right now (no key, seeding under way or failed): 503."""


@dataclass
class Verification:
    """The database and the register key of one running service."""

    db: Database
    cipher: FieldCipher | None
    key_problem: str | None
    key: RegisterKey | None = None
    seeded: threading.Event = field(default_factory=threading.Event)
    seed_problem: str | None = None
    validators: dict[int, Validator] = field(default_factory=dict)
    store: LayerStore | None = None

    def require_cipher(self) -> FieldCipher:
        """The cipher, once the register is seeded; `RegisterUnavailable` (503) saying why not."""
        if not self.seeded.is_set():
            raise RegisterUnavailable(
                "the verification database is being prepared from the register; try again"
            )
        if self.seed_problem:
            raise RegisterUnavailable(self.seed_problem)
        if self.cipher is None:
            raise RegisterUnavailable(self.key_problem or "no register key")
        return self.cipher

    def require_key(self) -> RegisterKey:
        """The register key (by-name lists read the store's register with it); 503 without it."""
        if self.key is None:
            raise RegisterUnavailable(self.key_problem or "no register key")
        return self.key

    def validator(self, round_: Round) -> Validator:
        """The register's rules for this round's families (made once per round)."""
        if round_.id not in self.validators:
            self.validators[round_.id] = validator_for(self.db, round_, self.store)
        return self.validators[round_.id]

    def active_validator(self) -> Validator:
        """The register's rules for the active round, looked up only when a family needs them (a
        correction, a proposal): a plain status change costs no extra query."""

        def validate(frame: Any, place: Any = None) -> Any:
            return self.validator(active_round(self))(frame, place)

        return validate

    def describe(self) -> dict[str, Any]:
        """For ``GET /verification/me``: the database kind and whether names can be shown."""
        return {
            "database": self.db.dialect,
            "ready": self.seeded.is_set() and not self.seed_problem,
            "names": self.cipher is not None,
            "problem": self.seed_problem or self.key_problem,
        }


def service_actor() -> Actor:
    """The service itself, as the actor of what it does on its own (seeding round 1)."""
    return Actor(f"service:{socket.gethostname()}", "system")


def open_verification(settings: Settings, store: LayerStore) -> Verification | str:
    """Open (and migrate) the database, read the register key, and start seeding in a thread.

    Returns the state, or why verification is not available: the store holds no register and no
    database was named or made before (nothing is created then), or the database cannot be opened
    (the rest of the service runs on; verification answers 503 saying why).
    """
    url = database_url(store=settings.store_dir, url=settings.database_url)
    embedded = make_url(url).get_backend_name() == "sqlite"
    if embedded and not has_register(store) and not database_path_for_store(settings.store_dir).exists():
        return "the served store holds no register of families ([sources.households]): nothing to verify"
    try:
        db = Database.open(url)
    except DatabaseError as exc:
        log.warning("verification is not available: %s", exc)
        return f"the verification database cannot be opened: {exc}"
    key, key_problem = register_key()
    state = Verification(db=db, cipher=None, key_problem=key_problem, store=store, key=key)
    log.info("verification database %s (%s)", redacted(url), db.dialect)

    def seed() -> None:
        try:
            round_ = ensure_round(db, store, key, service_actor())
            if round_ is not None and key is not None:
                state.cipher = cipher_for(round_, key)
            elif round_ is None:
                state.seed_problem = (
                    "the served store holds no register of families ([sources.households]): nothing to verify"
                )
        except SasaranError as exc:
            state.seed_problem = str(exc)
            log.warning("verification: %s", exc)
        except Exception:  # a fault here must not stop the service; it is logged and said
            state.seed_problem = "preparing the verification database failed; see the service log"
            log.exception("verification: seeding failed")
        finally:
            state.seeded.set()

    threading.Thread(target=seed, name="verification-seed", daemon=True).start()
    return state


def close_verification(state: Verification | str | None) -> None:
    """Close the database's connections."""
    if isinstance(state, Verification):
        state.db.dispose()


def get_verification(request: Request) -> Verification:
    """The app's verification state (`RegisterUnavailable`, 503, saying why there is none)."""
    state = getattr(request.app.state, "verification", None)
    if not isinstance(state, Verification):
        raise RegisterUnavailable(state or "verification is not available in this service")
    return state


def active_round(state: Verification) -> Round:
    """The active round (`DatabaseError` when there is none)."""
    with state.db.read() as conn:
        return rounds.require_active(conn)
