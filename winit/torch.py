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

import fnmatch
import functools
import hashlib
import inspect
import math
import warnings
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from typing import Any, Final, TypeAlias, TypeVar, cast

try:
    import torch
except ImportError as error:  # pragma: no cover - depends on the environment
    raise ImportError("winit.torch needs PyTorch: pip install 'winit[torch]'") from error
from torch import Tensor, nn
from torch.nn.modules.batchnorm import _NormBase
from torch.nn.modules.conv import _ConvTransposeNd
from torch.nn.modules.rnn import RNNBase, RNNCellBase
from torch.nn.parameter import UninitializedParameter
from torch.overrides import handle_torch_function, has_torch_function_variadic

from winit._gains import ACTIVATIONS, NONLINEARITIES, recommend
from winit._gains import calculate_gain as _calculate_gain
from winit._lsuv import LSUVReport, lsuv_
from winit._registry import get
from winit._report import InitRecord, InitReport
from winit._schemes import Plan, Scheme
from winit._validate import choice, real, suggest
from winit.backends._common import check_seed, dtype_name
from winit.backends._portable import draw_options, portable_seed, realize_block, realize_portable, stream_id
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
    "diagnose",
    "dirac",
    "dirac_",
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


def _check_no_generator(rng: str, generator: object) -> None:
    """rng='portable' keys its draws by seed=; a torch.Generator beside it is refused."""
    if rng == "portable" and generator is not None:
        raise ValueError("rng='portable' draws from seed= (an int), not from a torch.Generator")


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


# -- whole models -------------------------------------------------------------------------------------
_NORM_TYPES: Final[tuple[type[nn.Module], ...]] = (_NormBase, nn.LayerNorm, nn.GroupNorm, nn.RMSNorm)
_GATE_NAMES: Final[dict[int, tuple[str, ...]]] = {4: ("i", "f", "g", "o"), 3: ("r", "z", "n")}
_QKV: Final = ("q", "k", "v")
RNGS: Final[tuple[str, ...]] = ("native", "portable")


@dataclass(frozen=True)
class _Piece:
    """One write: rows [start, stop) of parameter ``attr`` of ``module`` (the whole parameter if stop is None)."""

    module: nn.Module
    attr: str
    name: str
    plan: Plan
    part: str = ""
    start: int = 0
    stop: int | None = None

    def target(self) -> Tensor:
        param: Tensor = getattr(self.module, self.attr)  # re-read: to_empty may have replaced it
        return param if self.stop is None else param[self.start : self.stop]


class _Rules:
    """Which scheme each parameter gets: name patterns, then module types, then the layer's own default."""

    def __init__(self, scheme: SchemeRules, nonlinearity: str, bias: SchemeLike) -> None:
        self.nonlinearity = choice(
            "nonlinearity", nonlinearity, tuple(dict.fromkeys((*ACTIVATIONS, *NONLINEARITIES)))
        )
        self.patterns: dict[str, Scheme] = {}
        self.types: dict[type[nn.Module], Scheme] = {}
        if isinstance(scheme, Mapping):
            self.weight = self.resolve(recommend(self.nonlinearity))
            for key, value in scheme.items():
                if isinstance(key, str):
                    self.patterns[key] = self.resolve(value)
                elif isinstance(key, type) and issubclass(key, nn.Module):
                    self.types[key] = self.resolve(value)
                else:
                    raise TypeError(
                        f"scheme mapping keys must be a module type (e.g. torch.nn.Linear) or a parameter-name "
                        f"pattern (str, fnmatch on the qualified name, e.g. '*.bias'); got {key!r}"
                    )
        else:
            self.weight = self.resolve(recommend(self.nonlinearity) if scheme is None else scheme)
        self.bias = self.resolve(bias)
        self.orthogonal = get("orthogonal")

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

    def pick(self, name: str, module: nn.Module, default: Scheme, *, typed: bool = True) -> Scheme:
        """The scheme for parameter ``name``: a matching rule (see :meth:`match`), else ``default``."""
        spec = self.match(name, module, typed=typed)
        return default if spec is None else spec


def _is_bias(attr: str) -> bool:
    """bias, bias_ih_l0, bias_k, in_proj_bias, ...: torch's names for additive parameters."""
    return attr == "bias" or attr.startswith("bias_") or attr.endswith("_bias")


def _pieces(rules: _Rules, module: nn.Module, attr: str, param: Tensor, name: str) -> Iterator[_Piece]:
    """The writes that initialize ``module.attr``: whole, or per gate / q-k-v block, each with its plan."""
    shape = tuple(param.shape)

    def whole(spec: Scheme, layout: str = "torch") -> _Piece:
        return _Piece(module, attr, name, spec.plan(shape, layout))

    def blocks(spec: Scheme, labels: tuple[str, ...]) -> Iterator[_Piece]:
        rows = shape[0] // len(labels)
        block = (rows, *shape[1:])
        for index, label in enumerate(labels):
            start = index * rows
            yield _Piece(module, attr, name, spec.plan(block, "torch"), label, start, start + rows)

    if isinstance(module, _NORM_TYPES):
        yield whole(rules.pick(name, module, rules.bias if _is_bias(attr) else get("ones")))
    elif _is_bias(attr):  # type rules set weights; biases follow ``bias`` unless a pattern names them
        yield whole(rules.pick(name, module, rules.bias, typed=False))
    elif isinstance(module, (RNNBase, RNNCellBase)) and attr.startswith(("weight_ih", "weight_hh")):
        gates = shape[0] // module.hidden_size
        labels = _GATE_NAMES.get(gates, tuple(str(g) for g in range(gates))) if gates > 1 else ("",)
        if attr.startswith("weight_hh"):  # recurrent: orthogonal per gate unless a pattern says otherwise
            yield from blocks(rules.pick(name, module, rules.orthogonal, typed=False), labels)
        else:
            yield from blocks(rules.pick(name, module, rules.weight), labels)
    elif isinstance(module, nn.MultiheadAttention) and attr == "in_proj_weight":
        yield from blocks(rules.pick(name, module, rules.weight), _QKV)
    elif isinstance(module, _ConvTransposeNd) and attr == "weight":
        yield whole(rules.pick(name, module, rules.weight), "torch_transpose")  # (in, out/groups, *k)
    elif isinstance(module, nn.PReLU) and attr == "weight":
        yield whole(rules.pick(name, module, get("constant").with_(value=module.init)))
    elif param.ndim >= 2:
        yield whole(rules.pick(name, module, rules.weight))
    else:
        spec = rules.match(name, module)
        if spec is None:
            raise ValueError(
                f"winit has no rule for {name!r} ({type(module).__name__}, shape {shape}), a {param.ndim}-D "
                f"weight of a layer it does not know; give it a scheme in the mapping, e.g. "
                f"init_(model, {{{name!r}: winit.get('constant').with_(value=1.0)}})"
            )
        yield whole(spec)


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

    A piece covers rows [start, stop) of its parameter; elements take the parameter's flat indices,
    so a shard holding any block of it writes exactly that block's values.
    """
    param: Tensor = getattr(piece.module, piece.attr)
    local, block = _local_block(param)
    if local.is_meta or local.numel() == 0:
        return
    shape = tuple(param.shape)
    start, stop = (piece.start, piece.stop) if piece.stop is not None else (0, shape[0] if shape else 0)
    rows = (max(block[0][0], start), min(block[0][1], stop)) if shape else (0, 0)
    if shape and rows[0] >= rows[1]:
        return  # this rank holds none of the piece
    piece_block = ((rows[0] - start, rows[1] - start), *block[1:]) if shape else ()
    values = realize_block(
        ADAPTER, piece.plan, seed=seed, stream=stream_id(piece.name), dtype=dtype_name(local.dtype),
        device=local.device, block=piece_block, parent_shape=shape, row_start=start,
    )  # fmt: skip
    target = local[rows[0] - block[0][0] : rows[1] - block[0][0]] if shape else local
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
    """Initialize every parameter of ``module`` in place by the layer it belongs to; return (module, report).

    Weights get ``scheme`` (default ``winit.recommend(nonlinearity)``; a string scheme with a
    ``nonlinearity`` parameter, e.g. he_*, takes ``nonlinearity``), biases get ``bias``, norm
    weights 1, RNN recurrent weights orthogonal per gate block, RNN input weights and the q/k/v
    blocks of ``MultiheadAttention.in_proj_weight`` ``scheme`` per block, ConvTranspose weights fans
    from the ``torch_transpose`` layout, Embedding's padding row 0. ``scheme`` may map module types
    (most specific class wins; they set weights, not biases or RNN recurrent weights) and fnmatch
    patterns on qualified parameter names (first match wins, over everything) to schemes; tied
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
    pieces = [piece for sub, attr, param, name in owners for piece in _pieces(rules, sub, attr, param, name)]

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
            if rng == "portable" and root_seed is not None:
                _write_portable(piece, root_seed)
                records.append(
                    InitRecord.from_plan(piece.name, type(piece.module).__name__, piece.plan, piece.part)
                )
                continue
            target = piece.target()
            if piece.name not in streams:
                streams[piece.name] = (
                    generator if root_seed is None else _stream(root_seed, piece.name, target.device)
                )
            ADAPTER.realize_into(piece.plan, target, streams[piece.name])
            records.append(
                InitRecord.from_plan(piece.name, type(piece.module).__name__, piece.plan, piece.part)
            )
        for sub in module.modules():
            padding = getattr(sub, "padding_idx", None)
            if isinstance(sub, (nn.Embedding, nn.EmbeddingBag)) and padding is not None:
                # as torch does: the padding row stays 0 (it gets no gradient); on this rank's shard only
                local, block = _local_block(sub.weight)
                if block[0][0] <= padding < block[0][1]:
                    local[padding - block[0][0]].zero_()
    return module, InitReport(records)
