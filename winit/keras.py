"""Keras 3 initializers drawn by winit: drop-in replacements for ``keras.initializers``.

Every class subclasses ``keras.initializers.Initializer``, is registered with
``keras.saving.register_keras_serializable(package="winit")`` (so a ``.keras`` file names it
``"winit>HeNormal"`` and a fresh process restores it, and ``kernel_initializer="winit>HeNormal"``
resolves as a string once ``winit.keras`` is imported), and realizes the law Keras gives the same
name. Import ``winit.keras`` before ``keras.saving.load_model``: Keras does not import it for you; it
then refuses a model using ``Dirac``, a portable initializer or ``mode="fan_geo_avg"`` (with its own
error, which cannot name the import) and silently swaps the others for its own class of the same name
(same law, Keras' sampler). The variance family subclasses ``keras.initializers.VarianceScaling``, so
``EinsumDense`` (and ``MultiHeadAttention``) clone it with the einsum's ``input_axes``/``output_axes``.
The law comes from winit's spec layer and the numbers from winit's adapter for the running Keras
backend (``winit.backends``: tensorflow, jax, torch, numpy); nothing here computes a fan, a std or a
sample itself. Fans follow the Keras layout ``(*kernel, in, out)``.

What each class means, the seed rules (int, None, ``SeedGenerator``, ``rng="portable"``), where the
values equal Keras' bit for bit and the deliberate differences from Keras: ``docs/keras.md``.
"""

from __future__ import annotations

import math
import random
from collections.abc import Sequence
from typing import Any, ClassVar, Final, TypeVar

try:
    import keras
except ImportError as error:  # pragma: no cover - depends on the environment
    raise ImportError("winit.keras needs Keras 3: pip install 'winit[keras]'") from error

from winit import _keras_backend as _kb
from winit._api import init
from winit._keras_model import init_
from winit._registry import get as get_scheme
from winit._schemes import Scheme
from winit._validate import choice, integer, real, shape_tuple, suggest
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
    "ZerO",
    "Zeros",
    "constant",
    "dirac",
    "get",
    "glorot_normal",
    "glorot_uniform",
    "he_normal",
    "he_uniform",
    "identity",
    "init_",
    "lecun_normal",
    "lecun_uniform",
    "ones",
    "orthogonal",
    "random_normal",
    "random_uniform",
    "truncated_normal",
    "variance_scaling",
    "zer_o",
    "zeros",
]

_PACKAGE: Final = "winit"
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

    def _scheme_for(self, dims: tuple[int, ...]) -> Scheme:
        return self.scheme()

    def _axes(self, ndim: int) -> dict[str, Any]:
        return {}

    def _seed(self, device: Any) -> Any:
        return None

    def _draw(self) -> dict[str, Any]:
        """Extra keywords for ``winit.init``: the portable generator's, when chosen."""
        return {}

    def __call__(self, shape: Sequence[int], dtype: Any = None) -> Any:
        """A backend tensor of ``shape`` and ``dtype`` (default ``keras.config.floatx()``) drawn from the law."""
        dims = shape_tuple(shape)  # TypeError naming a float, bool or str dim, as Keras refuses them
        adapter = _kb.adapter_name()
        dtype_name = _kb.resolve_dtype(dtype)
        device = _kb.torch_device() if adapter == "torch" else None
        if math.prod(dims) == 0 or getattr(device, "type", None) == "meta":
            # Nothing to draw: an empty kernel, or Keras' shape-only tracing on torch's meta device.
            return keras.ops.zeros(dims, dtype=dtype_name)
        if not _kb.is_float(dtype_name):
            return self._non_float(dims, dtype_name)
        return init(
            self._scheme_for(dims),
            dims,
            backend=adapter,
            seed=self._seed(device),
            dtype=dtype_name,
            device=device,
            layout="keras",
            framework_bits=True,  # Keras' own bits in float16/bfloat16 too (docs/conventions.md)
            **self._axes(len(dims)),
            **self._draw(),
        )

    def _non_float(self, dims: tuple[int, ...], dtype_name: str) -> Any:
        """An int, bool or complex tensor: only the constants take one (as in Keras); the others refuse."""
        raise TypeError(
            f"{type(self).__name__} draws floating-point tensors (float16, bfloat16, float32, float64); "
            f"got dtype {dtype_name!r}"
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
        if not 0 <= seed <= _kb.MAX_SEED:
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
        return _kb.native_seed(keras.backend.backend(), self.seed if pair is None else pair, device)


# -- constants -------------------------------------------------------------------------------
class _Fill(WinitInitializer):
    """A constant law, which Keras also gives int, bool and complex dtypes (``add_weight(dtype="int64")``)."""

    def _fill(self) -> float:
        return 0.0

    def _non_float(self, dims: tuple[int, ...], dtype_name: str) -> Any:
        return _kb.keras_constant(dims, self._fill(), dtype_name)


@_serializable
class Zeros(_Fill):
    """Every element 0 (``keras.initializers.Zeros``)."""

    def scheme(self) -> Scheme:
        """winit ``zeros``."""
        return get_scheme("zeros")


@_serializable
class Ones(_Fill):
    """Every element 1 (``keras.initializers.Ones``)."""

    def _fill(self) -> float:
        return 1.0

    def scheme(self) -> Scheme:
        """winit ``ones``."""
        return get_scheme("ones")


@_serializable
class Constant(_Fill):
    """Every element ``value`` (``keras.initializers.Constant``)."""

    def __init__(self, value: float = 0.0) -> None:
        self.value = value
        self._scheme = get_scheme("constant").with_(value=value)

    def scheme(self) -> Scheme:
        """winit ``constant`` with ``value``."""
        return self._scheme

    def _fill(self) -> float:
        return self.value

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
class ZerO(Identity):
    """ZerO (Zhao et al. 2022): gain·partial identity if out ≤ in, else gain·c·Hadamard; kernels at the centre tap."""

    def __init__(self, gain: float = 1.0) -> None:
        self.gain = gain
        self._scheme = get_scheme("zer_o").with_(gain=gain)

    def _scheme_for(self, dims: tuple[int, ...]) -> Scheme:
        if _kb.building_depthwise_kernel():  # (*k, in, multiplier) is not an (in, out) matrix per tap
            raise ValueError(f"ZerO on a depthwise kernel {dims} is not defined; use Dirac() there")
        return self._scheme


@_serializable
class Dirac(WinitInitializer):
    """gain at the kernel centre where out % (out/groups) == in, zero elsewhere; kernels (*k, in/groups, out)."""

    def __init__(self, gain: float = 1.0, groups: int = 1) -> None:
        self.gain = gain
        self.groups = groups
        self._scheme = get_scheme("dirac").with_(gain=gain, groups=groups)
        self._depthwise = False

    def scheme(self) -> Scheme:
        """winit ``dirac`` with ``gain`` and ``groups``."""
        return self._scheme

    def _scheme_for(self, dims: tuple[int, ...]) -> Scheme:
        self._depthwise = _kb.building_depthwise_kernel()
        if not self._depthwise:
            return self._scheme
        if self.groups != 1:
            raise ValueError(
                f"Dirac(groups={self.groups}) on a depthwise kernel {dims}: a depthwise convolution is "
                "already grouped per input channel; use Dirac() (groups=1)"
            )
        # (*k, in, multiplier): input channel c feeds outputs (c, m); gain where m == 0 gives x_c back
        # on output (c, 0), torch's dirac_(groups=in) on its (in·multiplier, 1, *k) layout.
        return self._scheme.with_(groups=dims[-2])

    def _axes(self, ndim: int) -> dict[str, Any]:
        return {"in_axis": -1, "out_axis": -2} if self._depthwise else {}

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
class VarianceScaling(_Seeded, keras.initializers.VarianceScaling):  # type: ignore[misc]
    """std = √(scale/fan(mode)); truncated normal (σ = std/0.8796…), untruncated normal, or U(±√3·std).

    A ``keras.initializers.VarianceScaling`` too, so that Keras layers that hand fan axes only to
    those (``EinsumDense``, hence ``MultiHeadAttention``) hand them to winit's: ``EinsumDense.build``
    clones it with the einsum's ``input_axes``/``output_axes``. Sampling is winit's (``__call__``).
    """

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
constant, dirac, identity, ones, zeros, zer_o = Constant, Dirac, Identity, Ones, Zeros, ZerO
random_normal, random_uniform, truncated_normal = RandomNormal, RandomUniform, TruncatedNormal
variance_scaling, glorot_normal, glorot_uniform = VarianceScaling, GlorotNormal, GlorotUniform
he_normal, he_uniform, lecun_normal, lecun_uniform = HeNormal, HeUniform, LecunNormal, LecunUniform
orthogonal = Orthogonal

_CLASSES: Final[tuple[type[WinitInitializer], ...]] = (
    Zeros, Ones, Constant, Identity, Dirac, RandomNormal, RandomUniform, TruncatedNormal, VarianceScaling,
    GlorotUniform, GlorotNormal, HeUniform, HeNormal, LecunUniform, LecunNormal, Orthogonal, ZerO,
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
