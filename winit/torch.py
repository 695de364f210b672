"""PyTorch front door: drop-in ``torch.nn.init`` functions and a model-level ``init_``, all on winit's spec.

The portable draw (``rng="portable"``) and the deliberate differences from torch: ``docs/torch.md``.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import TypeAlias

try:
    import torch
except ImportError as error:  # pragma: no cover - depends on the environment
    raise ImportError("winit.torch needs PyTorch: pip install 'winit[torch]'") from error
from torch import Tensor, nn

from winit._gains import calculate_gain as _calculate_gain
from winit._lsuv import LSUVReport, lsuv_
from winit._mup import param_groups
from winit._registry import get
from winit._report import InitRecord, InitReport
from winit._schemes import Scheme
from winit._torch_init import (
    InitArgumentError,
    _apply,
    _deprecated,
    _draw,
    _fill,
    _gain_init,
    _honours_torch_function,
    _kaiming_init,
    _unbounded_trunc_normal,
    sparse_fill,
)  # fmt: skip
from winit._torch_meta import deferred_init
from winit._torch_model import explain_model, init_
from winit._validate import real
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


def calculate_gain(nonlinearity: str, param: float | None = None) -> float:
    """torch's gain table: linear/conv*/sigmoid 1, tanh 5/3, relu √2, leaky_relu √(2/(1+param²)), selu 3/4.

    Args:
        nonlinearity: the activation's name, as in ``torch.nn.init.calculate_gain``.
        param: leaky_relu's negative slope (default 0.01); read for leaky_relu only, as in torch. A bad one
            raises :class:`InitArgumentError`.

    Example:
        >>> import winit.torch as wt
        >>> round(wt.calculate_gain("relu"), 4), round(wt.calculate_gain("leaky_relu", 0.2), 4)
        (1.4142, 1.3868)

    References:
        He et al. 2015, "Delving Deep into Rectifiers", ICCV (the √(2/(1 + a²)) gain).
    """
    try:
        return _calculate_gain(nonlinearity, param if nonlinearity == "leaky_relu" else None)
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
    """Fill ``tensor`` from U[a, b) (scheme ``random_uniform`` with minval=a, maxval=b).

    Args:
        tensor: the tensor filled in place.
        a, b: the interval's ends.
        generator, rng, seed, stream: torch's generator (None: its global one), or ``rng="portable"``:
            winit's Philox for the int ``seed`` and ``stream``, the same on every device (docs/torch.md).

    Example:
        >>> import torch, winit.torch as wt
        >>> w = wt.uniform_(torch.empty(64, 64), -1.0, 1.0, rng="portable", seed=0)
        >>> bool(w.min() >= -1 and w.max() < 1), round(w.std().item() * 3**0.5, 1)  # std (b − a)/√12
        (True, 1.0)
    """
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
    """Fill ``tensor`` from N(mean, std²) (scheme ``random_normal``).

    Args:
        tensor: the tensor filled in place.
        mean, std: the normal's mean and standard deviation.
        generator, rng, seed, stream: torch's generator (None: its global one), or ``rng="portable"``:
            winit's Philox for the int ``seed`` and ``stream``, the same on every device (docs/torch.md).

    Example:
        >>> import torch, winit.torch as wt
        >>> w = wt.normal_(torch.empty(256, 256), std=0.02, generator=torch.Generator().manual_seed(0))
        >>> round(w.std().item(), 3)
        0.02
    """
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
    """Fill ``tensor`` from N(mean, std²) conditioned on the absolute interval a ≤ x ≤ b (std is the parent's).

    Args:
        tensor: the tensor filled in place.
        mean, std: the parent normal's mean and standard deviation (not the truncated law's std).
        a, b: the absolute bounds (not in units of std), a < b.
        generator, rng, seed, stream: torch's generator (None: its global one), or ``rng="portable"``:
            winit's Philox for the int ``seed`` and ``stream``, the same on every device (docs/torch.md).

    Example:
        >>> import torch, winit.torch as wt
        >>> w = wt.trunc_normal_(torch.empty(128, 128), std=0.02, a=-0.04, b=0.04, rng="portable", seed=0)
        >>> bool(w.abs().max() <= 0.04)
        True
    """
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


@_honours_torch_function
def constant_(tensor: Tensor, val: float) -> Tensor:
    """Fill ``tensor`` (any dtype) with ``val``, a number (NaN and ±inf too) or a 0-D tensor, as torch does.

    Example:
        >>> import torch, winit.torch as wt
        >>> wt.constant_(torch.empty(2, 3), 0.5).sum().item()
        3.0
    """
    return _fill(tensor, val)


@_honours_torch_function
def ones_(tensor: Tensor) -> Tensor:
    """Fill ``tensor`` (any dtype) with 1.

    Example:
        >>> import torch, winit.torch as wt
        >>> wt.ones_(torch.empty(2, 3, dtype=torch.int64)).tolist()
        [[1, 1, 1], [1, 1, 1]]
    """
    return _fill(tensor, 1.0)


@_honours_torch_function
def zeros_(tensor: Tensor) -> Tensor:
    """Fill ``tensor`` (any dtype) with 0.

    Example:
        >>> import torch, winit.torch as wt
        >>> wt.zeros_(torch.empty(4)).tolist()
        [0.0, 0.0, 0.0, 0.0]
    """
    if not isinstance(tensor, Tensor):
        raise TypeError(f"tensor must be a torch.Tensor, got {type(tensor).__name__}")
    with torch.no_grad():
        return tensor.zero_()


@_honours_torch_function
def eye_(tensor: Tensor) -> Tensor:
    """Fill the 2-D ``tensor`` with I (ones on the main diagonal; scheme ``identity``).

    Example:
        >>> import torch, winit.torch as wt
        >>> wt.eye_(torch.empty(2, 3)).tolist()
        [[1.0, 0.0, 0.0], [0.0, 1.0, 0.0]]

    References:
        Le, Jaitly & Hinton 2015, "A Simple Way to Initialize Recurrent Networks of Rectified Linear Units".
    """
    return _apply(tensor, get("identity"), None)


@_honours_torch_function
def dirac_(tensor: Tensor, groups: int = 1) -> Tensor:
    """Fill the 3-5-D ``tensor`` with 1 at the kernel centre where out % (out/groups) == in (scheme ``dirac``).

    Args:
        tensor: a convolution kernel ``(out, in/groups, *kernel)``, filled in place.
        groups: the convolution's groups; each keeps its own identity.

    Example:
        >>> import torch, winit.torch as wt
        >>> conv = torch.nn.Conv2d(4, 4, 3, padding=1, bias=False)
        >>> _ = wt.dirac_(conv.weight)
        >>> x = torch.randn(1, 4, 5, 5)
        >>> torch.allclose(conv(x), x)
        True

    References:
        Zagoruyko & Komodakis 2017, "DiracNets: Training Very Deep Neural Networks Without Skip-Connections".
    """
    return _apply(tensor, get("dirac").with_(groups=groups), None)


@_honours_torch_function
def zer_o_(tensor: Tensor, gain: float = 1.0) -> Tensor:
    """Fill ``tensor`` with ZerO: gain·I* if out ≤ in, else gain·2^(−(m−1)/2)·H_m[:out, :in]; conv at the centre tap.

    Args:
        tensor: a weight ``(out, in, *kernel)``, filled in place; deterministic (no random draw).
        gain: the factor on every entry.

    Example:
        >>> import torch, winit.torch as wt
        >>> wt.zer_o_(torch.empty(2, 3)).tolist()  # out ≤ in: the partial identity
        [[1.0, 0.0, 0.0], [0.0, 1.0, 0.0]]
        >>> (wt.zer_o_(torch.empty(4, 2)) * 2**0.5).round().tolist()  # out > in: H_2's columns, c = 2^(-1/2)
        [[1.0, 1.0], [1.0, -1.0], [1.0, 1.0], [1.0, -1.0]]

    References:
        Zhao, Huang, Wu, Kong & Jacobs 2022, "ZerO Initialization: Initializing Neural Networks with only Zeros
        and Ones" (TMLR), Algorithm 1.
    """
    return _apply(tensor, get("zer_o").with_(gain=gain), None)


xavier_uniform_ = _gain_init(
    "xavier_uniform_", "glorot_uniform",
    """Fill ``tensor`` from U(−b, b), b = gain·√(6/(fan_in + fan_out)) (scheme ``glorot_uniform``).

    {args}

    Example:
        >>> import torch, winit.torch as wt
        >>> w = wt.xavier_uniform_(torch.empty(256, 128), generator=torch.Generator().manual_seed(0))
        >>> bool(w.abs().max() <= (6 / (128 + 256)) ** 0.5)  # b = √(6/(fan_in + fan_out))
        True

    References:
        Glorot & Bengio 2010, "Understanding the difficulty of training deep feedforward neural networks".
    """,
    torch_zero=nn.init.xavier_uniform_,
)  # fmt: skip
xavier_normal_ = _gain_init(
    "xavier_normal_", "glorot_normal",
    """Fill ``tensor`` from N(0, std²), std = gain·√(2/(fan_in + fan_out)), untruncated (scheme ``glorot_normal``).

    {args}

    Example:
        >>> import torch, winit.torch as wt
        >>> w = wt.xavier_normal_(torch.empty(256, 128), generator=torch.Generator().manual_seed(0))
        >>> round(w.std().item() / (2 / (128 + 256)) ** 0.5, 1)
        1.0

    References:
        Glorot & Bengio 2010, "Understanding the difficulty of training deep feedforward neural networks".
    """,
    torch_zero=nn.init.xavier_normal_,
)  # fmt: skip
kaiming_uniform_ = _kaiming_init(
    "kaiming_uniform_", "he_uniform",
    """Fill ``tensor`` from U(−b, b), b = √3·calculate_gain(nonlinearity, a)/√fan(mode) (scheme ``he_uniform``).

    {args}

    Example:
        >>> import torch, winit.torch as wt
        >>> w = wt.kaiming_uniform_(torch.empty(256, 128), generator=torch.Generator().manual_seed(0))
        >>> round(w.std().item() / (2 / 128) ** 0.5, 1)  # a=0: relu's gain √2, fan_in 128
        1.0

    References:
        He et al. 2015, "Delving Deep into Rectifiers: Surpassing Human-Level Performance on ImageNet Classification".
    """,
)  # fmt: skip
kaiming_normal_ = _kaiming_init(
    "kaiming_normal_", "he_normal",
    """Fill ``tensor`` from N(0, std²), std = calculate_gain(nonlinearity, a)/√fan(mode) (``he_normal``).

    {args}

    Example:
        >>> import torch, winit.torch as wt
        >>> w = wt.kaiming_normal_(torch.empty(256, 128), generator=torch.Generator().manual_seed(0))
        >>> round(w.std().item() / (2 / 128) ** 0.5, 1)  # a=0: relu's gain √2, fan_in 128
        1.0

    References:
        He et al. 2015, "Delving Deep into Rectifiers: Surpassing Human-Level Performance on ImageNet Classification".
    """,
)  # fmt: skip
orthogonal_ = _gain_init(
    "orthogonal_", "orthogonal",
    """Fill ``tensor`` (≥ 2-D, trailing axes flattened) with gain·Q, Q (semi-)orthogonal (scheme ``orthogonal``).

    {args}

    Example:
        >>> import torch, winit.torch as wt
        >>> w = wt.orthogonal_(torch.empty(256, 128), generator=torch.Generator().manual_seed(0))
        >>> torch.allclose(w.T @ w, torch.eye(128), atol=1e-5)  # orthonormal columns
        True

    References:
        Saxe, McClelland & Ganguli 2014, "Exact solutions to the nonlinear dynamics of learning in deep
        linear neural networks", ICLR.
    """,
    default=1, torch_zero=nn.init.orthogonal_,
)  # fmt: skip


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

    Args:
        tensor: the 2-D tensor filled in place.
        sparsity: the fraction of each column set to zero (≥ 0).
        std: the normal's standard deviation.
        generator, rng, seed, stream: torch's generator (None: its global one), or ``rng="portable"``:
            winit's Philox for the int ``seed`` and ``stream``, the same on every device (docs/torch.md).

    Example:
        >>> import torch, winit.torch as wt
        >>> w = wt.sparse_(torch.empty(10, 4), sparsity=0.3, rng="portable", seed=0)
        >>> (w == 0).sum(dim=0).tolist()
        [3, 3, 3, 3]

    References:
        Martens 2010, "Deep learning via Hessian-free optimization", ICML.
    """
    return sparse_fill(tensor, sparsity, std, generator, rng, seed, stream)


# -- schemes torch.nn.init lacks -----------------------------------------------------------------------
lecun_uniform_ = _gain_init(
    "lecun_uniform_",
    "lecun_uniform",
    """Fill ``tensor`` from U(−b, b), b = gain·√(3/fan_in) (scheme ``lecun_uniform``).

    {args}

    Example:
        >>> import torch, winit.torch as wt
        >>> w = wt.lecun_uniform_(torch.empty(256, 128), generator=torch.Generator().manual_seed(0))
        >>> round(w.std().item() / (1 / 128) ** 0.5, 1)
        1.0

    References:
        LeCun, Bottou, Orr & Müller 1998, "Efficient BackProp".
    """,
)
lecun_normal_ = _gain_init(
    "lecun_normal_",
    "lecun_normal",
    """Fill ``tensor`` from N(0, std²), std = gain·√(1/fan_in), untruncated (scheme ``lecun_normal``).

    {args}

    Example:
        >>> import torch, winit.torch as wt
        >>> w = wt.lecun_normal_(torch.empty(256, 128), generator=torch.Generator().manual_seed(0))
        >>> round(w.std().item() / (1 / 128) ** 0.5, 1)
        1.0

    References:
        LeCun, Bottou, Orr & Müller 1998, "Efficient BackProp"; with SELU, Klambauer et al. 2017,
        "Self-Normalizing Neural Networks".
    """,
)


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
    """Fill ``tensor`` with std = √(scale/fan(mode)); truncated_normal divides σ by 0.87962566103423978 (Keras/JAX).

    Args:
        tensor: the tensor filled in place; fans from the torch layout ``(out, in, *kernel)``.
        scale: the variance's numerator (2: He, 1: LeCun; with ``"fan_avg"`` 1: Glorot).
        mode: ``"fan_in"``, ``"fan_out"``, ``"fan_avg"`` or ``"fan_geo_avg"``.
        distribution: ``"truncated_normal"`` (cut at ±2σ), ``"normal"`` or ``"uniform"``.
        generator, rng, seed, stream: torch's generator (None: its global one), or ``rng="portable"``:
            winit's Philox for the int ``seed`` and ``stream``, the same on every device (docs/torch.md).

    Example:
        >>> import torch, winit.torch as wt
        >>> w = wt.variance_scaling_(torch.empty(256, 128), scale=2.0, rng="portable", seed=0)
        >>> round(w.std().item() / (2 / 128) ** 0.5, 1)
        1.0

    References:
        He et al. 2015, "Delving Deep into Rectifiers"; Glorot & Bengio 2010 (fan_avg).
    """
    portable = _draw(rng, seed, stream, generator)
    spec = get("variance_scaling").with_(scale=scale, mode=mode, distribution=distribution)
    return _apply(tensor, spec, generator, portable=portable)


glorot_uniform_ = xavier_uniform_
glorot_normal_ = xavier_normal_
he_uniform_ = kaiming_uniform_
he_normal_ = kaiming_normal_


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
    """Fill ``tensor`` from winit ``scheme`` (name or Scheme) with ``params`` changed; fans from ``layout``.

    Args:
        tensor: the tensor filled in place.
        scheme: a name from ``winit.schemes()`` (aliases too) or a :class:`winit.Scheme`.
        generator: the ``torch.Generator`` of the draw (None: torch's global one).
        layout: how the shape names its axes: ``"torch"`` ``(out, in, *kernel)``, ``"keras"``/``"flax"``
            ``(*kernel, in, out)``.
        params: the scheme's parameters to change (``winit.get(scheme).parameters``).

    Example:
        >>> import torch, winit.torch as wt
        >>> g = torch.Generator().manual_seed(0)
        >>> w = wt.init(torch.empty(256, 128), "he_normal", g, mode="fan_out")
        >>> round(w.std().item() / (2 / 256) ** 0.5, 1)
        1.0
    """
    spec = get(scheme)
    if params:
        spec = spec.with_(**params)
    return _apply(tensor, spec, generator, layout)
