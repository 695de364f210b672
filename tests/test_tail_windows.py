"""Truncated normals in tail windows keep the law (issue 14, item 1): portable on every backend, TF and JAX native.

Before: an erf-space inverse CDF rounded a window like [5.5σ, 6σ] to one float32 value (10⁶ copies
of 5.5) and [4σ, 5σ] to ~1000. Now the uniform is Φ of the window mirrored into the lower tail and
z = Φ⁻¹(u) by AS241 (backends/_tail.py); a window a float type cannot resolve is refused.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest
from conftest import to_numpy
from scipy import stats

import winit

DRAWS = 40000
WINDOWS = [(4.0, 5.0), (5.5, 6.0), (-6.0, -5.5), (8.0, 9.0), (-1.5, 2.5), (-1.0, 8.0)]
CASES = [
    *(
        pytest.param(name, "portable", id=f"{name}-portable")
        for name in ("numpy", "torch", "tensorflow", "jax")
    ),
    pytest.param("tensorflow", "native", id="tensorflow-native"),
    pytest.param("jax", "native", id="jax-native"),
]


def _cut(backend: str, rng: str, lower: float, upper: float, dtype: str = "float32", **kw: Any) -> np.ndarray:
    pytest.importorskip(
        {"numpy": "numpy", "torch": "torch", "tensorflow": "tensorflow", "jax": "jax"}[backend]
    )
    law = {"mean": 0.0, "stddev": 1.0, "lower": lower, "upper": upper, **kw}
    extra = {"stream": "w"} if rng == "portable" else {}
    drawn = winit.init(
        "truncated_normal", (DRAWS,), backend=backend, seed=7, rng=rng, dtype=dtype, **law, **extra
    )
    return to_numpy(drawn).astype(np.float64)


@pytest.mark.parametrize("window", WINDOWS, ids=[f"{a}_{b}" for a, b in WINDOWS])
@pytest.mark.parametrize(("backend", "rng"), CASES)
def test_tail_windows_follow_the_truncated_law(backend: str, rng: str, window: tuple[float, float]) -> None:
    lower, upper = window
    values = _cut(backend, rng, lower, upper)
    assert values.min() >= lower and values.max() <= upper
    law = stats.truncnorm(lower, upper)
    assert stats.kstest(values, law.cdf).pvalue > 1e-3
    # a 5% wider law is refused: the test has power
    assert stats.kstest(values, stats.truncnorm(lower / 1.05, upper / 1.05, scale=1.05).cdf).pvalue < 1e-3
    assert len(np.unique(values)) > 0.75 * DRAWS  # before: 1 value for [5.5, 6], ~1000 for [4, 5]


@pytest.mark.parametrize(("backend", "rng"), CASES)
def test_tail_window_float64_reaches_past_float32(backend: str, rng: str) -> None:
    if backend == "jax":
        pytest.skip("float64 JAX needs x64 mode (covered by the float32 cases)")
    values = _cut(backend, rng, 20.0, 21.0, dtype="float64")
    assert values.min() >= 20.0 and values.max() <= 21.0
    assert stats.kstest(values, stats.truncnorm(20.0, 21.0).cdf).pvalue > 1e-3


@pytest.mark.parametrize(("backend", "rng"), CASES)
def test_windows_a_float_type_cannot_hold_are_refused(backend: str, rng: str) -> None:
    with pytest.raises(ValueError, match="too small for float32"):
        _cut(backend, rng, 20.0, 21.0)  # Φ(−20) ≈ 3e-89: below float32's range
    if backend != "jax":
        with pytest.raises(ValueError, match="too small for float64"):
            _cut(backend, rng, 37.0, 38.0, dtype="float64")  # Φ(−37) ≈ 6e-300: its 2⁻⁵³ steps are subnormal
    with pytest.raises(ValueError, match=r"beyond the finite range of float16|overflows in float16"):
        _cut(backend, rng, -2.0, 2.0, dtype="float16", mean=70000.0)


def test_jax_native_keeps_jax_bits_where_its_sampler_resolves_the_window() -> None:
    jax = pytest.importorskip("jax")
    key = jax.random.key(7)
    for lower, upper in ((-2.0, 2.0), (-3.0, 1.0), (1.0, 2.0)):  # resolved: JAX's own bits
        drawn = winit.init("truncated_normal", (256,), backend="jax", seed=key, mean=0.0, stddev=1.0,
                           lower=lower, upper=upper)  # fmt: skip
        assert np.array_equal(
            to_numpy(drawn), np.asarray(jax.random.truncated_normal(key, lower, upper, (256,)))
        )
    own = np.asarray(jax.random.truncated_normal(key, 4.0, 5.0, (DRAWS,)))
    assert len(np.unique(own)) < 2000  # JAX's float32 erf-space grid: why winit replaces it here
