"""init_ through wrappers (torch.compile, DataParallel, DDP, FSDP1) and parametrizations (weight_norm, ...)."""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import pytest

torch = pytest.importorskip("torch")

import torch.distributed as dist  # noqa: E402
from torch import nn  # noqa: E402
from torch.nn.utils import parametrizations, parametrize  # noqa: E402

import winit.torch as wt  # noqa: E402

RULES = {"2.0.weight": "glorot_uniform"}  # a pattern on the bare model's names


def _net() -> nn.Module:
    return nn.Sequential(nn.Linear(6, 10), nn.ReLU(), nn.Sequential(nn.Linear(10, 7), nn.LayerNorm(7)))


def _bare(rng: str) -> dict[str, Any]:
    model, _ = wt.init_(_net(), RULES, seed=3, rng=rng)
    return {name: param.detach().clone() for name, param in model.named_parameters()}


def _assert_bare(named: Any, rng: str) -> None:
    expected = _bare(rng)
    got = {name: param.detach() for name, param in named}
    assert got.keys() == expected.keys()
    for name, value in expected.items():
        assert torch.equal(got[name], value), name


@pytest.mark.parametrize("rng", ["native", "portable"])
def test_compile_and_data_parallel_are_looked_through(rng: str) -> None:
    compiled = torch.compile(_net())  # wrapping only: nothing is compiled before a forward pass
    returned, report = wt.init_(compiled, RULES, seed=3, rng=rng)
    assert returned is compiled and report["2.0.weight"].scheme == "glorot_uniform"
    _assert_bare(compiled._orig_mod.named_parameters(), rng)  # type: ignore[union-attr]
    parallel = nn.DataParallel(torch.compile(_net()))
    wt.init_(parallel, RULES, seed=3, rng=rng)
    _assert_bare(parallel.module._orig_mod.named_parameters(), rng)


@pytest.fixture()
def gloo(tmp_path: Path) -> Any:
    if not dist.is_available() or not dist.is_gloo_available():
        pytest.skip("torch.distributed with gloo is not available")
    dist.init_process_group("gloo", init_method=f"file://{tmp_path / 'store'}", rank=0, world_size=1)
    try:
        yield
    finally:
        dist.destroy_process_group()


@pytest.mark.usefixtures("gloo")
@pytest.mark.parametrize("rng", ["native", "portable"])
def test_ddp_and_fsdp1_are_looked_through(rng: str) -> None:
    from torch.distributed.fsdp import FullyShardedDataParallel as FSDP  # noqa: N817

    ddp = nn.parallel.DistributedDataParallel(_net())
    _, report = wt.init_(ddp, RULES, seed=3, rng=rng)
    assert [r.name for r in report][:2] == ["0.weight", "0.bias"]
    _assert_bare(ddp.module.named_parameters(), rng)

    def linears(module: nn.Module, recurse: bool, nonwrapped_numel: int) -> bool:
        return recurse or isinstance(module, nn.Linear)

    with pytest.warns(UserWarning, match="NO_SHARD"):  # one rank: FSDP1 keeps flat, unsharded parameters
        fsdp = FSDP(_net(), device_id=torch.device("cpu"), auto_wrap_policy=linears)
    _, report = wt.init_(fsdp, RULES, seed=3, rng=rng)
    assert [r.name for r in report] == [name for name, _ in _net().named_parameters()]
    with FSDP.summon_full_params(fsdp):
        _assert_bare(((n.replace("_fsdp_wrapped_module.", ""), p) for n, p in fsdp.named_parameters()), rng)


# -- parametrizations ----------------------------------------------------------------------------------
def _linear(out: int = 64, fan_in: int = 256) -> nn.Linear:
    return nn.Linear(fan_in, out, bias=False)


@pytest.mark.parametrize("rng", ["native", "portable"])
def test_weight_norm_effective_weight_is_the_scheme_draw(rng: str) -> None:
    bare, _ = wt.init_(_linear(), seed=11, rng=rng)
    model = parametrizations.weight_norm(_linear())
    _, report = wt.init_(model, seed=11, rng=rng)
    assert [r.name for r in report] == ["weight"] and report["weight"].shape == (64, 256)
    torch.testing.assert_close(model.weight, bare.weight, rtol=1e-5, atol=1e-6)
    g = model.parametrizations.weight.original0
    torch.testing.assert_close(g.squeeze(1), bare.weight.norm(dim=1))
    # He normal: each row of the effective weight has norm ≈ sqrt(fan_in · 2/fan_in) = √2 (±0.5% on 64 rows)
    rows = model.weight.detach().norm(dim=1)
    assert abs(rows.mean().item() / math.sqrt(2) - 1) < 0.02
    assert rows.std().item() < 0.1


def test_spectral_norm_original_is_drawn_and_power_vectors_refreshed() -> None:
    bare, _ = wt.init_(nn.Linear(16, 32, bias=False), seed=5)
    model = parametrizations.spectral_norm(nn.Linear(16, 32, bias=False))
    wt.init_(model, seed=5)
    plist = model.parametrizations.weight
    assert torch.equal(plist.original, bare.weight)
    sigma = torch.linalg.matrix_norm(plist.original.detach(), ord=2)
    estimate = plist[0]._u @ plist.original.detach() @ plist[0]._v  # what eval-mode forward divides by
    assert abs(estimate.item() / sigma.item() - 1) < 1e-2
    model.eval()
    assert abs(torch.linalg.matrix_norm(model.weight.detach(), ord=2).item() - 1) < 1e-2


def test_deprecated_hook_weight_norm_and_spectral_norm_are_set_by_their_effective_weight() -> None:
    bare, _ = wt.init_(_linear(), seed=11)
    with pytest.warns(FutureWarning):
        model = torch.nn.utils.weight_norm(_linear())
    _, report = wt.init_(model, seed=11)
    assert [r.name for r in report] == ["weight"]
    torch.testing.assert_close(model.weight_g.squeeze(1), bare.weight.norm(dim=1))
    model(torch.ones(1, 256))  # the hook recomputes weight = g · v/‖v‖
    torch.testing.assert_close(model.weight, bare.weight, rtol=1e-5, atol=1e-6)

    model = torch.nn.utils.spectral_norm(_linear(32, 16))
    bare, _ = wt.init_(_linear(32, 16), seed=11)
    wt.init_(model, seed=11)
    assert torch.equal(model.weight_orig, bare.weight)
    sigma = torch.linalg.matrix_norm(bare.weight.detach(), ord=2).item()
    assert abs((model.weight_u @ model.weight_orig.detach() @ model.weight_v).item() / sigma - 1) < 1e-2


class _Doubled(nn.Module):
    def forward(self, x: Any) -> Any:
        return 2 * x

    def right_inverse(self, w: Any) -> Any:
        return w / 2


class _Squared(nn.Module):  # no right_inverse
    def forward(self, x: Any) -> Any:
        return x * x


def test_custom_parametrization_goes_through_right_inverse_or_is_refused() -> None:
    bare, _ = wt.init_(_linear(8, 12), seed=2)
    model = _linear(8, 12)
    parametrize.register_parametrization(model, "weight", _Doubled())
    wt.init_(model, seed=2)
    torch.testing.assert_close(model.weight, bare.weight)

    model = _linear(8, 12)
    parametrize.register_parametrization(model, "weight", _Squared())
    before = model.parametrizations.weight.original.detach().clone()
    with pytest.raises(
        ValueError,
        match=r"'weight' of ParametrizedLinear is parametrized by _Squared, which has no right_inverse",
    ):
        wt.init_(model, seed=2)
    assert torch.equal(model.parametrizations.weight.original, before)
    _, report = wt.init_(model, {"weight": "keep"}, seed=2)
    assert report["weight"].kept and torch.equal(model.parametrizations.weight.original, before)


def test_reinit_resets_batchnorm_statistics() -> None:
    model = nn.Sequential(nn.Conv2d(3, 4, 3), nn.BatchNorm2d(4), nn.BatchNorm2d(4, affine=False))
    model(torch.linspace(-3, 5, 2 * 3 * 6 * 6).reshape(2, 3, 6, 6))
    assert model[1].num_batches_tracked.item() == 1 and (model[1].running_mean != 0).any()
    wt.init_(model, seed=0)
    for norm in (model[1], model[2]):
        assert torch.equal(norm.running_mean, torch.zeros(4)) and torch.equal(norm.running_var, torch.ones(4))
        assert norm.num_batches_tracked.item() == 0
    model(torch.ones(1, 3, 6, 6))
    wt.init_(model, {"1.*": "keep"}, seed=0)  # a kept norm keeps its statistics too
    assert model[1].num_batches_tracked.item() == 1 and model[2].num_batches_tracked.item() == 0


def test_blocks_of_one_parameter_continue_one_stream() -> None:
    lstm, report = wt.init_(nn.LSTM(4, 3), seed=1)
    gates = lstm.weight_ih_l0.detach().reshape(4, 3, 4)
    assert [r.part for r in report][:4] == ["i", "f", "g", "o"]
    assert all(not torch.equal(gates[0], gates[k]) for k in range(1, 4))
