"""Bits → floats: integer-valued floats k (the top 24 or 53 bits of Philox words) to a law's values.

Uniform: (k + c)·s with c = low/s, s = (high − low)/2²⁴ (or 2⁵³): an add, then a multiply, each
correctly rounded on every backend. Normal and truncated normal: x = (k + c)·s uniform in
(erf(lower/√2), erf(upper/√2)), z = √2·erfinv(x) by Giles' polynomials, clipped, then (z + mean/σ)·σ;
a one-sided window takes z = Φ⁻¹(x) of its mirror in the lower tail (:mod:`.._tail`). See
:mod:`winit.backends._portable` for the whole scheme.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Final

from winit._laws import Normal, TruncatedNormal, Uniform

from .._philox import InPlaceWords, WordArithmetic
from .._tail import QuantileConstants, normal_quantile, tail_window

# Giles' erfinv polynomials in Horner order (highest power first), pre-multiplied by √2 so that
# p(w)·x is the normal quantile √2·erfinv(x) directly; float32 uses two branches, float64 three.
_SQRT2: Final = math.sqrt(2.0)
_GILES32: Final = (
    (5.0, 2.5, (
        2.81022636e-08, 3.43273939e-07, -3.5233877e-06, -4.39150654e-06, 0.00021858087,
        -0.00125372503, -0.00417768164, 0.246640727, 1.50140941,
    )),
    (math.inf, 3.0, (
        -0.000200214257, 0.000100950558, 0.00134934322, -0.00367342844, 0.00573950773,
        -0.0076224613, 0.00943887047, 1.00167406, 2.83297682,
    )),
)  # fmt: skip
_GILES64: Final = (
    (6.25, 3.125, (
        -3.6444120640178196996e-21, -1.685059138182016589e-19, 1.2858480715256400167e-18,
        1.115787767802518096e-17, -1.333171662854620906e-16, 2.0972767875968561637e-17,
        6.6376381343583238325e-15, -4.0545662729752068639e-14, -8.1519341976054721522e-14,
        2.6335093153082322977e-12, -1.2975133253453532498e-11, -5.4154120542946279317e-11,
        1.051212273321532285e-09, -4.1126339803469836976e-09, -2.9070369957882005086e-08,
        4.2347877827932403518e-07, -1.3654692000834678645e-06, -1.3882523362786468719e-05,
        0.0001867342080340571352, -0.00074070253416626697512, -0.0060336708714301490533,
        0.24015818242558961693, 1.6536545626831027356,
    )),
    (16.0, 3.25, (
        2.2137376921775787049e-09, 9.0756561938885390979e-08, -2.7517406297064545428e-07,
        1.8239629214389227755e-08, 1.5027403968909827627e-06, -4.013867526981545969e-06,
        2.9234449089955446044e-06, 1.2475304481671778723e-05, -4.7318229009055733981e-05,
        6.8284851459573175448e-05, 2.4031110387097893999e-05, -0.0003550375203628474796,
        0.00095328937973738049703, -0.0016882755560235047313, 0.0024914420961078508066,
        -0.0037512085075692412107, 0.005370914553590063617, 1.0052589676941592334,
        3.0838856104922207635,
    )),
    (math.inf, 5.0, (
        -2.7109920616438573243e-11, -2.5556418169965252055e-10, 1.5076572693500548083e-09,
        -3.7894654401267369937e-09, 7.6157012080783393804e-09, -1.4960026627149240478e-08,
        2.9147953450901080826e-08, -6.7711997758452339498e-08, 2.2900482228026654717e-07,
        -9.9298272942317002539e-07, 4.5260625972231537039e-06, -1.9681778105531670567e-05,
        7.5995277030017761139e-05, -0.00021503011930044477347, -0.00013871931833623122026,
        1.0103004648645343977, 4.8499064014085844221,
    )),
)  # fmt: skip


@dataclass(frozen=True)
class Recipe:
    """How integer-valued floats k become one law's values: the static shape of the computation.

    uniform: (k + offset)·scale.  gaussian: x = (k + offset)·scale, z = √2·erfinv(x), clipped to
    [lower, upper] when ``clip``, then (z + shift)·sigma, or z·sigma when not ``shifted``.
    """

    gaussian: bool
    float64: bool
    clip: bool
    shifted: bool
    tail: bool = False  # x is Φ of a one-sided window mirrored into the lower tail; z = Φ⁻¹(x) (see _tail)

    @property
    def bits(self) -> int:
        """Random bits per element: 53 (float64) or 24."""
        return 53 if self.float64 else 24

    @property
    def words(self) -> int:
        """Philox words per element: 2 (float64) or 1."""
        return 2 if self.float64 else 1


def recipe_for(law: Uniform | Normal | TruncatedNormal, float64: bool) -> tuple[Recipe, tuple[float, ...]]:
    """The recipe for ``law`` and its numbers (offset, scale, lower, upper, shift, sigma), in float64."""
    bits = 53 if float64 else 24
    if isinstance(law, Uniform):
        scale = (law.high - law.low) / 2.0**bits
        return Recipe(False, float64, False, False), (law.low / scale, scale, 0.0, 0.0, 0.0, 1.0)
    if isinstance(law, Normal):
        # scale = 2^(1 - bits) and offset = 0.5 − 2^(bits − 1): x is exact, strictly inside (−1, 1)
        lower, upper, x_low, x_high = -math.inf, math.inf, -1.0, 1.0
    elif law.lower >= 0 or law.upper <= 0:
        # a one-sided window: uniform in Φ of the window mirrored into the lower tail, where small
        # probabilities keep their relative precision; z = Φ⁻¹(x), negated back by the sign of σ
        window = tail_window(law.lower, law.upper, "float64" if float64 else "float32", mirror=law.lower >= 0)
        scale = (window.u_high - window.u_low) / 2.0**bits
        shift, sigma = law.mean / law.sigma, law.sigma
        if window.mirror:  # (−z + shift)·σ = (z − shift)·(−σ), negations exact
            shift, sigma = -shift, -sigma
        return (
            Recipe(True, float64, True, shift != 0.0, tail=True),
            (window.u_low / scale + 0.5, scale, window.lower, window.upper, shift, sigma),
        )
    else:
        # a window reaching past the last few floats below 1 is cut there, where erfinv is finite
        # (float32: at 5.3σ, about where an untruncated float32 draw ends, 5.4σ)
        lower, upper = law.lower, law.upper
        edge = 1.0 - 2.0 ** (2 - bits)
        x_low, x_high = max(math.erf(lower / _SQRT2), -edge), min(math.erf(upper / _SQRT2), edge)
    scale = (x_high - x_low) / 2.0**bits
    offset = x_low / scale + 0.5  # x is the midpoint of one of 2^bits equal cells
    clip = isinstance(law, TruncatedNormal)
    shift = law.mean / law.sigma
    return (
        Recipe(True, float64, clip, shift != 0.0),
        (offset, scale, lower if clip else 0.0, upper if clip else 0.0, shift, law.sigma),
    )


def _horner(xp: Any, t: Any, coefficients: Sequence[Any]) -> Any:
    p = xp.add(xp.multiply(t, coefficients[0]), coefficients[1])
    for c in coefficients[2:]:
        p = xp.add(xp.multiply(p, t), c)
    return p


def _normal_quantile(
    xp: Any, x: Any, one: Any, branches: Sequence[tuple[Any, Any, Sequence[Any]]], mutable: bool
) -> Any:
    """√2·erfinv(x) by Giles' piecewise polynomials in w = −log((1 − x)(1 + x)), scaled by √2.

    Branch i covers w < its limit: t = w − centre (first) or √w − centre (the others), z = p_i(t)·x.
    ``mutable`` backends evaluate the tail branches on the (≈0.3%) elements that need them;
    the others evaluate every branch everywhere and select.
    """
    w = xp.negative(xp.log(xp.multiply(xp.subtract(one, x), xp.add(one, x))))
    limit, centre, coefficients = branches[0]
    p = _horner(xp, xp.subtract(w, centre), coefficients)
    if len(branches) == 1:
        return xp.multiply(p, x)
    if mutable:
        tail = xp.nonzero(w >= limit)
        if tail[0].shape[0]:
            p[tail] = _normal_quantile_tail(xp, w[tail], branches[1:])
        return xp.multiply(p, x)
    p = xp.where(w < limit, p, _normal_quantile_tail(xp, w, branches[1:]))
    return xp.multiply(p, x)


def _normal_quantile_tail(xp: Any, w: Any, branches: Sequence[tuple[Any, Any, Sequence[Any]]]) -> Any:
    root = xp.sqrt(w)
    result = None
    for limit, centre, coefficients in reversed(branches):
        p = _horner(xp, xp.subtract(root, centre), coefficients)
        result = p if result is None else xp.where(w < limit, p, result)
    return result


class Constants:
    """A recipe's numbers and Giles' coefficients as 0-d arrays of the work float type."""

    def __init__(self, xp: Any, dtype: Any, device: Any, recipe: Recipe, numbers_: Sequence[Any]) -> None:
        def const(value: float) -> Any:
            return xp.asarray(value, dtype=dtype, device=device)

        self.offset, self.scale, self.lower, self.upper, self.shift, self.sigma = (
            v if not isinstance(v, float) else const(v) for v in numbers_
        )
        self.one = const(1.0)
        self.quantile: Any = QuantileConstants(const) if recipe.tail else None
        table = _GILES64 if recipe.float64 else _GILES32
        self.branches = [
            (const(limit), const(centre), [const(c * _SQRT2) for c in coefficients])
            for limit, centre, coefficients in table
        ]


def values_from_integers(xp: Any, k: Any, recipe: Recipe, consts: Constants, mutable: bool) -> Any:
    """The law's values from k, integer-valued floats in [0, 2^bits) (see :class:`Recipe`)."""
    x = xp.multiply(xp.add(k, consts.offset), consts.scale)
    if not recipe.gaussian:
        return x
    if recipe.tail:
        return _from_standard(xp, normal_quantile(xp, x, consts.quantile), recipe, consts)
    return _from_standard(xp, _normal_quantile(xp, x, consts.one, consts.branches, mutable), recipe, consts)


def _from_standard(xp: Any, z: Any, recipe: Recipe, consts: Constants) -> Any:
    if recipe.clip:
        z = xp.clip(z, consts.lower, consts.upper)
    if recipe.shifted:
        z = xp.add(z, consts.shift)
    return xp.multiply(z, consts.sigma)


def integers_from_words(
    xp: Any, kit: WordArithmetic, words: Sequence[Any], recipe: Recipe, dtype: Any
) -> Any:
    """k: the top 24 bits of one word, or (w0 >> 5)·2²⁶ + (w1 >> 6) from two, as exact floats of ``dtype``."""
    if not recipe.float64:
        return xp.astype(kit.shift_right(words[0], 8), dtype)
    high = xp.astype(kit.shift_right(words[0], 5), dtype)
    low = xp.astype(kit.shift_right(words[1], 6), dtype)
    return xp.add(xp.multiply(high, xp.asarray(2.0**26, dtype=dtype, device=kit.device)), low)


class InPlaceValues:
    """Philox words → a law's values through ``out=``, in scratch buffers sized to one chunk.

    The same operations, in the same order, as :func:`integers_from_words` and
    :func:`values_from_integers` (so the same bits), without a temporary array per step; the
    last step writes into the caller's destination.
    """

    def __init__(
        self, kit: InPlaceWords, recipe: Recipe, consts: Constants, dtype: Any, capacity: int
    ) -> None:
        self.kit, self.recipe, self.consts = kit, recipe, consts
        self.lanes = 4 // recipe.words
        size = capacity * self.lanes
        scratch = 4 if recipe.gaussian else 2 if recipe.float64 else 1  # a Gaussian's x, w, t, p
        self.buffers = [kit.xp.empty((size,), dtype=dtype, device=kit.device) for _ in range(scratch)]
        self.two_26 = kit.xp.asarray(2.0**26, dtype=dtype, device=kit.device)

    def __call__(self, words: Sequence[Any], out: Any) -> None:
        """Write the values of ``words`` (c0, c1, c2, c3, each (n,)) into ``out`` (n·lanes elements, any 2-d shape)."""
        kit, xp, recipe, consts = self.kit, self.kit.xp, self.recipe, self.consts
        size = words[0].shape[0] * self.lanes
        k = self.buffers[0][:size]
        lanes = xp.reshape(k, (-1, self.lanes)).T  # lanes[i]: elements i, i + lanes, ...
        if not recipe.float64:  # k = w >> 8, element 4j + i from word i
            for i, word in enumerate(words):
                kit.shift_into(word, 8, lanes[i])
        else:  # k = (w0 >> 5)·2²⁶ + (w1 >> 6), element 2j + i from words 2i, 2i + 1
            low = self.buffers[1][:size]
            low_lanes = xp.reshape(low, (-1, 2)).T
            for i in range(2):
                kit.shift_into(words[2 * i], 5, lanes[i])
                kit.shift_into(words[2 * i + 1], 6, low_lanes[i])
            xp.multiply(k, self.two_26, out=k)
            xp.add(k, low, out=k)
        x = xp.add(k, consts.offset, out=k)
        if not recipe.gaussian:
            xp.multiply(xp.reshape(x, out.shape), consts.scale, out=out)
            return
        xp.multiply(x, consts.scale, out=x)
        if recipe.tail:  # rare laws: AS241's branches as whole-array temporaries
            z = _from_standard(xp, normal_quantile(xp, x, consts.quantile), recipe, consts)
            out[...] = xp.reshape(z, out.shape)
            return
        w, t, p = (b[:size] for b in self.buffers[1:])
        xp.subtract(consts.one, x, out=w)
        xp.add(consts.one, x, out=t)
        xp.multiply(w, t, out=w)
        xp.log(w, out=w)
        xp.negative(w, out=w)
        limit, centre, coefficients = consts.branches[0]
        xp.subtract(w, centre, out=t)
        xp.multiply(t, coefficients[0], out=p)
        xp.add(p, coefficients[1], out=p)
        for c in coefficients[2:]:
            xp.multiply(p, t, out=p)
            xp.add(p, c, out=p)
        if len(consts.branches) > 1:
            found = xp.nonzero(w >= limit)  # torch: an (m, 1) tensor; NumPy: a tuple
            tail = found if isinstance(found, tuple) else (found[:, 0],)
            if tail[0].shape[0]:
                p[tail] = _normal_quantile_tail(xp, w[tail], consts.branches[1:])
        z = xp.multiply(p, x, out=x)
        if recipe.clip:
            xp.clip(z, consts.lower, consts.upper, out=z)
        if recipe.shifted:
            xp.add(z, consts.shift, out=z)
        xp.multiply(xp.reshape(z, out.shape), consts.sigma, out=out)
