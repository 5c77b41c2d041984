"""A validator's concerns call one way (`bakong.node.replica`): each module may import only
the concerns below it, so none can call back into one that calls it.

Method: read each module's imports (those under `if TYPE_CHECKING:` included) with `ast` and
compare them with the layers, top first; then check that the whole `bakong.node` package
imports without a cycle.
"""

from __future__ import annotations

import ast
from pathlib import Path

import bakong.node

NODE = Path(bakong.node.__file__).parent
LAYERS = [
    ["runtime"],
    ["replica"],
    ["catchup", "admission"],
    ["host"],
    ["relay", "mempool", "verifier", "compact"],
    ["envelope"],
]


def node_imports(module: str) -> set[str]:
    """The `bakong.node` modules that `module` imports."""
    tree = ast.parse((NODE / f"{module}.py").read_text())
    found = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and node.module is not None:
            names = [node.module] + [f"{node.module}.{alias.name}" for alias in node.names]
        elif isinstance(node, ast.Import):
            names = [alias.name for alias in node.names]
        else:
            continue
        for name in names:
            parts = name.split(".")
            if parts[:2] == ["bakong", "node"] and len(parts) > 2:
                if (NODE / f"{parts[2]}.py").exists():
                    found.add(parts[2])
    found.discard(module)
    return found


def test_each_concern_imports_only_the_concerns_below_it() -> None:
    for rank, layer in enumerate(LAYERS):
        above_or_beside = {name for upper in LAYERS[: rank + 1] for name in upper}
        for module in layer:
            wrong = node_imports(module) & above_or_beside
            assert not wrong, f"{module} imports {sorted(wrong)}: a call back up"


def test_the_node_package_has_no_import_cycle() -> None:
    modules = sorted(path.stem for path in NODE.glob("*.py") if path.stem != "__init__")
    graph = {module: node_imports(module) for module in modules}
    done: set[str] = set()

    def visit(module: str, path: list[str]) -> None:
        assert module not in path, " -> ".join([*path, module])
        if module in done:
            return
        for imported in sorted(graph[module]):
            visit(imported, [*path, module])
        done.add(module)

    for module in modules:
        visit(module, [])
