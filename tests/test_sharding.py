"""shard=: a block of the global tensor, equal to that block of the whole, on one process or many.

What each group proves:
* for any split of any shape (Hypothesis), the shards tile the unsharded result exactly, and JAX's
  per-element generator equals the run-by-run one the other backends use;
* every backend honours ``shard=`` (slices normalized like Python's), structured laws are sliced;
* JAX under ``jax.jit(out_shardings=NamedSharding(...))`` on 8 simulated CPU devices returns the
  single-device values, and each device's compiled program holds no array larger than its shard
  and no collective: it generates only its own block;
* torch: a meta-device model sharded over 2 and 4 gloo processes (FSDP2 ``fully_shard``; DTensor
  ``distribute_tensor`` on 1-D and 2-D meshes, row and column shards), initialized by
  ``winit.torch.init_(rng="portable")``, gathers to exactly the single-process weights.
"""

from __future__ import annotations

import datetime
import itertools
import os
import socket
import subprocess
import sys
import textwrap
import time
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from conftest import backend_param, to_numpy
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from winit.backends import _philox
from winit.backends import _portable as portable

import winit

REPO = Path(__file__).resolve().parent.parent
LAWS = [
    ("random_uniform", {"minval": -0.5, "maxval": 2.0}),
    ("he_normal", {}),
    ("variance_scaling", {}),  # truncated normal
]


def _init(backend: str, scheme: str, shape: tuple[int, ...], shard: Any = None, **params: Any) -> np.ndarray:
    return to_numpy(
        winit.init(scheme, shape, backend=backend, layout="torch", seed=21, stream="p", rng="portable",
                   shard=shard, **params)
    )  # fmt: skip


@st.composite
def splits(draw: st.DrawFn) -> tuple[tuple[int, ...], list[list[int]]]:
    """A shape of 1-3 axes and, per axis, the sorted cut points of a split into 1 or more blocks."""
    shape = tuple(draw(st.lists(st.integers(1, 9), min_size=1, max_size=3)))
    cuts = [sorted(draw(st.sets(st.integers(1, n - 1), max_size=3))) if n > 1 else [] for n in shape]
    return shape, [[0, *c, n] for c, n in zip(cuts, shape, strict=True)]


Tile = tuple[tuple[int, int], ...]  # (start, stop) per axis (slices are unhashable before Python 3.12)


def _tiles(bounds: list[list[int]]) -> list[Tile]:
    return list(itertools.product(*(list(itertools.pairwise(edges)) for edges in bounds)))


def _index(tile: Tile) -> tuple[slice, ...]:
    return tuple(slice(a, b) for a, b in tile)


def _assemble(
    blocks: dict[Tile, np.ndarray], bounds: list[list[int]], axis: int = 0, prefix: Tile = ()
) -> np.ndarray:
    """Concatenate the blocks back, axis by axis: the 'concatenating every shard' of the contract."""
    parts = []
    for a, b in itertools.pairwise(bounds[axis]):
        index = (*prefix, (a, b))
        parts.append(blocks[index] if axis == len(bounds) - 1 else _assemble(blocks, bounds, axis + 1, index))
    return np.concatenate(parts, axis=axis)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(split=splits(), law=st.sampled_from(LAWS), float64=st.booleans())
def test_shards_concatenate_to_the_whole_for_any_split(
    split: tuple[tuple[int, ...], list[list[int]]], law: tuple[str, dict[str, float]], float64: bool
) -> None:
    shape, bounds = split
    scheme, params = law
    dtype = "float64" if float64 else "float32"
    whole = _init("numpy", scheme, shape, dtype=dtype, **params)
    blocks = {
        t: _init("numpy", scheme, shape, shard=_index(t), dtype=dtype, **params) for t in _tiles(bounds)
    }
    for tile, block in blocks.items():
        assert np.array_equal(block, whole[_index(tile)])
    assert np.array_equal(_assemble(blocks, bounds), whole)


@settings(max_examples=40, deadline=None)
@given(split=splits(), float64=st.booleans(), data=st.data())
def test_per_element_generator_equals_run_generator(
    split: tuple[tuple[int, ...], list[list[int]]], float64: bool, data: st.DataObject
) -> None:
    """JAX's pure map (uint32 words, carries) against the NumPy/torch/TF runs (64-bit words), any block."""
    from winit._laws import Normal

    shape, bounds = split
    block = data.draw(st.sampled_from(_tiles(bounds)))
    recipe, numbers = portable.recipe_for(Normal(0.5, 2.0), float64)
    dtype = np.float64 if float64 else np.float32
    consts = portable.Constants(np, dtype, None, recipe, numbers)
    narrow = _philox.NarrowWordArithmetic(np, np.uint32)
    wide = _philox.WordArithmetic(np, np.uint64)
    by_element = portable.elementwise_values(
        np, narrow, shape, block, (3, 4), (5, 6), recipe, consts, dtype, False
    )
    by_run = portable.run_values(np, wide, shape, block, (3, 4), (5, 6), recipe, consts, dtype, True, 4)
    assert np.array_equal(by_element, by_run)


@pytest.mark.parametrize("backend", [backend_param(name) for name in ("torch", "tensorflow", "jax")])
def test_every_backend_tiles_a_split(backend: str) -> None:
    shape, bounds = (10, 7, 3), [[0, 4, 10], [0, 2, 7], [0, 3]]
    for scheme, params in LAWS[:2]:
        whole = _init(backend, scheme, shape, **params)
        blocks = {
            tile: _init(backend, scheme, shape, shard=_index(tile), **params) for tile in _tiles(bounds)
        }
        assert np.array_equal(_assemble(blocks, bounds), whole), scheme


def test_shard_is_normalized_like_a_python_index() -> None:
    whole = _init("numpy", "he_uniform", (6, 5))
    assert np.array_equal(_init("numpy", "he_uniform", (6, 5), shard=(slice(-2, None),)), whole[-2:])
    assert np.array_equal(_init("numpy", "he_uniform", (6, 5), shard=slice(1, 3)), whole[1:3])
    assert np.array_equal(
        _init("numpy", "he_uniform", (6, 5), shard=(slice(None), slice(4, 99))), whole[:, 4:]
    )
    assert _init("numpy", "he_uniform", (6, 5), shard=(slice(3, 3),)).shape == (0, 5)


@pytest.mark.parametrize(
    ("shard", "error", "match"),
    [
        ((0,), TypeError, "slice\\(i, i \\+ 1\\)"),
        ((slice(0, 4, 2),), ValueError, "step 1"),
        ((slice(0, 1),) * 3, ValueError, "has 3 entries"),
        ([slice(0, 1)], TypeError, "a slice or a tuple of slices"),
    ],
)
def test_bad_shards_say_what_is_accepted(shard: Any, error: type, match: str) -> None:
    with pytest.raises(error, match=match):
        _init("numpy", "he_uniform", (6, 5), shard=shard)


@pytest.mark.parametrize("scheme", ["orthogonal", "identity", "ones"])
def test_structured_laws_shard_as_slices_of_the_whole(scheme: str) -> None:
    """Orthogonal is generated whole and sliced (a QR is not computed block by block): same values."""
    whole = _init("numpy", scheme, (6, 8))
    assert np.array_equal(_init("numpy", scheme, (6, 8), shard=(slice(2, 5), slice(1, 8))), whole[2:5, 1:8])


# -- JAX: 8 simulated devices ----------------------------------------------------------------------------
JAX_SCRIPT = textwrap.dedent(
    """
    import math, re
    import jax, numpy as np, winit
    from jax.sharding import Mesh, NamedSharding, PartitionSpec as P

    devices = np.array(jax.devices())
    assert devices.size == 8, devices
    shape, shard_size = (64, 48), 64 * 48 // 8
    meshes = [((8,), ("x",), P("x", None)), ((8,), ("x",), P(None, "x")),
              ((2, 4), ("x", "y"), P("x", "y")), ((4, 2), ("x", "y"), P("y", "x"))]
    for scheme in ("he_normal", "he_uniform"):
        def init():
            return winit.init(scheme, shape, backend="jax", seed=3, rng="portable", stream="w")
        single = np.asarray(jax.jit(init)())
        for mesh_shape, names, spec in meshes:
            sharding = NamedSharding(Mesh(devices.reshape(mesh_shape), names), spec)
            sharded = jax.jit(init, out_shardings=sharding)
            out = sharded()
            assert out.sharding == sharding
            assert np.array_equal(np.asarray(out), single), (scheme, spec)
            for piece in out.addressable_shards:  # each device holds exactly its block of the whole
                assert np.array_equal(np.asarray(piece.data), single[piece.index])
            program = sharded.lower().compile().as_text()
            collectives = [op for op in ("all-gather", "all-to-all", "collective-permute", "all-reduce")
                           if op in program]
            assert not collectives, (spec, collectives)
            shapes = re.findall(r"\\[(\\d+(?:,\\d+)*)\\]", program)
            largest = max(math.prod(map(int, dims.split(","))) for dims in shapes)
            assert largest <= shard_size, (spec, largest)
            direct = winit.init(scheme, shape, backend="jax", seed=3, rng="portable", stream="w", shard=sharding)
            assert direct.sharding == sharding and np.array_equal(np.asarray(direct), single)
    print("ok")
    """
)


def test_jax_out_shardings_generate_each_shard_locally() -> None:
    pytest.importorskip("jax")
    env = {**os.environ, "XLA_FLAGS": "--xla_force_host_platform_device_count=8", "JAX_PLATFORMS": "cpu"}
    result = subprocess.run(
        [sys.executable, "-c", JAX_SCRIPT], capture_output=True, text=True, env=env, cwd=REPO, timeout=180,
        check=False,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr[-4000:]
    assert result.stdout.strip().endswith("ok")


# -- torch.distributed: gloo on loopback -----------------------------------------------------------------
def _model() -> Any:
    import torch

    return torch.nn.Sequential(
        torch.nn.Linear(6, 10), torch.nn.ReLU(), torch.nn.Linear(10, 7), torch.nn.LSTM(7, 5),
        torch.nn.Embedding(9, 3, padding_idx=4),
    )  # fmt: skip


def _init_model(model: Any, device: str | None = None) -> None:
    import winit.torch as wt

    wt.init_(model, bias="random_uniform", seed=7, rng="portable", device=device)


def _torch_worker(rank: int, world: int, port: int, out: str) -> None:
    """One rank: shard two meta models (FSDP2; DTensor), init_ them portably, gather, rank 0 saves."""
    import torch
    import torch.distributed as dist
    from torch.distributed.device_mesh import init_device_mesh
    from torch.distributed.fsdp import fully_shard
    from torch.distributed.tensor import Replicate, Shard, distribute_tensor

    torch.set_num_threads(1)
    dist.init_process_group(
        "gloo", init_method=f"tcp://127.0.0.1:{port}", rank=rank, world_size=world,
        timeout=datetime.timedelta(seconds=60),
    )  # fmt: skip
    try:
        gathered = {}
        with torch.device("meta"):
            fsdp = _model()
        mesh = init_device_mesh("cpu", (world,))
        for layer in fsdp:
            if any(True for _ in layer.parameters()):
                fully_shard(layer, mesh=mesh)
        fully_shard(fsdp, mesh=mesh)
        _init_model(fsdp, "cpu")
        gathered["fsdp"] = {name: p.full_tensor().clone() for name, p in fsdp.named_parameters()}

        # DTensor by hand: rows and columns alternately; on 4 ranks a 2×2 mesh shards both at once
        grid = init_device_mesh("cpu", (2, 2)) if world == 4 else mesh
        with torch.device("meta"):
            tensor_parallel = _model()
        for index, (name, param) in enumerate(list(tensor_parallel.named_parameters())):
            owner, attr = name.rsplit(".", 1)
            if grid.ndim == 2:
                placements: list[Any] = [Shard(0), Shard(1) if param.ndim > 1 else Replicate()]
            else:
                placements = [Shard(index % param.ndim)]
            sharded = distribute_tensor(torch.empty(param.shape, device="meta"), grid, placements)
            setattr(tensor_parallel.get_submodule(owner), attr, torch.nn.Parameter(sharded))
        _init_model(tensor_parallel, "cpu")
        gathered["dtensor"] = {
            name: p.full_tensor().clone() for name, p in tensor_parallel.named_parameters()
        }
        if rank == 0:
            torch.save(gathered, out)
        # every rank leaves together: a gloo rank torn down while a peer still talks aborts the process
        dist.barrier()
    finally:
        dist.destroy_process_group()
    # Skip interpreter teardown: gloo's background threads can still be joinable when C++ statics are
    # destroyed, and std::terminate then aborts a rank that has finished its work.
    os._exit(0)


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


@pytest.mark.slow
@pytest.mark.parametrize("world", [2, 4])
def test_torch_sharded_meta_model_gathers_to_single_process_weights(world: int, tmp_path: Path) -> None:
    torch = pytest.importorskip("torch")
    import torch.distributed as dist
    import torch.multiprocessing as mp

    if not dist.is_available() or not dist.is_gloo_available():
        pytest.skip("torch.distributed with gloo is not available")
    out = tmp_path / "gathered.pt"
    context = mp.start_processes(
        _torch_worker, args=(world, _free_port(), str(out)), nprocs=world, join=False, start_method="spawn"
    )
    deadline = time.monotonic() + 150
    try:
        while not context.join(timeout=1.0):
            if time.monotonic() > deadline:
                raise AssertionError(f"{world} gloo ranks did not finish in 150 s")
    finally:
        for process in context.processes:
            if process.is_alive():
                process.kill()
    reference = _model()
    _init_model(reference)
    expected = dict(reference.named_parameters())
    gathered = torch.load(out)
    for mode in ("fsdp", "dtensor"):
        assert gathered[mode].keys() == expected.keys()
        for name, value in gathered[mode].items():
            assert torch.equal(value, expected[name].detach()), (mode, name)
    assert torch.count_nonzero(expected["4.weight"][4]) == 0  # padding row zeroed on its rank


@pytest.mark.parametrize("scheme", ["he_normal", "truncated_normal"])
def test_tensorflow_shard_of_a_compiled_whole_is_the_same_block(
    monkeypatch: pytest.MonkeyPatch, scheme: str
) -> None:
    """A whole tensor large enough for TF's XLA kernel, and a shard of it too small for one on its own: same bits.

    Before: the shard ran eagerly (no FMA contraction) and 3236 of 16384 elements differed by ≤ 2 ulps.
    """
    pytest.importorskip("tensorflow")
    from winit.backends._portable import kernels

    # the whole (4096 counters) compiles, the shard alone would not
    monkeypatch.setattr(kernels, "XLA_MIN_COUNTERS", 1024)
    params = {"mean": 0.1, "stddev": 0.5, "lower": -1.5, "upper": 2.0} if scheme == "truncated_normal" else {}
    for dtype in ("float32", "float64") if scheme == "he_normal" else ("float32",):
        whole = _init("tensorflow", scheme, (64, 256), dtype=dtype, **params)
        for shard in ((slice(3, 40), slice(5, 100)), (slice(60, 64),)):
            block = _init("tensorflow", scheme, (64, 256), shard=shard, dtype=dtype, **params)
            assert np.array_equal(block, whole[shard]), (dtype, shard)


@pytest.mark.slow
def test_torch_compiled_shard_is_the_same_block(monkeypatch: pytest.MonkeyPatch) -> None:
    """WINIT_TORCH_COMPILE=1: a shard too small for a compiled kernel alone takes its whole's kernel, same bits."""
    pytest.importorskip("torch")
    from winit.backends._portable import kernels

    monkeypatch.setenv("WINIT_TORCH_COMPILE", "1")
    monkeypatch.setattr(kernels, "XLA_MIN_COUNTERS", 1024)
    whole = _init("torch", "he_normal", (64, 256))
    shard = (slice(3, 40), slice(5, 100))
    assert np.array_equal(_init("torch", "he_normal", (64, 256), shard=shard), whole[shard])
    assert "torch" not in kernels._compile_unavailable
