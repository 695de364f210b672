"""The documentation: the site builds strictly, every docstring example runs, the spec layer has examples.

The site (mkdocs + mkdocstrings, ``mkdocs.yml``) reads the docstrings statically; ``--strict`` turns
every warning (a broken link, a reference to a renamed object, a page left out of the navigation)
into a failure. The ``>>>`` examples are the API reference's examples, run here as doctests.
"""

from __future__ import annotations

import ast
import doctest
import importlib
import importlib.util
import inspect
import os
import subprocess
import sys
from pathlib import Path
from types import ModuleType

import pytest

import winit

REPO = Path(__file__).resolve().parents[1]

#: modules whose docstring examples run as doctests; the front doors skip without their framework.
DOCTEST_MODULES = (
    "winit",
    "winit._api",
    "winit._fans",
    "winit._gains",
    "winit._registry",
    "winit._roles",
    "winit._schemes",
    "winit._recipes",
    "winit.diagnose",
    "winit.cli",
    "winit._probe",
    "winit.torch",
    "winit.keras",
    "winit.flax",
)
#: a front door imports its framework at module import.
_FRAMEWORK = {"winit.torch": "torch", "winit.keras": "keras", "winit.flax": "flax"}


def _imports(test: doctest.DocTest) -> set[str]:
    """Top-level packages that a docstring's examples import."""
    found: set[str] = set()
    for example in test.examples:
        try:
            tree = ast.parse(example.source)
        except SyntaxError:
            continue
        for node in ast.walk(tree):
            if isinstance(node, ast.Import):
                found |= {alias.name.split(".")[0] for alias in node.names}
            elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
                found.add(node.module.split(".")[0])
    return found


def _doctests(module: ModuleType) -> list[doctest.DocTest]:
    finder = doctest.DocTestFinder(exclude_empty=True)
    return [test for test in finder.find(module, globs={}) if test.examples]


@pytest.mark.parametrize("name", DOCTEST_MODULES)
def test_docstring_examples_run(name: str) -> None:
    if name in _FRAMEWORK:
        pytest.importorskip(_FRAMEWORK[name])
    module = importlib.import_module(name)
    tests = _doctests(module)
    if not tests and name in _FRAMEWORK:
        pytest.skip(f"{name} has no docstring examples yet")
    assert tests, f"{name} has no docstring examples"
    runner = doctest.DocTestRunner(optionflags=doctest.ELLIPSIS | doctest.NORMALIZE_WHITESPACE)
    report: list[str] = []
    ran, skipped = 0, []
    for test in sorted(tests, key=lambda t: t.name):
        missing = sorted(m for m in _imports(test) if importlib.util.find_spec(m) is None)
        if missing:
            skipped.append(f"{test.name} (needs {', '.join(missing)})")
            continue
        runner.run(test, out=report.append)
        ran += 1
    failed = runner.summarize(verbose=False).failed
    assert failed == 0, f"{failed} docstring example(s) of {name} failed:\n" + "".join(report)[-6000:]
    assert ran, f"every example of {name} was skipped: {skipped}"


# -- every public callable of the spec layer carries an example --------------------------------------
def _spec_layer() -> dict[str, object]:
    """The spec layer's public callables: winit's exports, their public methods, canonical_stream, diagnose."""
    from winit import _roles, diagnose

    objects: dict[str, object] = {}
    for name in winit.__all__:
        obj = getattr(winit, name)
        if not callable(obj):
            continue
        objects[f"winit.{name}"] = obj
        if inspect.isclass(obj):
            for attr, member in vars(obj).items():
                if not attr.startswith("_") and inspect.isfunction(member):
                    objects[f"winit.{name}.{attr}"] = member
    objects["winit._roles.canonical_stream"] = _roles.canonical_stream
    for name, obj in vars(diagnose).items():
        if name.startswith("_") or getattr(obj, "__module__", None) != diagnose.__name__:
            continue
        if inspect.isfunction(obj) or inspect.isclass(obj):
            objects[f"winit.diagnose.{name}"] = obj
    return objects


def test_every_public_function_of_the_spec_layer_has_an_example() -> None:
    objects = _spec_layer()
    assert "winit.Scheme.with_" in objects and "winit.diagnose.diagnosis" in objects  # the walk found them
    missing = sorted(name for name, obj in objects.items() if ">>>" not in (inspect.getdoc(obj) or ""))
    assert not missing, f"{len(missing)} of {len(objects)} public callables have no >>> example: {missing}"


# -- the site ------------------------------------------------------------------------------------------
@pytest.mark.slow
def test_site_builds_strictly(tmp_path: Path) -> None:
    pytest.importorskip("mkdocs", reason="the docs extra is not installed: pip install -e '.[docs]'")
    pytest.importorskip("mkdocstrings_handlers.python")
    site = tmp_path / "site"
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(REPO), os.environ.get("PYTHONPATH", "")])}
    command = ["mkdocs", "build", "--strict", "-f", str(REPO / "mkdocs.yml"), "-d", str(site)]
    result = subprocess.run(
        [sys.executable, "-m", *command],
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
        cwd=tmp_path,  # paths in mkdocs.yml are the config file's, not the caller's
        env=env,
    )
    assert result.returncode == 0, result.stderr[-4000:]
    for page in ("api/winit", "api/torch", "api/keras", "api/flax", "api/diagnose", "api/cli"):
        assert (site / page / "index.html").is_file(), page
    api = (site / "api" / "winit" / "index.html").read_text()
    for anchor in ("winit.init", "winit.plan", "winit.get", "winit.Scheme.with_", "winit.Recipe.explain"):
        assert f'id="{anchor}"' in api, anchor
    assert ":class:" not in api  # Sphinx roles became links
    cli = (site / "api" / "cli" / "index.html").read_text()
    assert "winit explain --help" in cli and "--shape N" in cli  # the parser's own help, not a copy
