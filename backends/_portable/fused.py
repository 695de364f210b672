"""The fused engine: a block's portable values by one compiled loop (numba), for NumPy and torch on CPU.

The eager engine runs some 150 array operations over each chunk (27 ns an element here); the
fused kernel (:mod:`.fused_kernels`) computes each element's Philox words and value in registers
and writes it straight into the output, on numba's threads (one ``prange`` over tasks of up to
``SEGMENT`` counters of one run). It is used when numba imports (``pip install winit[fast]``),
unless ``WINIT_PORTABLE_KERNEL=eager``; one-sided truncation windows (the AS241 tail recipe) stay
on the eager path. Uniform draws are bit-identical to the eager engine's; normals agree within
``NORMAL_ULPS`` (another ``log``), and within the fused path any block equals the same block of
the whole, whatever the thread count. Compiling costs a few seconds once; numba caches the
machine code (``cache=True``) so later processes load it.
"""

from __future__ import annotations

import functools
import os
import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from types import ModuleType
from typing import Any, Final

import numpy as np

from .._philox import MASK32, InPlaceWords, WordArithmetic
from .args import Block
from .bits import _GILES32, _GILES64, _SQRT2, Recipe
from .counters import Runs
from .engine import EagerEngine, portable_threads

KERNELS: Final = ("eager", "fused")
#: counters per task of the fused loop (16384 float32 elements): small enough to balance the threads
SEGMENT: Final = 1 << 12
_NP_KIT: Final = InPlaceWords(np, np.uint64, store={"casting": "unsafe"})
_lock = threading.Lock()  # numba's workqueue threading layer must not be entered from two threads at once


@functools.cache
def _kernels() -> ModuleType | None:
    """The compiled kernels' module, or None where numba does not import."""
    try:
        from . import fused_kernels
    except ImportError:
        return None
    return fused_kernels


def portable_kernel() -> str:
    """The kernel NumPy and torch-CPU portable draws use: ``WINIT_PORTABLE_KERNEL``, else "fused" if numba imports."""
    setting = os.environ.get("WINIT_PORTABLE_KERNEL", "").strip()
    if setting and setting not in KERNELS:
        raise ValueError(
            f"WINIT_PORTABLE_KERNEL must be one of {', '.join(KERNELS)} (or unset), got {setting!r}"
        )
    if setting == "eager":
        return "eager"
    if _kernels() is None:
        if setting == "fused":
            raise ImportError("WINIT_PORTABLE_KERNEL=fused needs numba: pip install 'winit[fast]'")
        return "eager"
    return "fused"


@functools.cache
def _tables(float64: bool) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Giles' branches as arrays of the work float type: limits, centres, √2-scaled coefficients, counts."""
    table, dtype = (_GILES64, np.float64) if float64 else (_GILES32, np.float32)
    width = max(len(c) for _, _, c in table)
    coefs = np.zeros((len(table), width), dtype=dtype)
    for i, (_, _, coefficients) in enumerate(table):
        coefs[i, : len(coefficients)] = [c * _SQRT2 for c in coefficients]
    limits = np.asarray([limit for limit, _, _ in table], dtype=dtype)
    centres = np.asarray([centre for _, centre, _ in table], dtype=dtype)
    return limits, centres, coefs, np.asarray([len(c) for _, _, c in table], dtype=np.int64)


def fill(
    out: np.ndarray,
    base: np.ndarray,
    local: np.ndarray,
    run: np.ndarray,
    start: np.ndarray,
    streams: tuple[np.ndarray, np.ndarray],
    key: Sequence[int],
    recipe: Recipe,
    numbers_: Sequence[float],
    threads: int,
) -> None:
    """Write rows of values into the flat ``out`` (see :mod:`.fused_kernels`: row r is ``run[r]`` elements
    from lane ``local[r]`` of counter ``base[r]`` under stream words ``streams[·][r]``, at ``out[start[r]]``)."""
    kernels = _kernels()
    if kernels is None:  # pragma: no cover - callers check portable_kernel() first
        raise ImportError("the fused portable kernel needs numba: pip install 'winit[fast]'")
    lanes = 4 // recipe.words
    widths = (local + run + lanes - 1) // lanes
    per_row = -(-widths // SEGMENT)
    task_row = np.repeat(np.arange(len(run), dtype=np.int64), per_row)
    first_task = np.cumsum(per_row) - per_row
    task_j0 = (np.arange(len(task_row), dtype=np.int64) - np.repeat(first_task, per_row)) * SEGMENT
    dtype = out.dtype.type
    nums = np.asarray([*numbers_, 1.0], dtype=dtype)
    limits, centres, coefs, ncoef = _tables(recipe.float64)
    flags = int(recipe.gaussian) | 2 * int(recipe.clip) | 4 * int(recipe.shifted)
    kernel = kernels.fill64 if recipe.float64 else kernels.fill32
    with _lock:
        previous = kernels.numba.get_num_threads()
        kernels.numba.set_num_threads(max(1, min(threads, kernels.numba.config.NUMBA_NUM_THREADS)))
        try:
            kernel(
                out, task_row, task_j0, SEGMENT, base, local, run, start, streams[0], streams[1],
                np.uint64(key[0]), np.uint64(key[1]), nums, limits, centres, coefs, ncoef, len(limits), flags,
            )  # fmt: skip
        finally:
            kernels.numba.set_num_threads(previous)


@dataclass(frozen=True)
class FusedEngine:
    """The fused kernel as an :class:`~.engine.Engine`: values computed into a NumPy array, handed to the
    framework by ``wrap`` (torch: ``torch.from_numpy``, no copy); ``eager`` draws the tail recipe."""

    eager: EagerEngine
    wrap: Callable[[np.ndarray], Any]
    threads: int
    #: a framework array as a writable C-contiguous NumPy view of its memory, or None where it has none
    unwrap: Callable[[Any], np.ndarray | None] = lambda array: None

    @property
    def kit(self) -> WordArithmetic:
        """The eager engine's word arithmetic."""
        return self.eager.kit

    def values(
        self, shape: tuple[int, ...], block: Block, key: Any, stream: int, recipe: Recipe,
        numbers_: Sequence[float], work: str, work_dtype: Any,
    ) -> Any:  # fmt: skip
        """``block`` of the global ``shape`` tensor in ``work`` by the fused kernel (a tail recipe: eagerly)."""
        if recipe.tail:
            return self.eager.values(shape, block, key, stream, recipe, numbers_, work, work_dtype)
        return self.wrap(self.array(shape, block, key, stream, recipe, numbers_, work))

    def values_into(
        self, out: Any, shape: tuple[int, ...], block: Block, key: Any, stream: int, recipe: Recipe,
        numbers_: Sequence[float], work: str,
    ) -> bool:  # fmt: skip
        """Write the block's values into ``out`` (block-shaped, of ``work``) in place; False where it cannot
        (a tail recipe, or ``out`` not a contiguous CPU array of that dtype): then nothing is written."""
        view = self.unwrap(out)
        block_shape = tuple(b - a for a, b in block)
        if recipe.tail or view is None or view.dtype != np.dtype(work) or view.shape != block_shape:
            return False
        if not (view.flags.c_contiguous and view.flags.writeable):
            return False
        self.array(shape, block, key, stream, recipe, numbers_, work, out=view)
        return True

    def array(
        self, shape: tuple[int, ...], block: Block, key: Sequence[int], stream: int, recipe: Recipe,
        numbers_: Sequence[float], work: str, out: np.ndarray | None = None,
    ) -> np.ndarray:  # fmt: skip
        """The block's values as a C-contiguous NumPy array of ``work`` (new, or ``out``)."""
        block_shape = tuple(b - a for a, b in block)
        if len(shape) == 0:
            whole = None if out is None else out.reshape(1)
            return self.array((1,), ((0, 1),), key, stream, recipe, numbers_, work, whole).reshape(())
        out = np.empty(block_shape, dtype=work) if out is None else out
        if out.size == 0:
            return out
        layout = Runs.of(np, _NP_KIT, shape, block, recipe)
        if layout.starts is None:
            base = np.asarray([layout.first >> layout.shift], dtype=np.uint64)
            local = np.asarray([layout.offset], dtype=np.int64)
        else:
            starts = np.asarray(layout.starts, dtype=np.uint64)
            base = starts >> np.uint64(layout.shift)
            local = (starts & np.uint64(layout.lanes - 1)).astype(np.int64)
        rows = len(base)
        run = np.full(rows, layout.run, dtype=np.int64)
        start = np.arange(rows, dtype=np.int64) * layout.run
        streams = (
            np.full(rows, stream & MASK32, dtype=np.uint64),
            np.full(rows, stream >> 32, dtype=np.uint64),
        )
        fill(out.reshape(-1), base, local, run, start, streams, key, recipe, numbers_, self.threads)
        return out


def fused_or_eager(
    eager: EagerEngine,
    wrap: Callable[[np.ndarray], Any],
    threads: int | None = None,
    unwrap: Callable[[Any], np.ndarray | None] | None = None,
) -> FusedEngine | EagerEngine:
    """A :class:`FusedEngine` over ``eager`` when :func:`portable_kernel` is "fused", else ``eager`` itself.

    ``threads``: the default thread count (None: numba's); ``WINIT_NUM_THREADS`` overrides it.
    ``unwrap``: see :attr:`FusedEngine.unwrap` (None: no in-place writes).
    """
    if portable_kernel() != "fused":
        return eager
    kernels = _kernels()
    assert kernels is not None
    limit = int(kernels.numba.config.NUMBA_NUM_THREADS)
    count = min(limit, portable_threads(limit if threads is None else threads))
    return FusedEngine(eager, wrap, count) if unwrap is None else FusedEngine(eager, wrap, count, unwrap)
