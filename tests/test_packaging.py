"""Packaging: the wheel's layout and metadata, import hygiene, and README's commands agreeing with CI."""

from __future__ import annotations

import email.parser
import importlib.util
import json
import os
import re
import shutil
import subprocess
import sys
import textwrap
import venv
import zipfile
from pathlib import Path

import numpy as np
import pytest

REPO = Path(__file__).resolve().parents[1]
README = REPO / "README.md"
CI_SCRIPT = REPO / ".ci" / "run"
#: frameworks and optional tools that ``import winit`` must leave alone (each adapter imports its own).
HEAVY = ("torch", "tensorflow", "jax", "jaxlib", "keras", "flax", "scipy", "rich", "matplotlib")
EXTRAS = {"torch", "tensorflow", "jax", "keras", "flax", "cli", "all", "docs", "test"}


def setup_commands() -> list[str]:
    """README's one-line set-up commands: every line that starts by creating .venv."""
    return [
        line.strip() for line in README.read_text().splitlines() if line.startswith("python3 -m venv .venv")
    ]


def test_readme_has_exactly_two_setup_commands() -> None:
    commands = setup_commands()
    assert len(commands) == 2, commands
    main_job, test_suite = commands
    for command in commands:
        assert " -c constraints.txt " in command
        assert "\n" not in command
    assert '-e ".[all]"' in main_job
    assert main_job.endswith(".venv/bin/winit probe --activation tanh --depth 20 --plot probe.png")
    assert '-e ".[all,test]"' in test_suite
    assert test_suite.endswith(".venv/bin/python -m pytest")


def test_ci_script_runs_readme_test_command_verbatim() -> None:
    test_suite = setup_commands()[1]
    script = CI_SCRIPT.read_text()
    assert script.startswith("#!/usr/bin/env bash\n")
    assert "set -euo pipefail" in script
    commands = [line for line in script.splitlines() if line.strip() and not line.lstrip().startswith("#")]
    assert test_suite in commands  # the whole line, not a fragment of a longer one
    assert commands[-1] == test_suite  # so its exit status is the script's


def test_torch_pin_lives_in_constraints() -> None:
    pins = [line.split("#")[0].strip() for line in (REPO / "constraints.txt").read_text().splitlines()]
    assert "torch==2.13.0" in pins
    assert "2.13.0" not in (REPO / "pyproject.toml").read_text()  # the package itself keeps a range


@pytest.mark.slow
def test_import_winit_loads_no_framework() -> None:
    # Runs where the frameworks are installed, so an eager import would show up in sys.modules.
    code = (
        "import json, sys, winit, winit.cli\n"
        "winit.plan('he_normal', (64, 3, 3, 3)).explain()\n"
        "winit.init('glorot_uniform', (4, 3), seed=0)\n"
        f"print(json.dumps(sorted(m for m in sys.modules if m.split('.')[0] in {HEAVY!r})))\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=60
    )
    assert json.loads(result.stdout) == []


def readme_python_blocks() -> list[str]:
    """The ```python blocks of README.md, in order."""
    return re.findall(r"^```python\n(.*?)^```$", README.read_text(), re.MULTILINE | re.DOTALL)


@pytest.mark.slow
def test_readme_quick_start_examples_run() -> None:
    blocks = readme_python_blocks()
    assert len(blocks) >= 4  # NumPy, PyTorch, TensorFlow, JAX
    runnable = []
    for block in blocks:
        needs = set(re.findall(r"^import (\w+)", block, re.MULTILINE)) | set(
            re.findall(r'backend="(\w+)"', block)
        )
        if all(importlib.util.find_spec(module) is not None for module in needs):
            runnable.append(block)
    assert runnable, "not even the NumPy example can run"
    # One interpreter for all blocks: each framework is imported once.
    script = "\n".join(
        f"def example_{i}():\n{textwrap.indent(b, '    ')}\nexample_{i}()\n" for i, b in enumerate(runnable)
    )
    result = subprocess.run(
        [sys.executable, "-c", script],
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
        env={**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3"},
    )
    assert result.returncode == 0, result.stderr[-3000:]


# -- the built wheel -----------------------------------------------------------------------------


@pytest.fixture(scope="module")
def wheel(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A wheel built from a copy of the sources (so no build/ or egg-info lands in the checkout)."""
    root = tmp_path_factory.mktemp("wheel")
    source = root / "src"
    source.mkdir()
    for name in ("pyproject.toml", "README.md"):
        shutil.copy2(REPO / name, source / name)
    junk = shutil.ignore_patterns("__pycache__", "*.pyc", "*.egg-info")
    for name in ("winit", "backends"):
        shutil.copytree(REPO / name, source / name, ignore=junk)
    dist = root / "dist"
    subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "wheel",
            "--no-deps",
            "--no-build-isolation",
            "-q",
            "-w",
            str(dist),
            str(source),
        ],
        check=True,
        timeout=300,
    )
    (built,) = dist.glob("winit-*.whl")
    return built


@pytest.mark.slow
def test_wheel_metadata_numpy_only_hard_dependency_and_extras(wheel: Path) -> None:
    with zipfile.ZipFile(wheel) as archive:
        info = next(n.split("/")[0] for n in archive.namelist() if n.endswith(".dist-info/METADATA"))
        metadata = email.parser.Parser().parsestr(archive.read(f"{info}/METADATA").decode())
        entry_points = archive.read(f"{info}/entry_points.txt").decode()
    requires = metadata.get_all("Requires-Dist") or []
    hard = [r for r in requires if "extra ==" not in r]
    assert not [r for r in requires if re.search(r"===?\s*[0-9]", r)], "pins belong in constraints.txt"
    assert [re.match(r"[A-Za-z0-9_.-]+", r).group(0) for r in hard] == ["numpy"]  # type: ignore[union-attr]
    assert set(metadata.get_all("Provides-Extra") or []) >= EXTRAS
    assert re.search(r"^winit = winit\.cli:main$", entry_points, re.MULTILINE)


@pytest.mark.slow
def test_wheel_contents_map_backends_under_winit(wheel: Path) -> None:
    with zipfile.ZipFile(wheel) as archive:
        names = archive.namelist()
    top_level = {name.split("/")[0] for name in names}
    assert top_level == {"winit", next(t for t in top_level if t.endswith(".dist-info"))}
    expected_files = ("winit/py.typed", "winit/cli.py", "winit/__main__.py", "winit/backends/_common.py")
    for expected in (*expected_files, "winit/backends/_router.py", "winit/backends/_portable/engine.py"):
        assert expected in names
    assert {f"winit/backends/{b}.py" for b in ("numpy", "torch", "tensorflow", "jax")} <= set(names)


@pytest.fixture(scope="module")
def fresh_env(wheel: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A new virtualenv (no system site-packages) holding only the wheel and NumPy; returns its python."""
    env = tmp_path_factory.mktemp("fresh") / "venv"
    venv.create(env, with_pip=False, system_site_packages=False, clear=True)
    python = env / "bin" / "python"
    subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "--python",
            str(python),
            "install",
            "-q",
            str(wheel),
            f"numpy=={np.__version__}",
        ],
        check=True,
        timeout=300,
    )
    return python


@pytest.mark.slow
def test_installed_wheel_has_winit_backends_and_nothing_else(fresh_env: Path) -> None:
    probe = (
        "import importlib.util, json, pathlib, sys, sysconfig, winit, winit.backends.numpy\n"
        "site = pathlib.Path(sysconfig.get_paths()['purelib'])\n"
        "print(json.dumps({\n"
        "  'site': sorted(p.name for p in site.iterdir()),\n"
        "  'winit_file': winit.__file__, 'purelib': str(site),\n"
        "  'backends_importable': importlib.util.find_spec('backends') is not None,\n"
        "  'py_typed': (site / 'winit' / 'py.typed').is_file(),\n"
        "  'adapter': winit.backends.numpy.ADAPTER.name,\n"
        "  'sample': winit.init('glorot_uniform', (10, 5), seed=0).shape,\n"
        "  'portable': winit.init('glorot_uniform', (10, 5), seed=0, rng='portable').shape,\n"
        "}))\n"
    )
    # -I: isolated mode, so neither the checkout (cwd) nor PYTHON* variables reach sys.path.
    result = subprocess.run(
        [str(fresh_env), "-I", "-c", probe], capture_output=True, text=True, check=True, timeout=60, cwd=REPO
    )
    found = json.loads(result.stdout)
    assert found["winit_file"].startswith(found["purelib"])
    assert found["adapter"] == "numpy"
    assert found["sample"] == [10, 5]
    assert found["portable"] == [10, 5]  # the engine's subpackage (backends/_portable/) is in the wheel
    assert found["py_typed"]
    assert not found["backends_importable"]
    assert not {"backends", "tests", "benchmarks", "docs"} & set(found["site"])
    failed = subprocess.run(
        [str(fresh_env), "-I", "-c", "import backends"], capture_output=True, text=True, timeout=60, cwd=REPO
    )
    assert failed.returncode == 1
    assert "ModuleNotFoundError: No module named 'backends'" in failed.stderr


@pytest.mark.slow
def test_installed_console_script_falls_back_to_plain_text(fresh_env: Path) -> None:
    script = fresh_env.parent / "winit"
    result = subprocess.run(
        [str(script), "explain", "glorot_uniform", "--shape", "10", "5", "--layout", "keras"],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    assert "limit   gain·√(6·scale/(fan_in + fan_out)) = 1·√(6·1/(10 + 5)) = 0.632456" in result.stdout
    assert "┃" not in result.stdout  # rich is not installed there
    missing = subprocess.run(
        [str(script), "explain", "glorot_uniform", "--shape", "10", "5", "--layout", "tf"],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert missing.returncode == 2
    assert "unknown layout 'tf'" in missing.stderr
