"""Keras 3 initializers drawn by winit: drop-in replacements for ``keras.initializers``.

Every class subclasses ``keras.initializers.Initializer``, is registered with
``keras.saving.register_keras_serializable(package="winit")`` (so a ``.keras`` file names it
``"winit>HeNormal"`` and a fresh process restores it, and ``kernel_initializer="winit>HeNormal"``
resolves as a string once ``winit.keras`` is imported), and realizes the law Keras gives the same
name. Import ``winit.keras`` before ``keras.saving.load_model``: Keras does not import it for you; it
then refuses a model using ``Dirac`` and silently swaps the others for its own class of the same name
(same law, Keras' sampler). The law comes from winit's spec layer and the numbers from winit's
adapter for the running Keras backend (``winit.backends``: tensorflow, jax, torch, numpy); nothing
here computes a fan, a std or a sample itself. Fans follow the Keras layout ``(*kernel, in, out)``.

What each name means (Keras 3.15 ``keras/src/initializers``), and the winit spec behind it:

===================  ==========================================  ==============================================
class                law (as Keras defines it)                   winit spec
===================  ==========================================  ==============================================
Zeros / Ones         every element 0 / 1                         ``zeros`` / ``ones``
Constant(value)      every element ``value``                     ``constant.with_(value=)``
RandomNormal         N(mean, stddev²), stddev 0.05               ``random_normal.with_(mean=, stddev=)``
RandomUniform        U[minval, maxval), ±0.05                    ``random_uniform.with_(minval=, maxval=)``
TruncatedNormal      N(mean, stddev²) cut at mean ± 2·stddev,    ``truncated_normal.with_(mean=, stddev=)``
                     stddev is the parent σ (no correction)
VarianceScaling      std √(scale/fan); "truncated_normal" (and   ``variance_scaling.with_(scale=, mode=,
                     ``"normal"``, which Keras maps to it) draws  distribution=)``: Keras "normal" and
                     σ = std/0.87962566103423978 cut at ±2σ;      "truncated_normal" → winit
                     "untruncated_normal" N(0, std²); "uniform"  "truncated_normal"; Keras
                     U(±√(3·scale/fan))                          "untruncated_normal" → winit "normal"
GlorotUniform        U(±√(6/(fan_in+fan_out)))                   variance_scaling(1, fan_avg, uniform)
GlorotNormal         **truncated**, std √(2/(fan_in+fan_out))    variance_scaling(1, fan_avg, truncated_normal)
HeUniform            U(±√(6/fan_in))                             variance_scaling(2, fan_in, uniform)
HeNormal             **truncated**, std √(2/fan_in)              variance_scaling(2, fan_in, truncated_normal)
LecunUniform         U(±√(3/fan_in))                             variance_scaling(1, fan_in, uniform)
LecunNormal          **truncated**, std √(1/fan_in)              variance_scaling(1, fan_in, truncated_normal)
Orthogonal(gain)     gain·Q over (Π shape[:-1], shape[-1])       ``orthogonal.with_(gain=)``, out axis = last
Identity(gain)       gain·I, 2-D only                            ``identity.with_(gain=)``
Dirac(gain, groups)  (winit only) convolution identity           ``dirac.with_(gain=, groups=)``, Keras layout
===================  ==========================================  ==============================================

So ``winit.keras.HeNormal`` is Keras' truncated He normal, *not* ``torch.nn.init.kaiming_normal_``
(untruncated; that is ``winit.get("he_normal")``). ``IdentityInitializer`` and
``OrthogonalInitializer`` are the aliases Keras keeps for compatibility.

Seeds follow Keras 3 (``keras/src/initializers/random_initializers.py``, ``keras/src/random``):

* an int seed draws from the stateless seed ``[seed, 0]``: the same values on every call;
* ``None`` draws an int seed once, at construction, from Python's ``random`` (as Keras'
  ``make_default_seed`` does, so ``keras.utils.set_random_seed`` fixes it): again the same values on
  every call of that instance; ``get_config`` keeps ``None``, so a reloaded model draws a new seed;
* a ``keras.random.SeedGenerator`` advances: each call uses ``seed_generator.next()``.

``rng="portable"`` (every seeded class) draws winit's counter-based Philox instead: the values are
``winit.init(..., seed=seed, rng="portable", stream=stream, layout="keras")``, the same on every
Keras backend and device (uniform laws bit for bit). It takes an int seed (or None: one drawn at
construction), not a ``SeedGenerator``; ``stream`` (a name or int id, default 0) tells apart
parameters drawn with one seed. ``get_config`` records ``rng`` and ``stream`` only for a portable
initializer, so a native one's config stays exactly Keras'.

The seed reaches the adapter in the form Keras' own backend gives its RNG, so the numbers match
Keras wherever the backend samples the same way: TensorFlow gets the int32 stateless pair
``floormod([seed, counter], 2³¹ − 2)``; JAX the raw ``uint32[2]`` key ``[seed, counter]``; PyTorch a
``torch.Generator`` seeded with ``(seed + counter) mod 2³²`` on Keras' device; NumPy
``numpy.random.default_rng([seed, counter])``. Bit for bit equal to ``keras.initializers`` for the
same int seed: RandomUniform, RandomNormal, TruncatedNormal and Orthogonal on TensorFlow and JAX;
RandomNormal, untruncated VarianceScaling and Orthogonal with out ≥ Π(other axes) on torch (its uniform
laws agree to round-off: Keras computes (max − min)·u + min, torch's ``uniform_`` its own way); the
constants everywhere. The variance-scaling family agrees to float32 round-off (winit computes the
std as ``gain·√scale/√fan`` or ``gain·√(2·scale/(fan_in + fan_out))``, Keras as ``√(scale/fan)``).

Deliberate differences from Keras:

* On the torch backend Keras' truncated normal keeps the first of 4 candidates inside (−2σ, 2σ) and,
  when all 4 fall outside, an outside value (≈4.3·10⁻⁶ per element: 22 of 2048² with seed 0);
  winit's torch adapter truncates exactly (``torch.nn.init.trunc_normal_``): none beyond 2σ.
* On the numpy backend winit draws float32 directly, Keras float64 then casts: same law, other numbers.
* On the torch backend Orthogonal draws its Gaussian in torch's order (``torch.nn.init.orthogonal_``),
  so when out < Π(other axes) the matrix differs from Keras' for the same seed (same law).
* Seeds must be ints in [0, 2³²) (the range every Keras backend accepts), a ``SeedGenerator``, a
  serialized ``SeedGenerator`` dict, or None.
* ``input_axes`` and ``output_axes`` must be given together (Keras silently ignores one alone);
  together they make fan_in = Π shape[input_axes] and fan_out = Π shape[output_axes], as in Keras.
* ``VarianceScaling`` also takes ``mode="fan_geo_avg"`` (√(fan_in·fan_out)), a winit extension.
* Only floating dtypes: winit initializes float16, bfloat16, float32 and float64 tensors.
"""

from __future__ import annotations

import math
import random
from collections.abc import Sequence
from typing import Any, ClassVar, Final, TypeVar

import keras

from winit._api import init
from winit._registry import get as get_scheme
from winit._schemes import Scheme
from winit._validate import choice, integer, real, suggest
from winit.backends._portable import draw_options

__all__ = [
    "Constant",
    "Dirac",
    "GlorotNormal",
    "GlorotUniform",
    "HeNormal",
    "HeUniform",
    "Identity",
    "IdentityInitializer",
    "LecunNormal",
    "LecunUniform",
    "Ones",
    "Orthogonal",
    "OrthogonalInitializer",
    "RandomNormal",
    "RandomUniform",
    "TruncatedNormal",
    "VarianceScaling",
    "WinitInitializer",
    "Zeros",
    "constant",
    "dirac",
    "get",
    "glorot_normal",
    "glorot_uniform",
    "he_normal",
    "he_uniform",
    "identity",
    "lecun_normal",
    "lecun_uniform",
    "ones",
    "orthogonal",
    "random_normal",
    "random_uniform",
    "truncated_normal",
    "variance_scaling",
    "zeros",
]

_PACKAGE: Final = "winit"
#: Keras backend name -> winit adapter name.
_ADAPTERS: Final = {"tensorflow": "tensorflow", "jax": "jax", "torch": "torch", "numpy": "numpy"}
_MAX_SEED: Final = 2**32 - 1
#: Keras' TF backend reduces stateless seeds modulo int32.max − 1 so XLA gets int32 (``_cast_seed``).
_TF_SEED_MODULUS: Final = 2**31 - 2
#: Keras spells distributions its own way; "normal" is truncated there (keras VarianceScaling.__init__).
_KERAS_DISTRIBUTIONS: Final = ("truncated_normal", "untruncated_normal", "uniform")
_WINIT_DISTRIBUTION: Final = {
    "truncated_normal": "truncated_normal",
    "untruncated_normal": "normal",
    "uniform": "uniform",
}
_MODES: Final = ("fan_in", "fan_out", "fan_avg", "fan_geo_avg")


_Class = TypeVar("_Class", bound=type)


def _serializable(cls: _Class) -> _Class:
    # Registered as "winit>ClassName": the name a .keras file stores and a string initializer may use.
    registered: _Class = keras.saving.register_keras_serializable(package=_PACKAGE)(cls)
    return registered


class WinitInitializer(keras.initializers.Initializer):  # type: ignore[misc]
    """Base of every winit Keras initializer: ``__call__`` samples :meth:`scheme` through winit's adapter."""

    def scheme(self) -> Scheme:
        """The winit spec this initializer realizes."""
        raise NotImplementedError

    def _axes(self, ndim: int) -> dict[str, Any]:
        return {}

    def _seed(self, device: Any) -> Any:
        return None

    def _draw(self) -> dict[str, Any]:
        """Extra keywords for ``winit.init``: the portable generator's, when chosen."""
        return {}

    def __call__(self, shape: Sequence[int], dtype: Any = None) -> Any:
        """A backend tensor of ``shape`` and ``dtype`` (default ``keras.config.floatx()``) drawn from the law."""
        dims = tuple(int(d) for d in shape)
        dtype_name = keras.backend.standardize_dtype(dtype or keras.config.floatx())
        backend = keras.backend.backend()
        if backend not in _ADAPTERS:
            raise ValueError(
                f"winit.keras supports the Keras backends {', '.join(_ADAPTERS)}; "
                f"this process runs {backend!r}"
            )
        device = _torch_device() if backend == "torch" else None
        if math.prod(dims) == 0 or getattr(device, "type", None) == "meta":
            # Nothing to draw: an empty kernel, or Keras' shape-only tracing on torch's meta device.
            return keras.ops.zeros(dims, dtype=dtype_name)
        return init(
            self.scheme(),
            dims,
            backend=_ADAPTERS[backend],
            seed=self._seed(device),
            dtype=dtype_name,
            device=device,
            layout="keras",
            framework_bits=True,  # Keras' own bits in float16/bfloat16 too (docs/conventions.md)
            **self._axes(len(dims)),
            **self._draw(),
        )

    def __repr__(self) -> str:
        arguments = ", ".join(f"{key}={value!r}" for key, value in self.get_config().items())
        return f"{type(self).__name__}({arguments})"


class _Seeded(WinitInitializer):
    """Keras 3 seed semantics: int → fixed; None → an int drawn at construction; SeedGenerator → advances."""

    def __init__(
        self,
        seed: int | keras.random.SeedGenerator | dict[str, Any] | None = None,
        rng: str = "native",
        stream: int | str | None = None,
    ) -> None:
        self._init_seed = seed
        self._draw_options = draw_options(rng, stream, "Keras' native draw")
        self.rng = "portable" if self._draw_options else "native"
        self.stream = stream
        if isinstance(seed, dict):
            seed = keras.saving.deserialize_keras_object(seed)
        if seed is None:
            # Keras' make_default_seed: Python's `random`, so keras.utils.set_random_seed reproduces it.
            seed = random.randint(1, int(1e9))
        if isinstance(seed, keras.random.SeedGenerator):
            if self.rng == "portable":
                raise TypeError(
                    "rng='portable' takes an int seed or None (each element is a function of seed, stream "
                    "and index); a keras.random.SeedGenerator only drives rng='native'"
                )
            self.seed: int | keras.random.SeedGenerator = seed
            return
        if isinstance(seed, bool) or not isinstance(seed, int):
            raise TypeError(
                "seed must be an int in [0, 2**32 - 1], a keras.random.SeedGenerator, its config dict "
                f"or None; got {seed!r} ({type(seed).__name__})"
            )
        if not 0 <= seed <= _MAX_SEED:
            raise ValueError(
                f"seed must be in [0, 2**32 - 1] (the range every Keras backend takes), got {seed}"
            )
        self.seed = seed

    def get_config(self) -> dict[str, Any]:
        config = {"seed": keras.saving.serialize_keras_object(self._init_seed)}
        if self.rng == "portable":
            config.update(rng=self.rng, stream=self.stream)
        return config

    def _draw(self) -> dict[str, Any]:
        return dict(self._draw_options)

    def _seed(self, device: Any) -> Any:
        """The next seed in the form Keras' backend hands its own RNG (see the module docstring)."""
        if self.rng == "portable":
            return self.seed  # an int: SeedGenerators are refused at construction
        pair = self.seed.next() if isinstance(self.seed, keras.random.SeedGenerator) else None
        return _native_seed(keras.backend.backend(), self.seed if pair is None else pair, device)


def _native_seed(backend: str, seed: Any, device: Any) -> Any:
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


def _torch_device() -> Any:
    # Keras' torch backend places every tensor on its current device (cuda when present, "meta"
    # while tracing shapes); a fresh Keras tensor tells us which without private imports.
    return keras.ops.zeros(()).device


# -- constants -------------------------------------------------------------------------------
@_serializable
class Zeros(WinitInitializer):
    """Every element 0 (``keras.initializers.Zeros``)."""

    def scheme(self) -> Scheme:
        """winit ``zeros``."""
        return get_scheme("zeros")


@_serializable
class Ones(WinitInitializer):
    """Every element 1 (``keras.initializers.Ones``)."""

    def scheme(self) -> Scheme:
        """winit ``ones``."""
        return get_scheme("ones")


@_serializable
class Constant(WinitInitializer):
    """Every element ``value`` (``keras.initializers.Constant``)."""

    def __init__(self, value: float = 0.0) -> None:
        self.value = value
        self._scheme = get_scheme("constant").with_(value=value)

    def scheme(self) -> Scheme:
        """winit ``constant`` with ``value``."""
        return self._scheme

    def get_config(self) -> dict[str, Any]:
        return {"value": self.value}


@_serializable
class Identity(WinitInitializer):
    """gain·I for a 2-D shape (``keras.initializers.Identity``)."""

    def __init__(self, gain: float = 1.0) -> None:
        self.gain = gain
        self._scheme = get_scheme("identity").with_(gain=gain)

    def scheme(self) -> Scheme:
        """winit ``identity`` with ``gain``."""
        return self._scheme

    def get_config(self) -> dict[str, Any]:
        return {"gain": self.gain}


@_serializable
class Dirac(WinitInitializer):
    """gain at the kernel centre where out % (out/groups) == in, zero elsewhere; kernels (*k, in/groups, out)."""

    def __init__(self, gain: float = 1.0, groups: int = 1) -> None:
        self.gain = gain
        self.groups = groups
        self._scheme = get_scheme("dirac").with_(gain=gain, groups=groups)

    def scheme(self) -> Scheme:
        """winit ``dirac`` with ``gain`` and ``groups``."""
        return self._scheme

    def get_config(self) -> dict[str, Any]:
        return {"gain": self.gain, "groups": self.groups}


# -- fixed random laws -----------------------------------------------------------------------
@_serializable
class RandomNormal(_Seeded):
    """N(mean, stddev²), default stddev 0.05 (``keras.initializers.RandomNormal``)."""

    def __init__(
        self, mean: float = 0.0, stddev: float = 0.05, seed: Any = None, rng: str = "native",
        stream: int | str | None = None,
    ) -> None:  # fmt: skip
        self.mean = mean
        self.stddev = stddev
        self._scheme = get_scheme("random_normal").with_(mean=mean, stddev=stddev)
        super().__init__(seed, rng, stream)

    def scheme(self) -> Scheme:
        """winit ``random_normal`` with ``mean`` and ``stddev``."""
        return self._scheme

    def get_config(self) -> dict[str, Any]:
        return {**super().get_config(), "mean": self.mean, "stddev": self.stddev}


@_serializable
class RandomUniform(_Seeded):
    """U[minval, maxval), default ±0.05 (``keras.initializers.RandomUniform``)."""

    def __init__(
        self, minval: float = -0.05, maxval: float = 0.05, seed: Any = None, rng: str = "native",
        stream: int | str | None = None,
    ) -> None:  # fmt: skip
        self.minval = minval
        self.maxval = maxval
        self._scheme = get_scheme("random_uniform").with_(minval=minval, maxval=maxval)
        super().__init__(seed, rng, stream)

    def scheme(self) -> Scheme:
        """winit ``random_uniform`` with ``minval`` and ``maxval``."""
        return self._scheme

    def get_config(self) -> dict[str, Any]:
        return {**super().get_config(), "minval": self.minval, "maxval": self.maxval}


@_serializable
class TruncatedNormal(_Seeded):
    """N(mean, stddev²) cut at mean ± 2·stddev, stddev the parent σ (``keras.initializers.TruncatedNormal``)."""

    def __init__(
        self, mean: float = 0.0, stddev: float = 0.05, seed: Any = None, rng: str = "native",
        stream: int | str | None = None,
    ) -> None:  # fmt: skip
        self.mean = mean
        self.stddev = stddev
        self._scheme = get_scheme("truncated_normal").with_(mean=mean, stddev=stddev)
        super().__init__(seed, rng, stream)

    def scheme(self) -> Scheme:
        """winit ``truncated_normal`` with ``mean`` and ``stddev`` (window ±2σ)."""
        return self._scheme

    def get_config(self) -> dict[str, Any]:
        return {**super().get_config(), "mean": self.mean, "stddev": self.stddev}


# -- variance scaling ------------------------------------------------------------------------
@_serializable
class VarianceScaling(_Seeded):
    """std = √(scale/fan(mode)); truncated normal (σ = std/0.8796…), untruncated normal, or U(±√3·std)."""

    def __init__(
        self,
        scale: float = 1.0,
        mode: str = "fan_in",
        distribution: str = "truncated_normal",
        seed: Any = None,
        input_axes: Sequence[int] | None = None,
        output_axes: Sequence[int] | None = None,
        rng: str = "native",
        stream: int | str | None = None,
    ) -> None:
        scale = real("scale", scale, positive=True)
        mode = choice("mode", mode, _MODES)
        if not isinstance(distribution, str):
            raise TypeError(
                f"distribution must be a string, one of {list(_KERAS_DISTRIBUTIONS)}; got {distribution!r}"
            )
        distribution = distribution.lower()
        if distribution == "normal":  # as Keras: "normal" means the truncated normal
            distribution = "truncated_normal"
        distribution = choice("distribution", distribution, _KERAS_DISTRIBUTIONS)
        if (input_axes is None) != (output_axes is None):
            raise ValueError(
                "input_axes and output_axes must be given together (Keras ignores one alone); "
                f"got input_axes={input_axes!r}, output_axes={output_axes!r}"
            )
        self.scale = scale
        self.mode = mode
        self.distribution = distribution
        self.input_axes = None if input_axes is None else [integer("input_axes", a) for a in input_axes]
        self.output_axes = None if output_axes is None else [integer("output_axes", a) for a in output_axes]
        self._scheme = get_scheme("variance_scaling").with_(
            scale=scale, mode=mode, distribution=_WINIT_DISTRIBUTION[distribution]
        )
        super().__init__(seed, rng, stream)

    def scheme(self) -> Scheme:
        """winit ``variance_scaling`` with ``scale``, ``mode`` and the distribution in winit's spelling."""
        return self._scheme

    def _axes(self, ndim: int) -> dict[str, Any]:
        if self.input_axes is None or self.output_axes is None:
            return {}
        # Keras multiplies only the named axes; winit counts unnamed axes as receptive field unless
        # they are batch axes, so every other axis is declared one.
        named = {a % ndim for a in (*self.input_axes, *self.output_axes) if -ndim <= a < ndim}
        rest = tuple(a for a in range(ndim) if a not in named)
        return {"in_axis": tuple(self.input_axes), "out_axis": tuple(self.output_axes), "batch_axis": rest}

    def get_config(self) -> dict[str, Any]:
        return {
            **super().get_config(),
            "scale": self.scale,
            "mode": self.mode,
            "distribution": self.distribution,
            "input_axes": self.input_axes,
            "output_axes": self.output_axes,
        }


class _NamedVarianceScaling(VarianceScaling):
    """A Keras preset of VarianceScaling: only ``seed``, ``input_axes`` and ``output_axes`` are free."""

    preset: ClassVar[tuple[float, str, str]]

    def __init__(
        self,
        seed: Any = None,
        input_axes: Sequence[int] | None = None,
        output_axes: Sequence[int] | None = None,
        rng: str = "native",
        stream: int | str | None = None,
    ) -> None:
        scale, mode, distribution = self.preset
        super().__init__(scale, mode, distribution, seed, input_axes, output_axes, rng, stream)

    def get_config(self) -> dict[str, Any]:
        config = super().get_config()
        kept = ("seed", "input_axes", "output_axes", "rng", "stream")  # rng, stream: portable only
        return {key: config[key] for key in kept if key in config}


@_serializable
class GlorotUniform(_NamedVarianceScaling):
    """U(±√(6/(fan_in + fan_out))) (``keras.initializers.GlorotUniform``)."""

    preset = (1.0, "fan_avg", "uniform")


@_serializable
class GlorotNormal(_NamedVarianceScaling):
    """Truncated normal with std √(2/(fan_in + fan_out)), σ = std/0.8796… (``keras.initializers.GlorotNormal``)."""

    preset = (1.0, "fan_avg", "truncated_normal")


@_serializable
class HeUniform(_NamedVarianceScaling):
    """U(±√(6/fan_in)) (``keras.initializers.HeUniform``)."""

    preset = (2.0, "fan_in", "uniform")


@_serializable
class HeNormal(_NamedVarianceScaling):
    """Truncated normal with std √(2/fan_in), σ = std/0.8796… (``keras.initializers.HeNormal``)."""

    preset = (2.0, "fan_in", "truncated_normal")


@_serializable
class LecunUniform(_NamedVarianceScaling):
    """U(±√(3/fan_in)) (``keras.initializers.LecunUniform``)."""

    preset = (1.0, "fan_in", "uniform")


@_serializable
class LecunNormal(_NamedVarianceScaling):
    """Truncated normal with std √(1/fan_in), σ = std/0.8796… (``keras.initializers.LecunNormal``)."""

    preset = (1.0, "fan_in", "truncated_normal")


# -- orthogonal ------------------------------------------------------------------------------
@_serializable
class Orthogonal(_Seeded):
    """gain·Q, Q Haar orthogonal over the (Π shape[:-1], shape[-1]) flattening (``keras.initializers.Orthogonal``)."""

    def __init__(
        self, gain: float = 1.0, seed: Any = None, rng: str = "native", stream: int | str | None = None
    ) -> None:
        self.gain = gain
        self._scheme = get_scheme("orthogonal").with_(gain=gain)
        super().__init__(seed, rng, stream)

    def scheme(self) -> Scheme:
        """winit ``orthogonal`` with ``gain`` (the Keras layout makes the last axis the out axis)."""
        return self._scheme

    def get_config(self) -> dict[str, Any]:
        return {**super().get_config(), "gain": self.gain}


IdentityInitializer = Identity
OrthogonalInitializer = Orthogonal
# keras.initializers also exports every class under its snake_case name
constant, dirac, identity, ones, zeros = Constant, Dirac, Identity, Ones, Zeros
random_normal, random_uniform, truncated_normal = RandomNormal, RandomUniform, TruncatedNormal
variance_scaling, glorot_normal, glorot_uniform = VarianceScaling, GlorotNormal, GlorotUniform
he_normal, he_uniform, lecun_normal, lecun_uniform = HeNormal, HeUniform, LecunNormal, LecunUniform
orthogonal = Orthogonal

_CLASSES: Final[tuple[type[WinitInitializer], ...]] = (
    Zeros, Ones, Constant, Identity, Dirac, RandomNormal, RandomUniform, TruncatedNormal, VarianceScaling,
    GlorotUniform, GlorotNormal, HeUniform, HeNormal, LecunUniform, LecunNormal, Orthogonal,
)  # fmt: skip


def _snake(name: str) -> str:
    return "".join(f"_{c.lower()}" if c.isupper() and i else c.lower() for i, c in enumerate(name))


#: every name ``get`` accepts: class names, their snake_case, "winit>Class", and Keras' aliases.
_NAMES: Final[dict[str, type[WinitInitializer]]] = {
    **{cls.__name__: cls for cls in _CLASSES},
    **{_snake(cls.__name__): cls for cls in _CLASSES},
    **{f"{_PACKAGE}>{cls.__name__}": cls for cls in _CLASSES},
    "IdentityInitializer": Identity,
    "OrthogonalInitializer": Orthogonal,
    "normal": RandomNormal,
    "uniform": RandomUniform,
    "zero": Zeros,
    "one": Ones,
}


def get(identifier: Any) -> WinitInitializer | None:
    """The winit initializer named by ``identifier``: a name, a ``get_config``/serialized dict, a class or an instance.

    Names are the class names (``"HeNormal"``), their snake_case (``"he_normal"``), the registered
    ``"winit>HeNormal"`` and Keras' aliases; a dict is ``{"class_name": ..., "config": {...}}`` as
    ``keras.saving.serialize_keras_object`` writes it. None gives None, as ``keras.initializers.get``.
    """
    if identifier is None or isinstance(identifier, WinitInitializer):
        return identifier
    if isinstance(identifier, type) and issubclass(identifier, WinitInitializer):
        return identifier()
    if isinstance(identifier, str):
        return _lookup(identifier)()
    if isinstance(identifier, dict):
        name = identifier.get("registered_name") or identifier.get("class_name")
        if not isinstance(name, str):
            raise ValueError(f"an initializer config needs a 'class_name' string, got {identifier!r}")
        config = identifier.get("config") or {}
        if not isinstance(config, dict):
            raise TypeError(f"the 'config' of an initializer must be a dict, got {config!r}")
        instance: WinitInitializer = _lookup(name).from_config(config)
        return instance
    raise TypeError(
        "identifier must be a name, a config dict, a winit.keras initializer class or instance, or None; "
        f"got {identifier!r} ({type(identifier).__name__})"
    )


def _lookup(name: str) -> type[WinitInitializer]:
    if name not in _NAMES:
        names = sorted(cls.__name__ for cls in _CLASSES)
        raise ValueError(
            f"unknown winit.keras initializer {name!r}; known: {', '.join(names)} (also snake_case and "
            f"'winit>Name').{suggest(name, _NAMES)}"
        )
    return _NAMES[name]
