"""Meta-tests: the harness in tests/stats.py rejects planted faults and accepts the correct samplers.

Each faulty sampler is written here with NumPy, draws as many float32 values as the real tests
(200,000, fixed seeds) and goes through the very functions tests/test_statistics.py uses. A fault
must be caught by the checks named for it, and ``assert_all_pass`` must raise on it. The one
per-backend meta-test runs each framework's own QR without the sign fix, so the Haar test in
test_statistics.py is shown to have power on every backend, not only on NumPy's LAPACK.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TypeVar

import numpy as np
import pytest
from conftest import to_numpy
from stats import (
    HAAR_CORNER_MEAN,
    HAAR_CORNER_SIGN,
    HAAR_SEEDS,
    HAAR_TRACE_MEAN,
    KS_ONE_SAMPLE,
    KS_TWO_SAMPLE,
    MEAN_Z,
    MIN_DRAWS,
    SUPPORT,
    VARIANCE_Z,
    Check,
    assert_all_pass,
    failures,
    haar_checks,
    ks_two_sample,
    law_checks,
    reference_law,
    support_of,
)

import winit
from winit._laws import Constant, Law, Normal, TruncatedNormal, Uniform

SHAPE = (500, 400)  # 200,000 draws, torch layout: fan_in 400, fan_out 500
SEED = 2024

Sampler = Callable[[np.random.Generator, int], np.ndarray]

LawT = TypeVar("LawT", Normal, TruncatedNormal, Uniform)


def spec_law(scheme: str, kind: type[LawT]) -> LawT:
    """The law winit's spec gives ``scheme`` at SHAPE (built as in test_statistics.py), checked to be ``kind``."""
    law = winit.plan(scheme, SHAPE).law
    assert isinstance(law, kind), law
    return law


HE_NORMAL = spec_law("he_normal", Normal)  # N(0, 2/400)
TRUNCATED = spec_law("variance_scaling", TruncatedNormal)  # σ = √(1/400)/0.8796, cut at ±2σ
GLOROT_UNIFORM = spec_law("glorot_uniform", Uniform)  # U(±√(6/900))
TRUNCATED_STD = float(reference_law(TRUNCATED).std())


def normal(mean: float, sigma: float) -> Sampler:
    """x = mean + sigma·z, z ~ N(0, 1), in float32."""
    return lambda rng, n: (mean + sigma * rng.standard_normal(n, dtype=np.float32)).astype(np.float32)


def uniform(low: float, high: float) -> Sampler:
    """x ~ U[low, high) in float32."""
    return lambda rng, n: (low + (high - low) * rng.random(n, dtype=np.float32)).astype(np.float32)


def truncated(law: TruncatedNormal) -> Sampler:
    """x = mean + σ·z, z ~ N(0, 1) redrawn until lower ≤ z ≤ upper: the correct truncated sampler."""

    def sample(rng: np.random.Generator, n: int) -> np.ndarray:
        z = rng.standard_normal(n, dtype=np.float32)
        outside = (z < law.lower) | (z > law.upper)
        while outside.any():
            z[outside] = rng.standard_normal(int(outside.sum()), dtype=np.float32)
            outside = (z < law.lower) | (z > law.upper)
        return (law.mean + law.sigma * z).astype(np.float32)

    return sample


def run(sampler: Sampler, law: Law, seed: int = SEED) -> list[Check]:
    """The one-sample law checks of test_statistics.py on MIN_DRAWS draws of ``sampler``."""
    return law_checks(sampler(np.random.default_rng(seed), MIN_DRAWS), law)


def failed_names(checks: list[Check]) -> set[str]:
    """Names of the checks that failed."""
    return {check.name for check in failures(checks)}


# -- the correct samplers pass, so the harness is not trivially failing ---------------------------
@pytest.mark.parametrize(
    ("sampler", "law"),
    [
        (normal(0.0, HE_NORMAL.sigma), HE_NORMAL),
        (truncated(TRUNCATED), TRUNCATED),
        (uniform(GLOROT_UNIFORM.low, GLOROT_UNIFORM.high), GLOROT_UNIFORM),
    ],
    ids=["normal", "truncated_normal", "uniform"],
)
def test_correct_sampler_passes(sampler: Sampler, law: Law) -> None:
    """Independent NumPy samplers of the right law pass every check (with margin: |z| < 3, p > 1e-3)."""
    checks = run(sampler, law)
    assert_all_pass(checks, f"correct sampler of {law}")
    by_name = {check.name: check for check in checks}
    assert by_name[KS_ONE_SAMPLE].statistic > 1e-3
    assert abs(by_name[MEAN_Z].statistic) < 3 and abs(by_name[VARIANCE_Z].statistic) < 3


def test_correct_samplers_pass_two_sample_ks() -> None:
    """Two independent draws of one law pass the two-sample KS test."""
    rng = np.random.default_rng(SEED)
    check = ks_two_sample(truncated(TRUNCATED)(rng, MIN_DRAWS), truncated(TRUNCATED)(rng, MIN_DRAWS))
    assert check.passed, check


# -- (a) std 5% off --------------------------------------------------------------------------------
@pytest.mark.parametrize("factor", [0.95, 1.05], ids=["std_low", "std_high"])
def test_normal_with_std_5_percent_off_fails(factor: float) -> None:
    """N(0, (1.05σ)²) or N(0, (0.95σ)²) against N(0, σ²): the KS and variance checks both fail."""
    checks = run(normal(0.0, factor * HE_NORMAL.sigma), HE_NORMAL)
    assert {KS_ONE_SAMPLE, VARIANCE_Z} <= failed_names(checks)
    with pytest.raises(AssertionError, match="FAIL"):
        assert_all_pass(checks, "std 5% off")


def test_normal_with_std_5_percent_off_fails_two_sample_ks() -> None:
    """A 5% std error shows between two samples too: the cross-backend comparison has power."""
    rng = np.random.default_rng(SEED)
    right = normal(0.0, HE_NORMAL.sigma)(rng, MIN_DRAWS)
    wrong = normal(0.0, 1.05 * HE_NORMAL.sigma)(rng, MIN_DRAWS)
    check = ks_two_sample(wrong, right)
    assert check.name == KS_TWO_SAMPLE and not check.passed, check


def test_normal_with_mean_off_by_2_percent_of_std_fails() -> None:
    """A mean bias of 0.02σ (z ≈ 9 at n = 200,000) fails the mean check."""
    checks = run(normal(0.02 * HE_NORMAL.sigma, HE_NORMAL.sigma), HE_NORMAL)
    assert MEAN_Z in failed_names(checks)


def test_uniform_with_std_5_percent_off_fails() -> None:
    """A uniform whose std is 5% high fails KS, variance and support."""
    low, high = GLOROT_UNIFORM.low * 1.05, GLOROT_UNIFORM.high * 1.05
    assert {KS_ONE_SAMPLE, VARIANCE_Z, SUPPORT} <= failed_names(run(uniform(low, high), GLOROT_UNIFORM))


# -- (b) truncation missing ------------------------------------------------------------------------
def test_truncated_normal_without_truncation_fails() -> None:
    """N(0, σ²) with the ±2σ cut forgotten: KS, variance and support fail."""
    checks = run(normal(TRUNCATED.mean, TRUNCATED.sigma), TRUNCATED)
    assert {KS_ONE_SAMPLE, VARIANCE_Z, SUPPORT} <= failed_names(checks)
    with pytest.raises(AssertionError, match="FAIL"):
        assert_all_pass(checks, "truncation missing")


def test_untruncated_normal_with_the_right_std_fails() -> None:
    """N(0, std²) with the truncated law's std: moments agree, so KS and support must catch it."""
    checks = run(normal(0.0, TRUNCATED_STD), TRUNCATED)
    assert {KS_ONE_SAMPLE, SUPPORT} <= failed_names(checks)


def test_truncation_without_std_correction_fails() -> None:
    """Cut at ±2σ but σ not divided by 0.8796 (std 12% low): KS and variance fail, support passes."""
    uncorrected = TruncatedNormal(TRUNCATED.mean, TRUNCATED_STD, TRUNCATED.lower, TRUNCATED.upper)
    assert {KS_ONE_SAMPLE, VARIANCE_Z} <= failed_names(run(truncated(uncorrected), TRUNCATED))


# -- (c) uniform bound 5% wrong ----------------------------------------------------------------------
@pytest.mark.parametrize("factor", [0.95, 1.05], ids=["bound_low", "bound_high"])
def test_uniform_with_bound_5_percent_wrong_fails(factor: float) -> None:
    """U(±1.05b) fails KS, variance and support; U(±0.95b) stays inside, so KS and variance catch it."""
    sampler = uniform(factor * GLOROT_UNIFORM.low, factor * GLOROT_UNIFORM.high)
    expected = {KS_ONE_SAMPLE, VARIANCE_Z} | ({SUPPORT} if factor > 1 else set())
    checks = run(sampler, GLOROT_UNIFORM)
    assert expected <= failed_names(checks)
    with pytest.raises(AssertionError, match="FAIL"):
        assert_all_pass(checks, "uniform bound 5% wrong")


def test_uniform_with_one_bound_wrong_fails() -> None:
    """U[low, 1.05·high): only the upper bound is off; support and KS catch it."""
    low, high = GLOROT_UNIFORM.low, GLOROT_UNIFORM.high
    assert {KS_ONE_SAMPLE, SUPPORT} <= failed_names(run(uniform(low, 1.05 * high), GLOROT_UNIFORM))


# -- (d) orthogonal without the sign fix -------------------------------------------------------------
def qr_orthogonal(seed: int, n: int, *, sign_fix: bool) -> np.ndarray:
    """Q of the QR of an n×n Gaussian, with or without multiplying Q's columns by sign(diag R)."""
    q, r = np.linalg.qr(np.random.default_rng(seed).standard_normal((n, n), dtype=np.float32))
    return q * np.sign(np.diag(r))[None, :] if sign_fix else q


def test_orthogonal_without_sign_fix_fails_haar() -> None:
    """Householder QR leaves R[0,0] < 0, so Q[0,0] < 0 on every draw: the Haar checks fail."""
    stack = np.stack([qr_orthogonal(seed, 8, sign_fix=False) for seed in range(HAAR_SEEDS)])
    checks = haar_checks(stack)
    assert {HAAR_CORNER_MEAN, HAAR_CORNER_SIGN, HAAR_TRACE_MEAN} <= failed_names(checks)
    with pytest.raises(AssertionError, match="FAIL"):
        assert_all_pass(checks, "orthogonal without sign fix")


def test_orthogonal_with_sign_fix_passes_haar() -> None:
    """The same QR with the sign-of-diag(R) fix is Haar and passes every check."""
    stack = np.stack([qr_orthogonal(seed, 8, sign_fix=True) for seed in range(HAAR_SEEDS)])
    assert_all_pass(haar_checks(stack), "orthogonal with sign fix")


def test_backend_qr_without_sign_fix_fails_haar(backend: str) -> None:
    """Each backend's own QR, unfixed, fails the Haar checks: the per-backend Haar test can see the fix."""
    adapter = winit.backend(backend)
    device = adapter.device(None)
    float32 = adapter.native_dtype("float32")
    unfixed = []
    for seed in range(HAAR_SEEDS):
        gaussian = adapter.normal(adapter.generator(seed, device), (8, 8), float32, device, 0.0, 1.0)
        q, _ = adapter.xp.linalg.qr(gaussian)
        unfixed.append(to_numpy(q))
    assert {HAAR_CORNER_MEAN, HAAR_CORNER_SIGN} <= failed_names(haar_checks(np.stack(unfixed)))


# -- the harness refuses what it cannot judge ------------------------------------------------------
def test_law_checks_refuse_too_few_draws() -> None:
    """Below MIN_DRAWS the stated power does not hold: ValueError naming the count."""
    with pytest.raises(ValueError, match="200000"):
        law_checks(np.zeros(1000), HE_NORMAL)


def test_reference_law_refuses_a_law_without_density() -> None:
    """Constant (and the structured laws) have no SciPy reference: TypeError naming the law."""
    with pytest.raises(TypeError, match="Constant"):
        reference_law(Constant(0.0))
    with pytest.raises(TypeError, match="Constant"):
        support_of(Constant(0.0))


def test_haar_checks_refuse_non_square_stack() -> None:
    """haar_checks needs (draws, n, n): ValueError naming the shape it got."""
    with pytest.raises(ValueError, match=r"\(10, 3, 4\)"):
        haar_checks(np.zeros((10, 3, 4)))


def test_support_check_flags_non_finite_values() -> None:
    """A NaN anywhere fails the support check even though min/max comparisons would not see it."""
    sample = uniform(GLOROT_UNIFORM.low, GLOROT_UNIFORM.high)(np.random.default_rng(SEED), MIN_DRAWS)
    sample[17] = np.nan
    assert SUPPORT in failed_names(law_checks(sample, GLOROT_UNIFORM))
