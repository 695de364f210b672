"""winit.torch: drop-in torch.nn.init functions (bit parity with torch) and the model-level ``init_``."""

from __future__ import annotations

import inspect
import io
import math
from typing import Any, ClassVar

import pytest

torch = pytest.importorskip("torch")
pytest.importorskip("array_api_compat")

from rich import console as rich_console  # noqa: E402
from torch import nn  # noqa: E402
from torch.overrides import TorchFunctionMode  # noqa: E402

import winit  # noqa: E402
import winit.torch as wt  # noqa: E402

SEED = 1234
#: Linear, tall Linear, Conv2d, ConvTranspose2d-shaped (in, out, kH, kW), Conv1d, Conv3d.
SHAPES = [(7, 5), (5, 7), (16, 3, 3, 3), (3, 8, 2, 2), (4, 6, 5), (2, 3, 2, 2, 2)]
#: every random torch.nn.init function with default and non-default arguments.
RANDOM_CASES: list[tuple[str, dict[str, Any]]] = [
    ("uniform_", {}),
    ("uniform_", {"a": -0.3, "b": 0.7}),
    ("normal_", {}),
    ("normal_", {"mean": 0.5, "std": 0.02}),
    ("trunc_normal_", {}),
    ("trunc_normal_", {"std": 0.02}),  # absolute ±2: truncates nothing
    ("trunc_normal_", {"mean": 0.1, "std": 0.05, "a": 0.02, "b": 0.2}),  # window ∋ mean, p > 0.3
    ("trunc_normal_", {"mean": 0.0, "std": 1.0, "a": 1.5, "b": 3.0}),  # thin window: uniform proposals
    ("xavier_uniform_", {}),
    ("xavier_uniform_", {"gain": math.sqrt(2.0)}),
    ("xavier_normal_", {}),
    ("xavier_normal_", {"gain": 5.0 / 3.0}),
    ("kaiming_uniform_", {}),
    ("kaiming_uniform_", {"a": math.sqrt(5)}),  # nn.Linear's and nn.Conv*'s own default
    ("kaiming_uniform_", {"mode": "fan_out", "nonlinearity": "relu"}),
    ("kaiming_uniform_", {"a": 0.2, "nonlinearity": "leaky_relu"}),
    ("kaiming_normal_", {}),
    ("kaiming_normal_", {"mode": "fan_out", "nonlinearity": "relu"}),
    ("kaiming_normal_", {"nonlinearity": "tanh"}),
    ("kaiming_normal_", {"a": 0.1, "mode": "fan_out"}),
    ("kaiming_normal_", {"nonlinearity": "selu"}),
    ("orthogonal_", {}),
    ("orthogonal_", {"gain": 2.5}),
]
TORCH_NAMES = [
    "uniform_", "normal_", "trunc_normal_", "constant_", "ones_", "zeros_", "eye_", "dirac_",
    "xavier_uniform_", "xavier_normal_", "kaiming_uniform_", "kaiming_normal_", "orthogonal_",
    "sparse_", "calculate_gain",
]  # fmt: skip


def _case_id(case: tuple[str, dict[str, Any]]) -> str:
    name, kwargs = case
    return name + "".join(f"-{k}={v:.3g}" if isinstance(v, float) else f"-{k}={v}" for k, v in kwargs.items())


def _pair(seed: int = SEED) -> tuple[Any, Any]:
    return torch.Generator().manual_seed(seed), torch.Generator().manual_seed(seed)


#: the torch.nn.init functions that draw random numbers, so take rng/seed/stream after torch's parameters.
RANDOM_NAMES = [
    "uniform_", "normal_", "trunc_normal_", "xavier_uniform_", "xavier_normal_", "kaiming_uniform_",
    "kaiming_normal_", "orthogonal_", "sparse_",
]  # fmt: skip
KEYWORD = inspect.Parameter.KEYWORD_ONLY
PORTABLE_EXTRAS = [("rng", KEYWORD, "native"), ("seed", KEYWORD, None), ("stream", KEYWORD, None)]


def _parameters(function: Any) -> list[tuple[str, Any, Any]]:
    return [(p.name, p.kind, p.default) for p in inspect.signature(function).parameters.values()]


def _signature_fits(
    ours: list[tuple[str, Any, Any]], theirs: list[tuple[str, Any, Any]], random: bool
) -> bool:
    """torch's parameters (names, kinds, defaults, order) exactly first; random functions add only rng/seed/stream."""
    return ours[: len(theirs)] == theirs and ours[len(theirs) :] == (PORTABLE_EXTRAS if random else [])


# -- drop-in functions: signatures and bit parity --------------------------------------------------------
@pytest.mark.parametrize("name", TORCH_NAMES)
def test_signature_matches_torch(name: str) -> None:
    ours, theirs = _parameters(getattr(wt, name)), _parameters(getattr(torch.nn.init, name))
    assert _signature_fits(ours, theirs, name in RANDOM_NAMES), (ours, theirs)


def test_signature_check_catches_drift() -> None:
    """The prefix rule still fails for a missing, renamed or reordered parameter, a changed default or other extras."""
    theirs = _parameters(torch.nn.init.kaiming_normal_)  # tensor, a, mode, nonlinearity, generator
    good = [*theirs, *PORTABLE_EXTRAS]
    assert _signature_fits(good, theirs, True) and not _signature_fits(good, theirs, False)
    assert _signature_fits(theirs, theirs, False) and not _signature_fits(theirs, theirs, True)
    tensor, a, mode, *rest = good
    positional = inspect.Parameter.POSITIONAL_OR_KEYWORD
    drifted = {
        "missing": [tensor, mode, *rest],
        "renamed": [tensor, ("slope", *a[1:]), mode, *rest],
        "reordered": [tensor, mode, a, *rest],
        "default": [tensor, (*a[:2], 0.5), mode, *rest],
        "kind": [tensor, (a[0], KEYWORD, a[2]), mode, *rest],
        "other extra": [*good, ("device", KEYWORD, None)],
        "positional extras": [*theirs, *((n, positional, d) for n, _, d in PORTABLE_EXTRAS)],
        "extras reordered": [*theirs, *PORTABLE_EXTRAS[::-1]],
        "extra default": [*theirs, *PORTABLE_EXTRAS[:2], ("stream", KEYWORD, "w")],
    }
    for why, ours in drifted.items():
        assert not _signature_fits(ours, theirs, True), why


@pytest.mark.parametrize("shape", SHAPES, ids=lambda s: "x".join(map(str, s)))
@pytest.mark.parametrize("case", RANDOM_CASES, ids=_case_id)
def test_random_functions_bit_identical_to_torch(
    case: tuple[str, dict[str, Any]], shape: tuple[int, ...]
) -> None:
    name, kwargs = case
    ours_gen, torch_gen = _pair()
    ours = getattr(wt, name)(torch.empty(shape), **kwargs, generator=ours_gen)
    expected = getattr(torch.nn.init, name)(torch.empty(shape), **kwargs, generator=torch_gen)
    assert torch.equal(ours, expected)
    # both consumed the same draws, so the next draw agrees too
    assert torch.equal(torch.rand(3, generator=ours_gen), torch.rand(3, generator=torch_gen))


def test_global_rng_parity_without_generator() -> None:
    torch.manual_seed(7)
    ours = wt.kaiming_normal_(torch.empty(16, 3, 3, 3), mode="fan_out", nonlinearity="relu")
    torch.manual_seed(7)
    expected = torch.nn.init.kaiming_normal_(torch.empty(16, 3, 3, 3), mode="fan_out", nonlinearity="relu")
    assert torch.equal(ours, expected)


@pytest.mark.parametrize(
    ("name", "args", "shape"),
    [
        ("constant_", (0.3,), (4, 5)),
        ("constant_", (-2,), (3, 2, 2)),
        ("ones_", (), (6,)),
        ("zeros_", (), (3, 4, 5)),
        ("eye_", (), (3, 5)),
        ("eye_", (), (6, 2)),
        ("dirac_", (), (4, 3, 3)),
        ("dirac_", (), (6, 4, 3, 5)),
        ("dirac_", (2,), (6, 4, 3, 3)),
        ("dirac_", (3,), (6, 2, 3, 3, 3)),
    ],
)
def test_deterministic_functions_identical_to_torch(
    name: str, args: tuple[Any, ...], shape: tuple[int, ...]
) -> None:
    ours = getattr(wt, name)(torch.full(shape, 9.0), *args)
    expected = getattr(torch.nn.init, name)(torch.full(shape, 9.0), *args)
    assert torch.equal(ours, expected)


@pytest.mark.parametrize(
    ("nonlinearity", "param"),
    [("linear", None), ("conv2d", None), ("conv_transpose3d", None), ("sigmoid", None), ("tanh", None),
     ("relu", None), ("leaky_relu", None), ("leaky_relu", 0.2), ("selu", None)],
)  # fmt: skip
def test_calculate_gain_matches_torch(nonlinearity: str, param: float | None) -> None:
    assert wt.calculate_gain(nonlinearity, param) == torch.nn.init.calculate_gain(nonlinearity, param)


@pytest.mark.parametrize("shape", [(12, 9), (5, 40)])
def test_sparse_matches_torch_with_the_global_rng(shape: tuple[int, int]) -> None:
    torch.manual_seed(3)
    ours = wt.sparse_(torch.empty(shape), sparsity=0.3, std=0.05)
    torch.manual_seed(3)
    expected = torch.nn.init.sparse_(torch.empty(shape), sparsity=0.3, std=0.05)
    assert torch.equal(ours, expected)


def test_sparse_draws_its_zero_pattern_from_the_generator() -> None:
    rows, cols, sparsity = 12, 30, 0.25
    ours_gen, torch_gen = _pair()
    torch.manual_seed(0)
    ours = wt.sparse_(torch.empty(rows, cols), sparsity, std=0.05, generator=ours_gen)
    torch.manual_seed(0)
    theirs = torch.nn.init.sparse_(torch.empty(rows, cols), sparsity, std=0.05, generator=torch_gen)
    # the values are torch's N(0, std²) draws (where each kept them), the zero count per column is torch's ...
    kept, theirs_kept = ours != 0, theirs != 0
    values = torch.empty(rows, cols).normal_(0, 0.05, generator=torch.Generator().manual_seed(SEED))
    assert torch.equal(ours[kept], values[kept]) and torch.equal(theirs[theirs_kept], values[theirs_kept])
    assert ((~kept).sum(dim=0) == math.ceil(sparsity * rows)).all()
    # ... but the pattern comes from the generator: the global RNG does not change it
    torch.manual_seed(99)
    again = wt.sparse_(
        torch.empty(rows, cols), sparsity, std=0.05, generator=torch.Generator().manual_seed(SEED)
    )
    assert torch.equal(again, ours)
    assert not torch.equal(ours == 0, theirs == 0)


# -- the schemes torch lacks, the aliases and the generic init -------------------------------------------
@pytest.mark.parametrize(
    ("name", "scheme", "kwargs"),
    [
        ("lecun_uniform_", "lecun_uniform", {}),
        ("lecun_normal_", "lecun_normal", {"gain": 2.0}),
        ("variance_scaling_", "variance_scaling", {}),
        (
            "variance_scaling_",
            "variance_scaling",
            {"scale": 2.0, "mode": "fan_avg", "distribution": "uniform"},
        ),
        (
            "variance_scaling_",
            "variance_scaling",
            {"scale": 0.5, "mode": "fan_out", "distribution": "normal"},
        ),
    ],
)
def test_winit_only_functions_equal_the_allocating_path(
    name: str, scheme: str, kwargs: dict[str, Any]
) -> None:
    ours_gen, ref_gen = _pair()
    ours = getattr(wt, name)(torch.empty(16, 3, 3, 3), **kwargs, generator=ours_gen)
    expected = winit.init(scheme, (16, 3, 3, 3), backend="torch", seed=ref_gen, **kwargs)
    assert torch.equal(ours, expected)


def test_lecun_uniform_bound_is_sqrt_3_over_fan_in() -> None:
    w = wt.lecun_uniform_(torch.empty(400, 300), generator=torch.Generator().manual_seed(0))
    bound = math.sqrt(3.0 / 300)
    assert w.abs().max().item() <= bound
    assert w.abs().max().item() > 0.999 * bound


def test_variance_scaling_truncated_normal_cuts_at_two_sigma() -> None:
    w = wt.variance_scaling_(torch.empty(500, 400), scale=2.0, generator=torch.Generator().manual_seed(0))
    sigma = math.sqrt(2.0 / 400) / winit.TRUNCATED_NORMAL_STD_2SIGMA
    assert w.abs().max().item() <= 2 * sigma * (1 + 1e-6)
    assert w.std().item() == pytest.approx(math.sqrt(2.0 / 400), rel=0.01)


def test_aliases_are_the_torch_named_functions() -> None:
    assert wt.glorot_uniform_ is wt.xavier_uniform_
    assert wt.glorot_normal_ is wt.xavier_normal_
    assert wt.he_uniform_ is wt.kaiming_uniform_
    assert wt.he_normal_ is wt.kaiming_normal_


def test_generic_init_equals_the_named_function() -> None:
    ours_gen, ref_gen = _pair()
    ours = wt.init(torch.empty(8, 4, 3), "kaiming_normal", ours_gen, mode="fan_out", a=0.1)
    expected = torch.nn.init.kaiming_normal_(torch.empty(8, 4, 3), a=0.1, mode="fan_out", generator=ref_gen)
    assert torch.equal(ours, expected)
    # layout= picks the fan axes: a ConvTranspose weight (in, out, k) in torch_transpose has fan_in = in·k
    w = wt.init(torch.empty(300, 20, 2), "lecun_uniform", layout="torch_transpose")
    assert w.abs().max().item() <= math.sqrt(3.0 / (300 * 2))
    assert w.abs().max().item() > 0.99 * math.sqrt(3.0 / (300 * 2))


# -- tensor handling: grad, dtype, device, meta, __torch_function__ ---------------------------------------
def test_parameter_stays_a_leaf_that_requires_grad() -> None:
    weight = nn.Parameter(torch.empty(6, 4))
    out = wt.orthogonal_(weight, generator=torch.Generator().manual_seed(0))
    assert out is weight
    assert weight.requires_grad and weight.is_leaf and weight.grad_fn is None
    (weight.sum() * 2).backward()
    assert weight.grad is not None


@pytest.mark.parametrize("dtype", [torch.float16, torch.bfloat16, torch.float64])
@pytest.mark.parametrize(
    ("name", "args"),
    [("uniform_", ()), ("normal_", ()), ("trunc_normal_", ()), ("xavier_uniform_", ()), ("kaiming_normal_", ()),
     ("orthogonal_", ()), ("lecun_normal_", ()), ("variance_scaling_", ()), ("eye_", ()), ("sparse_", (0.5,))],
)  # fmt: skip
def test_every_float_dtype_on_cpu(name: str, args: tuple[Any, ...], dtype: Any) -> None:
    generator = {} if name == "eye_" else {"generator": torch.Generator().manual_seed(0)}
    w = getattr(wt, name)(torch.empty(24, 16, dtype=dtype), *args, **generator)
    assert w.dtype == dtype
    assert torch.isfinite(w).all() and w.abs().sum() > 0


def test_orthogonal_on_half_does_qr_in_float32() -> None:
    with pytest.raises(RuntimeError):  # torch's own orthogonal_ cannot run QR in half precision
        torch.nn.init.orthogonal_(torch.empty(32, 48, dtype=torch.float16))
    w = wt.orthogonal_(torch.empty(32, 48, dtype=torch.bfloat16), gain=2.0).float()
    torch.testing.assert_close(w @ w.T, 4.0 * torch.eye(32), atol=0.05, rtol=0)


@pytest.mark.parametrize(
    ("name", "args"),
    [("uniform_", ()), ("trunc_normal_", ()), ("kaiming_uniform_", ()), ("orthogonal_", ()), ("dirac_", ()),
     ("sparse_", (0.1,)), ("eye_", ()), ("constant_", (1.0,)), ("variance_scaling_", ())],
)  # fmt: skip
def test_meta_tensors_are_a_noop(name: str, args: tuple[Any, ...]) -> None:
    shape = (4, 3, 3) if name == "dirac_" else (4, 3)
    w = torch.empty(shape, device="meta")
    assert getattr(wt, name)(w, *args) is w
    assert w.is_meta
    if "generator" in inspect.signature(getattr(wt, name)).parameters:  # a CPU generator is fine too
        assert getattr(wt, name)(w, *args, generator=torch.Generator()) is w
        assert getattr(wt, name)(w, *args, rng="portable", seed=0, stream="w") is w
        assert w.is_meta


@pytest.mark.parametrize(
    ("name", "shape", "args"),
    [("orthogonal_", (5,), ()), ("eye_", (2, 3, 4), ()), ("dirac_", (4, 3), ()), ("dirac_", (5, 3, 3), (2,)),
     ("sparse_", (2, 3, 4), (0.1,))],
)  # fmt: skip
def test_meta_tensors_still_check_the_shape(name: str, shape: tuple[int, ...], args: tuple[Any, ...]) -> None:
    with pytest.raises(ValueError, match=r"dimension|2-D|3-|divisible"):
        getattr(wt, name)(torch.empty(shape, device="meta"), *args)


def test_torch_function_mode_sees_every_call() -> None:
    seen: list[Any] = []

    class Record(TorchFunctionMode):
        def __torch_function__(self, func: Any, types: Any, args: Any = (), kwargs: Any = None) -> Any:
            seen.append(func)
            return func(*args, **(kwargs or {}))

    with Record():
        wt.kaiming_uniform_(torch.empty(3, 4))
        wt.orthogonal_(torch.empty(3, 4))
        wt.variance_scaling_(torch.empty(3, 4))
    assert {wt.kaiming_uniform_, wt.orthogonal_, wt.variance_scaling_} <= set(seen)


def test_tensor_subclass_can_intercept() -> None:
    class Intercepting(torch.Tensor):
        calls: ClassVar[list[str]] = []

        @classmethod
        def __torch_function__(cls, func: Any, types: Any, args: Any = (), kwargs: Any = None) -> Any:
            if func in (wt.xavier_normal_, wt.trunc_normal_):
                cls.calls.append(func.__name__)
                return kwargs["tensor"]  # the subclass takes over: nothing is written
            return super().__torch_function__(func, types, args, kwargs)

    w = torch.zeros(4, 4).as_subclass(Intercepting)
    wt.xavier_normal_(w)
    wt.trunc_normal_(w, std=0.1)
    assert Intercepting.calls == ["xavier_normal_", "trunc_normal_"]
    assert (w.as_subclass(torch.Tensor) == 0).all()


def test_writes_into_a_view_in_place() -> None:
    base = torch.zeros(10, 6)
    wt.xavier_uniform_(base[2:5], generator=torch.Generator().manual_seed(0))
    assert (base[:2] == 0).all() and (base[5:] == 0).all() and (base[2:5] != 0).all()
    transposed = torch.zeros(6, 10)
    wt.kaiming_uniform_(transposed.T, generator=torch.Generator().manual_seed(0))  # non-contiguous
    expected = torch.nn.init.kaiming_uniform_(
        torch.zeros(6, 10).T, generator=torch.Generator().manual_seed(0)
    )
    assert torch.equal(transposed, expected.T)


# -- rng="portable": winit's counter-based generator, in place ------------------------------------------
#: (function, its torch-style arguments, the winit scheme and params winit.init draws the same values from).
PORTABLE_CASES: list[tuple[str, dict[str, Any], str, dict[str, Any]]] = [
    ("uniform_", {"a": -0.3, "b": 0.7}, "random_uniform", {"minval": -0.3, "maxval": 0.7}),
    ("normal_", {}, "random_normal", {"mean": 0.0, "stddev": 1.0}),
    ("normal_", {"mean": 0.5, "std": 0.02}, "random_normal", {"mean": 0.5, "stddev": 0.02}),
    ("trunc_normal_", {}, "truncated_normal", {"mean": 0.0, "stddev": 1.0, "lower": -2.0, "upper": 2.0}),
    ("trunc_normal_", {"mean": 0.1, "std": 0.05, "a": 0.02, "b": 0.2}, "truncated_normal",
     {"mean": 0.1, "stddev": 0.05, "lower": (0.02 - 0.1) / 0.05, "upper": (0.2 - 0.1) / 0.05}),
    ("xavier_uniform_", {}, "glorot_uniform", {}),
    ("xavier_uniform_", {"gain": 1.5}, "glorot_uniform", {"gain": 1.5}),
    ("xavier_normal_", {"gain": 5.0 / 3.0}, "glorot_normal", {"gain": 5.0 / 3.0}),
    ("kaiming_uniform_", {"a": math.sqrt(5)}, "he_uniform", {"negative_slope": math.sqrt(5)}),
    ("kaiming_normal_", {}, "he_normal", {}),
    ("kaiming_normal_", {"a": 0.1, "mode": "fan_out", "nonlinearity": "leaky_relu"}, "he_normal",
     {"negative_slope": 0.1, "mode": "fan_out", "nonlinearity": "leaky_relu"}),
    ("kaiming_normal_", {"mode": "fan_out", "nonlinearity": "relu"}, "he_normal",
     {"mode": "fan_out", "nonlinearity": "relu"}),
    ("orthogonal_", {}, "orthogonal", {}),
    ("orthogonal_", {"gain": 2.5}, "orthogonal", {"gain": 2.5}),
    ("lecun_uniform_", {}, "lecun_uniform", {}),
    ("lecun_normal_", {"gain": 2.0}, "lecun_normal", {"gain": 2.0}),
    ("variance_scaling_", {"scale": 2.0, "mode": "fan_avg", "distribution": "uniform"}, "variance_scaling",
     {"scale": 2.0, "mode": "fan_avg", "distribution": "uniform"}),
    ("variance_scaling_", {}, "variance_scaling", {}),
]  # fmt: skip
#: every random function of winit.torch with arguments that make it run.
PORTABLE_NAMES: list[tuple[str, tuple[Any, ...]]] = [
    *((name, (0.3,) if name == "sparse_" else ()) for name in RANDOM_NAMES),
    ("lecun_uniform_", ()), ("lecun_normal_", ()), ("variance_scaling_", ()),
]  # fmt: skip


def _portable_case_id(case: tuple[str, dict[str, Any], str, dict[str, Any]]) -> str:
    return _case_id(case[:2])


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64, torch.bfloat16], ids=str)
@pytest.mark.parametrize("shape", [(7, 5), (5, 7), (16, 3, 3, 3)], ids=lambda s: "x".join(map(str, s)))
@pytest.mark.parametrize("case", PORTABLE_CASES, ids=_portable_case_id)
def test_portable_writes_winit_init_in_place(
    case: tuple[str, dict[str, Any], str, dict[str, Any]], shape: tuple[int, ...], dtype: Any
) -> None:
    """f(w, ..., rng="portable", seed=s, stream=t) writes winit.init(scheme, w.shape, ...) into w's storage."""
    name, kwargs, scheme, params = case
    function = getattr(wt, name)
    tensor = torch.full(shape, 9.0, dtype=dtype)
    storage = tensor.data_ptr()
    out = function(tensor, **kwargs, rng="portable", seed=SEED, stream="layer.weight")
    assert out is tensor and tensor.data_ptr() == storage and tensor.dtype == dtype
    expected = winit.init(
        scheme, shape, backend="torch", layout="torch", seed=SEED, rng="portable", stream="layer.weight",
        dtype=dtype, **params,
    )  # fmt: skip
    assert torch.equal(tensor, expected)
    again = function(
        torch.empty(shape, dtype=dtype), **kwargs, rng="portable", seed=SEED, stream="layer.weight"
    )
    assert torch.equal(again, tensor)
    other = function(
        torch.empty(shape, dtype=dtype), **kwargs, rng="portable", seed=SEED, stream="layer.bias"
    )
    assert not torch.equal(other, tensor)
    native = function(
        torch.empty(shape, dtype=dtype), **kwargs, generator=torch.Generator().manual_seed(SEED)
    )
    assert not torch.equal(native, tensor)


def test_portable_takes_torch_parameters_positionally_and_int_streams() -> None:
    w = wt.kaiming_normal_(
        torch.empty(12, 8), 0.1, "fan_out", "leaky_relu", None, rng="portable", seed=3, stream=7
    )
    expected = winit.init(
        "he_normal",
        (12, 8),
        backend="torch",
        seed=3,
        rng="portable",
        stream=7,
        negative_slope=0.1,
        mode="fan_out",
    )
    assert torch.equal(w, expected)
    assert not torch.equal(w, wt.kaiming_normal_(torch.empty(12, 8), 0.1, "fan_out", rng="portable", seed=3))


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64, torch.float16], ids=str)
@pytest.mark.parametrize(
    ("name", "kwargs"),
    [("uniform_", {}), ("uniform_", {"a": -2.0, "b": 3.0}), ("xavier_uniform_", {"gain": 1.5}),
     ("kaiming_uniform_", {"a": math.sqrt(5)}), ("lecun_uniform_", {})],
)  # fmt: skip
def test_portable_uniform_family_is_bit_identical_to_numpy(
    name: str, kwargs: dict[str, Any], dtype: Any
) -> None:
    """Uniform laws are an add and a multiply, each correctly rounded: torch writes NumPy's portable bits."""
    np = pytest.importorskip("numpy")
    shape = (33, 4, 3)
    tensor = getattr(wt, name)(torch.empty(shape, dtype=dtype), **kwargs, rng="portable", seed=11, stream="w")
    scheme, params = {
        "uniform_": ("random_uniform", {"minval": kwargs.get("a", 0.0), "maxval": kwargs.get("b", 1.0)}),
        "xavier_uniform_": ("glorot_uniform", kwargs),
        "kaiming_uniform_": ("he_uniform", {"negative_slope": kwargs.get("a", 0.0)}),
        "lecun_uniform_": ("lecun_uniform", {}),
    }[name]
    expected = winit.init(
        scheme, shape, backend="numpy", layout="torch", seed=11, rng="portable", stream="w",
        dtype=str(dtype).removeprefix("torch."), **params,
    )  # fmt: skip
    assert expected.dtype == np.dtype(str(dtype).removeprefix("torch."))
    assert np.array_equal(
        tensor.numpy().view(f"u{tensor.element_size()}"), expected.view(f"u{expected.itemsize}")
    )


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64], ids=str)
def test_portable_sparse_values_and_zero_pattern_are_portable(dtype: Any) -> None:
    """Values: the portable random_normal draw; zeros: per column the smallest keys of U[0, 1) rows [r, 2r)."""
    np = pytest.importorskip("numpy")
    rows, cols, sparsity, std = 20, 9, 0.3, 0.05
    tensor = torch.full((rows, cols), 9.0, dtype=dtype)
    storage = tensor.data_ptr()
    out = wt.sparse_(tensor, sparsity, std, rng="portable", seed=4, stream="w")
    assert out is tensor and tensor.data_ptr() == storage
    common = {"layout": "torch", "seed": 4, "rng": "portable", "stream": "w"}
    name = str(dtype).removeprefix("torch.")
    values = winit.init(
        "random_normal", (rows, cols), backend="torch", dtype=dtype, mean=0.0, stddev=std, **common
    )
    keys = winit.init(
        "random_uniform", (2 * rows, cols), backend="numpy", dtype=name, minval=0.0, maxval=1.0, **common
    )[rows:]  # NumPy's keys: the uniform bits are the same everywhere, so the pattern is too
    zeros = np.zeros((rows, cols), dtype=bool)
    np.put_along_axis(
        zeros, np.argsort(keys, axis=0, kind="stable")[: math.ceil(sparsity * rows)], True, axis=0
    )
    assert torch.equal(tensor == 0, torch.from_numpy(zeros))
    assert torch.equal(tensor[~torch.from_numpy(zeros)], values[~torch.from_numpy(zeros)])
    assert ((tensor == 0).sum(dim=0) == math.ceil(sparsity * rows)).all()
    other = wt.sparse_(
        torch.empty(rows, cols, dtype=dtype), sparsity, std, rng="portable", seed=4, stream="b"
    )
    assert not torch.equal(other == 0, tensor == 0)
    torch.manual_seed(0)
    assert torch.equal(wt.sparse_(torch.empty(rows, cols, dtype=dtype), sparsity, std, rng="portable", seed=4,
                                  stream="w"), tensor)  # fmt: skip


def test_portable_into_a_parameter_that_requires_grad() -> None:
    layer = nn.Linear(20, 30)
    weight = layer.weight
    storage = weight.data_ptr()
    out = wt.kaiming_uniform_(layer.weight, a=math.sqrt(5), rng="portable", seed=0, stream="weight")
    assert out is weight and layer.weight is weight and weight.data_ptr() == storage
    assert weight.requires_grad and weight.is_leaf and weight.grad_fn is None
    expected = winit.init(
        "he_uniform",
        (30, 20),
        backend="torch",
        seed=0,
        rng="portable",
        stream="weight",
        negative_slope=math.sqrt(5),
    )
    assert torch.equal(weight.detach(), expected)
    wt.orthogonal_(layer.weight, rng="portable", seed=0, stream="weight")
    layer(torch.ones(2, 20)).sum().backward()
    assert weight.grad is not None and weight.grad.shape == (30, 20)


def test_portable_writes_into_a_view_and_leaves_the_global_rng_alone() -> None:
    base = torch.zeros(6, 10)
    state = torch.get_rng_state()
    wt.xavier_uniform_(base.T, rng="portable", seed=2, stream="v")  # non-contiguous (10, 6) view
    assert torch.equal(torch.get_rng_state(), state)
    expected = winit.init("glorot_uniform", (10, 6), backend="torch", seed=2, rng="portable", stream="v")
    assert torch.equal(base.T, expected)
    rows = torch.zeros(10, 6)
    wt.normal_(rows[2:5], rng="portable", seed=2, stream="v")
    assert (rows[:2] == 0).all() and (rows[5:] == 0).all()
    assert torch.equal(rows[2:5], winit.init("random_normal", (3, 6), backend="torch", seed=2, rng="portable",
                                             stream="v", mean=0.0, stddev=1.0))  # fmt: skip


def test_portable_without_a_seed_draws_fresh_entropy() -> None:
    a = wt.normal_(torch.empty(64), rng="portable")
    b = wt.normal_(torch.empty(64), rng="portable")
    assert not torch.equal(a, b)


def test_portable_zero_element_tensor_warns_and_is_left_alone() -> None:
    with pytest.warns(UserWarning, match="zero-element"):
        out = wt.kaiming_normal_(torch.empty(0, 4), rng="portable", seed=0)
    assert out.shape == (0, 4)


class _XavierNormalRecorder(TorchFunctionMode):
    """Records the keywords winit.torch.xavier_normal_ hands to ``__torch_function__``; ``forward`` runs them."""

    def __init__(self, forward: Any) -> None:
        super().__init__()
        self.forward, self.seen = forward, []

    def __torch_function__(self, func: Any, types: Any, args: Any = (), kwargs: Any = None) -> Any:
        if func is wt.xavier_normal_:
            self.seen.append(dict(kwargs or {}))
            return self.forward(*args, **(kwargs or {}))
        return func(*args, **(kwargs or {}))


def test_torch_function_sees_the_portable_keywords() -> None:
    with _XavierNormalRecorder(wt.xavier_normal_) as mode:
        w = wt.xavier_normal_(torch.empty(5, 4), rng="portable", seed=1, stream="w")
    assert {k: mode.seen[0][k] for k in ("rng", "seed", "stream")} == {
        "rng": "portable",
        "seed": 1,
        "stream": "w",
    }
    expected = winit.init("glorot_normal", (5, 4), backend="torch", seed=1, rng="portable", stream="w")
    assert torch.equal(w, expected)


def test_torch_function_gets_torch_keywords_only_for_a_native_call() -> None:
    """A handler written against torch.nn.init's signature keeps working: defaults add no winit keywords."""
    with _XavierNormalRecorder(torch.nn.init.xavier_normal_) as mode:
        wt.xavier_normal_(torch.empty(5, 4), gain=0.5)
    assert set(mode.seen[0]) == {"tensor", "gain", "generator"}


@pytest.mark.parametrize(("name", "args"), PORTABLE_NAMES, ids=[case[0] for case in PORTABLE_NAMES])
def test_portable_keywords_are_checked_before_anything_is_written(name: str, args: tuple[Any, ...]) -> None:
    function = getattr(wt, name)
    tensor = torch.full((6, 4), 9.0)
    with pytest.raises(ValueError, match=r"seed=3 needs rng='portable'.*generator="):
        function(tensor, *args, seed=3)
    with pytest.raises(ValueError, match=r"stream='w' needs rng='portable'"):
        function(tensor, *args, stream="w")
    with pytest.raises(ValueError, match=r"unknown rng 'philox'; accepted: native, portable"):
        function(tensor, *args, rng="philox")
    with pytest.raises(TypeError, match=r"rng must be a string.*\['native', 'portable'\].*got 1"):
        function(tensor, *args, rng=1)
    with pytest.raises(ValueError, match=r"rng='portable' draws from seed=.*not from a torch\.Generator"):
        function(tensor, *args, generator=torch.Generator(), rng="portable", seed=3)
    with pytest.raises(TypeError, match=r"int seed.*got Generator"):
        function(tensor, *args, rng="portable", seed=torch.Generator())
    with pytest.raises(TypeError, match=r"int seed.*got str"):
        function(tensor, *args, rng="portable", seed="3")
    with pytest.raises(ValueError, match=r"seed must be in \[0, 2\*\*63 - 1\], got -1"):
        function(tensor, *args, rng="portable", seed=-1)
    with pytest.raises(TypeError, match=r"stream must be a str.*got 1\.5"):
        function(tensor, *args, rng="portable", seed=3, stream=1.5)
    with pytest.raises(ValueError, match=r"int stream must be in \[0, 2\*\*64 - 1\], got -2"):
        function(tensor, *args, rng="portable", seed=3, stream=-2)
    assert (tensor == 9.0).all()


# -- bad input ------------------------------------------------------------------------------------------
@pytest.mark.parametrize("dtype", [torch.int64, torch.int32, torch.bool])
def test_integer_tensor_is_a_type_error(dtype: Any) -> None:
    with pytest.raises(TypeError, match="floating-point"):
        wt.kaiming_uniform_(torch.zeros(3, 4, dtype=dtype))
    assert torch.equal(
        wt.ones_(torch.zeros(3, dtype=dtype)), torch.ones(3, dtype=dtype)
    )  # fills: torch's dtypes


def test_bad_arguments_name_the_value() -> None:
    with pytest.raises(ValueError, match=r"unknown scheme 'he_normol'.*he_normal"):
        wt.init(torch.empty(3, 4), "he_normol")
    with pytest.raises(ValueError, match="fan mode 'fan_middle'"):
        wt.kaiming_uniform_(torch.empty(3, 4), mode="fan_middle")
    with pytest.raises(ValueError, match="nonlinearity 'relu6'"):
        wt.kaiming_normal_(torch.empty(3, 4), nonlinearity="relu6")
    with pytest.raises(ValueError, match="a < b"):
        wt.trunc_normal_(torch.empty(3, 4), a=1.0, b=-1.0)
    with pytest.raises(ValueError, match="std must be > 0"):
        wt.trunc_normal_(torch.empty(3, 4), std=0.0)
    with pytest.raises(ValueError, match="sparsity"):
        wt.sparse_(torch.empty(3, 4), sparsity=-0.5)
    with pytest.raises(TypeError, match=r"torch\.Generator"):
        wt.normal_(torch.empty(3, 4), generator=42)  # type: ignore[arg-type]
    with pytest.raises(TypeError, match="no parameter 'slope'"):
        wt.init(torch.empty(3, 4), "he_uniform", slope=0.1)


def test_zero_element_tensor_warns_and_is_left_alone() -> None:
    with pytest.warns(UserWarning, match="zero-element"):
        out = wt.xavier_uniform_(torch.empty(0, 4))
    assert out.shape == (0, 4)


# -- init_: whole models -----------------------------------------------------------------------------------
class Net(nn.Module):
    """Conv2d + BatchNorm + ConvTranspose2d + Embedding + LSTM + MultiheadAttention + Linear."""

    def __init__(self, extra: bool = False) -> None:
        super().__init__()
        if extra:  # registered first: changes module order and the global draw order, not names
            self.extra = nn.Linear(5, 5)
        self.conv = nn.Conv2d(3, 8, 3, padding=1)
        self.bn = nn.BatchNorm2d(8)
        self.up = nn.ConvTranspose2d(8, 4, 2, stride=2)
        self.embed = nn.Embedding(20, 16)
        self.lstm = nn.LSTM(16, 12, batch_first=True)
        self.attn = nn.MultiheadAttention(12, 3, batch_first=True)
        self.head = nn.Linear(4 + 12, 5)

    def forward(self, image: Any, tokens: Any) -> Any:
        x = self.up(torch.relu(self.bn(self.conv(image)))).mean(dim=(2, 3))
        seq, _ = self.lstm(self.embed(tokens))
        attended, _ = self.attn(seq, seq, seq)
        return self.head(torch.cat([x, attended.mean(dim=1)], dim=1))


def _inputs() -> tuple[Any, Any]:
    g = torch.Generator().manual_seed(0)
    return torch.randn(2, 3, 6, 6, generator=g), torch.randint(0, 20, (2, 7), generator=g)


def test_model_is_initialized_by_layer_and_trains() -> None:
    model, report = wt.init_(Net(), seed=0)
    assert isinstance(model, Net)
    # every parameter is a row (fused ones once per block), in module order
    assert len(report) == 25
    assert [r.key for r in report][:4] == ["conv.weight", "conv.bias", "bn.weight", "bn.bias"]
    conv = report["conv.weight"]
    assert (conv.layer, conv.scheme, conv.fan_in, conv.fan_out) == ("Conv2d", "he_normal", 27, 72)
    assert conv.std == pytest.approx(math.sqrt(2 / 27))
    up = report["up.weight"]  # ConvTranspose2d weight (in=8, out=4, 2, 2): fans from torch_transpose
    assert (up.shape, up.fan_in, up.fan_out, up.layout) == ((8, 4, 2, 2), 32, 16, "torch_transpose")
    assert report["bn.weight"].scheme == "ones" and report["bn.bias"].scheme == "zeros"
    assert torch.equal(model.bn.weight, torch.ones(8)) and torch.equal(model.bn.bias, torch.zeros(8))
    for gate in "ifgo":
        row = report[f"lstm.weight_ih_l0[{gate}]"]
        assert (row.shape, row.fan_in, row.fan_out, row.scheme) == ((12, 16), 16, 12, "he_normal")
        recurrent = report[f"lstm.weight_hh_l0[{gate}]"]
        assert (recurrent.shape, recurrent.scheme) == ((12, 12), "orthogonal")
    for block in model.lstm.weight_hh_l0.detach().chunk(4):
        torch.testing.assert_close(block @ block.T, torch.eye(12), atol=1e-5, rtol=0)
    for part in "qkv":
        row = report[f"attn.in_proj_weight[{part}]"]
        assert (row.shape, row.fan_in, row.fan_out) == ((12, 12), 12, 12)
    assert report["attn.out_proj.weight"].layer == "NonDynamicallyQuantizableLinear"
    assert all(r.scheme == "zeros" for r in report if "bias" in r.name and r.layer != "BatchNorm2d")
    assert (model.lstm.bias_ih_l0 == 0).all() and (model.attn.in_proj_bias == 0).all()
    # the model runs forward and backward with its new weights, and stays trainable
    image, tokens = _inputs()
    model(image, tokens).square().mean().backward()
    assert all(p.is_leaf and p.requires_grad and p.grad is not None for p in model.parameters())


def test_report_prints_as_a_table() -> None:
    _, report = wt.init_(Net(), seed=0)
    text = str(report)
    lines = text.splitlines()
    assert lines[0].split() == [
        "parameter", "layer", "role", "scheme", "layout", "shape", "fan_in", "fan_out", "gain", "std"
    ]  # fmt: skip
    assert len(lines) == len(report) + 2
    assert any(
        line.split()[:6] == ["lstm.weight_hh_l0[f]", "LSTM", "recurrent", "orthogonal", "torch", "12×12"]
        for line in lines
    )
    assert any(
        line.split()[:8]
        == ["up.weight", "ConvTranspose2d", "conv", "he_normal", "torch_transpose", "8×4×2×2", "32", "16"]
        for line in lines
    )
    table = report.rich_table()
    assert table.row_count == len(report) and len(table.columns) == 10
    console = rich_console.Console(file=io.StringIO(), width=200)
    console.print(table)
    assert "lstm.weight_hh_l0[f]" in console.file.getvalue()  # block names survive rich markup
    with pytest.raises(KeyError, match=r"no row 'lstm\.weight'"):
        report["lstm.weight"]


def test_default_scheme_follows_nonlinearity_and_std_is_realized() -> None:
    model = nn.Sequential(nn.Linear(512, 256), nn.Tanh(), nn.Linear(256, 256))
    _, report = wt.init_(model, nonlinearity="tanh", seed=1)
    assert report["0.weight"].scheme == "glorot_normal"
    assert model[0].weight.std().item() == pytest.approx(math.sqrt(2 / (512 + 256)), rel=0.01)
    _, report = wt.init_(model, nonlinearity="leaky_relu", seed=1)
    assert report["0.weight"].scheme == "he_normal"
    assert report["0.weight"].gain == pytest.approx(math.sqrt(2.0))  # kaiming's a=0 default
    assert model[0].weight.std().item() == pytest.approx(math.sqrt(2 / 512), rel=0.01)


def test_mapping_by_type_and_name_pattern() -> None:
    rules = {
        nn.Linear: "glorot_uniform",  # also matches out_proj (a Linear subclass)
        nn.LSTM: winit.get("orthogonal").with_(gain=0.5),
        "lstm.weight_hh_*": "identity",
        "head.bias": "ones",
        "embed.weight": "random_normal",
    }
    model, report = wt.init_(Net(), rules, bias="zeros", seed=0)
    assert report["head.weight"].scheme == "glorot_uniform"
    assert report["attn.out_proj.weight"].scheme == "glorot_uniform"
    assert report["lstm.weight_ih_l0[g]"].scheme == "orthogonal"
    assert report["lstm.weight_ih_l0[g]"].gain == 0.5
    assert report["lstm.weight_hh_l0[o]"].scheme == "identity"
    assert torch.equal(model.lstm.weight_hh_l0[36:], torch.eye(12))
    assert torch.equal(model.head.bias, torch.ones(5)) and (model.conv.bias == 0).all()
    assert report["embed.weight"].std == 0.05
    assert report["conv.weight"].scheme == "he_normal"  # unmatched: the default


def test_same_seed_same_model_and_different_seed_different() -> None:
    first, _ = wt.init_(Net(), seed=5)
    second, _ = wt.init_(Net(), seed=5)
    other, _ = wt.init_(Net(), seed=6)
    for (name, a), b, c in zip(
        first.named_parameters(), second.parameters(), other.parameters(), strict=True
    ):
        assert torch.equal(a, b), name
        if a.unique().numel() > 1:  # random ones; zeros/ones/identity do not depend on the seed
            assert not torch.equal(a, c), name


def test_seeded_streams_do_not_depend_on_other_modules() -> None:
    plain, _ = wt.init_(Net(), seed=11)
    grown, _ = wt.init_(Net(extra=True), seed=11)
    for name, param in plain.named_parameters():
        assert torch.equal(param, grown.get_parameter(name)), name
    # the control: one shared generator walks the modules in order, so the extra layer shifts everything
    plain, _ = wt.init_(Net(), generator=torch.Generator().manual_seed(11))
    grown, _ = wt.init_(Net(extra=True), generator=torch.Generator().manual_seed(11))
    assert not torch.equal(plain.head.weight, grown.head.weight)


def test_without_seed_or_generator_the_global_rng_decides() -> None:
    torch.manual_seed(2)
    first, _ = wt.init_(Net())
    torch.manual_seed(2)
    second, _ = wt.init_(Net())
    assert all(torch.equal(a, b) for a, b in zip(first.parameters(), second.parameters(), strict=True))


def test_meta_model_is_materialized_and_written_exactly_once(monkeypatch: pytest.MonkeyPatch) -> None:
    with torch.device("meta"):
        model = Net()
    fresh = Net()  # built before reset_parameters is patched out: its BN γ is 1, not empty memory
    resets: list[str] = []
    for cls in {type(m) for m in model.modules()}:
        for method in ("reset_parameters", "_reset_parameters"):
            if hasattr(cls, method):
                monkeypatch.setattr(
                    cls, method, lambda self, _m=method: resets.append(f"{type(self).__name__}.{_m}")
                )
    writes: list[Any] = []
    import winit._torch_write as torch_write

    realize = torch_write.realize  # init_'s one native write path (realize_into's draw, its checks done once)

    def counting(plan: Any, out: Any, stream: Any, given: Any) -> Any:
        writes.append(out)
        return realize(plan, out, stream, given)

    monkeypatch.setattr(torch_write, "realize", counting)
    model, report = wt.init_(model, device="cpu", seed=4)

    assert resets == []
    assert len(writes) == len(report)
    for name, param in model.named_parameters():
        assert param.device.type == "cpu" and param.is_leaf and param.requires_grad, name
        hits = torch.zeros(param.numel(), dtype=torch.int32)
        for out in writes:
            if out.untyped_storage().data_ptr() == param.untyped_storage().data_ptr():
                offset = out.storage_offset() - param.storage_offset()
                hits.as_strided(out.shape, out.stride(), offset).add_(1)
        assert (hits == 1).all(), f"{name}: elements written {hits.unique().tolist()} times"
    assert torch.equal(model.bn.running_mean, torch.zeros(8))
    assert torch.equal(model.bn.running_var, torch.ones(8))
    # the meta path gives the very numbers the eager path gives for the same seed
    eager, _ = wt.init_(fresh, seed=4)
    for (name, a), b in zip(model.state_dict().items(), eager.state_dict().values(), strict=True):
        assert torch.equal(a, b), name
    image, tokens = _inputs()
    assert torch.isfinite(model(image, tokens)).all()


def test_embedding_padding_row_stays_zero() -> None:
    model, _ = wt.init_(nn.Embedding(10, 4, padding_idx=3), seed=0)
    assert (model.weight[3] == 0).all() and (model.weight[4] != 0).all()


@pytest.mark.parametrize("device", ["cpu", "meta"])
def test_tied_weights_are_initialized_once_and_stay_tied(device: str) -> None:
    with torch.device(device):
        model = nn.Sequential(nn.Embedding(10, 6), nn.Linear(6, 10, bias=False))
    model[1].weight = model[0].weight
    _, report = wt.init_(model, device="cpu", seed=0)
    assert [r.name for r in report] == ["0.weight", "1.weight"]
    assert report["1.weight"].tied_to == "0.weight" and "tied to 0.weight" in str(report)
    assert model[1].weight is model[0].weight  # to_empty alone would have split them
    assert model[0].weight.device.type == "cpu" and model[0].weight.std().item() > 0


def test_init_errors() -> None:
    with pytest.raises(ValueError, match="unknown scheme 'glorot_unifrom'"):
        wt.init_(Net(), "glorot_unifrom")
    with pytest.raises(TypeError, match=r"mapping keys must be a module type.*got 3"):
        wt.init_(Net(), {3: "he_normal"})  # type: ignore[dict-item]
    with pytest.raises(TypeError, match="mapping keys must be a module type"):
        wt.init_(Net(), {int: "he_normal"})  # type: ignore[dict-item]
    with pytest.raises(ValueError, match=r"pattern 'hed\.\*' matches no parameter"):
        wt.init_(Net(), {"hed.*": "he_normal"})
    with pytest.raises(ValueError, match="seed= or generator="):
        wt.init_(Net(), seed=1, generator=torch.Generator())
    with pytest.raises(ValueError, match="unknown rng 'philox'"):
        wt.init_(Net(), rng="philox")
    with pytest.raises(ValueError, match="unknown nonlinearity 'rleu'"):
        wt.init_(Net(), nonlinearity="rleu")
    with pytest.raises(TypeError, match=r"torch\.nn\.Module"):
        wt.init_(torch.empty(3, 3))  # type: ignore[arg-type]
    with torch.device("meta"):
        meta = Net()
    with pytest.raises(ValueError, match="meta device; pass device="):
        wt.init_(meta)

    class Scaled(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.scale = nn.Parameter(torch.full((4,), 7.0))

    model = Scaled()
    _, report = wt.init_(model)  # a parameter winit has no law for is kept as constructed, and reported
    assert (report["scale"].role, report["scale"].scheme) == ("other", "keep")
    assert (model.scale == 7.0).all()
    wt.init_(model, {"scale": winit.get("constant").with_(value=0.5)})
    assert (model.scale == 0.5).all()


@pytest.mark.gpu
@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")
def test_cuda_tensors_generators_and_meta_materialization() -> None:
    for name in ("uniform_", "normal_", "trunc_normal_", "xavier_normal_", "kaiming_uniform_", "orthogonal_"):
        ours_gen = torch.Generator(device="cuda").manual_seed(SEED)
        torch_gen = torch.Generator(device="cuda").manual_seed(SEED)
        ours = getattr(wt, name)(torch.empty(64, 32, device="cuda"), generator=ours_gen)
        expected = getattr(torch.nn.init, name)(torch.empty(64, 32, device="cuda"), generator=torch_gen)
        assert torch.equal(ours, expected), name
    half = wt.orthogonal_(torch.empty(32, 48, device="cuda", dtype=torch.float16)).float()
    torch.testing.assert_close(half @ half.T, torch.eye(32, device="cuda"), atol=0.02, rtol=0)
    with pytest.raises(ValueError, match="generator is on cpu"):
        wt.normal_(torch.empty(3, 4, device="cuda"), generator=torch.Generator())
    with torch.device("meta"):
        meta = Net()
    materialized, _ = wt.init_(meta, device="cuda", seed=8)
    eager, _ = wt.init_(Net().cuda(), seed=8)
    for (name, a), b in zip(materialized.state_dict().items(), eager.state_dict().values(), strict=True):
        assert a.is_cuda and torch.equal(a, b), name


@pytest.mark.gpu
@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")
def test_cuda_portable_draws_in_place() -> None:
    """rng="portable" on a CUDA tensor: drawn on the GPU into the tensor, winit.init's values there and on CPU."""
    for name, kwargs, scheme, params in PORTABLE_CASES:
        tensor = torch.empty(64, 32, device="cuda")
        storage = tensor.data_ptr()
        getattr(wt, name)(tensor, **kwargs, rng="portable", seed=SEED, stream="w")
        assert tensor.is_cuda and tensor.data_ptr() == storage, name
        common = {"layout": "torch", "seed": SEED, "rng": "portable", "stream": "w", **params}
        assert torch.equal(tensor, winit.init(scheme, (64, 32), backend="torch", device="cuda", **common)), (
            name
        )
        on_cpu = winit.init(scheme, (64, 32), backend="torch", device="cpu", **common)
        if scheme in ("random_uniform", "glorot_uniform", "he_uniform", "lecun_uniform"):
            assert torch.equal(tensor.cpu(), on_cpu), name
        else:  # erfinv's log/sqrt and the QR are the device's: a few ulps
            torch.testing.assert_close(tensor.cpu(), on_cpu, atol=1e-5, rtol=1e-5, msg=name)
    sparse = wt.sparse_(torch.empty(40, 12, device="cuda"), 0.25, rng="portable", seed=1, stream="s")
    assert torch.equal(
        sparse.cpu() == 0, wt.sparse_(torch.empty(40, 12), 0.25, rng="portable", seed=1, stream="s") == 0
    )
