"""What ``winit.keras`` asks of the running Keras backend: its adapter, seeds and dtypes in Keras' form."""

from __future__ import annotations

import sys
import warnings
from typing import Any, Final

import keras

from winit.backends._common import FLOAT_DTYPES

#: Keras backend name -> winit adapter name.
ADAPTERS: Final = {"tensorflow": "tensorflow", "jax": "jax", "torch": "torch", "numpy": "numpy"}
MAX_SEED: Final = 2**32 - 1
#: Keras' TF backend reduces stateless seeds modulo int32.max − 1 so XLA gets int32 (``_cast_seed``).
_TF_SEED_MODULUS: Final = 2**31 - 2
#: how far up the stack ``Layer.add_weight`` may sit above an initializer's ``__call__``
_FRAMES_TO_ADD_WEIGHT: Final = 40  # 15 under the TF backend (tf.Variable's creator chain)


def adapter_name() -> str:
    """The winit adapter of the running Keras backend; ValueError for a backend winit has none for."""
    backend = keras.backend.backend()
    if backend not in ADAPTERS:
        raise ValueError(
            f"winit.keras supports the Keras backends {', '.join(ADAPTERS)}; this process runs {backend!r}"
        )
    return ADAPTERS[backend]


def resolve_dtype(dtype: Any) -> str:
    """``dtype`` (default ``keras.config.floatx()``) as Keras names it, float64 → float32 on JAX without x64.

    Keras hands a float64 request on JAX with 64-bit mode off to ``jax.random``/``jnp``, which warn
    and give float32; winit does the same, so a float64 policy builds with winit where it builds with Keras.
    """
    name: str = keras.backend.standardize_dtype(dtype or keras.config.floatx())
    if name == "float64" and keras.backend.backend() == "jax":
        import jax

        if not jax.config.jax_enable_x64:  # type: ignore[attr-defined]
            warnings.warn(
                "float64 requested under the JAX backend with 64-bit mode off: float32 is returned, as "
                "Keras' own initializers do (set JAX_ENABLE_X64=1 for float64)",
                UserWarning,
                stacklevel=3,
            )
            return "float32"
    return name


def is_float(dtype_name: str) -> bool:
    """Whether winit's adapters draw ``dtype_name`` (the others are left to Keras' own ops)."""
    return dtype_name in FLOAT_DTYPES


def keras_constant(dims: tuple[int, ...], value: Any, dtype_name: str) -> Any:
    """``value`` everywhere, computed as ``keras.initializers.Constant`` does (int, bool, complex dtypes)."""
    return keras.ops.cast(value, dtype_name) * keras.ops.ones(dims, dtype=dtype_name)


def native_seed(backend: str, seed: Any, device: Any) -> Any:
    """An int seed (as ``[seed, 0]``) or a ``SeedGenerator.next()`` pair, converted as Keras' backend does."""
    if backend == "tensorflow":
        import tensorflow as tf

        pair = tf.constant([seed, 0], tf.int64) if isinstance(seed, int) else tf.cast(seed, tf.int64)
        return tf.cast(tf.math.floormod(pair, _TF_SEED_MODULUS), tf.int32)
    if backend == "jax":
        import jax.numpy as jnp

        return jnp.asarray([seed, 0] if isinstance(seed, int) else seed, dtype=jnp.uint32)
    if backend == "torch":
        import torch

        first, second = (seed, 0) if isinstance(seed, int) else (int(seed[0]), int(seed[1]))
        generator = torch.Generator(device=device)
        # keras/src/backend/torch/random.py torch_seed_generator: (first + second) as uint32
        return generator.manual_seed((first + second) & 0xFFFFFFFF)
    import numpy as np

    pair = np.asarray([seed, 0] if isinstance(seed, int) else seed, dtype=np.uint32)
    return np.random.default_rng(pair)


def torch_device() -> Any:
    """The device Keras' torch backend puts new tensors on (cuda when present, "meta" while tracing shapes)."""
    # a fresh Keras tensor tells us without private imports
    return keras.ops.zeros(()).device


def building_depthwise_kernel() -> bool:
    """Whether the weight being initialized is a Keras depthwise kernel ``(*k, in, multiplier)``.

    The shape alone cannot tell it from a convolution kernel ``(*k, in, out)``; the layer that calls
    ``add_weight`` can. Keras calls the initializer inside ``add_weight`` (a few frames up).
    """
    depthwise = (keras.layers.DepthwiseConv1D, keras.layers.DepthwiseConv2D)
    separable = (keras.layers.SeparableConv1D, keras.layers.SeparableConv2D)
    frame = sys._getframe(1)
    for _ in range(_FRAMES_TO_ADD_WEIGHT):
        frame = frame.f_back  # type: ignore[assignment]
        if frame is None:
            return False
        if frame.f_code.co_name == "add_weight":
            layer, name = frame.f_locals.get("self"), frame.f_locals.get("name")
            return (isinstance(layer, depthwise) and name == "kernel") or (
                isinstance(layer, separable) and name == "depthwise_kernel"
            )
    return False
