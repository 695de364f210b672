"""JAX adapter: ``jax.random`` with explicit keys; the first draw uses the key itself, as jax.nn.initializers do."""

from __future__ import annotations

import functools
import numbers
from collections.abc import Callable, Sequence
from typing import Any

try:
    import jax
    import jax.numpy as jnp
except ImportError as error:  # pragma: no cover - depends on the environment
    raise ImportError("winit's jax backend needs JAX: pip install 'winit[jax]'") from error

import numpy as np

from winit._laws import Law, Normal, TruncatedNormal, Uniform, truncated_normal_moments

from ._common import Adapter, check_seed
from ._philox import MASK32, NarrowWordArithmetic
from ._portable.args import Block
from ._portable.bits import Constants, Recipe
from ._portable.counters import elementwise_values
from ._tail import (
    QuantileConstants,
    check_window_fits,
    jax_sampler_is_exact_enough,
    tail_window,
    truncated_from_uniform,
)


class KeyStream:
    """Yields the wrapped key first, then ``fold_in(key, i)`` for further draws."""

    def __init__(self, key: jax.Array) -> None:
        self.key = key
        self.count = 0

    def next(self) -> jax.Array:
        key = self.key if self.count == 0 else jax.random.fold_in(self.key, self.count)
        self.count += 1
        return key


def jax_key(seed: int) -> jax.Array:
    """``jax.random.key(seed)`` as JAX builds it with 64-bit mode on: threefry data [seed >> 32, seed mod 2³²].

    With x64 off JAX itself keeps only ``seed mod 2³²`` (``key(2**32 + 5)`` is ``key(5)``); winit
    builds the key from both words, so every seed < 2³² still gives JAX's own key and larger ones
    their own. A non-threefry default PRNG folds the high word in: ``fold_in(key(lo), hi)``.
    """
    if seed < 2**32 or jax.config.jax_enable_x64:  # type: ignore[attr-defined]
        return jax.random.key(seed)
    high, low = seed >> 32, seed & 0xFFFFFFFF
    if jax.config.jax_default_prng_impl == "threefry2x32":  # type: ignore[attr-defined]
        key: jax.Array = jax.random.wrap_key_data(jnp.array([high, low], dtype=jnp.uint32))
        return key
    return jax.random.fold_in(jax.random.key(low), high)


def _truncated_standard(
    key: jax.Array, law: TruncatedNormal, shape: tuple[int, ...], dtype: Any
) -> jax.Array:
    """T(lower, upper) in ``dtype``: JAX's own sampler (its bits) where it resolves the window, else winit's tail one.

    See :func:`winit.backends._tail.jax_sampler_is_exact_enough` for the criterion; half-precision
    dtypes are judged as float32 (their rounding is the dtype policy's business).
    """
    work = "float64" if jnp.dtype(dtype) == jnp.float64 else "float32"
    check_window_fits(law.mean, law.sigma, law.lower, law.upper, jnp.dtype(dtype).name)
    if jax_sampler_is_exact_enough(law.lower, law.upper, work):
        sample: jax.Array = jax.random.truncated_normal(key, law.lower, law.upper, shape, dtype)
        return sample
    window = tail_window(law.lower, law.upper, work)

    def const(value: float) -> jax.Array:
        return jnp.asarray(value, dtype=work)

    u = jax.random.uniform(key, shape, work, window.u_low, window.u_high)
    z: jax.Array = truncated_from_uniform(jnp, u, window, QuantileConstants(const), const)
    return z.astype(dtype)


def is_jax_key(seed: object) -> bool:
    """Whether ``seed`` is a JAX PRNG key: a typed key array or a raw uint32[2] one (possibly traced)."""
    if type(seed).__module__.split(".")[0] not in ("jax", "jaxlib"):
        return False
    dtype = getattr(seed, "dtype", None)
    return dtype is not None and (
        jnp.issubdtype(dtype, jax.dtypes.prng_key) or (dtype == jnp.uint32 and seed.shape == (2,))  # type: ignore[attr-defined]
    )


def jax_key_words(key: Any) -> Any:
    """The Philox key (k0, k1) of a JAX key as a traceable uint32[2]: (data[1], data[0]).

    A key made by ``jax.random.key(seed)`` (threefry: data = [seed >> 32, seed mod 2³²]) so gives
    the words of the int ``seed`` itself: a Flax initializer keyed by it draws ``winit.init(seed=seed)``.
    """
    data = jax.random.key_data(key) if jnp.issubdtype(key.dtype, jax.dtypes.prng_key) else key
    if data.shape != (2,):
        raise TypeError(
            f"rng='portable' takes a 2-word (threefry) JAX key, got key data of shape {tuple(data.shape)}"
        )
    return jnp.asarray(data, dtype=jnp.uint32)[::-1]


@functools.cache
def _jax_kernel() -> Any:
    """``jax.jit`` of the element-wise generator; key, stream and the law's numbers are traced."""

    def kernel(
        words: Any, numbers_: Any, *, shape: tuple[int, ...], block: Block, recipe: Recipe, work: str
    ) -> Any:
        dtype = jnp.dtype(work)
        kit = NarrowWordArithmetic(jnp, jnp.uint32)
        consts = Constants(jnp, dtype, None, recipe, [numbers_[i] for i in range(6)])
        key, stream = (words[0], words[1]), (words[2], words[3])
        return elementwise_values(jnp, kit, shape, block, key, stream, recipe, consts, dtype, mutable=False)

    return jax.jit(kernel, static_argnames=("shape", "block", "recipe", "work"))


def _jax_arguments(key: Any, stream: int, numbers_: Sequence[float], work: str) -> tuple[Any, Any]:
    """The kernel's words (k0, k1, stream lo, stream hi) and the law's numbers; ``key``: two ints or a uint32[2]."""
    numbers = jnp.asarray(np.asarray(numbers_, dtype=work))
    stream_words = np.array([stream & MASK32, stream >> 32], dtype=np.uint32)
    if isinstance(key, tuple):
        return jnp.asarray(np.array([key[0], key[1], *stream_words], dtype=np.uint32)), numbers
    return jnp.concatenate([key, jnp.asarray(stream_words)]), numbers  # a traced JAX key


class JaxEngine:
    """The portable engine on JAX: each element from its own index under ``jax.jit`` (a pure map, so
    ``out_shardings`` makes each device generate only its shard), one Philox call per element."""

    def __init__(self, device: Any) -> None:
        self.device = device

    @property
    def kit(self) -> NarrowWordArithmetic:
        """uint32 words and 16-bit limbs: JAX has no 64-bit integers without x64 (the kernel builds its own)."""
        return NarrowWordArithmetic(jnp, jnp.uint32)

    def values(
        self, shape: tuple[int, ...], block: Block, key: Any, stream: int, recipe: Recipe,
        numbers_: Sequence[float], work: str, work_dtype: Any,
    ) -> Any:  # fmt: skip
        words, params = _jax_arguments(key, stream, numbers_, work)
        values = _jax_kernel()(words, params, shape=shape, block=block, recipe=recipe, work=work)
        return values if self.device is None else jax.device_put(values, self.device)


class JaxAdapter(Adapter):
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
        return KeyStream(jax_key(check_seed(seed)))

    def on_cpu(self, device: Any) -> bool:
        return bool((jax.default_backend() if device is None else device.platform) == "cpu")

    def portable_engine(self, device: Any) -> JaxEngine:
        return JaxEngine(device)

    def portable_key(self, seed: object) -> Any:
        """A JAX key's Philox words (Flax's ``init(key, shape)``, traced or not): see :func:`jax_key_words`."""
        return jax_key_words(seed) if is_jax_key(seed) else None

    def portable_sharded(self, shard: object, whole: Callable[[], Any]) -> Any:
        """A ``jax.sharding.Sharding``: ``whole`` under ``jax.jit(out_shardings=shard)``, each device its own block."""
        if not isinstance(shard, jax.sharding.Sharding):
            return None
        return jax.jit(whole, out_shardings=shard)()

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
            sample = _truncated_standard(rng.next(), law, shape, dtype) * sigma
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
        sample = _truncated_standard(rng.next(), law, shape, dtype)
        sample = sample * jnp.asarray(law.sigma, dtype)
        return self._put(sample + jnp.asarray(law.mean, dtype) if law.mean else sample, device)


ADAPTER = JaxAdapter()
