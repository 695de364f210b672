"""``winit.flax.init_`` on nnx modules and ``winit.flax.init_params`` on linen trees: roles, recipes' laws, errors."""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import pytest

import winit

jax = pytest.importorskip("jax")
nnx = pytest.importorskip("flax.nnx")
wf = pytest.importorskip("winit.flax")


class Block(nnx.Module):  # type: ignore[misc]
    """Pre-LN transformer block: LayerNorm, MultiHeadAttention, LayerNorm, two-layer MLP."""

    def __init__(self, d: int, h: int, d_ff: int, rngs: Any) -> None:
        self.ln1 = nnx.LayerNorm(d, rngs=rngs)
        self.attn = nnx.MultiHeadAttention(num_heads=h, in_features=d, decode=False, rngs=rngs)
        self.ln2 = nnx.LayerNorm(d, rngs=rngs)
        self.fc1 = nnx.Linear(d, d_ff, rngs=rngs)
        self.fc2 = nnx.Linear(d_ff, d, rngs=rngs)


class Transformer(nnx.Module):  # type: ignore[misc]
    """Embedding, L blocks, final LayerNorm, head: the architecture tests/keras_cases/model.py builds in Keras."""

    def __init__(
        self, d: int = 32, h: int = 4, d_ff: int = 64, layers: int = 2, vocab: int = 64, seed: int = 0
    ) -> None:
        rngs = nnx.Rngs(seed)
        self.embed = nnx.Embed(vocab, d, rngs=rngs)
        self.blocks = nnx.List([Block(d, h, d_ff, rngs) for _ in range(layers)])
        self.ln_f = nnx.LayerNorm(d, rngs=rngs)
        self.head = nnx.Linear(d, vocab, rngs=rngs)


BLOCK_ROLES = {
    "ln1.scale": "norm_scale", "ln1.bias": "norm_offset",
    "attn.query.kernel": "attention_qkv", "attn.query.bias": "bias",
    "attn.key.kernel": "attention_qkv", "attn.key.bias": "bias",
    "attn.value.kernel": "attention_qkv", "attn.value.bias": "bias",
    "attn.out.kernel": "attention_out", "attn.out.bias": "bias",
    "ln2.scale": "norm_scale", "ln2.bias": "norm_offset",
    "fc1.kernel": "mlp_in", "fc1.bias": "bias", "fc2.kernel": "mlp_out", "fc2.bias": "bias",
}  # fmt: skip


def _value(module: Any, name: str) -> np.ndarray:
    obj = module
    for key in name.split("."):
        obj = obj[int(key)] if key.isdigit() else getattr(obj, key)
    return np.asarray(obj.get_value())


def abstract(**sizes: Any) -> Any:
    """A Transformer with shapes only (nnx.eval_shape): init_ materializes it, and no draw is wasted."""
    return nnx.eval_shape(lambda: Transformer(**sizes))


def _std_ok(sample: np.ndarray, std: float) -> bool:
    """Sample RMS within 1.5% of ``std``; n ≥ 40,000 (SE ≤ 0.36%), so a 5% error lands ≥ 9 SE outside."""
    assert sample.size >= 40_000
    return abs(float(np.sqrt(np.mean(np.square(sample, dtype=np.float64)))) / std - 1) < 0.015


def test_roles_of_every_parameter_of_an_nnx_transformer() -> None:
    model = abstract()
    _, report = wf.init_(model, seed=0, rng="portable")  # portable: the kernels the other tests compile
    roles = {row.name: row.role for row in report}
    expected = {"embed.embedding": "embedding", "ln_f.scale": "norm_scale", "ln_f.bias": "norm_offset",
                "head.kernel": "head", "head.bias": "bias"}  # fmt: skip
    for block in range(2):
        expected.update({f"blocks.{block}.{key}": role for key, role in BLOCK_ROLES.items()})
    assert roles == expected
    assert report["blocks.1.attn.query.kernel"].shape == (32, 4, 8)
    assert (report["blocks.1.attn.out.kernel"].fan_in, report["blocks.1.attn.out.kernel"].fan_out) == (32, 32)
    assert report["blocks.0.fc2.kernel"].layout == "flax" and "blocks.0.fc2.kernel" in str(report)


def test_gpt2_per_role_std_measured_on_the_model() -> None:
    L = 2  # noqa: N806 - the recipes' name
    model = abstract(d=64, d_ff=256, layers=L, vocab=256)
    _, report = wf.init_(model, "gpt2", seed=1, rng="portable")
    by_std: dict[float, list[np.ndarray]] = {}
    for row in report:
        assert row.std == pytest.approx(
            {"attention_out": 0.02 / math.sqrt(2 * L), "mlp_out": 0.02 / math.sqrt(2 * L), "bias": 0.0,
             "norm_scale": 0.0, "norm_offset": 0.0}.get(row.role, 0.02), rel=1e-12,
        ), row.name  # fmt: skip
        if row.std > 0:
            by_std.setdefault(row.std, []).append(_value(model, row.name).ravel())
    assert len(by_std) == 2  # σ₀ (inputs, embedding, head) and σ₀/√(2L) (residual outputs)
    for std, samples in by_std.items():
        sample = np.concatenate(samples)
        assert _std_ok(sample, std), std
        assert not _std_ok(sample * 1.05, std) and not _std_ok(sample, std * 1.05)  # the check has power
    assert np.all(_value(model, "blocks.0.ln1.scale") == 1) and np.all(
        _value(model, "blocks.1.fc1.bias") == 0
    )


def test_default_recipe_is_flax_and_parts_reach_the_recipe() -> None:
    model = abstract(layers=3)
    _, report = wf.init_(model, seed=0, rng="portable")
    kernel = report["blocks.0.fc2.kernel"]
    assert kernel.scheme == "variance_scaling" and kernel.std == pytest.approx(
        1 / 8, rel=1e-12
    )  # lecun, fan_in 64
    assert report["embed.embedding"].std == pytest.approx(32**-0.5, rel=1e-12)  # Embed: 1/√d
    _, deep = wf.init_(model, "deepnet", seed=0, rng="portable")
    beta = (8 * 3) ** -0.25
    q, v = deep["blocks.2.attn.query.kernel"], deep["blocks.2.attn.value.kernel"]
    assert q.gain == 1.0 and v.gain == pytest.approx(beta)  # (attention_qkv, "v") vs (attention_qkv, "q")
    assert deep["blocks.2.fc2.kernel"].gain == pytest.approx(beta)


def test_torchtitan_depth_scaled_by_block_index_and_sizes_override() -> None:
    model = abstract(layers=3)
    _, report = wf.init_(model, "torchtitan", seed=0, rng="portable")
    for block in range(3):
        assert report[f"blocks.{block}.attn.out.kernel"].std == pytest.approx(
            0.02 / math.sqrt(2 * (block + 1))
        )
    pdf3 = math.exp(-4.5) / math.sqrt(2 * math.pi)
    cut = math.sqrt(1 - 6 * pdf3 / math.erf(3 / math.sqrt(2)))  # std of N(0, 1) cut at ±3: head TN(d^-½, ±3σ)
    assert report["head.kernel"].std == pytest.approx(32**-0.5 * cut, rel=1e-6)  # d read from the attention
    _, override = wf.init_(model, "torchtitan", seed=0, d=64, rng="portable")
    assert override["head.kernel"].std == pytest.approx(64**-0.5 * cut, rel=1e-6)


def test_keep_rule_and_pattern_rule() -> None:
    model = abstract()
    wf.init_(model, "gpt2", seed=0, rng="portable")
    before = _value(model, "blocks.0.fc2.kernel").copy()
    _, report = wf.init_(model, "gpt2", seed=1, rng="portable", rules={"mlp_out": "keep", "head.*": "zeros"})
    np.testing.assert_array_equal(_value(model, "blocks.0.fc2.kernel"), before)
    assert report["blocks.0.fc2.kernel"].kept and report["blocks.0.fc2.kernel"].role == "mlp_out"
    assert np.all(_value(model, "head.kernel") == 0)
    with pytest.raises(ValueError, match="neither a role"):
        wf.init_(model, rules={"mlp_outt": "keep"})


def test_missing_size_fails_before_any_write() -> None:
    class MLP(nnx.Module):  # type: ignore[misc]
        def __init__(self) -> None:
            rngs = nnx.Rngs(0)
            self.fc1 = nnx.Linear(32, 64, rngs=rngs)
            self.fc2 = nnx.Linear(64, 32, rngs=rngs)

    model = nnx.eval_shape(MLP)
    wf.init_(model, "gpt2", seed=0, rng="portable")
    before = _value(model, "fc1.kernel").copy()
    with pytest.raises(ValueError, match=r"fc1\.kernel .*needs 'd'"):
        wf.init_(model, "neox", seed=0, rng="portable")  # small_init √(2/(5d)): no attention, so no d
    np.testing.assert_array_equal(_value(model, "fc1.kernel"), before)
    _, report = wf.init_(model, "neox", seed=0, d=16, rng="portable")
    assert report["fc1.kernel"].role == "dense" and report["fc2.kernel"].role == "head"
    assert report["fc1.kernel"].std == pytest.approx(math.sqrt(2 / 80))


def test_unknown_recipe_and_bad_arguments() -> None:
    model = abstract()
    with pytest.raises(ValueError, match="unknown recipe 'gtp2'"):
        wf.init_(model, "gtp2")
    with pytest.raises(ValueError, match="rng"):
        wf.init_(model, rng="philox")
    with pytest.raises(TypeError, match="init_params"):
        wf.init_({"params": {}})


def test_lstm_cell_keras_recipe_forget_bias_and_orthogonal_recurrent() -> None:
    class Cell(nnx.Module):  # type: ignore[misc]
        def __init__(self) -> None:
            self.cell = nnx.LSTMCell(8, 16, rngs=nnx.Rngs(0))

    model = Cell()
    _, report = wf.init_(model, "keras", seed=0)
    assert report["cell.hf.bias"].role == "bias" and np.all(_value(model, "cell.hf.bias") == 1)
    assert np.all(_value(model, "cell.hi.bias") == 0)
    recurrent = _value(model, "cell.hg.kernel")
    np.testing.assert_allclose(recurrent.T @ recurrent, np.eye(16), atol=1e-5)
    assert report["cell.ii.kernel"].role == "recurrent_input" and report["cell.ho.kernel"].role == "recurrent"


def test_native_draws_are_seeded_per_parameter() -> None:
    a, b = abstract(), abstract()
    wf.init_(a, "gpt2", seed=3)
    wf.init_(b, "gpt2", seed=3)
    np.testing.assert_array_equal(_value(a, "blocks.1.fc1.kernel"), _value(b, "blocks.1.fc1.kernel"))
    wf.init_(b, "gpt2", seed=4)
    assert not np.array_equal(_value(a, "blocks.1.fc1.kernel"), _value(b, "blocks.1.fc1.kernel"))


def test_linen_tree_roles_from_paths_and_the_same_weights_as_nnx() -> None:
    linen = pytest.importorskip("flax.linen")

    class LBlock(linen.Module):  # type: ignore[misc]
        @linen.compact
        def __call__(self, x: Any) -> Any:
            y = linen.LayerNorm()(x)
            x = x + linen.MultiHeadDotProductAttention(num_heads=4)(y, y)
            y = linen.Dense(64)(linen.LayerNorm()(x))
            return x + linen.Dense(32)(y)

    class LModel(linen.Module):  # type: ignore[misc]
        @linen.compact
        def __call__(self, tokens: Any) -> Any:
            x = linen.Embed(64, 32)(tokens)
            for _ in range(2):
                x = LBlock()(x)
            return linen.Dense(64)(linen.LayerNorm()(x))

    params = jax.eval_shape(LModel().init, jax.random.key(0), np.zeros((1, 5), np.int32))
    tree, report = wf.init_params(params, "gpt2", seed=0, rng="portable")
    roles = {row.name: row.role for row in report}
    assert roles["params/LBlock_1/MultiHeadDotProductAttention_0/value/kernel"] == "attention_qkv"
    assert roles["params/LBlock_0/MultiHeadDotProductAttention_0/out/kernel"] == "attention_out"
    assert (
        roles["params/LBlock_0/Dense_0/kernel"] == "mlp_in"
        and roles["params/LBlock_1/Dense_1/kernel"] == "mlp_out"
    )
    assert roles["params/Dense_0/kernel"] == "head" and roles["params/Embed_0/embedding"] == "embedding"
    assert roles["params/LBlock_0/LayerNorm_1/scale"] == "norm_scale"
    assert report["params/LBlock_1/Dense_1/kernel"].std == pytest.approx(0.01)  # 0.02/√(2L), L = 2 blocks
    # the same architecture as an nnx module draws the same canonical streams
    model = abstract()
    wf.init_(model, "gpt2", seed=0, rng="portable")
    pairs = {
        "params/LBlock_1/MultiHeadDotProductAttention_0/query/kernel": "blocks.1.attn.query.kernel",
        "params/LBlock_0/Dense_1/kernel": "blocks.0.fc2.kernel",
        "params/Dense_0/kernel": "head.kernel",
    }
    for path, name in pairs.items():
        leaf = tree
        for key in path.split("/"):
            leaf = leaf[key]
        np.testing.assert_array_equal(np.asarray(leaf), _value(model, name))


def test_portable_values_are_the_canonical_stream_in_torch_layout() -> None:
    """What PyTorch's init_ must draw for the same weights: winit.init in (out, in) under the canonical name."""
    from winit._roles import canonical_stream

    model = abstract()
    _, report = wf.init_(model, "gpt2", seed=0, rng="portable")
    law = winit.recipe("gpt2").law("attention_qkv")
    name = canonical_stream("attention_qkv.k", block=1)
    assert name == "block1/attention_qkv.k#0/weight"
    # numpy here, JAX in init_: normals agree within a few ulps across backends
    torch_layout = winit.init(
        law, (32, 32), backend="numpy", seed=0, rng="portable", stream=name, layout="torch"
    )
    kernel = _value(model, "blocks.1.attn.key.kernel")  # (d, h, d_kv): in, then the out axes
    np.testing.assert_allclose(kernel.reshape(32, 32).T, torch_layout, rtol=0, atol=1e-7)
    mlp = winit.recipe("gpt2").law("mlp_out", L=2)
    name = canonical_stream("mlp_out", block=0)
    torch_layout = winit.init(
        mlp, (32, 64), backend="numpy", seed=0, rng="portable", stream=name, layout="torch"
    )
    np.testing.assert_allclose(_value(model, "blocks.0.fc2.kernel").T, torch_layout, rtol=0, atol=1e-7)
    bias = winit.init("zeros", (32,), backend="numpy")
    np.testing.assert_array_equal(_value(model, "blocks.0.fc2.bias"), bias)
    assert report["blocks.0.fc2.kernel"].std == mlp.plan((32, 64), "torch").std


def _linen_transformer(d: int = 32, h: int = 4, d_ff: int = 64, layers: int = 2, vocab: int = 64) -> Any:
    """tests' nnx Transformer written in linen with its own names (attn, fc1, ln_f, head): no linen auto-names."""
    linen = pytest.importorskip("flax.linen")

    class Block(linen.Module):  # type: ignore[misc]
        def setup(self) -> None:
            self.ln1 = linen.LayerNorm()
            self.attn = linen.MultiHeadDotProductAttention(num_heads=h)
            self.ln2 = linen.LayerNorm()
            self.fc1 = linen.Dense(d_ff)
            self.fc2 = linen.Dense(d)

        def __call__(self, x: Any) -> Any:
            y = self.ln1(x)
            x = x + self.attn(y, y)
            return x + self.fc2(self.fc1(self.ln2(x)))

    class Model(linen.Module):  # type: ignore[misc]
        def setup(self) -> None:
            self.embed = linen.Embed(vocab, d)
            self.blocks = [Block() for _ in range(layers)]
            self.ln_f = linen.LayerNorm()
            self.head = linen.Dense(vocab)

        def __call__(self, tokens: Any) -> Any:
            x = self.embed(tokens)
            for block in self.blocks:
                x = block(x)
            return self.head(self.ln_f(x))

    return Model()


def _nnx_name(path: str) -> str:
    """params/blocks_1/attn/query/kernel -> blocks.1.attn.query.kernel (the nnx Transformer's name)."""
    keys = path.split("/")[1:]
    return ".".join(key.replace("blocks_", "blocks.") for key in keys).replace(
        "embed.embedding", "embed.embedding"
    )


def test_linen_module_roles_from_types_equal_nnx() -> None:
    """init_params(module=, inputs=): roles from module types, whatever the names; values equal nnx's (portable)."""
    model = _linen_transformer()
    tokens = np.zeros((1, 5), np.int32)
    tree, report = wf.init_params(module=model, inputs=tokens, recipe="torchtitan", seed=0, rng="portable")
    nnx_model = abstract()
    _, nnx_report = wf.init_(nnx_model, "torchtitan", seed=0, rng="portable")
    assert {_nnx_name(row.name): row.role for row in report} == {row.name: row.role for row in nnx_report}
    assert [row.std for row in report] == pytest.approx(
        [nnx_report[_nnx_name(row.name)].std for row in report]
    )
    for row in report:
        leaf = tree
        for key in row.name.split("/"):
            leaf = leaf[key]
        np.testing.assert_array_equal(
            np.asarray(leaf), _value(nnx_model, _nnx_name(row.name)), err_msg=row.name
        )
    # the same tree without the module: names alone cannot tell "attn" is attention or "head" the readout
    abstract_tree = jax.eval_shape(model.init, jax.random.key(0), tokens)
    _, by_path = wf.init_params(abstract_tree, "torchtitan", seed=0, rng="portable", d=32)
    assert by_path["params/blocks_0/attn/query/kernel"].role != "attention_qkv"
    # a given tree with the module: the module gives the roles, the tree the kept leaves
    given = model.init(jax.random.key(1), tokens)
    _, typed = wf.init_params(given, "torchtitan", module=model, inputs=(tokens,), seed=0, rng="portable",
                              rules={"embedding": "keep"})  # fmt: skip
    assert typed["params/blocks_0/attn/query/kernel"].role == "attention_qkv"
    assert typed["params/embed/embedding"].kept


def test_linen_module_dense_general_lstm_and_errors() -> None:
    linen = pytest.importorskip("flax.linen")

    class Net(linen.Module):  # type: ignore[misc]
        @linen.compact
        def __call__(self, x: Any) -> Any:
            y = linen.DenseGeneral((4, 8), axis=-1, name="proj")(x)  # (16, 4, 8): in 16, out 32
            cell = linen.LSTMCell(12, name="cell")
            _, z = cell(cell.initialize_carry(jax.random.key(0), x.shape), x)
            return y.sum() + z.sum() + self.param("gate", linen.initializers.zeros, (3,)).sum()

    x = np.zeros((2, 16), np.float32)
    _, report = wf.init_params(module=Net(), inputs=x, recipe="keras", seed=0)
    proj = report["params/proj/kernel"]
    assert (proj.fan_in, proj.fan_out) == (16, 32) and proj.role == "head"
    assert (
        report["params/cell/hf/kernel"].role == "recurrent"
        and report["params/cell/if/kernel"].role == "recurrent_input"
    )
    assert report["params/cell/hf/bias"].scheme == "ones"  # Keras unit_forget_bias on the forget-gate bias
    assert report["params/gate"].role == "other" and report["params/gate"].kept
    with pytest.raises(TypeError, match="inputs="):
        wf.init_params(module=Net())
    with pytest.raises(TypeError, match=r"flax\.linen\.Module"):
        wf.init_params(module=abstract(), inputs=x)
    with pytest.raises(TypeError, match="module= and inputs="):
        wf.init_params()


def test_fused_gate_up_nnx_per_block_law_and_stream() -> None:
    """nnx: one Linear writing 2·d_ff (gate first) is two blocks, each its law and canonical stream ``...[gate]``."""
    from winit._roles import canonical_stream

    d, d_ff = 32, 48

    class Swiglu(nnx.Module):  # type: ignore[misc]
        def __init__(self, rngs: Any) -> None:
            self.attn = nnx.MultiHeadAttention(num_heads=4, in_features=d, decode=False, rngs=rngs)
            self.down = nnx.Linear(d_ff, d, use_bias=False, rngs=rngs)  # sorts before gate_up: order-free
            self.gate_up = nnx.Linear(d, 2 * d_ff, use_bias=False, rngs=rngs)

    class Net(nnx.Module):  # type: ignore[misc]
        def __init__(self) -> None:
            rngs = nnx.Rngs(0)
            self.blocks = nnx.List([Swiglu(rngs) for _ in range(2)])
            self.head = nnx.Linear(d, 10, rngs=rngs)

    model = nnx.eval_shape(Net)
    _, report = wf.init_(model, "torchtitan", seed=0, rng="portable")
    rows = [row for row in report if row.role == "mlp_in"]
    assert [(row.name, row.part) for row in rows] == [
        (f"blocks.{b}.gate_up.kernel", part) for b in range(2) for part in ("gate", "up")
    ]
    assert [row.std for row in rows] == pytest.approx([0.02, 0.02 / math.sqrt(2), 0.02, 0.02 / 2], rel=1e-12)
    law = winit.recipe("torchtitan").law("mlp_in", "up", L=2, l=1)
    stream = canonical_stream("mlp_in", block=1) + "[up]"
    up = winit.init(law, (d_ff, d), backend="jax", seed=0, rng="portable", stream=stream, layout="torch")
    kernel = _value(
        model, "blocks.1.gate_up.kernel"
    )  # (d, 2·d_ff): the up block is the second half of columns
    np.testing.assert_array_equal(kernel[:, d_ff:], np.asarray(up).T)
