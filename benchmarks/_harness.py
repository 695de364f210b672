"""Shared plumbing: interleaved timing, RSS high-water probes, worker command lines and machine facts."""

from __future__ import annotations

import argparse
import gc
import json
import os
import platform
import statistics
import subprocess
import sys
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from importlib import metadata
from pathlib import Path
from typing import Any, Final

#: Set before a worker imports any framework: TF reads these once, at import, and otherwise logs
#: banners to stderr; oneDNN changes only matmul round-off, never what tf.random draws.
QUIET_ENV: Final[dict[str, str]] = {
    "TF_CPP_MIN_LOG_LEVEL": "3",
    "TF_ENABLE_ONEDNN_OPTS": "0",
    "KERAS_BACKEND": "tensorflow",
}
REPO_ROOT: Final = Path(__file__).resolve().parent.parent
MIB: Final = 1 << 20
#: distributions that report versions beside the results, in this order.
VERSIONED: Final[tuple[str, ...]] = (
    "winit",
    "numpy",
    "torch",
    "tensorflow",
    "tensorflow-cpu",
    "keras",
    "jax",
    "jaxlib",
    "flax",
    "array-api-compat",
)


def thread_environment(threads: int) -> dict[str, str]:
    """Environment that caps every framework's CPU thread pools at ``threads`` (0: leave their defaults).

    On a shared machine a pool larger than the cores left free spin-waits: a 256² ``fill_`` with
    torch's 2 threads took 12-20 ms instead of 4 µs here, which buries any ratio in noise.
    """
    if threads <= 0:
        return {}
    count = str(threads)
    return {
        "OMP_NUM_THREADS": count,
        "MKL_NUM_THREADS": count,
        "OPENBLAS_NUM_THREADS": count,
        "TF_NUM_INTRAOP_THREADS": count,
        "TF_NUM_INTEROP_THREADS": count,
        "XLA_FLAGS": f"--xla_cpu_multi_thread_eigen=false intra_op_parallelism_threads={count}",
    }


def quiet_environment() -> None:
    """Apply :data:`QUIET_ENV` to this process (values the caller exported win)."""
    for key, value in QUIET_ENV.items():
        os.environ.setdefault(key, value)


# -- timing ---------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class Timing:
    """Seconds per run of one candidate: every repeat, and their median."""

    runs: tuple[float, ...]

    @property
    def median(self) -> float:
        """Median of the repeats (robust to one run slowed by another process on a shared machine)."""
        return statistics.median(self.runs)

    @property
    def spread(self) -> float:
        """(max − min)/median over the repeats: how noisy this candidate's runs were."""
        return (max(self.runs) - min(self.runs)) / self.median if self.median > 0 else 0.0


def interleaved(
    candidates: Mapping[str, Callable[[], object]],
    repeats: int,
    warmup: int = 1,
    min_seconds: float = 0.0,
    max_repeats: int = 200,
) -> dict[str, Timing]:
    """Time every candidate in rounds, alternating them, after ``warmup`` untimed rounds.

    Runs at least ``repeats`` rounds and keeps going (up to ``max_repeats``) until ``min_seconds``
    have passed, so a millisecond-long case gets enough rounds for a stable median. Alternating (and
    reversing the order every other round) spreads a burst of load from another process over all
    candidates instead of one, so their ratio stays fair on a shared machine. Each callable must
    block until its result exists (JAX: ``block_until_ready``).
    """
    if repeats < 1:
        raise ValueError(f"repeats must be >= 1, got {repeats}")
    names = list(candidates)
    for _ in range(warmup):
        for name in names:
            result = candidates[name]()
            del result
    runs: dict[str, list[float]] = {name: [] for name in names}
    gc_was_enabled = gc.isenabled()
    gc.collect()
    gc.disable()  # a collection inside one timed run would be charged to whichever candidate ran
    began = time.perf_counter()
    try:
        rounds = 0
        while rounds < repeats or (time.perf_counter() - began < min_seconds and rounds < max_repeats):
            order = names if rounds % 2 == 0 else names[::-1]
            for name in order:
                start = time.perf_counter()
                result = candidates[name]()
                runs[name].append(time.perf_counter() - start)
                del result
            rounds += 1
    finally:
        if gc_was_enabled:
            gc.enable()
    return {name: Timing(tuple(values)) for name, values in runs.items()}


def paired_ratio(numerator: Sequence[float], denominator: Sequence[float]) -> float:
    """Median over rounds of numerator_i / denominator_i: each pair ran back to back, under the same load."""
    if len(numerator) != len(denominator) or not numerator:
        raise ValueError(
            f"need two equally long, non-empty run lists, got {len(numerator)} and {len(denominator)}"
        )
    return statistics.median(a / b for a, b in zip(numerator, denominator, strict=True))


# -- memory ---------------------------------------------------------------------------------------------
def _status_kib(field: str) -> int:
    with open("/proc/self/status", encoding="ascii") as status:
        for line in status:
            if line.startswith(field + ":"):
                return int(line.split()[1])
    raise RuntimeError(f"/proc/self/status has no {field} line")


def rss_probe_available() -> bool:
    """True where the kernel lets a process reset its RSS high-water mark (Linux ≥ 4.0)."""
    try:
        with open("/proc/self/clear_refs", "w", encoding="ascii") as refs:
            refs.write("5")
        _status_kib("VmHWM")
    except OSError:
        return False
    return True


@contextmanager
def rss_high_water() -> Iterator[dict[str, int]]:
    """Measure the peak resident bytes above the current RSS while the block runs (Linux /proc).

    Writing 5 to /proc/self/clear_refs resets VmHWM to the current RSS, so the peak afterwards is
    exactly this block's high-water mark; pages allocated but never touched do not count, pages of
    a float64 temporary or an extra copy do. Yields a dict filled with ``baseline`` and ``peak``.
    """
    gc.collect()
    with open("/proc/self/clear_refs", "w", encoding="ascii") as refs:
        refs.write("5")
    figures = {"baseline": _status_kib("VmRSS") * 1024}
    try:
        yield figures
    finally:
        figures["peak"] = _status_kib("VmHWM") * 1024


# -- subprocess workers ---------------------------------------------------------------------------------
def worker_parser(description: str) -> argparse.ArgumentParser:
    """The arguments every worker takes: --quick, --deadline (epoch seconds) and --json (output path)."""
    parser = argparse.ArgumentParser(description=description)
    parser.add_argument("--quick", action="store_true", help="tiny sizes, one repeat (smoke run)")
    parser.add_argument(
        "--deadline", type=float, default=float("inf"), help="skip cases after this epoch time"
    )
    parser.add_argument("--json", type=Path, required=True, help="where to write the results")
    return parser


def write_json(path: Path, payload: object) -> None:
    """Write ``payload`` as JSON (the worker's only output channel; stdout is free for logs)."""
    path.write_text(json.dumps(payload, indent=1, default=str), encoding="utf-8")


def worker_env(threads: int) -> dict[str, str]:
    """This process's environment plus :data:`QUIET_ENV` (caller's values win) and the thread caps."""
    env = {**os.environ, **{k: os.environ.get(k, v) for k, v in QUIET_ENV.items()}}
    for key, value in thread_environment(threads).items():
        # XLA_FLAGS may carry the caller's own flags: add ours after them instead of replacing them
        env[key] = f"{env[key]} {value}" if key == "XLA_FLAGS" and env.get(key) else value
    return env


def run_worker(
    module: str,
    args: list[str],
    *,
    quick: bool,
    deadline: float,
    json_path: Path,
    timeout: float,
    threads: int = 1,
) -> dict[str, Any]:
    """Run ``python -m module args`` in a fresh interpreter and return its JSON; failures become an error entry."""
    command = [sys.executable, "-m", module, *args, "--json", str(json_path)]
    if quick:
        command.append("--quick")
    if deadline != float("inf"):
        command += ["--deadline", f"{deadline:.3f}"]
    env = worker_env(threads)
    try:
        done = subprocess.run(
            command, cwd=REPO_ROOT, env=env, capture_output=True, text=True, timeout=max(timeout, 1.0)
        )
    except subprocess.TimeoutExpired:
        return {"error": f"{module} {' '.join(args)} ran past its {timeout:.0f} s share of the time budget"}
    if done.returncode != 0 or not json_path.is_file():
        tail = (done.stderr or done.stdout).strip().splitlines()[-12:]
        return {"error": f"{module} {' '.join(args)} exited {done.returncode}: " + " | ".join(tail)}
    result: dict[str, Any] = json.loads(json_path.read_text(encoding="utf-8"))
    return result


# -- machine and versions -------------------------------------------------------------------------------
def _cpu_model() -> str:
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as cpuinfo:
            for line in cpuinfo:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def _ram_bytes() -> int | None:
    try:
        with open("/proc/meminfo", encoding="ascii") as meminfo:
            for line in meminfo:
                if line.startswith("MemTotal:"):
                    return int(line.split()[1]) * 1024
    except OSError:
        pass
    return None


def _git_revision() -> str:
    try:
        head = subprocess.run(
            ["git", "rev-parse", "--short", "HEAD"], cwd=REPO_ROOT, capture_output=True, text=True, timeout=10
        ).stdout.strip()
        dirty = subprocess.run(
            ["git", "status", "--porcelain", "--untracked-files=no"],
            cwd=REPO_ROOT,
            capture_output=True,
            text=True,
            timeout=10,
        ).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        return "unknown"
    return f"{head}{' (with uncommitted changes)' if dirty else ''}" if head else "unknown"


def versions() -> dict[str, str]:
    """Installed version of every framework the suite compares (without importing any of them)."""
    found: dict[str, str] = {"python": platform.python_version()}
    for name in VERSIONED:
        try:
            found[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            found[name] = "not installed"
    # TensorFlow ships as tensorflow or tensorflow-cpu: report whichever is there under one name
    if found.pop("tensorflow-cpu") != "not installed" and found["tensorflow"] == "not installed":
        found["tensorflow"] = metadata.version("tensorflow-cpu")
    return found


def machine() -> dict[str, Any]:
    """CPU model, core count, RAM, OS, thread settings, git revision and the load average now."""
    ram = _ram_bytes()
    return {
        "cpu": _cpu_model(),
        "cores": os.cpu_count(),
        "ram_gib": None if ram is None else round(ram / (1 << 30), 1),
        "os": platform.platform(),
        "git": _git_revision(),
    }


def load_average() -> tuple[float, float, float] | None:
    """The 1-, 5- and 15-minute load averages (None where the OS has none)."""
    try:
        return os.getloadavg()
    except OSError:
        return None
