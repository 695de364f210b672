"""One Keras backend's checks of ``winit.keras``, run in a fresh process with KERAS_BACKEND set.

``python frontdoor.py build DIR``  builds, runs and saves a small model to DIR/model.keras, measures
statistics, seeds and parity against ``keras.initializers``, and writes DIR/build.json.
``python frontdoor.py reload DIR`` loads DIR/model.keras in a new process (first without importing
winit.keras, then with it) and writes DIR/reload.json. tests/test_keras_frontdoor.py asserts on both.
"""

from __future__ import annotations

import json
import os
import sys
import time
from pathlib import Path
from typing import Any

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
os.environ.setdefault("TF_ENABLE_ONEDNN_OPTS", "0")

import keras  # after the environment above: TF reads it once, at import
import numpy as np

STATS_SHAPE = (512, 512)
PARITY_SHAPE = (3, 3, 8, 16)  # fan_in 72, fan_out 144: every fan mode differs
MODES_SHAPE = (512, 256)  # fan_in 512, fan_out 256
SEEDED = (
    "RandomNormal", "RandomUniform", "TruncatedNormal", "GlorotUniform", "GlorotNormal", "HeUniform",
    "HeNormal", "LecunUniform", "LecunNormal", "Orthogonal",
)  # fmt: skip


#: MultiHeadAttention(8 heads, key_dim 32) on 128 features: query/key/value kernels (128, 8, 32) with
#: input_axes [0], output_axes [1, 2]; attention_output (8, 32, 128) with input_axes [0, 1], output_axes [2].
ATTENTION = {
    "GlorotUniform": {},  # MultiHeadAttention's default
    "HeNormal": {},
}
#: EinsumDense(equation, output_shape) on a (2, 5, 128) input, and the initializer drawn.
EINSUM = {
    "abc,dc->abd": ((None, 64), "HeNormal"),  # kernel (64, 128): input axis 1, output axis 0
    "abc,cde->abde": ((None, 8, 32), "LecunNormal"),  # kernel (128, 8, 32): input [0], output [1, 2]
}


def numpy(x: Any) -> np.ndarray:
    return np.asarray(keras.ops.convert_to_numpy(x))


def build_model(wk: Any) -> keras.Model:
    """Conv2D by registered string, a Dirac conv, Dense by instance, an orthogonal head.

    Kernel shapes repeat those drawn elsewhere in this script ((3, 3, 8, 16), and (64, 16) whose
    orthogonal draw is the (16, 64) one's), because under JAX each new shape costs an XLA compile.
    """
    inputs = keras.Input((8, 8, 8))
    x = keras.layers.Conv2D(16, 3, kernel_initializer="winit>HeNormal", name="conv")(inputs)
    x = keras.layers.Conv2D(16, 3, padding="same", kernel_initializer=wk.Dirac(), name="dirac")(x)
    x = keras.layers.GlobalAveragePooling2D()(x)
    x = keras.layers.Dense(
        64,
        activation="relu",
        kernel_initializer=wk.HeNormal(seed=1),
        bias_initializer=wk.Constant(0.1),
        name="dense",
    )(x)
    outputs = keras.layers.Dense(16, kernel_initializer=wk.Orthogonal(gain=2.0, seed=3), name="head")(x)
    return keras.Model(inputs, outputs)


def initializer_configs(model: keras.Model) -> dict[str, Any]:
    """layer/attribute -> serialized initializer, for every *_initializer attribute of every layer."""
    out = {}
    for layer in model.layers:
        for attr in ("kernel_initializer", "bias_initializer"):
            if hasattr(layer, attr):
                out[f"{layer.name}.{attr}"] = keras.saving.serialize_keras_object(getattr(layer, attr))
    return out


def sample_input() -> np.ndarray:
    return np.random.default_rng(0).standard_normal((2, 8, 8, 8)).astype("float32")


def compare(ours: Any, theirs: Any) -> dict[str, Any]:
    a, b = numpy(ours), numpy(theirs)
    return {
        "bit_equal": bool(a.shape == b.shape and np.array_equal(a, b)),
        "max_abs_diff": float(np.max(np.abs(a - b))),
        "max_abs": float(np.max(np.abs(b))),
    }


def kernels(layer: keras.layers.Layer) -> dict[str, np.ndarray]:
    """The layer's kernels by path without the layer's own (auto-numbered) name."""
    return {w.path.split("/", 1)[-1]: numpy(w) for w in layer.weights if w.path.endswith("kernel")}


def kernel_stats(ours: dict[str, np.ndarray], theirs: dict[str, np.ndarray]) -> dict[str, Any]:
    return {
        name: {
            "shape": list(ours[name].shape),
            "std": float(ours[name].std()),
            "keras_std": float(theirs[name].std()),
            "max_abs_diff": float(np.max(np.abs(ours[name] - theirs[name]))),
            "max_abs": float(np.max(np.abs(theirs[name]))),
        }
        for name in ours
    }


def attention_kernels(wk: Any) -> dict[str, Any]:
    """winit's and Keras' initializer of one name inside MultiHeadAttention and EinsumDense, same seed."""
    report = {}
    for name, kwargs in ATTENTION.items():
        drawn = []
        for source in (wk, keras.initializers):
            layer = keras.layers.MultiHeadAttention(
                num_heads=8, key_dim=32, kernel_initializer=getattr(source, name)(seed=21, **kwargs)
            )
            layer.build((2, 5, 128), (2, 5, 128))
            drawn.append(kernels(layer))
        report[f"MultiHeadAttention.{name}"] = kernel_stats(*drawn)
    for equation, (output_shape, name) in EINSUM.items():
        drawn = []
        for source in (wk, keras.initializers):
            layer = keras.layers.EinsumDense(
                equation, output_shape, kernel_initializer=getattr(source, name)(seed=22)
            )
            layer.build((2, 5, 128))
            drawn.append(kernels(layer))
        report[f"EinsumDense.{equation}"] = kernel_stats(*drawn)["kernel"]
    return report


def dirac_same_padding(wk: Any) -> dict[str, float]:
    """max |layer(x) − x| for Dirac kernels under 'same' padding: odd and even kernels, depthwise ones."""
    x = np.random.default_rng(1).standard_normal((1, 6, 6, 4)).astype("float32")
    # few layers: under JAX each one is a new compilation
    layers = {
        "Conv2D.k2": keras.layers.Conv2D(4, 2, padding="same", kernel_initializer=wk.Dirac()),
        "Conv2D.k3": keras.layers.Conv2D(4, 3, padding="same", kernel_initializer=wk.Dirac()),
        "DepthwiseConv2D.k2": keras.layers.DepthwiseConv2D(
            2, padding="same", depthwise_initializer=wk.Dirac()
        ),
        "DepthwiseConv2D.k3": keras.layers.DepthwiseConv2D(
            3, padding="same", depthwise_initializer=wk.Dirac()
        ),
        "SeparableConv2D.k2": keras.layers.SeparableConv2D(
            4, 2, padding="same", depthwise_initializer=wk.Dirac(), pointwise_initializer=wk.Dirac()
        ),
    }
    report = {name: float(np.max(np.abs(numpy(layer(x)) - x))) for name, layer in layers.items()}
    x1 = x[:, 0]  # (1, 6, 4): a 1-D even kernel
    conv1d = keras.layers.Conv1D(4, 2, padding="same", kernel_initializer=wk.Dirac())
    report["Conv1D.k2"] = float(np.max(np.abs(numpy(conv1d(x1)) - x1)))
    return report


def keras_dtypes(wk: Any) -> dict[str, Any]:
    """What winit's and Keras' initializers give for float64 (JAX: x64 off) and for int/bool constants."""
    report: dict[str, Any] = {}
    for name, args, dtype in (
        ("HeNormal", {"seed": 1}, "float64"),
        ("Zeros", {}, "float64"),
        ("Zeros", {}, "int64"),
        ("Ones", {}, "int32"),
        ("Constant", {"value": 3}, "int64"),
        ("Constant", {"value": 0.5}, "bool"),
    ):
        ours, theirs = (getattr(src, name)(**args)((4, 3), dtype=dtype) for src in (wk, keras.initializers))
        report[f"{name}.{dtype}"] = {
            "dtype": keras.backend.standardize_dtype(ours.dtype),
            "keras_dtype": keras.backend.standardize_dtype(theirs.dtype),
            "equal": bool(np.array_equal(numpy(ours), numpy(theirs))) if name != "HeNormal" else None,
        }
    layer = keras.layers.Dense(3, kernel_initializer=wk.GlorotUniform(seed=1), dtype="float64")
    layer.build((2, 4))
    report["Dense(dtype=float64).kernel"] = keras.backend.standardize_dtype(layer.kernel.dtype)
    counter = keras.layers.Layer()
    weight = counter.add_weight(shape=(2,), initializer=wk.Zeros(), dtype="int64", trainable=False)
    report["add_weight(int64)"] = [keras.backend.standardize_dtype(weight.dtype), numpy(weight).tolist()]
    return report


def build(out: Path) -> dict[str, Any]:
    import winit.keras as wk

    report: dict[str, Any] = {"backend": keras.backend.backend(), "seconds": {}}
    clock = [time.perf_counter()]

    def lap(section: str) -> None:
        # wall seconds per section, to see where a slow run went (JAX compiles each new shape)
        now = time.perf_counter()
        report["seconds"][section] = round(now - clock[0], 2)
        clock[0] = now

    # -- a model as users write it: built, run forward, saved ------------------------------------
    model = build_model(wk)
    conv = model.get_layer("conv")
    report["string_initializer"] = (
        f"{type(conv.kernel_initializer).__module__}.{type(conv.kernel_initializer).__name__}"
    )
    x = sample_input()
    y = numpy(model(x))
    report["output_shape"] = list(y.shape)
    report["output_finite"] = bool(np.isfinite(y).all())
    report["initializers"] = initializer_configs(model)
    features = model.get_layer("conv")(x)
    # a Dirac kernel (zero bias) passes its input through; conv algorithms may round, hence a tolerance
    report["dirac_max_error"] = float(
        np.max(np.abs(numpy(model.get_layer("dirac")(features)) - numpy(features)))
    )
    head = numpy(model.get_layer("head").kernel)  # (64, 16): 16 orthonormal columns, scaled by 2
    report["head_gram_error"] = float(np.max(np.abs(head.T @ head - 4.0 * np.eye(16))))
    model.save(out / "model.keras")
    # configs Keras' classes of the same name cannot take (reload checks that they are refused)
    report["no_keras_twin"] = {
        name: keras.saving.serialize_keras_object(initializer)
        for name, initializer in (
            ("Dirac", wk.Dirac()),
            ("HeNormal.portable", wk.HeNormal(seed=1, rng="portable")),
            ("VarianceScaling.fan_geo_avg", wk.VarianceScaling(mode="fan_geo_avg", seed=1)),
        )
    }
    np.savez(out / "weights.npz", *[numpy(w) for w in model.weights], output=y)

    lap("model")

    # -- statistics of a 512 x 512 kernel (fans 512, 512) and of fan_out on a 512 x 256 one ----
    stats = {}
    for name in (*SEEDED, "VarianceScaling"):
        kernel = numpy(getattr(wk, name)(seed=7)(STATS_SHAPE))
        stats[name] = {
            "std": float(kernel.std()),
            "mean": float(kernel.mean()),
            "max_abs": float(np.abs(kernel).max()),
        }
    for distribution in ("untruncated_normal", "uniform", "normal"):
        kernel = numpy(
            wk.VarianceScaling(scale=3.0, mode="fan_out", distribution=distribution, seed=7)(MODES_SHAPE)
        )
        stats[f"VarianceScaling.{distribution}"] = {
            "std": float(kernel.std()),
            "max_abs": float(np.abs(kernel).max()),
        }
    report["stats"] = stats

    lap("stats")

    # -- parity with keras.initializers for the same int seed ----------------------------------
    parity: dict[str, Any] = {}
    for name in SEEDED:
        parity[name] = compare(
            getattr(wk, name)(seed=1234)(PARITY_SHAPE),
            getattr(keras.initializers, name)(seed=1234)(PARITY_SHAPE),
        )
    # rows < cols: the transposed branch of the QR
    parity["Orthogonal.wide"] = compare(
        wk.Orthogonal(seed=1234)((16, 64)), keras.initializers.Orthogonal(seed=1234)((16, 64))
    )
    for distribution in ("truncated_normal", "untruncated_normal", "uniform"):
        kwargs = {"scale": 0.5, "mode": "fan_out", "distribution": distribution, "seed": 99}
        parity[f"VarianceScaling.{distribution}"] = compare(
            wk.VarianceScaling(**kwargs)(PARITY_SHAPE),
            keras.initializers.VarianceScaling(**kwargs)(PARITY_SHAPE),
        )
    for name, args in (
        ("Zeros", {}),
        ("Ones", {}),
        ("Constant", {"value": 0.3}),
        ("Identity", {"gain": 2.0}),
    ):
        parity[name] = compare(
            getattr(wk, name)(**args)((16, 12)), getattr(keras.initializers, name)(**args)((16, 12))
        )
    report["parity"] = parity

    lap("parity")

    # -- seed semantics (Keras 3) --------------------------------------------------------------
    seeds: dict[str, Any] = {}
    fixed = wk.GlorotUniform(seed=5)
    seeds["int_same_each_call"] = bool(np.array_equal(numpy(fixed(PARITY_SHAPE)), numpy(fixed(PARITY_SHAPE))))
    seeds["int_same_across_instances"] = bool(
        np.array_equal(numpy(wk.GlorotUniform(seed=5)(PARITY_SHAPE)), numpy(fixed(PARITY_SHAPE)))
    )
    ours, theirs = (
        wk.RandomNormal(seed=keras.random.SeedGenerator(11)),
        keras.initializers.RandomNormal(seed=keras.random.SeedGenerator(11)),
    )
    draws = [(numpy(ours(PARITY_SHAPE)), numpy(theirs(PARITY_SHAPE))) for _ in range(2)]
    seeds["generator_advances"] = bool(not np.array_equal(draws[0][0], draws[1][0]))
    seeds["generator_matches_keras"] = [bool(np.array_equal(a, b)) for a, b in draws]
    keras.utils.set_random_seed(123)
    unseeded = wk.HeUniform()
    first = numpy(unseeded(PARITY_SHAPE))
    seeds["none_same_each_call"] = bool(np.array_equal(first, numpy(unseeded(PARITY_SHAPE))))
    seeds["none_instances_differ"] = bool(not np.array_equal(first, numpy(wk.HeUniform()(PARITY_SHAPE))))
    keras.utils.set_random_seed(123)
    seeds["none_reproducible_with_set_random_seed"] = bool(
        np.array_equal(first, numpy(wk.HeUniform()(PARITY_SHAPE)))
    )
    seeds["none_config_keeps_none"] = unseeded.get_config()["seed"] is None
    report["seeds"] = seeds

    lap("seeds")

    # -- the truncation trap: values beyond 2σ for a 2048 x 2048 TruncatedNormal(stddev=1) -----
    shape = (2048, 2048)
    keras_trunc = keras.initializers.TruncatedNormal(stddev=1.0, seed=0)
    report["beyond_2sigma"] = {
        "winit": int(np.sum(np.abs(numpy(wk.TruncatedNormal(stddev=1.0, seed=0)(shape))) > 2.0)),
        "keras": int(np.sum(np.abs(numpy(keras_trunc(shape))) > 2.0)),
        "keras_again": int(np.sum(np.abs(numpy(keras_trunc(shape))) > 2.0)),
    }

    lap("truncation")

    # -- dtypes and empty shapes ----------------------------------------------------------------
    report["dtypes"] = {
        dtype: keras.backend.standardize_dtype(wk.HeNormal(seed=1)(PARITY_SHAPE, dtype=dtype).dtype)
        for dtype in ("bfloat16", "float32")
    }
    report["default_dtype"] = keras.backend.standardize_dtype(wk.HeNormal(seed=1)(PARITY_SHAPE).dtype)
    report["empty_shape"] = list(numpy(wk.HeNormal(seed=1)((0, 3))).shape)
    report["keras_dtypes"] = keras_dtypes(wk)
    lap("dtypes")

    report["attention"] = attention_kernels(wk)
    lap("attention")
    report["dirac_same"] = dirac_same_padding(wk)
    lap("dirac")
    return report


def reload(out: Path) -> dict[str, Any]:
    report: dict[str, Any] = {"backend": keras.backend.backend()}
    # Without winit.keras imported, Keras cannot find "winit>Dirac" (it has no Dirac) and so refuses the
    # model, but it silently resolves "winit>HeNormal" to its own class of the same class_name.
    try:
        keras.saving.load_model(out / "model.keras")
        report["load_without_import"] = "loaded"
    except (TypeError, ValueError) as error:
        report["load_without_import"] = f"{type(error).__name__}: {'winit>Dirac' in str(error)}"
    saved_config = json.loads((out / "build.json").read_text())["initializers"]["dense.kernel_initializer"]
    report["deserialize_without_import"] = type(keras.initializers.deserialize(saved_config)).__module__
    refused = {}
    for name, config in json.loads((out / "build.json").read_text())["no_keras_twin"].items():
        try:  # what load_model does with a layer's initializer config
            keras.layers.Dense(2, kernel_initializer=config)
            refused[name] = "accepted"
        except (TypeError, ValueError) as error:
            refused[name] = type(error).__name__
    report["refused_without_import"] = refused
    report["winit_imported_by_keras"] = "winit.keras" in sys.modules

    import winit.keras  # noqa: F401 - registers winit's classes with Keras

    model = keras.saving.load_model(out / "model.keras")
    report["initializers"] = initializer_configs(model)
    report["classes"] = {
        f"{layer.name}.{attr}": type(getattr(layer, attr)).__module__
        for layer in model.layers
        for attr in ("kernel_initializer", "bias_initializer")
        if hasattr(layer, attr)
    }
    saved = np.load(out / "weights.npz")
    report["weights_equal"] = bool(
        all(np.array_equal(numpy(w), saved[f"arr_{i}"]) for i, w in enumerate(model.weights))
    )
    report["output_equal"] = bool(
        np.allclose(numpy(model(sample_input())), saved["output"], rtol=1e-6, atol=1e-6)
    )
    clone = keras.models.clone_model(model)  # re-runs every initializer from its config
    report["clone_dense_kernel_equal"] = bool(
        np.array_equal(numpy(clone.get_layer("dense").kernel), numpy(model.get_layer("dense").kernel))
    )
    return report


def main() -> None:
    mode, out = sys.argv[1], Path(sys.argv[2])
    report = build(out) if mode == "build" else reload(out)
    (out / f"{mode}.json").write_text(json.dumps(report, indent=1, sort_keys=True))


if __name__ == "__main__":
    main()
