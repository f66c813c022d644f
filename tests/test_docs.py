"""The documents say what the code does: contracts, references and links checked against it."""

from __future__ import annotations

import re
import subprocess
from pathlib import Path

from layers.scoring.af import score_units, summarize, summary_to_json
from layers.scoring.spec import default_spec

ROOT = Path(__file__).resolve().parents[1]
DOCS = sorted((ROOT / "docs").glob("*.md")) + [ROOT / "README.md", ROOT / "CHANGELOG.md"]


def _section(path: Path, heading: str) -> str:
    """The text under a ``## heading`` up to the next heading of that level."""
    text = path.read_text(encoding="utf-8")
    start = text.index(f"## {heading}\n")
    end = text.find("\n## ", start + 1)
    return text[start : end if end > 0 else None]


def _ticked(text: str) -> set[str]:
    return set(re.findall(r"`([A-Za-z_][A-Za-z0-9_]*)`", text))


def test_the_mpi_json_object_is_as_contracts_md_lists_it() -> None:
    spec = default_spec()
    units = [[10, 11, 0, 0, 0, 61, 0, 0, 0, 0, 0], [0] * 11]
    scores = score_units(units, spec)
    whole = summary_to_json(summarize(scores, spec), spec)
    grouped = summary_to_json(summarize(scores, spec, groups=[0, 1], n_groups=2), spec, ["a", "b"])
    listed = _ticked(_section(ROOT / "docs" / "contracts.md", "`sasaran mpi --format json`"))
    assert set(whole) | {"groups"} == set(grouped)
    assert set(grouped) <= listed, set(grouped) - listed
    assert set(grouped["groups"]["a"]) <= listed, set(grouped["groups"]["a"]) - listed


def test_no_reference_to_a_document_outside_the_repository() -> None:
    """The design notes the project started from are not in the repository: cite ``docs/``."""
    tracked = subprocess.run(
        ["git", "ls-files"], cwd=ROOT, capture_output=True, text=True, check=True
    ).stdout.split()
    pattern = re.compile(r"DESIGN §|STYLE §|DESIGN\.md|STYLE\.md|\.\./shared")
    found = []
    for name in tracked:
        path = ROOT / name
        if path.suffix not in {".py", ".md", ".toml", ".txt", ".cfg", ".sh", ".mjs", ".js", ""}:
            continue
        if "vendor" in path.parts or not path.is_file() or path == Path(__file__):
            continue
        for number, line in enumerate(path.read_text(encoding="utf-8", errors="replace").splitlines(), 1):
            if pattern.search(line):
                found.append(f"{name}:{number}: {line.strip()}")
    assert not found, "\n".join(found)


def test_relative_links_in_the_documents_resolve() -> None:
    broken = []
    for doc in DOCS:
        for target in re.findall(r"\]\(([^)#\s]+)(?:#[^)]*)?\)", doc.read_text(encoding="utf-8")):
            if "://" in target or target.startswith("mailto:"):
                continue
            if not (doc.parent / target).exists():
                broken.append(f"{doc.relative_to(ROOT)}: {target}")
    assert not broken, broken


def test_command_help_shows_config_sections_as_written() -> None:
    """``[change_gate]`` in a help text is a config section, not markup to swallow."""
    from typer.testing import CliRunner

    from layers.cli.main import app

    shown = CliRunner().invoke(app, ["build", "--help"], terminal_width=200)
    assert shown.exit_code == 0, shown.output
    text = " ".join(shown.output.split())
    assert "beyond the config's [change_gate]" in text and "[default: CPUs]" in text
