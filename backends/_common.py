"""What every adapter shares: dtype and seed checks, the adapter contract, and the structured laws.

Orthogonal, identity and dirac are written once here against the array API (``xp``); an adapter
supplies only its framework's samplers, dtypes and devices.
"""

from __future__ import annotations

import math
import numbers
import secrets
from collections.abc import Callable
from typing import Any, Final, Protocol

import numpy as np

from winit._laws import (
    Constant,
    Dirac,
    Identity,
    Normal,
    Orthogonal,
    TruncatedNormal,
    Uniform,
    normal_mass,
)
from winit._schemes import Plan

FLOAT_DTYPES: Final[tuple[str, ...]] = ("float16", "bfloat16", "float32", "float64")
_DTYPE_ALIASES: Final = {
    "half": "float16", "fp16": "float16", "f16": "float16", "bf16": "bfloat16",
    "float": "float32", "single": "float32", "fp32": "float32", "f32": "float32",
    "double": "float64", "fp64": "float64", "f64": "float64",
}  # fmt: skip
MAX_SEED: Final = 2**63 - 1


def dtype_name(dtype: object) -> str:
    """Canonical floating dtype name of ``dtype`` (a string or any framework's dtype object), else TypeError."""
    name: object
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


class Adapter(Protocol):
    """A framework's native samplers, dtypes and devices; no scheme maths."""

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


def realize(
    adapter: Adapter,
    plan: Plan,
    *,
    seed: object = None,
    dtype: object = "float32",
    device: object = None,
    rng: str = "native",
    stream: object = None,
    shard: object = None,
) -> Any:
    """Sample ``plan`` into a new native tensor of ``adapter``'s framework.

    ``rng="portable"`` (with optional ``stream`` and ``shard``) hands over to ``_portable``.
    """
    if rng != "native" or stream is not None or shard is not None:
        from ._portable import check_rng, realize_portable

        if check_rng(rng) == "portable":
            return realize_portable(
                adapter, plan, seed=seed, dtype=dtype, device=device, stream=stream, shard=shard
            )
        raise ValueError(
            "stream= and shard= need rng='portable': the native generators are not counter-based, "
            "so a block of their output cannot be drawn on its own"
        )
    name = dtype_name(dtype)
    native = adapter.native_dtype(name)
    dev = adapter.device(device)
    law = plan.law
    if not isinstance(law, (Uniform, Normal, TruncatedNormal, Orthogonal)):
        return sample(adapter, None, plan, name, native, dev)  # no randomness: no generator to build
    rng = adapter.generator(seed, dev)
    # Optional hook: an adapter may draw a law its framework's own way (JAX rounds the variance to the
    # dtype first, as jax.nn.initializers do) and returns None for laws it leaves to the samplers.
    draw_law = getattr(adapter, "draw_law", None)
    if draw_law is not None and (drawn := draw_law(rng, plan.shape, native, dev, law)) is not None:
        return drawn
    return sample(adapter, rng, plan, name, native, dev)


def sample(
    adapter: Adapter, rng: Any, plan: Plan, name: str, dtype: Any, device: Any, out: Any = None
) -> Any:
    """Draw ``plan.law`` with ``rng``; ``out`` (for adapters whose samplers take one) is filled in place.

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
    if isinstance(law, Uniform):
        return adapter.uniform(rng, shape, dtype, device, law.low, law.high, **fill)
    if isinstance(law, Normal):
        return adapter.normal(rng, shape, dtype, device, law.mean, law.sigma, **fill)
    if isinstance(law, TruncatedNormal):
        return adapter.truncated_normal(rng, shape, dtype, device, law, **fill)
    if isinstance(law, Orthogonal):
        return orthogonal(adapter, rng, shape, law, name, device)
    raise TypeError(f"no sampler for law {law!r}")  # pragma: no cover - Law is a closed union


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


def rejection_truncated_normal(
    xp: Any,
    standard_normal: Callable[[int], Any],
    standard_uniform: Callable[[int], Any],
    shape: tuple[int, ...],
    law: TruncatedNormal,
    block: int = 1 << 20,
) -> Any:
    """mean + sigma·z, z ~ N(0, 1) conditioned on [lower, upper], by rejection, block by block.

    A window holding at least 30% of the normal's mass redraws N(0, 1) proposals that fall
    outside; a thinner one proposes U(lower, upper) and accepts with the ratio of densities
    exp(−(z² − m²)/2), m the window's point nearest 0. ``standard_normal(n)`` and
    ``standard_uniform(n)`` return fresh 1-D draws; blocks bound the mask and index temporaries.
    """
    lower, upper = law.lower, law.upper
    thin = normal_mass(lower, upper) < 0.3
    peak = min(max(0.0, lower), upper) ** 2

    def propose(n: int) -> Any:
        if not thin:
            return standard_normal(n)
        z = standard_uniform(n)
        z *= upper - lower
        z += lower
        return z

    def rejected(z: Any) -> Any:
        if not thin:
            return (z < lower) | (z > upper)
        return xp.log(standard_uniform(z.shape[0])) > -0.5 * (z * z - peak)

    flat = xp.reshape(propose(math.prod(shape)), (-1,))
    for start in range(0, flat.shape[0], block):
        chunk = flat[start : start + block]
        bad = xp.nonzero(rejected(chunk))[0]
        while bad.shape[0]:
            fresh = propose(bad.shape[0])
            chunk[bad] = fresh
            bad = bad[xp.nonzero(rejected(fresh))[0]]
    flat *= law.sigma
    flat += law.mean
    return xp.reshape(flat, shape)
