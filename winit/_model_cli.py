"""``winit explain-model MODULE:FACTORY``: the role, layout, scheme and std winit's init_ gives each parameter.

The factory (a zero-argument callable returning a ``torch.nn.Module``) runs on torch's meta device,
so no weight memory is allocated and nothing is drawn; torch is imported only by this command.
Its arguments are parsed in :mod:`winit.cli`.
"""

from __future__ import annotations

import importlib
import sys
from collections.abc import Sequence
from typing import Any, TextIO

from winit._table import console

EXIT_USAGE = 2


def _load(spec: str) -> Any:
    module_name, sep, attr = spec.partition(":")
    if not sep or not module_name or not attr:
        raise ValueError(f"expected MODULE:FACTORY (e.g. mypkg.models:build), got {spec!r}")
    target: Any = importlib.import_module(module_name)
    for part in attr.split("."):
        target = getattr(target, part)
    if not callable(target):
        raise TypeError(f"{spec!r} is not callable: a zero-argument function returning a torch.nn.Module")
    return target


def _size(text: str) -> tuple[str, float]:
    name, sep, value = text.partition("=")
    try:
        if not sep:
            raise ValueError
        return name.strip(), float(value)
    except ValueError:
        raise ValueError(f"--size expects NAME=NUMBER (e.g. base_width=128), got {text!r}") from None


def run_explain_model(
    out: TextIO,
    factory: str,
    *,
    scheme: str | None = None,
    nonlinearity: str = "relu",
    plain: bool = False,
    recipe: str | None = None,
    sizes: Sequence[str] = (),
) -> int:
    """``winit explain-model``: print the report of ``factory``'s model, built on meta, to ``out``; 2 on a bad value.

    ``recipe``: laws by role from that recipe; ``sizes``: ``NAME=NUMBER`` texts (model sizes, recipe constants).
    """
    try:
        import torch

        from winit._torch_model import explain_model

        build = _load(factory)
        with torch.device("meta"):
            model = build()
        given: dict[str, Any] = dict(_size(text) for text in sizes)
        report = explain_model(
            model, scheme, nonlinearity=nonlinearity, recipe=recipe, **given
        )  # without a recipe, a size is refused by name
    except (ValueError, TypeError, ImportError, AttributeError) as error:
        print(f"winit explain-model: error: {error}", file=sys.stderr)
        return EXIT_USAGE
    title = f"winit explain-model {factory}"
    shown = console(out, plain, width=250)
    if shown is None:
        print(title, file=out)
        print(report, file=out)
    else:
        shown.print(report.rich_table(title=title))
    return 0
