"""Model-level init for Flax: ``nnx`` modules in place, and linen parameter trees by path.

``winit.flax.init_`` and ``winit.flax.init_params`` are defined here; ``winit.flax`` re-exports them.
Roles come from module types (nnx.MultiHeadAttention's query/key/value/out, Embed, the norms,
Conv, LSTMCell) or, for linen trees, from the linen module types when the module is given (its
``init`` traced under ``nn.intercept_methods``), else from the auto-names linen gives them
(``MultiHeadDotProductAttention_0``/``query``/``kernel``, ``Dense_1``, ``LayerNorm_0``, ...); the
shared planning is :mod:`winit._model_plan`.
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterator, Mapping
from typing import Any, Final

import jax
import jax.numpy as jnp
from flax import nnx

import winit
from winit._flax_residual import branch_parts
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
from winit.backends.jax import ADAPTER

_NORMS: Final = (nnx.LayerNorm, nnx.RMSNorm, nnx.BatchNorm, nnx.GroupNorm)
_LSTM_INPUT: Final = {"ii": "i", "if_": "f", "ig": "g", "io": "o"}
_LSTM_HIDDEN: Final = {"hi": "i", "hf": "f", "hg": "g", "ho": "o"}


def _children(node: Any) -> Iterator[tuple[str, Any]]:
    """(name, submodule) in nnx's graph order: attributes by sorted name (as nnx.state lists them), items by index."""
    items = enumerate(node) if isinstance(node, (list, tuple, nnx.List)) else sorted(vars(node).items())
    for key, value in items:
        if isinstance(value, nnx.Module) or (isinstance(value, (list, tuple)) and _holds_modules(value)):
            yield str(key), value


def _holds_modules(value: Any) -> bool:
    return any(isinstance(item, (nnx.Module, list, tuple)) for item in value)


def _variables(module: Any) -> Iterator[tuple[str, Any]]:
    """(attribute, nnx.Variable) that ``module`` holds itself, by sorted name (nnx's graph order)."""
    if isinstance(module, (list, tuple, nnx.List)):
        return
    for key, value in sorted(vars(module).items()):
        if isinstance(value, nnx.Variable):
            yield key, value


class _Walker:
    """Lists every nnx.Param of a module as a :class:`Param`, in nnx's graph order, with the sizes it reads.

    nnx orders a module's attributes by name (nnx.state, split/merge, eval_shape all do), so that is
    the order occurrences of a role are counted in; the MLP in/out pairing reads that order too.
    """

    def __init__(self, module: Any) -> None:
        self.params: list[Param] = []
        self.stats: list[tuple[Any, float]] = []
        self.units = 0
        self.blocks, self.L = assign_blocks(
            module, lambda node: [child for _, child in _children(node)],
            lambda node: isinstance(node, nnx.MultiHeadAttention),
        )  # fmt: skip
        self.heads: list[int] = []
        self.key_dims: list[int] = []
        self.widths: list[int] = []
        self.visit(module, "")

    def found(self) -> dict[str, int | None]:
        return {
            "L": self.L or None,
            "d": agreed(self.widths),
            "h": agreed(self.heads),
            "d_kv": agreed(self.key_dims),
        }

    def unit(self) -> int:
        self.units += 1
        return self.units - 1

    def add(self, module: Any, path: str, var: Any, unit: int, **fields: Any) -> None:
        shape = tuple(int(n) for n in var.get_value().shape)
        block = self.blocks.get(id(module))
        self.params.append(Param(path, type(module).__name__, shape, var, unit, block=block, **fields))

    def linear(self, module: Any, path: str, role: Role | None = None, part: str = "", **extra: Any) -> None:
        """Linear, LinearGeneral, Einsum: the kernel with its in/out axes, then the bias."""
        unit = self.unit()
        for key, var in _variables(module):
            if not isinstance(var, nnx.Param):
                continue
            name = f"{path}.{key}" if path else key
            shape = var.get_value().shape
            if key != "kernel":
                self.add(
                    module,
                    name,
                    var,
                    unit,
                    tensor="bias",
                    role=Role.BIAS,
                    part=part if extra else "",
                    **extra,
                )
                continue
            if isinstance(module, nnx.LinearGeneral):
                batch, n_in = len(module.batch_axis), len(module.in_features)
                ins = tuple(range(batch, batch + n_in))
                outs = tuple(range(batch + n_in, len(shape)))
            elif isinstance(module, nnx.Einsum):
                ins, outs = einsum_axes(module.einsum_str)
            else:
                ins, outs = tuple(range(len(shape) - 1)), (len(shape) - 1,)
            n_in = math.prod(int(shape[a]) for a in ins)
            n_out = math.prod(int(shape[a]) for a in outs)
            self.add(module, name, var, unit, role=role, part=part, in_axes=ins, out_axes=outs,
                     n_in=n_in, n_out=n_out, **extra)  # fmt: skip

    def visit(self, module: Any, path: str) -> None:
        def at(key: str) -> str:
            return f"{path}.{key}" if path else key

        if isinstance(module, nnx.MultiHeadAttention):
            self.heads.append(int(module.num_heads))
            self.key_dims.append(int(module.head_dim))
            start = len(self.params)
            for key, part in (("query", "q"), ("key", "k"), ("value", "v")):
                self.linear(getattr(module, key), at(key), Role.ATTENTION_QKV, part)
            self.linear(module.out, at("out"), Role.ATTENTION_OUT)
            mark_attention(self.params[start:])
            self.widths.append(math.prod(module.out.out_features))
            return
        if isinstance(module, nnx.LSTMCell):
            hidden = int(module.hidden_features)
            for names, role in ((_LSTM_INPUT, Role.RECURRENT_INPUT), (_LSTM_HIDDEN, Role.RECURRENT)):
                for attr, gate in names.items():
                    self.linear(getattr(module, attr), at(attr), role, gate, hidden=hidden)
            return
        if isinstance(module, (nnx.Linear, nnx.LinearGeneral, nnx.Einsum)):
            self.linear(module, path)
        elif isinstance(module, nnx.Embed):
            self.add(module, at("embedding"), module.embedding, self.unit(), role=Role.EMBEDDING,
                     in_axes=(1,), out_axes=(0,))  # fmt: skip
        elif isinstance(module, _NORMS):
            unit = self.unit()
            for key, var in _variables(module):
                if isinstance(var, nnx.BatchStat):
                    self.stats.append((var, 1.0 if key == "var" else 0.0))
                elif key == "scale":
                    self.add(module, at(key), var, unit, tensor="scale", role=Role.NORM_SCALE)
                elif isinstance(var, nnx.Param):
                    self.add(module, at(key), var, unit, tensor="offset", role=Role.NORM_OFFSET)
        elif isinstance(module, (nnx.Conv, nnx.ConvTranspose)):
            unit = self.unit()
            for key, var in _variables(module):
                n = var.get_value().ndim
                if key == "kernel":
                    self.add(module, at(key), var, unit, role=Role.CONV, in_axes=(n - 2,), out_axes=(n - 1,))
                elif isinstance(var, nnx.Param):
                    self.add(module, at(key), var, unit, tensor="bias", role=Role.BIAS)
        else:
            for key, var in _variables(module):  # parameters of a module winit does not know: kept
                if isinstance(var, nnx.Param):
                    self.add(module, at(key), var, self.unit(), role=Role.OTHER)
        for key, child in _children(module):
            self.visit(child, at(key))


def _value(write: Write, dtype: Any, root: int, rng: str) -> jax.Array:
    """The parameter's new value: each piece drawn in the canonical layout, joined, moved to the storage layout."""
    parts = []
    for piece in write.pieces:
        assert piece.plan is not None
        if rng == "portable":
            parts.append(
                realize(ADAPTER, piece.plan, seed=root, dtype=dtype, rng="portable", stream=piece.stream)
            )
        else:
            seed = name_seed(root, f"{write.param.name}[{piece.seed_part}]")
            parts.append(realize(ADAPTER, piece.plan, seed=seed, dtype=dtype))
    canonical = parts[0] if len(parts) == 1 else jnp.concatenate(parts, axis=0)
    shape, perm = write.param.storage()
    return jnp.transpose(jnp.reshape(canonical, shape), perm)


def init_(
    module: Any,
    recipe: str | winit.Recipe | None = None,
    *,
    seed: int | None = None,
    rng: str = "native",
    rules: Rules = None,
    **sizes: Any,
) -> tuple[Any, InitReport]:
    """Write every ``nnx.Param`` of ``module`` in place by its role's law in ``recipe``; return (module, report).

    ``recipe`` (default ``"flax"``: what Flax gives each layer) maps roles to laws; roles it leaves
    out follow the ``flax`` recipe; ``rules`` (role names or fnmatch patterns on dotted paths) and
    ``sizes`` as in :func:`winit.keras.init_`: a missing size is a ValueError before any write.
    ``seed`` (None: fresh entropy) seeds one draw per parameter path; ``rng="portable"`` draws each
    parameter's canonical stream in PyTorch's layout then transposes it, so Keras and PyTorch give
    the same architecture the same values. BatchNorm statistics are reset to 0 and 1.
    """
    if not isinstance(module, nnx.Module):
        raise TypeError(f"init_ initializes a flax.nnx.Module, got {type(module).__name__}; "
                        "for linen parameter trees use winit.flax.init_params")  # fmt: skip
    choice("rng", rng, ("native", "portable"))
    chosen = winit.recipe("flax" if recipe is None else recipe)
    root = check_seed(seed)
    walker = _Walker(module)
    branch_parts_of = branch_parts(module)
    for param in walker.params:  # residual branches' convs: part branch/branch_out, their L and m
        param.part, param.sizes = branch_parts_of.get(id(param.handle), (param.part, param.sizes))
    writes = plan_model(walker.params, chosen, winit.recipe("flax"), rules, walker.found(), sizes)
    for write in writes:
        if not write.kept:
            write.param.handle.set_value(_value(write, write.param.handle.get_value().dtype, root, rng))
    for var, constant in walker.stats:
        old = var.get_value()
        var.set_value(jnp.full(old.shape, constant, old.dtype))
    return module, InitReport(row for write in writes for row in write.records("flax"))


# -- linen parameter trees, by path ------------------------------------------------------------------
_AUTO = re.compile(r"^(?P<kind>[A-Za-z]+?)_?(?P<index>\d+)?$")
_QKV: Final = {"query": "q", "key": "k", "value": "v"}
_ATTENTION: Final = ("MultiHeadDotProductAttention", "MultiHeadAttention", "SelfAttention")
_NORM_KINDS: Final = ("LayerNorm", "RMSNorm", "BatchNorm", "GroupNorm")


def _flat(tree: Mapping[str, Any], prefix: tuple[str, ...] = ()) -> Iterator[tuple[tuple[str, ...], Any]]:
    for key, value in tree.items():
        if isinstance(value, Mapping):
            yield from _flat(value, (*prefix, str(key)))
        else:
            yield (*prefix, str(key)), value


def _kind(name: str) -> str:
    match = _AUTO.match(name)
    return match.group("kind") if match else name


def _natural(path: tuple[str, ...]) -> tuple[tuple[str, int], ...]:
    """Sort key: linen auto-names by kind then index (``Dense_10`` after ``Dense_2``), as they were defined."""
    keys = []
    for key in path:
        match = _AUTO.match(key)
        index = match.group("index") if match else None
        keys.append((_kind(key), int(index)) if index is not None else (key, -1))
    return tuple(keys)


class _Typed:
    """The linen module behind each path of a tree, recorded while the module traced its ``init`` (none: names decide).

    ``modules`` maps scope paths (``("blocks_0", "attn")``) to the bound modules; a tree that starts with
    its collection (``{"params": ...}``, what ``init`` returns) is looked up one key down.
    """

    def __init__(self, modules: Mapping[tuple[str, ...], Any], paths: list[tuple[str, ...]]) -> None:
        import flax.linen as nn

        self.nn = nn
        self.modules = modules
        roots = {path[0] for path in modules if path}
        self.offset = 1 if modules and paths and paths[0][0] not in roots else 0
        self.blocks: dict[int, int | None] = {}
        self.nodes: dict[tuple[str, ...], tuple[str, ...]] = {}
        self.L = 0
        if modules and () in modules:
            nodes = {path: path for path in modules}  # one tuple object per node: assign_blocks keys by id
            below: dict[tuple[str, ...], list[tuple[str, ...]]] = {}
            for path in sorted(modules, key=_natural):
                if path:
                    below.setdefault(path[:-1], []).append(nodes[path])
            self.nodes = nodes
            self.blocks, self.L = assign_blocks(
                nodes[()], lambda node: below.get(node, []), lambda node: self.is_attention(node)
            )

    def module(self, path: tuple[str, ...]) -> Any:
        """The module at the tree path ``path`` (collection key dropped), or None."""
        return self.modules.get(path[self.offset :]) if len(path) >= self.offset else None

    def is_attention(self, scope: tuple[str, ...]) -> bool:
        return isinstance(self.modules.get(scope), self.nn.MultiHeadDotProductAttention)

    def block(self, path: tuple[str, ...]) -> int | None:
        node = self.nodes.get(path[self.offset :]) if self.blocks else None
        return None if node is None else self.blocks.get(id(node))

    def kind(self, path: tuple[str, ...]) -> str:
        """The module's kind as the path rules name it (any MultiHeadDotProductAttention, norm, conv); "" unknown."""
        nn, module = self.nn, self.module(path)
        if module is None or not path:
            return ""
        for base in (nn.MultiHeadDotProductAttention, nn.LayerNorm, nn.RMSNorm, nn.BatchNorm, nn.GroupNorm):
            if isinstance(module, base):
                return str(base.__name__)
        if isinstance(module, (nn.Conv, nn.ConvTranspose, nn.ConvLocal)):
            return "Conv"
        return type(module).__name__

    def dense_axes(self, path: tuple[str, ...], ndim: int) -> tuple[tuple[int, ...], tuple[int, ...]]:
        """(in_axes, out_axes) of a kernel: DenseGeneral's (batch_dims first, then axis, then features)."""
        module = self.module(path)
        if isinstance(module, self.nn.DenseGeneral):
            batch = len(module.batch_dims) if isinstance(module.batch_dims, (tuple, list)) else 1
            n_in = len(module.axis) if isinstance(module.axis, (tuple, list)) else 1
            return tuple(range(batch, batch + n_in)), tuple(range(batch + n_in, ndim))
        return tuple(range(ndim - 1)), (ndim - 1,)

    def lstm(self, path: tuple[str, ...]) -> dict[str, Any] | None:
        """Role, gate and hidden size of a linen LSTMCell's gate Dense (``ii``… input, ``hi``… recurrent)."""
        cell = self.module(path[:-1]) if path else None
        if not isinstance(cell, self.nn.LSTMCell) or path[-1] not in _LINEN_LSTM:
            return None
        role = Role.RECURRENT_INPUT if path[-1][0] == "i" else Role.RECURRENT
        return {"role": role, "part": _LINEN_LSTM[path[-1]], "hidden": int(cell.features)}


_LINEN_LSTM: Final = {f"{side}{gate}": gate for side in "ih" for gate in "ifgo"}


def _linen_params(
    flat: list[tuple[tuple[str, ...], Any]], modules: Mapping[tuple[str, ...], Any] | None = None
) -> tuple[list[Param], dict[str, int | None], set[int]]:
    """Params of a linen tree: roles from module types where ``modules`` (scope path -> module) has them, else
    from the module names on each path; blocks from the modules holding one attention module.

    Trees come back with sorted keys (definition order across module kinds is lost), so the head is
    the highest-numbered Dense outside blocks nearest the root.
    """
    flat = sorted(flat, key=lambda item: _natural(item[0]))
    typed = _Typed(modules or {}, [path for path, _ in flat])
    attention_at = sorted({path[: i + 1] for path, _ in flat for i, key in enumerate(path[:-2])
                           if _kind(key) in _ATTENTION})  # fmt: skip
    # a block: the path prefix one level above each attention module (the repeated layer holding it)
    owners = [prefix[:-1] for prefix in attention_at]
    unique = len(set(owners)) == len(owners) and not modules
    block_of = {owner: i for i, owner in enumerate(dict.fromkeys(owners))} if unique else {}
    params: list[Param] = []
    units: dict[tuple[str, ...], int] = {}
    heads, widths, key_dims = [], [], []
    for path, leaf in flat:
        module, key, name = path[:-1], path[-1], "/".join(path)
        kind = typed.kind(module) or (_kind(module[-1]) if module else "")
        parent = typed.kind(module[:-1]) or (_kind(module[-2]) if len(module) > 1 else "")
        shape = tuple(int(n) for n in leaf.shape)
        unit = units.setdefault(module, len(units))
        block = (
            typed.block(module)
            if modules
            else next((b for owner, b in block_of.items() if path[: len(owner)] == owner and owner), None)
        )
        fields: dict[str, Any] = {"block": block}
        lstm = typed.lstm(module)
        if lstm is not None:
            fields.update(lstm)
            if key == "kernel":
                fields.update(in_axes=(0,), out_axes=(1,), n_in=shape[0], n_out=shape[1])
            else:
                fields.update(tensor="bias", role=Role.BIAS)
        elif parent in _ATTENTION and key == "kernel":
            if module[-1] == "out":
                fields.update(
                    role=Role.ATTENTION_OUT, in_axes=tuple(range(len(shape) - 1)), out_axes=(len(shape) - 1,)
                )
                widths.append(shape[-1])
            else:
                fields.update(role=Role.ATTENTION_QKV, part=_QKV.get(module[-1], ""), in_axes=(0,),
                              out_axes=tuple(range(1, len(shape))))  # fmt: skip
                if len(shape) == 3:
                    heads.append(shape[1])
                    key_dims.append(shape[2])
        elif kind in _NORM_KINDS:
            tensor = "scale" if key == "scale" else "offset"
            fields.update(tensor=tensor, role=Role.NORM_SCALE if tensor == "scale" else Role.NORM_OFFSET)
        elif key == "bias":
            fields.update(tensor="bias", role=Role.BIAS)
        elif key == "embedding":
            fields.update(role=Role.EMBEDDING, in_axes=(1,), out_axes=(0,))
        elif key == "kernel" and kind.startswith("Conv"):
            fields.update(role=Role.CONV, in_axes=(len(shape) - 2,), out_axes=(len(shape) - 1,))
        elif key == "kernel":
            ins, outs = typed.dense_axes(module, len(shape))
            fields.update(in_axes=ins, out_axes=outs, n_in=math.prod(shape[a] for a in ins),
                          n_out=math.prod(shape[a] for a in outs))  # fmt: skip
        else:  # a parameter a module of its own declares (self.param): its own law, kept by default
            fields.update(role=Role.OTHER)
        params.append(Param(name, kind or "params", shape, (path, leaf), unit, **fields))
    for prefix in attention_at:  # each attention module's own layers (query/key/value/out), as nnx marks them
        depth = len(prefix) + 2
        mark_attention(
            [p for p in params if len(p.handle[0]) == depth and p.handle[0][: len(prefix)] == prefix]
        )
    L = typed.L if modules else len(block_of)  # noqa: N806 - the recipes' name
    found = {"L": L or None, "d": agreed(widths), "h": agreed(heads), "d_kv": agreed(key_dims)}
    loose = [p for p in params if p.role is None and p.tensor == "weight" and p.block is None]
    if not loose:
        return params, found, set()
    depth = min(p.name.count("/") for p in loose)
    head = max(
        (p for p in loose if p.name.count("/") == depth), key=lambda p: _natural(tuple(p.name.split("/")))
    )
    return params, found, {head.unit}


def _linen_modules(module: Any, inputs: Any) -> tuple[dict[tuple[str, ...], Any], Any]:
    """(scope path -> bound module, abstract variables): ``module.init`` traced with ``jax.eval_shape``, every
    module method call intercepted, so nothing is drawn."""
    import flax.linen as nn

    if not isinstance(module, nn.Module):
        raise TypeError(f"module must be a flax.linen.Module, got {type(module).__name__}")
    if inputs is None:
        raise TypeError("module= needs the inputs its init takes: inputs=(x, ...) or inputs=x")
    args = inputs if isinstance(inputs, tuple) else (inputs,)
    modules: dict[tuple[str, ...], Any] = {}

    def record(call: Any, call_args: Any, call_kwargs: Any, context: Any) -> Any:
        scope = context.module.scope
        if scope is not None:
            modules.setdefault(tuple(scope.path), context.module)
        return call(*call_args, **call_kwargs)

    with nn.intercept_methods(record):
        tree = jax.eval_shape(lambda: module.init(jax.random.key(0), *args))
    return modules, tree


def init_params(
    params: Mapping[str, Any] | None = None,
    recipe: str | winit.Recipe | None = None,
    *,
    module: Any = None,
    inputs: Any = None,
    seed: int | None = None,
    rng: str = "native",
    rules: Rules = None,
    **sizes: Any,
) -> tuple[dict[str, Any], InitReport]:
    """A new linen parameter tree with every leaf drawn by its role's law in ``recipe``; return (tree, report).

    With ``module`` (the ``flax.linen.Module``) and ``inputs`` (what its ``init`` takes after the key) roles come
    from module types: ``Dense``/``DenseGeneral`` (with their in/out axes), ``Embed``, the norms, any
    ``MultiHeadDotProductAttention``'s query/key/value/out, ``Conv*``, ``LSTMCell`` gates, whatever their names;
    ``params`` may then be omitted (the tree ``module.init`` would give, drawn without a first init). Without
    ``module`` roles come from the linen auto-names on each path (``Dense_0``/``kernel``,
    ``MultiHeadDotProductAttention_0``/``query``/``kernel``, ``LayerNorm_0``/``scale``, ``Conv_0``). A block is
    the module holding one attention module (its position gives ℓ); otherwise as :func:`init_`. Leaves a rule
    keeps are returned as given (as ``module.init`` gives them when ``params`` is omitted).
    """
    modules: dict[tuple[str, ...], Any] = {}
    abstract: Any = None
    if module is not None:
        modules, abstract = _linen_modules(module, inputs)
    elif params is None:
        raise TypeError("init_params needs a linen parameter tree, or module= and inputs= to trace one")
    tree = abstract if params is None else params
    if not isinstance(tree, Mapping):
        raise TypeError(f"init_params takes a linen parameter tree (a mapping), got {type(tree).__name__}")
    choice("rng", rng, ("native", "portable"))
    chosen = winit.recipe("flax" if recipe is None else recipe)
    root = check_seed(seed)
    listed, found, heads = _linen_params(list(_flat(tree)), modules)
    writes = plan_model(listed, chosen, winit.recipe("flax"), rules, found, sizes, heads)
    given = dict(_flat(tree))
    if params is None and any(
        write.kept for write in writes
    ):  # kept leaves: what the module's own init gives
        args = inputs if isinstance(inputs, tuple) else (inputs,)
        given = dict(_flat(module.init(jax.random.key(root % 2**32), *args)))
    values = {
        write.param.handle[0]: given[write.param.handle[0]] if write.kept
        else _value(write, write.param.handle[1].dtype, root, rng)
        for write in writes
    }  # fmt: skip

    def rebuild(tree: Mapping[str, Any], prefix: tuple[str, ...]) -> dict[str, Any]:
        return {
            key: rebuild(value, (*prefix, str(key)))
            if isinstance(value, Mapping)
            else values[prefix + (str(key),)]  # noqa: RUF005  (tuple[*...] in a subscript needs Python 3.11)
            for key, value in tree.items()
        }

    return rebuild(tree, ()), InitReport(row for write in writes for row in write.records("flax"))
