"""``sasaran households``: the register of families (docs/households.md).

* ``keygen --out FILE``: a new register key (32 random bytes, base64), readable by its owner only.
* ``list``: the families of chosen villages by name, ranked by their own score, as XLSX, CSV or
  PDF (`layers.export.households`). Needs the register key; every list written is recorded in the
  audit trail (who, when, which villages, how many families) before the file appears.
* ``export --anonymised``: the register's microdata without names, NIKs, addresses or coordinates,
  for ``sasaran mpi`` and analysts (also recorded).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import pandas as pd
import typer

from layers.atomic import atomic_path
from layers.errors import InvalidQuery, SourceError

households_app = typer.Typer(
    name="households",
    help="The register of families: keys, by-name lists, anonymised microdata.",
    no_args_is_help=True,
)

StoreOption = Annotated[Path, typer.Option("--store", help="Layer store directory (with a register).")]
DatabaseOption = Annotated[
    str | None,
    typer.Option(
        "--database",
        help="Audit database URL; default SASARAN_DATABASE_URL, else verification.db beside the store.",
    ),
]
#: The columns a selection's CSV or XLSX names its villages in (any language of the downloads).
_CODE_COLUMNS = ("village_code", "Kode desa", "Village code")


def audit(
    store: Path, database: str | None, action: str, record: str, region: str | None, reason: str
) -> None:
    """Record one download in the audit trail (`layers.verification.audit`); raise if it cannot be.

    The one place the command line writes to the trail: a file with names in it appears only once
    this succeeded.
    """
    from layers.verification.audit import cli_actor
    from layers.verification.audit import record as append
    from layers.verification.db import Database, database_url

    db = Database.open(database_url(store=store, url=database))
    try:
        append(db, cli_actor().event(action, record, region=region, reason=reason))
    finally:
        db.dispose()


@households_app.command("keygen")
def keygen_command(
    out: Annotated[Path, typer.Option("--out", help="Key file to create (never inside a store).")],
) -> None:
    """Create a register key file (base64, mode 600). It is never overwritten: keep a copy safe."""
    from layers.register import KEY_FILE_ENV, write_key_file

    key = write_key_file(out)
    typer.echo(f"register key {key.key_id} written to {out}; build and serve with {KEY_FILE_ENV}={out}")


def selection_villages(path: Path) -> list[str]:
    """The village codes of a selection file: a ``POST /targets`` or ``sasaran target`` JSON answer, or
    its CSV or XLSX download (a column ``village_code``, ``Kode desa`` or ``Village code``)."""
    if not path.is_file():
        raise SourceError(path.name, None, None, f"file not found ({path})")
    suffix = path.suffix.lower()
    if suffix == ".json":
        try:
            body = json.loads(path.read_text(encoding="utf-8"))
            return [str(item["village_code"]) for item in body["selected"]]
        except (ValueError, KeyError, TypeError):
            raise SourceError(
                path.name, None, "selected", "not a selection (no selected[].village_code)"
            ) from None
    try:
        frame = (
            pd.read_excel(path, dtype=str) if suffix == ".xlsx" else pd.read_csv(path, dtype=str, comment="#")
        )
    except Exception as exc:
        raise SourceError(path.name, None, None, f"cannot read ({exc})") from None
    for column in _CODE_COLUMNS:
        if column in frame.columns:
            return frame[column].dropna().astype(str).str.strip().tolist()
    raise SourceError(path.name, None, None, f"no village code column ({', '.join(_CODE_COLUMNS)})")


def _villages(store: Path, villages: str | None, kabupaten: str | None, selection: Path | None) -> list[str]:
    given = [option for option in (villages, kabupaten, selection) if option is not None]
    if len(given) != 1:
        raise InvalidQuery("give one of --villages CODES, --kabupaten CODE or --from-selection FILE")
    if villages is not None:
        return [code.strip() for code in villages.split(",") if code.strip()]
    if selection is not None:
        return selection_villages(selection)
    from layers.store import LayerStore

    layer = LayerStore.open(store).layer("villages")
    codes = layer.loc[layer["kabupaten_code"].astype(str) == str(kabupaten), "village_code"].astype(str)
    if codes.empty:
        raise InvalidQuery(f"--kabupaten {kabupaten}: no village of that kabupaten in the store")
    return codes.tolist()


def _region(codes: list[str]) -> str:
    """The narrowest region code holding every village (their common prefix, at a BPS boundary)."""
    prefix = codes[0]
    for code in codes[1:]:
        while not code.startswith(prefix):
            prefix = prefix[:-1]
    for width in (10, 7, 4, 2):
        if len(prefix) >= width:
            return prefix[:width]
    return ""


@households_app.command("list")
def list_command(
    store: StoreOption,
    out: Annotated[Path, typer.Option("--out", help="The file to write.")],
    villages: Annotated[
        str | None, typer.Option("--villages", help="Village codes, comma-separated.")
    ] = None,
    kabupaten: Annotated[
        str | None, typer.Option("--kabupaten", help="Every village of this kabupaten/kota code.")
    ] = None,
    from_selection: Annotated[
        Path | None,
        typer.Option(
            "--from-selection", help="A selection: sasaran target JSON, CSV or XLSX (POST /targets)."
        ),
    ] = None,
    year: Annotated[
        int | None, typer.Option("--year", help="A year of the register (default: latest).")
    ] = None,
    format: Annotated[str, typer.Option("--format", help="xlsx (default), csv or pdf.")] = "xlsx",
    lang: Annotated[str, typer.Option("--lang", help="id (default) or en.")] = "id",
    database: DatabaseOption = None,
) -> None:
    """List the families of chosen villages by name, ranked by their own score (needs the register key).

    The list is recorded in the audit trail before the file is written.
    """
    from layers.export.households import LIST_FORMATS, family_list, write_family_list
    from layers.register import load_key
    from layers.store import LayerStore

    if format not in LIST_FORMATS:
        raise InvalidQuery(f"--format: expected one of {', '.join(LIST_FORMATS)}, got {format!r}")
    codes = _villages(store, villages, kabupaten, from_selection)
    opened = LayerStore.open(store)
    families = family_list(opened, load_key(), codes, year)
    with atomic_path(out) as tmp:
        write_family_list(families, tmp, format, lang)
        described = f"{format}, {families.summary()}, build {families.build_id}"
        audit(
            store, database, "download.family_list", "villages:" + ",".join(codes), _region(codes), described
        )
    typer.echo(f"{families.summary()}; written to {out} (recorded in the audit trail)")


@households_app.command("export")
def export_command(
    store: StoreOption,
    out: Annotated[Path, typer.Option("--out", help="The CSV file to write.")],
    anonymised: Annotated[
        bool,
        typer.Option("--anonymised", help="Required: the export holds no name, NIK, address or coordinate."),
    ] = False,
    year: Annotated[int | None, typer.Option("--year", help="Only this year of the register.")] = None,
    database: DatabaseOption = None,
) -> None:
    """The register's microdata for analysts: hashed family ids, villages, members and indicator values.

    ``sasaran mpi OUT --indicators layers/data/household_indicators.toml --weight-column members
    --group-by village_code`` on it gives the store's household figures (one year at a time).
    """
    from layers.export.households import anonymised as microdata
    from layers.export.households import write_anonymised
    from layers.register import load_key
    from layers.store import LayerStore

    if not anonymised:
        raise InvalidQuery("--anonymised is required: the register is exported only without names")
    frame = microdata(LayerStore.open(store), load_key(), year)
    with atomic_path(out) as tmp:
        write_anonymised(frame, tmp)
        what = f"csv, {len(frame)} families" + (f", {year}" if year is not None else "")
        audit(store, database, "download.anonymised_register", "register", None, what)
    typer.echo(f"{len(frame)} families written to {out} (anonymised; recorded in the audit trail)")
