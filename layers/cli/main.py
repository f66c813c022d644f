"""The ``sasaran`` command (docs/contracts.md, "Command line").

Exit status: 0 on success, 2 on bad input (a `SasaranError`, whose message names file, row and
field), 1 on an unexpected fault.
"""

from __future__ import annotations

import logging
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any
from urllib.parse import urlsplit

import typer

from layers.cli.audit import audit_app
from layers.cli.export import export_command
from layers.cli.households import households_app
from layers.cli.mpi import mpi_command
from layers.cli.rounds import backup_command, restore_command, rounds_app, snapshots_app
from layers.cli.target import changes_command, target_command
from layers.cli.users import users_app
from layers.errors import SasaranError

if TYPE_CHECKING:
    from layers.config import BuildConfig

app = typer.Typer(
    name="sasaran",
    help="Geospatial poverty targeting: build H3 layers, score deprivation, serve them.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
    # Help text is plain: "[change_gate]" and "[default: CPUs]" are words here, not rich markup.
    rich_markup_mode=None,
)
log = logging.getLogger("sasaran")
#: Seconds a worker may leave uvicorn's health check unanswered before it is killed as hung (uvicorn's
#: default is 5). A worker preparing a national store, or GDAL writing a large export, can hold the GIL
#: for longer than that without being hung; killing it dropped the download (issue 12).
WORKER_HEALTHCHECK_S = 60
#: The service's app factory, for uvicorn (an import string: `layers` never imports `service`).
SERVICE_APP = "service.app:create_app"
#: uvicorn's HTTP protocol with its own parse errors as problem+json (an import string, as above).
SERVICE_PROTOCOL = "service.protocol:ProblemHTTPProtocol"


@app.callback()
def _root(
    verbose: Annotated[bool, typer.Option("--verbose", "-v", help="Log debug detail.")] = False,
) -> None:
    """Sasaran: geospatial poverty targeting."""
    logging.basicConfig(
        level=logging.DEBUG if verbose else logging.INFO,
        format="%(levelname)s %(name)s: %(message)s",
        stream=sys.stderr,
    )
    # pyogrio logs every layer it writes at INFO; our own logs say what a command did.
    logging.getLogger("pyogrio").setLevel(logging.WARNING)
    # Alembic says each migration it runs at INFO; the verification database migrates on every open.
    logging.getLogger("alembic").setLevel(logging.WARNING)
    # rasterio logs GDAL's messages at INFO, with the absolute path of the file it failed to open.
    logging.getLogger("rasterio").setLevel(logging.WARNING)


@app.command("demo")
def demo_command(
    out: Annotated[Path, typer.Option("--out", help="Directory for the synthetic source files.")] = Path(
        "demo-data"
    ),
    villages: Annotated[
        int | None,
        typer.Option("--villages", min=20, help="Number of villages (default 1500; 84000 with --country)."),
    ] = None,
    seed: Annotated[int, typer.Option("--seed", help="Random seed (same seed, same province).")] = 62,
    country: Annotated[
        bool, typer.Option("--country", help="A synthetic country of 38 provinces at Indonesia's scale.")
    ] = False,
    provinces: Annotated[
        str | None,
        typer.Option("--provinces", help="With --country: BPS province codes to generate, e.g. 62,63,51."),
    ] = None,
) -> None:
    """Write the synthetic demo province (or, with --country, a synthetic nation) plus sasaran.toml."""
    if country:
        _demo_country(out, villages, seed, provinces)
        return
    if provinces is not None:
        raise typer.BadParameter("only with --country", param_hint="--provinces")
    from layers.demo.province import write_demo

    config_path = write_demo(out, villages=1500 if villages is None else villages, seed=seed)
    typer.echo(f"Synthetic demo province written; build it with: sasaran build {config_path}")


def _demo_country(out: Path, villages: int | None, seed: int, provinces: str | None) -> None:
    """``sasaran demo --country``: bad codes or sizes are usage errors (exit 2)."""
    from layers.demo.country import build_country, parse_provinces

    try:
        codes = None if provinces is None else parse_provinces(provinces)
    except ValueError as exc:
        raise typer.BadParameter(str(exc), param_hint="--provinces") from None
    try:
        report = build_country(
            out, villages=84_000 if villages is None else villages, seed=seed, provinces=codes
        )
    except ValueError as exc:
        raise typer.BadParameter(str(exc), param_hint="--villages") from None
    typer.echo(f"{report.summary()}; build it with: sasaran build {report.config}")


@app.command("build")
def build_command(
    config: Annotated[Path, typer.Argument(help="Build config (sasaran.toml).")],
    store: Annotated[Path, typer.Option("--store", help="Layer store directory to (re)place.")] = Path(
        "store"
    ),
    quiet: Annotated[bool, typer.Option("--quiet", "-q", help="No progress bars.")] = False,
    accept_changes: Annotated[
        bool,
        typer.Option(
            "--accept-changes",
            help="Replace the store even if headline figures move beyond the config's [change_gate].",
        ),
    ] = False,
    workers: Annotated[
        int | None,
        typer.Option(
            "--workers",
            min=1,
            help="Processes of the local Dask cluster of a national build [default: CPUs].",
        ),
    ] = None,
    scheduler: Annotated[
        str | None,
        typer.Option(
            "--scheduler", help="Run a national build's partitions on this Dask cluster (tcp://HOST:PORT)."
        ),
    ] = None,
    only: Annotated[
        str | None,
        typer.Option(
            "--only", help="Rebuild one province (BPS code, e.g. 62) of an existing national store."
        ),
    ] = None,
    verified: Annotated[
        bool,
        typer.Option(
            "--verified",
            help="Take the register's latest year from the verification database: a new snapshot of the "
            "approved villages (docs/verification.md).",
        ),
    ] = False,
    database: Annotated[
        str | None,
        typer.Option(
            "--database", help="With --verified: the verification database (default: beside --store)."
        ),
    ] = None,
    snapshot: Annotated[
        int | None,
        typer.Option("--snapshot", min=1, help="With --verified: use this snapshot rather than taking one."),
    ] = None,
) -> None:
    """Build the layer store from the sources a config names.

    An existing store is replaced only when the build succeeds and, in every year it holds, its
    headline figures (population, villages with cells, H and M0 per kabupaten, each village's
    people and poor people) stay within the tolerances of the config's ``[change_gate]``, or
    with ``--accept-changes``.

    Villages of more than one province make a national build: one partition per province, run
    on a local Dask cluster (``--workers``) or an existing one (``--scheduler``); ``--only 62``
    rebuilds one province into an existing national store.
    """
    from layers.config import load_config
    from layers.pipeline.province import build

    loaded = load_config(config)
    result = build(
        loaded,
        store,
        progress=not quiet,
        accept_changes=accept_changes,
        workers=workers,
        scheduler=scheduler,
        only=only,
        verified=_verified_register(loaded, store, database, snapshot) if verified else None,
    )
    typer.echo(result.summary())


def _verified_register(config: BuildConfig, store: Path, database: str | None, snapshot: int | None) -> Any:
    """``--verified``: the verification database's register (a new snapshot, or ``--snapshot``)."""
    from layers.errors import ConfigError
    from layers.pipeline.households import register_key
    from layers.verification.audit import cli_actor
    from layers.verification.db import Database, database_url, redacted
    from layers.verification.snapshots import verified_register

    key = register_key(config)
    if key is None:
        raise ConfigError(
            "--verified needs [sources.households] in the config (its key_file or SASARAN_REGISTER_KEY)"
        )
    db = Database.open(database_url(store=store, url=database))
    try:
        found = verified_register(db, key, cli_actor(), snapshot, database=redacted(db.url))
    finally:
        db.dispose()
    entry = found.entry
    typer.echo(
        f"verified register: snapshot {entry['id']} of round {entry['round']} ({entry['year']}), "
        f"{entry['families']} families, {entry['verified_villages']} approved villages, "
        f"audit entry {entry['audit_seq']}"
    )
    return found


@app.command("serve")
def serve_command(
    store: Annotated[Path, typer.Option("--store", help="Layer store directory.")] = Path("store"),
    host: Annotated[str, typer.Option("--host")] = "127.0.0.1",
    port: Annotated[int, typer.Option("--port")] = 8000,
    workers: Annotated[
        int | None,
        typer.Option("--workers", min=1, help="Worker processes (default: one per core)."),
    ] = None,
    shutdown_timeout: Annotated[
        int,
        typer.Option("--shutdown-timeout", min=0, help="Seconds open requests get to finish on SIGTERM."),
    ] = 10,
    register_key_file: Annotated[
        Path | None,
        typer.Option(
            "--register-key-file",
            help="The register key (kept outside the store); default SASARAN_REGISTER_KEY(_FILE). Without "
            "it the service serves aggregates only.",
        ),
    ] = None,
    public_url: Annotated[
        str | None,
        typer.Option(
            "--public-url",
            help="The root URL clients use (https://peta.example.go.id/sasaran): every link starts with "
            "it. Default: SASARAN_PUBLIC_URL, else http://HOST:PORT as served.",
        ),
    ] = None,
) -> None:
    """Serve a layer store over HTTP (OGC API - Features, scores, tiles, exports).

    A rebuilt store (``sasaran build`` into the same directory) is picked up by every worker within
    seconds, or at once on SIGHUP, without a failed request. Links in answers start at the public
    URL, never at a request's Host header (docs/security.md).
    """
    import os

    import uvicorn

    from layers.store import LayerStore

    LayerStore.open(store)  # fail here, with exit 2, rather than inside the server
    public = _public_url(public_url or os.environ.get("SASARAN_PUBLIC_URL"), host, port)
    base = public or f"http://{_url_host(host)}:{port}"
    # The URLs are printed once they answer, not before: a reader who opens them gets a page.
    _announce_when_answering(
        f"Sasaran serving {store} at {base}/ ({workers or os.cpu_count() or 1} workers)\n"
        f"  planner page: {base}/planner\n  API docs:     {base}/docs\n  health:       {base}/healthz",
        f"http://{_url_host(_LOOPBACK.get(host, host))}:{port}/healthz",
    )
    if public is None:
        typer.echo(
            f"  links: the address each request came in on ({host} listens on every interface); "
            "give --public-url for the name clients use"
        )
    # The app is named by import string, as the Docker image does: the library never imports the
    # service, and the settings reach it the way they reach any deployment, through the environment.
    os.environ["SASARAN_STORE_DIR"] = str(store.resolve())
    if register_key_file is not None:  # the workers read it from their environment, as in a container
        os.environ["SASARAN_REGISTER_KEY_FILE"] = str(register_key_file.resolve())
    if public is not None:
        os.environ["SASARAN_PUBLIC_URL"] = public
    uvicorn.run(
        SERVICE_APP,
        factory=True,
        host=host,
        port=port,
        workers=workers or os.cpu_count() or 1,
        timeout_graceful_shutdown=shutdown_timeout or None,
        timeout_worker_healthcheck=WORKER_HEALTHCHECK_S,
        http=SERVICE_PROTOCOL,
        log_level="info",
    )


#: Addresses that listen on every interface: no one URL clients use can be read off them.
_EVERY_INTERFACE = ("0.0.0.0", "::", "")


def _public_url(given: str | None, host: str, port: int) -> str | None:
    """The service's public URL: ``given`` (checked), else ``http://HOST:PORT`` unless HOST is a wildcard."""
    if given:
        parts = urlsplit(given)
        if parts.scheme not in ("http", "https") or not parts.hostname or parts.query or parts.fragment:
            raise typer.BadParameter(
                f"must be an absolute http(s) URL without query or fragment, got {given!r}",
                param_hint="--public-url",
            )
        return given.rstrip("/")
    if host in _EVERY_INTERFACE:
        return None
    return f"http://{_url_host(host)}:{port}"


#: Where to ask an address that listens on every interface whether the service answers.
_LOOPBACK = {"0.0.0.0": "127.0.0.1", "": "127.0.0.1", "::": "::1"}
#: Seconds before the first ask of ``/healthz`` while the service starts, and the longest wait between
#: two (each wait 1.5 times the last): each ask is a line in the access log.
_POLL_S = (0.2, 2.0)


def _url_host(host: str) -> str:
    """A host as a URL writes it (an IPv6 address in brackets)."""
    return f"[{host}]" if ":" in host and not host.startswith("[") else host


def _announce_when_answering(text: str, healthz: str) -> None:
    """Print ``text`` once ``healthz`` answers 200 with the store prepared (``ready``), from a daemon
    thread (the server blocks this one).

    If the server never answers (it failed to start and exits), nothing is printed: uvicorn has said why.
    """
    import json
    import threading
    import urllib.error
    import urllib.request

    def wait_then_print() -> None:
        wait = _POLL_S[0]
        while True:
            try:
                with urllib.request.urlopen(healthz, timeout=5) as answer:
                    if answer.status == 200 and json.load(answer).get("ready", True):
                        typer.echo(text)
                        return
            except (urllib.error.URLError, OSError, ValueError):
                pass  # not listening yet
            threading.Event().wait(wait)
            wait = min(wait * 1.5, _POLL_S[1])

    threading.Thread(target=wait_then_print, name="announce", daemon=True).start()


app.command("mpi")(mpi_command)
app.command("export")(export_command)
app.command("target")(target_command)
app.command("changes")(changes_command)
app.add_typer(households_app)
app.add_typer(users_app)
app.add_typer(audit_app)
app.add_typer(rounds_app)
app.add_typer(snapshots_app)
app.command("backup")(backup_command)
app.command("restore")(restore_command)


def main() -> None:
    """Console-script entry point: run the app and map errors to exit codes.

    Usage errors are handled by click itself (message and exit status 2); a `SasaranError` is bad
    input (exit 2, one line naming file, row and field); anything else is a fault (exit 1).
    """
    try:
        app()
    except SasaranError as exc:
        typer.echo(f"error: {exc}", err=True)
        sys.exit(2)
    except Exception:
        log.exception("unexpected fault")
        sys.exit(1)


if __name__ == "__main__":
    main()
