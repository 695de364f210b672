"""The pieces a scheme is composed of: fan rule, variance rule, gain, multiplier and distribution.

Each piece owns its share of the std/bound arithmetic and its row of ``explain`` (a label and a
text); a :class:`~winit.Scheme` only wires them together, and ``Scheme.std``, ``Scheme.bound``,
``Plan`` and the sampling law all read the numbers from here. A scheme with a variance rule has
std = multiplier · gain · (scale/fan)^power (power ½ by default: gain·√(scale/fan)); without one
the distribution's fixed parameters define it.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import ClassVar, Final, Literal

from winit._gains import NONLINEARITIES, calculate_gain
from winit._laws import (
    Constant,
    Law,
    Normal,
    TruncatedNormal,
    Uniform,
    truncated_normal_moments,
    zer_o_scale,
)
from winit._validate import choice, integer, real

FanMode = Literal["fan_in", "fan_out", "fan_avg", "fan_geo_avg"]
#: the fans a variance rule may divide by: fan_in, fan_out, (fan_in + fan_out)/2, √(fan_in·fan_out).
FAN_MODES: Final[tuple[str, ...]] = ("fan_in", "fan_out", "fan_avg", "fan_geo_avg")
#: one row of ``Plan.explain``: (label, text), e.g. ("fan", "fan_in: fan_in = 27").
ExplainRow = tuple[str, str]


def _fans(fan_in: int, fan_out: int) -> tuple[int, int]:
    return integer("fan_in", fan_in, minimum=1), integer("fan_out", fan_out, minimum=1)


# -- fan rule -----------------------------------------------------------------------------------
@dataclass(frozen=True)
class FanRule:
    """Which fan a variance rule divides by: fan_in, fan_out, (fan_in+fan_out)/2 or √(fan_in·fan_out)."""

    mode: FanMode = "fan_in"

    def __post_init__(self) -> None:
        choice("fan mode", self.mode, FAN_MODES)

    def fan(self, fan_in: int, fan_out: int) -> float:
        """fan_in, fan_out, (fan_in + fan_out)/2 or √(fan_in·fan_out) by ``mode``."""
        fan_in, fan_out = _fans(fan_in, fan_out)
        if self.mode == "fan_in":
            return float(fan_in)
        if self.mode == "fan_out":
            return float(fan_out)
        if self.mode == "fan_avg":
            return (fan_in + fan_out) / 2.0
        return math.sqrt(fan_in * fan_out)

    def explain(self, fan_in: int, fan_out: int) -> ExplainRow:
        """``("fan", "mode: expression = value")``."""
        fan = self.fan(fan_in, fan_out)
        expression = {
            "fan_in": f"fan_in = {fan_in}",
            "fan_out": f"fan_out = {fan_out}",
            "fan_avg": f"(fan_in + fan_out)/2 = ({fan_in} + {fan_out})/2 = {fan:g}",
            "fan_geo_avg": f"√(fan_in·fan_out) = √({fan_in}·{fan_out}) = {fan:.6g}",
        }[self.mode]
        return "fan", f"{self.mode}: {expression}"


# -- variance rule ------------------------------------------------------------------------------
@dataclass(frozen=True)
class VarianceRule:
    """std = gain · (scale/fan)^power: power ½ is the classic gain·√(scale/fan), power 1 μP's 1/fan."""

    scale: float = 1.0
    power: float = 0.5

    def __post_init__(self) -> None:
        object.__setattr__(self, "scale", real("scale", self.scale, positive=True))
        object.__setattr__(self, "power", real("fan_power", self.power, positive=True))

    def std(self, gain: float, fans: FanRule, fan_in: int, fan_out: int) -> float:
        """gain · (scale/fan)^power, the target std of the law before any multiplier."""
        fan = fans.fan(fan_in, fan_out)
        if self.power != 0.5:
            return gain * float((self.scale / fan) ** self.power)
        # Expression order follows torch.nn.init (gain·√(2/(fi+fo)), gain/√fan) so the floats agree bit for bit.
        if fans.mode == "fan_avg":
            return gain * math.sqrt(2.0 * self.scale / float(fan_in + fan_out))
        return gain * math.sqrt(self.scale) / math.sqrt(fan)

    def variance(self, gain: float, fan: float) -> float:
        """gain² · (scale/fan)^(2·power), unrounded; JAX rounds it to the dtype before its square root."""
        if self.power != 0.5:
            return gain * gain * float((self.scale / fan) ** (2.0 * self.power))
        return gain * gain * self.scale / fan

    def explain(self, gain: float, fan: float, multiplier: float, std: float) -> ExplainRow:
        """``("std", "gain·√(scale/fan) = … = std")`` (with the power and multiplier when they are not 1/2, 1)."""
        m_name, m_value = ("multiplier·", f"{multiplier:g}·") if multiplier != 1.0 else ("", "")
        if self.power == 0.5:
            rule, numbers = "√(scale/fan)", f"√({self.scale:g}/{fan:.6g})"
        else:
            rule, numbers = f"(scale/fan)^{self.power:g}", f"({self.scale:g}/{fan:.6g})^{self.power:g}"
        return "std", f"{m_name}gain·{rule} = {m_value}{gain:.6g}·{numbers} = {std:.6g}"


# -- gain and multiplier ------------------------------------------------------------------------
@dataclass(frozen=True)
class Gain:
    """gain × calculate_gain(nonlinearity, negative_slope); just ``gain`` without a nonlinearity."""

    gain: float = 1.0
    nonlinearity: str | None = None
    negative_slope: float | None = None

    def __post_init__(self) -> None:
        object.__setattr__(self, "gain", real("gain", self.gain, positive=True))
        if self.nonlinearity is not None:
            choice("nonlinearity", self.nonlinearity, NONLINEARITIES)
        if self.negative_slope is not None:
            object.__setattr__(self, "negative_slope", real("negative_slope (a)", self.negative_slope))

    @property
    def value(self) -> float:
        """gain · calculate_gain(nonlinearity, negative_slope)."""
        if self.nonlinearity is None:
            return self.gain
        return self.gain * calculate_gain(self.nonlinearity, self.negative_slope)

    def explain(self) -> ExplainRow:
        """``("gain", "value  (calculate_gain(nonlinearity, a) × gain)")``."""
        source = ""
        if self.nonlinearity:
            source = f"  (calculate_gain({self.nonlinearity!r}, {self.negative_slope}) × {self.gain:g})"
        return "gain", f"{self.value:.6g}{source}"


@dataclass(frozen=True)
class Multiplier:
    """A post-scale m: every sample is multiplied by m (std and bound × m); 1 leaves the law unchanged."""

    factor: float = 1.0

    def __post_init__(self) -> None:
        object.__setattr__(self, "factor", real("multiplier", self.factor, positive=True))

    def explain(self) -> ExplainRow:
        """``("multiplier", "×m")`` (only shown when m ≠ 1)."""
        return "multiplier", f"×{self.factor:g} (every sample scaled after the rule)"


# -- distributions --------------------------------------------------------------------------------
# Each turns either a target std (a variance rule drives it) or its own fixed parameters into a Law.
# ``m`` is the multiplier, ``gain`` the resolved Gain.value; ``scaled`` is True when a rule drives it.


@dataclass(frozen=True)
class NormalDist:
    """N(mean, stddev²), or N(0, std²) with std from a variance rule."""

    name: ClassVar[str] = "normal"
    mean: float = 0.0
    stddev: float = 1.0

    def __post_init__(self) -> None:
        object.__setattr__(self, "mean", real("mean", self.mean))
        object.__setattr__(self, "stddev", real("stddev", self.stddev, nonnegative=True))

    def fixed_std(self) -> float:
        """stddev."""
        return self.stddev

    def scaled_std(self, target: float) -> float:
        """The rule's target std itself."""
        return target

    def scaled_law(self, std: float, variance: float) -> Law:
        """N(0, std²) carrying the unrounded variance."""
        return Normal(0.0, std, variance=variance)

    def fixed_law(self, m: float) -> Law:
        """N(m·mean, (m·stddev)²)."""
        return Normal(m * self.mean, m * self.stddev)


@dataclass(frozen=True)
class TruncatedNormalDist:
    """N(mean, σ²) cut at [lower, upper]σ; ``corrected`` divides σ by the cut's std so the law keeps the target."""

    name: ClassVar[str] = "truncated_normal"
    mean: float = 0.0
    stddev: float = 1.0
    lower: float = -2.0
    upper: float = 2.0
    corrected: bool = True

    def __post_init__(self) -> None:
        object.__setattr__(self, "mean", real("mean", self.mean))
        object.__setattr__(self, "stddev", real("stddev", self.stddev, nonnegative=True))
        lower, upper = real("lower", self.lower), real("upper", self.upper)
        if not lower < upper:
            raise ValueError(f"truncation needs lower < upper (in units of σ), got [{lower}, {upper}]")
        object.__setattr__(self, "lower", lower)
        object.__setattr__(self, "upper", upper)

    @property
    def cut_std(self) -> float:
        """std of N(0, 1) truncated to [lower, upper]."""
        return truncated_normal_moments(self.lower, self.upper)[1]

    def fixed_std(self) -> float:
        """stddev · cut std (σ is the parameter before truncation)."""
        return self.stddev * self.cut_std

    def scaled_std(self, target: float) -> float:
        """target if corrected (σ = target/cut std), else target · cut std."""
        return target if self.corrected else target * self.cut_std

    def sigma(self, target: float) -> float:
        """σ before truncation for a rule's target std."""
        return target / self.cut_std if self.corrected else target

    def scaled_law(self, std: float, variance: float) -> Law:
        """N(0, σ²) cut at [lower, upper]σ, σ = target/cut std when corrected."""
        return TruncatedNormal(
            0.0, self.sigma(std), self.lower, self.upper, variance=variance if self.corrected else None
        )

    def fixed_law(self, m: float) -> Law:
        """N(m·mean, (m·stddev)²) cut at [lower, upper] in units of σ."""
        return TruncatedNormal(m * self.mean, m * self.stddev, self.lower, self.upper)

    def explain(self, std: float, sigma: float) -> ExplainRow | None:
        """``("sigma", "std/cut = σ")`` for a corrected law."""
        if not self.corrected:
            return None
        cut = self.cut_std
        return "sigma", (
            f"std/{cut:.6g} = {std:.6g}/{cut:.6g} = {sigma:.6g} "
            "(σ before truncation, so the truncated law keeps std)"
        )


@dataclass(frozen=True)
class UniformDist:
    """U[minval, maxval), or U(−√3·std, √3·std) with std from a variance rule."""

    name: ClassVar[str] = "uniform"
    minval: float = 0.0
    maxval: float = 1.0

    def __post_init__(self) -> None:
        object.__setattr__(self, "minval", real("minval", self.minval))
        object.__setattr__(self, "maxval", real("maxval", self.maxval))
        if self.minval > self.maxval:
            raise ValueError(f"minval must be <= maxval, got minval={self.minval}, maxval={self.maxval}")

    def fixed_std(self) -> float:
        """(maxval − minval)/√12."""
        return (self.maxval - self.minval) / math.sqrt(12.0)

    def fixed_bound(self) -> float:
        """(maxval − minval)/2, the half-width."""
        return (self.maxval - self.minval) / 2.0

    def scaled_std(self, target: float) -> float:
        """The rule's target std itself."""
        return target

    def scaled_law(self, std: float, variance: float) -> Law:
        """U(−√3·std, √3·std) carrying the unrounded variance."""
        limit = math.sqrt(3.0) * std
        return Uniform(-limit, limit, variance=variance)

    def fixed_law(self, m: float) -> Law:
        """U[m·minval, m·maxval)."""
        return Uniform(m * self.minval, m * self.maxval)

    @staticmethod
    def explain(
        gain: float, scale: float, fans: FanRule, fan_in: int, fan_out: int, high: float
    ) -> ExplainRow:
        """The textbook form of the limit, e.g. Glorot's √(6/(fan_in + fan_out))."""
        if fans.mode == "fan_avg":
            limit = f"gain·√(6·scale/(fan_in + fan_out)) = {gain:.6g}·√(6·{scale:g}/({fan_in} + {fan_out}))"
        else:
            limit = f"gain·√(3·scale/fan) = {gain:.6g}·√(3·{scale:g}/{fans.fan(fan_in, fan_out):.6g})"
        return "limit", f"{limit} = {high:.6g}"


@dataclass(frozen=True)
class ConstantDist:
    """Every element equals ``value``."""

    name: ClassVar[str] = "constant"
    value: float = 0.0

    def __post_init__(self) -> None:
        object.__setattr__(self, "value", real("value", self.value))

    def fixed_std(self) -> float:
        """0."""
        return 0.0

    def fixed_law(self, m: float) -> Law:
        """Constant(m·value)."""
        return Constant(m * self.value)


@dataclass(frozen=True)
class OrthogonalDist:
    """gain·Q, Q Haar orthogonal over the (shape[out_axis], rest) flattening."""

    name: ClassVar[str] = "orthogonal"

    @staticmethod
    def structured_std(gain: float, fan_in: int, fan_out: int, receptive_field: int) -> float:
        """RMS of gain·Q over rows = fan_out/receptive_field, cols = fan_in: gain/√max(rows, cols).

        The fans alone do not fix it: (576, 27) and (64, 3, 3, 3) share fans (27, 576) but have
        RMS 1/24 and 1/8, so a kernel's receptive field (Π kernel dims) must be given.
        """
        fan_in, fan_out = _fans(fan_in, fan_out)
        receptive_field = integer("receptive_field", receptive_field, minimum=1)
        return gain / math.sqrt(max(fan_out / receptive_field, fan_in))


@dataclass(frozen=True)
class IdentityDist:
    """gain·I for a 2-D shape."""

    name: ClassVar[str] = "identity"

    @staticmethod
    def structured_std(gain: float, fan_in: int, fan_out: int, receptive_field: int) -> float:
        """RMS of gain·I (fan_out × fan_in): gain/√max(fan_in, fan_out)."""
        fan_in, fan_out = _fans(fan_in, fan_out)
        return gain / math.sqrt(max(fan_in, fan_out))


@dataclass(frozen=True)
class DiracDist:
    """gain at the kernel centre of matching in/out channels, per group."""

    name: ClassVar[str] = "dirac"
    groups: int = 1

    def __post_init__(self) -> None:
        object.__setattr__(self, "groups", integer("groups", self.groups, minimum=1))

    def structured_std(self, gain: float, fan_in: int, fan_out: int, receptive_field: int) -> float:
        """RMS: gain·√(min(fan_out, groups·fan_in)/(fan_in·fan_out)), independent of the kernel size."""
        # groups·min(out/groups, in) centre taps are set; in fans that is min(fan_out, groups·fan_in)
        # non-zeros per fan_in·fan_out/Πkernel² entries.
        fan_in, fan_out = _fans(fan_in, fan_out)
        return gain * math.sqrt(min(fan_out, self.groups * fan_in) / (fan_in * fan_out))


@dataclass(frozen=True)
class ZerODist:
    """ZerO: partial identity (out ≤ in) or c·Hadamard (out > in) at the kernel centre (Zhao et al. 2022)."""

    name: ClassVar[str] = "zer_o"

    @staticmethod
    def structured_std(gain: float, fan_in: int, fan_out: int, receptive_field: int) -> float:
        """RMS over the whole kernel: gain/√fan_in when out ≤ in (out ones), gain·c/√receptive_field when out > in."""
        fan_in, fan_out = _fans(fan_in, fan_out)
        receptive_field = integer("receptive_field", receptive_field, minimum=1)
        out, in_ = fan_out // receptive_field, fan_in // receptive_field
        if out <= in_:
            return gain / math.sqrt(fan_in)
        return gain * zer_o_scale(out) / math.sqrt(receptive_field)


#: distributions a variance rule may drive.
ScaledDist = NormalDist | TruncatedNormalDist | UniformDist
StructuredDist = OrthogonalDist | IdentityDist | DiracDist | ZerODist
Dist = ScaledDist | ConstantDist | StructuredDist
SCALED: Final = (NormalDist, TruncatedNormalDist, UniformDist)
STRUCTURED: Final = (OrthogonalDist, IdentityDist, DiracDist, ZerODist)
DIST_TYPES: Final[dict[str, type[Dist]]] = {
    cls.name: cls
    for cls in (
        NormalDist,
        TruncatedNormalDist,
        UniformDist,
        ConstantDist,
        OrthogonalDist,
        IdentityDist,
        DiracDist,
        ZerODist,
    )
}
