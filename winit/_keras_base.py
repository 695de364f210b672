"""Bases of winit's Keras initializers (sampling through winit, Keras' seeds, einsum fan axes), and any scheme."""

from __future__ import annotations

import math
import random
from collections.abc import Sequence
from typing import Any, Final, TypeVar

import keras

from winit import _keras_backend as _kb
from winit._api import init
from winit._registry import get as get_scheme
from winit._schemes import Scheme
from winit._validate import integer, shape_tuple
from winit.backends._portable import draw_options

_PACKAGE: Final = "winit"

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
        """The next seed in the form Keras' backend hands its own RNG (docs/keras.md)."""
        if self.rng == "portable":
            return self.seed  # an int: SeedGenerators are refused at construction
        pair = self.seed.next() if isinstance(self.seed, keras.random.SeedGenerator) else None
        return _kb.native_seed(keras.backend.backend(), self.seed if pair is None else pair, device)


class _EinsumAxes:
    """Keras' ``input_axes``/``output_axes`` as winit's fan axes (first base of a variance initializer).

    Such a class is a ``keras.initializers.VarianceScaling`` too (last base): ``EinsumDense.build``, hence
    ``MultiHeadAttention``, hands fan axes only to those, by cloning the initializer through
    ``from_config`` with the einsum's ``input_axes``/``output_axes``.
    """

    input_axes: list[int] | None
    output_axes: list[int] | None

    def _set_axes(self, input_axes: Sequence[int] | None, output_axes: Sequence[int] | None) -> None:
        if (input_axes is None) != (output_axes is None):
            raise ValueError(
                "input_axes and output_axes must be given together (Keras ignores one alone); "
                f"got input_axes={input_axes!r}, output_axes={output_axes!r}"
            )
        self.input_axes = None if input_axes is None else [integer("input_axes", a) for a in input_axes]
        self.output_axes = None if output_axes is None else [integer("output_axes", a) for a in output_axes]

    def _axes(self, ndim: int) -> dict[str, Any]:
        if self.input_axes is None or self.output_axes is None:
            return {}
        # Keras multiplies only the named axes; winit counts unnamed axes as receptive field unless
        # they are batch axes, so every other axis is declared one.
        named = {a % ndim for a in (*self.input_axes, *self.output_axes) if -ndim <= a < ndim}
        rest = tuple(a for a in range(ndim) if a not in named)
        return {"in_axis": tuple(self.input_axes), "out_axis": tuple(self.output_axes), "batch_axis": rest}

    def _axes_config(self) -> dict[str, Any]:
        return {"input_axes": self.input_axes, "output_axes": self.output_axes}


# -- any winit scheme -------------------------------------------------------------------------
#: laws that draw nothing: their initializers take no seed (None draws none, as Keras' Zeros).
_KEYLESS: Final = ("constant", "identity", "dirac")


@_serializable
class SchemeInitializer(_Seeded):
    """winit ``scheme`` with ``params`` changed, in the Keras layout; what :func:`initializer` builds."""

    __module__ = "winit.keras"  # its public home, as a .keras file records it

    def __init__(
        self, scheme: str, seed: Any = None, rng: str = "native", stream: int | str | None = None,
        **params: Any,
    ) -> None:  # fmt: skip
        if not isinstance(scheme, str):
            raise TypeError(
                f"scheme must be a registry name (winit.schemes()), got {scheme!r}: a Keras config "
                "stores the name, so a winit.Scheme object cannot be saved; pass its name and params"
            )
        spec = get_scheme(scheme)
        self.scheme_name = spec.name
        self.params = params
        self._scheme = spec.with_(**params) if params else spec
        keyless = self._scheme.distribution in _KEYLESS
        super().__init__(0 if keyless and seed is None else seed, rng, stream)
        self._init_seed = seed

    def scheme(self) -> Scheme:
        """The winit scheme, with ``params`` changed."""
        return self._scheme

    def _non_float(self, dims: tuple[int, ...], dtype_name: str) -> Any:
        if self._scheme.distribution == "constant":  # as Keras' Zeros/Ones/Constant: any dtype
            return _kb.keras_constant(dims, self._scheme.value, dtype_name)
        return super()._non_float(dims, dtype_name)

    def get_config(self) -> dict[str, Any]:
        return {"scheme": self.scheme_name, **self.params, **super().get_config()}


@_serializable
class VarianceSchemeInitializer(_EinsumAxes, SchemeInitializer, keras.initializers.VarianceScaling):  # type: ignore[misc]
    """A fan-based winit scheme (he_*, glorot_*, lecun_*, variance_scaling): fans follow ``EinsumDense``'s axes."""

    __module__ = "winit.keras"

    def __init__(
        self, scheme: str, seed: Any = None, input_axes: Sequence[int] | None = None,
        output_axes: Sequence[int] | None = None, rng: str = "native", stream: int | str | None = None,
        **params: Any,
    ) -> None:  # fmt: skip
        self._set_axes(input_axes, output_axes)
        super().__init__(scheme, seed, rng, stream, **params)

    def get_config(self) -> dict[str, Any]:
        return {**super().get_config(), **self._axes_config()}
