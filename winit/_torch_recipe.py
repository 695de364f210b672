"""PyTorch model-level init by recipe: each parameter's law from a :class:`winit.Recipe`, by its role.

The recipe path of ``winit.torch.init_`` and ``explain_model``. Roles, layouts, fused blocks and
the block stack come from :mod:`winit._torch_roles`; the sizes a recipe reads, the law of each
(role, part) and the canonical stream names come from :mod:`winit._model_plan`, as for Keras and
Flax, so the same architecture resolves to the same laws and, under ``rng="portable"``, the same
values in all three frameworks. Nothing is written here.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Final

from torch import Tensor, nn
from torch.nn.modules.conv import _ConvTransposeNd
from torch.nn.modules.rnn import RNNBase, RNNCellBase

from winit._fans import fans, resolve_axes
from winit._model_plan import Param, _law, _streams, agreed, infer_sizes, lr_multiplier
from winit._recipe_catalogue import TORCH
from winit._recipes import CONTEXT_NAMES, Recipe, RoleLaw
from winit._roles import KEEP, Role
from winit._schemes import Scheme
from winit._torch_owners import Owner
from winit._torch_residual import BRANCH, BRANCH_OUT, mark_branches
from winit._torch_roles import NORM_TYPES, Slot, _is_attention
from winit._torch_rules import _GATE_NAMES, _QKV, SchemeLike, SchemeRules, _is_bias, _Piece, _Rule, _Rules
from winit._validate import suggest

_HEADS: Final = ("num_heads", "num_attention_heads", "n_heads", "n_head")
_HEAD_SIZE: Final = ("head_dim", "attention_head_size", "key_value_proj_dim", "head_size", "d_kv")
_TENSOR: Final = {Role.NORM_SCALE: "scale", Role.NORM_OFFSET: "offset", Role.BIAS: "bias"}


def recipe_rules(
    scheme: SchemeRules, nonlinearity: str, bias: SchemeLike | None, recipe: str | Recipe | None,
    sizes: Mapping[str, Any],
) -> tuple[_Rules, Recipe]:  # fmt: skip
    """The recipe and the rules over it; ``sizes`` only with a recipe, and only names its formulas can read."""
    if recipe is None:
        raise TypeError(
            f"unexpected keyword argument(s) {', '.join(map(repr, sizes))}: sizes such as L or d are "
            "read by a recipe; pass recipe=... (see winit.recipes())"
        )
    from winit import recipe as find_recipe

    chosen = find_recipe(recipe)
    if scheme is not None and not isinstance(scheme, Mapping):
        raise ValueError(
            f"with recipe={chosen.name!r}, scheme must be a mapping of rules over the recipe (name patterns, "
            f"module types, roles -> scheme or 'keep'); got the single scheme {scheme!r}"
        )
    check_sizes(chosen, sizes)
    rules = _Rules(scheme or {}, nonlinearity, "zeros" if bias is None else bias)
    if bias is not None:  # bias= given with a recipe: a rule for every bias, over the recipe's law
        rules.roles.setdefault(Role.BIAS, rules.bias)
    return rules, chosen


def check_sizes(recipe: Recipe, sizes: Mapping[str, Any]) -> None:
    """Every keyword is a size or constant ``recipe`` can read: a typo is a TypeError, never silently ignored."""
    known = {*CONTEXT_NAMES, "base_width", *recipe.constants}
    for law in recipe.laws.values():
        known |= law.names()
    for key, value in sizes.items():
        if key not in known:
            raise TypeError(
                f"unexpected keyword argument {key!r}: not a size or constant of recipe {recipe.name!r} "
                f"(accepted: {', '.join(sorted(known))}).{suggest(key, sorted(known))}"
            )
        if not isinstance(value, (int, float)) or (isinstance(value, bool) and key not in recipe.constants):
            raise TypeError(f"size {key}={value!r} must be a number")


@dataclass
class _Cut:
    """One block of a parameter planned on its own (the whole of it when ``stop`` is None)."""

    label: str  # the report's part ("" for a whole parameter)
    part: str  # the recipe's part: q/k/v, gate/up, an RNN gate, "recurrent"
    shape: tuple[int, ...]
    start: int = 0
    stop: int | None = None
    axis: int = 0


@dataclass
class _Draft:
    """One parameter before its laws: role, layout, cuts and the weight whose fans its formulas read."""

    owner: Owner
    param: Tensor
    slot: Slot
    role: Role
    layout: str
    cuts: list[_Cut]
    gated: bool  # cuts are gates of one stream (RNN), not projections of their own (q/k/v, gate/up)
    # (id(module), attr) of the weight whose fans the formulas read and whose unit a bias joins (itself for a weight)
    weight: tuple[int, str]
    hidden: int | None = None


def _weight_attr(attr: str) -> str:
    """The weight a bias belongs to: bias -> weight, bias_ih_l0 -> weight_ih_l0, in_proj_bias -> in_proj_weight."""
    if attr.endswith("_bias") and attr != "in_proj_bias":
        return attr[: -len("_bias")]  # gate_up_proj_bias -> gate_up_proj (stacked experts)
    return attr.replace("bias", "weight", 1)


def _even(shape: tuple[int, ...], labels: tuple[str, ...], axis: int = 0) -> list[_Cut]:
    size = shape[axis] // len(labels)
    return [
        _Cut(
            label,
            label,
            tuple(size if i == axis else n for i, n in enumerate(shape)),
            k * size,
            (k + 1) * size,
            axis,
        )
        for k, label in enumerate(labels)
    ]


def _blocks(shape: tuple[int, ...], blocks: tuple[tuple[str, int], ...], axis: int) -> list[_Cut]:
    cuts, start = [], 0
    for label, size in blocks:
        block = tuple(size if i == axis else n for i, n in enumerate(shape))
        cuts.append(_Cut(label, label, block, start, start + size, axis))
        start += size
    return cuts


def _draft(owner: Owner, param: Tensor, slot: Slot, slots: Mapping[tuple[int, str], Slot]) -> _Draft:
    """How ``owner`` is cut and which weight its bias belongs to (a bias follows its weight's q/k/v or gate/up cut)."""
    module, attr, shape = owner.module, owner.attr, tuple(owner.shape)
    role, layout = slot.role, slot.layout
    if isinstance(module, _ConvTransposeNd) and attr == "weight":
        layout = "torch_transpose"
    whole = [_Cut(BRANCH_OUT if slot.part == BRANCH_OUT else "", slot.part, shape)]  # shown: it is zeroed
    weight = (id(module), attr)
    if _is_bias(attr) and (id(module), _weight_attr(attr)) in slots:
        weight = (id(module), _weight_attr(attr))
    if isinstance(module, (RNNBase, RNNCellBase)) and attr.startswith(("weight_", "bias_")) and shape:
        gates = shape[0] // module.hidden_size
        labels = _GATE_NAMES.get(gates, tuple(str(g) for g in range(gates)))
        cuts = _even(shape, labels) if gates > 1 else whole
        return _Draft(owner, param, slot, role, layout, cuts, gates > 1, weight, module.hidden_size)
    if isinstance(module, nn.MultiheadAttention) and attr in ("in_proj_weight", "in_proj_bias"):
        return _Draft(owner, param, slot, role, layout, _even(shape, _QKV), False, weight)
    if (
        slot.blocks
    ):  # fused q/k/v: three projections of their own; fused gate/up: one layer's two gates (Keras, Flax)
        gated = slot.blocks[0][0] == "gate"
        return _Draft(owner, param, slot, role, layout, _blocks(shape, slot.blocks, slot.axis), gated, weight)
    if isinstance(module, nn.MultiheadAttention) and attr in (
        "q_proj_weight",
        "k_proj_weight",
        "v_proj_weight",
    ):
        whole = [_Cut("", attr[0], shape)]  # kdim/vdim != embed_dim: q, k and v stored apart
    owner_slot = slots.get(weight)
    if weight != (id(module), attr) and owner_slot is not None:
        if owner_slot.blocks and owner_slot.blocks[0][0] != "gate" and shape:  # a fused q/k/v bias: q, k, v
            total = sum(size for _, size in owner_slot.blocks)
            axes = [i for i, n in enumerate(shape) if n == total]
            if axes:
                return _Draft(owner, param, slot, role, layout, _blocks(shape, owner_slot.blocks, axes[-1]), False,
                              weight)  # fmt: skip
        whole = [_Cut("", owner_slot.part, shape)]
    return _Draft(owner, param, slot, role, layout, whole, False, weight)


def _found(bare: nn.Module, drafts: list[_Draft]) -> dict[str, int | None]:
    """L, d, h and d_kv as the model states them (attention modules' head counts, the projections' widths)."""

    def widths(role: Role, axis: str) -> list[int]:
        out = []
        for draft in drafts:
            if draft.role is role and draft.weight == (id(draft.owner.module), draft.owner.attr):
                for cut in draft.cuts:
                    if len(cut.shape) >= 2:
                        ins, outs, _ = resolve_axes(cut.shape, draft.layout, **draft.slot.axes())  # type: ignore[arg-type]
                        out.append(cut.shape[(ins if axis == "in" else outs)[0]])
        return out

    d = agreed(widths(Role.ATTENTION_OUT, "out")) or agreed(widths(Role.MLP_IN, "in"))
    if d is None:
        tables = (draft.owner.shape for draft in drafts if draft.role is Role.EMBEDDING)
        d = agreed(shape[-1] for shape in tables if len(shape) == 2)
    heads, sizes = [], []
    for sub in bare.modules():
        if _is_attention(sub):
            heads += [v for a in _HEADS if isinstance(v := getattr(sub, a, None), int)][:1]
            sizes += [v for a in _HEAD_SIZE if isinstance(v := getattr(sub, a, None), int)][:1]
    h, d_kv, inner = agreed(heads), agreed(sizes), agreed(widths(Role.ATTENTION_OUT, "in"))
    if inner is not None and h is None and d_kv:
        h = inner // d_kv
    if inner is not None and d_kv is None and h:
        d_kv = inner // h
    layers = [draft.slot.layers for draft in drafts if draft.slot.layers]
    return {"L": max(layers) if layers else None, "d": d, "h": h, "d_kv": d_kv}


def _stream_params(drafts: list[_Draft]) -> list[list[Param]]:
    """Each draft's :class:`Param` for naming (one per q/k/v or gate/up cut; one for all RNN gates), grouped in
    units as Keras groups them in layers: a weight (cut) with its bias (cut), a norm's scale with its offset."""
    units: dict[tuple[Any, ...], int] = {}
    taken: set[tuple[int, str]] = set()  # each unit holds one tensor of each kind

    def unit(key: tuple[Any, ...], tensor: str) -> int:
        index = units.get(key)
        if (
            index is None or (index, tensor) in taken
        ):  # no such weight, or a second bias of one layer (MHA bias_k)
            index = units.setdefault(key if index is None else (*key, len(units)), len(units))
        taken.add((index, tensor))
        return index

    def tensor(draft: _Draft) -> str:
        return _TENSOR.get(draft.role, "weight")

    def named(draft: _Draft, cut: _Cut) -> str:
        """The part a stream names: q/k/v (separate layers in Keras and Flax); not gates, not separate gate/up
        Linears (Keras and Flax count those as mlp_in#0, mlp_in#1)."""
        return "" if draft.gated or cut.part in ("gate", "up", BRANCH, BRANCH_OUT) else cut.part

    for draft in drafts:  # weights first: a bias joins its weight's unit whatever the order of definition
        if tensor(draft) == "weight":
            for cut in draft.cuts[:1] if draft.gated else draft.cuts:
                unit((draft.weight, named(draft, cut)), "weight")
    out = []
    for draft in drafts:
        kind, module = tensor(draft), draft.owner.module
        cuts = draft.cuts[:1] if draft.gated else draft.cuts
        params = []
        for cut in cuts:
            part = named(draft, cut)
            if kind in ("scale", "offset"):
                index = unit((id(module), "norm"), kind)
            else:
                index = units[(draft.weight, part)] if kind == "weight" else unit((draft.weight, part), kind)
            shape = tuple(draft.owner.shape) if draft.gated else cut.shape
            n_in = n_out = 0
            if kind == "weight" and len(shape) >= 2:
                ins, outs, _ = resolve_axes(shape, draft.layout, **draft.slot.axes())  # type: ignore[arg-type]
                n_in, n_out = shape[ins[0]], shape[outs[0]]
            gates = tuple(c.label for c in draft.cuts) if draft.gated else ()
            params.append(Param(draft.owner.name, type(module).__name__, shape, None, index, kind, draft.role, part,
                                gates=gates, block=draft.slot.layer, n_in=n_in, n_out=n_out))  # fmt: skip
        out.append(params)
    return out


def _source(recipe: Recipe, role: Role, part: str, kind: str) -> tuple[Recipe, RoleLaw] | None:
    """The recipe (or, for a role it leaves out, the ``torch`` recipe) and its law for (role, part, kind)."""
    for source in (recipe, TORCH):
        found = source.role_law(role, part, kind)
        if found is not None:
            return source, found
    return None


def _fans(shape: tuple[int, ...], layout: str, slot: Slot) -> tuple[int, int]:
    return fans(shape, layout, **slot.axes()) if len(shape) >= 2 else fans(shape, layout)  # type: ignore[arg-type]


def _constructed_identity(draft: _Draft) -> bool:
    """A norm γ to leave as constructed: zero (an offset norm's ``1 + w``, a zero-initialized last BN γ), or, for
    a norm winit does not know, one it cannot see (meta: its constructor may be either)."""
    param = draft.param
    if param.is_meta:
        return not isinstance(draft.owner.module, NORM_TYPES)
    return not bool(param.any())


def recipe_pieces(
    bare: nn.Module,
    entries: Sequence[tuple[Owner, Tensor, Slot]],
    rules: _Rules,
    recipe: Recipe,
    sizes: Mapping[str, Any],
) -> list[list[_Piece]]:
    """Each entry's pieces under ``recipe``: rules first (patterns, types, roles), then the recipe's law of its
    (role, part), then the ``torch`` recipe's; a size a law needs and nobody gave is a ValueError naming both."""
    slots = {(id(owner.module), owner.attr): slot for owner, _, slot in entries}
    branch_sizes = mark_branches(
        bare, slots
    )  # residual branches' convs: part branch/branch_out, their L and m
    drafts = [_draft(owner, param, slot, slots) for owner, param, slot in entries]
    streams_of = _stream_params(drafts)
    flat = [p for params in streams_of for p in params]
    names = _streams(flat)
    context = infer_sizes(flat, _found(bare, drafts), sizes)
    weight_fans = {}
    for draft in drafts:
        if draft.weight == (id(draft.owner.module), draft.owner.attr):
            whole = _fans(tuple(draft.owner.shape), draft.layout, draft.slot)
            weight_fans[draft.weight] = {
                cut.label: _fans(cut.shape, draft.layout, draft.slot) for cut in draft.cuts
            }
            weight_fans[draft.weight].setdefault("", whole)
    resolved: dict[tuple[Any, ...], tuple[Scheme | None, float]] = {}
    reads: dict[int, list[str]] = {}  # id(RoleLaw) -> the sizes its formulas read
    out = []
    for draft, params in zip(drafts, streams_of, strict=True):
        owner, slot, role = draft.owner, draft.slot, draft.role
        module = owner.module
        typed = role is not Role.BIAS and not owner.attr.startswith("weight_hh")
        rule = rules.match(owner.name, module, typed=typed)
        if rule is None:
            rule = rules.roles.get(role)
        local_sizes: dict[str, Any] = {}
        blocks = 1 if draft.gated else len(draft.cuts)  # torch MHA's fused in_proj: 3
        for key, value in (
            ("L", slot.layers),
            ("l", slot.layer),
            ("hidden", draft.hidden),
            ("blocks", blocks),
        ):
            if value is not None and key not in sizes:
                local_sizes[key] = value
        local_sizes.update((k, v) for k, v in branch_sizes.get(draft.weight, {}).items() if k not in sizes)
        pieces = []
        for k, cut in enumerate(draft.cuts):
            of_weight = weight_fans.get(draft.weight, {})
            fan_in, fan_out = of_weight.get(cut.label) or of_weight.get("") or _fans(cut.shape, "torch", slot)
            local = {"fan_in": fan_in, "fan_out": fan_out, **context, **local_sizes}
            part = cut.part
            recurrent_bias = draft.hidden is not None and role is Role.BIAS
            if recurrent_bias and (owner.attr.startswith("bias_hh") or (role, part) not in recipe.laws):
                part = "recurrent"  # torch's RNN biases follow the recurrent law, not the weight's fan
            source = _source(recipe, role, part, slot.kind)
            if source is not None and id(source[1]) not in reads:
                reads[id(source[1])] = sorted(source[1].names())
            read = reads[id(source[1])] if source is not None else []
            memo = (role, part, slot.kind, *(local.get(name) for name in read))
            if (
                memo not in resolved
            ):  # the same law with the same sizes recurs in every block: resolve it once
                try:
                    lr = lr_multiplier(recipe, TORCH, role, part, local, slot.kind)
                    resolved[memo] = (_law(recipe, TORCH, role, part, local, slot.kind), lr)
                except ValueError as error:
                    raise ValueError(
                        f"{owner.name} ({role.value}{f'[{part}]' if part else ''}): {error}"
                    ) from None
            law, lr = resolved[memo]
            spec: _Rule | None = rule
            if spec is None:
                keep_gamma = role is Role.NORM_SCALE and _constructed_identity(draft)
                spec = KEEP if law is None or keep_gamma else law
            plan = canonical = None
            if not isinstance(spec, str):
                plan = spec.plan(cut.shape, draft.layout, **slot.axes())  # type: ignore[arg-type]
                if draft.layout == "keras" and len(cut.shape) == 2:  # HF Conv1D (in, out): drawn as (out, in)
                    canonical = spec.plan(cut.shape[::-1], "torch")
            stream = names[id(params[k if len(params) > 1 else 0])]
            stream += f"[{cut.label}]" if draft.gated else ""
            pieces.append(_Piece(module, owner.attr, owner.name, plan, cut.label, cut.start, cut.stop, cut.axis,
                                 role, stream, canonical, lr))  # fmt: skip
        if all(piece.plan is None for piece in pieces) and len(pieces) > 1:  # kept whole: one row
            first = pieces[0]
            pieces = [_Piece(module, owner.attr, owner.name, None, role=role, lr=first.lr)]
        out.append(pieces)
    return out
