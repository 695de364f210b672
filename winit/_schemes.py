"""Schemes as compositions: a distribution, an optional fan + variance rule, a gain and a multiplier.

The pieces live in :mod:`winit._pieces`; this module wires them together and resolves them for a shape.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, Final, Literal

from winit._explain import plan_rows
from winit._fans import AxisSpec, fans, layout_axes, resolve_axes
from winit._laws import (
    Dirac,
    Identity,
    Law,
    Orthogonal,
    Uniform,
    ZerO,
)
from winit._pieces import (  # noqa: F401  (FAN_MODES, FanMode re-exported)
    DIST_TYPES,
    FAN_MODES,
    SCALED,
    STRUCTURED,
    ConstantDist,
    DiracDist,
    Dist,
    ExplainRow,
    FanMode,
    FanRule,
    Gain,
    IdentityDist,
    Multiplier,
    NormalDist,
    TruncatedNormalDist,
    UniformDist,
    VarianceRule,
    ZerODist,
)
from winit._validate import choice, shape_tuple, suggest

__all__ = ["DISTRIBUTIONS", "FAN_MODES", "Distribution", "FanMode", "Plan", "Scheme"]

Distribution = Literal[
    "normal", "truncated_normal", "uniform", "constant", "orthogonal", "identity", "dirac", "zer_o"
]

DISTRIBUTIONS: Final[tuple[str, ...]] = tuple(DIST_TYPES)
#: distributions a variance rule may drive; "untruncated_normal" is Keras' spelling of "normal".
_VARIANCE_DISTRIBUTIONS: Final = tuple(cls.name for cls in SCALED)
_DISTRIBUTION_ALIASES: Final = {"untruncated_normal": "normal"}
_PARAMETER_ALIASES: Final = {"a": "negative_slope", "std": "stddev", "val": "value"}
#: parameters every scheme with a fan rule accepts in with_, beyond its own ``parameters``.
_COMPOSITION_PARAMETERS: Final = ("fan_power", "multiplier")
#: which piece owns each flat constructor parameter (the distribution's own fields are read off its class).
_DIST_FIELDS: Final = {
    cls.name: tuple(f for f in cls.__dataclass_fields__ if f != "name") for cls in DIST_TYPES.values()
}


@dataclass(frozen=True, init=False)
class Scheme:
    """One initialization scheme, composed of pieces: distribution, fan rule, variance rule, gain, multiplier.

    With a fan ``mode`` the law's std is ``multiplier · gain · (scale / fan(mode))^fan_power`` (fan_power ½:
    ``gain · √(scale/fan)``; ``gain`` times ``calculate_gain(nonlinearity, negative_slope)`` when a
    nonlinearity is set); without one the distribution's fixed parameters (``mean``, ``stddev``,
    ``minval``, ``maxval``, ``value``) define it, times the multiplier. ``parameters`` names what
    :meth:`with_` may change; a scheme with a fan rule also accepts ``fan_power`` and ``multiplier``,
    so μP's readout std = m/fan_in is ``winit.get("lecun_normal").with_(fan_power=1.0, multiplier=m)``.

    Examples:
        A registry scheme, a changed copy, and a new scheme from its pieces:

        >>> import winit
        >>> he = winit.get("he_normal")
        >>> he.distribution, he.mode, he.nonlinearity
        ('normal', 'fan_in', 'leaky_relu')
        >>> readout = winit.get("lecun_normal").with_(fan_power=1.0, multiplier=2.0)
        >>> readout.std(fan_in=256)  # μP's readout: 2/256
        0.0078125
        >>> mine = winit.Scheme("my_he_uniform", "uniform", mode="fan_in", scale=2.0)
        >>> round(mine.bound(fan_in=96), 6)  # √(6/96)
        0.25

    References:
        μP: G. Yang, E. Hu et al., "Tensor Programs V: Tuning Large Neural Networks via Zero-Shot
        Hyperparameter Transfer", 2022, arXiv:2203.03466. The variance rule std = gain·√(scale/fan) is
        Keras' ``VarianceScaling``; the gains are PyTorch's (:func:`~winit.calculate_gain`).
    """

    name: str
    dist: Dist
    fans: FanRule | None
    variance: VarianceRule | None
    gain_rule: Gain
    post: Multiplier
    parameters: tuple[str, ...] = ()
    description: str = field(default="", compare=False)

    def __init__(
        self,
        name: str,
        distribution: Distribution | str,
        mode: FanMode | None = None,
        scale: float = 1.0,
        gain: float = 1.0,
        nonlinearity: str | None = None,
        negative_slope: float | None = None,
        *,
        fan_power: float = 0.5,
        multiplier: float = 1.0,
        parameters: tuple[str, ...] = (),
        description: str = "",
        **dist_params: Any,
    ) -> None:
        """Compose a scheme from flat parameters (the registry's rows); the extra keywords go to the distribution.

        Args:
            name: the scheme's name (shown by ``explain`` and in errors).
            distribution: normal, truncated_normal, uniform, constant, orthogonal, identity or dirac
                (``untruncated_normal`` reads as normal).
            mode: the fan rule: fan_in, fan_out, fan_avg or fan_geo_avg; None: no variance rule, the
                distribution's fixed parameters define the law.
            scale: the variance rule's scale (std = gain·√(scale/fan)).
            gain: a constant factor on the std.
            nonlinearity: multiplies the gain by ``calculate_gain(nonlinearity, negative_slope)``.
            negative_slope: leaky_relu's slope a (None: torch's default for the nonlinearity).
            fan_power: the power p in std = gain·(scale/fan)^p (needs a mode).
            multiplier: every sample × this factor.
            parameters: the names :meth:`with_` may change.
            description: the formula in words, for ``explain`` and ``winit schemes``.
            **dist_params: the distribution's own fields: ``mean``, ``stddev`` (normal families),
                ``lower``/``upper``/``corrected`` (truncated_normal), ``minval``/``maxval`` (uniform),
                ``value`` (constant), ``groups`` (dirac).

        Raises:
            ValueError: an unknown distribution or mode, a mode on a distribution it cannot drive,
                a ``fan_power`` without a mode.
            TypeError: an unknown distribution parameter.
        """
        kind = choice("distribution", _DISTRIBUTION_ALIASES.get(distribution, distribution), DISTRIBUTIONS)
        dist_type = DIST_TYPES[kind]
        owned = _DIST_FIELDS[kind]
        every = {f for fields in _DIST_FIELDS.values() for f in fields}
        unknown = sorted(set(dist_params) - every)
        if unknown:
            raise TypeError(
                f"Scheme() got unexpected parameter(s) {unknown}; distribution parameters: {sorted(every)}."
                f"{suggest(unknown[0], every)}"
            )
        # Parameters of another family are dropped: a scheme carries only its own pieces' fields.
        dist = dist_type(**{k: v for k, v in dist_params.items() if k in owned})
        if mode is not None:
            fan_rule: FanRule | None = FanRule(choice("fan mode", mode, FAN_MODES))  # type: ignore[arg-type]
            if not isinstance(dist, SCALED):
                raise ValueError(
                    f"a fan mode needs a variance distribution {_VARIANCE_DISTRIBUTIONS}, got {kind!r}"
                )
            variance: VarianceRule | None = VarianceRule(scale, fan_power)
        else:
            fan_rule = variance = None
            VarianceRule(scale, fan_power)  # validated even when unused, as before
            if fan_power != 0.5:
                raise ValueError(f"fan_power={fan_power!r} needs a fan mode; scheme {name!r} has none")
        setattr_ = object.__setattr__
        setattr_(self, "name", name)
        setattr_(self, "dist", dist)
        setattr_(self, "fans", fan_rule)
        setattr_(self, "variance", variance)
        setattr_(self, "gain_rule", Gain(gain, nonlinearity, negative_slope))
        setattr_(self, "post", Multiplier(multiplier))
        setattr_(self, "parameters", tuple(parameters))
        setattr_(self, "description", description)

    # -- the flat view: every old field reads through to the piece that owns it -------------------
    @property
    def distribution(self) -> str:
        """The distribution's name (normal, truncated_normal, uniform, constant, orthogonal, identity, dirac)."""
        return self.dist.name

    @property
    def mode(self) -> FanMode | None:
        """The fan rule's mode, or None without a variance rule."""
        return self.fans.mode if self.fans else None

    @property
    def scale(self) -> float:
        """The variance rule's scale (1 without one)."""
        return self.variance.scale if self.variance else 1.0

    @property
    def fan_power(self) -> float:
        """The variance rule's power: std ∝ (scale/fan)^fan_power (½ without one)."""
        return self.variance.power if self.variance else 0.5

    @property
    def gain(self) -> float:
        """The gain factor, before calculate_gain(nonlinearity, negative_slope)."""
        return self.gain_rule.gain

    @property
    def nonlinearity(self) -> str | None:
        """The nonlinearity whose calculate_gain multiplies the gain, or None."""
        return self.gain_rule.nonlinearity

    @property
    def negative_slope(self) -> float | None:
        """leaky_relu's negative slope a, or None (torch's default)."""
        return self.gain_rule.negative_slope

    @property
    def multiplier(self) -> float:
        """The post-scale m: samples × m."""
        return self.post.factor

    @property
    def mean(self) -> float:
        """The fixed mean (normal families; 0 otherwise)."""
        return float(getattr(self.dist, "mean", 0.0))

    @property
    def stddev(self) -> float:
        """The fixed stddev σ (normal families; 1 otherwise)."""
        return float(getattr(self.dist, "stddev", 1.0))

    @property
    def minval(self) -> float:
        """The fixed lower limit (uniform; 0 otherwise)."""
        return float(getattr(self.dist, "minval", 0.0))

    @property
    def maxval(self) -> float:
        """The fixed upper limit (uniform; 1 otherwise)."""
        return float(getattr(self.dist, "maxval", 1.0))

    @property
    def value(self) -> float:
        """The constant (constant; 0 otherwise)."""
        return float(getattr(self.dist, "value", 0.0))

    @property
    def lower(self) -> float:
        """Truncation's lower cut in units of σ (−2 otherwise)."""
        return float(getattr(self.dist, "lower", -2.0))

    @property
    def upper(self) -> float:
        """Truncation's upper cut in units of σ (2 otherwise)."""
        return float(getattr(self.dist, "upper", 2.0))

    @property
    def corrected(self) -> bool:
        """Whether a truncated σ is divided by the cut's std."""
        return bool(getattr(self.dist, "corrected", True))

    @property
    def groups(self) -> int:
        """Dirac's groups (1 otherwise)."""
        return int(getattr(self.dist, "groups", 1))

    def _flat(self) -> dict[str, Any]:
        """The constructor's keywords that rebuild this scheme."""
        flat: dict[str, Any] = {
            "name": self.name, "distribution": self.distribution, "mode": self.mode, "scale": self.scale,
            "gain": self.gain, "nonlinearity": self.nonlinearity, "negative_slope": self.negative_slope,
            "fan_power": self.fan_power, "multiplier": self.multiplier,
            "parameters": self.parameters, "description": self.description,
        }  # fmt: skip
        flat.update((f, getattr(self.dist, f)) for f in _DIST_FIELDS[self.distribution])
        return flat

    # -- the numbers: one path from the pieces --------------------------------------------------
    @property
    def effective_gain(self) -> float:
        """``gain · calculate_gain(nonlinearity, negative_slope)``; just ``gain`` without a nonlinearity."""
        return self.gain_rule.value

    def fan(self, fan_in: int, fan_out: int) -> float:
        """The fan the rule divides by: fan_in, fan_out, (fan_in+fan_out)/2 or √(fan_in·fan_out).

        Examples:
            >>> import winit
            >>> winit.get("glorot_normal").fan(100, 300), winit.get("he_normal").with_(mode="fan_geo_avg").fan(100, 400)
            (200.0, 200.0)
        """
        return (self.fans or FanRule()).fan(fan_in, fan_out)

    def _target(self, fan_in: int, fan_out: int) -> float:
        """multiplier · gain · (scale/fan)^power (needs a variance rule)."""
        assert self.variance is not None and self.fans is not None
        return self.post.factor * self.variance.std(self.gain_rule.value, self.fans, fan_in, fan_out)

    def sigma(self, fan_in: int = 1, fan_out: int = 1) -> float:
        """σ of the normal before truncation (target std / truncnorm std if ``corrected``); else the law's std.

        Examples:
            Keras' ``VarianceScaling`` default draws σ = std/0.87962566 cut at ±2σ, so the draws keep the std:

            >>> import winit
            >>> vs = winit.get("variance_scaling")
            >>> vs.std(fan_in=100), round(vs.sigma(fan_in=100), 6)
            (0.1, 0.113685)
        """
        if isinstance(self.dist, TruncatedNormalDist):
            if self.variance is None:
                return self.post.factor * self.dist.stddev
            return self.dist.sigma(self._target(fan_in, fan_out))
        return self.std(fan_in, fan_out)

    def std(self, fan_in: int = 1, fan_out: int = 1, *, receptive_field: int = 1) -> float:
        """Std of the law for these fans (RMS of entries for orthogonal/identity/dirac).

        ``receptive_field`` (Π kernel dims) matters only for orthogonal, whose RMS the fans alone do not
        fix: gain/√max(fan_out/receptive_field, fan_in), what ``plan`` and the samples give.

        Args:
            fan_in: the input fan (in channels × receptive field).
            fan_out: the output fan (out channels × receptive field).
            receptive_field: Π kernel dims (orthogonal only).

        Examples:
            >>> import winit
            >>> round(winit.get("he_normal").std(fan_in=27), 6)  # √(2/27)
            0.272166
            >>> winit.get("orthogonal").std(27, 576, receptive_field=9)  # a (64, 3, 3, 3) kernel's RMS
            0.125
        """
        dist, m = self.dist, self.post.factor
        if isinstance(dist, STRUCTURED):
            return m * dist.structured_std(self.gain_rule.value, fan_in, fan_out, receptive_field)
        if isinstance(dist, ConstantDist):
            return m * dist.fixed_std()
        if self.variance is None:
            return m * dist.fixed_std()
        return dist.scaled_std(self._target(fan_in, fan_out))

    def bound(self, fan_in: int = 1, fan_out: int = 1, *, receptive_field: int = 1) -> float:
        """Limit b of U(−b, b) with this law's variance: b = √3·std (the half-width for fixed uniforms).

        Args:
            fan_in: the input fan.
            fan_out: the output fan.
            receptive_field: Π kernel dims (orthogonal only).

        Examples:
            >>> import winit
            >>> round(winit.get("glorot_uniform").bound(10, 5), 6)  # √(6/(10 + 5))
            0.632456
            >>> winit.get("random_uniform").bound()  # the fixed half-width
            0.05
        """
        if isinstance(self.dist, UniformDist) and self.variance is None:
            return self.post.factor * self.dist.fixed_bound()
        return math.sqrt(3.0) * self.std(fan_in, fan_out, receptive_field=receptive_field)

    # -- changing and resolving --------------------------------------------------------------
    def with_(self, **params: Any) -> Scheme:
        """A copy with ``params`` changed: :attr:`parameters`, plus ``fan_power``/``multiplier`` with a fan rule.

        ``a``, ``std`` and ``val`` are accepted as torch's names of ``negative_slope``, ``stddev`` and ``value``.

        Raises:
            TypeError: a parameter this scheme does not have (the message lists the accepted ones).

        Examples:
            >>> import winit
            >>> he = winit.get("he_normal").with_(nonlinearity="leaky_relu", a=0.2, mode="fan_out")
            >>> he.negative_slope, round(he.std(fan_in=10, fan_out=64), 6)  # √(2/(1 + 0.2²))/√64
            (0.2, 0.173344)
            >>> winit.get("he_normal").with_(scal=2)
            Traceback (most recent call last):
            ...
            TypeError: scheme 'he_normal' has no parameter 'scal'; accepted: negative_slope, mode, ...
        """
        accepted = (*self.parameters, *(_COMPOSITION_PARAMETERS if self.fans else ()))
        changes: dict[str, Any] = {}
        for key, value in params.items():
            name = _PARAMETER_ALIASES.get(key, key)
            if name not in accepted:
                raise TypeError(
                    f"scheme {self.name!r} has no parameter {key!r}; accepted: {', '.join(accepted) or 'none'}."
                    f"{suggest(key, accepted)}"
                )
            changes[name] = value
        if "distribution" in changes:
            dist = _DISTRIBUTION_ALIASES.get(changes["distribution"], changes["distribution"])
            changes["distribution"] = choice(
                "distribution", dist, (*_VARIANCE_DISTRIBUTIONS, *_DISTRIBUTION_ALIASES)
            )
        return Scheme(**{**self._flat(), **changes})

    def plan(
        self,
        shape: Sequence[int],
        layout: str = "torch",
        *,
        in_axis: AxisSpec | None = None,
        out_axis: AxisSpec | None = None,
        batch_axis: AxisSpec = (),
    ) -> Plan:
        """Resolve this scheme for ``shape`` in ``layout``: fans, gain, std, bound and the sampling law.

        Args:
            shape: the weight's shape.
            layout: where the channels are (see :func:`~winit.fans`).
            in_axis: input axes, overriding the layout.
            out_axis: output axes, overriding the layout.
            batch_axis: axes counted in neither fan.

        Raises:
            ValueError: an empty shape, an unknown layout, a law that does not fit the shape or overflows.

        Examples:
            >>> import winit
            >>> p = winit.get("he_uniform").plan((3, 3, 16, 32), "keras")
            >>> p.fan_in, p.law
            (144, Uniform(low=-0.2041241452319315, high=0.2041241452319315))
        """
        dims = shape_tuple(shape)
        if math.prod(dims) == 0:
            raise ValueError(f"shape {dims} has no elements; there is nothing to initialize")
        layout_axes(layout)
        axes: dict[str, Any] = {"in_axis": in_axis, "out_axis": out_axis, "batch_axis": batch_axis}
        fan_in, fan_out = fans(dims, layout, **axes)
        law = self._law(dims, layout, fan_in, fan_out, axes)
        if isinstance(law, Orthogonal):
            # Q spans the (rows, cols) flattening: as fans, cols = fan_in and rows = fan_out with field 1.
            rows = dims[law.out_axis]
            std = self.std(math.prod(dims) // rows, rows)
        elif isinstance(law, ZerO):
            # The RMS of the tensor itself, from its own channel axes (a layout's fans may be swapped).
            rows, cols = dims[law.out_axis], dims[law.in_axis]
            field = math.prod(dims) // (rows * cols)
            std = self.std(cols * field, rows * field, receptive_field=field)
        else:
            std = self.std(fan_in, fan_out)
        bound = (
            self.bound(fan_in, fan_out)
            if isinstance(law, Uniform) and self.variance is None
            else math.sqrt(3.0) * std
        )
        _check_finite(self, dims, law, std, bound)
        return Plan(
            scheme=self, shape=dims, layout=layout, fan_in=fan_in, fan_out=fan_out,
            gain=self.effective_gain, std=std, bound=bound, law=law,
        )  # fmt: skip

    def _law(
        self, dims: tuple[int, ...], layout: str, fan_in: int, fan_out: int, axes: dict[str, Any]
    ) -> Law:
        dist, m = self.dist, self.post.factor
        if isinstance(dist, STRUCTURED):
            return self._structured_law(dims, layout, axes)
        if isinstance(dist, ConstantDist) or self.variance is None or self.fans is None:
            return dist.fixed_law(m)
        # The unrounded variance travels with the law: JAX rounds the variance to the dtype before
        # its square root, so an adapter needs it (not the std) to match jax.nn.initializers bit for bit.
        gain = self.gain_rule.value
        variance = m * m * self.variance.variance(gain, self.fans.fan(fan_in, fan_out))
        return dist.scaled_law(self._target(fan_in, fan_out), variance)

    def _structured_law(self, dims: tuple[int, ...], layout: str, axes: dict[str, Any]) -> Law:
        gain = self.post.factor * self.gain_rule.value
        if isinstance(self.dist, IdentityDist):
            if len(dims) != 2:
                raise ValueError(
                    f"identity needs a 2-D shape, got {dims}; use 'dirac' for convolution kernels"
                )
            return Identity(gain)
        if len(dims) < 2:
            raise ValueError(f"{self.distribution} needs a shape of at least 2 dimensions, got {dims}")
        ins, outs, _ = resolve_axes(dims, layout, **axes)
        if len(outs) != 1 or len(ins) != 1:
            raise ValueError(
                f"{self.distribution} needs exactly one in axis and one out axis, got in_axis={ins}, "
                f"out_axis={outs}"
            )
        if isinstance(self.dist, ZerODist):
            if len(dims) > 5:
                raise ValueError(
                    f"zer_o needs a 2-D matrix or a 3-, 4- or 5-D convolution kernel, got {dims}"
                )
            low_centre = layout is not None and layout.split("_")[0] in ("keras", "flax")
            return ZerO(gain, ins[0], outs[0], low_centre)
        if not isinstance(self.dist, DiracDist):
            return Orthogonal(gain, outs[0])
        if not 3 <= len(dims) <= 5:
            raise ValueError(f"dirac needs a 3-, 4- or 5-D convolution kernel, got shape {dims}")
        if dims[outs[0]] % self.dist.groups:
            raise ValueError(
                f"dirac: out channels {dims[outs[0]]} (shape {dims}) are not divisible by "
                f"groups={self.dist.groups}"
            )
        # Keras and Flax pad (k − 1)//2 before for 'same': a tap there keeps even kernels unshifted.
        low_centre = layout is not None and layout.split("_")[0] in ("keras", "flax")
        return Dirac(gain, self.dist.groups, ins[0], outs[0], low_centre)


def _check_finite(scheme: Scheme, dims: tuple[int, ...], law: Law, std: float, bound: float) -> None:
    """ValueError when the resolved law's std, bound or parameters overflow float64 (e.g. gain=1e300 squared)."""
    numbers = {"std": std, "bound": bound}
    numbers.update((f"law {key}", value) for key, value in vars(law).items() if isinstance(value, float))
    bad = {key: value for key, value in numbers.items() if not math.isfinite(value)}
    if bad:
        named = ", ".join(f"{key} = {value}" for key, value in bad.items())
        pieces = ", ".join(
            f"{key}={value:g}" for key, value in scheme._flat().items() if isinstance(value, float)
        )
        raise ValueError(
            f"scheme {scheme.name!r} for shape {dims} gives a law that is not finite ({named}) from "
            f"gain={scheme.effective_gain:g}, {pieces}; use smaller parameters"
        )


@dataclass(frozen=True)
class Plan:
    """A scheme resolved for one shape and layout: the numbers and the law an adapter samples.

    Made by :func:`~winit.plan` or ``Scheme.plan``; ``std`` is the law's std (the RMS of the entries
    for orthogonal, identity and dirac), ``bound`` = √3·std (a uniform's limit), ``gain`` the effective
    gain, ``law`` one of the seven sampling laws the adapters implement.

    Examples:
        >>> import winit
        >>> p = winit.plan("orthogonal", (64, 3, 3, 3))
        >>> p.fan_in, p.fan_out, p.std
        (27, 576, 0.125)
    """

    scheme: Scheme
    shape: tuple[int, ...]
    layout: str
    fan_in: int
    fan_out: int
    gain: float
    std: float
    bound: float
    law: Law

    def explain_rows(self) -> tuple[ExplainRow, ...]:
        """What :meth:`explain` prints, as (label, text) rows: one fact per row, one row per piece.

        Examples:
            >>> import winit
            >>> winit.plan("he_normal", (4, 3)).explain_rows()[-1]
            ('law', 'N(mean=0, std=0.816497)')
        """
        return plan_rows(self)

    def explain(self) -> str:
        """The scheme's formula with this plan's numbers put in, one fact per line (one line per piece).

        Examples:
            >>> import winit
            >>> print(winit.plan("glorot_uniform", (10, 5), layout="keras").explain())
            scheme   glorot_uniform: U(−limit, limit), limit = gain·√(6/(fan_in + fan_out))
            shape    (10, 5) (layout keras)
            fans     fan_in = 10, fan_out = 5
            gain     1
            fan      fan_avg: (fan_in + fan_out)/2 = (10 + 5)/2 = 7.5
            std      gain·√(scale/fan) = 1·√(1/7.5) = 0.365148
            bound    √3·std = 0.632456
            limit    gain·√(6·scale/(fan_in + fan_out)) = 1·√(6·1/(10 + 5)) = 0.632456
            law      U[-0.632456, 0.632456)
        """
        return "\n".join(f"{label:<8} {text}" for label, text in self.explain_rows())
