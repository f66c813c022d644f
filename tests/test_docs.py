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


def _typed_keys(typed: type) -> tuple[set[str], set[str]]:
    """A TypedDict's required and optional keys, read from its annotations (under ``from
    __future__ import annotations`` Python 3.11 counts ``NotRequired`` keys as required)."""
    hints = typed.__annotations__
    optional = {
        k for k, v in hints.items() if str(getattr(v, "__forward_arg__", v)).startswith("NotRequired")
    }
    return set(hints) - optional, optional


def test_a_built_manifest_has_exactly_the_keys_of_its_type(store) -> None:
    from layers.store import Manifest

    required, optional = _typed_keys(Manifest)
    assert "partitions" in optional and "name" in required
    keys = set(store.manifest)
    assert required <= keys, required - keys
    assert keys <= required | optional, keys - required - optional


def test_schema_md_names_every_manifest_key() -> None:
    from layers.store import Manifest, PartitionEntry

    schema = ROOT / "docs" / "schema.md"
    listed = _ticked(_section(schema, "manifest.json") + _section(schema, "National (partitioned) stores"))
    keys = set(Manifest.__annotations__) | set(PartitionEntry.__annotations__)
    assert keys <= listed, sorted(keys - listed)
