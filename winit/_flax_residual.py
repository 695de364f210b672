"""Residual blocks of a Flax nnx module, read from structure as :mod:`winit._torch_residual` reads torch's.

nnx keeps no graph, so the torch rule applies to module attributes: a residual block is a repeated unit of
a stack (an ``nnx.List``/list/``nnx.Sequential`` of same-type modules) holding ≥ 2 ``nnx.Conv``. Its branch is
the convs that chain in definition order (each reads what the previous writes) from the block's input
width to its output width, less side gates (squeeze-excitation: a child's convs after the first that end
at the width they start from); a shortcut conv reads the block's input and writes its output beside them.
Where shapes allow two readings, same-type blocks with one reading decide, then the attribute path
(shortcut, downsample, skip, proj), then the identity shortcut; a block still read two ways is left unmarked.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator
from typing import Any

from flax import nnx

from winit._model_plan import BRANCH, BRANCH_OUT
from winit._residual import branches


def _items(node: Any) -> list[tuple[str, Any]]:
    """(name, child module or stack) in definition order (attribute insertion order, items by index)."""
    if isinstance(node, nnx.Sequential):
        node = node.layers
    if isinstance(node, (list, tuple, nnx.List)):
        pairs: Any = enumerate(node)
    else:
        pairs = vars(node).items()
    return [(str(k), v) for k, v in pairs if isinstance(v, (nnx.Module, list, tuple))]


def _is_stack(node: Any) -> bool:
    return isinstance(node, (list, tuple, nnx.List, nnx.Sequential))


def _walk(node: Any, path: str = "") -> Iterator[tuple[str, Any]]:
    yield path, node
    for key, child in _items(node):
        yield from _walk(child, f"{path}.{key}" if path else key)


def _convs(block: Any) -> list[Any]:
    return [m for _, m in _walk(block) if isinstance(m, nnx.Conv)]


def _widths(conv: Any) -> tuple[int, int]:
    return conv.in_features, conv.out_features


def _units(root: Any) -> list[Any]:
    """The repeated units of the module's stacks: children of a stack of their most common type."""
    out: dict[int, Any] = {}
    for _, sub in _walk(root):
        if not _is_stack(sub):
            continue
        kids = [k for _, k in _items(sub) if isinstance(k, nnx.Module) and not _is_stack(k)]
        if not kids:
            continue
        common, count = Counter(type(k) for k in kids).most_common(1)[0]
        if count >= 2 or len(kids) == len(_items(sub)) == 1:
            out.update((id(k), k) for k in kids if type(k) is common)
    return list(out.values())


def residual_branches(root: Any) -> list[tuple[Any, ...]]:
    """The branch convs of every residual block of ``root``, in definition order (the last is the branch's output)."""
    units = [u for u in _units(root) if len(_convs(u)) >= 2]
    ids = {id(u) for u in units}
    blocks = [u for u in units if not any(id(k) in ids for _, k in _walk(u) if k is not u)]  # innermost
    return branches(blocks, _walk, _convs, _widths)


def branch_parts(root: Any) -> dict[int, tuple[str, dict[str, int]]]:
    """id(conv kernel) -> (``branch`` or ``branch_out`` for the last, the L and m Fixup's L^(-1/(2m-2)) reads)."""
    branches = residual_branches(root)
    parts: dict[int, tuple[str, dict[str, int]]] = {}
    for chain in branches:
        for k, conv in enumerate(chain):
            part = BRANCH_OUT if k == len(chain) - 1 else BRANCH
            parts[id(conv.kernel)] = (part, {"L": len(branches), "m": len(chain)})
    return parts
