"""Every ``Examples`` block in ``layers`` runs, on the session's demo province, in ``make test``.

An example that stops being true fails here, so the docstrings cannot drift from the code. The
examples see the module's own names plus the fixtures a reader would have: ``store_dir`` (a
built synthetic store), ``store`` (it, opened) and ``tmp_path`` (an empty directory of their own).
No example may be skipped: one that needs data uses these.
"""

from __future__ import annotations

import doctest
import importlib
import pkgutil
from pathlib import Path

import pytest

import layers
from layers.store import LayerStore

FLAGS = doctest.ELLIPSIS | doctest.NORMALIZE_WHITESPACE


def _modules() -> list[str]:
    names = ["layers"]
    for info in pkgutil.walk_packages(layers.__path__, prefix="layers."):
        if info.name.endswith(".__main__"):  # runs the command line when imported
            continue
        if ".migrations" in info.name:  # Alembic's scripts: only Alembic may import them
            continue
        names.append(info.name)
    return sorted(names)


def _examples() -> list[doctest.DocTest]:
    finder = doctest.DocTestFinder(exclude_empty=True)
    found = []
    for name in _modules():
        module = importlib.import_module(name)
        # Only the module's own objects: a re-exported function is tested where it is defined.
        found += [t for t in finder.find(module, name) if t.examples and _defined_in(t, module)]
    return sorted(found, key=lambda t: t.name)


def _defined_in(test: doctest.DocTest, module: object) -> bool:
    return test.filename is not None and Path(test.filename).resolve() == Path(module.__file__).resolve()  # type: ignore[attr-defined]


EXAMPLES = _examples()


def test_the_examples_are_found() -> None:
    """The harness is not empty by accident: the known blocks are there, none skipped."""
    names = {t.name for t in EXAMPLES}
    assert {"layers.rounding", "layers.scoring.af.score_units", "layers.store.LayerStore"} <= names
    assert len(EXAMPLES) >= 40
    skipped = [t.name for t in EXAMPLES for e in t.examples if e.options.get(doctest.SKIP)]
    assert not skipped, f"skipped examples (give them the fixtures they need instead): {skipped}"


@pytest.mark.parametrize("example", EXAMPLES, ids=[t.name for t in EXAMPLES])
def test_the_example_holds(
    example: doctest.DocTest, store_dir: Path, store: LayerStore, tmp_path: Path
) -> None:
    example.globs.update(store_dir=store_dir, store=store, tmp_path=tmp_path)
    runner = doctest.DocTestRunner(optionflags=FLAGS)
    report: list[str] = []
    runner.run(example, out=report.append, clear_globs=False)
    assert runner.failures == 0, "".join(report)
