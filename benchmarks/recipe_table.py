"""Every recipe on one reference model: recipe × role × std, planned by winit and measured on the weights.

Run: ``python benchmarks/recipe_table.py [--layers 4] [--width 256] [--vocab 4096] [--seed 0]``.
Builds HF ``GPT2LMHeadModel`` from a small config (no download; tied head), initializes it with
``winit.torch.init_(model, recipe=name, seed=...)`` for each name in ``winit.recipes()`` and prints a
markdown table: one row per (role, block, scheme, planned std), with the number of tensors, the
planned std (what the report says: a truncated law's realized std) and the sample std of their
values pooled; by default as a recipe × role matrix ("planned / measured" per cell), ``--long``
one row per group. ``mup`` gets ``base_width = width / 4``; every other size is read from the model.
"""

from __future__ import annotations

import argparse
import math
import os
import re
from typing import Any

os.environ.setdefault("TRANSFORMERS_VERBOSITY", "error")

import torch

import winit
import winit.torch as wt

SIZES: dict[str, dict[str, Any]] = {"mup": {"base_width": None}}


def reference(layers: int, width: int, vocab: int) -> torch.nn.Module:
    """HF GPT-2 with ``layers`` blocks of width ``width`` (4 heads, MLP 4·width, 256 positions)."""
    import transformers

    config = transformers.GPT2Config(
        n_embd=width, n_layer=layers, n_head=4, vocab_size=vocab, n_positions=256
    )
    model: torch.nn.Module = transformers.GPT2LMHeadModel(config)
    return model


def _values(model: torch.nn.Module, row: winit.InitRecord, parts: int) -> torch.Tensor:
    """The values a report row covers: the whole parameter, or its block (q/k/v of GPT-2's (in, out) c_attn)."""
    value = dict(model.named_parameters())[row.name].detach()
    if not row.part:
        return value.reshape(-1)
    index = "qkv".index(row.part)
    axis = value.ndim - 1 if row.layout == "keras" else 0
    size = value.shape[axis] // parts
    return value.narrow(axis, index * size, size).reshape(-1)


def _blocks(names: list[str]) -> str:
    """The block indices ℓ of GPT-2 parameter names (``transformer.h.3.…``), as ``ℓ0-3`` or ``ℓ2``."""
    found = sorted({int(m.group(1)) for n in names if (m := re.search(r"\.h\.(\d+)\.", n))})
    if not found:
        return ""
    return f"ℓ{found[0]}" if len(found) == 1 else f"ℓ{found[0]}-{found[-1]}"


def groups(recipe: str, model: torch.nn.Module, seed: int, width: int) -> list[dict[str, Any]]:
    """One recipe's groups: tensors sharing (role, scheme, planned std), with their parts, blocks and pooled std."""
    sizes = {key: width / 4 if value is None else value for key, value in SIZES.get(recipe, {}).items()}
    _, report = wt.init_(model, recipe=recipe, seed=seed, **sizes)
    parts = {row.name: sum(1 for r in report if r.name == row.name) for row in report}
    found: dict[tuple[str, str, float], dict[str, Any]] = {}
    for row in report:
        if row.tied_to:
            continue
        std = math.nan if row.kept else round(row.std, 10)
        group = found.setdefault((row.role, row.scheme, std), {"parts": [], "names": [], "values": []})
        group["parts"].append(row.part)
        group["names"].append(row.name)
        group["values"].append(_values(model, row, parts[row.name]))
    out = []
    for (role, scheme, std), group in found.items():
        pooled = torch.cat(group["values"]).double()
        out.append({"recipe": recipe, "role": role, "scheme": scheme, "planned": std,
                    "measured": math.nan if math.isnan(std) else float(pooled.std()),
                    "parts": ",".join(dict.fromkeys(p for p in group["parts"] if p)),
                    "blocks": _blocks(group["names"]), "tensors": len(group["values"])})  # fmt: skip
    return out


def _number(value: float) -> str:
    return "keep" if math.isnan(value) else f"{value:.4g}"


def matrix(found: list[dict[str, Any]]) -> list[str]:
    """recipe × role: each cell "planned / measured" per group; a role with several laws labels them by part or ℓ."""
    roles = list(dict.fromkeys(g["role"] for g in found))
    lines = ["| recipe | " + " | ".join(roles) + " |", "|---|" + "---|" * len(roles)]
    for recipe in dict.fromkeys(g["recipe"] for g in found):
        cells = []
        for role in roles:
            mine = [g for g in found if g["recipe"] == recipe and g["role"] == role]
            texts = []
            for g in mine:
                label = (g["parts"] or g["blocks"]) + " " if len(mine) > 1 else ""
                shown = _number(g["planned"]) if g["planned"] != 0 else g["scheme"]  # ones, zeros, constant
                if g["planned"] > 0:
                    shown += f" / {_number(g['measured'])}"
                texts.append(label + shown)
            cells.append("; ".join(texts))
        lines.append(f"| {recipe} | " + " | ".join(cells) + " |")
    return lines


def long_table(found: list[dict[str, Any]]) -> list[str]:
    """One row per group: recipe, role, parts, blocks, scheme, tensors, planned and measured std."""
    header = ("recipe", "role", "parts", "blocks", "scheme", "tensors", "planned std", "measured std")
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    for g in found:
        cells = (g["recipe"], g["role"], g["parts"], g["blocks"], g["scheme"], str(g["tensors"]),
                 _number(g["planned"]), "-" if math.isnan(g["planned"]) else _number(g["measured"]))  # fmt: skip
        lines.append("| " + " | ".join(cells) + " |")
    return lines


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--layers", type=int, default=4)
    parser.add_argument("--width", type=int, default=256)
    parser.add_argument("--vocab", type=int, default=4096)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--long", action="store_true", help="one row per (recipe, role, scheme, std) group")
    args = parser.parse_args()
    model = reference(args.layers, args.width, args.vocab)
    print(f"HF GPT2LMHeadModel: {args.layers} layers, d = {args.width}, 4 heads, d_ff = {4 * args.width}, "
          f"vocab {args.vocab} (tied head); seed {args.seed}. Cells: planned std / measured std.\n")  # fmt: skip
    found = [g for recipe in winit.recipes() for g in groups(recipe, model, args.seed, args.width)]
    print("\n".join(long_table(found) if args.long else matrix(found)))


if __name__ == "__main__":
    main()
