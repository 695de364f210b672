"""Residual branches from structure, framework-neutral: which convs of a block form its branch.

The rule of :mod:`winit._torch_residual` and :mod:`winit._flax_residual`, written once; each front door
supplies how to walk a block (``walk``: (path, module) pairs, the block itself first with path ""), how
to list its convs (``convs``, in definition order) and a conv's (input, output) widths (``widths``).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Iterable, Sequence
from itertools import pairwise
from typing import Any, Final

#: a shortcut conv sits under a child named like one of these (the last hint, after shapes)
SHORTCUT_HINTS: Final = ("shortcut", "downsample", "skip", "proj", "residual", "identity")

Walk = Callable[[Any], Iterable[tuple[str, Any]]]
Convs = Callable[[Any], list[Any]]
Widths = Callable[[Any], tuple[int, int]]
Reading = tuple[tuple[Any, ...], Any]  # (branch chain, shortcut conv or None)


def _holds(group: Iterable[Any], item: Any) -> bool:
    return any(item is member for member in group)  # identity: modules may define __eq__


def _chains(convs: Sequence[Any], widths: Widths) -> bool:
    return all(widths(b)[0] == widths(a)[1] for a, b in pairwise(convs))


def _without_gates(
    block: Any, chain: tuple[Any, ...], walk: Walk, convs: Convs, widths: Widths
) -> tuple[Any, ...]:
    """``chain`` less its side gates: a child's convs that leave the width as they found it, after the chain's
    first conv (squeeze-excitation's reduce/expand in RegNet, EfficientNet, SE-ResNet), which scale the branch."""
    for _, sub in walk(block):
        inner = tuple(c for c in convs(sub) if _holds(chain, c)) if sub is not block else ()
        closed = bool(inner) and widths(inner[0])[0] == widths(inner[-1])[1]
        if closed and 2 <= len(inner) < len(chain) and inner[0] is not chain[0] and _chains(inner, widths):
            chain = tuple(c for c in chain if not _holds(inner, c))
    return chain


def readings(block: Any, walk: Walk, convs: Convs, widths: Widths) -> list[Reading]:
    """Every (chain, shortcut) the widths allow: an identity shortcut (in = out) or one conv beside."""
    found = convs(block)
    out: list[Reading] = []
    for skip in (None, *found):
        chain = tuple(c for c in found if c is not skip)
        if len(chain) < 2 or not _chains(chain, widths):
            continue
        ends = (widths(chain[0])[0], widths(chain[-1])[1])
        fits = ends[0] == ends[1] if skip is None else widths(skip) == ends
        chain = _without_gates(block, chain, walk, convs, widths) if fits else ()
        if len(chain) >= 2:
            out.append((chain, skip))
    return out


def branches(blocks: Sequence[Any], walk: Walk, convs: Convs, widths: Widths) -> list[tuple[Any, ...]]:
    """The branch convs of each block read one way: by shapes, then by same-type blocks with one reading,
    then by the shortcut's path (:data:`SHORTCUT_HINTS`), then the identity shortcut; else left out."""
    paths = {id(block): {id(sub): name for name, sub in walk(block)} for block in blocks}
    read = {id(block): readings(block, walk, convs, widths) for block in blocks}
    # the branch output's path in same-type blocks with one reading: decides where shapes allow two
    agreed: dict[type, Counter[str]] = {}
    for block in blocks:
        if len(read[id(block)]) == 1:
            last = read[id(block)][0][0][-1]
            agreed.setdefault(type(block), Counter())[paths[id(block)][id(last)]] += 1
    out = []
    for block in blocks:
        found, path = read[id(block)], paths[id(block)]
        if len(found) > 1:
            said = agreed.get(type(block), Counter())
            found = [r for r in found if said[path[id(r[0][-1])]]] or found
        if len(found) > 1:  # names last: a shortcut under a child named like one, else none (identity)
            named = [
                r
                for r in found
                if r[1] is not None and any(h in path[id(r[1])].lower() for h in SHORTCUT_HINTS)
            ]
            found = named or [r for r in found if r[1] is None]
        if len(found) == 1:
            out.append(found[0][0])
    return out
