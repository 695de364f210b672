"""Training comparison worker: the library's own init against ``winit.torch.init_``'s default, same data, same loop.

``python -m benchmarks.training --json out.json [--quick]``.

Two HuggingFace models, each trained from both starts with the same seed's data and batch order:
a GPT-2-style language model (``GPT2LMHeadModel``, 4 layers, width 256, 4 heads) on synthetic
token sequences from a fixed sparse Markov chain (each token has 4 likely successors: learnable
structure well below the uniform entropy), 40 AdamW steps; and a ResNet-style classifier
(``ResNetForImageClassification``, basic blocks 16/32/64) on synthetic 32×32 images, each class a
fixed random template plus noise, 30 AdamW steps. The figure per run is the loss on a held-out batch
after training; the target compares the means over seeds.
"""

from __future__ import annotations

import statistics
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Final

from benchmarks._harness import quiet_environment, worker_parser, write_json


@dataclass(frozen=True)
class Setup:
    """Sizes of one comparison: model width/depth, data, steps, seeds."""

    layers: int
    width: int
    steps: int
    batch: int
    seeds: tuple[int, ...]


GPT_FULL: Final = Setup(layers=4, width=256, steps=40, batch=8, seeds=(0, 1))
GPT_QUICK: Final = Setup(layers=1, width=64, steps=5, batch=4, seeds=(0,))
RESNET_FULL: Final = Setup(layers=1, width=16, steps=30, batch=16, seeds=(0, 1))
RESNET_QUICK: Final = Setup(layers=1, width=8, steps=3, batch=8, seeds=(0,))
VOCAB: Final = 256
CONTEXT: Final = 32
CLASSES: Final = 4
LR: Final = 1e-3


def _markov_tokens(torch: Any, generator: Any, count: int) -> Any:
    """``count`` sequences of CONTEXT tokens from a fixed sparse chain (4 successors per token, seeded)."""
    chain = torch.Generator().manual_seed(1234)  # the same language for every seed; only samples differ
    successors = torch.randint(0, VOCAB, (VOCAB, 4), generator=chain)
    tokens = torch.empty(count, CONTEXT, dtype=torch.long)
    tokens[:, 0] = torch.randint(0, VOCAB, (count,), generator=generator)
    for position in range(1, CONTEXT):
        pick = torch.randint(0, 4, (count,), generator=generator)
        tokens[:, position] = successors[tokens[:, position - 1], pick]
    return tokens


def _images(torch: Any, generator: Any, count: int) -> tuple[Any, Any]:
    """``count`` 3×32×32 images: class c is template c (fixed) plus N(0, 1) noise."""
    templates = torch.randn(CLASSES, 3, 32, 32, generator=torch.Generator().manual_seed(1234))
    labels = torch.randint(0, CLASSES, (count,), generator=generator)
    return templates[labels] + torch.randn(count, 3, 32, 32, generator=generator), labels


def _gpt(setup: Setup) -> Callable[[], Any]:
    import transformers

    config = transformers.GPT2Config(
        n_layer=setup.layers, n_embd=setup.width, n_head=4, vocab_size=VOCAB, n_positions=CONTEXT,
        bos_token_id=0, eos_token_id=0,
    )  # fmt: skip
    return lambda: transformers.GPT2LMHeadModel(config)


def _resnet(setup: Setup) -> Callable[[], Any]:
    import transformers

    widths = [setup.width, 2 * setup.width, 4 * setup.width]
    config = transformers.ResNetConfig(
        num_channels=3, embedding_size=setup.width, hidden_sizes=widths, depths=[setup.layers] * 3,
        layer_type="basic",
    )  # fmt: skip
    config.num_labels = CLASSES  # a PretrainedConfig keyword, not in ResNetConfig's signature
    return lambda: transformers.ResNetForImageClassification(config)


def _train(torch: Any, model: Any, batches: list[Any], held_out: Any, loss_of: Callable[..., Any]) -> float:
    """AdamW over ``batches`` in order, then the held-out loss (eval mode, no grad)."""
    optimizer = torch.optim.AdamW(model.parameters(), lr=LR)
    model.train()
    for batch in batches:
        loss = loss_of(model, batch)
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
    model.eval()
    with torch.no_grad():
        return float(loss_of(model, held_out))


def compare(kind: str, setup: Setup) -> dict[str, Any]:
    """Train ``kind`` ("gpt2" or "resnet") from the library's init and from init_'s default, per seed."""
    import torch

    import winit.torch as wt

    build = _gpt(setup) if kind == "gpt2" else _resnet(setup)

    def data(seed: int) -> tuple[list[Any], Any]:
        generator = torch.Generator().manual_seed(10_000 + seed)
        if kind == "gpt2":
            tokens = _markov_tokens(torch, generator, setup.batch * (setup.steps + 1))
            chunks = list(tokens.split(setup.batch))
        else:
            images, labels = _images(torch, generator, setup.batch * (setup.steps + 1))
            chunks = list(zip(images.split(setup.batch), labels.split(setup.batch), strict=True))
        return chunks[:-1], chunks[-1]

    def loss_of(model: Any, batch: Any) -> Any:
        if kind == "gpt2":
            return model(input_ids=batch, labels=batch).loss
        return model(pixel_values=batch[0], labels=batch[1]).loss

    runs: dict[str, list[float]] = {"library": [], "winit": []}
    began = time.perf_counter()
    for seed in setup.seeds:
        batches, held_out = data(seed)
        for who in runs:
            torch.manual_seed(seed)
            model = build()
            if who == "winit":
                wt.init_(model, seed=seed)
            runs[who].append(_train(torch, model, batches, held_out, loss_of))
    return {
        "model": kind,
        "setup": setup.__dict__,
        "lr": LR,
        "parameters": sum(p.numel() for p in build().parameters()),
        "final_loss": runs,
        "mean": {who: statistics.fmean(values) for who, values in runs.items()},
        "seconds": time.perf_counter() - began,
    }


def main() -> None:
    """Command line: both comparisons in one process."""
    quiet_environment()
    parser = worker_parser(__doc__.splitlines()[0])
    args = parser.parse_args()
    out: dict[str, Any] = {}
    for kind, full, quick in (("gpt2", GPT_FULL, GPT_QUICK), ("resnet", RESNET_FULL, RESNET_QUICK)):
        if time.time() > args.deadline:
            out[kind] = {"model": kind, "skipped": "time budget of the full run spent"}
            continue
        try:
            out[kind] = compare(kind, quick if args.quick else full)
        except Exception as error:  # a model init_ cannot handle is a result, not a crash
            out[kind] = {"model": kind, "error": f"{type(error).__name__}: {error}"}
    write_json(args.json, out)


if __name__ == "__main__":
    main()
