"""Per-backend behaviour: dtypes, native types, seeds and generators, devices, exact structured
values, bit parity with torch.nn.init, NumPy memory use and the ImportError for a missing framework."""

from __future__ import annotations

import math
import subprocess
import sys
import textwrap
import tracemalloc
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from conftest import run_jax_x64, to_numpy

import winit

FLOAT_DTYPES = ("float16", "bfloat16", "float32", "float64")
#: one scheme per sampling law: uniform, normal, truncated normal, orthogonal, identity, dirac, constant.
#: One shape for all 2-D cases so JAX compiles each sampler once per dtype.
LAW_CASES: list[tuple[str, tuple[int, ...]]] = [
    ("glorot_uniform", (6, 4)),
    ("he_normal", (6, 4)),
    ("variance_scaling", (6, 4)),
    ("orthogonal", (6, 4)),
    ("identity", (6, 4)),
    ("dirac", (6, 4, 3)),
    ("ones", (6, 4)),
]
RANDOM_SCHEMES = ("glorot_uniform", "he_normal", "variance_scaling", "truncated_normal", "orthogonal")
REPO_ROOT = Path(__file__).resolve().parent.parent


def _dtype_name(x: Any) -> str:
    return str(getattr(x.dtype, "name", x.dtype)).removeprefix("torch.")


def _native_type(backend: str) -> Any:
    if backend == "numpy":
        return np.ndarray
    if backend == "torch":
        import torch

        return torch.Tensor
    if backend == "tensorflow":
        import tensorflow as tf

        return tf.Tensor
    import jax

    return jax.Array


def _native_dtype(backend: str, name: str) -> Any:
    if backend == "numpy":
        return np.dtype(name) if name != "bfloat16" else pytest.importorskip("ml_dtypes").bfloat16
    if backend == "torch":
        import torch

        return getattr(torch, name)
    if backend == "tensorflow":
        import tensorflow as tf

        return tf.as_dtype(name)
    import jax.numpy as jnp

    return jnp.dtype(name)


def _skip_jax_float64(backend: str, dtype: str) -> None:
    if backend == "jax" and dtype == "float64":
        pytest.skip("JAX float64 needs x64 mode; covered in a subprocess by test_jax_float64_with_x64")
    if backend == "numpy" and dtype == "bfloat16":
        pytest.importorskip("ml_dtypes", reason="NumPy's bfloat16 comes from ml_dtypes")


# -- dtypes and native types ---------------------------------------------------------------------


@pytest.mark.parametrize("dtype", FLOAT_DTYPES)
@pytest.mark.parametrize(("scheme", "shape"), LAW_CASES)
def test_dtype_name_is_honoured(backend: str, scheme: str, shape: tuple[int, ...], dtype: str) -> None:
    _skip_jax_float64(backend, dtype)
    x = winit.init(scheme, shape, backend=backend, dtype=dtype, seed=0)
    assert isinstance(x, _native_type(backend))
    assert _dtype_name(x) == dtype
    assert tuple(x.shape) == shape
    values = to_numpy(x).astype(np.float64)
    assert np.isfinite(values).all()
    if scheme not in ("ones", "identity", "dirac"):
        assert values.std() > 0  # actually random, not a constant fill


@pytest.mark.parametrize("scalar_type", [np.float16, np.float32, np.float64])
def test_numpy_scalar_type_classes_are_dtypes(backend: str, scalar_type: type) -> None:
    name = np.dtype(scalar_type).name
    _skip_jax_float64(backend, name)
    assert _dtype_name(winit.init("he_normal", (3, 3), backend=backend, dtype=scalar_type, seed=0)) == name


@pytest.mark.parametrize("dtype", FLOAT_DTYPES)
def test_native_dtype_objects_are_honoured(backend: str, dtype: str) -> None:
    _skip_jax_float64(backend, dtype)
    x = winit.init("he_uniform", (5, 3), backend=backend, dtype=_native_dtype(backend, dtype), seed=1)
    assert _dtype_name(x) == dtype


def test_default_dtype_is_float32(backend: str) -> None:
    assert _dtype_name(winit.init("lecun_normal", (5, 3), backend=backend, seed=1)) == "float32"


def test_jax_float64_with_x64() -> None:
    pytest.importorskip("jax")
    script = textwrap.dedent(
        """
        import jax, numpy as np, winit
        assert jax.config.jax_enable_x64
        for scheme, shape in [("glorot_uniform", (6, 4)), ("variance_scaling", (6, 4)), ("identity", (6, 4))]:
            x = winit.init(scheme, shape, backend="jax", dtype="float64", seed=0)
            assert isinstance(x, jax.Array) and x.dtype == np.float64, (scheme, x.dtype)
            assert x.shape == shape
        print("ok float64")
        """
    )
    assert "ok float64" in run_jax_x64(script).stdout


# -- seeds and generators ------------------------------------------------------------------------


@pytest.mark.parametrize("scheme", RANDOM_SCHEMES)
def test_int_seed_is_deterministic_and_seeds_differ(backend: str, scheme: str) -> None:
    shape = (6, 4)
    first = to_numpy(winit.init(scheme, shape, backend=backend, seed=123))
    again = to_numpy(winit.init(scheme, shape, backend=backend, seed=123))
    other = to_numpy(winit.init(scheme, shape, backend=backend, seed=124))
    np.testing.assert_array_equal(first, again)
    assert not np.array_equal(first, other)


def test_numpy_integer_seed_equals_python_int(backend: str) -> None:
    a = to_numpy(winit.init("he_normal", (4, 4), backend=backend, seed=np.int64(9)))
    b = to_numpy(winit.init("he_normal", (4, 4), backend=backend, seed=9))
    np.testing.assert_array_equal(a, b)


def test_no_seed_gives_fresh_values(backend: str) -> None:
    a = to_numpy(winit.init("glorot_uniform", (8, 8), backend=backend))
    b = to_numpy(winit.init("glorot_uniform", (8, 8), backend=backend, seed=None))
    assert not np.array_equal(a, b)


def test_numpy_generator() -> None:
    rng = np.random.default_rng(5)
    first = winit.init("glorot_uniform", (4, 4), backend="numpy", seed=rng)
    second = winit.init("glorot_uniform", (4, 4), backend="numpy", seed=rng)
    assert not np.array_equal(first, second)  # the caller's generator advanced
    np.testing.assert_array_equal(first, winit.init("glorot_uniform", (4, 4), backend="numpy", seed=5))
    np.testing.assert_array_equal(
        first, winit.init("glorot_uniform", (4, 4), backend="numpy", seed=np.random.default_rng(5))
    )


def test_torch_generator() -> None:
    torch = pytest.importorskip("torch")
    generator = torch.Generator().manual_seed(5)
    first = winit.init("he_normal", (4, 4), backend="torch", seed=generator)
    second = winit.init("he_normal", (4, 4), backend="torch", seed=generator)
    assert not torch.equal(first, second)
    assert torch.equal(first, winit.init("he_normal", (4, 4), backend="torch", seed=5))


def test_jax_typed_and_raw_keys() -> None:
    jax = pytest.importorskip("jax")
    typed = winit.init("random_uniform", (4, 4), backend="jax", seed=jax.random.key(5))
    raw = winit.init("random_uniform", (4, 4), backend="jax", seed=jax.random.PRNGKey(5))
    from_int = winit.init("random_uniform", (4, 4), backend="jax", seed=5)
    np.testing.assert_array_equal(np.asarray(typed), np.asarray(raw))
    np.testing.assert_array_equal(np.asarray(typed), np.asarray(from_int))
    # The first draw uses the key itself, as jax.nn.initializers do.
    direct = jax.random.uniform(jax.random.key(5), (4, 4), "float32", -0.05, 0.05)
    np.testing.assert_array_equal(np.asarray(typed), np.asarray(direct))
    other = winit.init("random_uniform", (4, 4), backend="jax", seed=jax.random.key(6))
    assert not np.array_equal(np.asarray(typed), np.asarray(other))


def test_tensorflow_generator() -> None:
    tf = pytest.importorskip("tensorflow")
    generator = tf.random.Generator.from_seed(5)
    first = winit.init("glorot_uniform", (4, 4), backend="tensorflow", seed=generator).numpy()
    second = winit.init("glorot_uniform", (4, 4), backend="tensorflow", seed=generator).numpy()
    assert not np.array_equal(first, second)
    replay = winit.init("glorot_uniform", (4, 4), backend="tensorflow", seed=tf.random.Generator.from_seed(5))
    np.testing.assert_array_equal(first, replay.numpy())


# -- devices -------------------------------------------------------------------------------------


def test_torch_cpu_device_spellings() -> None:
    torch = pytest.importorskip("torch")
    for device in ("cpu", torch.device("cpu")):
        x = winit.init("he_uniform", (4, 4), backend="torch", device=device, seed=0)
        assert x.device.type == "cpu"


def test_numpy_accepts_cpu_device() -> None:
    assert winit.init("he_uniform", (4, 4), backend="numpy", device="cpu", seed=0).shape == (4, 4)


# -- identity and dirac: exact values against torch.nn.init ---------------------------------------


def _torch_layout_to(layout: str, array: np.ndarray) -> np.ndarray:
    """Move a torch (out, in, *k) array to ``layout``."""
    ndim = array.ndim
    if layout == "torch":
        return array
    if layout in ("keras", "flax"):
        return np.transpose(array, (*range(2, ndim), 1, 0))
    if layout in ("keras_transpose", "flax_transpose"):
        return np.transpose(array, (*range(2, ndim), 0, 1))
    return np.transpose(array, (1, 0, *range(2, ndim)))  # torch_transpose


@pytest.mark.parametrize("shape", [(3, 5), (5, 3), (4, 4)])
def test_identity_matches_torch_eye(backend: str, shape: tuple[int, int]) -> None:
    torch = pytest.importorskip("torch")
    expected = torch.nn.init.eye_(torch.empty(shape)).numpy() * 2.0
    got = to_numpy(winit.init("identity", shape, backend=backend, gain=2.0))
    np.testing.assert_array_equal(got, expected)


DIRAC_CASES = [((4, 2, 3), 1), ((4, 2, 3, 3), 2), ((6, 2, 3, 5), 3), ((2, 4, 3, 3), 1), ((4, 2, 3, 3, 3), 2),
               ((8, 1, 3, 3), 8)]  # fmt: skip


@pytest.mark.parametrize("layout", ["torch", "keras"])
@pytest.mark.parametrize(("torch_shape", "groups"), DIRAC_CASES)
def test_dirac_matches_torch(backend: str, layout: str, torch_shape: tuple[int, ...], groups: int) -> None:
    _check_dirac_against_torch(backend, layout, torch_shape, groups)


@pytest.mark.parametrize("layout", ["flax", "torch_transpose", "keras_transpose", "flax_transpose"])
@pytest.mark.parametrize(("torch_shape", "groups"), DIRAC_CASES)
def test_dirac_matches_torch_in_other_layouts(layout: str, torch_shape: tuple[int, ...], groups: int) -> None:
    # The layout logic is backend-independent (it lives in the plan), so NumPy alone covers it.
    _check_dirac_against_torch("numpy", layout, torch_shape, groups)


def _check_dirac_against_torch(backend: str, layout: str, torch_shape: tuple[int, ...], groups: int) -> None:
    torch = pytest.importorskip("torch")
    reference = torch.nn.init.dirac_(torch.empty(torch_shape), groups=groups).numpy()
    expected = _torch_layout_to(layout, reference)
    got = to_numpy(winit.init("dirac", expected.shape, backend=backend, layout=layout, groups=groups))
    np.testing.assert_array_equal(got, expected)


# -- bit parity with torch.nn.init ----------------------------------------------------------------

PARITY_SHAPES = [(16, 8, 3, 3), (5, 3), (3, 5), (7, 4, 2)]


def _torch_parity_cases() -> list[tuple[str, dict[str, Any], Any]]:
    import torch.nn.init as tinit

    return [
        ("random_uniform", {}, lambda w, g: tinit.uniform_(w, -0.05, 0.05, generator=g)),
        ("random_uniform", {"minval": -1.0, "maxval": 3.0}, lambda w, g: tinit.uniform_(w, -1.0, 3.0, generator=g)),
        ("random_normal", {"stddev": 0.3, "mean": 1.0}, lambda w, g: tinit.normal_(w, 1.0, 0.3, generator=g)),
        ("truncated_normal", {}, lambda w, g: tinit.trunc_normal_(w, 0.0, 0.05, -0.1, 0.1, generator=g)),
        ("truncated_normal", {"stddev": 1.0, "lower": -1.0, "upper": 3.0},
         lambda w, g: tinit.trunc_normal_(w, 0.0, 1.0, -1.0, 3.0, generator=g)),
        ("xavier_uniform", {}, lambda w, g: tinit.xavier_uniform_(w, generator=g)),
        ("xavier_uniform", {"gain": 1.5}, lambda w, g: tinit.xavier_uniform_(w, gain=1.5, generator=g)),
        ("xavier_normal", {}, lambda w, g: tinit.xavier_normal_(w, generator=g)),
        ("kaiming_uniform", {}, lambda w, g: tinit.kaiming_uniform_(w, generator=g)),
        ("kaiming_uniform", {"a": math.sqrt(5)}, lambda w, g: tinit.kaiming_uniform_(w, a=math.sqrt(5), generator=g)),
        ("kaiming_normal", {"a": 0.2, "mode": "fan_out"},
         lambda w, g: tinit.kaiming_normal_(w, a=0.2, mode="fan_out", generator=g)),
        ("kaiming_normal", {"nonlinearity": "relu"},
         lambda w, g: tinit.kaiming_normal_(w, nonlinearity="relu", generator=g)),
        ("kaiming_uniform", {"nonlinearity": "tanh", "mode": "fan_out"},
         lambda w, g: tinit.kaiming_uniform_(w, mode="fan_out", nonlinearity="tanh", generator=g)),
        ("orthogonal", {}, lambda w, g: tinit.orthogonal_(w, generator=g)),
        ("orthogonal", {"gain": 2.0}, lambda w, g: tinit.orthogonal_(w, gain=2.0, generator=g)),
    ]  # fmt: skip


@pytest.mark.parametrize("shape", PARITY_SHAPES)
def test_bit_parity_with_torch_nn_init(shape: tuple[int, ...]) -> None:
    torch = pytest.importorskip("torch")
    for scheme, params, reference in _torch_parity_cases():
        expected = reference(torch.empty(shape), torch.Generator().manual_seed(7))
        via_generator = winit.init(
            scheme, shape, backend="torch", seed=torch.Generator().manual_seed(7), **params
        )
        via_int = winit.init(scheme, shape, backend="torch", seed=7, **params)
        assert torch.equal(via_generator, expected), (scheme, params)
        assert torch.equal(via_int, expected), (scheme, params)


def test_bit_parity_with_torch_structured() -> None:
    torch = pytest.importorskip("torch")
    assert torch.equal(winit.init("eye", (3, 5), backend="torch"), torch.nn.init.eye_(torch.empty(3, 5)))
    for groups in (1, 2, 4):
        expected = torch.nn.init.dirac_(torch.empty(8, 2, 3, 3), groups=groups)
        assert torch.equal(winit.init("dirac", (8, 2, 3, 3), backend="torch", groups=groups), expected)


# -- NumPy memory --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "scheme", ["random_uniform", "random_normal", "truncated_normal", "glorot_uniform", "he_normal",
               "variance_scaling"],
)  # fmt: skip
def test_numpy_float32_never_allocates_float64(scheme: str) -> None:
    shape = (2048, 2048)
    tracemalloc.start()
    try:
        x = winit.init(scheme, shape, backend="numpy", dtype="float32", seed=0)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert x.dtype == np.float32
    assert peak <= 1.2 * x.nbytes, f"peak {peak} bytes for a {x.nbytes}-byte float32 result"


# -- missing frameworks --------------------------------------------------------------------------


@pytest.mark.parametrize(("backend_name", "module"), [("torch", "torch"), ("tensorflow", "tensorflow"),
                                                      ("jax", "jax")])  # fmt: skip
def test_missing_framework_names_the_extra(backend_name: str, module: str) -> None:
    script = textwrap.dedent(
        f"""
        import sys
        sys.modules[{module!r}] = None  # what Python does for a module that is not installed
        import winit
        assert winit.init("glorot_uniform", (3, 3), backend="numpy", seed=0).shape == (3, 3)
        try:
            winit.init("glorot_uniform", (3, 3), backend={backend_name!r})
        except ImportError as error:
            print("ImportError:", error)
        """
    )
    result = subprocess.run(
        [sys.executable, "-c", script],
        capture_output=True,
        text=True,
        cwd=REPO_ROOT,
        timeout=120,
        check=False,
    )
    assert result.returncode == 0, result.stderr[-2000:]
    assert f"ImportError: winit's {backend_name} backend needs" in result.stdout
    assert f"pip install 'winit[{backend_name}]'" in result.stdout
