"""μP end to end: the recipe's rules against the ``mup`` package, lr multipliers in the Keras and Flax reports,
torch parameter groups and the optax multiplier tree from a report, and the coordinate check.

The ``mup`` package (microsoft/mup 1.0.0) is not installed: its setup.py requires torchvision, which cannot
load with this torch. The rules are checked against its source, quoted at each assertion.
"""

from __future__ import annotations

import dataclasses
import importlib.util
import inspect
import math
import subprocess
import sys
import tarfile
from pathlib import Path
from typing import Any, Final

import numpy as np
import pytest

import winit
from winit import Role
from winit._coord_check import LAYERS, coord_check, coord_table
from winit._report import InitRecord, InitReport

MUP = winit.recipe("mup")
HIDDEN = (Role.ATTENTION_QKV, Role.ATTENTION_OUT, Role.MLP_IN, Role.MLP_OUT, Role.DENSE, Role.CONV)
VECTOR = (Role.EMBEDDING, Role.POSITIONAL, Role.BIAS, Role.NORM_SCALE, Role.NORM_OFFSET)


def _lr(role: Role, part: str = "", **sizes: Any) -> float:
    law = MUP.role_law(role, part)
    assert law is not None
    return law.lr_multiplier(MUP.context(**sizes))


def _load(name: str, path: Path) -> Any:
    spec = importlib.util.spec_from_file_location(name, path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


# -- the rules, against microsoft/mup's source ------------------------------------------------------------
@pytest.mark.parametrize("m", [0.5, 2.0, 8.0])
def test_mup_recipe_rules_match_the_mup_package(m: float) -> None:
    # mup/init.py constant_std_init_: an (inf, inf) tensor is drawn with `scale=tensor.infshape.width_mult()**-0.5`,
    # a tensor with at most one inf dimension (input weights, biases) at the base std.
    for role in HIDDEN:
        assert MUP.law(role, width_mult=m).stddev == pytest.approx(0.02 / math.sqrt(m), rel=1e-15)
    assert MUP.law(Role.EMBEDDING, width_mult=m).stddev == 0.02
    # mup/optim.py MuAdam: matrix-like groups `group['lr'] /= width_mult`, `group['weight_decay'] *= width_mult`;
    # vector-like groups keep lr.
    for role in HIDDEN:
        assert _lr(role, width_mult=m) == pytest.approx(1 / m, rel=1e-15)
    assert _lr(Role.ATTENTION_QKV, "q", width_mult=m) == pytest.approx(1 / m, rel=1e-15)
    for role in VECTOR:
        assert _lr(role, width_mult=m) == 1.0
    # MuSGD: vector-like `group['lr'] *= width_mult`; matrix-like `group['lr'] /= shape_ratio` with
    # shape_ratio = fanin_mult / fanout_mult, 1 for a hidden weight whose both sides scale.
    for role in HIDDEN:
        assert _lr(role, width_mult=m, sgd=True) == 1.0
    for role in VECTOR:
        assert _lr(role, width_mult=m, sgd=True) == m
    # mup/layer.py MuReadout: `if self.readout_zero_init: self.weight.data[:] = 0`, and forward
    # `super().forward(self.output_mult * x / self.width_mult())`. A plain readout has no such forward, so the
    # recipe moves the 1/width_mult into its lr (test below: the same training trajectory).
    assert MUP.law(Role.HEAD, width_mult=m).name == "zeros"
    assert _lr(Role.HEAD, width_mult=m) == pytest.approx(1 / m, rel=1e-15)
    assert _lr(Role.HEAD, width_mult=m, sgd=True) == pytest.approx(1 / m, rel=1e-15)
    # A model whose head is a MuReadout (it divides in forward) takes MuReadout's own vector-like lr.
    assert _lr(Role.HEAD, width_mult=m, mu_readout=True) == 1.0
    assert _lr(Role.HEAD, width_mult=m, mu_readout=True, sgd=True) == m
    # mup README: zero query init; the 1/d_head attention scale is the model's forward (winit writes no forward).
    assert MUP.law(Role.ATTENTION_QKV, "q", width_mult=m).name == "zeros"


def test_explain_shows_the_lr_multipliers() -> None:
    text = MUP.explain(width_mult=4.0)
    assert "lr × 1 if sgd else 1 / width_mult = 1 / 4.0 = 0.25" in text
    head = next(line for line in text.splitlines() if line.startswith("head"))
    assert "= 0.25" in head
    assert "lr × 1 if sgd else 1 / width_mult  —" in MUP.explain()  # no sizes: the formula alone
    assert "lr ×" not in winit.recipe("gpt2").explain(L=12)  # lr 1 is not printed


@pytest.mark.parametrize("optimizer", ["adam", "sgd"])
def test_plain_readout_at_the_recipes_lr_trains_like_mu_readout(optimizer: str) -> None:
    """A zero-init readout y = W·h/m (MuReadout) trained at MuAdam/MuSGD's lr gives the same outputs, step by
    step, as a plain zero-init readout y = W'·h trained at lr × the recipe's head multiplier."""
    torch = pytest.importorskip("torch")
    m, lr, sgd = 4.0, 0.05, optimizer == "sgd"
    generator = torch.Generator().manual_seed(0)
    x = torch.randn(16, 12, generator=generator, dtype=torch.float64)
    target = torch.randn(16, 5, generator=generator, dtype=torch.float64)
    hidden0 = torch.randn(64, 12, generator=generator, dtype=torch.float64) / math.sqrt(12)

    def run(divide: bool, head_lr: float) -> list[Any]:
        hidden = hidden0.clone().requires_grad_(True)
        head = torch.zeros(5, 64, dtype=torch.float64, requires_grad=True)
        groups = [{"params": [hidden], "lr": lr}, {"params": [head], "lr": lr * head_lr}]
        opt = torch.optim.SGD(groups) if sgd else torch.optim.Adam(groups, eps=1e-12)
        outputs = []
        for _ in range(4):
            h = torch.tanh(x @ hidden.T)
            y = (h / m if divide else h) @ head.T
            outputs.append(y.detach().clone())
            opt.zero_grad()
            (0.5 * ((y - target) ** 2).sum(1).mean()).backward()
            opt.step()
        return outputs

    mu_readout_lr = m if sgd else 1.0  # MuSGD: vector-like lr × width_mult; MuAdam: unchanged
    reference = run(True, mu_readout_lr)
    plain = run(False, _lr(Role.HEAD, width_mult=m, sgd=sgd))
    assert float(reference[-1].abs().mean()) > 0.05  # it trained
    for a, b in zip(reference, plain, strict=True):
        torch.testing.assert_close(b, a, rtol=1e-7, atol=1e-9)


# -- lr multipliers in the Keras and Flax reports ------------------------------------------------------------
def _expected(role: str, part: str, m: float) -> float:
    return _lr(Role(role), part, width_mult=m)


def test_keras_init_report_carries_the_recipes_lr_multipliers() -> None:
    pytest.importorskip("keras")
    wk = pytest.importorskip("winit.keras")
    cases = _load("winit_mup_keras_cases", Path(__file__).parent / "keras_cases" / "model.py")
    model = cases.build(layers=1)  # d = 32
    _, report = wk.init_(model, "mup", seed=0, base_width=8)  # width_mult 4
    roles = {row.role for row in report}
    assert {"attention_qkv", "attention_out", "mlp_in", "mlp_out", "head", "embedding", "bias"} <= roles
    for row in report:
        assert row.lr_multiplier == pytest.approx(_expected(row.role, row.part, 4.0), rel=1e-15), row.key
    assert sum(row.lr_multiplier == 0.25 for row in report) == 7  # q, k, v, o, fc1, fc2 and the head


def _flax() -> tuple[Any, Any, Any]:
    pytest.importorskip("flax.nnx")
    wf = pytest.importorskip("winit.flax")
    cases = _load("winit_mup_flax_cases", Path(__file__).parent / "test_flax_model.py")
    return wf, cases, pytest.importorskip("optax")


def test_flax_report_and_optax_multiplier_tree() -> None:
    wf, cases, optax = _flax()
    import jax
    from flax import nnx

    model = cases.abstract(layers=1)  # d = 32
    _, report = wf.init_(model, "mup", seed=0, base_width=16)  # width_mult 2
    for row in report:
        assert row.lr_multiplier == pytest.approx(_expected(row.role, row.part, 2.0), rel=1e-15), row.key
    assert report["blocks.0.fc2.kernel"].lr_multiplier == 0.5 and report["embed.embedding"].lr_multiplier == 1
    assert report["head.kernel"].lr_multiplier == 0.5
    tree = wf.lr_multipliers(model, report)
    params = nnx.state(model, nnx.Param)
    assert jax.tree.structure(tree) == jax.tree.structure(params)
    flat = {".".join(str(getattr(k, "key", getattr(k, "idx", ""))) for k in path[:-1]): leaf
            for path, leaf in jax.tree_util.tree_flatten_with_path(tree)[0]}  # fmt: skip
    assert flat == {row.name: row.lr_multiplier for row in report}

    # optax: Adam's first step on unit gradients moves every coordinate by lr; scaled, by lr × multiplier.
    lr = 0.01
    grads = jax.tree.map(lambda p: np.ones(p.shape, np.float32), params)
    scale = optax.stateless(lambda updates, _: jax.tree.map(lambda u, m: u * m, updates, tree))
    tx = optax.chain(optax.adam(lr), scale)
    updates, _ = jax.jit(tx.update)(grads, tx.init(params), params)
    moved = jax.tree.map(lambda u: float(np.max(np.abs(np.asarray(u)))), updates)
    for got, m in zip(jax.tree.leaves(moved), jax.tree.leaves(tree), strict=True):
        assert got == pytest.approx(lr * m, rel=1e-5)
    # or one optimizer per multiplier: the tree's floats are the labels
    grouped = optax.multi_transform({m: optax.adam(lr * m) for m in set(jax.tree.leaves(tree))}, tree)
    assert jax.tree.structure(grouped.init(params)[0]) is not None


def test_flax_linen_tree_multipliers_and_errors() -> None:
    wf, _, _ = _flax()
    import jax
    from flax import linen

    class MLP(linen.Module):  # type: ignore[misc]
        @linen.compact
        def __call__(self, x: Any) -> Any:
            return linen.Dense(8)(linen.relu(linen.Dense(32)(linen.relu(linen.Dense(32)(x)))))

    params = jax.eval_shape(MLP().init, jax.random.key(0), np.zeros((1, 16), np.float32))
    tree, report = wf.init_params(params, "mup", seed=0, width_mult=4.0)
    multipliers = wf.lr_multipliers(tree, report)
    assert jax.tree.structure(multipliers) == jax.tree.structure(tree)
    inner = multipliers["params"]
    assert inner["Dense_0"]["kernel"] == inner["Dense_1"]["kernel"] == 0.25  # hidden (dense)
    assert inner["Dense_2"]["kernel"] == 0.25 and report["params/Dense_2/kernel"].role == "head"
    assert inner["Dense_1"]["bias"] == 1.0
    # the first Dense reads raw features (fan_in 16 at every width): μP's input weight, lr multiplier 1
    fixed = wf.lr_multipliers(tree, report, overrides={"params/Dense_0/*": 1.0})["params"]
    assert fixed["Dense_0"]["kernel"] == 1.0 and fixed["Dense_1"]["kernel"] == 0.25
    with pytest.raises(ValueError, match="does not have"):
        wf.lr_multipliers({"params": {"other": np.zeros(3)}}, report)
    with pytest.raises(TypeError, match=r"nnx\.Module"):
        wf.lr_multipliers([1, 2], report)
    with pytest.raises(TypeError, match="InitReport"):
        wf.lr_multipliers(tree, {"params/Dense_0/kernel": 0.25})


# -- torch parameter groups ------------------------------------------------------------------------------
def _torch_net() -> Any:
    torch = pytest.importorskip("torch")
    from torch import nn

    class Net(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.embed = nn.Embedding(10, 8)
            self.fc1 = nn.Linear(8, 16)
            self.fc2 = nn.utils.parametrizations.weight_norm(nn.Linear(16, 8))
            self.norm = nn.LayerNorm(8)
            self.head = nn.Linear(8, 10, bias=False)
            self.head.weight = self.embed.weight  # tied

        def forward(self, tokens: Any) -> Any:
            return self.head(self.norm(self.fc2(torch.relu(self.fc1(self.embed(tokens))))))

    return Net()


def _row(name: str, m: float, role: str = "") -> InitRecord:
    return InitRecord(name, name.rsplit(".", 1)[0], "random_normal", (1,), 1, 1, 1.0, 0.02, role=role,
                      lr_multiplier=m)  # fmt: skip


def test_torch_param_groups_from_a_report() -> None:
    torch = pytest.importorskip("torch")
    import winit.torch as wt

    net = _torch_net()
    rows = [_row("embed.weight", 1.0), _row("fc1.weight", 0.25), _row("fc1.bias", 1.0), _row("fc2.weight", 0.25),
            _row("fc2.bias", 1.0), _row("norm.weight", 1.0)]  # fmt: skip
    report = InitReport(
        [*rows, InitRecord.tie("head.weight", "head", (10, 8), "embed.weight")]
    )  # norm.bias: 1
    original = net.fc2.parametrizations.weight
    for model in (net, torch.nn.DataParallel(net), torch.compile(net)):
        groups = wt.param_groups(model, report, 1e-3, weight_decay=0.1, betas=(0.9, 0.95))
        assert [g["lr"] for g in groups] == [1e-3, 0.25e-3]
        assert [g["weight_decay"] for g in groups] == pytest.approx([0.1, 0.4])  # MuAdam: wd × width_mult
        assert all(g["betas"] == (0.9, 0.95) for g in groups)
        listed = [id(p) for g in groups for p in g["params"]]
        assert sorted(listed) == sorted(id(p) for p in net.parameters()) and len(set(listed)) == len(listed)
        slow = {id(p) for p in groups[1]["params"]}
        assert slow == {id(net.fc1.weight), id(original.original0), id(original.original1)}
    optimizer = torch.optim.AdamW(wt.param_groups(net, report, 1e-3, weight_decay=0.1))
    net(torch.tensor([[1, 2, 3]])).sum().backward()
    optimizer.step()
    kept = wt.param_groups(net, report, 1e-3, weight_decay=0.1, scale_weight_decay=False)
    assert [g["weight_decay"] for g in kept] == [0.1, 0.1]
    assert len(wt.param_groups(net, InitReport([]), 0.1)) == 1  # nothing listed: one group at lr
    (only,) = wt.param_groups(net, report, 0.1, overrides={"fc*.weight": 1.0})
    assert only["lr"] == 0.1


def test_torch_param_groups_errors() -> None:
    pytest.importorskip("torch")
    import winit.torch as wt

    net = _torch_net()
    with pytest.raises(ValueError, match=r"does not have: 'blocks\.0\.weight'"):
        wt.param_groups(net, InitReport([_row("blocks.0.weight", 0.5)]), 1e-3)
    with pytest.raises(ValueError, match="different lr multipliers"):
        wt.param_groups(net, InitReport([dataclasses.replace(_row("fc1.weight", 0.5), part="q"),
                                         dataclasses.replace(_row("fc1.weight", 1.0), part="k")]), 1e-3)  # fmt: skip
    with pytest.raises(ValueError, match="matches no parameter"):
        wt.param_groups(net, InitReport([_row("fc1.weight", 0.5)]), 1e-3, overrides={"fc3.*": 1.0})
    with pytest.raises(ValueError, match="finite number"):
        wt.param_groups(net, InitReport([_row("fc1.weight", 0.5)]), 1e-3, overrides={"fc1.*": math.nan})
    with pytest.raises(ValueError, match="lr must be"):
        wt.param_groups(net, InitReport([]), -1.0)
    with pytest.raises(TypeError, match="InitReport"):
        wt.param_groups(net, {"fc1.weight": 0.5}, 1e-3)  # type: ignore[arg-type]
    with pytest.raises(TypeError, match="torch model"):
        wt.param_groups(object(), InitReport([]), 1e-3)  # type: ignore[arg-type]


def test_torch_init_recipe_mup_feeds_param_groups() -> None:
    """For the lead: runs once ``winit.torch.init_`` takes ``recipe=`` (helper R1's branch); skipped before."""
    torch = pytest.importorskip("torch")
    import winit.torch as wt

    if "recipe" not in inspect.signature(wt.init_).parameters:
        pytest.skip("winit.torch.init_(recipe=...) is not merged yet")
    from torch import nn

    class Model(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.embed = nn.Embedding(50, 32)
            layer = nn.TransformerEncoderLayer(32, 4, 64, batch_first=True)
            self.block = nn.TransformerEncoder(layer, 2, enable_nested_tensor=False)  # a stack: blocks
            self.head = nn.Linear(32, 50)

    model = Model()
    _, report = wt.init_(model, recipe="mup", seed=0, base_width=8)  # width_mult 4
    assert {row.lr_multiplier for row in report if row.role in ("mlp_in", "mlp_out", "head")} == {0.25}
    assert report["embed.weight"].lr_multiplier == 1.0
    groups = wt.param_groups(model, report, 1e-2)
    by_id = {id(p): g["lr"] for g in groups for p in g["params"]}
    assert len(by_id) == sum(1 for _ in model.parameters())
    assert by_id[id(model.block.layers[0].linear1.weight)] == pytest.approx(0.25e-2)
    assert by_id[id(model.embed.weight)] == pytest.approx(1e-2)
    torch.optim.Adam(groups)


# -- coordinate check ----------------------------------------------------------------------------------------
def _growth(rows: list[Any], parametrization: str, layer: str) -> tuple[float, float]:
    """(last width / first width, max / min over widths) of the final step's mean |x|."""
    last = max(r.step for r in rows)
    values = [r.scale for r in sorted(rows, key=lambda r: r.width)
              if r.parametrization == parametrization and r.layer == layer and r.step == last]  # fmt: skip
    return values[-1] / values[0], max(values) / min(values)


def test_coord_check_mup_flat_sp_grows() -> None:
    rows = coord_check()  # widths 64..1024, 5 Adam steps at lr 0.05, seed 0
    assert _growth(rows, "SP", "output")[0] > 6  # ×11.8 here
    for layer in LAYERS:
        assert _growth(rows, "μP", layer)[1] < 1.3, layer  # max/min over 16× of width: 1.04-1.17 here
    assert coord_check() == rows  # deterministic
    table = coord_table(rows)
    assert "d=1024" in table and "μP" in table and table.count("×") == 6
    sgd = coord_check(optimizer="sgd", widths=(64, 256, 1024))
    for layer in LAYERS:
        assert _growth(sgd, "μP", layer)[1] < 1.3, layer


@pytest.mark.parametrize("role", [Role.HEAD, Role.DENSE, Role.EMBEDDING])
def test_coord_check_catches_a_wrong_lr_multiplier(role: Role) -> None:
    laws = dict(MUP.laws)
    wrong = "width_mult" if role is Role.EMBEDDING else "1.0"  # the embedding: SGD's rule under Adam
    laws[role] = dataclasses.replace(laws[role], lr=wrong)
    broken = dataclasses.replace(MUP, name="broken", laws=laws)
    rows = coord_check(recipe=broken, widths=(64, 256, 1024))
    assert max(_growth(rows, "μP", layer)[1] for layer in LAYERS) > 1.6


def test_coord_check_cli_and_errors(capsys: pytest.CaptureFixture[str]) -> None:
    from winit.cli import main

    assert main(["probe", "--coord-check", "--plain", "--widths", "32", "128", "--steps", "2"]) == 0
    out = capsys.readouterr().out
    assert "after 2 steps" in out and "d=128" in out and "SP" in out
    assert main(["probe", "--coord-check", "--optimizer", "rmsprop"]) == 2
    assert "adam, sgd" in capsys.readouterr().err
    with pytest.raises(ValueError, match="widths"):
        coord_check(widths=(0, 64))
    with pytest.raises(ValueError, match="unknown recipe"):
        coord_check(recipe="mpu")


MUP_SDIST: Final = "mup==1.0.0"


@pytest.fixture(scope="module")
def mup_package(tmp_path_factory: pytest.TempPathFactory) -> Any:
    """The reference ``mup`` package: installed, else its sdist unpacked onto sys.path (no dependencies).

    mup's setup.py requires torchvision, whose wheels cannot load beside the CPU torch pinned here, so it
    cannot be an extra; ``import mup`` itself needs only torch and yaml.
    """
    pytest.importorskip("torch")
    pytest.importorskip("yaml")
    try:
        return importlib.import_module("mup")
    except ImportError:
        pass
    where = tmp_path_factory.mktemp("mup")
    fetched = subprocess.run(
        [sys.executable, "-m", "pip", "download", "--no-deps", "--no-binary", ":all:", "-d", str(where), MUP_SDIST],
        capture_output=True, text=True, timeout=300, check=False,
    )  # fmt: skip
    archives = sorted(where.glob("mup-*.tar.gz"))
    if fetched.returncode != 0 or not archives:
        pytest.skip(
            f"mup is not installed and its sdist could not be fetched: {fetched.stderr.strip()[-300:]}"
        )
    with tarfile.open(archives[0]) as archive:
        if hasattr(
            tarfile, "data_filter"
        ):  # Python ≥ 3.10.12 / 3.11.4: refuse links and paths out of ``where``
            archive.extractall(where, filter="data")
        else:  # pragma: no cover - older patch releases
            archive.extractall(where)
    sys.path.insert(0, str(next(where.glob("mup-*/"))))
    return importlib.import_module("mup")


@pytest.mark.parametrize("optimizer", ["adam", "sgd"])
def test_parity_with_the_mup_package(optimizer: str, mup_package: Any) -> None:
    """MuAdam/MuSGD's per-parameter lr and weight decay equal param_groups' from the recipe's rows (the reference
    ``mup`` package, see the fixture)."""
    torch = pytest.importorskip("torch")
    mup = mup_package
    from torch import nn

    import winit.torch as wt

    def mlp(d: int) -> Any:
        return nn.Sequential(nn.Linear(12, d), nn.ReLU(), nn.Linear(d, d), nn.ReLU(), mup.MuReadout(d, 7))

    m, sgd = 16.0, optimizer == "sgd"
    model = mup.set_base_shapes(mlp(256), mlp(16), delta=mlp(32))
    roles = {"0": Role.EMBEDDING, "2": Role.DENSE, "4": Role.HEAD}  # input weight, hidden, MuReadout
    context = {"width_mult": m, "sgd": sgd, "mu_readout": True}
    rows = []
    for name, _ in model.named_parameters():
        layer, tensor = name.split(".")
        role = roles[layer] if tensor == "weight" else Role.BIAS
        rows.append(_row(name, _lr(role, **context), role.value))
    overrides = {
        "4.bias": 1.0
    }  # MuSGD: the readout bias is finite (7), not vector-like; the recipe's bias row is
    mine = wt.param_groups(model, InitReport(rows), 0.1, overrides=overrides, weight_decay=0.01)
    make = mup.MuSGD if sgd else mup.MuAdam
    theirs = make(model.parameters(), lr=0.1, weight_decay=0.01).param_groups
    settings = {id(p): (g["lr"], g["weight_decay"]) for g in theirs for p in g["params"]}
    for group in mine:
        for p in group["params"]:
            assert (group["lr"], group["weight_decay"]) == pytest.approx(settings[id(p)], rel=1e-12)
    assert len({g["lr"] for g in mine}) == 2
    # mup.init.normal_ on the (inf, inf) hidden weight: std × width_mult^-½, the recipe's hidden law
    hidden = model[2].weight
    torch.manual_seed(0)
    mup.init.normal_(hidden, std=0.02)
    law = MUP.law(Role.DENSE, width_mult=m)
    assert law.stddev == pytest.approx(0.02 / 4, rel=1e-15)
    assert float(hidden.detach().std()) == pytest.approx(law.stddev, rel=0.015)  # 65,536 draws: SE 0.28%
