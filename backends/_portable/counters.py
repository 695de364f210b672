"""Counters: each element's Philox counter from its flat index in the global tensor, and a block as runs.

Element e (C-order flat index) of a float32 tensor takes word e mod 4 at counter ⌊e/4⌋ (a float64
element two words at ⌊e/2⌋), so a block is computed from its own indices alone. Two layouts of the
same counters: element-wise (a pure map, which XLA partitions freely) and :class:`Runs` (the block
as runs of consecutive indices, one Philox call giving 4 or 2 elements).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from .._philox import MASK32, NarrowWordArithmetic, WordArithmetic, philox4x32
from .args import Block
from .bits import Constants, Recipe, integers_from_words, values_from_integers


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


@dataclass(frozen=True)
class Runs:
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
    def of(cls, xp: Any, kit: WordArithmetic, shape: Sequence[int], block: Block, recipe: Recipe) -> Runs:
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
