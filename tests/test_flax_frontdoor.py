"""winit.flax: jax.nn.initializers-style builders, bit parity with JAX, Flax linen/nnx use, jit/eval_shape."""

from __future__ import annotations

import inspect
from collections.abc import Callable
from typing import Any, cast

import numpy as np
import pytest

pytest.importorskip("jax")
pytest.importorskip("flax")

import jax
import jax.numpy as jnp
from conftest import run_jax_x64
from flax import linen, nnx
from jax.nn import initializers as jax_init

import winit
import winit.flax as wf

KEY = jax.random.key(20240611)
DTYPES = [jnp.float32, jnp.bfloat16]
#: shapes also checked in bfloat16 (each new shape × dtype costs JAX a compilation per sampler).
BF16_SHAPES = {(37, 11), (3, 3, 30, 19)}

#: (shape, axis keywords): dense (in, out) both ways round, conv2d (*kernel, in, out), the same kernel
#: read transposed, conv3d, and several in axes plus a batch axis. Four distinct shapes keep JAX's
#: per-shape compilations few. On these shapes, rounding the float64 std to the dtype (what the JAX
#: adapter did before it drew variance laws JAX's way) breaks bit parity for most named initializers.
SHAPE_CASES: list[tuple[tuple[int, ...], dict[str, Any]]] = [
    ((37, 11), {}),
    ((11, 75), {}),
    ((3, 3, 30, 19), {}),
    ((3, 3, 30, 19), {"in_axis": -1, "out_axis": -2}),
    ((2, 3, 3, 6, 10), {}),
    ((2, 3, 3, 6, 10), {"in_axis": (0, 3), "out_axis": -1, "batch_axis": 1}),
]
VARIANCE_NAMES = [
    "glorot_uniform", "glorot_normal", "xavier_uniform", "xavier_normal",
    "he_uniform", "he_normal", "kaiming_uniform", "kaiming_normal",
    "lecun_uniform", "lecun_normal",
]  # fmt: skip
#: every function both modules have, for the signature check.
SHARED = [
    "zeros", "ones", "constant", "uniform", "normal", "truncated_normal", "variance_scaling",
    *VARIANCE_NAMES, "orthogonal", "delta_orthogonal",
]  # fmt: skip
#: the shared builders that draw no random numbers, so take no rng/stream.
KEYLESS = {"zeros", "ones", "constant"}


def bits(values: jax.Array) -> np.ndarray:
    """The raw bit patterns of a 16- or 32-bit float array, so equality is exact (signed zeros too)."""
    unsigned = {2: jnp.uint16, 4: jnp.uint32}[values.dtype.itemsize]
    return np.asarray(jax.lax.bitcast_convert_type(values, unsigned))


def assert_bitwise(ours: jax.Array, theirs: jax.Array) -> None:
    """Same shape, same dtype, same bits."""
    assert ours.shape == theirs.shape
    assert ours.dtype == theirs.dtype
    mismatched = int(np.sum(bits(ours) != bits(theirs)))
    assert mismatched == 0, f"{mismatched} of {ours.size} values differ from JAX"


def dtypes_for(shape: tuple[int, ...]) -> list[Any]:
    """float32 always; bfloat16 too for the shapes in BF16_SHAPES."""
    return DTYPES if shape in BF16_SHAPES else [jnp.float32]


# -- drop-in: names and signatures ---------------------------------------------------------------
@pytest.mark.parametrize("name", SHARED)
def test_signature_matches_jax(name: str) -> None:
    """JAX's parameters (names, kinds, defaults, order) come first; random builders add only keyword-only rng/stream."""
    ours, theirs = (
        [(p.name, p.kind, p.default) for p in inspect.signature(getattr(module, name)).parameters.values()]
        for module in (wf, jax_init)
    )
    assert ours[: len(theirs)] == theirs
    keyword = inspect.Parameter.KEYWORD_ONLY
    extras = [] if name in KEYLESS else [("rng", keyword, "native"), ("stream", keyword, None)]
    assert ours[len(theirs) :] == extras


def test_every_winit_scheme_has_an_initializer() -> None:
    """initializer(name) works for every built-in scheme (conv kernels; identity 2-D), in the flax layout."""
    for name in winit.schemes():
        shape = (37, 11) if name == "identity" else (3, 3, 30, 19)  # identity is 2-D only
        out = wf.initializer(name)(KEY, shape, jnp.float32)
        assert out.shape == shape and out.dtype == jnp.float32, name
        expected = winit.init(name, shape, backend="jax", seed=KEY)
        assert_bitwise(out, expected)
    # flax layout: the in axis is -2 and the out axis -1, so dirac's ones sit at [1, 1, i, i]
    dirac = wf.dirac()(KEY, (3, 3, 4, 8))
    assert float(dirac[1, 1].sum()) == 4.0 and float(dirac.sum()) == 4.0
    assert_bitwise(jnp.diagonal(wf.identity(2.0)(KEY, (4, 8))), jnp.full(4, 2.0))
    assert wf.eye is wf.identity


# -- parity: variance scaling and its named cases ------------------------------------------------
@pytest.mark.parametrize("name", VARIANCE_NAMES)
def test_named_variance_initializers_match_jax(name: str) -> None:
    """he/glorot/lecun (and aliases): JAX's law (truncated *_normal), same bits, every axis setting and dtype."""
    for shape, axes in SHAPE_CASES:
        for dtype in dtypes_for(shape):
            ours = getattr(wf, name)(**axes)(KEY, shape, dtype)
            theirs = getattr(jax_init, name)(**axes)(KEY, shape, dtype)
            assert_bitwise(ours, theirs)


@pytest.mark.parametrize("distribution", ["truncated_normal", "normal", "uniform"])
@pytest.mark.parametrize("mode", ["fan_in", "fan_out", "fan_avg", "fan_geo_avg"])
def test_variance_scaling_matches_jax(mode: Any, distribution: Any) -> None:
    """variance_scaling(scale, mode, distribution): same bits as JAX for float32 and bfloat16."""
    for scale in (0.1, 1.0, 2.0, 3.0):
        for shape, axes in SHAPE_CASES[:4]:
            for dtype in dtypes_for(shape):
                ours = wf.variance_scaling(scale, mode, distribution, **axes)(KEY, shape, dtype)
                theirs = jax_init.variance_scaling(scale, mode, distribution, **axes)(KEY, shape, dtype)
                assert_bitwise(ours, theirs)


def test_builder_dtype_is_the_default() -> None:
    """dtype= on the builder is the init's default dtype, as in JAX; the call's dtype overrides it."""
    ours, theirs = wf.he_normal(dtype=jnp.bfloat16), jax_init.he_normal(dtype=jnp.bfloat16)
    assert_bitwise(ours(KEY, (16, 8)), theirs(KEY, (16, 8)))
    assert ours(KEY, (16, 8)).dtype == jnp.bfloat16
    assert ours(KEY, (16, 8), jnp.float32).dtype == jnp.float32
    assert wf.he_normal()(KEY, (16, 8)).dtype == jnp.float32  # None → JAX's default float


# -- parity: fixed laws and constants -------------------------------------------------------------
FIXED_CASES: list[tuple[str, tuple[Any, ...], dict[str, Any]]] = [
    ("uniform", (), {}),
    ("uniform", (0.3,), {}),
    ("normal", (), {}),
    ("normal", (2.5,), {}),
    ("truncated_normal", (), {}),
    ("truncated_normal", (0.5,), {"lower": -1.0, "upper": 3.0}),
    ("constant", (0.1,), {}),
    ("constant", (-7.0,), {}),
]


@pytest.mark.parametrize(("name", "args", "kwargs"), FIXED_CASES)
def test_fixed_laws_match_jax(name: str, args: tuple[Any, ...], kwargs: dict[str, Any]) -> None:
    """uniform [0, scale), normal, truncated_normal (no correction), constant: same bits, 1-D to 4-D."""
    for shape in [(17,), (37, 11), (3, 3, 30, 19)]:
        for dtype in dtypes_for(shape):
            ours = getattr(wf, name)(*args, **kwargs)(KEY, shape, dtype)
            theirs = getattr(jax_init, name)(*args, **kwargs)(KEY, shape, dtype)
            assert_bitwise(ours, theirs)
    if name == "uniform":  # one-sided, as JAX: [0, scale)
        values = wf.uniform(*args)(KEY, (4096,))
        assert float(values.min()) >= 0.0 and float(values.max()) < (args[0] if args else 1e-2)


def test_zeros_and_ones_are_init_functions_like_jax() -> None:
    """zeros/ones are themselves init functions (no builder call); the key is ignored, None included."""
    for dtype in DTYPES:
        assert_bitwise(wf.zeros(KEY, (3, 4), dtype), jax_init.zeros(KEY, (3, 4), dtype))
        assert_bitwise(wf.ones(None, (3, 4), dtype), jax_init.ones(KEY, (3, 4), dtype))
    assert wf.zeros_init() is wf.zeros and wf.ones_init() is wf.ones


# -- parity: orthogonal and delta-orthogonal -------------------------------------------------------
ORTHO_CASES: list[tuple[tuple[int, ...], int]] = [
    ((7, 5), -1), ((5, 7), -1), ((5, 7), 0), ((3, 3, 4, 8), -1), ((3, 3, 4, 8), -2), ((3, 3, 4, 8), 1),
    ((2, 2, 3, 16, 4), -1), ((1, 6), -1),
    ((6, 6), -1), ((2, 3, 6), -1),  # square flattenings: JAX reads the drawn Q as (rest, column)
]  # fmt: skip


@pytest.mark.parametrize(("shape", "column_axis"), ORTHO_CASES)
def test_orthogonal_matches_jax(shape: tuple[int, ...], column_axis: int) -> None:
    """orthogonal(scale, column_axis): JAX's reshape and moveaxis order, same bits in float32."""
    for scale in (1.0, 1.7):
        ours = wf.orthogonal(scale, column_axis)(KEY, shape, jnp.float32)
        theirs = jax_init.orthogonal(scale, column_axis)(KEY, shape, jnp.float32)
        assert_bitwise(ours, theirs)


def test_orthogonal_bfloat16_is_jax_float32_rounded() -> None:
    """JAX refuses a bfloat16 QR; winit factors in float32 and rounds, i.e. JAX's float32 result cast."""
    with pytest.raises(NotImplementedError):
        jax_init.orthogonal()(KEY, (8, 6), jnp.bfloat16)
    ours = wf.orthogonal(1.5)(KEY, (8, 6), jnp.bfloat16)
    assert_bitwise(ours, jax_init.orthogonal(1.5)(KEY, (8, 6), jnp.float32).astype(jnp.bfloat16))


@pytest.mark.parametrize("shape", [(3, 4, 4), (4, 4, 3, 5), (3, 3, 3, 2, 2)])
def test_delta_orthogonal_matches_jax(shape: tuple[int, ...]) -> None:
    """delta_orthogonal: zeros except an orthogonal centre tap at (k−1)//2 (even kernels too), same bits."""
    for column_axis in (-1, -2):
        ours = wf.delta_orthogonal(2.0, column_axis)(KEY, shape, jnp.float32)
        assert_bitwise(ours, jax_init.delta_orthogonal(2.0, column_axis)(KEY, shape, jnp.float32))
    kernel = wf.delta_orthogonal()(KEY, shape)
    tap = np.asarray(kernel[tuple((k - 1) // 2 for k in shape[:-2])])
    np.testing.assert_allclose(tap @ tap.T, np.eye(shape[-2]), atol=1e-5)  # in ≤ out: orthonormal rows
    assert float(jnp.abs(kernel).sum()) == pytest.approx(float(np.abs(tap).sum()))  # zero off the tap


# -- winit schemes under winit's own definitions ------------------------------------------------
def test_initializer_keeps_winit_conventions() -> None:
    """initializer('he_normal') is winit's (torch's) untruncated He normal; he_normal() is JAX's truncated one."""
    shape = (256, 512)
    winit_he = wf.initializer("he_normal")(KEY, shape)
    jax_untruncated = jax_init.variance_scaling(2.0, "fan_in", "normal")(KEY, shape)
    np.testing.assert_allclose(np.asarray(winit_he), np.asarray(jax_untruncated), rtol=1e-6)
    sigma = np.sqrt(2.0 / 256)
    assert float(jnp.abs(winit_he).max()) > 3 * sigma  # untruncated tails
    assert float(jnp.abs(wf.he_normal()(KEY, shape)).max()) <= 2 * sigma / winit.TRUNCATED_NORMAL_STD_2SIGMA
    # exact where the laws and their arithmetic coincide (gain 1, scale 1)
    assert_bitwise(wf.initializer("glorot_uniform")(KEY, shape), jax_init.glorot_uniform()(KEY, shape))
    # winit parameters pass through: fan_out mode reads the out axis of the flax layout
    fan_out = wf.initializer("he_uniform", mode="fan_out")(KEY, shape)
    assert float(jnp.abs(fan_out).max()) <= np.sqrt(6.0 / 512)
    assert float(jnp.abs(fan_out).max()) > 0.99 * np.sqrt(6.0 / 512)


def test_bias_and_empty_shapes() -> None:
    """1-D biases take Keras' fans (n, n) and empty shapes give empty arrays instead of errors."""
    bias = wf.lecun_uniform()(KEY, (64,))
    assert bias.shape == (64,) and float(jnp.abs(bias).max()) <= np.sqrt(3.0 / 64)
    assert wf.he_normal()(KEY, (0, 5)).shape == (0, 5)
    assert wf.orthogonal()(KEY, (3, 0)).shape == (3, 0)
    assert_bitwise(wf.normal(0.2)(KEY, (10,)), jax_init.normal(0.2)(KEY, (10,)))


def test_raw_uint32_keys_work() -> None:
    """jax.random.PRNGKey-style raw keys give the same values as JAX's initializers given them."""
    raw = jax.random.PRNGKey(7)
    assert_bitwise(wf.he_uniform()(raw, (9, 13)), jax_init.he_uniform()(raw, (9, 13)))


# -- Flax: linen and nnx models ------------------------------------------------------------------
class LinenNet(linen.Module):
    """Conv → ReLU → Dense, every initializer injected."""

    conv_init: Callable[..., Any]
    dense_init: Callable[..., Any]
    bias_init: Callable[..., Any]

    @linen.compact
    def __call__(self, x: jax.Array) -> jax.Array:
        x = linen.Conv(8, (3, 3), kernel_init=self.conv_init, bias_init=self.bias_init)(x)
        x = linen.relu(x).reshape((x.shape[0], -1))
        return linen.Dense(4, kernel_init=self.dense_init, bias_init=self.bias_init)(x)


def test_linen_model_initializes_like_jax_and_trains() -> None:
    """linen Dense + Conv with winit initializers: params equal JAX-initialized ones; forward and grad run."""
    x = jax.random.normal(jax.random.key(1), (2, 6, 6, 3))
    ours = LinenNet(wf.he_normal(), wf.glorot_uniform(), wf.constant(0.1))
    theirs = LinenNet(jax_init.he_normal(), jax_init.glorot_uniform(), jax_init.constant(0.1))
    params = ours.init(KEY, x)
    reference = theirs.init(KEY, x)
    structure: Any = jax.tree.structure(params)
    assert structure == jax.tree.structure(reference)
    for mine, jaxs in zip(jax.tree.leaves(params), jax.tree.leaves(reference), strict=True):
        assert_bitwise(mine, jaxs)
    assert params["params"]["Conv_0"]["kernel"].shape == (3, 3, 3, 8)

    def loss(p: Any) -> jax.Array:
        return jnp.mean(cast(jax.Array, ours.apply(p, x)) ** 2)

    assert cast(jax.Array, ours.apply(params, x)).shape == (2, 4)
    grads = jax.grad(loss)(params)
    norms = [float(jnp.linalg.norm(g)) for g in jax.tree.leaves(grads)]
    assert all(np.isfinite(norms)) and all(n > 0 for n in norms)
    # abstract init: no values, shapes only
    abstract = jax.eval_shape(ours.init, KEY, x)
    assert abstract["params"]["Dense_0"]["kernel"].shape == (8 * 6 * 6, 4)  # "SAME" padding keeps 6×6


def test_linen_embed_default_overlapping_axes() -> None:
    """Flax's Embed default names axis 0 as both in and out; JAX then counts it in neither fan. Same bits."""
    ids = jnp.arange(6).reshape(2, 3)
    ours = linen.Embed(300, 48, embedding_init=wf.variance_scaling(1.0, "fan_in", "normal", out_axis=0))
    table = ours.init(KEY, ids)["params"]["embedding"]
    assert_bitwise(table, linen.Embed(300, 48).init(KEY, ids)["params"]["embedding"])
    assert float(jnp.std(table)) == pytest.approx(1 / np.sqrt(48), rel=0.02)  # fan_in = features


class NnxNet(nnx.Module):
    """nnx Conv → ReLU → Linear with one kernel initializer."""

    def __init__(self, kernel_init: Callable[..., Any], rngs: nnx.Rngs) -> None:
        self.conv = nnx.Conv(3, 8, (3, 3), padding="VALID", kernel_init=kernel_init, rngs=rngs)
        self.linear = nnx.Linear(8 * 4 * 4, 4, kernel_init=kernel_init, rngs=rngs)

    def __call__(self, x: jax.Array) -> jax.Array:
        x = nnx.relu(self.conv(x)).reshape((x.shape[0], -1))
        return self.linear(x)


def test_nnx_model_initializes_like_jax_and_trains() -> None:
    """nnx.Linear/Conv(kernel_init=winit.flax.lecun_normal()) equal Flax's default init; forward and grad run."""
    model = NnxNet(wf.lecun_normal(), nnx.Rngs(0))
    reference = NnxNet(jax_init.lecun_normal(), nnx.Rngs(0))  # Flax's own default kernel init
    assert_bitwise(model.linear.kernel[...], reference.linear.kernel[...])
    assert_bitwise(model.conv.kernel[...], reference.conv.kernel[...])
    x = jax.random.normal(jax.random.key(2), (2, 6, 6, 3))
    assert model(x).shape == (2, 4)
    graphdef, state = nnx.split(model)

    def loss(s: Any) -> jax.Array:
        return jnp.mean(nnx.merge(graphdef, s)(x) ** 2)

    grads = jax.grad(loss)(state)
    assert all(bool(jnp.all(jnp.isfinite(g))) for g in jax.tree.leaves(grads))
    abstract = nnx.eval_shape(lambda: NnxNet(wf.he_uniform(), nnx.Rngs(0)))
    leaves = jax.tree.leaves(nnx.state(abstract))
    assert leaves and all(isinstance(leaf, jax.ShapeDtypeStruct) for leaf in leaves)
    assert abstract.linear.kernel.get_value().shape == (8 * 4 * 4, 4)


# -- tracing: jit, eval_shape, no host round-trip ---------------------------------------------------
#: name -> (winit's initializer, JAX's or None where JAX has none).
TRACED: dict[str, tuple[Any, Any]] = {
    "he_normal": (wf.he_normal(), jax_init.he_normal()),
    "glorot_uniform": (wf.glorot_uniform(), jax_init.glorot_uniform()),
    "variance_scaling_normal": (
        wf.variance_scaling(0.5, "fan_geo_avg", "normal"),
        jax_init.variance_scaling(0.5, "fan_geo_avg", "normal"),
    ),
    "truncated_normal": (wf.truncated_normal(0.02), jax_init.truncated_normal(0.02)),
    "orthogonal": (wf.orthogonal(), jax_init.orthogonal()),
    "delta_orthogonal": (wf.delta_orthogonal(), jax_init.delta_orthogonal()),
    "dirac": (wf.dirac(), None),
    "zer_o": (wf.zer_o(), None),
    "constant": (wf.constant(0.5), jax_init.constant(0.5)),
}


TRACE_SHAPE = (3, 3, 8, 16)


@pytest.mark.parametrize("name", sorted(TRACED))
def test_eval_shape_and_no_host_callbacks(name: str) -> None:
    """eval_shape gives shapes and dtypes without values; the traced program has no host callbacks."""
    init = TRACED[name][0]
    abstract = jax.eval_shape(lambda k: init(k, TRACE_SHAPE, jnp.bfloat16), KEY)
    assert abstract.shape == TRACE_SHAPE and abstract.dtype == jnp.bfloat16
    jaxpr = jax.make_jaxpr(lambda k: init(k, TRACE_SHAPE))(KEY)
    assert "callback" not in str(jaxpr)
    assert jaxpr.out_avals[0].shape == TRACE_SHAPE


def test_jit_runs_with_host_transfers_disallowed() -> None:
    """One jitted init of every traced initializer runs under transfer_guard("disallow") and equals jitted JAX.

    Jitted values are compared with jitted JAX: XLA fuses the scaling differently from eager dispatch
    (JAX's own variance_scaling(..., "normal") differs between its jit and eager results).
    """

    def all_of(which: int) -> dict[str, jax.Array]:
        return {
            name: pair[which](KEY, TRACE_SHAPE) for name, pair in TRACED.items() if pair[which] is not None
        }

    ours_jitted = jax.jit(lambda: all_of(0))
    with jax.transfer_guard("disallow"):
        ours = ours_jitted()
        for values in ours.values():
            values.block_until_ready()
    theirs = jax.jit(lambda: all_of(1))()
    assert set(ours) - set(theirs) == {"dirac", "zer_o"}
    for name, values in theirs.items():
        assert_bitwise(ours[name], values)
    assert_bitwise(ours["dirac"], wf.dirac()(KEY, TRACE_SHAPE))
    assert_bitwise(ours["zer_o"], wf.zer_o()(KEY, TRACE_SHAPE))


def test_works_under_vmap_over_keys() -> None:
    """A batch of keys under vmap gives the per-key values (Flax's nn.vmap/scan split rngs this way)."""
    keys = jax.random.split(KEY, 3)
    batched = jax.vmap(lambda k: wf.he_uniform()(k, (5, 7)))(keys)
    for i in range(3):
        assert_bitwise(batched[i], jax_init.he_uniform()(keys[i], (5, 7)))


def test_float64_parity_under_x64() -> None:
    """With JAX_ENABLE_X64 the default dtype is float64, as in JAX, and the bits still match."""
    script = (
        "import jax, jax.numpy as jnp, winit.flax as wf\n"
        "from jax.nn import initializers as J\n"
        "k = jax.random.key(3)\n"
        "for name in ('he_normal', 'glorot_uniform', 'lecun_normal'):\n"
        "    ours, theirs = getattr(wf, name)()(k, (37, 11)), getattr(J, name)()(k, (37, 11))\n"
        "    assert ours.dtype == jnp.float64 == theirs.dtype, (ours.dtype, theirs.dtype)\n"
        "    assert bool((ours == theirs).all()), name\n"
        "for name in ('he_normal',):\n"
        "    ours, theirs = (getattr(m, name)()(k, (11, 7), jnp.complex128) for m in (wf, J))\n"
        "    assert ours.dtype == jnp.complex128 == theirs.dtype and bool((ours == theirs).all()), name\n"
        "print('ok')\n"
    )
    assert run_jax_x64(script).stdout.strip() == "ok"


@pytest.mark.parametrize("kernel", [(2,), (2, 2), (3, 3), (4, 4), (2, 3)])
def test_dirac_is_an_identity_under_same_padding(kernel: tuple[int, ...]) -> None:
    # Flax's 'SAME' pads (k − 1)//2 before (lax), so the tap sits there; at k//2 an even kernel shifted
    # the output one pixel (as delta_orthogonal already placed it at (k − 1)//2).
    x = jax.random.normal(KEY, (1, *(6 for _ in kernel), 4))
    conv = linen.Conv(4, kernel, padding="SAME", use_bias=False, kernel_init=wf.dirac())
    y = conv.apply(conv.init(KEY, x), x)
    assert float(jnp.max(jnp.abs(y - x))) <= 1e-6


# -- complex dtypes and traced hyper-parameters: JAX's own formulas ----------------------------------
def assert_same_bits(ours: jax.Array, theirs: jax.Array) -> None:
    """Same shape, dtype and bits, for real or complex arrays (complex64 as pairs of uint32)."""
    assert (ours.shape, ours.dtype) == (theirs.shape, theirs.dtype)
    a, b = np.asarray(ours), np.asarray(theirs)
    word = {2: np.uint16, 4: np.uint32, 8: np.uint32, 16: np.uint64}[a.dtype.itemsize]
    mismatched = int(np.sum(a.view(word) != b.view(word)))
    assert mismatched == 0, f"{mismatched} words of {a.size} values differ from JAX"


#: builder -> its arguments; JAX's complex variance scaling keeps E|w|² = scale/fan (disk for
#: "uniform", complex normal truncated in modulus at 2 for "truncated_normal").
COMPLEX_CASES: list[tuple[str, tuple[Any, ...], tuple[int, ...]]] = [
    ("he_normal", (), (3, 3, 6, 10)),
    ("glorot_uniform", (), (37, 11)),
    ("lecun_normal", (), (37, 11)),
    ("variance_scaling", (0.5, "fan_avg", "normal"), (37, 11)),
    ("variance_scaling", (2.0, "fan_geo_avg", "uniform"), (3, 3, 6, 10)),
    ("normal", (0.3,), (37, 11)),
    ("orthogonal", (2.0,), (11, 37)),
    ("orthogonal", (1.0, 0), (3, 5, 4)),
    ("delta_orthogonal", (), (3, 3, 6, 10)),
    ("constant", (2.5,), (4, 3)),
]


@pytest.mark.parametrize(("name", "args", "shape"), COMPLEX_CASES)
def test_complex64_matches_jax(name: str, args: tuple[Any, ...], shape: tuple[int, ...]) -> None:
    ours = getattr(wf, name)(*args)(KEY, shape, jnp.complex64)
    assert_same_bits(ours, getattr(jax_init, name)(*args)(KEY, shape, jnp.complex64))
    if name == "he_normal":  # the variance of |w| follows the rule: E|w|² = 2/fan_in
        assert float(jnp.mean(jnp.abs(ours) ** 2)) == pytest.approx(2.0 / 54, rel=0.1)


def test_complex64_zeros_and_ones_match_jax() -> None:
    for name in ("zeros", "ones"):
        assert_same_bits(
            getattr(wf, name)(KEY, (4, 3), jnp.complex64), getattr(jax_init, name)(KEY, (4, 3), jnp.complex64)
        )


def test_traced_hyper_parameters_match_jax_under_jit_grad_and_vmap() -> None:
    shape = (6, 5)
    for name in ("normal", "uniform"):
        ours, theirs = (jax.jit(lambda s, m=m, n=name: getattr(m, n)(s)(KEY, shape)) for m in (wf, jax_init))
        assert_same_bits(ours(0.25), theirs(0.25))
    gradients = [jax.grad(lambda s, m=m: jnp.sum(m.normal(s)(KEY, shape) ** 2))(0.25) for m in (wf, jax_init)]
    assert_same_bits(*gradients)
    scales = jnp.array([0.5, 1.0, 2.0])
    for distribution in ("truncated_normal", "normal", "uniform"):
        drawn = [
            jax.vmap(lambda s, m=m, d=distribution: m.variance_scaling(s, "fan_avg", d)(KEY, shape))(scales)
            for m in (wf, jax_init)
        ]
        assert_same_bits(*drawn)
    assert_same_bits(
        jax.jit(lambda s: wf.he_normal()(KEY, shape) * s)(2.0),
        jax.jit(lambda s: jax_init.he_normal()(KEY, shape) * s)(2.0),
    )


def test_constant_takes_arrays_as_jax_does() -> None:
    for value in (jnp.array([1.0, -2.0, 3.0]), np.full((4, 3), 0.5), jnp.float32(7.0)):
        assert_same_bits(wf.constant(value)(KEY, (4, 3)), jax_init.constant(value)(KEY, (4, 3)))


def test_hyper_parameter_errors_name_the_parameter() -> None:
    with pytest.raises(TypeError, match=r"scale must be a real number, got 'a'"):
        wf.uniform("a")  # was "maxval must be ..."
    with pytest.raises(TypeError, match=r"stddev must be a real number"):
        wf.normal(None)
    with pytest.raises(ValueError, match=r"scale must be > 0"):
        wf.variance_scaling(-1.0, "fan_in", "normal")


# -- errors ----------------------------------------------------------------------------------------
def test_bad_mode_and_distribution_name_the_accepted_ones() -> None:
    """Unknown mode/distribution → ValueError at build time naming the accepted values (JAX waits for the call)."""
    with pytest.raises(ValueError, match=r"fan_inn.*fan_in, fan_out, fan_avg, fan_geo_avg"):
        wf.variance_scaling(1.0, "fan_inn", "normal")
    with pytest.raises(ValueError, match=r"gaussian.*normal, truncated_normal, uniform"):
        wf.variance_scaling(1.0, "fan_in", "gaussian")
    with pytest.raises(ValueError, match=r"unknown scheme 'he_norml'.*Did you mean 'he_normal'"):
        wf.initializer("he_norml")
    with pytest.raises(TypeError, match=r"no parameter 'slope'.*negative_slope"):
        wf.initializer("he_normal", slope=0.1)


@pytest.mark.parametrize("dtype", [jnp.int32, "int8", jnp.bool_, "not-a-dtype"])
def test_non_float_dtypes_raise_type_error(dtype: Any) -> None:
    """Integer, bool or unknown dtypes → TypeError naming the float dtypes, on the builder or the call."""
    with pytest.raises(TypeError, match=r"float16, bfloat16, float32, float64"):
        wf.he_normal(dtype=dtype)
    with pytest.raises(TypeError, match=r"float16, bfloat16, float32, float64"):
        wf.he_normal()(KEY, (4, 4), dtype)
    with pytest.raises(TypeError, match=r"float16, bfloat16, float32, float64"):
        wf.zeros(KEY, (4, 4), dtype)


def test_complex_is_refused_where_jax_refuses_it_and_by_the_portable_draw() -> None:
    # jax.random.uniform/truncated_normal take real dtypes only; winit's Philox draws real floats.
    with pytest.raises(TypeError, match=r"float16, bfloat16, float32, float64"):
        wf.uniform()(KEY, (4, 4), jnp.complex64)
    with pytest.raises(TypeError, match=r"float16, bfloat16, float32, float64"):
        wf.truncated_normal()(KEY, (4, 4), jnp.complex64)
    with pytest.raises(TypeError, match=r"rng='portable' draws real floating dtypes"):
        wf.he_normal(rng="portable")(KEY, (4, 4), jnp.complex64)
    with pytest.raises(TypeError, match=r"rng='portable' takes Python-number hyper-parameters"):
        wf.normal(jnp.array(0.1), rng="portable")


def test_shape_and_key_errors() -> None:
    """Shapes a law cannot fill, a missing key, out_sharding and float64 without x64 fail loudly."""
    with pytest.raises(ValueError, match="at least 2 dimensions"):
        wf.orthogonal()(KEY, (5,))
    with pytest.raises(ValueError, match="column_axis=2 is out of range"):
        wf.orthogonal(column_axis=2)(KEY, (4, 4))
    with pytest.raises(ValueError, match="out >= in"):
        wf.delta_orthogonal()(KEY, (3, 3, 8, 4))
    with pytest.raises(ValueError, match="3-, 4- or 5-D"):
        wf.delta_orthogonal()(KEY, (4, 4))
    with pytest.raises(ValueError, match="out_axis=2 is out of range"):
        wf.he_normal(out_axis=2)(KEY, (4, 4))
    with pytest.raises(TypeError, match="needs a JAX key"):
        wf.he_normal()(None, (4, 4))
    with pytest.raises(NotImplementedError, match="out_shardings"):
        wf.he_normal()(KEY, (4, 4), out_sharding=object())
    if jax.dtypes.canonicalize_dtype(jnp.float64) != jnp.float64:  # x64 off
        with pytest.raises(TypeError, match="JAX_ENABLE_X64"):
            wf.he_normal()(KEY, (4, 4), jnp.float64)
