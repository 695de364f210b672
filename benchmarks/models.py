"""Whole-model worker: a GPT-2-small-sized model built and initialized three ways (PyTorch) or two (Flax).

``python -m benchmarks.models --framework torch --json out.json [--quick]``.

PyTorch, interleaved in one process:
(a) ``GPT()``: default construction, every layer's ``reset_parameters`` runs;
(b) ``GPT()`` then ``winit.torch.init_(model, seed=0)``: what users do today (every weight written twice);
(c) ``GPT()`` under ``torch.device("meta")`` then ``init_(model, device="cpu", seed=0)``: no storage
until winit allocates it, every weight written once.

Flax (linen), the same architecture: ``jax.jit(model.init)`` with Flax's default initializers
against the same model whose every parameter takes the ``winit.flax`` builder of the same law
(Dense kernels lecun_normal, Embed N(0, 1/fan_in), LayerNorm scale 1 and bias 0), both compiled
ahead of time so only running them is timed.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from functools import partial
from typing import Any, Final

from benchmarks._harness import interleaved, paired_ratio, quiet_environment, worker_parser, write_json


@dataclass(frozen=True)
class GPTConfig:
    """Sizes of a decoder-only transformer (GPT-2 small: 50257 tokens, 1024 positions, 12 × 768, 12 heads)."""

    vocab: int
    context: int
    layers: int
    width: int
    heads: int


GPT2_SMALL: Final = GPTConfig(vocab=50257, context=1024, layers=12, width=768, heads=12)
TINY: Final = GPTConfig(vocab=1000, context=64, layers=1, width=64, heads=4)


def torch_gpt(config: GPTConfig, device: Any = None) -> Any:
    """A GPT-2-style model of ``config`` built from torch.nn modules (LM head tied to the token embedding)."""
    import torch
    import torch.nn.functional as F  # noqa: N812 - torch's own spelling
    from torch import nn

    class Block(nn.Module):
        """Pre-norm transformer block: causal self-attention then a 4× GELU MLP, each residual."""

        def __init__(self) -> None:
            super().__init__()
            self.ln_1 = nn.LayerNorm(config.width)
            self.attn = nn.Linear(config.width, 3 * config.width)  # q, k, v in one matrix, as GPT-2's c_attn
            self.attn_proj = nn.Linear(config.width, config.width)
            self.ln_2 = nn.LayerNorm(config.width)
            self.mlp = nn.Linear(config.width, 4 * config.width)
            self.mlp_proj = nn.Linear(4 * config.width, config.width)

        def forward(self, x: torch.Tensor) -> torch.Tensor:
            batch, steps, width = x.shape
            q, k, v = self.attn(self.ln_1(x)).split(width, dim=2)
            q, k, v = (
                z.view(batch, steps, config.heads, width // config.heads).transpose(1, 2) for z in (q, k, v)
            )
            attended = F.scaled_dot_product_attention(q, k, v, is_causal=True)
            x = x + self.attn_proj(attended.transpose(1, 2).reshape(batch, steps, width))
            out: torch.Tensor = x + self.mlp_proj(F.gelu(self.mlp(self.ln_2(x))))
            return out

    class GPT(nn.Module):
        """Token and position embeddings, ``layers`` blocks, a final norm and the tied LM head."""

        def __init__(self) -> None:
            super().__init__()
            self.wte = nn.Embedding(config.vocab, config.width)
            self.wpe = nn.Embedding(config.context, config.width)
            self.blocks = nn.ModuleList(Block() for _ in range(config.layers))
            self.ln_f = nn.LayerNorm(config.width)
            self.lm_head = nn.Linear(config.width, config.vocab, bias=False)
            self.lm_head.weight = self.wte.weight

        def forward(self, tokens: torch.Tensor) -> torch.Tensor:
            positions = torch.arange(tokens.shape[1], device=tokens.device)
            x = self.wte(tokens) + self.wpe(positions)
            for block in self.blocks:
                x = block(x)
            logits: torch.Tensor = self.lm_head(self.ln_f(x))
            return logits

    if device is None:
        return GPT()
    with torch.device(device):
        return GPT()


def run_torch(config: GPTConfig, repeats: int) -> dict[str, Any]:
    """Time (a) default construction, (b) construction + init_, (c) meta construction + init_(device="cpu")."""
    import torch

    import winit.torch as wt

    torch.manual_seed(0)

    def default() -> Any:
        return torch_gpt(config)

    def then_init() -> Any:
        return wt.init_(torch_gpt(config), seed=0)[0]

    def meta_init() -> Any:
        return wt.init_(torch_gpt(config, device="meta"), device="cpu", seed=0)[0]

    model = meta_init()  # sanity: the model winit builds runs and its tied head shares the embedding
    with torch.no_grad():
        logits = model(torch.zeros(1, 8, dtype=torch.long))
    if tuple(logits.shape) != (1, 8, config.vocab) or model.lm_head.weight is not model.wte.weight:
        raise RuntimeError("the GPT model winit initialized from meta does not run or lost its tied head")
    parameters = sum(p.numel() for p in model.parameters())
    del model, logits
    timings = interleaved({"a_default": default, "b_then_init": then_init, "c_meta_init": meta_init}, repeats)
    a, b, c = (timings[k].runs for k in ("a_default", "b_then_init", "c_meta_init"))
    return {
        "framework": "torch",
        "config": config.__dict__,
        "parameters": parameters,
        "repeats": repeats,
        "timings": {
            k: {"median": t.median, "spread": t.spread, "runs": list(t.runs)} for k, t in timings.items()
        },
        "speedup_c_over_b": 1.0 / paired_ratio(c, b),
        "c_over_a": paired_ratio(c, a),
    }


def flax_gpt(config: GPTConfig, winit_initializers: bool = False) -> Any:
    """The same GPT in flax.linen (Dense, Embed, LayerNorm; LM head = the token embedding's ``attend``).

    ``winit_initializers``: every parameter gets the ``winit.flax`` builder of the law Flax gives it
    by default (Dense kernel lecun_normal, bias zeros; Embed variance_scaling(1, fan_in, normal,
    out_axis=0); LayerNorm ones and zeros), so only who draws the numbers differs.
    """
    import flax.linen as nn
    import jax.numpy as jnp

    dense_init: dict[str, Any] = {}
    embed_init: dict[str, Any] = {}
    norm_init: dict[str, Any] = {}
    if winit_initializers:
        import winit.flax as wf

        dense_init = {"kernel_init": wf.lecun_normal(), "bias_init": wf.zeros}
        embed_init = {"embedding_init": wf.variance_scaling(1.0, "fan_in", "normal", out_axis=0)}
        norm_init = {"scale_init": wf.ones, "bias_init": wf.zeros}
    # Any: mypy sees Flax modules as keyword-only dataclasses, but they take their features positionally
    dense: Any = partial(nn.Dense, **dense_init)
    embed: Any = partial(nn.Embed, **embed_init)
    norm: Any = partial(nn.LayerNorm, **norm_init)

    class Block(nn.Module):
        """Pre-norm transformer block: causal self-attention then a 4× GELU MLP, each residual."""

        @nn.compact
        def __call__(self, x: Any) -> Any:
            batch, steps, width = x.shape
            q, k, v = jnp.split(dense(3 * width)(norm()(x)), 3, axis=-1)
            q, k, v = (z.reshape(batch, steps, config.heads, width // config.heads) for z in (q, k, v))
            mask = nn.make_causal_mask(jnp.ones((batch, steps)))
            attended = nn.dot_product_attention(q, k, v, mask=mask).reshape(batch, steps, width)
            x = x + dense(width)(attended)
            return x + dense(width)(nn.gelu(dense(4 * width)(norm()(x))))

    class GPT(nn.Module):
        """Token and position embeddings, ``layers`` blocks, a final norm and the tied LM head."""

        @nn.compact
        def __call__(self, tokens: Any) -> Any:
            wte = embed(config.vocab, config.width)
            x = wte(tokens) + embed(config.context, config.width)(jnp.arange(tokens.shape[-1]))
            for _ in range(config.layers):
                x = Block()(x)
            return wte.attend(norm()(x))

    return GPT()


def run_flax(config: GPTConfig, repeats: int) -> dict[str, Any]:
    """Time jitted ``model.init`` with Flax's default initializers against the same with winit.flax's."""
    import jax
    import jax.numpy as jnp

    key = jax.random.key(0)
    tokens = jnp.zeros((1, 8), jnp.int32)
    compiled: dict[str, Any] = {}
    compile_seconds: dict[str, float] = {}
    for name, use_winit in (("native", False), ("winit", True)):
        model = flax_gpt(config, winit_initializers=use_winit)
        began = time.perf_counter()
        compiled[name] = jax.jit(model.init).lower(key, tokens).compile()
        compile_seconds[name] = time.perf_counter() - began
    native_tree, winit_tree = compiled["native"](key, tokens), compiled["winit"](key, tokens)
    leaves = jax.tree_util.tree_leaves(winit_tree)
    # winit.flax promises JAX's numbers bit for bit: record whether the whole model agrees
    identical = str(jax.tree_util.tree_structure(native_tree)) == str(
        jax.tree_util.tree_structure(winit_tree)
    )
    identical = identical and all(
        bool((a == b).all()) for a, b in zip(jax.tree_util.tree_leaves(native_tree), leaves, strict=True)
    )
    flax_gpt(config).apply(winit_tree, tokens)  # sanity: the model runs on winit's parameters
    parameters = sum(leaf.size for leaf in leaves)
    del native_tree, winit_tree, leaves

    def ready(tree: Any) -> Any:
        return jax.tree_util.tree_map(lambda leaf: leaf.block_until_ready(), tree)

    timings = interleaved(
        {name: partial(lambda c: ready(c(key, tokens)), call) for name, call in compiled.items()}, repeats
    )
    return {
        "framework": "flax",
        "config": config.__dict__,
        "parameters": parameters,
        "repeats": repeats,
        "timings": {
            k: {"median": t.median, "spread": t.spread, "runs": list(t.runs)} for k, t in timings.items()
        },
        "winit_over_native": paired_ratio(timings["winit"].runs, timings["native"].runs),
        "compile_seconds": compile_seconds,
        "parameters_identical": identical,
    }


def main() -> None:
    """Command line: one framework per process."""
    quiet_environment()
    parser = worker_parser(__doc__.splitlines()[0])
    parser.add_argument("--framework", choices=("torch", "flax"), required=True)
    args = parser.parse_args()
    if time.time() > args.deadline:
        write_json(args.json, {"framework": args.framework, "skipped": "time budget of the full run spent"})
        return
    config, repeats = (TINY, 1) if args.quick else (GPT2_SMALL, 3)
    runner = run_torch if args.framework == "torch" else run_flax
    write_json(args.json, runner(config, repeats))


if __name__ == "__main__":
    main()
