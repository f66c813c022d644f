"""`layers.atomic`: a file or directory is the old one or the new one, never missing or half written."""

from __future__ import annotations

import os
import stat
from pathlib import Path

import pytest

from layers import atomic
from layers.atomic import atomic_path, sibling_directory, swap_directory, writing_directory


def _tree(root: Path) -> dict[str, str]:
    return {str(p.relative_to(root)): p.read_text() for p in sorted(root.rglob("*")) if p.is_file()}


def _site(tmp_path: Path) -> Path:
    site = tmp_path / "site"
    site.mkdir()
    (site / "a.txt").write_text("old")
    return site


def test_a_failed_second_rename_puts_the_old_directory_back(tmp_path: Path, monkeypatch) -> None:
    site = _site(tmp_path)
    new = sibling_directory(site, "building")
    (new / "a.txt").write_text("new")
    real = os.rename
    calls: list[tuple[str, str]] = []

    def rename(src, dst):  # the second rename (new -> site) fails, as on a full or vanished disk
        calls.append((Path(src).name, Path(dst).name))
        if len(calls) == 2:
            raise OSError("disk gone")
        real(src, dst)

    monkeypatch.setattr(atomic.os, "rename", rename)
    with pytest.raises(OSError, match="disk gone"):
        swap_directory(new, site)
    assert _tree(site) == {"a.txt": "old"}
    assert len(calls) == 3 and calls[2][1] == "site"  # moved aside, failed, moved back


def test_a_failure_while_writing_leaves_the_target_and_no_temporary(tmp_path: Path) -> None:
    site = _site(tmp_path)
    with pytest.raises(RuntimeError), writing_directory(site) as tmp:
        (tmp / "a.txt").write_text("half")
        raise RuntimeError("generator failed")
    assert _tree(site) == {"a.txt": "old"}
    assert [p.name for p in tmp_path.iterdir()] == ["site"]


def test_a_written_directory_replaces_the_target_whole(tmp_path: Path) -> None:
    site = _site(tmp_path)
    with writing_directory(site) as tmp:
        (tmp / "b.txt").write_text("new")
    assert _tree(site) == {"b.txt": "new"}  # a.txt went with the old directory
    assert [p.name for p in tmp_path.iterdir()] == ["site"]


def test_a_file_is_refused_as_a_directory_target(tmp_path: Path) -> None:
    (tmp_path / "file").write_text("x")
    with pytest.raises(NotADirectoryError), writing_directory(tmp_path / "file"):
        pass


def test_directories_follow_the_umask_not_mkdtemp(tmp_path: Path) -> None:
    """A store built by one user is served by another: not 0700 as ``mkdtemp`` makes it."""
    old = os.umask(0o022)
    try:
        with writing_directory(tmp_path / "out"):
            pass
    finally:
        os.umask(old)
    assert stat.S_IMODE((tmp_path / "out").stat().st_mode) == 0o755


def test_a_failed_file_write_leaves_the_previous_file(tmp_path: Path) -> None:
    path = tmp_path / "a.gpkg"
    path.write_text("previous")
    with pytest.raises(RuntimeError), atomic_path(path) as tmp:
        tmp.write_text("half")
        (tmp.with_name(tmp.name + "-journal")).write_text("sqlite leftovers")
        raise RuntimeError("writer failed")
    assert path.read_text() == "previous"
    assert [p.name for p in tmp_path.iterdir()] == ["a.gpkg"]
