"""``sasaran users``, ``sasaran audit``, ``sasaran backup`` and ``restore`` as a person runs them,
on SQLite and PostgreSQL; ``audit verify`` after rows are altered, removed or reordered directly."""

from __future__ import annotations

import contextlib
import io
import os
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path
from unittest import mock

import pytest
from sqlalchemy import text

from layers.cli.main import main
from layers.verification import accounts
from layers.verification.db import Database

ROOT = Path(__file__).resolve().parents[2]


@dataclass
class Ran:
    """What a command printed and its exit status."""

    returncode: int
    stdout: str
    stderr: str


def sasaran(*args: str, stdin: str = "") -> Ran:
    """Run the ``sasaran`` command in this process: its console entry point, `layers.cli.main.main`."""
    out, err = io.StringIO(), io.StringIO()
    code: int | str | None = 0
    with (
        mock.patch.object(sys, "argv", ["sasaran", *args]),
        mock.patch.object(sys, "stdin", io.StringIO(stdin)),
        mock.patch.dict(os.environ, {}, clear=False),
        contextlib.redirect_stdout(out),
        contextlib.redirect_stderr(err),
    ):
        os.environ.pop("SASARAN_DATABASE_URL", None)
        try:
            main()
        except SystemExit as exc:
            code = exc.code
    return Ran(int(code or 0) if not isinstance(code, str) else 1, out.getvalue(), err.getvalue())


def sasaran_process(*args: str) -> subprocess.CompletedProcess[str]:
    """Run ``python -m layers.cli`` as a separate process (the exit status a shell sees)."""
    env = os.environ | {"PYTHONPATH": str(ROOT)}
    env.pop("SASARAN_DATABASE_URL", None)
    return subprocess.run(
        [sys.executable, "-m", "layers.cli", *args],
        capture_output=True,
        text=True,
        env=env,
        timeout=300,
        check=False,
        cwd=ROOT,
    )


def test_users_add_token_list_disable_reset(database_url: str) -> None:
    db_args = ("--database", database_url)
    made = sasaran(
        "users",
        "add",
        "ani",
        "--role",
        "desa",
        "--region",
        "62.01.012.001",
        *db_args,
        stdin="kopi-tubruk-2024\n",
    )
    assert made.returncode == 0, made.stderr
    assert "account ani added: desa 6201012001" in made.stdout and "kopi" not in made.stdout
    generated = sasaran("users", "add", "budi", "--role", "kabupaten", "--region", "6201", *db_args)
    assert generated.returncode == 0 and "password (shown once" in generated.stdout
    password = generated.stdout.strip().rsplit(" ", 1)[-1]
    db = Database.open(database_url)
    try:
        assert accounts.sign_in(db, "budi", password, "10.0.0.1").account.role == "kabupaten"
        token = sasaran("users", "token", "ani", *db_args, "--days", "1", "--label", "laptop")
        assert token.returncode == 0
        line = token.stdout.strip()
        assert "\n" not in line and line.startswith("sasaran_")
        assert accounts.authenticate(db, line, accounts.TOKEN).account.name == "ani"
        listing = sasaran("users", "list", *db_args)
        assert listing.returncode == 0 and "ani" in listing.stdout and "budi" in listing.stdout
        assert "$argon2" not in listing.stdout
        off = sasaran("users", "disable", "ani", *db_args)
        assert off.returncode == 0 and "0 sessions or tokens left" in off.stdout
        with pytest.raises(accounts.NotSignedIn):
            accounts.authenticate(db, line, accounts.TOKEN)
        reset = sasaran("users", "reset", "budi", *db_args, stdin="another-good-password\n")
        assert reset.returncode == 0
        assert accounts.sign_in(db, "budi", "another-good-password", "10.0.0.1")
    finally:
        db.dispose()
    bad = sasaran(
        "users", "add", "c", "--role", "desa", "--region", "62", *db_args, stdin="kopi-tubruk-2024\n"
    )
    assert bad.returncode == 2 and "error:" in bad.stderr
    twice = sasaran(
        "users", "add", "ani", "--role", "desa", "--region", "6201012001", *db_args, stdin="x" * 12
    )
    assert twice.returncode == 2 and "exists already" in twice.stderr
    nowhere = sasaran("users", "list")
    assert nowhere.returncode == 2 and "--store DIR or --database URL" in nowhere.stderr


@pytest.mark.parametrize(
    ("tamper", "entry"),
    [
        ("UPDATE audit_log SET reason = 'rewritten' WHERE seq = 2", 2),
        ("DELETE FROM audit_log WHERE seq = 2", 2),
        (
            "UPDATE audit_log SET seq = -1 WHERE seq = 2; UPDATE audit_log SET seq = 2 WHERE seq = 3; "
            "UPDATE audit_log SET seq = 3 WHERE seq = -1",
            2,
        ),
    ],
    ids=["altered", "removed", "reordered"],
)
def test_audit_verify_exits_non_zero_naming_the_first_broken_entry(
    database_url: str, tamper: str, entry: int
) -> None:
    for name in ("ani", "budi", "citra"):
        assert (
            sasaran(
                "users",
                "add",
                name,
                "--role",
                "desa",
                "--region",
                "6201012001",
                "--database",
                database_url,
                stdin="kopi-tubruk-2024\n",
            ).returncode
            == 0
        )
    intact = sasaran("audit", "verify", "--database", database_url)
    assert intact.returncode == 0 and "audit chain intact: 3 entries" in intact.stdout
    db = Database.open(database_url)
    try:
        with db.engine.begin() as conn:
            if db.is_sqlite:
                conn.execute(text("DROP TRIGGER audit_log_no_update"))
                conn.execute(text("DROP TRIGGER audit_log_no_delete"))
            else:
                conn.execute(text("ALTER TABLE audit_log DISABLE TRIGGER USER"))
            for statement in tamper.split("; "):
                conn.execute(text(statement))
    finally:
        db.dispose()
    broken = sasaran_process("audit", "verify", "--database", database_url)
    assert broken.returncode == 3
    assert f"audit chain BROKEN at entry {entry}:" in broken.stderr


def test_audit_log_lists_entries(database_url: str) -> None:
    sasaran(
        "users",
        "add",
        "ani",
        "--role",
        "desa",
        "--region",
        "6201012001",
        "--database",
        database_url,
        stdin="kopi-tubruk-2024\n",
    )
    shown = sasaran("audit", "log", "--database", database_url)
    assert shown.returncode == 0 and "account.create account:ani" in shown.stdout and "[cli]" in shown.stdout


def test_backup_and_restore_from_the_command_line(database_url: str, tmp_path: Path) -> None:
    sasaran(
        "users",
        "add",
        "ani",
        "--role",
        "desa",
        "--region",
        "6201012001",
        "--database",
        database_url,
        stdin="kopi-tubruk-2024\n",
    )
    out = tmp_path / "backup.db"
    made = sasaran("backup", "--database", database_url, "--out", str(out))
    assert made.returncode == 0, made.stderr
    assert "audit chain intact, 2 entries" in made.stdout and out.is_file()
    target = f"sqlite:///{tmp_path / 'restored.db'}"
    restored = sasaran("restore", str(out), "--database", target)
    assert restored.returncode == 0, restored.stderr
    assert "3 entries" in restored.stdout
    assert sasaran("audit", "verify", "--database", target).returncode == 0
    again = sasaran("restore", str(out), "--database", target)
    assert again.returncode == 2 and "not empty" in again.stderr
