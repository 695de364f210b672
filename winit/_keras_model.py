"""Model-level init for Keras 3: each variable of a built model gets its role's law and is written in place.

``winit.keras.init_`` is defined here; ``winit.keras`` re-exports it. Roles come from layer types
(MultiHeadAttention's query/key/value/attention_output EinsumDense, Embedding, the norms, Conv,
LSTM/GRU) and from structure (a Dense in an attention block reading the residual width d is
``mlp_in``, the next one writing d ``mlp_out``; the model's last Dense its ``head``); the shared
planning is :mod:`winit._model_plan`.
"""

from __future__ import annotations

import math
import random
from collections.abc import Iterator
from typing import Any, Final

import keras

import winit
from winit._keras_residual import branch_parts
from winit._model_plan import (
    Param,
    Rules,
    Write,
    agreed,
    assign_blocks,
    einsum_axes,
    mark_attention,
    plan_model,
)
from winit._report import InitReport
from winit._roles import Role, name_seed
from winit._validate import choice
from winit.backends._common import check_seed
from winit.backends._router import realize

_ADAPTERS: Final = {"tensorflow": "tensorflow", "jax": "jax", "torch": "torch", "numpy": "numpy"}
_NORMS: Final = (
    keras.layers.LayerNormalization, keras.layers.RMSNormalization, keras.layers.BatchNormalization,
    keras.layers.GroupNormalization, keras.layers.UnitNormalization,
)  # fmt: skip
_CELLS: Final = (keras.layers.LSTMCell, keras.layers.GRUCell, keras.layers.SimpleRNNCell)
#: keras' LSTM gate order along the kernel's last axis (keras/src/layers/rnn/lstm.py).
_LSTM_GATES: Final = ("i", "f", "c", "o")


def _children(layer: Any) -> list[Any]:
    return list(layer._flatten_layers(include_self=False, recursive=False))


def _own(layer: Any) -> list[Any]:
    """The variables ``layer`` created itself (not its sublayers')."""
    nested = {id(v) for child in _children(layer) for v in child.weights}
    return [v for v in layer.weights if id(v) not in nested]


class _Walker:
    """Lists every variable of a model as a :class:`Param`, in layer order, with the sizes it reads."""

    def __init__(self, model: Any) -> None:
        self.params: list[Param] = []
        self.stats: list[tuple[Any, float]] = []  # BatchNorm moving statistics and their reset value
        self.units = 0
        self.blocks, self.L = assign_blocks(
            model, _children, lambda layer: isinstance(layer, keras.layers.MultiHeadAttention)
        )
        self.heads: list[int] = []
        self.key_dims: list[int] = []
        self.widths: list[int] = []
        self.visit(model)

    def found(self) -> dict[str, int | None]:
        return {
            "L": self.L or None,
            "d": agreed(self.widths),
            "h": agreed(self.heads),
            "d_kv": agreed(self.key_dims),
        }

    def add(self, layer: Any, var: Any, unit: int, **fields: Any) -> None:
        shape = tuple(int(n) for n in var.shape)
        block = self.blocks.get(id(layer))
        self.params.append(Param(var.path, type(layer).__name__, shape, var, unit, block=block, **fields))

    def unit(self) -> int:
        self.units += 1
        return self.units - 1

    def kernel(self, layer: Any, var: Any, ins: tuple[int, ...], outs: tuple[int, ...], **fields: Any) -> int:
        unit = self.unit()
        n_in = math.prod(int(var.shape[a]) for a in ins)
        n_out = math.prod(int(var.shape[a]) for a in outs)
        self.add(layer, var, unit, in_axes=ins, out_axes=outs, n_in=n_in, n_out=n_out, **fields)
        return unit

    def dense(self, layer: Any, role: Role | None = None, part: str = "") -> None:
        """Dense and EinsumDense: kernel axes as Keras counts their fans, then the bias."""
        unit = -1
        for var in _own(layer):
            if var.name == "kernel":
                if isinstance(layer, keras.layers.EinsumDense):
                    ins, outs = einsum_axes(layer.equation)
                else:
                    ins, outs = tuple(range(len(var.shape) - 1)), (len(var.shape) - 1,)
                unit = self.kernel(layer, var, ins, outs, role=role, part=part)
            else:
                self.add(layer, var, unit if unit >= 0 else self.unit(), tensor="bias", role=Role.BIAS)

    def visit(self, layer: Any) -> None:
        if isinstance(layer, keras.layers.MultiHeadAttention):
            self.heads.append(int(layer.num_heads))
            self.key_dims.append(int(layer.key_dim))
            start = len(self.params)
            for sub, part in ((layer._query_dense, "q"), (layer._key_dense, "k"), (layer._value_dense, "v")):
                self.dense(sub, Role.ATTENTION_QKV, part)
            self.dense(layer._output_dense, Role.ATTENTION_OUT)
            mark_attention(self.params[start:])
            self.widths.append(int(layer._output_dense.kernel.shape[-1]))
            return
        if isinstance(layer, (keras.layers.Dense, keras.layers.EinsumDense)):
            self.dense(layer)
        elif isinstance(layer, keras.layers.Embedding):
            for var in _own(layer):
                self.kernel(layer, var, (1,), (0,), role=Role.EMBEDDING)
        elif isinstance(layer, _NORMS):
            unit = self.unit()
            for var in _own(layer):
                if var.name in ("moving_mean", "moving_variance"):
                    self.stats.append((var, 1.0 if var.name == "moving_variance" else 0.0))
                elif var.name in ("gamma", "scale"):
                    self.add(layer, var, unit, tensor="scale", role=Role.NORM_SCALE)
                else:
                    self.add(layer, var, unit, tensor="offset", role=Role.NORM_OFFSET)
        elif isinstance(layer, _CELLS):
            self.cell(layer)
        elif _is_conv(layer):
            unit = -1
            for var in _own(layer):
                if var.name == "kernel":
                    n = len(var.shape)
                    unit = self.kernel(layer, var, (n - 2,), (n - 1,), role=Role.CONV)
                else:
                    self.add(layer, var, unit if unit >= 0 else self.unit(), tensor="bias", role=Role.BIAS)
        else:
            for var in _own(layer):  # a layer winit does not know: its variables keep their own law
                self.add(layer, var, self.unit(), role=Role.OTHER)
        for child in _children(layer):
            self.visit(child)

    def cell(self, layer: Any) -> None:
        """An RNN cell: kernel ``recurrent_input``, recurrent_kernel ``recurrent``, LSTM bias per gate."""
        hidden = int(layer.units)
        unit = -1
        for var in _own(layer):
            if var.name in ("kernel", "recurrent_kernel"):
                role = Role.RECURRENT_INPUT if var.name == "kernel" else Role.RECURRENT
                got = self.kernel(layer, var, (0,), (1,), role=role, hidden=hidden)
                unit = got if var.name == "kernel" else unit
            else:
                lstm = isinstance(layer, keras.layers.LSTMCell) and len(var.shape) == 1
                gates = _LSTM_GATES if lstm else ()
                self.add(layer, var, unit, tensor="bias", role=Role.BIAS, gates=gates, hidden=hidden)


def _is_conv(layer: Any) -> bool:
    from keras.src.layers.convolutional.base_conv import BaseConv

    return isinstance(layer, BaseConv)


def _values(write: Write, adapter: Any, seed: int, rng: str, device: Any) -> Iterator[Any]:
    dtype = keras.backend.standardize_dtype(write.param.handle.dtype)
    for piece in write.pieces:
        assert piece.plan is not None
        if rng == "portable":
            yield realize(adapter, piece.plan, seed=seed, dtype=dtype, device=device, rng="portable",
                          stream=piece.stream)  # fmt: skip
        else:
            native = name_seed(seed, f"{write.param.name}[{piece.seed_part}]", bits=31)
            yield realize(adapter, piece.plan, seed=native, dtype=dtype, device=device)


def init_(
    model: Any,
    recipe: str | winit.Recipe | None = None,
    *,
    seed: int | None = None,
    rng: str = "native",
    rules: Rules = None,
    **sizes: Any,
) -> tuple[Any, InitReport]:
    """Write every variable of the built Keras ``model`` by its role's law in ``recipe``; return (model, report).

    ``recipe`` (a name or :class:`winit.Recipe`; default ``"keras"``: what Keras gives each layer)
    maps roles to laws; roles it leaves out follow the ``keras`` recipe. ``rules`` maps role names
    or fnmatch patterns on variable paths to a scheme (or ``"keep"``) over the recipe. ``sizes``
    (L, d, d_ff, h, d_kv, width_mult or base_width, recipe constants) override what is read from
    the model; a law needing a size neither gives is a ValueError naming it, before any write.
    Each law is planned in the canonical layout (PyTorch's ``(out, in, *kernel)``, whose fans are
    those Keras counts for the stored kernel) and transposed into the variable. ``seed``: the
    root of one seed per variable path (None: one drawn from Python's ``random``, as Keras does);
    ``rng="portable"``: winit's Philox with the variable's canonical stream name
    (:func:`winit._roles.canonical_stream`), the same values as Flax's and PyTorch's ``init_`` give
    the same architecture. BatchNorm moving statistics are reset to 0 and 1.
    """
    if not isinstance(model, keras.layers.Layer):
        raise TypeError(f"init_ initializes a built keras Layer or Model, got {type(model).__name__}")
    if not model.built:
        raise ValueError(f"{model.name} is not built; build it (or call it on data) before init_")
    choice("rng", rng, ("native", "portable"))
    backend = keras.backend.backend()
    if backend not in _ADAPTERS:
        raise ValueError(
            f"winit.keras.init_ supports the Keras backends {', '.join(_ADAPTERS)}; got {backend!r}"
        )
    chosen = winit.recipe("keras" if recipe is None else recipe)
    root = check_seed(random.randint(1, int(1e9)) if seed is None else seed)
    walker = _Walker(model)
    branch_parts_of = branch_parts(model)
    for param in walker.params:  # residual branches' convs: part branch/branch_out, their L and m
        param.part, param.sizes = branch_parts_of.get(id(param.handle), (param.part, param.sizes))
    writes = plan_model(walker.params, chosen, winit.recipe("keras"), rules, walker.found(), sizes)

    adapter = winit.backend(_ADAPTERS[backend])
    device = keras.ops.zeros(()).device if backend == "torch" else None
    for write in writes:
        if write.kept:
            continue
        parts = list(_values(write, adapter, root, rng, device))
        canonical = parts[0] if len(parts) == 1 else keras.ops.concatenate(parts, axis=0)
        shape, perm = write.param.storage()
        value = keras.ops.transpose(keras.ops.reshape(canonical, shape), perm)
        write.param.handle.assign(value)
    for var, constant in walker.stats:
        var.assign(keras.ops.full(var.shape, constant, dtype=var.dtype))
    return model, InitReport(row for write in writes for row in write.records("keras"))
