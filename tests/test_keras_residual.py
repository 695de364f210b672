"""Residual branches of Keras functional models under ``recipe="fixup"`` / ``"zero"``, read from the graph.

Fixup (Zhang et al. 2019, arXiv 1901.09321, §3): zero the last layer of each residual branch, scale the
branch's other layers by L^(-1/(2m-2)) (L branches, m layers per branch); shortcut and stem convs stay He.
ZerO (Zhao et al. 2022, §4) zeroes the same last convs.
"""

from __future__ import annotations

import math
from typing import Any

import keras
import numpy as np
import pytest
from keras import layers

import winit.keras as wk
from winit import _keras_model
from winit._keras_residual import residual_branches


def _basic(x: Any, cout: int, stride: int, tag: str, plus: bool) -> Any:
    y = layers.Conv2D(cout, 3, stride, padding="same", use_bias=False, name=f"{tag}_conv1")(x)
    y = layers.ReLU()(layers.BatchNormalization(name=f"{tag}_bn1")(y))
    y = layers.Conv2D(cout, 3, padding="same", use_bias=False, name=f"{tag}_conv2")(y)
    y = layers.BatchNormalization(name=f"{tag}_bn2")(y)
    if stride != 1 or x.shape[-1] != cout:  # named like a branch conv: the graph decides, not the name
        x = layers.Conv2D(cout, 1, stride, use_bias=False, name=f"{tag}_conv0")(x)
    return layers.ReLU()(x + y if plus else layers.Add()([y, x]))


def basic_resnet() -> keras.Model:
    """Stem, two identity basic blocks (one ``Add()``, one ``x + y``), one with a 1×1 projection shortcut."""
    x0 = keras.Input((8, 8, 3))
    x = layers.ReLU()(layers.Conv2D(8, 3, padding="same", use_bias=False, name="stem")(x0))
    x = _basic(x, 8, 1, "b0", plus=False)
    x = _basic(x, 8, 1, "b1", plus=True)
    x = _basic(x, 16, 2, "b2", plus=False)
    out = layers.Dense(5, name="head")(layers.GlobalAveragePooling2D()(x))
    return keras.Model(x0, out)


def bottleneck_resnet() -> keras.Model:
    """Two bottlenecks (1×1, 3×3, 1×1): a projection shortcut, then an identity one; m = 3."""
    x0 = keras.Input((8, 8, 8))
    x = x0
    for tag in ("p0", "p1"):
        y = x
        for k, (width, size) in enumerate(((4, 1), (4, 3), (16, 1))):
            y = layers.Conv2D(width, size, padding="same", name=f"{tag}_conv{k + 1}")(y)
            y = layers.BatchNormalization()(y)
            y = layers.ReLU()(y) if k < 2 else y
        shortcut = layers.Conv2D(16, 1, name=f"{tag}_down")(x) if x.shape[-1] != 16 else x
        x = layers.ReLU()(layers.Add()([shortcut, y]))
    return keras.Model(x0, x)


CASES = {
    "basic": (basic_resnet, ("b0", "b1", "b2"), 2),
    "bottleneck": (bottleneck_resnet, ("p0", "p1"), 3),
}


def _kernels(model: keras.Model) -> dict[str, Any]:
    return {layer.name: layer.kernel for layer in model.layers if isinstance(layer, layers.Conv2D)}


def test_branches_read_from_the_graph() -> None:
    model = basic_resnet()
    names = [[c.name for c in chain] for chain in residual_branches(model)]
    assert names == [["b0_conv1", "b0_conv2"], ["b1_conv1", "b1_conv2"], ["b2_conv1", "b2_conv2"]]
    model = bottleneck_resnet()
    names = [[c.name for c in chain] for chain in residual_branches(model)]
    assert names == [[f"{t}_conv{k}" for k in (1, 2, 3)] for t in ("p0", "p1")]


@pytest.mark.parametrize("case", CASES)
@pytest.mark.parametrize("recipe", ["fixup", "zero"])
def test_last_conv_of_each_branch_is_zero(case: str, recipe: str) -> None:
    build, tags, m = CASES[case]
    model = build()
    wk.init_(model, recipe=recipe, seed=0)
    last = {f"{t}_conv{m}" for t in tags}
    for name, kernel in _kernels(model).items():
        zero = not np.any(keras.ops.convert_to_numpy(kernel))
        assert zero == (name in last), f"{recipe} {case}: {name} zero={zero}"


@pytest.mark.parametrize("case", CASES)
def test_fixup_scales_branch_convs(case: str) -> None:
    """Branch convs He × L^(-1/(2m-2)); stem and shortcut convs He; the branch's last conv zeros."""
    build, tags, m = CASES[case]
    model = build()
    _, report = wk.init_(model, recipe="fixup", seed=0)
    inner = {f"{t}_conv{k}" for t in tags for k in range(1, m)}
    rows = {r.name.split("/")[0]: r for r in report if r.role == "conv"}
    for name, row in rows.items():
        if name in inner:
            assert row.gain == pytest.approx(math.sqrt(2) * len(tags) ** (-1 / (2 * m - 2))), name
            assert row.std == pytest.approx(row.gain / math.sqrt(row.fan_in))
        elif name.endswith(f"_conv{m}"):
            assert row.scheme == "zeros" and row.part == "branch_out"
        else:
            assert row.gain == pytest.approx(math.sqrt(2)), name  # stem, shortcuts
    assert len(rows) == len(_kernels(model))


def test_fixup_draws_the_planned_std() -> None:
    """The 3×3 first convs of the three branches (fan_in 72, 2,304 weights) × 3 seeds pooled: SE ≈ 0.85%.

    Checked at 2.5%, so a 5% error (3 SE past it) fails; three branches, m = 2: gain √2 · 3^(-1/2).
    """
    drawn = []
    for seed in range(3):
        model = basic_resnet()
        wk.init_(model, recipe="fixup", seed=seed)
        for tag in ("b0", "b1", "b2"):
            drawn.append(keras.ops.convert_to_numpy(model.get_layer(f"{tag}_conv1").kernel).ravel())
    sample = np.concatenate(drawn)
    planned = math.sqrt(2 / 72) * 3 ** (-1 / 2)

    def ok(values: np.ndarray) -> bool:
        return abs(float(np.sqrt(np.mean(np.square(values)))) / planned - 1) < 0.025

    assert sample.size == 3 * 2304 and ok(sample)
    assert not ok(sample * 1.05) and not ok(sample / 1.05)  # the check has power


def test_default_recipe_unchanged(monkeypatch: pytest.MonkeyPatch) -> None:
    """The keras recipe has no branch rows: the same laws and native draws as with no branch marked."""
    model = basic_resnet()
    _, report = wk.init_(model, seed=0)
    assert {r.scheme for r in report if r.role == "conv"} == {"glorot_uniform"}
    monkeypatch.setattr(_keras_model, "branch_parts", lambda model: {})
    plain = basic_resnet()
    _, unmarked = wk.init_(plain, seed=0)
    assert [r.std for r in report] == [r.std for r in unmarked]
    for name, kernel in _kernels(model).items():
        same = keras.ops.convert_to_numpy(_kernels(plain)[name])
        np.testing.assert_array_equal(keras.ops.convert_to_numpy(kernel), same)


def test_subclassed_and_sequential_models_are_left_unmarked() -> None:
    seq = keras.Sequential([keras.Input((8, 8, 3)), layers.Conv2D(4, 3), layers.Conv2D(4, 3)])
    assert residual_branches(seq) == []
    _, report = wk.init_(seq, recipe="fixup", seed=0)
    assert all(r.scheme != "zeros" for r in report if r.role == "conv")
