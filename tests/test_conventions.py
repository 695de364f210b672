"""One test per row of docs/conventions.md: each runs the framework's own code next to winit's.

Every framework is optional (its tests skip cleanly when it is absent). Keras runs in-process on its
default TensorFlow backend, except row 14, which needs the torch backend and runs in a subprocess.
Front-door tests are marked "front door pending" while ``winit.torch``/``winit.keras``/``winit.flax``
(or the name the test uses) does not exist yet.
"""

from __future__ import annotations

import importlib
import inspect
import json
import math
import os
import re
import subprocess
import sys
import textwrap
from collections.abc import Iterator
from pathlib import Path
from types import ModuleType
from typing import Any, Final

import numpy as np
import pytest

import winit
from winit._laws import TRUNCATED_NORMAL_STD_2SIGMA, Normal, TruncatedNormal, Uniform

REPO_ROOT: Final = Path(__file__).resolve().parent.parent
#: 262,144 draws: an untruncated normal puts ~2.3% (≈ 6,000) of them beyond 2.27·std, a truncated one none.
SQUARE: Final = (512, 512)
#: float32 rounding of σ·z can land a hair past 2σ computed in float64; a real leak is far larger.
ROUNDING: Final = 1e-6
#: far fewer than an untruncated law's ≈ 6,000 tail values, far more than zero.
MANY_TAIL_VALUES: Final = 1000
ROOT_FIVE: Final = math.sqrt(5.0)


# -- helpers ------------------------------------------------------------------------------------
def _front_door(module: str) -> ModuleType | None:
    """``winit.<module>`` if it imports, else None (not written yet, or its framework is absent)."""
    try:
        return importlib.import_module(f"winit.{module}")
    except ImportError:
        return None


TORCH_DOOR: Final = _front_door("torch")
KERAS_DOOR: Final = _front_door("keras")
FLAX_DOOR: Final = _front_door("flax")


def pending(door: ModuleType | None, *names: str) -> pytest.MarkDecorator:
    """Skip with "front door pending" until ``door`` exists and has every one of ``names``."""
    ready = door is not None and all(hasattr(door, name) for name in names)
    return pytest.mark.skipif(not ready, reason="front door pending")


def as_numpy(x: Any) -> np.ndarray:
    """A float64 NumPy copy of a NumPy, torch, TensorFlow, Keras or JAX array."""
    if hasattr(x, "detach"):
        x = x.detach().cpu().numpy()
    elif hasattr(x, "numpy") and not isinstance(x, np.ndarray):
        x = x.numpy()
    return np.asarray(x, dtype=np.float64)


def beyond(x: Any, bound: float) -> int:
    """How many elements have |x| > bound (allowing float32 rounding at the bound)."""
    return int(np.count_nonzero(np.abs(as_numpy(x)) > bound * (1.0 + ROUNDING)))


def assert_std(x: Any, expected: float, rel: float = 0.01) -> None:
    """The sample std is within ``rel`` of ``expected`` (RMS about 0, as the laws are centred)."""
    sample = as_numpy(x)
    measured = float(np.sqrt(np.mean(sample**2)))
    assert measured == pytest.approx(expected, rel=rel), f"std {measured:.6g}, expected {expected:.6g}"


def two_sigma(scheme: str, shape: tuple[int, ...], layout: str = "torch", **params: Any) -> float:
    """2σ of a truncated law (σ the normal's std before truncation): where Keras and JAX cut."""
    law = winit.plan(scheme, shape, layout=layout, **params).law
    assert isinstance(law, TruncatedNormal), law
    return 2.0 * law.sigma


def max_gram_error(matrix: np.ndarray) -> float:
    """max |G − I| for the smaller Gram matrix of a 2-D ``matrix`` (0 for orthonormal rows or columns)."""
    gram = matrix @ matrix.T if matrix.shape[0] <= matrix.shape[1] else matrix.T @ matrix
    return float(np.abs(gram - np.eye(gram.shape[0])).max())


# -- framework fixtures -------------------------------------------------------------------------
@pytest.fixture(scope="module")
def torch() -> Any:
    return pytest.importorskip("torch")


@pytest.fixture(scope="module")
def keras() -> Any:
    keras = pytest.importorskip("keras")
    if keras.backend.backend() != "tensorflow":
        pytest.skip(f"these checks run Keras on its TensorFlow backend, got {keras.backend.backend()!r}")
    return keras


@pytest.fixture(scope="module")
def jax() -> Any:
    return pytest.importorskip("jax")


@pytest.fixture(scope="module")
def flax_linen() -> Any:
    pytest.importorskip("jax")
    return pytest.importorskip("flax.linen")


@pytest.fixture
def global_torch_seed(torch: ModuleType) -> Iterator[Any]:
    """Seed torch's global generator (what nn layers draw from) and restore its state afterwards."""
    with torch.random.fork_rng():
        torch.manual_seed(0)
        yield torch.default_generator


def seeded(torch: ModuleType, seed: int = 0) -> Any:
    return torch.Generator().manual_seed(seed)


# -- row 1: Glorot / He / LeCun normal ----------------------------------------------------------
#: (winit core name, Keras class, jax.nn.initializers function, the Keras/JAX law as winit variance_scaling)
NORMAL_FAMILIES: Final = [
    ("glorot_normal", "GlorotNormal", "glorot_normal", {"mode": "fan_avg"}),
    ("he_normal", "HeNormal", "he_normal", {"scale": 2.0}),
    ("lecun_normal", "LecunNormal", "lecun_normal", {}),
]


def _torch_normal_family(torch: ModuleType, name: str, tensor: Any, generator: Any) -> Any:
    init = torch.nn.init
    if name == "glorot_normal":
        return init.xavier_normal_(tensor, generator=generator)
    if name == "he_normal":
        return init.kaiming_normal_(tensor, generator=generator)
    return init.kaiming_normal_(tensor, nonlinearity="linear", generator=generator)  # torch has no LeCun


@pytest.mark.parametrize(("name", "keras_class", "jax_name", "keras_law"), NORMAL_FAMILIES)
def test_glorot_he_lecun_normal_truncation(
    torch: ModuleType, keras: ModuleType, jax: ModuleType, name: str, keras_class: str, jax_name: str,
    keras_law: dict[str, Any],
) -> None:  # fmt: skip
    """torch's *_normal are untruncated, Keras' and JAX's truncated at 2σ; winit's name follows torch."""
    target = winit.plan(name, SQUARE).std
    keras_plan = winit.plan("variance_scaling", SQUARE, layout="keras", **keras_law)
    assert isinstance(keras_plan.law, TruncatedNormal)
    assert keras_plan.std == pytest.approx(target, rel=1e-12)  # same variance, different tails
    cut = two_sigma("variance_scaling", SQUARE, "keras", **keras_law)  # = 2·target/0.8796 ≈ 2.27·target

    torch_sample = _torch_normal_family(torch, name, torch.empty(SQUARE), seeded(torch))
    keras_sample = getattr(keras.initializers, keras_class)(seed=0)(SQUARE)
    jax_sample = getattr(jax.nn.initializers, jax_name)()(jax.random.key(0), SQUARE)
    assert beyond(torch_sample, cut) > MANY_TAIL_VALUES
    assert beyond(keras_sample, cut) == 0
    assert beyond(jax_sample, cut) == 0
    for sample in (torch_sample, keras_sample, jax_sample):
        assert_std(sample, target)

    winit_name = winit.init(name, SQUARE, seed=0)
    winit_keras_law = winit.init("variance_scaling", SQUARE, seed=0, **keras_law)
    assert beyond(winit_name, cut) > MANY_TAIL_VALUES
    assert beyond(winit_keras_law, cut) == 0
    assert_std(winit_name, target)
    assert_std(winit_keras_law, target)


@pending(TORCH_DOOR, "xavier_normal_", "kaiming_normal_", "lecun_normal_")
@pytest.mark.parametrize(("name", "keras_class", "jax_name", "keras_law"), NORMAL_FAMILIES)
def test_glorot_he_lecun_normal_truncation_torch_front_door(
    torch: ModuleType, name: str, keras_class: str, jax_name: str, keras_law: dict[str, Any]
) -> None:
    """winit.torch's normal schemes are torch's: untruncated (torch's own values where torch has the name)."""
    fill = getattr(
        TORCH_DOOR, {"glorot_normal": "xavier_normal_", "he_normal": "kaiming_normal_"}.get(name, name + "_")
    )
    ours = fill(torch.empty(SQUARE), generator=seeded(torch))
    if name != "lecun_normal":
        assert torch.equal(ours, _torch_normal_family(torch, name, torch.empty(SQUARE), seeded(torch)))
    cut = two_sigma("variance_scaling", SQUARE, **keras_law)
    assert beyond(ours, cut) > MANY_TAIL_VALUES
    assert_std(ours, winit.plan(name, SQUARE).std)


@pending(KERAS_DOOR, "GlorotNormal", "HeNormal", "LecunNormal")
@pytest.mark.parametrize(("name", "keras_class", "jax_name", "keras_law"), NORMAL_FAMILIES)
def test_glorot_he_lecun_normal_truncation_keras_front_door(
    keras: ModuleType, name: str, keras_class: str, jax_name: str, keras_law: dict[str, Any]
) -> None:
    """winit.keras.GlorotNormal & co. realize Keras' law: truncated at 2σ, std kept by the correction."""
    sample = getattr(KERAS_DOOR, keras_class)(seed=0)(SQUARE)
    assert beyond(sample, two_sigma("variance_scaling", SQUARE, "keras", **keras_law)) == 0
    assert_std(sample, winit.plan("variance_scaling", SQUARE, layout="keras", **keras_law).std)


@pending(FLAX_DOOR, "glorot_normal", "he_normal", "lecun_normal")
@pytest.mark.parametrize(("name", "keras_class", "jax_name", "keras_law"), NORMAL_FAMILIES)
def test_glorot_he_lecun_normal_truncation_flax_front_door(
    jax: ModuleType, name: str, keras_class: str, jax_name: str, keras_law: dict[str, Any]
) -> None:
    """winit.flax.glorot_normal & co. realize JAX's law: truncated, and the same values for one key."""
    key = jax.random.key(0)
    sample = getattr(FLAX_DOOR, jax_name)()(key, SQUARE)
    assert beyond(sample, two_sigma("variance_scaling", SQUARE, "flax", **keras_law)) == 0
    np.testing.assert_allclose(
        as_numpy(sample), as_numpy(getattr(jax.nn.initializers, jax_name)()(key, SQUARE)), rtol=1e-6
    )


# -- rows 2 and 3: default layer initialization ---------------------------------------------------
def test_default_linear_conv_kernel(
    torch: ModuleType, keras: ModuleType, flax_linen: ModuleType, global_torch_seed: Any
) -> None:
    """torch: kaiming_uniform_(a=√5) ≡ U(±1/√fan_in); Keras: glorot_uniform; Flax: truncated lecun_normal."""
    import jax

    # torch: winit's he_uniform with a=√5 is torch's default, bound and values alike.
    fan_in = 2048
    plan = winit.plan("he_uniform", (1024, fan_in), a=ROOT_FIVE)
    torch_bound = math.sqrt(3.0) * (torch.nn.init.calculate_gain("leaky_relu", ROOT_FIVE) / math.sqrt(fan_in))
    assert plan.bound == torch_bound  # torch's own float
    assert plan.bound == pytest.approx(1.0 / math.sqrt(fan_in), rel=1e-15)  # ≡ 1/√fan_in up to an ulp
    assert plan.std**2 == pytest.approx(1.0 / (3.0 * fan_in), rel=1e-14)  # a third of LeCun's variance

    linear = torch.nn.Linear(fan_in, 1024)
    assert float(as_numpy(linear.weight).max()) <= torch_bound
    assert float(as_numpy(linear.weight).min()) >= -torch_bound
    assert_std(linear.weight, 1.0 / math.sqrt(3.0 * fan_in), rel=0.005)
    torch.manual_seed(0)
    ours = winit.init("he_uniform", (1024, fan_in), backend="torch", seed=global_torch_seed, a=ROOT_FIVE)
    assert torch.equal(ours, linear.weight.detach())

    torch.manual_seed(1)
    conv = torch.nn.Conv2d(64, 128, 3, groups=2)  # fan_in = 64/2 · 3·3 = 288
    torch.manual_seed(1)
    ours = winit.init("he_uniform", (128, 32, 3, 3), backend="torch", seed=global_torch_seed, a=ROOT_FIVE)
    assert torch.equal(ours, conv.weight.detach())
    assert winit.plan("he_uniform", (128, 32, 3, 3), a=ROOT_FIVE).fan_in == 288

    # Keras: Dense and Conv default to glorot_uniform, and winit draws Keras' values for one int seed.
    dense = keras.layers.Dense(256)
    dense.build((None, 512))
    conv2d = keras.layers.Conv2D(16, 3)
    conv2d.build((None, 8, 8, 4))
    for layer in (dense, conv2d):
        assert type(layer.kernel_initializer) is keras.initializers.GlorotUniform
        limit = winit.plan("glorot_uniform", tuple(layer.kernel.shape), layout="keras").bound
        assert float(np.abs(as_numpy(layer.kernel)).max()) <= limit
    # Same values to float32 round-off: winit computes the limit as √3·√(2/(fi+fo)), Keras as √(3/((fi+fo)/2)).
    ours = winit.init("glorot_uniform", (512, 256), backend="tensorflow", seed=7)
    limit = winit.plan("glorot_uniform", (512, 256), layout="keras").bound
    np.testing.assert_allclose(
        as_numpy(ours),
        as_numpy(keras.initializers.GlorotUniform(seed=7)((512, 256))),
        rtol=0,
        atol=1e-6 * limit,
    )

    # Flax: Dense's kernel is lecun_normal, truncated; winit's variance_scaling gives the same values.
    # Shapes by eval_shape and values from the initializer Dense calls: a real init costs seconds of dispatch.
    dense_flax = flax_linen.Dense(256)
    abstract = jax.eval_shape(dense_flax.init, jax.random.key(0), np.ones((1, 1024), np.float32))
    assert abstract["params"]["kernel"].shape == (1024, 256)
    assert dense_flax.kernel_init is flax_linen.linear.default_kernel_init
    kernel = dense_flax.kernel_init(jax.random.key(0), (1024, 256))
    flax_cut = two_sigma("variance_scaling", (1024, 256), "flax")
    assert beyond(kernel, flax_cut) == 0
    assert_std(kernel, 1.0 / math.sqrt(1024))
    key = jax.random.key(3)
    flax_default = flax_linen.linear.default_kernel_init(key, (1024, 256))
    np.testing.assert_allclose(
        as_numpy(winit.init("variance_scaling", (1024, 256), backend="jax", seed=key)),
        as_numpy(flax_default),
        rtol=1e-6,
    )
    assert beyond(winit.init("lecun_normal", (1024, 256), backend="jax", seed=key), flax_cut)


def test_default_bias(
    torch: ModuleType, keras: ModuleType, flax_linen: ModuleType, global_torch_seed: Any
) -> None:
    """torch's bias is U(±1/√fan_in of the weight); Keras' and Flax's are zeros."""
    import jax

    for layer_type, arguments, weight_shape in (
        (torch.nn.Linear, (300, 10), (10, 300)),
        (torch.nn.Conv2d, (6, 10, 5), (10, 6, 5, 5)),
    ):
        torch.manual_seed(0)
        layer = layer_type(*arguments)
        fan_in = winit.fans(weight_shape, "torch")[0]
        bound = 1.0 / math.sqrt(fan_in)
        assert float(np.abs(as_numpy(layer.bias)).max()) <= bound
        torch.manual_seed(0)  # winit's draws in torch's order reproduce both tensors
        weight = winit.init("he_uniform", weight_shape, backend="torch", seed=global_torch_seed, a=ROOT_FIVE)
        bias = winit.init(
            "random_uniform", (10,), backend="torch", seed=global_torch_seed, minval=-bound, maxval=bound
        )
        assert torch.equal(weight, layer.weight.detach())
        assert torch.equal(bias, layer.bias.detach())

    dense = keras.layers.Dense(10)
    dense.build((None, 300))
    assert not np.any(as_numpy(dense.bias))
    assert not np.any(as_numpy(flax_linen.Dense(10).bias_init(jax.random.key(0), (10,))))
    assert not np.any(winit.init("zeros", (10,)))


# -- row 4: Embedding ---------------------------------------------------------------------------
def test_embedding_defaults(
    torch: ModuleType, keras: ModuleType, flax_linen: ModuleType, global_torch_seed: Any
) -> None:
    """torch N(0, 1); Keras U(±0.05); Flax N(0, 1/features) untruncated."""
    import jax

    rows, features = 1000, 64
    embedding = torch.nn.Embedding(rows, features)
    assert_std(embedding.weight, 1.0, rel=0.02)
    torch.manual_seed(0)
    ours = winit.init("random_normal", (rows, features), backend="torch", seed=global_torch_seed, stddev=1.0)
    assert torch.equal(ours, embedding.weight.detach())

    layer = keras.layers.Embedding(rows, features)
    layer.build((None,))
    initializer = layer.embeddings_initializer
    assert type(initializer) is keras.initializers.RandomUniform
    assert (initializer.minval, initializer.maxval) == (-0.05, 0.05)
    assert float(np.abs(as_numpy(layer.embeddings)).max()) <= 0.05
    assert winit.plan("random_uniform", (rows, features)).law == Uniform(-0.05, 0.05)
    assert np.array_equal(
        as_numpy(winit.init("random_uniform", (rows, features), backend="tensorflow", seed=3)),
        as_numpy(keras.initializers.RandomUniform(seed=3)((rows, features))),
    )

    embed = flax_linen.Embed(rows, features)
    assert embed.embedding_init is flax_linen.linear.default_embed_init
    embedding_table = embed.embedding_init(jax.random.key(0), (rows, features))
    assert_std(embedding_table, 1.0 / math.sqrt(features), rel=0.02)
    assert beyond(embedding_table, 2.0 / math.sqrt(features) / TRUNCATED_NORMAL_STD_2SIGMA) > 0  # untruncated
    # Flax names axis 0 as both in (default -2) and out; winit refuses that and takes the feature axis as in.
    with pytest.raises(ValueError, match="overlap"):
        winit.plan("variance_scaling", (rows, features), layout="flax", distribution="normal", out_axis=0)
    flax_law: dict[str, Any] = {"distribution": "normal", "in_axis": -1, "out_axis": 0}
    plan = winit.plan("variance_scaling", (rows, features), layout="flax", **flax_law)
    assert plan.law == Normal(0.0, plan.std)
    assert plan.std == pytest.approx(1.0 / math.sqrt(features), rel=1e-15)
    key = jax.random.key(5)
    np.testing.assert_allclose(
        as_numpy(winit.init("variance_scaling", (rows, features), backend="jax", seed=key, **flax_law)),
        as_numpy(flax_linen.linear.default_embed_init(key, (rows, features))),
        rtol=1e-6,
    )


@pending(FLAX_DOOR, "variance_scaling")
def test_embedding_defaults_flax_front_door(jax: ModuleType) -> None:
    """winit.flax.variance_scaling accepts Flax's own Embed call (out_axis=0 over the default in_axis)."""
    import flax.linen as flax_linen

    key = jax.random.key(5)
    ours = FLAX_DOOR.variance_scaling(1.0, "fan_in", "normal", out_axis=0)(key, (1000, 64))  # type: ignore[union-attr]
    np.testing.assert_allclose(
        as_numpy(ours), as_numpy(flax_linen.linear.default_embed_init(key, (1000, 64))), rtol=1e-6
    )


# -- row 5: truncated normal bounds -------------------------------------------------------------
def test_trunc_normal_bounds(torch: ModuleType, keras: ModuleType, jax: ModuleType) -> None:
    """torch cuts at absolute a, b (std=0.02 with ±2 cuts nothing); Keras and JAX at ±2·stddev."""
    std = 0.02
    torch_sample = torch.nn.init.trunc_normal_(torch.empty(SQUARE), std=std, generator=seeded(torch))
    plain_normal = torch.nn.init.normal_(torch.empty(SQUARE), std=std, generator=seeded(torch))
    assert torch.equal(torch_sample, plain_normal)  # ±2 is ±100σ: not one value redrawn
    assert beyond(torch_sample, 2.0 * std) > MANY_TAIL_VALUES

    assert beyond(keras.initializers.TruncatedNormal(stddev=std, seed=0)(SQUARE), 2.0 * std) == 0
    assert beyond(jax.nn.initializers.truncated_normal(std)(jax.random.key(0), SQUARE), 2.0 * std) == 0

    plan = winit.plan("truncated_normal", SQUARE, stddev=std)
    assert plan.law == TruncatedNormal(0.0, std, -2.0, 2.0)  # bounds in units of stddev
    assert beyond(winit.init("truncated_normal", SQUARE, seed=0, stddev=std), 2.0 * std) == 0
    # torch's absolute a, b in winit: lower = a/std, upper = b/std; the same generator gives torch's values.
    ours = winit.init(
        "truncated_normal",
        SQUARE,
        backend="torch",
        seed=seeded(torch),
        stddev=std,
        lower=-2 / std,
        upper=2 / std,
    )
    assert torch.equal(ours, torch_sample)


@pending(TORCH_DOOR, "trunc_normal_")
def test_trunc_normal_bounds_torch_front_door(torch: ModuleType) -> None:
    """winit.torch.trunc_normal_ keeps torch's absolute bounds: std=0.02 truncates nothing."""
    ours = TORCH_DOOR.trunc_normal_(torch.empty(SQUARE), std=0.02, generator=seeded(torch))  # type: ignore[union-attr]
    assert torch.equal(
        ours, torch.nn.init.trunc_normal_(torch.empty(SQUARE), std=0.02, generator=seeded(torch))
    )
    assert beyond(ours, 0.04) > MANY_TAIL_VALUES


@pending(KERAS_DOOR, "TruncatedNormal")
def test_trunc_normal_bounds_keras_front_door(keras: ModuleType) -> None:
    """winit.keras.TruncatedNormal cuts at ±2·stddev."""
    assert beyond(KERAS_DOOR.TruncatedNormal(stddev=0.02, seed=0)(SQUARE), 0.04) == 0  # type: ignore[union-attr]


@pending(FLAX_DOOR, "truncated_normal")
def test_trunc_normal_bounds_flax_front_door(jax: ModuleType) -> None:
    """winit.flax.truncated_normal cuts at ±2·stddev (bounds in units of stddev)."""
    assert beyond(FLAX_DOOR.truncated_normal(0.02)(jax.random.key(0), SQUARE), 0.04) == 0  # type: ignore[union-attr]


# -- row 6: VarianceScaling(distribution="normal") ----------------------------------------------
def test_variance_scaling_normal(keras: ModuleType, jax: ModuleType) -> None:
    """Keras silently maps "normal" to truncated_normal; JAX's and winit's "normal" is untruncated."""
    cut = two_sigma("variance_scaling", SQUARE)
    keras_normal = keras.initializers.VarianceScaling(distribution="normal", seed=0)
    assert keras_normal.distribution == "truncated_normal"
    assert beyond(keras_normal(SQUARE), cut) == 0
    untruncated = keras.initializers.VarianceScaling(distribution="untruncated_normal", seed=0)(SQUARE)
    assert beyond(untruncated, cut) > MANY_TAIL_VALUES

    jax_normal = jax.nn.initializers.variance_scaling(1.0, "fan_in", "normal")(jax.random.key(0), SQUARE)
    assert beyond(jax_normal, cut) > MANY_TAIL_VALUES

    scheme = winit.get("variance_scaling")
    assert scheme.with_(distribution="normal") == scheme.with_(distribution="untruncated_normal")
    assert isinstance(scheme.with_(distribution="normal").plan(SQUARE).law, Normal)
    default = scheme.plan(SQUARE).law
    assert isinstance(default, TruncatedNormal)
    assert default.sigma == pytest.approx(scheme.std(512, 512) / 0.87962566103423978, rel=1e-15)
    assert (
        beyond(winit.init("variance_scaling", SQUARE, seed=0, distribution="normal"), cut) > MANY_TAIL_VALUES
    )


@pending(KERAS_DOOR, "VarianceScaling")
def test_variance_scaling_normal_keras_front_door(keras: ModuleType) -> None:
    """winit.keras.VarianceScaling(distribution="normal") is Keras' law: truncated."""
    cut = two_sigma("variance_scaling", SQUARE)
    sample = KERAS_DOOR.VarianceScaling(distribution="normal", seed=0)(SQUARE)  # type: ignore[union-attr]
    assert beyond(sample, cut) == 0


@pending(FLAX_DOOR, "variance_scaling")
def test_variance_scaling_normal_flax_front_door(jax: ModuleType) -> None:
    """winit.flax.variance_scaling(..., "normal") is JAX's law: untruncated."""
    cut = two_sigma("variance_scaling", SQUARE)
    sample = FLAX_DOOR.variance_scaling(1.0, "fan_in", "normal")(jax.random.key(0), SQUARE)  # type: ignore[union-attr]
    assert beyond(sample, cut) > MANY_TAIL_VALUES


# -- rows 7 and 8: uniform(scale) and plain random defaults --------------------------------------
def test_jax_uniform_one_sided(torch: ModuleType, keras: ModuleType, jax: ModuleType) -> None:
    """jax uniform(scale) is U[0, scale); Keras' RandomUniform and winit's random_uniform are symmetric."""
    for scale in (1e-2, 2.0):
        sample = as_numpy(jax.nn.initializers.uniform(scale)(jax.random.key(0), SQUARE))
        assert sample.min() >= 0.0
        assert sample.max() < scale
        assert sample.mean() == pytest.approx(scale / 2, rel=0.01)
    assert float(torch.nn.init.uniform_(torch.empty(SQUARE), generator=seeded(torch)).min()) >= 0.0
    assert float(as_numpy(keras.initializers.RandomUniform(seed=0)(SQUARE)).min()) < 0.0

    assert winit.plan("random_uniform", SQUARE).law == Uniform(-0.05, 0.05)
    assert float(winit.init("random_uniform", SQUARE, seed=0).min()) < 0.0
    jax_law = winit.plan("random_uniform", SQUARE, minval=0.0, maxval=1e-2)
    assert jax_law.law == Uniform(0.0, 1e-2)
    assert float(winit.init("random_uniform", SQUARE, seed=0, minval=0.0, maxval=1e-2).min()) >= 0.0


@pending(FLAX_DOOR, "uniform")
def test_jax_uniform_one_sided_flax_front_door(jax: ModuleType) -> None:
    """winit.flax.uniform(scale) keeps JAX's one-sided [0, scale)."""
    for scale in (1e-2, 2.0):
        sample = as_numpy(FLAX_DOOR.uniform(scale)(jax.random.key(0), SQUARE))  # type: ignore[union-attr]
        assert sample.min() >= 0.0
        assert sample.max() < scale
    assert as_numpy(FLAX_DOOR.uniform()(jax.random.key(0), SQUARE)).max() < 1e-2  # type: ignore[union-attr]


def test_plain_random_defaults(torch: ModuleType, keras: ModuleType, jax: ModuleType) -> None:
    """torch N(0, 1)/U(0, 1); Keras 0.05; JAX 0.01; winit takes Keras' 0.05."""

    def default(function: Any, parameter: str) -> Any:
        return inspect.signature(function).parameters[parameter].default

    init = torch.nn.init
    assert (default(init.normal_, "std"), default(init.uniform_, "a"), default(init.uniform_, "b")) == (
        1.0,
        0.0,
        1.0,
    )
    assert_std(init.normal_(torch.empty(SQUARE), generator=seeded(torch)), 1.0)

    assert keras.initializers.RandomNormal().stddev == 0.05
    assert keras.initializers.TruncatedNormal().stddev == 0.05
    assert (keras.initializers.RandomUniform().minval, keras.initializers.RandomUniform().maxval) == (
        -0.05,
        0.05,
    )
    assert_std(keras.initializers.RandomNormal(seed=0)(SQUARE), 0.05)

    jnn = jax.nn.initializers
    assert (default(jnn.normal, "stddev"), default(jnn.uniform, "scale")) == (1e-2, 1e-2)
    assert default(jnn.truncated_normal, "stddev") == 1e-2
    assert_std(jnn.normal()(jax.random.key(0), SQUARE), 0.01)

    assert winit.plan("random_normal", SQUARE).law == Normal(0.0, 0.05)
    assert winit.plan("truncated_normal", SQUARE).law == TruncatedNormal(0.0, 0.05)
    assert winit.plan("random_uniform", SQUARE).law == Uniform(-0.05, 0.05)
    assert np.array_equal(  # Keras' law and, on the TF backend, Keras' values for one int seed
        as_numpy(winit.init("random_normal", SQUARE, backend="tensorflow", seed=1)),
        as_numpy(keras.initializers.RandomNormal(seed=1)(SQUARE)),
    )


@pending(TORCH_DOOR, "normal_", "uniform_")
def test_plain_random_defaults_torch_front_door(torch: ModuleType) -> None:
    """winit.torch.normal_/uniform_ keep torch's N(0, 1) and U(0, 1)."""
    door: Any = TORCH_DOOR
    assert torch.equal(
        door.normal_(torch.empty(SQUARE), generator=seeded(torch)),
        torch.nn.init.normal_(torch.empty(SQUARE), generator=seeded(torch)),
    )
    assert torch.equal(
        door.uniform_(torch.empty(SQUARE), generator=seeded(torch)),
        torch.nn.init.uniform_(torch.empty(SQUARE), generator=seeded(torch)),
    )


@pending(KERAS_DOOR, "RandomNormal", "RandomUniform")
def test_plain_random_defaults_keras_front_door(keras: ModuleType) -> None:
    """winit.keras.RandomNormal/RandomUniform keep Keras' 0.05."""
    door: Any = KERAS_DOOR
    assert_std(door.RandomNormal(seed=0)(SQUARE), 0.05)
    uniform = as_numpy(door.RandomUniform(seed=0)(SQUARE))
    assert uniform.min() >= -0.05
    assert uniform.max() <= 0.05
    assert uniform.min() < -0.049


@pending(FLAX_DOOR, "normal")
def test_plain_random_defaults_flax_front_door(jax: ModuleType) -> None:
    """winit.flax.normal() keeps JAX's σ = 0.01."""
    assert_std(FLAX_DOOR.normal()(jax.random.key(0), SQUARE), 0.01)  # type: ignore[union-attr]


# -- row 9: fan axes per layout -----------------------------------------------------------------
def test_fan_axes_per_layout(torch: ModuleType, keras: ModuleType, flax_linen: ModuleType) -> None:
    """Each layout reproduces its framework's fans (ConvTranspose swaps, depthwise over-counts included)."""
    import jax
    from jax._src.nn.initializers import _compute_fans
    from keras.src.initializers.random_initializers import compute_fans

    torch_fans = torch.nn.init._calculate_fan_in_and_fan_out
    cases = {
        "linear": (torch.nn.Linear(3, 5).weight, (3, 5)),
        "grouped conv": (torch.nn.Conv2d(4, 6, 3, groups=2).weight, (18, 54)),
        "conv transpose": (torch.nn.ConvTranspose2d(4, 6, 3).weight, (54, 36)),  # swapped: fan_in = out·k
        "depthwise": (torch.nn.Conv2d(4, 8, 3, groups=4).weight, (9, 72)),  # fan_out g times the true 18
    }
    for case, (weight, expected) in cases.items():
        assert torch_fans(weight) == expected, case
        assert winit.fans(tuple(weight.shape), "torch") == expected, case
    assert winit.fans((4, 6, 3, 3), "torch_transpose") == (36, 54)  # the transposed conv's true fans

    transpose = keras.layers.Conv2DTranspose(5, 3)
    transpose.build((None, 8, 8, 4))
    depthwise = keras.layers.DepthwiseConv2D(3, depth_multiplier=2)
    depthwise.build((None, 8, 8, 4))
    transpose_shape, depthwise_shape = tuple(transpose.kernel.shape), tuple(depthwise.kernel.shape)
    assert transpose_shape == (3, 3, 5, 4)  # (*k, out, in)
    assert compute_fans(transpose_shape) == winit.fans(transpose_shape, "keras") == (45, 36)  # swapped
    assert winit.fans(transpose_shape, "keras_transpose") == (36, 45)
    assert depthwise_shape == (3, 3, 4, 2)  # (*k, in, multiplier)
    assert (
        compute_fans(depthwise_shape) == winit.fans(depthwise_shape, "keras") == (36, 18)
    )  # fan_in 4× too big
    assert winit.fans(depthwise_shape, "keras", in_axis=(), out_axis=-1, batch_axis=-2) == (9, 18)
    # Keras' explicit axes drop the receptive field; JAX's (and winit's) keep it.
    kernel = (3, 3, 4, 8)
    assert compute_fans(kernel, input_axes=[2], output_axes=[3]) == (4, 8)
    assert (
        _compute_fans(kernel, in_axis=2, out_axis=3) == winit.fans(kernel, in_axis=2, out_axis=3) == (36, 72)
    )

    x = np.ones((1, 8, 8, 4), np.float32)
    key = jax.random.key(0)
    flax_cases = {
        "flax": (flax_linen.ConvTranspose(5, (3, 3)), (36, 45)),
        "flax transpose_kernel": (flax_linen.ConvTranspose(5, (3, 3), transpose_kernel=True), (45, 36)),
        "flax depthwise": (flax_linen.Conv(8, (3, 3), feature_group_count=4), (9, 72)),
    }
    for case, (module, expected) in flax_cases.items():
        shape = tuple(
            jax.eval_shape(module.init, key, x)["params"]["kernel"].shape
        )  # shapes only, no compile
        assert _compute_fans(shape) == expected, case
        assert winit.fans(shape, "flax") == expected, case
    assert winit.fans((3, 3, 5, 4), "flax_transpose") == (36, 45)  # transpose_kernel=True, true fans


# -- row 10: orthogonal flattening --------------------------------------------------------------
def test_orthogonal_flattening(torch: ModuleType, keras: ModuleType, jax: ModuleType) -> None:
    """torch flattens trailing dims after axis 0; Keras and JAX keep the last axis; winit uses the out axis."""
    conv = (8, 4, 3, 3)
    theirs = as_numpy(torch.nn.init.orthogonal_(torch.empty(conv), generator=seeded(torch)))
    assert max_gram_error(theirs.reshape(8, -1)) < 1e-5
    ours = winit.init("orthogonal", conv, backend="torch", seed=seeded(torch))
    assert np.array_equal(as_numpy(ours), theirs)

    # ConvTranspose (in, out, *k): torch orthogonalizes over axis 0 (in), winit's torch_transpose over out.
    transposed = (4, 6, 3, 3)
    theirs = as_numpy(torch.nn.init.orthogonal_(torch.empty(transposed), generator=seeded(torch)))
    assert max_gram_error(theirs.reshape(4, -1)) < 1e-5
    ours = as_numpy(winit.init("orthogonal", transposed, backend="torch", seed=0, layout="torch_transpose"))
    assert max_gram_error(np.moveaxis(ours, 1, 0).reshape(6, -1)) < 1e-5
    assert max_gram_error(ours.reshape(4, -1)) > 0.1

    kernel = (3, 3, 4, 8)  # (*k, in, out): (k·in, out), orthonormal columns
    keras_sample = as_numpy(keras.initializers.Orthogonal(seed=0)(kernel))
    jax_sample = as_numpy(jax.nn.initializers.orthogonal()(jax.random.key(0), kernel))
    winit_sample = as_numpy(winit.init("orthogonal", kernel, seed=0, layout="keras"))
    for sample in (keras_sample, jax_sample, winit_sample):
        assert max_gram_error(sample.reshape(-1, 8)) < 1e-5
        assert max_gram_error(sample.reshape(3, -1)) > 0.1  # not torch's axis-0 flattening
    assert winit.plan("orthogonal", kernel, layout="keras").law.out_axis == 3  # type: ignore[union-attr]


# -- rows 11 and 12: low-rank fans and fan modes ------------------------------------------------
def test_low_rank_fans(torch: ModuleType, keras: ModuleType, jax: ModuleType) -> None:
    """torch and JAX refuse fewer than 2 dims; Keras and winit give 0-D (1, 1) and 1-D (n, n)."""
    from jax._src.nn.initializers import _compute_fans
    from keras.src.initializers.random_initializers import compute_fans

    for shape in ((5,), ()):
        with pytest.raises(ValueError, match="fewer than 2 dimensions"):
            torch.nn.init._calculate_fan_in_and_fan_out(torch.empty(shape))
        with pytest.raises(ValueError, match="dimensional"):
            _compute_fans(shape)
    with pytest.raises(ValueError):
        torch.nn.init.xavier_uniform_(torch.empty(5))
    with pytest.raises(ValueError):
        jax.nn.initializers.lecun_normal()(jax.random.key(0), (5,))
    assert compute_fans((5,)) == winit.fans((5,)) == (5, 5)
    assert compute_fans(()) == winit.fans(()) == (1, 1)
    assert winit.plan("he_normal", (5,)).std == pytest.approx(math.sqrt(2.0 / 5.0), rel=1e-15)

    # Empty shapes: torch warns and does nothing, Keras returns an empty tensor, winit refuses.
    with pytest.warns(UserWarning, match="no-op"):
        torch.nn.init.kaiming_uniform_(torch.empty(0, 5))
    assert tuple(keras.initializers.GlorotUniform(seed=0)((0, 5)).shape) == (0, 5)
    with pytest.raises(ValueError, match="no elements"):
        winit.plan("glorot_uniform", (0, 5))


@pending(TORCH_DOOR, "xavier_uniform_")
def test_low_rank_fans_torch_front_door(torch: ModuleType) -> None:
    """winit.torch gives a 1-D tensor Keras' fans (n, n) where torch raises; empty tensors: torch's no-op."""
    door: Any = TORCH_DOOR
    vector = as_numpy(door.xavier_uniform_(torch.empty(5000), generator=seeded(torch)))
    limit = winit.plan("glorot_uniform", (5000,)).bound  # √(6/(5000 + 5000))
    assert limit == pytest.approx(math.sqrt(6.0 / 10000.0), rel=1e-15)
    assert np.abs(vector).max() <= limit
    assert np.abs(vector).max() > 0.99 * limit
    with pytest.warns(UserWarning, match="no-op"):
        door.xavier_uniform_(torch.empty(0, 5))


@pending(KERAS_DOOR, "GlorotUniform")
def test_low_rank_fans_keras_front_door(keras: ModuleType) -> None:
    """winit.keras keeps Keras' fans: 1-D (n, n), and an empty shape gives an empty tensor."""
    door: Any = KERAS_DOOR
    vector = as_numpy(door.GlorotUniform(seed=0)((5000,)))
    limit = math.sqrt(6.0 / 10000.0)
    assert limit * 0.99 < np.abs(vector).max() <= limit
    assert tuple(door.GlorotUniform(seed=0)((0, 5)).shape) == (0, 5)


def test_fan_modes(torch: ModuleType, keras: ModuleType, jax: ModuleType) -> None:
    """torch: fan_in/fan_out; Keras adds fan_avg; JAX adds fan_geo_avg; winit has all four."""
    with pytest.raises(ValueError, match="fan_avg"):
        torch.nn.init.kaiming_normal_(torch.empty(4, 4), mode="fan_avg")
    with pytest.raises(ValueError, match="fan_geo_avg"):
        keras.initializers.VarianceScaling(mode="fan_geo_avg")
    shape = (400, 100)
    key = jax.random.key(0)
    theirs = jax.nn.initializers.variance_scaling(1.0, "fan_geo_avg", "normal")(key, shape)
    plan = winit.plan("variance_scaling", shape, layout="flax", mode="fan_geo_avg", distribution="normal")
    assert plan.std == pytest.approx(1.0 / math.sqrt(200.0), rel=1e-15)  # √(400·100) = 200
    ours = winit.init(
        "variance_scaling", shape, backend="jax", seed=key, mode="fan_geo_avg", distribution="normal"
    )
    np.testing.assert_allclose(as_numpy(ours), as_numpy(theirs), rtol=1e-6)
    assert set(winit.FAN_MODES) == {"fan_in", "fan_out", "fan_avg", "fan_geo_avg"}


# -- row 13: seed semantics ---------------------------------------------------------------------
def test_seed_semantics(torch: ModuleType, keras: ModuleType) -> None:
    """Keras: int and None seeds repeat on every call, a SeedGenerator advances; winit: int repeats, None is fresh."""
    shape = (16, 16)

    def twice(initializer: Any) -> tuple[np.ndarray, np.ndarray]:
        return as_numpy(initializer(shape)), as_numpy(initializer(shape))

    assert np.array_equal(*twice(keras.initializers.GlorotNormal(seed=1)))
    unseeded = keras.initializers.GlorotNormal()
    first, second = twice(unseeded)
    assert np.array_equal(first, second)  # the seed is fixed when the instance is built
    assert not np.array_equal(first, as_numpy(keras.initializers.GlorotNormal()(shape)))
    assert not np.array_equal(*twice(keras.initializers.GlorotNormal(seed=keras.random.SeedGenerator(1))))

    generator = seeded(torch)
    assert not torch.equal(torch.randn(shape, generator=generator), torch.randn(shape, generator=generator))

    for backend in ("numpy", "torch"):
        same = [as_numpy(winit.init("glorot_normal", shape, backend=backend, seed=1)) for _ in range(2)]
        fresh = [as_numpy(winit.init("glorot_normal", shape, backend=backend)) for _ in range(2)]
        assert np.array_equal(same[0], same[1]), backend
        assert not np.array_equal(fresh[0], fresh[1]), backend  # unlike Keras' seed=None
    assert not np.array_equal(
        as_numpy(winit.init("glorot_normal", shape, backend="numpy", seed=1)),
        as_numpy(winit.init("glorot_normal", shape, backend="torch", seed=1)),
    )  # one int seed, different generators


def test_seed_semantics_cuda_generator(torch: ModuleType) -> None:
    """One seed gives different values on CPU (mt19937) and CUDA (Philox), in torch and so in winit."""
    if not torch.cuda.is_available():
        pytest.skip("needs a CUDA device")
    cpu = torch.empty(64).normal_(generator=torch.Generator("cpu").manual_seed(0))
    cuda = torch.empty(64, device="cuda").normal_(generator=torch.Generator("cuda").manual_seed(0))
    assert not torch.equal(cpu, cuda.cpu())
    ours_cpu = winit.init("glorot_normal", (8, 8), backend="torch", seed=0, device="cpu")
    ours_cuda = winit.init("glorot_normal", (8, 8), backend="torch", seed=0, device="cuda")
    assert not torch.equal(ours_cpu, ours_cuda.cpu())


@pending(KERAS_DOOR, "GlorotNormal")
def test_seed_semantics_keras_front_door(keras: ModuleType) -> None:
    """winit.keras follows Keras 3: an int seed repeats on every call, a SeedGenerator advances."""
    door: Any = KERAS_DOOR
    repeated = door.GlorotNormal(seed=1)
    assert np.array_equal(as_numpy(repeated((16, 16))), as_numpy(repeated((16, 16))))
    advancing = door.GlorotNormal(seed=keras.random.SeedGenerator(1))
    assert not np.array_equal(as_numpy(advancing((16, 16))), as_numpy(advancing((16, 16))))


# -- row 14: Keras' torch-backend truncated normal ----------------------------------------------
_LEAK_SCRIPT: Final = textwrap.dedent(
    """
    import json
    import keras
    import winit

    assert keras.backend.backend() == "torch", keras.backend.backend()
    shape = (2048, 2048)
    def outside(x):
        return int((keras.ops.convert_to_numpy(x).__abs__() > 2.0).sum())
    counts = {
        "keras": outside(keras.initializers.TruncatedNormal(stddev=1.0, seed=0)(shape)),
        "winit": outside(winit.init("truncated_normal", shape, backend="torch", seed=0, stddev=1.0)),
        "winit_keras": None,
    }
    try:
        import winit.keras as door
    except ImportError:
        door = None
    if door is not None and hasattr(door, "TruncatedNormal"):
        counts["winit_keras"] = outside(door.TruncatedNormal(stddev=1.0, seed=0)(shape))
    print(json.dumps(counts))
    """
)


@pytest.mark.slow
def test_keras_torch_backend_truncation_leak(torch: ModuleType) -> None:
    """Keras' torch backend keeps an out-of-range candidate when all 4 miss (≈ 18 per 2048²); winit keeps none."""
    pytest.importorskip("keras")
    env = {**os.environ, "KERAS_BACKEND": "torch"}
    result = subprocess.run(
        [sys.executable, "-c", _LEAK_SCRIPT],
        capture_output=True, text=True, env=env, cwd=REPO_ROOT, timeout=120, check=False,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr[-4000:]
    counts = json.loads(result.stdout.strip().splitlines()[-1])
    print(f"values outside ±2σ in a 2048×2048 TruncatedNormal(seed=0), KERAS_BACKEND=torch: {counts}")
    assert counts["winit"] == 0
    assert counts["keras"] > 0, f"Keras' torch backend no longer leaks ({counts}); update row 14"
    if counts["winit_keras"] is not None:
        assert counts["winit_keras"] == 0


# -- row 15: Haiku's uncorrected truncated normal -----------------------------------------------
def test_haiku_uncorrected_truncated_normal(jax: ModuleType) -> None:
    """Haiku's Linear default, TruncatedNormal(1/√fan_in) without correction, has std 0.8796/√fan_in."""
    fan_in = 1024
    shape = (fan_in, 256)
    stddev = 1.0 / math.sqrt(fan_in)
    key = jax.random.key(0)
    # haiku/_src/initializers.py TruncatedNormal.__call__, written out: s * truncated_normal(key, -2, 2) + m
    haiku_default = stddev * jax.random.truncated_normal(key, -2.0, 2.0, shape, np.float32) + 0.0
    assert_std(haiku_default, TRUNCATED_NORMAL_STD_2SIGMA * stddev)

    plan = winit.plan("truncated_normal", shape, layout="flax", stddev=stddev)
    assert plan.std == pytest.approx(TRUNCATED_NORMAL_STD_2SIGMA * stddev, rel=1e-15)  # var ≈ 0.774/fan_in
    assert winit.plan("variance_scaling", shape, layout="flax").std == pytest.approx(stddev, rel=1e-15)
    ours = winit.init("truncated_normal", shape, backend="jax", seed=key, stddev=stddev)
    np.testing.assert_allclose(as_numpy(ours), as_numpy(haiku_default), rtol=1e-6)


# -- row 16: RNN / LSTM -------------------------------------------------------------------------
def test_rnn_defaults(
    torch: ModuleType, keras: ModuleType, flax_linen: ModuleType, global_torch_seed: Any
) -> None:
    """torch: every LSTM tensor U(±1/√hidden); Keras: glorot/orthogonal/zeros+forget 1; Flax: lecun/orthogonal."""
    import jax

    hidden = 64
    lstm = torch.nn.LSTM(32, hidden)
    bound = 1.0 / math.sqrt(hidden)
    for name, parameter in lstm.named_parameters():
        assert float(np.abs(as_numpy(parameter)).max()) <= bound, name
    assert_std(lstm.weight_hh_l0, bound / math.sqrt(3.0), rel=0.02)
    torch.manual_seed(0)
    first = winit.init("random_uniform", (4 * hidden, 32), backend="torch", seed=global_torch_seed,
                       minval=-bound, maxval=bound)  # fmt: skip
    assert torch.equal(first, lstm.weight_ih_l0.detach())

    layer = keras.layers.LSTM(8)
    layer.build((None, 5, 3))
    cell = layer.cell
    assert type(cell.kernel_initializer) is keras.initializers.GlorotUniform
    assert type(cell.recurrent_initializer) is keras.initializers.Orthogonal
    assert max_gram_error(as_numpy(cell.recurrent_kernel)) < 1e-5  # (units, 4·units) as one matrix
    bias = as_numpy(cell.bias)
    assert np.array_equal(bias[8:16], np.ones(8)) and not np.any(np.delete(bias, np.s_[8:16]))

    # Flax: one (h, h) recurrent kernel per gate; shapes by eval_shape, values from the cell's initializers.
    flax_cell = flax_linen.LSTMCell(8)
    carry = (np.zeros((1, 8), np.float32), np.zeros((1, 8), np.float32))
    params = jax.eval_shape(flax_cell.init, jax.random.key(0), carry, np.ones((1, 3), np.float32))["params"]
    for gate in ("hi", "hf", "hg", "ho"):
        assert params[gate]["kernel"].shape == (8, 8), gate
        assert "bias" in params[gate], gate
    for gate in ("ii", "if", "ig", "io"):
        assert params[gate]["kernel"].shape == (3, 8), gate
    key = jax.random.key(0)
    assert max_gram_error(as_numpy(flax_cell.recurrent_kernel_init(key, (8, 8)))) < 1e-5
    assert not np.any(as_numpy(flax_cell.bias_init(key, (8,))))
    assert flax_cell.kernel_init is flax_linen.linear.default_kernel_init  # truncated lecun_normal


# -- row 17: float16 / bfloat16 draws, fp8 --------------------------------------------------------
def test_low_precision_dtype_policy(jax: ModuleType, keras: ModuleType) -> None:
    """JAX, Keras (TF) draw bf16 uniforms in bf16; winit rounds its float32 draw, its front doors keep the bits."""
    import ml_dtypes
    import tensorflow as tf

    from winit.backends._common import clamp_support

    shape = (512, 512)
    key = jax.random.key(0)
    jax_bf16 = as_numpy(jax.random.uniform(key, shape, "bfloat16", -1.0, 1.0))
    tf_bf16 = as_numpy(tf.random.stateless_uniform(shape, [0, 0], -1.0, 1.0, tf.bfloat16))
    assert len(np.unique(jax_bf16)) <= 256 and len(np.unique(tf_bf16)) <= 256  # 128 per sign
    plan = winit.plan("glorot_uniform", shape)
    for backend, seed in (("jax", key), ("tensorflow", 0)):
        ours = as_numpy(winit.init("glorot_uniform", shape, backend=backend, seed=seed, dtype="bfloat16"))
        wide = as_numpy(winit.init("glorot_uniform", shape, backend=backend, seed=seed, dtype="float32"))
        rounded = clamp_support(np, wide.astype(ml_dtypes.bfloat16), plan.law, "bfloat16").astype(np.float64)
        np.testing.assert_array_equal(ours, rounded)
        assert len(np.unique(ours)) > 2000 and np.abs(ours).max() <= plan.bound
    if FLAX_DOOR is not None:
        door = FLAX_DOOR.glorot_uniform()(key, shape, "bfloat16")
        theirs = jax.nn.initializers.glorot_uniform()(key, shape, "bfloat16")
        np.testing.assert_array_equal(as_numpy(door), as_numpy(theirs))  # in-dtype bits, kept
    with pytest.raises(TypeError, match="8-bit float"):
        winit.init("glorot_uniform", shape, backend="jax", seed=key, dtype=jax.numpy.float8_e4m3fn)


def test_conventions_doc_lists_every_test() -> None:
    """docs/conventions.md and this file name the same tests, and every one of the 17 rows names one."""
    doc = (REPO_ROOT / "docs" / "conventions.md").read_text(encoding="utf-8")
    named = set(re.findall(r"\btest_[a-z0-9_]+\b(?!\.py)", doc))  # not the file name
    defined = {name for name in globals() if name.startswith("test_")}
    assert named, "docs/conventions.md names no tests"
    assert named <= defined, f"docs/conventions.md names tests this file lacks: {sorted(named - defined)}"
    unlisted = defined - named - {"test_conventions_doc_lists_every_test"}
    assert not unlisted, f"tests missing from docs/conventions.md: {sorted(unlisted)}"
    rows = [line for line in doc.splitlines() if re.match(r"\| \d+ \|", line)]
    assert len(rows) == 17
    assert all("test_" in row for row in rows)
