"""``recipe="torch"`` on ``nn.MultiheadAttention``: the laws of torch's own ``_reset_parameters``.

torch's MHA does not keep Linear's defaults: ``xavier_uniform_`` over the whole fused ``(3E, E)``
``in_proj_weight`` (each (E, E) block U(±√(6/(E + 3E)))), or over each of ``q/k/v_proj_weight`` when
kdim/vdim differ from E; ``in_proj_bias`` and ``out_proj.bias`` zero; ``bias_k``/``bias_v``
``xavier_normal_``; ``out_proj.weight`` keeps Linear's ``kaiming_uniform_(a=√5)``. Checked two
ways: each report row's law against those formulas written out here (exact), and the sample std of
winit's draw against torch's own constructor's, over ≥ 25,000 values per group (a 5% error fails).
Keras' and Flax's (nnx and linen) multi-head attention under ``recipe="torch"`` take the law torch's MHA would give.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

import pytest
import torch
from torch import nn

import winit.torch as wt

E, H, KDIM, D_FF = 32, 4, 16, 64


def _uniform(bound: float) -> tuple[str, float]:
    return "uniform", bound / math.sqrt(3)


def _mha_laws(prefix: str = "", kdim: int = E, bias_kv: bool = False) -> dict[str, tuple[str, float]]:
    """Report key -> (kind, std) as torch's MultiheadAttention._reset_parameters sets each parameter."""
    laws: dict[str, tuple[str, float]] = {}
    if kdim == E:
        for part in "qkv":
            laws[f"{prefix}in_proj_weight[{part}]"] = _uniform(math.sqrt(6 / (E + 3 * E)))
    else:
        laws[f"{prefix}q_proj_weight"] = _uniform(math.sqrt(6 / (E + E)))
        laws[f"{prefix}k_proj_weight"] = _uniform(math.sqrt(6 / (kdim + E)))
        laws[f"{prefix}v_proj_weight"] = _uniform(math.sqrt(6 / (kdim + E)))
    for part in "qkv":
        laws[f"{prefix}in_proj_bias[{part}]"] = ("zeros", 0.0)
    if bias_kv:
        laws[f"{prefix}bias_k"] = laws[f"{prefix}bias_v"] = ("normal", math.sqrt(2 / (E + E)))
    laws[f"{prefix}out_proj.weight"] = _uniform(1 / math.sqrt(E))  # Linear's kaiming_uniform_(a=√5)
    laws[f"{prefix}out_proj.bias"] = ("zeros", 0.0)
    return laws


CASES: dict[str, tuple[Callable[[], nn.Module], dict[str, tuple[str, float]]]] = {
    "fused": (lambda: nn.MultiheadAttention(E, H), _mha_laws()),
    "kdim": (
        lambda: nn.MultiheadAttention(E, H, kdim=KDIM, vdim=KDIM, add_bias_kv=True),
        _mha_laws(kdim=KDIM, bias_kv=True),
    ),
    "encoder_layer": (
        lambda: nn.TransformerEncoderLayer(E, H, D_FF),
        {
            **_mha_laws("self_attn."),
            "linear1.weight": _uniform(1 / math.sqrt(E)),
            "linear1.bias": _uniform(1 / math.sqrt(E)),
            "linear2.weight": _uniform(1 / math.sqrt(D_FF)),
            "linear2.bias": _uniform(1 / math.sqrt(D_FF)),
            "norm1.weight": ("ones", 0.0),
            "norm1.bias": ("zeros", 0.0),
            "norm2.weight": ("ones", 0.0),
            "norm2.bias": ("zeros", 0.0),
        },
    ),
}
_KIND = {"he_uniform": "uniform", "random_uniform": "uniform", "random_normal": "normal"}


@pytest.mark.parametrize("case", list(CASES))
def test_every_parameter_planned_as_torch_constructs_it(case: str) -> None:
    build, expected = CASES[case]
    _, report = wt.init_(build(), recipe="torch", seed=0)
    planned = {row.key: (_KIND.get(row.scheme, row.scheme), row.std) for row in report}
    assert planned.keys() == expected.keys()
    for key, (kind, std) in expected.items():
        assert planned[key][0] == kind, key
        assert planned[key][1] == pytest.approx(std, rel=1e-12, abs=0), key


def _groups(modules: nn.ModuleList) -> dict[str, torch.Tensor]:
    """Each MHA parameter (in_proj_weight by q/k/v block) pooled over all modules of the stack."""
    pooled: dict[str, list[torch.Tensor]] = {}
    for module in modules:
        for name, param in module.named_parameters():
            if name == "in_proj_weight":
                for part, block in zip("qkv", param.detach().chunk(3), strict=True):
                    pooled.setdefault(f"{name}[{part}]", []).append(block.reshape(-1))
            else:
                pooled.setdefault(name, []).append(param.detach().reshape(-1))
    return {name: torch.cat(values) for name, values in pooled.items()}


@pytest.mark.parametrize(
    ("kwargs", "count"),
    [({}, 8), ({"kdim": KDIM, "vdim": KDIM, "add_bias_kv": True}, 400)],
    ids=["fused", "kdim"],
)
def test_measured_std_equals_torch_constructor_with_power(kwargs: dict[str, object], count: int) -> None:
    """Sample std of winit's draw vs torch's own init, pooled over ``count`` modules of E = 64: every group
    holds ≥ 25,000 values (std SE ≤ 0.45% each), tolerance 2.5%, and the same check fails ×1.05 either way."""
    e = 64
    torch.manual_seed(0)
    theirs = _groups(nn.ModuleList(nn.MultiheadAttention(e, H, **kwargs) for _ in range(count)))
    torch.manual_seed(1)
    model = nn.ModuleList(nn.MultiheadAttention(e, H, **kwargs) for _ in range(count))
    wt.init_(model, recipe="torch", seed=0)
    mine = _groups(model)
    assert mine.keys() == theirs.keys()
    for name, reference in theirs.items():
        if not reference.any():  # torch zeroes it: so must winit
            assert not mine[name].any(), name
            continue
        assert reference.numel() >= 25_000, name
        ratio = float(mine[name].std() / reference.std())
        assert abs(ratio - 1) < 0.025, (name, ratio)
        assert abs(ratio * 1.05 - 1) > 0.025 and abs(ratio / 1.05 - 1) > 0.025, (name, ratio)


def test_hf_style_linear_qkv_keep_linear_defaults() -> None:
    """q/k/v as Linears (HF models): Linear's kaiming_uniform_(a=√5) and U(±1/√fan_in) bias, not MHA's laws."""

    class Attention(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.num_heads = H
            self.q, self.k, self.v, self.o = (nn.Linear(E, E) for _ in range(4))

    _, report = wt.init_(Attention(), recipe="torch", seed=0)
    for row in report:
        assert row.scheme == ("he_uniform" if row.name.endswith("weight") else "random_uniform"), row.key
        assert row.std == pytest.approx(1 / math.sqrt(3 * E), rel=1e-12), row.key


def _torch_stds(kdim: int) -> dict[str, float]:
    """q, k, v, o (weights) and bq, bk, bv, ob (biases) -> the std torch's MHA constructor gives them."""
    names = {"in_proj_weight[": "", "_proj_weight": "", "in_proj_bias[": "b", "out_proj.weight": "o"}
    out = {}
    for key, (_, std) in _mha_laws(kdim=kdim).items():
        for old, new in names.items():
            key = key.replace(old, new)
        out[key.rstrip("]").replace("out_proj.bias", "ob")] = std
    return out


@pytest.mark.parametrize("kdim", [E, KDIM], ids=["fused", "kdim"])
def test_keras_and_flax_mha_port_torch_mha_laws(kdim: int) -> None:
    keras = pytest.importorskip("keras")
    nnx = pytest.importorskip("flax.nnx")
    import winit.flax as wf
    import winit.keras as wk

    expected = _torch_stds(kdim)
    query, key = keras.Input((5, E)), keras.Input((5, kdim))
    layer = keras.layers.MultiHeadAttention(H, E // H)
    _, report = wk.init_(keras.Model([query, key], layer(query, key)), "torch", seed=0)
    names = {"query": "q", "key": "k", "value": "v", "attention_output": "o"}
    for row in report:
        sub, tensor = row.name.split("/")[-2:]
        short = names[sub] if tensor == "kernel" else "ob" if sub == "attention_output" else "b" + names[sub]
        assert row.std == pytest.approx(expected[short], rel=1e-12, abs=0), ("keras", row.name)
    module = nnx.MultiHeadAttention(H, E, in_kv_features=kdim, decode=False, rngs=nnx.Rngs(0))
    _, report = wf.init_(module, "torch", seed=0)
    names = {"query": "q", "key": "k", "value": "v", "out": "o"}
    for row in report:
        sub, tensor = row.name.split(".")[-2:]
        short = names[sub] if tensor == "kernel" else "ob" if sub == "out" else "b" + names[sub]
        assert row.std == pytest.approx(expected[short], rel=1e-12, abs=0), ("flax", row.name)
    import flax.linen
    import jax
    import jax.numpy as jnp

    class Block(flax.linen.Module):  # linen finds attention by the module names on each parameter's path
        @flax.linen.compact
        def __call__(self, x: jax.Array, y: jax.Array) -> Any:
            return flax.linen.MultiHeadDotProductAttention(num_heads=H, qkv_features=E)(x, y)

    tree = Block().init(jax.random.key(0), jnp.ones((1, 5, E)), jnp.ones((1, 5, kdim)))
    _, report = wf.init_params(tree, "torch", seed=0)
    for row in report:
        sub, tensor = row.name.split("/")[-2:]
        short = names[sub] if tensor == "kernel" else "ob" if sub == "out" else "b" + names[sub]
        assert row.std == pytest.approx(expected[short], rel=1e-12, abs=0), ("linen", row.name)
