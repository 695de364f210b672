"""Meta and deferred construction for ``winit.torch.init_``: allocate only what is empty, recover buffers.

A model built under :func:`deferred_init` has its ≥2-D parameters on the meta device and everything
else (buffers, 0-D and 1-D parameters) built for real by its own constructor. ``init_`` allocates the
meta tensors one by one (real ones are left as they are) and then writes the parameters it draws.
A tensor that is still meta and that ``init_`` does not draw (a buffer, a kept parameter) must be
recomputed: norm running statistics are reset, and a HuggingFace ``transformers`` model re-runs its
own ``_init_weights`` on exactly those tensors (how ``from_pretrained`` re-creates non-persistent
buffers such as ``position_ids`` or rotary ``inv_freq``). Anything else is refused, by name, before
the model is touched.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

import torch
from torch import Tensor, nn
from torch.nn.modules.batchnorm import _NormBase
from torch.overrides import TorchFunctionMode

_MISSING: Any = object()
_FLAG = "_is_hf_initialized"  # transformers' per-module / per-tensor "already set" flag


def _register_meta_parameter(register: Callable[..., None]) -> Callable[..., None]:
    """``register`` (nn.Module.register_parameter), then move a ≥2-D plain Parameter to the meta device."""

    def register_parameter(module: nn.Module, name: str, param: nn.Parameter | None) -> None:
        register(module, name, param)
        param = module._parameters.get(name)
        if type(param) is nn.Parameter and param.ndim >= 2 and not param.is_meta:
            meta = nn.Parameter(param.to("meta"), requires_grad=param.requires_grad)
            meta.__dict__.update(param.__dict__)  # attributes set on the parameter (flags, sharding hints)
            module._parameters[name] = meta

    return register_parameter


@contextmanager
def deferred_init() -> Iterator[None]:
    """Build modules with every ≥2-D parameter on the meta device; buffers and 0-D/1-D parameters stay real.

    The approach of accelerate's ``init_empty_weights(include_buffers=False)``: ``register_parameter``
    is patched while the block runs, so each weight is created, moved to meta and its memory freed
    before the next one. Buffers and vector/scalar parameters (norm scales, biases, logit scales,
    layer-scale γ) keep their constructor values, so ``init_(model, device=...)`` can keep them (rule
    ``"keep"``) and needs no way to recompute them. Not thread-safe: it patches ``nn.Module``.
    """
    original = nn.Module.register_parameter
    nn.Module.register_parameter = _register_meta_parameter(original)  # type: ignore[method-assign]
    try:
        yield
    finally:
        nn.Module.register_parameter = original  # type: ignore[method-assign]


@dataclass(frozen=True)
class Slot:
    """One tensor attribute of a module: a parameter (``param``) or a buffer, by qualified name."""

    name: str
    module: nn.Module
    attr: str
    param: bool

    def get(self) -> Tensor:
        """The tensor now in the slot (materialization replaces the object)."""
        table = self.module._parameters if self.param else self.module._buffers
        tensor = table[self.attr]
        assert tensor is not None
        return tensor


def meta_slots(root: nn.Module, order: list[tuple[str, nn.Module]] | None = None) -> list[Slot]:
    """Every parameter and buffer of ``root`` still on the meta device, once per tensor (ties share).

    ``order``: ``root.named_modules()`` if the caller has it already.
    """
    seen: set[int] = set()
    slots: list[Slot] = []
    for prefix, sub in root.named_modules() if order is None else order:
        for table, param in ((sub._parameters, True), (sub._buffers, False)):
            for attr, tensor in table.items():
                if tensor is None or not tensor.is_meta or id(tensor) in seen:
                    continue
                seen.add(id(tensor))
                slots.append(Slot(f"{prefix}.{attr}" if prefix else attr, sub, attr, param))
    return slots


class _WriteGuard(TorchFunctionMode):
    """Lets in-place ops write only the ``open`` tensors of a model; records which of those were written.

    Ops on temporaries (e.g. computing a rotary table) run; in-place ops on any other model tensor
    (``blocked``, by object or by storage) are skipped, so a model's init code cannot touch a tensor
    that is real or that winit draws.
    """

    def __init__(self, open_ids: set[int], blocked: list[Tensor]) -> None:
        super().__init__()
        self.open = open_ids
        self.blocked = {id(t) for t in blocked}
        self.blocked_storage = {t.untyped_storage().data_ptr() for t in blocked if not t.is_meta}
        self.written: set[int] = set()

    def __torch_function__(self, func: Any, types: Any, args: Any = (), kwargs: Any = None) -> Any:
        name = getattr(func, "__name__", "")
        if args and isinstance(args[0], Tensor) and (name == "__setitem__" or name.endswith("_")):
            target = args[0]
            if id(target) in self.open:
                self.written.add(id(target))
            elif id(target) in self.blocked or (
                not target.is_meta and target.untyped_storage().data_ptr() in self.blocked_storage
            ):
                return target
        return func(*args, **(kwargs or {}))


def _hf_roots(root: nn.Module) -> list[nn.Module]:
    """The outermost transformers ``PreTrainedModel``s in ``root`` (duck-typed: no transformers import)."""
    found: list[nn.Module] = []
    for _, sub in root.named_modules():
        model_init = callable(getattr(sub, "initialize_weights", None)) and callable(
            getattr(sub, "_init_weights", None)
        )
        if model_init and not any(any(m is sub for m in outer.modules()) for outer in found):
            found.append(sub)
    return found


def _run_model_init(root: nn.Module, slots: list[Slot]) -> set[int]:
    """Run each transformers model's ``initialize_weights`` on ``slots`` only; return ids of those written.

    transformers skips a module or tensor flagged ``_is_hf_initialized``; every tensor but the
    slots' is flagged for the call (and guarded), every module unflagged, and all flags are put
    back as they were afterwards.
    """
    models = _hf_roots(root)
    if not models or not slots:
        return set()
    targets = [slot.get() for slot in slots]
    open_ids = {id(t) for t in targets}
    others = [t for t in (*root.parameters(), *root.buffers()) if id(t) not in open_ids]
    saved: list[tuple[object, object]] = []
    for obj in (*root.modules(), *targets, *others):
        saved.append((obj, obj.__dict__.get(_FLAG, _MISSING)))
    guard = _WriteGuard(open_ids, others)
    try:
        for module in root.modules():
            module.__dict__[_FLAG] = False
        for tensor in targets:
            tensor.__dict__[_FLAG] = False
        for tensor in others:
            tensor.__dict__[_FLAG] = True
        with torch.no_grad(), guard:
            for model in models:
                model.initialize_weights()  # type: ignore[operator]
    finally:
        for obj, flag in saved:
            if flag is _MISSING:
                obj.__dict__.pop(_FLAG, None)
            else:
                obj.__dict__[_FLAG] = flag
    return guard.written


def _is_norm_stat(slot: Slot) -> bool:
    return (
        isinstance(slot.module, _NormBase)
        and slot.module.track_running_stats
        and slot.attr in ("running_mean", "running_var", "num_batches_tracked")
    )


def check_recoverable(root: nn.Module, needed: list[Slot]) -> None:
    """Raise ValueError naming each slot in ``needed`` that cannot be recomputed (a dry run on meta)."""
    rest = [slot for slot in needed if not _is_norm_stat(slot)]
    if not rest:
        return
    try:
        written = _run_model_init(root, rest)
        failure = ""
    except Exception as error:  # the dry run is advice: a failing model init just recovers nothing
        written, failure = set(), f" (the model's own _init_weights failed on the meta model: {error!r})"
    lost = [slot for slot in rest if id(slot.get()) not in written]
    if not lost:
        return
    buffers = [slot.name for slot in lost if not slot.param]
    params = [slot.name for slot in lost if slot.param]
    parts = []
    if buffers:
        parts.append(f"buffers {', '.join(buffers)}")
    if params:
        parts.append(f"kept parameters {', '.join(params)} (rule 'keep')")
    raise ValueError(
        f"winit.torch.init_: {' and '.join(parts)} are on the meta device and winit cannot recompute "
        f"them{failure}; build the model under winit.torch.deferred_init() (buffers and 0-D/1-D "
        "parameters stay real) or on a real device, or give such parameters a scheme instead of 'keep'"
    )


def materialize(root: nn.Module, device: torch.device, needed: list[Slot]) -> None:
    """Allocate each meta tensor of ``root`` on ``device`` (real ones untouched), then recompute ``needed``.

    Per tensor, through ``Module._apply`` (as ``to_empty`` does, so FSDP2 sees its parameters
    replaced), never ``to_empty`` on the whole model, which would wipe real tensors.
    """
    made: dict[int, tuple[Tensor, Tensor]] = {}

    def empty(tensor: Tensor) -> Tensor:
        if not tensor.is_meta:
            return tensor
        if id(tensor) not in made:  # a tied tensor: the same storage for every alias
            new = torch.empty_like(tensor, device=device)
            new.__dict__.update(tensor.__dict__)  # attributes set on it (flags, sharding hints)
            made[id(tensor)] = (tensor, new)
        return made[id(tensor)][1]

    # _apply wraps a new parameter in a fresh nn.Parameter: carry the old one's attributes over
    attributes = [
        (sub, attr, dict(param.__dict__))
        for sub in root.modules()
        for attr, param in sub._parameters.items()
        if param is not None and param.is_meta and param.__dict__
    ]
    root._apply(empty)  # type: ignore[no-untyped-call]
    for sub, attr, values in attributes:
        param = sub._parameters[attr]
        if param is not None:
            param.__dict__.update(values)
    for slot in needed:
        if _is_norm_stat(slot):  # running mean 0, var 1, count 0: what reset_running_stats sets
            slot.get().fill_(1 if slot.attr == "running_var" else 0)
    _run_model_init(root, [slot for slot in needed if not _is_norm_stat(slot)])
