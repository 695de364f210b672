"""Which tensors a torch model has, under the names of the bare model, and how each is set.

Wrappers (torch.compile, DataParallel, DDP, FSDP1) are looked through; a parametrized weight
(``torch.nn.utils.parametrize``, incl. weight_norm / spectral_norm, and the deprecated hook-based
weight_norm / spectral_norm) is one owner named by its effective attribute and set through its
inverse; tied parameters are owned once and listed as aliases.
"""

from __future__ import annotations

import contextlib
import sys
from dataclasses import dataclass
from typing import Final, cast

import torch
from torch import Tensor, nn
from torch.nn.parameter import UninitializedParameter
from torch.nn.utils import parametrize
from torch.nn.utils.parametrizations import _SpectralNorm
from torch.nn.utils.spectral_norm import SpectralNorm as _SpectralNormHook
from torch.nn.utils.weight_norm import WeightNorm as _WeightNormHook

from winit._torch_roles import own_parameters

_WRAPPER_PARTS: Final = frozenset({"_fsdp_wrapped_module", "_checkpoint_wrapped_module", "_orig_mod"})


def unwrap(module: nn.Module) -> nn.Module:
    """The bare model inside torch.compile, DataParallel, DDP and FSDP1 wrappers, whose prefixes name nothing."""
    while True:
        # only a loaded module can have made the wrapper: no import of torch._dynamo or FSDP here
        compiled = sys.modules.get("torch._dynamo.eval_frame")
        fsdp = sys.modules.get("torch.distributed.fsdp.fully_sharded_data_parallel")
        if compiled is not None and isinstance(module, compiled.OptimizedModule):
            module = module._orig_mod
        elif isinstance(module, (nn.DataParallel, nn.parallel.DistributedDataParallel)) or (
            fsdp is not None and isinstance(module, fsdp.FullyShardedDataParallel)
        ):
            module = module.module
        else:
            return module


def _clean(name: str) -> str:
    """``name`` without wrapper components (FSDP1 units and activation checkpointing nested in the model)."""
    if not any(part in name for part in _WRAPPER_PARTS):  # the usual case: no split and join per name
        return name
    return ".".join(part for part in name.split(".") if part not in _WRAPPER_PARTS)


def full_params(module: nn.Module) -> contextlib.AbstractContextManager[object]:
    """FSDP1 holds flat shards; under summon_full_params the original parameters are real and written back."""
    fsdp = sys.modules.get("torch.distributed.fsdp.fully_sharded_data_parallel")
    if fsdp is None or not isinstance(module, fsdp.FullyShardedDataParallel):
        return contextlib.nullcontext()
    context: contextlib.AbstractContextManager[object] = fsdp.FullyShardedDataParallel.summon_full_params(
        module, writeback=True
    )
    return context


@dataclass(frozen=True)
class Owner:
    """A parameter as the model names it: ``module.attr``, or the effective tensor of a parametrization.

    ``hook``: the deprecated hook-based ``torch.nn.utils.weight_norm`` / ``spectral_norm`` behind
    ``attr`` (its tensors are ``attr_g``/``attr_v`` or ``attr_orig``/``attr_u``/``attr_v``).
    """

    module: nn.Module
    attr: str
    name: str
    shape: tuple[int, ...]
    parametrized: bool = False
    hook: _WeightNormHook | _SpectralNormHook | None = None

    def plist(self) -> parametrize.ParametrizationList:
        """The parametrizations of ``module.attr`` (parametrized owners only)."""
        return _plist(self.module, self.attr)

    def original(self) -> Tensor:
        """The (first) tensor the parametrization stores, for dtype and device."""
        if self.hook is not None:
            suffix = "_v" if isinstance(self.hook, _WeightNormHook) else "_orig"
            return cast(Tensor, getattr(self.module, self.attr + suffix))
        plist = self.plist()
        return cast(Tensor, plist.original if hasattr(plist, "original") else plist.original0)


def _plist(module: nn.Module, attr: str) -> parametrize.ParametrizationList:
    plists = cast(nn.ModuleDict, module.parametrizations)
    return cast(parametrize.ParametrizationList, plists[attr])


def _effective_shape(module: nn.Module, attr: str) -> tuple[int, ...]:
    """The shape of parametrized ``module.attr``, computed in eval mode (spectral_norm would iterate)."""
    plist = _plist(module, attr)
    modes = [(sub, sub.training) for sub in plist.modules()]
    plist.eval()
    try:
        with torch.no_grad():
            return tuple(getattr(module, attr).shape)
    finally:
        for sub, training in modes:
            sub.training = training


def list_owners(
    bare: nn.Module, order: list[tuple[str, nn.Module]] | None = None
) -> tuple[list[Owner], list[tuple[Owner, Owner]]]:
    """Each parameter once under its first (bare) name, and each tied alias with the owner it aliases.

    ``order``: ``bare.named_modules()`` if the caller has it already.
    """
    owners: list[Owner] = []
    aliases: list[tuple[Owner, Owner]] = []
    first: dict[int, Owner] = {}
    for prefix, sub in bare.named_modules() if order is None else order:
        if isinstance(sub, parametrize.ParametrizationList):
            continue  # its originals are written through the parametrized module's attribute
        # torch keeps ``parametrizations`` in _modules; looking there first skips __getattr__'s raise
        if "parametrizations" in sub._modules and parametrize.is_parametrized(sub):
            for attr in cast(nn.ModuleDict, sub.parametrizations):
                plist = _plist(sub, attr)
                owner = Owner(sub, attr, _clean(f"{prefix}.{attr}" if prefix else attr), (), True)
                owner = Owner(sub, attr, owner.name, _effective_shape(sub, attr), True)
                owners.append(owner)
                for original in plist.parameters(recurse=False):
                    first[id(original)] = owner
        for hook in sub._forward_pre_hooks.values():
            if isinstance(hook, (_WeightNormHook, _SpectralNormHook)):
                name = _clean(f"{prefix}.{hook.name}" if prefix else hook.name)
                owner = Owner(sub, hook.name, name, (), True, hook)
                owner = Owner(sub, hook.name, name, tuple(owner.original().shape), True, hook)
                owners.append(owner)
                for suffix in ("_g", "_v", "_orig"):
                    if hook.name + suffix in sub._parameters:
                        first[id(sub._parameters[hook.name + suffix])] = owner
        for attr, param in own_parameters(sub):
            if type(param).__name__ == "FlatParameter" or (
                id(param) in first and first[id(param)].parametrized
            ):
                continue  # FSDP1's flat shard; a parametrization's original
            name = _clean(f"{prefix}.{attr}" if prefix else attr)
            if id(param) in first:  # tied: initialized under its first name only
                aliases.append((Owner(sub, attr, name, tuple(param.shape)), first[id(param)]))
                continue
            if isinstance(param, UninitializedParameter):
                raise ValueError(
                    f"{name!r} of lazy module {type(sub).__name__} has no shape yet; run a forward pass first"
                )
            first[id(param)] = owner = Owner(sub, attr, name, tuple(param.shape))
            owners.append(owner)
    return owners, aliases


def check_invertible(owner: Owner) -> None:
    """A drawn parametrized weight is assigned through right_inverse; refuse one that has none."""
    missing = [type(p).__name__ for p in owner.plist() if not hasattr(p, "right_inverse")]
    if missing:
        raise ValueError(
            f"{owner.name!r} of {type(owner.module).__name__} is parametrized by {', '.join(missing)}, which "
            "has no right_inverse, so winit cannot set its effective value; give it the rule 'keep' "
            f"(init_(model, {{{owner.name!r}: 'keep'}})) or add right_inverse to the parametrization"
        )


def written_ids(owner: Owner) -> list[int]:
    """The tensors a drawn ``owner`` sets: the parameter, or a parametrization's originals and power vectors."""
    if not owner.parametrized:
        return [id(owner.module._parameters[owner.attr])]
    if owner.hook is not None:
        tables = (owner.module._parameters, owner.module._buffers)
        names = [owner.attr + suffix for suffix in ("_g", "_v", "_orig", "_u")]
        return [id(table[key]) for table in tables for key in names if key in table]
    plist = owner.plist()
    ids = [id(t) for t in plist.parameters(recurse=False)]
    ids += [id(t) for p in plist if isinstance(p, _SpectralNorm) for t in (p._u, p._v)]
    return ids


def _power_vectors(u: Tensor, v: Tensor, generator: torch.Generator | None, eps: float) -> None:
    """Fresh random unit vectors for a power iteration (spectral_norm draws N(0, 1) and normalizes)."""
    for vector in (u, v):
        draw = torch.randn(vector.shape, generator=generator, dtype=vector.dtype, device=vector.device)
        vector.copy_(torch.nn.functional.normalize(draw, dim=0, eps=eps))


def assign_hooked(owner: Owner, value: Tensor, generator: torch.Generator | None) -> None:
    """Set a hook-based weight_norm (``g = ‖W‖`` per ``dim``, ``v = W``) or spectral_norm (``orig = W``) weight."""
    module, attr, hook = owner.module, owner.attr, owner.hook
    if isinstance(hook, _WeightNormHook):
        getattr(module, attr + "_v").copy_(value)
        getattr(module, attr + "_g").copy_(torch.norm_except_dim(value, 2, hook.dim))
    elif isinstance(hook, _SpectralNormHook):
        getattr(module, attr + "_orig").copy_(value)
        u, v = getattr(module, attr + "_u"), getattr(module, attr + "_v")
        _power_vectors(u, v, generator, hook.eps)
        matrix = hook.reshape_weight_to_matrix(value)
        for _ in range(15):  # as the parametrization's __init__ does; the hook would start from noise
            v.copy_(torch.nn.functional.normalize(torch.mv(matrix.t(), u), dim=0, eps=hook.eps))
            u.copy_(torch.nn.functional.normalize(torch.mv(matrix, v), dim=0, eps=hook.eps))
    assert hook is not None
    weight = (
        hook.compute_weight(module, False)
        if isinstance(hook, _SpectralNormHook)
        else hook.compute_weight(module)
    )
    setattr(module, attr, weight)  # the plain attribute the hook recomputes before each forward


def refresh_power_iteration(owner: Owner, generator: torch.Generator | None) -> None:
    """Redraw spectral_norm's ``_u``/``_v`` for the new weight and iterate 15 times, as its __init__ does."""
    plist = owner.plist()
    if not any(isinstance(step, _SpectralNorm) for step in plist) or not hasattr(plist, "original"):
        return  # spectral_norm is one-tensor: it never follows a multi-tensor step such as weight_norm
    value = owner.original()
    for step in plist:
        if isinstance(step, _SpectralNorm):
            matrix = step._reshape_weight_to_matrix(value)
            for vector, size in ((step._u, matrix.shape[0]), (step._v, matrix.shape[1])):
                draw = torch.randn(size, generator=generator, dtype=vector.dtype, device=vector.device)
                vector.copy_(torch.nn.functional.normalize(draw, dim=0, eps=step.eps))
            step._power_method(matrix, 15)
        value = step(value)
