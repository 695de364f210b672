"""Truncated normals in a tail window: Φ⁻¹ of a lower-tail probability, which keeps its relative precision.

A window [a, b] far out, e.g. [5.5σ, 6σ], has erf-space image (erf(a/√2), erf(b/√2)) within a few
float32 ulps of 1, so an inverse-CDF sampler working there collapses to a handful of values. Here
the window is mirrored so that its far edge lies in the lower tail (mirrored iff b > −a), the
uniform is drawn between u_low = Φ(a) and u_high = Φ(b), which for a lower-tail window are small
numbers with full relative precision, and z = Φ⁻¹(u) by Wichura's AS241 (PPND16: relative error
~1e-16 for u down to 1e-300; its tail branches take √(−log u), so tiny u are exact inputs). The
result is negated back for a mirrored window.

Used by the portable generator (one-sided windows, ``Recipe.tail``), TensorFlow's native windows
other than ±2σ, and JAX's native windows that ``jax.random.truncated_normal`` resolves too coarsely
(:func:`jax_sampler_is_exact_enough`).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, Final

# AS241 (PPND16) coefficients, highest power first: numerator then denominator of each branch.
_CENTRAL: Final = (
    (2509.0809287301226727, 33430.575583588128105, 67265.770927008700853, 45921.953931549871457,
     13731.693765509461125, 1971.5909503065514427, 133.14166789178437745, 3.387132872796366608),
    (5226.495278852854561, 28729.085735721942674, 39307.89580009271061, 21213.794301586595867,
     5394.1960214247511077, 687.1870074920579083, 42.313330701600911252, 1.0),
)  # fmt: skip
_INTERMEDIATE: Final = (
    (7.7454501427834140764e-4, 0.0227238449892691845833, 0.24178072517745061177, 1.27045825245236838258,
     3.64784832476320460504, 5.7694972214606914055, 4.6303378461565452959, 1.42343711074968357734),
    (1.05075007164441684324e-9, 5.475938084995344946e-4, 0.0151986665636164571966,
     0.14810397642748007459, 0.68976733498510000455, 1.6763848301838038494, 2.05319162663775882187, 1.0),
)  # fmt: skip
_FAR: Final = (
    (2.01033439929228813265e-7, 2.71155556874348757815e-5, 0.0012426609473880784386,
     0.026532189526576123093, 0.29656057182850489123, 1.7848265399172913358, 5.4637849111641143699,
     6.6579046435011037772),
    (2.04426310338993978564e-15, 1.4215117583164458887e-7, 1.8463183175100546818e-5,
     7.868691311456132591e-4, 0.0148753612908506148525, 0.13692988092273580531,
     0.59983220655588793769, 1.0),
)  # fmt: skip

#: the largest finite value of each float type a draw may be asked in
FLOAT_MAX: Final = {
    "float16": 65504.0,
    "bfloat16": 3.3895313892515355e38,
    "float32": 3.4028234663852886e38,
    "float64": 1.7976931348623157e308,
}
_TINY: Final = {"float32": 2.0**-126, "float64": 2.0**-1022}  # smallest positive normal numbers
_BITS: Final = {"float32": 24, "float64": 53}


class QuantileConstants:
    """AS241's coefficients and thresholds as 0-d arrays of the work float type (``const`` makes one)."""

    def __init__(self, const: Callable[[float], Any]) -> None:
        self.polys = [
            [const(c) for c in poly] for branch in (_CENTRAL, _INTERMEDIATE, _FAR) for poly in branch
        ]
        self.half, self.one, self.zero = const(0.5), const(1.0), const(0.0)
        self.central_r, self.mid_centre, self.far_centre, self.five = (
            const(0.180625), const(1.6), const(5.0), const(5.0)
        )  # fmt: skip


def _poly(xp: Any, t: Any, coefficients: Sequence[Any]) -> Any:
    p = xp.add(xp.multiply(t, coefficients[0]), coefficients[1])
    for c in coefficients[2:]:
        p = xp.add(xp.multiply(p, t), c)
    return p


def normal_quantile(xp: Any, u: Any, c: QuantileConstants) -> Any:
    """Φ⁻¹(u) for u in (0, 1) by AS241, every branch evaluated and selected (no data-dependent shapes).

    q = u − ½; central (q² ≤ 0.180625): q·P(r)/Q(r) with r = 0.180625 − q²; else s = √(−log min(u, 1 − u))
    and ±P(s − 1.6)/Q(s − 1.6) (s ≤ 5) or ±P(s − 5)/Q(s − 5), negative for q < 0. min(u, 1 − u) is u
    itself below ½, so a small u enters the logarithm with all its precision.
    """
    p = c.polys
    q = xp.subtract(u, c.half)
    r = xp.subtract(c.central_r, xp.multiply(q, q))
    central = xp.divide(xp.multiply(q, _poly(xp, r, p[0])), _poly(xp, r, p[1]))
    below = q < c.zero
    # 1 − u is exact for u ≥ ½ (Sterbenz); below ½, u itself goes into the logarithm
    t = xp.where(below, u, xp.subtract(c.one, u))
    s = xp.sqrt(xp.negative(xp.log(t)))
    t_mid, t_far = xp.subtract(s, c.mid_centre), xp.subtract(s, c.far_centre)
    mid = xp.divide(_poly(xp, t_mid, p[2]), _poly(xp, t_mid, p[3]))
    far = xp.divide(_poly(xp, t_far, p[4]), _poly(xp, t_far, p[5]))
    tail = xp.where(s <= c.five, mid, far)
    tail = xp.where(below, xp.negative(tail), tail)
    return xp.where(r >= c.zero, central, tail)


def normal_cdf(x: float) -> float:
    """Φ(x) in float64, accurate in the lower tail (erfc, not 1 + erf)."""
    return 0.5 * math.erfc(-x / math.sqrt(2.0))


@dataclass(frozen=True)
class TailWindow:
    """A standard window [lower, upper] as sampled: mirrored (−upper, −lower) or not, and Φ at its ends."""

    mirror: bool
    lower: float
    upper: float
    u_low: float
    u_high: float
    tiny: float  # the work float type's smallest normal number


def tail_window(lower: float, upper: float, work: str, mirror: bool | None = None) -> TailWindow:
    """The window [lower, upper] (in σ), mirrored when its far edge is the upper one (or as ``mirror`` says).

    ValueError when the window's probability is too small for ``work`` floats (float32 or float64):
    its uniform's step, (Φ(b) − Φ(a))/2^bits, must be a normal number (float32: windows out to
    about 11.5σ; float64: about 36σ).
    """
    flip = upper > -lower if mirror is None else mirror
    a, b = (-upper, -lower) if flip else (lower, upper)
    u_low, u_high = normal_cdf(a), normal_cdf(b)
    if not (u_high - u_low) / 2.0 ** _BITS[work] >= _TINY[work]:
        raise ValueError(
            f"a truncated normal cut to [{lower}, {upper}]σ has probability {u_high - u_low:.3g}, too small "
            f"for {work} draws (its quantiles underflow); use float64 draws, or a window nearer the mean"
        )
    return TailWindow(flip, a, b, u_low, u_high, _TINY[work])


def check_window_fits(mean: float, sigma: float, lower: float, upper: float, dtype: str) -> None:
    """ValueError when the values' window [mean + lower·σ, mean + upper·σ] has no finite ``dtype`` value."""
    top = FLOAT_MAX.get(dtype)
    low, high = mean + lower * sigma, mean + upper * sigma
    if top is not None and (low > top or high < -top):
        raise ValueError(
            f"a truncated normal cut to [{low:.6g}, {high:.6g}] lies beyond the finite range of {dtype} "
            f"(±{top:.6g}): every value would round to ±inf"
        )


def truncated_from_uniform(xp: Any, u: Any, window: TailWindow, c: QuantileConstants, const: Any) -> Any:
    """Standard truncated-normal values from ``u`` uniform in (window.u_low, window.u_high)."""
    # a native uniform can return its lower end exactly, 0 for a half-infinite window: keep Φ⁻¹ finite
    u = xp.clip(u, const(max(window.u_low, window.tiny)), const(window.u_high))
    z = xp.clip(normal_quantile(xp, u, c), const(window.lower), const(window.upper))
    return xp.negative(z) if window.mirror else z


def jax_sampler_is_exact_enough(lower: float, upper: float, work: str) -> bool:
    """Whether ``jax.random.truncated_normal`` resolves [lower, upper]: its erf-space uniform spans ≥ 2¹⁶ steps.

    JAX draws x uniform in (erf(lower/√2), erf(upper/√2)) and returns √2·erfinv(x); its values are
    those of x's float grid, whose step at the window's outer edge is spacing(max |erf|). With N
    steps across the window no value carries more than 1/N of the law's mass; below 2¹⁶ (e.g.
    [4σ, 5σ]: ~1000 float32 steps; [5.5σ, 6σ]: none) winit's tail sampler is used instead.
    """
    import numpy as np

    float_type = np.float64 if work == "float64" else np.float32
    lo, hi = math.erf(lower / math.sqrt(2.0)), math.erf(upper / math.sqrt(2.0))
    step = float(np.spacing(float_type(max(abs(lo), abs(hi)))))
    return (float(float_type(hi)) - float(float_type(lo))) / step >= 2.0**16
