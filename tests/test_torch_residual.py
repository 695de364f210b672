"""Residual branches under ``recipe="fixup"`` / ``"zero"``: the last conv of each branch is zeroed, the rest are not.

Fixup (Zhang et al. 2019, arXiv 1901.09321, §3): "initialize the classification layer and the last layer of
each residual branch to 0; initialize every other layer using a standard method (He et al.), and scale only
the weight layers inside residual branches by L^(-1/(2m-2))" (L branches, m layers per branch). ZerO (Zhao et
al. 2022, §4; jiaweizzhao/ZerO-initialization augskip_resnet.py) zeroes the same last convs.
"""

from __future__ import annotations

import math
from typing import Any

import pytest
import torch
from torch import nn

import winit.torch as wt
from tests.hf_zoo import ZOO, tiny_resnet_classifier
from winit._torch_residual import residual_branches


class BasicBlock(nn.Module):
    """torchvision/timm-style: conv1/bn1/conv2/bn2, the downsample defined last."""

    def __init__(self, cin: int, cout: int, stride: int = 1) -> None:
        super().__init__()
        self.conv1 = nn.Conv2d(cin, cout, 3, stride, 1, bias=False)
        self.bn1 = nn.BatchNorm2d(cout)
        self.conv2 = nn.Conv2d(cout, cout, 3, 1, 1, bias=False)
        self.bn2 = nn.BatchNorm2d(cout)
        self.downsample = (
            nn.Sequential(nn.Conv2d(cin, cout, 1, stride, bias=False), nn.BatchNorm2d(cout))
            if stride != 1 or cin != cout
            else None
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = self.bn2(self.conv2(torch.relu(self.bn1(self.conv1(x)))))
        return torch.relu(out + (x if self.downsample is None else self.downsample(x)))


class Bottleneck(nn.Module):
    """torchvision-style bottleneck (expansion 4); ``side`` names the shortcut (ResNet's is ``downsample``)."""

    def __init__(self, cin: int, planes: int, stride: int = 1, side: str = "downsample") -> None:
        super().__init__()
        self.conv1 = nn.Conv2d(cin, planes, 1, bias=False)
        self.bn1 = nn.BatchNorm2d(planes)
        self.conv2 = nn.Conv2d(planes, planes, 3, stride, 1, bias=False)
        self.bn2 = nn.BatchNorm2d(planes)
        self.conv3 = nn.Conv2d(planes, 4 * planes, 1, bias=False)
        self.bn3 = nn.BatchNorm2d(4 * planes)
        self.shortcut_name = side
        if stride != 1 or cin != 4 * planes:
            self.add_module(side, nn.Sequential(nn.Conv2d(cin, 4 * planes, 1, stride, bias=False)))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = torch.relu(self.bn1(self.conv1(x)))
        out = self.bn3(self.conv3(torch.relu(self.bn2(self.conv2(out)))))
        shortcut = getattr(self, self.shortcut_name, None)
        return torch.relu(out + (x if shortcut is None else shortcut(x)))


class ResNet(nn.Module):
    def __init__(self, block: type[nn.Module], depths: tuple[int, ...], **extra: Any) -> None:
        super().__init__()
        bottleneck = block is Bottleneck
        self.conv1 = nn.Conv2d(3, 4, 3, padding=1, bias=False)
        self.bn1 = nn.BatchNorm2d(4)
        stages, cin = [], 4
        for i, depth in enumerate(depths):
            planes = 4 * 2**i
            blocks = []
            for j in range(depth):
                blocks.append(block(cin, planes, 2 if i and not j else 1, **extra))
                cin = 4 * planes if bottleneck else planes
            stages.append(nn.Sequential(*blocks))
        self.layer1, self.layer2 = stages
        self.fc = nn.Linear(cin, 3)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.layer2(self.layer1(torch.relu(self.bn1(self.conv1(x)))))
        return self.fc(x.mean((2, 3)))


def _hf_bottleneck() -> nn.Module:
    import transformers

    config = transformers.ResNetConfig(
        num_channels=3,
        embedding_size=8,
        hidden_sizes=[8, 16],
        depths=[2, 1],
        layer_type="bottleneck",
        num_labels=3,
    )
    torch.manual_seed(0)
    return transformers.ResNetForImageClassification(config)


def _models() -> dict[str, tuple[nn.Module, list[str], list[str]]]:
    """name -> (model, the last conv of each branch, the other branch convs)."""
    hf = "resnet.encoder.stages.{}.layers.{}.layer.{}.convolution"
    return {
        "hf_basic": (tiny_resnet_classifier(), [hf.format(0, 0, 1), hf.format(1, 0, 1)],
                     [hf.format(0, 0, 0), hf.format(1, 0, 0)]),
        "hf_bottleneck": (_hf_bottleneck(), [hf.format(s, b, 2) for s, b in ((0, 0), (0, 1), (1, 0))],
                          [hf.format(s, b, k) for s, b in ((0, 0), (0, 1), (1, 0)) for k in (0, 1)]),
        "basic": (ResNet(BasicBlock, (2, 2)), [f"layer{s}.{b}.conv2" for s in (1, 2) for b in (0, 1)],
                  [f"layer{s}.{b}.conv1" for s in (1, 2) for b in (0, 1)]),
        # layer1.0: conv3 and downsample both 4->16 1x1; its same-type siblings say conv3
        "bottleneck": (ResNet(Bottleneck, (2, 2)), [f"layer{s}.{b}.conv3" for s in (1, 2) for b in (0, 1)],
                       [f"layer{s}.{b}.conv{k}" for s in (1, 2) for b in (0, 1) for k in (1, 2)]),
    }  # fmt: skip


@pytest.fixture(scope="module")
def models() -> dict[str, tuple[nn.Module, list[str], list[str]]]:
    return _models()


@pytest.mark.parametrize("name", ["hf_basic", "hf_bottleneck", "basic", "bottleneck"])
@pytest.mark.parametrize("recipe", ["fixup", "zero"])
def test_last_conv_of_each_branch_is_zero(models: dict[str, Any], name: str, recipe: str) -> None:
    model, last, inner = models[name]
    _, report = wt.init_(model, recipe=recipe, seed=0)
    for path, module in model.named_modules():
        if isinstance(module, nn.Conv2d):
            zero = not module.weight.any()
            assert zero == (path in last), f"{recipe} {name}: {path} zero={zero}"
    for path in last:
        row = report[f"{path}.weight[branch_out]"]
        assert (row.part, row.role, row.scheme) == ("branch_out", "conv", "zeros")
    assert all(f"{path}.weight" in report for path in inner)
    assert "[branch_out]" in str(wt.explain_model(model, recipe=recipe))


@pytest.mark.parametrize("name", ["hf_basic", "hf_bottleneck", "basic", "bottleneck"])
def test_fixup_scales_branch_convs(models: dict[str, Any], name: str) -> None:
    """Fixup §3: branch convs He × L^(-1/(2m-2)), L the residual branches, m convs per branch; stem, shortcut He."""
    model, last, inner = models[name]
    m = len(inner) // len(last) + 1
    branches = len(last)
    report = wt.explain_model(model, recipe="fixup")
    for path in inner:
        row = report[f"{path}.weight"]
        assert row.gain == pytest.approx(math.sqrt(2) * branches ** (-1 / (2 * m - 2)))
        assert row.std == pytest.approx(row.gain / math.sqrt(row.fan_in))
    others = [
        r for r in report if r.role == "conv" and not r.part and r.name.removesuffix(".weight") not in inner
    ]
    assert others and all(r.gain == pytest.approx(math.sqrt(2)) for r in others)  # stem, shortcuts
    assert report[len(report) - 2].role == "head" and report[len(report) - 2].scheme == "zeros"


def test_fixup_draws_the_planned_std() -> None:
    """The written branch convs have the planned std: n = 27,648 pooled (SE ≈ 0.43%), so a 5% error fails at 2%."""
    torch.manual_seed(0)
    model = nn.Sequential(nn.Conv2d(3, 32, 3), nn.Sequential(*(BasicBlock(32, 32) for _ in range(3))))
    wt.init_(model, recipe="fixup", seed=0)
    branches, m = 3, 2
    drawn = torch.cat([model[1][b].conv1.weight.flatten() for b in range(3)])  # 32->32, 3x3: fan_in 288
    planned = math.sqrt(2 / 288) * branches ** (-1 / (2 * m - 2))
    assert drawn.pow(2).mean().sqrt().item() == pytest.approx(planned, rel=0.02)
    assert all(not model[1][b].conv2.weight.any() for b in range(3))


def test_ambiguous_shapes_read_from_siblings_then_path() -> None:
    """conv3 and the shortcut both 4->16 1x1: a same-type block with one reading decides, else the path's name."""
    side = ResNet(Bottleneck, (1, 1), side="branch2")  # layer2.0 (16->32 shortcut, 8->32 conv3) reads once
    assert [b[-1] for b in residual_branches(side)] == [side.layer1[0].conv3, side.layer2[0].conv3]
    named = nn.Sequential(Bottleneck(4, 4))
    assert [b[-1] for b in residual_branches(named)] == [named[0].conv3]
    unnamed = nn.Sequential(Bottleneck(4, 4, side="branch2"))  # nothing tells: left as the role defaults say
    assert residual_branches(unnamed) == []


class SEBasic(BasicBlock):
    """SE-ResNet-style (timm): a squeeze-excitation gate of two 1x1 convs after conv2, the downsample last."""

    def __init__(self, cin: int, cout: int, stride: int = 1) -> None:
        super().__init__(cin, cout, stride)
        downsample = self.downsample
        del self.downsample
        self.se = nn.Sequential(
            nn.AdaptiveAvgPool2d(1), nn.Conv2d(cout, 2, 1), nn.ReLU(), nn.Conv2d(2, cout, 1)
        )
        self.downsample = downsample


def test_squeeze_excitation_is_no_part_of_the_branch() -> None:
    """The SE convs (C -> C/r -> C) scale the branch: conv2 stays its last layer, m = 2 (RegNet, EfficientNet too)."""
    model = ResNet(SEBasic, (1, 1))
    assert [[model.get_submodule(f"layer{s}.0.conv{k}") for k in (1, 2)] for s in (1, 2)] == [
        list(b) for b in residual_branches(model)
    ]
    report = wt.explain_model(model, recipe="fixup")
    assert report["layer2.0.conv1.weight"].gain == pytest.approx(math.sqrt(2) * 2**-0.5)
    assert report["layer2.0.conv2.weight[branch_out]"].scheme == "zeros"
    assert report["layer2.0.se.3.weight"].scheme == "he_normal"


def test_not_residual_not_marked() -> None:
    """Plain stacks of convs (a Sequential has no skip; a block widening with no shortcut) and ConvNeXt's Linear
    pwconv2 (MLP_OUT already) get no branch_out."""

    class Double(nn.Module):
        def __init__(self, cin: int, cout: int) -> None:
            super().__init__()
            self.a, self.b = nn.Conv2d(cin, cout, 3), nn.Conv2d(cout, cout, 3)

    vgg = nn.Sequential(*(nn.Sequential(nn.Conv2d(4, 4, 3), nn.ReLU(), nn.Conv2d(4, 4, 3)) for _ in range(3)))
    unet = nn.ModuleList([Double(3, 8), Double(8, 16), Double(16, 32)])
    convnext, _ = ZOO["convnext"]()
    for model in (vgg, unet, convnext):
        assert residual_branches(model) == []
        assert all(not r.part for r in wt.explain_model(model, recipe="fixup"))


def test_default_init_unchanged() -> None:
    """Without a recipe nothing is marked: the last conv of a branch is drawn like the others."""
    model = ResNet(BasicBlock, (1, 1))
    _, report = wt.init_(model, seed=0)
    assert all(not r.part for r in report)
    assert model.layer1[0].conv2.weight.any()
