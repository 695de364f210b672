"""``winit.torch.lsuv_``: unit output variance per layer, orthogonal pre-init, the report, and faster training."""

from __future__ import annotations

import math
from typing import Any

import pytest

torch = pytest.importorskip("torch")
pytest.importorskip("array_api_compat")

import torch.nn.functional as F  # noqa: E402, N812
from torch import nn  # noqa: E402

import winit  # noqa: E402
import winit.torch as wt  # noqa: E402

CLASSES = 4


def mlp(
    activation: type[nn.Module], depth: int = 20, width: int = 32, in_features: int = 16
) -> nn.Sequential:
    """``depth`` Linear+activation layers of ``width`` units and a linear head to CLASSES logits."""
    layers: list[nn.Module] = []
    size = in_features
    for _ in range(depth):
        layers += [nn.Linear(size, width), activation()]
        size = width
    return nn.Sequential(*layers, nn.Linear(size, CLASSES))


def small_cnn() -> nn.Sequential:
    return nn.Sequential(
        nn.Conv2d(3, 8, 3, padding=1), nn.ReLU(), nn.Conv2d(8, 8, 3, padding=1), nn.Tanh(),
        nn.ConvTranspose2d(8, 4, 2, stride=2), nn.ReLU(), nn.Flatten(), nn.Linear(4 * 16 * 16, CLASSES),
    )  # fmt: skip


@pytest.fixture(scope="module")
def task() -> tuple[Any, Any]:
    """512 examples x ~ N(0, 1) in 16 dimensions, labels argmax(x·T) for a fixed teacher T."""
    generator = torch.Generator().manual_seed(0)
    x = torch.randn(512, 16, generator=generator)
    teacher = torch.randn(16, CLASSES, generator=generator)
    return x, (x @ teacher).argmax(dim=1)


def output_variances(model: nn.Module, batch: Any) -> dict[str, float]:
    """Population variance of each Linear/Conv layer's output on ``batch``, measured independently of lsuv_."""
    found: dict[str, float] = {}

    def record(name: str) -> Any:
        def hook(_module: nn.Module, _inputs: Any, output: Any) -> None:  # None: keep the output as it is
            found.setdefault(name, float(output.double().var(correction=0)))

        return hook

    handles = [
        module.register_forward_hook(record(name))
        for name, module in model.named_modules()
        if isinstance(module, (nn.Linear, nn.Conv2d, nn.ConvTranspose2d))
    ]
    with torch.no_grad():
        model(batch)
    for handle in handles:
        handle.remove()
    return found


def train(model: nn.Module, task: tuple[Any, Any], steps: int, lr: float, batch: int = 64) -> float:
    """Plain SGD on mini-batches in a fixed order; returns the full-set cross-entropy afterwards."""
    x, y = task
    optimizer = torch.optim.SGD(model.parameters(), lr=lr)
    for step in range(steps):
        start = (step * batch) % len(x)
        loss = F.cross_entropy(model(x[start : start + batch]), y[start : start + batch])
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
    with torch.no_grad():
        return float(F.cross_entropy(model(x), y))


@pytest.mark.parametrize("activation", [nn.Tanh, nn.ReLU])
def test_every_layer_has_unit_output_variance_within_tol(activation: type[nn.Module], task: Any) -> None:
    torch.manual_seed(0)
    model = mlp(activation)
    batch = task[0][:128]
    before = output_variances(model, batch)
    assert max(abs(v - 1.0) for v in before.values()) > 0.1  # torch's default init is far from unit variance
    _, report = wt.lsuv_(model, batch, tol=0.05)
    after = output_variances(model, batch)
    assert len(after) == 21
    assert all(abs(v - 1.0) <= 0.05 for v in after.values()), after
    assert report.converged
    assert [record.name for record in report] == list(after)  # forward order, every layer once
    for record in report:
        assert 1 <= record.iterations <= 10
        assert record.variance_after == pytest.approx(after[record.name], rel=1e-6)


def test_convolutions_and_transposed_convolutions(task: Any) -> None:
    torch.manual_seed(0)
    model = small_cnn()
    images = torch.randn(16, 3, 8, 8, generator=torch.Generator().manual_seed(3))
    _, report = wt.lsuv_(model, images, tol=0.1)
    after = output_variances(model, images)
    assert set(report.iterations) == {"0", "2", "4", "7"}
    assert all(abs(v - 1.0) <= 0.1 for v in after.values()), after


def test_pre_init_is_orthogonal_and_biases_are_zero(task: Any) -> None:
    torch.manual_seed(0)
    model = mlp(nn.Tanh, depth=3)
    wt.lsuv_(model, task[0][:128])
    square = model[2].weight.detach().double()  # 32 × 32: W·Wᵀ = c²·I after a scalar rescale
    gram = square @ square.T
    scale = gram.diagonal().mean()
    assert torch.allclose(gram / scale, torch.eye(32, dtype=torch.float64), atol=1e-5)
    wide = model[0].weight.detach().double()  # 32 × 16: orthonormal columns, up to the scale
    gram = wide.T @ wide
    assert torch.allclose(gram / gram.diagonal().mean(), torch.eye(16, dtype=torch.float64), atol=1e-5)
    assert all(float(model[i].bias.detach().abs().max()) == 0.0 for i in (0, 2, 4, 6))


def test_seed_makes_lsuv_deterministic(task: Any) -> None:
    first, second = mlp(nn.ReLU, depth=4), mlp(nn.ReLU, depth=4)
    wt.lsuv_(first, task[0][:64], seed=5)
    wt.lsuv_(second, task[0][:64], seed=5)
    assert all(torch.equal(a, b) for a, b in zip(first.parameters(), second.parameters(), strict=True))


def test_max_iter_caps_the_rescales_and_the_report_says_so(task: Any) -> None:
    torch.manual_seed(0)
    model = mlp(nn.Tanh, depth=2)
    # float32 outputs cannot hit variance 1 to 1e-12: every layer uses all its rescales and misses
    _, report = wt.lsuv_(model, task[0][:64], tol=1e-12, max_iter=3)
    assert [record.iterations for record in report] == [3, 3, 3]
    assert not report.converged
    assert all(abs(record.variance_after - 1.0) < 1e-5 for record in report)
    text = str(report)
    assert text.splitlines()[0].split()[:3] == ["layer", "kind", "iterations"]
    assert "no" in text
    assert report["0"].kind == "Linear"
    with pytest.raises(KeyError, match="no layer"):
        report["nope"]


def test_lsuv_restores_the_mode_and_creates_no_grads(task: Any) -> None:
    model = mlp(nn.ReLU, depth=3)
    model.train()
    wt.lsuv_(model, task[0][:32])
    assert model.training
    assert all(p.grad is None for p in model.parameters())
    assert all(not m._forward_hooks for m in model.modules())


def first_layer_gradient(model: nn.Module, task: tuple[Any, Any]) -> float:
    """‖∂ cross-entropy / ∂ W₁‖ on the whole set: how much error signal reaches the first layer."""
    x, y = task
    model.zero_grad()
    F.cross_entropy(model(x), y).backward()
    grad = model[0].weight.grad
    assert grad is not None
    return float(grad.norm())


# A 100-step training result of a 20-layer net is a knife edge of floating-point order: the same
# seed's final loss moves by up to 0.5 between ATEN_CPU_CAPABILITY=default and avx2 (deep ReLU nets
# under SGD are chaotic: measured 0.88–1.43 over 5 seeds and both capabilities, one run above ln 4).
# So the tests assert what is robust: the tanh loss over several seeds with a wide margin, and for
# both activations the gradient that reaches the first layer, which does not depend on summation order
# beyond round-off (equal to 6 digits across capabilities). tests/test_cpu_capabilities.py reruns this
# file under each capability the CPU has.
@pytest.mark.parametrize("seed", [0, 1])
def test_lsuv_tanh_trains_far_below_chance_where_small_random_init_stays_at_it(seed: int, task: Any) -> None:
    torch.manual_seed(seed)
    model = mlp(nn.Tanh)
    wt.lsuv_(model, task[0][:128], seed=seed)
    lsuv_loss = train(model, task, 60, 0.05)
    # measured over seeds 0-4, identical to 3 decimals under default and avx2: 0.135-0.190
    assert lsuv_loss < 0.6
    torch.manual_seed(seed)
    model = mlp(nn.Tanh)
    wt.init_(model, winit.get("random_normal").with_(stddev=0.01), seed=seed)
    # N(0, 0.01) over 20 layers passes no signal: the loss stays at ln(4) = 1.386
    assert train(model, task, 60, 0.05) == pytest.approx(math.log(CLASSES), abs=0.01)


@pytest.mark.parametrize("activation", [nn.Tanh, nn.ReLU])
def test_lsuv_carries_the_error_signal_to_the_first_layer(activation: type[nn.Module], task: Any) -> None:
    for seed in range(3):
        torch.manual_seed(seed)
        model = mlp(activation)
        wt.lsuv_(model, task[0][:128], seed=seed)
        # measured over seeds 0-4: tanh 2.39-2.94, ReLU 0.50-1.13 (both capabilities alike)
        assert first_layer_gradient(model, task) > 0.25, (activation, seed)
        wt.init_(model, winit.get("random_normal").with_(stddev=0.01), seed=seed)
        # 20 layers of N(0, 0.01) at width 32 shrink the backward signal by ~0.06 each: nothing arrives
        assert first_layer_gradient(model, task) < 1e-12, (activation, seed)


def test_lsuv_rejects_bad_arguments(task: Any) -> None:
    model = mlp(nn.ReLU, depth=1)
    with pytest.raises(ValueError, match="tol"):
        wt.lsuv_(model, task[0][:8], tol=0.0)
    with pytest.raises(ValueError, match="max_iter"):
        wt.lsuv_(model, task[0][:8], max_iter=0)
    with pytest.raises(TypeError, match="max_iter"):
        wt.lsuv_(model, task[0][:8], max_iter=2.5)
    with pytest.raises(ValueError, match="has none"):
        wt.lsuv_(nn.Sequential(nn.ReLU()), task[0][:8])
    with pytest.raises(TypeError, match="Module"):
        wt.lsuv_(lambda x: x, task[0][:8])


# -- real models: HF Conv1D, ties, what is skipped --------------------------------------------------------
def _layer_variances(model: nn.Module, batch: Any, names: list[str]) -> dict[str, float]:
    """Population variance of each named module's output on ``batch`` (first call), measured independently."""
    found: dict[str, float] = {}
    modules = dict(model.named_modules())

    def record(name: str) -> Any:
        def hook(_module: nn.Module, _inputs: Any, output: Any) -> None:
            found.setdefault(name, float(output.double().var(correction=0)))

        return hook

    handles = [modules[name].register_forward_hook(record(name)) for name in names]
    with torch.no_grad():
        model.eval()(batch)
    for handle in handles:
        handle.remove()
    return found


def test_lsuv_on_hf_gpt2_rescales_every_conv1d_and_never_writes_the_tied_embedding() -> None:
    transformers = pytest.importorskip("transformers")
    config = transformers.GPT2Config(n_layer=2, n_embd=64, n_head=4, vocab_size=100, n_positions=32,
                                     bos_token_id=0, eos_token_id=0)  # fmt: skip
    torch.manual_seed(0)
    model = transformers.GPT2LMHeadModel(config)
    assert model.lm_head.weight is model.transformer.wte.weight  # tied, as GPT-2 ships
    embeddings = {
        key: value.clone()
        for key, value in model.state_dict().items()
        if key.endswith(("wte.weight", "wpe.weight"))
    }
    ids = torch.randint(0, 100, (8, 16), generator=torch.Generator().manual_seed(0))
    _, report = wt.lsuv_(model, ids)
    conv1d = [name for name, module in model.named_modules() if type(module).__name__ == "Conv1D"]
    assert len(conv1d) == 8  # c_attn, attn.c_proj, c_fc, mlp.c_proj per block
    assert [record.name for record in report] == conv1d  # forward order is module order here
    assert report.converged
    after = _layer_variances(model, ids, conv1d)
    assert all(abs(value - 1.0) <= 0.1 for value in after.values()), after
    for key, value in embeddings.items():
        assert torch.equal(model.state_dict()[key], value), key  # wte keeps std 0.02
    skipped = {skip.name: skip.reason for skip in report.skipped}
    assert set(skipped) == {"lm_head", "transformer.wte", "transformer.wpe"}
    assert "tied to embedding 'transformer.wte'" in skipped["lm_head"]
    assert "lm_head" in str(report) and "skipped" in str(report)


def test_lsuv_on_hf_resnet_rescales_every_conv_and_the_head() -> None:
    pytest.importorskip("transformers")
    from tests.hf_zoo import tiny_resnet_classifier

    model = tiny_resnet_classifier()
    images = torch.randn(8, 3, 32, 32, generator=torch.Generator().manual_seed(0))
    _, report = wt.lsuv_(model, images)
    weighted = [name for name, module in model.named_modules() if isinstance(module, (nn.Conv2d, nn.Linear))]
    assert sorted(record.name for record in report) == sorted(weighted)
    assert report.converged and not report.skipped
    after = _layer_variances(model, images, weighted)
    assert all(abs(value - 1.0) <= 0.1 for value in after.values()), after


def test_lsuv_reports_what_it_cannot_rescale() -> None:
    class Net(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.embed = nn.Embedding(10, 8)
            self.attention = nn.MultiheadAttention(8, 2, batch_first=True)  # out_proj is never called
            self.norm_linear = torch.nn.utils.parametrizations.weight_norm(nn.Linear(8, 8))
            self.unused = nn.Linear(8, 8)
            self.head = nn.Linear(8, 10)
            self.twin = nn.Linear(8, 10)
            self.twin.weight = self.head.weight  # the same weight in two layers: rescaled once

        def forward(self, ids: Any) -> Any:
            h = self.embed(ids)
            h = self.norm_linear(self.attention(h, h, h)[0])
            return self.head(h) + self.twin(h)

    model = Net()
    norm_weight = model.norm_linear.weight.detach().clone()
    _, report = wt.lsuv_(model, torch.randint(0, 10, (4, 5), generator=torch.Generator().manual_seed(0)))
    assert [record.name for record in report] == ["head"]
    reasons = {skip.name: skip.reason for skip in report.skipped}
    assert set(reasons) == {
        "embed",
        "attention.in_proj_weight",
        "attention.out_proj",
        "norm_linear",
        "unused",
        "twin",
    }
    assert "not called" in reasons["attention.out_proj"] and "not called" in reasons["unused"]
    assert "MultiheadAttention" in reasons["attention.in_proj_weight"]
    assert "parametrization" in reasons["norm_linear"]
    assert "same weight as 'head'" in reasons["twin"]
    assert torch.equal(model.norm_linear.weight, norm_weight)
    with pytest.raises(ValueError, match="tied to embedding '0'"):
        tied = nn.Sequential(nn.Embedding(10, 8), nn.Linear(8, 10))
        tied[1].weight = tied[0].weight
        wt.lsuv_(tied, torch.zeros(2, 3, dtype=torch.long))
