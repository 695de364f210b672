"""``winit`` on the command line: every command's arguments are parsed here, and only here.

``explain``, ``schemes`` and ``recommend`` run here; ``probe`` (NumPy and the probe nets) and
``explain-model`` (torch) are loaded only when their command runs, as plain functions taking values
(``winit._probe.run_probe``, ``winit._model_cli.run_explain_model``). Output is a rich table when
the ``cli`` extra (rich) is installed and plain text otherwise; ``--plain`` forces plain text. Bad
schemes, layouts, shapes or parameters exit with status 2 and the library's own message (no
traceback), the same status argparse uses for bad arguments.
"""

from __future__ import annotations

import argparse
import ast
import sys
from collections.abc import Sequence
from typing import Any, Final, NoReturn, TextIO

from winit._api import plan
from winit._fans import LAYOUTS
from winit._gains import ACTIVATIONS as RECOMMENDABLE
from winit._gains import recommend
from winit._probe_cast import ACTIVATIONS, DEFAULT_SCHEMES, PROBE_BACKENDS
from winit._registry import ALIASES, SCHEMES, get, schemes
from winit._table import Row, show

#: argparse exits with 2 on bad arguments; bad values (unknown scheme, layout, parameter) do the same.
EXIT_USAGE: Final = 2


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


def scheme_rows() -> list[Row]:
    """One (name, formula, parameters) row per built-in scheme, sorted by name."""
    return [
        (name, SCHEMES[name].description, ", ".join(SCHEMES[name].parameters) or "-") for name in schemes()
    ]


def _alias_line() -> str:
    return "aliases: " + ", ".join(f"{alias} → {target}" for alias, target in sorted(ALIASES.items()))


def _error(command: str, error: BaseException) -> int:
    """Print ``winit COMMAND: error: message`` on one line to stderr; return the usage status."""
    message = " ".join(str(error).split())
    if isinstance(
        error, OverflowError
    ):  # its own message ("(34, 'Numerical result out of range')") names nothing
        message = f"a number in the arguments is beyond floating-point range ({message})"
    print(f"winit {command}: error: {message}", file=sys.stderr)
    return EXIT_USAGE


# -- what each command does with its parsed arguments --------------------------------------------------------
def _explain(args: argparse.Namespace, out: TextIO) -> int:
    if args.recipe is not None:
        return _explain_recipe(args, out)
    if args.scheme is None or args.shape is None:
        return _error(
            "explain", ValueError("give a SCHEME with --shape, or --recipe NAME (see winit explain --help)")
        )
    if args.size:
        return _error("explain", ValueError("--size goes with --recipe; a scheme takes --param KEY=VALUE"))
    try:
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
        return _error("explain", error)
    shape = " ".join(map(str, resolved.shape))
    title = f"winit explain {resolved.scheme.name} --shape {shape} --layout {resolved.layout}"
    show(out, args.plain, ("quantity", "value"), resolved.explain_rows(), title=title)
    return 0


def _explain_recipe(args: argparse.Namespace, out: TextIO) -> int:
    """``winit explain --recipe NAME [--size KEY=VALUE ...]``: every role's law with the sizes put in."""
    from winit import recipe

    if args.scheme is not None or args.shape is not None or args.param:
        return _error(
            "explain", ValueError("--recipe explains a recipe by role: give no SCHEME, --shape or --param")
        )
    try:
        sizes = dict(parse_param(item) for item in args.size)
        text = recipe(args.recipe).explain(**sizes)
    except (ValueError, TypeError, OverflowError, KeyError) as error:
        return _error("explain", error)
    print(text, file=out)
    return 0


def _recipes(args: argparse.Namespace, out: TextIO) -> int:
    from winit import recipe, recipes

    rows = [(name, recipe(name).title) for name in recipes()]
    footer = "winit explain --recipe NAME --size L=12 d=768 ...: each role's formula with the numbers put in"
    show(out, args.plain, ("recipe", "what it sets"), rows, title="winit recipes", footer=footer)
    return 0


def _schemes(args: argparse.Namespace, out: TextIO) -> int:
    header = ("scheme", "formula", "parameters")
    show(out, args.plain, header, scheme_rows(), title="winit schemes", footer=_alias_line())
    return 0


def _recommend(args: argparse.Namespace, out: TextIO) -> int:
    try:
        name = recommend(args.activation, args.distribution)
    except (ValueError, TypeError) as error:
        return _error("recommend", error)
    rows = [("activation", args.activation.lower()), ("scheme", name), ("formula", get(name).description)]
    title = f"winit recommend --activation {args.activation}"
    show(out, args.plain, ("quantity", "value"), rows, title=title, plain_title=False)
    return 0


def _probe(args: argparse.Namespace, out: TextIO) -> int:
    from winit._probe import run_probe  # NumPy and the probe nets load only for this command

    if args.coord_check:
        from winit._coord_check import run_coord_check

        return run_coord_check(
            out, widths=args.widths, steps=args.steps, lr=args.lr, optimizer=args.optimizer, seed=args.seed
        )
    return run_probe(
        out, activation=args.activation, depth=args.depth, width=args.width, batch=args.batch,
        backend=args.backend, schemes=args.schemes, seed=args.seed, train=args.train, lr=args.lr,
        plot=args.plot, layers=args.layers, plain=args.plain,
    )  # fmt: skip


def _explain_model(args: argparse.Namespace, out: TextIO) -> int:
    from winit._model_cli import run_explain_model  # imports torch when it runs

    return run_explain_model(
        out, args.factory, scheme=args.scheme, nonlinearity=args.nonlinearity, plain=args.plain,
        recipe=args.recipe, sizes=args.size,
    )  # fmt: skip


# -- the parser ------------------------------------------------------------------------------------------------
class _Parser(argparse.ArgumentParser):
    """argparse whose bad-argument error is one line on stderr (no usage block), status 2."""

    def error(self, message: str) -> NoReturn:
        self.exit(EXIT_USAGE, f"{self.prog}: error: {message} (see {self.prog} --help)\n")


def _plain(command: argparse.ArgumentParser) -> None:
    command.add_argument("--plain", action="store_true", help="plain text even when rich is installed")


def _add_explain(commands: Any) -> None:
    cmd = commands.add_parser(
        "explain",
        help="fans, gain, std, bound and the formula with the numbers put in",
        description=(
            "Resolve SCHEME for a weight of --shape in --layout and show every number it uses; or, with "
            "--recipe, print each role's law of that recipe with --size's numbers put in."
        ),
        epilog="examples: winit explain glorot_uniform --shape 10 5 --layout keras  (limit = √(6/15) = 0.632456); "
        "winit explain --recipe gpt2 --size L=12",
    )
    cmd.add_argument(
        "scheme",
        metavar="SCHEME",
        nargs="?",
        help="a scheme name or alias, e.g. glorot_uniform, kaiming_normal",
    )
    cmd.add_argument("--shape", type=int, nargs="+", metavar="N", help="weight shape, e.g. --shape 64 3 3 3")
    cmd.add_argument(
        "--recipe",
        metavar="NAME",
        help="explain a recipe instead: each role's law (winit recipes lists them)",
    )
    cmd.add_argument(
        "--size", action="extend", nargs="+", default=[], metavar="KEY=VALUE",
        help="with --recipe: model sizes and recipe constants, e.g. --size L=12 d=768 base_width=128",
    )  # fmt: skip
    cmd.add_argument(
        "--layout",
        default="torch",
        metavar="LAYOUT",
        help=f"where the channels are: {', '.join(LAYOUTS)} (default: torch, i.e. (out, in, *kernel))",
    )
    cmd.add_argument(
        "--param",
        action="extend",
        nargs="+",
        default=[],
        metavar="KEY=VALUE",
        help="scheme parameter, e.g. --param a=0.2 nonlinearity=leaky_relu mode=fan_out",
    )
    cmd.add_argument(
        "--in-axis", type=int, nargs="+", metavar="AXIS", help="override the layout's input axis"
    )
    cmd.add_argument(
        "--out-axis", type=int, nargs="+", metavar="AXIS", help="override the layout's output axis"
    )
    cmd.add_argument(
        "--batch-axis", type=int, nargs="+", default=[], metavar="AXIS", help="axes counted in neither fan"
    )
    _plain(cmd)
    cmd.set_defaults(handler=_explain)


def _add_recipes(commands: Any) -> None:
    cmd = commands.add_parser(
        "recipes", help="list the recipes (per-role inits of frameworks and training codebases)"
    )
    _plain(cmd)
    cmd.set_defaults(handler=_recipes)


def _add_schemes(commands: Any) -> None:
    cmd = commands.add_parser("schemes", help="list the built-in schemes with their formulas")
    _plain(cmd)
    cmd.set_defaults(handler=_schemes)


def _add_probe(commands: Any) -> None:
    cmd = commands.add_parser(
        "probe",
        help="a deep MLP under each scheme: per-layer activations and gradients, a verdict per scheme",
        description=(
            "Build a deep MLP, initialize it with each scheme (fixed seeds), run one synthetic batch forward "
            "and backward, and judge each scheme: symmetric, exploding, saturated, vanishing or healthy "
            "(thresholds: pydoc winit.diagnose)."
        ),
        epilog="example: winit probe --activation tanh --depth 20 --plot probe.png",
    )
    cmd.add_argument("--activation", default="tanh", help=f"one of {', '.join(ACTIVATIONS)} (default: tanh)")
    cmd.add_argument("--depth", type=int, default=10, help="hidden layers (default: 10)")
    cmd.add_argument("--width", type=int, default=64, help="units per hidden layer (default: 64)")
    cmd.add_argument("--batch", type=int, default=256, help="examples in the synthetic batch (default: 256)")
    cmd.add_argument(
        "--backend", default="numpy", help=f"one of {', '.join(PROBE_BACKENDS)} (default: numpy)"
    )
    cmd.add_argument(
        "--schemes",
        nargs="+",
        metavar="SCHEME",
        help=(
            f"labels ({', '.join(DEFAULT_SCHEMES)}) or name[:key=value,...], e.g. random_normal:stddev=0.1 "
            "he_uniform (default: all the labels)"
        ),
    )
    cmd.add_argument("--seed", type=int, default=0, help="seed of the weights and the data (default: 0)")
    cmd.add_argument("--train", type=int, default=0, metavar="STEPS", help="also train STEPS SGD steps")
    cmd.add_argument(
        "--lr",
        type=float,
        default=0.05,
        help="learning rate for --train (SGD) and --coord-check (default: 0.05)",
    )
    cmd.add_argument(
        "--plot", metavar="FILE.png", help="write histograms, std/gradient vs depth (and losses)"
    )
    cmd.add_argument("--layers", action="store_true", help="also print every scheme's per-layer table")
    cmd.add_argument(
        "--coord-check",
        action="store_true",
        help="μP coordinate check: activation scale vs width after a few steps, SP against the mup recipe",
    )
    cmd.add_argument("--widths", type=int, nargs="+", default=[64, 128, 256, 512, 1024], metavar="D",
                     help="widths for --coord-check (default: 64 128 256 512 1024; the first is the base)")  # fmt: skip
    cmd.add_argument("--steps", type=int, default=5, help="training steps for --coord-check (default: 5)")
    cmd.add_argument("--optimizer", default="adam", help="adam or sgd for --coord-check (default: adam)")
    _plain(cmd)
    cmd.set_defaults(handler=_probe)


def _add_recommend(commands: Any) -> None:
    cmd = commands.add_parser(
        "recommend",
        help="the scheme for an activation (He for the ReLU family, Glorot for tanh/sigmoid, LeCun for SELU)",
        description="Name the initialization scheme suited to an activation, with its formula.",
        epilog="example: winit recommend --activation relu",
    )
    cmd.add_argument("--activation", required=True, help=f"one of {', '.join(RECOMMENDABLE)}")
    cmd.add_argument("--distribution", default="normal", help="normal or uniform (default: normal)")
    _plain(cmd)
    cmd.set_defaults(handler=_recommend)


def _add_explain_model(commands: Any) -> None:
    cmd = commands.add_parser(
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
    _plain(cmd)
    cmd.set_defaults(handler=_explain_model)


def _parser() -> argparse.ArgumentParser:
    from winit import __version__

    parser = _Parser(
        prog="winit",
        description="Weight-initialization schemes as data: explain a scheme's numbers for a weight shape.",
    )
    parser.add_argument("--version", action="version", version=f"winit {__version__}")
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for add in (_add_explain, _add_schemes, _add_recipes, _add_probe, _add_recommend, _add_explain_model):
        add(commands)  # each command sets handler(args, out) -> exit status
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
    args = _parser().parse_args(argv)
    return int(args.handler(args, out if out is not None else sys.stdout))
