"""The installed package is the product (issue 14, item 5): no test tooling inside it.

- Nothing in src/bakong finds files by walking up from its own location (`__file__` and
  `.parents`/`.parent`), since an installed package has no checkout around it; data a command
  needs is package data, read with importlib.resources.
- Nothing in src/bakong imports the checkout's `tools` or `tests`.
- Only `bakong.bench` imports the packages of the `bench` extra, so a validator, gateway or
  console installs without them; and every package-data pattern matches a file.
"""

from __future__ import annotations

import ast
import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
SRC = ROOT / "src" / "bakong"
PYPROJECT = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))


def _trees() -> list[tuple[Path, ast.AST]]:
    return [(path, ast.parse(path.read_text())) for path in sorted(SRC.rglob("*.py"))]


def _imports(tree: ast.AST) -> set[str]:
    names: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names.update(alias.name.split(".")[0] for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.add(node.module.split(".")[0])
    return names


def test_nothing_installed_walks_up_from_its_file() -> None:
    offenders = []
    for path, tree in _trees():
        for node in ast.walk(tree):
            if isinstance(node, ast.Attribute) and node.attr in ("parents", "parent"):
                inner = ast.unparse(node.value)
                if "__file__" in inner:
                    offenders.append(f"{path.relative_to(SRC)}:{node.lineno} {ast.unparse(node)}")
    assert offenders == []


def test_nothing_installed_imports_the_checkout() -> None:
    offenders = [
        f"{path.relative_to(SRC)} imports {name}"
        for path, tree in _trees()
        for name in sorted(_imports(tree) & {"tools", "tests"})
    ]
    assert offenders == []


def test_only_the_benchmarks_import_the_bench_extra() -> None:
    # PostgreSQL's driver itself is a runtime dependency: a gateway's store may be PostgreSQL.
    extra = {"psycopg_pool", "psutil"}
    declared = {
        requirement.split("[")[0].split(">")[0].replace("-", "_")
        for requirement in PYPROJECT["project"]["optional-dependencies"]["bench"]
    }
    assert declared == extra
    runtime = " ".join(PYPROJECT["project"]["dependencies"]).replace("-", "_")
    assert not any(name in runtime for name in extra)
    offenders = [
        f"{path.relative_to(SRC)} imports {name}"
        for path, tree in _trees()
        if path.relative_to(SRC).parts[0] != "bench"
        for name in sorted(_imports(tree) & extra)
    ]
    assert offenders == []


def test_every_package_data_pattern_matches_a_file() -> None:
    patterns = PYPROJECT["tool"]["setuptools"]["package-data"]["bakong"]
    assert [pattern for pattern in patterns if not list(SRC.glob(pattern))] == []
