"""Model-level init shared by the Keras and Flax front doors: roles in blocks, sizes, laws, canonical layout.

A framework walker lists each parameter as a :class:`Param` (its role where the layer type says it,
``None`` for a dense weight whose role the block structure decides, its storage axes, its block
index) and the sizes it read (L, d, h, d_kv). :func:`plan_model` settles the dense roles (inside a
block: a weight reading d opens the MLP, ``MLP_IN``; the next one writing d closes it,
``MLP_OUT``), infers d_ff, names every parameter with :func:`winit._roles.canonical_stream`,
resolves each law (rules, then the recipe, then the framework's own recipe) and plans it in the
canonical layout, PyTorch's ``(out, in, *kernel)``. Nothing is written here: a missing size or a
bad rule fails before the walker touches the model, and the walker draws each plan, reshapes it
from the canonical layout to its storage with :meth:`Param.storage` and writes it.
"""

from __future__ import annotations

import dataclasses
import fnmatch
import math
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any, Final, TypeAlias

from winit._recipes import Recipe
from winit._registry import get
from winit._report import InitRecord
from winit._roles import KEEP, MHA, Role, canonical_stream
from winit._schemes import Plan, Scheme
from winit._validate import suggest

#: ``rules``: parameter-name patterns (fnmatch) or role names mapped to a scheme (name or Scheme) or "keep".
Rules: TypeAlias = "Mapping[str | Role, str | Scheme] | None"
#: Sizes read from the model, each overridable by the caller's keyword of the same name.
INFERRED = ("L", "d", "d_ff", "h", "d_kv")
_OUTSIDE = (Role.EMBEDDING, Role.POSITIONAL, Role.HEAD)
#: the part of a residual branch's convs other than its last (Fixup scales these by L^(-1/(2m-2)))
BRANCH: Final = "branch"
#: the part of a residual branch's last conv (Fixup and ZerO zero it)
BRANCH_OUT: Final = "branch_out"


@dataclass
class Param:
    """One parameter as a framework walker found it; ``handle`` is the framework's variable."""

    name: str
    layer: str
    shape: tuple[int, ...]
    handle: Any
    unit: int  # its layer's index: a layer's weight, bias, scale and offset share it
    tensor: str = "weight"  # weight | bias | scale | offset
    role: Role | None = None  # None: a dense weight whose block structure decides
    part: str = ""
    out_axes: tuple[int, ...] = ()  # storage axes flattened into canonical axis 0
    in_axes: tuple[int, ...] = ()  # storage axes flattened into canonical axis 1; the rest follow
    gates: tuple[str, ...] = ()  # equal blocks along canonical axis 0, each with its own law and stream
    block: int | None = None
    n_in: int = 0
    n_out: int = 0
    hidden: int | None = None  # RNN hidden size
    kind: str = ""  # the layer's kind marker (MHA: a multi-head-attention layer): recipes may key laws on it
    blocks: int = 1  # equal blocks fused along the output axis in torch's layout (3: MHA's in_proj_weight)
    sizes: dict[str, int] = field(default_factory=dict)  # its own sizes (a residual branch's L and m)

    def _rest(self) -> list[int]:
        return [a for a in range(len(self.shape)) if a not in self.out_axes and a not in self.in_axes]

    def canonical(self) -> tuple[int, ...]:
        """The shape drawn: ``(Π out, Π in, *kernel)`` for a weight, the flat length for the rest."""
        if not self.out_axes and not self.in_axes:
            return (math.prod(self.shape),) if self.shape else ()
        out = math.prod(self.shape[a] for a in self.out_axes)
        fan = math.prod(self.shape[a] for a in self.in_axes)
        return (out, fan, *(self.shape[a] for a in self._rest()))

    def storage(self) -> tuple[tuple[int, ...], tuple[int, ...]]:
        """(shape, perm): the canonical tensor reshaped to ``shape`` then transposed by ``perm`` is the storage."""
        if not self.out_axes and not self.in_axes:
            return self.shape, tuple(range(len(self.shape)))
        order = [*self.out_axes, *self.in_axes, *self._rest()]
        return tuple(self.shape[a] for a in order), tuple(order.index(a) for a in range(len(self.shape)))

    def fans(self) -> tuple[int, int]:
        """fan_in, fan_out of the canonical shape, as torch (and Keras, for the storage) count them."""
        shape = self.canonical()
        if len(shape) < 2:
            n = shape[0] if shape else 1
            return n, n
        field = math.prod(shape[2:])
        return shape[1] * field, shape[0] * field


@dataclass
class Piece:
    """One block of a parameter (the whole of it unless gates split it): its plan, or None to keep it."""

    part: str
    plan: Plan | None
    stream: str
    shape: tuple[int, ...]
    lr_multiplier: float = 1.0

    @property
    def seed_part(self) -> str:
        """The part a native seed reads: never a branch part, so marking a branch leaves its draws as they were."""
        return "" if self.part in (BRANCH, BRANCH_OUT) else self.part


@dataclass
class Write:
    """Everything decided about one parameter before anything is written."""

    param: Param
    role: Role
    pieces: list[Piece]

    @property
    def kept(self) -> bool:
        return all(piece.plan is None for piece in self.pieces)

    def records(self, layout: str) -> list[InitRecord]:
        """The report rows: one per piece, shapes and layout as stored, fans as the plan counted them."""
        rows = []
        for piece in self.pieces:
            part = piece.part if len(self.pieces) > 1 or piece.part == BRANCH_OUT else ""  # shown: zeroed
            if piece.plan is None:
                row = InitRecord.keep(self.param.name, self.param.layer, self.param.shape, part)
            else:
                row = InitRecord.from_plan(self.param.name, self.param.layer, piece.plan, part)
                shape = self.param.shape if len(self.pieces) == 1 else piece.shape
                row = dataclasses.replace(row, shape=shape, layout=layout)
            rows.append(dataclasses.replace(row, role=self.role.value, lr_multiplier=piece.lr_multiplier))
        return rows


def assign_blocks(
    root: Any, children: Callable[[Any], Iterable[Any]], is_attention: Callable[[Any], bool]
) -> tuple[dict[int, int | None], int]:
    """Each layer's attention-block index (by ``id``) and the number of blocks L.

    A block is the outermost layer holding exactly one attention layer; a bare attention layer
    among its siblings (a flat functional model) also claims the attention-free siblings after it,
    up to the next block. A root holding one attention layer is block 0 as a whole.
    """
    count: dict[int, int] = {}

    def tally(node: Any) -> int:
        found = sum(tally(child) for child in children(node))
        count[id(node)] = 1 if is_attention(node) else found
        return count[id(node)]

    tally(root)
    blocks: dict[int, int | None] = {}
    total = 0

    def visit(node: Any, block: int | None) -> None:
        nonlocal total
        blocks[id(node)] = block
        trailing: int | None = None
        for child in children(node):
            if block is not None:
                visit(child, block)
            elif count[id(child)] == 1:
                total += 1
                visit(child, total - 1)
                trailing = total - 1 if is_attention(child) else None
            elif count[id(child)] == 0:
                visit(child, trailing)
            else:
                trailing = None
                visit(child, None)

    single = count[id(root)] == 1 and not is_attention(root)
    total = 1 if single else 0
    visit(root, 0 if single else None)
    return blocks, total


def mark_attention(params: list[Param]) -> None:
    """One multi-head-attention layer's parameters: kind MHA, and q/k/v weights as torch's MHA would hold them.

    torch's ``nn.MultiheadAttention`` fuses q, k and v into one ``(3E, E)`` ``in_proj_weight`` when
    all three read and write E (kdim = vdim = embed_dim), else keeps three; ``blocks`` says which, so
    that a recipe porting torch's laws (xavier over the fused tensor) gives a Keras or Flax MHA the same.
    """
    qkv = [p for p in params if p.role is Role.ATTENTION_QKV and p.tensor == "weight"]
    shapes = {p.canonical()[:2] for p in qkv}  # (out, in): (E, E) for all three when torch would fuse them
    fused = len(qkv) == 3 and len(shapes) == 1 and len(set(next(iter(shapes)))) == 1
    for p in params:
        p.kind = MHA
        if fused and any(p is q for q in qkv):
            p.blocks = 3


def _settle_roles(params: list[Param], d: int | None, heads: set[int] | None) -> None:
    """Dense weights' roles: in a block, d → other MLP_IN and other → d MLP_OUT (d → d: in, then out); the head
    (default: the last dense weight) HEAD; else DENSE. Widths decide, so the layers' order rarely matters."""
    if heads is None:
        undecided = [p for p in params if p.role is None and p.tensor == "weight"]
        heads = {undecided[-1].unit} if undecided else set()
    open_mlp: dict[int | None, bool] = {}
    for p in params:
        if p.role is not None or p.tensor != "weight":
            continue
        role = Role.DENSE
        if p.block is not None and d is not None:
            if p.n_out == d and (p.n_in != d or open_mlp.get(p.block, False)):
                role = Role.MLP_OUT
            elif p.n_in == d:
                role = Role.MLP_IN
        if p.unit in heads and role is not Role.MLP_OUT:
            role = Role.HEAD
        open_mlp[p.block] = role is Role.MLP_IN or (open_mlp.get(p.block, False) and role is not Role.MLP_OUT)
        p.role = role
    for p in params:  # a layer's other tensors take their role from its weight's kind
        if p.role is None:
            p.role = Role.BIAS


def _split_gate_up(params: list[Param]) -> None:
    """A fused gate/up weight (one MLP_IN writing 2·d_ff, Llama-style SwiGLU in one kernel): blocks gate, up.

    Structural, as the torch walker decides it (``_torch_roles``): d_ff is the input width of the block's
    next MLP_OUT weight, and an MLP_IN writing exactly twice that must be split into two halves (gate first,
    HF ``gate_up_proj.chunk(2)``); each half gets its own law and stream, ``...mlp_in#0/weight[gate]``.
    """
    weights = [p for p in params if p.tensor == "weight"]
    for i, p in enumerate(weights):
        if p.role is not Role.MLP_IN or p.gates or p.block is None or not p.out_axes:
            continue
        outs = [q for q in weights if q.block == p.block and q.role is Role.MLP_OUT]
        # one MLP_OUT in the block: it (Flax sorts layers by name, so "down" may precede "gate_up");
        # several: the next one after this layer
        closing = outs[0] if len(outs) == 1 else next((q for q in weights[i + 1 :] if q in outs), None)
        if closing is not None and closing.n_in > 0 and p.n_out == 2 * closing.n_in:
            p.gates = ("gate", "up")


def _unit_keys(params: list[Param]) -> dict[int, str]:
    """Each layer's name in canonical streams: its weight's role (and part), or ``norm``."""
    keys: dict[int, str] = {}
    for p in params:
        if p.tensor in ("scale", "offset"):
            keys[p.unit] = "norm"
        elif p.tensor == "weight" and p.role is not None:
            named = p.part and not p.gates and p.part not in (BRANCH, BRANCH_OUT)  # as torch names them
            keys[p.unit] = p.role.value + (f".{p.part}" if named else "")
    for p in params:
        keys.setdefault(p.unit, p.role.value if p.role is not None else "bias")
    return keys


def _streams(params: list[Param]) -> dict[int, str]:
    """id(param) -> its canonical stream name (occurrences counted per scope and unit in definition order)."""
    keys = _unit_keys(params)
    counts: dict[tuple[int | None, str], int] = {}
    occurrence: dict[int, tuple[int | None, int]] = {}
    weights = {p.unit: p for p in params if p.tensor == "weight"}
    for p in params:
        if p.unit in occurrence:
            continue
        main = weights.get(p.unit, p)
        scope = None if main.role in _OUTSIDE else main.block
        index = counts.get((scope, keys[p.unit]), 0)
        counts[(scope, keys[p.unit])] = index + 1
        occurrence[p.unit] = (scope, index)
    names = {}
    for p in params:
        scope, index = occurrence[p.unit]
        names[id(p)] = canonical_stream(keys[p.unit], block=scope, occurrence=index, tensor=p.tensor)
    return names


class _RuleSet:
    """``rules`` checked: role names (``"mlp_out"``) and fnmatch patterns on parameter names, to a scheme or KEEP."""

    def __init__(self, rules: Rules, names: list[str]) -> None:
        self.roles: dict[Role, Scheme | None] = {}
        self.patterns: dict[str, Scheme | None] = {}
        roles = {role.value: role for role in Role}
        for key, value in (rules or {}).items():
            spec = None if isinstance(value, str) and value == KEEP else _scheme(value)
            if isinstance(key, Role) or key in roles:
                self.roles[roles[key.value if isinstance(key, Role) else key]] = spec
            elif isinstance(key, str):
                if not any(fnmatch.fnmatchcase(name, key) for name in names):
                    raise ValueError(
                        f"rule {key!r} is neither a role ({', '.join(roles)}) nor a pattern matching a "
                        f"parameter; parameters: {', '.join(names)}.{suggest(key, [*roles, *names])}"
                    )
                self.patterns[key] = spec
            else:
                raise TypeError(f"rule keys are role names, winit.Role or name patterns (str); got {key!r}")

    def find(self, name: str, role: Role) -> tuple[bool, Scheme | None]:
        """(True, scheme or None for keep) when a rule covers the parameter; (False, None) otherwise."""
        for pattern, spec in self.patterns.items():
            if fnmatch.fnmatchcase(name, pattern):
                return True, spec
        if role in self.roles:
            return True, self.roles[role]
        return False, None


def _scheme(value: object) -> Scheme:
    if isinstance(value, Scheme):
        return value
    if not isinstance(value, str):
        raise TypeError(f"a rule's value must be a scheme name, a winit.Scheme or 'keep'; got {value!r}")
    return get(value)


def _law(
    recipe: Recipe, default: Recipe, role: Role, part: str, context: dict[str, Any], kind: str = ""
) -> Scheme | None:
    """The recipe's law for (role, part, kind), else the framework's own; None keeps the parameter."""
    for source in (recipe, default):
        found = source.role_law(role, part, kind)
        if found is not None:
            if found.keep:
                return None
            return get(found.scheme).with_(**found.values(source.context(**context)))
    return None


def lr_multiplier(
    recipe: Recipe, default: Recipe, role: Role, part: str, context: dict[str, Any], kind: str = ""
) -> float:
    """The recipe's learning-rate multiplier for (role, part), else the framework's own; 1 where neither sets one.

    A rule that replaces the law leaves the multiplier: it belongs to the role (μP's hidden LR), not the draw.
    """
    for source in (recipe, default):
        found = source.role_law(role, part, kind)
        if found is not None:
            return found.lr_multiplier(source.context(**context))
    return 1.0


def infer_sizes(
    params: list[Param], found: Mapping[str, int | None], sizes: Mapping[str, Any]
) -> dict[str, Any]:
    """The sizes formulas may read: those the walker found (and d_ff from MLP_IN widths), overridden by ``sizes``."""
    context: dict[str, Any] = {k: v for k, v in found.items() if v is not None}
    widths = {
        p.n_out // max(1, len(p.gates)) for p in params if p.role is Role.MLP_IN and p.tensor == "weight"
    }
    if len(widths) == 1:
        context["d_ff"] = widths.pop()
    context.update({k: v for k, v in sizes.items() if v is not None})
    if "base_width" in context and "width_mult" not in context and "d" in context:
        context["width_mult"] = context["d"] / context["base_width"]  # μP: width over base width
    return context


def plan_model(
    params: list[Param],
    recipe: Recipe,
    default: Recipe,
    rules: Rules,
    found: Mapping[str, int | None],
    sizes: Mapping[str, Any],
    heads: set[int] | None = None,
) -> list[Write]:
    """Every parameter's role, canonical stream and plan; ValueError (naming the parameter) before any write.

    ``heads``: the layers (``Param.unit``) that are the model's head; None: the last undecided dense weight's.
    """
    _settle_roles(params, found.get("d") if "d" not in sizes else sizes["d"], heads)
    _split_gate_up(params)
    streams = _streams(params)
    context = infer_sizes(params, found, sizes)
    checked = _RuleSet(rules, [p.name for p in params])
    weights = {p.unit: p for p in params if p.tensor == "weight"}
    writes = []
    for p in params:
        role = p.role or Role.OTHER
        fan_in, fan_out = weights.get(p.unit, p).fans()
        own = {k: v for k, v in weights.get(p.unit, p).sizes.items() if k not in sizes}
        local = {"fan_in": fan_in, "fan_out": fan_out, **context, **own}  # a branch's L over the blocks' L
        if p.block is not None:
            local.setdefault("l", p.block)
        if p.hidden is not None:
            local.setdefault("hidden", p.hidden)
        local.setdefault("blocks", p.blocks)
        shape = p.canonical()
        labels = p.gates or (p.part,)
        rows = shape[0] // len(labels) if shape else 0
        piece_shape = (rows, *shape[1:]) if p.gates else shape
        pieces = []
        for label in labels:
            covered, spec = checked.find(p.name, role)
            part = label
            if p.hidden is not None and role is Role.BIAS and (role, label) not in recipe.laws:
                part = "recurrent"  # torch's RNN biases follow the recurrent law, not the weight's fan
            try:
                if not covered:
                    spec = _law(recipe, default, role, part, local, p.kind)
                lr = lr_multiplier(recipe, default, role, part, local, p.kind)
            except ValueError as error:
                raise ValueError(f"{p.name} ({role.value}{f'[{label}]' if label else ''}): {error}") from None
            stream = streams[id(p)] + (f"[{label}]" if p.gates else "")
            plan = None if spec is None else spec.plan(piece_shape, "torch")
            pieces.append(Piece(label, plan, stream, piece_shape, lr))
        if len({piece.plan is None for piece in pieces}) > 1:
            raise ValueError(f"{p.name}: a rule keeps some gates of the fused parameter and draws others")
        writes.append(Write(p, role, pieces))
    return writes


def einsum_axes(equation: str) -> tuple[tuple[int, ...], tuple[int, ...]]:
    """(in_axes, out_axes) of an einsum kernel (the second operand): its letters in the output are out axes.

    The same split Keras' EinsumDense hands its VarianceScaling initializer (``_analyze_split_string``).
    """
    operands, _, output = equation.replace(" ", "").partition("->")
    kernel = operands.split(",")[1].replace("...", "")
    outs = tuple(i for i, letter in enumerate(kernel) if letter in output)
    return tuple(i for i in range(len(kernel)) if i not in outs), outs


def agreed(values: Iterable[int]) -> int | None:
    """The one value every layer reports, None when they differ or there is none."""
    distinct = set(values)
    return distinct.pop() if len(distinct) == 1 else None
