"""Memory worker: peak resident bytes of initializing one n×n float32 tensor, one measurement per fresh process.

``python -m benchmarks.memory --backend numpy --who winit --law uniform --json out.json [--quick]``.
The process imports its framework, warms the same code path up on a 64×64 tensor (so lazily loaded
kernels and thread stacks are not charged to the tensor), resets the kernel's RSS high-water mark,
creates the tensor and reads the new high-water mark: peak − baseline is every byte the call
touched, the result included. A float64 detour or a second temporary of the same size shows up as
≥ 2× the tensor's bytes. NumPy also reports tracemalloc's peak (exact, allocation-level).
"""

from __future__ import annotations

import time
import tracemalloc
from collections.abc import Callable
from typing import Any, Final

from benchmarks._harness import (
    quiet_environment,
    rss_high_water,
    rss_probe_available,
    worker_parser,
    write_json,
)

#: who -> what is measured; JAX adds jitted variants because XLA fuses the scaling there.
WHO: Final[dict[str, tuple[str, ...]]] = {
    "numpy": ("winit", "native"),
    "torch": ("winit", "native"),
    "tensorflow": ("winit", "native"),
    # "winit jit rbg": the same call with a jax.random.key(0, impl="rbg") key, whose bits need no
    # counter arrays (threefry's do): shows what the key type, not winit, costs.
    "jax": ("winit", "native", "winit jit", "native jit", "winit jit rbg"),
}
LAWS: Final[tuple[str, ...]] = ("uniform", "normal")
FULL_N: Final = 8192
QUICK_N: Final = 2048
WARMUP_N: Final = 64


def maker(backend: str, who: str, law: str, notes: dict[str, Any]) -> Callable[[int], Callable[[], Any]]:
    """A factory: n -> a call that returns a fresh n×n float32 tensor of ``law`` from ``who`` on ``backend``.

    A jitted JAX call also records XLA's own buffer plan for it in ``notes`` (temp and output bytes).
    """
    import winit

    scheme = {"uniform": "glorot_uniform", "normal": "glorot_normal"}[law]
    if backend == "numpy":
        import numpy as np

        gen = np.random.default_rng(0)

        def numpy_native(n: int) -> Callable[[], Any]:
            def draw() -> Any:
                x = (
                    gen.random((n, n), dtype=np.float32)
                    if law == "uniform"
                    else gen.standard_normal((n, n), np.float32)
                )
                x *= 0.01
                return x

            return draw

        if who == "native":
            return numpy_native
        return lambda n: lambda: winit.init(scheme, (n, n), seed=gen)
    if backend == "torch":
        import torch

        native_fn = torch.nn.init.xavier_uniform_ if law == "uniform" else torch.nn.init.xavier_normal_
        if who == "native":
            return lambda n: lambda: native_fn(torch.empty(n, n))
        return lambda n: lambda: winit.init(scheme, (n, n), backend="torch", seed=0)
    if backend == "tensorflow":
        import keras

        try:
            import winit.keras as wk

            front: Any = wk
        except ImportError:
            front = None
        if who == "native":
            initializer: Any = (
                keras.initializers.GlorotUniform(seed=0)
                if law == "uniform"
                else keras.initializers.VarianceScaling(1.0, "fan_avg", "untruncated_normal", seed=0)
            )
            return lambda n: lambda: initializer((n, n), "float32")
        if front is None:
            return lambda n: lambda: winit.init(scheme, (n, n), backend="tensorflow", seed=0)
        mine = (
            front.GlorotUniform(seed=0)
            if law == "uniform"
            else front.VarianceScaling(1.0, "fan_avg", "untruncated_normal", seed=0)
        )
        return lambda n: lambda: mine((n, n), "float32")
    import jax
    import jax.numpy as jnp

    key = jax.random.key(0, impl="rbg") if who.endswith("rbg") else jax.random.key(0)
    native_init = (
        jax.nn.initializers.glorot_uniform()
        if law == "uniform"
        else jax.nn.initializers.variance_scaling(1.0, "fan_avg", "normal")
    )

    def jax_call(n: int) -> Callable[[], Any]:
        def draw(k: Any) -> Any:
            if who.startswith("native"):
                return native_init(k, (n, n), jnp.float32)
            return winit.init(scheme, (n, n), backend="jax", seed=k)

        if "jit" in who:
            # compiled ahead of time, so XLA's compiler does not run (and allocate) inside the measurement
            compiled = jax.jit(draw).lower(key).compile()
            analysis = compiled.memory_analysis()
            if analysis is not None:
                notes["xla_temp_bytes"] = int(analysis.temp_size_in_bytes)
                notes["xla_output_bytes"] = int(analysis.output_size_in_bytes)
            return lambda: compiled(key).block_until_ready()
        return lambda: draw(key).block_until_ready()

    return jax_call


def measure(backend: str, who: str, law: str, n: int) -> dict[str, Any]:
    """Peak bytes above the process baseline while ``who`` creates an n×n float32 ``law`` tensor."""
    notes: dict[str, Any] = {}
    factory = maker(backend, who, law, notes)
    warm = factory(WARMUP_N)
    warm()
    call = factory(n)
    with rss_high_water() as rss:
        result = call()
    entry: dict[str, Any] = {
        "backend": backend,
        "who": who,
        "law": law,
        "n": n,
        "tensor_bytes": n * n * 4,
        "method": "RSS high-water (/proc/self/clear_refs)",
        "peak_bytes": rss["peak"] - rss["baseline"],
    }
    entry.update(notes)
    del result
    if backend == "numpy":
        tracemalloc.start()
        before = tracemalloc.get_traced_memory()[0]
        tracemalloc.reset_peak()
        result = call()
        entry["tracemalloc_peak_bytes"] = tracemalloc.get_traced_memory()[1] - before
        tracemalloc.stop()
        del result
    return entry


def main() -> None:
    """Command line: one (backend, who, law) per process."""
    quiet_environment()
    parser = worker_parser(__doc__.splitlines()[0])
    parser.add_argument("--backend", choices=tuple(WHO), required=True)
    parser.add_argument("--who", required=True)
    parser.add_argument("--law", choices=LAWS, required=True)
    args = parser.parse_args()
    if args.who not in WHO[args.backend]:
        parser.error(f"--who {args.who!r} is not measured on {args.backend}; choose from {WHO[args.backend]}")
    if time.time() > args.deadline:
        write_json(args.json, {"skipped": "time budget of the full run spent"})
        return
    if not rss_probe_available():
        write_json(
            args.json, {"skipped": "this OS has no resettable RSS high-water mark (/proc/self/clear_refs)"}
        )
        return
    write_json(args.json, measure(args.backend, args.who, args.law, QUICK_N if args.quick else FULL_N))


if __name__ == "__main__":
    main()
