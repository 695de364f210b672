"""Recipes as data: every formula against its source's numbers, explanations, and clear errors."""

from __future__ import annotations

import math
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

import pytest

import winit
from winit import KEEP, Recipe, Role, RoleLaw

SIZES: dict[str, Any] = {
    "L": 12, "l": 3, "d": 768, "d_ff": 3072, "h": 12, "d_kv": 64, "fan_in": 768, "fan_out": 768,
    "hidden": 256, "width_mult": 4.0, "N": 6, "M": 6, "blocks": 3,
}  # fmt: skip


def _std(scheme: winit.Scheme, fan_in: int = 768, fan_out: int = 768) -> float:
    return scheme.plan((fan_out, fan_in), layout="torch").std


@pytest.mark.parametrize("name", winit.recipes())
def test_every_role_of_every_recipe_resolves_to_a_finite_law(name: str) -> None:
    recipe = winit.recipe(name)
    assert recipe.sources, f"{name} names no source"
    for key, law in recipe.laws.items():
        role, part = key if isinstance(key, tuple) else (key, "")
        if law.keep:
            assert recipe.keeps(role, part) and recipe.law(role, part, **SIZES) is None
            continue
        scheme = recipe.law(role, part, **SIZES)
        assert scheme is not None
        plan = scheme.plan((768, 768), layout="torch")
        assert math.isfinite(plan.std) and plan.std >= 0
        assert math.isfinite(law.lr_multiplier(recipe.context(**SIZES)))
    text = recipe.explain(**SIZES)
    for key in recipe.laws:
        label = f"{key[0].value}[{key[1]}]" if isinstance(key, tuple) else key.value
        assert label in text


def test_gpt2_formulas() -> None:
    gpt2 = winit.recipe("gpt2")
    assert gpt2.law(Role.ATTENTION_OUT, L=12).stddev == pytest.approx(0.02 / math.sqrt(24), rel=1e-15)
    assert gpt2.law("mlp_out", L=4, sigma0=0.01).stddev == pytest.approx(0.01 / math.sqrt(8), rel=1e-15)
    assert gpt2.law(Role.MLP_IN).stddev == 0.02
    assert gpt2.law(Role.NORM_SCALE).name == "ones" and gpt2.law(Role.BIAS).name == "zeros"


def test_torchtitan_depth_init_and_cut_in_sigma_units() -> None:
    titan = winit.recipe("torchtitan")
    deep = titan.law(Role.ATTENTION_OUT, L=8, l=5)
    assert deep.stddev == pytest.approx(0.02 / math.sqrt(12), rel=1e-15)
    assert deep.upper == pytest.approx(2.0 / deep.stddev) and deep.lower == pytest.approx(-2.0 / deep.stddev)
    flat = titan.law(Role.ATTENTION_OUT, L=8, l=5, depth_init=False)
    assert flat.stddev == pytest.approx(0.02 / 4.0, rel=1e-15)
    assert titan.law(Role.MLP_IN, "up", L=8, l=0).stddev == pytest.approx(0.02 / math.sqrt(2))  # w3 scaled
    assert titan.law(Role.MLP_IN, "gate", L=8, l=0).stddev == 0.02  # w1 not
    assert titan.law(Role.MLP_IN, L=8, l=3).stddev == 0.02  # an ungated input projection (GPT-2's c_fc) is w1
    head = titan.law(Role.HEAD, d=4096)
    assert (head.stddev, head.lower, head.upper) == (4096**-0.5, -3.0, 3.0)
    assert titan.law(Role.EMBEDDING).stddev == 1.0


def test_olmo_neox_deepnet_mup_formulas() -> None:
    mitchell = winit.recipe("olmo_mitchell")
    assert mitchell.law(Role.MLP_OUT, d_ff=1024, l=1).stddev == pytest.approx(1 / math.sqrt(2 * 1024 * 2))
    assert mitchell.law(Role.ATTENTION_QKV, fan_in=256).upper == 3.0
    neox = winit.recipe("neox")
    assert neox.law(Role.ATTENTION_QKV, d=512).stddev == pytest.approx(math.sqrt(2 / (5 * 512)))
    assert neox.law(Role.MLP_OUT, d=512, L=6).stddev == pytest.approx(2 / (6 * math.sqrt(512)))
    deepnet = winit.recipe("deepnet")
    beta = (8 * 18) ** -0.25
    assert deepnet.law(Role.ATTENTION_QKV, "v", L=18).gain == pytest.approx(beta)
    assert deepnet.law(Role.ATTENTION_QKV, "q", L=18).gain == 1.0
    tfixup = winit.recipe("tfixup")  # Huang et al. 2020, Algorithm 1
    assert tfixup.law(Role.ATTENTION_QKV, "v", L=6).gain == pytest.approx((9 * 6) ** -0.25)
    assert tfixup.law(Role.MLP_OUT, L=6, decoder=False).gain == pytest.approx(0.67 * 6**-0.25)
    assert tfixup.law(Role.ATTENTION_QKV, "k", L=6).gain == 1.0
    assert tfixup.law(Role.EMBEDDING, d=512, L=6).stddev == pytest.approx(512**-0.5 * 54**-0.25)
    assert tfixup.law(Role.EMBEDDING, d=512, L=6, decoder=False).stddev == pytest.approx(512**-0.5)
    assert tfixup.law(Role.MLP_IN, L=6).name == "glorot_uniform"
    mup = winit.recipe("mup")
    context = mup.context(width_mult=8.0)
    assert mup.role_law(Role.MLP_IN).lr_multiplier(context) == pytest.approx(1 / 8)
    assert mup.role_law(Role.EMBEDDING).lr_multiplier(context) == 1.0
    assert mup.law(Role.ATTENTION_QKV, "q", width_mult=8.0).name == "zeros"
    assert mup.law(Role.HEAD).name == "zeros"


def test_framework_default_recipes_match_the_frameworks_numbers() -> None:
    torch_recipe = winit.recipe("torch")
    # nn.Linear(300, 20): kaiming_uniform_(a=√5) bound 1/√300, bias U(±1/√300)
    weight = torch_recipe.law(Role.DENSE).plan((20, 300), layout="torch")
    assert weight.bound == pytest.approx(1 / math.sqrt(300), rel=1e-12)
    bias = torch_recipe.law(Role.BIAS, fan_in=300)
    assert (bias.minval, bias.maxval) == pytest.approx((-(300**-0.5), 300**-0.5))
    assert torch_recipe.law(Role.EMBEDDING).stddev == 1.0
    assert torch_recipe.law(Role.RECURRENT, hidden=64).maxval == pytest.approx(1 / 8)
    keras = winit.recipe("keras")
    assert keras.law(Role.DENSE).plan((300, 20), layout="keras").bound == pytest.approx(math.sqrt(6 / 320))
    assert keras.law(Role.BIAS, "f").name == "ones" and keras.law(Role.RECURRENT).name == "orthogonal"
    flax = winit.recipe("flax")
    assert flax.law(Role.EMBEDDING, d=256).stddev == pytest.approx(1 / 16)
    lecun = flax.law(Role.DENSE).plan((300, 20), layout="flax")
    assert lecun.std == pytest.approx(1 / math.sqrt(300), rel=1e-12)  # the truncated law keeps that std
    haiku = winit.recipe("haiku").law(Role.DENSE, fan_in=400)
    assert (haiku.stddev, haiku.lower, haiku.upper) == (0.05, -2.0, 2.0)


@contextmanager
def _recorded_hf_init() -> Iterator[dict[int, tuple[str, float]]]:
    """Every std/value transformers' own init passes, by tensor identity (the last call wins)."""
    from transformers import initialization

    calls: dict[int, tuple[str, float]] = {}
    originals = {name: getattr(initialization, name) for name in ("normal_", "constant_", "ones_", "zeros_")}

    def recording(name: str, original: Callable[..., Any]) -> Callable[..., Any]:
        def call(tensor: Any, *args: Any, **kwargs: Any) -> Any:
            if name == "normal_":
                calls[id(tensor)] = ("normal", float(kwargs.get("std", args[1] if len(args) > 1 else 1.0)))
            elif name == "constant_":
                calls[id(tensor)] = ("constant", float(kwargs.get("val", args[0] if args else 0.0)))
            else:
                calls[id(tensor)] = ("constant", 1.0 if name == "ones_" else 0.0)
            return original(tensor, *args, **kwargs)

        return call

    try:
        for name, original in originals.items():
            setattr(initialization, name, recording(name, original))
        yield calls
    finally:
        for name, original in originals.items():
            setattr(initialization, name, original)


def _check_against_hf(model: Any, calls: dict[int, tuple[str, float]], roles: dict[str, tuple[Role, str]],
                      recipe: Recipe, sizes: dict[str, Any]) -> int:  # fmt: skip
    checked = 0
    for name, param in model.named_parameters():
        suffix = next((key for key in roles if name.endswith(key)), None)
        if suffix is None or id(param) not in calls:
            continue
        kind, number = calls[id(param)]
        scheme = recipe.law(*roles[suffix], **sizes)
        assert scheme is not None, name
        if kind == "normal":
            assert scheme.name == "random_normal" and scheme.stddev == pytest.approx(number, rel=1e-12), name
        else:
            value = scheme.value if scheme.name == "constant" else {"ones": 1.0, "zeros": 0.0}[scheme.name]
            assert value == number, name
        checked += 1
    return checked


def test_gpt2_recipe_equals_hf_gpt2_init_weights() -> None:
    transformers = pytest.importorskip("transformers")
    config = transformers.GPT2Config(n_layer=3, n_embd=64, n_head=4, vocab_size=100, n_positions=32)
    with _recorded_hf_init() as calls:
        model = transformers.GPT2LMHeadModel(config)
    roles = {
        "wte.weight": (Role.EMBEDDING, ""), "wpe.weight": (Role.POSITIONAL, ""),
        "attn.c_attn.weight": (Role.ATTENTION_QKV, ""), "attn.c_proj.weight": (Role.ATTENTION_OUT, ""),
        "mlp.c_fc.weight": (Role.MLP_IN, ""), "mlp.c_proj.weight": (Role.MLP_OUT, ""),
        "ln_1.weight": (Role.NORM_SCALE, ""), "ln_1.bias": (Role.NORM_OFFSET, ""),
        "attn.c_attn.bias": (Role.BIAS, ""), "mlp.c_proj.bias": (Role.BIAS, ""),
    }  # fmt: skip
    checked = _check_against_hf(model, calls, roles, winit.recipe("gpt2"), {"L": 3})
    assert checked == 2 + 8 * 3


def test_t5_recipe_equals_hf_t5_init_weights() -> None:
    transformers = pytest.importorskip("transformers")
    config = transformers.T5Config(
        vocab_size=100, d_model=64, d_kv=16, d_ff=96, num_layers=2, num_heads=3, tie_word_embeddings=False,
        initializer_factor=0.5,
    )  # fmt: skip
    with _recorded_hf_init() as calls:
        model = transformers.T5ForConditionalGeneration(config)
    roles = {
        "shared.weight": (Role.EMBEDDING, ""), "lm_head.weight": (Role.HEAD, ""),
        ".q.weight": (Role.ATTENTION_QKV, "q"), ".k.weight": (Role.ATTENTION_QKV, "k"),
        ".v.weight": (Role.ATTENTION_QKV, "v"), ".o.weight": (Role.ATTENTION_OUT, ""),
        "relative_attention_bias.weight": (Role.POSITIONAL, ""),
        "wi.weight": (Role.MLP_IN, ""), "wo.weight": (Role.MLP_OUT, ""),
        "layer_norm.weight": (Role.NORM_SCALE, ""),
    }  # fmt: skip
    sizes = {"d": 64, "d_kv": 16, "d_ff": 96, "h": 3, "factor": 0.5}
    checked = _check_against_hf(model, calls, roles, winit.recipe("t5"), sizes)
    assert checked >= 30  # every attention / MLP / norm / embedding tensor of both stacks


def test_a_user_recipe_is_a_few_lines() -> None:
    mine = Recipe(
        "small_out",
        "N(0, 0.02), residual outputs 0",
        {Role.DENSE: RoleLaw("random_normal", {"stddev": "sigma0"}), Role.MLP_OUT: RoleLaw("zeros")},
        constants={"sigma0": 0.02},
        sources=("this test",),
    )
    assert winit.recipe(mine) is mine
    assert mine.law(Role.DENSE, sigma0=0.1).stddev == 0.1
    assert mine.law(Role.EMBEDDING) is None  # not set: the caller's default applies
    assert "dense" in mine.explain() and "sigma0 = 0.02" in mine.explain()


def test_recipe_errors_name_the_bad_value() -> None:
    with pytest.raises(ValueError, match=r"unknown recipe 'gtp2'.*Did you mean.*gpt2"):
        winit.recipe("gtp2")
    with pytest.raises(TypeError, match="recipe must be a name"):
        winit.recipe(3)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match=r"needs 'L' \(number of residual blocks"):
        winit.recipe("gpt2").law(Role.ATTENTION_OUT)
    with pytest.raises(ValueError, match="unknown role 'atention_out'"):
        winit.recipe("gpt2").law("atention_out", L=2)
    with pytest.raises(ValueError, match="unknown scheme 'gausian'"):
        RoleLaw("gausian")
    with pytest.raises(ValueError, match="calls 'open'"):
        RoleLaw("random_normal", {"stddev": "open('x')"})
    with pytest.raises(ValueError, match="not an expression"):
        RoleLaw("random_normal", {"stddev": "0.02 /"})
    with pytest.raises(ValueError, match="not allowed"):
        RoleLaw("random_normal", {"stddev": "d.real"}).values({"d": 1})
    with pytest.raises(TypeError, match="is not a winit Role"):
        Recipe("bad", "bad", {"dense": RoleLaw("zeros")})  # type: ignore[dict-item]
    with pytest.raises(ValueError, match="gives"):
        winit.recipe("gpt2").law(Role.ATTENTION_OUT, L=0.0 + 1e-320, sigma0=1e308)
    with pytest.raises(ValueError, match="fails for"):
        winit.recipe("torch").law(Role.BIAS, fan_in=0)


def test_keep_is_a_rule_value() -> None:
    assert KEEP == "keep"
    assert winit.recipe("gpt2").keeps(Role.LAYER_SCALE)
    assert not winit.recipe("gpt2").keeps(Role.DENSE)


def test_zero_recipe_follows_the_zer_o_paper() -> None:
    """ZerO (Zhao et al. 2022): hidden weights Algorithm 1, residual branches' last layers and classifier 0."""
    zero = winit.recipe("ZerO")  # recipe names are case-insensitive: "ZerO" is "zero"
    assert zero is winit.recipe("zero")
    for role in (Role.ATTENTION_QKV, Role.MLP_IN, Role.DENSE, Role.CONV):
        assert zero.law(role) == winit.get("zer_o")
    for role, part in (
        (Role.ATTENTION_OUT, ""),
        (Role.MLP_OUT, ""),
        (Role.CONV, "branch_out"),
        (Role.HEAD, ""),
    ):
        assert zero.law(role, part).name == "zeros"
    assert zero.law(Role.NORM_SCALE).name == "ones" and zero.law(Role.BIAS).name == "zeros"
    assert zero.keeps(Role.EMBEDDING)
    # the MLP's first layer of a d = 6, d_ff = 24 block: m = ⌈log₂ 24⌉ = 5, c = 2^-2
    w = zero.law(Role.MLP_IN).plan((24, 6), layout="torch")
    assert "c = 2^(−(5−1)/2) = 0.25" in w.explain()
    assert winit.init(zero.law(Role.MLP_IN), (24, 6), layout="torch")[3, 1] == -0.25  # popcount(3 & 1) odd
