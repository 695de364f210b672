"""``winit`` on the command line: ``winit explain SCHEME --shape ...`` and ``winit schemes``.

Output is a rich table when the ``cli`` extra (rich) is installed and plain text otherwise;
``--plain`` forces plain text. Bad schemes, layouts, shapes or parameters exit with status 2 and
the library's own message (no traceback), the same status argparse uses for bad arguments.
"""

from __future__ import annotations

import argparse
import ast
import sys
from collections.abc import Sequence
from typing import Any, Final, NoReturn, TextIO

from winit._api import plan
from winit._fans import LAYOUTS
from winit._model_cli import add_model_command
from winit._probe import add_probe_commands
from winit._registry import ALIASES, SCHEMES, schemes
from winit._schemes import Plan

#: argparse exits with 2 on bad arguments; bad values (unknown scheme, layout, parameter) do the same.
EXIT_USAGE: Final = 2

Row = tuple[str, ...]


def parse_param(text: str) -> tuple[str, Any]:
    """Split ``key=value``; the value is read as a number, bool or None literal, else kept as a string."""
    key, sep, raw = text.partition("=")
    key, raw = key.strip(), raw.strip()
    if not sep or not key or not raw:
        raise ValueError(f"--param expects key=value (e.g. a=0.2 or nonlinearity=relu), got {text!r}")
    try:
        value = ast.literal_eval(raw)
    except (ValueError, SyntaxError):
        return key, raw  # a bare word such as relu or fan_out
    if value is None or isinstance(value, (bool, int, float)):
        return key, value
    return key, raw


def explain_rows(resolved: Plan) -> list[Row]:
    """``Plan.explain()`` as (label, text) rows: each of its lines is a one-word label, spaces, the text."""
    rows: list[Row] = []
    for line in resolved.explain().splitlines():
        label, _, text = line.partition(" ")
        rows.append((label, text.strip()))
    return rows


def scheme_rows() -> list[Row]:
    """One (name, formula, parameters) row per built-in scheme, sorted by name."""
    return [
        (name, SCHEMES[name].description, ", ".join(SCHEMES[name].parameters) or "-") for name in schemes()
    ]


def _alias_line() -> str:
    return "aliases: " + ", ".join(f"{alias} → {target}" for alias, target in sorted(ALIASES.items()))


def _render(title: str, header: Row, rows: list[Row], footer: str, out: TextIO, plain: bool) -> None:
    if not plain:
        try:
            from rich.console import Console
            from rich.table import Table
        except ImportError:  # the cli extra is optional; plain text says the same
            plain = True
    if plain:
        widths = [max(len(row[i]) for row in rows) for i in range(len(header) - 1)]
        print(title, file=out)
        for row in rows:
            cells = [cell.ljust(width) for cell, width in zip(row, widths, strict=False)]
            print("  ".join([*cells, *row[len(widths) :]]).rstrip(), file=out)
        if footer:
            print(footer, file=out)
        return
    table = Table(title=title, title_justify="left", caption=footer or None, caption_justify="left")
    for index, name in enumerate(header):
        table.add_column(name, style="bold" if index == 0 else None, no_wrap=index == 0)
    for row in rows:
        table.add_row(*row)
    Console(file=out, highlight=False, soft_wrap=False).print(table)


class _Parser(argparse.ArgumentParser):
    """argparse whose bad-argument error is one line on stderr (no usage block), status 2."""

    def error(self, message: str) -> NoReturn:
        self.exit(EXIT_USAGE, f"{self.prog}: error: {message} (see {self.prog} --help)\n")


def _parser() -> argparse.ArgumentParser:
    from winit import __version__

    parser = _Parser(
        prog="winit",
        description="Weight-initialization schemes as data: explain a scheme's numbers for a weight shape.",
    )
    parser.add_argument("--version", action="version", version=f"winit {__version__}")
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    explain = commands.add_parser(
        "explain",
        help="fans, gain, std, bound and the formula with the numbers put in",
        description="Resolve SCHEME for a weight of --shape in --layout and show every number it uses.",
        epilog="example: winit explain glorot_uniform --shape 10 5 --layout keras  (limit = √(6/15) = 0.632456)",
    )
    explain.add_argument(
        "scheme", metavar="SCHEME", help="a scheme name or alias, e.g. glorot_uniform, kaiming_normal"
    )
    explain.add_argument(
        "--shape", type=int, nargs="+", required=True, metavar="N", help="weight shape, e.g. --shape 64 3 3 3"
    )
    explain.add_argument(
        "--layout",
        default="torch",
        metavar="LAYOUT",
        help=f"where the channels are: {', '.join(LAYOUTS)} (default: torch, i.e. (out, in, *kernel))",
    )
    explain.add_argument(
        "--param",
        action="extend",
        nargs="+",
        default=[],
        metavar="KEY=VALUE",
        help="scheme parameter, e.g. --param a=0.2 nonlinearity=leaky_relu mode=fan_out",
    )
    explain.add_argument(
        "--in-axis", type=int, nargs="+", metavar="AXIS", help="override the layout's input axis"
    )
    explain.add_argument(
        "--out-axis", type=int, nargs="+", metavar="AXIS", help="override the layout's output axis"
    )
    explain.add_argument(
        "--batch-axis", type=int, nargs="+", default=[], metavar="AXIS", help="axes counted in neither fan"
    )
    explain.add_argument("--plain", action="store_true", help="plain text even when rich is installed")

    listing = commands.add_parser("schemes", help="list the built-in schemes with their formulas")
    listing.add_argument("--plain", action="store_true", help="plain text even when rich is installed")
    add_probe_commands(commands)  # probe and recommend: each sets args.handler
    add_model_command(commands)  # explain-model: a torch model's roles and laws (imports torch itself)
    return parser


def main(argv: Sequence[str] | None = None, *, out: TextIO | None = None) -> int:
    """Run the ``winit`` command line on ``argv`` (default ``sys.argv[1:]``); return the exit status.

    Args:
        argv: the arguments after ``winit``; None: ``sys.argv[1:]``.
        out: where tables go; None: standard output (errors always go to standard error).

    Examples:
        >>> from winit.cli import main
        >>> main(["explain", "glorot_uniform", "--shape", "10", "5", "--layout", "keras", "--plain"])
        winit explain glorot_uniform --shape 10 5 --layout keras
        scheme    glorot_uniform: U(−limit, limit), limit = gain·√(6/(fan_in + fan_out))
        shape     (10, 5) (layout keras)
        fans      fan_in = 10, fan_out = 5
        gain      1
        fan       fan_avg: (fan_in + fan_out)/2 = (10 + 5)/2 = 7.5
        std       gain·√(scale/fan) = 1·√(1/7.5) = 0.365148
        bound     √3·std = 0.632456
        limit     gain·√(6·scale/(fan_in + fan_out)) = 1·√(6·1/(10 + 5)) = 0.632456
        law       U[-0.632456, 0.632456)
        0
    """
    stream = out if out is not None else sys.stdout
    args = _parser().parse_args(argv)
    handler = getattr(args, "handler", None)
    if handler is not None:
        return int(handler(args, stream))
    try:
        if args.command == "schemes":
            header = ("scheme", "formula", "parameters")
            _render("winit schemes", header, scheme_rows(), _alias_line(), stream, args.plain)
            return 0
        params = dict(parse_param(item) for item in args.param)
        resolved = plan(
            args.scheme,
            args.shape,
            layout=args.layout,
            in_axis=args.in_axis,
            out_axis=args.out_axis,
            batch_axis=args.batch_axis,
            **params,
        )
    except (ValueError, TypeError, OverflowError) as error:
        message = " ".join(str(error).split())
        if isinstance(
            error, OverflowError
        ):  # its own message ("(34, 'Numerical result out of range')") names nothing
            message = f"a number in the arguments is beyond floating-point range ({message})"
        print(f"winit {args.command}: error: {message}", file=sys.stderr)
        return EXIT_USAGE
    shape = " ".join(map(str, resolved.shape))
    title = f"winit explain {resolved.scheme.name} --shape {shape} --layout {resolved.layout}"
    _render(title, ("quantity", "value"), explain_rows(resolved), "", stream, args.plain)
    return 0
