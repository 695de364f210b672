"""Bad input through ``winit.init`` on every backend: the right exception, naming the bad value."""

from __future__ import annotations

import re
from typing import Any

import numpy as np
import pytest

import winit


def _native_non_float_dtypes(backend: str) -> list[Any]:
    """The backend's own integer, bool and complex dtype objects."""
    if backend == "numpy":
        return [np.int32, np.dtype("int64"), np.bool_, np.complex64]
    if backend == "torch":
        import torch

        return [torch.int32, torch.int64, torch.bool, torch.complex64]
    if backend == "tensorflow":
        import tensorflow as tf

        return [tf.int32, tf.int64, tf.bool, tf.complex64]
    import jax.numpy as jnp

    return [jnp.int32, jnp.dtype("uint8"), jnp.bool_, jnp.complex64]


@pytest.mark.parametrize("dtype", ["int32", "int64", "uint8", "bool", "complex64", "complex128", "int8"])
def test_non_float_dtype_names_are_type_errors(backend: str, dtype: str) -> None:
    with pytest.raises(TypeError, match=rf"dtype '{dtype}' is not a floating-point dtype.*float32"):
        winit.init("glorot_uniform", (4, 4), backend=backend, dtype=dtype, seed=0)


def test_native_non_float_dtypes_are_type_errors(backend: str) -> None:
    for dtype in _native_non_float_dtypes(backend):
        with pytest.raises(TypeError, match=re.escape(f"dtype {dtype!r} is not a floating-point dtype")):
            winit.init("he_normal", (4, 4), backend=backend, dtype=dtype, seed=0)


def test_non_float_dtype_rejected_for_constant_schemes_too(backend: str) -> None:
    with pytest.raises(TypeError, match="'int32' is not a floating-point dtype"):
        winit.init("zeros", (4, 4), backend=backend, dtype="int32")


@pytest.mark.parametrize("shape", [(0, 3), (3, 0), (8, 0, 3, 3), (3, 3, 0, 8), (0,)])
def test_empty_shapes_are_value_errors(backend: str, shape: tuple[int, ...]) -> None:
    with pytest.raises(ValueError, match=re.escape(str(shape))):
        winit.init("glorot_uniform", shape, backend=backend, seed=0)


@pytest.mark.parametrize("shape", [(0, 3), (3, 0), (3, 3, 0, 8)])
def test_zero_fan_shapes_are_value_errors_in_fans(shape: tuple[int, ...]) -> None:
    with pytest.raises(ValueError, match=re.escape(str(shape))):
        winit.fans(shape)


def test_negative_dimension_is_named(backend: str) -> None:
    with pytest.raises(ValueError, match="negative dimension -2"):
        winit.init("glorot_uniform", (3, -2), backend=backend, seed=0)


@pytest.mark.parametrize(("shape", "bad"), [((3.0, 2), "3.0"), (("3", 2), "'3'"), ((True, 2), "True"),
                                            ((3, None), "None")])  # fmt: skip
def test_non_integer_dimension_is_named(backend: str, shape: tuple[Any, ...], bad: str) -> None:
    with pytest.raises(TypeError, match=rf"non-integer dimension {re.escape(bad)}"):
        winit.init("glorot_uniform", shape, backend=backend, seed=0)


@pytest.mark.parametrize("shape", ["3x3", None, 2.5])
def test_shape_that_is_no_sequence_is_a_type_error(shape: Any) -> None:
    with pytest.raises(TypeError, match=re.escape(f"shape must be a sequence of integers, got {shape!r}")):
        winit.init("glorot_uniform", shape, seed=0)


def test_unknown_scheme_is_named_with_suggestion(backend: str) -> None:
    with pytest.raises(ValueError, match=r"unknown scheme 'glorot_unifrom'.*Did you mean 'glorot_uniform'"):
        winit.init("glorot_unifrom", (3, 3), backend=backend)


def test_unknown_mode_lists_modes(backend: str) -> None:
    with pytest.raises(ValueError, match=r"unknown fan mode 'fan_sum'; accepted: fan_in, fan_out, fan_avg"):
        winit.init("he_normal", (3, 3), backend=backend, mode="fan_sum")


def test_unknown_layout_lists_layouts(backend: str) -> None:
    with pytest.raises(
        ValueError, match=r"unknown layout 'pytorch'; accepted: torch, torch_transpose, keras"
    ):
        winit.init("he_normal", (3, 3), backend=backend, layout="pytorch")


def test_unknown_distribution_lists_distributions(backend: str) -> None:
    with pytest.raises(
        ValueError, match=r"unknown distribution 'gaussian'; accepted: normal, truncated_normal"
    ):
        winit.init("variance_scaling", (3, 3), backend=backend, distribution="gaussian")


def test_unknown_nonlinearity_lists_nonlinearities(backend: str) -> None:
    with pytest.raises(ValueError, match=r"unknown nonlinearity 'swish'; accepted: .*relu"):
        winit.init("he_uniform", (3, 3), backend=backend, nonlinearity="swish")


@pytest.mark.parametrize("name", ["mxnet", "Torch", "cupy"])
def test_unknown_backend_lists_backends(name: str) -> None:
    with pytest.raises(
        ValueError, match=rf"unknown backend '{name}'; accepted: numpy, torch, tensorflow, jax"
    ):
        winit.init("he_uniform", (3, 3), backend=name)


def test_unknown_parameter_lists_accepted_ones(backend: str) -> None:
    with pytest.raises(TypeError, match=r"'glorot_uniform' has no parameter 'mode'; accepted: gain"):
        winit.init("glorot_uniform", (3, 3), backend=backend, mode="fan_in")


@pytest.mark.parametrize(
    ("scheme", "param", "value", "message"),
    [("variance_scaling", "scale", float("nan"), "scale must be finite, got nan"),
     ("variance_scaling", "scale", float("inf"), "scale must be finite, got inf"),
     ("variance_scaling", "scale", -1.0, "scale must be > 0, got -1.0"),
     ("variance_scaling", "scale", 0.0, "scale must be > 0, got 0.0"),
     ("glorot_uniform", "gain", float("nan"), "gain must be finite, got nan"),
     ("glorot_uniform", "gain", float("-inf"), "gain must be finite, got -inf"),
     ("orthogonal", "gain", -2.0, "gain must be > 0, got -2.0"),
     ("random_normal", "stddev", float("nan"), "stddev must be finite, got nan"),
     ("random_normal", "stddev", -0.1, "stddev must be >= 0, got -0.1"),
     ("truncated_normal", "stddev", float("inf"), "stddev must be finite, got inf"),
     ("random_normal", "mean", float("inf"), "mean must be finite, got inf"),
     ("constant", "value", float("nan"), "value must be finite, got nan"),
     ("he_normal", "negative_slope", float("nan"), r"negative_slope \(a\) must be finite, got nan")],
)  # fmt: skip
def test_non_finite_or_negative_numbers_are_value_errors(
    backend: str, scheme: str, param: str, value: float, message: str
) -> None:
    with pytest.raises(ValueError, match=message):
        winit.init(scheme, (4, 4), backend=backend, seed=0, **_params(param, value))


def _params(name: str, value: Any) -> dict[str, Any]:
    return {name: value}


@pytest.mark.parametrize(("param", "value"), [("gain", "2"), ("scale", None), ("gain", True)])
def test_non_numeric_parameters_are_type_errors(backend: str, param: str, value: Any) -> None:
    scheme = "variance_scaling"
    with pytest.raises(TypeError, match=rf"{param} must be a real number, got {re.escape(repr(value))}"):
        winit.init(scheme, (4, 4), backend=backend, seed=0, **_params(param, value))


def test_minval_above_maxval(backend: str) -> None:
    with pytest.raises(ValueError, match=r"minval must be <= maxval, got minval=1.0, maxval=0.0"):
        winit.init("random_uniform", (3, 3), backend=backend, minval=1.0, maxval=0.0)


@pytest.mark.parametrize(("lower", "upper"), [(1.0, 1.0), (2.0, -2.0), (0.5, 0.0)])
def test_lower_not_below_upper(backend: str, lower: float, upper: float) -> None:
    with pytest.raises(ValueError, match=rf"lower < upper.*\[{lower}, {upper}\]"):
        winit.init("truncated_normal", (3, 3), backend=backend, lower=lower, upper=upper)


@pytest.mark.parametrize("shape", [(5,), ()])
def test_orthogonal_needs_two_dimensions(backend: str, shape: tuple[int, ...]) -> None:
    message = f"orthogonal needs a shape of at least 2 dimensions, got {shape}"
    with pytest.raises(ValueError, match=re.escape(message)):
        winit.init("orthogonal", shape, backend=backend, seed=0)


@pytest.mark.parametrize("shape", [(3, 3, 3), (4,)])
def test_identity_needs_two_dimensions(backend: str, shape: tuple[int, ...]) -> None:
    with pytest.raises(ValueError, match=rf"identity needs a 2-D shape, got {re.escape(str(shape))}"):
        winit.init("identity", shape, backend=backend)


@pytest.mark.parametrize("shape", [(3, 3), (2, 2, 2, 2, 2, 2)])
def test_dirac_needs_a_conv_kernel(backend: str, shape: tuple[int, ...]) -> None:
    message = f"dirac needs a 3-, 4- or 5-D convolution kernel, got shape {shape}"
    with pytest.raises(ValueError, match=re.escape(message)):
        winit.init("dirac", shape, backend=backend, layout="torch")


def test_dirac_groups_must_divide_out_channels(backend: str) -> None:
    with pytest.raises(ValueError, match=r"out channels 4 .* not divisible by groups=3"):
        winit.init("dirac", (4, 2, 3, 3), backend=backend, layout="torch", groups=3)


@pytest.mark.parametrize(
    ("groups", "error", "message"),
    [(0, ValueError, "groups must be >= 1, got 0"), (1.5, TypeError, "groups must be an integer, got 1.5")],
)
def test_dirac_groups_must_be_a_positive_int(groups: Any, error: type[Exception], message: str) -> None:
    with pytest.raises(error, match=message):
        winit.init("dirac", (4, 2, 3, 3), layout="torch", groups=groups)


@pytest.mark.parametrize(
    ("seed", "error", "shown"),
    [(-1, ValueError, "-1"), (2**63, ValueError, str(2**63)), (2**70, ValueError, str(2**70)),
     (True, TypeError, "True"), (1.5, TypeError, "1.5"), ("42", TypeError, "'42'")],
)  # fmt: skip
def test_bad_seeds(backend: str, seed: Any, error: type[Exception], shown: str) -> None:
    with pytest.raises(error, match=rf"seed .*{re.escape(shown)}"):
        winit.init("glorot_uniform", (3, 3), backend=backend, seed=seed)


def test_largest_seed_is_accepted(backend: str) -> None:
    winit.init("glorot_uniform", (3, 3), backend=backend, seed=2**63 - 1)  # must not raise
    with pytest.raises(ValueError, match=r"seed must be in \[0, 2\*\*63 - 1\]"):
        winit.init("glorot_uniform", (3, 3), backend=backend, seed=2**63)


@pytest.mark.parametrize("device", ["cuda", "cuda:0", "gpu"])
def test_numpy_device_must_be_cpu(device: str) -> None:
    with pytest.raises(ValueError, match=rf"device must be None or 'cpu', got '{device}'"):
        winit.init("glorot_uniform", (3, 3), backend="numpy", device=device)


@pytest.mark.parametrize("device", ["bogus", "cuda:0"])
def test_unusable_torch_device_is_a_value_error(device: str) -> None:
    torch = pytest.importorskip("torch")
    if device.startswith("cuda") and torch.cuda.is_available():
        pytest.skip("CUDA is available here")
    with pytest.raises(ValueError, match=rf"torch device '{device}' is not usable here"):
        winit.init("glorot_uniform", (3, 3), backend="torch", device=device)


def test_torch_device_of_wrong_type_is_a_type_error() -> None:
    pytest.importorskip("torch")
    with pytest.raises(TypeError, match=r"torch device must be .* got 1\.5"):
        winit.init("glorot_uniform", (3, 3), backend="torch", device=1.5)


def test_jax_float64_without_x64_is_a_type_error() -> None:
    jax = pytest.importorskip("jax")
    if jax.config.jax_enable_x64:
        pytest.skip("64-bit mode is on in this process")
    with pytest.raises(TypeError, match=r"float64.*JAX_ENABLE_X64"):
        winit.init("glorot_uniform", (3, 3), backend="jax", dtype="float64", seed=0)


def test_raw_jax_key_of_wrong_shape_is_named() -> None:
    jnp = pytest.importorskip("jax.numpy")
    with pytest.raises(TypeError, match=r"raw JAX key must be uint32\[2\], got uint32\[3\]"):
        winit.init("glorot_uniform", (3, 3), backend="jax", seed=jnp.zeros(3, dtype=jnp.uint32))


def test_torch_generator_on_another_device_is_named() -> None:
    torch = pytest.importorskip("torch")
    generator = torch.Generator(device="cpu")
    with pytest.raises(ValueError, match="generator is on cpu but the tensor goes to meta"):
        winit.init("glorot_uniform", (3, 3), backend="torch", seed=generator, device="meta")


def test_scheme_construction_rejects_a_mode_on_a_structured_law() -> None:
    with pytest.raises(ValueError, match=r"a fan mode needs a variance distribution.*'orthogonal'"):
        winit.Scheme("bad", "orthogonal", mode="fan_in")
