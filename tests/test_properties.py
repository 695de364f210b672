"""Hypothesis properties over random shapes, layouts, schemes and dtype strings (deterministic runs)."""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

import winit
from winit import FAN_MODES, LAYOUTS

PROPERTY_SETTINGS = settings(
    max_examples=60, derandomize=True, deadline=None, suppress_health_check=[HealthCheck.too_slow]
)
VARIANCE_SCHEMES = (
    "glorot_uniform", "glorot_normal", "he_uniform", "he_normal", "lecun_uniform", "lecun_normal",
    "variance_scaling",
)  # fmt: skip
#: dtype spellings winit accepts (canonical names and aliases) and what each resolves to.
ACCEPTED_DTYPES = {
    "float16": "float16", "half": "float16", "fp16": "float16", "f16": "float16",
    "bfloat16": "bfloat16", "bf16": "bfloat16",
    "float32": "float32", "float": "float32", "single": "float32", "fp32": "float32", "f32": "float32",
    "float64": "float64", "double": "float64", "fp64": "float64", "f64": "float64",
}  # fmt: skip

shapes = st.lists(st.integers(min_value=1, max_value=6), min_size=2, max_size=5).map(tuple)
layouts = st.sampled_from(sorted(LAYOUTS))


@PROPERTY_SETTINGS
@given(shape=shapes, layout=layouts)
def test_fans_are_positive_ints_with_the_channel_relation(shape: tuple[int, ...], layout: str) -> None:
    fan_in, fan_out = winit.fans(shape, layout)
    assert type(fan_in) is int and type(fan_out) is int
    assert fan_in >= 1 and fan_out >= 1
    in_axis, out_axis = LAYOUTS[layout]
    in_ch, out_ch = shape[in_axis], shape[out_axis]
    # Both fans share the receptive field: fan_in / in_ch == fan_out / out_ch == numel / (in_ch · out_ch).
    assert fan_in * out_ch == fan_out * in_ch
    assert fan_in * out_ch == math.prod(shape)


@PROPERTY_SETTINGS
@given(shape=shapes, layout=layouts)
def test_transposed_layout_swaps_fans(shape: tuple[int, ...], layout: str) -> None:
    partner = {"torch": "torch_transpose", "keras": "keras_transpose", "flax": "flax_transpose"}
    base = layout.removesuffix("_transpose")
    other = partner[base] if layout == base else base
    fan_in, fan_out = winit.fans(shape, layout)
    assert winit.fans(shape, other) == (fan_out, fan_in)


@PROPERTY_SETTINGS
@given(shape=shapes, layout=layouts, scheme=st.sampled_from(VARIANCE_SCHEMES))
def test_variance_scheme_numbers_are_finite_and_positive(
    shape: tuple[int, ...], layout: str, scheme: str
) -> None:
    plan = winit.plan(scheme, shape, layout=layout)
    assert math.isfinite(plan.std) and plan.std > 0
    assert math.isfinite(plan.bound) and plan.bound > 0
    assert plan.bound == pytest.approx(math.sqrt(3) * plan.std, rel=1e-14)
    # std is at most gain (fan >= 1) and at least gain/√(numel) for every fan mode.
    assert plan.std <= plan.gain * (1 + 1e-12)
    assert plan.std >= plan.gain / math.sqrt(math.prod(shape)) * (1 - 1e-12)


@PROPERTY_SETTINGS
@given(
    fan_in=st.integers(1, 10_000),
    fan_out=st.integers(1, 10_000),
    mode=st.sampled_from(FAN_MODES),
    scale=st.floats(min_value=1e-3, max_value=1e3),
    distribution=st.sampled_from(["truncated_normal", "normal", "uniform"]),
)
def test_variance_scaling_std_is_sqrt_scale_over_fan(
    fan_in: int, fan_out: int, mode: str, scale: float, distribution: str
) -> None:
    scheme = winit.get("variance_scaling").with_(mode=mode, scale=scale, distribution=distribution)
    fan = {"fan_in": fan_in, "fan_out": fan_out, "fan_avg": (fan_in + fan_out) / 2,
           "fan_geo_avg": math.sqrt(fan_in * fan_out)}[mode]  # fmt: skip
    assert scheme.std(fan_in, fan_out) == pytest.approx(math.sqrt(scale / fan), rel=1e-12)
    expected_sigma = math.sqrt(scale / fan) / (
        0.87962566103423978 if distribution == "truncated_normal" else 1
    )
    assert scheme.sigma(fan_in, fan_out) == pytest.approx(expected_sigma, rel=1e-12)


def _valid_scheme_for(shape: tuple[int, ...]) -> st.SearchStrategy[str]:
    names = [*VARIANCE_SCHEMES, "zeros", "ones", "constant", "random_normal", "random_uniform",
             "truncated_normal", "orthogonal"]  # fmt: skip
    if len(shape) == 2:
        names.append("identity")
    if 3 <= len(shape) <= 5:
        names.append("dirac")
    return st.sampled_from(names)


@PROPERTY_SETTINGS
@given(data=st.data(), shape=shapes, layout=layouts, dtype=st.sampled_from(["float16", "float32", "float64"]))
def test_numpy_init_has_shape_and_dtype(
    data: st.DataObject, shape: tuple[int, ...], layout: str, dtype: str
) -> None:
    scheme = data.draw(_valid_scheme_for(shape), label="scheme")
    x = winit.init(scheme, shape, backend="numpy", layout=layout, dtype=dtype, seed=0)
    assert isinstance(x, np.ndarray)
    assert x.shape == shape
    assert x.dtype == np.dtype(dtype)
    assert np.isfinite(x).all()
    if scheme in VARIANCE_SCHEMES and "uniform" in scheme:
        bound = winit.plan(scheme, shape, layout=layout).bound
        assert np.abs(x.astype(np.float64)).max() <= bound * (1 + 1e-3)


@PROPERTY_SETTINGS
@given(shape=shapes, layout=layouts)
def test_orthogonal_rows_or_columns_are_orthonormal(shape: tuple[int, ...], layout: str) -> None:
    _, out_axis = LAYOUTS[layout]
    x = winit.init("orthogonal", shape, backend="numpy", layout=layout, dtype="float64", seed=1)
    matrix = np.moveaxis(x, out_axis, 0).reshape(shape[out_axis], -1)
    rows, cols = matrix.shape
    gram = matrix @ matrix.T if rows <= cols else matrix.T @ matrix
    np.testing.assert_allclose(gram, np.eye(min(rows, cols)), atol=1e-10)


dtype_strings = st.one_of(
    st.sampled_from([*ACCEPTED_DTYPES, "int32", "int8", "uint16", "bool", "complex64", "float128", "object",
                     "Float32", "FLOAT64", "torch.float16", "float8_e4m3fn", ""]),
    st.text(max_size=8),
)  # fmt: skip


@PROPERTY_SETTINGS
@given(dtype=dtype_strings)
def test_dtype_strings_are_accepted_or_type_errors(dtype: str) -> None:
    # Case-insensitive and a "torch." prefix is tolerated, so compute the canonical spelling first.
    canonical = ACCEPTED_DTYPES.get(dtype.lower().removeprefix("torch."))
    assume(canonical != "bfloat16" or _has_ml_dtypes())
    if canonical is None:
        with pytest.raises(TypeError, match="is not a floating-point dtype"):
            winit.init("he_normal", (3, 2), backend="numpy", dtype=dtype, seed=0)
    else:
        x = winit.init("he_normal", (3, 2), backend="numpy", dtype=dtype, seed=0)
        assert x.dtype.name == canonical


def _has_ml_dtypes() -> bool:
    try:
        import ml_dtypes  # noqa: F401
    except ImportError:
        return False
    return True
