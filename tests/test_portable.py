"""rng="portable": Philox-4x32-10 conformance, its bit layout, and the same numbers on every backend.

What each group proves:
* the Philox rounds, on every backend's word arithmetic, reproduce Random123's known answers;
* an element's value is the documented function of (seed, stream, flat index), checked against a
  pure-Python reference, and does not depend on the tensor's shape, dtype path or backend;
* uniform-family draws are bit-identical across numpy, torch, tensorflow and jax (float32, float16,
  bfloat16; float64 too, jax in an x64 subprocess); normal and truncated-normal draws agree within
  ``NORMAL_ULPS``; orthogonal within ``ORTHOGONAL_ATOL``;
* the draws follow their laws (Kolmogorov-Smirnov), streams and seeds separate, bad arguments fail.
"""

from __future__ import annotations

import hashlib
import math
import os
import threading
from typing import Any

import numpy as np
import pytest
from conftest import backend_param, run_jax_x64, to_numpy
from scipy import stats
from winit.backends import _philox
from winit.backends._portable import NORMAL_ULPS, ORTHOGONAL_ATOL, stream_id

import winit

# Random123 tests/kat_vectors, the three "philox4x32 10" lines: counter (4 words), key (2), output (4).
KAT_PHILOX4X32_10 = [
    ((0x00000000, 0x00000000, 0x00000000, 0x00000000), (0x00000000, 0x00000000),
     (0x6627E8D5, 0xE169C58D, 0xBC57AC4C, 0x9B00DBD8)),
    ((0xFFFFFFFF, 0xFFFFFFFF, 0xFFFFFFFF, 0xFFFFFFFF), (0xFFFFFFFF, 0xFFFFFFFF),
     (0x408F276D, 0x41C83B0E, 0xA20BC7C6, 0x6D5451FD)),
    ((0x243F6A88, 0x85A308D3, 0x13198A2E, 0x03707344), (0xA4093822, 0x299F31D0),
     (0xD16CFE09, 0x94FDCCEB, 0x5001E420, 0x24126EA1)),
]  # fmt: skip

ALL = [backend_param(name) for name in ("numpy", "torch", "tensorflow", "jax")]
OTHERS = [backend_param(name) for name in ("torch", "tensorflow", "jax")]
UNIFORM_LAWS = [
    ("he_uniform", {}),  # U(−b, b) from a variance rule
    ("glorot_uniform", {"gain": 0.7}),
    ("random_uniform", {"minval": -0.3, "maxval": 1.7}),  # asymmetric
    ("random_uniform", {"minval": 0.0, "maxval": 1.0}),  # torch's uniform_ default
]
NORMAL_LAWS = [
    ("he_normal", {}),
    ("variance_scaling", {}),  # truncated at ±2σ, corrected σ
    ("random_normal", {"mean": 0.3, "stddev": 0.05}),
    ("truncated_normal", {"mean": -1.0, "stddev": 0.5, "lower": -2.0, "upper": 0.5}),
    # one-sided windows far out: Φ⁻¹ in the lower tail (backends/_tail.py), upper windows mirrored
    ("truncated_normal", {"mean": 0.0, "stddev": 1.0, "lower": 5.5, "upper": 6.0}),
    ("truncated_normal", {"mean": 0.2, "stddev": 0.5, "lower": -9.0, "upper": -8.0}),
]


def _kit(backend: str) -> _philox.WordArithmetic:
    """Each backend's word arithmetic, as its adapter's portable engine builds it."""
    adapter = winit.backend(backend)
    return adapter.portable_engine(adapter.device(None)).kit


def _draw(backend: str, scheme: str, shape: tuple[int, ...], **kwargs: Any) -> np.ndarray:
    kwargs.setdefault("seed", 11)
    kwargs.setdefault("stream", "layer.weight")
    return to_numpy(winit.init(scheme, shape, backend=backend, layout="torch", rng="portable", **kwargs))


def _ulps(a: np.ndarray, b: np.ndarray, sigma: float) -> float:
    """max |a − b| in units in the last place of max(|a|, |b|, σ), in a's float type."""
    floor = np.asarray(sigma, dtype=a.dtype)
    return float(np.max(np.abs(a - b) / np.spacing(np.maximum(np.maximum(np.abs(a), np.abs(b)), floor))))


# -- Philox ---------------------------------------------------------------------------------------------
@pytest.mark.parametrize("vector", range(3), ids=["zeros", "ones", "pi"])
@pytest.mark.parametrize("backend", ALL)
def test_philox_matches_random123_known_answers(vector: int, backend: str) -> None:
    counter, key, expected = KAT_PHILOX4X32_10[vector]
    kit = _kit(backend)
    words = [kit.arange(c, c + 1) for c in counter]
    out = _philox.philox4x32(kit, words, key)
    assert [int(to_numpy(w)[0]) for w in out] == list(expected)


def test_philox_16_bit_limbs_match_known_answers_on_numpy() -> None:
    """The uint32 limb arithmetic (JAX's) checked on NumPy too, all three vectors in one call."""
    kit = _philox.NarrowWordArithmetic(np, np.uint32)
    counters = [np.array([v[0][i] for v in KAT_PHILOX4X32_10], dtype=np.uint32) for i in range(4)]
    for row, (_, key, expected) in enumerate(KAT_PHILOX4X32_10):
        out = _philox.philox4x32(kit, [c[row : row + 1] for c in counters], key)
        assert [int(w[0]) for w in out] == list(expected)


def test_philox_rejects_wrong_word_counts() -> None:
    with pytest.raises(ValueError, match="4-word counter and a 2-word key"):
        _philox.philox4x32(_kit("numpy"), (0, 0, 0), (0, 0))


# -- the bit layout -------------------------------------------------------------------------------------
def _reference_philox(counter: tuple[int, int, int, int], key: tuple[int, int]) -> tuple[int, ...]:
    """Philox-4x32-10 in plain Python ints, straight from the paper's round function."""
    c, (k0, k1) = list(counter), key
    for _ in range(10):
        p0, p1 = 0xD2511F53 * c[0], 0xCD9E8D57 * c[2]
        c = [(p1 >> 32) ^ c[1] ^ k0, p1 & 0xFFFFFFFF, (p0 >> 32) ^ c[3] ^ k1, p0 & 0xFFFFFFFF]
        k0, k1 = (k0 + 0x9E3779B9) & 0xFFFFFFFF, (k1 + 0xBB67AE85) & 0xFFFFFFFF
    return tuple(c)


def test_uniform_elements_follow_the_documented_bit_layout() -> None:
    """Element e = word e mod 4 of Philox((⌊e/4⌋, 0, stream), (seed lo, seed hi)), top 24 bits, (k + c)·s."""
    seed, stream, low, high = 2**40 + 12345, 2**35 + 7, -0.3, 1.7
    values = _draw("numpy", "random_uniform", (3, 5), seed=seed, stream=stream, minval=low, maxval=high)
    scale = np.float32((high - low) / 2**24)
    offset = np.float32(low / ((high - low) / 2**24))
    key = (seed & 0xFFFFFFFF, seed >> 32)
    for e, value in enumerate(values.reshape(-1)):
        word = _reference_philox((e // 4, 0, stream & 0xFFFFFFFF, stream >> 32), key)[e % 4]
        k = np.float32(word >> 8)
        assert value == (k + offset) * scale, e


def test_string_stream_is_the_blake2b_of_the_name() -> None:
    digest = int.from_bytes(hashlib.blake2b(b"encoder.0.weight", digest_size=8).digest(), "little")
    assert stream_id("encoder.0.weight") == digest
    by_name = _draw("numpy", "he_uniform", (8, 8), stream="encoder.0.weight")
    assert np.array_equal(by_name, _draw("numpy", "he_uniform", (8, 8), stream=digest))


def test_value_depends_on_flat_index_not_shape() -> None:
    flat = _draw("numpy", "random_normal", (30,))
    assert np.array_equal(_draw("numpy", "random_normal", (4, 6)).reshape(-1), flat[:24])
    assert np.array_equal(_draw("numpy", "random_normal", (2, 3, 5)).reshape(-1), flat)


def test_elementwise_and_run_paths_agree_past_two_to_the_32_elements() -> None:
    """A block near the end of a 2³³-element tensor: JAX's uint32 carry arithmetic vs the int64 runs."""
    from winit.backends import _portable as portable

    from winit._laws import Normal, Uniform

    shape, block = (2**17, 2**16), ((2**17 - 3, 2**17), (2**16 - 7, 2**16))
    narrow = _philox.NarrowWordArithmetic(np, np.uint32)
    wide = _philox.WordArithmetic(np, np.uint64)
    for law in (Uniform(-1.0, 1.0), Normal(0.0, 1.0)):
        recipe, numbers = portable.recipe_for(law, float64=False)
        consts = portable.Constants(np, np.float32, None, recipe, numbers)
        key, stream = (5, 6), (7, 8)
        by_element = portable.elementwise_values(
            np, narrow, shape, block, key, stream, recipe, consts, np.float32, True
        )
        by_run = portable.run_values(
            np, wide, shape, block, key, stream, recipe, consts, np.float32, True, 1 << 13
        )
        assert np.array_equal(by_element, by_run)
    # and the layout holds there: the last element is word 3 of counter (2³³ − 1) // 4
    recipe, numbers = portable.recipe_for(Uniform(0.0, 1.0), float64=False)
    unit = portable.Constants(np, np.float32, None, recipe, numbers)
    corner = ((2**17 - 1, 2**17), (2**16 - 1, 2**16))
    last = portable.run_values(np, wide, shape, corner, (5, 6), (7, 8), recipe, unit, np.float32, True, 64)
    counter = (2**33 - 1) // 4
    word = _reference_philox((counter & 0xFFFFFFFF, counter >> 32, 7, 8), (5, 6))[3]
    assert last[0, 0] == np.float32(word >> 8) * np.float32(2**-24)


# -- across backends ------------------------------------------------------------------------------------
@pytest.mark.parametrize("dtype", ["float32", "bfloat16", "float16"])
@pytest.mark.parametrize(("scheme", "params"), UNIFORM_LAWS)
@pytest.mark.parametrize("backend", OTHERS)
def test_uniform_family_is_bit_identical_across_backends(
    scheme: str, params: dict[str, float], dtype: str, backend: str
) -> None:
    reference = _draw("numpy", scheme, (96, 67), dtype=dtype, **params).astype(np.float32)
    values = _draw(backend, scheme, (96, 67), dtype=dtype, **params).astype(np.float32)
    assert np.array_equal(values.view(np.uint32), reference.view(np.uint32))


@pytest.mark.parametrize(("scheme", "params"), NORMAL_LAWS)
@pytest.mark.parametrize("backend", OTHERS)
def test_normal_family_agrees_across_backends_within_stated_ulps(
    scheme: str, params: dict[str, float], backend: str
) -> None:
    reference = _draw("numpy", scheme, (512, 384), **params)
    values = _draw(backend, scheme, (512, 384), **params)
    sigma = params.get("stddev", float(np.std(reference)))
    assert _ulps(values, reference, sigma) <= NORMAL_ULPS
    # mostly identical: the differences are rounding, not drift (AS241's tail rationals, with each
    # backend's log, round differently more often than Giles' polynomial: a looser share there)
    tail = params.get("lower", -1.0) >= 0 or params.get("upper", 1.0) <= 0
    assert np.mean(values != reference) < (0.75 if tail else 0.5)


@pytest.mark.parametrize("dtype", ["bfloat16", "float16"])
@pytest.mark.parametrize("backend", OTHERS)
def test_half_precision_normals_differ_by_at_most_one_of_their_ulps(dtype: str, backend: str) -> None:
    """Half-precision draws are float32 draws rounded: a few-ulp float32 difference moves one rounding at most."""
    reference = _draw("numpy", "he_normal", (128, 96), dtype=dtype).astype(np.float32)
    values = _draw(backend, "he_normal", (128, 96), dtype=dtype).astype(np.float32)
    magnitude = np.maximum(np.abs(values), np.abs(reference))
    if dtype == "float16":
        ulp = np.spacing(magnitude.astype(np.float16)).astype(np.float32)
    else:  # bfloat16 keeps float32's exponent range: 8 significant bits
        ulp = np.float32(2.0**-7) * np.exp2(np.floor(np.log2(magnitude)))
    assert np.all(np.abs(values - reference) <= ulp)
    assert np.mean(values == reference) > 0.99


@pytest.mark.parametrize("backend", [backend_param(name) for name in ("torch", "tensorflow")])
def test_float64_uniform_identical_and_normal_within_ulps(backend: str) -> None:
    for scheme, params in (UNIFORM_LAWS[2], NORMAL_LAWS[0]):
        reference = _draw("numpy", scheme, (256, 129), dtype="float64", **params)
        values = _draw(backend, scheme, (256, 129), dtype="float64", **params)
        assert values.dtype == np.float64
        if scheme.endswith("uniform"):
            assert np.array_equal(values.view(np.uint64), reference.view(np.uint64))
        else:
            assert _ulps(values, reference, float(np.std(reference))) <= NORMAL_ULPS


def test_float64_on_jax_matches_numpy() -> None:
    script = """
import numpy as np, winit
for scheme, kw in (("random_uniform", dict(minval=-0.3, maxval=1.7)), ("he_normal", {})):
    a = np.asarray(winit.init(scheme, (64, 33), backend="jax", layout="torch", dtype="float64", seed=11,
                              stream="w", rng="portable", **kw))
    b = winit.init(scheme, (64, 33), backend="numpy", layout="torch", dtype="float64", seed=11,
                   stream="w", rng="portable", **kw)
    assert a.dtype == np.float64
    ulps = np.max(np.abs(a - b) / np.spacing(np.maximum(np.abs(b), np.std(b))))
    print(scheme, int(np.array_equal(a, b)), ulps)
"""
    lines = run_jax_x64(script).stdout.split("\n")
    uniform, normal = (line.split() for line in lines[:2])
    assert uniform[1] == "1"
    assert float(normal[2]) <= NORMAL_ULPS


@pytest.mark.parametrize("shape", [(48, 32), (32, 48), (16, 4, 3)])
@pytest.mark.parametrize("backend", OTHERS)
def test_orthogonal_agrees_across_backends_within_tolerance(shape: tuple[int, ...], backend: str) -> None:
    gain = 1.5
    reference = _draw("numpy", "orthogonal", shape, gain=gain)
    values = _draw(backend, "orthogonal", shape, gain=gain)
    assert np.max(np.abs(values - reference)) <= ORTHOGONAL_ATOL * gain


def test_orthogonal_is_the_qr_of_the_portable_gaussian() -> None:
    """Q·sign(diag R) of the (rows, cols) portable N(0, 1) draw with the same seed and stream."""
    gaussian = _draw("numpy", "random_normal", (12, 20), mean=0.0, stddev=1.0).astype(np.float64)
    q, r = np.linalg.qr(gaussian.T)  # rows < cols: QR of the transpose, as torch.nn.init.orthogonal_
    expected = (q * np.sign(np.diag(r))).T
    values = _draw("numpy", "orthogonal", (12, 20))
    assert np.allclose(values @ values.T, np.eye(12), atol=1e-5)
    assert np.max(np.abs(values - expected)) < 1e-5


def test_torch_init_matches_winit_init_with_the_parameter_name_as_stream() -> None:
    torch = pytest.importorskip("torch")
    import winit.torch as wt

    model = torch.nn.Sequential(torch.nn.Linear(20, 30), torch.nn.Tanh(), torch.nn.Linear(30, 10))
    wt.init_(model, "glorot_uniform", nonlinearity="tanh", bias="random_uniform", seed=5, rng="portable")
    for name in ("0.weight", "2.weight"):
        weight = model.get_parameter(name).detach().numpy()
        expected = winit.init(
            "glorot_uniform", weight.shape, layout="torch", seed=5, rng="portable", stream=name
        )
        assert np.array_equal(weight, expected), name
    bias = winit.init("random_uniform", (30,), seed=5, rng="portable", stream="0.bias")
    assert np.array_equal(model[0].bias.detach().numpy(), bias)


# -- the laws -------------------------------------------------------------------------------------------
def test_portable_draws_follow_their_laws() -> None:
    n = (256, 256)
    uniform = _draw("numpy", "random_uniform", n, minval=-2.0, maxval=3.0).reshape(-1)
    assert uniform.min() >= -2.0 and uniform.max() < 3.0
    assert stats.kstest(uniform, stats.uniform(-2.0, 5.0).cdf).pvalue > 1e-3
    normal = _draw("numpy", "random_normal", n, mean=1.0, stddev=2.0).reshape(-1)
    assert stats.kstest(normal, stats.norm(1.0, 2.0).cdf).pvalue > 1e-3
    cut = _draw("numpy", "truncated_normal", n, mean=0.5, stddev=2.0, lower=-1.0, upper=2.5).reshape(-1)
    assert cut.min() >= 0.5 - 2.0 and cut.max() <= 0.5 + 5.0
    assert stats.kstest(cut, stats.truncnorm(-1.0, 2.5, loc=0.5, scale=2.0).cdf).pvalue > 1e-3
    # float64 normals reach past float32's 5.4σ tail limit only rarely; check their law too
    wide = _draw("numpy", "random_normal", (128, 128), dtype="float64", mean=0.0, stddev=1.0).reshape(-1)
    assert stats.kstest(wide, stats.norm().cdf).pvalue > 1e-3


def test_streams_and_seeds_give_unrelated_draws() -> None:
    a = _draw("numpy", "random_normal", (256, 64), stream="a").reshape(-1)
    b = _draw("numpy", "random_normal", (256, 64), stream="b").reshape(-1)
    c = _draw("numpy", "random_normal", (256, 64), stream="a", seed=12).reshape(-1)
    assert np.array_equal(a, _draw("numpy", "random_normal", (256, 64), stream="a").reshape(-1))
    bound = 4 / math.sqrt(a.size)  # 4 standard errors of a correlation of independent draws
    assert abs(np.corrcoef(a, b)[0, 1]) < bound and abs(np.corrcoef(a, c)[0, 1]) < bound


@pytest.mark.parametrize("backend", ALL)
def test_structured_and_constant_laws_match_native(backend: str) -> None:
    for scheme, shape in (("zeros", (3, 4)), ("identity", (4, 6)), ("dirac", (4, 2, 3, 3))):
        native = to_numpy(winit.init(scheme, shape, backend=backend, layout="torch"))
        portable = to_numpy(
            winit.init(scheme, shape, backend=backend, layout="torch", rng="portable", seed=0)
        )
        assert np.array_equal(native, portable), scheme


@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_truncation_far_in_the_tail_stays_finite_and_inside(dtype: str) -> None:
    values = _draw(
        "numpy", "truncated_normal", (64, 64), dtype=dtype, mean=0.0, stddev=1.0, lower=-1.0, upper=40.0
    )
    assert np.all(np.isfinite(values)) and values.min() >= -1.0 and values.max() <= 40.0


def test_zero_width_laws_are_constant() -> None:
    assert np.all(_draw("numpy", "random_uniform", (5,), minval=0.25, maxval=0.25) == np.float32(0.25))
    assert np.all(_draw("numpy", "random_normal", (5,), mean=-1.0, stddev=0.0) == np.float32(-1.0))


def test_scalar_shape() -> None:
    value = _draw("numpy", "random_uniform", ())
    assert value.shape == () and value == _draw("numpy", "random_uniform", (1,))[0]


# -- arguments ------------------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("kwargs", "error", "match"),
    [
        ({"rng": "philox"}, ValueError, "accepted: native, portable"),
        ({"rng": "portable", "seed": np.random.default_rng(0)}, TypeError, "int seed"),
        ({"rng": "portable", "seed": -1}, ValueError, "seed must be in"),
        ({"rng": "portable", "stream": -3}, ValueError, "2\\*\\*64"),
        ({"rng": "portable", "stream": 1.5}, TypeError, "stream must be"),
        ({"shard": (slice(0, 2),)}, ValueError, "need rng='portable'"),
        ({"stream": "w"}, ValueError, "need rng='portable'"),
    ],
)
def test_bad_arguments_name_the_value_and_the_choices(
    kwargs: dict[str, Any], error: type, match: str
) -> None:
    with pytest.raises(error, match=match):
        winit.init("he_uniform", (4, 4), **kwargs)


def test_torch_init_rejects_a_generator_with_portable() -> None:
    torch = pytest.importorskip("torch")
    import winit.torch as wt

    with pytest.raises(ValueError, match="rng='portable' draws from seed="):
        wt.init_(torch.nn.Linear(2, 2), generator=torch.Generator(), rng="portable")
    with pytest.raises(ValueError, match="accepted: native, portable"):
        wt.init_(torch.nn.Linear(2, 2), rng="philox")


# -- TensorFlow's compiled path -------------------------------------------------------------------------
@pytest.mark.parametrize(
    "block", [None, (slice(5, 90),), (slice(3, 70), slice(2, 61))], ids=["whole", "rows", "block"]
)
def test_tensorflow_xla_kernels_match_numpy(monkeypatch: pytest.MonkeyPatch, block: Any) -> None:
    """Large TensorFlow draws run as XLA kernels: uniform still bit-identical, normal within NORMAL_ULPS.

    The size threshold is lowered so a small tensor (runs cut into several kernel rows, a padded
    last call, unaligned shard rows) takes that path.
    """
    pytest.importorskip("tensorflow")
    from winit.backends._portable import kernels

    monkeypatch.setattr(kernels, "XLA_MIN_COUNTERS", 1)
    monkeypatch.setattr(kernels, "_XLA_SEGMENT", 256)  # rows of 256 counters: a 96×67 run spans several
    kinds = {"uniform": ("random_uniform", {"minval": -0.3, "maxval": 1.7}), "normal": ("he_normal", {})}
    for kind, (scheme, params) in kinds.items():
        for dtype in ("float32", "float64"):
            reference = _draw("numpy", scheme, (96, 67), dtype=dtype, shard=block, **params)
            values = _draw("tensorflow", scheme, (96, 67), dtype=dtype, shard=block, **params)
            assert values.dtype == reference.dtype and values.shape == reference.shape
            if kind == "uniform":
                assert np.array_equal(values, reference), (kind, dtype)
            else:
                assert _ulps(values, reference, float(np.std(reference))) <= NORMAL_ULPS, (kind, dtype)
    assert (
        "tensorflow" not in kernels._compile_unavailable
    )  # the kernels compiled: the comparisons were of them


@pytest.mark.slow
@pytest.mark.parametrize("block", [None, (slice(3, 70), slice(2, 61))], ids=["whole", "block"])
def test_torch_compiled_kernels_match_numpy(monkeypatch: pytest.MonkeyPatch, block: Any) -> None:
    """WINIT_TORCH_COMPILE=1: torch.compile'd kernels; uniform still bit-identical, normal within NORMAL_ULPS."""
    pytest.importorskip("torch")
    import winit.backends.torch as torch_backend
    from winit.backends._portable import kernels

    monkeypatch.setenv("WINIT_TORCH_COMPILE", "1")
    monkeypatch.setattr(kernels, "XLA_MIN_COUNTERS", 1)
    monkeypatch.setattr(kernels, "_XLA_SEGMENT", 256)
    built: list[tuple[Any, ...]] = []
    factory = torch_backend.torch_kernel
    monkeypatch.setattr(torch_backend, "torch_kernel", lambda *key: built.append(key) or factory(*key))
    cases = [("random_uniform", {"minval": -0.3, "maxval": 1.7}, "float32"), ("he_normal", {}, "float32")]
    cases += [("random_uniform", {"minval": -0.3, "maxval": 1.7}, "float64")] if block is None else []
    for scheme, params, dtype in cases:
        reference = _draw("numpy", scheme, (96, 67), dtype=dtype, shard=block, **params)
        values = _draw("torch", scheme, (96, 67), dtype=dtype, shard=block, **params)
        assert values.dtype == reference.dtype and values.shape == reference.shape
        if scheme.endswith("uniform"):
            assert np.array_equal(values, reference), (scheme, dtype)
        else:
            assert _ulps(values, reference, float(np.std(reference))) <= NORMAL_ULPS, scheme
    assert len(built) == len(cases) and "torch" not in kernels._compile_unavailable


def test_torch_compile_failure_falls_back_to_eager(monkeypatch: pytest.MonkeyPatch) -> None:
    """A machine where torch.compile cannot build (no C++ compiler, say) draws eagerly, the same numbers."""
    pytest.importorskip("torch")
    import winit.backends.torch as torch_backend
    from winit.backends._portable import kernels

    class CompilerMissingError(Exception):
        pass

    CompilerMissingError.__module__ = "torch._inductor.exc"

    def refuse(*args: Any) -> Any:
        raise CompilerMissingError("no working C++ compiler found")

    expected = _draw("torch", "he_uniform", (96, 67))
    monkeypatch.setenv("WINIT_TORCH_COMPILE", "1")
    monkeypatch.setattr(kernels, "XLA_MIN_COUNTERS", 1)
    monkeypatch.setattr(torch_backend, "torch_kernel", lambda *key: refuse)
    monkeypatch.setattr(kernels, "_compile_unavailable", {})
    assert np.array_equal(_draw("torch", "he_uniform", (96, 67)), expected)
    assert "no working C++ compiler" in kernels._compile_unavailable["torch"]


@pytest.mark.parametrize("setting", ["yes", "2", "true"])
def test_bad_compile_setting_names_the_value(monkeypatch: pytest.MonkeyPatch, setting: str) -> None:
    monkeypatch.setenv("WINIT_TORCH_COMPILE", setting)
    with pytest.raises(ValueError, match=f"WINIT_TORCH_COMPILE must be '0' or '1', got '{setting}'"):
        winit.init("he_uniform", (8, 8), backend="torch", seed=0, rng="portable")


# -- NumPy's and torch's in-place chunks on worker threads ---------------------------------------------
def _small_chunks(monkeypatch: pytest.MonkeyPatch, threads: int) -> None:
    """Chunks of 64 counters and ``threads`` workers, so small tensors are spread over several threads
    (the eager engine's: the fused kernel has no chunks, tests/test_portable_fused.py)."""
    import dataclasses

    monkeypatch.setenv("WINIT_PORTABLE_KERNEL", "eager")
    for backend in ("numpy", "torch"):
        try:
            adapter = type(winit.backend(backend))
        except ImportError:
            continue
        engine = adapter.portable_engine
        monkeypatch.setattr(
            adapter,
            "portable_engine",
            lambda self, device, engine=engine: dataclasses.replace(engine(self, device), chunk=64),
        )
    monkeypatch.setenv("WINIT_NUM_THREADS", str(threads))


@pytest.mark.parametrize(
    "block",
    [None, (slice(5, 90),), (slice(3, 70), slice(2, 61))],
    ids=["whole", "rows", "block"],
)
@pytest.mark.parametrize("backend", [backend_param("numpy"), backend_param("torch")])
def test_worker_threads_do_not_change_the_values(
    monkeypatch: pytest.MonkeyPatch, backend: str, block: Any
) -> None:
    """Chunks computed on 1 or 3 threads (contiguous ranges each, own buffers) give the same bits."""
    laws = [("random_uniform", {"minval": -0.3, "maxval": 1.7}), ("he_normal", {}), NORMAL_LAWS[3]]
    for scheme, params in laws:
        for dtype in ("float32", "float64"):
            draws = []
            for threads in (1, 3):
                _small_chunks(monkeypatch, threads)
                draws.append(_draw(backend, scheme, (96, 67), dtype=dtype, shard=block, **params))
            assert np.array_equal(draws[0], draws[1]), (scheme, dtype)
            monkeypatch.undo()
            # and the default chunking (one chunk here) agrees with the many small ones
            monkeypatch.setenv("WINIT_PORTABLE_KERNEL", "eager")
            assert np.array_equal(
                draws[0], _draw(backend, scheme, (96, 67), dtype=dtype, shard=block, **params)
            )


def test_runs_longer_than_a_chunk_split_across_threads(monkeypatch: pytest.MonkeyPatch) -> None:
    """A block whose rows are longer than a chunk: each row is cut into segments, spread over threads."""
    whole = _draw("numpy", "he_uniform", (3, 5000))
    _small_chunks(monkeypatch, 3)
    block = _draw("numpy", "he_uniform", (3, 5000), shard=(slice(1, 3), slice(7, 4990)))
    assert np.array_equal(block, whole[1:3, 7:4990])


def test_torch_worker_threads_restore_torch_threads(monkeypatch: pytest.MonkeyPatch) -> None:
    """A threaded torch draw leaves torch's intra-op thread count as it found it, and keeps the values."""
    torch = pytest.importorskip("torch")
    monkeypatch.setenv("WINIT_PORTABLE_KERNEL", "eager")
    reference = _draw("torch", "he_normal", (96, 67))
    before = torch.get_num_threads()
    torch.set_num_threads(2)
    try:
        _small_chunks(monkeypatch, 2)
        values = _draw("torch", "he_normal", (96, 67))
        assert torch.get_num_threads() == 2
    finally:
        torch.set_num_threads(before)
    assert np.array_equal(values, reference)


def _draw_into(queue: Any) -> None:
    queue.put(_draw("numpy", "he_uniform", (96, 67)))


# JAX, imported by other tests of this process, warns at every fork; the child runs NumPy alone
@pytest.mark.filterwarnings("ignore:os.fork\\(\\) was called:RuntimeWarning")
@pytest.mark.skipif(not hasattr(os, "fork"), reason="needs os.fork")
def test_threaded_draw_works_in_a_forked_child(monkeypatch: pytest.MonkeyPatch) -> None:
    """A child forked after a threaded draw (its pool object copied, its threads not) still draws."""
    import multiprocessing

    from winit.backends._portable import engine

    _small_chunks(monkeypatch, 2)
    expected = _draw("numpy", "he_uniform", (96, 67))
    # make sure this process's pool runs both its threads (it starts them lazily), then leave them idle
    barrier = threading.Barrier(3)
    pool = engine.worker_pool(2)
    waits = [pool.submit(barrier.wait, 10) for _ in range(2)]
    barrier.wait(10)
    for wait in waits:
        wait.result()
    context = multiprocessing.get_context("fork")
    queue = context.Queue()
    child = context.Process(target=_draw_into, args=(queue,))
    child.start()
    child.join(60)
    hung = child.is_alive()
    if hung:
        child.kill()
    assert not hung, "the forked child's draw never finished: it waited on the parent's dead pool threads"
    assert np.array_equal(queue.get(timeout=10), expected)


@pytest.mark.parametrize("setting", ["0", "-1", "two", "1.5"])
def test_bad_thread_setting_names_the_value(monkeypatch: pytest.MonkeyPatch, setting: str) -> None:
    monkeypatch.setenv("WINIT_NUM_THREADS", setting)
    with pytest.raises(ValueError, match=f"WINIT_NUM_THREADS must be a positive integer, got '{setting}'"):
        winit.init("he_uniform", (8, 8), backend="numpy", seed=0, rng="portable")


def test_thread_setting_is_capped(monkeypatch: pytest.MonkeyPatch) -> None:
    from winit.backends._portable import MAX_THREADS, portable_threads

    monkeypatch.setenv("WINIT_NUM_THREADS", "64")
    assert portable_threads(1) == MAX_THREADS
    monkeypatch.delenv("WINIT_NUM_THREADS")
    assert portable_threads(3) == 3 and portable_threads(0) == 1


# -- front doors ----------------------------------------------------------------------------------------
def _keras_on_tensorflow() -> Any:
    keras = pytest.importorskip("keras")
    pytest.importorskip("tensorflow")
    if keras.backend.backend() != "tensorflow":
        pytest.skip(f"this process runs Keras on {keras.backend.backend()!r}, not tensorflow")
    import winit.keras as wk

    return wk


@pytest.mark.parametrize(
    ("name", "kwargs", "scheme", "params"),
    [
        ("HeUniform", {}, "variance_scaling", {"scale": 2.0, "mode": "fan_in", "distribution": "uniform"}),
        ("RandomUniform", {"minval": -0.3, "maxval": 1.7}, "random_uniform", {"minval": -0.3, "maxval": 1.7}),
        ("HeNormal", {}, "variance_scaling", {"scale": 2.0, "mode": "fan_in"}),
        ("RandomNormal", {"mean": 0.3, "stddev": 0.05}, "random_normal", {"mean": 0.3, "stddev": 0.05}),
    ],
)
def test_portable_keras_initializer_is_winit_init(
    name: str, kwargs: dict[str, float], scheme: str, params: dict[str, Any]
) -> None:
    """Keras (TensorFlow backend) with rng="portable" draws winit.init(seed, stream, layout="keras") exactly."""
    wk = _keras_on_tensorflow()
    initializer = getattr(wk, name)(**kwargs, seed=7, rng="portable", stream="dense/kernel")
    shape = (3, 40, 24)
    values = to_numpy(initializer(shape))
    expected = winit.init(
        scheme, shape, backend="tensorflow", layout="keras", seed=7, rng="portable", stream="dense/kernel",
        **params,
    )  # fmt: skip
    assert np.array_equal(values, to_numpy(expected))
    assert np.array_equal(values, to_numpy(initializer(shape)))  # an int seed: the same every call
    if name.endswith("Uniform"):  # and the same bits as NumPy's portable draw
        numpy_values = winit.init(
            scheme, shape, layout="keras", seed=7, rng="portable", stream="dense/kernel", **params
        )
        assert np.array_equal(values, numpy_values)


def test_portable_keras_config_round_trips_and_native_config_is_keras() -> None:
    wk = _keras_on_tensorflow()
    import keras

    portable = wk.GlorotUniform(seed=3, rng="portable", stream=5)
    config = portable.get_config()
    assert config == {"seed": 3, "input_axes": None, "output_axes": None, "rng": "portable", "stream": 5}
    restored = keras.saving.deserialize_keras_object(keras.saving.serialize_keras_object(portable))
    assert np.array_equal(to_numpy(restored((8, 6))), to_numpy(portable((8, 6))))
    assert "rng" not in wk.GlorotUniform(seed=3).get_config()  # native: Keras' own config
    with pytest.raises(TypeError, match="int seed or None"):
        wk.HeNormal(seed=keras.random.SeedGenerator(1), rng="portable")
    with pytest.raises(ValueError, match="needs rng='portable'"):
        wk.HeNormal(seed=1, stream="w")
    with pytest.raises(ValueError, match="accepted: native, portable"):
        wk.HeNormal(seed=1, rng="philox")


def test_portable_flax_initializer_is_winit_init_eager_and_jitted() -> None:
    """A Flax initializer keyed by jax.random.key(seed) draws winit.init(seed=seed) (layout flax), also under jit."""
    jax = pytest.importorskip("jax")
    wf = pytest.importorskip("winit.flax")
    shape = (3, 40, 24)
    cases = [
        ("he_uniform", {}),
        ("random_uniform", {"minval": 0.0, "maxval": 0.5}),
        ("he_normal", {}),
        ("variance_scaling", {"scale": 2.0, "mode": "fan_in"}),  # JAX's he_normal: truncated
    ]
    for scheme, params in cases:
        init = wf.initializer(scheme, rng="portable", stream="conv/kernel", **params)
        values = np.asarray(init(jax.random.key(7), shape))
        jitted = np.asarray(jax.jit(init, static_argnums=1)(jax.random.key(7), shape))
        assert np.array_equal(values, jitted), scheme
        assert np.array_equal(values, np.asarray(init(jax.random.PRNGKey(7), shape))), scheme  # raw key
        common = {"layout": "flax", "seed": 7, "rng": "portable", "stream": "conv/kernel", **params}
        expected = winit.init(scheme, shape, backend="jax", **common)
        assert np.array_equal(values, np.asarray(expected)), scheme
        if scheme.endswith("uniform"):  # uniform laws: NumPy's bits too
            assert np.array_equal(values, winit.init(scheme, shape, **common)), scheme
    with pytest.raises(ValueError, match="needs rng='portable'"):
        wf.initializer("he_normal", stream="w")
    with pytest.raises(TypeError, match="stream must be"):
        wf.initializer("he_normal", rng="portable", stream=1.5)
    with pytest.raises(ValueError, match="accepted: native, portable"):
        wf.initializer("he_normal", rng="philox")


#: (builder, its positional and keyword arguments, the equivalent winit scheme and params for initializer).
FLAX_BUILDERS: list[tuple[str, tuple[Any, ...], dict[str, Any], str, dict[str, Any]]] = [
    ("he_normal", (), {}, "variance_scaling",
     {"scale": 2.0, "mode": "fan_in", "distribution": "truncated_normal"}),
    ("glorot_uniform", (), {}, "variance_scaling", {"scale": 1.0, "mode": "fan_avg", "distribution": "uniform"}),
    ("uniform", (0.3,), {}, "random_uniform", {"minval": 0.0, "maxval": 0.3}),
    ("normal", (0.05,), {}, "random_normal", {"mean": 0.0, "stddev": 0.05}),
    ("truncated_normal", (0.5,), {"lower": -1.0, "upper": 2.0}, "truncated_normal",
     {"mean": 0.0, "stddev": 0.5, "lower": -1.0, "upper": 2.0}),
    ("variance_scaling", (0.5, "fan_out", "normal"), {"in_axis": -1, "out_axis": -2}, "variance_scaling",
     {"scale": 0.5, "mode": "fan_out", "distribution": "normal", "in_axis": -1, "out_axis": -2}),
    ("orthogonal", (1.5,), {}, "orthogonal", {"gain": 1.5}),
]  # fmt: skip


@pytest.mark.parametrize(
    ("name", "args", "kwargs", "scheme", "params"), FLAX_BUILDERS, ids=[case[0] for case in FLAX_BUILDERS]
)
def test_portable_flax_builders_are_the_portable_initializer(
    name: str, args: tuple[Any, ...], kwargs: dict[str, Any], scheme: str, params: dict[str, Any]
) -> None:
    """builder(..., rng="portable", stream=s) is initializer(scheme, rng="portable", stream=s): eager and jitted."""
    jax = pytest.importorskip("jax")
    wf = pytest.importorskip("winit.flax")
    builder = getattr(wf, name)
    shape = (3, 40, 24)
    init = builder(*args, **kwargs, rng="portable", stream="w")
    values = np.asarray(init(jax.random.key(7), shape))
    expected = wf.initializer(scheme, rng="portable", stream="w", **params)(jax.random.key(7), shape)
    assert np.array_equal(values, np.asarray(expected))
    common = {"layout": "flax", "seed": 7, "rng": "portable", "stream": "w"}
    assert np.array_equal(values, np.asarray(winit.init(scheme, shape, backend="jax", **common, **params)))
    jitted = jax.jit(init, static_argnums=1)(jax.random.key(7), shape)
    assert np.array_equal(values, np.asarray(jitted))
    other = builder(*args, **kwargs, rng="portable", stream="b")(jax.random.key(7), shape)
    assert not np.array_equal(values, np.asarray(other))
    native = builder(*args, **kwargs)(jax.random.key(7), shape)
    assert not np.array_equal(values, np.asarray(native))
    with pytest.raises(ValueError, match="needs rng='portable'"):
        builder(*args, **kwargs, stream="w")
    with pytest.raises(ValueError, match="native") as error:
        builder(*args, **kwargs, rng="philox")
    assert "portable" in str(error.value)


def test_portable_flax_delta_orthogonal_is_the_portable_orthogonal_at_the_centre_tap() -> None:
    """delta_orthogonal(rng="portable", stream=s): zeros but the centre tap, which is orthogonal's draw."""
    jax = pytest.importorskip("jax")
    wf = pytest.importorskip("winit.flax")
    shape = (3, 3, 16, 32)
    values = np.asarray(wf.delta_orthogonal(1.5, rng="portable", stream="w")(jax.random.key(7), shape))
    tap = np.asarray(wf.orthogonal(1.5, rng="portable", stream="w")(jax.random.key(7), shape[-2:]))
    assert np.array_equal(values[1, 1], tap)
    assert np.count_nonzero(values) == np.count_nonzero(tap)
    native = np.asarray(wf.delta_orthogonal(1.5)(jax.random.key(7), shape))
    assert not np.array_equal(values, native)
    with pytest.raises(ValueError, match="needs rng='portable'"):
        wf.delta_orthogonal(stream="w")


def test_portable_uniform_is_identical_from_keras_tensorflow_and_flax() -> None:
    """One seed and stream, one (*k, in, out) kernel: Keras on TensorFlow and Flax give the same bits."""
    wk = _keras_on_tensorflow()
    jax = pytest.importorskip("jax")
    wf = pytest.importorskip("winit.flax")
    shape = (3, 3, 16, 32)
    from_keras = to_numpy(wk.GlorotUniform(seed=11, rng="portable", stream="conv1/kernel")(shape))
    flax_init = wf.initializer("glorot_uniform", rng="portable", stream="conv1/kernel")
    from_flax = np.asarray(flax_init(jax.random.key(11), shape))
    assert from_keras.dtype == from_flax.dtype == np.float32
    assert np.array_equal(from_keras.view(np.uint32), from_flax.view(np.uint32))


# -- accelerators (run on a GPU machine; skipped elsewhere) -----------------------------------------------
def _cuda_torch() -> Any:
    torch = pytest.importorskip("torch")
    if not torch.cuda.is_available():
        pytest.skip("needs a CUDA device visible to torch")
    return torch


@pytest.mark.gpu
@pytest.mark.parametrize("dtype", ["float32", "float64", "bfloat16"])
def test_torch_cuda_draws_match_numpy(dtype: str) -> None:
    """The same numbers on a CUDA tensor: uniform bit-identical, normal laws within NORMAL_ULPS."""
    torch = _cuda_torch()
    for scheme, params in (UNIFORM_LAWS[2], NORMAL_LAWS[0], NORMAL_LAWS[1], NORMAL_LAWS[3]):
        tensor = winit.init(
            scheme, (384, 257), backend="torch", device="cuda", layout="torch", seed=11,
            stream="layer.weight", rng="portable", dtype=dtype, **params,
        )  # fmt: skip
        assert tensor.device.type == "cuda"
        values = tensor.float().cpu().numpy() if dtype == "bfloat16" else tensor.cpu().numpy()
        reference = _draw("numpy", scheme, (384, 257), dtype=dtype, **params).astype(values.dtype)
        if scheme.endswith("uniform"):
            assert np.array_equal(values, reference), scheme
        elif dtype == "bfloat16":  # float32 draws rounded: at most one bfloat16 rounding apart
            ulp = np.float32(2.0**-7) * np.exp2(
                np.floor(np.log2(np.maximum(np.abs(values), np.abs(reference))))
            )
            assert np.all(np.abs(values - reference) <= ulp), scheme
        else:
            assert _ulps(values, reference, float(np.std(reference))) <= NORMAL_ULPS, scheme
    del torch


@pytest.mark.gpu
def test_torch_cuda_compiled_draws_match_numpy(monkeypatch: pytest.MonkeyPatch) -> None:
    """WINIT_TORCH_COMPILE=1 on CUDA (Triton kernels): uniform bit-identical, normals within NORMAL_ULPS."""
    _cuda_torch()
    from winit.backends._portable import kernels

    monkeypatch.setenv("WINIT_TORCH_COMPILE", "1")
    monkeypatch.setattr(kernels, "XLA_MIN_COUNTERS", 1)
    for scheme, params in (UNIFORM_LAWS[2], NORMAL_LAWS[0], NORMAL_LAWS[3]):
        for block in (None, (slice(3, 300), slice(2, 250))):
            values = winit.init(
                scheme, (384, 257), backend="torch", device="cuda", layout="torch", seed=11,
                stream="layer.weight", rng="portable", shard=block, **params,
            ).cpu().numpy()  # fmt: skip
            reference = _draw("numpy", scheme, (384, 257), shard=block, **params)
            if scheme.endswith("uniform"):
                assert np.array_equal(values, reference), (scheme, block)
            else:
                assert _ulps(values, reference, float(np.std(reference))) <= NORMAL_ULPS, (scheme, block)
    assert "torch" not in kernels._compile_unavailable


@pytest.mark.gpu
def test_torch_cuda_shards_and_init_match_the_cpu() -> None:
    """A shard drawn on the GPU is the same block of the whole; init_ on a CUDA model equals init_ on the CPU."""
    torch = _cuda_torch()
    import winit.torch as wt

    whole = _draw("numpy", "he_uniform", (300, 70))
    block = winit.init(
        "he_uniform", (300, 70), backend="torch", device="cuda", layout="torch", seed=11,
        stream="layer.weight", rng="portable", shard=(slice(17, 211), slice(5, 64)),
    )  # fmt: skip
    assert np.array_equal(block.cpu().numpy(), whole[17:211, 5:64])
    models = [torch.nn.Sequential(torch.nn.Linear(64, 48), torch.nn.Linear(48, 8)) for _ in range(2)]
    wt.init_(models[0], seed=5, rng="portable", scheme="he_uniform")
    wt.init_(models[1].cuda(), seed=5, rng="portable", scheme="he_uniform")
    for cpu, cuda in zip(models[0].parameters(), models[1].parameters(), strict=True):
        assert cuda.is_cuda and torch.equal(cpu, cuda.cpu())


@pytest.mark.gpu
def test_jax_gpu_draws_match_numpy() -> None:
    """JAX on its GPU (its default device there): uniform bit-identical, normals within NORMAL_ULPS."""
    jax = pytest.importorskip("jax")
    try:
        gpus = jax.devices("gpu")
    except RuntimeError:
        gpus = []
    if not gpus:
        pytest.skip("needs a GPU visible to JAX")
    for scheme, params in (UNIFORM_LAWS[2], NORMAL_LAWS[0], NORMAL_LAWS[3]):
        array = winit.init(
            scheme, (384, 257), backend="jax", device=gpus[0], layout="torch", seed=11,
            stream="layer.weight", rng="portable", **params,
        )  # fmt: skip
        assert next(iter(array.devices())).platform == "gpu"
        values, reference = np.asarray(array), _draw("numpy", scheme, (384, 257), **params)
        if scheme.endswith("uniform"):
            assert np.array_equal(values, reference), scheme
        else:
            assert _ulps(values, reference, float(np.std(reference))) <= NORMAL_ULPS, scheme


def _orthogonal_in_a_fresh_thread() -> np.ndarray:
    """torch.nn.init.orthogonal_ of a 256² tensor, run on a new thread (which copies torch's thread count)."""
    import torch

    result: list[np.ndarray] = []

    def run() -> None:
        tensor = torch.empty(256, 256)
        torch.nn.init.orthogonal_(tensor, generator=torch.Generator().manual_seed(3))
        result.append((tensor @ torch.randn(256, 64, generator=torch.Generator().manual_seed(4))).numpy())

    thread = threading.Thread(target=run)
    thread.start()
    thread.join()
    return result[0]


def test_portable_torch_draws_leave_other_threads_torch_alone(monkeypatch: pytest.MonkeyPatch) -> None:
    """No torch.set_num_threads (process-wide) during a draw: unrelated torch work on other threads keeps its bits."""
    torch = pytest.importorskip("torch")
    before = torch.get_num_threads()
    torch.set_num_threads(2)  # the pool that a process-wide change would shrink
    calls: list[int] = []
    real = torch.set_num_threads
    monkeypatch.setattr(torch, "set_num_threads", lambda n: (calls.append(n), real(n)))
    try:
        reference = _orthogonal_in_a_fresh_thread()
        _small_chunks(monkeypatch, 2)  # the draws run on worker threads too
        stop = threading.Event()

        def draw() -> None:
            while not stop.is_set():
                _draw("torch", "he_normal", (96, 67))

        drawer = threading.Thread(target=draw)
        drawer.start()
        try:
            others = [_orthogonal_in_a_fresh_thread() for _ in range(4)]
            seen = []
            for _ in range(4):  # a thread started now copies the process count: still 2
                probe = threading.Thread(target=lambda: seen.append(torch.get_num_threads()))
                probe.start()
                probe.join()
        finally:
            stop.set()
            drawer.join()
        after = []
        probe = threading.Thread(target=lambda: after.append(torch.get_num_threads()))
        probe.start()
        probe.join()
    finally:
        real(before)
    assert all(np.array_equal(other, reference) for other in others)
    assert seen == [2] * 4 and after == [2]
    assert calls == [], "a portable draw called the process-wide torch.set_num_threads"
