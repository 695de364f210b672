"""Per-layer statistics of one forward/backward pass and a verdict on the initialization that produced it.

Framework-neutral: every number is computed with NumPy from the arrays a backend hands over, so the
``winit probe`` MLP (any backend) and :func:`diagnose_torch` (``winit.torch.diagnose``, a user's own
model) share one table and one set of thresholds.

Per layer: the output's mean and std over all its entries; the fraction **saturated** (tanh:
``|h| > 0.99``; sigmoid: ``h < 0.01`` or ``h > 0.99``); the fraction of **dead** units (ReLU: a unit
that is exactly 0 for every example of the batch); the Frobenius norm of the layer's weight
gradient; and whether its units are **identical** (every unit's output equals the first unit's to
``SYMMETRY_RTOL = 1e-6`` of the layer's largest magnitude, over the whole batch). A *unit* is a
column of a 2-D output (batch, features) and a channel (axis 1) of a convolution's output.

The verdict is the first rule that fires, in this order (``input std`` is the std of the data fed
to the network; ratios compare like with like, so they do not depend on the data's scale):

1. ``symmetric``  some layer with ≥ 2 units has identical units although its input did not vanish
   (its input std ≥ ``VANISHING_RATIO`` · input std): the weights give every unit the same
   function, so gradients cannot tell them apart (zeros, any constant).
2. ``exploding``  a non-finite activation, gradient or loss, or the last layer's std >
   ``EXPLODING_RATIO = 1e2`` · input std (N(0, 1) on ReLU).
3. ``saturated``  the saturated fraction, averaged over the layers, > ``SATURATED_FRACTION = 0.1``
   (tanh/sigmoid pushed onto their flat tails: N(0, 1) on tanh; healthy tanh nets stay near 0%).
4. ``exploding``  the first layer's weight gradient is > ``GRADIENT_RATIO = 1e3`` times the last
   layer's (checked after saturation, which is the cause when both fire).
5. ``vanishing``  the last layer's std < ``VANISHING_RATIO = 1e-2`` · input std (small N(0, 0.01)
   weights shrink the signal layer by layer); or some layer has > ``DEAD_FRACTION = 0.5`` of its
   units dead; or the first layer's weight gradient is < 1/``GRADIENT_RATIO`` times the last
   layer's (deep sigmoid nets, whatever the init: σ' ≤ 1/4).
6. ``healthy``   none of the above.

"Last layer" is the deepest layer that has statistics (the last hidden layer of the probe MLP; the
last leaf module called, usually the classifier, for :func:`diagnose_torch`). The gradient rule
compares the first and the last layer that have a weight gradient. A layer whose output is
deliberately all zero (Fixup's or ReZero's zero-initialized last layer of a residual branch) is
reported ``symmetric``: its units are identical at the start, even though the gradient breaks that.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING, Any, Final

import numpy as np

from winit import _diagnose_torch as _dt
from winit._table import rich_table as _rich_table
from winit._table import text_table

if TYPE_CHECKING:  # pragma: no cover - typing only; torch is imported inside diagnose_torch
    import torch

#: relative tolerance for "identical units": max |unit_j − unit_0| ≤ SYMMETRY_RTOL · max |h|.
SYMMETRY_RTOL: Final = 1e-6
#: last-layer std below this times the input std: the signal vanished.
VANISHING_RATIO: Final = 1e-2
#: last-layer std above this times the input std: the signal exploded.
EXPLODING_RATIO: Final = 1e2
#: first/last layer weight-gradient norm beyond this factor (either way): gradients explode or vanish.
GRADIENT_RATIO: Final = 1e3
#: mean saturated fraction over the layers above this: saturated.
SATURATED_FRACTION: Final = 0.1
#: a layer with more than this fraction of dead ReLU units: vanishing.
DEAD_FRACTION: Final = 0.5
#: tanh outputs beyond ±TANH_SATURATION are saturated (tanh' = 1 − h² < 0.02).
TANH_SATURATION: Final = 0.99
#: sigmoid outputs outside [SIGMOID_SATURATION, 1 − SIGMOID_SATURATION] are saturated (σ' < 0.0099).
SIGMOID_SATURATION: Final = 0.01

VERDICTS: Final[tuple[str, ...]] = ("symmetric", "exploding", "saturated", "vanishing", "healthy")
#: activations whose saturation or dead units are measured (others report "-").
SATURATING: Final[tuple[str, ...]] = ("tanh", "sigmoid")
RECTIFYING: Final[tuple[str, ...]] = ("relu",)

_HEADERS: Final = ("layer", "kind", "units", "mean", "std", "saturated", "dead", "grad norm", "identical")
_NUMERIC: Final = frozenset({"units", "mean", "std", "saturated", "dead", "grad norm"})


@dataclass(frozen=True)
class LayerStats:
    """Statistics of one layer's output (and its weight gradient) for one batch.

    Made by :func:`layer_stats`; ``saturated``/``dead`` are fractions (None where the activation has
    no such measure), ``grad_norm`` the Frobenius norm of the layer's weight gradient (None without one).

    Examples:
        >>> from winit.diagnose import LayerStats
        >>> LayerStats("fc1", "Linear", units=8, mean=0.0, std=0.5, input_std=1.0).cells()
        ('fc1', 'Linear', '8', '0', '0.5', '-', '-', '-', 'no')
    """

    name: str
    kind: str
    units: int
    mean: float
    std: float
    input_std: float
    saturated: float | None = None
    dead: float | None = None
    grad_norm: float | None = None
    identical: bool = False
    finite: bool = True

    def cells(self) -> tuple[str, ...]:
        """The row as table cells, in the column order of :meth:`Diagnosis.table`.

        Examples:
            >>> from winit.diagnose import LayerStats
            >>> LayerStats("relu1", "ReLU", 4, 0.2, 0.3, 1.0, dead=0.25).cells()[5:7]
            ('-', '25%')
        """
        return (
            self.name,
            self.kind,
            str(self.units),
            _number(self.mean),
            _number(self.std),
            "-" if self.saturated is None else f"{self.saturated:.0%}",
            "-" if self.dead is None else f"{self.dead:.0%}",
            "-" if self.grad_norm is None else _number(self.grad_norm),
            "yes" if self.identical else "no",
        )


@dataclass(frozen=True)
class Diagnosis:
    """The per-layer statistics of one pass, the verdict they lead to and the rule that decided it.

    Made by :func:`diagnosis` (or ``winit.torch.diagnose``); ``str()`` is the table and the verdict.

    Examples:
        >>> import numpy as np
        >>> from winit.diagnose import diagnosis, layer_stats
        >>> x = np.linspace(-1.0, 1.0, 64).reshape(16, 4)
        >>> d = diagnosis([layer_stats("fc1", "Linear", 0.5 * x, input_std=1.0)], input_std=1.0)
        >>> d.verdict, d.reason
        ('healthy', 'fc1 (Linear) std 0.293, input std 1')
    """

    layers: tuple[LayerStats, ...]
    verdict: str
    reason: str
    input_std: float
    loss: float = math.nan
    histograms: tuple[tuple[np.ndarray, np.ndarray], ...] = field(default=(), compare=False, repr=False)

    def __str__(self) -> str:
        return f"{self.table()}\nverdict: {self.verdict} ({self.reason})"

    def table(self) -> str:
        """Per-layer statistics as a plain-text table, one row per layer.

        Examples:
            >>> import numpy as np
            >>> from winit.diagnose import diagnosis, layer_stats
            >>> x = np.linspace(-1.0, 1.0, 64).reshape(16, 4)
            >>> print(diagnosis([layer_stats("fc1", "Linear", x + 1.0, input_std=1.0)], 1.0).table())
            layer  kind    units  mean    std  saturated  dead  grad norm  identical
            -----  ------  -----  ----  -----  ---------  ----  ---------  ---------
            fc1    Linear      4     1  0.586          -     -          -  no
        """
        return text_table(_HEADERS, [layer.cells() for layer in self.layers], _NUMERIC)

    def rich_table(self, title: str | None = None) -> Any:
        """Per-layer statistics as a ``rich.table.Table`` (needs rich: ``pip install 'winit[cli]'``).

        Args:
            title: the table's title; None: the verdict and its reason.

        Examples:
            >>> import numpy as np
            >>> from winit.diagnose import diagnosis, layer_stats
            >>> x = np.linspace(-1.0, 1.0, 64).reshape(16, 4)
            >>> table = diagnosis([layer_stats("fc1", "Linear", x, input_std=1.0)], 1.0).rich_table()
            >>> table.title, table.row_count
            ('verdict: healthy (fc1 (Linear) std 0.586, input std 1)', 1)
        """
        title = title or f"verdict: {self.verdict} ({self.reason})"
        return _rich_table(_HEADERS, [layer.cells() for layer in self.layers], numeric=_NUMERIC, title=title)

    @property
    def std_profile(self) -> tuple[float, ...]:
        """Each layer's output std, first layer first."""
        return tuple(layer.std for layer in self.layers)

    @property
    def grad_profile(self) -> tuple[float, ...]:
        """Each layer's weight-gradient norm (NaN where the layer has none), first layer first."""
        return tuple(math.nan if layer.grad_norm is None else layer.grad_norm for layer in self.layers)


def _number(value: float) -> str:
    if not math.isfinite(value):
        return str(value)
    return f"{value:.3g}" if value == 0 or 1e-3 <= abs(value) < 1e4 else f"{value:.2e}"


def _units_view(output: np.ndarray, unit_axis: int) -> np.ndarray:
    """``output`` as a (samples, units) matrix: the unit axis last, every other axis flattened into rows."""
    if output.ndim == 0:
        return output.reshape(1, 1)
    if output.ndim == 1:
        return output.reshape(-1, 1)
    moved = np.moveaxis(output, unit_axis, -1)
    return moved.reshape(-1, moved.shape[-1])


def units_identical(output: np.ndarray, unit_axis: int = -1, rtol: float = SYMMETRY_RTOL) -> bool:
    """True when every unit equals unit 0 on every sample: max |h_j − h_0| ≤ rtol · max |h| (needs ≥ 2 units).

    Args:
        output: a layer's output for one batch.
        unit_axis: the axis of the units (-1 for features, 1 for a convolution's channels).
        rtol: the tolerance relative to the largest magnitude.

    Examples:
        A constant init gives every unit the same function (the symmetry that gradients cannot break):

        >>> import numpy as np
        >>> from winit.diagnose import units_identical
        >>> units_identical(np.ones((4, 3))), units_identical(np.eye(3))
        (True, False)
    """
    matrix = _units_view(np.asarray(output, dtype=np.float64), unit_axis)
    if matrix.shape[1] < 2:
        return False
    with np.errstate(invalid="ignore", over="ignore"):
        first = matrix[:, :1]
        # inf == inf counts as equal (a constant init can overflow every unit the same way); NaN never does.
        spread = np.where(matrix == first, 0.0, np.abs(matrix - first))
        scale = np.max(np.abs(np.where(np.isfinite(matrix), matrix, 0.0)), initial=0.0)
        return bool(np.all(spread <= rtol * scale))


def layer_stats(
    name: str,
    kind: str,
    output: np.ndarray,
    *,
    input_std: float,
    activation: str | None = None,
    grad: np.ndarray | None = None,
    unit_axis: int = -1,
) -> LayerStats:
    """Statistics of one layer's ``output`` (float64 maths); ``activation`` picks the saturation/dead measure.

    Args:
        name: the layer's name in the table.
        kind: the layer's kind (its class name).
        output: the layer's output for one batch.
        input_std: the std of the data fed to the network (the verdict's yardstick).
        activation: ``tanh`` or ``sigmoid`` (measure saturation), ``relu`` (measure dead units) or None.
        grad: the layer's weight gradient, or None.
        unit_axis: the axis of the units.

    Examples:
        >>> import numpy as np
        >>> from winit.diagnose import layer_stats
        >>> x = np.linspace(-1.0, 1.0, 64).reshape(16, 4)
        >>> s = layer_stats("tanh1", "Tanh", np.tanh(3 * x), input_std=1.0, activation="tanh")
        >>> s.units, s.saturated, s.identical
        (4, 0.125, False)
        >>> layer_stats("relu1", "ReLU", np.maximum(x, 0) * [0, 1, 1, 1], input_std=1.0, activation="relu").dead
        0.25
    """
    values = np.asarray(output, dtype=np.float64)
    finite = bool(np.all(np.isfinite(values)))
    with np.errstate(invalid="ignore", over="ignore"):
        mean, std = float(np.mean(values)), float(np.std(values))
    saturated = dead = None
    if activation == "tanh":
        saturated = float(np.mean(np.abs(values) > TANH_SATURATION))
    elif activation == "sigmoid":
        saturated = float(np.mean((values < SIGMOID_SATURATION) | (values > 1.0 - SIGMOID_SATURATION)))
    elif activation in RECTIFYING:
        dead = float(np.mean(np.all(_units_view(values, unit_axis) == 0.0, axis=0)))
    grad_norm = None
    if grad is not None:
        grad_norm = _norm(grad)
        finite = finite and math.isfinite(grad_norm)
    units = _units_view(values, unit_axis).shape[1]
    return LayerStats(
        name=name,
        kind=kind,
        units=units,
        mean=mean,
        std=std,
        input_std=float(input_std),
        saturated=saturated,
        dead=dead,
        grad_norm=grad_norm,
        identical=units_identical(values, unit_axis),
        finite=finite,
    )


def _norm(grad: np.ndarray) -> float:
    """Frobenius norm in float64 (inf when it overflows even there)."""
    with np.errstate(over="ignore", invalid="ignore"):
        return float(np.linalg.norm(np.asarray(grad, dtype=np.float64).ravel()))


def histogram(output: np.ndarray, bins: int = 40) -> tuple[np.ndarray, np.ndarray]:
    """(counts, edges) of the finite entries of ``output``, over their own range (an empty one if none are finite).

    Examples:
        >>> import numpy as np
        >>> from winit.diagnose import histogram
        >>> counts, edges = histogram(np.array([0.0, 0.5, 1.0, np.inf]), bins=2)
        >>> counts.tolist(), edges.tolist()
        ([1, 2], [0.0, 0.5, 1.0])
    """
    values = np.asarray(output, dtype=np.float64).ravel()
    values = values[np.isfinite(values)]
    if values.size == 0:
        return np.zeros(bins, dtype=np.int64), np.linspace(-1.0, 1.0, bins + 1)
    counts, edges = np.histogram(values, bins=bins)
    return counts, edges


def verdict(layers: Sequence[LayerStats], input_std: float, loss: float = math.nan) -> tuple[str, str]:
    """(verdict, reason): the first rule of the module docstring that fires for these layers.

    Args:
        layers: the layers' statistics, first layer first.
        input_std: the std of the data fed to the network.
        loss: the pass's loss (a non-finite loss is ``exploding``); NaN: not measured.

    Examples:
        >>> import numpy as np
        >>> from winit.diagnose import layer_stats, verdict
        >>> x = np.linspace(-1.0, 1.0, 64).reshape(16, 4)
        >>> fc1 = layer_stats("fc1", "Linear", 0.5 * x, input_std=1.0)
        >>> verdict([fc1, layer_stats("fc2", "Linear", 1e3 * x, input_std=1.0)], input_std=1.0)
        ('exploding', 'fc2 (Linear) std 586 > 100 × input std 1')
        >>> verdict([layer_stats("fc", "Linear", np.zeros((16, 4)), input_std=1.0)], input_std=1.0)
        ('symmetric', 'fc (Linear): all 4 units identical')

    References:
        Per-layer activation and gradient statistics at initialization as the test of a scheme:
        X. Glorot, Y. Bengio, "Understanding the difficulty of training deep feedforward neural networks",
        AISTATS 2010; the symmetry that identical units cannot break: D. Rumelhart, G. Hinton, R. Williams,
        "Learning representations by back-propagating errors", Nature 1986.
    """
    if not layers:
        raise ValueError("no layer statistics to judge: the model recorded no layer output")
    floor = VANISHING_RATIO * input_std
    for layer in layers:
        if layer.units >= 2 and layer.identical and layer.input_std >= floor:
            return "symmetric", f"{_where(layer)}: all {layer.units} units identical"
    bad = [_where(layer) for layer in layers if not layer.finite]
    if bad or math.isinf(loss):
        where = bad[0] if bad else "the loss"
        return "exploding", f"non-finite values in {where}"
    last = layers[-1]
    if last.std > EXPLODING_RATIO * input_std:
        return (
            "exploding",
            f"{_where(last)} std {last.std:.3g} > {EXPLODING_RATIO:g} × input std {input_std:.3g}",
        )
    measured = [layer.saturated for layer in layers if layer.saturated is not None]
    if measured and float(np.mean(measured)) > SATURATED_FRACTION:
        return "saturated", f"{float(np.mean(measured)):.0%} of activations saturated (mean over layers)"
    ratio = _gradient_ratio(layers)
    if ratio is not None and ratio[0] > GRADIENT_RATIO:
        return "exploding", f"{ratio[1]} weight gradient {ratio[0]:.3g}× {ratio[2]}'s"
    if last.std < floor:
        return (
            "vanishing",
            f"{_where(last)} std {last.std:.3g} < {VANISHING_RATIO:g} × input std {input_std:.3g}",
        )
    for layer in layers:
        if layer.dead is not None and layer.dead > DEAD_FRACTION:
            return "vanishing", f"{_where(layer)}: {layer.dead:.0%} of units dead"
    if ratio is not None and ratio[0] < 1.0 / GRADIENT_RATIO:
        return "vanishing", f"{ratio[1]} weight gradient {ratio[0]:.3g}× {ratio[2]}'s"
    return "healthy", f"{_where(last)} std {last.std:.3g}, input std {input_std:.3g}"


def _where(layer: LayerStats) -> str:
    return f"{layer.name} ({layer.kind})"


def _gradient_ratio(layers: Sequence[LayerStats]) -> tuple[float, str, str] | None:
    """(‖∇W_first‖ / ‖∇W_last‖, first name, last name) over the layers with a weight gradient; None if < 2."""
    with_grad = [layer for layer in layers if layer.grad_norm is not None]
    if len(with_grad) < 2:
        return None
    first, last = with_grad[0], with_grad[-1]
    assert first.grad_norm is not None and last.grad_norm is not None
    if last.grad_norm == 0.0:
        return None  # no gradient reaches the top: nothing to compare (zeros init, caught as symmetric)
    return first.grad_norm / last.grad_norm, _where(first), _where(last)


def diagnosis(
    layers: Sequence[LayerStats],
    input_std: float,
    loss: float = math.nan,
    histograms: Sequence[tuple[np.ndarray, np.ndarray]] = (),
) -> Diagnosis:
    """Bundle ``layers`` with their verdict (see :func:`verdict`).

    Args:
        layers: the layers' statistics, first layer first.
        input_std: the std of the data fed to the network.
        loss: the pass's loss, or NaN.
        histograms: optional (counts, edges) per layer (:func:`histogram`), for plots.

    Examples:
        >>> import numpy as np
        >>> from winit.diagnose import diagnosis, layer_stats
        >>> x = np.linspace(-1.0, 1.0, 64).reshape(16, 4)
        >>> layers = [layer_stats(f"fc{i}", "Linear", 10.0**i * x, input_std=1.0) for i in range(4)]
        >>> d = diagnosis(layers, input_std=1.0)
        >>> d.verdict, [round(std, 3) for std in d.std_profile]
        ('exploding', [0.586, 5.864, 58.644, 586.443])
    """
    decided, reason = verdict(layers, input_std, loss)
    return Diagnosis(tuple(layers), decided, reason, float(input_std), float(loss), tuple(histograms))


# -- torch: hooks on every leaf module ------------------------------------------------------------------------
def diagnose_torch(
    model: torch.nn.Module,
    inputs: Any,
    loss_fn: Callable[[Any], torch.Tensor] | None = None,
    *,
    seed: int = 0,
) -> Diagnosis:
    """Hook every leaf module of ``model``, run ``inputs`` forward and backward once, and judge the init.

    ``inputs``: a tensor, a tuple/list of positional arguments or a dict of keyword arguments.
    ``loss_fn(output) -> scalar``; the default is ⟨output, r⟩ averaged over the batch with
    r ~ N(0, 1) drawn once from ``seed``: a label-free error signal of unit size, so each weight
    gradient shows how the model carries it back. Gradients come from ``torch.autograd.grad``, so
    parameters' ``.grad`` stay untouched; the model's train/eval mode is left as it is, and every
    buffer (BatchNorm's running statistics in train mode) is put back as it was. Per leaf module (in
    call order), measured inside its hook so later in-place ops cannot change it: output mean/std,
    saturation (Tanh, Sigmoid), dead units (ReLU), the norm of the module's ``weight`` gradient and
    identical units (channels of a ≥ 3-D output, features after Linear/Embedding/LayerNorm); the
    verdict follows the rules in this module's docstring.
    Activations applied as functions (``F.relu``) are not modules, so they have no row of their own.

    Args:
        model: any ``torch.nn.Module``.
        inputs: the batch: a tensor, a tuple/list of positional arguments or a dict of keyword arguments.
        loss_fn: ``output -> scalar tensor``; None: the random projection above.
        seed: the seed of the default loss's projection.

    Raises:
        TypeError: ``model`` is not a module, or ``loss_fn`` is not callable.

    Examples:
        A deep tanh MLP with N(0, 1) weights saturates:

        >>> import torch
        >>> from winit.diagnose import diagnose_torch
        >>> _ = torch.manual_seed(0)
        >>> layers = [m for _ in range(6) for m in (torch.nn.Linear(64, 64), torch.nn.Tanh())]
        >>> model = torch.nn.Sequential(*layers)
        >>> with torch.no_grad():
        ...     for layer in model[::2]:
        ...         _ = layer.weight.normal_(0.0, 1.0)
        >>> diagnose_torch(model, torch.randn(128, 64)).verdict
        'saturated'
    """
    import torch
    from torch import nn

    if not isinstance(model, nn.Module):
        raise TypeError(f"diagnose needs a torch.nn.Module, got {type(model).__name__}")
    if loss_fn is not None and not callable(loss_fn):
        raise TypeError(f"loss_fn must be a callable output -> scalar tensor or None, got {loss_fn!r}")
    leaves = [(name or type(module).__name__, module) for name, module in model.named_modules()
              if next(module.children(), None) is None]  # fmt: skip
    if isinstance(inputs, dict):
        args, kwargs = (), dict(inputs)
    else:
        args, kwargs = (tuple(inputs) if isinstance(inputs, (tuple, list)) else (inputs,)), {}
    data = _dt.first_tensor((args, kwargs), torch, floating=True)
    input_std = _dt.tensor_std(data) if data is not None else 1.0

    # Statistics are taken inside the hooks: an in-place op after a layer (ReLU(inplace=True), a
    # residual `x += shortcut`) rewrites the very tensor the layer returned, so reading it after the
    # pass would describe the later op instead.
    calls: list[tuple[LayerStats, Any]] = []  # (statistics without the gradient, module)
    histograms: list[tuple[np.ndarray, np.ndarray]] = []
    axes: list[tuple[tuple[int, ...], int]] = []  # (output shape, unit axis) of every recorded call
    counts: dict[str, int] = {}
    source_stds: dict[int, list[float]] = {}  # id(module) -> input stds taken before it ran, in call order

    def record_input(module: Any, hook_inputs: Any) -> None:
        # Before the module runs: an in-place module (ReLU(inplace=True)) overwrites its own input.
        source = _dt.first_tensor(hook_inputs, torch, floating=True)
        source_stds.setdefault(id(module), []).append(input_std if source is None else _dt.tensor_std(source))

    def record(name: str) -> Callable[..., None]:
        def hook(module: Any, _hook_inputs: Any, output: Any) -> None:
            pending = source_stds.get(id(module))
            source_std = pending.pop() if pending else input_std
            tensor = _dt.first_tensor(output, torch, floating=True)
            if tensor is None:
                return
            counts[name] = counts.get(name, 0) + 1
            label = name if counts[name] == 1 else f"{name}#{counts[name]}"
            kind = type(module).__name__
            shape = tuple(tensor.shape)
            unit_axis = _dt.unit_axis(kind, shape, axes[-1] if axes else None)
            axes.append((shape, unit_axis))
            values = tensor.detach().float().cpu().numpy()
            stats = layer_stats(
                label, kind, values, input_std=source_std, activation=_dt.ACTIVATIONS.get(kind),
                unit_axis=unit_axis,
            )  # fmt: skip
            calls.append((stats, module))
            histograms.append(histogram(values))

        return hook

    # Train mode updates BatchNorm's running statistics (and other modules their buffers) during the
    # pass; a diagnosis must leave the model as it found it, so every buffer is put back afterwards.
    # Restored by slot, not just by value: a forward that rebinds a buffer (a recomputed cache) is undone too.
    saved = [
        (module._buffers, key, buffer, buffer.detach().clone())
        for module in model.modules()
        for key, buffer in module._buffers.items()
        if buffer is not None
    ]
    handles = [module.register_forward_pre_hook(record_input) for _, module in leaves]
    handles += [module.register_forward_hook(record(name)) for name, module in leaves]
    try:
        with torch.enable_grad():
            output = model(*args, **kwargs)
            if loss_fn is None:
                result = _dt.first_tensor(output, torch, floating=True)
                if result is None:
                    raise ValueError("the model returned no floating-point tensor; pass loss_fn=")
                generator = torch.Generator(device=result.device).manual_seed(seed)
                direction = torch.randn(
                    result.shape, generator=generator, device=result.device, dtype=result.dtype
                )
                loss = (result * direction).sum() / max(result.shape[0] if result.ndim else 1, 1)
            else:
                loss = loss_fn(output)
            if not isinstance(loss, torch.Tensor) or loss.numel() != 1:
                raise ValueError(f"loss_fn must return a scalar tensor, got {loss!r}")
            weights = {id(m): m.weight for _, m in calls
                       if isinstance(getattr(m, "weight", None), nn.Parameter) and m.weight.requires_grad}  # fmt: skip
            grads = (
                torch.autograd.grad(loss, list(weights.values()), allow_unused=True, retain_graph=False)
                if weights and loss.requires_grad
                else ()
            )
    finally:
        for handle in handles:
            handle.remove()
        with torch.no_grad():
            for slots, key, buffer, value in saved:
                slots[key] = buffer
                buffer.copy_(value)
    grad_of = dict(zip(weights, grads, strict=False))

    layers = []
    for stats, module in calls:
        grad = grad_of.get(id(module))
        if grad is not None:
            norm = _norm(grad.detach().double().cpu().numpy())
            stats = replace(stats, grad_norm=norm, finite=stats.finite and math.isfinite(norm))
        layers.append(stats)
    return diagnosis(layers, input_std, float(loss.detach()), histograms)
