"""Model-level init for PyTorch: which law each parameter of a module gets, and writing it in place.

``winit.torch.init_`` is defined here; ``winit.torch`` re-exports it beside the per-tensor functions.
"""

from __future__ import annotations

import fnmatch
import hashlib
import math
import warnings
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import Final, TypeAlias

import torch
from torch import Tensor, nn
from torch.nn.modules.batchnorm import _NormBase
from torch.nn.modules.conv import _ConvTransposeNd
from torch.nn.modules.rnn import RNNBase, RNNCellBase
from torch.nn.parameter import UninitializedParameter

from winit._gains import ACTIVATIONS, NONLINEARITIES, recommend
from winit._laws import Orthogonal
from winit._registry import get
from winit._report import InitRecord, InitReport
from winit._roles import Role
from winit._schemes import Plan, Scheme
from winit._torch_roles import NORM_TYPES, Slot, infer
from winit._validate import choice, suggest
from winit.backends._common import check_seed, dtype_name
from winit.backends._portable import realize_block, stream_id
from winit.backends.torch import ADAPTER

SchemeLike: TypeAlias = "str | Scheme"
SchemeRules: TypeAlias = "SchemeLike | Mapping[type[nn.Module] | Role | str, SchemeLike] | None"

_NORM_TYPES: Final[tuple[type[nn.Module], ...]] = NORM_TYPES
#: default std of tables and transformer projections (GPT-2/Megatron, BERT, ViT, Llama: N(0, 0.02));
#: residual outputs take 0.02/√(2L). Measured against HF's own init: see docs/roles.md.
TRANSFORMER_STD: Final = 0.02
_GATE_NAMES: Final[dict[int, tuple[str, ...]]] = {4: ("i", "f", "g", "o"), 3: ("r", "z", "n")}
_QKV: Final = ("q", "k", "v")
RNGS: Final[tuple[str, ...]] = ("native", "portable")


def _check_no_generator(rng: str, generator: object) -> None:
    """rng='portable' keys its draws by seed=; a torch.Generator beside it is refused."""
    if rng == "portable" and generator is not None:
        raise ValueError("rng='portable' draws from seed= (an int), not from a torch.Generator")


@dataclass(frozen=True)
class _Piece:
    """One write: [start, stop) along ``axis`` of parameter ``attr`` of ``module`` (whole if stop is None).

    ``plan`` None: the parameter is kept as constructed (not written, reported as kept).
    """

    module: nn.Module
    attr: str
    name: str
    plan: Plan | None
    part: str = ""
    start: int = 0
    stop: int | None = None
    axis: int = 0
    role: Role = Role.DENSE

    def target(self) -> Tensor:
        param: Tensor = getattr(self.module, self.attr)  # re-read: to_empty may have replaced it
        return param if self.stop is None else param.narrow(self.axis, self.start, self.stop - self.start)

    def record(self) -> InitRecord:
        """The report row of this write."""
        layer = type(self.module).__name__
        if self.plan is None:
            shape = tuple(getattr(self.module, self.attr).shape)
            nan = float("nan")
            return InitRecord(
                self.name, layer, "keep", shape, 0, 0, nan, nan, part=self.part, role=self.role.value
            )
        return InitRecord.from_plan(self.name, layer, self.plan, self.part, role=self.role.value)


class _Rules:
    """Which scheme each parameter gets: name patterns, then module types, then the layer's own default."""

    def __init__(self, scheme: SchemeRules, nonlinearity: str, bias: SchemeLike) -> None:
        self.nonlinearity = choice(
            "nonlinearity", nonlinearity, tuple(dict.fromkeys((*ACTIVATIONS, *NONLINEARITIES)))
        )
        self.patterns: dict[str, Scheme] = {}
        self.types: dict[type[nn.Module], Scheme] = {}
        self.roles: dict[Role, Scheme] = {}
        self.transformer: Scheme | None = None  # None: the role defaults of _ROLE_DEFAULTS
        if isinstance(scheme, Mapping):
            self.weight = self.resolve(recommend(self.nonlinearity))
            for key, value in scheme.items():
                if isinstance(key, Role):
                    self.roles[key] = self.resolve(value)
                elif isinstance(key, str):
                    self.patterns[key] = self.resolve(value)
                elif isinstance(key, type) and issubclass(key, nn.Module):
                    self.types[key] = self.resolve(value)
                else:
                    raise TypeError(
                        f"scheme mapping keys must be a module type (e.g. torch.nn.Linear), a winit.Role "
                        f"or a parameter-name pattern (str, fnmatch on the qualified name, e.g. '*.bias'); got {key!r}"
                    )
        else:
            self.weight = self.resolve(recommend(self.nonlinearity) if scheme is None else scheme)
            self.transformer = None if scheme is None else self.weight
        self.bias = self.resolve(bias)
        self.orthogonal = get("orthogonal")
        self.embedding = get("random_normal").with_(stddev=TRANSFORMER_STD)
        self.projection = self.embedding
        self.head = get("lecun_normal")  # unit-variance logits from a normed input (measured: docs/roles.md)

    def default(self, slot: Slot, module: nn.Module, param: Tensor) -> Scheme | None:
        """The law a parameter of this role gets when no rule names it (None: kept as constructed)."""
        role = slot.role
        if role in self.roles:
            return self.roles[role]
        if role in (Role.NORM_SCALE, Role.NORM_OFFSET):
            if not isinstance(module, NORM_TYPES):
                return None  # a custom norm, maybe offset-style (Gemma's 1 + w): its constructor's identity
            if role is Role.NORM_OFFSET:
                return self.bias
            zero = not param.is_meta and not param.any()
            return None if zero else get("ones")  # a zero-initialized γ (last BN of a residual branch) stays
        if role is Role.BIAS:
            return self.bias
        if role in (Role.EMBEDDING, Role.POSITIONAL):
            return self.embedding
        if role in (Role.ATTENTION_QKV, Role.MLP_IN, Role.HEAD, Role.ATTENTION_OUT, Role.MLP_OUT):
            if self.transformer is not None:
                return self.transformer
            if role is Role.HEAD:
                return self.head
            spec = self.projection
            if role in (Role.ATTENTION_OUT, Role.MLP_OUT) and slot.layers:  # two residual writes per block
                spec = spec.with_(stddev=spec.stddev / math.sqrt(2.0 * slot.layers))
            return spec
        if role is Role.RECURRENT:
            return self.orthogonal
        if role in (Role.LAYER_SCALE, Role.OTHER):
            return None
        return self.weight  # DENSE, CONV, RECURRENT_INPUT: by nonlinearity

    def resolve(self, value: object) -> Scheme:
        """``value`` as a Scheme; a scheme named by string takes ``nonlinearity`` when it has that parameter."""
        if isinstance(value, Scheme):
            return value  # the caller built it; take it as it is
        if not isinstance(value, str):
            raise TypeError(f"a scheme must be a name or a winit.Scheme, got {value!r}")
        spec = get(value)
        if "nonlinearity" in spec.parameters and self.nonlinearity in NONLINEARITIES:
            spec = spec.with_(nonlinearity=self.nonlinearity)
        return spec

    def check_patterns(self, names: list[str]) -> None:
        """A pattern that matches no parameter is almost always a typo: say so before anything is written."""
        for pattern in self.patterns:
            if not any(fnmatch.fnmatchcase(name, pattern) for name in names):
                raise ValueError(
                    f"scheme pattern {pattern!r} matches no parameter of the model; parameters: "
                    f"{', '.join(names)}.{suggest(pattern, names)}"
                )

    def match(self, name: str, module: nn.Module, *, typed: bool = True) -> Scheme | None:
        """The first pattern matching ``name``, else (if ``typed``) the most specific type rule, else None."""
        for pattern, spec in self.patterns.items():
            if fnmatch.fnmatchcase(name, pattern):
                return spec
        if typed:
            for cls in type(module).__mro__:
                if cls in self.types:
                    return self.types[cls]
        return None

    def pick(
        self, name: str, module: nn.Module, default: Scheme | None, *, typed: bool = True
    ) -> Scheme | None:
        """The scheme for parameter ``name``: a matching rule (see :meth:`match`), else ``default``."""
        spec = self.match(name, module, typed=typed)
        return default if spec is None else spec


def _is_bias(attr: str) -> bool:
    """bias, bias_ih_l0, bias_k, in_proj_bias, ...: torch's names for additive parameters."""
    return attr == "bias" or attr.startswith("bias_") or attr.endswith("_bias")


def _pieces(
    rules: _Rules, module: nn.Module, attr: str, param: Tensor, name: str, slot: Slot
) -> Iterator[_Piece]:
    """The writes that initialize ``module.attr``: whole, or per gate / q-k-v / gate-up block, each with its plan."""
    shape = tuple(param.shape)
    role = slot.role

    def plan(spec: Scheme | None, dims: tuple[int, ...], layout: str) -> Plan | None:
        return None if spec is None else spec.plan(dims, layout, **slot.axes())  # type: ignore[arg-type]

    def whole(spec: Scheme | None, layout: str = slot.layout) -> _Piece:
        return _Piece(module, attr, name, plan(spec, shape, layout), role=role)

    def blocks(spec: Scheme | None, labels: tuple[tuple[str, int], ...], axis: int = 0) -> Iterator[_Piece]:
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


def explain_model(
    module: nn.Module, scheme: SchemeRules = None, *, nonlinearity: str = "relu", bias: SchemeLike = "zeros"
) -> InitReport:
    """The report ``init_(module, scheme, ...)`` would give, planned only: nothing is written or allocated.

    Works on a model built on the meta device (``with torch.device("meta"): model = ...``).
    """
    if not isinstance(module, nn.Module):
        raise TypeError(f"explain_model plans a torch.nn.Module, got {type(module).__name__}")
    rules = _Rules(scheme, nonlinearity, bias)
    owners: dict[int, tuple[nn.Module, str, Tensor, str]] = {}
    for prefix, sub in module.named_modules():
        for attr, param in sub.named_parameters(recurse=False):
            name = f"{prefix}.{attr}" if prefix else attr
            owners.setdefault(id(param), (sub, attr, param, name))  # tied: under its first name
    rules.check_patterns([name for *_, name in owners.values()])
    slots = infer(module)
    return InitReport(
        piece.record()
        for sub, attr, param, name in owners.values()
        for piece in _pieces(rules, sub, attr, param, name, slots[(id(sub), attr)])
    )


def _stream(seed: int, name: str, device: torch.device) -> torch.Generator:
    """A generator for parameter ``name``: seeded with the first 63 bits of blake2b(f"{seed}/{name}")."""
    digest = hashlib.blake2b(f"{seed}/{name}".encode(), digest_size=8).digest()
    generator = torch.Generator(device=device)
    generator.manual_seed(int.from_bytes(digest, "big") >> 1)
    return generator


def _materialize(module: nn.Module, device: torch.device) -> None:
    """Allocate a meta model on ``device`` without any initialization (to_empty), then reset norm statistics."""
    module.to_empty(device=device)
    left: list[str] = []
    for prefix, sub in module.named_modules():
        if isinstance(sub, _NormBase) and sub.track_running_stats:
            sub.reset_running_stats()  # buffers, not parameters: running mean 0, var 1, count 0
            continue
        left.extend(
            f"{prefix}.{buffer}" if prefix else buffer for buffer, _ in sub.named_buffers(recurse=False)
        )
    if left:
        warnings.warn(
            f"winit.torch.init_: buffers {', '.join(left)} came off the meta device uninitialized "
            "(to_empty); winit initializes parameters only, so set them yourself",
            stacklevel=3,
        )


def _local_block(param: Tensor) -> tuple[Tensor, tuple[tuple[int, int], ...]]:
    """The tensor this process holds of ``param`` and its (start, stop) per axis in the global tensor."""
    if not hasattr(param, "device_mesh"):  # a plain tensor: all of it, here
        return param, tuple((0, n) for n in param.shape)
    from torch.distributed.tensor._utils import compute_local_shape_and_global_offset

    local: Tensor = param.to_local()  # type: ignore[attr-defined]
    mesh, placements = param.device_mesh, param.placements  # type: ignore[attr-defined]
    shape, offset = compute_local_shape_and_global_offset(param.shape, mesh, placements)
    return local, tuple((start, start + n) for start, n in zip(offset, shape, strict=True))


def _write_portable(piece: _Piece, seed: int) -> None:
    """Write this process's part of ``piece`` with the portable generator (stream = the parameter's name).

    A piece covers [start, stop) along its axis of its parameter (rows, or columns of an (in, out)
    tensor); elements take the parameter's flat indices, so a shard holding any block of it writes
    exactly that block's values.
    """
    assert piece.plan is not None
    param: Tensor = getattr(piece.module, piece.attr)
    local, block = _local_block(param)
    if local.is_meta or local.numel() == 0:
        return
    shape, axis = tuple(param.shape), piece.axis
    start, stop = (piece.start, piece.stop) if piece.stop is not None else (0, shape[axis] if shape else 0)
    span = (max(block[axis][0], start), min(block[axis][1], stop)) if shape else (0, 0)
    if shape and span[0] >= span[1]:
        return  # this rank holds none of the piece
    piece_block = tuple(
        (span[0] - start, span[1] - start) if i == axis else b for i, b in enumerate(block)
    )  # in the piece's coordinates: its own axis shifted, the others as in the parameter
    values = realize_block(
        ADAPTER, piece.plan, seed=seed, stream=stream_id(piece.name), dtype=dtype_name(local.dtype),
        device=local.device, block=piece_block, parent_shape=shape, row_start=start, axis=axis,
    )  # fmt: skip
    target = local.narrow(axis, span[0] - block[axis][0], span[1] - span[0]) if shape else local
    target.copy_(values)


def init_(
    module: nn.Module,
    scheme: SchemeRules = None,
    *,
    nonlinearity: str = "relu",
    bias: SchemeLike = "zeros",
    seed: int | None = None,
    generator: torch.Generator | None = None,
    device: str | torch.device | None = None,
    rng: str = "native",
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
    weights, not biases or RNN recurrent weights) and roles (``{Role.MLP_OUT: "zeros"}``); tied
    parameters are written once, under their first name. ``seed``: each parameter draws from its
    own generator seeded from (seed, qualified name), so layers elsewhere do not change it;
    ``generator``: one stream in module order; neither: torch's global RNG. A model on the meta
    device is allocated on ``device`` with ``to_empty`` and written once; no ``reset_parameters``
    runs. ``rng="native"`` samples with torch's own generators; ``rng="portable"`` with winit's
    Philox-4x32-10, keyed by ``seed`` with the qualified name as stream: the same values as
    ``winit.init(..., rng="portable", stream=name)`` on any backend, and a parameter sharded as a
    DTensor (FSDP2 ``fully_shard``, tensor parallel) gets on each rank just its block of those values.
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
    rules = _Rules(scheme, nonlinearity, bias)

    # Plan everything before touching the model, so a bad rule leaves it as it was.
    owners: list[tuple[nn.Module, str, Tensor, str]] = []
    first_owner: dict[int, tuple[nn.Module, str]] = {}
    aliases: list[tuple[nn.Module, str, nn.Module, str]] = []
    for prefix, sub in module.named_modules():
        for attr, param in sub.named_parameters(recurse=False):
            if id(param) in first_owner:  # tied: initialized under its first name only
                aliases.append((sub, attr, *first_owner[id(param)]))
                continue
            first_owner[id(param)] = (sub, attr)
            name = f"{prefix}.{attr}" if prefix else attr
            if isinstance(param, UninitializedParameter):
                raise ValueError(
                    f"{name!r} of lazy module {type(sub).__name__} has no shape yet; run a forward pass first"
                )
            owners.append((sub, attr, param, name))
    rules.check_patterns([name for *_, name in owners])
    slots = infer(module)
    pieces = [
        piece
        for sub, attr, param, name in owners
        for piece in _pieces(rules, sub, attr, param, name, slots[(id(sub), attr)])
    ]
    if rng == "portable":
        for piece in pieces:
            if piece.axis != 0 and piece.plan is not None and isinstance(piece.plan.law, Orthogonal):
                raise ValueError(
                    f"rng='portable' draws orthogonal blocks of rows only; {piece.name}[{piece.part}] is a "
                    "column block (an (in, out) fused projection): give it another scheme or use rng='native'"
                )

    tensors = [*module.parameters(), *module.buffers()]
    if any(t.is_meta for t in tensors):
        if target_device is None:
            raise ValueError(
                "the model is on the meta device; pass device= (e.g. 'cpu' or 'cuda') to materialize it"
            )
        _materialize(module, target_device)
    elif target_device is not None:
        module.to(target_device)
    for sub, attr, owner, owner_attr in aliases:
        # to_empty gives each alias of a tied parameter its own storage (torchdistx#12): tie them again
        setattr(sub, attr, getattr(owner, owner_attr))

    records: list[InitRecord] = []
    streams: dict[str, torch.Generator | None] = {}
    with torch.no_grad():
        for piece in pieces:
            records.append(piece.record())
            if piece.plan is None:
                continue  # kept as constructed
            if rng == "portable" and root_seed is not None:
                _write_portable(piece, root_seed)
                continue
            target = piece.target()
            if piece.name not in streams:
                streams[piece.name] = (
                    generator if root_seed is None else _stream(root_seed, piece.name, target.device)
                )
            ADAPTER.realize_into(piece.plan, target, streams[piece.name])
        for sub in module.modules():
            padding = getattr(sub, "padding_idx", None)
            if isinstance(sub, (nn.Embedding, nn.EmbeddingBag)) and padding is not None:
                # as torch does: the padding row stays 0 (it gets no gradient); on this rank's shard only
                local, block = _local_block(sub.weight)
                if block[0][0] <= padding < block[0][1]:
                    local[padding - block[0][0]].zero_()
    return module, InitReport(records)
