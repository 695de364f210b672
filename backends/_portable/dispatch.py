"""Dispatch: a plan's law to the engine its adapter gives, block by block; structured laws built whole.

Nothing here names a framework: the adapter answers through its hooks (``portable_engine`` for the
values, ``portable_scope`` around a structured draw, ``portable_key`` for a framework's own PRNG key,
``portable_sharded`` for a framework's own sharding).
"""

from __future__ import annotations

from typing import Any

from winit._laws import Constant, Dirac, Identity, Normal, Orthogonal, TruncatedNormal, Uniform, ZerO
from winit._schemes import Plan

from .._common import Adapter, check_fits, clamp_support, dirac, dtype_name, identity, orthogonal, zer_o
from .._tail import check_window_fits
from .args import Block, key_words, normalize_shard, portable_seed, stream_id
from .bits import recipe_for
from .fused import FusedEngine


def draw_values(
    adapter: Adapter,
    law: Uniform | Normal | TruncatedNormal,
    shape: tuple[int, ...],
    block: Block,
    key: Any,
    stream: int,
    dtype: str,
    device: Any,
) -> Any:
    """``block`` of the global ``shape`` tensor drawn from ``law`` by the adapter's engine (bits: see the package)."""
    native = adapter.native_dtype(dtype)
    block_shape = tuple(b - a for a, b in block)
    if isinstance(law, Uniform) and law.low == law.high:
        return adapter.full(block_shape, law.low, native, device)
    if isinstance(law, (Normal, TruncatedNormal)) and law.sigma == 0:
        return adapter.full(block_shape, law.mean, native, device)
    if isinstance(law, TruncatedNormal):
        check_window_fits(law.mean, law.sigma, law.lower, law.upper, dtype)
    work = "float64" if dtype == "float64" else "float32"
    recipe, numbers_ = recipe_for(law, work == "float64")
    engine = adapter.portable_engine(device)
    values = engine.values(shape, block, key, stream, recipe, numbers_, work, adapter.native_dtype(work))
    return values if work == dtype else adapter.xp.astype(values, native)


class _GaussianSource:
    """Stands in for the adapter inside ``_common.orthogonal``: ``normal`` is the portable draw.

    The (rows, cols) Gaussian is rows [row_start, row_start + rows) of a (parent_rows, cols)
    matrix, so a block of a larger parameter (an RNN gate) draws from that parameter's indices.
    """

    orthogonal_draw = "rows_then_transpose"

    def __init__(self, adapter: Adapter, key: Any, stream: int, parent_rows: int, row_start: int) -> None:
        self.adapter, self.key, self.stream = adapter, key, stream
        self.parent_rows, self.row_start = parent_rows, row_start

    @property
    def xp(self) -> Any:
        return self.adapter.xp

    def native_dtype(self, name: str) -> Any:
        return self.adapter.native_dtype(name)

    def linalg_dtype(self, name: str) -> str:
        return str(self.adapter.linalg_dtype(name))

    def normal(
        self, rng: Any, shape: tuple[int, ...], dtype: Any, device: Any, mean: float, sigma: float
    ) -> Any:
        rows, cols = shape
        parent = (max(self.parent_rows, rows), cols)
        block = ((self.row_start, self.row_start + rows), (0, cols))
        values = draw_values(
            self.adapter, Normal(mean, sigma), parent, block, self.key, self.stream, dtype_name(dtype), device
        )
        return self.xp.reshape(values, shape)


def _slice(array: Any, block: Block, shape: tuple[int, ...]) -> Any:
    if all(b == (0, n) for b, n in zip(block, shape, strict=True)):
        return array
    return array[tuple(slice(a, b) for a, b in block)]


def realize_block(
    adapter: Adapter,
    plan: Plan,
    *,
    seed: Any,
    stream: int,
    dtype: str,
    device: Any,
    block: Block,
    parent_shape: tuple[int, ...] | None = None,
    row_start: int = 0,
    axis: int = 0,
) -> Any:
    """``block`` (in ``plan.shape``'s coordinates) of ``plan`` sampled portably; ``seed`` an int (or, for JAX, a key).

    ``plan`` may cover [row_start, row_start + plan.shape[axis]) along ``axis`` of a larger
    ``parent_shape`` tensor (the other axes whole): its elements then take the parent's flat indices, so a piece of
    a parameter draws the same numbers as the same rows of the whole. Orthogonal, identity and
    dirac are built whole and sliced (their block is not computed alone).
    """
    law, shape = plan.law, plan.shape
    check_fits(law, dtype)
    parent = shape if parent_shape is None else parent_shape
    others = [i for i in range(len(shape)) if i != axis]
    if parent != shape and (
        len(parent) != len(shape)
        or any(parent[i] != shape[i] for i in others)
        or row_start + shape[axis] > parent[axis]
    ):
        raise ValueError(
            f"a {shape} piece at {row_start} on axis {axis} does not fit in a {parent} parameter"
        )
    native = adapter.native_dtype(dtype)
    block_shape = tuple(b - a for a, b in block)
    if getattr(device, "type", None) == "meta":  # torch's meta device: a deferred-init placeholder, no values
        return adapter.full(block_shape, 0.0, native, device)
    key = key_words(seed) if isinstance(seed, int) else adapter.portable_key(seed)
    if key is None:
        raise TypeError(f"seed must be an int (or the backend's own PRNG key), got {type(seed).__name__}")
    if isinstance(law, Constant):
        return adapter.full(block_shape, law.value, native, device)
    if isinstance(law, Identity):
        return _slice(identity(adapter, shape, law, native, device), block, shape)
    if isinstance(law, Dirac):
        return _slice(dirac(adapter, shape, law, native, device), block, shape)
    if isinstance(law, ZerO):
        return _slice(zer_o(adapter, shape, law, native, device), block, shape)
    if isinstance(law, Orthogonal) and axis != 0 and parent != shape:
        raise ValueError(
            "a portable orthogonal piece must be a block of rows (axis 0); "
            f"got a {shape} block on axis {axis} of a {parent} parameter"
        )
    if isinstance(law, Orthogonal):
        parent_rows = parent[0] if parent != shape else shape[law.out_axis]
        source: Any = _GaussianSource(adapter, key, stream, parent_rows, row_start if parent != shape else 0)
        with adapter.portable_scope(device):
            whole = orthogonal(source, None, shape, law, dtype, device)
        return _slice(whole, block, shape)
    parent_block = tuple(
        (row_start + a, row_start + b) if i == axis else (a, b) for i, (a, b) in enumerate(block)
    )
    values = draw_values(adapter, law, parent, parent_block, key, stream, dtype, device)
    return clamp_support(adapter.xp, values, law, dtype)  # rounding to the dtype stays inside the support


def realize_into(
    adapter: Adapter,
    plan: Plan,
    out: Any,
    *,
    seed: int,
    stream: int,
    dtype: str,
    block: Block,
    parent_shape: tuple[int, ...] | None = None,
    row_start: int = 0,
    axis: int = 0,
) -> bool:
    """:func:`realize_block`'s values written straight into ``out`` (block-shaped, of ``dtype``), if the
    adapter's engine can (the fused kernel, a plain law drawn in ``dtype`` itself, ``out`` contiguous
    on the CPU); False, with nothing written, where it cannot: then call :func:`realize_block` and copy.

    Saves the copy (and the fresh pages) of a model-sized draw; the values are :func:`realize_block`'s.
    """
    law, shape = plan.law, plan.shape
    if dtype not in ("float32", "float64") or not isinstance(law, (Uniform, Normal, TruncatedNormal)):
        return False
    if (isinstance(law, Uniform) and law.low == law.high) or (
        not isinstance(law, Uniform) and law.sigma == 0
    ):
        return False
    parent = shape if parent_shape is None else parent_shape
    if parent != shape and (
        len(parent) != len(shape) or row_start + shape[axis] > parent[axis]
        or any(parent[i] != shape[i] for i in range(len(shape)) if i != axis)
    ):  # fmt: skip
        return False  # realize_block names the misfit
    engine = adapter.portable_engine(adapter.device(None))
    if not isinstance(engine, FusedEngine):
        return False
    check_fits(law, dtype)
    if isinstance(law, TruncatedNormal):
        check_window_fits(law.mean, law.sigma, law.lower, law.upper, dtype)
    recipe, numbers_ = recipe_for(law, dtype == "float64")
    parent_block = tuple(
        (row_start + a, row_start + b) if i == axis else (a, b) for i, (a, b) in enumerate(block)
    )
    if not engine.values_into(out, parent, parent_block, key_words(seed), stream, recipe, numbers_, dtype):
        return False
    clamp_support(adapter.xp, out, law, dtype)
    return True


def realize_portable(
    adapter: Adapter,
    plan: Plan,
    *,
    seed: object,
    dtype: object,
    device: object,
    stream: object,
    shard: object,
) -> Any:
    """Sample ``plan`` with the portable generator: the ``shard`` block of the global tensor (all of it if None).

    An adapter may take its framework's own PRNG key as ``seed`` (JAX: Flax's ``init(key, shape)``,
    traced or not) and its own sharding as ``shard`` (JAX: a ``jax.sharding.Sharding``, the whole
    tensor laid out by it, each device generating only its own block).
    """
    name = dtype_name(dtype)
    dev = adapter.device(device)
    root: Any = seed if adapter.portable_key(seed) is not None else portable_seed(seed)
    sid = stream_id(stream)
    full = normalize_shard(None, plan.shape)

    def whole() -> Any:
        return realize_block(adapter, plan, seed=root, stream=sid, dtype=name, device=None, block=full)

    sharded = adapter.portable_sharded(shard, whole)
    if sharded is not None:
        return sharded
    block = normalize_shard(shard, plan.shape)
    return realize_block(adapter, plan, seed=root, stream=sid, dtype=name, device=dev, block=block)
