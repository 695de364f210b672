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
from itertools import pairwise
from typing import Any, Final

from flax import nnx

from winit._model_plan import BRANCH, BRANCH_OUT

_SHORTCUT_HINTS: Final = ("shortcut", "downsample", "skip", "proj", "residual", "identity")
_Reading = tuple[tuple[Any, ...], Any]  # (branch chain, shortcut conv or None)


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


def _chains(convs: tuple[Any, ...]) -> bool:
    return all(b.in_features == a.out_features for a, b in pairwise(convs))


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


def _without_gates(block: Any, chain: tuple[Any, ...]) -> tuple[Any, ...]:
    """``chain`` less squeeze-excitation's reduce/expand: a child's convs after the first, closing on their width."""
    for _, sub in _walk(block):
        inner = tuple(c for c in _convs(sub) if any(c is x for x in chain)) if sub is not block else ()
        closed = bool(inner) and inner[0].in_features == inner[-1].out_features
        if closed and 2 <= len(inner) < len(chain) and inner[0] is not chain[0] and _chains(inner):
            chain = tuple(c for c in chain if not any(c is x for x in inner))
    return chain


def _readings(block: Any, convs: list[Any]) -> list[_Reading]:
    """Every (chain, shortcut) the widths allow: an identity shortcut (in = out) or one conv beside."""
    out: list[_Reading] = []
    for skip in (None, *convs):
        chain = tuple(c for c in convs if c is not skip)
        if len(chain) < 2 or not _chains(chain):
            continue
        if skip is None:
            fits = chain[0].in_features == chain[-1].out_features
        else:
            fits = (skip.in_features, skip.out_features) == (chain[0].in_features, chain[-1].out_features)
        chain = _without_gates(block, chain) if fits else ()
        if len(chain) >= 2:
            out.append((chain, skip))
    return out


def residual_branches(root: Any) -> list[tuple[Any, ...]]:
    """The branch convs of every residual block of ``root``, in definition order (the last is the branch's output)."""
    units = [u for u in _units(root) if len(_convs(u)) >= 2]
    ids = {id(u) for u in units}
    blocks = [u for u in units if not any(id(k) in ids for _, k in _walk(u) if k is not u)]  # innermost
    paths = {id(b): {id(m): name for name, m in _walk(b)} for b in blocks}
    readings = {id(b): _readings(b, _convs(b)) for b in blocks}
    agreed: dict[type, Counter[str]] = {}
    for block in blocks:
        if len(readings[id(block)]) == 1:
            last = readings[id(block)][0][0][-1]
            agreed.setdefault(type(block), Counter())[paths[id(block)][id(last)]] += 1
    out = []
    for block in blocks:
        found, path = readings[id(block)], paths[id(block)]
        if len(found) > 1:
            said = agreed.get(type(block), Counter())
            found = [r for r in found if said[path[id(r[0][-1])]]] or found
        if len(found) > 1:  # names last: a shortcut under an attribute named like one, else none (identity)
            named = [
                r
                for r in found
                if r[1] is not None and any(h in path[id(r[1])].lower() for h in _SHORTCUT_HINTS)
            ]
            found = named or [r for r in found if r[1] is None]
        if len(found) == 1:
            out.append(found[0][0])
    return out


def branch_parts(root: Any) -> dict[int, tuple[str, dict[str, int]]]:
    """id(conv kernel) -> (``branch`` or ``branch_out`` for the last, the L and m Fixup's L^(-1/(2m-2)) reads)."""
    branches = residual_branches(root)
    parts: dict[int, tuple[str, dict[str, int]]] = {}
    for chain in branches:
        for k, conv in enumerate(chain):
            part = BRANCH_OUT if k == len(chain) - 1 else BRANCH
            parts[id(conv.kernel)] = (part, {"L": len(branches), "m": len(chain)})
    return parts
