"""Writing init_'s draws into a torch model: generators per name, checked-once draws, portable blocks.

Split from :mod:`winit._torch_model` (which plans); ``local_block`` (the part of a parameter this
process holds, DTensor-aware) is passed in so that it stays one function of that module.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from typing import Final, Protocol

import torch
from torch import Tensor

from winit._roles import name_seed
from winit._schemes import Plan
from winit.backends._common import check_fits, dtype_name, sample
from winit.backends._portable import realize_block, realize_into, stream_id
from winit.backends._portable.engine import portable_threads, worker_pool
from winit.backends._portable_batch import Draw, batchable
from winit.backends.torch import ADAPTER

#: (the tensor this process holds of a parameter, its (start, stop) per axis in the global tensor)
LocalBlock = Callable[[Tensor], "tuple[Tensor, tuple[tuple[int, int], ...]]"]


class Piece(Protocol):
    """What a write needs of one of init_'s pieces: its parameter's name, its block, its stream."""

    @property
    def name(self) -> str: ...
    @property
    def start(self) -> int: ...
    @property
    def stop(self) -> int | None: ...
    @property
    def axis(self) -> int: ...
    @property
    def stream(self) -> str: ...
    @property
    def canonical(self) -> Plan | None: ...

    def of(self, tensor: Tensor) -> Tensor:
        """The piece's block of ``tensor``."""
        ...


def stream(seed: int, name: str, device: torch.device) -> torch.Generator:
    """A generator for parameter ``name``: seeded with the first 63 bits of blake2b(f"{seed}/{name}")."""
    generator = torch.Generator(device=device)
    generator.manual_seed(name_seed(seed, name))
    return generator


def realize(plan: Plan, out: Tensor, stream: torch.Generator | None, given: torch.Generator | None) -> Tensor:
    """``ADAPTER.realize_into(plan, out, stream)``, the same draw, without its argument checks when init_
    made ``out`` (the plan's shape) and ``stream`` (on ``out``'s device) itself: ~25 µs a parameter."""
    if given is not None or out.is_meta:
        return ADAPTER.realize_into(plan, out, stream)
    name = dtype_name(out.dtype)
    check_fits(plan.law, name)
    result = sample(ADAPTER, stream, plan, name, out.dtype, out.device, out=out, framework_bits=True)
    return out if result is out else out.copy_(result)  # structured laws build a new tensor


#: torch splits a CPU copy over its intra-op threads past this many elements (at::internal::GRAIN_SIZE)
_GRAIN: Final = 32768


def copy_block(target: Tensor, dense: Tensor) -> None:
    """``target.copy_(dense)`` for a strided column block; on CPU in row slabs under torch's grain size.

    A whole-block copy wakes the intra-op pool, which on a busy machine (threads waiting for a core)
    measured 40-80 ms for GPT-2's three 768² blocks against 1 ms on one thread.
    """
    rows = max(1, _GRAIN // max(1, math.prod(target.shape[1:])))
    if target.device.type != "cpu" or target.ndim == 0 or target.shape[0] <= rows:
        target.copy_(dense)
        return
    for start in range(0, target.shape[0], rows):
        length = min(rows, target.shape[0] - start)
        target.narrow(0, start, length).copy_(dense.narrow(0, start, length))


#: the elements a parameter-parallel native write must draw in all before a second thread pays for itself
_PARALLEL_MIN: Final = 1 << 20

#: a native write: (its elements, a function drawing it with the caller's buffers for column blocks)
DenseBlocks = dict[tuple[tuple[int, ...], torch.dtype, torch.device], Tensor]
Job = tuple[int, Callable[[DenseBlocks], None]]


def write_native(plan: Plan, target: Tensor, stream: torch.Generator | None, given: torch.Generator | None,
                 dense_blocks: DenseBlocks) -> None:  # fmt: skip
    """Draw ``plan`` into ``target``; a strided column block through a dense buffer of ``dense_blocks``."""
    if target.is_contiguous():
        realize(plan, target, stream, given)
        return
    kind = (tuple(target.shape), target.dtype, target.device)  # torch samples strided views ~10x slower
    dense = dense_blocks.get(kind)
    if dense is None:  # one buffer per block shape (GPT-2's q, k, v of every layer)
        dense = dense_blocks[kind] = torch.empty(kind[0], dtype=target.dtype, device=target.device)
    copy_block(target, realize(plan, dense, stream, given))


def run_jobs(jobs: Sequence[Job]) -> None:
    """Run native writes, each on its own generator, over torch's CPU threads (``WINIT_NUM_THREADS`` caps).

    torch's CPU ``normal_``/``uniform_`` are serial (one Mersenne Twister), but parameters seeded by
    name are independent: largest first, each to the least loaded thread (the caller is one), so a
    model's draws use every core. Values do not depend on it: each job writes its own tensor from its
    own generator.
    """
    threads = min(portable_threads(torch.get_num_threads()), len(jobs))
    if threads <= 1 or sum(size for size, _ in jobs) < _PARALLEL_MIN:
        buffers: DenseBlocks = {}
        for _, job in jobs:
            job(buffers)
        return
    parts: list[list[Callable[[DenseBlocks], None]]] = [[] for _ in range(threads)]
    loads = [0] * threads
    for size, job in sorted(jobs, key=lambda item: -item[0]):
        least = loads.index(min(loads))
        parts[least].append(job)
        loads[least] += size

    def work(part: list[Callable[[DenseBlocks], None]]) -> None:
        own: DenseBlocks = {}
        with torch.no_grad():  # grad mode is per thread: a worker starts with it on
            for job in part:
                job(own)

    futures = [worker_pool(threads - 1).submit(work, part) for part in parts[1:]]
    try:
        work(parts[0])
    finally:
        for future in futures:
            future.result()


def small_draw(piece: Piece, plan: Plan, param: Tensor, local_block: LocalBlock) -> Draw | None:
    """``piece`` as a draw for :func:`realize_many` (a small tensor this process holds whole, or rows
    of one, on its own name's stream), else None."""
    if param.is_meta or piece.axis != 0 or piece.stream or local_block(param)[0] is not param:
        return None
    shape = tuple(param.shape)
    if not shape:
        return None
    start, stop = (piece.start, piece.stop) if piece.stop is not None else (0, shape[0])
    block = ((start, stop), *((0, n) for n in shape[1:]))
    if not batchable(plan, shape, block, param.device):
        return None
    return Draw(plan, stream_id(piece.name), dtype_name(param.dtype), shape, block, piece.of(param).copy_)


def write_portable(piece: Piece, plan: Plan, seed: int, param: Tensor, local_block: LocalBlock) -> None:
    """Write this process's part of ``piece`` into ``param`` with the portable generator (stream = its name).

    A piece covers [start, stop) along its axis of its parameter (rows, or columns of an (in, out)
    tensor); elements take the parameter's flat indices, so a shard holding any block of it writes
    exactly that block's values.
    """
    local, block = local_block(param)
    if local.is_meta or local.numel() == 0:
        return
    shape, axis = tuple(param.shape), piece.axis
    start, stop = (piece.start, piece.stop) if piece.stop is not None else (0, shape[axis] if shape else 0)
    span = (max(block[axis][0], start), min(block[axis][1], stop)) if shape else (0, 0)
    if shape and span[0] >= span[1]:
        return  # this rank holds none of the piece
    piece_block = tuple(
        (span[0] - start, span[1] - start) if i == axis else b for i, b in enumerate(block)
    )  # in the piece's coordinates: its own axis shifted, the others as in the parameter
    if (
        piece.stream
    ):  # a recipe's canonical stream: the piece is a tensor of its own, drawn in the canonical layout
        drawn = piece.canonical or plan
        flipped = piece.canonical is not None  # a 2-D (in, out) storage: the canonical (out, in) transposed
        values = realize_block(
            ADAPTER, drawn, seed=seed, stream=stream_id(piece.stream), dtype=dtype_name(local.dtype),
            device=local.device, block=piece_block[::-1] if flipped else piece_block,
        )  # fmt: skip
        values = values.t() if flipped else values
    else:
        target = local.narrow(axis, span[0] - block[axis][0], span[1] - span[0]) if shape else local
        if realize_into(
            ADAPTER, plan, target, seed=seed, stream=stream_id(piece.name), dtype=dtype_name(local.dtype),
            block=piece_block, parent_shape=shape, row_start=start, axis=axis,
        ):  # fmt: skip
            return  # the fused kernel wrote the values into the parameter itself
        values = realize_block(
            ADAPTER, plan, seed=seed, stream=stream_id(piece.name), dtype=dtype_name(local.dtype),
            device=local.device, block=piece_block, parent_shape=shape, row_start=start, axis=axis,
        )  # fmt: skip
    target = local.narrow(axis, span[0] - block[axis][0], span[1] - span[0]) if shape else local
    target.copy_(values)
