"""A report's learning-rate multipliers (μP) handed to the optimizer: torch parameter groups, a JAX pytree.

``init_(model, recipe="mup", base_width=...)`` records in each report row the factor the recipe puts
on that tensor's learning rate (:attr:`winit.InitRecord.lr_multiplier`: Adam's hidden weights and
readout 1/width_mult, the rest 1). :func:`param_groups` turns a report into torch optimizer groups
and :func:`lr_multipliers` into a float tree shaped like a Flax model's parameters, for optax.
Each framework is imported inside its function, so this module imports none.
"""

from __future__ import annotations

import fnmatch
import math
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from winit._report import InitReport

if TYPE_CHECKING:
    from torch import nn


def report_multipliers(report: InitReport, overrides: Mapping[str, float] | None = None) -> dict[str, float]:
    """Each reported parameter's multiplier by name (a tied alias's is its first name's); blocks must agree.

    ``overrides`` (fnmatch patterns on names → multiplier) win over the report, e.g. an input layer on raw
    features that role inference calls ``dense`` but μP treats as an input weight (multiplier 1).
    """
    if not isinstance(report, InitReport):
        raise TypeError(f"expected the InitReport an init_ returned, got {type(report).__name__}")
    found: dict[str, float] = {}
    for record in report:
        if record.tied_to:
            continue  # the tensor is its first name's, which the report also lists
        value = float(record.lr_multiplier)
        if not math.isfinite(value) or value < 0:
            raise ValueError(
                f"report row {record.key!r} has lr_multiplier {value}; expected a finite number ≥ 0"
            )
        if found.setdefault(record.name, value) != value:
            raise ValueError(
                f"the blocks of {record.name!r} have different lr multipliers ({found[record.name]} and "
                f"{value} for {record.key!r}); one tensor takes one learning rate, so split the parameter"
            )
    for record in report:
        if record.tied_to and record.name not in found:
            found[record.name] = found.get(record.tied_to, 1.0)
    for pattern, value in (overrides or {}).items():
        if (
            isinstance(value, bool)
            or not isinstance(value, (int, float))
            or not math.isfinite(value)
            or value < 0
        ):
            raise ValueError(f"override {pattern!r}: {value!r}; expected a finite number ≥ 0")
        matched = [name for name in found if fnmatch.fnmatchcase(name, pattern)]
        if not matched:
            raise ValueError(
                f"override {pattern!r} matches no parameter of the report; names: {', '.join(found)}"
            )
        found.update(dict.fromkeys(matched, float(value)))
    return found


def _unknown(names: set[str], known: list[str]) -> ValueError:
    listed = sorted(names)
    shown = ", ".join(repr(n) for n in listed[:5]) + (" ..." if len(listed) > 5 else "")
    some = ", ".join(known[:5])
    return ValueError(
        f"the report names {len(listed)} parameter(s) the model does not have: {shown} (the model has e.g. "
        f"{some}); pass the model (or parameter tree) the report was made for"
    )


def param_groups(
    model: nn.Module,
    report: InitReport,
    lr: float,
    *,
    overrides: Mapping[str, float] | None = None,
    scale_weight_decay: bool = True,
    **options: Any,
) -> list[dict[str, Any]]:
    """torch optimizer groups: each parameter of ``model`` once, at lr × its report row's lr_multiplier.

    One group per multiplier, ``{"params": [...], "lr": lr * m, **options}``, in the order the
    multipliers first appear in ``model.parameters()``; parameters the report does not list (and
    ``model.parameters()`` not owned by a reported name) take m = 1, tied ones appear once. Names
    are the bare model's, as ``init_`` reports them, so torch.compile/DDP/FSDP1 wrappers are looked
    through and a parametrized weight's originals follow its effective name. A ``weight_decay`` in
    ``options`` becomes weight_decay / m per group, as mup's MuAdam/MuSGD do, so that lr·weight_decay
    (AdamW's per-step decay) is the same at every width (``scale_weight_decay=False`` keeps it).
    ``overrides``: name patterns → multiplier over the report's (:func:`report_multipliers`).
    Example: ``torch.optim.AdamW(winit.torch.param_groups(model, report, 1e-3, weight_decay=0.1))``.
    """
    from torch import nn

    from winit._torch_owners import list_owners, unwrap

    if not isinstance(model, nn.Module):
        raise TypeError(
            f"param_groups takes the torch model the report was made for, got {type(model).__name__}"
        )
    if isinstance(lr, bool) or not isinstance(lr, (int, float)) or not math.isfinite(lr) or lr < 0:
        raise ValueError(f"lr must be a finite number ≥ 0, got {lr!r}")
    multipliers = report_multipliers(report, overrides)
    owners, aliases = list_owners(unwrap(model))
    known = {owner.name for owner in owners} | {alias.name for alias, _ in aliases}
    if set(multipliers) - known:
        raise _unknown(set(multipliers) - known, [owner.name for owner in owners])
    by_tensor: dict[int, float] = {}
    for owner in owners:
        m = multipliers.get(owner.name, 1.0)
        if not owner.parametrized:
            tensors = [owner.module._parameters[owner.attr]]
        elif owner.hook is not None:  # hook-based weight_norm / spectral_norm: _g and _v, or _orig
            table = owner.module._parameters
            tensors = [table[owner.attr + s] for s in ("_g", "_v", "_orig") if owner.attr + s in table]
        else:  # a parametrization's originals, written through the effective name
            tensors = list(owner.plist().parameters(recurse=False))
        for tensor in tensors:
            if tensor is not None:
                by_tensor[id(tensor)] = m
    groups: dict[float, dict[str, Any]] = {}
    decay = options.get("weight_decay")
    seen: set[int] = set()
    for parameter in model.parameters():
        if id(parameter) in seen:
            continue
        seen.add(id(parameter))
        m = by_tensor.get(id(parameter), 1.0)
        if m not in groups:
            group: dict[str, Any] = {"params": [], **options, "lr": lr * m}
            if decay is not None and scale_weight_decay and m > 0:
                group["weight_decay"] = decay / m
            groups[m] = group
        groups[m]["params"].append(parameter)
    return list(groups.values())


def lr_multipliers(
    module_or_params: Any, report: InitReport, overrides: Mapping[str, float] | None = None
) -> Any:
    """A float per parameter, in a tree shaped like ``nnx.state(module, nnx.Param)`` or the linen ``params``.

    Each leaf is its report row's lr_multiplier (1 where the report lists none). For optax, scale
    the updates: ``optax.chain(optax.adam(lr), optax.stateless(lambda u, _: jax.tree.map(lambda g, m:
    g * m, u, tree)))``, or label the tree for ``optax.multi_transform``. An ``nnx.Module`` or
    ``nnx.State`` is named by dotted paths as :func:`winit.flax.init_` reports them; a linen tree
    (a mapping) by ``/``-joined keys, as :func:`winit.flax.init_params` reports them. ``overrides``: name
    patterns → multiplier over the report's (:func:`report_multipliers`).
    """
    import jax
    from flax import nnx

    multipliers = report_multipliers(report, overrides)
    tree: Any
    if isinstance(module_or_params, nnx.Module):
        tree, sep = nnx.state(module_or_params, nnx.Param), "."
    elif isinstance(module_or_params, nnx.State):
        tree, sep = module_or_params, "."
    elif isinstance(module_or_params, Mapping):
        tree, sep = module_or_params, "/"
    else:
        raise TypeError(
            "lr_multipliers takes an nnx.Module, an nnx.State or a linen parameter tree (a mapping), got "
            f"{type(module_or_params).__name__}"
        )
    names: list[str] = []

    def name(path: tuple[Any, ...]) -> str:
        parts = []
        for key in path:
            if isinstance(key, jax.tree_util.DictKey):
                parts.append(str(key.key))
            elif isinstance(key, jax.tree_util.SequenceKey):
                parts.append(str(key.idx))
            elif isinstance(key, jax.tree_util.GetAttrKey) and key.name != "value":
                parts.append(key.name)  # an nnx Variable's own ``value`` is not part of its name
        names.append(sep.join(parts))
        return names[-1]

    result = jax.tree_util.tree_map_with_path(lambda path, _: multipliers.get(name(path), 1.0), tree)
    if set(multipliers) - set(names):
        raise _unknown(set(multipliers) - set(names), names)
    return result
