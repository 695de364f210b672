"""Speed worker: winit against the framework's own initializer and a fill of the same tensor, one backend per process.

``python -m benchmarks.speed --backend torch --json out.json [--quick]``. For every law and size it
times, interleaved in this process: ``winit`` (winit's front door for that framework), ``native``
(the framework's own initializer for the same law, on its fastest float32 path) and ``fill`` (a
constant fill of the same tensor: the memory-write limit). Some cases add informational candidates
(NumPy's float64-then-cast idiom, JAX eager calls).

Laws and the calls compared (square n×n float32, so every fan is n):

========  ==========================  =======================================  ===========================
law       winit scheme                native (per backend)                      note
========  ==========================  =======================================  ===========================
uniform   glorot_uniform              xavier_uniform_ / GlorotUniform /         NumPy: Generator.random
                                      glorot_uniform / random(float32)·2l − l   in float32, scaled in place
normal    glorot_normal (untruncated) xavier_normal_ / VarianceScaling(         NumPy: standard_normal in
                                      "untruncated_normal") / variance_scaling  float32, scaled in place
                                      ("normal") / standard_normal(float32)·σ
truncated variance_scaling (lecun,    trunc_normal_(σ, ±2σ) / LecunNormal /     NumPy has none: a hand-
normal    truncated, σ/0.8796)        lecun_normal / hand-written rejection     written redraw loop
orthog.   orthogonal                  orthogonal_ / Orthogonal / orthogonal()   QR of a Gaussian
                                      / numpy.linalg.qr
========  ==========================  =======================================  ===========================
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from dataclasses import dataclass
from functools import partial
from typing import Any, Final

from benchmarks._harness import interleaved, quiet_environment, worker_parser, write_json

Candidates = dict[str, Callable[[], object]]
BACKENDS: Final[tuple[str, ...]] = ("numpy", "torch", "tensorflow", "jax")
TRUNCATED_STD_2SIGMA: Final = 0.87962566103423978


@dataclass(frozen=True)
class Case:
    """One comparison: a law at n×n, how to build its candidates, and how many timed repeats."""

    law: str
    n: int
    variant: str
    repeats: int
    native_api: str
    build: Callable[[], Candidates]


#: side of the tiny tensor whose timing shows the fixed per-call cost (argument checks, plan, dispatch).
OVERHEAD_N: Final = 16


def plan(quick: bool) -> list[tuple[str, int, int]]:
    """(law, n, repeats) in the order they run: every law small first, so a time-budget cut hits the largest."""
    if quick:
        return [
            ("uniform", OVERHEAD_N, 1),
            ("uniform", 256, 1),
            ("normal", 256, 1),
            ("truncated_normal", 256, 1),
            ("orthogonal", 128, 1),
        ]
    # 8192² only for the cheap elementwise laws and orthogonal only up to 2048²: a 2-core machine would
    # spend minutes per QR of 8192² or truncated normal of 8192² (torch redraws in a loop), and the
    # ratio would say nothing new (both sides run the same kernels at every size).
    return [
        ("uniform", OVERHEAD_N, 20),
        ("uniform", 1024, 7),
        ("normal", 1024, 7),
        ("truncated_normal", 1024, 7),
        ("orthogonal", 1024, 5),
        ("uniform", 4096, 5),
        ("normal", 4096, 5),
        ("truncated_normal", 4096, 5),
        ("orthogonal", 2048, 5),
        ("uniform", 8192, 3),
        ("normal", 8192, 3),
    ]


SCHEMES: Final[dict[str, str]] = {
    "uniform": "glorot_uniform",
    "normal": "glorot_normal",
    "truncated_normal": "variance_scaling",
    "orthogonal": "orthogonal",
}


# -- NumPy -------------------------------------------------------------------------------------------
def numpy_cases(quick: bool) -> list[Case]:
    """NumPy Generator in float32 (its fastest path) vs ``winit.init(backend="numpy")``."""
    import numpy as np

    import winit

    gen = np.random.default_rng(0)
    f32 = np.float32

    def truncated_native(shape: tuple[int, int], sigma: float) -> np.ndarray:
        # NumPy has no truncated normal: the idiom is to redraw the entries outside ±2σ until none are.
        x = gen.standard_normal(shape, dtype=f32)
        flat = x.reshape(-1)
        bad = np.flatnonzero(np.abs(flat) > 2.0)
        while bad.size:
            flat[bad] = gen.standard_normal(bad.size, dtype=f32)
            bad = bad[np.abs(flat[bad]) > 2.0]
        x *= sigma
        return x

    def orthogonal_native(shape: tuple[int, int]) -> np.ndarray:
        q, r = np.linalg.qr(gen.standard_normal(shape, dtype=f32))
        q *= np.sign(np.diagonal(r))
        return q

    def build(law: str, n: int) -> Candidates:
        shape = (n, n)
        candidates: Candidates = {
            "winit": lambda: winit.init(SCHEMES[law], shape, seed=gen),
            "fill": lambda: np.full(shape, 0.5, f32),
        }
        if law == "uniform":
            limit = math.sqrt(6.0 / (2 * n))

            def uniform_native() -> np.ndarray:
                x = gen.random(shape, dtype=f32)
                x *= 2 * limit
                x -= limit
                return x

            candidates["native"] = uniform_native
            if n <= 4096:
                candidates["float64 idiom"] = lambda: gen.uniform(-limit, limit, shape).astype(f32)
        elif law == "normal":
            std = math.sqrt(2.0 / (2 * n))

            def normal_native() -> np.ndarray:
                x = gen.standard_normal(shape, dtype=f32)
                x *= std
                return x

            candidates["native"] = normal_native
            if n <= 4096:
                candidates["float64 idiom"] = lambda: gen.normal(0.0, std, shape).astype(f32)
        elif law == "truncated_normal":
            sigma = math.sqrt(1.0 / n) / TRUNCATED_STD_2SIGMA
            candidates["native"] = lambda: truncated_native(shape, sigma)
        else:
            candidates["native"] = lambda: orthogonal_native(shape)
        return candidates

    apis = {
        "uniform": "Generator.random(float32)·2l − l",
        "normal": "Generator.standard_normal(float32)·σ",
        "truncated_normal": "standard_normal(float32) + redraw loop",
        "orthogonal": "numpy.linalg.qr(standard_normal(float32))",
    }
    return [Case(law, n, "", repeats, apis[law], partial(build, law, n)) for law, n, repeats in plan(quick)]


# -- PyTorch -----------------------------------------------------------------------------------------
def torch_cases(quick: bool) -> list[Case]:
    """``torch.nn.init.*_`` vs ``winit.torch.*_``, both in place on one preallocated tensor."""
    import torch

    import winit.torch as wt

    generator = torch.Generator()

    def from_seed(init: Callable[..., object]) -> Callable[[], object]:
        # Both sides restart one generator from the same seed on every call: trunc_normal_ redraws the
        # whole tensor until no value falls outside ±2σ, so its cost depends on the stream it gets.
        def call() -> object:
            generator.manual_seed(0)
            return init(generator=generator)

        return call

    def build(law: str, n: int) -> Candidates:
        x = torch.empty(n, n)
        fill: Callable[[], object] = lambda: x.fill_(0.5)  # noqa: E731
        if law == "uniform":
            mine, native = partial(wt.xavier_uniform_, x), partial(torch.nn.init.xavier_uniform_, x)
        elif law == "normal":
            mine, native = partial(wt.xavier_normal_, x), partial(torch.nn.init.xavier_normal_, x)
        elif law == "truncated_normal":
            sigma = math.sqrt(1.0 / n) / TRUNCATED_STD_2SIGMA
            mine = partial(wt.variance_scaling_, x)
            native = partial(torch.nn.init.trunc_normal_, x, 0.0, sigma, -2 * sigma, 2 * sigma)
        else:
            mine, native = partial(wt.orthogonal_, x), partial(torch.nn.init.orthogonal_, x)
        return {"winit": from_seed(mine), "native": from_seed(native), "fill": fill}

    apis = {
        "uniform": "torch.nn.init.xavier_uniform_",
        "normal": "torch.nn.init.xavier_normal_",
        "truncated_normal": "torch.nn.init.trunc_normal_(σ, ±2σ)",
        "orthogonal": "torch.nn.init.orthogonal_",
    }
    return [
        Case(law, n, "in place", repeats, apis[law], partial(build, law, n))
        for law, n, repeats in plan(quick)
    ]


# -- TensorFlow / Keras --------------------------------------------------------------------------------
def tensorflow_cases(quick: bool) -> list[Case]:
    """``keras.initializers`` on TensorFlow vs ``winit.keras`` (else ``winit.init(backend="tensorflow")``)."""
    import keras
    import tensorflow as tf

    import winit

    wk: Any
    try:
        import winit.keras as wk
    except ImportError:  # the Keras front door is optional; fall back to the plain entry point
        wk = None

    def native_for(law: str) -> Any:
        if law == "uniform":
            return keras.initializers.GlorotUniform(seed=0)
        if law == "normal":
            return keras.initializers.VarianceScaling(1.0, "fan_avg", "untruncated_normal", seed=0)
        if law == "truncated_normal":
            return keras.initializers.LecunNormal(seed=0)
        return keras.initializers.Orthogonal(seed=0)

    def winit_for(law: str) -> Any:
        if wk is None:
            return lambda shape, dtype: winit.init(
                SCHEMES[law], shape, backend="tensorflow", seed=0, dtype=dtype
            )
        if law == "uniform":
            return wk.GlorotUniform(seed=0)
        if law == "normal":
            return wk.VarianceScaling(1.0, "fan_avg", "untruncated_normal", seed=0)
        if law == "truncated_normal":
            return wk.LecunNormal(seed=0)
        return wk.Orthogonal(seed=0)

    def build(law: str, n: int) -> Candidates:
        shape = (n, n)
        native, mine = native_for(law), winit_for(law)
        return {
            "winit": lambda: mine(shape, "float32"),
            "native": lambda: native(shape, "float32"),
            "fill": lambda: tf.fill(shape, tf.constant(0.5, tf.float32)),
        }

    apis = {
        "uniform": "keras.initializers.GlorotUniform",
        "normal": 'keras.initializers.VarianceScaling("untruncated_normal")',
        "truncated_normal": "keras.initializers.LecunNormal",
        "orthogonal": "keras.initializers.Orthogonal",
    }
    variant = "winit.keras" if wk is not None else "winit.init"
    return [
        Case(law, n, variant, repeats, apis[law], partial(build, law, n)) for law, n, repeats in plan(quick)
    ]


# -- JAX -----------------------------------------------------------------------------------------------
def jax_cases(quick: bool) -> list[Case]:
    """``jax.nn.initializers`` vs ``winit.init(backend="jax")``, both jitted (and eager up to 4096²)."""
    import jax
    import jax.numpy as jnp

    import winit

    key = jax.random.key(0)
    f32 = jnp.float32
    natives: dict[str, Any] = {
        "uniform": jax.nn.initializers.glorot_uniform(),
        "normal": jax.nn.initializers.variance_scaling(1.0, "fan_avg", "normal"),
        "truncated_normal": jax.nn.initializers.lecun_normal(),
        "orthogonal": jax.nn.initializers.orthogonal(),
    }

    def build(law: str, n: int, jit: bool) -> Candidates:
        shape = (n, n)
        native_init = natives[law]

        def mine(k: Any) -> Any:
            return winit.init(SCHEMES[law], shape, backend="jax", seed=k)

        def native(k: Any) -> Any:
            return native_init(k, shape, f32)

        def fill(value: Any) -> Any:
            # the value is an argument so XLA cannot fold the fill into a constant at compile time
            return jnp.full(shape, value, f32)

        if jit:
            mine, native, fill = jax.jit(mine), jax.jit(native), jax.jit(fill)
        half = jnp.asarray(0.5, f32)
        return {
            "winit": lambda: mine(key).block_until_ready(),
            "native": lambda: native(key).block_until_ready(),
            "fill": lambda: fill(half).block_until_ready(),
        }

    apis = {
        "uniform": "jax.nn.initializers.glorot_uniform",
        "normal": 'jax.nn.initializers.variance_scaling("normal")',
        "truncated_normal": "jax.nn.initializers.lecun_normal",
        "orthogonal": "jax.nn.initializers.orthogonal",
    }
    cases = []
    for law, n, repeats in plan(quick):
        cases.append(Case(law, n, "jit", repeats, apis[law], partial(build, law, n, True)))
        if not quick and n <= 4096 and law != "orthogonal":
            cases.append(Case(law, n, "eager", repeats, apis[law], partial(build, law, n, False)))
    return cases


BUILDERS: Final[dict[str, Callable[[bool], list[Case]]]] = {
    "numpy": numpy_cases,
    "torch": torch_cases,
    "tensorflow": tensorflow_cases,
    "jax": jax_cases,
}


def run(backend: str, quick: bool, deadline: float, json_path: Any) -> None:
    """Time every case of ``backend`` and write the results (after each case, so a timeout keeps what ran)."""
    import winit

    results: dict[str, Any] = {"backend": backend, "cases": []}
    for case in BUILDERS[backend](quick):
        entry: dict[str, Any] = {
            "kind": "overhead" if case.n == OVERHEAD_N else "law",
            "law": case.law,
            "n": case.n,
            "variant": case.variant,
            "scheme": SCHEMES[case.law],
            "native_api": case.native_api,
            "repeats": case.repeats,
        }
        if time.time() > deadline:
            entry["skipped"] = "time budget of the full run spent"
        else:
            # small cases run for at least two seconds so their medians settle; large ones take their repeats
            timings = interleaved(case.build(), case.repeats, min_seconds=0.0 if quick else 2.0)
            entry["timings"] = {
                name: {"median": t.median, "spread": t.spread, "runs": list(t.runs)}
                for name, t in timings.items()
            }
        results["cases"].append(entry)
        write_json(json_path, results)
    results["winit_version"] = winit.__version__
    write_json(json_path, results)


def main() -> None:
    """Command line: one backend per process."""
    quiet_environment()
    parser = worker_parser(__doc__.splitlines()[0])
    parser.add_argument("--backend", choices=BACKENDS, required=True)
    args = parser.parse_args()
    run(args.backend, args.quick, args.deadline, args.json)


if __name__ == "__main__":
    main()
