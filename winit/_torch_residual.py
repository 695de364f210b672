"""Residual blocks of a torch model, read from structure: each block's branch convs and the last of them.

Fixup (Zhang et al. 2019, §3) zeroes the last layer of every residual branch and scales the branch's other
layers by L^(-1/(2m-2)) (L branches of m layers each); ZerO (Zhao et al. 2022, §4) zeroes the same last
layers. A residual block is a repeated unit of a stack (a ModuleList/Sequential of same-type modules) with
a class of its own (a plain Sequential has no skip) holding ≥ 2 convs. Its branch is the convs that chain
in definition order (each reads what the previous writes) from the block's input width to its output
width, less side gates (squeeze-excitation: a child's convs after the first that end at the width they
start from); a shortcut conv (ResNet's downsample) reads the block's input and writes its output beside them.
Where shapes allow two readings (ResNet-50's first bottleneck: conv3 and the downsample both 64→256, 1×1),
the same-type blocks with one reading decide, then the module path (shortcut, downsample, skip, proj),
then the identity shortcut; a block still read two ways is left unmarked.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping
from typing import Any, Protocol

from torch import nn
from torch.nn.modules.conv import _ConvNd

from winit._model_plan import BRANCH, BRANCH_OUT
from winit._residual import branches
from winit._roles import Role

__all__ = ["BRANCH", "BRANCH_OUT", "mark_branches", "residual_branches"]


class _Slot(Protocol):
    role: Role
    part: str


def _units(model: nn.Module) -> list[nn.Module]:
    """The repeated units of the model's stacks: ModuleList/Sequential children of their most common type."""
    out: dict[int, nn.Module] = {}
    for sub in model.modules():
        if not isinstance(sub, (nn.ModuleList, nn.Sequential)):
            continue
        kids = [k for k in sub.children() if next(k.children(), None) is not None]
        if not kids:
            continue
        common, count = Counter(type(k) for k in kids).most_common(1)[0]
        if count >= 2 or len(kids) == len(list(sub.children())) == 1:
            out.update((id(k), k) for k in kids if type(k) is common)
    return list(out.values())


def _convs(block: nn.Module) -> list[_ConvNd]:
    return [sub for sub in block.modules() if isinstance(sub, _ConvNd)]


def _walk(block: nn.Module) -> list[tuple[str, nn.Module]]:
    return list(block.named_modules())


def _widths(conv: _ConvNd) -> tuple[int, int]:
    return conv.in_channels, conv.out_channels


def residual_branches(model: nn.Module) -> list[tuple[_ConvNd, ...]]:
    """The branch convs of every residual block of ``model``, in definition order (the last is the branch's output)."""
    units = [
        u for u in _units(model) if not isinstance(u, (nn.ModuleList, nn.Sequential)) and len(_convs(u)) >= 2
    ]
    ids = {id(u) for u in units}
    blocks = [u for u in units if not any(id(k) in ids for k in u.modules() if k is not u)]  # innermost
    return branches(blocks, _walk, _convs, _widths)


def mark_branches(
    model: nn.Module, slots: Mapping[tuple[int, str], _Slot]
) -> dict[tuple[int, str], dict[str, Any]]:
    """Set the part of each residual branch's conv weights (``branch``; ``branch_out`` for the last) and return
    the sizes Fixup's L^(-1/(2m-2)) reads for each: L, the number of residual branches, and m, the branch's convs."""
    branches = residual_branches(model)
    sizes: dict[tuple[int, str], dict[str, Any]] = {}
    for chain in branches:
        for k, conv in enumerate(chain):
            key = (id(conv), "weight")
            slot = slots.get(key)
            if slot is None or slot.role is not Role.CONV:
                continue
            slot.part = BRANCH_OUT if k == len(chain) - 1 else BRANCH
            sizes[key] = {"L": len(branches), "m": len(chain)}
    return sizes
