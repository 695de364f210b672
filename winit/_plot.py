"""The ``winit probe`` figure: activation histograms per scheme and layer, std and gradient vs depth, losses.

matplotlib (the ``cli`` extra) is imported here only, with the non-interactive Agg backend, so
``import winit`` never loads it and plotting works without a display.
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import TYPE_CHECKING, Any, Final

import numpy as np

if TYPE_CHECKING:  # pragma: no cover - typing only
    from winit._probe import ProbeResult

_VERDICT_COLOURS: Final = {
    "healthy": "#2e7d32",
    "vanishing": "#1565c0",
    "exploding": "#c62828",
    "saturated": "#ef6c00",
    "symmetric": "#6a1b9a",
}


def shown_layers(depth: int, max_layers: int) -> list[int]:
    """Up to ``max_layers`` 0-based layer indices spread evenly from the first to the last."""
    if depth <= max_layers:
        return list(range(depth))
    return sorted({round(i * (depth - 1) / (max_layers - 1)) for i in range(max_layers)})


def _pyplot() -> Any:
    try:
        import matplotlib
    except ImportError as error:  # pragma: no cover - depends on the environment
        raise ImportError("winit probe --plot needs matplotlib: pip install 'winit[cli]'") from error
    matplotlib.use("Agg", force=True)  # files only: no display, no GUI event loop
    import matplotlib.pyplot as plt

    return plt


def plot_probe(result: ProbeResult, path: str | Path, *, max_layers: int = 6) -> Path:
    """Draw ``result`` into the image file ``path`` (format from its suffix) and return the path."""
    if max_layers < 2:
        raise ValueError(f"max_layers must be >= 2 (the first and the last layer), got {max_layers}")
    target = Path(path)
    if not target.parent.is_dir():
        raise ValueError(f"cannot write {str(target)!r}: directory {str(target.parent)!r} does not exist")
    plt = _pyplot()
    from matplotlib.gridspec import GridSpec
    from matplotlib.ticker import MaxNLocator

    runs = result.runs
    columns = shown_layers(result.depth, max_layers)
    bottom = 3 if result.train_steps else 2
    ncols = max(len(columns), bottom)
    figure = plt.figure(figsize=(2.3 * ncols + 1.2, 1.35 * len(runs) + 3.6), layout="constrained")
    grid = GridSpec(len(runs) + 1, 1, figure=figure, height_ratios=[*([1.0] * len(runs)), 2.4])
    figure.suptitle(result.title, fontsize=11)

    for row, run in enumerate(runs):
        cells = grid[row].subgridspec(1, len(columns))
        colour = _VERDICT_COLOURS.get(run.verdict, "black")
        for col, layer in enumerate(columns):
            axis = figure.add_subplot(cells[col])
            counts, edges = run.diagnosis.histograms[layer]
            axis.stairs(counts, edges, fill=True, color=colour, alpha=0.75)
            axis.set_yticks([])
            axis.xaxis.set_major_locator(MaxNLocator(nbins=4))
            axis.tick_params(axis="x", labelsize=6)
            std = run.diagnosis.layers[layer].std
            axis.text(0.03, 0.95, f"std {std:.2g}", transform=axis.transAxes, fontsize=6, va="top",
                      bbox={"facecolor": "white", "alpha": 0.7, "edgecolor": "none", "pad": 1})  # fmt: skip
            axis.xaxis.get_offset_text().set_fontsize(6)  # the ×1e-20 of a vanishing layer stays legible
            if row == 0:
                axis.set_title(f"layer {layer + 1}", fontsize=8)
            if col == 0:
                axis.set_ylabel(f"{run.label}\n{run.verdict}", fontsize=8, color=colour, rotation=0,
                                ha="right", va="center")  # fmt: skip

    panels = grid[len(runs)].subgridspec(1, bottom, wspace=0.08)
    depths = np.arange(1, result.depth + 1)
    std_axis = figure.add_subplot(panels[0])
    grad_axis = figure.add_subplot(panels[1])
    styles = line_styles(runs)
    for run in runs:
        std_axis.plot(depths, _positive(run.diagnosis.std_profile), label=run.label, **styles[run.label])
        grad_axis.plot(depths, _positive(run.diagnosis.grad_profile), label=run.label, **styles[run.label])
    for axis, what in ((std_axis, "activation std"), (grad_axis, "weight-gradient norm")):
        axis.set_yscale("log")
        axis.set_xlabel("layer", fontsize=8)
        axis.xaxis.set_major_locator(MaxNLocator(integer=True))
        axis.set_title(f"{what} vs depth (0 not drawn)", fontsize=9)
        axis.tick_params(labelsize=7)
        axis.grid(True, which="major", alpha=0.3)
    std_axis.legend(fontsize=6, ncol=2, loc="best")

    if result.train_steps:
        loss_axis = figure.add_subplot(panels[2])
        for run in runs:
            steps = np.arange(1, len(run.losses) + 1)
            loss_axis.plot(steps, run.losses, label=run.label, **{**styles[run.label], "marker": None})
        loss_axis.set_xlabel("SGD step", fontsize=8)
        loss_axis.xaxis.set_major_locator(MaxNLocator(integer=True))
        loss_axis.set_title(f"training loss (lr {result.lr:g})", fontsize=9)
        loss_axis.tick_params(labelsize=7)
        loss_axis.grid(True, alpha=0.3)
        finite = [v for run in runs for v in run.losses if math.isfinite(v)]
        if finite:  # an exploding run's 1e30 would flatten every other curve
            loss_axis.set_ylim(0, min(max(finite), 3 * math.log(result.classes)) * 1.05)
        loss_axis.legend(fontsize=6, ncol=2, loc="best")

    figure.savefig(target, dpi=110)
    plt.close(figure)
    return target


def _positive(values: tuple[float, ...]) -> np.ndarray:
    """``values`` with zeros, NaN and infinities masked: a log axis cannot place them."""
    array = np.asarray(values, dtype=np.float64)
    return np.where(np.isfinite(array) & (array > 0), array, np.nan)


def line_styles(runs: Any) -> dict[str, dict[str, Any]]:
    """label → matplotlib line style: colour by verdict, dash pattern by rank among runs of that verdict."""
    dashes = ("-", "--", ":", "-.")
    seen: dict[str, int] = {}
    styles = {}
    for run in runs:
        rank = seen.get(run.verdict, 0)
        seen[run.verdict] = rank + 1
        styles[run.label] = {
            "color": _VERDICT_COLOURS.get(run.verdict, "black"),
            "linestyle": dashes[rank % len(dashes)],
            "marker": "os^D"[rank % 4],
            "markersize": 2.5,
            "linewidth": 1.2,
        }
    return styles
