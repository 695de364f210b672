"""LSUV (Mishkin & Matas, "All you need is a good init", ICLR 2016) for torch models.

Orthogonal pre-init of every weight layer (Linear, Conv, ConvTranspose, HF ``Conv1D``) through winit's
``orthogonal`` scheme (biases 0), then, layer by layer in the order the forward pass calls them,
``W ← W / std(output)`` on one batch until ``|var(output) − 1| ≤ tol`` or ``max_iter`` rescales.
Reference: ducha-aiki/LSUV-pytorch. A weight LSUV must not or cannot rescale is left untouched and
reported with the reason: one shared with an embedding (a tied LM head: rescaling it would rescale
the input embedding), one computed by a parametrization, a layer the forward pass never calls, and
any other ≥ 2-D parameter of a module that has no output of its own to measure.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from typing import Any, Final

import torch
from torch import Tensor, nn
from torch.nn.modules.conv import _ConvNd, _ConvTransposeNd
from torch.nn.utils.parametrize import ParametrizationList

from winit._registry import get
from winit._table import text_table
from winit._validate import integer, real
from winit.backends.torch import ADAPTER

#: embedding-like modules: their weight is a lookup table, and a layer sharing it (a tied head) is left alone.
_EMBEDDINGS: Final = (nn.Embedding, nn.EmbeddingBag)

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


@dataclass(frozen=True)
class LSUVSkip:
    """A weight LSUV left untouched: the layer (or parameter) name, its module's class and why."""

    name: str
    kind: str
    reason: str


class LSUVReport:
    """The LSUV rows in the order the layers were processed, then the skipped weights; ``str()`` is a table."""

    def __init__(self, records: Iterable[LSUVRecord], tol: float, skipped: Iterable[LSUVSkip] = ()) -> None:
        self.records: tuple[LSUVRecord, ...] = tuple(records)
        self.tol = tol
        self.skipped: tuple[LSUVSkip, ...] = tuple(skipped)

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
        return (
            f"LSUVReport({len(self.records)} layers, {len(self.skipped)} skipped, tol={self.tol:g}, "
            f"converged={self.converged})"
        )

    def __str__(self) -> str:
        table = text_table(_HEADERS, [record.cells() for record in self.records], _NUMERIC)
        skipped = [f"  {skip.name} ({skip.kind}): {skip.reason}" for skip in self.skipped]
        return "\n".join([table, "skipped:", *skipped]) if skipped else table


def _weight(module: nn.Module) -> Tensor:
    weight = module.weight
    assert isinstance(weight, Tensor)  # every layer _layout accepts has one
    return weight


def _is_hf_conv1d(module: nn.Module) -> bool:
    """transformers' ``Conv1D`` (GPT-2 family): a Linear whose weight is stored (in, out) = (nx, nf)."""
    weight = getattr(module, "weight", None)
    return (
        type(module).__name__ == "Conv1D"
        and isinstance(weight, Tensor)
        and tuple(weight.shape) == (getattr(module, "nx", None), getattr(module, "nf", None))
    )


def _layout(module: nn.Module) -> str | None:
    """The weight layout of a layer LSUV rescales, or None for any other module."""
    if isinstance(module, _ConvTransposeNd) or _is_hf_conv1d(module):
        return "torch_transpose"  # (in, out, *kernel); HF Conv1D is the 2-D case
    if isinstance(module, (nn.Linear, _ConvNd)):
        return "torch"
    return None


def _storage(tensor: Tensor) -> tuple[str, int]:
    """What two tied parameters share: their storage (the object itself where there is none, e.g. meta)."""
    pointer = tensor.untyped_storage().data_ptr() if tensor.device.type != "meta" else 0
    return str(tensor.device), pointer or id(tensor)


def _select(
    model: nn.Module,
) -> tuple[dict[nn.Module, str], dict[nn.Module, str], list[LSUVSkip]]:
    """(layers to process → name, their layouts, skipped weights with reasons), in module order."""
    names = {module: name for name, module in model.named_modules()}
    owners: dict[tuple[str, int], list[nn.Module]] = {}
    for module in names:
        for parameter in module._parameters.values():
            if parameter is not None:
                owners.setdefault(_storage(parameter), []).append(module)
    layers: dict[nn.Module, str] = {}
    layouts: dict[nn.Module, str] = {}
    skipped: list[LSUVSkip] = []
    claimed: dict[tuple[str, int], nn.Module] = {}
    for module, name in names.items():
        kind = type(module).__name__
        layout = _layout(module)
        if layout is None:
            if isinstance(module, _EMBEDDINGS):
                skipped.append(LSUVSkip(name, kind, "embedding: a lookup table, not a layer LSUV rescales"))
                continue
            if isinstance(module, ParametrizationList):
                continue  # the originals of a parametrized weight: its layer's row says why
            for key, parameter in module._parameters.items():
                if parameter is not None and parameter.ndim >= 2:
                    skipped.append(
                        LSUVSkip(f"{name}.{key}" if name else key, kind,
                                 f"{kind} is not a Linear, Conv or HF Conv1D layer: no output of its own to measure")
                    )  # fmt: skip
            continue
        weight = module.weight
        if not isinstance(weight, nn.Parameter):
            skipped.append(LSUVSkip(name, kind, "weight is computed (a parametrization or weight_norm)"))
            continue
        if isinstance(weight, nn.parameter.UninitializedParameter):
            skipped.append(
                LSUVSkip(name, kind, "lazy weight not materialized yet: run one forward pass first")
            )
            continue
        storage = _storage(weight)
        sharing = [other for other in owners[storage] if other is not module]
        embedding = next((other for other in sharing if isinstance(other, _EMBEDDINGS)), None)
        foreign = next((other for other in sharing if _layout(other) is None), None)
        if embedding is not None:
            reason = (
                f"weight tied to embedding {names[embedding]!r}: rescaling it would rescale the embedding"
            )
        elif foreign is not None:
            reason = f"weight shared with {names[foreign]!r} ({type(foreign).__name__}), which LSUV does not rescale"
        elif storage in claimed:
            reason = f"same weight as {names[claimed[storage]]!r}, processed there"
        else:
            claimed[storage] = module
            layers[module] = name
            layouts[module] = layout
            continue
        skipped.append(LSUVSkip(name, kind, reason))
    return layers, layouts, skipped


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
    """LSUV in place: orthogonal W (bias 0), then per weight layer W ← W/√var(out) until |var(out) − 1| ≤ tol.

    Weight layers are Linear, Conv, ConvTranspose and HF ``Conv1D`` (weight stored (in, out)).
    Layers are visited in forward-call order; each gets at most ``max_iter`` rescales, and the
    report gives the rescales per layer with the output variance before and after, and in
    ``report.skipped`` every weight left alone with the reason: a weight tied to an embedding (a
    tied LM head is never written, so the embedding keeps its values), a parametrized weight, a
    layer the forward pass never calls (it keeps the orthogonal pre-init), embeddings, and ≥ 2-D
    parameters of other modules (``MultiheadAttention.in_proj_weight``, RNNs, ...). ``batch`` is a tensor, a
    tuple of positional arguments or a dict of keyword arguments. The forward passes run under
    ``torch.no_grad`` in eval mode (no dropout, BatchNorm on its running statistics, which stay
    unchanged); the model's mode is restored afterwards. ``seed`` seeds the orthogonal draws (one
    stream in module order; None: torch's global RNG).
    """
    if not isinstance(model, nn.Module):
        raise TypeError(f"lsuv_ needs a torch.nn.Module, got {type(model).__name__}")
    tol = real("tol", tol, positive=True)
    max_iter = integer("max_iter", max_iter, minimum=1)
    layers, layouts, skipped = _select(model)
    if not layers:
        why = "".join(f"; {skip.name}: {skip.reason}" for skip in skipped)
        raise ValueError(
            f"lsuv_ rescales nn.Linear, nn.Conv*d and HF Conv1D layers; {type(model).__name__} has none "
            f"it can rescale{why}"
        )
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
                ADAPTER.realize_into(orthogonal.plan(tuple(weight.shape), layouts[module]), weight, generator)
                bias = getattr(module, "bias", None)
                if isinstance(bias, Tensor):
                    bias.zero_()
            called = _call_order(model, batch, layers)
            skipped += [
                LSUVSkip(name, type(module).__name__, "not called by the forward pass (orthogonal pre-init only)")
                for module, name in layers.items() if module not in called
            ]  # fmt: skip
            for module in called:
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
    return model, LSUVReport(records, tol, skipped)
