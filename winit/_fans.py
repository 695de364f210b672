"""Fan-in and fan-out of a weight shape under each framework's weight layout."""

from __future__ import annotations

import math
import numbers
from collections.abc import Iterable, Sequence
from typing import Final

from winit._validate import choice, integer, shape_tuple

#: layout name -> (input-channel axis, output-channel axis); every other axis is receptive field.
LAYOUTS: Final[dict[str, tuple[int, int]]] = {
    "torch": (1, 0),  # Linear (out, in); Conv (out, in/groups, *kernel)
    "torch_transpose": (0, 1),  # ConvTranspose (in, out/groups, *kernel)
    "keras": (-2, -1),  # Dense (in, out); Conv (*kernel, in/groups, out)
    "keras_transpose": (-1, -2),  # Conv*Transpose (*kernel, out, in)
    "flax": (-2, -1),  # Dense (in, out); Conv and ConvTranspose (*kernel, in, out)
    "flax_transpose": (-1, -2),  # ConvTranspose(transpose_kernel=True) (*kernel, out, in)
}

AxisSpec = int | Sequence[int]


def _axes(what: str, spec: AxisSpec, ndim: int, shape: tuple[int, ...]) -> tuple[int, ...]:
    if isinstance(spec, numbers.Integral):
        items: tuple[object, ...] = (spec,)  # a bool goes on to integer(), which names it
    elif isinstance(spec, Iterable) and not isinstance(spec, (str, bytes)):
        items = tuple(spec)
    else:
        raise TypeError(f"{what} must be an int or a sequence of ints, got {spec!r} ({type(spec).__name__})")
    axes = []
    for item in items:
        axis = integer(what, item)
        if not -ndim <= axis < ndim:
            raise ValueError(f"{what}={item} is out of range for shape {shape} ({ndim} dimensions)")
        axes.append(axis % ndim)
    return tuple(axes)


def layout_axes(layout: str) -> tuple[int, int]:
    """Return the (in_axis, out_axis) pair of a named layout."""
    return LAYOUTS[choice("layout", layout, tuple(LAYOUTS))]


def resolve_axes(
    shape: Sequence[int],
    layout: str | None = "torch",
    *,
    in_axis: AxisSpec | None = None,
    out_axis: AxisSpec | None = None,
    batch_axis: AxisSpec = (),
) -> tuple[tuple[int, ...], tuple[int, ...], tuple[int, ...]]:
    """Return normalized (in_axes, out_axes, batch_axes) for ``shape`` (at least 2-D)."""
    dims = shape_tuple(shape)
    ndim = len(dims)
    default_in, default_out = layout_axes(layout if layout is not None else "torch")
    ins = _axes("in_axis", default_in if in_axis is None else in_axis, ndim, dims)
    outs = _axes("out_axis", default_out if out_axis is None else out_axis, ndim, dims)
    batches = _axes("batch_axis", batch_axis, ndim, dims)
    if set(ins) & set(outs) or set(batches) & (set(ins) | set(outs)):
        raise ValueError(
            f"in_axis {ins}, out_axis {outs} and batch_axis {batches} must not overlap (shape {dims})"
        )
    return ins, outs, batches


def fans(
    shape: Sequence[int],
    layout: str | None = "torch",
    *,
    in_axis: AxisSpec | None = None,
    out_axis: AxisSpec | None = None,
    batch_axis: AxisSpec = (),
) -> tuple[int, int]:
    """Return (fan_in, fan_out): fan_in = in_channels · Π(kernel), fan_out = out_channels · Π(kernel).

    ``layout`` picks which axes hold the channels: ``torch`` ``(out, in, *kernel)``,
    ``torch_transpose`` ``(in, out, *kernel)``, ``keras``/``flax`` ``(*kernel, in, out)``,
    ``keras_transpose``/``flax_transpose`` ``(*kernel, out, in)``. ``in_axis``/``out_axis``/``batch_axis``
    override it the way ``jax.nn.initializers.variance_scaling`` does; batch axes count in neither fan.
    A 0-D shape has fans (1, 1) and a 1-D shape (n,) has fans (n, n), as in Keras (PyTorch refuses
    them). A zero fan raises ValueError.

    Args:
        shape: the weight's shape.
        layout: ``torch``, ``torch_transpose``, ``keras``, ``keras_transpose``, ``flax`` or ``flax_transpose``.
        in_axis: input axis or axes (negative counts from the end), overriding the layout.
        out_axis: output axis or axes, overriding the layout.
        batch_axis: axes counted in neither fan.

    Returns:
        ``(fan_in, fan_out)``.

    Examples:
        A 3×3 convolution from 3 to 64 channels, in PyTorch's and Keras' layouts:

        >>> import winit
        >>> winit.fans((64, 3, 3, 3)), winit.fans((3, 3, 3, 64), "keras")
        ((27, 576), (27, 576))
        >>> winit.fans((8, 512, 128), "keras", batch_axis=0)  # 8 stacked experts, (in, out) each
        (512, 128)
        >>> winit.fans((10,))
        (10, 10)
    """
    dims = shape_tuple(shape)
    if len(dims) < 2 and in_axis is None and out_axis is None and not batch_axis:
        if layout is not None:
            layout_axes(layout)
        fan = dims[0] if dims else 1
        if fan == 0:
            raise ValueError(f"shape {dims} has a zero fan; cannot scale by 1/fan")
        return fan, fan
    ins, outs, batches = resolve_axes(dims, layout, in_axis=in_axis, out_axis=out_axis, batch_axis=batch_axis)
    receptive = math.prod(d for i, d in enumerate(dims) if i not in set(ins) | set(outs) | set(batches))
    fan_in = math.prod(dims[i] for i in ins) * receptive
    fan_out = math.prod(dims[i] for i in outs) * receptive
    if fan_in == 0 or fan_out == 0:
        raise ValueError(
            f"shape {dims} with layout {layout!r} has fan_in={fan_in}, fan_out={fan_out}; "
            "a zero fan cannot be scaled by"
        )
    return fan_in, fan_out
