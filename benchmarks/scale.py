"""Model-scale init speed worker: ``init_`` against a hand loop of ``torch.nn.init`` calls, and meta + init_.

``python -m benchmarks.scale --json out.json [--quick]``.

Per model (HF ``GPT2LMHeadModel`` with GPT2Config's defaults: GPT-2 small; ``BertForMaskedLM`` with
BertConfig's defaults: BERT-base; ``ResNetForImageClassification`` at ResNet-50 size: bottleneck blocks
[3, 4, 6, 3], widths 256–2048), on one constructed model, interleaved rounds of: ``init_`` =
``winit.torch.init_(model, seed=0)`` (its parameters drawn on torch's CPU threads at once); ``init_1t``
= the same with WINIT_NUM_THREADS=1 (one after another, as the hand loop); ``hand`` = a loop of
``torch.nn.init`` calls over the same parameters with the same laws (read from init_'s own report:
normal_/uniform_/trunc_normal_ with its std, zeros_/ones_/constant_, orthogonal_; kept parameters
skipped); ``portable`` = ``init_(model, seed=0, rng="portable")``; and, each on a new model,
``construct`` = build + init_ against ``meta`` = build on the meta device + init_(device="cpu"). Ratios
are medians over rounds of the paired ratios (``portable_over_native``: portable over init_ of the same
round). ``load``: the 1-minute load average before and after the model's rounds (other work on the
machine slows every way alike only roughly).
"""

from __future__ import annotations

import math
import os
import time
from collections.abc import Callable
from functools import partial
from typing import Any, Final

from benchmarks._harness import (
    Timing,
    interleaved,
    paired_ratio,
    quiet_environment,
    worker_parser,
    write_json,
)

#: truncated normals in winit's schemes cut at ±2σ of the underlying normal, whose std is σ/0.8796.
_TRUNC_STD: Final = 0.87962566103423978


def builders(quick: bool) -> dict[str, Callable[[], Any]]:
    """Model name → a constructor (tiny configs in a quick run)."""
    import transformers as tf

    if quick:
        gpt2 = tf.GPT2Config(n_layer=1, n_embd=64, n_head=4, vocab_size=500, n_positions=64)
        bert = tf.BertConfig(num_hidden_layers=1, hidden_size=64, num_attention_heads=4, intermediate_size=128,
                             vocab_size=500, max_position_embeddings=64)  # fmt: skip
        resnet = tf.ResNetConfig(
            layer_type="bottleneck", depths=[1, 1], hidden_sizes=[32, 64], embedding_size=16
        )
    else:
        gpt2, bert = tf.GPT2Config(), tf.BertConfig()
        resnet = tf.ResNetConfig(
            layer_type="bottleneck",
            depths=[3, 4, 6, 3],
            hidden_sizes=[256, 512, 1024, 2048],
            embedding_size=64,
        )
    return {
        "gpt2-small": lambda: tf.GPT2LMHeadModel(gpt2),
        "bert-base": lambda: tf.BertForMaskedLM(bert),
        "resnet-50": lambda: tf.ResNetForImageClassification(resnet),
    }


def hand_loop(model: Any, report: Any) -> Callable[[], None]:
    """torch.nn.init calls with the laws init_ reported, one per parameter (a fused tensor's parts share one)."""
    import torch
    from torch import nn

    parameters = dict(model.named_parameters(remove_duplicate=False))
    calls: list[Callable[[], Any]] = []
    seen: set[str] = set()
    for record in report:
        if record.name in seen or record.name not in parameters:
            continue
        seen.add(record.name)
        p, scheme, std = parameters[record.name], record.scheme.lower(), float(record.std)
        if record.kept or record.tied_to:  # kept as constructed, or written under its first name
            continue
        if scheme.startswith("zeros") or (std == 0.0 and "ones" not in scheme and "constant" not in scheme):
            calls.append(partial(nn.init.zeros_, p))
        elif scheme.startswith("ones"):
            calls.append(partial(nn.init.ones_, p))
        elif scheme.startswith("constant"):
            calls.append(partial(nn.init.constant_, p, 1.0))
        elif "orthogonal" in scheme:
            calls.append(partial(nn.init.orthogonal_, p))
        elif "uniform" in scheme:
            bound = std * math.sqrt(3.0)
            calls.append(partial(nn.init.uniform_, p, -bound, bound))
        elif "trunc" in scheme or scheme == "variance_scaling":
            sigma = std / _TRUNC_STD
            calls.append(partial(nn.init.trunc_normal_, p, 0.0, sigma, -2 * sigma, 2 * sigma))
        else:
            calls.append(partial(nn.init.normal_, p, 0.0, std))

    def run() -> None:
        with torch.no_grad():
            for call in calls:
                call()

    return run


def one_thread(call: Callable[[], Any]) -> Any:
    """``call()`` with WINIT_NUM_THREADS=1: init_ drawing its parameters one after another, as the hand loop."""
    before = os.environ.get("WINIT_NUM_THREADS")
    os.environ["WINIT_NUM_THREADS"] = "1"
    try:
        return call()
    finally:
        if before is None:
            del os.environ["WINIT_NUM_THREADS"]
        else:
            os.environ["WINIT_NUM_THREADS"] = before


def measure(name: str, build: Callable[[], Any], repeats: int) -> dict[str, Any]:
    """init_ vs the hand loop on one model, then construct + init_ vs meta + init_."""
    import torch

    import winit.torch as wt

    def same_parameters() -> tuple[int, dict[str, Timing]]:
        # in a function, so the model is freed before the construction rounds allocate theirs
        torch.manual_seed(0)
        model = build()
        _, report = wt.init_(model, seed=0)
        hand = hand_loop(model, report)
        ways = {
            "init_": lambda: wt.init_(model, seed=0),
            "init_1t": lambda: one_thread(lambda: wt.init_(model, seed=0)),
            "hand": hand,
            "portable": lambda: wt.init_(model, seed=0, rng="portable"),
        }
        return sum(p.numel() for p in model.parameters()), interleaved(ways, repeats)

    load_before = os.getloadavg()[0]
    covered, same = same_parameters()

    def construct() -> Any:
        return wt.init_(build(), seed=0)

    def meta() -> Any:
        with torch.device("meta"):
            skeleton = build()
        return wt.init_(skeleton, device="cpu", seed=0)

    ways = interleaved({"construct": construct, "meta": meta}, repeats)
    return {
        "model": name,
        "parameters": covered,
        "repeats": repeats,
        "timings": {key: {"median": t.median, "runs": list(t.runs)} for key, t in {**same, **ways}.items()},
        "init_over_hand": paired_ratio(same["init_"].runs, same["hand"].runs),
        "init_1t_over_hand": paired_ratio(same["init_1t"].runs, same["hand"].runs),
        "portable_over_native": paired_ratio(same["portable"].runs, same["init_"].runs),
        "meta_over_construct": paired_ratio(ways["meta"].runs, ways["construct"].runs),
        "load": [load_before, os.getloadavg()[0]],
    }


def main() -> None:
    """Command line: every model in one process."""
    quiet_environment()
    parser = worker_parser(__doc__.splitlines()[0])
    args = parser.parse_args()
    out: dict[str, Any] = {}
    for name, build in builders(args.quick).items():
        if time.time() > args.deadline:
            out[name] = {"model": name, "skipped": "time budget of the full run spent"}
            continue
        try:
            out[name] = measure(name, build, 1 if args.quick else 5)
        except Exception as error:  # a model init_ cannot handle is a result, not a crash
            out[name] = {"model": name, "error": f"{type(error).__name__}: {error}"}
    write_json(args.json, out)


if __name__ == "__main__":
    main()
