"""The package's shape: no import cycle, layers that import downward only, modules of a readable size.

The import graph is read from the source (``ast``), not by importing: ``backends/`` is the installed
``winit.backends``. An edge is an import that runs when its module is imported (module level, class
bodies, ``try``/``if`` blocks); imports inside functions and under ``if TYPE_CHECKING:`` run later
or never, so they cannot close a cycle and are left out of the cycle check, but not of the layer rules.
"""

from __future__ import annotations

import ast
import re
import subprocess
import sys
import textwrap
from collections.abc import Iterator
from pathlib import Path
from typing import Final

import pytest

REPO: Final = Path(__file__).resolve().parent.parent
PACKAGES: Final = {"winit": REPO / "winit", "winit.backends": REPO / "backends"}
MAX_LINES: Final = 600
ADAPTERS: Final = ("numpy", "torch", "tensorflow", "jax")
FRAMEWORKS: Final = ("torch", "tensorflow", "jax", "jaxlib", "array_api_compat", "keras", "flax")


def _modules() -> dict[str, Path]:
    """Every module of the two packages by dotted name (a worktree's winit/backends link is skipped)."""
    found: dict[str, Path] = {}
    for package, root in PACKAGES.items():
        for path in sorted(root.rglob("*.py")):
            relative = path.relative_to(root)
            if package == "winit" and relative.parts[0] == "backends":
                continue
            parts = [package, *relative.with_suffix("").parts]
            if parts[-1] == "__init__":
                parts.pop()
            found[".".join(parts)] = path
    return found


MODULES: Final = _modules()


def _is_type_checking(test: ast.expr) -> bool:
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or (
        isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING"
    )


def _imports(tree: ast.Module, eager_only: bool) -> Iterator[ast.Import | ast.ImportFrom]:
    """The module's import statements; ``eager_only``: those that run on import (see the module docstring)."""

    def walk(nodes: list[ast.stmt]) -> Iterator[ast.Import | ast.ImportFrom]:
        for node in nodes:
            if isinstance(node, (ast.Import, ast.ImportFrom)):
                yield node
            elif isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
                if not eager_only:
                    yield from walk(node.body)
            elif isinstance(node, ast.If) and _is_type_checking(node.test):
                if not eager_only:
                    yield from walk(node.body)
                yield from walk(node.orelse)
            elif isinstance(node, (ast.Try, ast.If, ast.With, ast.For, ast.While, ast.ClassDef)):
                handlers = [h for h in getattr(node, "handlers", []) if isinstance(h, ast.ExceptHandler)]
                for block in (node.body, getattr(node, "orelse", []), getattr(node, "finalbody", [])):
                    yield from walk(block)
                for handler in handlers:
                    yield from walk(handler.body)

    yield from walk(tree.body)


def _targets(module: str, node: ast.Import | ast.ImportFrom) -> set[str]:
    """Fully qualified names a statement imports (modules, or module.attribute for ``from`` imports)."""
    if isinstance(node, ast.Import):
        return {alias.name for alias in node.names}
    if node.level:
        is_package = MODULES[module].name == "__init__.py"
        base = module.split(".")
        base = base[: len(base) - node.level + (1 if is_package else 0)]
        source = ".".join(base + ([node.module] if node.module else []))
    else:
        source = node.module or ""
    return {source} | {f"{source}.{alias.name}" for alias in node.names}


def _graph(eager_only: bool) -> dict[str, set[str]]:
    """module → the modules of the two packages it imports."""
    graph: dict[str, set[str]] = {}
    for module, path in MODULES.items():
        tree = ast.parse(path.read_text(), str(path))
        edges: set[str] = set()
        for node in _imports(tree, eager_only):
            edges |= {name for name in _targets(module, node) if name in MODULES and name != module}
        graph[module] = edges
    return graph


def _raw_imports(module: str) -> set[str]:
    """Every name ``module`` imports anywhere (functions and TYPE_CHECKING included), in or out of the packages."""
    tree = ast.parse(MODULES[module].read_text())
    return {name for node in _imports(tree, eager_only=False) for name in _targets(module, node)}


def _cycle(graph: dict[str, set[str]]) -> list[str] | None:
    """One cycle of ``graph`` as [a, b, ..., a], or None (iterative depth-first search)."""
    state: dict[str, int] = {}  # 1: on the current path, 2: done
    for start in sorted(graph):
        if state.get(start):
            continue
        path = [start]
        stack = [iter(sorted(graph[start]))]
        state[start] = 1
        while stack:
            child = next(stack[-1], None)
            if child is None:
                state[path.pop()] = 2
                stack.pop()
            elif state.get(child) == 1:
                return [*path[path.index(child) :], child]
            elif not state.get(child):
                state[child] = 1
                path.append(child)
                stack.append(iter(sorted(graph[child])))
    return None


def test_the_graph_sees_the_packages_and_their_edges() -> None:
    """The reader works: it finds the modules, relative and absolute edges, and skips function-level ones."""
    graph = _graph(eager_only=True)
    assert {"winit", "winit.backends._common", "winit.backends._portable.engine"} <= set(graph)
    assert "winit.backends._portable.bits" in graph["winit.backends._portable.counters"]  # relative
    assert "winit.backends._common" in graph["winit.backends._portable.args"]  # two dots
    assert "winit._laws" in graph["winit.backends._common"]  # absolute
    assert "winit._validate" not in graph["winit.backends._portable.args"]  # inside check_rng
    assert _cycle({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": set()}) == ["a", "b", "c", "a"]
    assert _cycle({"a": {"b"}, "b": set()}) is None


def test_no_import_cycle() -> None:
    cycle = _cycle(_graph(eager_only=True))
    assert cycle is None, "import cycle at module level: " + " -> ".join(cycle or [])


def test_backends_import_downward() -> None:
    """_common, _philox and _tail are leaves; the portable engine imports no adapter and no framework;
    no module of backends/ imports the router, which sits on top."""
    backends = [m for m in MODULES if m.startswith("winit.backends.")]
    for leaf in ("winit.backends._common", "winit.backends._philox", "winit.backends._tail"):
        eager = _graph(eager_only=True)[leaf]
        assert not {m for m in eager if m.startswith("winit.backends")}, f"{leaf} imports {sorted(eager)}"
        lazy = {m for m in _raw_imports(leaf) if m.startswith("winit.backends.") and m in MODULES}
        assert lazy <= {"winit.backends._portable.engine"}, f"{leaf} imports {sorted(lazy)}"  # a hook's type
    engine = [m for m in backends if m.split(".")[2] == "_portable"]  # the package, not _portable_x
    assert len(engine) >= 6, engine
    for module in engine:
        names = _raw_imports(module)
        adapters = {
            n
            for n in names
            for a in ADAPTERS
            if n == f"winit.backends.{a}" or n.startswith(f"winit.backends.{a}.")
        }
        frameworks = {n for n in names if n.split(".")[0] in FRAMEWORKS}
        assert not adapters and not frameworks, f"{module} imports {sorted(adapters | frameworks)}"
    for module in backends:
        if module != "winit.backends._router":
            assert "winit.backends._router" not in _raw_imports(module), f"{module} imports the router"


def test_no_backend_is_named_outside_its_adapter() -> None:
    """Backend knowledge lives in the adapters: no ``adapter.name == "..."`` branch in backends/ or winit/."""
    pattern = re.compile(r"\badapter\.name\s*[!=]=|\bname\s*[!=]=\s*[\"'](numpy|torch|tensorflow|jax)[\"']")
    found = [
        f"{path.relative_to(REPO)}:{number}: {line.strip()}"
        for path in MODULES.values()
        for number, line in enumerate(path.read_text().splitlines(), 1)
        if pattern.search(line)
    ]
    assert not found, "\n".join(found)


def test_modules_stay_readable() -> None:
    """No module of winit/ or backends/ past MAX_LINES lines: a longer one is split into private modules."""
    too_long = {
        path.relative_to(REPO).as_posix(): lines
        for path in MODULES.values()
        if (lines := len(path.read_text().splitlines())) > MAX_LINES
    }
    assert not too_long, f"modules over {MAX_LINES} lines (split them): {too_long}"


def test_typing_stubs_mirror_the_backends() -> None:
    """typings/winit/backends (mypy's view of backends/ as winit.backends) has one ``from backends.X import *``
    stub per module winit/ imports from winit.backends, and none for a module that is gone."""
    stubs_root = REPO / "typings" / "winit" / "backends"
    stubs = {}
    for path in stubs_root.rglob("*.pyi"):
        parts = ["winit.backends", *path.relative_to(stubs_root).with_suffix("").parts]
        if parts[-1] == "__init__":
            parts.pop()
        stubs[".".join(parts)] = path
    for module, path in stubs.items():
        assert module in MODULES, (
            f"{path.relative_to(REPO)} stands for {module}, which backends/ no longer has"
        )
        if module != "winit.backends":
            source = module.replace("winit.backends", "backends", 1)
            assert path.read_text() == f"from {source} import *\n", (
                f"{path.relative_to(REPO)} should read that"
            )
    used = {
        name
        for module in MODULES
        if not module.startswith("winit.backends")
        for name in _raw_imports(module)
        if name in MODULES and name.startswith("winit.backends")
    }
    missing = sorted(used - set(stubs))
    assert not missing, (
        f"winit/ imports {missing}: add a one-line stub for each to {stubs_root.relative_to(REPO)}"
    )


@pytest.mark.slow
def test_adapters_are_typed_for_the_checker(tmp_path: Path) -> None:
    """mypy sees ``winit.backends`` as the typed adapters (not Any): every ADAPTER is an ``Adapter``,
    and a call to a method no adapter has is an error."""
    pytest.importorskip("mypy")
    probe = tmp_path / "probe.py"
    probe.write_text(
        textwrap.dedent(
            """
            from winit.backends import jax, numpy, tensorflow, torch
            from winit.backends._common import Adapter
            from winit.backends._portable import realize_block
            from winit.backends._router import realize

            adapters: list[Adapter] = [numpy.ADAPTER, torch.ADAPTER, tensorflow.ADAPTER, jax.ADAPTER]
            reveal_type(realize_block)
            reveal_type(realize)
            torch.ADAPTER.no_such_method(1, 2, 3)
            """
        )
    )
    config = REPO / "pyproject.toml"
    result = subprocess.run(
        [sys.executable, "-m", "mypy", "--config-file", str(config), str(probe)],
        cwd=REPO, capture_output=True, text=True, timeout=900,
    )  # fmt: skip
    out = result.stdout
    assert 'probe.py:10: error: "TorchAdapter" has no attribute "no_such_method"' in out, out
    assert "Adapter, plan: winit._schemes.Plan" in out, out  # realize_block's signature, not Any
    assert out.count(": error:") == 1, out  # the four adapters satisfy the protocol
