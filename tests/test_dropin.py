"""Edges of the error contract and of torch.nn.init drop-in parity (issue 14, items 16 and 18)."""

from __future__ import annotations

import math
import re
import subprocess
import sys
from pathlib import Path

import pytest

import winit

ROOT = Path(__file__).resolve().parents[1]


# -- item 16: devices, layouts, axes, missing extras --------------------------------------------------
@pytest.mark.parametrize("rng", ["native", "portable"])
@pytest.mark.parametrize("scheme", ["he_normal", "he_uniform", "truncated_normal", "orthogonal", "dirac"])
def test_torch_meta_device_gives_a_meta_tensor_of_the_right_shape_and_dtype(scheme: str, rng: str) -> None:
    pytest.importorskip("torch")
    shape = (4, 4, 3) if scheme == "dirac" else (3, 5)
    out = winit.init(scheme, shape, backend="torch", device="meta", dtype="bfloat16", seed=1, rng=rng)
    assert out.is_meta and tuple(out.shape) == shape and str(out.dtype) == "torch.bfloat16"


def test_torch_meta_device_still_checks_the_seed() -> None:
    pytest.importorskip("torch")
    with pytest.raises(ValueError, match="seed"):
        winit.init("he_normal", (3, 5), backend="torch", device="meta", seed=-1)


def test_empty_layout_is_refused_by_init_as_by_plan() -> None:
    for call in (
        lambda: winit.plan("he_normal", (3, 4), layout=""),
        lambda: winit.init("he_normal", (3, 4), layout=""),
    ):
        with pytest.raises(ValueError, match=r"unknown layout ''; accepted: torch, torch_transpose, keras"):
            call()


def test_tensorflow_device_that_is_not_here_is_refused() -> None:
    tf = pytest.importorskip("tensorflow")
    absent = f"/GPU:{len(tf.config.list_logical_devices('GPU'))}"  # one past the last GPU (none: /GPU:0)
    with pytest.raises(ValueError, match=rf"no tensorflow device '{absent}' here; available: .*CPU:0"):
        winit.init("he_normal", (3, 4), backend="tensorflow", device=absent, seed=0)
    with pytest.raises(ValueError, match="'/CPU:7' here"):
        winit.init("he_normal", (3, 4), backend="tensorflow", device="/CPU:7", seed=0, rng="portable")
    with pytest.raises(ValueError, match="is not a device string"):
        winit.init("he_normal", (3, 4), backend="tensorflow", device="/foo:0", seed=0)
    assert "CPU:0" in winit.init("he_normal", (3, 4), backend="tensorflow", device="/cpu:0", seed=0).device


@pytest.mark.parametrize("device", ["cpu:-1", "cpu:+0", "cpu:0x0", "cpu: 0"])
def test_jax_device_index_must_be_a_plain_non_negative_integer(device: str) -> None:
    pytest.importorskip("jax")
    with pytest.raises(ValueError, match=re.escape(f"no JAX device {device!r}; available")):
        winit.init("he_normal", (3, 4), backend="jax", device=device, seed=0)
    assert winit.init("he_normal", (3, 4), backend="jax", device="cpu:0", seed=0).shape == (3, 4)


@pytest.mark.parametrize("what", ["in_axis", "out_axis", "batch_axis"])
@pytest.mark.parametrize("bad", [1.0, "1", None, object()])
def test_axis_of_the_wrong_type_is_a_type_error_naming_it(what: str, bad: object) -> None:
    if bad is None and what != "batch_axis":
        return  # None means "the layout's axis" for in_axis and out_axis
    with pytest.raises(TypeError, match=rf"{what} must be an int or a sequence of ints, got"):
        winit.plan("he_normal", (3, 4, 5), **{what: bad})


def test_axis_sequences_still_work() -> None:
    import numpy as np

    expected = winit.plan("he_normal", (3, 4, 5), in_axis=(1, 2), out_axis=0)
    assert winit.plan("he_normal", (3, 4, 5), in_axis=np.array([1, 2]), out_axis=np.int64(0)) == expected
    with pytest.raises(TypeError, match="in_axis must be an integer, got True"):
        winit.plan("he_normal", (3, 4, 5), in_axis=True)


@pytest.mark.parametrize(
    ("module", "blocked", "extra"),
    [("winit.torch", "torch", "torch"), ("winit.keras", "keras", "keras"), ("winit.flax", "jax", "flax")],
)
def test_front_door_without_its_framework_names_the_extra(module: str, blocked: str, extra: str) -> None:
    code = f"import sys; sys.modules[{blocked!r}] = None\nimport {module}"
    done = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT, timeout=120, check=False
    )
    assert done.returncode == 1
    assert done.stderr.strip().splitlines()[-1].startswith("ImportError:"), done.stderr[-500:]
    assert f"pip install 'winit[{extra}]'" in done.stderr.strip().splitlines()[-1]


# -- item 18: what torch.nn.init accepts, winit.torch accepts, with torch's result ----------------------
def _torch() -> tuple[object, object]:
    torch = pytest.importorskip("torch")
    import winit.torch as wt

    return torch, wt


def _same(a: object, b: object) -> bool:
    import torch

    assert isinstance(a, torch.Tensor) and isinstance(b, torch.Tensor)
    return a.dtype == b.dtype and torch.equal(a.view(-1).view(torch.uint8), b.view(-1).view(torch.uint8))


@pytest.mark.parametrize("dtype", ["int32", "int64", "uint8", "bool", "complex64", "float16"])
@pytest.mark.parametrize("name", ["zeros_", "ones_", "constant_"])
def test_fills_take_every_dtype_as_torch(name: str, dtype: str) -> None:
    torch, wt = _torch()
    args = (3,) if name == "constant_" else ()
    ours = getattr(wt, name)(torch.empty(2, 5, dtype=getattr(torch, dtype)), *args)
    theirs = getattr(torch.nn.init, name)(torch.empty(2, 5, dtype=getattr(torch, dtype)), *args)
    assert _same(ours, theirs)


@pytest.mark.parametrize("value", [float("nan"), float("inf"), -float("inf"), True, "0-d"])
def test_constant_takes_non_finite_values_and_0d_tensors(value: object) -> None:
    torch, wt = _torch()
    val = torch.tensor(-2.5) if value == "0-d" else value
    assert _same(wt.constant_(torch.empty(3, 4), val), torch.nn.init.constant_(torch.empty(3, 4), val))


def test_constant_refusals_are_value_type_and_runtime_errors() -> None:
    torch, wt = _torch()
    with pytest.raises(RuntimeError):  # torch's own class, still caught ...
        torch.nn.init.constant_(torch.empty(3), torch.tensor([1.0, 2.0]))
    for error in (ValueError, TypeError, RuntimeError):  # ... and winit's ones too
        with pytest.raises(error, match="0-dimension value tensor"):
            wt.constant_(torch.empty(3), torch.tensor([1.0, 2.0]))


@pytest.mark.parametrize("name", ["xavier_uniform_", "xavier_normal_", "orthogonal_"])
def test_gain_zero_is_torch_s_result(name: str) -> None:
    torch, wt = _torch()
    ours = getattr(wt, name)(torch.empty(4, 6), gain=0, generator=torch.Generator().manual_seed(1))
    theirs = getattr(torch.nn.init, name)(
        torch.empty(4, 6), gain=0, generator=torch.Generator().manual_seed(1)
    )
    assert _same(ours, theirs)
    portable = getattr(wt, name)(torch.ones(4, 6), gain=0, rng="portable", seed=1)
    assert torch.count_nonzero(portable) == 0


@pytest.mark.parametrize(("a", "b"), [(-math.inf, math.inf), (-math.inf, 0.5), (-0.5, math.inf)])
def test_trunc_normal_with_infinite_bounds_is_torch_s(a: float, b: float) -> None:
    torch, wt = _torch()
    ours = wt.trunc_normal_(torch.empty(50, 40), 0.1, 2.0, a, b, generator=torch.Generator().manual_seed(3))
    theirs = torch.nn.init.trunc_normal_(
        torch.empty(50, 40), 0.1, 2.0, a, b, generator=torch.Generator().manual_seed(3)
    )
    assert _same(ours, theirs)
    if a == -math.inf and b == math.inf:
        normal = torch.empty(50, 40).normal_(0.1, 2.0, generator=torch.Generator().manual_seed(3))
        assert _same(ours, normal)
        portable = wt.trunc_normal_(torch.empty(50, 40), 0.1, 2.0, a, b, rng="portable", seed=3)
        expected = winit.init(
            "random_normal", (50, 40), backend="torch", mean=0.1, stddev=2.0, rng="portable", seed=3
        )
        assert _same(portable, expected)


def test_sparse_above_one_zeroes_every_row_as_torch() -> None:
    torch, wt = _torch()
    torch.manual_seed(0)
    theirs = torch.nn.init.sparse_(torch.empty(5, 4), 1.5)
    torch.manual_seed(0)
    ours = wt.sparse_(torch.empty(5, 4), 1.5)
    assert _same(ours, theirs) and torch.count_nonzero(ours) == 0
    with pytest.raises(ValueError, match="sparsity"):
        wt.sparse_(torch.empty(5, 4), -0.5)


DEPRECATED = [
    "uniform", "normal", "constant", "eye", "dirac", "xavier_uniform", "xavier_normal", "kaiming_uniform",
    "kaiming_normal", "orthogonal", "sparse",
]  # fmt: skip


def test_deprecated_aliases_are_torch_s_list() -> None:
    torch, wt = _torch()
    torch_aliases = [n for n in torch.nn.init.__all__ if not n.endswith("_") and n != "calculate_gain"]
    assert torch_aliases == DEPRECATED
    assert all(hasattr(wt, name) and name in wt.__all__ for name in DEPRECATED)


@pytest.mark.parametrize("name", DEPRECATED)
def test_deprecated_alias_warns_as_torch_and_gives_its_values(name: str) -> None:
    torch, wt = _torch()
    args = {"constant": (0.5,), "sparse": (0.3,)}.get(name, ())
    shape = (4, 4, 3) if name == "dirac" else (4, 4)
    results = []
    for module in (wt, torch.nn.init):
        torch.manual_seed(7)
        with pytest.warns(
            FutureWarning, match=rf"`nn.init.{name}` is now deprecated in favor of `nn.init.{name}_`"
        ):
            results.append(getattr(module, name)(torch.empty(shape), *args))
    assert _same(*results)


@pytest.mark.parametrize("param", [True, "x", 1j])
def test_calculate_gain_bad_slope_is_both_value_and_type_error(param: object) -> None:
    torch, wt = _torch()
    with pytest.raises(ValueError):
        torch.nn.init.calculate_gain("leaky_relu", param)
    for error in (ValueError, TypeError):
        with pytest.raises(error, match="negative slope"):
            wt.calculate_gain("leaky_relu", param)


def test_calculate_gain_ignores_param_where_torch_does() -> None:
    torch, wt = _torch()
    for name in ("relu", "tanh", "linear", "selu"):
        assert wt.calculate_gain(name, "x") == torch.nn.init.calculate_gain(name, "x")


# -- issue 15: one decorator hands every per-tensor function to __torch_function__ ----------------------
DISPATCHED = [
    ("uniform_", ()), ("normal_", ()), ("trunc_normal_", ()), ("constant_", (0.5,)), ("ones_", ()),
    ("zeros_", ()), ("eye_", ()), ("dirac_", ()), ("xavier_uniform_", ()), ("xavier_normal_", ()),
    ("kaiming_uniform_", ()), ("kaiming_normal_", ()), ("orthogonal_", ()), ("sparse_", (0.5,)),
    ("lecun_uniform_", ()), ("lecun_normal_", ()), ("variance_scaling_", ()), ("init", ("he_normal",)),
]  # fmt: skip


@pytest.mark.parametrize(("name", "args"), DISPATCHED, ids=[name for name, _ in DISPATCHED])
def test_every_per_tensor_function_reaches_torch_function_with_keywords(
    name: str, args: tuple[object, ...]
) -> None:
    torch, wt = _torch()
    import inspect

    from torch.overrides import TorchFunctionMode

    seen: list[tuple[object, dict[str, object]]] = []

    class Record(TorchFunctionMode):
        def __torch_function__(
            self, func: object, types: object, args: object = (), kwargs: object = None
        ) -> object:
            seen.append((func, dict(kwargs or {})))  # type: ignore[call-overload]
            return func(*args, **(kwargs or {}))  # type: ignore[operator, misc]

    function = getattr(wt, name)
    shape = (4, 4, 3) if name == "dirac_" else (4, 4)
    with Record():
        out = function(torch.empty(shape), *args, **({"gain": 2.0} if name == "init" else {}))
    assert out.shape == shape
    mine = [kwargs for func, kwargs in seen if func is function]
    assert len(mine) == 1
    expected = {
        p for p, spec in inspect.signature(function).parameters.items()
        if p not in ("rng", "seed", "stream") and spec.kind is not spec.VAR_KEYWORD
    } | ({"gain"} if name == "init" else set())  # fmt: skip
    assert set(mine[0]) == expected


@pytest.mark.parametrize("name", ["kaiming_uniform_", "kaiming_normal_"])
def test_kaiming_bad_slope_is_both_value_and_type_error(name: str) -> None:
    torch, wt = _torch()
    with pytest.raises(ValueError):
        getattr(torch.nn.init, name)(torch.empty(3, 4), a=True)
    for error in (ValueError, TypeError):
        with pytest.raises(error, match="negative_slope"):
            getattr(wt, name)(torch.empty(3, 4), a=True)
