"""Shared test fixtures: the ``backend`` parametrization, ``to_numpy``, and a float64 JAX subprocess runner.

Any test (or fixture) that takes an argument named ``backend`` runs once per entry of ``BACKENDS``;
a backend whose framework is not importable is skipped with the reason and the extra to install.
Ids put the backend last, after the test's own parameters: ``test_x[he_normal-torch]``.
To run a subset, parametrize it yourself, ``@pytest.mark.parametrize("backend", [backend_param("torch")])``
(``from conftest import backend_param``); do not define a fixture named ``backend``, the hook would shadow it.
Environment knobs below use setdefault, so a value exported in the shell wins.
"""

from __future__ import annotations

import os

# Set before any test module can import TensorFlow: TF reads them once, at import. Without
# TF_ENABLE_ONEDNN_OPTS=0, TF 2.21 logs a oneDNN banner to stderr that TF_CPP_MIN_LOG_LEVEL does not
# silence; oneDNN only changes matmul/conv round-off, never what tf.random draws.
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
os.environ.setdefault("TF_ENABLE_ONEDNN_OPTS", "0")
# Test tensors are small and CPUs are shared: threaded BLAS/OpenMP spin-waits and makes a 576×72 QR
# take 0.35 s instead of 2 ms on a loaded 2-core machine. Read once, at the libraries' import.
for _threads in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_threads, "1")

import importlib.util  # noqa: E402 - the environment above must be set before anything imports TF
import subprocess  # noqa: E402
import sys  # noqa: E402
from pathlib import Path  # noqa: E402
from typing import Any, Final  # noqa: E402

import numpy as np  # noqa: E402
import pytest  # noqa: E402

#: every backend winit ships, in the order tests run them.
BACKENDS: Final[list[str]] = ["numpy", "torch", "tensorflow", "jax"]

#: the modules each backend imports (what ``pip install 'winit[<extra>]'`` brings).
_REQUIRES: Final[dict[str, tuple[str, ...]]] = {
    "numpy": ("numpy",),
    "torch": ("torch", "array_api_compat"),
    "tensorflow": ("tensorflow",),
    "jax": ("jax",),
}

_REPO_ROOT: Final = Path(__file__).resolve().parent.parent


def missing_modules(backend: str) -> list[str]:
    """Modules ``backend`` needs that are not installed (found without importing them)."""
    return [module for module in _REQUIRES[backend] if importlib.util.find_spec(module) is None]


def backend_param(backend: str) -> Any:
    """``pytest.param(backend)`` with id ``backend``, skipped with a reason when its framework is missing."""
    missing = missing_modules(backend)
    if not missing:
        return pytest.param(backend, id=backend)
    reason = (
        f"{backend} backend unavailable: {', '.join(missing)} not importable (pip install 'winit[{backend}]')"
    )
    return pytest.param(backend, id=backend, marks=pytest.mark.skip(reason=reason))


@pytest.hookimpl(trylast=True)
def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    """Parametrize ``backend`` over ``BACKENDS``; trylast runs it after the test's own parametrize marks."""
    if "backend" not in metafunc.fixturenames:
        return
    for marker in metafunc.definition.iter_markers("parametrize"):
        names = marker.args[0]
        names = [n.strip() for n in names.split(",")] if isinstance(names, str) else list(names)
        if "backend" in names:
            return  # the test chose its own backends
    metafunc.parametrize("backend", [backend_param(name) for name in BACKENDS])


def to_numpy(x: Any) -> np.ndarray:
    """A NumPy copy of a NumPy, PyTorch, TensorFlow or JAX array (torch bfloat16 comes back as float32)."""
    if isinstance(x, np.ndarray):
        return x
    module = type(x).__module__
    if module.startswith("torch"):
        tensor = x.detach().cpu()
        if str(tensor.dtype) == "torch.bfloat16":  # NumPy has no bfloat16 of its own for torch to use
            tensor = tensor.float()
        return np.asarray(tensor.numpy())
    if hasattr(x, "numpy") and module.startswith("tensorflow"):
        return np.asarray(x.numpy())
    return np.asarray(x)


def run_jax_x64(script: str, timeout: float = 120.0) -> subprocess.CompletedProcess[str]:
    """Run ``script`` in a fresh Python with JAX_ENABLE_X64=1 (x64 mode is process-wide; never set it here)."""
    env = {**os.environ, "JAX_ENABLE_X64": "1"}
    result = subprocess.run(
        [sys.executable, "-c", script],
        capture_output=True,
        text=True,
        env=env,
        cwd=_REPO_ROOT,
        timeout=timeout,
        check=False,
    )
    if result.returncode != 0:
        raise AssertionError(f"JAX x64 subprocess failed ({result.returncode}):\n{result.stderr[-4000:]}")
    return result
