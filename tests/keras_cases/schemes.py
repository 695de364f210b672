"""One Keras backend's checks of ``winit.keras.initializer``, run in a fresh process with KERAS_BACKEND set.

``python schemes.py DIR`` draws every registry scheme through ``winit.keras.initializer``, round-trips
each through Keras serialization, compares it with the preset class of the same law, builds
EinsumDense kernels and saves and reloads a model; it writes DIR/schemes.json, on
which tests/test_keras_initializer.py asserts.
"""

from __future__ import annotations

import inspect
import json
import os
import sys
from pathlib import Path
from typing import Any

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
os.environ.setdefault("TF_ENABLE_ONEDNN_OPTS", "0")

import keras  # after the environment above: TF reads it once, at import
import numpy as np

import winit
import winit.keras as wk

SHAPE = (3, 3, 8, 16)  # fan_in 72, fan_out 144; one shape, since JAX compiles each new one
SHAPE_2D = (16, 12)  # identity is 2-D only
#: parameters that differ from the scheme's defaults, so the config must carry them.
PARAMS: dict[str, dict[str, Any]] = {
    "constant": {"value": 0.3},
    "identity": {"gain": 2.0},
    "dirac": {"gain": 0.5},
    "zer_o": {"gain": 0.5},
    "orthogonal": {"gain": 1.5},
    "random_normal": {"mean": 0.1, "stddev": 0.2},
    "random_uniform": {"minval": -1.0, "maxval": 2.0},
    "truncated_normal": {"stddev": 0.3},
    "variance_scaling": {"scale": 0.5, "mode": "fan_out", "distribution": "uniform"},
    "he_normal": {"mode": "fan_out"},
}
#: scheme -> the winit.keras preset (and its arguments) that draws the same law for the same seed.
PRESETS: dict[str, tuple[str, dict[str, Any]]] = {
    "zeros": ("Zeros", {}),
    "ones": ("Ones", {}),
    "constant": ("Constant", {"value": 0.3}),
    "identity": ("Identity", {"gain": 2.0}),
    "dirac": ("Dirac", {"gain": 0.5}),
    "zer_o": ("ZerO", {"gain": 0.5}),
    "orthogonal": ("Orthogonal", {"gain": 1.5}),
    "random_normal": ("RandomNormal", {"mean": 0.1, "stddev": 0.2}),
    "random_uniform": ("RandomUniform", {"minval": -1.0, "maxval": 2.0}),
    "truncated_normal": ("TruncatedNormal", {"stddev": 0.3}),
    "variance_scaling": ("VarianceScaling", {"scale": 0.5, "mode": "fan_out", "distribution": "uniform"}),
    "glorot_uniform": ("GlorotUniform", {}),
    "he_uniform": ("HeUniform", {}),
    "lecun_uniform": ("LecunUniform", {}),
    # winit's *_normal are torch's untruncated laws: Keras' "untruncated_normal"
    "glorot_normal": (
        "VarianceScaling",
        {"scale": 1.0, "mode": "fan_avg", "distribution": "untruncated_normal"},
    ),
    "he_normal": ("VarianceScaling", {"scale": 2.0, "mode": "fan_out", "distribution": "untruncated_normal"}),
    "lecun_normal": (
        "VarianceScaling",
        {"scale": 1.0, "mode": "fan_in", "distribution": "untruncated_normal"},
    ),
}
SEED = 1234


def numpy(x: Any) -> np.ndarray:
    return np.asarray(keras.ops.convert_to_numpy(x)).astype(np.float64)


def scheme_case(name: str) -> dict[str, Any]:
    shape = SHAPE_2D if name == "identity" else SHAPE
    ours = wk.initializer(name, seed=SEED, **PARAMS.get(name, {}))
    values = ours(shape)
    serialized = json.loads(
        json.dumps(keras.saving.serialize_keras_object(ours))
    )  # as a .keras file keeps it
    restored = keras.saving.deserialize_keras_object(serialized)
    preset_name, preset_args = PRESETS[name]
    seeded = "seed" in inspect.signature(getattr(wk, preset_name)).parameters
    preset = getattr(wk, preset_name)(**preset_args, **({"seed": SEED} if seeded else {}))
    a, b = numpy(values), numpy(preset(shape))
    return {
        "class": type(ours).__name__,
        "shape": list(values.shape),
        "dtype": keras.backend.standardize_dtype(values.dtype),
        "variance_scaling": isinstance(ours, keras.initializers.VarianceScaling),
        "serialized": serialized,
        "restored_class": type(restored).__name__,
        "restored_config_equal": restored.get_config() == ours.get_config(),
        "restored_values_equal": bool(np.array_equal(numpy(restored(shape)), a)),
        "same_scheme_as_preset": ours.scheme() == preset.scheme(),
        "preset_bit_equal": bool(np.array_equal(a, b)),
        "preset_max_abs_diff": float(np.max(np.abs(a - b))),
        "preset_max_abs": float(np.max(np.abs(b))),
    }


def einsum_kernels() -> dict[str, Any]:
    """The generic initializer and the preset of the same law in EinsumDense, which hands fan axes to VarianceScaling.

    (MultiHeadAttention builds its kernels with EinsumDense: the same path, at four times the cost.)
    """
    report = {}
    pairs = {
        "he_normal": (
            wk.initializer("he_normal", seed=22),
            wk.VarianceScaling(2.0, "fan_in", "untruncated_normal", seed=22),
        ),
        "glorot_uniform": (wk.initializer("glorot_uniform", seed=21), wk.GlorotUniform(seed=21)),
    }
    for name, initializers in pairs.items():
        drawn = []
        for initializer in initializers:
            layer = keras.layers.EinsumDense("abc,cde->abde", (None, 8, 32), kernel_initializer=initializer)
            layer.build((2, 5, 128))  # kernel (128, 8, 32): input axis 0, output axes [1, 2]
            drawn.append(numpy(layer.kernel))
        ours, theirs = drawn
        report[name] = {
            "std": float(ours.std()),
            "max_abs_diff": float(np.max(np.abs(ours - theirs))),
            "max_abs": float(np.max(np.abs(theirs))),
        }
    report["he_uniform.bfloat16"] = keras.backend.standardize_dtype(
        wk.initializer("he_uniform", seed=0)(SHAPE, dtype="bfloat16").dtype
    )
    return report


def saved_model(out: Path) -> dict[str, Any]:
    """A model whose kernels come from ``initializer``, saved and loaded: same configs, same weights."""
    inputs = keras.Input((8,))
    x = keras.layers.Dense(16, kernel_initializer=wk.initializer("he_uniform", seed=1, mode="fan_out"))(
        inputs
    )
    outputs = keras.layers.Dense(4, kernel_initializer=wk.initializer("orthogonal", seed=2, gain=2.0))(x)
    model = keras.Model(inputs, outputs)
    model.save(out / "schemes.keras")
    loaded = keras.saving.load_model(out / "schemes.keras")
    configs = [
        [keras.saving.serialize_keras_object(layer.kernel_initializer) for layer in m.layers[1:]]
        for m in (model, loaded)
    ]
    return {
        "configs_equal": configs[0] == configs[1],
        "classes": [type(layer.kernel_initializer).__name__ for layer in loaded.layers[1:]],
        "weights_equal": all(
            np.array_equal(numpy(a), numpy(b)) for a, b in zip(model.weights, loaded.weights, strict=True)
        ),
    }


def main() -> None:
    out = Path(sys.argv[1])
    report = {
        "backend": keras.backend.backend(),
        "schemes": {name: scheme_case(name) for name in winit.schemes()},
        "einsum": einsum_kernels(),
        "saved_model": saved_model(out),
    }
    (out / "schemes.json").write_text(json.dumps(report, indent=1, sort_keys=True))


if __name__ == "__main__":
    main()
