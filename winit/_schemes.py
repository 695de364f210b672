"""Schemes as data: a distribution plus a variance or bound rule over (fan_in, fan_out) and a gain."""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, Final, Literal

from winit._fans import AxisSpec, fans, layout_axes, resolve_axes
from winit._gains import NONLINEARITIES, calculate_gain
from winit._laws import (
    Constant,
    Dirac,
    Identity,
    Law,
    Normal,
    Orthogonal,
    TruncatedNormal,
    Uniform,
    truncated_normal_moments,
)
from winit._validate import choice, integer, real, shape_tuple, suggest

Distribution = Literal["normal", "truncated_normal", "uniform", "constant", "orthogonal", "identity", "dirac"]
FanMode = Literal["fan_in", "fan_out", "fan_avg", "fan_geo_avg"]

DISTRIBUTIONS: Final[tuple[str, ...]] = (
    "normal", "truncated_normal", "uniform", "constant", "orthogonal", "identity", "dirac",
)  # fmt: skip
FAN_MODES: Final[tuple[str, ...]] = ("fan_in", "fan_out", "fan_avg", "fan_geo_avg")
#: distributions a variance rule may drive; "untruncated_normal" is Keras' spelling of "normal".
_VARIANCE_DISTRIBUTIONS: Final = ("normal", "truncated_normal", "uniform")
_DISTRIBUTION_ALIASES: Final = {"untruncated_normal": "normal"}
_STRUCTURED: Final = ("orthogonal", "identity", "dirac")
_PARAMETER_ALIASES: Final = {"a": "negative_slope", "std": "stddev", "val": "value"}


@dataclass(frozen=True)
class Scheme:
    """One initialization scheme as data: a distribution and either fixed parameters or a variance rule.

    With a fan ``mode`` the law's std is ``gain · √(scale / fan(mode))`` (``gain`` times
    ``calculate_gain(nonlinearity, negative_slope)`` when a nonlinearity is set); without one the
    fixed parameters (``mean``, ``stddev``, ``minval``, ``maxval``, ``value``) define it.
    ``parameters`` names what :meth:`with_` may change.
    """

    name: str
    distribution: Distribution
    mode: FanMode | None = None
    scale: float = 1.0
    gain: float = 1.0
    nonlinearity: str | None = None
    negative_slope: float | None = None
    mean: float = 0.0
    stddev: float = 1.0
    minval: float = 0.0
    maxval: float = 1.0
    value: float = 0.0
    lower: float = -2.0
    upper: float = 2.0
    corrected: bool = True
    groups: int = 1
    parameters: tuple[str, ...] = ()
    description: str = field(default="", compare=False)

    def __post_init__(self) -> None:
        distribution = _DISTRIBUTION_ALIASES.get(self.distribution, self.distribution)
        object.__setattr__(self, "distribution", choice("distribution", distribution, DISTRIBUTIONS))
        if self.mode is not None:
            choice("fan mode", self.mode, FAN_MODES)
            if self.distribution not in _VARIANCE_DISTRIBUTIONS:
                raise ValueError(
                    f"a fan mode needs a variance distribution {_VARIANCE_DISTRIBUTIONS}, "
                    f"got {self.distribution!r}"
                )
        object.__setattr__(self, "scale", real("scale", self.scale, positive=True))
        object.__setattr__(self, "gain", real("gain", self.gain, positive=True))
        if self.nonlinearity is not None:
            choice("nonlinearity", self.nonlinearity, NONLINEARITIES)
        if self.negative_slope is not None:
            object.__setattr__(self, "negative_slope", real("negative_slope (a)", self.negative_slope))
        for name in ("mean", "minval", "maxval", "value"):
            object.__setattr__(self, name, real(name, getattr(self, name)))
        object.__setattr__(self, "stddev", real("stddev", self.stddev, nonnegative=True))
        if self.minval > self.maxval:
            raise ValueError(f"minval must be <= maxval, got minval={self.minval}, maxval={self.maxval}")
        lower, upper = real("lower", self.lower), real("upper", self.upper)
        if not lower < upper:
            raise ValueError(f"truncation needs lower < upper (in units of σ), got [{lower}, {upper}]")
        object.__setattr__(self, "lower", lower)
        object.__setattr__(self, "upper", upper)
        object.__setattr__(self, "groups", integer("groups", self.groups, minimum=1))

    # -- the variance rule -------------------------------------------------------------------
    @property
    def effective_gain(self) -> float:
        """``gain · calculate_gain(nonlinearity, negative_slope)``; just ``gain`` without a nonlinearity."""
        if self.nonlinearity is None:
            return self.gain
        return self.gain * calculate_gain(self.nonlinearity, self.negative_slope)

    def fan(self, fan_in: int, fan_out: int) -> float:
        """The fan the rule divides by: fan_in, fan_out, (fan_in+fan_out)/2 or √(fan_in·fan_out)."""
        fan_in = integer("fan_in", fan_in, minimum=1)
        fan_out = integer("fan_out", fan_out, minimum=1)
        mode = self.mode or "fan_in"
        if mode == "fan_in":
            return float(fan_in)
        if mode == "fan_out":
            return float(fan_out)
        if mode == "fan_avg":
            return (fan_in + fan_out) / 2.0
        return math.sqrt(fan_in * fan_out)

    def sigma(self, fan_in: int = 1, fan_out: int = 1) -> float:
        """σ of the normal before truncation (target std / truncnorm std if ``corrected``); else the law's std."""
        if self.distribution == "truncated_normal":
            if self.mode is None:
                return self.stddev
            target = self._target_std(fan_in, fan_out)
            return target / truncated_normal_moments(self.lower, self.upper)[1] if self.corrected else target
        return self.std(fan_in, fan_out)

    def _target_std(self, fan_in: int, fan_out: int) -> float:
        # Expression order follows torch.nn.init (gain·√(2/(fi+fo)), gain/√fan) so the floats agree bit for bit.
        gain, fan = self.effective_gain, self.fan(fan_in, fan_out)
        if self.mode == "fan_avg":
            return gain * math.sqrt(2.0 * self.scale / float(fan_in + fan_out))
        return gain * math.sqrt(self.scale) / math.sqrt(fan)

    def std(self, fan_in: int = 1, fan_out: int = 1) -> float:
        """Standard deviation of the law for these fans (root mean square of entries for orthogonal/identity/dirac)."""
        d = self.distribution
        if d == "constant":
            return 0.0
        if d == "dirac":
            # groups·min(out/groups, in) centre taps are set; in fans that is min(fan_out, groups·fan_in)
            # non-zeros per fan_in·fan_out/Πkernel² entries, independent of the kernel size.
            fan_in = integer("fan_in", fan_in, minimum=1)
            fan_out = integer("fan_out", fan_out, minimum=1)
            return self.effective_gain * math.sqrt(min(fan_out, self.groups * fan_in) / (fan_in * fan_out))
        if d in _STRUCTURED:
            return self.effective_gain / math.sqrt(max(self.fan(fan_in, fan_out), fan_in, fan_out))
        if self.mode is None:
            if d == "uniform":
                return (self.maxval - self.minval) / math.sqrt(12.0)
            if d == "normal":
                return self.stddev
            return self.stddev * truncated_normal_moments(self.lower, self.upper)[1]
        target = self._target_std(fan_in, fan_out)
        if d == "truncated_normal" and not self.corrected:
            return target * truncated_normal_moments(self.lower, self.upper)[1]
        return target

    def bound(self, fan_in: int = 1, fan_out: int = 1) -> float:
        """Limit b of U(−b, b) with this law's variance: b = √3·std (the sampling limit for uniform schemes)."""
        if self._fixed_uniform:
            return (self.maxval - self.minval) / 2.0
        return math.sqrt(3.0) * self.std(fan_in, fan_out)

    @property
    def _fixed_uniform(self) -> bool:
        return self.distribution == "uniform" and self.mode is None

    # -- changing and resolving --------------------------------------------------------------
    def with_(self, **params: Any) -> Scheme:
        """Return a copy with ``params`` changed; only names in :attr:`parameters` are accepted."""
        changes: dict[str, Any] = {}
        for key, value in params.items():
            name = _PARAMETER_ALIASES.get(key, key)
            if name not in self.parameters:
                accepted = ", ".join(self.parameters) or "none"
                raise TypeError(
                    f"scheme {self.name!r} has no parameter {key!r}; accepted: {accepted}."
                    f"{suggest(key, self.parameters)}"
                )
            changes[name] = value
        if "distribution" in changes:
            dist = _DISTRIBUTION_ALIASES.get(changes["distribution"], changes["distribution"])
            changes["distribution"] = choice(
                "distribution", dist, (*_VARIANCE_DISTRIBUTIONS, *_DISTRIBUTION_ALIASES)
            )
        return dataclasses.replace(self, **changes)

    def plan(
        self,
        shape: Sequence[int],
        layout: str = "torch",
        *,
        in_axis: AxisSpec | None = None,
        out_axis: AxisSpec | None = None,
        batch_axis: AxisSpec = (),
    ) -> Plan:
        """Resolve this scheme for ``shape`` in ``layout``: fans, gain, std, bound and the sampling law."""
        dims = shape_tuple(shape)
        if math.prod(dims) == 0:
            raise ValueError(f"shape {dims} has no elements; there is nothing to initialize")
        layout_axes(layout)
        axes: dict[str, Any] = {"in_axis": in_axis, "out_axis": out_axis, "batch_axis": batch_axis}
        fan_in, fan_out = fans(dims, layout, **axes)
        law = self._law(dims, layout, fan_in, fan_out, axes)
        std = self.std(fan_in, fan_out)
        if isinstance(law, Orthogonal):
            std = law.gain / math.sqrt(max(dims[law.out_axis], math.prod(dims) // dims[law.out_axis]))
        _check_finite(self, dims, law, std)
        return Plan(
            scheme=self,
            shape=dims,
            layout=layout,
            fan_in=fan_in,
            fan_out=fan_out,
            gain=self.effective_gain,
            std=std,
            bound=self.bound(fan_in, fan_out) if self._fixed_uniform else math.sqrt(3.0) * std,
            law=law,
        )

    def _law(
        self, dims: tuple[int, ...], layout: str, fan_in: int, fan_out: int, axes: dict[str, Any]
    ) -> Law:
        d = self.distribution
        if d == "constant":
            return Constant(self.value)
        if d in _STRUCTURED:
            return self._structured_law(dims, layout, axes)
        if self.mode is None:
            if d == "uniform":
                return Uniform(self.minval, self.maxval)
            if d == "normal":
                return Normal(self.mean, self.stddev)
            return TruncatedNormal(self.mean, self.stddev, self.lower, self.upper)
        # The unrounded gain²·scale/fan travels with the law: JAX rounds the variance to the dtype before
        # its square root, so an adapter needs it (not the std) to match jax.nn.initializers bit for bit.
        gain = self.effective_gain
        variance = gain * gain * self.scale / self.fan(fan_in, fan_out)
        if d == "uniform":
            limit = self.bound(fan_in, fan_out)
            return Uniform(-limit, limit, variance=variance)
        if d == "normal":
            return Normal(0.0, self.std(fan_in, fan_out), variance=variance)
        return TruncatedNormal(
            0.0, self.sigma(fan_in, fan_out), self.lower, self.upper,
            variance=variance if self.corrected else None,
        )  # fmt: skip

    def _structured_law(self, dims: tuple[int, ...], layout: str, axes: dict[str, Any]) -> Law:
        gain = self.effective_gain
        if self.distribution == "identity":
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
        if self.distribution == "orthogonal":
            return Orthogonal(gain, outs[0])
        if not 3 <= len(dims) <= 5:
            raise ValueError(f"dirac needs a 3-, 4- or 5-D convolution kernel, got shape {dims}")
        if dims[outs[0]] % self.groups:
            raise ValueError(
                f"dirac: out channels {dims[outs[0]]} (shape {dims}) are not divisible by "
                f"groups={self.groups}"
            )
        return Dirac(gain, self.groups, ins[0], outs[0])


def _check_finite(scheme: Scheme, dims: tuple[int, ...], law: Law, std: float) -> None:
    """ValueError when the resolved law's std, bound or parameters overflow float64 (e.g. gain=1e300 squared)."""
    numbers = {"std": std, "bound": math.sqrt(3.0) * std}
    numbers.update((f"law {key}", value) for key, value in vars(law).items() if isinstance(value, float))
    bad = {key: value for key, value in numbers.items() if not math.isfinite(value)}
    if bad:
        named = ", ".join(f"{key} = {value}" for key, value in bad.items())
        raise ValueError(
            f"scheme {scheme.name!r} for shape {dims} gives a law that is not finite ({named}) from "
            f"gain={scheme.effective_gain:g}, scale={scheme.scale:g}, stddev={scheme.stddev:g}, "
            f"minval={scheme.minval:g}, maxval={scheme.maxval:g}; use smaller parameters"
        )


@dataclass(frozen=True)
class Plan:
    """A scheme resolved for one shape and layout: the numbers and the law an adapter samples."""

    scheme: Scheme
    shape: tuple[int, ...]
    layout: str
    fan_in: int
    fan_out: int
    gain: float
    std: float
    bound: float
    law: Law

    def explain(self) -> str:
        """The scheme's formula with this plan's numbers put in, one fact per line."""
        s = self.scheme
        gain_source = ""
        if s.nonlinearity:
            gain_source = f"  (calculate_gain({s.nonlinearity!r}, {s.negative_slope}) × {s.gain:g})"
        lines = [
            f"scheme   {s.name}: {s.description}",
            f"shape    {self.shape} (layout {self.layout})",
            f"fans     fan_in = {self.fan_in}, fan_out = {self.fan_out}",
            f"gain     {self.gain:.6g}{gain_source}",
        ]
        if s.mode is not None:
            fan = s.fan(self.fan_in, self.fan_out)
            fan_expr = {
                "fan_in": f"fan_in = {self.fan_in}",
                "fan_out": f"fan_out = {self.fan_out}",
                "fan_avg": f"(fan_in + fan_out)/2 = ({self.fan_in} + {self.fan_out})/2 = {fan:g}",
                "fan_geo_avg": f"√(fan_in·fan_out) = √({self.fan_in}·{self.fan_out}) = {fan:.6g}",
            }[s.mode]
            lines.append(f"fan      {s.mode}: {fan_expr}")
            lines.append(
                f"std      gain·√(scale/fan) = {self.gain:.6g}·√({s.scale:g}/{fan:.6g}) = {self.std:.6g}"
            )
            lines.append(f"bound    √3·std = {self.bound:.6g}")
            if isinstance(self.law, Uniform):
                # the textbook form of the limit, e.g. Glorot's √(6/(fan_in + fan_out))
                if s.mode == "fan_avg":
                    fans_sum = f"({self.fan_in} + {self.fan_out})"
                    limit = (
                        f"gain·√(6·scale/(fan_in + fan_out)) = {self.gain:.6g}·√(6·{s.scale:g}/{fans_sum})"
                    )
                else:
                    limit = f"gain·√(3·scale/fan) = {self.gain:.6g}·√(3·{s.scale:g}/{fan:.6g})"
                lines.append(f"limit    {limit} = {self.law.high:.6g}")
            if isinstance(self.law, TruncatedNormal) and s.corrected:
                cut_std = truncated_normal_moments(s.lower, s.upper)[1]
                lines.append(
                    f"sigma    std/{cut_std:.6g} = {self.std:.6g}/{cut_std:.6g} = {self.law.sigma:.6g} "
                    "(σ before truncation, so the truncated law keeps std)"
                )
        else:
            lines.append(f"std      {self.std:.6g}")
            lines.append(f"bound    {self.bound:.6g}")
        lines.append(f"law      {_describe_law(self.law)}")
        return "\n".join(lines)


def _describe_law(law: Law) -> str:
    if isinstance(law, Constant):
        return f"every element = {law.value:g}"
    if isinstance(law, Uniform):
        return f"U[{law.low:.6g}, {law.high:.6g})"
    if isinstance(law, Normal):
        return f"N(mean={law.mean:g}, std={law.sigma:.6g})"
    if isinstance(law, TruncatedNormal):
        lo, hi = law.mean + law.lower * law.sigma, law.mean + law.upper * law.sigma
        window = f"[{lo:.6g}, {hi:.6g}] ({law.lower:g}σ, {law.upper:g}σ)"
        return f"N(mean={law.mean:g}, σ={law.sigma:.6g}) truncated to {window}"
    if isinstance(law, Orthogonal):
        return (
            f"{law.gain:g}·Q, Q Haar orthogonal with axis {law.out_axis} as rows "
            "(QR of a Gaussian, sign of diag(R))"
        )
    if isinstance(law, Identity):
        return f"{law.gain:g}·I"
    return f"{law.gain:g} at the kernel centre, out_channel % (out/{law.groups}) == in_channel"
