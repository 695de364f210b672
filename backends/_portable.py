"""``rng="portable"``: every element a pure function of (seed, stream, its flat index in the global tensor).

Bits. Element e (C-order flat index in the global tensor) of a float32 (and float16/bfloat16, drawn
as float32 and rounded) tensor takes word e mod 4 of Philox-4x32-10 at counter
(⌊e/4⌋ mod 2³², ⌊e/4⌋ >> 32, stream mod 2³², stream >> 32) under key (seed mod 2³², seed >> 32);
a float64 element takes words 2(e mod 2), 2(e mod 2) + 1 at counter ⌊e/2⌋. A block of the tensor
is therefore computed from its own indices alone: any shard equals the same block of the whole.

Floats. k = the top 24 bits of the word (float32) or 27 + 26 bits of two words (float64), an exact
integer in the float type. Uniform: (k + c)·s with c = low/s, s = (high − low)/2²⁴ (or 2⁵³): an
add, then a multiply, each correctly rounded on every backend and never contracted into an FMA
(contraction fuses a multiply into a following add, not the reverse), so uniform draws are
bit-identical everywhere. Normal and truncated normal: x = (k + c)·s uniform in
(erf(lower/√2), erf(upper/√2)) (in (−1, 1) for an untruncated normal), z = √2·erfinv(x) by Giles'
polynomials (GPU Computing Gems, 2011), clipped to [lower, upper], then (z + mean/σ)·σ. A one-sided
truncation window (lower ≥ 0 or upper ≤ 0) instead mirrors the window into the lower tail
(−upper, −lower when lower ≥ 0), takes x uniform in (Φ(a), Φ(b)) there, where small probabilities keep
their relative precision, and z = Φ⁻¹(x) by AS241 (:mod:`._tail`); σ and mean/σ are negated for a
mirrored window, so (z − mean/σ)·(−σ) is the value. The erfinv
step calls the backend's ``log`` and ``sqrt`` and XLA contracts its Horner steps into FMAs, so
normals agree across backends to a few ulps (``NORMAL_ULPS``), not bit for bit; float16 and
bfloat16 are rounded from those float32 values, so they agree unless a draw lies within a few
float32 ulps of a rounding boundary. Orthogonal: the Gaussian is portable, the QR is the
backend's (``ORTHOGONAL_ATOL``).

Speed. NumPy, torch and TensorFlow walk the block's contiguous runs: one Philox call gives four
float32 elements. NumPy and torch run it in cache-sized chunks through ``out=`` into preallocated
buffers (:class:`PhiloxBuffers`: five array passes a round over (2, n) word pairs; then
:class:`InPlaceValues`). The chunks are independent, so on CPU they are spread over worker threads
(both release the GIL inside each call): torch as many as ``torch.get_num_threads()``, each running
its ops on its own thread, NumPy one unless ``WINIT_NUM_THREADS`` asks for more (its calls are short,
so its workers mostly hand the GIL to each other); ``WINIT_NUM_THREADS`` sets both. The values never
depend on it. TensorFlow runs draws of 2¹⁶
counters or more as XLA-compiled kernels (:func:`compiled_run_values`), smaller ones eagerly;
torch does too, through torch.compile, with ``WINIT_TORCH_COMPILE=1``. JAX computes each element
from its own index under ``jax.jit`` (a pure map, so ``out_shardings`` makes each device generate
only its shard) at the price of one Philox call per element. XLA (JAX, and TensorFlow's kernels)
contracts the normal's polynomial into FMAs, so those normals differ from NumPy's and torch's by a
few ulps (within ``NORMAL_ULPS``); uniform draws stay bit-identical.
"""

from __future__ import annotations

import contextlib
import functools
import hashlib
import math
import numbers
import os
import threading
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any, Final

from winit._laws import Constant, Dirac, Identity, Normal, Orthogonal, TruncatedNormal, Uniform, ZerO
from winit._schemes import Plan

from ._common import (
    MAX_SEED,
    check_fits,
    check_seed,
    clamp_support,
    dirac,
    dtype_name,
    identity,
    orthogonal,
    zer_o,
)
from ._philox import MASK32, InPlaceWords, NarrowWordArithmetic, PhiloxBuffers, WordArithmetic, philox4x32
from ._tail import QuantileConstants, check_window_fits, normal_quantile, tail_window

RNGS: Final[tuple[str, ...]] = ("native", "portable")
MAX_STREAM: Final = 2**64 - 1
#: the largest difference between two backends' portable normal or truncated-normal draws, in units
#: in the last place of max(|x|, σ) (uniform draws are bit-identical). Measured on 4M-element float32
#: and float64 draws: ≤ 4 for zero-mean laws, 6 with mean/σ = 6; tests/test_portable.py pins it.
NORMAL_ULPS: Final = 8
#: the largest |difference| per unit gain between two backends' portable orthogonal float32 matrices
#: up to 64×64 (same Gaussian, each backend's QR); measured ≤ 2.6e-7.
ORTHOGONAL_ATOL: Final = 2e-6

Block = tuple[tuple[int, int], ...]  # (start, stop) per axis, in global coordinates

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


# -- arguments -----------------------------------------------------------------------------------------
def check_rng(rng: object) -> str:
    """``rng`` if it is "native" or "portable", else a ValueError/TypeError naming both."""
    from winit._validate import choice

    return choice("rng", rng, RNGS)


def draw_options(rng: object, stream: object, native_draw: str) -> dict[str, Any]:
    """``realize``'s rng/stream keywords, checked now: {} for the native draw, else portable with ``stream``.

    ``native_draw`` names the front door's native sampler in the error for a stream without rng='portable'.
    """
    if check_rng(rng) == "native":
        if stream is not None:
            raise ValueError(f"stream={stream!r} needs rng='portable' ({native_draw} has no streams)")
        return {}
    stream_id(stream)  # TypeError/ValueError for a bad stream, now
    return {"rng": "portable", "stream": stream}


def portable_seed(seed: object) -> int:
    """The Philox key as one int in [0, 2⁶³ − 1]; None draws fresh entropy; a backend generator is refused."""
    if seed is not None and not isinstance(seed, numbers.Integral):
        raise TypeError(
            f"rng='portable' takes an int seed (or None for fresh entropy), got {type(seed).__name__}; "
            "a backend generator or key only drives rng='native'"
        )
    return check_seed(seed)


def stream_id(stream: object) -> int:
    """A stream's 64-bit id: an int in [0, 2⁶⁴) as given, a str as blake2b-64(name) (little-endian), None as 0."""
    if stream is None:
        return 0
    if isinstance(stream, str):
        return int.from_bytes(hashlib.blake2b(stream.encode(), digest_size=8).digest(), "little")
    if isinstance(stream, bool) or not isinstance(stream, numbers.Integral):
        raise TypeError(f"stream must be a str (a parameter name), an int or None, got {stream!r}")
    if not 0 <= int(stream) <= MAX_STREAM:
        raise ValueError(f"an int stream must be in [0, 2**64 - 1], got {stream}")
    return int(stream)


def normalize_shard(shard: object, shape: tuple[int, ...]) -> Block:
    """``shard`` (None, a slice, or a tuple of slices, one per leading axis) as (start, stop) per axis of ``shape``."""
    if shard is None:
        return tuple((0, n) for n in shape)
    if not isinstance(shard, (tuple, slice)):
        raise TypeError(
            f"shard must be a slice or a tuple of slices (for jax also a jax.sharding.Sharding), "
            f"got {type(shard).__name__}"
        )
    index = shard if isinstance(shard, tuple) else (shard,)
    if len(index) > len(shape):
        raise ValueError(f"shard {shard!r} has {len(index)} entries but the tensor has shape {shape}")
    block: list[tuple[int, int]] = []
    for axis, entry in enumerate(index):
        if not isinstance(entry, slice):
            raise TypeError(
                f"shard entries must be slices (e.g. slice(0, 128)); entry {axis} is {entry!r}. "
                "A shard keeps every axis: write slice(i, i + 1) rather than i"
            )
        start, stop, step = entry.indices(shape[axis])
        if step != 1:
            raise ValueError(f"shard slices must have step 1 (a block), got {entry!r} on axis {axis}")
        block.append((start, max(start, stop)))
    block.extend((0, n) for n in shape[len(index) :])
    return tuple(block)


def is_jax_key(seed: object) -> bool:
    """Whether ``seed`` is a JAX PRNG key: a typed key array or a raw uint32[2] one (possibly traced)."""
    if type(seed).__module__.split(".")[0] not in ("jax", "jaxlib"):
        return False
    import jax
    import jax.numpy as jnp

    dtype = getattr(seed, "dtype", None)
    return dtype is not None and (
        jnp.issubdtype(dtype, jax.dtypes.prng_key) or (dtype == jnp.uint32 and seed.shape == (2,))  # type: ignore[attr-defined]
    )


def jax_key_words(key: Any) -> Any:
    """The Philox key (k0, k1) of a JAX key as a traceable uint32[2]: (data[1], data[0]).

    A key made by ``jax.random.key(seed)`` (threefry: data = [seed >> 32, seed mod 2³²]) so gives
    the words of the int ``seed`` itself: a Flax initializer keyed by it draws ``winit.init(seed=seed)``.
    """
    import jax
    import jax.numpy as jnp

    data = jax.random.key_data(key) if jnp.issubdtype(key.dtype, jax.dtypes.prng_key) else key
    if data.shape != (2,):
        raise TypeError(
            f"rng='portable' takes a 2-word (threefry) JAX key, got key data of shape {tuple(data.shape)}"
        )
    return jnp.asarray(data, dtype=jnp.uint32)[::-1]


def key_words(seed: int) -> tuple[int, int]:
    """Philox key (k0, k1) = (seed mod 2³², seed >> 32)."""
    if not 0 <= seed <= MAX_SEED:
        raise ValueError(f"seed must be in [0, 2**63 - 1], got {seed}")
    return seed & MASK32, seed >> 32


# -- bits → floats -------------------------------------------------------------------------------------
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


# -- counters -------------------------------------------------------------------------------------------
def _strides(shape: Sequence[int]) -> list[int]:
    strides, step = [], 1
    for n in reversed(shape):
        strides.append(step)
        step *= n
    return strides[::-1]


def _axis_view(xp: Any, a: Any, axis: int, ndim: int) -> Any:
    view = [1] * ndim
    view[axis] = a.shape[0]
    return xp.reshape(a, tuple(view))


def wide_flat_index(kit: WordArithmetic, block: Block, strides: Sequence[int]) -> Any:
    """Σ (start + i)·stride over the axes: each block element's flat index, in 64-bit words (block-shaped)."""
    xp, ndim = kit.xp, len(block)
    index: Any = kit.const(0)
    for axis, ((start, stop), stride) in enumerate(zip(block, strides, strict=True)):
        term = kit.arange(start * stride, stop * stride, stride) if stop > start else kit.arange(0, 0)
        index = xp.add(index, _axis_view(xp, term, axis, ndim))
    return xp.broadcast_to(index, tuple(b - a for a, b in block))


def flat_index(kit: WordArithmetic, shape: Sequence[int], block: Block) -> tuple[Any, Any]:
    """(lo, hi): the 32-bit halves of each block element's C-order flat index in ``shape`` (block-shaped).

    Wide words add the per-axis terms directly; uint32 words add them with an explicit carry, so
    tensors past 2³² elements index correctly without 64-bit integers.
    """
    xp, ndim = kit.xp, len(shape)
    strides = _strides(shape)
    if kit.wide:
        index = wide_flat_index(kit, block, strides)
        return kit.mask(index, 32), kit.shift_right(index, 32)
    if not isinstance(kit, NarrowWordArithmetic):  # pragma: no cover - the two kinds of kit
        raise TypeError(f"unknown word arithmetic {kit!r}")
    lo: Any = kit.const(0)
    hi: Any = kit.const(0)
    for axis, ((start, stop), stride) in enumerate(zip(block, strides, strict=True)):
        if stop > 2**32:
            raise ValueError(f"axis {axis} of {tuple(shape)} is longer than 2**32")
        g = kit.arange(start, stop)
        term_lo = xp.multiply(g, kit.const(stride & MASK32))
        term_hi = xp.add(kit.mulhi(g, stride & MASK32), xp.multiply(g, kit.const((stride >> 32) & MASK32)))
        term_lo, term_hi = _axis_view(xp, term_lo, axis, ndim), _axis_view(xp, term_hi, axis, ndim)
        total = xp.add(lo, term_lo)
        carry = xp.astype(total < term_lo, kit.dtype)  # uint32 addition wrapped: carry into hi
        hi = xp.add(xp.add(hi, term_hi), carry)
        lo = total
    block_shape = tuple(b - a for a, b in block)
    return xp.broadcast_to(lo, block_shape), xp.broadcast_to(hi, block_shape)


def elementwise_words(
    kit: WordArithmetic,
    shape: Sequence[int],
    block: Block,
    key: Sequence[Any],
    stream: Sequence[Any],
    per_element: int,
) -> list[Any]:
    """Each block element's ``per_element`` Philox words, computed from its own flat index (a pure map)."""
    xp = kit.xp
    lanes = 4 // per_element
    shift = lanes.bit_length() - 1
    lo, hi = flat_index(kit, shape, block)
    lane = kit.mask(lo, shift)
    counter_lo = xp.bitwise_or(kit.shift_right(lo, shift), kit.mask(kit.shift_left(hi, 32 - shift), 32))
    counter_hi = kit.shift_right(hi, shift)
    w = philox4x32(kit, (counter_lo, counter_hi, stream[0], stream[1]), key)
    if per_element == 1:
        is_lane = [xp.equal(lane, kit.const(j)) for j in range(3)]
        return [xp.where(is_lane[0], w[0], xp.where(is_lane[1], w[1], xp.where(is_lane[2], w[2], w[3])))]
    first = xp.equal(lane, kit.const(0))
    return [xp.where(first, w[0], w[2]), xp.where(first, w[1], w[3])]


def elementwise_values(
    xp: Any,
    kit: WordArithmetic,
    shape: Sequence[int],
    block: Block,
    key: Sequence[Any],
    stream: Sequence[Any],
    recipe: Recipe,
    consts: Constants,
    dtype: Any,
    mutable: bool,
) -> Any:
    """The block's values, every element from its own index: no reshapes, so XLA can partition it freely."""
    words = elementwise_words(kit, shape, block, key, stream, recipe.words)
    k = integers_from_words(xp, kit, words, recipe, dtype)
    return values_from_integers(xp, k, recipe, consts, mutable)


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


@dataclass(frozen=True)
class _Runs:
    """A block as R runs of consecutive flat indices (axes after the last partially covered one are whole).

    ``starts``: each run's first flat index (R words), or None for one run starting at ``first``;
    ``offset``: where the run starts inside its first counter (the same for every run), or −1 when
    that differs from run to run; ``width``: counters covering one run; ``run``: its length.
    """

    starts: Any
    rows: int
    offset: int
    width: int
    run: int
    first: int
    lanes: int
    shift: int

    @classmethod
    def of(cls, xp: Any, kit: WordArithmetic, shape: Sequence[int], block: Block, recipe: Recipe) -> _Runs:
        """The runs of a non-empty ``block`` of ``shape`` (at least one axis)."""
        ndim = len(shape)
        strides = _strides(shape)
        split = max([0, *(axis for axis in range(ndim) if block[axis] != (0, shape[axis]))])
        run = (block[split][1] - block[split][0]) * strides[split]
        first = block[split][0] * strides[split]
        lanes = 4 // recipe.words
        starts: Any = None
        if split == 0:
            rows, offset = 1, first % lanes
        else:
            # the flat index of each run's first element: the leading axes' terms plus ``first``
            leading = wide_flat_index(kit, block[:split], strides[:split])
            starts = xp.reshape(xp.add(leading, kit.const(first)), (-1,))
            rows = math.prod(b - a for a, b in block[:split])
            aligned = all(strides[axis] % lanes == 0 for axis in range(split))
            offset = (first + sum(block[a][0] * strides[a] for a in range(split))) % lanes if aligned else -1
        width = ((lanes - 1 if offset < 0 else offset) + run + lanes - 1) // lanes
        return cls(starts, rows, offset, width, run, first, lanes, lanes.bit_length() - 1)

    def trim(self, xp: Any, kit: WordArithmetic, values: Any, r0: int, r1: int) -> Any:
        """Rows r0..r1 of ``values`` (each ``width``·lanes elements from its first counter), cut to their runs."""
        if self.offset >= 0:
            return values[:, self.offset : self.offset + self.run]
        local = xp.reshape(kit.mask(self.starts[r0:r1], self.shift), (r1 - r0, 1))
        take = xp.add(local, xp.reshape(kit.arange(0, self.run), (1, self.run)))
        # int64 indices: TensorFlow gathers by signed integers only
        return xp.take_along_axis(values, xp.astype(take, xp.int64), axis=1)


def run_values(
    xp: Any,
    kit: WordArithmetic,
    shape: Sequence[int],
    block: Block,
    key: Sequence[int],
    stream: Sequence[int],
    recipe: Recipe,
    consts: Constants,
    dtype: Any,
    mutable: bool,
    chunk: int,
    engine: _Engine | None = None,
) -> Any:
    """The block's values by contiguous runs of flat indices; each Philox call yields 4 (2) elements.

    Axes after the last partially covered one are whole, so the block is R runs of L consecutive
    flat indices (R = product of the earlier block lengths). Counters cover each run from its first
    element's counter; runs are computed ``chunk`` counters at a time, then trimmed to their elements.
    ``xp`` does the float and shaping work, ``kit`` the integer words (it may use a leaner namespace).
    ``engine`` (NumPy, torch) computes the chunks in place, on its threads.
    """
    block_shape = tuple(b - a for a, b in block)
    if len(shape) == 0:
        return xp.reshape(
            run_values(xp, kit, (1,), ((0, 1),), key, stream, recipe, consts, dtype, mutable, chunk, engine),
            (),
        )
    if 0 in block_shape:
        return xp.zeros(block_shape, dtype=dtype, device=kit.device)
    layout = _Runs.of(xp, kit, shape, block, recipe)
    if engine is not None and isinstance(kit, InPlaceWords):
        values = _in_place_values(xp, kit, layout, key, stream, recipe, consts, dtype, engine)
        return xp.reshape(layout.trim(xp, kit, values, 0, layout.rows), block_shape)
    starts, rows, width, lanes = layout.starts, layout.rows, layout.width, layout.lanes
    rows_per_chunk = max(1, chunk // width)
    segment = min(width, chunk)
    pieces = []
    for r0 in range(0, rows, rows_per_chunk):
        r1 = min(rows, r0 + rows_per_chunk)
        if starts is None:
            row_counter: Any = layout.first >> layout.shift
        else:
            row_counter = xp.reshape(kit.shift_right(starts[r0:r1], layout.shift), (r1 - r0, 1))
        segments = []
        for j0 in range(0, width, segment):
            j1 = min(width, j0 + segment)
            steps = xp.reshape(kit.arange(j0, j1), (1, j1 - j0))
            counter = xp.add(steps, kit.const(row_counter)) if starts is None else xp.add(steps, row_counter)
            w = philox4x32(
                kit, (kit.mask(counter, 32), kit.shift_right(counter, 32), stream[0], stream[1]), key
            )
            if recipe.words == 1:
                k = integers_from_words(xp, kit, [xp.stack(w, axis=-1)], recipe, dtype)
            else:
                k = integers_from_words(
                    xp, kit, [xp.stack(w[0::2], axis=-1), xp.stack(w[1::2], axis=-1)], recipe, dtype
                )
            segments.append(
                xp.reshape(values_from_integers(xp, k, recipe, consts, mutable), (r1 - r0, (j1 - j0) * lanes))
            )
        values = segments[0] if len(segments) == 1 else xp.concat(segments, axis=1)
        pieces.append(layout.trim(xp, kit, values, r0, r1))
    out = pieces[0] if len(pieces) == 1 else xp.concat(pieces, axis=0)
    return xp.reshape(out, block_shape)


#: a worker thread of an in-place draw takes at least this many chunks (fewer: not worth its start)
MIN_CHUNKS_PER_THREAD: Final = 4
#: the most threads one in-place draw uses: past this, the GIL-bound call overhead stops the scaling
MAX_THREADS: Final = 8
_pool_lock = threading.Lock()
_pools: dict[tuple[int, int], ThreadPoolExecutor] = {}


def _pool(threads: int) -> ThreadPoolExecutor:
    """A pool of ``threads`` workers, kept for later draws (starting threads costs ~100 µs each).

    Keyed by process id too: a forked child (a DataLoader worker, say) inherits the parent's pool
    object but not its threads, and work submitted there would never run.
    """
    key = (os.getpid(), threads)
    with _pool_lock:
        if key not in _pools:
            _pools[key] = ThreadPoolExecutor(threads, thread_name_prefix="winit-portable")
        return _pools[key]


def _in_place_values(
    xp: Any,
    kit: InPlaceWords,
    layout: _Runs,
    key: Sequence[int],
    stream: Sequence[int],
    recipe: Recipe,
    consts: Constants,
    dtype: Any,
    engine: _Engine,
) -> Any:
    """(rows, width·lanes) values of ``layout``'s counters, chunk by chunk through ``out=`` buffers.

    The chunks are independent (each a pure function of its counters), so ``engine.threads``
    workers take contiguous ranges of them, each with its own buffers, writing disjoint parts of
    one result: the values do not depend on the thread count.
    """
    rows, width, lanes, chunk = layout.rows, layout.width, layout.lanes, engine.chunk
    rows_per_chunk = max(1, chunk // width)
    segment = min(width, chunk)
    values = xp.empty((rows, width * lanes), dtype=dtype, device=kit.device)
    tasks = [
        (r0, min(rows, r0 + rows_per_chunk), j0, min(width, j0 + segment))
        for r0 in range(0, rows, rows_per_chunk)
        for j0 in range(0, width, segment)
    ]
    row_counters = None if layout.starts is None else kit.shift_right(layout.starts, layout.shift)
    capacity = min(chunk, rows * width)

    def work(part: Sequence[tuple[int, int, int, int]]) -> None:
        philox_words = PhiloxBuffers(kit, capacity)
        fill = InPlaceValues(kit, recipe, consts, dtype, capacity)
        steps = kit.arange(0, segment)
        counters = xp.empty((capacity,), dtype=kit.dtype, device=kit.device)
        for r0, r1, j0, j1 in part:
            n = (r1 - r0) * (j1 - j0)
            counter = counters[:n]
            if row_counters is None:
                xp.add(steps[: j1 - j0], (layout.first >> layout.shift) + j0, out=counter)
            else:
                grid = xp.reshape(counter, (r1 - r0, j1 - j0))
                xp.add(
                    xp.reshape(steps[: j1 - j0], (1, -1)), xp.reshape(row_counters[r0:r1], (-1, 1)), out=grid
                )
                if j0:
                    xp.add(counter, j0, out=counter)
            fill(philox_words(counter, stream, key), values[r0:r1, j0 * lanes : j1 * lanes])

    threads = max(1, min(engine.threads, len(tasks) // MIN_CHUNKS_PER_THREAD))
    if threads == 1:
        work(tasks)
        return values
    bounds = [len(tasks) * i // threads for i in range(threads + 1)]
    parts = [tasks[bounds[i] : bounds[i + 1]] for i in range(threads)]
    for future in [_pool(threads).submit(engine.in_worker(work), part) for part in parts]:
        future.result()
    return values


#: Draws from tensors of at least this many Philox counters (the whole tensor's, so that every
#: shard takes its whole's path) run as compiled kernels of up to
#: ``CALL_COUNTERS[framework]`` counters each (one fused loop instead of ~150 eager ops over
#: memory): always on TensorFlow (XLA), on torch with ``WINIT_TORCH_COMPILE=1`` (torch.compile).
#: Smaller ones run eagerly, where the compile (a second for XLA, several for torch.compile, once
#: per law kind and size class) would cost more than it saves. On CPU a call's words (32 MB at 1M
#: counters) stay in cache; a GPU wants few, large calls (measured on an H100: a 16384² draw in 64
#: calls of 1M counters took 12 ms, in one call 2 ms), so torch on an accelerator takes 16M at once.
XLA_MIN_COUNTERS: int = 1 << 16
CALL_COUNTERS: Final = {"tensorflow": 1 << 20, "torch": 1 << 20, "torch-accelerator": 1 << 24}
_XLA_SEGMENT: Final = 1 << 16  # counters per kernel row: long runs are cut into rows this long
_compile_unavailable: dict[str, str] = {}  # framework → the error that made its compiled path fall back


def _kernel_body(
    xp: Any, kit: WordArithmetic, stack: Any, starts: Any, words: Any, numbers_: Any, recipe: Recipe,
    segments: int, width: int, dtype: Any,
) -> Any:  # fmt: skip
    """``segments`` rows of ``width`` counters each, from their first counters ``starts``: their values."""
    consts = Constants(xp, dtype, None, recipe, [numbers_[i] for i in range(6)])
    counter = xp.add(xp.reshape(starts, (segments, 1)), xp.reshape(kit.arange(0, width), (1, width)))
    key, stream = (words[0], words[1]), (words[2], words[3])
    w = philox4x32(kit, (kit.mask(counter, 32), kit.shift_right(counter, 32), *stream), key)
    stacked = [stack(w, -1)] if recipe.words == 1 else [stack(w[0::2], -1), stack(w[1::2], -1)]
    k = integers_from_words(xp, kit, stacked, recipe, dtype)
    values = values_from_integers(xp, k, recipe, consts, mutable=False)
    return xp.reshape(values, (segments, width * (4 // recipe.words)))


@functools.cache
def _tensorflow_kernel(recipe: Recipe, segments: int, width: int, work: str) -> Any:
    """``tf.function(jit_compile=True)`` of :func:`_kernel_body`."""
    import tensorflow as tf

    from .tensorflow import TensorFlowAdapter

    xp, dtype = TensorFlowAdapter.xp, tf.as_dtype(work)

    def kernel(starts: Any, words: Any, numbers_: Any) -> Any:
        kit = WordArithmetic(xp, tf.uint64)
        return _kernel_body(xp, kit, tf.stack, starts, words, numbers_, recipe, segments, width, dtype)

    return tf.function(kernel, jit_compile=True)


@functools.cache
def _torch_kernel(recipe: Recipe, segments: int, width: int, work: str) -> Any:
    """``torch.compile`` of :func:`_kernel_body` (Inductor: a C++/OpenMP loop on CPU, a Triton kernel on CUDA)."""
    import array_api_compat.torch as xp
    import torch

    dtype = getattr(torch, work)

    def kernel(starts: Any, words: Any, numbers_: Any) -> Any:
        kit = WordArithmetic(xp, torch.int64, signed=True, device=starts.device)
        return _kernel_body(xp, kit, torch.stack, starts, words, numbers_, recipe, segments, width, dtype)

    return torch.compile(kernel, dynamic=False, fullgraph=True)


def torch_compile_enabled() -> bool:
    """Whether ``WINIT_TORCH_COMPILE`` asks for compiled torch kernels ("1") or not ("0", unset)."""
    setting = os.environ.get("WINIT_TORCH_COMPILE", "0").strip()
    if setting not in ("0", "1"):
        raise ValueError(f"WINIT_TORCH_COMPILE must be '0' or '1', got {setting!r}")
    return setting == "1"


def _is_compile_failure(framework: str, error: Exception) -> bool:
    """Whether ``error`` says the framework cannot compile here (no XLA, no C++ compiler), not a bug of ours."""
    if framework == "tensorflow":
        import tensorflow as tf

        failures = (tf.errors.UnimplementedError, tf.errors.InvalidArgumentError, tf.errors.NotFoundError)
        return isinstance(error, failures) and ("XLA" in str(error) or "jit" in str(error).lower())
    return type(error).__module__.startswith(("torch._dynamo", "torch._inductor"))


def compiled_run_values(
    framework: str,
    xp: Any,
    kit: WordArithmetic,
    shape: Sequence[int],
    block: Block,
    key: Sequence[int],
    stream: Sequence[int],
    recipe: Recipe,
    numbers_: Sequence[float],
    work: str,
    work_dtype: Any,
) -> Any:
    """:func:`run_values` through compiled kernels, or None for a draw too small to pay for one.

    Runs are cut into rows of a power-of-two width (at most ``_XLA_SEGMENT`` counters) and the rows
    batched ``segments`` to a call, so a handful of kernel shapes serve every tensor size.
    """
    block_shape = tuple(b - a for a, b in block)
    if framework in _compile_unavailable or len(shape) == 0 or 0 in block_shape:
        return None
    # Decided by the whole tensor's size, never the block's: eager ops and a compiled kernel round
    # the normal's polynomial differently (XLA and Inductor contract it into FMAs), so a shard must
    # take the path its whole takes to be exactly that block of it.
    if -(-math.prod(shape) * recipe.words // 4) < XLA_MIN_COUNTERS:
        return None
    layout = _Runs.of(xp, kit, shape, block, recipe)
    width = min(_XLA_SEGMENT, 1 << (layout.width - 1).bit_length())
    per_row = -(-layout.width // width)
    total = layout.rows * per_row
    on_cpu = getattr(kit.device, "type", "cpu") == "cpu"
    calls = CALL_COUNTERS[framework if framework != "torch" or on_cpu else "torch-accelerator"]
    segments = min(calls // width, 1 << (total - 1).bit_length())
    if layout.starts is None:
        row_counter = xp.reshape(kit.const(layout.first >> layout.shift), (1, 1))
    else:
        row_counter = xp.reshape(kit.shift_right(layout.starts, layout.shift), (layout.rows, 1))
    steps = xp.reshape(kit.arange(0, per_row * width, width), (1, per_row))
    starts = xp.reshape(xp.add(row_counter, steps), (-1,))
    words = xp.asarray([key[0], key[1], stream[0], stream[1]], dtype=kit.dtype, device=kit.device)
    numbers = xp.asarray(numbers_, dtype=work_dtype, device=kit.device)
    factory = _tensorflow_kernel if framework == "tensorflow" else _torch_kernel
    kernel = factory(recipe, segments, width, work)
    pieces = []
    try:
        for s0 in range(0, total, segments):
            part = starts[s0 : s0 + segments]
            count = int(part.shape[0])
            if count < segments:
                padding = xp.zeros((segments - count,), dtype=kit.dtype, device=kit.device)
                part = xp.concat([part, padding])
            out = kernel(part, words, numbers)
            pieces.append(out if count == segments else out[:count])
    except Exception as error:
        if not _is_compile_failure(framework, error):
            raise
        _compile_unavailable[framework] = str(error)  # e.g. a build without XLA: eager from now on
        return None
    values = pieces[0] if len(pieces) == 1 else xp.concat(pieces, axis=0)
    values = xp.reshape(values, (layout.rows, per_row * width * layout.lanes))
    if not (layout.offset == 0 and layout.run == per_row * width * layout.lanes):
        values = layout.trim(xp, kit, values, 0, layout.rows)
    return xp.reshape(values, block_shape)


# -- backends -------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class _Engine:
    """How one backend runs the generator: its word arithmetic, whether arrays can be assigned into
    (then rare erfinv branches run on their elements only), how many counters a chunk holds, how
    many threads compute chunks."""

    kit: WordArithmetic
    mutable: bool
    chunk: int
    threads: int = 1

    def in_worker(self, work: Callable[[Any], None]) -> Callable[[Any], None]:
        """``work`` as run on a worker thread: torch's intra-op pool off there too (see :func:`_device_scope`)."""
        if not isinstance(self.kit, InPlaceWords) or self.kit.xp.__name__ != "torch":
            return work

        def on_one_thread(part: Any) -> None:
            with _torch_on_this_thread():
                work(part)

        return on_one_thread


def portable_threads(default: int) -> int:
    """Worker threads for a NumPy or torch CPU draw: ``WINIT_NUM_THREADS`` if set, else ``default``, at most 8."""
    setting = os.environ.get("WINIT_NUM_THREADS", "").strip()
    if setting:
        if not setting.isdigit() or int(setting) < 1:
            raise ValueError(f"WINIT_NUM_THREADS must be a positive integer, got {setting!r}")
        return min(MAX_THREADS, int(setting))
    return max(1, min(MAX_THREADS, default))


def _engine(adapter: Any, device: Any) -> _Engine:
    xp = adapter.xp
    if adapter.name == "numpy":
        # uint64 products are exact; 16384 counters a chunk (~1 MB of buffers, in L2) measured
        # fastest. One thread unless WINIT_NUM_THREADS asks for more: NumPy releases the GIL inside
        # each call, but a chunk is ~70 short calls, each a GIL handoff between the workers; on a
        # 2-vCPU VM two threads took 73 ms for a 4096² uniform while the second core was free and
        # 118 ms while it was contended, against a steady 101 ms on one.
        import numpy as np

        kit = InPlaceWords(np, np.uint64, store={"casting": "unsafe"})
        return _Engine(kit, True, 1 << 14, threads=portable_threads(1))
    if adapter.name == "torch":
        # int64 words: torch has no uint64 shifts, and int64 products wrap with their bits intact.
        # On CPU, chunks of 32768 counters (buffers in cache) run on as many worker threads as
        # torch's intra-op setting allows, each op on its thread alone (see _device_scope); a GPU
        # wants few large launches. The words use torch itself: its integer ops spell the array
        # API's names, take ``out=``, and each call skips array_api_compat's promotion wrapper.
        import torch

        cpu = getattr(device, "type", "cpu") == "cpu"
        kit = InPlaceWords(torch, torch.int64, signed=True, device=device)
        threads = portable_threads(torch.get_num_threads()) if cpu else 1
        return _Engine(kit, True, 1 << 15 if cpu else 1 << 22, threads=threads)
    if adapter.name == "tensorflow":  # eager ops cost ~10 µs each: fewer, larger chunks
        return _Engine(WordArithmetic(xp, xp.uint64, device=device), False, 1 << 20)
    raise TypeError(f"rng='portable' has no engine for backend {adapter.name!r}")


@functools.cache
def _jax_kernel() -> Any:
    """``jax.jit`` of the element-wise generator; key, stream and the law's numbers are traced."""
    import jax
    import jax.numpy as jnp

    def kernel(
        words: Any, numbers_: Any, *, shape: tuple[int, ...], block: Block, recipe: Recipe, work: str
    ) -> Any:
        dtype = jnp.dtype(work)
        kit = NarrowWordArithmetic(jnp, jnp.uint32)
        consts = Constants(jnp, dtype, None, recipe, [numbers_[i] for i in range(6)])
        key, stream = (words[0], words[1]), (words[2], words[3])
        return elementwise_values(jnp, kit, shape, block, key, stream, recipe, consts, dtype, mutable=False)

    return jax.jit(kernel, static_argnames=("shape", "block", "recipe", "work"))


def _jax_arguments(key: Any, stream: int, numbers_: Sequence[float], work: str) -> tuple[Any, Any]:
    """The kernel's words (k0, k1, stream lo, stream hi) and the law's numbers; ``key``: two ints or a uint32[2]."""
    import jax.numpy as jnp
    import numpy as np

    numbers = jnp.asarray(np.asarray(numbers_, dtype=work))
    stream_words = np.array([stream & MASK32, stream >> 32], dtype=np.uint32)
    if isinstance(key, tuple):
        return jnp.asarray(np.array([key[0], key[1], *stream_words], dtype=np.uint32)), numbers
    return jnp.concatenate([key, jnp.asarray(stream_words)]), numbers  # a traced JAX key


def _device_scope(adapter: Any, device: Any) -> Any:
    """TensorFlow places ops by context, not by argument: enter ``tf.device`` for the whole draw.

    torch on CPU runs the draw on this thread alone: its chunks are sized to stay under torch's
    parallel grain anyway, except that ``log`` and ``sqrt`` split anything over 2048 elements, and
    waking the intra-op pool for each chunk's log costs more than the log (milliseconds on a busy machine).
    """
    if adapter.name == "tensorflow" and device is not None:
        import tensorflow as tf

        return tf.device(device)
    if adapter.name == "torch" and getattr(device, "type", "cpu") == "cpu":
        return _torch_on_this_thread()
    return contextlib.nullcontext()


@functools.cache
def _openmp() -> Any:
    """The OpenMP runtime under torch's intra-op pool (ctypes), or None where it is not found.

    ``torch.set_num_threads`` is process-wide (it also sets the count every thread's first torch op
    copies, and the pthreadpool's size), so concurrent torch work elsewhere would change; OpenMP's
    own ``omp_set_num_threads`` sets the calling thread's count alone, which is what a draw needs.
    """
    import ctypes
    import ctypes.util

    import torch

    torch.get_num_threads()  # loads torch's runtime and sets this thread's count first
    lib = os.path.join(os.path.dirname(torch.__file__), "lib")
    names = sorted(os.listdir(lib)) if os.path.isdir(lib) else []
    candidates = [os.path.join(lib, n) for n in names if n.startswith(("libgomp", "libiomp", "libomp"))]
    candidates.append("")  # symbols already loaded into the process (torch's runtime, globally)
    for path in candidates:
        try:
            runtime = ctypes.CDLL(path or None)
            if runtime.omp_get_max_threads() == torch.get_num_threads():
                return runtime
        except (OSError, AttributeError):
            continue
    return None


@contextlib.contextmanager
def _torch_on_this_thread() -> Iterator[None]:
    """torch's intra-op threads set to 1 for the block, on the calling thread only (OpenMP's count), then restored.

    Never ``torch.set_num_threads``: that changes every thread's count. Without an OpenMP runtime
    the draw runs as torch schedules it: the values are the same, only slower on small chunks.
    """
    import torch

    threads = torch.get_num_threads()  # torch's first op on a thread sets its count: do that first
    runtime = _openmp() if threads > 1 else None
    if runtime is not None:
        runtime.omp_set_num_threads(1)
    try:
        yield
    finally:
        if runtime is not None:
            runtime.omp_set_num_threads(threads)


def draw_values(
    adapter: Any,
    law: Uniform | Normal | TruncatedNormal,
    shape: tuple[int, ...],
    block: Block,
    key: Any,
    stream: int,
    dtype: str,
    device: Any,
) -> Any:
    """``block`` of the global ``shape`` tensor drawn from ``law`` (see the module docstring for the bits)."""
    native = adapter.native_dtype(dtype)
    block_shape = tuple(b - a for a, b in block)
    if isinstance(law, Uniform) and law.low == law.high:
        return adapter.full(block_shape, law.low, native, device)
    if isinstance(law, (Normal, TruncatedNormal)) and law.sigma == 0:
        return adapter.full(block_shape, law.mean, native, device)
    if isinstance(law, TruncatedNormal):
        check_window_fits(law.mean, law.sigma, law.lower, law.upper, dtype)
    work = "float64" if dtype == "float64" else "float32"
    recipe, numbers_ = recipe_for(law, work == "float64")
    xp = adapter.xp
    if adapter.name == "jax":
        words, params = _jax_arguments(key, stream, numbers_, work)
        values = _jax_kernel()(words, params, shape=shape, block=block, recipe=recipe, work=work)
        if device is not None:
            import jax

            values = jax.device_put(values, device)
    else:
        engine = _engine(adapter, device)
        work_dtype = adapter.native_dtype(work)
        words = (stream & MASK32, stream >> 32)
        values = None
        if adapter.name == "torch" and torch_compile_enabled():  # on torch's own threads, outside the scope
            values = compiled_run_values(
                "torch", xp, engine.kit, shape, block, key, words, recipe, numbers_, work, work_dtype
            )
        with _device_scope(adapter, device):
            if adapter.name == "tensorflow":
                values = compiled_run_values(
                    "tensorflow", xp, engine.kit, shape, block, key, words, recipe, numbers_, work, work_dtype
                )
            if values is None:
                consts = Constants(xp, work_dtype, device, recipe, numbers_)
                values = run_values(
                    xp, engine.kit, shape, block, key, words, recipe, consts, work_dtype, engine.mutable,
                    engine.chunk, engine,
                )  # fmt: skip
    return values if work == dtype else xp.astype(values, native)


class _GaussianSource:
    """Stands in for the adapter inside ``_common.orthogonal``: ``normal`` is the portable draw.

    The (rows, cols) Gaussian is rows [row_start, row_start + rows) of a (parent_rows, cols)
    matrix, so a block of a larger parameter (an RNN gate) draws from that parameter's indices.
    """

    orthogonal_draw = "rows_then_transpose"

    def __init__(self, adapter: Any, key: Any, stream: int, parent_rows: int, row_start: int) -> None:
        self.adapter, self.key, self.stream = adapter, key, stream
        self.parent_rows, self.row_start = parent_rows, row_start

    @property
    def xp(self) -> Any:
        return self.adapter.xp

    def native_dtype(self, name: str) -> Any:
        return self.adapter.native_dtype(name)

    def linalg_dtype(self, name: str) -> str:
        return str(self.adapter.linalg_dtype(name))

    def normal(
        self, rng: Any, shape: tuple[int, ...], dtype: Any, device: Any, mean: float, sigma: float
    ) -> Any:
        rows, cols = shape
        parent = (max(self.parent_rows, rows), cols)
        block = ((self.row_start, self.row_start + rows), (0, cols))
        values = draw_values(
            self.adapter, Normal(mean, sigma), parent, block, self.key, self.stream, dtype_name(dtype), device
        )
        return self.xp.reshape(values, shape)


def _slice(array: Any, block: Block, shape: tuple[int, ...]) -> Any:
    if all(b == (0, n) for b, n in zip(block, shape, strict=True)):
        return array
    return array[tuple(slice(a, b) for a, b in block)]


def realize_block(
    adapter: Any,
    plan: Plan,
    *,
    seed: Any,
    stream: int,
    dtype: str,
    device: Any,
    block: Block,
    parent_shape: tuple[int, ...] | None = None,
    row_start: int = 0,
    axis: int = 0,
) -> Any:
    """``block`` (in ``plan.shape``'s coordinates) of ``plan`` sampled portably; ``seed`` an int (or, for JAX, a key).

    ``plan`` may cover [row_start, row_start + plan.shape[axis]) along ``axis`` of a larger
    ``parent_shape`` tensor (the other axes whole): its elements then take the parent's flat indices, so a piece of
    a parameter draws the same numbers as the same rows of the whole. Orthogonal, identity and
    dirac are built whole and sliced (their block is not computed alone).
    """
    law, shape = plan.law, plan.shape
    check_fits(law, dtype)
    parent = shape if parent_shape is None else parent_shape
    others = [i for i in range(len(shape)) if i != axis]
    if parent != shape and (
        len(parent) != len(shape)
        or any(parent[i] != shape[i] for i in others)
        or row_start + shape[axis] > parent[axis]
    ):
        raise ValueError(
            f"a {shape} piece at {row_start} on axis {axis} does not fit in a {parent} parameter"
        )
    native = adapter.native_dtype(dtype)
    block_shape = tuple(b - a for a, b in block)
    if getattr(device, "type", None) == "meta":  # torch's meta device: a deferred-init placeholder, no values
        return adapter.full(block_shape, 0.0, native, device)
    key = key_words(seed) if isinstance(seed, int) else jax_key_words(seed)
    if isinstance(law, Constant):
        return adapter.full(block_shape, law.value, native, device)
    if isinstance(law, Identity):
        return _slice(identity(adapter, shape, law, native, device), block, shape)
    if isinstance(law, Dirac):
        return _slice(dirac(adapter, shape, law, native, device), block, shape)
    if isinstance(law, ZerO):
        return _slice(zer_o(adapter, shape, law, native, device), block, shape)
    if isinstance(law, Orthogonal) and axis != 0 and parent != shape:
        raise ValueError(
            "a portable orthogonal piece must be a block of rows (axis 0); "
            f"got a {shape} block on axis {axis} of a {parent} parameter"
        )
    if isinstance(law, Orthogonal):
        parent_rows = parent[0] if parent != shape else shape[law.out_axis]
        source: Any = _GaussianSource(adapter, key, stream, parent_rows, row_start if parent != shape else 0)
        with _device_scope(adapter, device):
            whole = orthogonal(source, None, shape, law, dtype, device)
        return _slice(whole, block, shape)
    parent_block = tuple(
        (row_start + a, row_start + b) if i == axis else (a, b) for i, (a, b) in enumerate(block)
    )
    values = draw_values(adapter, law, parent, parent_block, key, stream, dtype, device)
    return clamp_support(adapter.xp, values, law, dtype)  # rounding to the dtype stays inside the support


def _jax_sharding(adapter: Any, shard: object) -> Any:
    """``shard`` if it is a ``jax.sharding.Sharding`` for the jax backend, else None."""
    if adapter.name != "jax" or shard is None or isinstance(shard, (tuple, slice)):
        return None
    import jax

    return shard if isinstance(shard, jax.sharding.Sharding) else None


def realize_portable(
    adapter: Any, plan: Plan, *, seed: object, dtype: object, device: object, stream: object, shard: object
) -> Any:
    """Sample ``plan`` with the portable generator: the ``shard`` block of the global tensor (all of it if None).

    For JAX, ``shard`` may be a ``jax.sharding.Sharding``: the result is the whole tensor laid out
    by it, each device generating only its own block under ``jax.jit(out_shardings=...)``.
    """
    name = dtype_name(dtype)
    dev = adapter.device(device)
    # JAX may key the draw with a JAX key (Flax's init(key, shape)), traced or not: see jax_key_words
    root: Any = seed if adapter.name == "jax" and is_jax_key(seed) else portable_seed(seed)
    sid = stream_id(stream)
    sharding = _jax_sharding(adapter, shard)
    if sharding is not None:
        import jax

        full = normalize_shard(None, plan.shape)

        def whole() -> Any:
            return realize_block(adapter, plan, seed=root, stream=sid, dtype=name, device=None, block=full)

        return jax.jit(whole, out_shardings=sharding)()
    block = normalize_shard(shard, plan.shape)
    return realize_block(adapter, plan, seed=root, stream=sid, dtype=name, device=dev, block=block)
