"""Residual branches of a Keras functional model, read from its graph: each branch's convs and the last of them.

Fixup (Zhang et al. 2019, §3) zeroes the last layer of every residual branch and scales the branch's other
layers by L^(-1/(2m-2)) (L branches of m layers each); ZerO (Zhao et al. 2022, §4) zeroes the same last
layers. A residual sum is an ``Add`` (``keras.layers.Add`` or ``x + y``) of two tensors: each input is
walked back through one-input layers without weights (activations, dropout, padding), norms and convs to
where the two paths meet, the block input. The path holding a chain of ≥ 2 convs is the branch (its last
conv is the branch output); the other, with at most one conv (a 1×1 projection, ResNet's downsample), is
the shortcut and stays as it is.
A squeeze-excitation gate (``x * gate(x)``) is passed through along its full-size input, so its own convs
are not the branch's. Subclassed models have no graph: nothing is marked there.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import keras

from winit._model_plan import BRANCH, BRANCH_OUT

_MERGES = (keras.layers.Add, keras.src.ops.numpy.Add)
_GATES = (keras.layers.Multiply, keras.src.ops.numpy.Multiply)
_NORMS = (
    keras.layers.BatchNormalization, keras.layers.LayerNormalization, keras.layers.GroupNormalization,
    keras.layers.RMSNormalization,
)  # fmt: skip


def _is_conv(op: Any) -> bool:
    from keras.src.layers.convolutional.base_conv import BaseConv

    return isinstance(op, BaseConv)


def _inputs(tensor: Any) -> tuple[Any, list[Any]]:
    """The operation that produced ``tensor`` and the tensors it read (in that call)."""
    history = getattr(tensor, "_keras_history", None)
    if history is None:
        return None, []
    op = history.operation
    node = op._inbound_nodes[history.node_index]
    return op, [t for t in keras.tree.flatten(node.input_tensors) if hasattr(t, "_keras_history")]


def _path(tensor: Any) -> list[tuple[Any, list[Any]]]:
    """(tensor, convs passed so far) back from ``tensor`` through convs and one-input layers, nearest first."""
    out: list[tuple[Any, list[Any]]] = []
    convs: list[Any] = []
    while tensor is not None:
        out.append((tensor, list(convs)))
        op, inputs = _inputs(tensor)
        if op is None:
            break
        if _is_conv(op) and len(inputs) == 1:
            convs.append(op)
        elif isinstance(op, _GATES) and len(inputs) == 2:
            full = [t for t in inputs if tuple(t.shape) == tuple(tensor.shape)]
            if len(full) != 1:  # a gate multiplies a full-size input by a pooled one; else no gate
                break
            inputs = full
        elif not isinstance(op, _NORMS) and getattr(op, "weights", None):
            break  # a layer with weights of its own (Dense, ...) is not a branch's conv chain
        if len(inputs) != 1:
            break
        tensor = inputs[0]
    return out


def _branch(sum_inputs: list[Any]) -> tuple[Any, ...]:
    """The branch convs (block input first) of a two-input sum, or () when it is not a residual sum."""
    if len(sum_inputs) != 2:
        return ()
    left, right = _path(sum_inputs[0]), _path(sum_inputs[1])
    seen = {id(t): convs for t, convs in right}
    for tensor, convs in left:
        if id(tensor) in seen:
            others = seen[id(tensor)]
            long, short = (convs, others) if len(convs) >= len(others) else (others, convs)
            return tuple(reversed(long)) if len(long) >= 2 and len(short) <= 1 else ()
    return ()


def _functionals(model: Any) -> Iterator[Any]:
    from keras.src.models.functional import Functional

    for layer in (model, *model._flatten_layers(include_self=False, recursive=True)):
        inner = getattr(layer, "_functional", None)  # a Sequential keeps its graph there
        if isinstance(layer, Functional):
            yield layer
        elif isinstance(inner, Functional):
            yield inner


def residual_branches(model: Any) -> list[tuple[Any, ...]]:
    """The branch convs of every residual sum in ``model``'s graphs, each from the block input to the sum."""
    out: list[tuple[Any, ...]] = []
    taken: set[int] = set()
    for graph in _functionals(model):
        for op in graph.operations:
            if not isinstance(op, _MERGES):
                continue
            for node in op._inbound_nodes:
                chain = _branch(
                    [t for t in keras.tree.flatten(node.input_tensors) if hasattr(t, "_keras_history")]
                )
                if chain and not taken & {id(c) for c in chain}:
                    taken |= {id(c) for c in chain}
                    out.append(chain)
    return out


def branch_parts(model: Any) -> dict[int, tuple[str, dict[str, int]]]:
    """id(conv kernel) -> (``branch`` or ``branch_out`` for the last, the L and m Fixup's L^(-1/(2m-2)) reads)."""
    branches = residual_branches(model)
    parts: dict[int, tuple[str, dict[str, int]]] = {}
    for chain in branches:
        for k, conv in enumerate(chain):
            part = BRANCH_OUT if k == len(chain) - 1 else BRANCH
            parts[id(conv.kernel)] = (part, {"L": len(branches), "m": len(chain)})
    return parts
