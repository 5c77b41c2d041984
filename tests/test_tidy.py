"""Tidy: mechanical rules of the codebase (TigerBeetle's tidy.zig, in spirit).

- The pure packages (design section 7) import nothing that does I/O or reads the clock or a
  random source: no asyncio, socket, time, random, os, threading, logging handlers, databases.
- Every module has a docstring saying what it is for.
- No function in src/ is longer than 70 lines.
- No leftover FIXME or XXX markers.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

SRC = Path(__file__).resolve().parent.parent / "src" / "bakong"
PURE_PACKAGES = ["wire", "ledger", "consensus", "khqr"]
FORBIDDEN_MODULES = {
    "asyncio",
    "socket",
    "time",
    "random",
    "os",
    "threading",
    "multiprocessing",
    "subprocess",
    "logging",
    "sqlite3",
    "lmdb",
    "psycopg",
    "psycopg2",
    "duckdb",
    "datetime",
    "secrets",
    "uuid",
    "pathlib",
    "io",
    "shutil",
    "tempfile",
    "selectors",
    "signal",
    "bakong.node",
    "bakong.gateway",
    "bakong.console",
    "bakong.crossborder",
    "bakong.cli",
    "bakong.keystore",
}
FUNCTION_LINES_MAX = 70


def _modules() -> list[Path]:
    return sorted(SRC.rglob("*.py"))


def _imported(tree: ast.AST) -> set[str]:
    names: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.add(node.module)
    return names


def _is_forbidden(name: str) -> bool:
    return any(name == bad or name.startswith(bad + ".") for bad in FORBIDDEN_MODULES)


@pytest.mark.parametrize("package", PURE_PACKAGES)
def test_pure_packages_import_no_io(package: str) -> None:
    root = SRC / package
    if not root.exists():
        pytest.skip(f"bakong.{package} is not written yet")
    offenders = []
    for path in sorted(root.rglob("*.py")):
        for name in _imported(ast.parse(path.read_text())):
            if _is_forbidden(name):
                offenders.append(f"{path.relative_to(SRC)} imports {name}")
    assert offenders == []


def test_every_module_has_a_docstring() -> None:
    missing = [
        str(path.relative_to(SRC))
        for path in _modules()
        if path.stat().st_size > 0 and ast.get_docstring(ast.parse(path.read_text())) is None
    ]
    assert missing == []


def test_functions_are_short() -> None:
    long_functions = []
    for path in _modules():
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
                assert node.end_lineno is not None
                length = node.end_lineno - node.lineno + 1
                if length > FUNCTION_LINES_MAX:
                    long_functions.append(f"{path.relative_to(SRC)}:{node.lineno} {node.name}")
    assert long_functions == []


def test_no_leftover_markers() -> None:
    markers = ("FIX" + "ME", "X" + "XX")
    found = [
        f"{path.relative_to(SRC)}:{number}"
        for path in _modules()
        for number, line in enumerate(path.read_text().splitlines(), start=1)
        if any(marker in line for marker in markers)
    ]
    assert found == []
