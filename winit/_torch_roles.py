"""Which role each parameter of a torch model plays, read from module types, shapes and structure.

Names are a last hint only (positional tables, Mamba's ``dt`` bias). The repeated block (a
ModuleList/Sequential of same-type modules) gives the layer index ℓ and the depth L; inside a block
the residual width d is the width of its norms, attention units are modules with a head count
(``num_heads``, ``head_dim``, ...), and Linear-like layers are sorted into q/k/v, attention output,
MLP input and MLP output by whether they read from or write into d.
"""

from __future__ import annotations

import bisect
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Final

import torch
from torch import Tensor, nn
from torch.nn.modules.batchnorm import _NormBase
from torch.nn.modules.conv import _ConvNd
from torch.nn.modules.rnn import RNNBase, RNNCellBase

from winit._roles import MHA, MHA_KV, Role

NORM_TYPES: tuple[type[nn.Module], ...] = (_NormBase, nn.LayerNorm, nn.GroupNorm, nn.RMSNorm)
# attributes by which attention modules of torch, HF transformers and timm state their head count
_HEAD_ATTRS = (
    "num_heads", "num_attention_heads", "n_heads", "n_head", "head_dim", "attention_head_size",
    "num_key_value_heads", "num_key_value_groups", "key_value_proj_dim", "head_size", "key_dim",
)  # fmt: skip
_MISSING = object()
_POSITIONAL_HINTS = ("pos", "cls", "token", "class_embedding", "probe", "register", "relative_position")


@dataclass
class Slot:
    """What one parameter is: its role, storage layout, fused blocks and place in the block stack."""

    role: Role
    layout: str = "torch"
    in_axis: int | None = None
    out_axis: int | None = None
    batch_axis: tuple[int, ...] = ()
    axis: int = 0  # the axis fused blocks are cut along
    blocks: tuple[tuple[str, int], ...] = ()  # (label, size) of each fused block, in storage order
    layer: int | None = None  # ℓ, 0-based, in the stack of same-type blocks
    layers: int | None = None  # L, the number of blocks of that type in the model
    part: str = ""  # which of separate projections it is (q/k/v, gate/up): recipes may set each its own law
    kind: str = ""  # the layer's kind marker (MHA: torch's nn.MultiheadAttention): recipes may key laws on it

    def axes(self) -> dict[str, object]:
        """Keyword axes for ``Scheme.plan`` (empty when the layout alone says it)."""
        if self.in_axis is None:
            return {}
        return {"in_axis": self.in_axis, "out_axis": self.out_axis, "batch_axis": self.batch_axis}


@dataclass
class _Lin:
    """A Linear-like weight: ``module.attr`` reads ``n_in`` features and writes ``n_out`` (per expert)."""

    module: nn.Module
    attr: str
    n_in: int
    n_out: int
    slot: Slot = field(default_factory=lambda: Slot(Role.DENSE))


class Tree:
    """One walk of a model, so that role inference reads each module's children and parameters once.

    ``order`` is ``model.named_modules()``; ``subtree(m)`` is ``m.modules()``, a slice of that walk
    unless some module is reached twice (then torch's own walk, whose memo starts afresh per call).
    """

    def __init__(self, model: nn.Module) -> None:
        self.order: list[tuple[str, nn.Module]] = []
        self._index: dict[int, int] = {}
        self._end: dict[int, int] = {}
        self._kids: dict[int, list[nn.Module]] = {}
        self._holds: dict[int, bool] = {}
        self._attention: dict[int, bool] = {}
        self._params: dict[int, list[tuple[str, Tensor]]] = {}
        self.shared = False
        self._walk(model, "")

    def _walk(self, module: nn.Module, prefix: str) -> None:
        self._index[id(module)] = len(self.order)
        self.order.append((prefix, module))
        for name, child in module._modules.items():
            if child is None:
                continue
            if id(child) in self._index:
                self.shared = True  # a module under two names: named_modules lists it once
                continue
            self._walk(child, f"{prefix}.{name}" if prefix else name)
        self._end[id(module)] = len(self.order)

    def kids(self, module: nn.Module) -> list[nn.Module]:
        """``list(module.children())``."""
        found = self._kids.get(id(module))
        if found is None:
            found, seen = [], set()
            for child in module._modules.values():
                if child is not None and id(child) not in seen:
                    seen.add(id(child))
                    found.append(child)
            self._kids[id(module)] = found
        return found

    def subtree(self, module: nn.Module) -> list[nn.Module]:
        """``list(module.modules())``: the module, then its descendants in walk order."""
        start = self._index.get(id(module))
        if self.shared or start is None:
            return list(module.modules())
        return [m for _, m in self.order[start : self._end[id(module)]]]

    def holds(self, module: nn.Module) -> bool:
        """Whether ``module`` or a descendant has a parameter."""
        known = self._holds.get(id(module))
        if known is None:
            self._holds[id(module)] = False  # a cycle (never in torch's own modules) ends here
            known = any(p is not None for p in module._parameters.values()) or any(
                self.holds(k) for k in self.kids(module)
            )
            self._holds[id(module)] = known
        return known

    def params(self, module: nn.Module) -> list[tuple[str, Tensor]]:
        """:func:`own_parameters`, once per module."""
        found = self._params.get(id(module))
        if found is None:
            found = self._params[id(module)] = own_parameters(module)
        return found

    def attention(self, module: nn.Module) -> bool:
        """:func:`_is_attention`, once per module."""
        known = self._attention.get(id(module))
        if known is None:
            known = self._attention[id(module)] = _is_attention(module)
        return known


def own_parameters(module: nn.Module) -> list[tuple[str, Tensor]]:
    """``list(module.named_parameters(recurse=False))``, read from the table (no generator chain)."""
    seen: set[int] = set()
    found: list[tuple[str, Tensor]] = []
    for attr, param in module._parameters.items():
        if param is not None and id(param) not in seen:
            seen.add(id(param))
            found.append((attr, param))
    return found


def is_hf_conv1d(module: nn.Module) -> bool:
    """HF ``Conv1D`` (GPT-2 family): a Linear that stores its weight as (in, out)."""
    if type(module).__name__ != "Conv1D":
        return False
    weight = getattr(module, "weight", None)
    return (
        isinstance(weight, Tensor)
        and weight.ndim == 2
        and tuple(weight.shape) == (getattr(module, "nx", None), getattr(module, "nf", None))
    )


def is_norm(module: nn.Module, tree: Tree | None = None) -> bool:
    """torch's norms, or any leaf whose parameters are a 1-D ``weight`` (and ``bias``) of one width."""
    if isinstance(module, NORM_TYPES):
        return True
    leaf = not tree.kids(module) if tree is not None else next(module.children(), None) is None
    if not leaf or isinstance(module, (nn.PReLU, _ConvNd, nn.Linear)):
        return False
    params = dict(own_parameters(module) if tree is None else tree.params(module))
    weight = params.get("weight")
    if weight is None or weight.ndim != 1 or not set(params) <= {"weight", "bias"}:
        return False
    return all(p.shape == weight.shape for p in params.values())


def _norm_width(module: nn.Module) -> int | None:
    weight = getattr(module, "weight", None)
    if isinstance(weight, Tensor) and weight.ndim == 1:
        return int(weight.shape[0])
    shape = getattr(module, "normalized_shape", None)
    return int(shape[-1]) if shape else None


def _linears(module: nn.Module, tree: Tree) -> Iterator[_Lin]:
    """The Linear-like weights directly in ``module`` (Linear, HF Conv1D, stacked expert tensors)."""
    # read ``weight`` only where it is expected: a missing name costs Module.__getattr__'s raise
    linear = isinstance(module, nn.Linear)
    weight = getattr(module, "weight", None) if linear or type(module).__name__ == "Conv1D" else None
    if isinstance(module, nn.Linear) and isinstance(weight, Tensor):
        yield _Lin(module, "weight", module.in_features, module.out_features)
    elif is_hf_conv1d(module):
        assert isinstance(weight, Tensor)
        yield _Lin(module, "weight", int(weight.shape[0]), int(weight.shape[1]), Slot(Role.DENSE, "keras"))
    elif not any(tree.holds(c) for c in tree.kids(module)) and not isinstance(
        module, (_ConvNd, nn.Embedding)
    ):  # no child holds parameters (an activation module may be a child)
        stacked = [(a, p) for a, p in tree.params(module) if p.ndim == 3]
        if len(stacked) >= 2 and len({p.shape[0] for _, p in stacked}) == 1:  # E experts, (E, ·, ·) each
            for attr, param in stacked:
                slot = Slot(Role.DENSE, "torch", -1, -2, (0,))
                yield _Lin(module, attr, int(param.shape[-1]), int(param.shape[-2]), slot)


def _stacks(model: nn.Module, tree: Tree | None = None) -> dict[nn.Module, tuple[int, int]]:
    """Every innermost block of the model's repeated stacks -> (ℓ, L).

    ℓ and L count the blocks of one type under one outermost stack: Swin's blocks across its stages
    form one residual stream, T5's encoder and decoder blocks two.
    """
    tree = Tree(model) if tree is None else tree
    members: list[nn.Module] = []
    home: dict[int, nn.Module] = {}  # block -> the list holding it
    for _, sub in tree.order:
        if not isinstance(sub, (nn.ModuleList, nn.Sequential)):
            continue
        children = tree.kids(sub)
        kids = [k for k in children if tree.kids(k)]
        if not kids:
            continue
        common, count = Counter(type(k) for k in kids).most_common(1)[0]
        if count >= 2 or len(kids) == len(children) == 1:
            for kid in kids:
                if type(kid) is common:
                    members.append(kid)
                    home[id(kid)] = sub
    innermost, outer = _nesting(members, tree)
    groups: dict[tuple[type[nn.Module], int], list[nn.Module]] = {}
    for block in innermost:
        root = outer.get(id(block))
        stack = home[id(root)] if root is not None else home[id(block)]
        groups.setdefault((type(block), id(stack)), []).append(block)
    return {b: (i, len(blocks)) for blocks in groups.values() for i, b in enumerate(blocks)}


def _nesting(members: list[nn.Module], tree: Tree) -> tuple[list[nn.Module], dict[int, nn.Module]]:
    """The members holding no other member, and for each module inside a member the last member (in
    ``members`` order) holding it."""
    if tree.shared:  # subtrees are not slices of one walk: torch's own walks
        ids = {id(m) for m in members}
        innermost = [m for m in members if not any(id(k) in ids for k in m.modules() if k is not m)]
        return innermost, {id(k): m for m in members for k in m.modules() if k is not m}
    spans = [(tree._index[id(m)], tree._end[id(m)]) for m in members]
    starts = sorted(start for start, _ in spans)
    innermost = []
    for m, (start, end) in zip(members, spans, strict=True):
        after = bisect.bisect_right(starts, start)  # the first member starting past this one's start
        if after == len(starts) or starts[after] >= end:
            innermost.append(m)
    outer: dict[int, nn.Module] = {}
    for m, (start, end) in zip(members, spans, strict=True):  # last wins
        for _, k in tree.order[start + 1 : end]:
            outer[id(k)] = m
    return innermost, outer


def _is_attention(module: nn.Module) -> bool:
    if isinstance(module, nn.MultiheadAttention):
        return True
    return any(isinstance(_plain_attribute(module, a), int) for a in _HEAD_ATTRS)


def _plain_attribute(module: nn.Module, name: str) -> object:
    """``getattr(module, name, None)`` without Module.__getattr__'s raise for a missing name.

    That fallback yields only parameters, buffers and submodules, never an int, so skipping it
    changes no answer of :func:`_is_attention`; a class attribute or property is read as getattr would.
    """
    found = module.__dict__.get(name, _MISSING)
    if found is not _MISSING:
        return found
    return getattr(module, name, None) if hasattr(type(module), name) else None


def _kv_width(unit: nn.Module) -> int | None:
    heads, size = getattr(unit, "num_key_value_heads", None), getattr(unit, "head_dim", None)
    return heads * size if isinstance(heads, int) and isinstance(size, int) else None


_QKV_HINTS: Final = {"q": "q", "query": "q", "wq": "q", "k": "k", "key": "k", "wk": "k",
                      "v": "v", "value": "v", "wv": "v"}  # fmt: skip
_GATE_HINTS: Final = {"gate": "gate", "w1": "gate", "wi_0": "gate", "up": "up", "w3": "up", "wi_1": "up"}


def _name_parts(lins: list[_Lin], hints: dict[str, str], names: dict[int, str]) -> None:
    """Label separate q/k/v (or gate/up) projections in definition order, unless their names all say otherwise.

    Two q/k/v projections are a query and a fused key/value: only the query is named.
    """
    labels = list(dict.fromkeys(hints.values()))
    said = []
    for lin in lins:
        last = names.get(id(lin.module), "").rsplit(".", 1)[-1].lower().removeprefix("to_")
        said.append(hints.get(last.removesuffix("_proj").removesuffix("_lin"), ""))
    if len(lins) == len(labels):
        chosen = said if sorted(said) == sorted(labels) else labels
    elif len(lins) == 2 and labels[0] == "q":
        chosen = ["", "q"] if said == ["", "q"] else ["q", ""]
    else:
        return
    for lin, label in zip(lins, chosen, strict=True):
        lin.slot.part = label


def _split(fused: int, q: int, kv: int | None) -> tuple[tuple[str, int], ...]:
    """q/k/v block sizes of a fused projection writing ``fused`` features, q ``q`` wide, k and v ``kv``.

    Unequal blocks are cut only when the module states its key/value width; otherwise (LeViT's
    per-head layout, say) the tensor stays whole: every block has the same fan_in anyway.
    """
    if fused == 3 * q:
        return (("q", q), ("k", q), ("v", q))
    if kv is not None and fused == q + 2 * kv:
        return (("q", q), ("k", kv), ("v", kv))
    return ()


def _block_roles(block: nn.Module, index: int, depth: int, tree: Tree) -> list[_Lin]:
    """Role, layout and fused blocks of every Linear-like weight in one block of the stack."""
    order = tree.subtree(block)
    lins = [lin for sub in order for lin in _linears(sub, tree)]
    if not lins:
        return []
    names = {id(sub): name for name, sub in block.named_modules()}
    # d: the width of the block's layer/RMS norms (batch norms sit inside branches), else what it writes last
    # (q/k norms inside attention, Qwen3's, are per head: not counted; ties go to the wider)
    heads = {id(k) for unit in order if tree.attention(unit) for k in tree.subtree(unit)}
    widths = Counter(
        w
        for sub in order
        if is_norm(sub, tree)
        and not isinstance(sub, _NormBase)
        and id(sub) not in heads
        and (w := _norm_width(sub))
    )
    d = max(widths, key=lambda w: (widths[w], w)) if widths else lins[-1].n_out
    position = {id(lin.module): i for i, lin in enumerate(lins)}
    done: set[int] = set()
    units: list[nn.Module] = []
    taken: set[int] = set()
    for unit in reversed(order):  # innermost first; a unit holding one already taken is a whole block
        if tree.attention(unit) and not any(id(u) in taken for u in tree.subtree(unit)):
            units.append(unit)
            taken.add(id(unit))
    for unit in reversed(units):
        if isinstance(unit, nn.MultiheadAttention):  # in_proj_weight is q/k/v (see _pieces), out_proj out
            out_lin = next(lin for lin in lins if lin.module is unit.out_proj)
            out_lin.slot.role = Role.ATTENTION_OUT
            done.add(id(unit.out_proj))
            continue
        members = {id(sub) for sub in tree.subtree(unit)}
        inner = [lin for lin in lins if id(lin.module) in members and id(lin.module) not in done]
        if not inner:
            continue
        out: _Lin | None
        writers = [lin for lin in inner if lin.n_out == d]
        fused = any(lin.n_out > writers[-1].n_in for lin in inner if writers and lin is not writers[-1])
        if writers and len(inner) >= 2 and (len(inner) >= 4 or fused):  # q, k, v (or fused) and the output
            out = writers[-1]  # the last writer into d (Phi3 registers o_proj before qkv_proj)
            qkv = [lin for lin in inner if lin is not out]
        else:  # the output projection is the next Linear after the unit (BERT/ViT *SelfOutput)
            after = position[id(inner[-1].module)] + 1
            nxt = lins[after] if after < len(lins) else None
            qkv, out = inner, nxt if nxt is not None and nxt.n_out == d else None
        _name_parts(qkv, _QKV_HINTS, names)
        for lin in qkv:
            lin.slot.role = Role.ATTENTION_QKV
            if out is not None and len(qkv) == 1 and lin.n_out > out.n_in:
                lin.slot.blocks = _split(lin.n_out, out.n_in, _kv_width(unit))
            done.add(id(lin.module))
        if out is not None:
            out.slot.role = Role.ATTENTION_OUT
            done.add(id(out.module))
    rest = [lin for lin in lins if id(lin.module) not in done]
    seen_in = False
    for i, lin in enumerate(rest):
        if lin.n_out == d and seen_in:
            lin.slot.role = Role.MLP_OUT
            seen_in = False
        elif lin.n_in == d:
            lin.slot.role = Role.MLP_IN
            seen_in = True
            nxt = rest[i + 1] if i + 1 < len(rest) else None
            if nxt is not None and nxt.n_out == d and lin.n_out == 2 * nxt.n_in:  # fused gate/up
                lin.slot.blocks = (("gate", nxt.n_in), ("up", nxt.n_in))
    ins = [lin for lin in rest if lin.slot.role is Role.MLP_IN and not lin.slot.blocks]
    outs = [lin for lin in rest if lin.slot.role is Role.MLP_OUT]
    if (
        len(ins) == 2 and len(outs) == 1
        and (ins[0].n_in, ins[0].n_out) == (ins[1].n_in, ins[1].n_out) == (d, outs[0].n_in)
    ):  # fmt: skip
        _name_parts(ins, _GATE_HINTS, names)  # a gated MLP written as two Linears (Llama, torchtitan w1/w3)
    for lin in lins:
        lin.slot.layer, lin.slot.layers = index, depth
        if lin.slot.blocks:  # blocks are cut along the output axis of the stored layout
            ndim = getattr(lin.module, lin.attr).ndim
            lin.slot.axis = ndim - 1 if lin.slot.layout == "keras" else (ndim - 2 if ndim == 3 else 0)
    return lins


def _small_constant(param: Tensor) -> bool:
    """A layer-scale vector as constructed: one value everywhere, below 1 (CaiT/ConvNeXt 1e-6, ReZero 0)."""
    if param.is_meta or param.numel() < 2:
        return False
    with torch.no_grad():
        first = param.reshape(-1)[0]
        return bool((param == first).all()) and abs(float(first)) < 1.0


def infer(model: nn.Module, tree: Tree | None = None) -> dict[tuple[int, str], Slot]:
    """(id(module), attr) -> :class:`Slot` for every parameter of ``model`` (tied ones under each owner)."""
    tree = Tree(model) if tree is None else tree
    stacks = _stacks(model, tree)
    slots: dict[tuple[int, str], Slot] = {}
    widths: set[int] = set()
    block_of: dict[int, tuple[int, int]] = {}
    for block, (index, depth) in stacks.items():
        for sub in tree.subtree(block):
            block_of[id(sub)] = (index, depth)
        for lin in _block_roles(block, index, depth, tree):
            slots[(id(lin.module), lin.attr)] = lin.slot
    for _, sub in tree.order:
        if is_norm(sub, tree) and (w := _norm_width(sub)) is not None:
            widths.add(w)
    last_block = max((i for i, (_, m) in enumerate(tree.order) if m in stacks), default=-1)
    outside: list[tuple[int, _Lin]] = []  # Linear-likes outside the stacks, with their place in the walk
    for position, (prefix, sub) in enumerate(tree.order):
        place = block_of.get(id(sub), (None, None))
        for lin in _linears(sub, tree):
            key = (id(lin.module), lin.attr)
            if key not in slots:
                outside.append((position, lin))
                slots[key] = lin.slot
        for attr, param in tree.params(sub):
            key = (id(sub), attr)
            if key in slots:
                slots[key].layer, slots[key].layers = (
                    slots[key].layer or place[0],
                    slots[key].layers or place[1],
                )
                continue
            slot = _classify(prefix, sub, attr, param, widths, tree)
            slot.layer, slot.layers = place
            slots[key] = slot
    for lin in _heads(outside, last_block, tree):
        lin.slot.role = Role.HEAD
    for _, sub in tree.order:  # torch's MHA resets its parameters its own way (xavier, zero biases)
        if isinstance(sub, nn.MultiheadAttention):
            for owner in (sub, sub.out_proj):
                for attr, _ in tree.params(owner):
                    if (id(owner), attr) in slots:
                        slots[(id(owner), attr)].kind = MHA_KV if attr in ("bias_k", "bias_v") else MHA
    return slots


def _heads(outside: list[tuple[int, _Lin]], last_block: int, tree: Tree) -> list[_Lin]:
    """The readouts: Linear-likes outside the stacks defined after the last block; where none is, the
    one (if only one) that reads the last block's width d and writes another (a head defined first;
    a stem writes d)."""
    if last_block < 0:
        return []
    after = [lin for position, lin in outside if position > last_block]
    if after:
        return after
    width = _output_width(tree.order[last_block][1], tree)
    reads = [lin for _, lin in outside if lin.n_in == width and lin.n_out != width]
    return reads if len(reads) == 1 else []


def _output_width(block: nn.Module, tree: Tree) -> int | None:
    """The width a block writes: its last norm's, else its last Linear-like's output features."""
    norms = [w for sub in tree.subtree(block) if is_norm(sub, tree) and (w := _norm_width(sub)) is not None]
    if norms:
        return norms[-1]
    outs = [lin.n_out for sub in tree.subtree(block) for lin in _linears(sub, tree)]
    return outs[-1] if outs else None


def _classify(
    prefix: str, module: nn.Module, attr: str, param: Tensor, widths: set[int], tree: Tree | None = None
) -> Slot:
    """The role of a parameter that is not a Linear-like weight."""
    name = f"{prefix}.{attr}".lower()
    bias = attr == "bias" or attr.startswith("bias_") or attr.endswith("_bias")
    if is_norm(module, tree):
        return Slot(Role.NORM_OFFSET if bias else Role.NORM_SCALE)
    if isinstance(module, (nn.Embedding, nn.EmbeddingBag)):  # the same law either way; the name tells which
        last = prefix.rsplit(".", 1)[-1].lower()
        return Slot(Role.POSITIONAL if any(h in last for h in ("pos", "relative", "wpe")) else Role.EMBEDDING)
    if isinstance(module, (RNNBase, RNNCellBase)):
        if bias:
            return Slot(Role.BIAS)
        return Slot(Role.RECURRENT if attr.startswith("weight_hh") else Role.RECURRENT_INPUT)
    if bias:
        known = isinstance(module, (nn.Linear, _ConvNd, nn.MultiheadAttention)) or is_hf_conv1d(module)
        if known and "dt" in prefix.rsplit(".", 1)[-1]:  # Mamba dt_proj.bias: inverse-softplus of dt
            return Slot(Role.OTHER)
        return Slot(Role.BIAS)
    if isinstance(module, _ConvNd):
        return Slot(Role.CONV)
    if isinstance(module, nn.MultiheadAttention) and attr.endswith("proj_weight"):
        return Slot(Role.ATTENTION_QKV)
    if isinstance(module, nn.PReLU):
        return Slot(Role.OTHER)
    # a parameter of a custom module: not a Linear, not a norm
    leading_ones = param.ndim >= 2 and all(n == 1 for n in param.shape[:-2]) and param.shape[0] == 1
    if any(h in name for h in _POSITIONAL_HINTS) or (leading_ones and int(param.shape[-1]) in widths):
        return Slot(Role.POSITIONAL)
    if param.ndim <= 1:
        return Slot(Role.LAYER_SCALE if param.ndim == 1 and _small_constant(param) else Role.OTHER)
    if "log" in name or "bias" in name:  # Mamba A_log, LeViT attention_biases: laws of their own
        return Slot(Role.OTHER)
    return Slot(Role.DENSE)
