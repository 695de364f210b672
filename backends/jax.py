"""JAX adapter: ``jax.random`` with explicit keys; the first draw uses the key itself, as jax.nn.initializers do."""

from __future__ import annotations

import numbers
from typing import Any

try:
    import jax
    import jax.numpy as jnp
except ImportError as error:  # pragma: no cover - depends on the environment
    raise ImportError("winit's jax backend needs JAX: pip install 'winit[jax]'") from error

from winit._laws import Law, Normal, TruncatedNormal, Uniform, truncated_normal_moments

from ._common import check_seed


class KeyStream:
    """Yields the wrapped key first, then ``fold_in(key, i)`` for further draws."""

    def __init__(self, key: jax.Array) -> None:
        self.key = key
        self.count = 0

    def next(self) -> jax.Array:
        key = self.key if self.count == 0 else jax.random.fold_in(self.key, self.count)
        self.count += 1
        return key


class JaxAdapter:
    """Samples with ``jax.random.uniform/normal/truncated_normal``; traceable under ``jax.jit``."""

    name = "jax"
    default_layout = "flax"
    orthogonal_draw = "tall"  # jax.nn.initializers.orthogonal's order, for bit parity
    xp: Any = jnp

    def native_dtype(self, name: str) -> Any:
        if name == "float64" and not jax.config.jax_enable_x64:  # type: ignore[attr-defined]
            raise TypeError(
                "JAX gives float64 only with 64-bit mode on: set JAX_ENABLE_X64=1 or "
                "jax.config.update('jax_enable_x64', True) (winit will not hand back float32 instead)"
            )
        return jnp.dtype(name)

    def linalg_dtype(self, name: str) -> str:
        return name if name in ("float32", "float64") else "float32"

    def device(self, device: object) -> Any:
        if device is None or isinstance(device, jax.Device):
            return device
        if isinstance(device, str):
            platform, sep, index = device.partition(":")
            try:
                if sep and not (index.isascii() and index.isdecimal()):  # "cpu:-1" would wrap to the last one
                    raise ValueError(f"device index {index!r} is not a non-negative integer")
                return jax.devices(platform)[int(index or 0)]
            except (RuntimeError, IndexError, ValueError) as error:
                raise ValueError(f"no JAX device {device!r}; available: {jax.devices()}") from error
        raise TypeError(f"jax device must be a jax.Device or a string like 'cpu' or 'gpu:0', got {device!r}")

    def generator(self, seed: object, device: Any) -> KeyStream:
        # NumPy integer scalars carry dtype and shape too, but they are int seeds, not keys.
        is_int = isinstance(seed, numbers.Integral)
        if not is_int and (
            isinstance(seed, jax.Array) or (hasattr(seed, "dtype") and hasattr(seed, "shape"))
        ):
            key: Any = seed
            is_typed_key = jnp.issubdtype(key.dtype, jax.dtypes.prng_key)
            if not is_typed_key and (key.shape != (2,) or key.dtype != jnp.uint32):
                raise TypeError(f"a raw JAX key must be uint32[2], got {key.dtype}{list(key.shape)}")
            return KeyStream(key)
        return KeyStream(jax.random.key(check_seed(seed)))

    def _put(self, array: jax.Array, device: Any) -> jax.Array:
        return array if device is None else jax.device_put(array, device)

    def full(self, shape: tuple[int, ...], value: float, dtype: Any, device: Any) -> jax.Array:
        return jnp.full(shape, value, dtype=dtype, device=device)

    def draw_law(
        self, rng: KeyStream, shape: tuple[int, ...], dtype: Any, device: Any, law: Law
    ) -> jax.Array | None:
        """A centred variance-rule law in jax.nn.initializers.variance_scaling's float arithmetic; else None.

        v = variance rounded to ``dtype``; uniform: U[-1, 1)·√(3v); normal: N(0, 1)·√v; truncated
        normal: T(lower, upper)·(√v / truncnorm std), each step in ``dtype``, so the values equal JAX's
        bit for bit (rounding the std computed in float64 instead differs in the last bit for some fans).
        """
        variance = getattr(law, "variance", None)
        if variance is None:
            return None
        v = jnp.array(variance, dtype)
        if isinstance(law, Uniform) and law.low == -law.high:
            sample = jax.random.uniform(rng.next(), shape, dtype, -1) * jnp.sqrt(3 * v)
        elif isinstance(law, Normal) and law.mean == 0:
            sample = jax.random.normal(rng.next(), shape, dtype) * jnp.sqrt(v)
        elif isinstance(law, TruncatedNormal) and law.mean == 0:
            cut_std = truncated_normal_moments(law.lower, law.upper)[1]
            sigma = jnp.sqrt(v) / jnp.array(cut_std, dtype)
            sample = jax.random.truncated_normal(rng.next(), law.lower, law.upper, shape, dtype) * sigma
        else:
            return None
        return self._put(sample, device)

    def uniform(
        self, rng: KeyStream, shape: tuple[int, ...], dtype: Any, device: Any, low: float, high: float
    ) -> jax.Array:
        return self._put(jax.random.uniform(rng.next(), shape, dtype, low, high), device)

    def normal(
        self, rng: KeyStream, shape: tuple[int, ...], dtype: Any, device: Any, mean: float, sigma: float
    ) -> jax.Array:
        sample = jax.random.normal(rng.next(), shape, dtype) * jnp.asarray(sigma, dtype)
        return self._put(sample + jnp.asarray(mean, dtype) if mean else sample, device)

    def truncated_normal(
        self, rng: KeyStream, shape: tuple[int, ...], dtype: Any, device: Any, law: TruncatedNormal
    ) -> jax.Array:
        sample = jax.random.truncated_normal(rng.next(), law.lower, law.upper, shape, dtype)
        sample = sample * jnp.asarray(law.sigma, dtype)
        return self._put(sample + jnp.asarray(law.mean, dtype) if law.mean else sample, device)


ADAPTER = JaxAdapter()
