"""GPU worker: torch and JAX uniform/normal init of a 1 GiB float32 tensor as a fraction of the device's fill bandwidth.

``python -m benchmarks.gpu --json out.json [--quick]``. Without a CUDA device each framework's entry
says so (``skipped``) and nothing is timed. The fill of the same tensor is the memory-write limit:
fraction = fill time / init time, so 1.0 means the initializer writes as fast as the device can
write memory at all (the RNG is free), and the target is ≥ 0.8.
"""

from __future__ import annotations

import os
import time
from typing import Any, Final

from benchmarks._harness import interleaved, paired_ratio, quiet_environment, worker_parser, write_json

FULL_SIDE: Final = 16384  # 16384² float32 = 1 GiB
QUICK_SIDE: Final = 4096


def _summary(timings: dict[str, Any], nbytes: int) -> dict[str, Any]:
    fill = timings["fill"]
    entry: dict[str, Any] = {
        "tensor_bytes": nbytes,
        "fill_gb_per_s": nbytes / fill.median / 1e9,
        "timings": {
            k: {"median": t.median, "spread": t.spread, "runs": list(t.runs)} for k, t in timings.items()
        },
    }
    for name, timing in timings.items():
        if name != "fill":
            entry[f"{name} fraction of fill"] = paired_ratio(fill.runs, timing.runs)
    return entry


def run_torch(side: int, repeats: int, device: str = "cuda") -> dict[str, Any]:
    """winit.torch and torch.nn.init uniform/normal in place on a ``device`` tensor, against ``fill_``.

    ``device="cpu"`` runs the same code without a GPU (the guard test does, at a small size).
    """
    import torch

    if device == "cuda" and not torch.cuda.is_available():
        return {"skipped": "no CUDA device: torch.cuda.is_available() is False"}
    import winit.torch as wt

    x = torch.empty(side, side, device=device)
    generator = torch.Generator(device=device).manual_seed(0)

    def synced(call: Any) -> Any:
        # CUDA kernels run asynchronously: a timing must end when the device has finished
        def run() -> None:
            call()
            if x.is_cuda:
                torch.cuda.synchronize()

        return run

    timings = interleaved(
        {
            "fill": synced(lambda: x.fill_(0.5)),
            "winit uniform": synced(lambda: wt.xavier_uniform_(x, generator=generator)),
            "native uniform": synced(lambda: torch.nn.init.xavier_uniform_(x, generator=generator)),
            "winit normal": synced(lambda: wt.xavier_normal_(x, generator=generator)),
            "native normal": synced(lambda: torch.nn.init.xavier_normal_(x, generator=generator)),
            # rng="portable" (a new tensor each call, as winit.init makes one)
            "portable uniform": synced(lambda: _portable_torch("glorot_uniform", x, compiled=False)),
            "portable normal": synced(lambda: _portable_torch("glorot_normal", x, compiled=False)),
            "portable compiled uniform": synced(lambda: _portable_torch("glorot_uniform", x, compiled=True)),
            "portable compiled normal": synced(lambda: _portable_torch("glorot_normal", x, compiled=True)),
        },
        repeats,
        warmup=2,
    )
    name = torch.cuda.get_device_name() if x.is_cuda else device
    return {"device": name, **_summary(timings, x.numel() * x.element_size())}


def _portable_torch(scheme: str, like: Any, compiled: bool) -> Any:
    """winit.init(rng="portable") of ``like``'s shape on its device: eager ops, or torch.compile'd kernels."""
    import winit

    before = os.environ.get("WINIT_TORCH_COMPILE")
    os.environ["WINIT_TORCH_COMPILE"] = "1" if compiled else "0"
    try:
        return winit.init(
            scheme, tuple(like.shape), backend="torch", device=like.device, seed=0, rng="portable"
        )
    finally:
        if before is None:
            del os.environ["WINIT_TORCH_COMPILE"]
        else:
            os.environ["WINIT_TORCH_COMPILE"] = before


def run_jax(side: int, repeats: int, platform: str = "gpu") -> dict[str, Any]:
    """winit.init(backend="jax") and jax.nn.initializers uniform/normal, jitted, vs ``jnp.full`` on ``platform``."""
    try:
        import jax
    except ImportError:
        return {"skipped": "JAX is not installed"}
    try:
        gpus = jax.devices(platform)
    except RuntimeError:
        gpus = []
    if not gpus:
        return {"skipped": f"no CUDA device: jax.devices({platform!r}) is empty (CPU-only jaxlib or no GPU)"}
    import jax.numpy as jnp

    import winit

    device = gpus[0]
    key = jax.device_put(jax.random.key(0), device)
    shape = (side, side)
    half = jax.device_put(jnp.asarray(0.5, jnp.float32), device)

    def compiled(fn: Any, arg: Any) -> Any:
        ready = jax.jit(fn).lower(arg).compile()
        return lambda: ready(arg).block_until_ready()

    timings = interleaved(
        {
            "fill": compiled(lambda v: jnp.full(shape, v, jnp.float32), half),
            "winit uniform": compiled(
                lambda k: winit.init("glorot_uniform", shape, backend="jax", seed=k), key
            ),
            "native uniform": compiled(lambda k: jax.nn.initializers.glorot_uniform()(k, shape), key),
            "winit normal": compiled(
                lambda k: winit.init("glorot_normal", shape, backend="jax", seed=k), key
            ),
            "native normal": compiled(
                lambda k: jax.nn.initializers.variance_scaling(1.0, "fan_avg", "normal")(k, shape), key
            ),
            "portable uniform": compiled(
                lambda k: winit.init("glorot_uniform", shape, backend="jax", seed=k, rng="portable"), key
            ),
            "portable normal": compiled(
                lambda k: winit.init("glorot_normal", shape, backend="jax", seed=k, rng="portable"), key
            ),
        },
        repeats,
        warmup=2,
    )
    return {"device": str(device), **_summary(timings, side * side * 4)}


def main() -> None:
    """Command line: both frameworks in one process (each skips on its own when it sees no GPU)."""
    quiet_environment()
    # JAX would otherwise reserve 75% of the device when it starts, beside torch's cached 1 GiB
    os.environ.setdefault("XLA_PYTHON_CLIENT_PREALLOCATE", "false")
    args = worker_parser(__doc__.splitlines()[0]).parse_args()
    side, repeats = (QUICK_SIDE, 2) if args.quick else (FULL_SIDE, 10)
    results: dict[str, Any] = {}
    for name, runner in (("torch", run_torch), ("jax", run_jax)):
        if time.time() > args.deadline:
            results[name] = {"skipped": "time budget of the full run spent"}
        else:
            try:
                results[name] = runner(side, repeats)
            except ImportError as error:
                results[name] = {"skipped": f"{name} is not installed ({error})"}
        write_json(args.json, results)


if __name__ == "__main__":
    main()
