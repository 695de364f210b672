"""``winit.torch.init_(model, recipe=...)``: laws by role from a recipe, on real HF models and across frameworks.

* Cross-framework: one small transformer (embedding, pre-LN blocks of attention q/k/v/o and a
  two-layer MLP, final norm, head) in PyTorch (fused ``nn.MultiheadAttention`` and separate q/k/v
  Linears), Flax nnx (tests/test_flax_model.py) and Keras (tests/keras_cases/model.py): under
  ``rng="portable"`` the same recipe and seed give the same weights, layouts translated.
* HF parity: the law of every parameter equals the one HF's own ``_init_weights`` applies
  (recorded by replacing ``transformers.initialization``'s functions), for GPT-2 (``gpt2``), BERT
  and Llama (``bert``) and T5 (``t5``).
* Measured: each std group's sample RMS within 2% of the planned std with n ≥ 25,000 (SE ≤ 0.45%),
  and the same check fails for a 5% error either way.
"""

from __future__ import annotations

import importlib.util
import math
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import torch
from torch import nn

import winit
import winit.torch as wt
from winit import Role

_TESTS = Path(__file__).parent


# -- a small transformer, as Flax and Keras tests write it -------------------------------------------
class SeparateAttention(nn.Module):
    """q, k, v and o as four Linears; ``num_heads`` marks it as attention."""

    def __init__(self, d: int, h: int) -> None:
        super().__init__()
        self.num_heads = h
        self.q, self.k, self.v, self.o = (nn.Linear(d, d) for _ in range(4))


class Block(nn.Module):
    def __init__(self, d: int, h: int, d_ff: int, fused: bool) -> None:
        super().__init__()
        self.ln1 = nn.LayerNorm(d)
        self.attn = nn.MultiheadAttention(d, h, batch_first=True) if fused else SeparateAttention(d, h)
        self.ln2 = nn.LayerNorm(d)
        self.fc1 = nn.Linear(d, d_ff)
        self.fc2 = nn.Linear(d_ff, d)


class Transformer(nn.Module):
    """tests/test_flax_model.py's Transformer in PyTorch (d 32, 4 heads, d_ff 64, 2 blocks, vocab 64)."""

    def __init__(self, fused: bool = True, d: int = 32, h: int = 4, d_ff: int = 64, layers: int = 2) -> None:
        super().__init__()
        self.embed = nn.Embedding(64, d)
        self.blocks = nn.ModuleList(Block(d, h, d_ff, fused) for _ in range(layers))
        self.ln_f = nn.LayerNorm(d)
        self.head = nn.Linear(d, 64)


def _nnx_name(key: str) -> tuple[str, str]:
    """(nnx dotted path, q/k/v block or "") of a report key of :class:`Transformer`."""
    fused = {"in_proj_weight": "kernel", "in_proj_bias": "bias"}
    qkv = {"q": "query", "k": "key", "v": "value"}
    name, _, part = key.partition("[")
    parts = name.split(".")
    module, attr = parts[:-1], parts[-1]
    if module[-1] in fused or attr in fused:  # blocks.0.attn.in_proj_weight[q]
        return ".".join([*module, qkv[part.rstrip("]")], fused[attr]]), ""
    if module[-1] in qkv:
        module[-1] = qkv[module[-1]]
    elif module[-1] in ("o", "out_proj"):
        module[-1] = "out"
    names = {"weight": "embedding" if module == ["embed"] else "kernel", "bias": "bias"}
    if module[-1].startswith("ln"):
        names["weight"] = "scale"
    return ".".join([*module, names[attr]]), ""


def _canonical(nnx_name: str, value: np.ndarray) -> np.ndarray:
    """A Flax/Keras value in PyTorch's layout: kernels (in..., out...) -> (out, in); biases flat."""
    if nnx_name.endswith(("query.kernel", "key.kernel", "value.kernel")):
        return value.reshape(value.shape[0], -1).T
    if nnx_name.endswith("kernel"):
        return value.reshape(-1, value.shape[-1]).T
    return value if nnx_name.endswith("embedding") else value.reshape(-1)


def _load(name: str, path: Path) -> Any:
    spec = importlib.util.spec_from_file_location(name, path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


CROSS: dict[str, dict[str, Any]] = {"gpt2": {}, "mup": {"base_width": 16}, "t5": {}}


@pytest.fixture(scope="module")
def other_frameworks() -> dict[str, dict[str, dict[str, tuple[Any, np.ndarray]]]]:
    """recipe -> framework -> nnx name -> (report row, value in PyTorch's layout), from Flax nnx and Keras."""
    pytest.importorskip("flax.nnx")
    pytest.importorskip("keras")
    flax_cases = _load("winit_flax_model_tests_r", _TESTS / "test_flax_model.py")
    keras_cases = _load("winit_keras_model_cases_r", _TESTS / "keras_cases" / "model.py")

    import winit.flax as wf
    import winit.keras as wk

    out: dict[str, dict[str, dict[str, tuple[Any, np.ndarray]]]] = {}
    keras_model = keras_cases.build()
    to_nnx = keras_cases.nnx_names(keras_model)
    variables = {v.path: v for v in keras_model.weights}
    for recipe, sizes in CROSS.items():
        model = flax_cases.abstract()
        _, report = wf.init_(model, recipe, seed=0, rng="portable", **sizes)
        flax = {r.name: (r, _canonical(r.name, flax_cases._value(model, r.name))) for r in report}
        _, report = wk.init_(keras_model, recipe, seed=0, rng="portable", **sizes)
        keras_rows = {}
        for r in report:
            value = np.asarray(variables[r.name].numpy())
            keras_rows[to_nnx[r.name]] = (r, _canonical(to_nnx[r.name], value))
        out[recipe] = {"flax": flax, "keras": keras_rows}
    return out


@pytest.mark.parametrize("fused", [True, False], ids=["nn.MultiheadAttention", "separate-qkv"])
@pytest.mark.parametrize("recipe", list(CROSS))
def test_portable_recipe_gives_the_weights_flax_and_keras_give(
    recipe: str, fused: bool, other_frameworks: dict[str, Any]
) -> None:
    from winit.backends._portable import NORMAL_ULPS

    model = Transformer(fused)
    _, report = wt.init_(model, recipe=recipe, seed=0, rng="portable", **CROSS[recipe])
    params = dict(model.named_parameters())
    assert len(report) == len(other_frameworks[recipe]["flax"]) == len(other_frameworks[recipe]["keras"])
    for row in report:
        name, _ = _nnx_name(row.key)
        value = params[row.name].detach()
        if row.part:
            index = "qkv".index(row.part)
            value = value[index * 32 : (index + 1) * 32]
        mine = value.numpy()
        for framework, rows in other_frameworks[recipe].items():
            other, theirs = rows[name]
            assert (other.role, other.scheme) == (row.role, row.scheme), (framework, row.key)
            assert other.std == pytest.approx(row.std, rel=1e-12, abs=0), (framework, row.key)
            assert other.lr_multiplier == pytest.approx(row.lr_multiplier, rel=1e-12), (framework, row.key)
            assert mine.shape == theirs.shape, (framework, row.key)
            if row.scheme != "random_normal" and row.scheme != "truncated_normal":
                np.testing.assert_array_equal(mine, theirs, err_msg=f"{framework} {row.key}")
            else:  # the portable normal guarantee: within a few ulps across frameworks
                ulp = np.spacing(np.maximum(np.abs(theirs), np.float32(row.std)))
                assert np.all(np.abs(mine - theirs) <= NORMAL_ULPS * ulp), (framework, row.key)
            assert not np.array_equal(mine, np.zeros_like(mine)) or row.std == 0


def test_hf_conv1d_drawn_in_the_canonical_layout() -> None:
    """GPT-2's (in, out) ``c_attn``: its q block is the canonical (out, in) stream, transposed."""
    model = _hf(
        "GPT2LMHeadModel", "GPT2Config", n_embd=32, n_layer=2, n_head=4, vocab_size=64, n_positions=16
    )
    _, report = wt.init_(model, recipe="gpt2", seed=3, rng="portable")
    weight = model.transformer.h[1].attn.c_attn.weight.detach()
    q = winit.init("random_normal", (32, 32), backend="torch", seed=3, rng="portable", stddev=0.02,
                   stream="block1/attention_qkv.q#0/weight")  # fmt: skip
    torch.testing.assert_close(weight[:, :32], q.T, rtol=0, atol=0)
    assert report["transformer.h.1.attn.c_attn.weight[k]"].std == 0.02


# -- HF's own _init_weights, recorded ----------------------------------------------------------------
def _hf(model_cls: str, config_cls: str, **config: Any) -> nn.Module:
    transformers = pytest.importorskip("transformers")
    torch.manual_seed(0)
    model: nn.Module = getattr(transformers, model_cls)(getattr(transformers, config_cls)(**config))
    return model.eval()


@contextmanager
def _recorded() -> Iterator[dict[int, tuple[str, float]]]:
    """id(tensor) -> (law, number) of the last ``transformers.initialization`` call on it; nothing is drawn."""
    import transformers.initialization as hf_init

    laws: dict[int, tuple[str, float]] = {}

    def record(law: str, key: str = "", position: int = 0, default: float = 0.0) -> Callable[..., Any]:
        def fake(tensor: torch.Tensor, *args: Any, **kwargs: Any) -> torch.Tensor:
            value = kwargs.get(key, args[position] if len(args) > position else default) if key else default
            laws[id(tensor)] = (law, float(value))
            return tensor

        return fake

    replaced = {"normal_": record("random_normal", "std", 1, 1.0), "zeros_": record("zeros"), "ones_": record("ones"),
                "constant_": record("constant", "val", 0)}  # fmt: skip
    saved = {name: getattr(hf_init, name) for name in replaced}
    try:
        for name, fake in replaced.items():
            setattr(hf_init, name, fake)
        yield laws
    finally:
        for name, original in saved.items():
            setattr(hf_init, name, original)


def _hf_laws(model: nn.Module) -> dict[str, tuple[str, float]]:
    """Each parameter's law under HF's ``_init_weights`` (applied children first, as ``init_weights`` does)."""
    with _recorded() as laws:
        model.apply(model._init_weights)  # type: ignore[operator]
    return {name: laws[id(p)] for name, p in model.named_parameters() if id(p) in laws}


def _planned(row: winit.InitRecord) -> tuple[str, float]:
    if row.scheme == "random_normal":
        return row.scheme, row.std
    if row.scheme == "constant":  # T5LayerNorm: factor × 1
        return row.scheme, 1.0
    return row.scheme, 0.0


HF_CASES: dict[str, tuple[str, str, str, dict[str, Any]]] = {
    "gpt2": ("gpt2", "GPT2LMHeadModel", "GPT2Config",
             {"n_embd": 64, "n_layer": 2, "n_head": 4, "vocab_size": 512, "n_positions": 64}),
    "bert": ("bert", "BertForMaskedLM", "BertConfig",
             {"hidden_size": 64, "num_hidden_layers": 2, "num_attention_heads": 4, "intermediate_size": 256,
              "vocab_size": 512, "max_position_embeddings": 64}),
    "llama": ("bert", "LlamaForCausalLM", "LlamaConfig",
              {"hidden_size": 64, "num_hidden_layers": 2, "num_attention_heads": 4, "num_key_value_heads": 2,
               "intermediate_size": 256, "vocab_size": 512, "max_position_embeddings": 64}),
    "t5": ("t5", "T5ForConditionalGeneration", "T5Config",
           {"d_model": 64, "d_kv": 32, "num_heads": 4, "d_ff": 256, "num_layers": 2, "vocab_size": 512,
            "decoder_start_token_id": 0}),
}  # fmt: skip


@pytest.mark.parametrize("case", list(HF_CASES))
def test_every_parameter_gets_the_law_hf_init_weights_gives(case: str) -> None:
    recipe, model_cls, config_cls, config = HF_CASES[case]
    model = _hf(model_cls, config_cls, **config)
    hf = _hf_laws(model)
    report = wt.explain_model(model, recipe=recipe)
    rows = [row for row in report if not row.tied_to]
    assert {row.name for row in rows} == set(hf), "every parameter HF initializes, and no other"
    for row in rows:
        law, number = _planned(row)
        assert law == hf[row.name][0] and number == pytest.approx(hf[row.name][1], rel=1e-12), (
            row.key,
            hf[row.name],
        )
    stds = {round(row.std, 9) for row in rows if row.std > 0}
    assert len(stds) >= 2 or recipe == "bert"  # the depth / width factors are in play


# -- measured on the models --------------------------------------------------------------------------
def _std_ok(sample: np.ndarray, std: float) -> bool:
    """Sample RMS within 2% of ``std``; n ≥ 25,000 (SE ≤ 0.45%), so a 5% error lands ≥ 6 SE outside."""
    assert sample.size >= 25_000, sample.size
    return abs(float(np.sqrt(np.mean(np.square(sample, dtype=np.float64)))) / std - 1) < 0.02


def _groups(model: nn.Module, report: winit.InitReport) -> dict[float, np.ndarray]:
    """Planned std -> every drawn value planned with it (a fused parameter's blocks must share one std)."""
    params = dict(model.named_parameters())
    by_name: dict[str, set[float]] = {}
    for row in report:
        if row.std > 0 and not row.kept and not row.tied_to:
            by_name.setdefault(row.name, set()).add(round(row.std, 12))
    groups: dict[float, list[np.ndarray]] = {}
    for name, stds in by_name.items():
        assert len(stds) == 1, name
        groups.setdefault(stds.pop(), []).append(params[name].detach().numpy().ravel())
    return {std: np.concatenate(values) for std, values in groups.items()}


MEASURED: dict[str, tuple[str, str, dict[str, Any], int]] = {
    "gpt2": ("gpt2", "gpt2", {}, 2),  # σ₀; σ₀/√(2L)
    "bert": ("bert", "bert", {}, 1),
    "t5": ("t5", "t5", {}, 5),  # q, k/v/wi/relative bias, o, wo, embedding
    "llama-torchtitan": ("llama", "torchtitan", {}, 5),  # σ₀; σ₀/√2 (ℓ=0); σ₀/2 (ℓ=1); embedding 1; head d^-½
    "llama-mup": ("llama", "mup", {"base_width": 16}, 2),  # hidden σ₀/√4; embedding σ₀ (q and head 0)
}


@pytest.mark.parametrize("case", list(MEASURED))
def test_measured_std_per_group_with_power(case: str) -> None:
    model_case, recipe, sizes, count = MEASURED[case]
    _, model_cls, config_cls, config = HF_CASES[model_case]
    model = _hf(model_cls, config_cls, **config)
    _, report = wt.init_(model, recipe=recipe, seed=7, **sizes)
    groups = _groups(model, report)
    assert len(groups) == count, sorted(groups)
    for std, sample in groups.items():
        assert _std_ok(sample, std), (std, float(np.sqrt(np.mean(sample.astype(np.float64) ** 2))))
        assert not _std_ok(sample * 1.05, std) and not _std_ok(sample, std * 1.05)  # the check has power


def test_torchtitan_on_llama_reads_depth_per_block_and_gate_up_parts() -> None:
    model = _hf("LlamaForCausalLM", "LlamaConfig", **HF_CASES["llama"][3])
    report = wt.explain_model(model, recipe="torchtitan")
    for layer in range(2):
        scaled = 0.02 / math.sqrt(2 * (layer + 1))
        for name in ("self_attn.o_proj", "mlp.up_proj", "mlp.down_proj"):  # wo, w3, w2
            assert report[f"model.layers.{layer}.{name}.weight"].std == pytest.approx(scaled, rel=1e-6)
        for name in ("self_attn.q_proj", "self_attn.k_proj", "mlp.gate_proj"):  # wq/wk, w1
            assert report[f"model.layers.{layer}.{name}.weight"].std == pytest.approx(0.02, rel=1e-6)
    flat = wt.explain_model(model, recipe="torchtitan", depth_init=False)  # a recipe constant as a keyword
    assert flat["model.layers.0.mlp.down_proj.weight"].std == pytest.approx(0.02 / 2, rel=1e-6)
    pdf3 = math.exp(-4.5) / math.sqrt(2 * math.pi)
    cut = math.sqrt(1 - 6 * pdf3 / math.erf(3 / math.sqrt(2)))
    assert report["lm_head.weight"].std == pytest.approx(64**-0.5 * cut, rel=1e-6)  # d read from the model


def test_mup_lr_multipliers_in_the_report() -> None:
    model = _hf(
        "GPT2LMHeadModel", "GPT2Config", n_embd=64, n_layer=2, n_head=4, vocab_size=64, n_positions=16
    )
    _, report = wt.init_(model, recipe="mup", seed=0, base_width=16)  # width_mult = 64 / 16
    for row in report:
        hidden = row.role in ("attention_qkv", "attention_out", "mlp_in", "mlp_out")
        assert row.lr_multiplier == (0.25 if hidden else 1.0), row.key
    assert report["transformer.h.0.attn.c_attn.weight[q]"].scheme == "zeros"  # zero query
    assert report["transformer.h.0.attn.c_attn.weight[k]"].std == pytest.approx(0.02 / 2)
    assert torch.all(model.transformer.h[0].attn.c_attn.weight[:, :64] == 0)
    _, other = wt.init_(model, recipe="mup", seed=0, width_mult=2.0)
    assert other["transformer.h.1.mlp.c_fc.weight"].lr_multiplier == 0.5
    assert wt.explain_model(model, recipe="gpt2")["transformer.h.0.mlp.c_fc.weight"].lr_multiplier == 1.0


# -- rules over the recipe, errors before any write --------------------------------------------------
def test_rules_apply_over_the_recipe() -> None:
    model = Transformer(fused=False)
    before = model.blocks[0].fc2.weight.detach().clone()
    rules = {Role.MLP_OUT: "keep", "head.weight": "zeros", nn.LayerNorm: "keep"}
    _, report = wt.init_(model, rules, recipe="gpt2", seed=0, bias="ones")
    assert torch.equal(model.blocks[0].fc2.weight, before) and report["blocks.0.fc2.weight"].kept
    assert torch.all(model.head.weight == 0) and report["head.weight"].scheme == "zeros"
    assert report["blocks.1.ln2.weight"].kept and report["blocks.1.attn.q.bias"].scheme == "ones"
    assert report["blocks.1.attn.q.weight"].std == 0.02  # the recipe where no rule speaks
    assert report["blocks.1.attn.o.weight"].std == pytest.approx(0.01)  # σ₀/√(2L), L = 2 read from the stack


def test_roles_the_recipe_leaves_out_follow_torch_and_default_is_unchanged() -> None:
    model = Transformer(fused=True)
    deep = wt.explain_model(model, recipe="deepnet")  # no embedding law: torch's N(0, 1)
    assert deep["embed.weight"].std == 1.0
    assert deep["blocks.1.attn.in_proj_weight[v]"].gain == pytest.approx((8 * 2) ** -0.25)
    assert deep["blocks.1.attn.in_proj_weight[q]"].gain == 1.0
    torch_recipe = wt.explain_model(model, recipe="torch")
    bias = torch_recipe["blocks.0.fc2.bias"]  # U(±1/√fan_in of its weight): fan_in = d_ff
    assert bias.scheme == "random_uniform" and bias.std == pytest.approx(1 / math.sqrt(64) / math.sqrt(3))
    default = wt.explain_model(model)  # no recipe: the role defaults, one row per fused bias
    assert "blocks.0.attn.in_proj_bias" in default and "blocks.0.attn.in_proj_bias[q]" not in default
    assert default["blocks.0.fc2.weight"].std == pytest.approx(0.02 / 2)


def test_missing_size_and_bad_keywords_fail_before_any_write() -> None:
    model = Transformer(fused=False)
    snapshot = {k: v.clone() for k, v in model.state_dict().items()}
    with pytest.raises(ValueError, match=r"blocks\.0\.attn\.q\.weight .*needs 'width_mult'.*width_mult="):
        wt.init_(model, recipe="mup", seed=0)
    with pytest.raises(TypeError, match=r"unexpected keyword argument 'base_widht'.*base_width"):
        wt.init_(model, recipe="mup", seed=0, base_widht=16)
    with pytest.raises(TypeError, match="pass recipe="):
        wt.init_(model, seed=0, L=4)
    with pytest.raises(ValueError, match="scheme must be a mapping"):
        wt.init_(model, "he_normal", recipe="gpt2")
    with pytest.raises(ValueError, match="unknown recipe 'gtp2'"):
        wt.init_(model, recipe="gtp2")
    with pytest.raises(TypeError, match="must be a number"):
        wt.init_(model, recipe="gpt2", L="4")
    for key, value in model.state_dict().items():
        assert torch.equal(value, snapshot[key]), key
    _, report = wt.init_(model, recipe="mup", seed=0, base_width=8, L=6)  # sizes override what is read
    assert report["blocks.0.fc1.weight"].std == pytest.approx(0.02 / 2)
    assert wt.explain_model(model, recipe="gpt2", L=8)["blocks.0.fc2.weight"].std == pytest.approx(0.02 / 4)


def test_meta_model_with_a_recipe_equals_the_built_one() -> None:
    config = {"n_embd": 32, "n_layer": 2, "n_head": 4, "vocab_size": 64, "n_positions": 16}
    built = _hf("GPT2LMHeadModel", "GPT2Config", **config)
    with torch.device("meta"):
        meta = _hf("GPT2LMHeadModel", "GPT2Config", **config)
    wt.init_(built, recipe="gpt2", seed=5)
    wt.init_(meta, recipe="gpt2", seed=5, device="cpu")
    for (name, a), b in zip(built.state_dict().items(), meta.state_dict().values(), strict=True):
        assert torch.equal(a, b), name


def test_gemma_offset_norms_stay_zero_and_t5_norms_take_the_recipe() -> None:
    gemma = _hf("GemmaForCausalLM", "GemmaConfig", hidden_size=32, num_hidden_layers=1, num_attention_heads=4,
                num_key_value_heads=2, head_dim=8, intermediate_size=64, vocab_size=64)  # fmt: skip
    _, report = wt.init_(gemma, recipe="gpt2", seed=0)
    assert report["model.norm.weight"].kept and torch.all(gemma.model.norm.weight == 0)  # (1 + w): w = 0
    t5 = _hf("T5ForConditionalGeneration", "T5Config", **{**HF_CASES["t5"][3], "initializer_factor": 0.5})
    _, report = wt.init_(t5, recipe="t5", seed=0, factor=0.5)
    assert torch.all(t5.encoder.final_layer_norm.weight == 0.5)
    assert report["shared.weight"].std == 0.5


def test_cli_explain_model_with_a_recipe_and_sizes() -> None:
    import io

    from winit.cli import main

    out = io.StringIO()
    args = [
        "explain-model",
        "tests.test_torch_roles:tiny_gpt2",
        "--plain",
        "--recipe",
        "mup",
        "--size",
        "base_width=8",
    ]
    assert main(args, out=out) == 0
    lines = out.getvalue().splitlines()
    header = lines[1].split()
    rows = {line.split()[0]: dict(zip(header, line.split(), strict=False)) for line in lines[3:]}
    assert rows["transformer.h.0.attn.c_attn.weight[q]"]["scheme"] == "zeros"  # mup's zero query
    assert rows["transformer.h.0.mlp.c_fc.weight"]["std"] == f"{0.02 / 2:.4g}"  # σ₀ / √(32 / 8)
    errors = io.StringIO()
    assert main(["explain-model", "tests.test_torch_roles:tiny_gpt2", "--recipe", "mup"], out=errors) == 2
    assert main(["explain-model", "tests.test_torch_roles:tiny_gpt2", "--size", "L=4"], out=errors) == 2


def test_a_shard_of_a_canonical_piece_is_that_block_of_the_whole(monkeypatch: pytest.MonkeyPatch) -> None:
    """A rank holding rows 8:24 and columns 40:80 of GPT-2's (in, out) c_attn (across the q/k and k/v block
    boundaries) and a block of an (out, in) Linear writes exactly those blocks of the unsharded values."""
    import winit._torch_model as torch_model

    config = {"n_embd": 32, "n_layer": 2, "n_head": 4, "vocab_size": 64, "n_positions": 16}
    whole = _hf("GPT2LMHeadModel", "GPT2Config", **config)
    wt.init_(whole, recipe="t5", seed=4, rng="portable")  # t5: q and k/v laws differ
    sharded = _hf("GPT2LMHeadModel", "GPT2Config", **config)
    blocks = {
        "transformer.h.1.attn.c_attn.weight": ((8, 24), (40, 80)),
        "transformer.h.0.mlp.c_fc.weight": ((0, 32), (100, 128)),
    }
    params = dict(sharded.named_parameters())
    locals_ = {
        id(params[name]): torch.zeros(b[0][1] - b[0][0], b[1][1] - b[1][0]) for name, b in blocks.items()
    }
    spans = {id(params[name]): b for name, b in blocks.items()}
    original = torch_model._local_block

    def local_block(param: torch.Tensor) -> tuple[torch.Tensor, tuple[tuple[int, int], ...]]:
        return (locals_[id(param)], spans[id(param)]) if id(param) in spans else original(param)

    monkeypatch.setattr(torch_model, "_local_block", local_block)
    wt.init_(sharded, recipe="t5", seed=4, rng="portable")
    reference = dict(whole.named_parameters())
    for name, ((r0, r1), (c0, c1)) in blocks.items():
        torch.testing.assert_close(
            locals_[id(params[name])], reference[name][r0:r1, c0:c1].detach(), rtol=0, atol=0
        )


class NamedAttention(nn.Module):
    """q, k, v defined out of order (key, value, query) or under names that say nothing."""

    def __init__(self, d: int, names: tuple[str, str, str]) -> None:
        super().__init__()
        self.num_heads = 4
        for name in names:
            setattr(self, name, nn.Linear(d, d, bias=False))
        self.out = nn.Linear(d, d, bias=False)


@pytest.mark.parametrize(
    ("names", "query"),
    [(("key", "value", "query"), "query"), (("wk", "wq", "wv"), "wq"), (("a", "b", "c"), "a")],
)
def test_query_found_by_names_when_they_all_say_so_else_by_order(
    names: tuple[str, str, str], query: str
) -> None:
    d = 32
    model = nn.Sequential(*(nn.Sequential(nn.LayerNorm(d), NamedAttention(d, names)) for _ in range(2)))
    report = wt.explain_model(model, recipe="t5", d_kv=8)  # q: (d·d_kv)^-½, k and v: d^-½
    for name in names:
        expected = (d * 8) ** -0.5 if name == query else d**-0.5
        assert report[f"1.1.{name}.weight"].std == pytest.approx(expected), name


def test_fused_gate_up_is_one_layers_gates_with_the_streams_keras_and_flax_use() -> None:
    """A fused gate_up Linear: blocks gate, up, each its law, streams ``block{ℓ}/mlp_in#0/weight[gate|up]`` (the
    names tests/test_flax_model.py checks for nnx); its bias stays whole, as Keras' and Flax's."""
    from winit._roles import canonical_stream

    d, d_ff = 32, 48

    class Swiglu(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.attn = nn.MultiheadAttention(d, 4, batch_first=True)
            self.gate_up = nn.Linear(d, 2 * d_ff)
            self.down = nn.Linear(d_ff, d, bias=False)

    model = nn.Sequential(nn.ModuleList([Swiglu(), Swiglu()]), nn.Linear(d, 10))
    _, report = wt.init_(model, recipe="torchtitan", seed=0, rng="portable")
    rows = [row for row in report if row.role == "mlp_in"]
    assert [(row.name, row.part) for row in rows] == [
        (f"0.{b}.gate_up.weight", part) for b in range(2) for part in ("gate", "up")
    ]
    assert [row.std for row in rows] == pytest.approx([0.02, 0.02 / math.sqrt(2), 0.02, 0.02 / 2], rel=1e-12)
    assert "0.1.gate_up.bias" in report and "0.1.gate_up.bias[up]" not in report
    law = winit.recipe("torchtitan").law("mlp_in", "up", L=2, l=1)
    stream = canonical_stream("mlp_in", block=1) + "[up]"
    up = winit.init(law, (d_ff, d), backend="torch", seed=0, rng="portable", stream=stream, layout="torch")
    torch.testing.assert_close(model[0][1].gate_up.weight[d_ff:].detach(), up, rtol=0, atol=0)
