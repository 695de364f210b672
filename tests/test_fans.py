"""Fan-in/fan-out of dense, convolution, transposed and grouped kernels in every layout and axis spec."""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from typing import Any

import pytest

import winit
from winit import LAYOUTS

#: (in_channels per group, out_channels, kernel): dense, conv1d/2d/3d and a 1x1 conv.
GEOMETRIES: list[tuple[int, int, tuple[int, ...]]] = [
    (10, 5, ()),
    (4, 8, (3,)),
    (4, 8, (3, 5)),
    (4, 8, (2, 3, 5)),
    (6, 3, (1, 1)),
]


def _kernel_shape(layout: str, in_ch: int, out_ch: int, kernel: tuple[int, ...]) -> tuple[int, ...]:
    """The weight shape each framework stores for these channels, written out by hand per layout."""
    if layout == "torch":
        return (out_ch, in_ch, *kernel)
    if layout == "torch_transpose":
        return (in_ch, out_ch, *kernel)
    if layout in ("keras", "flax"):
        return (*kernel, in_ch, out_ch)
    if layout in ("keras_transpose", "flax_transpose"):
        return (*kernel, out_ch, in_ch)
    raise AssertionError(f"test does not know layout {layout}")


def test_layouts_are_the_six_documented_ones() -> None:
    assert set(LAYOUTS) == {
        "torch", "torch_transpose", "keras", "keras_transpose", "flax", "flax_transpose",
    }  # fmt: skip


@pytest.mark.parametrize("layout", sorted(LAYOUTS))
@pytest.mark.parametrize(("in_ch", "out_ch", "kernel"), GEOMETRIES)
def test_fans_are_channels_times_receptive_field(
    layout: str, in_ch: int, out_ch: int, kernel: tuple[int, ...]
) -> None:
    shape = _kernel_shape(layout, in_ch, out_ch, kernel)
    receptive = math.prod(kernel)
    fan_in, fan_out = winit.fans(shape, layout)
    assert (fan_in, fan_out) == (in_ch * receptive, out_ch * receptive)
    assert type(fan_in) is int and type(fan_out) is int


def test_worked_numbers() -> None:
    # Xavier's 10 -> 5 dense layer; a torch Conv2d(4, 8, 3x5): fan_in = 4·15, fan_out = 8·15.
    assert winit.fans((5, 10), "torch") == (10, 5)
    assert winit.fans((10, 5), "keras") == (10, 5)
    assert winit.fans((8, 4, 3, 5), "torch") == (60, 120)
    assert winit.fans((3, 5, 4, 8), "flax") == (60, 120)


def test_default_layout_is_torch() -> None:
    assert winit.fans((5, 10)) == (10, 5)


def test_transposed_conv_layouts_swap_the_channel_axes() -> None:
    # ConvTranspose2d(in=4, out=8, 3x3) stores (in, out, 3, 3); the plain torch rule reads it backwards.
    weight = (4, 8, 3, 3)
    assert winit.fans(weight, "torch_transpose") == (36, 72)
    assert winit.fans(weight, "torch") == (72, 36)
    # Keras Conv2DTranspose(filters=8) on 4 input channels stores (3, 3, 8, 4).
    assert winit.fans((3, 3, 8, 4), "keras_transpose") == (36, 72)
    assert winit.fans((3, 3, 8, 4), "keras") == (72, 36)


@pytest.mark.parametrize("layout", ["torch", "keras", "flax"])
def test_grouped_conv_counts_in_channels_per_group(layout: str) -> None:
    # Conv2d(in=8, out=16, groups=4, 3x3): each filter sees 8/4 = 2 input channels.
    shape = _kernel_shape(layout, 2, 16, (3, 3))
    assert winit.fans(shape, layout) == (2 * 9, 16 * 9)


@pytest.mark.parametrize(
    "shape", [(5, 10), (8, 4, 3), (8, 4, 3, 5), (8, 2, 2, 3, 5), (4, 8, 3, 3), (1, 1, 1)]
)
def test_torch_layout_matches_torch_calculate_fan_in_and_fan_out(shape: tuple[int, ...]) -> None:
    torch = pytest.importorskip("torch")
    expected = torch.nn.init._calculate_fan_in_and_fan_out(torch.empty(shape))
    assert winit.fans(shape, "torch") == tuple(expected)


def _jax_compute_fans() -> Callable[..., tuple[float, float]]:
    pytest.importorskip("jax")
    try:
        from jax._src.nn.initializers import _compute_fans
    except ImportError:  # private API: gone in some JAX release
        pytest.skip("jax._src.nn.initializers._compute_fans is not importable")
    compute: Callable[..., tuple[float, float]] = _compute_fans
    return compute


AxisCase = tuple[tuple[int, ...], Any, Any, Any]
AXIS_CASES: list[AxisCase] = [
    ((3, 4), -2, -1, ()),
    ((3, 3, 4, 8), -2, -1, ()),
    ((3, 4, 5, 6), 0, (1, 2), ()),
    ((3, 4, 5, 6), (0, 1), -1, ()),
    ((3, 4, 5, 6), -2, -1, 0),
    ((2, 3, 4, 5, 6), 1, 2, (0, 4)),
    ((7, 3, 5), 2, 0, ()),
    ((2, 3, 4), -1, -2, ()),
]


@pytest.mark.parametrize(("shape", "in_axis", "out_axis", "batch_axis"), AXIS_CASES)
def test_explicit_axes_match_jax_compute_fans(
    shape: tuple[int, ...], in_axis: Any, out_axis: Any, batch_axis: Any
) -> None:
    compute = _jax_compute_fans()
    expected = compute(shape, in_axis=in_axis, out_axis=out_axis, batch_axis=batch_axis)
    got = winit.fans(shape, in_axis=in_axis, out_axis=out_axis, batch_axis=batch_axis)
    assert got == (int(expected[0]), int(expected[1]))


@pytest.mark.parametrize(("shape", "in_axis", "out_axis", "batch_axis"), AXIS_CASES)
def test_explicit_axes_by_hand(shape: tuple[int, ...], in_axis: Any, out_axis: Any, batch_axis: Any) -> None:
    def norm(spec: Any) -> set[int]:
        return {a % len(shape) for a in ((spec,) if isinstance(spec, int) else spec)}

    ins, outs, batches = norm(in_axis), norm(out_axis), norm(batch_axis)
    receptive = math.prod(d for i, d in enumerate(shape) if i not in ins | outs | batches)
    expected = (
        math.prod(shape[i] for i in ins) * receptive,
        math.prod(shape[i] for i in outs) * receptive,
    )
    assert winit.fans(shape, in_axis=in_axis, out_axis=out_axis, batch_axis=batch_axis) == expected


@pytest.mark.parametrize("layout", ["flax", "keras"])
@pytest.mark.parametrize("shape", [(3, 4), (3, 3, 4, 8), (2, 3, 5, 4, 8)])
def test_flax_and_keras_defaults_match_jax(layout: str, shape: tuple[int, ...]) -> None:
    compute = _jax_compute_fans()
    expected = compute(shape)
    assert winit.fans(shape, layout) == (int(expected[0]), int(expected[1]))


@pytest.mark.parametrize("shape", [(3, 3, 8, 4), (5, 8, 4)])
def test_flax_transpose_matches_jax_with_swapped_axes(shape: tuple[int, ...]) -> None:
    compute = _jax_compute_fans()
    expected = compute(shape, in_axis=-1, out_axis=-2)
    assert winit.fans(shape, "flax_transpose") == (int(expected[0]), int(expected[1]))


def test_explicit_axes_override_the_layout() -> None:
    assert winit.fans((3, 4, 5), "torch", in_axis=0, out_axis=2) == (12, 20)


def test_batch_axis_counts_in_neither_fan() -> None:
    # A stack of 7 dense (4 -> 5) kernels: each has fans (4, 5).
    assert winit.fans((7, 4, 5), "flax", batch_axis=0) == (4, 5)
    assert winit.fans((7, 4, 5), "flax") == (28, 35)


@pytest.mark.parametrize("layout", sorted(LAYOUTS))
def test_scalar_shape_has_unit_fans(layout: str) -> None:
    assert winit.fans((), layout) == (1, 1)


@pytest.mark.parametrize("shape", [(1,), (7,), (128,), 9])
def test_vector_shape_has_fans_n_n(shape: Sequence[int] | int) -> None:
    n = shape if isinstance(shape, int) else shape[0]
    assert winit.fans(shape) == (n, n)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("shape", "layout"),
    [((0,), "torch"), ((3, 0), "torch"), ((0, 3), "keras"), ((8, 0, 3, 3), "torch"), ((3, 3, 0, 8), "flax"),
     ((3, 0, 4, 8), "keras")],
)  # fmt: skip
def test_zero_fan_raises_value_error(shape: tuple[int, ...], layout: str) -> None:
    with pytest.raises(ValueError, match="zero fan"):
        winit.fans(shape, layout)


def test_overlapping_axes_are_rejected() -> None:
    with pytest.raises(ValueError, match="must not overlap"):
        winit.fans((3, 4, 5), in_axis=0, out_axis=0)
    with pytest.raises(ValueError, match="must not overlap"):
        winit.fans((3, 4, 5), in_axis=0, out_axis=1, batch_axis=1)


@pytest.mark.parametrize("axis", [3, -4, 10])
def test_out_of_range_axis_names_the_axis(axis: int) -> None:
    with pytest.raises(ValueError, match=rf"in_axis={axis} is out of range"):
        winit.fans((3, 4, 5), in_axis=axis, out_axis=1)


def test_unknown_layout_lists_accepted_layouts() -> None:
    with pytest.raises(ValueError, match=r"unknown layout 'pytorch'.*torch_transpose"):
        winit.fans((3, 4), "pytorch")
    with pytest.raises(ValueError, match="unknown layout 'tf'"):
        winit.fans((4,), "tf")  # 1-D shapes still validate the layout


def test_plan_reports_the_same_fans() -> None:
    plan = winit.plan("glorot_uniform", (8, 4, 3, 3), layout="torch")
    assert (plan.fan_in, plan.fan_out) == winit.fans((8, 4, 3, 3), "torch") == (36, 72)
