"""The fused kernels (numba): Philox-4x32-10 and a law's values per element, written straight into the output.

Imported only by :mod:`.fused`, and only when numba imports. Every element is computed by the same
scalar code from its own counter, stream and lane, so a block equals the same block of the whole
and the values do not depend on how the work is split over threads. The float arithmetic is the
eager path's, step by step in the work float type (numba's default ``fastmath=False`` keeps
LLVM from contracting a multiply and an add into an FMA or reassociating), so uniform draws are
bit-identical to it; normals differ only by the ``log``/``sqrt`` implementations (float32: Cephes'
logf, vectorized, here; float64: libm's; NumPy's or torch's own there), within ``NORMAL_ULPS``.

A layout is R rows: row r is the ``run[r]`` elements starting at lane ``local[r]`` of counter
``base[r]`` under stream words (``s0[r]``, ``s1[r]``), written from ``out[start[r]]`` on. The work is
cut into tasks of at most ``seg`` counters of one row (``task_row``, ``task_j0``), spread by ``prange``.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, Final

import numba
import numpy as np

_M0, _M1 = np.uint64(0xD2511F53), np.uint64(0xCD9E8D57)  # Random123's Philox-4x32 multipliers
_W0, _W1 = np.uint64(0x9E3779B9), np.uint64(0xBB67AE85)  # and Weyl key increments
_MASK, _S32 = np.uint64(0xFFFFFFFF), np.uint64(32)
_S5, _S6, _S8 = np.uint64(5), np.uint64(6), np.uint64(8)
_TWO_26 = 2.0**26


def _jit(**options: Any) -> Callable[[Any], Any]:
    """``numba.njit(cache=True, nogil=True, **options)``; without the cache where numba finds no writable cache dir."""

    def wrap(function: Any) -> Any:
        try:
            return numba.njit(cache=True, nogil=True, **options)(function)
        except RuntimeError:  # "cannot cache function ...: no locator available": compile per process
            return numba.njit(nogil=True, **options)(function)

    return wrap


@_jit(inline="always")
def _philox(c0: Any, c1: Any, c2: Any, c3: Any, k0: Any, k1: Any) -> Any:  # pragma: no cover - compiled
    """Philox-4x32-10 of (c0, c1, c2, c3) under (k0, k1), each a 32-bit word in a uint64."""
    for _ in range(10):
        p0 = _M0 * c0
        p1 = _M1 * c2
        n0 = ((p1 >> _S32) ^ c1 ^ k0) & _MASK
        n2 = ((p0 >> _S32) ^ c3 ^ k1) & _MASK
        c1 = p1 & _MASK
        c3 = p0 & _MASK
        c0 = n0
        c2 = n2
        k0 = (k0 + _W0) & _MASK
        k1 = (k1 + _W1) & _MASK
    return c0, c1, c2, c3


#: elements per stage of a task: its four scratch arrays stay in L1
_BATCH = 1024


@_jit(inline="always")
def _quantile_tail(
    w: Any, limits: Any, centres: Any, coefs: Any, ncoef: Any, nbranch: int
) -> Any:  # pragma: no cover
    """Giles' polynomial of the branch past the first that covers w, at √w − its centre."""
    i = 1
    while i < nbranch - 1 and not w < limits[i]:
        i += 1
    t = np.sqrt(w) - centres[i]
    p = coefs[i, 0]
    for j in range(1, ncoef[i]):
        p = p * t + coefs[i, j]
    return p


@_jit(inline="always")
def _unit(x: Any, w: Any, m: int, nums: Any, flags: int) -> None:  # pragma: no cover - compiled
    """x[:m] (k on entry) → x = (k + offset)·scale; a Gaussian's w = (1 − x)(1 + x), whose −log comes next."""
    offset, scale, one = nums[0], nums[1], nums[6]
    for i in range(m):
        x[i] = (x[i] + offset) * scale
    if flags & 1:
        for i in range(m):
            w[i] = (one - x[i]) * (one + x[i])


# Cephes' logf (S. Moshier): log(y) = log(mantissa) + e·ln 2 with the mantissa in [√½, √2), 0.83 ulp
# at most over (0, 1] (libm's: 0.78; NumPy's float32 log: 3.6). Written over arrays so that LLVM
# vectorizes it, where a libm call stays scalar: it makes the float32 normal ~20% cheaper.
_LOG_C: Final = tuple(np.float32(c) for c in (
    7.0376836292e-2, -1.1514610310e-1, 1.1676998740e-1, -1.2420140846e-1, 1.4249322787e-1,
    -1.6668057665e-1, 2.0000714765e-1, -2.4999993993e-1, 3.3333331174e-1,
))  # fmt: skip
_LC0, _LC1, _LC2, _LC3, _LC4, _LC5, _LC6, _LC7, _LC8 = _LOG_C
_SQRT_HALF: Final = np.float32(0.707106781186547524)
_LN2_LO, _LN2_HI = np.float32(-2.12194440e-4), np.float32(0.693359375)  # ln 2 = hi + lo
_HALF, _ONE32 = np.float32(0.5), np.float32(1.0)
_FRACTION, _HALF_EXPONENT = np.uint32(0x007FFFFF), np.uint32(0x3F000000)


@_jit(inline="always")
def _negative_log32(w: Any, bits: Any, mantissa_bits: Any, exponent: Any, m: int) -> None:  # pragma: no cover
    """w[:m] ← −log(w) for float32 w in (0, 1] (``bits``: w's uint32 view; the other two: scratch)."""
    mantissa = mantissa_bits.view(np.float32)
    for i in range(m):  # y = mantissa·2^e, mantissa in [½, 1)
        b = bits[i]
        mantissa_bits[i] = (b & _FRACTION) | _HALF_EXPONENT
        exponent[i] = np.float32(np.int32(b >> np.uint32(23)) - np.int32(126))
    for i in range(m):
        x, e = mantissa[i], exponent[i]
        small = x < _SQRT_HALF
        e = e - _ONE32 if small else e
        x = (x + x - _ONE32) if small else (x - _ONE32)
        z = x * x
        y = _LC0 * x + _LC1
        y = y * x + _LC2
        y = y * x + _LC3
        y = y * x + _LC4
        y = y * x + _LC5
        y = y * x + _LC6
        y = y * x + _LC7
        y = y * x + _LC8
        y = y * x * z
        y = y + _LN2_LO * e
        y = y - _HALF * z
        x = x + y
        w[i] = -(x + _LN2_HI * e)


@_jit(inline="always")
def _gaussian(
    x: Any, w: Any, t: Any, p: Any, m: int, nums: Any, limits: Any, centres: Any, coefs: Any, ncoef: Any,
    nbranch: int, flags: int,
) -> None:  # pragma: no cover - compiled  # fmt: skip
    """From x and w = −log((1 − x)(1 + x)): z = √2·erfinv(x) by Giles' branches, clipped, shifted, ·σ
    (as bits.InPlaceValues), one step at a time over the batch so that LLVM vectorizes each loop."""
    centre, n = centres[0], ncoef[0]
    c0, c1 = coefs[0, 0], coefs[0, 1]
    for i in range(m):
        t[i] = w[i] - centre
        p[i] = t[i] * c0 + c1
    for j in range(2, n):
        c = coefs[0, j]
        for i in range(m):
            p[i] = p[i] * t[i] + c
    limit = limits[0]
    for i in range(m):
        if w[i] >= limit:  # the ~0.3% past the first branch
            p[i] = _quantile_tail(w[i], limits, centres, coefs, ncoef, nbranch)
    for i in range(m):
        x[i] = p[i] * x[i]
    if flags & 2:
        lower, upper = nums[2], nums[3]
        for i in range(m):
            x[i] = min(max(x[i], lower), upper)
    if flags & 4:
        shift = nums[4]
        for i in range(m):
            x[i] = x[i] + shift
    sigma = nums[5]
    for i in range(m):
        x[i] = x[i] * sigma


@_jit(parallel=True)
def fill32(
    out: Any, task_row: Any, task_j0: Any, seg: int, base: Any, local: Any, run: Any, start: Any,
    s0: Any, s1: Any, k0: Any, k1: Any, nums: Any, limits: Any, centres: Any, coefs: Any, ncoef: Any,
    nbranch: int, flags: int,
) -> None:  # pragma: no cover - compiled  # fmt: skip
    """float32 values: element 4j + i of a row from word i of counter base + j, k = word >> 8."""
    for task in numba.prange(task_row.shape[0]):
        r = task_row[task]
        lo, n, o, b, a0, a1 = local[r], run[r], start[r], base[r], s0[r], s1[r]
        x, w = np.empty(_BATCH, nums.dtype), np.empty(_BATCH, nums.dtype)
        t, p = np.empty(_BATCH, nums.dtype), np.empty(_BATCH, nums.dtype)
        bits, mantissa_bits = w.view(np.uint32), np.empty(_BATCH, np.uint32)
        end = min((lo + n + 3) // 4, task_j0[task] + seg)
        for j0 in range(task_j0[task], end, _BATCH // 4):
            j1 = min(end, j0 + _BATCH // 4)
            for j in range(j1 - j0):
                c = b + np.uint64(j0 + j)
                w0, w1, w2, w3 = _philox(c & _MASK, c >> _S32, a0, a1, k0, k1)
                x[4 * j] = np.float32(w0 >> _S8)
                x[4 * j + 1] = np.float32(w1 >> _S8)
                x[4 * j + 2] = np.float32(w2 >> _S8)
                x[4 * j + 3] = np.float32(w3 >> _S8)
            m = 4 * (j1 - j0)
            _unit(x, w, m, nums, flags)
            if flags & 1:
                _negative_log32(w, bits, mantissa_bits, t, m)  # t: scratch until _gaussian sets it
                _gaussian(x, w, t, p, m, nums, limits, centres, coefs, ncoef, nbranch, flags)
            first = 4 * j0 - lo  # the row element of x[0]
            for q in range(max(0, first), min(n, first + m)):
                out[o + q] = x[q - first]


@_jit(parallel=True)
def fill64(
    out: Any, task_row: Any, task_j0: Any, seg: int, base: Any, local: Any, run: Any, start: Any,
    s0: Any, s1: Any, k0: Any, k1: Any, nums: Any, limits: Any, centres: Any, coefs: Any, ncoef: Any,
    nbranch: int, flags: int,
) -> None:  # pragma: no cover - compiled  # fmt: skip
    """float64 values: element 2j + i from words 2i, 2i + 1 of counter base + j, k = (w0 >> 5)·2²⁶ + (w1 >> 6)."""
    for task in numba.prange(task_row.shape[0]):
        r = task_row[task]
        lo, n, o, b, a0, a1 = local[r], run[r], start[r], base[r], s0[r], s1[r]
        x, w = np.empty(_BATCH, nums.dtype), np.empty(_BATCH, nums.dtype)
        t, p = np.empty(_BATCH, nums.dtype), np.empty(_BATCH, nums.dtype)
        end = min((lo + n + 1) // 2, task_j0[task] + seg)
        for j0 in range(task_j0[task], end, _BATCH // 2):
            j1 = min(end, j0 + _BATCH // 2)
            for j in range(j1 - j0):
                c = b + np.uint64(j0 + j)
                w0, w1, w2, w3 = _philox(c & _MASK, c >> _S32, a0, a1, k0, k1)
                x[2 * j] = np.float64(w0 >> _S5) * _TWO_26 + np.float64(w1 >> _S6)
                x[2 * j + 1] = np.float64(w2 >> _S5) * _TWO_26 + np.float64(w3 >> _S6)
            m = 2 * (j1 - j0)
            _unit(x, w, m, nums, flags)
            if flags & 1:
                for i in range(m):
                    w[i] = -np.log(w[i])
                _gaussian(x, w, t, p, m, nums, limits, centres, coefs, ncoef, nbranch, flags)
            first = 2 * j0 - lo
            for q in range(max(0, first), min(n, first + m)):
                out[o + q] = x[q - first]
