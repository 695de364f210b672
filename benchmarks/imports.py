"""Import cost: ``import winit`` wall time in fresh interpreters, and every non-stdlib module it loads.

Two kinds of fresh process, ``repeats`` of each: one imports winit cold (NumPy comes with it, as
winit's only hard dependency); one imports NumPy first and then winit, which splits the cold time
into NumPy's share and winit's own. A framework (torch, tensorflow, jax, keras, flax) must never
be among the modules ``import winit`` loads: each backend is imported when first used.
"""

from __future__ import annotations

import json
import os
import statistics
import subprocess
import sys
from typing import Any, Final

from benchmarks._harness import REPO_ROOT

FRAMEWORKS: Final[tuple[str, ...]] = (
    "torch",
    "tensorflow",
    "jax",
    "jaxlib",
    "keras",
    "flax",
    "array_api_compat",
)

_COLD: Final = """
import sys, time, json
before = set(sys.modules)
start = time.perf_counter()
import winit
elapsed = time.perf_counter() - start
loaded = sorted({m.split(".")[0] for m in set(sys.modules) - before} - set(sys.stdlib_module_names) - {"__main__"})
print(json.dumps({"seconds": elapsed, "non_stdlib": loaded}))
"""

_SPLIT: Final = """
import time, json
start = time.perf_counter()
import numpy
middle = time.perf_counter()
import winit
end = time.perf_counter()
print(json.dumps({"numpy": middle - start, "winit_own": end - middle}))
"""


def _fresh(code: str) -> dict[str, Any]:
    # -I would drop the editable install's path hooks; -E alone keeps PYTHON* variables from steering it
    done = subprocess.run(
        [sys.executable, "-E", "-c", code],
        cwd=REPO_ROOT,
        capture_output=True,
        text=True,
        timeout=120,
        env={k: v for k, v in os.environ.items() if not k.startswith("PYTHON")},
    )
    if done.returncode != 0:
        raise RuntimeError(f"fresh interpreter failed to import winit: {done.stderr.strip()[-500:]}")
    result: dict[str, Any] = json.loads(done.stdout.strip().splitlines()[-1])
    return result


def measure(repeats: int) -> dict[str, Any]:
    """Median cold ``import winit`` seconds, NumPy's and winit's own share, and the non-stdlib modules loaded."""
    cold = [_fresh(_COLD) for _ in range(repeats)]
    split = [_fresh(_SPLIT) for _ in range(repeats)]
    modules = sorted({name for run in cold for name in run["non_stdlib"]})
    cold_median = statistics.median(run["seconds"] for run in cold)
    numpy_median = statistics.median(run["numpy"] for run in split)
    return {
        "repeats": repeats,
        "cold_seconds": cold_median,
        "numpy_seconds": numpy_median,
        "winit_own_seconds": statistics.median(run["winit_own"] for run in split),
        "cold_over_numpy": cold_median / numpy_median,
        "non_stdlib_modules": modules,
        "frameworks_imported": [name for name in modules if name in FRAMEWORKS],
    }
