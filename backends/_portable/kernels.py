"""Compiled kernels: :func:`run_values`' counters and floats as one fused loop per call, for large draws.

The engine knows no framework: an adapter that can compile hands it a :class:`CompiledKernels`
(TensorFlow: ``tf.function(jit_compile=True)``, always; torch: ``torch.compile``, with
``WINIT_TORCH_COMPILE=1``), whose ``build`` compiles :func:`kernel_body` for one shape class.
"""

from __future__ import annotations

import contextlib
import math
from collections.abc import Callable, Sequence
from contextlib import AbstractContextManager
from dataclasses import dataclass
from typing import Any, Final

from .._philox import WordArithmetic, philox4x32
from .args import Block
from .bits import Constants, Recipe, integers_from_words, values_from_integers
from .counters import Runs

#: Draws from tensors of at least this many Philox counters (the whole tensor's, so that every
#: shard takes its whole's path) run as compiled kernels of up to ``CompiledKernels.calls``
#: counters each (one fused loop instead of ~150 eager ops over memory). Smaller ones run eagerly,
#: where the compile (a second for XLA, several for torch.compile, once per law kind and size
#: class) would cost more than it saves. On CPU a call's words (32 MB at 1M counters) stay in
#: cache; a GPU wants few, large calls (measured on an H100: a 16384² draw in 64 calls of 1M
#: counters took 12 ms, in one call 2 ms), so torch on an accelerator takes 16M at once.
XLA_MIN_COUNTERS: int = 1 << 16
CALL_COUNTERS: Final = 1 << 20  # a call of a CPU kernel (or TensorFlow's on any device)
ACCELERATOR_CALL_COUNTERS: Final = 1 << 24  # a call of torch.compile's kernel on an accelerator
_XLA_SEGMENT: Final = 1 << 16  # counters per kernel row: long runs are cut into rows this long
_compile_unavailable: dict[str, str] = {}  # framework → the error that made its compiled path fall back


@dataclass(frozen=True)
class CompiledKernels:
    """An adapter's compiler for :func:`kernel_body`: how to build a kernel, call it, and tell its failures.

    ``build(recipe, segments, width, work)`` returns ``kernel(starts, words, numbers)`` (cached by the
    adapter); ``calls`` is the most counters one call takes; ``is_failure(error)`` says the framework
    cannot compile here (no XLA, no C++ compiler), so the draw falls back to eager ops from then on;
    ``scope`` is entered around the calls (TensorFlow's device placement).
    """

    name: str
    build: Callable[[Recipe, int, int, str], Any]
    calls: int
    is_failure: Callable[[Exception], bool]
    scope: Callable[[], AbstractContextManager[None]] = contextlib.nullcontext


def kernel_body(
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


def compiled_run_values(
    compiled: CompiledKernels,
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
    if compiled.name in _compile_unavailable or len(shape) == 0 or 0 in block_shape:
        return None
    # Decided by the whole tensor's size, never the block's: eager ops and a compiled kernel round
    # the normal's polynomial differently (XLA and Inductor contract it into FMAs), so a shard must
    # take the path its whole takes to be exactly that block of it.
    if -(-math.prod(shape) * recipe.words // 4) < XLA_MIN_COUNTERS:
        return None
    layout = Runs.of(xp, kit, shape, block, recipe)
    width = min(_XLA_SEGMENT, 1 << (layout.width - 1).bit_length())
    per_row = -(-layout.width // width)
    total = layout.rows * per_row
    segments = min(compiled.calls // width, 1 << (total - 1).bit_length())
    if layout.starts is None:
        row_counter = xp.reshape(kit.const(layout.first >> layout.shift), (1, 1))
    else:
        row_counter = xp.reshape(kit.shift_right(layout.starts, layout.shift), (layout.rows, 1))
    steps = xp.reshape(kit.arange(0, per_row * width, width), (1, per_row))
    starts = xp.reshape(xp.add(row_counter, steps), (-1,))
    words = xp.asarray([key[0], key[1], stream[0], stream[1]], dtype=kit.dtype, device=kit.device)
    numbers = xp.asarray(numbers_, dtype=work_dtype, device=kit.device)
    kernel = compiled.build(recipe, segments, width, work)
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
        if not compiled.is_failure(error):
            raise
        _compile_unavailable[compiled.name] = str(error)  # e.g. a build without XLA: eager from now on
        return None
    values = pieces[0] if len(pieces) == 1 else xp.concat(pieces, axis=0)
    values = xp.reshape(values, (layout.rows, per_row * width * layout.lanes))
    if not (layout.offset == 0 and layout.run == per_row * width * layout.lanes):
        values = layout.trim(xp, kit, values, 0, layout.rows)
    return xp.reshape(values, block_shape)
