"""Edges of the error contract and of torch.nn.init drop-in parity (issue 14, items 16 and 18)."""

from __future__ import annotations

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
