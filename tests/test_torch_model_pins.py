"""init_'s values pinned: a hash of every parameter and buffer after ``init_(seed=0)``, native and portable.

The model-level loop is optimized for speed (planning once, batched portable draws); these digests
were taken before that work, so any change of a single bit in any tensor fails here.
"""

from __future__ import annotations

import hashlib

import pytest
import torch
from torch import nn

import winit.torch as wt

pytest.importorskip("transformers")


def _has_numba() -> bool:
    try:
        import numba  # noqa: F401
    except ImportError:
        return False
    return True


def _gpt2() -> nn.Module:
    import transformers

    config = transformers.GPT2Config(
        n_layer=2, n_embd=32, n_head=4, vocab_size=97, n_positions=16, bos_token_id=0, eos_token_id=0
    )
    return transformers.GPT2LMHeadModel(config)


def _gpt2_wide() -> nn.Module:
    """Width 256: the q/k/v column blocks of c_attn are copied in row slabs (more than 32768 elements)."""
    import transformers

    config = transformers.GPT2Config(
        n_layer=1, n_embd=256, n_head=4, vocab_size=97, n_positions=16, bos_token_id=0, eos_token_id=0
    )
    return transformers.GPT2LMHeadModel(config)


def _bert() -> nn.Module:
    import transformers

    config = transformers.BertConfig(
        num_hidden_layers=2, hidden_size=32, num_attention_heads=4, intermediate_size=64,
        vocab_size=97, max_position_embeddings=16,
    )  # fmt: skip
    return transformers.BertForMaskedLM(config)


def _resnet() -> nn.Module:
    import transformers

    config = transformers.ResNetConfig(
        layer_type="bottleneck", depths=[1, 1], hidden_sizes=[16, 32], embedding_size=8
    )
    return transformers.ResNetForImageClassification(config)


class _Mixed(nn.Module):
    """Odd sizes (pieces not multiples of the 4-element Philox block), gates, padding, float64 and bfloat16."""

    def __init__(self) -> None:
        super().__init__()
        self.embed = nn.Embedding(11, 7, padding_idx=3)
        self.lstm = nn.LSTM(7, 5)
        self.gru = nn.GRU(5, 3)
        self.conv = nn.Conv1d(3, 5, 3)
        self.wide = nn.Linear(5, 9).double()
        self.low = nn.Linear(9, 6).to(torch.bfloat16)
        self.norm = nn.LayerNorm(6)


BUILDERS = {"gpt2": _gpt2, "gpt2-wide": _gpt2_wide, "bert": _bert, "resnet": _resnet, "mixed": _Mixed}
SCHEMES = {"default": None, "uniform": "glorot_uniform", "truncated": "truncated_normal"}

#: sha256 (first 16 hex digits) of every parameter and buffer, in state_dict order, after init_(seed=0)
PINS = {
    ("bert", "default", "native"): "b57157d2e0f26bfa",
    ("bert", "default", "portable"): "4dbb045c95461d74",
    ("gpt2", "default", "native"): "314e72c052252f32",
    ("gpt2", "default", "portable"): "1e62999e10bbd242",
    ("gpt2", "uniform", "portable"): "1ada3f2d3ceed588",
    ("gpt2-wide", "default", "native"): "ec866d40e904118b",
    ("mixed", "default", "native"): "1a15a1b3aad196de",
    ("mixed", "default", "portable"): "f14723acf497e189",
    ("mixed", "truncated", "portable"): "f0aee9c7a580c5dd",
    ("mixed", "uniform", "portable"): "e9f687b1cfd2b8a1",
    ("resnet", "default", "native"): "2c755170a3cc1e31",
    ("resnet", "default", "portable"): "9c4aa1dc28be484b",
    ("resnet", "truncated", "portable"): "3cdedc54fab217b0",
}
#: the same with the fused portable kernel (numba) where its values differ: float32 normal-family draws
#: take Cephes' logf (within NORMAL_ULPS of the eager engine's); uniform draws are bit-identical, so a
#: model drawn from uniform laws alone keeps its PINS entry (gpt2-uniform's embeddings are normal)
FUSED_PINS = {
    ("bert", "default", "portable"): "9415fb09490f1db8",
    ("gpt2", "default", "portable"): "55a83c1760cb981c",
    ("gpt2", "uniform", "portable"): "5129c91c3ea0d4b2",
    ("mixed", "truncated", "portable"): "b34118a0fabbdf64",
    ("resnet", "default", "portable"): "84fac6c033c77482",
    ("resnet", "truncated", "portable"): "0bf5db2469d4ab9c",
}
#: torch's native normal_ on a CPU without AVX2 (ATEN_CPU_CAPABILITY=default: the scalar Box-Muller
#: instead of the 8-wide one, other bits): the native PINS there. Portable draws do not depend on it;
#: tests/test_cpu_capabilities.py reruns these pins under every capability the CPU has.
SCALAR_CPU_PINS = {
    ("bert", "default", "native"): "d298c5f654eaa7d3",
    ("gpt2", "default", "native"): "7b7916ae947a90c4",
    ("gpt2-wide", "default", "native"): "ff02449e056cafdd",
    ("mixed", "default", "native"): "87be5b80586c4011",
    ("resnet", "default", "native"): "30bdbf99a07ef3c3",
}
_FUSED = pytest.mark.skipif(not _has_numba(), reason="needs numba")
#: (model, scheme, rng, portable kernel): native draws take no kernel, so they run once
CASES = [
    pytest.param(*key, kernel, marks=[_FUSED] if kernel == "fused" else [])
    for key in sorted(PINS)
    for kernel in (("eager", "fused") if key[2] == "portable" else ("eager",))
]


def pinned(key: tuple[str, str, str], kernel: str = "eager") -> str:
    """The pin of ``key`` under the portable ``kernel`` and this CPU's torch capability."""
    if kernel == "fused" and key in FUSED_PINS:
        return FUSED_PINS[key]
    if key in SCALAR_CPU_PINS and torch.backends.cpu.get_cpu_capability() == "DEFAULT":
        return SCALAR_CPU_PINS[key]
    return PINS[key]


def digest(module: nn.Module) -> str:
    """sha256 over names, dtypes, shapes and bytes of the state dict (aliases included)."""
    h = hashlib.sha256()
    for name, tensor in module.state_dict(keep_vars=True).items():
        t = tensor.detach().reshape(-1).contiguous().cpu()
        h.update(f"{name}:{t.dtype}:{tuple(t.shape)}".encode())
        h.update(t.view(torch.uint8).numpy().tobytes() if t.numel() else b"")
    return h.hexdigest()[:16]


@pytest.mark.parametrize(("model", "scheme", "rng", "kernel"), CASES)
def test_values_are_pinned(
    monkeypatch: pytest.MonkeyPatch, model: str, scheme: str, rng: str, kernel: str
) -> None:
    """Each pin under each portable kernel (WINIT_PORTABLE_KERNEL) and torch's CPU capability."""
    monkeypatch.setenv("WINIT_PORTABLE_KERNEL", kernel)
    torch.manual_seed(1)
    built = BUILDERS[model]()
    wt.init_(built, SCHEMES[scheme], seed=0, rng=rng)
    assert digest(built) == pinned((model, scheme, rng), kernel)
