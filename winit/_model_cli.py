"""``winit explain-model MODULE:FACTORY``: the role, layout, scheme and std winit's init_ gives each parameter.

The factory (a zero-argument callable returning a ``torch.nn.Module``) runs on torch's meta device,
so no weight memory is allocated and nothing is drawn; torch is imported only by this command.
"""

from __future__ import annotations

import importlib
import sys
from typing import Any, TextIO

EXIT_USAGE = 2


def add_model_command(subparsers: Any) -> None:
    """Register ``explain-model`` on argparse ``subparsers``; it sets ``handler(args, out) -> int``."""
    cmd = subparsers.add_parser(
        "explain-model",
        help="each parameter's role, layout, scheme and std under winit.torch.init_ (built on meta)",
        description=(
            "Import FACTORY (module:callable, called with no arguments, returning a torch.nn.Module), build it "
            "on the meta device and print the report winit.torch.init_ would give, without allocating it."
        ),
        epilog="examples: winit explain-model mypkg.models:tiny_gpt --nonlinearity gelu; "
        "winit explain-model mypkg.models:tiny_gpt --recipe mup --size base_width=64",
    )
    cmd.add_argument("factory", metavar="MODULE:FACTORY", help="e.g. mypkg.models:build")
    cmd.add_argument("--scheme", default=None, help="one scheme for every weight matrix (default: by role)")
    cmd.add_argument("--nonlinearity", default="relu", help="for the by-nonlinearity roles (default: relu)")
    cmd.add_argument("--recipe", default=None, help="laws by role from a recipe (winit.recipes()), e.g. gpt2")
    cmd.add_argument(
        "--size", action="append", default=[], metavar="NAME=VALUE",
        help="a size or recipe constant, e.g. --size base_width=128 (repeatable)",
    )  # fmt: skip
    cmd.add_argument("--plain", action="store_true", help="plain text even when rich is installed")
    cmd.set_defaults(handler=_run)


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


def _run(args: Any, out: TextIO) -> int:
    try:
        import torch

        from winit._torch_model import explain_model

        factory = _load(args.factory)
        with torch.device("meta"):
            model = factory()
        sizes: dict[str, Any] = dict(_size(text) for text in args.size)
        report = explain_model(
            model, args.scheme, nonlinearity=args.nonlinearity, recipe=args.recipe, **sizes
        )  # without --recipe, a --size is refused by name
    except (ValueError, TypeError, ImportError, AttributeError) as error:
        print(f"winit explain-model: error: {error}", file=sys.stderr)
        return EXIT_USAGE
    if not args.plain:
        try:
            from rich.console import Console

            Console(file=out, width=250).print(report.rich_table(title=f"winit explain-model {args.factory}"))
            return 0
        except ImportError:  # the cli extra is optional; plain text says the same
            pass
    print(f"winit explain-model {args.factory}", file=out)
    print(report, file=out)
    return 0
