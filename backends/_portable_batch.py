"""Many small portable draws in one generator pass: the same values as one :func:`realize_block` each.

A model has hundreds of small tensors (biases, norms, small convolutions); drawn one by one, each
pays the engine's fixed cost (buffers, constants, some 150 array calls) for a few thousand
elements. Here the draws that share a law (the same numbers: same recipe, same constants) are
concatenated: every element still takes its own tensor's counter and stream (Philox's input is
(counter, stream) per element, so a counter array and a stream array of the same length are all
that changes), the words go through the engine's own :class:`InPlaceValues` in the engine's
chunks, and each draw's elements are cut back out. Since every value is a pure function of
(seed, stream, flat index) and the same array operations run in the same order, the values are
bit for bit those of :func:`realize_block` (tests/test_portable_batch.py).

Only draws the eager engine would compute alone are taken: a plain law (uniform, normal,
truncated normal with spread), a block that is one run of flat indices (the whole tensor, or rows
of it), and a whole tensor under ``SMALL_COUNTERS`` counters, below the size at which an engine may
switch to compiled kernels (TensorFlow; torch with ``WINIT_TORCH_COMPILE=1``), whose rounding
differs. An engine that does not compute in place (JAX) draws them one by one.
"""

from __future__ import annotations

import contextlib
import math
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Final

import numpy as np

from winit._laws import Normal, TruncatedNormal, Uniform
from winit._schemes import Plan

from . import _portable
from ._common import check_fits, clamp_support
from ._philox import MASK32, InPlaceWords, PhiloxBuffers
from ._portable.fused import FusedEngine, fill
from ._tail import check_window_fits

#: a tensor drawn in a batch has fewer Philox counters than this (the compiled-kernel threshold,
#: ``XLA_MIN_COUNTERS``: smaller draws always run eagerly, batched or not)
SMALL_COUNTERS: Final = 1 << 16

Block = tuple[tuple[int, int], ...]


@dataclass(frozen=True)
class Draw:
    """One portable draw: ``block`` (one run of flat indices) of a ``shape`` tensor of ``plan.law``.

    ``sink`` receives the values (block-shaped, in ``dtype``), e.g. a copy into the parameter.
    """

    plan: Plan
    stream: int
    dtype: str
    shape: tuple[int, ...]
    block: Block
    sink: Callable[[Any], object]


def _eager(
    engine: Any,
) -> tuple[InPlaceWords, int, contextlib.AbstractContextManager[Any]] | None:
    """The adapter's eager engine (a fused one's fallback): its in-place word kit, counters per chunk
    and the scope a draw runs in; None where the engine is not an in-place one."""
    if isinstance(engine, FusedEngine):
        engine = engine.eager
    scope: contextlib.AbstractContextManager[Any] = engine.scope()
    kit = engine.kit
    return (kit, int(engine.chunk), scope) if isinstance(kit, InPlaceWords) else None


def batchable(plan: Plan, shape: tuple[int, ...], block: Block, device: Any) -> bool:
    """Whether this draw can join a batch: see the module docstring."""
    law = plan.law
    if getattr(device, "type", None) == "meta" or not shape:
        return False
    if isinstance(law, Uniform):
        plain = law.low != law.high
    elif isinstance(law, (Normal, TruncatedNormal)):
        plain = law.sigma != 0
    else:
        return False
    if (
        not plain
        or any(b <= a for a, b in block)
        or any(block[i] != (0, n) for i, n in enumerate(shape) if i)
    ):
        return False
    return -(-math.prod(shape) * 2 // 4) < SMALL_COUNTERS  # float64 takes two words an element


def realize_many(adapter: Any, seed: int, device: Any, draws: list[Draw]) -> None:
    """Compute every draw (each :func:`batchable`, all on ``device``) and hand each its values.

    An adapter whose engine does not compute in place (JAX, TensorFlow) draws them one by one.
    """
    groups: dict[tuple[Uniform | Normal | TruncatedNormal, str], list[Draw]] = {}
    for draw in draws:
        check_fits(draw.plan.law, draw.dtype)
        plain = draw.plan.law
        if not isinstance(plain, (Uniform, Normal, TruncatedNormal)):
            raise TypeError(f"only uniform and (truncated) normal laws are drawn in batches, got {plain!r}")
        if isinstance(plain, TruncatedNormal):
            check_window_fits(plain.mean, plain.sigma, plain.lower, plain.upper, draw.dtype)
        work = "float64" if draw.dtype == "float64" else "float32"
        groups.setdefault((plain, work), []).append(draw)
    if not groups:
        return
    engine = adapter.portable_engine(device)
    if isinstance(engine, FusedEngine):  # the fused kernel takes the concatenated rows directly
        fused = {group: members for group, members in groups.items() if not recipe_of(*group).tail}
        for (law, work), members in fused.items():
            _fused_group(adapter, engine, seed, law, work, members)
        groups = {group: members for group, members in groups.items() if group not in fused}
        draws = [draw for members in groups.values() for draw in members]
        if not groups:
            return
    eager = _eager(engine)
    if eager is None:
        for draw in draws:
            start = draw.block[0][0]
            piece = tuple((0, b - a) for a, b in draw.block)
            values = _portable.realize_block(
                adapter, draw.plan, seed=seed, stream=draw.stream, dtype=draw.dtype, device=device,
                block=piece, parent_shape=draw.shape, row_start=start, axis=0,
            )  # fmt: skip
            draw.sink(values)
        return
    kit, chunk, scope = eager
    key = _portable.key_words(seed)
    with scope:
        for (law, work), members in groups.items():
            _draw_group(adapter, kit, chunk, key, law, work, members)


def recipe_of(law: Uniform | Normal | TruncatedNormal, work: str) -> _portable.Recipe:
    """The recipe of ``law`` in the ``work`` float type."""
    return _portable.recipe_for(law, work == "float64")[0]


def _fused_group(
    adapter: Any, engine: FusedEngine, seed: int, law: Uniform | Normal | TruncatedNormal, work: str,
    members: list[Draw],
) -> None:  # fmt: skip
    """One law's draws as rows of one fused-kernel call: row i is draw i's run under its own stream."""
    recipe, numbers_ = _portable.recipe_for(law, work == "float64")
    lanes = 4 // recipe.words
    firsts = np.asarray([d.block[0][0] * math.prod(d.shape[1:]) for d in members], dtype=np.int64)
    run = np.asarray(
        [(d.block[0][1] - d.block[0][0]) * math.prod(d.shape[1:]) for d in members], dtype=np.int64
    )
    start = np.cumsum(run) - run
    streams = np.asarray([d.stream for d in members], dtype=np.uint64)
    values = np.empty(int(run.sum()), dtype=work)
    fill(
        values, (firsts // lanes).astype(np.uint64), firsts % lanes, run, start,
        (streams & np.uint64(MASK32), streams >> np.uint64(32)), _portable.key_words(seed), recipe, numbers_,
        engine.threads,
    )  # fmt: skip
    for draw, at, n in zip(members, start.tolist(), run.tolist(), strict=True):
        piece = engine.wrap(values[at : at + n].reshape(tuple(b - a for a, b in draw.block)))
        if draw.dtype != work:
            piece = adapter.xp.astype(piece, adapter.native_dtype(draw.dtype))
        draw.sink(clamp_support(adapter.xp, piece, law, draw.dtype))


def _draw_group(
    adapter: Any,
    kit: InPlaceWords,
    chunk: int,
    key: tuple[int, int],
    law: Uniform | Normal | TruncatedNormal,
    work: str,
    members: list[Draw],
) -> None:
    """One law's draws: their counter ranges and streams concatenated, then one chunked pass."""
    xp = kit.xp
    recipe, numbers_ = _portable.recipe_for(law, work == "float64")
    lanes = 4 // recipe.words
    work_dtype = adapter.native_dtype(work)
    counters, low, high, spans = [], [], [], []
    for draw in members:
        stride = math.prod(draw.shape[1:])
        first = draw.block[0][0] * stride  # the run's first flat index
        run = (draw.block[0][1] - draw.block[0][0]) * stride
        offset = first % lanes
        width = (offset + run + lanes - 1) // lanes
        counters.append(kit.arange(first // lanes, first // lanes + width))
        zeros = xp.zeros((width,), dtype=kit.dtype, device=kit.device)
        low.append(xp.add(zeros, kit.const(draw.stream & MASK32)))
        high.append(xp.add(zeros, kit.const(draw.stream >> 32)))
        spans.append((width, offset, run))
    counter, words = xp.concat(counters), (xp.concat(low), xp.concat(high))
    total = int(counter.shape[0])
    consts = _portable.Constants(xp, work_dtype, kit.device, recipe, numbers_)
    capacity = min(chunk, total)
    philox = PhiloxBuffers(kit, capacity)
    fill = _portable.InPlaceValues(kit, recipe, consts, work_dtype, capacity)
    values = xp.empty((total * lanes,), dtype=work_dtype, device=kit.device)
    for c0 in range(0, total, capacity):
        c1 = min(total, c0 + capacity)
        stream = (words[0][c0:c1], words[1][c0:c1])
        fill(philox(counter[c0:c1], stream, key), values[c0 * lanes : c1 * lanes])
    position = 0
    for draw, (width, offset, run) in zip(members, spans, strict=True):
        block_shape = tuple(b - a for a, b in draw.block)
        piece = xp.reshape(values[position * lanes + offset : position * lanes + offset + run], block_shape)
        position += width
        if draw.dtype != work:
            piece = adapter.xp.astype(piece, adapter.native_dtype(draw.dtype))
        draw.sink(clamp_support(adapter.xp, piece, law, draw.dtype))
