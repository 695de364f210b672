"""The arguments of ``winit.flax``'s builders as JAX takes them: dtypes, hyper-parameters, fan axes.

Each is checked (a clear TypeError/ValueError naming it) and translated for winit's spec: a dtype to a JAX
floating dtype, JAX's in/out/batch axes to the disjoint axes winit's fans take.
"""

from __future__ import annotations

from typing import Any

import jax
import jax.numpy as jnp

from winit import _flax_jax as _jx
from winit._fans import AxisSpec, _axes
from winit._validate import real
from winit.backends._common import FLOAT_DTYPES, dtype_name

#: the flax layout's default in/out axes, i.e. jax.nn.initializers' in_axis=-2, out_axis=-1.
_IN_AXIS, _OUT_AXIS = -2, -1


def _float_dtype(dtype: Any, complex_ok: bool = False) -> Any:
    """``dtype`` as a floating (or, if ``complex_ok``, complex) JAX dtype; None is JAX's default float."""
    if dtype is None:
        return jax.dtypes.canonicalize_dtype(float)
    accepted = ", ".join((*FLOAT_DTYPES, *(("complex64", "complex128") if complex_ok else ())))
    try:
        canonical = jnp.dtype(dtype)
    except TypeError as error:
        raise TypeError(
            f"dtype {dtype!r} is not a floating-point dtype; winit.flax initializes {accepted}"
        ) from error
    if complex_ok and _jx.is_complex(canonical):
        if canonical != jax.dtypes.canonicalize_dtype(canonical):
            raise TypeError(
                "JAX gives complex128 only with 64-bit mode on: set JAX_ENABLE_X64=1 or "
                "jax.config.update('jax_enable_x64', True) (winit will not hand back complex64 instead)"
            )
        return canonical
    try:
        dtype_name(canonical)
    except TypeError as error:
        raise TypeError(
            f"dtype {dtype!r} is not a floating-point dtype; winit.flax initializes {accepted}"
        ) from error
    return canonical


def _hyper(what: str, value: Any, **limits: bool) -> Any:
    """A hyper-parameter: a Python real (checked, kept as given) or an array/tracer (JAX's formula takes it)."""
    if _jx.is_array(value):
        return value
    real(what, value, **limits)  # TypeError/ValueError naming ``what``
    return value


def _plan_axes(
    dims: tuple[int, ...], in_axis: AxisSpec, out_axis: AxisSpec, batch_axis: AxisSpec
) -> dict[str, Any]:
    """JAX's in/out/batch axes as the disjoint axes winit's fans take, giving the same fans."""
    if (
        isinstance(in_axis, int)
        and isinstance(out_axis, int)
        and (in_axis, out_axis) == (_IN_AXIS, _OUT_AXIS)
    ):
        # the flax layout's own axes; letting the layout pick them also gives 0-D/1-D shapes (biases)
        # Keras' fans (1, 1)/(n, n) instead of an out-of-range -2
        return {"in_axis": None, "out_axis": None, "batch_axis": batch_axis}
    ins = _axes("in_axis", in_axis, len(dims), dims)
    outs = _axes("out_axis", out_axis, len(dims), dims)
    # JAX takes fan_in = Π(shape)/(Π out·Π batch), so an axis named both in and out counts in neither
    # fan, like a batch axis; Flax's Embed default, variance_scaling(1, "fan_in", "normal", out_axis=0),
    # relies on it.
    shared = tuple(axis for axis in ins if axis in outs)
    return {
        "in_axis": tuple(axis for axis in ins if axis not in shared),
        "out_axis": tuple(axis for axis in outs if axis not in shared),
        "batch_axis": (*_axes("batch_axis", batch_axis, len(dims), dims), *shared),
    }
