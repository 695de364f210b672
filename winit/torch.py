"""PyTorch front door: drop-in ``torch.nn.init`` functions and a model-level ``init_``, all on winit's spec.

Every function here resolves a :class:`winit.Scheme` to a :class:`winit.Plan` for the tensor's shape
(layout ``torch``: ``(out, in, *kernel)``) and lets the torch adapter sample that plan into the
tensor in place, with torch's own samplers and ``generator``. No fan, std or bound is computed here,
so for the functions torch also has, one ``torch.Generator`` state gives the same bits as
``torch.nn.init`` on CPU.

The random functions take torch's parameters in torch's order with torch's defaults, then
keyword-only ``rng="native"``, ``seed=None`` and ``stream=None``. ``rng="portable"`` draws winit's
Philox-4x32-10 keyed by the int ``seed`` (None: fresh entropy) and ``stream`` (a name or int id)
instead of a ``generator``, into the tensor in place on its device: ``kaiming_normal_(w,
mode="fan_out", rng="portable", seed=0, stream="w")`` writes ``winit.init("he_normal", w.shape,
backend="torch", mode="fan_out", seed=0, rng="portable", stream="w", dtype=w.dtype)``, the same
numbers on every backend and device (uniform laws bit for bit).

Where winit differs from ``torch.nn.init`` (on purpose):

* float16/bfloat16 work everywhere: ``orthogonal_`` runs its QR in float32 and casts;
* 0-D and 1-D tensors have fans ``(1, 1)`` and ``(n, n)`` (Keras' convention) instead of an error;
* ``sparse_`` draws its zero pattern from ``generator`` when one is given (torch ignores it and
  uses the global RNG; with ``generator=None`` winit does the same as torch, bit for bit);
* ``trunc_normal_`` needs ``a < b`` and ``std > 0`` (an infinite bound is torch's own sampler; with
  ``rng="portable"`` only ``a=-inf, b=inf``, the normal law); ``sparse_`` needs ``sparsity >= 0``;
* ``zeros_``/``ones_``/``constant_`` are torch's fills (any dtype, NaN/±inf, a 0-D tensor), ``gain=0``
  is torch's call, and the deprecated aliases (``uniform``, ``normal``, ...) warn as torch's do;
  where torch raises ValueError or RuntimeError and winit would raise TypeError, the error
  (:class:`InitArgumentError`) is both;
* every function honours ``__torch_function__``, like torch's ``uniform_``/``normal_``/``constant_``/
  ``kaiming_uniform_`` do, and is a shape-checking no-op on meta tensors.
"""

from __future__ import annotations

import functools
import inspect
import math
import warnings
from collections.abc import Callable, Mapping
from typing import Any, TypeAlias, TypeVar, cast

try:
    import torch
except ImportError as error:  # pragma: no cover - depends on the environment
    raise ImportError("winit.torch needs PyTorch: pip install 'winit[torch]'") from error
from torch import Tensor, nn
from torch.overrides import handle_torch_function, has_torch_function_variadic

from winit._gains import calculate_gain as _calculate_gain
from winit._lsuv import LSUVReport, lsuv_
from winit._mup import param_groups
from winit._registry import get
from winit._report import InitRecord, InitReport
from winit._schemes import Scheme
from winit._torch_meta import deferred_init
from winit._torch_model import _check_no_generator, explain_model, init_
from winit._validate import real
from winit.backends._common import dtype_name
from winit.backends._portable import draw_options, portable_seed, realize_portable
from winit.backends.torch import ADAPTER
from winit.diagnose import diagnose_torch as diagnose

__all__ = [
    "InitArgumentError",
    "InitRecord",
    "InitReport",
    "LSUVReport",
    "calculate_gain",
    "constant",
    "constant_",
    "deferred_init",
    "diagnose",
    "dirac",
    "dirac_",
    "explain_model",
    "eye",
    "eye_",
    "glorot_normal_",
    "glorot_uniform_",
    "he_normal_",
    "he_uniform_",
    "init",
    "init_",
    "kaiming_normal",
    "kaiming_normal_",
    "kaiming_uniform",
    "kaiming_uniform_",
    "lecun_normal_",
    "lecun_uniform_",
    "lsuv_",
    "normal",
    "normal_",
    "ones_",
    "orthogonal",
    "orthogonal_",
    "param_groups",
    "sparse",
    "sparse_",
    "trunc_normal_",
    "uniform",
    "uniform_",
    "variance_scaling_",
    "xavier_normal",
    "xavier_normal_",
    "xavier_uniform",
    "xavier_uniform_",
    "zer_o_",
    "zeros_",
]

SchemeLike: TypeAlias = "str | Scheme"
SchemeRules: TypeAlias = "SchemeLike | Mapping[type[nn.Module] | str, SchemeLike] | None"


class InitArgumentError(ValueError, TypeError):
    """A bad argument where torch.nn.init raises ValueError and winit's contract says TypeError: both catch it."""


def calculate_gain(nonlinearity: str, param: float | None = None) -> float:
    """torch's gain table: linear/conv*/sigmoid 1, tanh 5/3, relu √2, leaky_relu √(2/(1+param²)), selu 3/4.

    As in torch, ``param`` is read only for leaky_relu; a bad one raises :class:`InitArgumentError`.
    """
    try:
        return _calculate_gain(nonlinearity, param if nonlinearity == "leaky_relu" else None)
    except TypeError as error:
        raise InitArgumentError(str(error)) from error


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


# -- torch.nn.init, one function per name ------------------------------------------------------------
@_honours_torch_function
def uniform_(
    tensor: Tensor,
    a: float = 0.0,
    b: float = 1.0,
    generator: torch.Generator | None = None,
    *,
    rng: str = "native",
    seed: int | None = None,
    stream: int | str | None = None,
) -> Tensor:
    """Fill ``tensor`` from U[a, b) (scheme ``random_uniform`` with minval=a, maxval=b)."""
    portable = _draw(rng, seed, stream, generator)
    return _apply(tensor, get("random_uniform").with_(minval=a, maxval=b), generator, portable=portable)


@_honours_torch_function
def normal_(
    tensor: Tensor,
    mean: float = 0.0,
    std: float = 1.0,
    generator: torch.Generator | None = None,
    *,
    rng: str = "native",
    seed: int | None = None,
    stream: int | str | None = None,
) -> Tensor:
    """Fill ``tensor`` from N(mean, std²) (scheme ``random_normal``)."""
    portable = _draw(rng, seed, stream, generator)
    return _apply(tensor, get("random_normal").with_(mean=mean, stddev=std), generator, portable=portable)


@_honours_torch_function
def trunc_normal_(
    tensor: Tensor,
    mean: float = 0.0,
    std: float = 1.0,
    a: float = -2.0,
    b: float = 2.0,
    generator: torch.Generator | None = None,
    *,
    rng: str = "native",
    seed: int | None = None,
    stream: int | str | None = None,
) -> Tensor:
    """Fill ``tensor`` from N(mean, std²) conditioned on the absolute interval a ≤ x ≤ b (std is the parent's)."""
    portable = _draw(rng, seed, stream, generator)
    mean, std = real("mean", mean), real("std", std, positive=True)
    if isinstance(a, float) and isinstance(b, float) and (math.isinf(a) or math.isinf(b)):
        return _unbounded_trunc_normal(tensor, mean, std, a, b, generator, portable)
    a, b = real("a", a), real("b", b)
    if not a < b:
        raise ValueError(f"trunc_normal_ needs a < b (absolute bounds), got a={a}, b={b}")
    # The spec keeps the window in units of σ; the adapter rebuilds mean + z·std, which may be an ulp
    # of a float64 off a or b. torch's samplers cast bounds to the tensor's dtype, so float32 and
    # narrower tensors see the very same bounds (float64 ones can differ in the last bit).
    spec = get("truncated_normal").with_(
        mean=mean, stddev=std, lower=(a - mean) / std, upper=(b - mean) / std
    )
    return _apply(tensor, spec, generator, portable=portable)


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


@_honours_torch_function
def constant_(tensor: Tensor, val: float) -> Tensor:
    """Fill ``tensor`` (any dtype) with ``val``, a number (NaN and ±inf too) or a 0-D tensor, as torch does."""
    return _fill(tensor, val)


@_honours_torch_function
def ones_(tensor: Tensor) -> Tensor:
    """Fill ``tensor`` (any dtype) with 1."""
    return _fill(tensor, 1.0)


@_honours_torch_function
def zeros_(tensor: Tensor) -> Tensor:
    """Fill ``tensor`` (any dtype) with 0."""
    if not isinstance(tensor, Tensor):
        raise TypeError(f"tensor must be a torch.Tensor, got {type(tensor).__name__}")
    with torch.no_grad():
        return tensor.zero_()


@_honours_torch_function
def eye_(tensor: Tensor) -> Tensor:
    """Fill the 2-D ``tensor`` with I (ones on the main diagonal; scheme ``identity``)."""
    return _apply(tensor, get("identity"), None)


@_honours_torch_function
def dirac_(tensor: Tensor, groups: int = 1) -> Tensor:
    """Fill the 3-5-D ``tensor`` with 1 at the kernel centre where out % (out/groups) == in (scheme ``dirac``)."""
    return _apply(tensor, get("dirac").with_(groups=groups), None)


@_honours_torch_function
def zer_o_(tensor: Tensor, gain: float = 1.0) -> Tensor:
    """Fill ``tensor`` with ZerO: gain·I* if out ≤ in, else gain·2^(−(m−1)/2)·H_m[:out, :in]; conv at the centre tap."""
    return _apply(tensor, get("zer_o").with_(gain=gain), None)


@_honours_torch_function
def xavier_uniform_(
    tensor: Tensor,
    gain: float = 1.0,
    generator: torch.Generator | None = None,
    *,
    rng: str = "native",
    seed: int | None = None,
    stream: int | str | None = None,
) -> Tensor:
    """Fill ``tensor`` from U(−b, b), b = gain·√(6/(fan_in + fan_out)) (scheme ``glorot_uniform``)."""
    portable = _draw(rng, seed, stream, generator)
    if _zero_gain(gain):
        return _gain_zero(nn.init.xavier_uniform_, tensor, generator, portable)
    return _apply(tensor, get("glorot_uniform").with_(gain=gain), generator, portable=portable)


@_honours_torch_function
def xavier_normal_(
    tensor: Tensor,
    gain: float = 1.0,
    generator: torch.Generator | None = None,
    *,
    rng: str = "native",
    seed: int | None = None,
    stream: int | str | None = None,
) -> Tensor:
    """Fill ``tensor`` from N(0, std²), std = gain·√(2/(fan_in + fan_out)), untruncated (scheme ``glorot_normal``)."""
    portable = _draw(rng, seed, stream, generator)
    if _zero_gain(gain):
        return _gain_zero(nn.init.xavier_normal_, tensor, generator, portable)
    return _apply(tensor, get("glorot_normal").with_(gain=gain), generator, portable=portable)


@_honours_torch_function
def kaiming_uniform_(
    tensor: Tensor,
    a: float = 0,
    mode: str = "fan_in",
    nonlinearity: str = "leaky_relu",
    generator: torch.Generator | None = None,
    *,
    rng: str = "native",
    seed: int | None = None,
    stream: int | str | None = None,
) -> Tensor:
    """Fill ``tensor`` from U(−b, b), b = √3·calculate_gain(nonlinearity, a)/√fan(mode) (scheme ``he_uniform``)."""
    portable = _draw(rng, seed, stream, generator)
    spec = _kaiming("he_uniform", a, mode, nonlinearity)
    return _apply(tensor, spec, generator, portable=portable)


@_honours_torch_function
def kaiming_normal_(
    tensor: Tensor,
    a: float = 0,
    mode: str = "fan_in",
    nonlinearity: str = "leaky_relu",
    generator: torch.Generator | None = None,
    *,
    rng: str = "native",
    seed: int | None = None,
    stream: int | str | None = None,
) -> Tensor:
    """Fill ``tensor`` from N(0, std²), std = calculate_gain(nonlinearity, a)/√fan(mode) (``he_normal``)."""
    portable = _draw(rng, seed, stream, generator)
    spec = _kaiming("he_normal", a, mode, nonlinearity)
    return _apply(tensor, spec, generator, portable=portable)


@_honours_torch_function
def orthogonal_(
    tensor: Tensor,
    gain: float = 1,
    generator: torch.Generator | None = None,
    *,
    rng: str = "native",
    seed: int | None = None,
    stream: int | str | None = None,
) -> Tensor:
    """Fill ``tensor`` (≥ 2-D, trailing axes flattened) with gain·Q, Q (semi-)orthogonal (scheme ``orthogonal``)."""
    portable = _draw(rng, seed, stream, generator)
    if _zero_gain(gain):
        return _gain_zero(nn.init.orthogonal_, tensor, generator, portable)
    return _apply(tensor, get("orthogonal").with_(gain=gain), generator, portable=portable)


@_honours_torch_function
def sparse_(
    tensor: Tensor,
    sparsity: float,
    std: float = 0.01,
    generator: torch.Generator | None = None,
    *,
    rng: str = "native",
    seed: int | None = None,
    stream: int | str | None = None,
) -> Tensor:
    """Fill the 2-D ``tensor`` from N(0, std²), then zero ⌈sparsity·rows⌉ random rows of each column (Martens 2010).

    The values come from scheme ``random_normal``; the zero pattern is drawn with ``torch.randperm``
    per column from ``generator`` (torch's own ``sparse_`` ignores ``generator`` here and uses the
    global RNG, which is what winit does too when ``generator`` is None). With ``rng="portable"``
    the values are the portable ``random_normal`` draw for (``seed``, ``stream``) and each column
    zeroes the rows with the ⌈sparsity·rows⌉ smallest keys (ties to the lower row), the keys being
    rows [rows, 2·rows) of the portable U[0, 1) draw of shape (2·rows, cols) for the same seed and
    stream (float64 for a float64 tensor, else float32): counters the values do not use.
    """
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


# -- schemes torch.nn.init lacks -----------------------------------------------------------------------
@_honours_torch_function
def lecun_uniform_(
    tensor: Tensor,
    gain: float = 1.0,
    generator: torch.Generator | None = None,
    *,
    rng: str = "native",
    seed: int | None = None,
    stream: int | str | None = None,
) -> Tensor:
    """Fill ``tensor`` from U(−b, b), b = gain·√(3/fan_in) (scheme ``lecun_uniform``)."""
    portable = _draw(rng, seed, stream, generator)
    return _apply(tensor, get("lecun_uniform").with_(gain=gain), generator, portable=portable)


@_honours_torch_function
def lecun_normal_(
    tensor: Tensor,
    gain: float = 1.0,
    generator: torch.Generator | None = None,
    *,
    rng: str = "native",
    seed: int | None = None,
    stream: int | str | None = None,
) -> Tensor:
    """Fill ``tensor`` from N(0, std²), std = gain·√(1/fan_in), untruncated (scheme ``lecun_normal``)."""
    portable = _draw(rng, seed, stream, generator)
    return _apply(tensor, get("lecun_normal").with_(gain=gain), generator, portable=portable)


@_honours_torch_function
def variance_scaling_(
    tensor: Tensor,
    scale: float = 1.0,
    mode: str = "fan_in",
    distribution: str = "truncated_normal",
    generator: torch.Generator | None = None,
    *,
    rng: str = "native",
    seed: int | None = None,
    stream: int | str | None = None,
) -> Tensor:
    """Fill ``tensor`` with std = √(scale/fan(mode)); truncated_normal divides σ by 0.87962566103423978 (Keras/JAX)."""
    portable = _draw(rng, seed, stream, generator)
    spec = get("variance_scaling").with_(scale=scale, mode=mode, distribution=distribution)
    return _apply(tensor, spec, generator, portable=portable)


glorot_uniform_ = xavier_uniform_
glorot_normal_ = xavier_normal_
he_uniform_ = kaiming_uniform_
he_normal_ = kaiming_normal_


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


# torch.nn.init still exports these (torch 2.13); a global monkeypatch must not lose them.
uniform = _deprecated(uniform_)
normal = _deprecated(normal_)
constant = _deprecated(constant_)
eye = _deprecated(eye_)
dirac = _deprecated(dirac_)
xavier_uniform = _deprecated(xavier_uniform_)
xavier_normal = _deprecated(xavier_normal_)
kaiming_uniform = _deprecated(kaiming_uniform_)
kaiming_normal = _deprecated(kaiming_normal_)
orthogonal = _deprecated(orthogonal_)
sparse = _deprecated(sparse_)


@_honours_torch_function
def init(
    tensor: Tensor,
    scheme: SchemeLike,
    generator: torch.Generator | None = None,
    *,
    layout: str = "torch",
    **params: object,
) -> Tensor:
    """Fill ``tensor`` from winit ``scheme`` (name or Scheme) with ``params`` changed; fans from ``layout``."""
    spec = get(scheme)
    if params:
        spec = spec.with_(**params)
    return _apply(tensor, spec, generator, layout)
