"""Activation gains (PyTorch's table) and the activation -> scheme recommendation."""

from __future__ import annotations

import math
from typing import Final

from winit._validate import choice, real

_UNIT_GAIN: Final = (
    "linear", "identity", "conv1d", "conv2d", "conv3d",
    "conv_transpose1d", "conv_transpose2d", "conv_transpose3d", "sigmoid",
)  # fmt: skip
NONLINEARITIES: Final[tuple[str, ...]] = (*_UNIT_GAIN, "tanh", "relu", "leaky_relu", "selu")

#: activation -> recommended scheme family (He for the ReLU family, Glorot for saturating
#: and linear units, LeCun normal for self-normalizing SELU), per the domain notes.
_FAMILY: Final[dict[str, str]] = {
    **{name: "he" for name in ("relu", "leaky_relu", "prelu", "rrelu", "relu6", "elu", "gelu",
                               "silu", "swish", "mish", "softplus")},
    **{name: "glorot" for name in ("tanh", "sigmoid", "hard_tanh", "hard_sigmoid", "softsign",
                                   "softmax", "linear", "identity")},
    "selu": "lecun",
}  # fmt: skip
ACTIVATIONS: Final[tuple[str, ...]] = tuple(sorted(_FAMILY))


def calculate_gain(nonlinearity: str, param: float | None = None) -> float:
    """Return the gain g for ``nonlinearity`` (std = g·√(scale/fan)), with PyTorch's values.

    linear, identity, ``conv*``, ``conv_transpose*``, sigmoid → 1; tanh → 5/3; relu → √2;
    leaky_relu → √(2/(1+a²)) with a = ``param`` (default 0.01); selu → 3/4.

    Args:
        nonlinearity: one of linear, identity, conv1d/2d/3d, conv_transpose1d/2d/3d, sigmoid, tanh,
            relu, leaky_relu, selu.
        param: leaky_relu's negative slope a (default 0.01); checked but unused for the others, as torch does.

    Returns:
        The gain, equal to ``torch.nn.init.calculate_gain(nonlinearity, param)``.

    Raises:
        ValueError: an unknown nonlinearity, or a slope whose square overflows.

    Examples:
        >>> import winit
        >>> winit.calculate_gain("relu") == 2**0.5
        True
        >>> round(winit.calculate_gain("leaky_relu", 0.2), 6), round(winit.calculate_gain("tanh"), 6)
        (1.38675, 1.666667)

    References:
        ReLU/leaky ReLU √(2/(1+a²)): K. He et al., "Delving Deep into Rectifiers", ICCV 2015,
        arXiv:1502.01852. SELU's 3/4 is PyTorch's choice (``torch.nn.init.calculate_gain``), kept for parity;
        self-normalizing nets want gain 1 with ``lecun_normal`` (Klambauer et al., NeurIPS 2017).
    """
    name = choice("nonlinearity", nonlinearity, NONLINEARITIES)
    if name == "leaky_relu":
        slope = 0.01 if param is None else real("leaky_relu negative slope", param)
        try:
            return math.sqrt(2.0 / (1.0 + slope**2))
        except (
            OverflowError
        ):  # a² beyond float64: the gain (≈ √2/|a|) would underflow every dtype but float64
            raise ValueError(
                f"leaky_relu negative slope must have |a| <= 1e154 (a² must be a finite float), got {slope!r}"
            ) from None
    if param is not None:
        real("param", param)  # torch ignores it for other nonlinearities; still reject junk
    if name == "tanh":
        return 5.0 / 3.0
    if name == "relu":
        return math.sqrt(2.0)
    if name == "selu":
        return 0.75
    return 1.0


def recommend(activation: str, distribution: str = "normal") -> str:
    """The scheme for ``activation``: ReLU family → ``he_*``, tanh/sigmoid → ``glorot_*``, SELU → ``lecun_normal``.

    Args:
        activation: an activation name (relu, leaky_relu, gelu, silu, tanh, sigmoid, softmax, linear, selu, ...).
        distribution: ``normal`` or ``uniform`` (SELU always gets ``lecun_normal``).

    Returns:
        A registry scheme name for :func:`~winit.get` and :func:`~winit.init`.

    Raises:
        ValueError: an unknown activation or distribution (the message lists the accepted ones).

    Examples:
        >>> import winit
        >>> winit.recommend("relu"), winit.recommend("tanh", "uniform"), winit.recommend("selu")
        ('he_normal', 'glorot_uniform', 'lecun_normal')

    References:
        He et al., ICCV 2015 (ReLU family); Glorot and Bengio, AISTATS 2010 (saturating and linear
        units); Klambauer et al., "Self-Normalizing Neural Networks", NeurIPS 2017 (SELU).
    """
    family = _FAMILY[
        choice("activation", activation.lower() if isinstance(activation, str) else activation, ACTIVATIONS)
    ]
    kind = choice("distribution", distribution, ("normal", "uniform"))
    if family == "lecun":
        return "lecun_normal"  # self-normalizing nets are derived for a Gaussian start
    return f"{family}_{kind}"
