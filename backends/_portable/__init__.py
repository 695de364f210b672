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

Speed (:mod:`.fused`, :mod:`.engine`, :mod:`.kernels`). With numba installed (the ``fast`` extra),
NumPy and torch on CPU run the fused kernel (:mod:`.fused_kernels`): one compiled loop over tasks of
a run's counters (``prange``, numba's threads), each element's Philox words and value computed in
registers and small L1 batches and written straight into the output (per core here about 3.5 ns an
element for a uniform, 8–12 for a normal, against ~27 eagerly; a whole model takes 1.2× its native
init); uniform draws are the eager engine's bits, normals agree with it within ``NORMAL_ULPS``
(libm's ``log`` instead of NumPy's or torch's), and a block equals the same block of the whole
within the kernel. It compiles once per float type (about 10 s) and numba caches the machine code
for later processes (about 1 s to load); ``WINIT_PORTABLE_KERNEL=eager`` forces the eager engine,
and the one-sided tail recipe (AS241) always takes it. Without numba, NumPy and torch walk the
block's contiguous runs eagerly: one Philox call gives four float32 elements, run in cache-sized
chunks through ``out=`` into preallocated buffers (:class:`PhiloxBuffers`: five array passes a round
over (2, n) word pairs; then :class:`InPlaceValues`). The chunks are independent, so on CPU they are
spread over worker threads (both release the GIL inside each call): torch as many as
``torch.get_num_threads()``, each running its ops on its own thread, NumPy one unless
``WINIT_NUM_THREADS`` asks for more (its calls are short, so its workers mostly hand the GIL to each
other); ``WINIT_NUM_THREADS`` sets both, and the fused kernel's threads. The values never depend on
it. TensorFlow runs draws of 2¹⁶ counters or more as XLA-compiled kernels
(:func:`compiled_run_values`), smaller ones eagerly; torch does too, through torch.compile, with
``WINIT_TORCH_COMPILE=1`` (which then takes precedence over the fused kernel). JAX computes each
element from its own index under ``jax.jit`` (a pure map, so ``out_shardings`` makes each device
generate only its shard) at the price of one Philox call per element. XLA (JAX, and TensorFlow's
kernels) contracts the normal's polynomial into FMAs, so those normals differ from NumPy's and
torch's by a few ulps (within ``NORMAL_ULPS``); uniform draws stay bit-identical.

Layout: :mod:`.args` (arguments), :mod:`.bits` (bits → floats), :mod:`.counters` (flat indices,
runs), :mod:`.engine` (the eager engine and its threads), :mod:`.kernels` (compiled kernels),
:mod:`.dispatch` (a plan to its adapter's engine), :mod:`.fused` (the fused engine; numba is
imported lazily by :mod:`.fused_kernels`). No module here imports a framework or an adapter:
each adapter hands over its engine, scopes and kernels through the hooks of ``_common.Adapter``.
"""

from __future__ import annotations

from typing import Final

from .args import (
    MAX_STREAM,
    RNGS,
    Block,
    check_rng,
    draw_options,
    key_words,
    normalize_shard,
    portable_seed,
    stream_id,
)
from .bits import Constants, InPlaceValues, Recipe, integers_from_words, recipe_for, values_from_integers
from .counters import Runs, elementwise_values, elementwise_words, flat_index, wide_flat_index
from .dispatch import draw_values, realize_block, realize_into, realize_portable
from .engine import MAX_THREADS, MIN_CHUNKS_PER_THREAD, EagerEngine, Engine, portable_threads, run_values
from .fused import KERNELS, FusedEngine, portable_kernel
from .kernels import CompiledKernels, compiled_run_values, kernel_body

#: the largest difference between two backends' portable normal or truncated-normal draws, in units
#: in the last place of max(|x|, σ) (uniform draws are bit-identical). Measured on 4M-element float32
#: and float64 draws: ≤ 4 for zero-mean laws, 6 with mean/σ = 6; tests/test_portable.py pins it.
NORMAL_ULPS: Final = 8
#: the largest |difference| per unit gain between two backends' portable orthogonal float32 matrices
#: up to 64×64 (same Gaussian, each backend's QR); measured ≤ 2.6e-7.
ORTHOGONAL_ATOL: Final = 2e-6

__all__ = [
    "KERNELS",
    "MAX_STREAM",
    "MAX_THREADS",
    "MIN_CHUNKS_PER_THREAD",
    "NORMAL_ULPS",
    "ORTHOGONAL_ATOL",
    "RNGS",
    "Block",
    "CompiledKernels",
    "Constants",
    "EagerEngine",
    "Engine",
    "FusedEngine",
    "InPlaceValues",
    "Recipe",
    "Runs",
    "check_rng",
    "compiled_run_values",
    "draw_options",
    "draw_values",
    "elementwise_values",
    "elementwise_words",
    "flat_index",
    "integers_from_words",
    "kernel_body",
    "key_words",
    "normalize_shard",
    "portable_kernel",
    "portable_seed",
    "portable_threads",
    "realize_block",
    "realize_into",
    "realize_portable",
    "recipe_for",
    "run_values",
    "stream_id",
    "values_from_integers",
    "wide_flat_index",
]
