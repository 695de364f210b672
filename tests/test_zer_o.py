"""ZerO (Zhao et al. 2022, Algorithm 1): exact matrices against scipy's Hadamard, every backend, the front doors,
and the errors for shapes and dtypes it cannot fill."""

from __future__ import annotations

import math

import numpy as np
import pytest
from conftest import to_numpy
from scipy.linalg import hadamard

import winit


def reference(out: int, in_: int) -> np.ndarray:
    """Algorithm 1 spelled out: I* if out ≤ in, else c·I*·H_m·I* with m = ⌈log₂ out⌉, c = 2^(−(m−1)/2)."""
    if out <= in_:
        return np.eye(out, in_)
    m = math.ceil(math.log2(out))
    size = 2**m
    partial_out, partial_in = np.eye(out, size), np.eye(size, in_)
    return 2 ** (-(m - 1) / 2) * partial_out @ hadamard(size) @ partial_in


#: square (power of two and not), wide, tall (power of two and not, one past a power of two), a column.
MATRICES = [(4, 4), (6, 6), (3, 7), (5, 3), (8, 2), (9, 4), (16, 16), (17, 5), (33, 1)]


@pytest.mark.parametrize("shape", MATRICES, ids=str)
def test_matrix_is_algorithm_1(shape: tuple[int, int]) -> None:
    """torch layout (out, in): the exact matrix of Algorithm 1; the keras layout stores its transpose."""
    out, in_ = shape
    expected = reference(out, in_)
    np.testing.assert_array_equal(winit.init("zer_o", shape, layout="torch", dtype="float64"), expected)
    np.testing.assert_array_equal(
        winit.init("zer_o", (in_, out), layout="keras", dtype="float64"), expected.T
    )


def test_hadamard_factor_and_gain() -> None:
    """c = 2^(−(m−1)/2): out = 5 → m = 3, c = ½; the singular values of c·H_m are √2; gain multiplies."""
    w = winit.init("zer_o", (5, 3), layout="torch", dtype="float64")
    assert set(np.abs(w).ravel()) == {0.5}
    square = winit.init("zer_o", (8, 8), layout="torch", dtype="float64")
    np.testing.assert_array_equal(square, np.eye(8))  # out = in: the identity, not the Hadamard
    tall = winit.init("zer_o", (8, 4), layout="torch", dtype="float64")
    np.testing.assert_allclose(tall.T @ tall, 2.0 * np.eye(4))  # c²·8 = 2: columns of c·H_3 have norm √2
    np.testing.assert_array_equal(
        winit.init("zer_o", (8, 4), layout="torch", gain=0.5, dtype="float64"), 0.5 * tall
    )


@pytest.mark.parametrize(
    ("shape", "layout", "centre"),
    [
        ((6, 4, 3, 3), "torch", (1, 1)),
        ((3, 5, 4), "torch", (2,)),  # even kernel: torch's tap k//2, as dirac_
        ((3, 3, 4, 6), "keras", (1, 1)),
        ((4, 4, 6, 3), "flax", (1, 1)),  # even kernel: Keras/Flax tap (k − 1)//2, as winit's dirac
    ],
    ids=str,
)
def test_conv_kernel_centre_tap(shape: tuple[int, ...], layout: str, centre: tuple[int, ...]) -> None:
    """A convolution gets Algorithm 1's matrix at the centre tap (Dirac's tap per layout) and 0 elsewhere."""
    w = winit.init("zer_o", shape, layout=layout, dtype="float64")
    if layout == "torch":
        tap = w[(slice(None), slice(None), *centre)]
        out, in_ = shape[:2]
        expected = reference(out, in_)
    else:
        tap = w[(*centre, slice(None), slice(None))]
        in_, out = shape[-2:]
        expected = reference(out, in_).T
    np.testing.assert_array_equal(tap, expected)
    assert np.count_nonzero(w) == np.count_nonzero(expected)
    plan = winit.plan("zer_o", shape, layout=layout)
    assert plan.std == pytest.approx(math.sqrt(np.mean(w**2)), rel=1e-12)  # the tensor's RMS


@pytest.mark.parametrize("rng", ["native", "portable"])
def test_same_tensor_on_every_backend(backend: str, rng: str) -> None:
    """Deterministic: numpy, torch, tensorflow and jax give the identical tensor (native and portable)."""
    for shape, layout in (
        ((9, 4), "torch"),
        ((4, 9), "keras"),
        ((6, 4, 3, 3), "torch"),
        ((3, 3, 4, 6), "flax"),
    ):
        expected = winit.init("zer_o", shape, layout=layout)
        got = to_numpy(winit.init("zer_o", shape, backend=backend, layout=layout, rng=rng, seed=3))
        np.testing.assert_array_equal(got, expected)
        assert got.dtype == np.float32


def test_low_precision_is_exact() -> None:
    """In bfloat16 every entry is ±c rounded once to the dtype: one magnitude, no float32 detour leaking through."""
    torch = pytest.importorskip("torch")
    w = winit.init("zer_o", (9, 4), backend="torch", layout="torch", dtype="bfloat16")
    c = torch.tensor(2 ** (-1.5), dtype=torch.bfloat16)
    assert w.dtype == torch.bfloat16
    assert torch.equal(w.abs(), torch.full_like(w, float(c)))


def test_names_and_explain() -> None:
    """'ZerO' (case-sensitive: 'zero' stays the alias of zeros) and 'zer_o' name it; explain shows m and c."""
    assert winit.get("ZerO") is winit.get("zer_o")
    assert winit.get("zero").name == "zeros"
    text = winit.plan("zer_o", (5, 3), layout="torch").explain()
    assert "m = ⌈log₂ 5⌉ = 3" in text and "c = 2^(−(3−1)/2) = 0.5" in text
    assert "partial identity" in winit.plan("zer_o", (3, 5), layout="torch").explain()


@pytest.mark.parametrize(
    ("shape", "error", "message"),
    [
        ((8,), ValueError, "at least 2 dimensions"),
        ((2, 2, 2, 2, 2, 2), ValueError, "zer_o needs a 2-D matrix or a 3-, 4- or 5-D"),
    ],
)
def test_bad_shapes(shape: tuple[int, ...], error: type[Exception], message: str) -> None:
    with pytest.raises(error, match=message):
        winit.init("zer_o", shape)


def test_bad_dtype_and_parameter() -> None:
    with pytest.raises(TypeError, match="not a floating-point dtype"):
        winit.init("zer_o", (4, 4), dtype="int32")
    with pytest.raises(TypeError, match="has no parameter 'groups'; accepted: gain"):
        winit.init("zer_o", (4, 4), groups=2)


def test_front_doors() -> None:
    """winit.torch.zer_o_, winit.keras.ZerO and winit.flax.zer_o give the same matrix in their layouts."""
    torch = pytest.importorskip("torch")
    import winit.torch as wt

    expected = reference(9, 4).astype(np.float32)
    weight = wt.zer_o_(torch.empty(9, 4, 3, 3))
    np.testing.assert_array_equal(weight[:, :, 1, 1].numpy(), expected)
    assert int(torch.count_nonzero(weight)) == expected.size
    pytest.importorskip("jax")
    import winit.flax as wf

    np.testing.assert_array_equal(np.asarray(wf.zer_o(gain=2.0)(None, (4, 9))), 2.0 * expected.T)
    keras = pytest.importorskip("keras")
    import winit.keras as wk

    np.testing.assert_array_equal(to_numpy(wk.get("ZerO")((4, 9))), expected.T)
    conv = keras.layers.Conv2D(9, 3, padding="same", use_bias=False, kernel_initializer=wk.ZerO())
    conv.build((1, 5, 5, 4))  # Keras (*k, in, out): the matrix at the centre tap (1, 1)
    np.testing.assert_array_equal(to_numpy(conv.kernel)[1, 1], expected.T)
    depthwise = keras.layers.DepthwiseConv2D(3, depthwise_initializer=wk.ZerO())
    with pytest.raises(ValueError, match="ZerO on a depthwise kernel"):
        depthwise.build((1, 5, 5, 4))
    assert wk.ZerO.from_config(wk.ZerO(gain=0.5).get_config()).scheme() == winit.get("zer_o").with_(gain=0.5)
