"""Service settings, read from the environment with the ``SASARAN_`` prefix (README, "HTTP API")."""

from __future__ import annotations

from pathlib import Path
from typing import Self
from urllib.parse import urlsplit

from pydantic import Field, field_validator, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict


class Settings(BaseSettings):
    """Everything the service can be told; ``SASARAN_STORE_DIR=/data/store`` and so on."""

    model_config = SettingsConfigDict(env_prefix="SASARAN_", extra="ignore")

    store_dir: Path = Path("store")
    title: str = "Sasaran: poverty targeting layers"
    default_limit: int = Field(100, ge=1, description="Features per page when no limit is given.")
    max_limit: int = Field(10_000, ge=1, description="Larger limits are clamped to this.")
    cors_origins: list[str] = Field(default_factory=list, description="Origins allowed by CORS; none: off.")
    cache_max_age: int = Field(300, ge=0, description="Cache-Control max-age (s) of answers that set none.")
    gzip_min_bytes: int = Field(1024, ge=0, description="Bodies at least this large are gzipped on request.")
    blas_threads: int = Field(
        1, ge=1, description="BLAS threads per worker; more oversubscribes the cores under concurrent load."
    )
    export_dir: Path | None = Field(
        None, description="Where downloads are cached per build (default: <system temp>/sasaran-exports)."
    )
    max_xlsx_rows: int = Field(
        100_000, ge=1, description="Larger layers are not offered as XLSX downloads (CSV, Parquet, GPKG are)."
    )
    reload_interval_s: float = Field(
        2.0, ge=0, description="Seconds between checks for a rebuilt store (0: never; SIGHUP checks at once)."
    )
    max_body_bytes: int = Field(
        1 << 20, ge=1, description="Larger request bodies are refused with 413 before they are parsed."
    )
    heavy_requests: int = Field(
        2,
        ge=1,
        description="Heavy requests (rescoring, targeting, changes, filtered queries, downloads being "
        "written) one worker runs at once; more wait heavy_wait_s, then get 503 with Retry-After.",
    )
    renders: int = Field(1, ge=1, description="PDF briefings one worker renders at once (as heavy_requests).")
    heavy_wait_s: float = Field(
        1.0, ge=0, le=60, description="Seconds a heavy request waits for a free slot before its 503."
    )
    public_url: str | None = Field(
        None,
        description="The service root as clients reach it (https://example.org/sasaran); links are built "
        "from it. Unset: from the Host when allowed_hosts lists it, else from the server's own address; "
        "never from an unchecked Host header.",
    )
    allowed_hosts: list[str] = Field(
        default_factory=list,
        description="Host header values (host or host:port) the service answers; none: any well-formed host.",
    )

    # Verification (docs/verification.md). The register key comes from SASARAN_REGISTER_KEY or
    # SASARAN_REGISTER_KEY_FILE (`layers.register.load_key`), never from a settings file.
    database_url: str | None = Field(
        None,
        description="The verification database (postgresql://user@host/db); unset: SQLite "
        "verification.db beside the store directory.",
    )
    session_hours: float = Field(12.0, gt=0, le=24 * 30, description="How long a sign-in session lives.")
    oidc_issuer: str | None = Field(
        None, description="OpenID Connect provider (https://sso.example.go.id/realms/prov); unset: no OIDC."
    )
    oidc_client_id: str | None = None
    oidc_client_secret: str | None = Field(None, repr=False)
    oidc_scopes: str = "openid profile email"
    oidc_username_claim: str = Field(
        "preferred_username", description="The ID token claim matched with a Sasaran account's name."
    )

    @field_validator("public_url")
    @classmethod
    def _absolute_http_url(cls, value: str | None) -> str | None:
        # Checked once at startup so that every link the service writes is well formed.
        if not value:
            return None
        parts = urlsplit(value)
        if parts.scheme not in ("http", "https") or not parts.hostname or parts.query or parts.fragment:
            raise ValueError(
                f"public_url must be an absolute http(s) URL without query or fragment, got {value!r}"
            )
        return value.rstrip("/")

    @field_validator("allowed_hosts")
    @classmethod
    def _lower_hosts(cls, value: list[str]) -> list[str]:
        return [host.strip().lower() for host in value if host.strip()]

    @model_validator(mode="after")
    def _default_limit_within_max(self) -> Self:
        if self.default_limit > self.max_limit:
            raise ValueError(f"default_limit ({self.default_limit}) exceeds max_limit ({self.max_limit})")
        return self
