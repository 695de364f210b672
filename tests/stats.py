"""The statistical harness: reference laws built from winit's spec, and checks with fixed thresholds.

Every check compares a sample against a SciPy law built from ``Plan.law`` (the spec), never from
the sample. Thresholds, and why they are both deterministic and powerful
-------------------------------------------------------------------------
Tests draw with fixed seeds, so each verdict is a fixed function of (framework version, seed). The
thresholds are set so that a *correct* sampler fails a check with probability ≤ ~1e-6; a framework
that changes its RNG stream therefore has a negligible chance of flipping a verdict, while the
sizes below keep the power to catch every fault tests/test_power.py plants.

* ``KS_ALPHA = 1e-6``: a KS test fails when p < 1e-6. For n = 200,000 the critical distance is
  D ≈ √(ln(2/α)/2)/√n ≈ 0.0060 (one sample) and ≈ 0.0085 (two samples of n). A normal with its std
  5% off is at D ≈ 0.05·φ(1) ≈ 0.012; U(−1.05b, 1.05b) against U(−b, b) at D ≈ 0.024; an
  N(0, σ²) against N(0, σ²) cut at ±2σ at D ≈ 0.023.
* ``Z_BOUND = 5.0`` (two-sided p ≈ 5.7e-7) for the mean and variance z-scores.
  Mean: z = (x̄ − μ)/(σ/√n), so n = 200,000 detects a bias of 0.011σ.
  Variance: z = (s² − σ²)/SE with the kurtosis-aware SE = σ²·√((γ₂ + 2)/n), γ₂ the law's excess
  kurtosis (0 normal, −1.2 uniform, ≈ −0.63 normal cut at ±2σ). The normal-theory SE σ²·√(2/n)
  would overstate a uniform's SE by √(2/0.8) ≈ 1.6 and waste power. Relative SE of s² is 0.32%
  (normal) and 0.20% (uniform): a 5% std error (10.25% in variance) sits at z ≈ 32 and z ≈ 51;
  std errors down to ~0.8% (normal) are caught.
* Support: no element may leave [low, high] (uniform) or [μ + lower·σ, μ + upper·σ] (truncated)
  by more than ``SUPPORT_RTOL`` = 4 float32 ulps of the bound, the rounding a float32 sampler
  legitimately makes. A 5% wider bound or a missing truncation leaves it by far more.
* Haar (orthogonal sign fix), over ``HAAR_SEEDS`` = 300 independent n×n draws, Q = W/gain: under
  Haar measure Q[0,0] has mean 0, variance 1/n and P(Q[0,0] > 0) = 1/2 (the law is invariant under
  flipping any row's sign), and tr Q has mean 0, variance 1. Without the sign-of-diag(R) fix,
  LAPACK's and Eigen's Householder QR make R[0,0] < 0, so Q[0,0] < 0 on every draw: for n = 8,
  P(Q[0,0] > 0) = 0 sits at z ≈ −17 and the mean of Q[0,0] (≈ −0.30) at z ≈ −15.
* Orthogonality: the smaller Gram matrix of the (out, rest) flattening, divided by gain², equals
  I within ``ORTHO_ATOL = 1e-5`` (float32 QR lands near 1e-6).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any, Final

import numpy as np
from scipy import stats as sps

from winit._laws import Law, Normal, TruncatedNormal, Uniform

KS_ALPHA: Final = 1e-6
Z_BOUND: Final = 5.0
SUPPORT_RTOL: Final = 4 * float(np.finfo(np.float32).eps)
ORTHO_ATOL: Final = 1e-5
HAAR_SEEDS: Final = 300
#: fewest draws a law check accepts: below this the thresholds above lose the power they claim.
MIN_DRAWS: Final = 200_000

# Check names, so tests can say which check must catch a fault.
KS_ONE_SAMPLE: Final = "KS one-sample p-value"
KS_TWO_SAMPLE: Final = "KS two-sample p-value"
MEAN_Z: Final = "mean z-score"
VARIANCE_Z: Final = "variance z-score"
SUPPORT: Final = "support overshoot"
HAAR_CORNER_MEAN: Final = "mean Q[0,0] z-score"
HAAR_CORNER_SIGN: Final = "P(Q[0,0] > 0) z-score"
HAAR_TRACE_MEAN: Final = "mean tr Q z-score"


@dataclass(frozen=True)
class Check:
    """One verdict: ``passed`` is ``statistic`` measured against ``threshold`` as ``rule`` says."""

    name: str
    passed: bool
    statistic: float
    threshold: float
    rule: str

    def __str__(self) -> str:
        verdict = "ok  " if self.passed else "FAIL"
        return f"{verdict} {self.name}: {self.statistic:.6g} ({self.rule} {self.threshold:.6g})"


def reference_law(law: Law) -> Any:
    """The SciPy frozen law of a winit sampling law: norm, truncnorm or uniform; TypeError for others."""
    if isinstance(law, Normal):
        return sps.norm(loc=law.mean, scale=law.sigma)
    if isinstance(law, TruncatedNormal):
        return sps.truncnorm(law.lower, law.upper, loc=law.mean, scale=law.sigma)
    if isinstance(law, Uniform):
        return sps.uniform(loc=law.low, scale=law.high - law.low)
    raise TypeError(f"no SciPy reference for law {law!r}; expected Normal, TruncatedNormal or Uniform")


def support_of(law: Law) -> tuple[float, float]:
    """[low, high] of the law: the uniform's bounds, the truncation window mean + [lower, upper]·σ, or ℝ."""
    if isinstance(law, Uniform):
        return law.low, law.high
    if isinstance(law, TruncatedNormal):
        return law.mean + law.lower * law.sigma, law.mean + law.upper * law.sigma
    if isinstance(law, Normal):
        return -math.inf, math.inf
    raise TypeError(f"no support for law {law!r}; expected Normal, TruncatedNormal or Uniform")


def _flat(sample: Any) -> np.ndarray:
    return np.asarray(sample, dtype=np.float64).reshape(-1)


def ks_one_sample(sample: Any, reference: Any) -> Check:
    """One-sample Kolmogorov–Smirnov test of ``sample`` against the SciPy law ``reference``: p ≥ KS_ALPHA."""
    result = sps.kstest(_flat(sample), reference.cdf)
    return Check(KS_ONE_SAMPLE, bool(result.pvalue >= KS_ALPHA), float(result.pvalue), KS_ALPHA, ">=")


def ks_two_sample(sample: Any, other: Any) -> Check:
    """Two-sample Kolmogorov–Smirnov test that ``sample`` and ``other`` share one law: p ≥ KS_ALPHA."""
    result = sps.ks_2samp(_flat(sample), _flat(other), method="asymp")
    return Check(KS_TWO_SAMPLE, bool(result.pvalue >= KS_ALPHA), float(result.pvalue), KS_ALPHA, ">=")


def mean_z(sample: Any, reference: Any) -> Check:
    """z = (x̄ − μ)/(σ/√n) of the sample mean against the law's mean: |z| ≤ Z_BOUND."""
    x = _flat(sample)
    mu, sigma = float(reference.mean()), float(reference.std())
    z = (x.mean() - mu) / (sigma / math.sqrt(x.size))
    return Check(MEAN_Z, bool(abs(z) <= Z_BOUND), float(z), Z_BOUND, "|z| <=")


def variance_z(sample: Any, reference: Any) -> Check:
    """z = (s² − σ²)/(σ²·√((γ₂ + 2)/n)), γ₂ the law's excess kurtosis (kurtosis-aware SE): |z| ≤ Z_BOUND."""
    x = _flat(sample)
    variance = float(reference.var())
    excess_kurtosis = float(reference.stats(moments="k"))
    standard_error = variance * math.sqrt((excess_kurtosis + 2.0) / x.size)
    z = (x.var(ddof=1) - variance) / standard_error
    return Check(VARIANCE_Z, bool(abs(z) <= Z_BOUND), float(z), Z_BOUND, "|z| <=")


def within_support(sample: Any, low: float, high: float) -> Check:
    """Largest step outside [low, high] relative to max(|low|, |high|): ≤ SUPPORT_RTOL (float32 rounding)."""
    x = _flat(sample)
    if not np.all(np.isfinite(x)):
        return Check(
            SUPPORT, False, math.inf, SUPPORT_RTOL, f"{np.sum(~np.isfinite(x))} non-finite elements; <="
        )
    scale = max(abs(low) if math.isfinite(low) else 0.0, abs(high) if math.isfinite(high) else 0.0, 1e-300)
    overshoot = max(low - float(x.min()), float(x.max()) - high, 0.0) / scale
    rule = f"beyond [{low:.6g}, {high:.6g}], relative to the larger bound; <="
    return Check(SUPPORT, bool(overshoot <= SUPPORT_RTOL), overshoot, SUPPORT_RTOL, rule)


def law_checks(sample: Any, law: Law) -> list[Check]:
    """All one-sample checks of ``sample`` against ``law``: KS, mean z, variance z and support."""
    size = np.asarray(sample).size
    if size < MIN_DRAWS:
        raise ValueError(f"law checks need at least {MIN_DRAWS} draws for their stated power, got {size}")
    reference = reference_law(law)
    return [
        ks_one_sample(sample, reference),
        mean_z(sample, reference),
        variance_z(sample, reference),
        within_support(sample, *support_of(law)),
    ]


def failures(checks: list[Check]) -> list[Check]:
    """The checks that did not pass."""
    return [check for check in checks if not check.passed]


def assert_all_pass(checks: list[Check], context: str) -> None:
    """Raise AssertionError listing every check (failures marked FAIL) when any of ``checks`` failed."""
    if failures(checks):
        report = "\n  ".join(str(check) for check in checks)
        raise AssertionError(f"{context}:\n  {report}")


def orthogonality_error(weight: Any, out_axis: int, gain: float) -> float:
    """max |G/gain² − I|, G the smaller Gram matrix (M·Mᵀ or Mᵀ·M) of M = weight as (shape[out_axis], rest)."""
    w = np.asarray(weight, dtype=np.float64)
    matrix = np.moveaxis(w, out_axis, 0).reshape(w.shape[out_axis], -1)
    gram = matrix @ matrix.T if matrix.shape[0] <= matrix.shape[1] else matrix.T @ matrix
    return float(np.abs(gram / gain**2 - np.eye(gram.shape[0])).max())


def haar_checks(matrices: Any) -> list[Check]:
    """Haar moments over a stack (draws, n, n) of orthogonal Q: mean Q[0,0] = 0, P(Q[0,0] > 0) = 1/2, mean tr Q = 0."""
    q = np.asarray(matrices, dtype=np.float64)
    if q.ndim != 3 or q.shape[1] != q.shape[2] or q.shape[1] < 2:
        raise ValueError(
            f"haar_checks needs a stack of square matrices (draws, n, n) with n ≥ 2, got {q.shape}"
        )
    draws, n = q.shape[0], q.shape[1]
    corner = q[:, 0, 0]
    corner_z = corner.mean() / math.sqrt(1.0 / n / draws)
    positive_z = (np.count_nonzero(corner > 0) - draws / 2) / math.sqrt(draws / 4)
    trace_z = np.trace(q, axis1=1, axis2=2).mean() / math.sqrt(1.0 / draws)
    return [
        Check(HAAR_CORNER_MEAN, bool(abs(corner_z) <= Z_BOUND), float(corner_z), Z_BOUND, "|z| <="),
        Check(HAAR_CORNER_SIGN, bool(abs(positive_z) <= Z_BOUND), float(positive_z), Z_BOUND, "|z| <="),
        Check(HAAR_TRACE_MEAN, bool(abs(trace_z) <= Z_BOUND), float(trace_z), Z_BOUND, "|z| <="),
    ]
