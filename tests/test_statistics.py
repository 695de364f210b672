"""Every scheme on every backend draws the law its spec states: SciPy reference tests on ≥ 200,000 draws.

Random laws: one-sample KS, mean and (kurtosis-aware) variance z-scores and support against the
SciPy law built from ``winit.plan(...).law``, plus a two-sample KS against the NumPy backend.
Constant, identity and dirac: exact equality. Orthogonal: Gram = gain²·I and Haar sign symmetry.
Thresholds and their power are documented in tests/stats.py; tests/test_power.py shows they bite.
"""

from __future__ import annotations

import functools
import math
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from conftest import run_jax_x64, to_numpy
from scipy import stats as sps
from stats import (
    HAAR_SEEDS,
    MIN_DRAWS,
    ORTHO_ATOL,
    assert_all_pass,
    haar_checks,
    ks_two_sample,
    law_checks,
    orthogonality_error,
    reference_law,
)

import winit
from winit._laws import Normal, Orthogonal, TruncatedNormal, Uniform

SEED = 12345
#: the NumPy sample each backend is compared with; a different seed so NumPy vs NumPy is not a tautology.
REFERENCE_SEED = 54321
TN2 = float(sps.truncnorm(-2, 2).std())  # std of N(0, 1) cut at ±2σ, from SciPy rather than winit


@dataclass(frozen=True)
class SampledCase:
    """A random scheme at a shape whose fans make ``expected_std`` (the textbook formula) a meaningful number."""

    id: str
    scheme: str
    shape: tuple[int, ...]
    layout: str
    expected_std: float
    params: dict[str, Any] = field(default_factory=dict)


# Shapes hold ≥ 200,000 entries; only three array shapes, so JAX compiles each sampler three times.
# (500, 400): torch / flax_transpose → fan_in 400, fan_out 500; keras / flax / torch_transpose → fan_in 500.
# torch (128, 64, 5, 5) and keras (5, 5, 64, 128): fan_in 64·25 = 1600, fan_out 128·25 = 3200.
DENSE, CONV_TORCH, CONV_KERAS = (500, 400), (128, 64, 5, 5), (5, 5, 64, 128)
SAMPLED: list[SampledCase] = [
    SampledCase("random_normal", "random_normal", DENSE, "torch", 0.05),
    SampledCase("random_normal_shifted", "random_normal", DENSE, "keras", 2.0, {"mean": 0.5, "stddev": 2.0}),
    SampledCase("random_uniform", "random_uniform", DENSE, "torch", 0.1 / math.sqrt(12)),
    SampledCase("random_uniform_shifted", "random_uniform", DENSE, "keras", 4 / math.sqrt(12),
                {"minval": -1.0, "maxval": 3.0}),
    SampledCase("truncated_normal", "truncated_normal", DENSE, "torch", 0.05 * TN2),
    # cut at [−1σ, 3σ] off the mean: TF's inverse-CDF path, NumPy's normal-proposal rejection
    SampledCase("truncated_normal_asymmetric", "truncated_normal", DENSE, "keras",
                2.0 * float(sps.truncnorm(-1, 3).std()),
                {"mean": 1.0, "stddev": 2.0, "lower": -1.0, "upper": 3.0}),
    # a thin tail window [2.5σ, 4σ] (0.6% of the mass): NumPy's uniform-proposal rejection path
    SampledCase("truncated_normal_tail", "truncated_normal", DENSE, "torch",
                0.1 * float(sps.truncnorm(2.5, 4).std()), {"stddev": 0.1, "lower": 2.5, "upper": 4.0}),
    SampledCase("glorot_uniform", "glorot_uniform", DENSE, "torch", math.sqrt(2 / 900)),
    SampledCase("glorot_normal", "glorot_normal", CONV_KERAS, "keras", math.sqrt(2 / 4800)),
    SampledCase("he_uniform", "he_uniform", CONV_TORCH, "torch", math.sqrt(2 / 1600)),
    SampledCase("he_normal", "he_normal", DENSE, "keras", math.sqrt(2 / 500)),
    SampledCase("he_normal_leaky_fan_out", "he_normal", DENSE, "torch",
                math.sqrt(2 / (1 + 0.2**2)) / math.sqrt(500), {"negative_slope": 0.2, "mode": "fan_out"}),
    SampledCase("lecun_uniform", "lecun_uniform", DENSE, "flax", math.sqrt(1 / 500)),
    SampledCase("lecun_normal", "lecun_normal", DENSE, "torch_transpose", math.sqrt(1 / 500)),
    SampledCase("variance_scaling", "variance_scaling", DENSE, "keras", math.sqrt(1 / 500)),
    SampledCase("variance_scaling_fan_geo_avg", "variance_scaling", DENSE, "torch",
                math.sqrt(1 / math.sqrt(400 * 500)), {"mode": "fan_geo_avg"}),
    # keras_transpose (*k, out, in): out 64, in 128 → fan_in 3200, fan_out 1600, fan_avg 2400
    SampledCase("variance_scaling_uniform_fan_avg", "variance_scaling", CONV_KERAS, "keras_transpose",
                math.sqrt(2.0 / 2400), {"scale": 2.0, "mode": "fan_avg", "distribution": "uniform"}),
    # flax_transpose (*k, out, in): out 500 → fan_out 500
    SampledCase("variance_scaling_normal_fan_out", "variance_scaling", DENSE, "flax_transpose",
                math.sqrt(1 / 500), {"mode": "fan_out", "distribution": "untruncated_normal"}),
]  # fmt: skip

CONSTANT_CASES: list[tuple[str, dict[str, Any], float]] = [
    ("zeros", {}, 0.0),
    ("ones", {}, 1.0),
    ("constant", {"value": -0.3}, -0.3),
]

# Every shape flattens to a 576×72 or 72×576 matrix, so JAX compiles one Gaussian draw and one QR.
ORTHOGONAL_SHAPES: list[tuple[str, tuple[int, ...], str]] = [
    ("torch_layout_tall", (576, 72), "torch"),
    ("torch_layout_wide", (72, 576), "torch"),
    ("keras_layout_tall", (72, 576), "keras"),
    ("keras_layout_wide", (576, 72), "keras"),
    ("torch_layout_conv_tall", (576, 8, 3, 3), "torch"),
    ("torch_layout_conv_wide", (72, 64, 3, 3), "torch"),
    ("keras_layout_conv_tall", (3, 3, 8, 576), "keras"),
    ("keras_layout_conv_wide", (3, 3, 64, 72), "keras"),
]

DIRAC_CASES: list[tuple[str, tuple[int, ...], str, int]] = [
    ("torch_layout_conv1d", (4, 4, 5), "torch", 1),
    ("torch_layout_conv2d_groups", (6, 3, 3, 3), "torch", 2),
    ("keras_layout_conv2d_more_out", (3, 3, 2, 5), "keras", 1),
    ("torch_layout_conv3d_even_kernel", (4, 2, 2, 4, 3), "torch", 1),
]


def draw(
    scheme: str, shape: tuple[int, ...], layout: str, backend: str, seed: int, **params: Any
) -> np.ndarray:
    """``winit.init`` on ``backend`` in float32, as a NumPy array checked for shape and dtype."""
    tensor = winit.init(scheme, shape, backend=backend, seed=seed, layout=layout, **params)
    array = to_numpy(tensor)
    assert array.shape == shape, f"{backend} returned shape {array.shape}, asked for {shape}"
    assert array.dtype == np.float32, f"{backend} returned dtype {array.dtype}, asked for float32"
    return array


def draw_case(case: SampledCase, backend: str, seed: int = SEED) -> np.ndarray:
    """A float32 sample of ``case`` from ``backend``."""
    return draw(case.scheme, case.shape, case.layout, backend, seed, **case.params)


@functools.cache
def numpy_reference(case_id: str) -> np.ndarray:
    """The NumPy backend's sample of the case, drawn once with REFERENCE_SEED."""
    return draw_case(next(case for case in SAMPLED if case.id == case_id), "numpy", REFERENCE_SEED)


def case_plan(case: SampledCase) -> winit.Plan:
    """The spec of ``case``: fans, std and law for its shape and layout."""
    return winit.plan(case.scheme, case.shape, layout=case.layout, **case.params)


def test_every_scheme_is_covered() -> None:
    """Every built-in scheme has a statistical or exact test below, so a new scheme cannot slip past."""
    covered = {case.scheme for case in SAMPLED} | {name for name, _, _ in CONSTANT_CASES}
    covered |= {"orthogonal", "identity", "dirac", "zer_o"}  # zer_o: exact matrices in test_zer_o.py
    assert set(winit.schemes()) == covered


@pytest.mark.parametrize("case", SAMPLED, ids=lambda case: case.id)
def test_spec_std_matches_textbook_and_law(case: SampledCase) -> None:
    """plan.std equals the textbook formula, and the SciPy law built from plan.law has that std."""
    plan = case_plan(case)
    assert math.prod(case.shape) >= MIN_DRAWS
    assert isinstance(plan.law, Normal | TruncatedNormal | Uniform)
    assert plan.std == pytest.approx(case.expected_std, rel=1e-12)
    assert float(reference_law(plan.law).std()) == pytest.approx(plan.std, rel=1e-9)


# torch.nn.init.trunc_normal_ warns that a window > 2σ off the mean "may be incorrect"; the checks
# below are what show whether it is (truncated_normal_tail passes them).
@pytest.mark.filterwarnings(r"ignore:mean is more than 2 std from \[a, b\]:UserWarning")
@pytest.mark.parametrize("case", SAMPLED, ids=lambda case: case.id)
def test_sample_matches_law(case: SampledCase, backend: str) -> None:
    """≥ 200,000 float32 draws vs the spec's SciPy law (KS, mean z, variance z, support) and vs NumPy's (KS)."""
    sample = draw_case(case, backend)
    plan = case_plan(case)
    checks = [*law_checks(sample, plan.law), ks_two_sample(sample, numpy_reference(case.id))]
    assert_all_pass(
        checks, f"{case.id} on {backend} (two-sample KS vs numpy seed {REFERENCE_SEED}), law {plan.law}"
    )


# -- float64: one variance rule per distribution family; JAX needs x64 mode, so a subprocess -------
FLOAT64_CASES = [case for case in SAMPLED if case.id in ("he_uniform", "variance_scaling", "glorot_normal")]

_JAX_X64_SCRIPT = """
import numpy as np, winit
for case_id, scheme, shape, layout, params in {cases!r}:
    x = winit.init(scheme, shape, backend="jax", seed={seed}, dtype="float64", layout=layout, **params)
    assert str(x.dtype) == "float64", x.dtype
    np.save({directory!r} + "/" + case_id + ".npy", np.asarray(x))
"""


@functools.cache
def jax_float64_samples() -> dict[str, np.ndarray]:
    """float64 JAX samples of FLOAT64_CASES, drawn in one JAX_ENABLE_X64 subprocess."""
    with tempfile.TemporaryDirectory() as directory:
        cases = [(c.id, c.scheme, c.shape, c.layout, c.params) for c in FLOAT64_CASES]
        run_jax_x64(_JAX_X64_SCRIPT.format(cases=cases, seed=SEED, directory=directory))
        return {case.id: np.load(Path(directory) / f"{case.id}.npy") for case in FLOAT64_CASES}


@pytest.mark.parametrize("case", FLOAT64_CASES, ids=lambda case: case.id)
def test_float64_sample_matches_law(case: SampledCase, backend: str) -> None:
    """float64 draws (JAX's in an x64 subprocess) pass the same law checks as float32."""
    if backend == "jax":
        sample = jax_float64_samples()[case.id]
    else:
        tensor = winit.init(
            case.scheme, case.shape, backend=backend, seed=SEED, dtype="float64", layout=case.layout,
            **case.params,
        )  # fmt: skip
        sample = to_numpy(tensor)
    assert sample.dtype == np.float64 and sample.shape == case.shape
    plan = case_plan(case)
    assert_all_pass(law_checks(sample, plan.law), f"{case.id} float64 on {backend}, law {plan.law}")


# -- exact laws --------------------------------------------------------------------------------
@pytest.mark.parametrize(("scheme", "params", "value"), CONSTANT_CASES, ids=[c[0] for c in CONSTANT_CASES])
def test_constant_is_exact(scheme: str, params: dict[str, Any], value: float, backend: str) -> None:
    """zeros, ones and constant fill every element with exactly the value (as float32)."""
    array = draw(scheme, (7, 5, 3), "torch", backend, SEED, **params)
    np.testing.assert_array_equal(array, np.full((7, 5, 3), value, dtype=np.float32))


@pytest.mark.parametrize("shape", [(5, 3), (3, 5), (4, 4)], ids=["tall", "wide", "square"])
def test_identity_is_exact(shape: tuple[int, int], backend: str) -> None:
    """identity is gain·I with ones on the main diagonal of a rectangular matrix."""
    array = draw("identity", shape, "torch", backend, SEED, gain=2.5)
    np.testing.assert_array_equal(array, 2.5 * np.eye(*shape, dtype=np.float32))


def expected_dirac(shape: tuple[int, ...], layout: str, groups: int, gain: float) -> np.ndarray:
    """torch.nn.init.dirac_'s loop: W[g·(out/groups) + d, d, centre] = gain for d < min(out/groups, in)."""
    in_axis, out_axis = winit.LAYOUTS[layout]
    ndim = len(shape)
    in_axis, out_axis = in_axis % ndim, out_axis % ndim
    kernel_axes = [axis for axis in range(ndim) if axis not in (in_axis, out_axis)]
    as_torch = np.zeros((shape[out_axis], shape[in_axis], *(shape[a] for a in kernel_axes)), np.float32)
    out_per_group = shape[out_axis] // groups
    centre = tuple(shape[a] // 2 for a in kernel_axes)
    for g in range(groups):
        for d in range(min(out_per_group, shape[in_axis])):
            as_torch[(g * out_per_group + d, d, *centre)] = gain
    return np.moveaxis(as_torch, [0, 1], [out_axis, in_axis])


@pytest.mark.parametrize(
    ("shape", "layout", "groups"), [c[1:] for c in DIRAC_CASES], ids=[c[0] for c in DIRAC_CASES]
)
def test_dirac_is_exact(shape: tuple[int, ...], layout: str, groups: int, backend: str) -> None:
    """dirac puts gain at the kernel centre of each group's matching in/out channels, 0 elsewhere."""
    array = draw("dirac", shape, layout, backend, SEED, groups=groups, gain=1.5)
    np.testing.assert_array_equal(array, expected_dirac(shape, layout, groups, 1.5))


# -- orthogonal --------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("shape", "layout"), [c[1:] for c in ORTHOGONAL_SHAPES], ids=[c[0] for c in ORTHOGONAL_SHAPES]
)
def test_orthogonal_gram_is_gain_squared_identity(shape: tuple[int, ...], layout: str, backend: str) -> None:
    """(out, rest) flattening: orthonormal rows (wide) or columns (tall) times gain, |G/gain² − I| ≤ 1e-5."""
    gain = 1.7
    plan = winit.plan("orthogonal", shape, layout=layout, gain=gain)
    assert isinstance(plan.law, Orthogonal)
    out_axis = plan.law.out_axis
    assert out_axis == winit.LAYOUTS[layout][1] % len(shape)
    array = draw("orthogonal", shape, layout, backend, SEED, gain=gain)
    assert orthogonality_error(array, out_axis, gain) <= ORTHO_ATOL


def test_orthogonal_is_haar(backend: str) -> None:
    """Over 300 seeds of 8×8, Q[0,0] and tr Q are symmetric about 0: the sign-of-diag(R) fix is applied."""
    gain = 2.0
    stack = np.stack(
        [draw("orthogonal", (8, 8), "torch", backend, seed, gain=gain) for seed in range(HAAR_SEEDS)]
    )
    assert_all_pass(haar_checks(stack / gain), f"orthogonal 8×8 on {backend}")
