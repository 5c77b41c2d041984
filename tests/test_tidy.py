"""Tidy: mechanical rules of the codebase (TigerBeetle's tidy.zig, in spirit).

- The pure packages (design section 7) import nothing that does I/O or reads the clock or a
  random source: no asyncio, socket, time, random, os, threading, logging handlers, databases.
- Every module has a docstring saying what it is for.
- No function in src/ is longer than 70 lines.
- No leftover FIXME or XXX markers.
- Every bound lives in `limits.py`: no other module assigns a number to a name that reads as a
  bound (`_max`, `_min`, `_ms`, `_s`, `_bytes`, `_timeout`), but for the constants a
  specification fixes, each listed with its reason.
- Every exception class is drawn in `errors.py`'s tree under its real base (in the module the
  drawing names), and every `raise` names a drawn class (or one of the few outside the tree).
"""

from __future__ import annotations

import ast
import builtins
import re
from pathlib import Path

import click
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


BOUND_SUFFIXES = ("_max", "_min", "_ms", "_s", "_bytes", "_timeout")
# Numbers a specification or the calendar fixes, not bounds we chose: a module (every name in
# it) or `module:name`, with the reason it stays where it is.
FORMAT_CONSTANTS = {
    "khqr/tags.py": "the field lengths of the KHQR specification and NBC's SDK",
    "khqr/codes.py:SDK_CODE_MAX": "the highest error code NBC's SDK defines",
    "khqr/ecmascript.py:_TIME_MS_MAX": "ECMA-262 TimeClip: the largest time a Date holds",
    "khqr/vietqr.py:purpose_chars_max": "NAPAS VietQR: the length of the purpose field",
    "node/noise.py": "the sizes of the Noise Protocol Framework (sections 4 and 5)",
    "node/transport.py:length_prefix_bytes": "the frame format's u32 length prefix",
    "node/tx_index.py:_hash_bytes": "a transaction hash's width (SHA-256) in a run's entries",
    "ledger/policy.py:_phnom_penh_offset_ms": "Cambodia is UTC+7, without daylight saving",
    "sim/chain.py:GENESIS_TIME_MS": "an instant (the simulated genesis), not a bound",
    "bench/qr.py:NOW_MS": "an instant (the benchmark's fixed clock), not a bound",
}


def _is_number(node: ast.expr) -> bool:
    if isinstance(node, ast.Constant):
        return isinstance(node.value, int | float) and not isinstance(node.value, bool)
    if isinstance(node, ast.BinOp):
        return _is_number(node.left) and _is_number(node.right)
    return isinstance(node, ast.UnaryOp) and _is_number(node.operand)


def _module_numbers(tree: ast.Module) -> list[tuple[str, int]]:
    """(name, line) of each module-level assignment of a number or of arithmetic on numbers."""
    found = []
    for statement in tree.body:
        if isinstance(statement, ast.Assign):
            targets, value = statement.targets, statement.value
        elif isinstance(statement, ast.AnnAssign) and statement.value is not None:
            targets, value = [statement.target], statement.value
        else:
            continue
        if _is_number(value):
            found += [(t.id, statement.lineno) for t in targets if isinstance(t, ast.Name)]
    return found


def bounds_outside_limits(root: Path) -> list[str]:
    offenders = []
    for path in sorted(root.rglob("*.py")):
        module = path.relative_to(root).as_posix()
        if module == "limits.py" or module in FORMAT_CONSTANTS:
            continue
        for name, line in _module_numbers(ast.parse(path.read_text())):
            bound = name.lower().endswith(BOUND_SUFFIXES)
            if bound and f"{module}:{name}" not in FORMAT_CONSTANTS:
                offenders.append(f"{module}:{line} {name}")
    return offenders


def test_every_bound_lives_in_limits() -> None:
    assert bounds_outside_limits(SRC) == []


def test_the_bound_rule_finds_a_bound_planted_outside_limits(tmp_path: Path) -> None:
    (tmp_path / "limits.py").write_text("queue_max = 10\n")
    (tmp_path / "node").mkdir()
    (tmp_path / "node" / "pool.py").write_text(
        '"""A pool."""\nworkers = 4\nwait_ms = 2 * 1_000\n_idle_timeout: float = 5.0\n'
    )
    planted = ["node/pool.py:3 wait_ms", "node/pool.py:4 _idle_timeout"]
    assert bounds_outside_limits(tmp_path) == planted
    for entry in FORMAT_CONSTANTS:  # every exemption still names a module (or a constant) there
        module, _, name = entry.partition(":")
        numbers = {found for found, _ in _module_numbers(ast.parse((SRC / module).read_text()))}
        assert name in numbers if name else numbers, entry


# -- the exception tree ------------------------------------------------------------------------

RAISABLE_OUTSIDE_TREE = {"AssertionError", "SystemExit", "NotImplementedError"}
_DRAWN = re.compile(r"^(?P<indent>[ │├└─]*)(?P<name>[A-Z][A-Za-z]*)(?:\s+\((?P<module>[\w.]+)\))?")


class Drawn:
    """A class as `errors.py`'s docstring draws it: its parent and the module that defines it."""

    def __init__(self, parent: str | None, module: str) -> None:
        self.parent = parent
        self.module = module


def drawn_tree(errors_source: str) -> dict[str, Drawn]:
    docstring = ast.get_docstring(ast.parse(errors_source), clean=False) or ""
    tree: dict[str, Drawn] = {}
    stack: list[tuple[int, str]] = []  # (column, name) of the open ancestors
    for line in docstring.splitlines():
        match = _DRAWN.match(line)
        if not line.startswith("    ") or match is None:
            stack = []
            continue
        column, name = len(match["indent"]), match["name"]
        while stack and stack[-1][0] >= column:
            stack.pop()
        tree[name] = Drawn(stack[-1][1] if stack else None, match["module"] or "errors")
        stack.append((column, name))
    return tree


def _base_names(node: ast.ClassDef) -> list[str]:
    return [ast.unparse(base) for base in node.bases]


def _is_click_exception(dotted: str) -> bool:
    """`click.UsageError`, `click.exceptions.Exit`: how a command line ends, by click's rules."""
    parts = dotted.split(".")
    value: object = click if parts[0] == "click" else None
    for part in parts[1:]:
        value = getattr(value, part, None)
    return isinstance(value, type) and issubclass(value, BaseException)


def exception_classes(root: Path) -> dict[str, tuple[str, list[str]]]:
    """Every class in the package that is an exception: name -> (module, base names). Classes
    that derive from click's exceptions are the command line's own and are left out."""
    classes = {}
    for path in sorted(root.rglob("*.py")):
        module = path.relative_to(root).with_suffix("").as_posix().replace("/", ".")
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.ClassDef):
                classes[node.name] = (module, _base_names(node))

    def is_exception(name: str, seen: frozenset[str] = frozenset()) -> bool:
        builtin = getattr(builtins, name, None)
        if isinstance(builtin, type) and issubclass(builtin, BaseException):
            return True
        if name not in classes or name in seen:
            return False
        return any(is_exception(base, seen | {name}) for base in classes[name][1])

    return {
        name: found
        for name, found in classes.items()
        if is_exception(name) and not any(_is_click_exception(base) for base in found[1])
    }


def undrawn_exceptions(root: Path) -> list[str]:
    drawn = drawn_tree((root / "errors.py").read_text())
    problems = []
    for name, (module, bases) in sorted(exception_classes(root).items()):
        entry = drawn.get(name)
        if entry is None:
            problems.append(f"{module}.{name} is not drawn in errors.py")
        elif entry.module != module or (entry.parent or "Exception") not in bases:
            problems.append(f"{module}.{name}({', '.join(bases)}) is drawn as ({entry.module}) "
                            f"under {entry.parent}")  # fmt: skip
    return problems


def raises_outside_tree(root: Path) -> list[str]:
    drawn = drawn_tree((root / "errors.py").read_text())
    classes = exception_classes(root)
    problems = []
    for path in sorted(root.rglob("*.py")):
        for node in ast.walk(ast.parse(path.read_text())):
            if not isinstance(node, ast.Raise) or node.exc is None:
                continue
            raised = node.exc.func if isinstance(node.exc, ast.Call) else node.exc
            name = ast.unparse(raised)
            leaf = name.rpartition(".")[2]
            if not leaf[:1].isupper():
                continue  # an exception held in a variable, or a function that makes one
            if leaf in drawn or leaf in RAISABLE_OUTSIDE_TREE or _is_click_exception(name):
                continue
            if leaf not in classes and not hasattr(builtins, leaf) and "." not in name:
                continue  # a click exception of the module's own (left out of `classes`)
            problems.append(f"{path.relative_to(root)}:{node.lineno} raises {name}")
    return problems


def test_every_exception_class_is_drawn_in_the_tree() -> None:
    assert undrawn_exceptions(SRC) == []


def test_every_raise_names_a_class_of_the_tree() -> None:
    assert raises_outside_tree(SRC) == []


def test_the_tree_rules_find_planted_exceptions(tmp_path: Path) -> None:
    (tmp_path / "errors.py").write_text((SRC / "errors.py").read_text())
    (tmp_path / "node").mkdir()
    (tmp_path / "node" / "pool.py").write_text(
        '"""A pool."""\nfrom bakong.errors import RemoteError\n\n\n'
        "class PoolFull(RemoteError):\n    pass\n\n\n"
        "class NoiseError(Exception):\n    pass\n\n\n"
        "def take() -> None:\n    raise ValueError('empty')\n"
    )
    assert undrawn_exceptions(tmp_path) == [
        "node.pool.NoiseError(Exception) is drawn as (node.noise) under RemoteError",
        "node.pool.PoolFull is not drawn in errors.py",
    ]
    assert raises_outside_tree(tmp_path) == ["node/pool.py:14 raises ValueError"]
