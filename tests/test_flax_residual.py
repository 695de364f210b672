"""Residual branches of Flax nnx modules under ``recipe="fixup"`` / ``"zero"``, read from structure.

nnx has no graph, so the torch rule (:mod:`winit._torch_residual`) applies to attributes: a repeated block
of a stack holding ≥ 2 chaining convs; its last branch conv is zeroed (Fixup §3, ZerO §4), the others He ×
L^(-1/(2m-2)); a shortcut conv beside them (1×1 projection) and the stem stay He.
"""

from __future__ import annotations

import math

import jax
import numpy as np
import pytest
from flax import nnx

import winit.flax as wf
from winit import _flax_model
from winit._flax_residual import residual_branches


class Basic(nnx.Module):
    """conv1/bn1/conv2/bn2 and, when the width or stride changes, a 1×1 ``downsample`` defined last."""

    def __init__(self, cin: int, cout: int, stride: int, rngs: nnx.Rngs) -> None:
        self.conv1 = nnx.Conv(cin, cout, (3, 3), strides=stride, use_bias=False, rngs=rngs)
        self.bn1 = nnx.BatchNorm(cout, rngs=rngs)
        self.conv2 = nnx.Conv(cout, cout, (3, 3), use_bias=False, rngs=rngs)
        self.bn2 = nnx.BatchNorm(cout, rngs=rngs)
        self.downsample = (
            nnx.Conv(cin, cout, (1, 1), strides=stride, use_bias=False, rngs=rngs)
            if stride != 1 or cin != cout
            else None
        )

    def __call__(self, x: jax.Array) -> jax.Array:
        y = self.bn2(self.conv2(nnx.relu(self.bn1(self.conv1(x)))))
        return nnx.relu(y + (x if self.downsample is None else self.downsample(x)))


class Bottleneck(nnx.Module):
    """1×1, 3×3, 1×1 (expansion 4); the projection shortcut ``proj`` when the width changes."""

    def __init__(self, cin: int, planes: int, rngs: nnx.Rngs) -> None:
        self.conv1 = nnx.Conv(cin, planes, (1, 1), rngs=rngs)
        self.conv2 = nnx.Conv(planes, planes, (3, 3), rngs=rngs)
        self.conv3 = nnx.Conv(planes, 4 * planes, (1, 1), rngs=rngs)
        self.proj = nnx.Conv(cin, 4 * planes, (1, 1), rngs=rngs) if cin != 4 * planes else None


class ResNet(nnx.Module):
    """A stem conv, a stack of blocks (nnx.List), a head."""

    def __init__(self, blocks: list[nnx.Module], width: int, rngs: nnx.Rngs) -> None:
        self.stem = nnx.Conv(3, 8, (3, 3), use_bias=False, rngs=rngs)
        self.layers = nnx.List(blocks)
        self.head = nnx.Linear(width, 5, rngs=rngs)


def basic_resnet(seed: int = 0) -> ResNet:
    rngs = nnx.Rngs(seed)
    return ResNet([Basic(8, 8, 1, rngs), Basic(8, 8, 1, rngs), Basic(8, 16, 2, rngs)], 16, rngs)


def bottleneck_resnet() -> ResNet:
    rngs = nnx.Rngs(0)
    return ResNet([Bottleneck(8, 4, rngs), Bottleneck(16, 4, rngs)], 16, rngs)


CASES = {"basic": (basic_resnet, 3, 2), "bottleneck": (bottleneck_resnet, 2, 3)}


def _convs(model: ResNet) -> dict[str, nnx.Conv]:
    out = {"stem": model.stem}
    for b, block in enumerate(model.layers):
        out.update((f"layers.{b}.{k}", v) for k, v in vars(block).items() if isinstance(v, nnx.Conv))
    return out


def test_branches_read_from_structure() -> None:
    model = basic_resnet()
    assert residual_branches(model) == [(b.conv1, b.conv2) for b in model.layers]
    model = bottleneck_resnet()  # block 0: conv3 and proj both 4->16 / 8->16 differ; block 1: identity
    assert residual_branches(model) == [(b.conv1, b.conv2, b.conv3) for b in model.layers]


@pytest.mark.parametrize("case", CASES)
@pytest.mark.parametrize("recipe", ["fixup", "zero"])
def test_last_conv_of_each_branch_is_zero(case: str, recipe: str) -> None:
    build, blocks, m = CASES[case]
    model = build()
    wf.init_(model, recipe, seed=0)
    last = {f"layers.{b}.conv{m}" for b in range(blocks)}
    for name, conv in _convs(model).items():
        zero = not np.any(np.asarray(conv.kernel.get_value()))
        assert zero == (name in last), f"{recipe} {case}: {name} zero={zero}"


@pytest.mark.parametrize("case", CASES)
def test_fixup_scales_branch_convs(case: str) -> None:
    build, blocks, m = CASES[case]
    model = build()
    _, report = wf.init_(model, "fixup", seed=0)
    inner = {f"layers.{b}.conv{k}.kernel" for b in range(blocks) for k in range(1, m)}
    rows = [r for r in report if r.role == "conv"]
    assert len(rows) == len(_convs(model))
    for row in rows:
        if row.name in inner:
            assert row.gain == pytest.approx(math.sqrt(2) * blocks ** (-1 / (2 * m - 2))), row.name
            assert row.std == pytest.approx(row.gain / math.sqrt(row.fan_in))
        elif row.name.endswith(f".conv{m}.kernel"):
            assert row.scheme == "zeros" and row.part == "branch_out"
        else:
            assert row.gain == pytest.approx(math.sqrt(2)), row.name  # stem, shortcuts
    assert report["head.kernel"].scheme == "zeros"


def test_fixup_draws_the_planned_std() -> None:
    """conv1 of the three branches (fan_in 72, 2,304 weights) × 3 seeds pooled: SE ≈ 0.85%, checked at 2.5%."""
    drawn = []
    for seed in range(3):
        model = basic_resnet()
        wf.init_(model, "fixup", seed=seed)
        drawn += [np.asarray(b.conv1.kernel.get_value()).ravel() for b in model.layers]
    sample = np.concatenate(drawn)
    planned = math.sqrt(2 / 72) * 3 ** (-1 / 2)

    def ok(values: np.ndarray) -> bool:
        return abs(float(np.sqrt(np.mean(np.square(values)))) / planned - 1) < 0.025

    assert sample.size == 3 * 2304 and ok(sample)
    assert not ok(sample * 1.05) and not ok(sample / 1.05)  # the check has power


def test_default_recipe_unchanged(monkeypatch: pytest.MonkeyPatch) -> None:
    """The flax recipe has no branch rows: the same laws and native draws as with no branch marked."""
    model = basic_resnet()
    _, report = wf.init_(model, seed=0)
    assert {r.scheme for r in report if r.role == "conv"} == {"variance_scaling"}
    monkeypatch.setattr(_flax_model, "branch_parts", lambda module: {})
    plain = basic_resnet()
    _, unmarked = wf.init_(plain, seed=0)
    assert [r.std for r in report] == [r.std for r in unmarked]
    for conv, same in zip(_convs(model).values(), _convs(plain).values(), strict=True):
        np.testing.assert_array_equal(
            np.asarray(conv.kernel.get_value()), np.asarray(same.kernel.get_value())
        )
