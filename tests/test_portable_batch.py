"""Batched portable draws equal one realize_block per tensor, bit for bit."""

from __future__ import annotations

import dataclasses
from typing import Any

import pytest
import torch
from winit.backends._portable import realize_block, stream_id
from winit.backends._portable_batch import Draw, batchable, realize_many
from winit.backends.torch import ADAPTER

import winit.torch as wt
from winit._laws import TruncatedNormal
from winit._registry import get

CPU = torch.device("cpu")


def _cases() -> list[tuple[str, tuple[int, ...], tuple[int, int] | None, str]]:
    """(scheme, shape, rows or None for the whole tensor, dtype): odd sizes and row offsets."""
    cases = []
    for scheme in ("he_normal", "glorot_uniform", "truncated_normal", "random_normal"):
        for dtype in ("float32", "float64", "bfloat16", "float16"):
            cases += [
                (scheme, (7,), None, dtype),
                (scheme, (5, 3), None, dtype),
                (scheme, (9, 5, 3), (2, 7), dtype),  # rows whose first element is not 4-aligned
                (scheme, (12, 7), (5, 11), dtype),
                (scheme, (3, 3, 1, 1), None, dtype),
            ]
    # enough elements of one law to cross the engine's 32768-counter chunks several times
    cases += [("he_normal", (64, 64, 3, 3), None, "float32") for _ in range(4)]
    cases += [("he_normal", (64, 64, 3, 3), (1, 63), "float64") for _ in range(3)]
    return cases


def _one(scheme: str, shape: tuple[int, ...], rows: tuple[int, int] | None) -> Any:
    spec = get(scheme)
    return spec.plan(shape if rows is None else (rows[1] - rows[0], *shape[1:]), "torch")


def test_batch_equals_one_draw_each() -> None:
    cases = _cases()
    got: dict[int, torch.Tensor] = {}
    draws = []
    for i, (scheme, shape, rows, dtype) in enumerate(cases):
        plan = _one(scheme, shape, rows)
        start, stop = rows if rows is not None else (0, shape[0])
        block = ((start, stop), *((0, n) for n in shape[1:]))
        assert batchable(plan, shape, block, CPU)
        sink = lambda values, i=i: got.__setitem__(i, values)  # noqa: E731
        draws.append(Draw(plan, stream_id(f"layer{i % 5}.weight"), dtype, shape, block, sink))
    realize_many(ADAPTER, 1234, CPU, draws)
    assert len(got) == len(cases)
    for i, (scheme, shape, rows, dtype) in enumerate(cases):
        plan = _one(scheme, shape, rows)
        start = rows[0] if rows is not None else 0
        piece = tuple((0, n) for n in plan.shape)
        alone = realize_block(
            ADAPTER, plan, seed=1234, stream=stream_id(f"layer{i % 5}.weight"), dtype=dtype, device=CPU,
            block=piece, parent_shape=shape, row_start=start, axis=0,
        )  # fmt: skip
        assert got[i].dtype == alone.dtype and got[i].shape == alone.shape
        assert torch.equal(got[i].view(-1).view(torch.uint8), alone.view(-1).view(torch.uint8)), cases[i]


def test_one_sided_truncation_batches_too() -> None:
    plan = get("truncated_normal").plan((6, 5), "torch")
    law = TruncatedNormal(0.0, 0.3, 0.5, 2.0)  # a one-sided window: the AS241 tail recipe
    plan = dataclasses.replace(plan, law=law)
    got: list[torch.Tensor] = []
    block = ((0, 6), (0, 5))
    realize_many(ADAPTER, 7, CPU, [Draw(plan, 3, "float32", (6, 5), block, got.append)])
    alone = realize_block(ADAPTER, plan, seed=7, stream=3, dtype="float32", device=CPU, block=block)
    assert torch.equal(got[0], alone)


def test_large_and_odd_draws_are_not_batched() -> None:
    big = get("he_normal").plan((512, 512), "torch")  # 65536 counters: the compiled-kernel size
    assert not batchable(big, (512, 512), ((0, 512), (0, 512)), CPU)
    ortho = get("orthogonal").plan((4, 4), "torch")
    assert not batchable(ortho, (4, 4), ((0, 4), (0, 4)), CPU)
    small = get("he_normal").plan((4, 6), "torch")
    assert not batchable(small, (4, 6), ((0, 4), (0, 3)), CPU)  # a column block: many runs
    assert not batchable(small, (4, 6), ((0, 4), (0, 6)), torch.device("meta"))


def test_init_batches_small_tensors(monkeypatch: pytest.MonkeyPatch) -> None:
    """init_(rng='portable') routes small parameters through realize_many (and the values stay pinned)."""
    seen: list[int] = []
    original = realize_many

    def spy(adapter: Any, seed: int, device: Any, draws: list[Draw]) -> None:
        seen.append(len(draws))
        original(adapter, seed, device, draws)

    monkeypatch.setattr("winit._torch_model.realize_many", spy)
    model = torch.nn.Sequential(torch.nn.Linear(6, 5), torch.nn.Conv1d(5, 4, 3), torch.nn.Linear(4, 3))
    wt.init_(model, seed=0, rng="portable")
    assert seen == [3]  # the three weights (biases are zeros: constants, not draws)


def test_numpy_engine_batches_the_same_values() -> None:
    """The batch runs on any in-place engine: NumPy's words are uint64, its values the same bits."""
    import numpy as np
    from winit.backends.numpy import ADAPTER as NUMPY

    got: dict[int, np.ndarray] = {}
    shapes = [(5, 3), (9, 7), (6, 4, 3)]
    draws = [
        Draw(
            get("he_normal").plan(s, "torch"),
            11 + i,
            "float32",
            s,
            tuple((0, n) for n in s),
            lambda v, i=i: got.__setitem__(i, v),
        )
        for i, s in enumerate(shapes)
    ]
    realize_many(NUMPY, 5, None, draws)
    for i, s in enumerate(shapes):
        alone = realize_block(
            NUMPY, get("he_normal").plan(s, "torch"), seed=5, stream=11 + i, dtype="float32", device=None,
            block=tuple((0, n) for n in s),
        )  # fmt: skip
        np.testing.assert_array_equal(got[i], alone)
