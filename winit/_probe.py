"""``winit probe``: the domain notes' experiments, computed — a deep MLP under each scheme, layer by layer.

``winit.probe(activation, depth=..., width=..., backend=...)`` builds a ``depth``-layer MLP of
``width`` units on NumPy, torch, JAX or TensorFlow, draws every weight from each scheme with
``winit.init`` (fixed seeds; biases 0), runs one synthetic batch (x ~ N(0, 1), labels from a fixed
linear teacher, softmax cross-entropy) forward and backward, and judges each scheme with
:mod:`winit.diagnose` (per layer: activation mean/std, saturated and dead fractions, weight-gradient
norm, identical units; verdict symmetric / exploding / saturated / vanishing / healthy, thresholds in
that module's docstring). ``train_steps`` > 0 also trains each network with plain SGD and records
the loss curve. The default schemes are the notes' cast:

=================  ==========================================================
label              scheme
=================  ==========================================================
``zeros``          every weight 0
``constant(0.5)``  every weight 0.5
``N(0,0.01)``      ``random_normal`` with stddev 0.01 (the notes' "small")
``N(0,1)``         ``random_normal`` with stddev 1 (the notes' "large")
``glorot``         ``glorot_normal``: std = √(2/(fan_in + fan_out))
``he``             ``he_normal``: std = √(2/fan_in)
``lecun``          ``lecun_normal``: std = √(1/fan_in)
``orthogonal``     ``orthogonal``: gain·Q, Q Haar orthogonal
=================  ==========================================================

On ``tanh`` at depth 20 this reproduces the notes' claims: zeros and constant → symmetric,
N(0,0.01) → vanishing, N(0,1) → saturated, glorot → healthy; on ``relu``: he → healthy,
N(0,1) → exploding.
"""

from __future__ import annotations

import ast
import math
import os
import sys
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Final, TextIO

import numpy as np

from winit._probe_cast import ACTIVATIONS, DEFAULT_SCHEMES, PROBE_BACKENDS
from winit._probe_nets import Pass, build, synthetic_task
from winit._registry import get
from winit._schemes import Scheme
from winit._table import console, rich_table, text_table
from winit._validate import choice, integer, real
from winit.diagnose import Diagnosis, LayerStats, diagnosis, histogram, layer_stats

__all__ = ["ACTIVATIONS", "DEFAULT_SCHEMES", "ProbeResult", "SchemeRun", "probe", "run_probe"]

_BACKEND_ALIASES: Final = {"np": "numpy", "pytorch": "torch", "tf": "tensorflow"}
#: the training set is this many probe batches, cycled in a fixed shuffled order.
_TRAIN_BATCHES: Final = 4
SchemeSpec = str | Scheme | tuple[str, "str | Scheme"]


@dataclass(frozen=True)
class SchemeRun:
    """One scheme's probe: its diagnosis and, when trained, the loss per SGD step and the final loss."""

    label: str
    scheme: Scheme
    diagnosis: Diagnosis
    losses: tuple[float, ...] = ()
    final_loss: float | None = None

    @property
    def verdict(self) -> str:
        """The diagnosis' verdict: symmetric, exploding, saturated, vanishing or healthy."""
        return self.diagnosis.verdict

    @property
    def layers(self) -> tuple[LayerStats, ...]:
        """Per-hidden-layer statistics, first layer first."""
        return self.diagnosis.layers

    def summary(self) -> dict[str, str]:
        """One row of :meth:`ProbeResult.table` as {column: cell}; L1 is the first hidden layer, Ln the last."""
        first, last = self.layers[0], self.layers[-1]
        saturated = [layer.saturated for layer in self.layers if layer.saturated is not None]
        dead = [layer.dead for layer in self.layers if layer.dead is not None]
        n = len(self.layers)
        row = {
            "scheme": self.label,
            "verdict": self.verdict,
            "std L1": _fmt(first.std),
            f"std L{n}": _fmt(last.std),
            "saturated": f"{float(np.mean(saturated)):.0%}" if saturated else "-",
            "dead": f"{max(dead):.0%}" if dead else "-",
            "grad L1": _fmt(first.grad_norm),
            f"grad L{n}": _fmt(last.grad_norm),
        }
        if self.losses:
            row["final loss"] = _fmt(self.final_loss)
        row["why"] = self.diagnosis.reason
        return row


@dataclass(frozen=True)
class ProbeResult:
    """Every scheme's run on one network, with the settings that built it."""

    activation: str
    depth: int
    width: int
    backend: str
    batch: int
    classes: int
    seed: int
    train_steps: int
    lr: float
    runs: tuple[SchemeRun, ...]

    def __getitem__(self, label: str) -> SchemeRun:
        for run in self.runs:
            if run.label == label:
                return run
        raise KeyError(f"no scheme {label!r} in this probe; schemes: {', '.join(self.labels)}")

    def __iter__(self) -> Iterator[SchemeRun]:
        return iter(self.runs)

    def __len__(self) -> int:
        return len(self.runs)

    def __str__(self) -> str:
        return self.table()

    @property
    def labels(self) -> tuple[str, ...]:
        """The scheme labels, in run order."""
        return tuple(run.label for run in self.runs)

    @property
    def verdicts(self) -> dict[str, str]:
        """label → verdict."""
        return {run.label: run.verdict for run in self.runs}

    @property
    def final_losses(self) -> dict[str, float | None]:
        """label → full-training-set loss after ``train_steps`` SGD steps (None when not trained)."""
        return {run.label: run.final_loss for run in self.runs}

    @property
    def title(self) -> str:
        """What was probed, in one line."""
        text = (
            f"winit probe: {self.depth} × {self.width} {self.activation} MLP on {self.backend}, "
            f"batch {self.batch}, seed {self.seed}"
        )
        return text + (f", {self.train_steps} SGD steps (lr {self.lr:g})" if self.train_steps else "")

    def _summary(self) -> tuple[tuple[str, ...], list[tuple[str, ...]]]:
        """Headers and rows of the summary; saturated/dead columns only where the activation has them."""
        rows = [run.summary() for run in self.runs]
        headers = tuple(
            header
            for header in rows[0]
            if header not in ("saturated", "dead") or any(row[header] != "-" for row in rows)
        )
        return headers, [tuple(row[header] for header in headers) for row in rows]

    def table(self, layers: bool = False) -> str:
        """One summary row per scheme (verdict, first/last layer std and gradient); ``layers`` adds per-layer tables."""
        headers, rows = self._summary()
        parts = [self.title, text_table(headers, rows, _numeric(headers))]
        if layers:
            for run in self.runs:
                parts.append(
                    f"\n{run.label}: {run.verdict} ({run.diagnosis.reason})\n{run.diagnosis.table()}"
                )
        return "\n".join(parts)

    def rich_table(self) -> Any:
        """The summary as a ``rich.table.Table``, verdicts coloured, reasons as its caption (needs ``winit[cli]``)."""
        from rich.text import Text

        headers, rows = self._summary()
        # the reasons are long sentences: under the table they wrap at any width, in a column they crowd it
        reasons = "\n".join(f"{row[0]}: {row[-1]}" for row in rows)
        cells = [
            (row[0], Text(row[1], style="green" if row[1] == "healthy" else "red"), *row[2:-1])
            for row in rows
        ]
        return rich_table(
            headers[:-1], cells, numeric=_numeric(headers), title=self.title, caption=reasons, no_wrap=True,
            box=None, padding=(0, 1), pad_edge=False, header_style="bold underline",
        )  # fmt: skip

    def plot(self, path: str | Path, *, max_layers: int = 6) -> Path:
        """Write the figure (histograms per scheme, std and gradient vs depth, loss curves) to ``path``."""
        from winit._plot import plot_probe

        return plot_probe(self, path, max_layers=max_layers)


def _numeric(headers: Sequence[str]) -> frozenset[str]:
    """The right-aligned columns: every one but scheme, verdict and why."""
    return frozenset(headers) - {"scheme", "verdict", "why"}


def _fmt(value: float | None) -> str:
    if value is None:
        return "-"
    if not math.isfinite(value):
        return str(value)
    return f"{value:.3g}" if value == 0 or 1e-3 <= abs(value) < 1e4 else f"{value:.2e}"


def parse_scheme(text: str) -> tuple[str, Scheme]:
    """(label, Scheme) of a default label (``he``, ``N(0,0.01)``) or ``name[:key=value,...]`` (``normal:std=0.1``)."""
    if not isinstance(text, str):
        raise TypeError(f"a scheme spec must be a string, got {text!r}")
    spec = text.strip()
    if spec in DEFAULT_SCHEMES:
        return spec, DEFAULT_SCHEMES[spec]
    name, _, params = spec.partition(":")
    scheme = get(name)
    changes: dict[str, Any] = {}
    for item in filter(None, (part.strip() for part in params.split(","))):
        key, sep, raw = item.partition("=")
        if not sep or not key.strip() or not raw.strip():
            raise ValueError(f"scheme parameter {item!r} in {text!r} is not key=value (e.g. stddev=0.01)")
        try:
            value: Any = ast.literal_eval(raw.strip())
        except (ValueError, SyntaxError):
            value = raw.strip()  # a bare word such as relu or fan_out
        changes[key.strip()] = value
    return spec, scheme.with_(**changes) if changes else scheme


def _resolve(schemes: Sequence[SchemeSpec] | Mapping[str, str | Scheme] | None) -> list[tuple[str, Scheme]]:
    if schemes is None:
        return list(DEFAULT_SCHEMES.items())
    items: list[tuple[str, Scheme]] = []
    entries = list(schemes.items()) if isinstance(schemes, Mapping) else list(schemes)
    for entry in entries:
        if isinstance(entry, Scheme):
            items.append((entry.name, entry))
        elif isinstance(entry, str):
            items.append(parse_scheme(entry))
        elif isinstance(entry, tuple) and len(entry) == 2 and isinstance(entry[0], str):
            label, value = entry
            items.append((label, value if isinstance(value, Scheme) else parse_scheme(value)[1]))
        else:
            raise TypeError(
                f"schemes entries must be a scheme name, a winit.Scheme or a (label, scheme) pair; got {entry!r}"
            )
    if not items:
        raise ValueError("schemes is empty; give at least one scheme (None probes the default cast)")
    labels = [label for label, _ in items]
    duplicates = sorted({label for label in labels if labels.count(label) > 1})
    if duplicates:
        raise ValueError(f"scheme labels must be unique; repeated: {', '.join(duplicates)}")
    return items


def _judge(activation: str, x: np.ndarray, net_pass: Pass) -> Diagnosis:
    """The diagnosis of one probe pass: per hidden layer stats and histograms, the verdict."""
    input_std = float(np.std(x.astype(np.float64)))
    layers, histograms = [], []
    for index, (inp, out, grad) in enumerate(
        zip(net_pass.inputs, net_pass.outputs, net_pass.weight_grads, strict=True), start=1
    ):
        layers.append(
            layer_stats(
                f"layer {index}",
                activation,
                out,
                input_std=float(np.std(np.asarray(inp, dtype=np.float64))),
                activation=activation,
                grad=grad,
            )
        )
        histograms.append(histogram(out))
    return diagnosis(layers, input_std, net_pass.loss, histograms)


@contextmanager
def _progress(enabled: bool, total: int, description: str) -> Iterator[Any]:
    """A rich progress bar on stderr (hidden when stderr is not a terminal); yields ``advance(n)``."""
    if not enabled:
        yield lambda _=1: None
        return
    try:
        from rich.console import Console
        from rich.progress import Progress
    except ImportError:  # rich is the cli extra; without it the probe runs silently
        yield lambda _=1: None
        return
    console = Console(stderr=True)
    with Progress(console=console, transient=True, disable=not console.is_terminal) as bar:
        task = bar.add_task(description, total=total)
        yield lambda n=1: bar.advance(task, n)


def _physical_memory() -> int | None:
    """This machine's RAM in bytes, or None where the OS does not say (the size check is then skipped)."""
    try:
        return int(os.sysconf("SC_PAGE_SIZE")) * int(os.sysconf("SC_PHYS_PAGES"))
    except (AttributeError, OSError, ValueError):
        return None


def _check_size(depth: int, width: int, batch: int) -> None:
    """Refuse, before allocating anything, a probe whose arrays cannot fit in this machine's memory."""
    # float32: weights and their gradients, every layer's pre-/post-activations and gradients for one
    # batch, and the training set of _TRAIN_BATCHES batches; a lower bound, so nothing sane is refused.
    need = 4 * (2 * depth * width * width + 3 * depth * batch * width + _TRAIN_BATCHES * batch * width)
    memory = _physical_memory()
    if memory is not None and need > memory:
        raise ValueError(
            f"a probe of depth={depth}, width={width}, batch={batch} needs at least {need / 2**30:.3g} GiB; "
            f"this machine has {memory / 2**30:.3g} GiB: make depth, width or batch smaller"
        )


def check_plot_path(path: str | Path) -> Path:
    """``path`` if a probe figure can be written there (its directory exists, its suffix is an image format)."""
    target = Path(path)
    if not target.parent.is_dir():
        raise ValueError(f"cannot write {str(target)!r}: directory {str(target.parent)!r} does not exist")
    from winit._plot import _pyplot

    _pyplot()  # ImportError naming the cli extra when matplotlib is missing
    from matplotlib.backend_bases import FigureCanvasBase

    formats = sorted(FigureCanvasBase.get_supported_filetypes())
    if target.suffix[1:].lower() not in formats:
        raise ValueError(
            f"cannot write {str(target)!r}: the file name must end in an image format's suffix; "
            f"accepted: {', '.join('.' + name for name in formats)}"
        )
    return target


def probe(
    activation: str = "tanh",
    *,
    depth: int = 10,
    width: int = 64,
    backend: str = "numpy",
    schemes: Sequence[SchemeSpec] | Mapping[str, str | Scheme] | None = None,
    batch: int = 256,
    classes: int = 4,
    seed: int = 0,
    train_steps: int = 0,
    lr: float = 0.05,
    progress: bool = False,
) -> ProbeResult:
    """Probe a ``depth`` × ``width`` ``activation`` MLP under each scheme: one batch forward/backward, one verdict each.

    ``schemes``: default labels (``"N(0,0.01)"``, ``"he"``), ``"name:key=value"`` strings, Schemes,
    (label, scheme) pairs or a {label: scheme} mapping; None probes :data:`DEFAULT_SCHEMES`.
    ``train_steps`` > 0 trains each network with SGD (learning rate ``lr``, mini-batches of
    ``batch`` from a set of 4·``batch`` samples) and records every step's loss and the final
    full-set loss. ``progress`` shows a rich progress bar when stderr is a terminal.

    Args:
        activation: the hidden layers' activation (tanh, relu, sigmoid, ...).
        depth: the number of hidden layers.
        width: the hidden width.
        backend: ``numpy``, ``torch``, ``tensorflow`` or ``jax``.
        schemes: the schemes to compare (see above).
        batch: the batch size.
        classes: the number of classes of the synthetic task.
        seed: the seed of the data and of every scheme's draws.
        train_steps: SGD steps per network (0: one forward/backward pass only).
        lr: the SGD learning rate.
        progress: show a progress bar.

    Returns:
        A ``ProbeResult``: ``str()`` is the table, ``verdicts`` the verdict per label, ``plot`` the figure.

    Examples:
        N(0, 1) weights saturate a deep tanh net; Glorot's keep it in its linear range:

        >>> import winit
        >>> result = winit.probe("tanh", depth=4, width=16, batch=32, schemes=["N(0,1)", "glorot"])
        >>> result.verdicts
        {'N(0,1)': 'saturated', 'glorot': 'healthy'}

    References:
        X. Glorot, Y. Bengio, "Understanding the difficulty of training deep feedforward neural networks",
        AISTATS 2010 (the experiment this reproduces).
    """
    activation = choice(
        "activation", activation.lower() if isinstance(activation, str) else activation, ACTIVATIONS
    )
    backend_key = _BACKEND_ALIASES.get(backend, backend) if isinstance(backend, str) else backend
    backend_key = choice("backend", backend_key, PROBE_BACKENDS)
    depth = integer("depth", depth, minimum=1)
    width = integer("width", width, minimum=2)
    batch = integer("batch", batch, minimum=2)
    classes = integer("classes", classes, minimum=2)
    seed = integer("seed", seed, minimum=0)
    train_steps = integer("train_steps", train_steps, minimum=0)
    lr = real("lr", lr, positive=True)
    _check_size(depth, width, batch)
    items = _resolve(schemes)

    data_x, data_y = synthetic_task(batch * _TRAIN_BATCHES, width, classes, seed)
    x, y = data_x[:batch], data_y[:batch]
    order = np.random.default_rng(seed + 1).permutation(len(data_x))
    runs = []
    with _progress(progress, len(items) * (1 + train_steps), f"probing {len(items)} schemes") as advance:
        for label, scheme in items:
            net = build(
                backend_key, scheme, activation=activation, depth=depth, width=width,
                in_features=width, classes=classes, seed=seed,
            )  # fmt: skip
            found = _judge(activation, x, net.run(x, y))
            advance(1)
            losses: list[float] = []
            for step in range(train_steps):
                start = (step * batch) % len(data_x)
                rows = order[start : start + batch]
                losses.append(net.sgd_step(data_x[rows], data_y[rows], lr))
                advance(1)
            final = net.loss(data_x, data_y) if train_steps else None
            runs.append(SchemeRun(label, scheme, found, tuple(losses), final))
    return ProbeResult(
        activation, depth, width, backend_key, batch, classes, seed, train_steps, lr, tuple(runs)
    )


# -- command line (its arguments are parsed in winit/cli.py) -------------------------------------------------
#: argparse's status for bad arguments; bad values (unknown scheme, activation) exit the same way.
EXIT_USAGE: Final = 2


def run_probe(
    out: TextIO,
    *,
    activation: str = "tanh",
    depth: int = 10,
    width: int = 64,
    batch: int = 256,
    backend: str = "numpy",
    schemes: Sequence[str] | None = None,
    seed: int = 0,
    train: int = 0,
    lr: float = 0.05,
    plot: str | None = None,
    layers: bool = False,
    plain: bool = False,
) -> int:
    """``winit probe``: print the verdict table to ``out``, optionally write the figure; 2 on a bad value."""
    try:
        if plot:  # before the probe runs, not after
            check_plot_path(plot)
        result = probe(
            activation, depth=depth, width=width, backend=backend, schemes=schemes, batch=batch,
            seed=seed, train_steps=train, lr=lr, progress=True,
        )  # fmt: skip
    except (ValueError, TypeError, OverflowError, ImportError, MemoryError) as error:
        print(f"winit probe: error: {_one_line(error)}", file=sys.stderr)
        return EXIT_USAGE
    shown = console(out, plain)
    if shown is None:
        print(result.table(layers=layers), file=out)
    else:
        shown.print(result.rich_table())
        if layers:
            for run in result:
                shown.print(run.diagnosis.rich_table(f"{run.label}: {run.verdict} ({run.diagnosis.reason})"))
    if plot:
        try:
            path = result.plot(plot)
        except (
            ValueError,
            OSError,
            RuntimeError,
        ) as error:  # e.g. a pgf backend without LaTeX, no permission
            print(f"winit probe: error: {_one_line(error)}", file=sys.stderr)
            return EXIT_USAGE
        print(f"wrote {path}", file=out)
    return 0


def _one_line(error: BaseException) -> str:
    """``error``'s message on one line (a MemoryError may have none: then its type names it)."""
    text = " ".join(str(error).split())
    return text or type(error).__name__
