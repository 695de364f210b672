"""The fused portable kernel (numba, backends/_portable/fused.py) against the eager engine.

What each test proves: uniform draws are bit-identical to the eager engine's and normal-family draws
agree within ``NORMAL_ULPS`` (several laws, dtypes, shapes and blocks); within the fused path a
shard equals the same block of the whole and the thread count changes no bit; torch on CPU and
NumPy take the same kernel (same bits); ``WINIT_PORTABLE_KERNEL`` picks the path and refuses a bad
value; the draws follow their law.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest
from conftest import to_numpy
from winit.backends._portable import NORMAL_ULPS, EagerEngine
from winit.backends._portable.fused import FusedEngine, portable_kernel

import winit

pytest.importorskip("numba")

UNIFORM = [("he_uniform", {}), ("random_uniform", {"minval": -0.3, "maxval": 1.7})]
NORMAL = [
    ("he_normal", {}),
    ("random_normal", {"mean": 0.3, "stddev": 0.05}),
    ("truncated_normal", {"mean": -1.0, "stddev": 0.5, "lower": -2.0, "upper": 0.5}),
    ("variance_scaling", {}),
]
#: (shape, shard): whole tensors of odd sizes, rows, a block cutting the last axis (runs that start
#: mid-counter), a 3-d block, a scalar, an empty block
CASES = [
    ((97, 67), None),
    ((13,), None),
    ((96, 67), (slice(5, 90),)),
    ((96, 67), (slice(3, 70), slice(2, 61))),
    ((7, 9, 11), (slice(1, 6), slice(2, 9), slice(3, 10))),
    ((), None),
    ((8, 5), (slice(3, 3),)),
]


def _draw(kernel: str, monkeypatch: pytest.MonkeyPatch, scheme: str, shape: Any, **kwargs: Any) -> np.ndarray:
    monkeypatch.setenv("WINIT_PORTABLE_KERNEL", kernel)
    kwargs.setdefault("seed", 2**40 + 11)
    kwargs.setdefault("stream", "layer.weight")
    backend = kwargs.pop("backend", "numpy")
    return to_numpy(winit.init(scheme, shape, backend=backend, layout="torch", rng="portable", **kwargs))


def _ulps(a: np.ndarray, b: np.ndarray, sigma: float) -> float:
    floor = np.asarray(sigma, dtype=a.dtype)
    return float(
        np.max(np.abs(a - b) / np.spacing(np.maximum(np.maximum(np.abs(a), np.abs(b)), floor)), initial=0)
    )


def test_numpy_uses_the_fused_kernel_by_default(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("WINIT_PORTABLE_KERNEL", raising=False)
    assert portable_kernel() == "fused"
    assert isinstance(winit.backend("numpy").portable_engine(None), FusedEngine)
    monkeypatch.setenv("WINIT_PORTABLE_KERNEL", "eager")
    assert isinstance(winit.backend("numpy").portable_engine(None), EagerEngine)


@pytest.mark.parametrize("setting", ["numba", "Fused", "1"])
def test_bad_kernel_setting_names_the_accepted_ones(monkeypatch: pytest.MonkeyPatch, setting: str) -> None:
    monkeypatch.setenv("WINIT_PORTABLE_KERNEL", setting)
    with pytest.raises(
        ValueError, match=f"WINIT_PORTABLE_KERNEL must be one of eager, fused .*got '{setting}'"
    ):
        winit.init("he_uniform", (8, 8), backend="numpy", seed=0, rng="portable")


@pytest.mark.parametrize(
    ("shape", "shard"), CASES, ids=["whole", "short", "rows", "block", "3d", "scalar", "empty"]
)
@pytest.mark.parametrize("dtype", ["float32", "float64", "float16"])
def test_fused_matches_eager(monkeypatch: pytest.MonkeyPatch, shape: Any, shard: Any, dtype: str) -> None:
    """Uniform laws bit for bit, normal laws within NORMAL_ULPS (another log), on every layout."""
    for scheme, params in UNIFORM + NORMAL:
        if shape == () and scheme in ("he_uniform", "he_normal", "variance_scaling"):
            continue  # fans need at least one axis
        fused = _draw("fused", monkeypatch, scheme, shape, dtype=dtype, shard=shard, **params)
        eager = _draw("eager", monkeypatch, scheme, shape, dtype=dtype, shard=shard, **params)
        assert fused.dtype == eager.dtype and fused.shape == eager.shape
        if (scheme, params) in UNIFORM:
            assert np.array_equal(fused, eager), (scheme, dtype)
        elif dtype != "float16":  # float16 rounds float32 values that may straddle a rounding boundary
            assert _ulps(fused, eager, float(np.std(eager)) if eager.size > 1 else 1.0) <= NORMAL_ULPS, scheme
        else:
            assert np.count_nonzero(fused != eager) <= 0.01 * fused.size, scheme


@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_a_shard_is_the_same_block_of_the_whole(monkeypatch: pytest.MonkeyPatch, dtype: str) -> None:
    """Within the fused path exactly, normals included."""
    for scheme, params in NORMAL + UNIFORM:
        whole = _draw("fused", monkeypatch, scheme, (96, 67), dtype=dtype, **params)
        for shard in [(slice(5, 90),), (slice(3, 70), slice(2, 61)), (slice(0, 96), slice(1, 2))]:
            block = _draw("fused", monkeypatch, scheme, (96, 67), dtype=dtype, shard=shard, **params)
            assert np.array_equal(block, whole[shard]), (scheme, shard)


def test_thread_count_changes_no_bit(monkeypatch: pytest.MonkeyPatch) -> None:
    draws = []
    for threads in ("1", "2"):
        monkeypatch.setenv("WINIT_NUM_THREADS", threads)
        draws.append([_draw("fused", monkeypatch, s, (300, 257), **p) for s, p in NORMAL + UNIFORM])
    for one, two in zip(*draws, strict=True):
        assert np.array_equal(one, two)


@pytest.mark.parametrize("dtype", ["float32", "float64", "bfloat16"])
def test_torch_on_cpu_takes_the_same_kernel(monkeypatch: pytest.MonkeyPatch, dtype: str) -> None:
    pytest.importorskip("torch")
    assert isinstance(winit.backend("torch").portable_engine(None), FusedEngine)
    for scheme, params in NORMAL + UNIFORM:
        reference = _draw(
            "fused",
            monkeypatch,
            scheme,
            (45, 33),
            dtype="float32" if dtype == "bfloat16" else dtype,
            **params,
        )
        values = _draw("fused", monkeypatch, scheme, (45, 33), dtype=dtype, backend="torch", **params)
        if dtype == "bfloat16":
            import torch

            reference = torch.from_numpy(reference).to(torch.bfloat16).float().numpy()
            values = values.astype(np.float32)
        assert np.array_equal(values, reference), scheme


@pytest.mark.parametrize(
    ("scheme", "params", "sigma"),
    [
        ("random_normal", {"mean": 0.0, "stddev": 0.02}, 0.02),
        ("random_uniform", {"minval": -1.0, "maxval": 1.0}, 3**-0.5),
    ],
)
def test_fused_draws_follow_their_law(
    monkeypatch: pytest.MonkeyPatch, scheme: str, params: Any, sigma: float
) -> None:
    """std within 1% on 2¹⁸ draws (its sampling error is ~0.15%): a 5% wrong σ fails."""
    values = _draw("fused", monkeypatch, scheme, (512, 512), **params).astype(np.float64)
    assert abs(values.std() / sigma - 1) < 0.01
    assert abs(values.mean()) < 4 * sigma / 512


@pytest.mark.parametrize("backend", ["numpy", "torch"])
def test_realize_into_writes_realize_blocks_values_in_place(
    monkeypatch: pytest.MonkeyPatch, backend: str
) -> None:
    """Rows 17..27 of a (40, 24) parameter written into its own memory equal realize_block's, bit for bit."""
    from winit.backends._portable import realize_block, realize_into

    monkeypatch.delenv("WINIT_PORTABLE_KERNEL", raising=False)
    adapter = winit.backend(backend)
    kwargs: dict[str, Any] = {"seed": 5, "stream": 9, "block": ((0, 10), (0, 24))}
    piece: dict[str, Any] = {"parent_shape": (40, 24), "row_start": 17, "axis": 0}
    for scheme, params in NORMAL + UNIFORM:
        plan = winit.plan(scheme, (10, 24), layout="torch", **params)
        for dtype in ("float32", "float64"):
            expected = to_numpy(realize_block(adapter, plan, device=None, dtype=dtype, **kwargs, **piece))
            whole = adapter.xp.zeros((40, 24), dtype=adapter.native_dtype(dtype))
            assert realize_into(adapter, plan, whole[17:27], dtype=dtype, **kwargs, **piece)
            assert np.array_equal(to_numpy(whole)[17:27], expected), (scheme, dtype)
            assert not np.any(to_numpy(whole)[:17]) and not np.any(to_numpy(whole)[27:])
    plan = winit.plan("he_normal", (10, 24), layout="torch")
    half = adapter.xp.zeros((10, 24), dtype=adapter.native_dtype("float16"))
    assert not realize_into(adapter, plan, half, dtype="float16", **kwargs)
    strided = adapter.xp.zeros((24, 10), dtype=adapter.native_dtype("float32")).T
    assert not realize_into(adapter, plan, strided, dtype="float32", **kwargs)
    assert not np.any(to_numpy(strided))
    monkeypatch.setenv("WINIT_PORTABLE_KERNEL", "eager")
    assert not realize_into(adapter, plan, adapter.xp.zeros((10, 24)), dtype="float32", **kwargs)


def test_the_vectorized_float32_log_is_within_one_ulp_of_the_exact_log() -> None:
    """Cephes' logf as the kernel runs it, over (0, 1] where the normal takes it: near 1, mid-range and
    down to the smallest (1 − x)(1 + x) a float32 x can give (2⁻²³); the exact value from float64."""
    from winit.backends._portable import fused_kernels

    rng = np.random.default_rng(0)
    y = np.concatenate([
        rng.random(1 << 16, dtype=np.float32),
        np.float32(1) - rng.random(1 << 14, dtype=np.float32) * np.float32(1e-3),
        np.float32(2.0**-23) * (1 + rng.random(1 << 12, dtype=np.float32) * np.float32(15)),
        np.asarray([1.0, 0.5, np.sqrt(0.5), 2.0**-23], dtype=np.float32),
    ]).astype(np.float32)  # fmt: skip
    y = y[y > 0]
    w = y.copy()
    fused_kernels._negative_log32(
        w, w.view(np.uint32), np.empty(w.size, np.uint32), np.empty(w.size, np.float32), w.size
    )
    exact = -np.log(y.astype(np.float64))
    ulp = np.spacing(np.abs(exact).astype(np.float32)).astype(np.float64)
    error = np.abs(w.astype(np.float64) - exact) / np.where(
        exact == 0, np.float64(np.finfo(np.float32).tiny), ulp
    )
    assert error.max() <= 1.0, error.max()
    assert w[y == 1].tolist() == [0.0]
