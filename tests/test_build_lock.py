"""Issue 13, finding 5: one build at a time per store, and no temporary directories left to pile up.

Real ``sasaran build`` processes on the 60-village demo sources: a second build of a store while the
first holds it exits 2 at once with a message naming the holder; a build killed with SIGKILL leaves
no lock behind; the next build removes the temporary directories that killed builds left.
"""

from __future__ import annotations

import fcntl
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from layers.errors import StoreLocked
from layers.store import LayerStore, build_lock, lock_path

SASARAN = str(Path(sys.executable).with_name("sasaran"))
LOCK_WAIT_S = 90


def _build(config: Path, store: Path, log: Path) -> subprocess.Popen:
    with log.open("wb") as out:
        # -v logs each stage as it ends ("stage read: 0.12 s"): what a build did can be counted.
        return subprocess.Popen(
            [SASARAN, "-v", "build", str(config), "--store", str(store), "--quiet"], stdout=out, stderr=out
        )


def _wait_until_locked_by(proc: subprocess.Popen, store: Path, log: Path) -> None:
    """Until the build process has taken the store's lock (it writes its pid into the lock file)."""
    deadline = time.monotonic() + LOCK_WAIT_S
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            pytest.fail(f"the build exited with {proc.returncode} before locking:\n{log.read_text()}")
        path = lock_path(store)
        if path.exists() and path.read_text().startswith(f"pid {proc.pid},"):
            return
        time.sleep(0.05)
    proc.kill()
    pytest.fail(f"the build did not take the lock within {LOCK_WAIT_S} s")


def _plant(directory: Path) -> Path:
    directory.mkdir()
    (directory / "hexagons.parquet").write_bytes(b"\0" * 100_000)  # half-written layer
    return directory


def test_a_second_build_of_the_same_store_exits_2_at_once(demo_sources: Path, tmp_path: Path) -> None:
    store = tmp_path / "store"
    first = _build(demo_sources, store, tmp_path / "first.log")
    try:
        _wait_until_locked_by(first, store, tmp_path / "first.log")
        os.kill(first.pid, signal.SIGSTOP)  # hold it there, lock taken, for as long as the test needs
        # A stale-looking directory while a build holds the lock may be that build's own: left alone.
        planted = _plant(tmp_path / ".store.building-planted")
        second = subprocess.run(
            [SASARAN, "-v", "build", str(demo_sources), "--store", str(store), "--quiet"],
            capture_output=True,
            text=True,
            timeout=120,
            check=False,
        )
        assert second.returncode == 2, second.stderr
        message = second.stderr.strip().splitlines()[-1]
        assert message.startswith(
            f"error: {store}: another build is writing this store (pid {first.pid}, since "
        )
        assert "wait for it to finish, or build into another --store" in message
        assert "Traceback" not in second.stderr
        # At once: the lock is taken before any work (no stage ran), not at the commit.
        assert "stage " not in second.stderr, second.stderr
        assert planted.is_dir()
    finally:
        os.kill(first.pid, signal.SIGCONT)
    assert first.wait(timeout=300) == 0, (tmp_path / "first.log").read_text()
    assert "stage read: " in (tmp_path / "first.log").read_text()  # the count above could see a stage
    assert LayerStore.open(store).rows("villages") == 60
    assert not lock_path(store).exists()  # released and removed


def test_a_killed_build_leaves_no_lock_and_the_next_cleans_up(demo_sources: Path, tmp_path: Path) -> None:
    store = tmp_path / "store"
    stale = [_plant(tmp_path / ".store.building-k1ll3d"), _plant(tmp_path / ".store.old-4242")]
    unrelated = _plant(tmp_path / ".other.building-x")  # another store's: never touched
    killed = _build(demo_sources, store, tmp_path / "killed.log")
    _wait_until_locked_by(killed, store, tmp_path / "killed.log")
    killed.kill()  # SIGKILL: no cleanup code runs; the kernel drops the flock
    killed.wait(timeout=30)
    # Whatever the killed build had done, its lock is gone and a new build proceeds and cleans up.
    again = subprocess.run(
        [SASARAN, "build", str(demo_sources), "--store", str(store), "--quiet"],
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert again.returncode == 0, again.stderr
    assert not any(d.exists() for d in stale)
    assert unrelated.is_dir()
    assert [p.name for p in tmp_path.glob(".store.*")] == []  # the killed build's lock file too
    assert LayerStore.open(store).rows("villages") == 60


def test_the_lock_is_reentrant_in_a_thread_and_exclusive_across_descriptors(tmp_path: Path) -> None:
    store = tmp_path / "store"
    with build_lock(store):
        with build_lock(store):  # a build's writer takes it again: fine
            pass
        # Another process would get a new open file description: simulate one with flock directly.
        fd = os.open(lock_path(store), os.O_RDWR)
        try:
            with pytest.raises(BlockingIOError):
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        finally:
            os.close(fd)
    assert not lock_path(store).exists()
    fd = os.open(lock_path(store), os.O_RDWR | os.O_CREAT)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)  # free after the outer block
        with pytest.raises(StoreLocked, match="another build is writing this store"):
            with build_lock(store):
                pass
    finally:
        os.close(fd)
