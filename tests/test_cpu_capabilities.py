"""The numerics-sensitive torch tests, rerun under every ATEN_CPU_CAPABILITY this CPU has.

A training result or a verdict can sit on a knife edge of floating-point summation order, and torch
picks its vectorized kernels (and so that order) from the CPU: a bound that held where a test was
written failed on an AVX-512 Xeon. The main run covers the capability this process runs with; each
other one the CPU supports (``default`` always, ``avx2``, ``avx512``) reruns the tests below in a
subprocess. Support comes from torch's own detection (what it picks with the variable unset) and,
on Linux, /proc/cpuinfo: torch does not fall back when told a capability the CPU lacks, it reports it
and dies of SIGILL in the first vectorized kernel.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path
from typing import Final

import pytest

pytest.importorskip("torch")
pytest.importorskip("array_api_compat")

REPO: Final = Path(__file__).resolve().parent.parent
#: set in the subprocesses, so a rerun can never start reruns of its own.
GUARD: Final = "WINIT_CPU_CAPABILITY_RERUN"
#: the tests whose outcome depends on float order: training bounds and verdicts from torch forward passes.
SENSITIVE: Final = (
    "tests/test_lsuv.py::test_lsuv_tanh_trains_far_below_chance_where_small_random_init_stays_at_it",
    "tests/test_lsuv.py::test_lsuv_carries_the_error_signal_to_the_first_layer",
    "tests/test_lsuv.py::test_every_layer_has_unit_output_variance_within_tol",
    "tests/test_probe.py::test_good_inits_train_faster_than_small_normal[torch]",
    "tests/test_probe.py::test_notes_claims_hold_on_every_backend[tanh-torch]",
    "tests/test_probe.py::test_notes_claims_hold_on_every_backend[relu-torch]",
    "tests/test_diagnose.py::test_resnet_small_normal_init_vanishes_and_init_is_healthy",
    "tests/test_diagnose.py::test_zero_and_large_init_of_the_resnet",
    "tests/test_diagnose.py::test_tanh_mlp_with_unit_normal_weights_saturates",
    # native normal_ is another Box-Muller per capability: init_'s pinned values (SCALAR_CPU_PINS)
    *(
        f"tests/test_torch_model_pins.py::test_values_are_pinned[{model}-default-native-eager]"
        for model in ("bert", "gpt2", "gpt2-wide", "mixed", "resnet")
    ),
)
#: /proc/cpuinfo flags torch requires before it picks AVX-512 kernels (cpuinfo's avx512 f/vl/bw/dq).
AVX512_FLAGS: Final = frozenset({"avx512f", "avx512vl", "avx512bw", "avx512dq"})


def _environment(capability: str | None) -> dict[str, str]:
    env = {key: value for key, value in os.environ.items() if key != "ATEN_CPU_CAPABILITY"}
    if capability is not None:
        env["ATEN_CPU_CAPABILITY"] = capability
    return env


def _capability(capability: str | None) -> str:
    """What torch reports in a fresh process with ATEN_CPU_CAPABILITY=capability (None: unset)."""
    script = "import torch; print(torch.backends.cpu.get_cpu_capability())"
    result = subprocess.run(
        [sys.executable, "-c", script],
        env=_environment(capability),
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stderr[-2000:]
    return result.stdout.strip().lower()


def _cpu_flags() -> frozenset[str] | None:
    """The CPU's feature flags from /proc/cpuinfo (None where there is none: not Linux)."""
    try:
        text = Path("/proc/cpuinfo").read_text()
    except OSError:
        return None
    for line in text.splitlines():
        if line.startswith("flags"):
            return frozenset(line.partition(":")[2].split())
    return frozenset()


def _supported(capability: str, native: str) -> bool:
    if capability == "default":
        return True
    if native not in ("avx2", "avx512"):
        return False  # not x86 (or an x86 without AVX2): only the scalar kernels besides its own
    if capability == "avx2":
        return True
    flags = _cpu_flags()
    return native == "avx512" and (flags is None or flags >= AVX512_FLAGS)


@pytest.fixture(scope="module")
def native() -> str:
    return _capability(None)


@pytest.mark.slow
@pytest.mark.skipif(GUARD in os.environ, reason="already a rerun under one capability")
@pytest.mark.parametrize("capability", ["default", "avx2", "avx512"])
def test_numerics_sensitive_tests_pass_under_each_cpu_capability(capability: str, native: str) -> None:
    import torch

    current = str(torch.backends.cpu.get_cpu_capability()).lower()
    if capability == current:
        pytest.skip(f"this run already uses {capability}: the tests ran here")
    if not _supported(capability, native):
        pytest.skip(f"this CPU lacks {capability} (torch picks {native} here)")
    assert _capability(capability) == capability  # torch honours the variable (it warns on a bad name)
    result = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-x", "-p", "no:cacheprovider", *SENSITIVE],
        cwd=REPO, env={**_environment(capability), GUARD: "1"}, capture_output=True, text=True, timeout=600,
    )  # fmt: skip
    output = f"ATEN_CPU_CAPABILITY={capability}:\n{result.stdout[-6000:]}{result.stderr[-2000:]}"
    assert result.returncode == 0, output
    summary = result.stdout.strip().splitlines()[-1]
    assert " passed" in summary and "skipped" not in summary, output  # every listed test really ran


def test_every_listed_test_exists() -> None:
    """A renamed test would otherwise drop out of the reruns silently (pytest fails on an unknown id, too)."""
    for node in SENSITIVE:
        path, _, name = node.partition("::")
        assert f"def {name.partition('[')[0]}(" in (REPO / path).read_text(), node
