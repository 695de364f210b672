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
* ``trunc_normal_`` needs finite ``a < b`` and ``std > 0``;
* every function honours ``__torch_function__``, like torch's ``uniform_``/``normal_``/``constant_``/
  ``kaiming_uniform_`` do, and is a shape-checking no-op on meta tensors.
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Callable, Mapping
from typing import TypeAlias

import torch
from torch import Tensor, nn
from torch.overrides import handle_torch_function, has_torch_function_variadic

from winit._gains import calculate_gain as _calculate_gain
from winit._lsuv import LSUVReport, lsuv_
from winit._registry import get
from winit._report import InitRecord, InitReport
from winit._schemes import Scheme
from winit._torch_model import _check_no_generator, explain_model, init_
from winit._validate import real
from winit.backends._common import dtype_name
from winit.backends._portable import draw_options, portable_seed, realize_portable
from winit.backends.torch import ADAPTER
from winit.diagnose import diagnose_torch as diagnose

__all__ = [
    "InitRecord",
    "InitReport",
    "LSUVReport",
    "calculate_gain",
    "constant_",
    "diagnose",
    "dirac_",
    "explain_model",
    "eye_",
    "glorot_normal_",
    "glorot_uniform_",
    "he_normal_",
    "he_uniform_",
    "init",
    "init_",
    "kaiming_normal_",
    "kaiming_uniform_",
    "lecun_normal_",
    "lecun_uniform_",
    "lsuv_",
    "normal_",
    "ones_",
    "orthogonal_",
    "sparse_",
    "trunc_normal_",
    "uniform_",
    "variance_scaling_",
    "xavier_normal_",
    "xavier_uniform_",
    "zeros_",
]

SchemeLike: TypeAlias = "str | Scheme"
SchemeRules: TypeAlias = "SchemeLike | Mapping[type[nn.Module] | str, SchemeLike] | None"

#: torch's gain table, same signature as torch.nn.init.calculate_gain.
calculate_gain = _calculate_gain


_DRAW_DEFAULTS: dict[str, object] = {"rng": "native", "seed": None, "stream": None}


def _dispatch(func: Callable[..., Tensor], tensor: Tensor, **kwargs: object) -> Tensor:
    """Hand the call to ``tensor``'s ``__torch_function__`` (a subclass such as DTensor, or an active mode).

    winit's own rng/seed/stream go along only when set, so a handler written against
    torch.nn.init's signature keeps working for every call torch.nn.init could make.
    """
    kwargs = {k: v for k, v in kwargs.items() if k not in _DRAW_DEFAULTS or v != _DRAW_DEFAULTS[k]}
    result: Tensor = handle_torch_function(func, (tensor,), tensor=tensor, **kwargs)
    return result


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


# -- torch.nn.init, one function per name ------------------------------------------------------------
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
    if has_torch_function_variadic(tensor):
        return _dispatch(uniform_, tensor, a=a, b=b, generator=generator, rng=rng, seed=seed, stream=stream)
    portable = _draw(rng, seed, stream, generator)
    return _apply(tensor, get("random_uniform").with_(minval=a, maxval=b), generator, portable=portable)


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
    if has_torch_function_variadic(tensor):
        return _dispatch(
            normal_, tensor, mean=mean, std=std, generator=generator, rng=rng, seed=seed, stream=stream
        )
    portable = _draw(rng, seed, stream, generator)
    return _apply(tensor, get("random_normal").with_(mean=mean, stddev=std), generator, portable=portable)


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
    if has_torch_function_variadic(tensor):
        return _dispatch(
            trunc_normal_, tensor, mean=mean, std=std, a=a, b=b, generator=generator,
            rng=rng, seed=seed, stream=stream,
        )  # fmt: skip
    portable = _draw(rng, seed, stream, generator)
    mean, std = real("mean", mean), real("std", std, positive=True)
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


def constant_(tensor: Tensor, val: float) -> Tensor:
    """Fill ``tensor`` with ``val`` (scheme ``constant``)."""
    if has_torch_function_variadic(tensor):
        return _dispatch(constant_, tensor, val=val)
    return _apply(tensor, get("constant").with_(value=val), None)


def ones_(tensor: Tensor) -> Tensor:
    """Fill ``tensor`` with 1 (scheme ``ones``)."""
    if has_torch_function_variadic(tensor):
        return _dispatch(ones_, tensor)
    return _apply(tensor, get("ones"), None)


def zeros_(tensor: Tensor) -> Tensor:
    """Fill ``tensor`` with 0 (scheme ``zeros``)."""
    if has_torch_function_variadic(tensor):
        return _dispatch(zeros_, tensor)
    return _apply(tensor, get("zeros"), None)


def eye_(tensor: Tensor) -> Tensor:
    """Fill the 2-D ``tensor`` with I (ones on the main diagonal; scheme ``identity``)."""
    if has_torch_function_variadic(tensor):
        return _dispatch(eye_, tensor)
    return _apply(tensor, get("identity"), None)


def dirac_(tensor: Tensor, groups: int = 1) -> Tensor:
    """Fill the 3-5-D ``tensor`` with 1 at the kernel centre where out % (out/groups) == in (scheme ``dirac``)."""
    if has_torch_function_variadic(tensor):
        return _dispatch(dirac_, tensor, groups=groups)
    return _apply(tensor, get("dirac").with_(groups=groups), None)


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
    if has_torch_function_variadic(tensor):
        return _dispatch(
            xavier_uniform_, tensor, gain=gain, generator=generator, rng=rng, seed=seed, stream=stream
        )
    portable = _draw(rng, seed, stream, generator)
    return _apply(tensor, get("glorot_uniform").with_(gain=gain), generator, portable=portable)


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
    if has_torch_function_variadic(tensor):
        return _dispatch(
            xavier_normal_, tensor, gain=gain, generator=generator, rng=rng, seed=seed, stream=stream
        )
    portable = _draw(rng, seed, stream, generator)
    return _apply(tensor, get("glorot_normal").with_(gain=gain), generator, portable=portable)


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
    if has_torch_function_variadic(tensor):
        return _dispatch(
            kaiming_uniform_, tensor, a=a, mode=mode, nonlinearity=nonlinearity,
            generator=generator, rng=rng, seed=seed, stream=stream,
        )  # fmt: skip
    portable = _draw(rng, seed, stream, generator)
    spec = get("he_uniform").with_(negative_slope=a, mode=mode, nonlinearity=nonlinearity)
    return _apply(tensor, spec, generator, portable=portable)


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
    if has_torch_function_variadic(tensor):
        return _dispatch(
            kaiming_normal_, tensor, a=a, mode=mode, nonlinearity=nonlinearity,
            generator=generator, rng=rng, seed=seed, stream=stream,
        )  # fmt: skip
    portable = _draw(rng, seed, stream, generator)
    spec = get("he_normal").with_(negative_slope=a, mode=mode, nonlinearity=nonlinearity)
    return _apply(tensor, spec, generator, portable=portable)


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
    if has_torch_function_variadic(tensor):
        return _dispatch(
            orthogonal_, tensor, gain=gain, generator=generator, rng=rng, seed=seed, stream=stream
        )
    portable = _draw(rng, seed, stream, generator)
    return _apply(tensor, get("orthogonal").with_(gain=gain), generator, portable=portable)


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
    if has_torch_function_variadic(tensor):
        return _dispatch(
            sparse_, tensor, sparsity=sparsity, std=std, generator=generator,
            rng=rng, seed=seed, stream=stream,
        )  # fmt: skip
    if not isinstance(tensor, Tensor):
        raise TypeError(f"tensor must be a torch.Tensor, got {type(tensor).__name__}")
    portable = _draw(rng, seed, stream, generator)
    if tensor.ndim != 2:
        raise ValueError(f"sparse_ needs a 2-D tensor, got shape {tuple(tensor.shape)}")
    fraction = real("sparsity", sparsity)
    if not 0.0 <= fraction <= 1.0:
        raise ValueError(f"sparsity is the fraction of zeros per column, in [0, 1]; got {sparsity!r}")
    _apply(tensor, get("random_normal").with_(mean=0.0, stddev=std), generator, portable=portable)
    if tensor.is_meta or tensor.numel() == 0:
        return tensor
    rows, cols = tensor.shape
    num_zeros = math.ceil(fraction * rows)
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
    if has_torch_function_variadic(tensor):
        return _dispatch(
            lecun_uniform_, tensor, gain=gain, generator=generator, rng=rng, seed=seed, stream=stream
        )
    portable = _draw(rng, seed, stream, generator)
    return _apply(tensor, get("lecun_uniform").with_(gain=gain), generator, portable=portable)


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
    if has_torch_function_variadic(tensor):
        return _dispatch(
            lecun_normal_, tensor, gain=gain, generator=generator, rng=rng, seed=seed, stream=stream
        )
    portable = _draw(rng, seed, stream, generator)
    return _apply(tensor, get("lecun_normal").with_(gain=gain), generator, portable=portable)


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
    if has_torch_function_variadic(tensor):
        return _dispatch(
            variance_scaling_, tensor, scale=scale, mode=mode, distribution=distribution,
            generator=generator, rng=rng, seed=seed, stream=stream,
        )  # fmt: skip
    portable = _draw(rng, seed, stream, generator)
    spec = get("variance_scaling").with_(scale=scale, mode=mode, distribution=distribution)
    return _apply(tensor, spec, generator, portable=portable)


glorot_uniform_ = xavier_uniform_
glorot_normal_ = xavier_normal_
he_uniform_ = kaiming_uniform_
he_normal_ = kaiming_normal_


def init(
    tensor: Tensor,
    scheme: SchemeLike,
    generator: torch.Generator | None = None,
    *,
    layout: str = "torch",
    **params: object,
) -> Tensor:
    """Fill ``tensor`` from winit ``scheme`` (name or Scheme) with ``params`` changed; fans from ``layout``."""
    if has_torch_function_variadic(tensor):
        return _dispatch(init, tensor, scheme=scheme, generator=generator, layout=layout, **params)
    spec = get(scheme)
    if params:
        spec = spec.with_(**params)
    return _apply(tensor, spec, generator, layout)
