"""Every file the code reads at run time is installed with it (the container installs the package).

The verification pages' static files and the map glyphs were left out of ``package-data``: a
checkout ran, the installed service in the container did not start. Each file beside the code
that is not Python must match a ``[tool.setuptools.package-data]`` pattern of its package.
"""

from __future__ import annotations

import tomllib
from fnmatch import fnmatch
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def _declared() -> dict[str, list[str]]:
    with (ROOT / "pyproject.toml").open("rb") as f:
        return tomllib.load(f)["tool"]["setuptools"]["package-data"]


def test_every_data_file_of_the_code_is_package_data() -> None:
    declared = _declared()
    missing = []
    for package in ("layers", "service"):
        base = ROOT / package
        for path in base.rglob("*"):
            if not path.is_file() or path.suffix in (".py", ".pyc") or "__pycache__" in path.parts:
                continue
            relative = path.relative_to(base).as_posix()
            # fnmatch's * crosses "/": count the parts so "static/*" is not "static/a/b".
            depth = relative.count("/")
            patterns = [p for p in declared.get(package, []) if p.count("/") == depth]
            if not any(fnmatch(relative, pattern) for pattern in patterns):
                missing.append(f"{package}/{relative}")
    assert not missing, f"not installed with the package (pyproject.toml package-data): {missing[:10]}"
