"""Keras 3 initializers drawn by winit: drop-in ``keras.initializers`` classes, and any winit scheme.

Each class is registered as ``"winit>ClassName"``; import ``winit.keras`` before
``keras.saving.load_model``. What each class means, the seed rules and the differences from Keras:
``docs/keras.md``.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, ClassVar, Final

try:
    import keras
except ImportError as error:  # pragma: no cover - depends on the environment
    raise ImportError("winit.keras needs Keras 3: pip install 'winit[keras]'") from error

from winit import _keras_backend as _kb
from winit._keras_base import (
    _PACKAGE,
    SchemeInitializer,
    VarianceSchemeInitializer,
    WinitInitializer,
    _EinsumAxes,
    _Seeded,
    _serializable,
)  # fmt: skip
from winit._keras_model import init_
from winit._registry import get as get_scheme
from winit._schemes import Scheme
from winit._validate import choice, real, suggest

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
    "SchemeInitializer",
    "TruncatedNormal",
    "VarianceScaling",
    "VarianceSchemeInitializer",
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
    "initializer",
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

#: Keras spells distributions its own way; "normal" is truncated there (keras VarianceScaling.__init__).
_KERAS_DISTRIBUTIONS: Final = ("truncated_normal", "untruncated_normal", "uniform")
_WINIT_DISTRIBUTION: Final = {
    "truncated_normal": "truncated_normal",
    "untruncated_normal": "normal",
    "uniform": "uniform",
}
_MODES: Final = ("fan_in", "fan_out", "fan_avg", "fan_geo_avg")


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
    """gain at the kernel centre where out % (out/groups) == in, zero elsewhere; kernels (*k, in/groups, out).

    Example:
        >>> import keras, numpy as np, winit.keras as wk
        >>> conv = keras.layers.Conv2D(4, 3, padding="same", kernel_initializer=wk.Dirac())
        >>> x = np.random.default_rng(0).standard_normal((1, 5, 5, 4)).astype("float32")
        >>> bool(np.allclose(keras.ops.convert_to_numpy(conv(x)), x, atol=1e-6))
        True

    References:
        Zagoruyko & Komodakis 2017, "DiracNets: Training Very Deep Neural Networks Without Skip-Connections".
    """

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
class VarianceScaling(_EinsumAxes, _Seeded, keras.initializers.VarianceScaling):  # type: ignore[misc]
    """std = √(scale/fan(mode)); truncated normal (σ = std/0.8796…), untruncated normal, or U(±√3·std).

    Example:
        >>> import keras, winit.keras as wk
        >>> w = wk.VarianceScaling(2.0, "fan_out", "untruncated_normal", seed=0)((256, 128))
        >>> round(float(keras.ops.convert_to_numpy(w).std()) / (2 / 128) ** 0.5, 1)
        1.0

    A ``keras.initializers.VarianceScaling`` too, so ``EinsumDense`` gives it its einsum's fan axes.
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
        self._set_axes(input_axes, output_axes)
        self.scale = scale
        self.mode = mode
        self.distribution = distribution
        self._scheme = get_scheme("variance_scaling").with_(
            scale=scale, mode=mode, distribution=_WINIT_DISTRIBUTION[distribution]
        )
        super().__init__(seed, rng, stream)

    def scheme(self) -> Scheme:
        """winit ``variance_scaling`` with ``scale``, ``mode`` and the distribution in winit's spelling."""
        return self._scheme

    def get_config(self) -> dict[str, Any]:
        return {
            **super().get_config(),
            "scale": self.scale,
            "mode": self.mode,
            "distribution": self.distribution,
            **self._axes_config(),
        }


_GLOROT: Final = (
    'Glorot & Bengio 2010, "Understanding the difficulty of training deep feedforward neural networks".'
)
_HE: Final = (
    'He et al. 2015, "Delving Deep into Rectifiers: Surpassing Human-Level Performance on ImageNet ..."'
)
_LECUN: Final = 'LeCun, Bottou, Orr & Müller 1998, "Efficient BackProp".'


class _NamedVarianceScaling(VarianceScaling):
    """A Keras preset of VarianceScaling: only ``seed``, ``input_axes`` and ``output_axes`` are free."""

    preset: ClassVar[tuple[float, str, str]]
    reference: ClassVar[str]

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        # Every preset's example and citation, from its preset: std/(√(scale/fan)) on a (256, 128) kernel.
        scale, mode, _ = cls.preset
        fan = {"fan_in": "256", "fan_avg": "(256 + 128) / 2"}[mode]
        cls.__doc__ = f"""{cls.__doc__}

    Args:
        seed: an int, None (one drawn at construction) or a ``keras.random.SeedGenerator``, as in Keras.
        input_axes, output_axes: Keras' fan axes (``EinsumDense`` sets them); None: the Keras layout.
        rng, stream: ``rng="portable"`` draws winit's Philox for the int ``seed`` and ``stream``.

    Example:
        >>> import keras, winit.keras as wk
        >>> w = keras.ops.convert_to_numpy(wk.{cls.__name__}(seed=0)((256, 128)))
        >>> w.shape, round(float(w.std()) / ({scale} / ({fan})) ** 0.5, 1)
        ((256, 128), 1.0)

    References:
        {cls.reference}
    """

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
    reference = _GLOROT


@_serializable
class GlorotNormal(_NamedVarianceScaling):
    """Truncated normal with std √(2/(fan_in + fan_out)), σ = std/0.8796… (``keras.initializers.GlorotNormal``)."""

    preset = (1.0, "fan_avg", "truncated_normal")
    reference = _GLOROT


@_serializable
class HeUniform(_NamedVarianceScaling):
    """U(±√(6/fan_in)) (``keras.initializers.HeUniform``)."""

    preset = (2.0, "fan_in", "uniform")
    reference = _HE


@_serializable
class HeNormal(_NamedVarianceScaling):
    """Truncated normal with std √(2/fan_in), σ = std/0.8796… (``keras.initializers.HeNormal``)."""

    preset = (2.0, "fan_in", "truncated_normal")
    reference = _HE


@_serializable
class LecunUniform(_NamedVarianceScaling):
    """U(±√(3/fan_in)) (``keras.initializers.LecunUniform``)."""

    preset = (1.0, "fan_in", "uniform")
    reference = _LECUN


@_serializable
class LecunNormal(_NamedVarianceScaling):
    """Truncated normal with std √(1/fan_in), σ = std/0.8796… (``keras.initializers.LecunNormal``)."""

    preset = (1.0, "fan_in", "truncated_normal")
    reference = _LECUN


# -- orthogonal ------------------------------------------------------------------------------
@_serializable
class Orthogonal(_Seeded):
    """gain·Q, Q Haar orthogonal over the (Π shape[:-1], shape[-1]) flattening (``keras.initializers.Orthogonal``).

    Example:
        >>> import keras, numpy as np, winit.keras as wk
        >>> w = keras.ops.convert_to_numpy(wk.Orthogonal(seed=0)((64, 32)))
        >>> bool(np.allclose(w.T @ w, np.eye(32), atol=1e-5))
        True

    References:
        Saxe, McClelland & Ganguli 2014, "Exact solutions to the nonlinear dynamics of learning in deep
        linear neural networks", ICLR.
    """

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


def initializer(
    scheme: str, seed: Any = None, *, rng: str = "native", stream: int | str | None = None, **params: Any
) -> SchemeInitializer:
    """A serializable Keras initializer drawing winit ``scheme`` (any of ``winit.schemes()``) with ``params``.

    Mirrors :func:`winit.flax.initializer`: winit's own definition of the scheme (``he_normal`` is
    torch's untruncated law, ``wk.HeNormal`` Keras' truncated one), fans in the Keras layout. ``seed``
    follows Keras (int, None, ``SeedGenerator``); ``rng="portable"`` draws winit's Philox for
    (``seed``, ``stream``). A fan-based scheme is a ``keras.initializers.VarianceScaling``, so
    ``EinsumDense`` and ``MultiHeadAttention`` give it their einsum's fan axes.

    Args:
        scheme: a name from ``winit.schemes()`` (aliases too); unknown names and parameters raise an error
            naming the accepted ones.
        seed: an int, None (one drawn at construction) or a ``keras.random.SeedGenerator``.
        rng, stream: ``rng="portable"`` draws winit's Philox for the int ``seed`` and ``stream``.
        params: the scheme's parameters to change (``winit.get(scheme).parameters``).

    Example:
        >>> import keras, winit.keras as wk
        >>> init = wk.initializer("he_normal", seed=0, mode="fan_out")
        >>> keras.saving.serialize_keras_object(init)["config"]["scheme"]
        'he_normal'
        >>> w = keras.ops.convert_to_numpy(init((256, 128)))  # Keras layout (in, out): fan_out 128
        >>> round(float(w.std()) / (2 / 128) ** 0.5, 1)
        1.0
    """
    spec = get_scheme(scheme) if isinstance(scheme, str) else None
    cls = VarianceSchemeInitializer if spec is not None and spec.mode is not None else SchemeInitializer
    return cls(scheme, seed, rng=rng, stream=stream, **params)


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
    # config names only: these need a scheme, so they come from a config dict, not a bare name
    **{
        f"{p}{cls.__name__}": cls
        for cls in (SchemeInitializer, VarianceSchemeInitializer)
        for p in ("", "winit>")
    },
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
