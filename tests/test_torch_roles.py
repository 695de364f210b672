"""Roles of real models' parameters, read from structure, and the default law of each role (winit.torch.init_)."""

from __future__ import annotations

import math
import warnings
from typing import Any

import pytest

torch = pytest.importorskip("torch")
pytest.importorskip("transformers")

from torch import nn  # noqa: E402

import winit  # noqa: E402
import winit.torch as wt  # noqa: E402
from tests.hf_zoo import ZOO  # noqa: E402
from winit._roles import Role  # noqa: E402

ROLES = {role.value for role in Role}


@pytest.fixture(scope="module", autouse=True)
def _quiet() -> Any:
    import transformers

    transformers.logging.set_verbosity_error()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        yield


def _init(arch: str, **kwargs: Any) -> tuple[nn.Module, dict[str, Any], Any]:
    model, inputs = ZOO[arch]()
    model, report = wt.init_(model, seed=0, **kwargs)
    return model, inputs, report


def _rows(report: Any, role: str) -> list[Any]:
    return [r for r in report if r.role == role and not r.tied_to]


def _first_output(out: Any) -> Any:
    if isinstance(out, tuple):
        return out[0]
    return next(v for v in out.values() if isinstance(v, torch.Tensor))


@pytest.mark.parametrize("arch", sorted(ZOO))
def test_every_zoo_model_initializes_with_default_rules_and_runs(arch: str) -> None:
    model, inputs, report = _init(arch)
    names = {r.name for r in report if not r.tied_to}
    owners: dict[int, str] = {}
    for name, param in model.named_parameters():  # tied parameters are named once, under the first owner
        owners.setdefault(id(param), name)
    assert names == set(owners.values()), arch
    assert all(r.role in ROLES for r in report), [r.key for r in report if r.role not in ROLES]
    kept = {r.role for r in report if r.scheme == "keep"}
    assert kept <= {"norm_scale", "norm_offset", "layer_scale", "other"}, kept
    embeddings = _rows(report, "embedding") + _rows(report, "positional")
    assert all(r.scheme == "random_normal" and r.std == 0.02 for r in embeddings), arch
    with torch.no_grad():
        assert torch.isfinite(_first_output(model(**inputs))).all(), arch


def test_gpt2_conv1d_is_in_out_and_c_attn_is_three_column_blocks() -> None:
    model, _, report = _init("gpt2")
    d, depth = 32, 2
    for part in "qkv":
        row = report[f"transformer.h.0.attn.c_attn.weight[{part}]"]
        assert (row.role, row.layout, row.shape, row.fan_in, row.fan_out) == (
            "attention_qkv",
            "keras",
            (d, d),
            d,
            d,
        )
    c_fc = report["transformer.h.1.mlp.c_fc.weight"]
    assert (c_fc.role, c_fc.fan_in, c_fc.fan_out) == ("mlp_in", d, 4 * d)
    assert report["transformer.h.0.attn.c_proj.weight"].role == "attention_out"
    out = report["transformer.h.1.mlp.c_proj.weight"]
    assert (out.role, out.fan_in) == ("mlp_out", 4 * d)
    assert out.std == pytest.approx(0.02 / math.sqrt(2 * depth))  # residual outputs: 0.02/√(2L)
    assert report["transformer.h.0.attn.c_attn.weight[q]"].std == 0.02
    # the q, k and v column blocks are drawn apart: each has the std of its own (d, d) block
    weight = model.transformer.h[0].attn.c_attn.weight.detach()
    assert [report["transformer.h.0.attn.c_attn.weight[q]"].std] * 3 == [
        report[f"transformer.h.0.attn.c_attn.weight[{p}]"].std for p in "qkv"
    ]
    assert weight.shape == (d, 3 * d) and not torch.equal(weight[:, :d], weight[:, d : 2 * d])
    assert report["transformer.wte.weight"].role == "embedding"
    assert report["transformer.wpe.weight"].role == "positional"
    tied = report["lm_head.weight"]  # tied to wte: written once, as the embedding
    assert (tied.tied_to, tied.role, tied.scheme) == ("transformer.wte.weight", "embedding", "tied")


@pytest.mark.parametrize("rng", ["native", "portable"])
def test_column_blocks_get_their_own_fans_on_both_paths(rng: str) -> None:
    """glorot on GPT-2's (in, out) c_attn: each (d, d) column block has std √(2/2d), not the whole's √(2/4d)."""
    name = "transformer.h.0.attn.c_attn.weight"
    model, _, report = _init("gpt2", scheme="glorot_normal", rng=rng)
    weight = model.get_parameter(name).detach()
    d = weight.shape[0]
    for index, part in enumerate("qkv"):
        row = report[f"{name}[{part}]"]
        assert (row.shape, row.fan_in, row.fan_out) == ((d, d), d, d)
        block = weight[:, index * d : (index + 1) * d]
        assert block.std().item() == pytest.approx(math.sqrt(1 / d), rel=0.1)  # the whole's would be 0.71×
    if rng == "portable":  # a column block takes the parameter's flat indices: the same as a whole draw
        ref = winit.init("glorot_normal", (d, d), backend="torch", rng="portable", seed=0, stream=name)
        assert not torch.equal(weight[:, :d], ref)  # the block is not drawn as a fresh (d, d) tensor
        law = winit.get("random_normal").with_(stddev=0.02)
        model, _, _ = _init("gpt2", rng=rng)  # fan-free default: the blocks are the whole draw's columns
        whole = winit.init(law, (d, 3 * d), backend="torch", rng="portable", seed=0, stream=name)
        torch.testing.assert_close(model.get_parameter(name).detach(), whole, rtol=0, atol=0)


def test_llama_family_roles() -> None:
    for arch in ("llama", "mistral", "qwen2", "qwen3", "gemma"):
        _, _, report = _init(arch)
        prefix = "model.layers.1"
        roles = {p: report[f"{prefix}.self_attn.{p}_proj.weight"].role for p in "qkvo"}
        assert roles == {
            "q": "attention_qkv",
            "k": "attention_qkv",
            "v": "attention_qkv",
            "o": "attention_out",
        }
        assert report[f"{prefix}.mlp.gate_proj.weight"].role == "mlp_in"
        assert report[f"{prefix}.mlp.up_proj.weight"].role == "mlp_in"
        assert report[f"{prefix}.mlp.down_proj.weight"].role == "mlp_out"
        norm = report[f"{prefix}.input_layernorm.weight"]
        assert (norm.role, norm.scheme) == ("norm_scale", "keep")
    # Gemma's (1 + w) norm is stored as 0 and stays 0; Llama's w as 1
    gemma, _, _ = _init("gemma")
    assert (gemma.model.layers[0].input_layernorm.weight == 0).all()
    llama, _, report = _init("llama")
    assert (llama.model.layers[0].input_layernorm.weight == 1).all()
    assert report["lm_head.weight"].role == "head"
    _, _, report = _init("qwen3")
    assert report["model.layers.0.self_attn.q_norm.weight"].role == "norm_scale"


def test_fused_projections_are_planned_per_block() -> None:
    _, _, report = _init("phi3")
    q, k, v = (report[f"model.layers.0.self_attn.qkv_proj.weight[{p}]"] for p in "qkv")
    assert (q.shape, k.shape, v.shape) == ((32, 32), (16, 32), (16, 32))
    assert report["model.layers.0.self_attn.o_proj.weight"].role == "attention_out"
    gate, up = (report[f"model.layers.0.mlp.gate_up_proj.weight[{p}]"] for p in ("gate", "up"))
    assert gate.role == up.role == "mlp_in" and gate.shape == up.shape == (64, 32)
    _, _, report = _init("gpt_neox")
    assert [report[f"gpt_neox.layers.0.attention.query_key_value.weight[{p}]"].shape for p in "qkv"] == [
        (32, 32)
    ] * 3


def test_mixtral_experts_count_one_experts_fans() -> None:
    model, _, report = _init("mixtral")
    experts = model.model.layers[0].mlp.experts
    e, two_ff, d = experts.gate_up_proj.shape
    for part in ("gate", "up"):
        row = report[f"model.layers.0.mlp.experts.gate_up_proj[{part}]"]
        assert (row.role, row.shape, row.fan_in, row.fan_out) == (
            "mlp_in",
            (e, two_ff // 2, d),
            d,
            two_ff // 2,
        )
    down = report["model.layers.0.mlp.experts.down_proj"]
    assert (down.role, down.shape, down.fan_in, down.fan_out) == (
        "mlp_out",
        (e, d, two_ff // 2),
        two_ff // 2,
        d,
    )
    _, _, report = _init("mixtral", scheme="lecun_normal")  # a fan law: one expert's fan_in d
    assert report["model.layers.0.mlp.experts.gate_up_proj[up]"].std == pytest.approx(1 / math.sqrt(d))


def test_bert_vit_and_clip_embeddings_and_tokens() -> None:
    _, _, report = _init("bert")
    assert report["bert.embeddings.word_embeddings.weight"].role == "embedding"
    assert report["bert.embeddings.position_embeddings.weight"].role == "positional"
    assert [
        report[f"bert.encoder.layer.0.attention.self.{p}.weight"].role for p in ("query", "key", "value")
    ] == ["attention_qkv"] * 3
    assert report["bert.encoder.layer.0.attention.output.dense.weight"].role == "attention_out"
    assert report["bert.encoder.layer.0.intermediate.dense.weight"].role == "mlp_in"
    assert report["bert.encoder.layer.0.output.dense.weight"].role == "mlp_out"
    model, _, report = _init("vit")
    for name in ("vit.embeddings.cls_token", "vit.embeddings.position_embeddings"):
        assert (report[name].role, report[name].std) == ("positional", 0.02)
    assert model.vit.embeddings.position_embeddings.std().item() == pytest.approx(0.02, rel=0.15)
    assert report["vit.embeddings.patch_embeddings.projection.weight"].role == "conv"
    assert report["classifier.weight"].role == "head"
    model, _, report = _init("clip")
    assert (report["logit_scale"].role, report["logit_scale"].scheme) == ("other", "keep")
    assert model.logit_scale.item() == pytest.approx(model.config.logit_scale_init_value)  # ln(1/0.07)
    assert report["vision_model.embeddings.class_embedding"].role == "positional"


def test_layer_scale_and_laws_of_their_own_are_kept() -> None:
    model, _, report = _init("convnext")
    gamma = "convnext.encoder.stages.0.layers.0.layer_scale_parameter"
    assert (report[gamma].role, report[gamma].scheme) == ("layer_scale", "keep")
    assert (model.get_parameter(gamma) == 1e-6).all()
    model, _, report = _init("beit")
    assert (report["beit.layers.0.lambda_1"].role, report["beit.layers.0.lambda_1"].scheme) == (
        "layer_scale",
        "keep",
    )
    assert (model.get_parameter("beit.layers.0.lambda_1") == 0.1).all()
    before, _ = ZOO["mamba"]()
    model, _, report = _init("mamba")
    mixer = "backbone.layers.0.mixer"
    for name in (f"{mixer}.A_log", f"{mixer}.D", f"{mixer}.dt_proj.bias"):
        assert (report[name].role, report[name].scheme) == ("other", "keep"), name
    a_log = model.get_parameter(f"{mixer}.A_log")
    torch.testing.assert_close(a_log, before.get_parameter(f"{mixer}.A_log"))
    assert report[f"{mixer}.in_proj.weight"].role == "mlp_in"
    assert report[f"{mixer}.out_proj.weight"].role == "mlp_out"


def test_encoder_decoder_depth_counts_each_stack() -> None:
    _, _, report = _init("t5")
    o = report["decoder.block.1.layer.0.SelfAttention.o.weight"]
    assert o.role == "attention_out" and o.std == pytest.approx(0.02 / math.sqrt(2 * 2))  # L = 2, not 4
    assert report["encoder.block.0.layer.0.SelfAttention.relative_attention_bias.weight"].role == "positional"
    _, _, report = _init("swin")
    fc2 = report["swin.encoder.layers.1.blocks.1.mlp.fc2.weight"]
    assert fc2.std == pytest.approx(0.02 / math.sqrt(2 * 3))  # stages share one residual stream: L = 1 + 2


def test_role_rules_and_a_single_scheme() -> None:
    rules = {Role.MLP_OUT: "zeros", Role.NORM_SCALE: "ones"}
    model, _, report = _init("llama", scheme=rules)
    assert (model.model.layers[0].mlp.down_proj.weight == 0).all()
    assert report["model.norm.weight"].scheme == "ones"
    _, _, report = _init("gpt2", scheme="glorot_uniform")  # a plain scheme: every weight matrix
    assert report["transformer.h.0.mlp.c_proj.weight"].scheme == "glorot_uniform"
    assert report["transformer.wte.weight"].scheme == "random_normal"  # tables keep the embedding law


def test_plain_networks_keep_the_nonlinearity_default() -> None:
    model = nn.Sequential(nn.Conv2d(3, 8, 3), nn.ReLU(), nn.Flatten(), nn.Linear(8 * 4 * 4, 10))
    _, report = wt.init_(model, seed=0)
    assert [(r.role, r.scheme) for r in report if r.name.endswith("weight")] == [
        ("conv", "he_normal"), ("dense", "he_normal")
    ]  # fmt: skip
    bn = nn.BatchNorm2d(4)
    with torch.no_grad():
        bn.weight.zero_()  # a zero-initialized last-BN γ of a residual branch stays 0
    _, report = wt.init_(nn.Sequential(bn), seed=0)
    assert report["0.weight"].scheme == "keep" and (bn.weight == 0).all()
    assert report["0.bias"].scheme == "zeros"


def tiny_gpt2() -> nn.Module:
    """A factory for ``winit explain-model tests.test_torch_roles:tiny_gpt2``."""
    return ZOO["gpt2"]()[0]


def test_explain_model_plans_a_meta_model_without_allocating() -> None:
    import io

    from winit.cli import main

    with torch.device("meta"):
        model = tiny_gpt2()
    report = wt.explain_model(model)
    assert all(p.is_meta for p in model.parameters())  # nothing allocated, nothing written
    row = report["transformer.h.0.mlp.c_proj.weight"]
    assert (row.role, row.layout, row.fan_in, row.std) == ("mlp_out", "keras", 128, pytest.approx(0.01))
    out = io.StringIO()
    assert main(["explain-model", "tests.test_torch_roles:tiny_gpt2", "--plain"], out=out) == 0
    lines = out.getvalue().splitlines()
    assert any(
        line.split()[:4]
        == ["transformer.h.0.attn.c_attn.weight[k]", "Conv1D", "attention_qkv", "random_normal"]
        for line in lines
    )
    assert main(["explain-model", "no_colon"], out=io.StringIO()) == 2


class _Block(nn.Module):
    def __init__(self, width: int) -> None:
        super().__init__()
        self.norm = nn.LayerNorm(width)
        self.up, self.down = nn.Linear(width, 4 * width), nn.Linear(4 * width, width)


class _HeadFirst(nn.Module):
    """The readout defined before the stem and the blocks: definition order does not say it reads last."""

    def __init__(self, head_first: bool) -> None:
        super().__init__()
        if head_first:
            self.head = nn.Linear(16, 10)
        self.stem = nn.Linear(12, 16)
        self.blocks = nn.ModuleList(_Block(16) for _ in range(3))
        if not head_first:
            self.head = nn.Linear(16, 10)


@pytest.mark.parametrize("head_first", [True, False])
def test_a_readout_is_a_head_wherever_it_is_defined(head_first: bool) -> None:
    report = wt.explain_model(_HeadFirst(head_first))
    assert report["head.weight"].role == "head" and report["stem.weight"].role == "dense"
    _, zeroed = wt.init_(_HeadFirst(head_first), seed=0, recipe="fixup")
    assert zeroed["head.weight"].scheme == "zeros"


def test_an_ambiguous_readout_is_left_dense() -> None:
    """Two Linears defined first that both read d and write another width: neither is guessed a head."""
    model = _HeadFirst(head_first=True)
    model.stem = nn.Linear(16, 12)  # reads d too: no longer one candidate
    report = wt.explain_model(model)
    assert report["head.weight"].role == "dense" and report["stem.weight"].role == "dense"
