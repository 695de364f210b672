"""Model-level init for PyTorch: which law each parameter of a module gets, and writing it in place.

``winit.torch.init_`` is defined here; ``winit.torch`` re-exports it beside the per-tensor functions.
"""

from __future__ import annotations

import fnmatch
from collections.abc import Iterator, Mapping
from functools import partial
from typing import Any, Final, TypeAlias, cast

import torch
from torch import Tensor, nn
from torch.nn.modules.batchnorm import _NormBase
from torch.nn.modules.conv import _ConvTransposeNd
from torch.nn.modules.rnn import RNNBase, RNNCellBase

from winit._laws import Orthogonal
from winit._recipes import Recipe
from winit._registry import get
from winit._report import InitRecord, InitReport
from winit._roles import Role
from winit._schemes import Plan, Scheme
from winit._torch_meta import Slot, check_recoverable, materialize, meta_slots
from winit._torch_owners import (
    Owner,
    assign_hooked,
    check_invertible,
    full_params,
    list_owners,
    refresh_power_iteration,
    unwrap,
    written_ids,
)
from winit._torch_recipe import recipe_pieces, recipe_rules
from winit._torch_roles import Slot as RoleSlot
from winit._torch_roles import Tree, infer
from winit._torch_rules import (
    _GATE_NAMES,
    _NORM_TYPES,
    _QKV,
    SchemeLike,
    SchemeRules,
    _Piece,
    _Rule,
    _Rules,
)
from winit._torch_write import DenseBlocks, Job, run_jobs, small_draw, write_native, write_portable
from winit._torch_write import stream as stream_for
from winit._validate import choice
from winit.backends._common import check_seed
from winit.backends._portable_batch import Draw, realize_many
from winit.backends.torch import ADAPTER

RNGS: Final[tuple[str, ...]] = ("native", "portable")


def _check_no_generator(rng: str, generator: object) -> None:
    """rng='portable' keys its draws by seed=; a torch.Generator beside it is refused."""
    if rng == "portable" and generator is not None:
        raise ValueError("rng='portable' draws from seed= (an int), not from a torch.Generator")


_PlanMemo: TypeAlias = "dict[tuple[int, tuple[int, ...], str, tuple[object, ...]], tuple[Scheme, Plan]]"


def _pieces(
    rules: _Rules,
    module: nn.Module,
    attr: str,
    param: Tensor,
    name: str,
    slot: RoleSlot,
    memo: _PlanMemo | None = None,
) -> Iterator[_Piece]:
    """The writes that initialize ``module.attr``: whole, or per gate / q-k-v / gate-up block, each with its plan."""
    shape = tuple(param.shape)
    role = slot.role
    memo = {} if memo is None else memo

    def plan(spec: _Rule, dims: tuple[int, ...], layout: str) -> Plan | None:
        if isinstance(spec, str):
            return None
        axes = slot.axes()
        key = (id(spec), dims, layout, tuple(axes.values()))
        if key not in memo:  # a model repeats its shapes: plan each (scheme, shape) once
            memo[key] = (spec, spec.plan(dims, layout, **axes))  # type: ignore[arg-type]
        return memo[key][1]

    def whole(spec: _Rule, layout: str = slot.layout) -> _Piece:
        return _Piece(module, attr, name, plan(spec, shape, layout), role=role)

    def blocks(spec: _Rule, labels: tuple[tuple[str, int], ...], axis: int = 0) -> Iterator[_Piece]:
        if isinstance(spec, str):  # KEEP: one row for the whole parameter
            yield whole(spec)
            return
        start = 0
        for label, size in labels:
            block = tuple(size if i == axis else n for i, n in enumerate(shape))
            piece_plan = plan(spec, block, slot.layout)
            yield _Piece(module, attr, name, piece_plan, label, start, start + size, axis, role)
            start += size

    def even(labels: tuple[str, ...]) -> tuple[tuple[str, int], ...]:
        return tuple((label, shape[0] // len(labels)) for label in labels)

    if isinstance(module, _NORM_TYPES):
        yield whole(rules.pick(name, module, rules.default(slot, module, param)))
    elif role is Role.BIAS:  # type rules set weights; biases follow ``bias`` unless a pattern names them
        yield whole(rules.pick(name, module, rules.default(slot, module, param), typed=False))
    elif isinstance(module, (RNNBase, RNNCellBase)) and attr.startswith(("weight_ih", "weight_hh")):
        gates = shape[0] // module.hidden_size
        labels = _GATE_NAMES.get(gates, tuple(str(g) for g in range(gates))) if gates > 1 else ("",)
        if attr.startswith("weight_hh"):  # recurrent: orthogonal per gate unless a pattern says otherwise
            yield from blocks(
                rules.pick(name, module, rules.default(slot, module, param), typed=False), even(labels)
            )
        else:
            yield from blocks(rules.pick(name, module, rules.weight), even(labels))
    elif isinstance(module, nn.MultiheadAttention) and attr == "in_proj_weight":
        yield from blocks(rules.pick(name, module, rules.default(slot, module, param)), even(_QKV))
    elif isinstance(module, _ConvTransposeNd) and attr == "weight":
        yield whole(rules.pick(name, module, rules.weight), "torch_transpose")  # (in, out/groups, *k)
    elif isinstance(module, nn.PReLU) and attr == "weight":
        yield whole(rules.pick(name, module, get("constant").with_(value=module.init)))
    elif slot.blocks:
        yield from blocks(
            rules.pick(name, module, rules.default(slot, module, param)), slot.blocks, slot.axis
        )
    else:
        yield whole(rules.pick(name, module, rules.default(slot, module, param)))


def _local_block(param: Tensor) -> tuple[Tensor, tuple[tuple[int, int], ...]]:
    """The tensor this process holds of ``param`` and its (start, stop) per axis in the global tensor."""
    if not hasattr(param, "device_mesh"):  # a plain tensor: all of it, here
        return param, tuple((0, n) for n in param.shape)
    from torch.distributed.tensor._utils import compute_local_shape_and_global_offset

    local: Tensor = param.to_local()  # type: ignore[attr-defined]
    mesh, placements = param.device_mesh, param.placements  # type: ignore[attr-defined]
    shape, offset = compute_local_shape_and_global_offset(param.shape, mesh, placements)
    return local, tuple((start, start + n) for start, n in zip(offset, shape, strict=True))


def init_(
    module: nn.Module,
    scheme: SchemeRules = None,
    *,
    nonlinearity: str = "relu",
    bias: SchemeLike | None = None,
    seed: int | None = None,
    generator: torch.Generator | None = None,
    device: str | torch.device | None = None,
    rng: str = "native",
    recipe: str | Recipe | None = None,
    **sizes: Any,
) -> tuple[nn.Module, InitReport]:
    """Initialize every parameter of ``module`` in place by its role; return (module, report).

    Each parameter gets a :class:`winit.Role` read from the model's structure (docs/roles.md) and,
    by default, the law of its role: embedding and positional tables N(0, 0.02); attention q/k/v
    and MLP inputs N(0, 0.02); heads (untied readouts) LeCun normal 1/√fan_in; attention and MLP
    outputs (residual writes) N(0, 0.02²/(2L)) with L the blocks of the stack; torch norms 1 and
    ``bias``; other norm-like modules, layer scales and parameters with laws of their own (Mamba
    ``A_log``, CLIP ``logit_scale``) kept as constructed (report scheme ``keep``); biases ``bias``;
    other weights (dense, conv, RNN input) ``winit.recommend(nonlinearity)``; RNN recurrent weights
    orthogonal per gate. Fused q/k/v and gate/up tensors are planned per block (GPT-2's
    ``(in, out)`` ``Conv1D``: column blocks), stacked experts with one expert's fans, ConvTranspose
    in the ``torch_transpose`` layout; Embedding's padding row stays 0. A single ``scheme``
    replaces the law of every weight matrix. A mapping ``scheme`` may hold fnmatch patterns on
    qualified names (first match wins, over everything), module types (most specific class wins;
    weights, not biases or RNN recurrent weights) and roles (``{Role.MLP_OUT: "zeros"}``); the rule
    ``"keep"`` (``winit.KEEP``) leaves a parameter as constructed (a report row says so).
    Tied parameters are written once, under their first name; each alias gets a row "tied to" it.
    torch.compile, DataParallel, DDP and FSDP1 wrappers are looked through: names, seeds and patterns
    are the bare model's. A parametrized weight (weight_norm, spectral_norm, ``parametrize``) is drawn
    at its effective shape and assigned through ``right_inverse`` (weight_norm: ``g = ‖W‖`` per row,
    so the effective weight is the draw; spectral_norm: the original is the draw, ``_u``/``_v``
    redrawn and iterated). BatchNorm running statistics of the norms written are reset.
    ``seed``: each parameter draws from its own generator seeded from (seed, qualified name), so layers
    elsewhere do not change it (on CPU, different parameters are drawn on torch's threads at once,
    ``WINIT_NUM_THREADS`` at most; the values are the serial loop's); ``generator``: one stream in
    module order; neither: torch's global RNG. Meta tensors (a model built under
    ``torch.device("meta")`` or :func:`winit.torch.deferred_init`) are allocated on ``device`` one by
    one, real ones are left as they are (moved to ``device``); a meta buffer or kept parameter is
    recomputed (norm statistics; a transformers model's own ``_init_weights``) or refused by name before
    anything is written. No ``reset_parameters`` runs. ``rng="native"`` samples with torch's own
    generators; ``rng="portable"`` with winit's Philox-4x32-10, keyed by ``seed`` with the qualified
    name as stream: the same values as ``winit.init(..., rng="portable", stream=name)`` on any backend,
    and a parameter sharded as a DTensor (FSDP2 ``fully_shard``, tensor parallel) gets on each rank just
    its block of those values.

    ``recipe`` (a name from ``winit.recipes()`` or a :class:`winit.Recipe`) replaces the role defaults:
    each parameter takes its role's law in the recipe (q/k/v and gate/up separately where the
    recipe says), roles it leaves out the ``torch`` recipe's (what ``reset_parameters`` gives);
    ``scheme`` must then be a mapping, whose rules and ``bias`` (if given) apply over the recipe.
    ``sizes`` (L, d, d_ff, h, d_kv, width_mult or base_width, the recipe's constants) override what
    is read from the model (L and ℓ per block stack); a law needing a size neither gives is a
    ValueError naming it, before any write. Report rows carry the recipe's ``lr_multiplier``. With
    ``rng="portable"`` each parameter (each q/k/v or gate/up block its own) is drawn in the
    canonical layout with its :func:`winit._roles.canonical_stream` name, as ``winit.keras.init_``
    and ``winit.flax.init_`` draw the same architecture: the same weights in all three.
    """
    if not isinstance(module, nn.Module):
        raise TypeError(f"init_ initializes a torch.nn.Module, got {type(module).__name__}")
    choice("rng", rng, RNGS)
    if seed is not None and generator is not None:
        raise ValueError("pass seed= or generator=, not both: seed derives one stream per parameter name")
    _check_no_generator(rng, generator)
    if generator is not None and not isinstance(generator, torch.Generator):
        raise TypeError(f"generator must be a torch.Generator or None, got {generator!r}")
    root_seed = None if seed is None and rng == "native" else check_seed(seed)
    target_device = None if device is None else ADAPTER.device(device)
    rules, chosen = _rules(scheme, nonlinearity, bias, recipe, sizes)
    with full_params(module):
        report = _init_bare(unwrap(module), rules, root_seed, generator, target_device, rng, chosen, sizes)
    return module, report


def _rules(
    scheme: SchemeRules, nonlinearity: str, bias: SchemeLike | None, recipe: str | Recipe | None,
    sizes: Mapping[str, Any],
) -> tuple[_Rules, Recipe | None]:  # fmt: skip
    """The checked rules, and the recipe (None: the role defaults)."""
    if recipe is None and not sizes:
        return _Rules(scheme, nonlinearity, "zeros" if bias is None else bias), None

    return recipe_rules(scheme, nonlinearity, bias, recipe, sizes)


_Planned: TypeAlias = "tuple[list[tuple[Owner, list[_Piece]]], list[tuple[Owner, Owner]]]"


def _plan(
    bare: nn.Module,
    rules: _Rules,
    recipe: Recipe | None = None,
    sizes: Mapping[str, Any] | None = None,
    tree: Tree | None = None,
) -> _Planned:
    """Every owner's pieces (role, law, layout, blocks) and the tied aliases; nothing is written."""
    tree = Tree(bare) if tree is None else tree  # one walk of the model serves every pass below
    owners, aliases = list_owners(bare, tree.order)
    names = [owner.name for owner in owners]
    for pattern in rules.patterns:
        tied = [(a.name, o.name) for a, o in aliases if fnmatch.fnmatchcase(a.name, pattern)]
        if tied and not any(fnmatch.fnmatchcase(name, pattern) for name in names):
            raise ValueError(
                f"scheme pattern {pattern!r} matches only {tied[0][0]!r}, which is tied to {tied[0][1]!r} and "
                f"is initialized under that name; write the rule for {tied[0][1]!r}"
            )
    rules.check_patterns(names)
    slots = infer(bare, tree)
    entries = []
    memo: _PlanMemo = {}
    for owner in owners:
        held = owner.module._parameters.get(owner.attr) if not owner.parametrized else None
        param = held if held is not None else torch.empty(owner.shape, device="meta")
        slot = slots.get((id(owner.module), owner.attr)) or _fallback_slot(owner.module)
        entries.append((owner, param, slot))
    if recipe is not None:
        by_owner = recipe_pieces(bare, entries, rules, recipe, sizes or {})
    else:
        by_owner = [list(_pieces(rules, o.module, o.attr, p, o.name, s, memo)) for o, p, s in entries]
    planned: list[tuple[Owner, list[_Piece]]] = []
    for (owner, _, _), pieces in zip(entries, by_owner, strict=True):
        if owner.parametrized and owner.hook is None and any(piece.plan is not None for piece in pieces):
            check_invertible(owner)
        planned.append((owner, pieces))
    return planned, aliases


def _fallback_slot(module: nn.Module) -> RoleSlot:
    """The role of a parametrized weight the structure pass did not list (its tensors live in the parametrization)."""
    return RoleSlot(Role.CONV if isinstance(module, nn.modules.conv._ConvNd) else Role.DENSE)


def explain_model(
    module: nn.Module,
    scheme: SchemeRules = None,
    *,
    nonlinearity: str = "relu",
    bias: SchemeLike | None = None,
    recipe: str | Recipe | None = None,
    **sizes: Any,
) -> InitReport:
    """The report ``init_(module, scheme, ...)`` would give, planned only: nothing is written or allocated.

    Works on a model built on the meta device (``with torch.device("meta"): model = ...``).
    """
    if not isinstance(module, nn.Module):
        raise TypeError(f"explain_model plans a torch.nn.Module, got {type(module).__name__}")
    rules, chosen = _rules(scheme, nonlinearity, bias, recipe, sizes)
    planned, aliases = _plan(unwrap(module), rules, chosen, sizes)
    records = [
        piece.record(owner.name, type(owner.module).__name__, owner.shape)
        for owner, pieces in planned
        for piece in pieces
    ]
    return InitReport([*records, *_tie_rows(planned, aliases)])


def _tie_rows(
    planned: list[tuple[Owner, list[_Piece]]], aliases: list[tuple[Owner, Owner]]
) -> list[InitRecord]:
    """A row per tied alias: the name it is tied to and that parameter's role."""
    role = {id(owner): pieces[0].role.value for owner, pieces in planned if pieces}
    return [
        InitRecord.tie(
            alias.name, type(alias.module).__name__, alias.shape, owner.name, role.get(id(owner), "")
        )
        for alias, owner in aliases
    ]


def _parallel_safe(param: Tensor) -> bool:
    """A plain CPU tensor: its native draw may run on a worker thread (not a DTensor or an accelerator's)."""
    return param.device.type == "cpu" and not hasattr(param, "device_mesh")


def _write_pieces(pieces: list[_Piece], stream: torch.Generator | None, dense_blocks: DenseBlocks) -> None:
    """One parameter's native draws, block after block from its own generator."""
    for piece in pieces:
        write_native(cast(Plan, piece.plan), piece.target(), stream, None, dense_blocks)


def _init_bare(
    bare: nn.Module,
    rules: _Rules,
    root_seed: int | None,
    generator: torch.Generator | None,
    target_device: torch.device | None,
    rng: str,
    recipe: Recipe | None = None,
    sizes: Mapping[str, Any] | None = None,
) -> InitReport:
    """init_ on the unwrapped model: plan, check, materialize, write; see :func:`init_`."""
    # Plan everything before touching the model, so a bad rule leaves it as it was.
    tree = Tree(bare)
    planned, aliases = _plan(bare, rules, recipe, sizes, tree)
    if rng == "portable":
        for _, pieces in planned:
            for piece in pieces:
                drawn_whole = bool(piece.stream)  # a canonical stream draws each piece as a tensor of its own
                orthogonal = piece.plan is not None and isinstance(piece.plan.law, Orthogonal)
                if piece.axis != 0 and orthogonal and not drawn_whole:
                    raise ValueError(
                        f"rng='portable' draws orthogonal blocks of rows only; {piece.name}[{piece.part}] is a "
                        "column block (an (in, out) fused projection): give it another scheme or use rng='native'"
                    )
    drawn = [owner for owner, pieces in planned if any(piece.plan is not None for piece in pieces)]
    is_drawn = {id(owner) for owner in drawn}

    slots = meta_slots(bare, tree.order)
    if slots:
        if target_device is None:
            raise ValueError(
                "the model is on the meta device; pass device= (e.g. 'cpu' or 'cuda') to materialize it"
            )
        written = {tensor_id for owner in drawn for tensor_id in written_ids(owner)}
        needed: list[Slot] = [slot for slot in slots if id(slot.get()) not in written]
        check_recoverable(bare, needed)
        materialize(bare, target_device, needed)
    if target_device is not None and any(
        t.device != target_device for t in (*bare.parameters(), *bare.buffers())
    ):
        bare.to(target_device)  # real tensors keep their values
    for alias, owner in aliases:
        # materializing gives each alias of a tied parameter its own storage (torchdistx#12): tie them again
        setattr(alias.module, alias.attr, getattr(owner.module, owner.attr))

    records: list[InitRecord] = []
    dense_blocks: DenseBlocks = {}
    batch: dict[torch.device, list[Draw]] = {}  # small portable draws, per device
    jobs: list[Job] = []  # native draws on generators of their own, run over the CPU threads below
    with torch.no_grad():
        for owner, pieces in planned:
            layer = type(owner.module).__name__
            staging: Tensor | None = None
            if owner.parametrized and id(owner) in is_drawn:
                like = owner.original()
                staging = torch.empty(owner.shape, dtype=like.dtype, device=like.device)
            records += [piece.record(owner.name, layer, owner.shape) for piece in pieces]
            drawn_pieces = [piece for piece in pieces if piece.plan is not None]  # kept rows write nothing
            if drawn_pieces and rng == "portable" and root_seed is not None:
                param = cast(Tensor, owner.module._parameters[owner.attr] if staging is None else staging)
                for piece in drawn_pieces:
                    draw = (
                        None
                        if staging is not None
                        else small_draw(piece, cast(Plan, piece.plan), param, _local_block)
                    )
                    if draw is not None:  # drawn below, with the other small tensors, in one pass
                        batch.setdefault(param.device, []).append(draw)
                    else:
                        write_portable(piece, piece.plan, root_seed, param, _local_block)  # type: ignore[arg-type]
            elif drawn_pieces:
                where = cast(Tensor, owner.module._parameters[owner.attr] if staging is None else staging)
                stream = generator if root_seed is None else stream_for(root_seed, owner.name, where.device)
                if root_seed is not None and staging is None and _parallel_safe(where):
                    jobs.append((where.numel(), partial(_write_pieces, drawn_pieces, stream)))
                else:
                    for piece in drawn_pieces:  # one stream for all its blocks, in order
                        target = piece.target() if staging is None else piece.of(staging)
                        write_native(cast(Plan, piece.plan), target, stream, generator, dense_blocks)
            if staging is not None:
                vectors = (
                    generator
                    if root_seed is None
                    else stream_for(root_seed, f"{owner.name}/power", staging.device)
                )
                if owner.hook is not None:
                    assign_hooked(owner, staging, vectors)
                else:
                    setattr(owner.module, owner.attr, staging)  # through right_inverse
                    refresh_power_iteration(owner, vectors)
        run_jobs(jobs)
        for place, draws in batch.items():
            realize_many(ADAPTER, cast(int, root_seed), place, draws)
        records += _tie_rows(planned, aliases)
        drawn_modules = {id(owner.module) for owner in drawn}
        for _, sub in tree.order:  # bare.modules(): materializing replaces tensors, never modules
            if isinstance(sub, _NormBase):
                reset = id(sub) in drawn_modules or not sub.affine  # a kept norm keeps them
                if sub.track_running_stats and reset:
                    sub.reset_running_stats()  # statistics gathered under the old weights
            if not isinstance(sub, (nn.Embedding, nn.EmbeddingBag)):
                continue
            padding = sub.padding_idx
            if padding is not None and id(sub) in drawn_modules:
                # as torch does: the padding row stays 0 (it gets no gradient); on this rank's shard only
                local, block = _local_block(sub.weight)
                if block[0][0] <= padding < block[0][1]:
                    local[padding - block[0][0]].zero_()
    return InitReport(records)
