"""The eager engine: a block's values by runs of counters, in place and on worker threads where it can.

NumPy, torch and TensorFlow walk the block's contiguous runs: one Philox call gives four float32
elements. NumPy and torch run it in cache-sized chunks through ``out=`` into preallocated buffers
(:class:`PhiloxBuffers`: five array passes a round over (2, n) word pairs; then
:class:`InPlaceValues`). The chunks are independent, so on CPU they are spread over worker threads
(both release the GIL inside each call); ``WINIT_NUM_THREADS`` sets how many. The values never
depend on it. An adapter says how its framework runs the engine (:class:`EagerEngine`: word
arithmetic, chunk size, threads, scopes, compiled kernels) through its ``portable_engine`` hook;
JAX brings an :class:`Engine` of its own (a jitted element-wise map).
"""

from __future__ import annotations

import contextlib
import os
import threading
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from contextlib import AbstractContextManager
from dataclasses import dataclass
from typing import Any, Final, Protocol

from .._philox import MASK32, InPlaceWords, PhiloxBuffers, WordArithmetic, philox4x32
from .args import Block
from .bits import Constants, InPlaceValues, Recipe, integers_from_words, values_from_integers
from .counters import Runs
from .kernels import CompiledKernels, compiled_run_values

#: a worker thread of an in-place draw takes at least this many chunks (fewer: not worth its start)
MIN_CHUNKS_PER_THREAD: Final = 4
#: the most threads one in-place draw uses: past this, the GIL-bound call overhead stops the scaling
MAX_THREADS: Final = 8
_pool_lock = threading.Lock()
_pools: dict[tuple[int, int], ThreadPoolExecutor] = {}


class Engine(Protocol):
    """How one backend computes a block of portable values (an adapter's ``portable_engine``)."""

    @property
    def kit(self) -> WordArithmetic:
        """The word arithmetic its Philox rounds use."""
        ...

    def values(
        self, shape: tuple[int, ...], block: Block, key: Any, stream: int, recipe: Recipe,
        numbers_: Sequence[float], work: str, work_dtype: Any,
    ) -> Any:  # fmt: skip
        """``block`` of the global ``shape`` tensor in the ``work`` float type, ``numbers_`` as :func:`recipe_for`'s."""
        ...


@dataclass(frozen=True)
class EagerEngine:
    """The engine as eager array ops: word arithmetic ``kit``, whether arrays can be assigned into
    (then rare erfinv branches run on their elements only), counters per chunk, worker threads,
    the scope of the whole eager draw and of each worker, and the adapter's compiled kernels if any."""

    xp: Any
    kit: WordArithmetic
    mutable: bool
    chunk: int
    threads: int = 1
    device: Any = None
    scope: Callable[[], AbstractContextManager[None]] = contextlib.nullcontext
    worker_scope: Callable[[], AbstractContextManager[None]] = contextlib.nullcontext
    compiled: CompiledKernels | None = None

    def values(
        self, shape: tuple[int, ...], block: Block, key: Any, stream: int, recipe: Recipe,
        numbers_: Sequence[float], work: str, work_dtype: Any,
    ) -> Any:  # fmt: skip
        """Compiled kernels for a large whole (in their own scope), else :func:`run_values` in ``scope``."""
        words = (stream & MASK32, stream >> 32)
        values = None
        if self.compiled is not None:
            with self.compiled.scope():
                values = compiled_run_values(
                    self.compiled,
                    self.xp,
                    self.kit,
                    shape,
                    block,
                    key,
                    words,
                    recipe,
                    numbers_,
                    work,
                    work_dtype,
                )
        if values is None:
            with self.scope():
                consts = Constants(self.xp, work_dtype, self.device, recipe, numbers_)
                values = run_values(
                    self.xp, self.kit, shape, block, key, words, recipe, consts, work_dtype, self.mutable,
                    self.chunk, self,
                )  # fmt: skip
        return values

    def in_worker(self, work: Callable[[Any], None]) -> Callable[[Any], None]:
        """``work`` as run on a worker thread: inside ``worker_scope`` (torch: its intra-op pool off there)."""

        def scoped(part: Any) -> None:
            with self.worker_scope():
                work(part)

        return scoped


def portable_threads(default: int) -> int:
    """Worker threads for a NumPy or torch CPU draw: ``WINIT_NUM_THREADS`` if set, else ``default``, at most 8."""
    setting = os.environ.get("WINIT_NUM_THREADS", "").strip()
    if setting:
        if not setting.isdigit() or int(setting) < 1:
            raise ValueError(f"WINIT_NUM_THREADS must be a positive integer, got {setting!r}")
        return min(MAX_THREADS, int(setting))
    return max(1, min(MAX_THREADS, default))


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
    engine: EagerEngine | None = None,
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
    layout = Runs.of(xp, kit, shape, block, recipe)
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


def worker_pool(threads: int) -> ThreadPoolExecutor:
    """A pool of ``threads`` workers, kept for later draws (starting threads costs ~100 µs each); shared
    by the eager engine's chunks and ``winit.torch.init_``'s parameters, which never nest.

    Keyed by process id too: a forked child (a DataLoader worker, say) inherits the parent's pool
    object but not its threads, and work submitted there would never run.
    """
    key = (os.getpid(), threads)
    with _pool_lock:
        if key not in _pools:
            _pools[key] = ThreadPoolExecutor(threads, thread_name_prefix="winit-worker")
        return _pools[key]


def _in_place_values(
    xp: Any,
    kit: InPlaceWords,
    layout: Runs,
    key: Sequence[int],
    stream: Sequence[int],
    recipe: Recipe,
    consts: Constants,
    dtype: Any,
    engine: EagerEngine,
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
    for future in [worker_pool(threads).submit(engine.in_worker(work), part) for part in parts]:
        future.result()
    return values
