"""Flax/JAX front door: ``jax.nn.initializers``-style builders whose ``init(key, shape, dtype)`` winit draws.

Same names, arguments and bits as ``jax.nn.initializers``; :func:`initializer` gives any winit scheme. The
portable draw and the layout: ``docs/flax.md``.
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
from winit._fans import AxisSpec, fans
from winit._flax_args import _IN_AXIS, _OUT_AXIS, _float_dtype, _hyper, _plan_axes
from winit._flax_model import init_, init_params
from winit._laws import Constant, Dirac, Identity, ZerO
from winit._mup import lr_multipliers
from winit._registry import get
from winit._schemes import Scheme
from winit._validate import choice, integer, shape_tuple
from winit.backends._portable import draw_options
from winit.backends._router import realize
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

#: laws that draw no random numbers, so a missing key is harmless (jax's zeros/ones/constant ignore it).
_KEYLESS = (Constant, Identity, Dirac, ZerO)


class Initializer(Protocol):
    """``init(key, shape, dtype=<builder's dtype>, out_sharding=None) -> jax.Array``, as jax.nn.initializers."""

    def __call__(
        self, key: Any, shape: Sequence[int], dtype: Any = ..., out_sharding: Any = None
    ) -> jax.Array: ...


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

    Args:
        scheme: a name from ``winit.schemes()`` (aliases too) or a :class:`winit.Scheme`, under winit's
            definition (``"he_normal"`` is the untruncated normal; :func:`he_normal` is JAX's truncated one).
        in_axis, out_axis, batch_axis: the fan axes, as in JAX (default: the flax layout ``(*kernel, in, out)``).
        dtype: the init's default dtype (None: JAX's default float).
        rng, stream: ``rng="portable"`` draws winit's Philox keyed by the key's words and ``stream``
            (a name or int id), the same numbers on every backend (docs/flax.md).
        params: the scheme's parameters to change (``winit.get(scheme).parameters``).

    Example:
        >>> import jax, winit.flax as wf
        >>> w = wf.initializer("he_normal", mode="fan_out")(jax.random.key(0), (3, 3, 16, 64))
        >>> w.shape, round(float(w.std()) / (2 / (9 * 64)) ** 0.5, 1)
        ((3, 3, 16, 64), 1.0)
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
    """Every element = ``value`` (a number, or an array broadcast to the shape), as jax.nn.initializers.constant.

    Example:
        >>> import winit.flax as wf
        >>> wf.constant(0.5)(None, (2, 2)).tolist()
        [[0.5, 0.5], [0.5, 0.5]]
    """
    law = _jx.constant(value)
    if _jx.is_array(value):
        return _build(None, "constant", dtype=dtype, jax_law=law)
    return _build(get("constant").with_(value=value), "constant", dtype=dtype, jax_law=law)


# -- fixed-parameter random laws ---------------------------------------------------------------------
def uniform(
    scale: float = 1e-2, dtype: Any = None, *, rng: str = "native", stream: int | str | None = None
) -> Initializer:
    """U[0, scale) (one-sided, as jax.nn.initializers.uniform).

    Example:
        >>> import jax, winit.flax as wf
        >>> w = wf.uniform(0.5)(jax.random.key(0), (64, 64))
        >>> bool(w.min() >= 0 and w.max() < 0.5)
        True
    """
    law = _jx.uniform(_hyper("scale", scale))
    if _jx.is_array(scale):
        return _build(None, "uniform", dtype=dtype, draw=_draw(rng, stream), jax_law=law)
    spec = get("random_uniform").with_(minval=0.0, maxval=scale)
    return _build(spec, "uniform", dtype=dtype, draw=_draw(rng, stream))


def normal(
    stddev: float = 1e-2, dtype: Any = None, *, rng: str = "native", stream: int | str | None = None
) -> Initializer:
    """N(0, stddev²), as jax.nn.initializers.normal (complex: each part of variance stddev²/2).

    Example:
        >>> import jax, winit.flax as wf
        >>> round(float(wf.normal(0.02)(jax.random.key(0), (256, 256)).std()), 3)
        0.02
    """
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
    """N(0, stddev²) cut to [lower·stddev, upper·stddev], no variance correction (jax.nn.initializers').

    Example:
        >>> import jax, winit.flax as wf
        >>> bool(abs(wf.truncated_normal(0.02)(jax.random.key(0), (128, 128))).max() <= 0.04)
        True
    """
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
    """std = √(scale/fan(mode)): truncated_normal (σ = std/0.8796, cut at ±2σ), normal, or U(±√3·std).

    Args:
        scale: the variance's numerator (2: He, 1: LeCun; with ``"fan_avg"`` 1: Glorot).
        mode: ``"fan_in"``, ``"fan_out"``, ``"fan_avg"`` or ``"fan_geo_avg"``.
        distribution: ``"truncated_normal"``, ``"normal"`` or ``"uniform"``.
        in_axis, out_axis, batch_axis: the fan axes (default: the flax layout ``(*kernel, in, out)``).
        dtype: the init's default dtype (None: JAX's default float).
        rng, stream: ``rng="portable"`` draws winit's Philox keyed by the key's words and ``stream``
            (a name or int id), the same numbers on every backend (docs/flax.md).

    Example:
        >>> import jax, winit.flax as wf
        >>> w = wf.variance_scaling(2.0, "fan_in", "normal")(jax.random.key(0), (256, 128))
        >>> round(float(w.std()) / (2 / 256) ** 0.5, 1)
        1.0

    References:
        He et al. 2015, "Delving Deep into Rectifiers"; Glorot & Bengio 2010 (fan_avg).
    """
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


class _VarianceBuilder(Protocol):
    """A named case of :func:`variance_scaling`, with JAX's signature for it."""

    def __call__(
        self,
        in_axis: AxisSpec = _IN_AXIS,
        out_axis: AxisSpec = _OUT_AXIS,
        batch_axis: AxisSpec = (),
        dtype: Any = None,
        *,
        rng: str = "native",
        stream: int | str | None = None,
    ) -> Initializer: ...


_DRAW_ARGS = """        rng, stream: ``rng="portable"`` draws winit's Philox keyed by the key's words and ``stream``
            (a name or int id), the same numbers on every backend (docs/flax.md)."""


def _variance_case(
    name: str, scale: float, mode: str, distribution: str, doc: str, reference: str
) -> _VarianceBuilder:
    """The builder JAX calls ``name``: variance_scaling(scale, mode, distribution) with JAX's signature."""

    def builder(
        in_axis: AxisSpec = _IN_AXIS,
        out_axis: AxisSpec = _OUT_AXIS,
        batch_axis: AxisSpec = (),
        dtype: Any = None,
        *,
        rng: str = "native",
        stream: int | str | None = None,
    ) -> Initializer:
        axes = {"in_axis": in_axis, "out_axis": out_axis, "batch_axis": batch_axis, "dtype": dtype}
        return _named(scale, mode, distribution, name, axes, _draw(rng, stream))

    fan = {"fan_in": "256", "fan_avg": "(256 + 128) / 2"}[mode]  # of the example's (256, 128) kernel
    builder.__name__ = builder.__qualname__ = name
    builder.__doc__ = f"""{doc}

    Args:
        in_axis, out_axis, batch_axis: the fan axes, as in JAX (default: the flax layout ``(*kernel, in, out)``).
        dtype: the init's default dtype (None: JAX's default float).
{_DRAW_ARGS}

    Example:
        >>> import jax, winit.flax as wf
        >>> w = wf.{name}()(jax.random.key(0), (256, 128))
        >>> w.shape, round(float(w.std()) / ({scale} / ({fan})) ** 0.5, 1)
        ((256, 128), 1.0)

    References:
        {reference}
    """
    return builder


_GLOROT = 'Glorot & Bengio 2010, "Understanding the difficulty of training deep feedforward neural networks".'
_HE = 'He et al. 2015, "Delving Deep into Rectifiers: Surpassing Human-Level Performance on ImageNet Classification".'
_LECUN = 'LeCun, Bottou, Orr & Müller 1998, "Efficient BackProp".'
_CUT = "(σ = std/0.8796, cut at ±2σ)"
glorot_uniform = _variance_case(
    "glorot_uniform", 1.0, "fan_avg", "uniform",
    'U(±√(6/(fan_in + fan_out))): variance_scaling(1, "fan_avg", "uniform").', _GLOROT,
)  # fmt: skip
glorot_normal = _variance_case(
    "glorot_normal", 1.0, "fan_avg", "truncated_normal",
    f'Truncated normal, std √(2/(fan_in + fan_out)) {_CUT}: variance_scaling(1, "fan_avg", "truncated_normal").',
    _GLOROT,
)  # fmt: skip
he_uniform = _variance_case(
    "he_uniform", 2.0, "fan_in", "uniform", 'U(±√(6/fan_in)): variance_scaling(2, "fan_in", "uniform").', _HE
)  # fmt: skip
he_normal = _variance_case(
    "he_normal", 2.0, "fan_in", "truncated_normal",
    f'Truncated normal, std √(2/fan_in) {_CUT}: variance_scaling(2, "fan_in", "truncated_normal").', _HE,
)  # fmt: skip
lecun_uniform = _variance_case(
    "lecun_uniform", 1.0, "fan_in", "uniform", 'U(±√(3/fan_in)): variance_scaling(1, "fan_in", "uniform").', _LECUN
)  # fmt: skip
lecun_normal = _variance_case(
    "lecun_normal", 1.0, "fan_in", "truncated_normal",
    f'Truncated normal, std √(1/fan_in) {_CUT}: variance_scaling(1, "fan_in", "truncated_normal"); Flax\'s default.',
    _LECUN,
)  # fmt: skip


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
    """scale·Q, Q Haar orthogonal over (Π other axes) × shape[column_axis], as jax.nn.initializers.orthogonal.

    Example:
        >>> import jax, jax.numpy as jnp, winit.flax as wf
        >>> w = wf.orthogonal()(jax.random.key(0), (64, 32))
        >>> bool(jnp.allclose(w.T @ w, jnp.eye(32), atol=1e-5))
        True

    References:
        Saxe, McClelland & Ganguli 2014, "Exact solutions to the nonlinear dynamics of learning in deep
        linear neural networks", ICLR.
    """
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
    """Zeros except the kernel's centre tap ((k−1)//2 per spatial axis) = orthogonal(scale)(in × out); out ≥ in.

    Example:
        >>> import jax, winit.flax as wf
        >>> w = wf.delta_orthogonal()(jax.random.key(0), (3, 3, 16, 32))
        >>> float(abs(w).sum(axis=(2, 3))[0, 0]), w.shape
        (0.0, (3, 3, 16, 32))

    References:
        Xiao et al. 2018, "Dynamical Isometry and a Mean Field Theory of CNNs", ICML.
    """
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
    """gain·I for a 2-D (in, out) shape, ones on the main diagonal (winit's identity; JAX has none).

    Example:
        >>> import winit.flax as wf
        >>> wf.identity(2.0)(None, (2, 3)).tolist()
        [[2.0, 0.0, 0.0], [0.0, 2.0, 0.0]]

    References:
        Le, Jaitly & Hinton 2015, "A Simple Way to Initialize Recurrent Networks of Rectified Linear Units".
    """
    return _build(get("identity").with_(gain=gain), "identity", dtype=dtype)


eye = identity


def dirac(
    groups: int = 1, gain: float = 1.0, in_axis: AxisSpec = _IN_AXIS, out_axis: AxisSpec = _OUT_AXIS,
    dtype: Any = None,
) -> Initializer:  # fmt: skip
    """gain at the kernel centre where out % (out/groups) == in, zero elsewhere (winit's dirac; JAX has none).

    Example:
        >>> import winit.flax as wf
        >>> w = wf.dirac()(None, (3, 3, 4, 4))  # (*kernel, in, out): the identity at the centre tap
        >>> w[1, 1].tolist() == [[float(i == j) for j in range(4)] for i in range(4)], float(w.sum())
        (True, 4.0)

    References:
        Zagoruyko & Komodakis 2017, "DiracNets: Training Very Deep Neural Networks Without Skip-Connections".
    """
    spec = get("dirac").with_(groups=groups, gain=gain)
    return _build(spec, "dirac", in_axis=in_axis, out_axis=out_axis, dtype=dtype)


def zer_o(
    gain: float = 1.0, in_axis: AxisSpec = _IN_AXIS, out_axis: AxisSpec = _OUT_AXIS, dtype: Any = None
) -> Initializer:
    """ZerO: gain·I* if out ≤ in, else gain·2^(−(m−1)/2)·H_m[:out, :in] at a kernel's centre tap (JAX has none)."""
    return _build(get("zer_o").with_(gain=gain), "zer_o", in_axis=in_axis, out_axis=out_axis, dtype=dtype)


_ZEROS = _build(get("zeros"), "zeros", jax_law=_jx.constant(0))
_ONES = _build(get("ones"), "ones", jax_law=_jx.constant(1))
