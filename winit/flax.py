"""Flax/JAX front door: ``jax.nn.initializers``-style builders whose ``init(key, shape, dtype)`` winit draws.

Each builder has the name and arguments of its ``jax.nn.initializers`` namesake and realizes the law JAX
gives that name (so ``he_normal`` is JAX's truncated normal with the 0.8796 correction, not PyTorch's
untruncated one), resolved by winit's spec layer in the flax layout (*kernel, in, out) and sampled by the
JAX adapter; for the same key the values equal JAX's bit for bit. :func:`initializer` gives the same
for any winit scheme under winit's own definition. Every ``init`` is pure ``jax.random``/``jax.numpy``
work on static shapes, so it traces under ``jax.jit`` and ``jax.eval_shape``::

    flax.linen.Dense(64, kernel_init=winit.flax.he_normal())
    flax.nnx.Linear(8, 64, kernel_init=winit.flax.initializer("he_normal", mode="fan_out"), rngs=rngs)

``initializer(..., rng="portable", stream=...)`` draws winit's counter-based Philox instead: the key's
two words are the Philox key (``jax.random.key(seed)`` gives the words of ``seed`` below 2³²; with
64-bit mode off it drops the high word, so ``key(2**32 + 5)`` is ``key(5)``), ``stream`` a name
or int id, and the values equal ``winit.init(..., seed=seed, rng="portable", stream=stream,
layout="flax")`` on every backend (uniform laws bit for bit); it traces under ``jax.jit`` too. The
builders named after ``jax.nn.initializers`` take JAX's parameters in JAX's order with JAX's defaults
(drop-in), and the random ones add keyword-only ``rng="native"`` and ``stream=None`` after them, so
``he_normal(rng="portable", stream="w")`` is ``initializer("variance_scaling", scale=2.0,
mode="fan_in", distribution="truncated_normal", rng="portable", stream="w")``.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any, Protocol

try:
    import jax
    import jax.numpy as jnp
except ImportError as error:  # pragma: no cover - depends on the environment
    raise ImportError("winit.flax needs JAX: pip install 'winit[flax]'") from error

from winit import _flax_jax as _jx
from winit._fans import AxisSpec, _axes, fans
from winit._flax_model import init_, init_params
from winit._laws import Constant, Dirac, Identity, ZerO
from winit._mup import lr_multipliers
from winit._registry import get
from winit._schemes import Scheme
from winit._validate import choice, integer, real, shape_tuple
from winit.backends._common import FLOAT_DTYPES, dtype_name, realize
from winit.backends._portable import draw_options
from winit.backends.jax import ADAPTER

__all__ = [
    "Initializer",
    "constant",
    "delta_orthogonal",
    "dirac",
    "eye",
    "glorot_normal",
    "glorot_uniform",
    "he_normal",
    "he_uniform",
    "identity",
    "init_",
    "init_params",
    "initializer",
    "kaiming_normal",
    "kaiming_uniform",
    "lecun_normal",
    "lecun_uniform",
    "lr_multipliers",
    "normal",
    "ones",
    "ones_init",
    "orthogonal",
    "truncated_normal",
    "uniform",
    "variance_scaling",
    "xavier_normal",
    "xavier_uniform",
    "zer_o",
    "zeros",
    "zeros_init",
]

#: the flax layout's default in/out axes, i.e. jax.nn.initializers' in_axis=-2, out_axis=-1.
_IN_AXIS, _OUT_AXIS = -2, -1
#: laws that draw no random numbers, so a missing key is harmless (jax's zeros/ones/constant ignore it).
_KEYLESS = (Constant, Identity, Dirac, ZerO)


class Initializer(Protocol):
    """``init(key, shape, dtype=<builder's dtype>, out_sharding=None) -> jax.Array``, as jax.nn.initializers."""

    def __call__(
        self, key: Any, shape: Sequence[int], dtype: Any = ..., out_sharding: Any = None
    ) -> jax.Array: ...


def _float_dtype(dtype: Any, complex_ok: bool = False) -> Any:
    """``dtype`` as a floating (or, if ``complex_ok``, complex) JAX dtype; None is JAX's default float."""
    if dtype is None:
        return jax.dtypes.canonicalize_dtype(float)
    accepted = ", ".join((*FLOAT_DTYPES, *(("complex64", "complex128") if complex_ok else ())))
    try:
        canonical = jnp.dtype(dtype)
    except TypeError as error:
        raise TypeError(
            f"dtype {dtype!r} is not a floating-point dtype; winit.flax initializes {accepted}"
        ) from error
    if complex_ok and _jx.is_complex(canonical):
        if canonical != jax.dtypes.canonicalize_dtype(canonical):
            raise TypeError(
                "JAX gives complex128 only with 64-bit mode on: set JAX_ENABLE_X64=1 or "
                "jax.config.update('jax_enable_x64', True) (winit will not hand back complex64 instead)"
            )
        return canonical
    try:
        dtype_name(canonical)
    except TypeError as error:
        raise TypeError(
            f"dtype {dtype!r} is not a floating-point dtype; winit.flax initializes {accepted}"
        ) from error
    return canonical


def _hyper(what: str, value: Any, **limits: bool) -> Any:
    """A hyper-parameter: a Python real (checked, kept as given) or an array/tracer (JAX's formula takes it)."""
    if _jx.is_array(value):
        return value
    real(what, value, **limits)  # TypeError/ValueError naming ``what``
    return value


def _plan_axes(
    dims: tuple[int, ...], in_axis: AxisSpec, out_axis: AxisSpec, batch_axis: AxisSpec
) -> dict[str, Any]:
    """JAX's in/out/batch axes as the disjoint axes winit's fans take, giving the same fans."""
    if (
        isinstance(in_axis, int)
        and isinstance(out_axis, int)
        and (in_axis, out_axis) == (_IN_AXIS, _OUT_AXIS)
    ):
        # the flax layout's own axes; letting the layout pick them also gives 0-D/1-D shapes (biases)
        # Keras' fans (1, 1)/(n, n) instead of an out-of-range -2
        return {"in_axis": None, "out_axis": None, "batch_axis": batch_axis}
    ins = _axes("in_axis", in_axis, len(dims), dims)
    outs = _axes("out_axis", out_axis, len(dims), dims)
    # JAX takes fan_in = Π(shape)/(Π out·Π batch), so an axis named both in and out counts in neither
    # fan, like a batch axis; Flax's Embed default, variance_scaling(1, "fan_in", "normal", out_axis=0),
    # relies on it.
    shared = tuple(axis for axis in ins if axis in outs)
    return {
        "in_axis": tuple(axis for axis in ins if axis not in shared),
        "out_axis": tuple(axis for axis in outs if axis not in shared),
        "batch_axis": (*_axes("batch_axis", batch_axis, len(dims), dims), *shared),
    }


def _build(
    spec: Scheme | None,
    name: str,
    *,
    in_axis: AxisSpec = _IN_AXIS,
    out_axis: AxisSpec = _OUT_AXIS,
    batch_axis: AxisSpec = (),
    dtype: Any = None,
    draw: dict[str, Any] | None = None,
    jax_law: _jx.JaxLaw | None = None,
) -> Initializer:
    """An ``init(key, shape, dtype)`` that plans ``spec`` for each shape in the flax layout and samples it.

    ``draw``: extra keywords for ``realize`` (the portable generator's ``rng`` and ``stream``).
    ``jax_law``: JAX's own formula, for complex dtypes, and for every dtype when ``spec`` is None
    (hyper-parameters that are arrays or tracers).
    """
    complex_ok = jax_law is not None
    default_dtype = None if dtype is None else _float_dtype(dtype, complex_ok)
    draw = draw or {}
    if spec is None and draw:
        raise TypeError(
            f"{name}: rng='portable' takes Python-number hyper-parameters; an array or traced one "
            "runs JAX's own draw (rng='native')"
        )

    def init(
        key: Any, shape: Sequence[int], dtype: Any = default_dtype, out_sharding: Any = None
    ) -> jax.Array:
        if out_sharding is not None:
            raise NotImplementedError(
                "winit.flax initializers take no out_sharding; shard the result with "
                "jax.jit(init, static_argnums=1, out_shardings=...) instead"
            )
        dims = shape_tuple(shape)
        native = _float_dtype(dtype, complex_ok)
        if math.prod(dims) == 0:
            return jnp.zeros(dims, native)  # nothing to draw: every law agrees on an empty array
        axes = _plan_axes(dims, in_axis, out_axis, batch_axis)
        if jax_law is not None and (spec is None or _jx.is_complex(native)):
            if draw:
                raise TypeError(f"{name}: rng='portable' draws real floating dtypes, got {native}")
            return jax_law(key, dims, native, *fans(dims, "flax", **axes))
        assert spec is not None  # spec is None only with a jax_law
        plan = spec.plan(dims, "flax", **axes)
        if key is None and not isinstance(plan.law, _KEYLESS):
            raise TypeError(
                f"{name} draws random numbers and needs a JAX key (jax.random.key(seed)), got None"
            )
        result: jax.Array = realize(ADAPTER, plan, seed=key, dtype=native, framework_bits=True, **draw)
        return result

    init.__qualname__ = f"{name}.<locals>.init"
    init.__doc__ = f"{name}: {spec.description if spec is not None else 'JAX formula'}"
    return init


def _draw(rng: str, stream: int | str | None) -> dict[str, Any]:
    """``_build``'s ``draw``: {} for the native JAX draw, else the portable generator with ``stream`` (checked now)."""
    draw: dict[str, Any] = draw_options(rng, stream, "the native JAX draw")
    return draw


def initializer(
    scheme: str | Scheme,
    *,
    in_axis: AxisSpec = _IN_AXIS,
    out_axis: AxisSpec = _OUT_AXIS,
    batch_axis: AxisSpec = (),
    dtype: Any = None,
    rng: str = "native",
    stream: int | str | None = None,
    **params: Any,
) -> Initializer:
    """``init(key, shape, dtype)`` drawing winit ``scheme`` (with ``params`` changed) in the flax layout.

    ``rng="portable"``: Philox keyed by the key's two words and ``stream`` (see the module docstring).
    """
    spec = get(scheme)
    if params:
        spec = spec.with_(**params)
    axes: dict[str, Any] = {"in_axis": in_axis, "out_axis": out_axis, "batch_axis": batch_axis}
    return _build(spec, spec.name, **axes, dtype=dtype, draw=_draw(rng, stream))


# -- constants ---------------------------------------------------------------------------------------
def zeros(key: Any, shape: Sequence[int], dtype: Any = None, out_sharding: Any = None) -> jax.Array:
    """Every element 0 (``key`` is ignored), as jax.nn.initializers.zeros."""
    return _ZEROS(key, shape, dtype, out_sharding)


def ones(key: Any, shape: Sequence[int], dtype: Any = None, out_sharding: Any = None) -> jax.Array:
    """Every element 1 (``key`` is ignored), as jax.nn.initializers.ones."""
    return _ONES(key, shape, dtype, out_sharding)


def zeros_init() -> Initializer:
    """Flax's ``zeros_init()``: the :func:`zeros` initializer."""
    return zeros


def ones_init() -> Initializer:
    """Flax's ``ones_init()``: the :func:`ones` initializer."""
    return ones


def constant(value: Any, dtype: Any = None) -> Initializer:
    """Every element = ``value`` (a number, or an array broadcast to the shape), as jax.nn.initializers.constant."""
    law = _jx.constant(value)
    if _jx.is_array(value):
        return _build(None, "constant", dtype=dtype, jax_law=law)
    return _build(get("constant").with_(value=value), "constant", dtype=dtype, jax_law=law)


# -- fixed-parameter random laws ---------------------------------------------------------------------
def uniform(
    scale: float = 1e-2, dtype: Any = None, *, rng: str = "native", stream: int | str | None = None
) -> Initializer:
    """U[0, scale) (one-sided, as jax.nn.initializers.uniform)."""
    law = _jx.uniform(_hyper("scale", scale))
    if _jx.is_array(scale):
        return _build(None, "uniform", dtype=dtype, draw=_draw(rng, stream), jax_law=law)
    spec = get("random_uniform").with_(minval=0.0, maxval=scale)
    return _build(spec, "uniform", dtype=dtype, draw=_draw(rng, stream))


def normal(
    stddev: float = 1e-2, dtype: Any = None, *, rng: str = "native", stream: int | str | None = None
) -> Initializer:
    """N(0, stddev²), as jax.nn.initializers.normal (complex: each part of variance stddev²/2)."""
    law = _jx.normal(_hyper("stddev", stddev))
    spec = None if _jx.is_array(stddev) else get("random_normal").with_(mean=0.0, stddev=stddev)
    return _build(spec, "normal", dtype=dtype, draw=_draw(rng, stream), jax_law=law)


def truncated_normal(
    stddev: float = 1e-2,
    dtype: Any = None,
    lower: float = -2.0,
    upper: float = 2.0,
    *,
    rng: str = "native",
    stream: int | str | None = None,
) -> Initializer:
    """N(0, stddev²) cut to [lower·stddev, upper·stddev], no variance correction (jax.nn.initializers')."""
    if any(
        _jx.is_array(_hyper(what, v)) for what, v in (("stddev", stddev), ("lower", lower), ("upper", upper))
    ):
        law = _jx.truncated_normal(stddev, lower, upper)
        return _build(None, "truncated_normal", dtype=dtype, draw=_draw(rng, stream), jax_law=law)
    spec = get("truncated_normal").with_(mean=0.0, stddev=stddev, lower=lower, upper=upper)
    return _build(spec, "truncated_normal", dtype=dtype, draw=_draw(rng, stream))


# -- variance scaling and its named cases ------------------------------------------------------------
def variance_scaling(
    scale: float,
    mode: str,
    distribution: str,
    in_axis: AxisSpec = _IN_AXIS,
    out_axis: AxisSpec = _OUT_AXIS,
    batch_axis: AxisSpec = (),
    dtype: Any = None,
    *,
    rng: str = "native",
    stream: int | str | None = None,
) -> Initializer:
    """std = √(scale/fan(mode)): truncated_normal (σ = std/0.8796, cut at ±2σ), normal, or U(±√3·std)."""
    axes = {"in_axis": in_axis, "out_axis": out_axis, "batch_axis": batch_axis, "dtype": dtype}
    return _named(scale, mode, distribution, "variance_scaling", axes, _draw(rng, stream))


_MODES = ("fan_in", "fan_out", "fan_avg", "fan_geo_avg")
_DISTRIBUTIONS = ("normal", "truncated_normal", "uniform")


def _named(
    scale: Any, mode: str, distribution: str, name: str, axes: dict[str, Any], draw: dict[str, Any]
) -> Initializer:
    # complex dtypes and an array/traced scale take JAX's formula (winit._flax_jax)
    law = _jx.variance_scaling(_hyper("scale", scale, positive=not _jx.is_array(scale)), mode, distribution)
    if _jx.is_array(scale):
        choice("mode", mode, _MODES)
        choice("distribution", distribution, _DISTRIBUTIONS)
        return _build(None, name, **axes, draw=draw, jax_law=law)
    spec = get("variance_scaling").with_(scale=scale, mode=mode, distribution=distribution)
    return _build(spec, name, **axes, draw=draw, jax_law=law)


def glorot_uniform(
    in_axis: AxisSpec = _IN_AXIS,
    out_axis: AxisSpec = _OUT_AXIS,
    batch_axis: AxisSpec = (),
    dtype: Any = None,
    *,
    rng: str = "native",
    stream: int | str | None = None,
) -> Initializer:
    """U(±√(6/(fan_in + fan_out))): variance_scaling(1, "fan_avg", "uniform")."""
    axes = {"in_axis": in_axis, "out_axis": out_axis, "batch_axis": batch_axis, "dtype": dtype}
    return _named(1.0, "fan_avg", "uniform", "glorot_uniform", axes, _draw(rng, stream))


def glorot_normal(
    in_axis: AxisSpec = _IN_AXIS,
    out_axis: AxisSpec = _OUT_AXIS,
    batch_axis: AxisSpec = (),
    dtype: Any = None,
    *,
    rng: str = "native",
    stream: int | str | None = None,
) -> Initializer:
    """Truncated normal with std √(2/(fan_in + fan_out)): variance_scaling(1, "fan_avg", "truncated_normal")."""
    axes = {"in_axis": in_axis, "out_axis": out_axis, "batch_axis": batch_axis, "dtype": dtype}
    return _named(1.0, "fan_avg", "truncated_normal", "glorot_normal", axes, _draw(rng, stream))


def he_uniform(
    in_axis: AxisSpec = _IN_AXIS,
    out_axis: AxisSpec = _OUT_AXIS,
    batch_axis: AxisSpec = (),
    dtype: Any = None,
    *,
    rng: str = "native",
    stream: int | str | None = None,
) -> Initializer:
    """U(±√(6/fan_in)): variance_scaling(2, "fan_in", "uniform")."""
    axes = {"in_axis": in_axis, "out_axis": out_axis, "batch_axis": batch_axis, "dtype": dtype}
    return _named(2.0, "fan_in", "uniform", "he_uniform", axes, _draw(rng, stream))


def he_normal(
    in_axis: AxisSpec = _IN_AXIS,
    out_axis: AxisSpec = _OUT_AXIS,
    batch_axis: AxisSpec = (),
    dtype: Any = None,
    *,
    rng: str = "native",
    stream: int | str | None = None,
) -> Initializer:
    """Truncated normal with std √(2/fan_in): variance_scaling(2, "fan_in", "truncated_normal")."""
    axes = {"in_axis": in_axis, "out_axis": out_axis, "batch_axis": batch_axis, "dtype": dtype}
    return _named(2.0, "fan_in", "truncated_normal", "he_normal", axes, _draw(rng, stream))


def lecun_uniform(
    in_axis: AxisSpec = _IN_AXIS,
    out_axis: AxisSpec = _OUT_AXIS,
    batch_axis: AxisSpec = (),
    dtype: Any = None,
    *,
    rng: str = "native",
    stream: int | str | None = None,
) -> Initializer:
    """U(±√(3/fan_in)): variance_scaling(1, "fan_in", "uniform")."""
    axes = {"in_axis": in_axis, "out_axis": out_axis, "batch_axis": batch_axis, "dtype": dtype}
    return _named(1.0, "fan_in", "uniform", "lecun_uniform", axes, _draw(rng, stream))


def lecun_normal(
    in_axis: AxisSpec = _IN_AXIS,
    out_axis: AxisSpec = _OUT_AXIS,
    batch_axis: AxisSpec = (),
    dtype: Any = None,
    *,
    rng: str = "native",
    stream: int | str | None = None,
) -> Initializer:
    """Truncated normal with std √(1/fan_in): variance_scaling(1, "fan_in", "truncated_normal") (Flax's default)."""
    axes = {"in_axis": in_axis, "out_axis": out_axis, "batch_axis": batch_axis, "dtype": dtype}
    return _named(1.0, "fan_in", "truncated_normal", "lecun_normal", axes, _draw(rng, stream))


xavier_uniform = glorot_uniform
xavier_normal = glorot_normal
kaiming_uniform = he_uniform
kaiming_normal = he_normal


# -- structured ----------------------------------------------------------------------------------------
def orthogonal(
    scale: float = 1.0,
    column_axis: int = -1,
    dtype: Any = None,
    *,
    rng: str = "native",
    stream: int | str | None = None,
) -> Initializer:
    """scale·Q, Q Haar orthogonal over (Π other axes) × shape[column_axis], as jax.nn.initializers.orthogonal."""
    column_axis = integer("column_axis", column_axis)
    law = _jx.orthogonal(_hyper("scale", scale), column_axis)
    spec = None if _jx.is_array(scale) else get("orthogonal").with_(gain=scale)
    draw = _draw(rng, stream)
    default_dtype = None if dtype is None else _float_dtype(dtype, complex_ok=True)

    def init(
        key: Any, shape: Sequence[int], dtype: Any = default_dtype, out_sharding: Any = None
    ) -> jax.Array:
        dims = shape_tuple(shape)
        if len(dims) < 2:
            raise ValueError(f"orthogonal needs a shape of at least 2 dimensions, got {dims}")
        if not -len(dims) <= column_axis < len(dims):
            raise ValueError(f"column_axis={column_axis} is out of range for shape {dims}")
        # The law only reads the column (out) axis; any other axis serves as the plan's in axis.
        other = -1 if column_axis % len(dims) != len(dims) - 1 else -2
        planned = _build(spec, "orthogonal", in_axis=other, out_axis=column_axis, draw=draw, jax_law=law)
        return planned(key, dims, dtype, out_sharding)

    init.__qualname__ = "orthogonal.<locals>.init"
    return init


def delta_orthogonal(
    scale: float = 1.0,
    column_axis: int = -1,
    dtype: Any = None,
    *,
    rng: str = "native",
    stream: int | str | None = None,
) -> Initializer:
    """Zeros except the kernel's centre tap ((k−1)//2 per spatial axis) = orthogonal(scale)(in × out); out ≥ in."""
    tap = orthogonal(scale, column_axis, rng=rng, stream=stream)
    default_dtype = None if dtype is None else _float_dtype(dtype, complex_ok=True)

    def init(
        key: Any, shape: Sequence[int], dtype: Any = default_dtype, out_sharding: Any = None
    ) -> jax.Array:
        dims = shape_tuple(shape)
        if len(dims) not in (3, 4, 5):
            raise ValueError(f"delta_orthogonal needs a 3-, 4- or 5-D kernel (*kernel, in, out), got {dims}")
        if dims[-1] < dims[-2]:
            raise ValueError(f"delta_orthogonal needs out >= in (shape[-1] >= shape[-2]), got {dims}")
        native = _float_dtype(dtype, complex_ok=True)
        matrix = tap(key, dims[-2:], native, out_sharding)
        # JAX's centre tap is (k − 1)//2 (torch's dirac uses k//2; they differ for even kernels).
        centre = tuple((k - 1) // 2 for k in dims[:-2])
        return zeros(None, dims, native).at[centre].set(matrix)

    init.__qualname__ = "delta_orthogonal.<locals>.init"
    return init


def identity(gain: float = 1.0, dtype: Any = None) -> Initializer:
    """gain·I for a 2-D (in, out) shape, ones on the main diagonal (winit's identity; JAX has none)."""
    return _build(get("identity").with_(gain=gain), "identity", dtype=dtype)


eye = identity


def dirac(
    groups: int = 1, gain: float = 1.0, in_axis: AxisSpec = _IN_AXIS, out_axis: AxisSpec = _OUT_AXIS,
    dtype: Any = None,
) -> Initializer:  # fmt: skip
    """gain at the kernel centre where out % (out/groups) == in, zero elsewhere (winit's dirac; JAX has none)."""
    spec = get("dirac").with_(groups=groups, gain=gain)
    return _build(spec, "dirac", in_axis=in_axis, out_axis=out_axis, dtype=dtype)


def zer_o(
    gain: float = 1.0, in_axis: AxisSpec = _IN_AXIS, out_axis: AxisSpec = _OUT_AXIS, dtype: Any = None
) -> Initializer:
    """ZerO: gain·I* if out ≤ in, else gain·2^(−(m−1)/2)·H_m[:out, :in] at a kernel's centre tap (JAX has none)."""
    return _build(get("zer_o").with_(gain=gain), "zer_o", in_axis=in_axis, out_axis=out_axis, dtype=dtype)


_ZEROS = _build(get("zeros"), "zeros", jax_law=_jx.constant(0))
_ONES = _build(get("ones"), "ones", jax_law=_jx.constant(1))
