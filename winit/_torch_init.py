"""The machinery behind winit.torch's drop-in functions: argument checks, the draw, torch's function dispatch."""

from __future__ import annotations

import functools
import inspect
import math
import warnings
from collections.abc import Callable
from typing import Any, Protocol, TypeAlias, TypeVar, cast

import torch
from torch import Tensor, nn
from torch.overrides import handle_torch_function, has_torch_function_variadic

from winit._registry import get
from winit._schemes import Scheme
from winit._torch_model import _check_no_generator
from winit._validate import real
from winit.backends._common import dtype_name
from winit.backends._portable import draw_options, portable_seed, realize_portable
from winit.backends.torch import ADAPTER


class InitArgumentError(ValueError, TypeError):
    """A bad argument where torch.nn.init raises ValueError and winit's contract says TypeError: both catch it."""

    __module__ = "winit.torch"  # its public home


class _TorchRefusalError(InitArgumentError, RuntimeError):
    """torch's own RuntimeError for an argument it refuses, catchable as winit's ValueError/TypeError too."""


def _torch_error(error: RuntimeError) -> InitArgumentError:
    return _TorchRefusalError(" ".join(str(error).split()))


_DRAW_DEFAULTS: dict[str, object] = {"rng": "native", "seed": None, "stream": None}


def _dispatch(func: Callable[..., Tensor], tensor: Tensor, **kwargs: object) -> Tensor:
    """Hand the call to ``tensor``'s ``__torch_function__`` (a subclass such as DTensor, or an active mode).

    winit's own rng/seed/stream go along only when set, so a handler written against
    torch.nn.init's signature keeps working for every call torch.nn.init could make.
    """
    kwargs = {k: v for k, v in kwargs.items() if k not in _DRAW_DEFAULTS or v != _DRAW_DEFAULTS[k]}
    result: Tensor = handle_torch_function(func, (tensor,), tensor=tensor, **kwargs)
    return result


_F = TypeVar("_F", bound=Callable[..., Tensor])


def _honours_torch_function(function: _F) -> _F:
    """``function``, handing its call to ``tensor``'s ``__torch_function__`` when it has one (signature kept).

    The handler gets every argument by keyword, as torch.nn.init's functions pass them.
    """
    signature = inspect.signature(function)
    var_keyword = [p.name for p in signature.parameters.values() if p.kind is p.VAR_KEYWORD]

    @functools.wraps(function)
    def dispatching(*args: Any, **kwargs: Any) -> Tensor:
        tensor: Any = args[0] if args else kwargs.get("tensor")
        if not has_torch_function_variadic(tensor):
            return function(*args, **kwargs)
        bound = signature.bind(*args, **kwargs)
        bound.apply_defaults()
        arguments = dict(bound.arguments)
        for name in var_keyword:  # init's **params go along as keywords of their own
            arguments.update(arguments.pop(name))
        del arguments["tensor"]
        return _dispatch(dispatching, tensor, **arguments)

    return cast("_F", dispatching)


#: A portable draw's (int seed, stream), checked; None for torch's native draw.
_Portable: TypeAlias = "tuple[int, int | str | None] | None"


def _draw(rng: str, seed: int | None, stream: int | str | None, generator: object) -> _Portable:
    """The random functions' rng/seed/stream/generator, checked before anything is written."""
    if not draw_options(rng, stream, "torch's native draw"):
        if seed is not None:
            raise ValueError(
                f"seed={seed!r} needs rng='portable'; the native draw takes generator= (a torch.Generator)"
            )
        return None
    _check_no_generator(rng, generator)
    return portable_seed(seed), stream


def _apply(
    tensor: Tensor,
    spec: Scheme,
    generator: torch.Generator | None,
    layout: str = "torch",
    portable: _Portable = None,
) -> Tensor:
    """Plan ``spec`` for ``tensor``'s shape and sample the plan into ``tensor`` in place.

    ``portable`` (seed, stream): the values of ``winit.init(..., rng="portable")`` for the plan, drawn
    on ``tensor``'s device and copied in under no_grad (a meta tensor is left as it is).
    """
    if not isinstance(tensor, Tensor):
        raise TypeError(f"tensor must be a torch.Tensor, got {type(tensor).__name__}")
    dtype_name(tensor.dtype)  # integer, bool and complex tensors: TypeError before anything else
    if tensor.numel() == 0:
        warnings.warn("Initializing zero-element tensors is a no-op", stacklevel=3)
        return tensor
    plan = spec.plan(tuple(tensor.shape), layout)
    if portable is None:
        result: Tensor = ADAPTER.realize_into(plan, tensor, generator)
        return result
    if tensor.is_meta:
        return tensor
    seed, stream = portable
    with torch.no_grad():
        values = realize_portable(
            ADAPTER, plan, seed=seed, dtype=tensor.dtype, device=tensor.device, stream=stream, shard=None
        )
        tensor.copy_(values)
    return tensor


def _zero_gain(gain: object) -> bool:
    return not isinstance(gain, bool) and isinstance(gain, (int, float)) and gain == 0


def _gain_zero(
    function: Callable[..., Tensor], tensor: Tensor, generator: torch.Generator | None, portable: _Portable
) -> Tensor:
    """gain=0, which torch accepts: torch's own call (its -0.0s and generator use); portable: zeros."""
    if not isinstance(tensor, Tensor):
        raise TypeError(f"tensor must be a torch.Tensor, got {type(tensor).__name__}")
    if portable is not None:
        return _apply(tensor, get("zeros"), None)
    return function(tensor, gain=0, generator=generator)


def _kaiming(scheme: str, a: float, mode: str, nonlinearity: str) -> Scheme:
    """he_uniform/he_normal for kaiming_*_; a bad ``a`` (torch: ValueError from calculate_gain) is both errors."""
    try:
        return get(scheme).with_(negative_slope=a, mode=mode, nonlinearity=nonlinearity)
    except TypeError as error:
        raise InitArgumentError(str(error)) from error


def _unbounded_trunc_normal(
    tensor: Tensor, mean: float, std: float, a: float, b: float,
    generator: torch.Generator | None, portable: _Portable,
) -> Tensor:  # fmt: skip
    """trunc_normal_ with an infinite bound: torch's own sampler, so the same values (a=-inf, b=inf: normal_'s)."""
    if not isinstance(tensor, Tensor):
        raise TypeError(f"tensor must be a torch.Tensor, got {type(tensor).__name__}")
    if math.isnan(a) or math.isnan(b):
        raise ValueError(f"trunc_normal_ needs bounds that are not NaN, got a={a}, b={b}")
    if portable is not None:
        if not (a == -math.inf and b == math.inf):
            raise ValueError(f"rng='portable' needs finite a < b, or a=-inf and b=inf; got a={a}, b={b}")
        return _apply(tensor, get("random_normal").with_(mean=mean, stddev=std), generator, portable=portable)
    try:
        result: Tensor = nn.init.trunc_normal_(tensor, mean, std, a, b, generator=generator)
    except (
        RuntimeError
    ) as error:  # a one-sided window of mass <= 0.3: torch samples U(a, b), which it refuses
        raise _torch_error(error) from error
    return result


def _fill(tensor: Tensor, value: object) -> Tensor:
    """``tensor.fill_(value)`` under no_grad, as torch.nn.init does: any dtype, a number or a 0-D tensor."""
    if not isinstance(tensor, Tensor):
        raise TypeError(f"tensor must be a torch.Tensor, got {type(tensor).__name__}")
    try:
        with torch.no_grad():
            filled: Tensor = tensor.fill_(value)  # type: ignore[call-overload]  # torch checks the value
    except RuntimeError as error:  # a 1-D value, a complex value for a real tensor, an int out of range
        raise _torch_error(error) from error
    return filled


class _GainInit(Protocol):
    def __call__(
        self, tensor: Tensor, gain: float = 1.0, generator: torch.Generator | None = None, *,
        rng: str = "native", seed: int | None = None, stream: int | str | None = None,
    ) -> Tensor: ...  # fmt: skip


class _KaimingInit(Protocol):
    def __call__(
        self, tensor: Tensor, a: float = 0, mode: str = "fan_in", nonlinearity: str = "leaky_relu",
        generator: torch.Generator | None = None, *,
        rng: str = "native", seed: int | None = None, stream: int | str | None = None,
    ) -> Tensor: ...  # fmt: skip


#: the Args lines the families' docstrings share (their ``{args}``).
_DRAW_ARGS = """generator, rng, seed, stream: torch's generator (None: its global one), or ``rng="portable"``:
            winit's Philox for the int ``seed`` and ``stream``, the same on every device (docs/torch.md)."""
_TENSOR_ARGS = "tensor: the tensor filled in place; fans from the torch layout ``(out, in, *kernel)``."
_GAIN_ARGS = f"""Args:
        {_TENSOR_ARGS}
        gain: the factor on the std (see :func:`calculate_gain`).
        {_DRAW_ARGS}"""
_KAIMING_ARGS = f"""Args:
        {_TENSOR_ARGS}
        a: leaky_relu's negative slope (read for ``nonlinearity="leaky_relu"`` only).
        mode: ``"fan_in"`` keeps the forward pass's variance, ``"fan_out"`` the backward pass's.
        nonlinearity: the activation after this layer (see :func:`calculate_gain`).
        {_DRAW_ARGS}"""


def _named(function: _F, name: str, doc: str, args: str) -> _F:
    """``function`` named ``name``, dispatching, its docstring ``doc`` with the family's ``args`` filled in."""
    function.__name__ = function.__qualname__ = name
    function.__module__ = "winit.torch"  # where it is found: its doctests, pickle and repr look it up there
    function.__doc__ = doc.replace("    {args}", "    " + args)
    return _honours_torch_function(function)


def _gain_init(
    name: str, scheme: str, doc: str, default: float = 1.0, torch_zero: Callable[..., Tensor] | None = None
) -> _GainInit:
    """``name(tensor, gain, generator)``: winit ``scheme`` with ``gain``; gain=0 goes to ``torch_zero``."""

    def gain_init(
        tensor: Tensor, gain: float = default, generator: torch.Generator | None = None, *,
        rng: str = "native", seed: int | None = None, stream: int | str | None = None,
    ) -> Tensor:  # fmt: skip
        portable = _draw(rng, seed, stream, generator)
        if torch_zero is not None and _zero_gain(gain):
            return _gain_zero(torch_zero, tensor, generator, portable)
        return _apply(tensor, get(scheme).with_(gain=gain), generator, portable=portable)

    return _named(gain_init, name, doc, _GAIN_ARGS)


def _kaiming_init(name: str, scheme: str, doc: str) -> _KaimingInit:
    """``name(tensor, a, mode, nonlinearity, generator)``: winit ``scheme`` with torch's gain for them."""

    def kaiming_init(
        tensor: Tensor, a: float = 0, mode: str = "fan_in", nonlinearity: str = "leaky_relu",
        generator: torch.Generator | None = None, *,
        rng: str = "native", seed: int | None = None, stream: int | str | None = None,
    ) -> Tensor:  # fmt: skip
        portable = _draw(rng, seed, stream, generator)
        return _apply(tensor, _kaiming(scheme, a, mode, nonlinearity), generator, portable=portable)

    return _named(kaiming_init, name, doc, _KAIMING_ARGS)


def _deprecated(function: Callable[..., Tensor]) -> Callable[..., Tensor]:
    """torch.nn.init's old name for ``function`` (without the trailing _), with torch's FutureWarning."""
    new_name = function.__name__
    old_name = new_name[:-1]

    @functools.wraps(function)
    def deprecated_init(*args: Any, **kwargs: Any) -> Tensor:
        warnings.warn(
            f"`nn.init.{old_name}` is now deprecated in favor of `nn.init.{new_name}`.",
            FutureWarning,
            stacklevel=2,
        )
        return function(*args, **kwargs)

    deprecated_init.__name__ = deprecated_init.__qualname__ = old_name
    deprecated_init.__doc__ = f"Deprecated alias of :func:`{new_name}` (as in torch.nn.init)."
    return deprecated_init


def sparse_fill(
    tensor: Tensor, sparsity: float, std: float, generator: torch.Generator | None,
    rng: str, seed: int | None, stream: int | str | None,
) -> Tensor:  # fmt: skip
    """``winit.torch.sparse_``: N(0, std²) values, then ⌈sparsity·rows⌉ zeros per column (see its docstring)."""
    if not isinstance(tensor, Tensor):
        raise TypeError(f"tensor must be a torch.Tensor, got {type(tensor).__name__}")
    portable = _draw(rng, seed, stream, generator)
    if tensor.ndim != 2:
        raise ValueError(f"sparse_ needs a 2-D tensor, got shape {tuple(tensor.shape)}")
    fraction = real("sparsity", sparsity)
    if fraction < 0.0:  # above 1 every row is zeroed, as in torch
        raise ValueError(f"sparsity is the fraction of zeros per column, >= 0; got {sparsity!r}")
    _apply(tensor, get("random_normal").with_(mean=0.0, stddev=std), generator, portable=portable)
    if tensor.is_meta or tensor.numel() == 0:
        return tensor
    rows, cols = tensor.shape
    num_zeros = min(math.ceil(fraction * rows), rows)
    with torch.no_grad():
        if portable is not None:
            root, name = portable
            keys = realize_portable(
                ADAPTER, get("random_uniform").with_(minval=0.0, maxval=1.0).plan((2 * rows, cols), "torch"),
                seed=root, dtype="float64" if tensor.dtype == torch.float64 else "float32",
                device=tensor.device, stream=name, shard=(slice(rows, 2 * rows),),
            )  # fmt: skip
            order = torch.argsort(keys, dim=0, stable=True)[:num_zeros]
            tensor.scatter_(0, order, 0.0)
            return tensor
        for column in range(cols):
            if generator is None:
                order = torch.randperm(rows)  # the call torch.nn.init.sparse_ makes, for bit parity
            else:
                order = torch.randperm(rows, generator=generator, device=generator.device)
            tensor[order[:num_zeros].to(tensor.device), column] = 0
    return tensor
