"""Sampling laws: the fully resolved numbers an adapter needs to fill a tensor (no fans, no gains)."""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Final

#: std of N(0, 1) truncated to [-2, 2], as Keras, JAX and Haiku write it (scipy.stats.truncnorm.std(-2, 2)).
TRUNCATED_NORMAL_STD_2SIGMA: Final = 0.87962566103423978


def _pdf(x: float) -> float:
    return math.exp(-0.5 * x * x) / math.sqrt(2.0 * math.pi)


def normal_mass(lower: float, upper: float) -> float:
    """P(lower ≤ Z ≤ upper) for Z ~ N(0, 1), accurate in either tail."""
    if lower >= 0:
        return 0.5 * (math.erfc(lower / math.sqrt(2.0)) - math.erfc(upper / math.sqrt(2.0)))
    if upper <= 0:
        return 0.5 * (math.erfc(-upper / math.sqrt(2.0)) - math.erfc(-lower / math.sqrt(2.0)))
    return 1.0 - 0.5 * (math.erfc(-lower / math.sqrt(2.0)) + math.erfc(upper / math.sqrt(2.0)))


def truncated_normal_moments(lower: float, upper: float) -> tuple[float, float]:
    """Return (mean, std) of N(0, 1) truncated to [lower, upper] (bounds in units of σ)."""
    if (lower, upper) == (-2.0, 2.0):
        return 0.0, TRUNCATED_NORMAL_STD_2SIGMA
    mass = normal_mass(lower, upper)
    if mass < 1e-300:  # beyond ~37σ the mass and both densities underflow float64
        raise ValueError(
            f"the truncation window [{lower:g}, {upper:g}] (units of σ) holds {mass:.3g} of the normal's "
            "mass, too little for its moments in float64; keep the window's near end within 37σ of the mean"
        )
    mean = (_pdf(lower) - _pdf(upper)) / mass
    variance = 1.0 + (lower * _pdf(lower) - upper * _pdf(upper)) / mass - mean * mean
    return mean, math.sqrt(variance)


@dataclass(frozen=True)
class Constant:
    """Every element equals ``value``."""

    value: float


@dataclass(frozen=True)
class Uniform:
    """U[low, high)."""

    low: float
    high: float
    #: the unrounded variance (gain²·scale/fan) when a variance rule produced this law, else None;
    #: lets an adapter redo the framework's own float arithmetic (JAX rounds it to the dtype first).
    variance: float | None = field(default=None, compare=False, repr=False)


@dataclass(frozen=True)
class Normal:
    """N(mean, sigma²)."""

    mean: float
    sigma: float
    #: the unrounded variance (gain²·scale/fan) when a variance rule produced this law, else None;
    #: lets an adapter redo the framework's own float arithmetic (JAX rounds it to the dtype first).
    variance: float | None = field(default=None, compare=False, repr=False)


@dataclass(frozen=True)
class TruncatedNormal:
    """N(mean, sigma²) conditioned on mean + lower·sigma ≤ x ≤ mean + upper·sigma."""

    mean: float
    sigma: float
    lower: float = -2.0
    upper: float = 2.0
    #: the truncated law's unrounded variance (gain²·scale/fan, so sigma = √variance / truncnorm std)
    #: when a corrected variance rule produced it, else None; see Uniform.variance.
    variance: float | None = field(default=None, compare=False, repr=False)


@dataclass(frozen=True)
class Orthogonal:
    """gain · Q, Q Haar-orthogonal over the (shape[out_axis], rest) flattening: rows or columns orthonormal."""

    gain: float
    out_axis: int


@dataclass(frozen=True)
class Identity:
    """gain · I for a 2-D shape (rectangular: ones on the main diagonal)."""

    gain: float


@dataclass(frozen=True)
class Dirac:
    """gain at the kernel centre where out_channel % (out/groups) == in_channel, zero elsewhere.

    The centre of a kernel axis of size k is k//2 (torch's ``dirac_``), or (k − 1)//2 when
    ``low_centre``: where Keras' and Flax's 'same' padding (k − 1)//2 before) leave the output unshifted.
    """

    gain: float
    groups: int
    in_axis: int
    out_axis: int
    low_centre: bool = False


@dataclass(frozen=True)
class ZerO:
    """ZerO (Zhao et al. 2022, Algorithm 1) on the (out, in) matrix, at the kernel centre for a convolution.

    out ≤ in: the partial identity (ones where out index == in index); out > in: c·H[:out, :in] with H
    the Sylvester Hadamard matrix of order 2^m, m = ⌈log₂ out⌉, c = 2^(−(m−1)/2); all times ``gain``.
    Every other kernel tap is 0; the centre is chosen as :class:`Dirac`'s (``low_centre``).
    """

    gain: float
    in_axis: int
    out_axis: int
    low_centre: bool = False


def zer_o_scale(out: int) -> float:
    """c = 2^(−(m−1)/2), m = ⌈log₂ out⌉: ZerO's Hadamard factor for ``out`` > 1 output channels."""
    m = max(out - 1, 1).bit_length()  # ⌈log₂ out⌉ for out ≥ 2, exactly (no float log)
    return float(2.0 ** (-(m - 1) / 2.0))


Law = Constant | Uniform | Normal | TruncatedNormal | Orthogonal | Identity | Dirac | ZerO
