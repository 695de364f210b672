"""Native seeds use all 64 bits: seeds 5 and 2³² + 5 draw different tensors on every backend.

torch's CPU generator (mt19937) reads 32 bits and JAX with x64 off keeps ``seed mod 2³²``; winit folds
or splits the seed so both words count, and keeps the frameworks' own values for seeds < 2³².
"""

from __future__ import annotations

import numpy as np
import pytest
from conftest import backend_param, run_jax_x64, to_numpy

import winit

ALL = [backend_param(name) for name in ("numpy", "torch", "tensorflow", "jax")]


@pytest.mark.parametrize("scheme", ["he_uniform", "he_normal"])
def test_seeds_past_two_to_the_32_are_their_own(scheme: str, backend: str) -> None:
    small, large = (to_numpy(winit.init(scheme, (16, 16), backend=backend, seed=s)) for s in (5, 2**32 + 5))
    assert not np.array_equal(small, large)
    top = to_numpy(winit.init(scheme, (16, 16), backend=backend, seed=2**63 - 1))
    assert not np.array_equal(top, to_numpy(winit.init(scheme, (16, 16), backend=backend, seed=2**31 - 1)))


def test_torch_seeds_below_two_to_the_32_are_torch_manual_seed() -> None:
    torch = pytest.importorskip("torch")
    for seed in (0, 5, 2**32 - 1):
        expected = torch.empty(8, 8).uniform_(-0.1, 0.1, generator=torch.Generator().manual_seed(seed))
        drawn = winit.init("random_uniform", (8, 8), backend="torch", seed=seed, minval=-0.1, maxval=0.1)
        assert torch.equal(drawn, expected)


def test_jax_key_of_a_large_seed_is_the_x64_key() -> None:
    """With x64 off winit's key for 2³² + 5 is JAX's x64 key [1, 5]; below 2³² it is jax.random.key(seed)."""
    jax = pytest.importorskip("jax")
    from winit.backends.jax import jax_key

    assert np.array_equal(jax.random.key_data(jax_key(2**32 + 5)), [1, 5])
    assert np.array_equal(jax.random.key_data(jax_key(5)), jax.random.key_data(jax.random.key(5)))
    result = run_jax_x64(
        "import jax, numpy as np, winit\n"
        "a = winit.init('he_normal', (8, 8), backend='jax', seed=2**32 + 5)\n"
        "print(np.asarray(a).tobytes().hex())\n"
    )
    here = to_numpy(winit.init("he_normal", (8, 8), backend="jax", seed=2**32 + 5))
    assert here.tobytes().hex() == result.stdout.strip()
