"""``winit.keras``: Keras initializer objects, used the way Keras users use them, under every Keras backend.

Keras picks its backend once per process, so each backend runs tests/keras_cases/frontdoor.py in its
own subprocess (``build``: a model built, run forward and saved, plus statistics, seeds and parity
against ``keras.initializers``; then ``reload``: the .keras file loaded in a fresh process). The
builds run concurrently, then the reloads. The tests below assert on their JSON reports. The
in-process tests at the end check names, configs and argument errors under whichever backend
this process's Keras uses.
"""

from __future__ import annotations

import importlib.util
import json
import math
import os
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Final

import numpy as np
import pytest

import winit

keras = pytest.importorskip("keras")
wk = pytest.importorskip("winit.keras")

KERAS_BACKENDS: Final = ("tensorflow", "jax", "torch", "numpy")
_FRAMEWORK: Final = {"tensorflow": "tensorflow", "jax": "jax", "torch": "torch", "numpy": "numpy"}
_SCRIPT: Final = Path(__file__).parent / "keras_cases" / "frontdoor.py"
_TIMEOUT_S: Final = (
    900  # a hang guard; the JAX build compiles every new shape and takes minutes on a loaded CPU
)
#: std of N(0, 1) truncated to [-2, 2] (scipy.stats.truncnorm.std(-2, 2)), as Keras writes it.
_TRUNC_STD: Final = 0.87962566103423978


@dataclass(frozen=True)
class Run:
    """The reports of one backend's build process and of the fresh process that reloaded its model."""

    backend: str
    build: dict[str, Any]
    reload: dict[str, Any]


def _available(backend: str) -> bool:
    return importlib.util.find_spec(_FRAMEWORK[backend]) is not None


def _launch(mode: str, backend: str, folder: Path, jax_cache: Path) -> subprocess.Popen[bytes]:
    env = {
        **os.environ,
        "KERAS_BACKEND": backend,
        "TF_CPP_MIN_LOG_LEVEL": "3",
        "TF_ENABLE_ONEDNN_OPTS": "0",
        # JAX's CPU compile of each random op takes seconds; the reload process reuses the build's.
        "JAX_COMPILATION_CACHE_DIR": str(jax_cache),
    }
    # stderr to a file, not a pipe: a full pipe would stall a process while another is waited on
    with (folder / f"{mode}.stderr").open("wb") as stderr:
        return subprocess.Popen(
            [sys.executable, str(_SCRIPT), mode, str(folder)],
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=stderr,
        )


def _finish(
    processes: dict[str, subprocess.Popen[bytes]], mode: str, folders: dict[str, Path]
) -> dict[str, str]:
    """Wait for every process; backend -> the failure (exit status and stderr tail) of those that failed."""
    errors = {}
    for backend, process in processes.items():
        try:
            process.wait(timeout=_TIMEOUT_S)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
        if process.returncode != 0:
            stderr = (folders[backend] / f"{mode}.stderr").read_text(errors="replace")
            errors[backend] = (
                f"{mode} under KERAS_BACKEND={backend} exited {process.returncode}:\n{stderr[-4000:]}"
            )
    return errors


@pytest.fixture(scope="module")
def runs(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Run | str]:
    """Build under every available backend (concurrently), then reload each model in a fresh process."""
    folders = {b: tmp_path_factory.mktemp(f"keras_{b}") for b in KERAS_BACKENDS if _available(b)}
    jax_cache = tmp_path_factory.mktemp("jax_compilation_cache")
    errors = _finish({b: _launch("build", b, f, jax_cache) for b, f in folders.items()}, "build", folders)
    reloads = {b: _launch("reload", b, f, jax_cache) for b, f in folders.items() if b not in errors}
    errors.update(_finish(reloads, "reload", folders))
    results: dict[str, Run | str] = dict(errors)
    for backend, folder in folders.items():
        if backend not in errors:
            results[backend] = Run(
                backend,
                json.loads((folder / "build.json").read_text()),
                json.loads((folder / "reload.json").read_text()),
            )
    return results


@pytest.fixture(params=KERAS_BACKENDS)
def run(request: pytest.FixtureRequest, runs: dict[str, Run | str]) -> Run:
    """One backend's reports; skipped when its framework is not installed."""
    backend = request.param
    if not _available(backend):
        pytest.skip(f"KERAS_BACKEND={backend} needs {_FRAMEWORK[backend]} (pip install 'winit[{backend}]')")
    result = runs[backend]
    if isinstance(result, str):
        pytest.fail(result)
    return result


# -- a model as users write it -------------------------------------------------------------------
def test_model_builds_runs_forward_and_uses_winit_initializers(run: Run) -> None:
    build = run.build
    assert build["output_shape"] == [2, 16]
    assert build["output_finite"]
    # kernel_initializer="winit>HeNormal" resolves, as a string, to winit's class
    assert build["string_initializer"] == "winit.keras.HeNormal"
    configs = build["initializers"]
    assert configs["conv.kernel_initializer"]["registered_name"] == "winit>HeNormal"
    assert configs["dense.kernel_initializer"]["registered_name"] == "winit>HeNormal"
    assert configs["dense.kernel_initializer"]["config"]["seed"] == 1
    assert configs["dense.bias_initializer"] == {
        "module": "winit.keras",
        "class_name": "Constant",
        "config": {"value": 0.1},
        "registered_name": "winit>Constant",
    }
    assert configs["head.kernel_initializer"]["config"] == {"seed": 3, "gain": 2.0}


def test_dirac_and_orthogonal_kernels_keep_their_structure_in_a_model(run: Run) -> None:
    # Conv2D(kernel_initializer=Dirac()) passes its input through; conv algorithms may round.
    assert run.build["dirac_max_error"] <= 1e-6
    # Dense(16, kernel_initializer=Orthogonal(gain=2)) on 64 features: Wᵀ W = 4·I
    assert run.build["head_gram_error"] <= 1e-5


def test_reloaded_model_in_a_fresh_process_keeps_its_initializers(run: Run) -> None:
    assert run.reload["initializers"] == run.build["initializers"]
    for key, module in run.reload["classes"].items():
        expected = "winit.keras" if run.build["initializers"][key]["module"] == "winit.keras" else module
        assert module == expected, key
    assert run.reload["weights_equal"]
    assert run.reload["output_equal"]
    # clone_model re-runs every initializer from its config: the int seed gives the same kernel again
    assert run.reload["clone_dense_kernel_equal"]


def test_loading_without_importing_winit_keras_is_refused_or_falls_back_to_keras(run: Run) -> None:
    # Keras does not import "winit.keras" on its own: Dirac (no Keras twin) cannot be found ...
    assert run.reload["load_without_import"] == "TypeError: True"
    # ... and a winit HeNormal config silently becomes keras' own HeNormal (same law, Keras' sampler).
    assert run.reload["deserialize_without_import"] == "keras.src.initializers.random_initializers"
    # ... exactly as the README says: Dirac, portable initializers and fan_geo_avg are refused.
    assert run.reload["refused_without_import"] == {
        "Dirac": "ValueError",
        "HeNormal.portable": "TypeError",
        "VarianceScaling.fan_geo_avg": "ValueError",
    }
    assert not run.reload["winit_imported_by_keras"]


# -- statistics: 512 x 512 kernels (fans 512, 512) and fan_out on 512 x 256 ------------------------
_LAW_STD: Final = {
    "RandomNormal": 0.05,
    "RandomUniform": 0.1 / math.sqrt(12.0),
    "TruncatedNormal": 0.05 * _TRUNC_STD,
    "GlorotUniform": math.sqrt(2.0 / 1024),
    "GlorotNormal": math.sqrt(2.0 / 1024),
    "HeUniform": math.sqrt(2.0 / 512),
    "HeNormal": math.sqrt(2.0 / 512),
    "LecunUniform": math.sqrt(1.0 / 512),
    "LecunNormal": math.sqrt(1.0 / 512),
    "Orthogonal": 1.0 / math.sqrt(512),
    "VarianceScaling": math.sqrt(1.0 / 512),
    # VarianceScaling(scale=3, mode="fan_out") on (512, 256): std √(3/256) for every distribution
    "VarianceScaling.untruncated_normal": math.sqrt(3.0 / 256),
    "VarianceScaling.uniform": math.sqrt(3.0 / 256),
    "VarianceScaling.normal": math.sqrt(3.0 / 256),
}
#: the largest |x| each law allows: 2σ (σ = std/0.8796...) when truncated, √3·std when uniform.
_SUPPORT: Final = {
    "RandomUniform": 0.05,
    "TruncatedNormal": 0.1,
    "GlorotUniform": math.sqrt(6.0 / 1024),
    "GlorotNormal": 2 * math.sqrt(2.0 / 1024) / _TRUNC_STD,
    "HeUniform": math.sqrt(6.0 / 512),
    "HeNormal": 2 * math.sqrt(2.0 / 512) / _TRUNC_STD,
    "LecunUniform": math.sqrt(3.0 / 512),
    "LecunNormal": 2 * math.sqrt(1.0 / 512) / _TRUNC_STD,
    "VarianceScaling": 2 * math.sqrt(1.0 / 512) / _TRUNC_STD,
    "VarianceScaling.uniform": math.sqrt(9.0 / 256),
    "VarianceScaling.normal": 2 * math.sqrt(3.0 / 256) / _TRUNC_STD,  # Keras' "normal" is truncated
}


@pytest.mark.parametrize("name", sorted(_LAW_STD))
def test_kernel_std_is_within_3_percent_of_the_law(run: Run, name: str) -> None:
    measured = run.build["stats"][name]["std"]
    assert measured == pytest.approx(_LAW_STD[name], rel=0.03), f"{name} under {run.backend}"


@pytest.mark.parametrize("name", sorted(_SUPPORT))
def test_samples_stay_inside_the_support_of_the_law(run: Run, name: str) -> None:
    largest = run.build["stats"][name]["max_abs"]
    assert largest <= _SUPPORT[name] * (1 + 1e-6), f"{name} under {run.backend}: {largest} > {_SUPPORT[name]}"
    assert largest >= 0.9 * _SUPPORT[name]  # the kernel fills its support: not a narrower law


def test_untruncated_normal_reaches_beyond_two_sigma(run: Run) -> None:
    # Keras' "untruncated_normal" is winit's "normal": 2.6·10⁵ draws must exceed 2σ somewhere.
    assert run.build["stats"]["VarianceScaling.untruncated_normal"]["max_abs"] > 2.5 * math.sqrt(3.0 / 256)


# -- parity with keras.initializers for the same int seed ------------------------------------------
#: bit for bit on TF and JAX: same stateless seed / raw key, same op, same float32 parameters.
_BIT_EQUAL_TF_JAX: Final = (
    "RandomNormal", "RandomUniform", "TruncatedNormal", "Orthogonal", "Orthogonal.wide",
    "Zeros", "Ones", "Constant", "Identity",
)  # fmt: skip
#: the std is computed as gain·√scale/√fan or √(2·scale/(fi+fo)) in winit, √(scale/fan) in Keras:
#: the float64 stds may differ in the last bit, so only float32 round-off is promised.
_ROUND_OFF: Final = (
    "GlorotUniform", "GlorotNormal", "HeUniform", "HeNormal", "LecunUniform", "LecunNormal",
    "VarianceScaling.truncated_normal", "VarianceScaling.untruncated_normal", "VarianceScaling.uniform",
)  # fmt: skip
#: torch: normal draws are the same torch.normal stream; uniform ones compute (max−min)·u + min in
#: Keras but uniform_(min, max) in winit (round-off); truncated normal and the (72 x 16) orthogonal
#: use different algorithms or draw orders there (see test_truncation_trap), so no parity.
_TORCH_BIT_EQUAL: Final = (
    "RandomNormal", "VarianceScaling.untruncated_normal", "Orthogonal.wide", "Zeros", "Ones", "Constant", "Identity",
)  # fmt: skip
_TORCH_ROUND_OFF: Final = (
    "RandomUniform",
    "GlorotUniform",
    "HeUniform",
    "LecunUniform",
    "VarianceScaling.uniform",
)
#: numpy: winit draws float32, Keras float64 then casts: only the deterministic laws agree.
_NUMPY_BIT_EQUAL: Final = ("Zeros", "Ones", "Constant", "Identity")


def test_parity_with_keras_initializers_for_the_same_seed(run: Run) -> None:
    parity = run.build["parity"]
    bit_equal, round_off = {
        "tensorflow": (_BIT_EQUAL_TF_JAX, _ROUND_OFF),
        "jax": (_BIT_EQUAL_TF_JAX, _ROUND_OFF),
        "torch": (_TORCH_BIT_EQUAL, _TORCH_ROUND_OFF),
        "numpy": (_NUMPY_BIT_EQUAL, ()),
    }[run.backend]
    for name in bit_equal:
        assert parity[name]["bit_equal"], f"{name} under {run.backend}: {parity[name]}"
    for name in round_off:
        assert parity[name]["max_abs_diff"] <= 1e-6 * parity[name]["max_abs"], f"{name} under {run.backend}"


def test_torch_truncated_normal_and_orthogonal_differ_from_keras_by_algorithm_only(
    runs: dict[str, Run | str],
) -> None:
    torch_run = runs.get("torch")
    if not isinstance(torch_run, Run):
        pytest.skip(f"no KERAS_BACKEND=torch run: {torch_run or 'torch is not installed'}")
    for name in ("TruncatedNormal", "HeNormal", "Orthogonal"):
        assert not torch_run.build["parity"][name]["bit_equal"], (
            name
        )  # same law (tested above), other numbers


# -- seeds, the truncation trap, dtypes ------------------------------------------------------------
def test_seed_semantics_follow_keras_3(run: Run) -> None:
    seeds = run.build["seeds"]
    assert seeds["int_same_each_call"]
    assert seeds["int_same_across_instances"]
    assert seeds["generator_advances"]
    assert seeds["none_same_each_call"]  # None: a seed drawn once, at construction
    assert seeds["none_instances_differ"]
    assert seeds["none_reproducible_with_set_random_seed"]
    assert seeds["none_config_keeps_none"]
    if run.backend != "numpy":  # numpy: same seeds, but winit samples float32 directly
        assert seeds["generator_matches_keras"] == [True, True]


def test_truncation_trap_winit_never_leaks_beyond_two_sigma(run: Run) -> None:
    counts = run.build["beyond_2sigma"]  # TruncatedNormal(stddev=1, seed=0) on 2048 x 2048
    assert counts["winit"] == 0
    assert counts["keras"] == counts["keras_again"]  # an int seed: deterministic
    if run.backend == "torch":
        # 4 candidates, the first inside (−2, 2) kept, else an outside one: P ≈ 0.0455⁴ per element,
        # ≈ 18 expected in 4.2·10⁶; 22 measured with seed 0 on CPU (Keras 3.15, torch 2.13).
        assert counts["keras"] > 0
    else:
        assert counts["keras"] == 0


def test_dtypes_follow_keras_and_empty_shapes_give_empty_tensors(run: Run) -> None:
    assert run.build["dtypes"] == {"bfloat16": "bfloat16", "float32": "float32"}
    assert run.build["default_dtype"] == "float32"  # keras.config.floatx()
    assert run.build["empty_shape"] == [0, 3]


def test_float64_under_jax_without_x64_and_int_constants_behave_as_keras(run: Run) -> None:
    # JAX with 64-bit mode off gives float32 for a float64 request in Keras' own initializers: winit
    # returns the same (it raised TypeError); Zeros/Ones/Constant fill int and bool as Keras does.
    compared = {case: result for case, result in run.build["keras_dtypes"].items() if "keras_dtype" in result}
    assert len(compared) == 6
    for case, result in compared.items():
        assert result["dtype"] == result["keras_dtype"], (case, run.backend)
        assert result["equal"] in (True, None), (case, run.backend)
    float64 = "float32" if run.backend == "jax" else "float64"  # the test process leaves x64 off
    assert run.build["keras_dtypes"]["HeNormal.float64"]["dtype"] == float64
    assert run.build["keras_dtypes"]["Constant.bool"]["dtype"] == "bool"
    assert run.build["keras_dtypes"]["add_weight(int64)"][1] == [0, 0]


# -- Keras layers that hand their initializer fan axes: EinsumDense, MultiHeadAttention -------------
#: Keras' fans from EinsumDense's input/output axes: MultiHeadAttention(8 heads, key_dim 32) on 128
#: features has query/key/value kernels (128, 8, 32) (axes [0] → [1, 2]) and its output (8, 32, 128)
#: ([0, 1] → [2]); the kernel shape's own Keras fans would be (8·128, 32·128) and (32·8, 128·8).
_ATTENTION_FANS: Final = {"query/kernel": (128, 256), "key/kernel": (128, 256), "value/kernel": (128, 256),
                          "attention_output/kernel": (256, 128)}  # fmt: skip
_ATTENTION_STD: Final = {
    "GlorotUniform": lambda fi, fo: math.sqrt(2.0 / (fi + fo)),
    "HeNormal": lambda fi, fo: math.sqrt(2.0 / fi),
}
#: EinsumDense(equation) kernel -> (Keras' fans from its axes, the std of the initializer drawn)
_EINSUM_STD: Final = {
    "abc,dc->abd": math.sqrt(2.0 / 128),  # HeNormal on (64, 128): input axis 1 (128), output axis 0
    "abc,cde->abde": math.sqrt(1.0 / 128),  # LecunNormal on (128, 8, 32): input axis 0
}


def _assert_follows_keras(result: dict[str, Any], std: float, what: str, backend: str) -> None:
    assert result["std"] == pytest.approx(std, rel=0.03), f"{what} under {backend}: {result}"
    assert result["keras_std"] == pytest.approx(std, rel=0.03), f"Keras' own {what} under {backend}"
    if backend in ("tensorflow", "jax"):  # the same seed: Keras' numbers to float32 round-off
        assert result["max_abs_diff"] <= 1e-6 * result["max_abs"], f"{what} under {backend}: {result}"


def test_multi_head_attention_kernels_follow_keras_einsum_axes(run: Run) -> None:
    # Before winit's variance initializers were keras.initializers.VarianceScaling instances,
    # EinsumDense kept its axes from them: HeNormal's q/k/v std was 0.354 (1/√8) of Keras'.
    for name, std in _ATTENTION_STD.items():
        kernels = run.build["attention"][f"MultiHeadAttention.{name}"]
        assert set(kernels) == set(_ATTENTION_FANS)
        for kernel, (fan_in, fan_out) in _ATTENTION_FANS.items():
            _assert_follows_keras(kernels[kernel], std(fan_in, fan_out), f"{name} {kernel}", run.backend)


@pytest.mark.parametrize("equation", sorted(_EINSUM_STD))
def test_einsum_dense_kernels_follow_keras_einsum_axes(run: Run, equation: str) -> None:
    result = run.build["attention"][f"EinsumDense.{equation}"]
    _assert_follows_keras(result, _EINSUM_STD[equation], f"EinsumDense({equation!r})", run.backend)


def test_dirac_is_an_identity_under_same_padding_for_even_kernels_and_depthwise_layers(run: Run) -> None:
    # Keras pads (k − 1)//2 before for 'same' (TF's rule, which every Keras backend follows): the tap sits
    # there. Before: even kernels shifted the output one pixel and depthwise ones passed channel 0 only.
    errors = run.build["dirac_same"]
    assert len(errors) == 6
    assert all(error <= 1e-6 for error in errors.values()), f"{run.backend}: {errors}"


# -- in this process: names, configs, arguments ----------------------------------------------------
_EXAMPLES: Final[dict[str, dict[str, Any]]] = {
    "Zeros": {},
    "Ones": {},
    "Constant": {"value": 0.25},
    "Identity": {"gain": 2.0},
    "Dirac": {"gain": 0.5, "groups": 2},
    "RandomNormal": {"mean": 0.1, "stddev": 0.2, "seed": 4},
    "RandomUniform": {"minval": -1.0, "maxval": 2.0, "seed": 4},
    "TruncatedNormal": {"mean": 0.0, "stddev": 0.3, "seed": 4},
    "VarianceScaling": {"scale": 0.5, "mode": "fan_avg", "distribution": "uniform", "seed": 4},
    "GlorotUniform": {"seed": 4},
    "GlorotNormal": {"seed": None},
    "HeUniform": {"seed": 4, "input_axes": [0], "output_axes": [1]},
    "HeNormal": {"seed": 4},
    "LecunUniform": {"seed": 4},
    "LecunNormal": {"seed": 4},
    "Orthogonal": {"gain": 1.5, "seed": 4},
}


def test_every_keras_initializer_has_a_winit_twin_of_the_same_name() -> None:
    keras_names = {
        name
        for name in dir(keras.initializers)
        if isinstance(getattr(keras.initializers, name), type)
        and issubclass(getattr(keras.initializers, name), keras.initializers.Initializer)
        and name not in ("Initializer", "STFT", "STFTInitializer", "stft")  # STFT: a signal-processing kernel
    }
    assert keras_names <= set(dir(wk))
    for name in keras_names:
        ours = getattr(wk, name)
        assert issubclass(ours, keras.initializers.Initializer), name
        assert ours.__name__ == getattr(keras.initializers, name).__name__, name  # he_normal is HeNormal


@pytest.mark.parametrize("name", sorted(_EXAMPLES))
def test_config_round_trips_through_keras_serialization(name: str) -> None:
    initializer = getattr(wk, name)(**_EXAMPLES[name])
    config = initializer.get_config()
    assert type(initializer).from_config(config).get_config() == config
    serialized = keras.saving.serialize_keras_object(initializer)
    assert serialized["registered_name"] == f"winit>{name}"
    restored = keras.saving.deserialize_keras_object(serialized)
    assert type(restored) is type(initializer)
    assert restored.get_config() == config
    assert wk.get(serialized).get_config() == config


@pytest.mark.parametrize(
    "name", ["GlorotUniform", "GlorotNormal", "HeUniform", "HeNormal", "LecunUniform", "LecunNormal"]
)
def test_named_presets_have_keras_scale_mode_and_distribution(name: str) -> None:
    ours, theirs = getattr(wk, name)(seed=1), getattr(keras.initializers, name)(seed=1)
    assert (ours.scale, ours.mode, ours.distribution) == (theirs.scale, theirs.mode, theirs.distribution)
    assert ours.get_config() == theirs.get_config()  # {"seed", "input_axes", "output_axes"}


def test_variance_scaling_maps_keras_distribution_names_to_winit_laws() -> None:
    # Keras: "normal" is silently the truncated normal; "untruncated_normal" is winit's "normal".
    for keras_name, stored, law in (
        ("normal", "truncated_normal", "truncated_normal"),
        ("Truncated_Normal", "truncated_normal", "truncated_normal"),
        ("untruncated_normal", "untruncated_normal", "normal"),
        ("uniform", "uniform", "uniform"),
    ):
        initializer = wk.VarianceScaling(distribution=keras_name, seed=0)
        assert (
            initializer.distribution
            == stored
            == keras.initializers.VarianceScaling(distribution=keras_name).distribution
        )
        assert initializer.scheme().distribution == law
    sigma = wk.HeNormal(seed=0).scheme().plan((512, 256), "keras").law.sigma
    assert sigma == pytest.approx(math.sqrt(2.0 / 512) / _TRUNC_STD, rel=1e-12)


def test_get_resolves_names_configs_classes_and_instances() -> None:
    for name in ("HeNormal", "he_normal", "winit>HeNormal"):
        assert type(wk.get(name)) is wk.HeNormal
    assert type(wk.get("IdentityInitializer")) is wk.Identity
    assert type(wk.get("OrthogonalInitializer")) is wk.Orthogonal
    assert type(wk.get("uniform")) is wk.RandomUniform
    assert wk.get({"class_name": "Constant", "config": {"value": 3.0}}).get_config() == {"value": 3.0}
    # a config Keras wrote for its own initializer becomes winit's twin
    assert (
        type(wk.get(keras.saving.serialize_keras_object(keras.initializers.GlorotNormal(seed=2))))
        is wk.GlorotNormal
    )
    assert type(wk.get(wk.Ones)) is wk.Ones
    instance = wk.Zeros()
    assert wk.get(instance) is instance
    assert wk.get(None) is None
    assert type(keras.initializers.get("winit>Dirac")) is wk.Dirac


def test_get_rejects_unknown_names_and_types() -> None:
    with pytest.raises(
        ValueError, match=r"unknown winit.keras initializer 'HeNromal'.*Did you mean 'HeNormal'"
    ):
        wk.get("HeNromal")
    with pytest.raises(TypeError, match="identifier must be a name"):
        wk.get(3)
    with pytest.raises(ValueError, match="class_name"):
        wk.get({"config": {}})


def test_bad_arguments_name_the_value_and_what_is_accepted() -> None:
    with pytest.raises(ValueError, match=r"seed must be in \[0, 2\*\*32 - 1\].*-1"):
        wk.HeNormal(seed=-1)
    with pytest.raises(TypeError, match="seed must be an int"):
        wk.HeNormal(seed=1.5)
    with pytest.raises(TypeError, match="seed must be an int"):
        wk.HeNormal(seed=True)
    with pytest.raises(ValueError, match="scale must be > 0"):
        wk.VarianceScaling(scale=0.0)
    with pytest.raises(ValueError, match=r"unknown mode 'fan_inn'.*fan_in, fan_out, fan_avg, fan_geo_avg"):
        wk.VarianceScaling(mode="fan_inn")
    with pytest.raises(ValueError, match="unknown distribution 'gaussian'"):
        wk.VarianceScaling(distribution="gaussian")
    with pytest.raises(ValueError, match="input_axes and output_axes must be given together"):
        wk.HeNormal(input_axes=[0])
    with pytest.raises(TypeError, match="value must be a real number"):
        wk.Constant("a")
    with pytest.raises(ValueError, match="minval must be <= maxval"):
        wk.RandomUniform(minval=1.0, maxval=0.0)
    with pytest.raises(ValueError, match="identity needs a 2-D shape"):
        wk.Identity()((3, 3, 3))


def test_input_and_output_axes_count_only_the_named_axes_as_keras_does() -> None:
    # Keras: fan_in = Π shape[input_axes] = 8 (the other axes are not receptive field), limit √(3/8).
    values = np.asarray(keras.ops.convert_to_numpy(
        wk.LecunUniform(seed=0, input_axes=[1], output_axes=[2])((4, 8, 64))
    ))  # fmt: skip
    limit = math.sqrt(3.0 / 8)
    assert 0.95 * limit < np.abs(values).max() <= limit


@pytest.mark.parametrize("shape", [(3.7, 4), (True, 4), ("3", 4), (3, 4.0)])
def test_non_integer_dims_are_refused_not_truncated(shape: tuple[Any, ...]) -> None:
    # Keras refuses such shapes; winit truncated them ((3.7, 4) → (3, 4)). Every class checks.
    for cls in (wk.HeNormal, wk.Zeros, wk.Orthogonal):
        with pytest.raises(TypeError, match=r"non-integer dimension"):
            cls()(shape)


def test_variance_initializers_are_keras_variance_scaling_and_keep_their_config() -> None:
    # EinsumDense hands input/output axes only to keras.initializers.VarianceScaling instances.
    for name in ("VarianceScaling", "GlorotUniform", "GlorotNormal", "HeUniform", "HeNormal", "LecunUniform",
                 "LecunNormal"):  # fmt: skip
        initializer = getattr(wk, name)(seed=4, rng="portable", stream="q")
        assert isinstance(initializer, keras.initializers.VarianceScaling), name
        # EinsumDense's clone: config + the concrete seed + the axes, through from_config
        config = {
            **initializer.get_config(),
            "seed": initializer.seed,
            "input_axes": [0],
            "output_axes": [1, 2],
        }
        clone = type(initializer).from_config(config)
        assert type(clone) is type(initializer)
        assert (clone.input_axes, clone.output_axes, clone.rng, clone.stream) == (
            [0],
            [1, 2],
            "portable",
            "q",
        )
        assert keras.saving.serialize_keras_object(clone)["registered_name"] == f"winit>{name}"


def test_dirac_refuses_groups_on_a_depthwise_kernel() -> None:
    layer = keras.layers.DepthwiseConv2D(3, depthwise_initializer=wk.Dirac(groups=2))
    with pytest.raises(ValueError, match=r"Dirac\(groups=2\) on a depthwise kernel"):
        layer.build((1, 6, 6, 4))


def test_repr_shows_the_config() -> None:
    assert repr(wk.HeNormal(seed=1)) == "HeNormal(seed=1, input_axes=None, output_axes=None)"
    assert repr(wk.Constant(0.5)) == "Constant(value=0.5)"


def test_tf_adapter_continues_a_stateless_seed_tensor() -> None:
    # backends/tensorflow.py takes the [2] seed tensor Keras' SeedGenerator.next() gives: the first draw
    # uses the pair itself, further draws of the same call the pairs after it.
    tf = pytest.importorskip("tensorflow")
    from winit.backends.tensorflow import ADAPTER

    pair = tf.constant([7, 3], tf.int32)
    drawn = winit.init("random_uniform", (5, 4), backend="tensorflow", seed=pair).numpy()
    expected = tf.random.stateless_uniform((5, 4), pair, -0.05, 0.05).numpy()
    assert np.array_equal(drawn, expected)
    stream = ADAPTER.generator(pair, None)
    assert [stream.next().numpy().tolist() for _ in range(3)] == [[7, 3], [7, 4], [7, 5]]
    with pytest.raises(TypeError, match=r"int32 or int64 of shape \[2\], got float32\[2\]"):
        ADAPTER.generator(tf.constant([1.0, 2.0]), None)
