"""TensorFlow adapter: stateless ``tf.random`` ops keyed by a (seed, counter) pair, as Keras 3 draws them."""

from __future__ import annotations

import contextlib
import functools
from contextlib import AbstractContextManager
from types import SimpleNamespace
from typing import Any

try:
    import tensorflow as tf
except ImportError as error:  # pragma: no cover - depends on the environment
    raise ImportError(
        "winit's tensorflow backend needs TensorFlow: pip install 'winit[tensorflow]'"
    ) from error

from winit._laws import TruncatedNormal

from ._common import Adapter, check_seed
from ._philox import WordArithmetic
from ._portable.bits import Recipe
from ._portable.engine import EagerEngine
from ._portable.kernels import CALL_COUNTERS, CompiledKernels, kernel_body
from ._tail import QuantileConstants, check_window_fits, tail_window, truncated_from_uniform


def _on(device: str | None, make: Any) -> Any:
    if device is None:
        return make()
    with tf.device(device):
        return make()


class _TensorFlowNamespace:
    """The slice of the array API that winit's shared laws use, spelled in TensorFlow ops."""

    linalg = SimpleNamespace(
        qr=lambda x: tf.linalg.qr(x, full_matrices=False),
        diagonal=lambda x: tf.linalg.diag_part(x),
    )
    sign = staticmethod(tf.sign)
    reshape = staticmethod(tf.reshape)
    permute_dims = staticmethod(tf.transpose)
    where = staticmethod(tf.where)

    @staticmethod
    def matrix_transpose(x: tf.Tensor) -> tf.Tensor:
        return tf.linalg.matrix_transpose(x)

    @staticmethod
    def astype(x: tf.Tensor, dtype: tf.DType, *, copy: bool = True) -> tf.Tensor:
        return tf.cast(x, dtype)  # tensors are immutable: a same-dtype cast is already free

    @staticmethod
    def eye(rows: int, cols: int, *, dtype: tf.DType, device: str | None = None) -> tf.Tensor:
        return _on(device, lambda: tf.eye(rows, cols, dtype=dtype))

    @staticmethod
    def arange(
        start: int, stop: int | None = None, step: int = 1, *, dtype: tf.DType | None = None,
        device: str | None = None,
    ) -> tf.Tensor:  # fmt: skip
        first, last = (0, start) if stop is None else (start, stop)
        if dtype is None:
            return _on(device, lambda: tf.range(first, last, step))
        # tf.range has no unsigned kernels: count in int64, then cast
        return _on(device, lambda: tf.cast(tf.range(first, last, step, dtype=tf.int64), dtype))

    @staticmethod
    def full(
        shape: tuple[int, ...], value: float, *, dtype: tf.DType, device: str | None = None
    ) -> tf.Tensor:
        return _on(device, lambda: tf.fill(shape, tf.constant(value, dtype)))

    @staticmethod
    def zeros(shape: tuple[int, ...], *, dtype: tf.DType, device: str | None = None) -> tf.Tensor:
        return _on(device, lambda: tf.zeros(shape, dtype))

    # What the portable generator (backends/_portable/, _philox.py) needs besides the above.
    uint64 = tf.uint64
    int64 = tf.int64
    add = staticmethod(tf.add)
    subtract = staticmethod(tf.subtract)
    multiply = staticmethod(tf.multiply)
    divide = staticmethod(tf.math.divide)
    negative = staticmethod(tf.negative)
    equal = staticmethod(tf.equal)
    log = staticmethod(tf.math.log)
    sqrt = staticmethod(tf.sqrt)
    broadcast_to = staticmethod(tf.broadcast_to)
    bitwise_and = staticmethod(tf.bitwise.bitwise_and)
    bitwise_or = staticmethod(tf.bitwise.bitwise_or)
    bitwise_xor = staticmethod(tf.bitwise.bitwise_xor)
    bitwise_left_shift = staticmethod(tf.bitwise.left_shift)
    bitwise_right_shift = staticmethod(tf.bitwise.right_shift)

    @staticmethod
    def asarray(value: Any, *, dtype: tf.DType, device: str | None = None) -> tf.Tensor:
        return _on(device, lambda: tf.constant(value, dtype))

    @staticmethod
    def stack(arrays: Any, axis: int = 0) -> tf.Tensor:
        return tf.stack(list(arrays), axis)

    @staticmethod
    def concat(arrays: Any, axis: int = 0) -> tf.Tensor:
        return tf.concat(list(arrays), axis)

    @staticmethod
    def clip(x: tf.Tensor, min: Any, max: Any) -> tf.Tensor:
        return tf.clip_by_value(x, min, max)

    @staticmethod
    def take_along_axis(x: tf.Tensor, indices: tf.Tensor, axis: int) -> tf.Tensor:
        if axis not in (-1, x.shape.rank - 1):
            raise ValueError(f"take_along_axis is spelled for the last axis only, got axis={axis}")
        return tf.gather(x, indices, batch_dims=x.shape.rank - 1)


class SeedStream:
    """Stateless seeds [seed, 0], [seed, 1], ...: the first equals Keras 3's ``draw_seed(seed)``."""

    def __init__(self, seed: int) -> None:
        self.seed = seed
        self.count = 0

    def next(self) -> tf.Tensor:
        pair = tf.constant([self.seed, self.count], dtype=tf.int64)
        self.count += 1
        return pair


class TensorSeedStream(SeedStream):
    """Stateless seeds pair, pair + [0, 1], ...: continues a native seed tensor such as Keras' SeedGenerator.next()."""

    def __init__(self, pair: tf.Tensor) -> None:
        self.pair = pair
        self.count = 0

    def next(self) -> tf.Tensor:
        # The first draw uses the pair itself, so a Keras-drawn seed gives Keras' own numbers.
        pair = self.pair if self.count == 0 else self.pair + tf.constant([0, self.count], self.pair.dtype)
        self.count += 1
        return pair


_XP: Any = _TensorFlowNamespace()


@functools.cache
def _tensorflow_kernel(recipe: Recipe, segments: int, width: int, work: str) -> Any:
    """``tf.function(jit_compile=True)`` of :func:`~winit.backends._portable.kernels.kernel_body`."""
    dtype = tf.as_dtype(work)

    def kernel(starts: Any, words: Any, numbers_: Any) -> Any:
        kit = WordArithmetic(_XP, tf.uint64)
        return kernel_body(_XP, kit, tf.stack, starts, words, numbers_, recipe, segments, width, dtype)

    return tf.function(kernel, jit_compile=True)


def _is_compile_failure(error: Exception) -> bool:
    """Whether ``error`` says this TensorFlow cannot compile with XLA, not a bug of ours."""
    failures = (tf.errors.UnimplementedError, tf.errors.InvalidArgumentError, tf.errors.NotFoundError)
    return isinstance(error, failures) and ("XLA" in str(error) or "jit" in str(error).lower())


class TensorFlowAdapter(Adapter):
    """Samples with ``tf.random.stateless_*`` ops (Philox or Threefry, TF's choice per device)."""

    name = "tensorflow"
    default_layout = "keras"
    orthogonal_draw = "tall"  # keras.initializers.Orthogonal's order
    xp: Any = _XP

    def native_dtype(self, name: str) -> tf.DType:
        dtype: tf.DType = tf.as_dtype(name)
        return dtype

    def linalg_dtype(self, name: str) -> str:
        return name if name in ("float32", "float64") else "float32"

    def device(self, device: object) -> str | None:
        if device is None:
            return None
        if not isinstance(device, str):
            raise TypeError(f"tensorflow device must be a device string like '/CPU:0', got {device!r}")
        # tf.device places softly: an absent '/GPU:0' would silently give a CPU tensor, so check it here.
        try:
            spec = tf.DeviceSpec.from_string(device)
        except ValueError as error:
            raise ValueError(
                f"tensorflow device {device!r} is not a device string like '/CPU:0': {error}"
            ) from error
        here = tf.config.list_logical_devices()
        if spec.device_type is not None and not any(
            (found := tf.DeviceSpec.from_string(logical.name)).device_type == spec.device_type
            and spec.device_index in (None, found.device_index)
            for logical in here
        ):
            available = ", ".join(logical.name for logical in here)
            raise ValueError(f"no tensorflow device {device!r} here; available: {available}")
        return device

    def on_cpu(self, device: str | None) -> bool:
        if device is not None:
            return "CPU" in device.upper()
        return not tf.config.list_logical_devices("GPU")

    def portable_engine(self, device: str | None) -> EagerEngine:
        # eager ops cost ~10 µs each: fewer, larger chunks; draws of 2¹⁶ counters or more run as XLA kernels
        scope = functools.partial(self.portable_scope, device)
        compiled = CompiledKernels(
            "tensorflow", _tensorflow_kernel, CALL_COUNTERS, _is_compile_failure, scope
        )
        kit = WordArithmetic(self.xp, tf.uint64, device=device)
        return EagerEngine(self.xp, kit, False, 1 << 20, device=device, scope=scope, compiled=compiled)

    def portable_scope(self, device: str | None) -> AbstractContextManager[None]:
        """TensorFlow places ops by context, not by argument: ``tf.device`` for the whole draw."""
        return contextlib.nullcontext() if device is None else tf.device(device)

    def generator(self, seed: object, device: Any) -> SeedStream:
        if isinstance(seed, tf.random.Generator):
            return SeedStream(int(seed.uniform_full_int([], dtype=tf.int64).numpy()) & (2**63 - 1))
        if isinstance(seed, (tf.Tensor, tf.Variable)):
            if seed.shape != (2,) or not seed.dtype.is_integer:
                raise TypeError(
                    f"a TensorFlow seed tensor must be a stateless seed: int32 or int64 of shape [2], "
                    f"got {seed.dtype.name}{seed.shape.as_list()}"
                )
            return TensorSeedStream(seed)
        return SeedStream(check_seed(seed))

    def full(self, shape: tuple[int, ...], value: float, dtype: tf.DType, device: str | None) -> tf.Tensor:
        return self.xp.full(shape, value, dtype=dtype, device=device)

    def uniform(
        self, rng: SeedStream, shape: tuple[int, ...], dtype: tf.DType, device: str | None,
        low: float, high: float,
    ) -> tf.Tensor:  # fmt: skip
        return _on(device, lambda: tf.random.stateless_uniform(shape, rng.next(), low, high, dtype))

    def normal(
        self, rng: SeedStream, shape: tuple[int, ...], dtype: tf.DType, device: str | None,
        mean: float, sigma: float,
    ) -> tf.Tensor:  # fmt: skip
        return _on(device, lambda: tf.random.stateless_normal(shape, rng.next(), mean, sigma, dtype))

    def truncated_normal(
        self, rng: SeedStream, shape: tuple[int, ...], dtype: tf.DType, device: str | None,
        law: TruncatedNormal,
    ) -> tf.Tensor:  # fmt: skip
        check_window_fits(law.mean, law.sigma, law.lower, law.upper, dtype.name)
        if (law.lower, law.upper) == (-2.0, 2.0):
            return _on(
                device,
                lambda: tf.random.stateless_truncated_normal(shape, rng.next(), law.mean, law.sigma, dtype),
            )
        return _on(device, lambda: self._inverse_cdf(rng, shape, dtype, law))

    def _inverse_cdf(
        self, rng: SeedStream, shape: tuple[int, ...], dtype: tf.DType, law: TruncatedNormal
    ) -> tf.Tensor:
        # TF's stateless op only cuts at ±2σ; other windows invert Φ in at least float32, the far
        # edge mirrored into the lower tail where small probabilities keep their precision (_tail).
        work = tf.float64 if dtype == tf.float64 else tf.float32
        window = tail_window(law.lower, law.upper, work.name)

        def const(value: float) -> tf.Tensor:
            return tf.constant(value, work)

        u = tf.random.stateless_uniform(shape, rng.next(), window.u_low, window.u_high, work)
        z = truncated_from_uniform(self.xp, u, window, QuantileConstants(const), const)
        return tf.cast(z * law.sigma + law.mean, dtype)


ADAPTER = TensorFlowAdapter()
