"""The portable generator's arguments, checked: rng, stream ids, shards and the Philox key of a seed."""

from __future__ import annotations

import hashlib
import numbers
from typing import Any, Final

from .._common import MAX_SEED, check_seed
from .._philox import MASK32

RNGS: Final[tuple[str, ...]] = ("native", "portable")
MAX_STREAM: Final = 2**64 - 1

Block = tuple[tuple[int, int], ...]  # (start, stop) per axis, in global coordinates


def check_rng(rng: object) -> str:
    """``rng`` if it is "native" or "portable", else a ValueError/TypeError naming both."""
    from winit._validate import choice

    return choice("rng", rng, RNGS)


def draw_options(rng: object, stream: object, native_draw: str) -> dict[str, Any]:
    """``realize``'s rng/stream keywords, checked now: {} for the native draw, else portable with ``stream``.

    ``native_draw`` names the front door's native sampler in the error for a stream without rng='portable'.
    """
    if check_rng(rng) == "native":
        if stream is not None:
            raise ValueError(f"stream={stream!r} needs rng='portable' ({native_draw} has no streams)")
        return {}
    stream_id(stream)  # TypeError/ValueError for a bad stream, now
    return {"rng": "portable", "stream": stream}


def portable_seed(seed: object) -> int:
    """The Philox key as one int in [0, 2⁶³ − 1]; None draws fresh entropy; a backend generator is refused."""
    if seed is not None and not isinstance(seed, numbers.Integral):
        raise TypeError(
            f"rng='portable' takes an int seed (or None for fresh entropy), got {type(seed).__name__}; "
            "a backend generator or key only drives rng='native'"
        )
    return check_seed(seed)


def stream_id(stream: object) -> int:
    """A stream's 64-bit id: an int in [0, 2⁶⁴) as given, a str as blake2b-64(name) (little-endian), None as 0."""
    if stream is None:
        return 0
    if isinstance(stream, str):
        return int.from_bytes(hashlib.blake2b(stream.encode(), digest_size=8).digest(), "little")
    if isinstance(stream, bool) or not isinstance(stream, numbers.Integral):
        raise TypeError(f"stream must be a str (a parameter name), an int or None, got {stream!r}")
    if not 0 <= int(stream) <= MAX_STREAM:
        raise ValueError(f"an int stream must be in [0, 2**64 - 1], got {stream}")
    return int(stream)


def normalize_shard(shard: object, shape: tuple[int, ...]) -> Block:
    """``shard`` (None, a slice, or a tuple of slices, one per leading axis) as (start, stop) per axis of ``shape``."""
    if shard is None:
        return tuple((0, n) for n in shape)
    if not isinstance(shard, (tuple, slice)):
        raise TypeError(
            f"shard must be a slice or a tuple of slices (for jax also a jax.sharding.Sharding), "
            f"got {type(shard).__name__}"
        )
    index = shard if isinstance(shard, tuple) else (shard,)
    if len(index) > len(shape):
        raise ValueError(f"shard {shard!r} has {len(index)} entries but the tensor has shape {shape}")
    block: list[tuple[int, int]] = []
    for axis, entry in enumerate(index):
        if not isinstance(entry, slice):
            raise TypeError(
                f"shard entries must be slices (e.g. slice(0, 128)); entry {axis} is {entry!r}. "
                "A shard keeps every axis: write slice(i, i + 1) rather than i"
            )
        start, stop, step = entry.indices(shape[axis])
        if step != 1:
            raise ValueError(f"shard slices must have step 1 (a block), got {entry!r} on axis {axis}")
        block.append((start, max(start, stop)))
    block.extend((0, n) for n in shape[len(index) :])
    return tuple(block)


def key_words(seed: int) -> tuple[int, int]:
    """Philox key (k0, k1) = (seed mod 2³², seed >> 32)."""
    if not 0 <= seed <= MAX_SEED:
        raise ValueError(f"seed must be in [0, 2**63 - 1], got {seed}")
    return seed & MASK32, seed >> 32
