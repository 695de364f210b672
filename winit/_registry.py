"""The scheme catalogue: every built-in scheme, its defaults, and the aliases that resolve to it.

Each scheme is one data row: a :class:`Scheme` built from its pieces' parameters (docs/schemes.md).
"""

from __future__ import annotations

from typing import Final

from winit._schemes import Scheme
from winit._validate import suggest

_GAIN: Final = ("gain",)
_KAIMING: Final = ("negative_slope", "mode", "nonlinearity", "gain")

_BUILTIN: Final[tuple[Scheme, ...]] = (
    Scheme("zeros", "constant", value=0.0, description="every element 0"),
    Scheme("ones", "constant", value=1.0, description="every element 1"),
    Scheme("constant", "constant", value=0.0, parameters=("value",),
           description="every element = value"),
    Scheme("random_normal", "normal", mean=0.0, stddev=0.05, parameters=("mean", "stddev"),
           description="N(mean, stddev²), defaults mean 0, stddev 0.05 (Keras)"),
    Scheme("random_uniform", "uniform", minval=-0.05, maxval=0.05, parameters=("minval", "maxval"),
           description="U[minval, maxval), defaults [-0.05, 0.05) (Keras)"),
    Scheme("truncated_normal", "truncated_normal", mean=0.0, stddev=0.05,
           parameters=("mean", "stddev", "lower", "upper"),
           description="N(mean, stddev²) cut at mean ± 2·stddev (lower/upper in units of stddev)"),
    Scheme("glorot_uniform", "uniform", mode="fan_avg", parameters=_GAIN,
           description="U(−limit, limit), limit = gain·√(6/(fan_in + fan_out))"),
    Scheme("glorot_normal", "normal", mode="fan_avg", parameters=_GAIN,
           description="N(0, std²), std = gain·√(2/(fan_in + fan_out)), i.e. variance 2/(fan_in + fan_out): one law"),
    Scheme("he_uniform", "uniform", mode="fan_in", nonlinearity="leaky_relu", negative_slope=0.0,
           parameters=_KAIMING,
           description="U(−limit, limit), limit = √(6/fan_in) for ReLU; "
                       "limit = √3·calculate_gain(nonlinearity, a)/√fan"),
    Scheme("he_normal", "normal", mode="fan_in", nonlinearity="leaky_relu", negative_slope=0.0,
           parameters=_KAIMING,
           description="N(0, std²), std = √(2/fan_in) for ReLU; std = calculate_gain(nonlinearity, a)/√fan"),
    Scheme("lecun_uniform", "uniform", mode="fan_in", parameters=_GAIN,
           description="U(−limit, limit), limit = √(3/fan_in)"),
    Scheme("lecun_normal", "normal", mode="fan_in", parameters=_GAIN,
           description="N(0, std²), std = √(1/fan_in)"),
    Scheme("variance_scaling", "truncated_normal", mode="fan_in", scale=1.0,
           parameters=("scale", "mode", "distribution", "gain"),
           description="std = √(scale/fan(mode)); truncated_normal (default) divides σ by 0.87962566103423978 "
                       "so the truncated law keeps that std; normal; or uniform with limit √(3·scale/fan)"),
    Scheme("orthogonal", "orthogonal", parameters=_GAIN,
           description="gain·Q with Q Haar orthogonal (QR of a Gaussian with the sign of diag(R))"),
    Scheme("identity", "identity", parameters=_GAIN, description="gain·I (2-D; ones on the main diagonal)"),
    Scheme("dirac", "dirac", parameters=("groups", "gain"),
           description="convolution identity: gain at the kernel centre of matching in/out channels, per group"),
    Scheme("zer_o", "zer_o", parameters=_GAIN,
           description="ZerO (Zhao et al. 2022): gain·partial identity if out ≤ in, else gain·c·H[:out, :in] "
                       "(Sylvester Hadamard of order 2^m, m = ⌈log₂ out⌉, c = 2^(−(m−1)/2)); kernel centre only"),
)  # fmt: skip

SCHEMES: Final[dict[str, Scheme]] = {scheme.name: scheme for scheme in _BUILTIN}

#: alias -> registry name: PyTorch's and short spellings of the same law.
ALIASES: Final[dict[str, str]] = {
    "xavier_uniform": "glorot_uniform",
    "xavier_normal": "glorot_normal",
    "kaiming_uniform": "he_uniform",
    "kaiming_normal": "he_normal",
    "zero": "zeros",
    "one": "ones",
    "normal": "random_normal",
    "uniform": "random_uniform",
    "trunc_normal": "truncated_normal",
    "eye": "identity",
}
#: Case-sensitive spellings, checked before lower-casing: "ZerO" lower-cases to "zero", the alias of zeros.
EXACT_ALIASES: Final[dict[str, str]] = {"ZerO": "zer_o"}


def schemes() -> list[str]:
    """Sorted names of the built-in schemes (aliases excluded; ``winit.ALIASES`` maps those).

    Examples:
        >>> import winit
        >>> winit.schemes()[:4]
        ['constant', 'dirac', 'glorot_normal', 'glorot_uniform']
        >>> "xavier_uniform" in winit.schemes(), winit.ALIASES["xavier_uniform"]
        (False, 'glorot_uniform')
    """
    return sorted(SCHEMES)


def get(name: str | Scheme) -> Scheme:
    """Return the scheme called ``name`` (aliases resolve: ``xavier_*`` → ``glorot_*``, ``kaiming_*`` → ``he_*``).

    Names are case-insensitive and ``-`` reads as ``_``. The scheme is frozen: ``Scheme.with_`` gives a
    changed copy, ``Scheme.std``/``Scheme.bound`` its numbers for given fans, ``Scheme.plan`` the law
    for a shape.

    Args:
        name: a scheme name or alias; a :class:`~winit.Scheme` passes through unchanged.

    Returns:
        The registry's :class:`~winit.Scheme`.

    Raises:
        ValueError: an unknown name; the message lists the schemes and suggests the closest.
        TypeError: ``name`` is neither a string nor a Scheme.

    Examples:
        He's std √(2/fan_in) for a ReLU layer with fan_in 64:

        >>> import winit
        >>> he = winit.get("Kaiming-Normal")
        >>> he.name, round(he.std(fan_in=64), 6)
        ('he_normal', 0.176777)
        >>> winit.get("xavier_uniform") is winit.get("glorot_uniform")
        True

    References:
        - ``glorot_*`` (``xavier_*``): X. Glorot, Y. Bengio, "Understanding the difficulty of training deep
          feedforward neural networks", AISTATS 2010.
        - ``he_*`` (``kaiming_*``): K. He, X. Zhang, S. Ren, J. Sun, "Delving Deep into Rectifiers:
          Surpassing Human-Level Performance on ImageNet Classification", ICCV 2015, arXiv:1502.01852.
        - ``lecun_*``: Y. LeCun, L. Bottou, G. Orr, K.-R. Müller, "Efficient BackProp", Neural Networks:
          Tricks of the Trade, 1998; ``lecun_normal`` for SELU: G. Klambauer et al., "Self-Normalizing
          Neural Networks", NeurIPS 2017, arXiv:1706.02515.
        - ``orthogonal``: A. Saxe, J. McClelland, S. Ganguli, "Exact solutions to the nonlinear dynamics of
          learning in deep linear neural networks", ICLR 2014, arXiv:1312.6120.
        - ``dirac``: S. Zagoruyko, N. Komodakis, "DiracNets: Training Very Deep Neural Networks Without
          Skip-Connections", 2017, arXiv:1706.00388 (``torch.nn.init.dirac_``).
        - ``variance_scaling``: Keras' and JAX's ``VarianceScaling`` (the rule above with a free scale).
    """
    if isinstance(name, Scheme):
        return name
    if not isinstance(name, str):
        raise TypeError(f"scheme must be a name or a winit.Scheme, got {name!r}")
    if name.strip() in EXACT_ALIASES:
        return SCHEMES[EXACT_ALIASES[name.strip()]]
    key = name.strip().lower().replace("-", "_")
    key = ALIASES.get(key, key)
    if key not in SCHEMES:
        known = [*SCHEMES, *ALIASES]
        raise ValueError(
            f"unknown scheme {name!r}; known schemes: {', '.join(schemes())}.{suggest(key, known)}"
        )
    return SCHEMES[key]
