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

Only draws the eager engine would compute alone are taken: torch, a plain law (uniform, normal,
truncated normal with spread), a block that is one run of flat indices (the whole tensor, or rows
of it), and a whole tensor under ``SMALL_COUNTERS`` counters, below the size at which torch may
switch to compiled kernels (``WINIT_TORCH_COMPILE=1``), whose rounding differs.
"""

from __future__ import annotations

import contextlib
import math
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Final

from winit._laws import Normal, TruncatedNormal, Uniform
from winit._schemes import Plan

from . import _portable
from ._common import check_fits, clamp_support
from ._philox import MASK32, InPlaceWords, PhiloxBuffers
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
    adapter: Any, device: Any
) -> tuple[InPlaceWords, int, contextlib.AbstractContextManager[Any]] | None:
    """The adapter's eager engine on ``device``: its in-place word kit, counters per chunk and the
    scope a draw runs in; None where the engine is not an in-place one."""
    engine = adapter.portable_engine(device)
    scope: contextlib.AbstractContextManager[Any] = engine.scope()
    kit = engine.kit
    return (kit, int(engine.chunk), scope) if isinstance(kit, InPlaceWords) else None


def batchable(adapter: Any, plan: Plan, shape: tuple[int, ...], block: Block, device: Any) -> bool:
    """Whether this draw can join a batch: see the module docstring."""
    law = plan.law
    if adapter.name != "torch" or getattr(device, "type", "cpu") == "meta" or not shape:
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
    """Compute every draw (each :func:`batchable`, all on ``device``) and hand each its values."""
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
    eager = _eager(adapter, device)
    if eager is None:  # pragma: no cover - torch's engine is in place
        raise TypeError(f"rng='portable' batches draws only on an in-place engine, not {adapter.name!r}")
    kit, chunk, scope = eager
    key = _portable.key_words(seed)
    with scope:
        for (law, work), members in groups.items():
            _draw_group(adapter, kit, chunk, key, law, work, members)


def _draw_group(
    adapter: Any,
    kit: InPlaceWords,
    chunk: int,
    key: tuple[int, int],
    law: Any,
    work: str,
    members: list[Draw],
) -> None:
    """One law's draws: their counter ranges and streams concatenated, then one chunked pass."""
    import torch

    recipe, numbers_ = _portable.recipe_for(law, work == "float64")
    lanes = 4 // recipe.words
    work_dtype = adapter.native_dtype(work)
    firsts, widths, runs, offsets, streams = [], [], [], [], []
    for draw in members:
        stride = math.prod(draw.shape[1:])
        first = draw.block[0][0] * stride  # the run's first flat index
        run = (draw.block[0][1] - draw.block[0][0]) * stride
        offset = first % lanes
        firsts.append(first // lanes)
        offsets.append(offset)
        runs.append(run)
        widths.append((offset + run + lanes - 1) // lanes)
        streams.append(draw.stream)
    total = sum(widths)
    device = kit.device
    width_t = torch.tensor(widths, dtype=kit.dtype, device=device)
    starts = torch.cumsum(width_t, 0) - width_t  # where each draw's counters begin in the batch
    base = torch.tensor(firsts, dtype=kit.dtype, device=device) - starts
    counters = torch.arange(total, dtype=kit.dtype, device=device) + torch.repeat_interleave(base, width_t)
    words = [
        torch.repeat_interleave(
            torch.tensor([s & MASK32 for s in streams], dtype=kit.dtype, device=device), width_t
        ),
        torch.repeat_interleave(
            torch.tensor([s >> 32 for s in streams], dtype=kit.dtype, device=device), width_t
        ),
    ]
    consts = _portable.Constants(kit.xp, work_dtype, device, recipe, numbers_)
    capacity = min(chunk, total)
    philox = PhiloxBuffers(kit, capacity)
    fill = _portable.InPlaceValues(kit, recipe, consts, work_dtype, capacity)
    values = torch.empty(total * lanes, dtype=work_dtype, device=device)
    for c0 in range(0, total, capacity):
        c1 = min(total, c0 + capacity)
        stream = (words[0][c0:c1], words[1][c0:c1])
        fill(philox(counters[c0:c1], stream, key), values[c0 * lanes : c1 * lanes])  # type: ignore[arg-type]
    position = 0
    for draw, width, offset, run in zip(members, widths, offsets, runs, strict=True):
        block_shape = tuple(b - a for a, b in draw.block)
        piece = values[position * lanes + offset : position * lanes + offset + run].reshape(block_shape)
        position += width
        if draw.dtype != work:
            piece = piece.to(adapter.native_dtype(draw.dtype))
        draw.sink(clamp_support(adapter.xp, piece, law, draw.dtype))
