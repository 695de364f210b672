"""Lint, format and type checks, run by the test suite so that CI (README's one pytest command) enforces them.

mypy checks the oldest Python winit supports (3.10, ``requires-python``), so syntax and stubs newer
than that are caught too; pyproject's own ``python_version`` stays what developers run by default.
The tools come with the ``test`` extra; without them the checks skip and say so.
"""

from __future__ import annotations

import importlib.util
import subprocess
import sys
from pathlib import Path
from typing import Final

import pytest

REPO: Final = Path(__file__).resolve().parent.parent
OLDEST_PYTHON: Final = "3.10"


def _tool(module: str, *args: str) -> subprocess.CompletedProcess[str]:
    if importlib.util.find_spec(module) is None:
        pytest.skip(f"{module} is not installed: pip install -e '.[test]' brings it")
    return subprocess.run(
        [sys.executable, "-m", module, *args], cwd=REPO, capture_output=True, text=True, timeout=900
    )


@pytest.mark.slow
@pytest.mark.parametrize("args", [("check", "."), ("format", "--check", ".")], ids=["check", "format"])
def test_ruff_is_clean(args: tuple[str, ...]) -> None:
    result = _tool("ruff", *args)
    assert result.returncode == 0, f"ruff {' '.join(args)}:\n{result.stdout[-6000:]}{result.stderr[-2000:]}"


@pytest.mark.slow
def test_mypy_is_clean_on_the_oldest_supported_python() -> None:
    # files, strictness and overrides come from pyproject.toml's [tool.mypy]
    result = _tool("mypy", "--python-version", OLDEST_PYTHON)
    assert result.returncode == 0, f"mypy --python-version {OLDEST_PYTHON}:\n{result.stdout[-6000:]}"


def test_the_oldest_python_is_the_one_pyproject_requires() -> None:
    text = (REPO / "pyproject.toml").read_text()
    assert f'requires-python = ">={OLDEST_PYTHON}"' in text
