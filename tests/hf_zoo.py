"""Tiny HuggingFace ``transformers`` models (no downloads) and an input for each, for model-level init tests.

``ZOO`` maps an architecture name to a zero-argument builder returning ``(model, inputs)``; every
model is a few layers of width 32-64 and builds in well under a second on a CPU.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import torch
from torch import nn

Built = tuple[nn.Module, dict[str, Any]]

_D, _L, _HEADS, _FF, _VOCAB = 32, 2, 4, 64, 97
_TEXT = {
    "vocab_size": _VOCAB,
    "hidden_size": _D,
    "num_hidden_layers": _L,
    "num_attention_heads": _HEADS,
    "intermediate_size": _FF,
}


def _tokens(batch: int = 2, length: int = 8) -> torch.Tensor:
    return torch.randint(0, _VOCAB, (batch, length), generator=torch.Generator().manual_seed(0))


def _pixels(size: int = 32, channels: int = 3) -> torch.Tensor:
    return torch.randn(2, channels, size, size, generator=torch.Generator().manual_seed(0))


def _text(model_cls: str, config_cls: str, **config: Any) -> Callable[[], Built]:
    def build() -> Built:
        import transformers

        cfg = getattr(transformers, config_cls)(**config)
        return getattr(transformers, model_cls)(cfg).eval(), {"input_ids": _tokens()}

    return build


def _vision(model_cls: str, config_cls: str, size: int = 32, **config: Any) -> Callable[[], Built]:
    def build() -> Built:
        import transformers

        cfg = getattr(transformers, config_cls)(**config)
        return getattr(transformers, model_cls)(cfg).eval(), {"pixel_values": _pixels(size)}

    return build


def _llama_like(model_cls: str, config_cls: str, **extra: Any) -> Callable[[], Built]:
    return _text(model_cls, config_cls, **_TEXT, num_key_value_heads=2, max_position_embeddings=64, **extra)


def _seq2seq(model_cls: str, config_cls: str, **config: Any) -> Callable[[], Built]:
    def build() -> Built:
        import transformers

        cfg = getattr(transformers, config_cls)(**config)
        tokens = _tokens()
        return getattr(transformers, model_cls)(cfg).eval(), {
            "input_ids": tokens,
            "decoder_input_ids": tokens,
        }

    return build


def _dual_encoder(config_cls: str, model_cls: str, **extra: Any) -> Built:
    """A text + vision contrastive model (CLIP, SigLIP) with the zoo's small towers."""
    import transformers

    tower = {
        "hidden_size": _D,
        "num_hidden_layers": _L,
        "num_attention_heads": _HEADS,
        "intermediate_size": _FF,
    }
    text = {**tower, "vocab_size": _VOCAB, "max_position_embeddings": 16}
    vision = {**tower, "image_size": 32, "patch_size": 8}
    cfg = getattr(transformers, config_cls)(text_config=text, vision_config=vision, **extra)
    return getattr(transformers, model_cls)(cfg).eval(), {"input_ids": _tokens(), "pixel_values": _pixels()}


def _clip() -> Built:
    return _dual_encoder("CLIPConfig", "CLIPModel", projection_dim=16)


def _siglip() -> Built:
    return _dual_encoder("SiglipConfig", "SiglipModel")


def _whisper() -> Built:
    import transformers

    cfg = transformers.WhisperConfig(
        vocab_size=_VOCAB,
        d_model=_D,
        encoder_layers=_L,
        decoder_layers=_L,
        encoder_attention_heads=_HEADS,
        decoder_attention_heads=_HEADS,
        encoder_ffn_dim=_FF,
        decoder_ffn_dim=_FF,
        num_mel_bins=8,
        max_source_positions=16,
        max_target_positions=16,
        pad_token_id=0,
        decoder_start_token_id=1,
    )
    features = torch.randn(2, 8, 32, generator=torch.Generator().manual_seed(0))
    return transformers.WhisperModel(cfg).eval(), {"input_features": features, "decoder_input_ids": _tokens()}


ZOO: dict[str, Callable[[], Built]] = {
    # text encoders
    "bert": _text("BertForMaskedLM", "BertConfig", **_TEXT, max_position_embeddings=64),
    "roberta": _text("RobertaForMaskedLM", "RobertaConfig", **_TEXT, max_position_embeddings=64),
    "distilbert": _text(
        "DistilBertForMaskedLM",
        "DistilBertConfig",
        vocab_size=_VOCAB,
        dim=_D,
        n_layers=_L,
        n_heads=_HEADS,
        hidden_dim=_FF,
        max_position_embeddings=64,
    ),
    # decoders
    "gpt2": _text(
        "GPT2LMHeadModel",
        "GPT2Config",
        vocab_size=_VOCAB,
        n_embd=_D,
        n_layer=_L,
        n_head=_HEADS,
        n_positions=64,
    ),
    "gpt_neox": _text("GPTNeoXForCausalLM", "GPTNeoXConfig", **_TEXT, max_position_embeddings=64),
    "llama": _llama_like("LlamaForCausalLM", "LlamaConfig"),
    "mistral": _llama_like("MistralForCausalLM", "MistralConfig"),
    "qwen2": _llama_like("Qwen2ForCausalLM", "Qwen2Config"),
    "qwen3": _llama_like("Qwen3ForCausalLM", "Qwen3Config", head_dim=8),
    "gemma": _llama_like("GemmaForCausalLM", "GemmaConfig", head_dim=8),
    "phi3": _llama_like("Phi3ForCausalLM", "Phi3Config", pad_token_id=0),
    "mixtral": _llama_like("MixtralForCausalLM", "MixtralConfig", num_local_experts=4, num_experts_per_tok=2),
    "mamba": _text(
        "MambaForCausalLM",
        "MambaConfig",
        vocab_size=_VOCAB,
        hidden_size=_D,
        num_hidden_layers=_L,
        state_size=4,
        expand=2,
        use_mambapy=True,
    ),
    # encoder-decoders
    "t5": _seq2seq(
        "T5ForConditionalGeneration",
        "T5Config",
        vocab_size=_VOCAB,
        d_model=_D,
        d_kv=8,
        d_ff=_FF,
        num_layers=_L,
        num_heads=_HEADS,
        decoder_start_token_id=0,
    ),
    "bart": _seq2seq(
        "BartForConditionalGeneration",
        "BartConfig",
        vocab_size=_VOCAB,
        d_model=_D,
        encoder_layers=_L,
        decoder_layers=_L,
        encoder_attention_heads=_HEADS,
        decoder_attention_heads=_HEADS,
        encoder_ffn_dim=_FF,
        decoder_ffn_dim=_FF,
        max_position_embeddings=64,
    ),
    "whisper": _whisper,
    # vision
    "vit": _vision(
        "ViTForImageClassification",
        "ViTConfig",
        **{k: v for k, v in _TEXT.items() if k != "vocab_size"},
        image_size=32,
        patch_size=8,
        num_labels=5,
    ),
    "deit": _vision(
        "DeiTForImageClassificationWithTeacher",
        "DeiTConfig",
        **{k: v for k, v in _TEXT.items() if k != "vocab_size"},
        image_size=32,
        patch_size=8,
        num_labels=5,
    ),
    "beit": _vision(
        "BeitForImageClassification",
        "BeitConfig",
        **{k: v for k, v in _TEXT.items() if k != "vocab_size"},
        image_size=32,
        patch_size=8,
        num_labels=5,
        use_relative_position_bias=True,
        layer_scale_init_value=0.1,
    ),
    "swin": _vision(
        "SwinForImageClassification",
        "SwinConfig",
        image_size=32,
        patch_size=4,
        embed_dim=16,
        depths=[1, 2],
        num_heads=[2, 4],
        window_size=4,
        num_labels=5,
    ),
    "convnext": _vision(
        "ConvNextForImageClassification",
        "ConvNextConfig",
        hidden_sizes=[16, 32],
        depths=[1, 2],
        num_stages=2,
        num_labels=5,
    ),
    "levit": _vision(
        "LevitForImageClassification",
        "LevitConfig",
        image_size=32,
        hidden_sizes=[32, 48],
        num_attention_heads=[2, 3],
        depths=[1, 1],
        key_dim=[8, 8],
        down_ops=[["Subsample", 8, 2, 4, 2, 2]],
        num_labels=5,
    ),
    "resnet": _vision(
        "ResNetForImageClassification",
        "ResNetConfig",
        embedding_size=16,
        hidden_sizes=[16, 32],
        depths=[1, 1],
        layer_type="basic",
        num_labels=5,
    ),
    # multimodal
    "clip": _clip,
    "siglip": _siglip,
}


def tiny_resnet_classifier() -> Any:
    """HF ResNetForImageClassification with two basic stages of width 8/16 (every block adds its shortcut in place)."""
    import torch
    import transformers

    config = transformers.ResNetConfig(
        num_channels=3,
        embedding_size=8,
        hidden_sizes=[8, 16],
        depths=[1, 1],
        layer_type="basic",
        num_labels=3,
    )
    torch.manual_seed(0)
    return transformers.ResNetForImageClassification(config)
