"""``winit.keras.init_``: roles of Keras layers, recipes' laws on built models, errors, and the same weights as Flax.

Cross-framework: tests/keras_cases/model.py builds a small transformer under each Keras backend in its
own process (concurrently) and initializes it with ``rng="portable"``; the weights must equal those
``winit.flax.init_`` gives the same architecture in nnx (tests/test_flax_model.py's Transformer).
The other tests run in this process, under whichever backend its Keras uses.
"""

from __future__ import annotations

import importlib.util
import json
import math
import os
import subprocess
import sys
from pathlib import Path
from typing import Any, Final

import numpy as np
import pytest

keras = pytest.importorskip("keras")
wk = pytest.importorskip("winit.keras")

_CASES: Final = Path(__file__).parent / "keras_cases"
KERAS_BACKENDS: Final = ("tensorflow", "jax", "torch", "numpy")


def _load(name: str, path: Path) -> Any:
    spec = importlib.util.spec_from_file_location(name, path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


cases = _load("winit_keras_model_cases", _CASES / "model.py")


def _numpy(variable: Any) -> np.ndarray:
    return np.asarray(variable.numpy())


# -- cross-framework: every Keras backend against Flax nnx ---------------------------------------------
def _flax_weights() -> dict[str, dict[str, tuple[Any, np.ndarray]]]:
    """The Flax nnx Transformer's report rows and values after each recipe (portable, seed 0), by dotted name."""
    pytest.importorskip("flax.nnx")
    flax_cases = _load("winit_flax_model_tests", Path(__file__).parent / "test_flax_model.py")
    import winit.flax as wf

    out = {}
    for recipe in cases.RECIPES:
        model = flax_cases.abstract()
        _, report = wf.init_(model, recipe, seed=0, rng="portable")
        out[recipe] = {row.name: (row, flax_cases._value(model, row.name)) for row in report}
    return out


@pytest.fixture(scope="module")
def runs(tmp_path_factory: pytest.TempPathFactory) -> tuple[dict[str, Path | str], dict[str, Any]]:
    """Each available backend's output folder (or its failure text), and the Flax values, drawn meanwhile."""
    root = tmp_path_factory.mktemp("keras_model")
    processes = {}
    for backend in KERAS_BACKENDS:
        if importlib.util.find_spec(backend) is None:
            continue
        folder = root / backend
        folder.mkdir()
        env = {
            **os.environ,
            "KERAS_BACKEND": backend,
            "TF_CPP_MIN_LOG_LEVEL": "3",
            "TF_ENABLE_ONEDNN_OPTS": "0",
        }
        with (folder / "stderr").open("wb") as stderr:
            processes[backend] = subprocess.Popen(
                [sys.executable, str(_CASES / "model.py"), str(folder)], env=env, stderr=stderr
            )
    try:
        flax = _flax_weights()
    finally:
        results: dict[str, Path | str] = {}
        for backend, process in processes.items():
            code = process.wait(timeout=600)
            folder = root / backend
            results[backend] = (
                folder if code == 0 else f"exit {code}: {(folder / 'stderr').read_text()[-3000:]}"
            )
    return results, flax


@pytest.mark.parametrize("backend", KERAS_BACKENDS)
def test_portable_weights_equal_flax_nnx_for_the_same_architecture(
    backend: str, runs: tuple[dict[str, Path | str], dict[str, Any]]
) -> None:
    from winit.backends._portable import NORMAL_ULPS

    backend_runs, flax_weights = runs
    if backend not in backend_runs:
        pytest.skip(f"{backend} is not installed")
    folder = backend_runs[backend]
    assert isinstance(folder, Path), folder
    listed = json.loads((folder / "report.json").read_text())
    rows, paths, names = listed["rows"], listed["paths"], listed["nnx"]
    for recipe in cases.RECIPES:
        stored = np.load(folder / f"{recipe}.npz")
        assert len(rows) == len(flax_weights[recipe]) == len(paths) == len(names)
        for row in rows:
            flax_row, flax_value = flax_weights[recipe][names[row["name"]]]
            assert (row["role"], tuple(row["shape"])) == (flax_row.role, flax_row.shape), (row, flax_row)
            value = stored[f"w{paths.index(row['name']):03d}"]
            if recipe == "keras" or backend == "jax" or row["std"] == 0:
                # uniform laws and constants bit for bit; JAX runs the same XLA kernel as Flax
                np.testing.assert_array_equal(value, flax_value, err_msg=f"{recipe} {row['name']}")
            else:  # normals: within the portable normal guarantee (README, winit.backends._portable)
                ulp = np.spacing(np.maximum(np.abs(flax_value), np.float32(row["std"])))
                assert np.all(np.abs(value - flax_value) <= NORMAL_ULPS * ulp), f"{recipe} {row['name']}"


# -- in this process ----------------------------------------------------------------------------------
def _expected_roles(model: Any) -> dict[str, str]:
    blocks = [layer for layer in model.layers if isinstance(layer, cases.Block)]
    embedding, final_norm, head = model.layers[1], model.layers[-2], model.layers[-1]
    expected = {embedding.embeddings.path: "embedding", final_norm.gamma.path: "norm_scale",
                final_norm.beta.path: "norm_offset", head.kernel.path: "head", head.bias.path: "bias"}  # fmt: skip
    for block in blocks:
        attn = block.attn
        for dense in (attn._query_dense, attn._key_dense, attn._value_dense):
            expected.update({dense.kernel.path: "attention_qkv", dense.bias.path: "bias"})
        out = attn._output_dense
        expected.update({out.kernel.path: "attention_out", out.bias.path: "bias"})
        for norm in (block.ln1, block.ln2):
            expected.update({norm.gamma.path: "norm_scale", norm.beta.path: "norm_offset"})
        expected.update({block.fc1.kernel.path: "mlp_in", block.fc1.bias.path: "bias"})
        expected.update({block.fc2.kernel.path: "mlp_out", block.fc2.bias.path: "bias"})
    return expected


def test_roles_of_every_variable_of_a_keras_mha_transformer() -> None:
    model = cases.build()
    _, report = wk.init_(model, seed=0)
    assert {row.name: row.role for row in report} == _expected_roles(model)
    assert len(report) == len(model.weights) and all(row.layout == "keras" for row in report)


def test_flat_functional_model_roles_by_structure() -> None:
    tokens = keras.Input((5,), dtype="int32")
    x = keras.layers.Embedding(64, 32)(tokens)
    for _ in range(2):
        y = keras.layers.LayerNormalization()(x)
        x = keras.layers.Add()([x, keras.layers.MultiHeadAttention(4, 8)(y, y)])
        y = keras.layers.Dense(64)(keras.layers.LayerNormalization()(x))
        x = keras.layers.Add()([x, keras.layers.Dense(32)(y)])
    model = keras.Model(tokens, keras.layers.Dense(10)(x))
    _, report = wk.init_(model, "torchtitan", seed=0)
    kernels = [row for row in report if row.name.endswith("/kernel")]
    roles = [row.role for row in kernels]
    block = ["attention_qkv"] * 3 + ["attention_out", "mlp_in", "mlp_out"]
    assert roles == [*block, *block, "head"]
    outs = [row for row in kernels if row.role == "mlp_out"]
    assert [row.std for row in outs] == pytest.approx([0.02 / math.sqrt(2), 0.02 / 2], rel=1e-3)  # by ℓ


def test_einsum_dense_fans_follow_keras_own_axes() -> None:
    from keras.src.initializers.random_initializers import compute_fans
    from keras.src.layers.core.einsum_dense import _analyze_einsum_string

    model = cases.build()
    _, report = wk.init_(model, seed=0)
    attn = next(layer for layer in model.layers if isinstance(layer, cases.Block)).attn
    inputs = {
        "query": (None, 5, 32),
        "key": (None, 5, 32),
        "value": (None, 5, 32),
        "attention_output": (None, 5, 4, 8),
    }
    for dense in (attn._query_dense, attn._key_dense, attn._value_dense, attn._output_dense):
        *_, ins, outs = _analyze_einsum_string(dense.equation, dense.bias_axes, inputs[dense.name],
                                               dense.partial_output_shape)  # fmt: skip
        row = report[dense.kernel.path]
        assert (row.fan_in, row.fan_out) == compute_fans(dense.kernel.shape, ins, outs)
        bound = math.sqrt(6 / (row.fan_in + row.fan_out))  # glorot_uniform, as Keras would draw it
        assert np.max(np.abs(_numpy(dense.kernel))) <= bound and row.scheme == "glorot_uniform"


def test_gpt2_per_std_group_measured_with_power() -> None:
    L = 2  # noqa: N806 - the recipes' name
    model = cases.build(d=64, d_ff=256, vocab=256, layers=L)
    _, report = wk.init_(model, "gpt2", seed=2)
    groups: dict[float, list[np.ndarray]] = {}
    variables = {v.path: v for v in model.weights}
    for row in report:
        law = 0.02 / math.sqrt(2 * L) if row.role in ("attention_out", "mlp_out") else 0.02
        assert row.std == pytest.approx(law if row.role not in ("bias", "norm_scale", "norm_offset") else 0.0)
        if row.std > 0:
            groups.setdefault(row.std, []).append(_numpy(variables[row.name]).ravel())

    def ok(sample: np.ndarray, std: float) -> bool:  # n ≥ 40,000: SE ≤ 0.36%, a 5% error ≥ 9 SE out
        assert sample.size >= 40_000
        return abs(float(np.sqrt(np.mean(np.square(sample, dtype=np.float64)))) / std - 1) < 0.015

    assert len(groups) == 2
    for std, samples in groups.items():
        sample = np.concatenate(samples)
        assert ok(sample, std) and not ok(sample, std * 1.05) and not ok(sample * 1.05, std)


def test_keep_rule_and_missing_size_before_any_write() -> None:
    model = cases.build()
    wk.init_(model, seed=0)
    fc2 = next(layer for layer in model.layers if isinstance(layer, cases.Block)).fc2
    before = _numpy(fc2.kernel)
    _, report = wk.init_(model, "gpt2", seed=1, rules={"mlp_out": "keep"})
    np.testing.assert_array_equal(_numpy(fc2.kernel), before)
    assert report[fc2.kernel.path].kept
    snapshot = [_numpy(v) for v in model.weights]
    with pytest.raises(ValueError, match="needs 'width_mult'"):
        wk.init_(model, "mup", seed=3)  # μP needs the width multiplier (or base_width)
    for variable, old in zip(model.weights, snapshot, strict=True):
        np.testing.assert_array_equal(_numpy(variable), old)
    _, report = wk.init_(model, "mup", seed=3, base_width=16)  # width_mult = d / base_width = 2
    assert report[fc2.kernel.path].std == pytest.approx(0.02 / math.sqrt(2))


def test_errors_name_the_bad_value() -> None:
    model = cases.build()
    with pytest.raises(ValueError, match="unknown recipe 'gtp2'"):
        wk.init_(model, "gtp2")
    with pytest.raises(ValueError, match="neither a role"):
        wk.init_(model, rules={"attention_qkvv": "zeros"})
    with pytest.raises(ValueError, match="not built"):
        wk.init_(keras.Sequential([keras.layers.Dense(3)]))
    with pytest.raises(TypeError, match="keras Layer"):
        wk.init_(object())


def test_lstm_keras_and_torch_recipes() -> None:
    model = keras.Sequential([keras.Input((4, 8)), keras.layers.LSTM(16), keras.layers.Dense(3)])
    _, report = wk.init_(model, seed=0)
    cell = model.layers[0].cell
    bias = _numpy(cell.bias)
    assert np.all(bias[16:32] == 1) and np.all(bias[:16] == 0) and np.all(bias[32:] == 0)  # unit_forget_bias
    recurrent = _numpy(cell.recurrent_kernel)
    np.testing.assert_allclose(recurrent @ recurrent.T, np.eye(16), atol=1e-5)
    assert report[cell.recurrent_kernel.path].role == "recurrent"
    assert report[f"{cell.bias.path}[f]"].scheme == "ones"
    _, torch_report = wk.init_(model, "torch", seed=0)
    assert np.max(np.abs(_numpy(cell.bias))) <= 0.25  # torch: U(±1/√hidden) for RNN biases too
    assert torch_report[f"{cell.bias.path}[f]"].scheme == "random_uniform"


def test_conv_batchnorm_dense_roles_and_statistics_reset() -> None:
    model = keras.Sequential([
        keras.Input((8, 8, 3)), keras.layers.Conv2D(4, 3), keras.layers.BatchNormalization(),
        keras.layers.Flatten(), keras.layers.Dense(10),
    ])  # fmt: skip
    conv, norm, _, head = model.layers
    norm.moving_variance.assign(np.full((4,), 5.0, np.float32))
    _, report = wk.init_(model, "torch", seed=0)
    assert report[conv.kernel.path].role == "conv" and report[head.kernel.path].role == "head"
    assert (report[conv.kernel.path].fan_in, report[conv.kernel.path].fan_out) == (27, 36)  # Keras' conv fans
    bound = 1 / math.sqrt(27)  # torch: kaiming_uniform(a=√5) weight and U(±1/√fan_in) bias
    assert np.max(np.abs(_numpy(conv.kernel))) <= bound and np.max(np.abs(_numpy(conv.bias))) <= bound
    assert np.any(_numpy(conv.bias) != 0)
    assert report[norm.gamma.path].role == "norm_scale" and np.all(_numpy(norm.moving_variance) == 1)


def test_fused_gate_up_is_planned_per_block_as_torch() -> None:
    """One Dense writing 2·d_ff (SwiGLU in one kernel) gets a gate and an up block, each its own law, as torch's."""
    d, d_ff = 32, 48
    tokens = keras.Input((5,), dtype="int32")
    x = keras.layers.Embedding(64, d)(tokens)
    for _ in range(2):
        y = keras.layers.LayerNormalization()(x)
        x = keras.layers.Add()([x, keras.layers.MultiHeadAttention(4, 8)(y, y)])
        gate, up = keras.ops.split(
            keras.layers.Dense(2 * d_ff, use_bias=False)(keras.layers.LayerNormalization()(x)), 2, -1
        )
        x = keras.layers.Add()([x, keras.layers.Dense(d, use_bias=False)(keras.ops.silu(gate) * up)])
    model = keras.Model(tokens, keras.layers.Dense(64)(x))
    _, report = wk.init_(model, "torchtitan", seed=0, rng="portable")
    fused = [row for row in report if row.role == "mlp_in"]
    assert [row.part for row in fused] == ["gate", "up"] * 2
    assert all(
        row.shape == (d_ff, d) for row in fused
    )  # a block's rows in the canonical (out, in), as torch's
    # torchtitan: w1 (gate) σ₀, w3 (up) σ₀/√(2(ℓ+1)); d_ff is the MLP-out's input, not 2·d_ff
    assert [row.std for row in fused] == pytest.approx([0.02, 0.02 / math.sqrt(2), 0.02, 0.02 / 2], rel=1e-12)
    kernels = [v for v in model.weights if tuple(v.shape) == (d, 2 * d_ff)]
    assert len(kernels) == 2
    for variable in kernels:
        value = _numpy(variable)
        assert value[:, d_ff:].std() < 0.8 * value[:, :d_ff].std()  # the up half is the depth-scaled one
    # torch cuts the same fused weight into the same blocks (winit/_torch_roles.py), rows of its (out, in)
    torch = pytest.importorskip("torch")
    import winit.torch as wt

    class Mlp(torch.nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.norm = torch.nn.LayerNorm(d)
            self.attn = torch.nn.MultiheadAttention(d, 4)
            self.norm2 = torch.nn.LayerNorm(d)
            self.gate_up = torch.nn.Linear(d, 2 * d_ff, bias=False)
            self.down = torch.nn.Linear(d_ff, d, bias=False)

    class Net(torch.nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.embed = torch.nn.Embedding(64, d)
            self.blocks = torch.nn.ModuleList([Mlp(), Mlp()])
            self.head = torch.nn.Linear(d, 64)

    _, torch_report = wt.init_(Net(), seed=0)
    torch_fused = [row for row in torch_report if row.role == "mlp_in"]
    assert [row.part for row in torch_fused] == [row.part for row in fused]
    assert [row.shape for row in torch_fused] == [row.shape for row in fused]
