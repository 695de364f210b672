"""A scheme is a composition of pieces (fan rule, variance rule, gain, multiplier, distribution)."""

from __future__ import annotations

import math

import numpy as np
import pytest

import winit
from winit import Scheme
from winit._laws import Normal, Orthogonal, Uniform
from winit._pieces import FanRule, Gain, Multiplier, NormalDist, VarianceRule
from winit._registry import SCHEMES


def _rms(values: np.ndarray) -> float:
    return float(np.sqrt(np.mean(np.square(values.astype(np.float64)))))


# -- one source of truth for orthogonal's std -----------------------------------------------------------
@pytest.mark.parametrize(
    ("shape", "layout", "receptive_field"),
    [
        ((64, 3, 3, 3), "torch", 9),
        ((3, 3, 3, 64), "keras", 9),
        ((576, 27), "torch", 1),
        ((16, 64), "torch", 1),
    ],
)
def test_orthogonal_std_plan_and_samples_agree(
    shape: tuple[int, ...], layout: str, receptive_field: int
) -> None:
    """Before: std(27, 576) = 1/24 while the plan and the samples of a (64, 3, 3, 3) kernel gave 1/8."""
    scheme = winit.get("orthogonal").with_(gain=1.5)
    plan = scheme.plan(shape, layout)
    std = scheme.std(plan.fan_in, plan.fan_out, receptive_field=receptive_field)
    assert plan.std == pytest.approx(std, rel=1e-15)
    assert plan.bound == pytest.approx(math.sqrt(3.0) * std, rel=1e-15)
    assert scheme.bound(plan.fan_in, plan.fan_out, receptive_field=receptive_field) == pytest.approx(
        plan.bound
    )
    # gain·Q has exactly this RMS (Q's rows or columns are orthonormal), so float32 rounding is the only error.
    sample = winit.init(scheme, shape, layout=layout, seed=0)
    assert _rms(sample) == pytest.approx(std, rel=1e-5)


def test_fans_alone_do_not_fix_an_orthogonal_kernels_rms() -> None:
    """(576, 27) and (64, 3, 3, 3) share fans (27, 576); the receptive field tells them apart."""
    scheme = winit.get("orthogonal")
    assert scheme.std(27, 576) == pytest.approx(1 / 24) == scheme.plan((576, 27)).std
    assert scheme.std(27, 576, receptive_field=9) == pytest.approx(1 / 8) == scheme.plan((64, 3, 3, 3)).std


# -- μP's readout: std = multiplier / fan_in ----------------------------------------------------------
def test_mup_readout_is_lecun_normal_with_fan_power_one() -> None:
    """std ∝ 1/fan_in (variance ∝ fan^-2): fan_power=1.0 with a multiplier; before: not expressible."""
    readout = winit.get("lecun_normal").with_(fan_power=1.0, multiplier=2.0)
    assert readout.fan_power == 1.0 and readout.multiplier == 2.0
    assert readout.std(256, 10) == 2.0 / 256
    plan = readout.plan((64, 256))  # torch Linear(256 → 64)
    assert plan.std == 2.0 / 256 and plan.bound == pytest.approx(math.sqrt(3.0) * 2.0 / 256)
    assert isinstance(plan.law, Normal) and plan.law.sigma == 2.0 / 256
    assert plan.law.variance == pytest.approx((2.0 / 256) ** 2, rel=1e-15)
    assert "std      multiplier·gain·(scale/fan)^1 = 2·1·(1/256)^1 = 0.0078125" in plan.explain()
    assert "multiplier ×2" in plan.explain()
    # a 5% wrong std is far outside the ~0.1% sampling error of 256·1024 draws
    values = winit.init(readout, (1024, 256), layout="torch", seed=0)
    assert float(np.std(values)) == pytest.approx(2.0 / 256, rel=0.01)


@pytest.mark.parametrize("name", ["he_uniform", "glorot_normal", "variance_scaling"])
def test_fan_power_and_multiplier_compose_with_every_variance_family(name: str) -> None:
    base = winit.get(name)
    scheme = base.with_(fan_power=1.0, multiplier=3.0)
    fan = base.fan(100, 40)
    assert scheme.std(100, 40) == pytest.approx(3.0 * base.std(100, 40) * math.sqrt(base.scale / fan) ** 1)
    plan = scheme.plan((40, 100))
    assert plan.std == pytest.approx(scheme.std(100, 40), rel=1e-15)
    if isinstance(plan.law, Uniform):
        assert plan.law.high == pytest.approx(plan.bound, rel=1e-15)


def test_defaults_leave_every_registry_scheme_unchanged() -> None:
    """fan_power ½ and multiplier 1 are the identity: with_ them explicitly gives an equal scheme."""
    for name, scheme in SCHEMES.items():
        if scheme.mode is not None:
            assert scheme.with_(fan_power=0.5, multiplier=1.0) == scheme, name
            assert hash(scheme.with_(fan_power=0.5)) == hash(scheme)


def test_fan_power_and_multiplier_are_checked() -> None:
    with pytest.raises(TypeError, match=r"'orthogonal' has no parameter 'fan_power'; accepted: gain"):
        winit.get("orthogonal").with_(fan_power=1.0)
    with pytest.raises(ValueError, match=r"fan_power=1\.0 needs a fan mode"):
        Scheme("x", "normal", fan_power=1.0)
    with pytest.raises(ValueError, match="fan_power must be > 0"):
        winit.get("lecun_normal").with_(fan_power=0.0)
    with pytest.raises(ValueError, match="multiplier must be > 0"):
        winit.get("lecun_normal").with_(multiplier=-1.0)


# -- the pieces -----------------------------------------------------------------------------------------
def test_a_scheme_is_its_pieces() -> None:
    he = winit.get("he_normal").with_(a=0.2)
    assert he.fans == FanRule("fan_in") and he.variance == VarianceRule(1.0, 0.5)
    assert he.gain_rule == Gain(1.0, "leaky_relu", 0.2) and he.post == Multiplier(1.0)
    assert he.dist == NormalDist()
    assert not hasattr(he.dist, "minval")  # a normal scheme carries no uniform fields any more
    assert he.minval == 0.0  # the flat view keeps the old defaults
    rows = he.plan((32, 64)).explain_rows()
    for row in (he.gain_rule.explain(), he.fans.explain(64, 32)):
        assert row in rows


def test_adding_a_scheme_is_one_row() -> None:
    """A new scheme is one data row: it plans, explains and samples with no other change."""
    row = Scheme(
        "mup_readout", "normal", mode="fan_in", fan_power=1.0, multiplier=1.0,
        parameters=("gain",), description="N(0, std²), std = 1/fan_in (μP readout)",
    )  # fmt: skip
    plan = winit.plan(row, (10, 512))
    assert plan.std == 1 / 512 and plan.law == Normal(0.0, 1 / 512)
    assert plan.explain().startswith("scheme   mup_readout: N(0, std²), std = 1/fan_in (μP readout)")
    assert row.with_(gain=2.0).std(512, 10) == 2 / 512
    assert winit.init(row, (10, 512), seed=0).shape == (10, 512)


def test_multiplier_scales_a_structured_law() -> None:
    scheme = Scheme("scaled_orthogonal", "orthogonal", gain=2.0, multiplier=0.5)
    plan = scheme.plan((8, 8))
    assert plan.law == Orthogonal(1.0, 0) and plan.std == pytest.approx(1 / math.sqrt(8))
