"""How :func:`winit.diagnose.diagnose_torch` reads a torch module's output: its tensor, its std, its units.

Framework-free on import: torch is passed in by the caller, which imports it only when it runs.
"""

from __future__ import annotations

from typing import Any, Final

#: torch module class name → the activation whose saturation or dead units its output is measured for.
ACTIVATIONS: Final = {"Tanh": "tanh", "Sigmoid": "sigmoid", "ReLU": "relu", "ReLU6": "relu"}
#: layers whose units are features on the last axis (everything else ≥ 3-D is channels-first, axis 1).
LAST_AXIS: Final = ("Linear", "Bilinear", "Embedding", "EmbeddingBag", "LayerNorm", "RMSNorm")
#: element-wise layers: their units are the units of whatever produced their input.
ELEMENTWISE: Final = (
    "ReLU", "ReLU6", "LeakyReLU", "PReLU", "ELU", "SELU", "CELU", "GELU", "SiLU", "Mish", "Tanh", "Sigmoid",
    "Hardtanh", "Hardswish", "Hardsigmoid", "Softplus", "Dropout", "Dropout1d", "Dropout2d", "Dropout3d",
    "AlphaDropout", "Identity",
)  # fmt: skip


def first_tensor(value: Any, torch: Any, *, floating: bool = False) -> Any:
    """The first tensor in ``value`` (a tensor, or a tuple/list/dict holding some); None if there is none."""
    if isinstance(value, torch.Tensor):
        return value if not floating or value.is_floating_point() else None
    items = value.values() if isinstance(value, dict) else value if isinstance(value, (tuple, list)) else ()
    for item in items:
        found = first_tensor(item, torch, floating=floating)
        if found is not None:
            return found
    return None


def tensor_std(tensor: Any) -> float:
    """The population std of ``tensor``'s entries in float64 (0 for an empty tensor)."""
    return float(tensor.detach().double().std(correction=0)) if tensor.numel() else 0.0


def unit_axis(kind: str, shape: tuple[int, ...], previous: tuple[tuple[int, ...], int] | None) -> int:
    """The axis of the units of a ``kind`` module's output of ``shape``; ``previous``: the last call's (shape, axis).

    Features on the last axis after Linear-like layers and for ≤ 2-D outputs; an element-wise layer keeps
    the axis of the output it transforms (same shape); any other ≥ 3-D output is channels-first (axis 1).
    """
    if kind in LAST_AXIS or len(shape) <= 2:
        return -1
    if kind in ELEMENTWISE and previous is not None and previous[0] == shape:
        return previous[1]
    return 1
