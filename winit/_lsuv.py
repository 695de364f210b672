"""LSUV (Mishkin & Matas, "All you need is a good init", ICLR 2016) for torch models.

Orthogonal pre-init of every Linear/Conv weight through winit's ``orthogonal`` scheme (biases 0),
then, layer by layer in the order the forward pass calls them, ``W ← W / std(output)`` on one batch
until ``|var(output) − 1| ≤ tol`` or ``max_iter`` rescales. Reference: ducha-aiki/LSUV-pytorch.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from typing import Any, Final

import torch
from torch import Tensor, nn
from torch.nn.modules.conv import _ConvNd, _ConvTransposeNd

from winit._registry import get
from winit._validate import integer, real
from winit.backends.torch import ADAPTER
from winit.diagnose import text_table

_HEADERS: Final = ("layer", "kind", "iterations", "variance before", "variance after", "converged")
_NUMERIC: Final = frozenset({"iterations", "variance before", "variance after"})


@dataclass(frozen=True)
class LSUVRecord:
    """One layer: how many rescales it took and its output variance before and after them."""

    name: str
    kind: str
    iterations: int
    variance_before: float
    variance_after: float
    converged: bool

    def cells(self) -> tuple[str, ...]:
        """The row as table cells."""
        return (
            self.name, self.kind, str(self.iterations), f"{self.variance_before:.4g}",
            f"{self.variance_after:.4g}", "yes" if self.converged else "no",
        )  # fmt: skip


class LSUVReport:
    """The LSUV rows in the order the layers were processed; ``str()`` is a plain-text table."""

    def __init__(self, records: Iterable[LSUVRecord], tol: float) -> None:
        self.records: tuple[LSUVRecord, ...] = tuple(records)
        self.tol = tol

    def __len__(self) -> int:
        return len(self.records)

    def __iter__(self) -> Iterator[LSUVRecord]:
        return iter(self.records)

    def __getitem__(self, key: int | str) -> LSUVRecord:
        """Row ``key``: a position or a layer's qualified name."""
        if isinstance(key, str):
            for record in self.records:
                if record.name == key:
                    return record
            raise KeyError(f"no layer {key!r} in the LSUV report; layers: {', '.join(r.name for r in self)}")
        return self.records[key]

    @property
    def iterations(self) -> dict[str, int]:
        """layer name → rescales it needed."""
        return {record.name: record.iterations for record in self.records}

    @property
    def converged(self) -> bool:
        """True when every layer ended with |variance − 1| ≤ tol."""
        return all(record.converged for record in self.records)

    def __repr__(self) -> str:
        return f"LSUVReport({len(self.records)} layers, tol={self.tol:g}, converged={self.converged})"

    def __str__(self) -> str:
        return text_table(_HEADERS, [record.cells() for record in self.records], _NUMERIC)


def _weight(module: nn.Module) -> Tensor:
    weight = module.weight
    assert isinstance(weight, Tensor)  # Linear and Conv always have one
    return weight


def _forward(model: nn.Module, batch: Any) -> None:
    if isinstance(batch, dict):
        model(**batch)
    elif isinstance(batch, (tuple, list)):
        model(*batch)
    else:
        model(batch)


def _call_order(model: nn.Module, batch: Any, layers: dict[nn.Module, str]) -> list[nn.Module]:
    """The Linear/Conv layers in the order one forward pass calls them (each once; unused ones left out)."""
    order: list[nn.Module] = []

    def hook(module: nn.Module, _inputs: Any, _output: Any) -> None:
        if module not in order:
            order.append(module)

    handles = [module.register_forward_hook(hook) for module in layers]
    try:
        _forward(model, batch)
    finally:
        for handle in handles:
            handle.remove()
    return order


def _output_variance(model: nn.Module, batch: Any, layer: nn.Module) -> float:
    """Variance (over every element, population) of ``layer``'s first output on ``batch``."""
    seen: list[Tensor] = []

    def hook(_module: nn.Module, _inputs: Any, output: Any) -> None:
        if not seen:
            seen.append(output if isinstance(output, Tensor) else output[0])

    handle = layer.register_forward_hook(hook)
    try:
        _forward(model, batch)
    finally:
        handle.remove()
    return float(seen[0].double().var(correction=0))


def lsuv_(
    model: nn.Module,
    batch: Any,
    *,
    tol: float = 0.1,
    max_iter: int = 10,
    seed: int | None = 0,
) -> tuple[nn.Module, LSUVReport]:
    """LSUV in place: orthogonal W (bias 0), then per Linear/Conv layer W ← W/√var(out) until |var(out) − 1| ≤ tol.

    Layers are visited in forward-call order (a layer the forward pass never calls keeps its
    orthogonal init and has no row); each gets at most ``max_iter`` rescales, and the report
    gives the rescales per layer with the output variance before and after. ``batch`` is a tensor, a
    tuple of positional arguments or a dict of keyword arguments. The forward passes run under
    ``torch.no_grad`` in eval mode (no dropout, BatchNorm on its running statistics, which stay
    unchanged); the model's mode is restored afterwards. ``seed`` seeds the orthogonal draws (one
    stream in module order; None: torch's global RNG).
    """
    if not isinstance(model, nn.Module):
        raise TypeError(f"lsuv_ needs a torch.nn.Module, got {type(model).__name__}")
    tol = real("tol", tol, positive=True)
    max_iter = integer("max_iter", max_iter, minimum=1)
    layers: dict[nn.Module, str] = {
        module: name for name, module in model.named_modules() if isinstance(module, (nn.Linear, _ConvNd))
    }
    if not layers:
        raise ValueError(f"lsuv_ rescales nn.Linear and nn.Conv*d layers; {type(model).__name__} has none")
    generator = None
    if seed is not None:
        generator = torch.Generator(device=_weight(next(iter(layers))).device).manual_seed(
            integer("seed", seed)
        )
    orthogonal = get("orthogonal")
    was_training = model.training
    model.eval()
    records = []
    try:
        with torch.no_grad():
            for module in layers:
                weight = _weight(module)
                layout = "torch_transpose" if isinstance(module, _ConvTransposeNd) else "torch"
                ADAPTER.realize_into(orthogonal.plan(tuple(weight.shape), layout), weight, generator)
                bias = getattr(module, "bias", None)
                if isinstance(bias, Tensor):
                    bias.zero_()
            for module in _call_order(model, batch, layers):
                weight = _weight(module)
                variance = before = _output_variance(model, batch, module)
                iterations = 0
                while abs(variance - 1.0) > tol and iterations < max_iter and variance > 0:
                    weight.div_(variance**0.5)
                    iterations += 1
                    variance = _output_variance(model, batch, module)
                records.append(
                    LSUVRecord(layers[module], type(module).__name__, iterations, before, variance,
                               abs(variance - 1.0) <= tol)
                )  # fmt: skip
    finally:
        model.train(was_training)
    return model, LSUVReport(records, tol)
