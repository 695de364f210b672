"""``winit.torch.lsuv_``: unit output variance per layer, orthogonal pre-init, the report, and faster training."""

from __future__ import annotations

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


@pytest.mark.parametrize(("activation", "lr", "steps"), [(nn.Tanh, 0.05, 60), (nn.ReLU, 0.1, 100)])
def test_lsuv_trains_faster_than_small_random_init(
    activation: type[nn.Module], lr: float, steps: int, task: Any
) -> None:
    torch.manual_seed(0)
    model = mlp(activation)
    wt.lsuv_(model, task[0][:128])
    lsuv_loss = train(model, task, steps, lr)
    torch.manual_seed(0)
    model = mlp(activation)
    wt.init_(model, winit.get("random_normal").with_(stddev=0.01), seed=0)
    small_loss = train(model, task, steps, lr)
    # N(0, 0.01) over 20 layers passes no signal: the loss stays at ln(4) = 1.386
    assert small_loss == pytest.approx(1.386, abs=0.01)
    assert lsuv_loss < small_loss - 0.3  # measured: tanh 0.15, ReLU 0.88


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
