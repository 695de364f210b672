"""Portable (Philox-4x32-10) vs native RNG: median time of a 4096×4096 float32 init on each backend.

Run: ``python benchmarks/portable.py [--size 4096] [--repeats 5] [--backends numpy,torch,...] [--threads 1,auto]``.
Prints one row per (backend, law, threads): the native and portable medians and their ratio. NumPy
and torch are timed at each ``--threads`` count (``auto``: this machine's cores): the portable
draw's worker threads (``WINIT_NUM_THREADS``) and torch's intra-op threads, for native and portable
alike; torch again with ``WINIT_TORCH_COMPILE=1`` (``N/compile``: torch.compile'd kernels, whose
compile the warm-up takes). TensorFlow and JAX run one compiled XLA kernel under the thread settings
the process was started with (threads column ``xla``). Both sides are warmed up once (JAX and TensorFlow's XLA
kernels compile there: the "first calls" line under each row reports it apart from the medians),
then timed in alternating rounds, so a load spike from another process hits both; each timing waits
for the result (``block_until_ready`` for JAX).
"""

from __future__ import annotations

import argparse
import os
import statistics
import time
from collections.abc import Callable
from typing import Any

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

import winit

LAWS = {"uniform": "he_uniform", "normal": "he_normal"}
RNGS = ("native", "portable")


def _finish(value: Any) -> Any:
    ready = getattr(value, "block_until_ready", None)
    return ready() if ready is not None else value


def _initializer(scheme: str, shape: tuple[int, int], backend: str, rng: str) -> Callable[[], Any]:
    return lambda: winit.init(scheme, shape, backend=backend, seed=0, rng=rng)


def alternating_medians(
    runs: dict[str, Callable[[], Any]], repeats: int, first: dict[str, float] | None = None
) -> dict[str, float]:
    """Median seconds of each ``runs`` entry over ``repeats`` alternating rounds, after one warm-up each.

    ``first`` (if given) receives each warm-up's seconds: the compile for the compiled paths.
    """
    for name, run in runs.items():
        start = time.perf_counter()
        _finish(run())
        if first is not None:
            first[name] = time.perf_counter() - start
    times: dict[str, list[float]] = {name: [] for name in runs}
    for round_ in range(repeats):
        order = list(runs) if round_ % 2 == 0 else list(reversed(runs))
        for name in order:
            start = time.perf_counter()
            _finish(runs[name]())
            times[name].append(time.perf_counter() - start)
    return {name: statistics.median(samples) for name, samples in times.items()}


def _cores() -> int:
    affinity = getattr(os, "sched_getaffinity", None)
    return len(affinity(0)) if affinity is not None else os.cpu_count() or 1


def _thread_counts(setting: str, backend: str) -> list[str]:
    """The threads column for ``backend``: each count of ``setting`` (``auto``: the cores) for NumPy/torch,
    torch's again as ``N/compile`` (``WINIT_TORCH_COMPILE=1``); ``xla`` for TensorFlow and JAX."""
    if backend not in ("numpy", "torch"):
        return ["xla"]
    counts = [str(_cores()) if item.strip() == "auto" else item.strip() for item in setting.split(",")]
    counts = list(dict.fromkeys(counts))  # auto may equal 1 on a one-core machine
    return counts + [f"{count}/compile" for count in counts] if backend == "torch" else counts


def _use_threads(backend: str, threads: str) -> None:
    if threads == "xla":
        return
    count, _, compiled = threads.partition("/")
    os.environ["WINIT_NUM_THREADS"] = count
    os.environ["WINIT_TORCH_COMPILE"] = "1" if compiled else "0"
    if backend == "torch":
        import torch

        torch.set_num_threads(int(count))


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--size", type=int, default=4096)
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--backends", default="numpy,torch,tensorflow,jax")
    parser.add_argument("--threads", default="1,auto", help="NumPy/torch thread counts to time (auto: cores)")
    args = parser.parse_args()
    shape = (args.size, args.size)
    print(
        f"{args.size}×{args.size} float32, median of {args.repeats}; load average {os.getloadavg()[0]:.1f}; "
        f"{_cores()} cores"
    )
    print(f"{'backend':<11} {'law':<8} {'threads':>7} {'native ms':>10} {'portable ms':>12} {'ratio':>6}")
    for backend in args.backends.split(","):
        for threads in _thread_counts(args.threads, backend):
            _use_threads(backend, threads)
            for law, scheme in LAWS.items():
                runs = {rng: _initializer(scheme, shape, backend, rng) for rng in RNGS}
                first: dict[str, float] = {}
                medians = alternating_medians(runs, args.repeats, first)
                native, portable = medians["native"], medians["portable"]
                row = f"{backend:<11} {law:<8} {threads:>7} {native * 1e3:>10.1f} {portable * 1e3:>12.1f}"
                print(f"{row} {portable / native:>6.2f}", flush=True)
                # a line of its own, so the six-column rows above stay what benchmarks/__main__ parses
                print(
                    f"  (first calls: native {first['native'] * 1e3:.0f} ms, "
                    f"portable {first['portable'] * 1e3:.0f} ms)"
                )


if __name__ == "__main__":
    main()
