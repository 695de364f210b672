"""μP coordinate check: a small MLP trained a few steps at several widths, activation scale against width.

The check of Tensor Programs V (and ``mup.coord_check``): under the standard parametrization (SP:
1/√fan_in init, one learning rate) the typical size of an activation coordinate after a few Adam
steps grows with width, because each weight update is correlated with the activations it
multiplies; under μP it stays flat. The network is input → ReLU(d) → ReLU(d) → readout on a fixed
synthetic regression batch, trained by hand-written backprop in NumPy (float32, fixed seed).
μP's init laws and learning-rate multipliers are read from the ``mup`` recipe (input weight: the
embedding role; the d×d weight: dense; the readout: head) with sigma0 = base_width^-½, so it
coincides with SP's 1/√fan_in at the base width.
"""

from __future__ import annotations

import math
import sys
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Final, TextIO

import numpy as np

from winit._recipes import Recipe
from winit._registry import get
from winit._roles import Role
from winit._schemes import Scheme

PARAMETRIZATIONS: Final = ("SP", "μP")
OPTIMIZERS: Final = ("adam", "sgd")
LAYERS: Final = ("hidden1", "hidden2", "output")
#: The synthetic task: inputs and targets of these widths, a batch this large.
N_IN: Final = 16
N_OUT: Final = 8
BATCH: Final = 32
_ROLES: Final = (Role.EMBEDDING, Role.DENSE, Role.HEAD)  # input, hidden, readout in the mup recipe
_MAX_WIDTH: Final = 8192


@dataclass(frozen=True)
class CoordRow:
    """One measurement: mean |x| of ``layer``'s activations at ``width`` after ``step`` updates."""

    parametrization: str
    width: int
    step: int
    layer: str
    scale: float


def _laws(
    parametrization: str, width: int, base_width: int, sgd: bool, mup: Recipe
) -> list[tuple[Scheme, float]]:
    """(scheme, lr multiplier) for the input, hidden and readout weights."""
    if parametrization == "SP":
        return [(get("lecun_normal"), 1.0)] * 3  # drawn N(0, 1/fan_in): torch-like scale, one learning rate
    context = mup.context(width_mult=width / base_width, sigma0=base_width**-0.5, sgd=sgd)
    laws = []
    for role in _ROLES:
        law = mup.role_law(role)
        scheme = mup.law(role, **context)
        if law is None or scheme is None:
            raise ValueError(
                f"recipe {mup.name!r} sets no drawn law for {role.value}; the coord check needs one"
            )
        laws.append((scheme, law.lr_multiplier(context)))
    return laws


def _draw(scheme: Scheme, shape: tuple[int, int], rng: np.random.Generator) -> np.ndarray:
    """``scheme`` planned for a torch-layout (out, in) weight, drawn N(0, std²) or zeros."""
    std = float(scheme.plan(shape, layout="torch").std)
    if scheme.name == "zeros" or std == 0:
        return np.zeros(shape, np.float32)
    draw: np.ndarray = rng.standard_normal(shape, dtype=np.float32) * np.float32(std)
    return draw


def _train(
    parametrization: str,
    width: int,
    base_width: int,
    steps: int,
    lr: float,
    optimizer: str,
    seed: int,
    mup: Recipe,
) -> list[CoordRow]:
    data = np.random.default_rng(seed)
    x = data.standard_normal((BATCH, N_IN), dtype=np.float32)
    target = data.standard_normal((BATCH, N_OUT), dtype=np.float32)
    rng = np.random.default_rng([seed, width])  # the weights: one stream per width
    laws = _laws(parametrization, width, base_width, optimizer == "sgd", mup)
    shapes = [(width, N_IN), (width, width), (N_OUT, width)]
    weights = [_draw(scheme, shape, rng) for (scheme, _), shape in zip(laws, shapes, strict=True)]
    rates = [np.float32(lr * m) for _, m in laws]
    first = [np.zeros_like(w) for w in weights]
    second = [np.zeros_like(w) for w in weights]
    rows: list[CoordRow] = []
    for step in range(steps + 1):
        a1 = x @ weights[0].T
        h1 = np.maximum(a1, 0)
        a2 = h1 @ weights[1].T
        h2 = np.maximum(a2, 0)
        y = h2 @ weights[2].T
        for layer, value in zip(LAYERS, (h1, h2, y), strict=True):
            rows.append(CoordRow(parametrization, width, step, layer, float(np.mean(np.abs(value)))))
        if step == steps:
            break
        dy = (y - target) / np.float32(BATCH)  # d/dy of ½·mean over the batch of ‖y − target‖²
        d2 = (dy @ weights[2]) * (a2 > 0)
        d1 = (d2 @ weights[1]) * (a1 > 0)
        grads = [d1.T @ x, d2.T @ h1, dy.T @ h2]
        for i, grad in enumerate(grads):
            if optimizer == "sgd":
                weights[i] -= rates[i] * grad
                continue
            first[i] = np.float32(0.9) * first[i] + np.float32(0.1) * grad
            second[i] = np.float32(0.999) * second[i] + np.float32(0.001) * grad * grad
            m_hat = first[i] / np.float32(1 - 0.9 ** (step + 1))
            v_hat = second[i] / np.float32(1 - 0.999 ** (step + 1))
            weights[i] -= rates[i] * m_hat / (np.sqrt(v_hat) + np.float32(1e-8))
    return rows


def coord_check(
    widths: Sequence[int] = (64, 128, 256, 512, 1024),
    *,
    base_width: int = 64,
    steps: int = 5,
    lr: float = 0.05,
    optimizer: str = "adam",
    seed: int = 0,
    recipe: str | Recipe = "mup",
) -> list[CoordRow]:
    """Mean |activation| per layer, width and step (0 … ``steps``) under SP and μP; μP flat in width, SP not.

    ``recipe``: the μP recipe whose embedding, dense and head laws and lr multipliers are checked.
    """
    from winit import recipe as lookup

    mup = lookup(recipe)
    if optimizer not in OPTIMIZERS:
        raise ValueError(f"optimizer must be one of {', '.join(OPTIMIZERS)}, got {optimizer!r}")
    if not widths or any(
        isinstance(w, bool) or not isinstance(w, int) or not 1 <= w <= _MAX_WIDTH for w in widths
    ):
        raise ValueError(f"widths must be integers in 1..{_MAX_WIDTH}, got {list(widths)!r}")
    if isinstance(base_width, bool) or not isinstance(base_width, int) or base_width < 1:
        raise ValueError(f"base_width must be a positive integer, got {base_width!r}")
    if isinstance(steps, bool) or not isinstance(steps, int) or not 0 <= steps <= 1000:
        raise ValueError(f"steps must be an integer in 0..1000, got {steps!r}")
    if not isinstance(lr, (int, float)) or not math.isfinite(lr) or lr <= 0:
        raise ValueError(f"lr must be a finite number > 0, got {lr!r}")
    with np.errstate(over="ignore", invalid="ignore"):  # SP may blow up at large widths: that is the finding
        return [
            row
            for parametrization in PARAMETRIZATIONS
            for width in sorted(set(widths))
            for row in _train(parametrization, width, base_width, steps, float(lr), optimizer, seed, mup)
        ]


def coord_table(rows: Sequence[CoordRow], step: int | None = None) -> str:
    """The rows at ``step`` (default: the last) as a table: a line per (parametrization, layer), a column per
    width, and the growth from the smallest width to the largest."""
    if not rows:
        return "(no rows)"
    step = max(row.step for row in rows) if step is None else step
    widths = sorted({row.width for row in rows})
    at = {(r.parametrization, r.layer, r.width): r.scale for r in rows if r.step == step}
    header = ["param", "layer", *(f"d={w}" for w in widths), "growth"]
    lines = [header]
    for parametrization in PARAMETRIZATIONS:
        for layer in LAYERS:
            values = [at.get((parametrization, layer, w), math.nan) for w in widths]
            growth = values[-1] / values[0] if values[0] > 0 else math.nan
            lines.append([parametrization, layer, *(f"{v:.4g}" for v in values), f"×{growth:.3g}"])
    sizes = [max(len(line[i]) for line in lines) for i in range(len(header))]
    text = ["  ".join(c.ljust(n) if i < 2 else c.rjust(n) for i, (c, n) in enumerate(zip(line, sizes, strict=True)))
            for line in lines]  # fmt: skip
    return "\n".join([f"mean |activation| after {step} steps", *text])


# -- command line: `winit probe --coord-check` (its options are defined in winit/cli.py) --------------------
def run_coord_check(
    out: TextIO,
    *,
    widths: Sequence[int],
    steps: int = 5,
    lr: float = 0.05,
    optimizer: str = "adam",
    seed: int = 0,
) -> int:
    """``winit probe --coord-check``: print the table to ``out``; 2 on a bad value."""
    try:
        widths = list(widths)
        rows = coord_check(
            widths,
            base_width=min(widths) if widths else 1,
            steps=steps,
            lr=lr,
            optimizer=optimizer,
            seed=seed,
        )
    except ValueError as error:
        print(f"winit probe: error: {error}", file=sys.stderr)
        return 2
    title = (f"winit probe --coord-check: {N_IN} → d → d → {N_OUT} ReLU MLP, batch {BATCH}, {steps} "
             f"{optimizer} steps at lr {lr:g}, base width {min(widths)}, seed {seed}")  # fmt: skip
    print(title, file=out)
    print(coord_table(rows), file=out)
    print("μP: flat in width (growth ≈ ×1); SP: grows with width.", file=out)
    return 0
