"""What every adapter shares: dtype and seed checks, the adapter contract, and the structured laws.

Orthogonal, identity and dirac are written once here against the array API (``xp``); an adapter
supplies only its framework's samplers, dtypes and devices. The bottom layer of ``backends/``: it
imports nothing from the package (``_router`` sends a draw here or to ``_portable``).
"""

from __future__ import annotations

import contextlib
import math
import numbers
import os
import secrets
import sys
from collections.abc import Callable
from contextlib import AbstractContextManager
from typing import TYPE_CHECKING, Any, Final, Protocol

import numpy as np

from winit._laws import (
    Constant,
    Dirac,
    Identity,
    Law,
    Normal,
    Orthogonal,
    TruncatedNormal,
    Uniform,
    ZerO,
    normal_mass,
    zer_o_scale,
)
from winit._schemes import Plan

if TYPE_CHECKING:  # the hooks' types only: the portable engine sits above this module
    from ._portable.engine import Engine

FLOAT_DTYPES: Final[tuple[str, ...]] = ("float16", "bfloat16", "float32", "float64")
_DTYPE_ALIASES: Final = {
    "half": "float16", "fp16": "float16", "f16": "float16", "bf16": "bfloat16",
    "float": "float32", "single": "float32", "fp32": "float32", "f32": "float32",
    "double": "float64", "fp64": "float64", "f64": "float64",
}  # fmt: skip
MAX_SEED: Final = 2**63 - 1


def dtype_name(dtype: object) -> str:
    """Canonical floating dtype name of ``dtype`` (a string or any framework's dtype object), else TypeError."""
    name: str | None
    if isinstance(dtype, str):
        name = dtype
    elif isinstance(dtype, type) and issubclass(dtype, np.generic):
        name = np.dtype(dtype).name  # scalar type classes: np.float32, ml_dtypes.bfloat16
    else:
        name = getattr(dtype, "name", None) or getattr(getattr(dtype, "dtype", None), "name", None)
        if not isinstance(name, str):
            name = str(dtype)
    name = name.lower().removeprefix("torch.").removeprefix("<dtype: '").removesuffix("'>")
    name = _DTYPE_ALIASES.get(name, name)
    if name.startswith("float8"):
        raise TypeError(
            f"dtype {dtype!r} is not a floating-point dtype winit fills: an 8-bit float (3 or 2 mantissa "
            f"bits cannot hold an init law's scale and shape); draw {', '.join(FLOAT_DTYPES)} and "
            "convert with your framework's fp8 scaling recipe"
        )
    if name not in FLOAT_DTYPES:
        raise TypeError(
            f"dtype {dtype!r} is not a floating-point dtype; winit initializes "
            f"{', '.join(FLOAT_DTYPES)} tensors"
        )
    return name


def check_seed(seed: object) -> int:
    """Return ``seed`` as an int in [0, 2⁶³ − 1]; a missing seed draws fresh OS entropy."""
    if seed is None:
        return secrets.randbits(63)
    if isinstance(seed, bool) or not isinstance(seed, numbers.Integral):
        raise TypeError(f"seed must be an int, None or a generator of the backend, got {seed!r}")
    if not 0 <= int(seed) <= MAX_SEED:
        raise ValueError(f"seed must be in [0, 2**63 - 1], got {seed}")
    return int(seed)


#: (largest finite, smallest positive subnormal) of each dtype winit fills.
_LIMITS: Final = {
    "float16": (65504.0, 2.0**-24),
    "bfloat16": (3.3895313892515355e38, 2.0**-133),
    "float32": (3.4028234663852886e38, 2.0**-149),
    "float64": (sys.float_info.max, 5e-324),
}
#: a normal law's values reach mean ± this many σ (float64 Box–Muller or inverse CDF stop near 8.6σ).
_NORMAL_REACH: Final = 9.0
LOW_PRECISION: Final = ("float16", "bfloat16")


def round_inward(x: float, name: str, up: bool) -> float:
    """The representable ``name`` value nearest ``x`` on one side: the smallest ≥ x if ``up``, else the largest ≤ x."""
    if name == "bfloat16":  # bfloat16 is float32's top 16 bits: cut the float32 answer's mantissa
        f = np.float32(round_inward(x, "float32", up))
        bits = int(f.view(np.uint32))
        cut = np.uint32(bits & 0xFFFF0000).view(np.float32)  # toward zero
        if cut == f or (f > 0) != up:
            return float(cut)
        return float(np.uint32((bits & 0xFFFF0000) + 0x10000).view(np.float32))  # away from zero
    kind = np.dtype(name).type
    r = kind(x)
    if up and float(r) < x:
        r = np.nextafter(r, kind(np.inf))
    elif not up and float(r) > x:
        r = np.nextafter(r, kind(-np.inf))
    return float(r)


def support(law: Law, name: str) -> tuple[float, float] | None:
    """[lo, hi]: the representable ``name`` values inside a uniform's or truncated normal's support, else None."""
    if isinstance(law, Uniform):
        low, high = law.low, law.high
    elif isinstance(law, TruncatedNormal):
        low, high = law.mean + law.lower * law.sigma, law.mean + law.upper * law.sigma
    else:
        return None
    return round_inward(low, name, up=True), round_inward(high, name, up=False)


def clamp_support(xp: Any, values: Any, law: Law, name: str) -> Any:
    """``values`` with every element moved into ``support(law, name)`` (in place for NumPy and torch).

    Rounding a float32 draw to the dtype is unbiased but can step past the law's support by up to
    half an ulp (U(±b) in bfloat16, a shifted truncation cut); the nearest value inside replaces it.
    """
    bounds = support(law, name)
    if bounds is None:
        return values
    lo, hi = bounds
    if isinstance(values, np.ndarray):
        return np.clip(values, values.dtype.type(lo), values.dtype.type(hi), out=values)
    if hasattr(values, "clamp_"):
        return values.clamp_(lo, hi)
    return xp.clip(values, lo, hi)


def check_fits(law: Law, name: str) -> None:
    """ValueError unless ``law``'s bounds, std and reach are finite in ``name`` and its scale survives rounding."""
    largest, smallest = _LIMITS[name]

    def refuse(what: str, value: float, why: str) -> None:
        raise ValueError(f"{what} {value:.6g} {why} in {name} (largest finite {largest:.6g}); {_ADVICE}")

    if isinstance(law, Constant):
        if abs(law.value) > largest:
            refuse("constant value", law.value, "overflows")
        return
    if isinstance(law, Uniform):
        for what, value in (("low", law.low), ("high", law.high), ("width high - low", law.high - law.low)):
            if abs(value) > largest:
                refuse(f"uniform {what}", value, "overflows")  # U(±3e38): high − low is inf in float32
        scale = law.high - law.low
    elif isinstance(law, Normal):
        reach = abs(law.mean) + _NORMAL_REACH * law.sigma
        if reach > largest:
            refuse(f"normal law N({law.mean:.6g}, {law.sigma:.6g}²) reaches |mean| + {_NORMAL_REACH:g}σ =", reach,
                   "which overflows")  # fmt: skip
        scale = law.sigma
    elif isinstance(law, TruncatedNormal):
        for what, value in (("σ", law.sigma), ("cut", law.mean + law.lower * law.sigma),
                            ("cut", law.mean + law.upper * law.sigma)):  # fmt: skip
            if not abs(value) <= largest:
                refuse(f"truncated normal {what}", value, "overflows")
        scale = law.sigma
    else:  # orthogonal, identity, dirac: gain times entries of magnitude ≤ 1
        if law.gain > largest:
            refuse("gain", law.gain, "overflows")
        scale = law.gain
    if 0 < scale < smallest:
        raise ValueError(
            f"{type(law).__name__} scale {scale:.6g} is below {name}'s smallest subnormal {smallest:.6g}: "
            f"every value would round to 0; {_ADVICE}"
        )


_ADVICE: Final = "check gain, scale, stddev and the bounds, or ask for a wider dtype"
#: CPU orthogonal refuses a QR above this many floating-point operations (hours on a CPU).
MAX_CPU_QR_FLOPS: Final = 1e14


def physical_memory() -> int | None:
    """Bytes of RAM on this host (os.sysconf), or None where the OS does not say."""
    try:
        return int(os.sysconf("SC_PHYS_PAGES")) * int(os.sysconf("SC_PAGE_SIZE"))
    except (ValueError, OSError, AttributeError):  # pragma: no cover - platform-dependent
        return None


def check_size(adapter: Adapter, plan: Plan, name: str, device: Any) -> None:
    """ValueError before any allocation when a CPU draw of ``plan`` cannot fit in RAM (or its QR would take hours).

    Estimate: the result plus a float32 sampling copy for float16/bfloat16; orthogonal adds its
    Gaussian, Q and LAPACK's factor copy in the linalg dtype, and R.
    """
    if not adapter.on_cpu(device):
        return
    n = math.prod(plan.shape)
    item = 2 if name in LOW_PRECISION else (4 if name == "float32" else 8)
    need = n * (item + (4 if item < 4 else 0))
    law = plan.law
    if isinstance(law, Orthogonal):
        rows = plan.shape[law.out_axis]
        cols = n // rows
        big, small = max(rows, cols), min(rows, cols)
        work = 8 if name == "float64" else 4
        need = n * item + 3 * n * work + small * small * work
        flops = 4.0 * big * small * small - 4.0 / 3.0 * small**3  # Householder QR, then forming Q
        if flops > MAX_CPU_QR_FLOPS:
            raise ValueError(
                f"orthogonal of shape {plan.shape} needs a QR of a {big}x{small} matrix, about "
                f"{flops:.2g} floating-point operations (hours on a CPU; winit refuses above "
                f"{MAX_CPU_QR_FLOPS:.0e}); draw it on an accelerator or use a smaller matrix"
            )
    memory = physical_memory()
    if memory is not None and need > memory:
        raise ValueError(
            f"shape {plan.shape} in {name} needs about {need / 2**30:.3g} GiB to draw, more than this "
            f"machine's {memory / 2**30:.3g} GiB of RAM; use a smaller shape or draw it in shards "
            "(rng='portable', shard=...)"
        )


class Adapter(Protocol):
    """A framework's native samplers, dtypes and devices, and its hooks into the portable engine; no scheme maths.

    Each adapter class subclasses this protocol, so mypy checks it implements every method without a
    body; the hooks with a body are defaults that an adapter overrides where its framework differs.
    """

    name: str
    default_layout: str
    #: "rows_then_transpose" draws the Gaussian as (rows, cols) and transposes when rows < cols
    #: (torch.nn.init.orthogonal_); "tall" draws (max, min) directly (Keras, JAX).
    orthogonal_draw: str

    @property
    def xp(self) -> Any: ...

    def native_dtype(self, name: str) -> Any: ...

    def linalg_dtype(self, name: str) -> str: ...

    def generator(self, seed: object, device: Any) -> Any: ...

    def device(self, device: object) -> Any: ...

    def on_cpu(self, device: Any) -> bool:
        """Whether ``device`` (as :meth:`device` resolved it) is host memory, where ``check_size`` applies."""
        ...

    def full(self, shape: tuple[int, ...], value: float, dtype: Any, device: Any) -> Any: ...

    def uniform(
        self, rng: Any, shape: tuple[int, ...], dtype: Any, device: Any, low: float, high: float
    ) -> Any: ...

    def normal(
        self, rng: Any, shape: tuple[int, ...], dtype: Any, device: Any, mean: float, sigma: float
    ) -> Any: ...

    def truncated_normal(
        self, rng: Any, shape: tuple[int, ...], dtype: Any, device: Any, law: TruncatedNormal
    ) -> Any: ...

    def draw_law(self, rng: Any, shape: tuple[int, ...], dtype: Any, device: Any, law: Law) -> Any:
        """``law`` drawn the framework's own way (JAX rounds the variance to the dtype first), or None."""
        return None

    def portable_engine(self, device: Any) -> Engine:
        """How this framework computes portable values on ``device`` (``_portable.engine``)."""
        ...

    def portable_scope(self, device: Any) -> AbstractContextManager[None]:
        """Entered around a portable draw on ``device`` (TensorFlow places ops by context, not by argument)."""
        return contextlib.nullcontext()

    def portable_key(self, seed: object) -> Any:
        """The Philox key words of ``seed`` if it is this framework's own PRNG key, else None (an int seed)."""
        return None

    def portable_sharded(self, shard: object, whole: Callable[[], Any]) -> Any:
        """``whole()`` laid out by ``shard`` if it is this framework's own sharding, else None (a block of slices)."""
        return None


def sample(
    adapter: Adapter,
    rng: Any,
    plan: Plan,
    name: str,
    dtype: Any,
    device: Any,
    out: Any = None,
    *,
    framework_bits: bool = False,
) -> Any:
    """Draw ``plan.law`` with ``rng``; ``out`` (for adapters whose samplers take one) is filled in place.

    The dtype policy: float16/bfloat16 draws are made in float32 and rounded to nearest (unbiased;
    the frameworks' in-dtype draws have as few as 128 distinct values and a mean bias), and every
    uniform or truncated normal is then clamped to the representable values inside its support.
    ``framework_bits=True`` keeps the framework's own draw in the dtype, unclamped (front-door parity).
    Structured laws (orthogonal, identity, dirac) always return a new tensor, which the caller copies.
    """
    fill = {} if out is None else {"out": out}
    law, shape = plan.law, plan.shape
    if isinstance(law, Constant):
        return adapter.full(shape, law.value, dtype, device, **fill)
    if isinstance(law, Identity):
        return identity(adapter, shape, law, dtype, device)
    if isinstance(law, Dirac):
        return dirac(adapter, shape, law, dtype, device)
    if isinstance(law, ZerO):
        return zer_o(adapter, shape, law, dtype, device)
    if isinstance(law, Orthogonal):
        return orthogonal(adapter, rng, shape, law, name, device)
    wide = name in LOW_PRECISION and not framework_bits
    draw = adapter.native_dtype("float32") if wide else dtype
    values: Any
    if isinstance(law, Uniform):
        values = adapter.uniform(rng, shape, draw, device, law.low, law.high, **({} if wide else fill))
    elif isinstance(law, Normal):
        values = adapter.normal(rng, shape, draw, device, law.mean, law.sigma, **({} if wide else fill))
    elif isinstance(law, TruncatedNormal):
        values = adapter.truncated_normal(rng, shape, draw, device, law, **({} if wide else fill))
    else:  # pragma: no cover - Law is a closed union
        raise TypeError(f"no sampler for law {law!r}")
    if wide:
        values = adapter.xp.astype(values, dtype)
        if out is not None:
            values = out.copy_(values)
    return values if framework_bits else clamp_support(adapter.xp, values, law, name)


def orthogonal(
    adapter: Adapter, rng: Any, shape: tuple[int, ...], law: Orthogonal, dtype: str, device: Any
) -> Any:
    """gain·Q: QR of a Gaussian (rows = shape[out_axis], cols = the rest), Q·sign(diag R), reshaped back."""
    xp = adapter.xp
    rows = shape[law.out_axis]
    cols = math.prod(shape) // rows
    work = adapter.native_dtype(adapter.linalg_dtype(dtype))
    if adapter.orthogonal_draw == "rows_then_transpose":
        matrix = adapter.normal(rng, (rows, cols), work, device, 0.0, 1.0)
        if rows < cols:
            matrix = xp.matrix_transpose(matrix)
    else:
        matrix = adapter.normal(rng, (max(rows, cols), min(rows, cols)), work, device, 0.0, 1.0)
    q, r = xp.linalg.qr(matrix)
    q = q * xp.sign(xp.linalg.diagonal(r))[None, :]
    # Keras and JAX factor the (rest, out) flattening, so their square draw is read as [rest, out]:
    # transposing it too keeps "tall" bit-identical to jax.nn.initializers.orthogonal for square kernels.
    if rows < cols or (rows == cols and adapter.orthogonal_draw == "tall"):
        q = xp.matrix_transpose(q)
    rest = tuple(d for axis, d in enumerate(shape) if axis != law.out_axis)
    q = xp.reshape(q, (rows, *rest))
    if law.out_axis != 0:
        order = list(range(1, len(shape)))
        order.insert(law.out_axis, 0)
        q = xp.permute_dims(q, tuple(order))
    if law.gain != 1.0:  # ×1 is exact, so skipping it keeps parity and saves a full-size temporary
        q = q * law.gain
    return xp.astype(q, adapter.native_dtype(dtype), copy=False)


def identity(adapter: Adapter, shape: tuple[int, ...], law: Identity, dtype: Any, device: Any) -> Any:
    """gain·I for a 2-D shape."""
    xp = adapter.xp
    # astype: NumPy promotes an ml_dtypes bfloat16 array times a Python float to float32.
    return xp.astype(xp.eye(shape[0], shape[1], dtype=dtype, device=device) * law.gain, dtype)


def dirac(adapter: Adapter, shape: tuple[int, ...], law: Dirac, dtype: Any, device: Any) -> Any:
    """gain where out % (out/groups) == in and every kernel index is its centre, zero elsewhere."""
    xp = adapter.xp
    ndim = len(shape)

    def index(axis: int) -> Any:
        view = [1] * ndim
        view[axis] = shape[axis]
        return xp.reshape(xp.arange(shape[axis], device=device), tuple(view))

    out_per_group = shape[law.out_axis] // law.groups
    mask = (index(law.out_axis) % out_per_group) == index(law.in_axis)
    for axis in range(ndim):
        if axis not in (law.in_axis, law.out_axis):
            centre = (shape[axis] - 1) // 2 if law.low_centre else shape[axis] // 2
            mask = mask & (index(axis) == centre)
    ones = xp.full(shape, law.gain, dtype=dtype, device=device)
    return xp.where(mask, ones, xp.zeros(shape, dtype=dtype, device=device))


def zer_o(adapter: Adapter, shape: tuple[int, ...], law: ZerO, dtype: Any, device: Any) -> Any:
    """ZerO at the kernel centre: gain where out index == in index (out ≤ in), else gain·c·(−1)^popcount(o & i)."""
    xp = adapter.xp
    ndim = len(shape)
    rows, cols = shape[law.out_axis], shape[law.in_axis]

    def index(axis: int) -> Any:
        view = [1] * ndim
        view[axis] = shape[axis]
        return xp.reshape(xp.arange(shape[axis], device=device), tuple(view))

    out, in_ = index(law.out_axis), index(law.in_axis)
    mask: Any = None
    for axis in range(ndim):
        if axis not in (law.in_axis, law.out_axis):
            centre = (shape[axis] - 1) // 2 if law.low_centre else shape[axis] // 2
            tap = index(axis) == centre
            mask = tap if mask is None else mask & tap
    zeros = xp.zeros(shape, dtype=dtype, device=device)
    if rows <= cols:  # the partial identity I*
        ones = out == in_
        mask = ones if mask is None else mask & ones
        return xp.where(mask, xp.full(shape, law.gain, dtype=dtype, device=device), zeros)
    # Sylvester's H_m[o, i] = (−1)^popcount(o & i): fold the bits of o & i onto bit 0 (o < 2^m ≤ 2^63).
    bits = xp.bitwise_and(out, in_)
    shift = 1
    while shift < rows.bit_length():
        bits = xp.bitwise_xor(bits, xp.bitwise_right_shift(bits, shift))
        shift *= 2
    odd = xp.bitwise_and(bits, 1) == 1
    c = law.gain * zer_o_scale(rows)
    signed = xp.where(
        odd, xp.full(shape, -c, dtype=dtype, device=device), xp.full(shape, c, dtype=dtype, device=device)
    )
    return signed if mask is None else xp.where(mask, signed, zeros)


def tail_proposal(lower: float, upper: float) -> str:
    """The proposal ``rejection_truncated_normal`` uses for N(0, 1) on [lower, upper].

    "normal": N(0, 1), redrawn outside (the window holds ≥ 30% of the mass). Otherwise
    "uniform": U(lower, upper) accepted with exp(−(z² − m²)/2), m the window's point nearest 0,
    or "exponential" (Robert 1995, one-sided windows): z = a + Exp(1)/α, α = (a + √(a² + 4))/2,
    accepted with exp(−(z − α)²/2) and z ≤ b, for the window [a, b] reflected onto z ≥ 0.
    Their acceptance rates are Φ(a, b)·√(2π)·e^(a²/2)/(b − a) and Φ(a, b)·√(2π)·e^(a²/2)·α·e^(−(α−a)²/2):
    the ratio needs no tail mass, so far windows ([20σ, 10⁶σ]) are decided without underflow.
    """
    if normal_mass(lower, upper) >= 0.3:
        return "normal"
    if lower < 0 < upper:
        return "uniform"  # < 30% of the mass around 0 means a thin window: U accepts ≥ e^(−max²/2)
    a, b = (lower, upper) if lower >= 0 else (-upper, -lower)
    alpha = 0.5 * (a + math.sqrt(a * a + 4.0))
    log_ratio = math.log(alpha) - 0.5 * (alpha - a) ** 2 + math.log(b - a)
    return "exponential" if log_ratio > 0 else "uniform"


def uniform_acceptance(lower: float, upper: float) -> float:
    """Acceptance rate of U(lower, upper) proposals for N(0, 1) on the window: Φ(window)·√(2π)·e^(m²/2)/width."""
    nearest = min(max(0.0, lower), upper)
    mass = normal_mass(lower, upper)
    if mass < 1e-300 or abs(nearest) > 37.0:  # e^(m²/2) overflows where the mass underflows
        return 0.0
    return mass * math.sqrt(2.0 * math.pi) * math.exp(0.5 * nearest * nearest) / (upper - lower)


def rejection_truncated_normal(
    xp: Any,
    standard_normal: Callable[[int], Any],
    uniform64: Callable[[int], Any],
    shape: tuple[int, ...],
    law: TruncatedNormal,
    dtype: Any = None,
    device: Any = None,
    block: int = 1 << 20,
) -> Any:
    """mean + sigma·z, z ~ N(0, 1) conditioned on [lower, upper], by rejection, block by block.

    ``tail_proposal`` picks the proposal. ``standard_normal(n)`` returns n fresh N(0, 1) in ``dtype``
    (the "normal" proposal keeps the draw in ``dtype``); ``uniform64(n)`` returns n fresh float64
    U[0, 1). Thin and tail windows propose and accept in float64, one block at a time (at most
    ``block`` float64 temporaries), because the acceptance test needs it: Exp(1) = −log(1 − u) from
    a float32 u stops at 16.6, and u = 0 would accept any proposal (values at 97σ in [3σ, 100σ]).
    """
    lower, upper = law.lower, law.upper
    kind = tail_proposal(lower, upper)
    if kind == "normal":
        flat = xp.reshape(standard_normal(math.prod(shape)), (-1,))
        for start in range(0, flat.shape[0], block):
            chunk = flat[start : start + block]
            bad = xp.nonzero((chunk < lower) | (chunk > upper))[0]
            while bad.shape[0]:
                fresh = standard_normal(bad.shape[0])
                chunk[bad] = fresh
                bad = bad[xp.nonzero((fresh < lower) | (fresh > upper))[0]]
        flat *= law.sigma
        flat += law.mean
        return xp.reshape(flat, shape)
    flip = kind == "exponential" and upper <= 0  # sample the mirror window on z ≥ 0, then negate
    a, b = (-upper, -lower) if flip else (lower, upper)
    alpha = 0.5 * (a + math.sqrt(a * a + 4.0))
    nearest = min(max(0.0, a), b)

    def propose(n: int) -> Any:
        u = uniform64(n)
        if kind == "exponential":
            return a - xp.log(1.0 - u) / alpha
        return a + (b - a) * u

    def rejected(z: Any) -> Any:
        exponential = -xp.log(1.0 - uniform64(z.shape[0]))  # Exp(1) in [0, 36.7]: 1 − u is never 0
        if kind == "exponential":
            return (z > b) | (exponential < 0.5 * (z - alpha) ** 2)
        return exponential < 0.5 * (z - nearest) * (z + nearest)

    total = math.prod(shape)
    out = xp.empty((total,), dtype=dtype, device=device)
    scale = -law.sigma if flip else law.sigma
    for start in range(0, total, block):
        chunk = propose(min(block, total - start))
        bad = xp.nonzero(rejected(chunk))[0]
        while bad.shape[0]:
            fresh = propose(bad.shape[0])
            chunk[bad] = fresh
            bad = bad[xp.nonzero(rejected(fresh))[0]]
        out[start : start + chunk.shape[0]] = xp.astype(chunk * scale + law.mean, dtype)
    return xp.reshape(out, shape)
