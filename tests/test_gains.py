"""Activation gains against torch.nn.init.calculate_gain, and the activation -> scheme recommendation."""

from __future__ import annotations

import math

import pytest

import winit
from winit._gains import NONLINEARITIES

#: torch.nn.init.calculate_gain's names; winit adds "identity" (gain 1) on top.
TORCH_NONLINEARITIES = (
    "linear", "conv1d", "conv2d", "conv3d", "conv_transpose1d", "conv_transpose2d",
    "conv_transpose3d", "sigmoid", "tanh", "relu", "leaky_relu", "selu",
)  # fmt: skip


def test_table_covers_every_torch_nonlinearity() -> None:
    assert set(NONLINEARITIES) == {*TORCH_NONLINEARITIES, "identity"}


@pytest.mark.parametrize(
    ("name", "expected"),
    [("linear", 1.0), ("conv2d", 1.0), ("conv_transpose3d", 1.0), ("sigmoid", 1.0), ("identity", 1.0),
     ("tanh", 5.0 / 3.0), ("relu", math.sqrt(2.0)), ("selu", 0.75),
     ("leaky_relu", math.sqrt(2.0 / (1.0 + 0.01**2)))],
)  # fmt: skip
def test_gain_values_by_hand(name: str, expected: float) -> None:
    assert winit.calculate_gain(name) == pytest.approx(expected, rel=1e-15)


@pytest.mark.parametrize("name", TORCH_NONLINEARITIES)
def test_gain_matches_torch(name: str) -> None:
    torch = pytest.importorskip("torch")
    assert winit.calculate_gain(name) == pytest.approx(torch.nn.init.calculate_gain(name), rel=1e-15)


@pytest.mark.parametrize("slope", [0.0, 0.01, 0.2, 1.0, math.sqrt(5.0), -0.3, 3])
def test_leaky_relu_gain_matches_torch(slope: float) -> None:
    torch = pytest.importorskip("torch")
    expected = torch.nn.init.calculate_gain("leaky_relu", slope)
    assert winit.calculate_gain("leaky_relu", slope) == pytest.approx(expected, rel=1e-15)
    assert winit.calculate_gain("leaky_relu", slope) == pytest.approx(
        math.sqrt(2 / (1 + slope**2)), rel=1e-15
    )


def test_kaiming_uniform_default_slope_gives_bound_one_over_sqrt_fan_in() -> None:
    # torch's Linear default: kaiming_uniform_(a=√5) -> gain √(1/3) -> bound 1/√fan_in.
    assert winit.calculate_gain("leaky_relu", math.sqrt(5)) == pytest.approx(math.sqrt(1 / 3), rel=1e-15)


@pytest.mark.parametrize("name", ["relu", "tanh", "linear", "selu"])
def test_param_is_ignored_outside_leaky_relu_like_torch(name: str) -> None:
    assert winit.calculate_gain(name, 0.7) == winit.calculate_gain(name)


def test_unknown_nonlinearity_lists_accepted_names() -> None:
    with pytest.raises(ValueError, match=r"unknown nonlinearity 'swish'; accepted: .*leaky_relu.*selu"):
        winit.calculate_gain("swish")


def test_nonlinearity_must_be_a_string() -> None:
    with pytest.raises(TypeError, match="nonlinearity must be a string"):
        winit.calculate_gain(None)  # type: ignore[arg-type]


@pytest.mark.parametrize(("param", "error"), [(float("nan"), ValueError), (float("inf"), ValueError),
                                              ("0.2", TypeError), (True, TypeError)])  # fmt: skip
def test_bad_leaky_relu_slope_is_rejected(param: object, error: type[Exception]) -> None:
    with pytest.raises(error, match="negative slope"):
        winit.calculate_gain("leaky_relu", param)  # type: ignore[arg-type]


# -- recommend ---------------------------------------------------------------------------------

RELU_FAMILY = ("relu", "leaky_relu", "prelu", "elu", "gelu", "silu", "swish", "mish", "relu6", "softplus")
SATURATING = ("tanh", "sigmoid", "softsign", "linear")


@pytest.mark.parametrize("activation", RELU_FAMILY)
@pytest.mark.parametrize("distribution", ["normal", "uniform"])
def test_relu_family_gets_he(activation: str, distribution: str) -> None:
    assert winit.recommend(activation, distribution) == f"he_{distribution}"


@pytest.mark.parametrize("activation", SATURATING)
@pytest.mark.parametrize("distribution", ["normal", "uniform"])
def test_saturating_units_get_glorot(activation: str, distribution: str) -> None:
    assert winit.recommend(activation, distribution) == f"glorot_{distribution}"


@pytest.mark.parametrize("distribution", ["normal", "uniform"])
def test_selu_gets_lecun_normal(distribution: str) -> None:
    assert winit.recommend("selu", distribution) == "lecun_normal"


def test_default_distribution_is_normal_and_names_are_case_insensitive() -> None:
    assert winit.recommend("ReLU") == "he_normal"
    assert winit.recommend("Tanh") == "glorot_normal"


@pytest.mark.parametrize("activation", [*RELU_FAMILY, *SATURATING, "selu"])
def test_every_recommendation_is_a_real_scheme(activation: str) -> None:
    for distribution in ("normal", "uniform"):
        assert winit.get(winit.recommend(activation, distribution)).name in winit.schemes()


def test_unknown_activation_names_it_and_lists_accepted() -> None:
    with pytest.raises(ValueError, match=r"unknown activation 'sine'; accepted: .*relu.*tanh"):
        winit.recommend("sine")


def test_unknown_distribution_for_recommend_names_it() -> None:
    with pytest.raises(
        ValueError, match=r"unknown distribution 'truncated_normal'; accepted: normal, uniform"
    ):
        winit.recommend("relu", "truncated_normal")
