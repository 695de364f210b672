"""Per-layer statistics, the verdict rules at their documented thresholds, and ``winit.torch.diagnose``."""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import pytest

import winit
from winit import diagnose as dg
from winit.diagnose import LayerStats, layer_stats, units_identical, verdict


def _layer(name: str = "layer", **fields: Any) -> LayerStats:
    base: dict[str, Any] = {"kind": "tanh", "units": 8, "mean": 0.0, "std": 0.5, "input_std": 1.0}
    return LayerStats(name=name, **{**base, **fields})


# -- identical units ----------------------------------------------------------------------------------
def test_identical_columns_are_symmetric_to_the_documented_tolerance() -> None:
    column = np.linspace(-1.0, 1.0, 50)[:, None]
    same = np.repeat(column, 6, axis=1)
    assert units_identical(same)
    nudged = same.copy()
    nudged[10, 3] += 1e-7  # 1e-7 of the largest |h| (1.0): inside SYMMETRY_RTOL = 1e-6
    assert units_identical(nudged)
    nudged[10, 3] += 1e-5
    assert not units_identical(nudged)
    assert not units_identical(column)  # one unit has nobody to be identical to


def test_identical_units_of_a_convolution_are_its_channels() -> None:
    rng = np.random.default_rng(0)
    channel = rng.standard_normal((4, 1, 5, 5))
    output = np.repeat(channel, 3, axis=1)  # (batch, channels, h, w): every channel the same map
    assert units_identical(output, unit_axis=1)
    assert not units_identical(output, unit_axis=-1)  # the width axis varies within a channel


def test_overflowed_units_count_as_identical_but_nan_does_not() -> None:
    assert units_identical(np.full((4, 3), np.inf))
    assert not units_identical(np.full((4, 3), np.nan))


# -- per-layer statistics -----------------------------------------------------------------------------
def test_tanh_saturation_and_relu_dead_units() -> None:
    tanh_out = np.array([[0.999, -0.995, 0.5, 0.0], [0.2, -0.2, 0.991, -0.98]])
    stats = layer_stats("t", "tanh", tanh_out, input_std=1.0, activation="tanh")
    assert stats.saturated == pytest.approx(3 / 8)  # |h| > 0.99
    assert stats.dead is None
    relu_out = np.array([[0.0, 1.0, 0.0, 2.0], [0.0, 0.0, 0.0, 3.0], [0.0, 4.0, 0.0, 0.0]])
    stats = layer_stats("r", "relu", relu_out, input_std=1.0, activation="relu", grad=np.full((2, 2), 0.5))
    assert stats.dead == pytest.approx(2 / 4)  # units 0 and 2 are 0 on every example
    assert stats.saturated is None
    assert stats.grad_norm == pytest.approx(1.0)  # Frobenius: √(4·0.25)
    assert stats.units == 4


def test_sigmoid_saturation_is_outside_one_percent_of_either_end() -> None:
    out = np.array([[0.005, 0.5, 0.995, 0.02]])
    stats = layer_stats("s", "sigmoid", out, input_std=1.0, activation="sigmoid")
    assert stats.saturated == pytest.approx(0.5)


def test_non_finite_values_are_flagged() -> None:
    stats = layer_stats("x", "relu", np.array([[1.0, np.inf]]), input_std=1.0, activation="relu")
    assert not stats.finite
    assert verdict([stats], 1.0)[0] == "exploding"


# -- the verdict rules, each at its threshold ------------------------------------------------------------
def test_symmetric_needs_a_non_vanished_input() -> None:
    layers = [_layer("a", identical=True, input_std=dg.VANISHING_RATIO)]
    assert verdict(layers, 1.0)[0] == "symmetric"
    # units that are identical only because the signal underflowed to 0 are a vanishing net, not symmetry
    underflow = [_layer("a", identical=True, input_std=0.5 * dg.VANISHING_RATIO, std=0.0)]
    assert verdict(underflow, 1.0)[0] == "vanishing"


def test_last_layer_std_thresholds() -> None:
    up, down = dg.EXPLODING_RATIO, dg.VANISHING_RATIO
    assert verdict([_layer(std=up * 2.0 * 1.001)], 2.0)[0] == "exploding"  # ratios scale with the input std
    assert verdict([_layer(std=up * 2.0 * 0.999)], 2.0)[0] == "healthy"
    assert verdict([_layer(std=down * 2.0 * 0.999)], 2.0)[0] == "vanishing"
    assert verdict([_layer(std=down * 2.0 * 1.001)], 2.0)[0] == "healthy"


def test_saturation_is_averaged_over_layers_and_beats_the_gradient_rule() -> None:
    edge = dg.SATURATED_FRACTION
    layers = [
        _layer("a", saturated=2 * edge + 0.01, grad_norm=1e6),
        _layer("b", saturated=0.0, grad_norm=1.0),
    ]
    decided, reason = verdict(layers, 1.0)
    assert decided == "saturated"
    assert "saturated" in reason
    layers = [
        _layer("a", saturated=2 * edge - 0.01, grad_norm=1e6),
        _layer("b", saturated=0.0, grad_norm=1.0),
    ]
    assert verdict(layers, 1.0)[0] == "exploding"  # not saturated: the gradient ratio 1e6 decides


@pytest.mark.parametrize(
    ("ratio", "expected"), [(1.01e3, "exploding"), (0.99e-3, "vanishing"), (0.5, "healthy")]
)
def test_first_to_last_gradient_ratio(ratio: float, expected: str) -> None:
    assert dg.GRADIENT_RATIO == 1e3
    layers = [_layer("a", grad_norm=ratio), _layer("b", grad_norm=1.0)]
    assert verdict(layers, 1.0)[0] == expected


def test_dead_units_threshold() -> None:
    assert verdict([_layer(dead=dg.DEAD_FRACTION + 0.01)], 1.0)[0] == "vanishing"
    assert verdict([_layer(dead=dg.DEAD_FRACTION)], 1.0)[0] == "healthy"


def test_non_finite_loss_is_exploding_and_empty_input_is_an_error() -> None:
    assert verdict([_layer()], 1.0, loss=math.inf)[0] == "exploding"
    with pytest.raises(ValueError, match="no layer statistics"):
        verdict([], 1.0)


def test_thresholds_are_the_ones_the_docstring_documents() -> None:
    doc = dg.__doc__ or ""
    for text in (
        "SYMMETRY_RTOL = 1e-6",
        "EXPLODING_RATIO = 1e2",
        "VANISHING_RATIO = 1e-2",
        "GRADIENT_RATIO = 1e3",
        "SATURATED_FRACTION = 0.1",
        "DEAD_FRACTION = 0.5",
    ):
        name, value = text.split(" = ")
        assert text in doc
        assert getattr(dg, name) == float(value)


# -- winit.torch.diagnose -------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def torch_modules() -> Any:
    torch = pytest.importorskip("torch")
    pytest.importorskip("array_api_compat")
    import winit.torch as wt

    return torch, wt


def _resnet(torch: Any) -> Any:
    """A small ResNet-style CNN without normalization: stem, three residual blocks, pooled linear head."""
    nn = torch.nn

    class Block(nn.Module):
        def __init__(self, channels: int) -> None:
            super().__init__()
            self.conv1 = nn.Conv2d(channels, channels, 3, padding=1)
            self.relu1 = nn.ReLU()
            self.conv2 = nn.Conv2d(channels, channels, 3, padding=1)
            self.relu2 = nn.ReLU()

        def forward(self, x: Any) -> Any:
            return self.relu2(x + self.conv2(self.relu1(self.conv1(x))))

    return nn.Sequential(
        nn.Conv2d(3, 16, 3, padding=1), nn.ReLU(), Block(16), Block(16), Block(16),
        nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(16, 10),
    )  # fmt: skip


def _images(torch: Any) -> Any:
    return torch.randn(8, 3, 16, 16, generator=torch.Generator().manual_seed(1))


def test_resnet_small_normal_init_vanishes_and_init_is_healthy(torch_modules: Any) -> None:
    torch, wt = torch_modules
    bad = _resnet(torch)
    wt.init_(bad, winit.get("random_normal").with_(stddev=0.01), seed=0)
    found = wt.diagnose(bad, _images(torch))
    assert found.verdict == "vanishing"
    assert found.layers[-1].name == "7" and found.layers[-1].kind == "Linear"
    assert found.layers[-1].std < dg.VANISHING_RATIO * found.input_std

    good = _resnet(torch)
    wt.init_(good, seed=0)  # He for ReLU
    healthy = wt.diagnose(good, _images(torch))
    assert healthy.verdict == "healthy"
    assert healthy.layers[-1].std > 100 * found.layers[-1].std
    # one row per leaf call: stem conv + relu, 4 per block, pool, flatten, head
    assert [layer.name for layer in healthy.layers][:4] == ["0", "1", "2.conv1", "2.relu1"]
    assert len(healthy.layers) == 2 + 3 * 4 + 3
    convs = [layer for layer in healthy.layers if layer.kind == "Conv2d"]
    assert all(layer.grad_norm is not None and layer.grad_norm > 0 for layer in convs)
    assert all(layer.units == 16 for layer in convs)  # channels are the units
    relus = [layer for layer in healthy.layers if layer.kind == "ReLU"]
    assert all(layer.dead is not None for layer in relus)


def test_zero_and_large_init_of_the_resnet(torch_modules: Any) -> None:
    torch, wt = torch_modules
    model = _resnet(torch)
    wt.init_(model, "zeros")
    found = wt.diagnose(model, _images(torch))
    assert found.verdict == "symmetric"
    assert found.layers[0].identical
    wt.init_(model, winit.get("random_normal").with_(stddev=1.0), seed=0)
    assert wt.diagnose(model, _images(torch)).verdict == "exploding"


def test_tanh_mlp_with_unit_normal_weights_saturates(torch_modules: Any) -> None:
    torch, wt = torch_modules
    nn = torch.nn
    model = nn.Sequential(*[m for _ in range(6) for m in (nn.Linear(32, 32), nn.Tanh())], nn.Linear(32, 4))
    wt.init_(model, winit.get("random_normal").with_(stddev=1.0), seed=0)
    found = wt.diagnose(model, torch.randn(64, 32, generator=torch.Generator().manual_seed(0)))
    assert found.verdict == "saturated"
    tanh_rows = [layer for layer in found.layers if layer.kind == "Tanh"]
    assert len(tanh_rows) == 6 and all(layer.saturated is not None for layer in tanh_rows)
    assert found.layers[0].saturated is None  # a Linear output has no saturation of its own
    wt.init_(model, "glorot_normal", seed=0)
    assert wt.diagnose(model, torch.randn(64, 32, generator=torch.Generator().manual_seed(0))).verdict == (
        "healthy"
    )


def test_diagnose_leaves_grads_mode_and_hooks_alone(torch_modules: Any) -> None:
    torch, wt = torch_modules
    model = _resnet(torch)
    wt.init_(model, seed=0)
    model.eval()
    found = wt.diagnose(model, _images(torch))
    assert all(p.grad is None for p in model.parameters())
    assert not model.training
    assert all(not m._forward_hooks and not m._forward_pre_hooks for m in model.modules())
    assert math.isfinite(found.loss)


def _hf_resnet(torch: Any) -> Any:
    """HF ResNetForImageClassification, tiny config: every block ends in `hidden_state += residual`."""
    pytest.importorskip("transformers")
    from tests.hf_zoo import tiny_resnet_classifier

    return tiny_resnet_classifier()


def _inplace_mlp(torch: Any) -> Any:
    nn = torch.nn
    torch.manual_seed(0)
    return nn.Sequential(
        nn.Linear(16, 64), nn.BatchNorm1d(64), nn.ReLU(inplace=True), nn.Linear(64, 64), nn.BatchNorm1d(64),
        nn.ReLU(inplace=True), nn.Linear(64, 4),
    )  # fmt: skip


def test_in_place_ops_after_a_layer_do_not_change_its_statistics(torch_modules: Any) -> None:
    torch, wt = torch_modules
    # train mode: BatchNorm normalizes with the batch's own statistics, so its output has mean 0,
    # std √(var/(var+eps)) ≈ 1 exactly; ReLU(inplace=True) / `+= residual` then overwrite that tensor.
    model = _inplace_mlp(torch).train()
    found = wt.diagnose(model, torch.randn(64, 16, generator=torch.Generator().manual_seed(0)))
    norms = [layer for layer in found.layers if layer.kind == "BatchNorm1d"]
    assert len(norms) == 2
    for layer in norms:
        assert abs(layer.mean) < 1e-5 and layer.std == pytest.approx(1.0, abs=1e-3), layer
    relus = [layer for layer in found.layers if layer.kind == "ReLU"]
    # each ReLU's input std is read before it rewrites its input in place: the BatchNorm's ≈ 1
    assert all(layer.input_std == pytest.approx(1.0, abs=1e-3) for layer in relus), relus
    assert all(layer.mean > 0.3 for layer in relus)  # E[max(0, z)] = 0.40 for z ~ N(0, 1)

    resnet = _hf_resnet(torch).train()
    found = wt.diagnose(resnet, torch.randn(4, 3, 32, 32, generator=torch.Generator().manual_seed(0)))
    norms = [layer for layer in found.layers if layer.kind == "BatchNorm2d"]
    assert len(norms) == 6  # embedder, 2 per basic block, 1 per projection shortcut
    for layer in norms:
        assert abs(layer.mean) < 1e-5 and layer.std == pytest.approx(1.0, abs=1e-3), layer


@pytest.mark.parametrize("build", [_hf_resnet, _inplace_mlp], ids=["hf-resnet", "inplace-mlp"])
@pytest.mark.parametrize("train", [True, False], ids=["train", "eval"])
def test_diagnose_leaves_every_buffer_and_parameter_as_it_found_it(
    torch_modules: Any, build: Any, train: bool
) -> None:
    torch, wt = torch_modules
    model = build(torch).train(train)
    shape = (32, 16) if isinstance(model, torch.nn.Sequential) else (4, 3, 32, 32)
    inputs = torch.randn(*shape, generator=torch.Generator().manual_seed(0))
    before = {key: value.clone() for key, value in model.state_dict().items()}
    assert any("running_mean" in key for key in before)
    wt.diagnose(model, inputs)
    after = model.state_dict()
    assert list(after) == list(before)
    changed = [key for key in before if not torch.equal(before[key], after[key])]
    assert not changed
    assert model.training is train


def test_custom_loss_fn_drives_the_gradients(torch_modules: Any) -> None:
    torch, wt = torch_modules
    model = torch.nn.Sequential(torch.nn.Linear(8, 8), torch.nn.ReLU(), torch.nn.Linear(8, 2))
    wt.init_(model, seed=0)
    x = torch.randn(16, 8, generator=torch.Generator().manual_seed(0))
    found = wt.diagnose(model, x, loss_fn=lambda out: out.pow(2).sum())
    assert found.loss == pytest.approx(float(model(x).pow(2).sum().detach()), rel=1e-6)
    scaled = wt.diagnose(model, x, loss_fn=lambda out: 3.0 * out.pow(2).sum())
    assert scaled.layers[0].grad_norm == pytest.approx(3.0 * found.layers[0].grad_norm, rel=1e-5)
    # the default loss is a fixed random direction: the same seed gives the same gradients
    assert wt.diagnose(model, x).grad_profile == wt.diagnose(model, x).grad_profile


def test_diagnose_table_and_rich_table(torch_modules: Any) -> None:
    torch, wt = torch_modules
    model = torch.nn.Sequential(torch.nn.Linear(8, 8), torch.nn.ReLU(), torch.nn.Linear(8, 2))
    wt.init_(model, seed=0)
    found = wt.diagnose(model, torch.randn(16, 8, generator=torch.Generator().manual_seed(0)))
    text = str(found)
    assert text.splitlines()[0].split()[:3] == ["layer", "kind", "units"]
    assert "ReLU" in text and f"verdict: {found.verdict}" in text
    pytest.importorskip("rich")
    assert found.rich_table().row_count == 3


def test_diagnose_rejects_bad_arguments(torch_modules: Any) -> None:
    torch, wt = torch_modules
    model = torch.nn.Linear(4, 3)
    with pytest.raises(TypeError, match=r"torch\.nn\.Module"):
        wt.diagnose(object(), torch.ones(2, 4))
    with pytest.raises(ValueError, match="scalar"):
        wt.diagnose(model, torch.ones(2, 4), loss_fn=lambda out: out)
    with pytest.raises(TypeError, match="loss_fn"):
        wt.diagnose(model, torch.ones(2, 4), loss_fn=3)
    assert not model._forward_hooks  # removed even when the loss fails
