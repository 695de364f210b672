"""``jax.nn.initializers``' own formulas, for what winit's adapters do not take: complex dtypes, traced values.

``winit.flax`` draws real floating dtypes with Python-number hyper-parameters through winit's spec and
JAX adapter. JAX also accepts complex dtypes (its variance scaling draws a complex normal, a disk, or a
complex normal truncated in modulus, so that E|w|² follows the rule) and hyper-parameters that are
arrays or tracers (``jax.jit``/``jax.grad``/``jax.vmap`` over ``stddev``, ``constant(jnp.array(...))``).
For those, ``winit.flax`` runs the same few ``jax.random``/``jnp`` operations as
``jax/_src/nn/initializers.py`` (JAX 0.10), so the values are JAX's bit for bit.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, Final

import jax
import jax.numpy as jnp
import numpy as np

#: ``law(key, shape, dtype, fan_in, fan_out)``: one initializer's values, computed as JAX does.
JaxLaw = Callable[[Any, tuple[int, ...], Any, int, int], jax.Array]

#: std of N(0, 1) truncated to (−2, 2), and of the complex standard normal truncated to modulus 2 (JAX's).
_TRUNC_STD: Final = 0.87962566103423978
_COMPLEX_TRUNC_STD: Final = 0.95311164380491208


def is_array(value: object) -> bool:
    """Whether ``value`` is an array or a tracer (a hyper-parameter winit's spec cannot hold as a float)."""
    return isinstance(value, (jax.Array, np.ndarray))


def is_complex(dtype: Any) -> bool:
    """Whether ``dtype`` is complex64 or complex128."""
    return bool(jnp.issubdtype(dtype, jnp.complexfloating))


def constant(value: Any) -> JaxLaw:
    """``jnp.full(shape, value, dtype)`` (jax.nn.initializers.constant, zeros, ones)."""
    return lambda key, shape, dtype, fan_in, fan_out: jnp.full(shape, value, dtype=dtype)


def normal(stddev: Any) -> JaxLaw:
    """``random.normal · stddev`` (complex: real and imaginary parts each of variance stddev²/2)."""
    return lambda key, shape, dtype, fan_in, fan_out: (
        jax.random.normal(key, shape, dtype) * jnp.array(stddev, dtype)
    )


def uniform(scale: Any) -> JaxLaw:
    """``random.uniform · scale``: U[0, scale)."""
    return lambda key, shape, dtype, fan_in, fan_out: (
        jax.random.uniform(key, shape, dtype) * jnp.array(scale, dtype)
    )


def truncated_normal(stddev: Any, lower: Any, upper: Any) -> JaxLaw:
    """``random.truncated_normal(lower, upper) · stddev``."""
    return lambda key, shape, dtype, fan_in, fan_out: (
        jax.random.truncated_normal(key, lower, upper, shape, dtype) * jnp.array(stddev, dtype)
    )


def _complex_uniform(key: Any, shape: tuple[int, ...], dtype: Any) -> jax.Array:
    """Uniform on the disk of radius √2: zero mean, E|z|² = 1."""
    key_r, key_theta = jax.random.split(key)
    real_dtype = np.array(0, dtype).real.dtype
    r = jnp.sqrt(2 * jax.random.uniform(key_r, shape, real_dtype)).astype(dtype)
    theta = 2 * np.pi * jax.random.uniform(key_theta, shape, real_dtype).astype(dtype)
    return r * jnp.exp(1j * theta)


def _complex_truncated_normal(key: Any, upper: float, shape: tuple[int, ...], dtype: Any) -> jax.Array:
    """Complex standard normal (E|z|² = 1) with modulus cut at ``upper``, by inverting the modulus' CDF."""
    key_r, key_theta = jax.random.split(key)
    real_dtype = np.array(0, dtype).real.dtype
    t = (1 - jnp.exp(jnp.array(-(upper**2), dtype))) * jax.random.uniform(key_r, shape, real_dtype).astype(
        dtype
    )
    r = jnp.sqrt(-jnp.log(1 - t))
    theta = 2 * np.pi * jax.random.uniform(key_theta, shape, real_dtype).astype(dtype)
    return r * jnp.exp(1j * theta)


def variance_scaling(scale: Any, mode: str, distribution: str) -> JaxLaw:
    """std = √(scale/fan(mode)) for a truncated normal (σ = std/0.8796), a normal or a uniform law."""

    def law(key: Any, shape: tuple[int, ...], dtype: Any, fan_in: int, fan_out: int) -> jax.Array:
        denominator = {
            "fan_in": fan_in,
            "fan_out": fan_out,
            "fan_avg": (fan_in + fan_out) / 2,
            "fan_geo_avg": (fan_in * fan_out) ** 0.5,
        }[mode]
        variance = jnp.array(scale / denominator, dtype=dtype)
        real = not is_complex(dtype)
        if distribution == "truncated_normal":
            if real:
                stddev = jnp.sqrt(variance) / jnp.array(_TRUNC_STD, dtype)
                return jax.random.truncated_normal(key, -2, 2, shape, dtype) * stddev
            stddev = jnp.sqrt(variance) / jnp.array(_COMPLEX_TRUNC_STD, dtype)
            return _complex_truncated_normal(key, 2, shape, dtype) * stddev
        if distribution == "normal":
            return jax.random.normal(key, shape, dtype) * jnp.sqrt(variance)
        if real:
            return jax.random.uniform(key, shape, dtype, -1) * jnp.sqrt(3 * variance)
        return _complex_uniform(key, shape, dtype) * jnp.sqrt(variance)

    return law


def orthogonal(scale: Any, column_axis: int) -> JaxLaw:
    """scale·Q with Q Haar orthogonal (unitary for complex) over (Π other axes) × shape[column_axis]."""

    def law(key: Any, shape: tuple[int, ...], dtype: Any, fan_in: int, fan_out: int) -> jax.Array:
        n_rows, n_cols = int(np.prod(shape)) // shape[column_axis], shape[column_axis]
        q = jax.random.orthogonal(key, n_rows, (), dtype, n_cols)
        q = jnp.reshape(q, (*np.delete(shape, column_axis), shape[column_axis]))
        return jnp.array(scale, dtype) * jnp.moveaxis(q, -1, column_axis)

    return law
