"""Exact std/bound/sigma formulas of every scheme, the registry, aliases and ``Scheme.with_``."""

from __future__ import annotations

import dataclasses
import math

import numpy as np
import pytest

import winit
from winit import TRUNCATED_NORMAL_STD_2SIGMA, Scheme
from winit._laws import Constant, Normal, TruncatedNormal, Uniform, truncated_normal_moments

TRUNC = 0.87962566103423978
ALL_SCHEMES = [
    "constant", "dirac", "glorot_normal", "glorot_uniform", "he_normal", "he_uniform", "identity",
    "lecun_normal", "lecun_uniform", "ones", "orthogonal", "random_normal", "random_uniform",
    "truncated_normal", "variance_scaling", "zer_o", "zeros",
]  # fmt: skip
#: (fan_in, fan_out) pairs used for the formula grid: square, wide, tall, a conv.
FANS = [(3, 3), (10, 5), (5, 10), (36, 72), (1, 1)]


# -- registry ----------------------------------------------------------------------------------


def test_schemes_sorted_and_complete() -> None:
    names = winit.schemes()
    assert names == sorted(names)
    assert names == ALL_SCHEMES
    assert not set(names) & set(winit.ALIASES)


@pytest.mark.parametrize("name", ALL_SCHEMES)
def test_get_returns_the_named_frozen_scheme(name: str) -> None:
    scheme = winit.get(name)
    assert isinstance(scheme, Scheme)
    assert scheme.name == name
    assert scheme.description  # every scheme states its formula
    assert winit.get(scheme) is scheme


@pytest.mark.parametrize(("alias", "target"), sorted(winit.ALIASES.items()))
def test_aliases_resolve(alias: str, target: str) -> None:
    assert winit.get(alias) is winit.get(target)


def test_named_aliases_and_spelling_normalisation() -> None:
    assert winit.get("xavier_uniform").name == "glorot_uniform"
    assert winit.get("xavier_normal").name == "glorot_normal"
    assert winit.get("kaiming_uniform").name == "he_uniform"
    assert winit.get("kaiming_normal").name == "he_normal"
    assert winit.get(" Xavier-Uniform ").name == "glorot_uniform"


def test_unknown_scheme_suggests_close_matches() -> None:
    with pytest.raises(ValueError, match=r"unknown scheme 'glorot_unifrom'.*Did you mean 'glorot_uniform'"):
        winit.get("glorot_unifrom")
    with pytest.raises(ValueError, match=r"unknown scheme 'kaiming_norml'.*'kaiming_normal'"):
        winit.get("kaiming_norml")


def test_unknown_scheme_lists_known_schemes() -> None:
    with pytest.raises(ValueError, match=r"known schemes: constant, dirac, glorot_normal"):
        winit.get("fixup")


def test_scheme_must_be_a_name_or_scheme() -> None:
    with pytest.raises(TypeError, match="got 3"):
        winit.get(3)  # type: ignore[arg-type]


# -- with_ -------------------------------------------------------------------------------------


def test_with_returns_changed_copy_and_leaves_original() -> None:
    he = winit.get("he_normal")
    changed = he.with_(mode="fan_out", negative_slope=0.2)
    assert (changed.mode, changed.negative_slope) == ("fan_out", 0.2)
    assert (he.mode, he.negative_slope) == ("fan_in", 0.0)
    assert winit.get("he_normal") is he
    assert changed != he


def test_scheme_is_frozen() -> None:
    scheme = winit.get("glorot_uniform")
    with pytest.raises(dataclasses.FrozenInstanceError):
        scheme.gain = 2.0  # type: ignore[misc]
    assert scheme.gain == 1.0


def test_with_unknown_parameter_names_accepted_ones() -> None:
    with pytest.raises(TypeError, match=r"'glorot_uniform' has no parameter 'mode'; accepted: gain"):
        winit.get("glorot_uniform").with_(mode="fan_in")
    with pytest.raises(TypeError, match=r"has no parameter 'slope'; accepted: negative_slope, mode"):
        winit.get("he_uniform").with_(slope=0.1)
    with pytest.raises(TypeError, match=r"'zeros' has no parameter 'value'; accepted: none"):
        winit.get("zeros").with_(value=3.0)


def test_a_is_an_alias_for_negative_slope() -> None:
    assert winit.get("he_uniform").with_(a=0.2) == winit.get("he_uniform").with_(negative_slope=0.2)
    assert winit.get("he_uniform").with_(a=0.2).negative_slope == 0.2


def test_std_and_val_aliases() -> None:
    assert winit.get("random_normal").with_(std=0.3).stddev == 0.3
    assert winit.get("constant").with_(val=0.3).value == 0.3


def test_with_validates_values() -> None:
    with pytest.raises(ValueError, match=r"gain must be > 0, got -1\.0"):
        winit.get("glorot_uniform").with_(gain=-1.0)


# -- exact formulas ----------------------------------------------------------------------------


def test_truncated_normal_constant_is_keras_and_jax_value() -> None:
    assert TRUNCATED_NORMAL_STD_2SIGMA == TRUNC


def test_glorot_uniform_worked_example() -> None:
    # fan_in = fan_out = 3: limit √(6/6) = 1.
    assert winit.get("glorot_uniform").bound(3, 3) == pytest.approx(1.0, abs=1e-12)
    # Glorot & Bengio's 10 -> 5 dense layer: limit √(6/15).
    assert winit.get("xavier_uniform").bound(10, 5) == pytest.approx(math.sqrt(6 / 15), rel=1e-14)
    plan = winit.plan("glorot_uniform", (10, 5), layout="keras")
    assert plan.bound == pytest.approx(math.sqrt(6 / 15), rel=1e-14)
    assert plan.law == Uniform(-plan.bound, plan.bound)


@pytest.mark.parametrize(("fan_in", "fan_out"), FANS)
def test_glorot(fan_in: int, fan_out: int) -> None:
    uniform, normal = winit.get("glorot_uniform"), winit.get("glorot_normal")
    assert uniform.bound(fan_in, fan_out) == pytest.approx(math.sqrt(6 / (fan_in + fan_out)), rel=1e-14)
    assert normal.std(fan_in, fan_out) == pytest.approx(math.sqrt(2 / (fan_in + fan_out)), rel=1e-14)
    assert normal.sigma(fan_in, fan_out) == normal.std(fan_in, fan_out)  # untruncated
    assert normal.with_(gain=3.0).std(fan_in, fan_out) == pytest.approx(
        3 * math.sqrt(2 / (fan_in + fan_out)), rel=1e-14
    )


def test_glorot_normal_description_states_std_and_variance() -> None:
    text = winit.get("glorot_normal").description
    assert "√(2/(fan_in + fan_out))" in text
    assert "variance 2/(fan_in + fan_out)" in text


@pytest.mark.parametrize(("fan_in", "fan_out"), FANS)
def test_he_defaults_are_relu(fan_in: int, fan_out: int) -> None:
    assert winit.get("he_normal").std(fan_in, fan_out) == pytest.approx(math.sqrt(2 / fan_in), rel=1e-14)
    assert winit.get("he_uniform").bound(fan_in, fan_out) == pytest.approx(math.sqrt(6 / fan_in), rel=1e-14)
    assert winit.get("he_normal").effective_gain == pytest.approx(math.sqrt(2), rel=1e-15)


@pytest.mark.parametrize(("fan_in", "fan_out"), FANS)
def test_he_leaky_relu_fan_out(fan_in: int, fan_out: int) -> None:
    scheme = winit.get("kaiming_normal").with_(a=0.2, mode="fan_out")
    gain = math.sqrt(2 / (1 + 0.2**2))
    assert scheme.std(fan_in, fan_out) == pytest.approx(gain / math.sqrt(fan_out), rel=1e-14)
    uniform = winit.get("kaiming_uniform").with_(a=0.2, mode="fan_out")
    assert uniform.bound(fan_in, fan_out) == pytest.approx(
        math.sqrt(3) * gain / math.sqrt(fan_out), rel=1e-14
    )


def test_he_uniform_with_torch_linear_slope_gives_one_over_sqrt_fan_in() -> None:
    assert winit.get("he_uniform").with_(a=math.sqrt(5)).bound(64, 10) == pytest.approx(1 / 8, rel=1e-14)


def test_he_with_other_nonlinearities() -> None:
    assert winit.get("he_normal").with_(nonlinearity="tanh").std(25, 1) == pytest.approx(
        (5 / 3) / 5, rel=1e-14
    )
    assert winit.get("he_normal").with_(nonlinearity="selu").std(16, 1) == pytest.approx(0.75 / 4, rel=1e-14)


@pytest.mark.parametrize(("fan_in", "fan_out"), FANS)
def test_lecun(fan_in: int, fan_out: int) -> None:
    assert winit.get("lecun_normal").std(fan_in, fan_out) == pytest.approx(math.sqrt(1 / fan_in), rel=1e-14)
    assert winit.get("lecun_uniform").bound(fan_in, fan_out) == pytest.approx(
        math.sqrt(3 / fan_in), rel=1e-14
    )
    assert winit.get("lecun_normal").sigma(fan_in, fan_out) == winit.get("lecun_normal").std(fan_in, fan_out)


def _fan(mode: str, fan_in: int, fan_out: int) -> float:
    return {
        "fan_in": fan_in,
        "fan_out": fan_out,
        "fan_avg": (fan_in + fan_out) / 2,
        "fan_geo_avg": math.sqrt(fan_in * fan_out),
    }[mode]


@pytest.mark.parametrize("mode", ["fan_in", "fan_out", "fan_avg", "fan_geo_avg"])
@pytest.mark.parametrize("scale", [1.0, 2.0, 0.1])
@pytest.mark.parametrize(("fan_in", "fan_out"), [(10, 5), (36, 72)])
def test_variance_scaling_grid(mode: str, scale: float, fan_in: int, fan_out: int) -> None:
    base = winit.get("variance_scaling").with_(mode=mode, scale=scale)
    target = math.sqrt(scale / _fan(mode, fan_in, fan_out))

    truncated = base  # default distribution
    assert truncated.distribution == "truncated_normal"
    assert truncated.std(fan_in, fan_out) == pytest.approx(target, rel=1e-14)
    assert truncated.sigma(fan_in, fan_out) == pytest.approx(target / TRUNC, rel=1e-14)

    for spelling in ("normal", "untruncated_normal"):
        normal = base.with_(distribution=spelling)
        assert normal.distribution == "normal"
        assert normal.std(fan_in, fan_out) == pytest.approx(target, rel=1e-14)
        assert normal.sigma(fan_in, fan_out) == pytest.approx(target, rel=1e-14)

    uniform = base.with_(distribution="uniform")
    limit = math.sqrt(3 * scale / _fan(mode, fan_in, fan_out))
    assert uniform.bound(fan_in, fan_out) == pytest.approx(limit, rel=1e-14)
    assert uniform.std(fan_in, fan_out) == pytest.approx(target, rel=1e-14)


@pytest.mark.parametrize(
    ("distribution", "law_type"),
    [("truncated_normal", TruncatedNormal), ("normal", Normal), ("untruncated_normal", Normal),
     ("uniform", Uniform)],
)  # fmt: skip
def test_variance_scaling_plan_law(distribution: str, law_type: type) -> None:
    # Keras Conv2D(8) on 4 channels, 3x3: fan_in = 36, fan_out = 72, he-style scale 2.
    plan = winit.plan("variance_scaling", (3, 3, 4, 8), layout="keras", scale=2.0, distribution=distribution)
    target = math.sqrt(2.0 / 36)
    assert isinstance(plan.law, law_type)
    assert plan.std == pytest.approx(target, rel=1e-14)
    assert plan.bound == pytest.approx(math.sqrt(3) * target, rel=1e-14)
    if isinstance(plan.law, TruncatedNormal):
        assert plan.law.sigma == pytest.approx(target / TRUNC, rel=1e-14)
        assert (plan.law.lower, plan.law.upper) == (-2.0, 2.0)
    elif isinstance(plan.law, Normal):
        assert plan.law.sigma == pytest.approx(target, rel=1e-14)
    else:
        assert plan.law == Uniform(-plan.bound, plan.bound)


def test_keras_equivalents_agree() -> None:
    vs = winit.get("variance_scaling")
    fi, fo = 36, 72
    assert vs.with_(scale=2.0, distribution="normal").std(fi, fo) == pytest.approx(
        winit.get("he_normal").std(fi, fo), rel=1e-14
    )
    assert vs.with_(mode="fan_avg", distribution="uniform").bound(fi, fo) == pytest.approx(
        winit.get("glorot_uniform").bound(fi, fo), rel=1e-14
    )
    assert vs.with_(distribution="uniform").bound(fi, fo) == pytest.approx(
        winit.get("lecun_uniform").bound(fi, fo), rel=1e-14
    )


def test_random_normal_and_uniform_keras_defaults() -> None:
    normal, uniform = winit.get("random_normal"), winit.get("random_uniform")
    assert (normal.mean, normal.stddev) == (0.0, 0.05)
    assert normal.std() == 0.05
    assert (uniform.minval, uniform.maxval) == (-0.05, 0.05)
    assert uniform.bound() == pytest.approx(0.05, rel=1e-15)
    assert uniform.std() == pytest.approx(0.1 / math.sqrt(12), rel=1e-14)
    assert winit.plan("random_uniform", (3, 4)).law == Uniform(-0.05, 0.05)
    assert winit.plan("random_normal", (3, 4), stddev=0.2, mean=1.0).law == Normal(1.0, 0.2)


def test_truncated_normal_std_is_stddev_times_correction() -> None:
    scheme = winit.get("truncated_normal")
    assert scheme.sigma() == 0.05
    assert scheme.std() == pytest.approx(0.05 * TRUNC, rel=1e-15)
    assert scheme.with_(stddev=2.0).std() == pytest.approx(2.0 * TRUNC, rel=1e-15)
    assert winit.plan("truncated_normal", (4, 4)).law == TruncatedNormal(0.0, 0.05, -2.0, 2.0)


WINDOWS = [(-2.0, 2.0), (-1.0, 3.0), (-3.0, -1.0), (0.5, 4.0), (-0.5, 0.5), (0.0, 10.0), (5.0, 6.0),
           (-6.0, -5.0), (3.0, 3.5), (-8.0, 8.0)]  # fmt: skip


@pytest.mark.parametrize(("lower", "upper"), WINDOWS)
def test_truncated_normal_moments_match_scipy(lower: float, upper: float) -> None:
    truncnorm = pytest.importorskip("scipy.stats").truncnorm
    mean, std = truncated_normal_moments(lower, upper)
    assert mean == pytest.approx(truncnorm.mean(lower, upper), rel=1e-12, abs=1e-15)
    assert std == pytest.approx(truncnorm.std(lower, upper), rel=1e-10)


@pytest.mark.parametrize(("lower", "upper"), [(-1.0, 3.0), (-0.5, 0.5), (0.0, 2.0)])
def test_truncated_normal_scheme_std_for_other_windows(lower: float, upper: float) -> None:
    truncnorm = pytest.importorskip("scipy.stats").truncnorm
    scheme = winit.get("truncated_normal").with_(stddev=0.3, lower=lower, upper=upper)
    assert scheme.std() == pytest.approx(0.3 * truncnorm.std(lower, upper), rel=1e-10)
    assert scheme.sigma() == 0.3


def test_scipy_agrees_with_the_constant() -> None:
    truncnorm = pytest.importorskip("scipy.stats").truncnorm
    assert truncnorm.std(-2, 2) == pytest.approx(TRUNC, rel=1e-15)


@pytest.mark.parametrize("name", ["zeros", "ones", "constant"])
def test_constants(name: str) -> None:
    value = {"zeros": 0.0, "ones": 1.0, "constant": 0.0}[name]
    plan = winit.plan(name, (3, 4))
    assert plan.law == Constant(value)
    assert plan.std == 0.0
    assert winit.plan("constant", (2,), value=-2.5).law == Constant(-2.5)


# -- structured schemes: std is the root mean square of the entries ------------------------------


def _rms(array: np.ndarray) -> float:
    return float(np.sqrt(np.mean(np.square(array.astype(np.float64)))))


@pytest.mark.parametrize(
    ("shape", "layout"),
    [((4, 6), "torch"), ((6, 4), "torch"), ((5, 5), "keras"), ((8, 4, 3, 3), "torch"), ((3, 3, 4, 8), "keras"),
     ((3, 3, 8, 4), "keras"), ((2, 16, 3), "torch")],
)  # fmt: skip
@pytest.mark.parametrize("gain", [1.0, 2.5])
def test_orthogonal_std_is_rms(shape: tuple[int, ...], layout: str, gain: float) -> None:
    plan = winit.plan("orthogonal", shape, layout=layout, gain=gain)
    sample = winit.init("orthogonal", shape, layout=layout, gain=gain, seed=0, dtype="float64")
    assert plan.std == pytest.approx(_rms(sample), rel=1e-10)
    assert plan.bound == pytest.approx(math.sqrt(3) * plan.std, rel=1e-14)


@pytest.mark.parametrize("shape", [(4, 6), (6, 4), (5, 5), (1, 7)])
@pytest.mark.parametrize("gain", [1.0, 0.5])
def test_identity_std_is_rms(shape: tuple[int, ...], gain: float) -> None:
    plan = winit.plan("identity", shape, gain=gain)
    sample = winit.init("identity", shape, gain=gain)
    assert plan.std == pytest.approx(_rms(sample), rel=1e-7)
    assert winit.get("identity").with_(gain=gain).std(plan.fan_in, plan.fan_out) == pytest.approx(plan.std)


@pytest.mark.parametrize(
    ("shape", "layout", "groups"),
    [((4, 2, 3, 3), "torch", 1), ((4, 2, 3, 3), "torch", 2), ((2, 4, 3), "torch", 1), ((6, 2, 3), "torch", 3),
     ((3, 3, 2, 4), "keras", 2), ((8, 1, 3, 3, 3), "torch", 8), ((6, 4, 3), "torch", 2)],
)  # fmt: skip
def test_dirac_std_is_rms(shape: tuple[int, ...], layout: str, groups: int) -> None:
    plan = winit.plan("dirac", shape, layout=layout, groups=groups, gain=2.0)
    sample = winit.init("dirac", shape, layout=layout, groups=groups, gain=2.0)
    assert plan.std == pytest.approx(_rms(sample), rel=1e-7)


# -- plans ---------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "name", ["glorot_uniform", "glorot_normal", "he_uniform", "he_normal", "lecun_uniform", "lecun_normal",
             "variance_scaling"],
)  # fmt: skip
def test_plan_numbers_equal_scheme_numbers(name: str) -> None:
    plan = winit.plan(name, (8, 4, 3, 3), layout="torch")
    scheme = winit.get(name)
    assert plan.std == scheme.std(36, 72)
    assert plan.bound == pytest.approx(scheme.bound(36, 72), rel=1e-15)
    assert plan.gain == scheme.effective_gain
    if name.endswith("uniform"):
        assert plan.law == Uniform(-plan.bound, plan.bound)


def test_explain_puts_the_numbers_in() -> None:
    text = winit.plan("glorot_uniform", (10, 5), layout="keras").explain()
    assert "fan_in = 10, fan_out = 5" in text
    assert "(10 + 5)/2 = 7.5" in text
    assert f"{math.sqrt(6 / 15):.6g}" in text
