"""``winit.keras.initializer``: every registry scheme as a serializable Keras initializer, on every Keras backend.

Keras picks its backend once per process, so each backend runs tests/keras_cases/schemes.py in its own
subprocess (concurrently): every scheme drawn, serialized and restored, compared with the preset class
of the same law, in EinsumDense, and in a saved and reloaded model. The tests at the
end run in this process, under whichever backend its Keras uses.
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

import winit

keras = pytest.importorskip("keras")
wk = pytest.importorskip("winit.keras")

KERAS_BACKENDS: Final = ("tensorflow", "jax", "torch", "numpy")
_SCRIPT: Final = Path(__file__).parent / "keras_cases" / "schemes.py"
_TIMEOUT_S: Final = 900  # a hang guard: four backends share a loaded CPU
#: the fan-based schemes: keras.initializers.VarianceScaling instances, so EinsumDense hands them axes.
_VARIANCE: Final = {name for name in winit.schemes() if winit.get(name).mode is not None}


@pytest.fixture(scope="module")
def reports(tmp_path_factory: pytest.TempPathFactory) -> dict[str, dict[str, Any] | str]:
    """backend -> its report (or the failure), every available backend run concurrently."""
    processes = {}
    for backend in KERAS_BACKENDS:
        if importlib.util.find_spec(backend) is None:
            continue
        folder = tmp_path_factory.mktemp(f"keras_schemes_{backend}")
        env = {
            **os.environ,
            "KERAS_BACKEND": backend,
            "TF_CPP_MIN_LOG_LEVEL": "3",
            "TF_ENABLE_ONEDNN_OPTS": "0",
        }
        with (folder / "stderr").open("wb") as stderr:  # a file: a full pipe would stall the process
            processes[backend] = (
                subprocess.Popen([sys.executable, str(_SCRIPT), str(folder)], env=env, stderr=stderr),
                folder,
            )
    results: dict[str, dict[str, Any] | str] = {}
    for backend, (process, folder) in processes.items():
        try:
            code = process.wait(timeout=_TIMEOUT_S)
        except subprocess.TimeoutExpired:
            process.kill()
            code = process.wait()
        results[backend] = (
            json.loads((folder / "schemes.json").read_text())
            if code == 0
            else f"KERAS_BACKEND={backend} exited {code}:\n{(folder / 'stderr').read_text()[-4000:]}"
        )
    return results


@pytest.fixture(params=KERAS_BACKENDS)
def report(request: pytest.FixtureRequest, reports: dict[str, dict[str, Any] | str]) -> dict[str, Any]:
    if request.param not in reports:
        pytest.skip(f"KERAS_BACKEND={request.param} needs {request.param} installed")
    result = reports[request.param]
    if isinstance(result, str):
        pytest.fail(result)
    return result


def test_every_scheme_draws_its_shape_and_dtype(report: dict[str, Any]) -> None:
    cases = report["schemes"]
    assert set(cases) == set(winit.schemes())
    for name, case in cases.items():
        assert case["shape"] == ([16, 12] if name == "identity" else [3, 3, 8, 16]), name
        assert case["dtype"] == "float32", name  # keras.config.floatx()
        assert case["variance_scaling"] == (name in _VARIANCE), name
        assert case["class"] == ("VarianceSchemeInitializer" if name in _VARIANCE else "SchemeInitializer")
    assert report["einsum"]["he_uniform.bfloat16"] == "bfloat16"


def test_every_scheme_round_trips_through_keras_serialization(report: dict[str, Any]) -> None:
    for name, case in report["schemes"].items():
        serialized = case["serialized"]
        assert serialized["registered_name"] == f"winit>{case['class']}", name
        assert serialized["config"]["scheme"] == name
        assert case["restored_class"] == case["class"], name
        assert case["restored_config_equal"] and case["restored_values_equal"], name
    assert report["schemes"]["variance_scaling"]["serialized"]["config"]["mode"] == "fan_out"


def test_every_scheme_equals_the_preset_class_of_its_law_for_the_same_seed(report: dict[str, Any]) -> None:
    for name, case in report["schemes"].items():
        if case["same_scheme_as_preset"]:  # one spec, one sampler: the same bits
            assert case["preset_bit_equal"], (name, report["backend"], case)
        # the others compute the same std another way (gain·√(2/fan) vs √(scale/fan)): float32 round-off
        assert case["preset_max_abs_diff"] <= 1e-6 * case["preset_max_abs"], (name, report["backend"], case)


def test_variance_schemes_follow_einsum_dense_axes(report: dict[str, Any]) -> None:
    # EinsumDense("abc,cde->abde") kernel (128, 8, 32): Keras' fans are 128 (input axis 0) and 256 (output
    # axes 1, 2), where the shape's own Keras fans would be 8·128 and 32·128. MultiHeadAttention builds its
    # kernels with EinsumDense.
    stds = {"he_normal": math.sqrt(2.0 / 128), "glorot_uniform": math.sqrt(2.0 / (128 + 256))}
    for name, std in stds.items():
        result = report["einsum"][name]
        assert result["std"] == pytest.approx(std, rel=0.03), (name, report["backend"])
        assert result["max_abs_diff"] <= 1e-6 * result["max_abs"], (name, report["backend"])


def test_a_saved_model_reloads_with_its_scheme_initializers(report: dict[str, Any]) -> None:
    saved = report["saved_model"]
    assert saved["classes"] == ["VarianceSchemeInitializer", "SchemeInitializer"]
    assert saved["configs_equal"] and saved["weights_equal"]


# -- in this process ----------------------------------------------------------------------------------
def test_config_keeps_the_scheme_params_seed_and_draw() -> None:
    initializer = wk.initializer("kaiming_uniform", seed=3, a=0.2, mode="fan_out", rng="portable", stream="w")
    assert isinstance(initializer, wk.VarianceSchemeInitializer)
    config = initializer.get_config()
    assert config == {"scheme": "he_uniform", "a": 0.2, "mode": "fan_out", "seed": 3, "rng": "portable",
                      "stream": "w", "input_axes": None, "output_axes": None}  # fmt: skip
    assert wk.get(keras.saving.serialize_keras_object(initializer)).get_config() == config
    # EinsumDense's clone: config, the concrete seed and the axes, through from_config
    clone = type(initializer).from_config({**config, "input_axes": [0], "output_axes": [1, 2]})
    assert (clone.input_axes, clone.output_axes, clone.scheme()) == ([0], [1, 2], initializer.scheme())
    assert wk.initializer("zeros").get_config() == {"scheme": "zeros", "seed": None}


def test_portable_draw_is_winit_init_in_the_keras_layout() -> None:
    shape = (3, 3, 4, 8)
    drawn = wk.initializer("he_uniform", seed=7, rng="portable", stream="w")(shape)
    expected = winit.init(
        "he_uniform", shape, backend="numpy", seed=7, rng="portable", stream="w", layout="keras"
    )
    np.testing.assert_array_equal(np.asarray(keras.ops.convert_to_numpy(drawn)), expected)


def test_constant_schemes_fill_int_dtypes_and_random_ones_refuse_them() -> None:
    assert keras.ops.convert_to_numpy(wk.initializer("constant", value=3)((2,), dtype="int32")).tolist() == [
        3,
        3,
    ]
    with pytest.raises(TypeError, match="draws floating-point tensors"):
        wk.initializer("he_normal", seed=0)((2, 2), dtype="int32")


def test_unknown_names_and_params_name_the_accepted_ones() -> None:
    with pytest.raises(
        ValueError, match=r"unknown scheme 'he_nromal'; known schemes: constant, dirac.*he_normal"
    ):
        wk.initializer("he_nromal")
    with pytest.raises(
        TypeError, match=r"scheme 'he_normal' has no parameter 'scale'; accepted: negative_slope"
    ):
        wk.initializer("he_normal", scale=2.0)
    with pytest.raises(TypeError, match=r"scheme must be a registry name"):
        wk.initializer(winit.get("he_normal"))
    with pytest.raises(ValueError, match="seed must be in"):
        wk.initializer("orthogonal", seed=-1)
    with pytest.raises(ValueError, match="input_axes and output_axes must be given together"):
        wk.VarianceSchemeInitializer("he_normal", input_axes=[0])
