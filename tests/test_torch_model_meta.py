"""init_ on meta and deferred models: the same parameters, buffers and outputs as constructing for real.

Real transformers architectures from tiny config objects (no downloads): an encoder (BERT), a
decoder-only model with rotary embeddings (Llama), encoder-decoders (BART with final_logits_bias,
T5), a vision model (Swin with relative_position_index) and a multimodal one (CLIP, 0-D logit_scale).
"""

from __future__ import annotations

import fnmatch
from collections.abc import Callable
from typing import Any

import pytest

torch = pytest.importorskip("torch")
tf = pytest.importorskip("transformers")

from torch import nn  # noqa: E402

import winit  # noqa: E402
import winit.torch as wt  # noqa: E402

# Until role-based defaults exist, norm scales and the CLIP logit scale are kept by an explicit rule;
# CLIP's class_embedding is drawn (a random vector kept from the constructor depends on how much of
# the global RNG the construction consumed, which meta construction changes).
RULES: dict[str, Any] = {
    "*norm*.weight": "keep",
    "*LayerNorm.weight": "keep",
    "logit_scale": "keep",
    "*class_embedding": winit.get("random_normal").with_(stddev=0.02),
}
TEXT = dict(vocab_size=64, num_hidden_layers=1, num_attention_heads=2, max_position_embeddings=16)


def _text(batch: int = 2) -> Any:
    return torch.arange(batch * 8).reshape(batch, 8) % 60 + 2


def _models() -> dict[str, tuple[Callable[[], nn.Module], Callable[[], dict[str, Any]]]]:
    seq2seq = lambda: {"input_ids": _text(), "decoder_input_ids": _text()[:, :5]}  # noqa: E731
    return {
        "bert": (
            lambda: tf.BertForMaskedLM(tf.BertConfig(hidden_size=16, intermediate_size=32, **TEXT)),
            lambda: {"input_ids": _text()},
        ),
        "llama": (
            lambda: tf.LlamaForCausalLM(
                tf.LlamaConfig(hidden_size=16, intermediate_size=32, num_key_value_heads=1, **TEXT)
            ),
            lambda: {"input_ids": _text()},
        ),
        "bart": (
            lambda: tf.BartForConditionalGeneration(
                tf.BartConfig(
                    vocab_size=64,
                    d_model=16,
                    encoder_layers=1,
                    decoder_layers=1,
                    encoder_attention_heads=2,
                    decoder_attention_heads=2,
                    encoder_ffn_dim=32,
                    decoder_ffn_dim=32,
                    max_position_embeddings=16,
                )
            ),
            seq2seq,
        ),
        "t5": (
            lambda: tf.T5ForConditionalGeneration(
                tf.T5Config(vocab_size=64, d_model=16, d_kv=8, d_ff=32, num_layers=1, num_heads=2)
            ),
            seq2seq,
        ),
        "swin": (
            lambda: tf.SwinForImageClassification(
                tf.SwinConfig(
                    image_size=32,
                    patch_size=4,
                    embed_dim=8,
                    depths=[1, 1],
                    num_heads=[1, 2],
                    window_size=4,
                    num_labels=3,
                )
            ),
            lambda: {"pixel_values": torch.linspace(-1, 1, 2 * 3 * 32 * 32).reshape(2, 3, 32, 32)},
        ),
        "clip": (
            lambda: tf.CLIPModel(
                tf.CLIPConfig(
                    text_config=dict(hidden_size=16, intermediate_size=32, **TEXT),
                    vision_config=dict(
                        image_size=16,
                        patch_size=4,
                        hidden_size=16,
                        num_hidden_layers=1,
                        num_attention_heads=2,
                        intermediate_size=32,
                    ),
                    projection_dim=8,
                )
            ),
            lambda: {
                "input_ids": _text(),
                "pixel_values": torch.linspace(-1, 1, 2 * 3 * 16 * 16).reshape(2, 3, 16, 16),
            },
        ),
    }


MODELS = _models()


def _rules(model: nn.Module) -> dict[str, Any]:
    names = [name for name, _ in model.named_parameters()]
    return {key: rule for key, rule in RULES.items() if any(fnmatch.fnmatchcase(n, key) for n in names)}


def _outputs(model: nn.Module, inputs: dict[str, Any]) -> list[Any]:
    model.eval()
    with torch.no_grad():
        out = model(**inputs)
    return [value for value in out.values() if isinstance(value, torch.Tensor)]


def _assert_same(model: nn.Module, reference: nn.Module, inputs: dict[str, Any]) -> None:
    ours = dict(model.named_parameters(remove_duplicate=False))
    for name, param in reference.named_parameters(remove_duplicate=False):
        assert not ours[name].is_meta and torch.equal(ours[name], param), name
    ours_buffers = dict(model.named_buffers())
    for name, buffer in reference.named_buffers():  # non-persistent ones too (position_ids, inv_freq)
        assert torch.equal(ours_buffers[name], buffer), name
    for a, b in zip(_outputs(model, inputs), _outputs(reference, inputs), strict=True):
        assert torch.equal(a, b)


@pytest.mark.parametrize("arch", list(MODELS))
def test_meta_and_deferred_construction_give_the_constructed_model(arch: str) -> None:
    build, inputs = MODELS[arch]
    reference = build()
    rules = _rules(reference)
    _, report = wt.init_(reference, rules, seed=3)
    kept = {record.name for record in report if record.kept}
    keep = [key for key, rule in rules.items() if rule == "keep"]
    assert kept == {
        n for n, _ in reference.named_parameters() if any(fnmatch.fnmatchcase(n, k) for k in keep)
    }

    with wt.deferred_init():
        deferred = build()
    metas = {name for name, p in deferred.named_parameters() if p.is_meta}
    assert metas and all(not b.is_meta for b in deferred.buffers())
    assert all(p.ndim >= 2 for name, p in deferred.named_parameters() if name in metas)
    wt.init_(deferred, rules, seed=3, device="cpu")
    _assert_same(deferred, reference, inputs())

    with torch.device("meta"):
        meta = build()
    if arch == "clip":  # CLIP's _init_weights does not set logit_scale: a kept meta copy is lost, say so
        with pytest.raises(ValueError, match=r"kept parameters logit_scale \(rule 'keep'\) are on the meta"):
            wt.init_(meta, rules, seed=3, device="cpu")
        assert all(t.is_meta for t in (*meta.parameters(), *meta.buffers()))
        return
    wt.init_(meta, rules, seed=3, device="cpu")  # buffers recomputed by the model's own _init_weights
    _assert_same(meta, reference, inputs())


def test_deferred_init_keeps_vectors_and_buffers_real_and_restores_register_parameter() -> None:
    register = nn.Module.register_parameter
    with wt.deferred_init():
        model = nn.Sequential(nn.Linear(4, 8), nn.BatchNorm1d(8), nn.Conv1d(8, 2, 3))
    assert nn.Module.register_parameter is register
    assert model[0].weight.is_meta and model[2].weight.is_meta
    assert not any(t.is_meta for t in (model[0].bias, model[1].weight, model[1].running_var, model[2].bias))
    model.requires_grad_(True)
    reference = nn.Sequential(nn.Linear(4, 8), nn.BatchNorm1d(8), nn.Conv1d(8, 2, 3))
    wt.init_(model, seed=5, device="cpu")
    wt.init_(reference, seed=5)
    for (name, a), b in zip(model.state_dict().items(), reference.state_dict().values(), strict=True):
        assert torch.equal(a, b), name


class _Scaled(nn.Module):
    """A layer with a buffer only its constructor knows."""

    def __init__(self) -> None:
        super().__init__()
        self.proj = nn.Linear(4, 4)
        self.scale = nn.Buffer(torch.arange(4.0))
        self.gain = nn.Parameter(torch.full((4,), 0.5))


def test_a_real_tensor_in_a_partly_meta_model_is_left_alone() -> None:
    model = _Scaled()
    model.scale.fill_(7.0)
    model.gain.data.fill_(3.0)
    model.proj.weight = nn.Parameter(torch.empty(4, 4, device="meta"))
    wt.init_(model, {"gain": "keep"}, seed=1, device="cpu")
    assert (model.scale == 7.0).all() and (model.gain == 3.0).all()  # to_empty would have wiped them
    assert not model.proj.weight.is_meta and model.proj.weight.std() > 0


def test_an_unrecoverable_meta_buffer_or_kept_parameter_is_refused_before_anything_is_written() -> None:
    with torch.device("meta"):
        model = _Scaled()
    with pytest.raises(ValueError, match=r"buffers scale .*kept parameters gain.*deferred_init\(\)"):
        wt.init_(model, {"gain": "keep"}, seed=1, device="cpu")
    assert all(t.is_meta for t in (*model.parameters(), *model.buffers()))  # nothing materialized
    with pytest.raises(ValueError, match="buffers scale are on the meta device"):
        wt.init_(model, {"gain": "ones"}, seed=1, device="cpu")
    with wt.deferred_init():
        deferred = _Scaled()
    wt.init_(deferred, {"gain": "keep"}, seed=1, device="cpu")
    assert torch.equal(deferred.scale, torch.arange(4.0)) and (deferred.gain == 0.5).all()


def test_meta_norm_statistics_are_reset_and_ties_survive() -> None:
    with torch.device("meta"):
        model = nn.Sequential(nn.Embedding(10, 6), nn.BatchNorm1d(6), nn.Linear(6, 10, bias=False))
    model[2].weight = model[0].weight
    _, report = wt.init_(model, seed=0, device="cpu")
    assert model[2].weight is model[0].weight
    assert torch.equal(model[1].running_var, torch.ones(6)) and torch.equal(
        model[1].running_mean, torch.zeros(6)
    )
    assert model[1].num_batches_tracked.item() == 0
    assert report["2.weight"].tied_to == "0.weight"
    with pytest.raises(ValueError, match=r"'2\.weight', which is tied to '0\.weight'"):
        wt.init_(model, {"2.weight": "glorot_uniform"})


def test_keep_rule_leaves_the_value_and_reports_it() -> None:
    model = nn.Sequential(nn.Linear(3, 4), nn.LayerNorm(4))
    with torch.no_grad():
        model[0].weight.fill_(2.0)
        model[1].weight.fill_(0.25)
    _, report = wt.init_(model, {nn.Linear: "keep", "1.weight": "keep"}, seed=0)
    assert (model[0].weight == 2.0).all() and (model[1].weight == 0.25).all()
    assert (model[0].bias == 0).all()  # type rules set weights; the bias follows bias=
    assert report["0.weight"].kept and report["0.weight"].scheme == "keep" and not report["0.bias"].kept
    assert "keep" in str(report)
    _, everything = wt.init_(model, {"*": "keep"})
    assert all(record.kept for record in everything)


def test_materialized_parameters_keep_their_attributes() -> None:
    with torch.device("meta"):
        model = nn.Linear(3, 4)
    model.weight.no_decay = True  # type: ignore[attr-defined]
    wt.init_(model, seed=0, device="cpu")
    assert not model.weight.is_meta and model.weight.no_decay  # type: ignore[attr-defined]
