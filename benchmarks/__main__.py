"""``python -m benchmarks [--quick] [--output DIR]``: run every section, print tables, write RESULTS.md and a plot.

Full mode (the default) writes ``benchmarks/RESULTS.md``, ``benchmarks/results.png`` and
``benchmarks/results.json``; ``--quick`` (tiny sizes, one repeat, for CI and the guard test) writes
them only where ``--output`` says, so a smoke run never overwrites the last full run.
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import os
import re
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Final

from benchmarks import imports, judge, render, tables
from benchmarks._harness import REPO_ROOT, load_average, machine, run_worker, versions, worker_env
from benchmarks.memory import LAWS as MEMORY_LAWS
from benchmarks.memory import WHO as MEMORY_WHO
from benchmarks.speed import BACKENDS

HERE: Final = Path(__file__).resolve().parent
FULL_BUDGET_S: Final = 540.0  # no case starts after 9 minutes, so the run ends inside 10 on a 2-core machine

METHOD: Final = """
**Timing.** Each backend runs in its own fresh process (one framework's thread pools and allocator
never colour another's). Inside it, every case builds its candidates — `winit` (the framework's winit
front door), `native` (the framework's own initializer for the same law, on its fastest float32
path) and `fill` (a constant fill of the same tensor: the memory-write limit) — runs each once to
warm up (JAX compiles there), then times them in alternating rounds (order reversed every other
round): at least 7 rounds at 1024², 5 at 2048²/4096², 3 at 8192², and more (up to 200) until two
seconds have passed, so fast cases get enough rounds for a stable median. A figure `a/b` is the
median over rounds of a_i/b_i: both runs of a pair ran back to back under the same load. Times shown
are medians. Tensors are float32, n×n (every fan is n). PyTorch works in place on one preallocated
tensor (as `torch.nn.init` does) and both sides restart one `torch.Generator` from the same seed
every call (torch's `trunc_normal_` redraws the whole tensor until no value is out of range, so its
cost depends on the stream it is given); NumPy, TensorFlow and JAX return new arrays, so their fill
(`np.full`, `tf.fill`, `jnp.full`) allocates too.

**Which calls.** uniform = `glorot_uniform` (torch `xavier_uniform_`, Keras `GlorotUniform`, JAX
`glorot_uniform`, NumPy `Generator.random(float32)` scaled in place); normal = `glorot_normal`,
untruncated (torch `xavier_normal_`, Keras `VarianceScaling("untruncated_normal")`, JAX
`variance_scaling("normal")`, NumPy `standard_normal(float32)`); truncated normal = winit
`variance_scaling` (σ/0.8796 cut at ±2σ: torch `trunc_normal_(σ, ±2σ)`, Keras/JAX `LecunNormal`,
NumPy: a hand-written redraw loop, since NumPy has none); orthogonal = QR of a Gaussian (torch
`orthogonal_`, Keras `Orthogonal`, JAX `orthogonal()`, NumPy `linalg.qr`). NumPy's float64 idiom
(`rng.normal(...).astype(float32)`, what most code writes) is shown as an informational row: winit
draws float32 directly, so it is compared with the fair native float32 path. TensorFlow's winit side
is `winit.keras` (Keras 3 on the TensorFlow backend); JAX is compared jitted (`jax.jit`, then
`block_until_ready`) and, up to 4096², eager.

**Sizes.** uniform and normal at 1024², 4096², 8192²; truncated normal at 1024² and 4096²;
orthogonal at 1024² and 2048²; a 16² uniform shows winit's fixed per-call cost. Truncated normal and
orthogonal stop earlier because on this 2-core machine one 8192² torch `trunc_normal_` (torch 2.13
redraws the whole tensor 6–7 times) or one 8192² QR takes tens of seconds, which would not fit the
10-minute budget, and the ratio would say nothing new: both sides run the same kernels at every size.

**Memory.** One fresh process per (backend, caller, law): import, warm the same code path up on a
64² tensor, reset the kernel's RSS high-water mark (`/proc/self/clear_refs`), create one 8192² float32
tensor and read the high-water mark again. Peak − baseline counts every page the call touched, the
result included (1.0× = no temporaries). NumPy also reports tracemalloc's allocation-level peak;
jitted JAX calls report XLA's own buffer plan (`compiled.memory_analysis()`).

**Models.** GPT-2 small (50257 × 768 tied embedding, 1024 positions, 12 blocks of 768 with 4× MLP,
124 M parameters) from torch.nn modules: (a) default construction, (b) the same then
`winit.torch.init_(model, seed=0)` (default scheme: he_normal for relu, biases 0), (c) construction
under `torch.device("meta")` then `init_(model, device="cpu", seed=0)`; 3 interleaved rounds after
a warm-up. The same model in flax.linen, `jax.jit(model.init)` twice: with Flax's default
initializers, and with every parameter given the `winit.flax` builder of the same law (lecun_normal
kernels, N(0, 1/fan_in) embeddings, LayerNorm 1/0), both compiled ahead of time (compile time shown
separately); the two parameter trees are also compared value for value.

**Threads.** Every framework runs with the thread count given by `--threads` (default 1). On a
shared machine a pool larger than the free cores spin-waits: here a 256² `fill_` with torch's 2
threads took 12–20 ms instead of 4 µs, which buried every small-size ratio in noise. Both sides of a
ratio always run with the same setting. The portable-RNG section is the exception by design: it times
NumPy and torch at 1 thread and at every core (its `threads` column), native and portable alike.

**Training.** `benchmarks/training.py`: HF `GPT2LMHeadModel` (4 layers, width 256, vocab 256) on
token sequences from a fixed sparse Markov chain, 40 AdamW steps (lr 1e-3, batch 8 × 32 tokens), and
HF `ResNetForImageClassification` (basic blocks 16/32/64) on 32×32 class-template-plus-noise images,
30 AdamW steps (batch 16); seeds 0 and 1. Each seed trains twice on the same batches in the same order:
from the library's own init (`torch.manual_seed(s)`, then construction) and after
`winit.torch.init_(model, seed=s)` with its defaults. The figure is the loss on a held-out batch.

**Model-scale init.** `benchmarks/scale.py`: HF GPT-2 small (GPT2Config defaults), BERT-base
(`BertForMaskedLM`, BertConfig defaults) and a ResNet-50-sized HF ResNet (bottleneck [3, 4, 6, 3],
widths 256–2048). `init_` on a built model against a hand loop of `torch.nn.init` calls over the same
parameters with the laws init_ reports (normal_/uniform_/trunc_normal_ with its std, zeros_, ones_,
orthogonal_); `init_` draws different parameters on torch's CPU threads at once (each has its own
generator), so the same with `WINIT_NUM_THREADS=1` is shown too (one after another, as the hand
loop); `rng="portable"` against the default `init_` (target ≤ 2); then build + init_ against build on
the meta device + `init_(device="cpu")`. 5 interleaved rounds after a warm-up; ratios are medians of
the paired ratios.

**Import cost.** `import winit` in fresh interpreters (median of 5), split into NumPy's share and
winit's own, with the list of non-stdlib modules it loads (no framework may be among them).

**GPU.** torch and JAX uniform/normal on a 16384² float32 tensor (1 GiB) against a fill of it on the
same device; skipped, with the reason, where no CUDA device is visible.
"""


#: modules each section's framework needs (found without importing them); missing ones skip the section.
REQUIRES: Final[dict[str, tuple[str, ...]]] = {
    "numpy": ("numpy",),
    "torch": ("torch", "array_api_compat"),
    "tensorflow": ("tensorflow", "keras"),
    "jax": ("jax",),
    "flax": ("flax", "jax"),
    "transformers": ("torch", "array_api_compat", "transformers"),
}

Job = tuple[str, str, str, list[str]]


def missing(framework: str) -> str | None:
    """Why ``framework``'s sections cannot run here (a module not installed), or None when they can."""
    absent = [name for name in REQUIRES[framework] if importlib.util.find_spec(name) is None]
    return f"{', '.join(absent)} not installed (pip install 'winit[{framework}]')" if absent else None


def _worker_jobs(quick: bool) -> tuple[list[Job], list[tuple[str, str, str]]]:
    """(section, key, module, args) of every worker to run, in start order, and (section, key, why) of those skipped."""
    jobs: list[Job] = []
    skipped: list[tuple[str, str, str]] = []

    def add(framework: str, job: Job) -> None:
        why = missing(framework)
        if why is None:
            jobs.append(job)
        else:
            skipped.append((job[0], job[1], why))

    for backend in BACKENDS:
        add(backend, ("speed", backend, "benchmarks.speed", ["--backend", backend]))
    jobs.append(("portable", "portable", "", []))  # benchmarks/portable.py, run by _portable_script
    for backend, callers in MEMORY_WHO.items():
        for who in callers if not quick else ("winit",):
            for law in MEMORY_LAWS if not quick else ("uniform",):
                args = ["--backend", backend, "--who", who, "--law", law]
                add(backend, ("memory", f"{backend}/{who}/{law}", "benchmarks.memory", args))
    for name in ("torch", "flax"):
        add(name, ("models", name, "benchmarks.models", ["--framework", name]))
    add("transformers", ("training", "training", "benchmarks.training", []))
    add("transformers", ("scale", "scale", "benchmarks.scale", []))
    if cuda_device_files():
        jobs.append(("gpu", "gpu", "benchmarks.gpu", []))
    return jobs, skipped


def cuda_device_files() -> bool:
    """True when the OS shows an NVIDIA device node (checked without importing torch or JAX), or cannot tell."""
    dev = Path("/dev")
    return not dev.is_dir() or any(dev.glob("nvidia[0-9]*"))


_PORTABLE_ROW: Final = re.compile(r"^(\w+)\s+(\w+)\s+([\w/]+)\s+([\d.]+)\s+([\d.]+)\s+([\d.]+)\s*$")


def _portable_script(quick: bool, threads: int, timeout: float, deadline: float) -> dict[str, Any]:
    """Run benchmarks/portable.py (issue 4's portable-vs-native benchmark) when it exists; parse its rows.

    Its table has one row per (backend, law, threads): native ms, portable ms, portable/native (medians
    after a warm-up, same process). Rows that do not parse are kept in ``output`` only.
    """
    if not (HERE / "portable.py").is_file():
        return {"skipped": "benchmarks/portable.py does not exist yet"}
    if time.time() > deadline:
        return {"skipped": "time budget of the full run spent"}
    size, repeats = ("256", "1") if quick else ("4096", "9")
    # a quick run only checks that the script runs and parses: NumPy alone spares three framework imports
    present = "numpy" if quick else ",".join(backend for backend in BACKENDS if missing(backend) is None)
    command = [
        sys.executable,
        "-m",
        "benchmarks.portable",
        "--size",
        size,
        "--repeats",
        repeats,
        "--backends",
        present,
    ]
    try:
        done = subprocess.run(
            command,
            cwd=REPO_ROOT,
            capture_output=True,
            text=True,
            timeout=max(timeout, 30.0),
            env=worker_env(threads),
        )
    except subprocess.TimeoutExpired:
        return {"error": f"benchmarks/portable.py ran past {timeout:.0f} s and was stopped"}
    if done.returncode != 0:
        return {"error": f"benchmarks/portable.py exited {done.returncode}: {done.stderr.strip()[-800:]}"}
    return {
        "command": " ".join(["python -m benchmarks.portable", *command[3:]]),
        "rows": parse_portable_rows(done.stdout, int(size)),
        "output": done.stdout.strip(),
    }


def parse_portable_rows(text: str, n: int) -> list[dict[str, Any]]:
    """portable.py's table rows (backend, law, threads, native ms, portable ms, ratio) as dicts; other lines skipped."""
    rows = []
    for line in text.splitlines():
        if match := _PORTABLE_ROW.match(line.strip()):
            backend, law, threads, native_ms, portable_ms, ratio = match.groups()
            rows.append(
                {
                    "backend": backend,
                    "law": law,
                    "threads": threads,
                    "n": n,
                    "native_ms": float(native_ms),
                    "portable_ms": float(portable_ms),
                    "portable_over_native": float(ratio),
                }
            )
    return rows


def run(quick: bool, threads: int, budget: float, jobs: int) -> dict[str, Any]:
    """Run every section and return all results (no printing, no files)."""
    started = time.time()
    deadline = float("inf") if quick else started + budget
    results: dict[str, Any] = {
        "meta": {
            "command": "python -m benchmarks" + (" --quick" if quick else ""),
            "date": datetime.now(timezone.utc).strftime("%Y-%m-%d %H:%M UTC"),
            "mode": "quick" if quick else "full",
            "machine": machine(),
            "versions": versions(),
            "load_start": load_average(),
            "threads_note": (
                f"{threads} thread(s) each (OMP/MKL/OpenBLAS, torch, TF intra/inter-op, XLA)"
                if threads > 0
                else "framework defaults"
            ),
        },
        "speed": {},
        "memory": [],
        "models": {},
        "gpu": {
            name: {"skipped": "no CUDA device: no /dev/nvidia* device node on this machine"}
            for name in ("torch", "jax")
        },
    }
    with tempfile.TemporaryDirectory(prefix="winit-bench-") as scratch:

        def job(spec: tuple[str, str, str, list[str]], index: int) -> tuple[str, str, dict[str, Any]]:
            section, key, module, args = spec
            remaining = deadline - time.time()
            timeout = 600.0 if quick else max(remaining + 90.0, 60.0)
            if section == "portable":
                out = _portable_script(quick, threads, timeout, deadline)
                print(
                    f"  {section:<7} {'benchmarks/portable.py':<28} done at {time.time() - started:5.0f} s",
                    flush=True,
                )
                return section, key, out
            out = run_worker(
                module,
                args,
                quick=quick,
                deadline=deadline,
                json_path=Path(scratch, f"{index}.json"),
                timeout=timeout,
                threads=threads,
            )
            print(f"  {section:<7} {key:<28} done at {time.time() - started:5.0f} s", flush=True)
            return section, key, out

        def import_job() -> dict[str, Any]:
            try:
                return imports.measure(2 if quick else 5)
            except (RuntimeError, subprocess.SubprocessError) as error:
                return {"error": str(error)}

        specs, skipped = _worker_jobs(quick)
        for section, key, why in skipped:
            if section == "speed":
                results["speed"][key] = {"skipped": why}
            elif section == "memory":
                backend, who, law = key.split("/")
                results["memory"].append({"backend": backend, "who": who, "law": law, "skipped": why})
            elif section in ("training", "scale"):
                results[section] = {"skipped": why}
            else:
                results["models"][key] = {"framework": key, "skipped": why}
        with ThreadPoolExecutor(max_workers=max(jobs, 1)) as pool:
            import_future = pool.submit(import_job)
            futures = [pool.submit(job, spec, index) for index, spec in enumerate(specs)]
            results["imports"] = import_future.result()
            for future in futures:
                section, key, out = future.result()
                if section == "speed":
                    results["speed"][key] = out
                elif section == "memory":
                    if "error" in out:
                        backend, who, law = key.split("/")
                        out = {"backend": backend, "who": who, "law": law, "error": out["error"]}
                    results["memory"].append(out)
                elif section == "models":
                    results["models"][key] = out
                elif section in ("portable", "training", "scale"):
                    results[section] = out
                else:
                    results["gpu"] = out
    results["meta"]["load_end"] = load_average()
    results["meta"]["elapsed_seconds"] = time.time() - started
    return results


def _rounded(value: Any) -> Any:
    """``value`` with every float rounded to 6 significant digits (ratios move by < 1e-5)."""
    if isinstance(value, float):
        return float(f"{value:.6g}")
    if isinstance(value, dict):
        return {key: _rounded(item) for key, item in value.items()}
    if isinstance(value, (list, tuple)):
        return [_rounded(item) for item in value]
    return value


def write_outputs(
    results: dict[str, Any], output: Path, printer: Callable[[list[tables.Table]], None]
) -> None:
    """Print the tables and write RESULTS.md, results.png and results.json under ``output``."""
    targets = judge.all_targets(results)
    shown = tables.tables(results, targets)
    printer(shown)
    output.mkdir(parents=True, exist_ok=True)
    # compact, 6 significant digits: the file keeps every timed run (up to 200 per candidate) for --rerender
    (output / "results.json").write_text(
        json.dumps(_rounded(results), separators=(",", ":"), default=str) + "\n", encoding="utf-8"
    )
    text = render.markdown(results, targets, shown, METHOD)
    (output / "RESULTS.md").write_text(text, encoding="utf-8")
    render.plot(results["speed"], output / "results.png")


def main(argv: list[str] | None = None) -> int:
    """Command line entry point; exit status 0 when every section ran (targets missed or not)."""
    parser = argparse.ArgumentParser(prog="python -m benchmarks", description=__doc__.splitlines()[0])
    parser.add_argument(
        "--quick", action="store_true", help="tiny sizes, one repeat: a smoke run (CI, tests)"
    )
    parser.add_argument(
        "--output",
        type=Path,
        default=None,
        help="directory for RESULTS.md, results.png, results.json (full default: benchmarks/)",
    )
    parser.add_argument(
        "--threads", type=int, default=1, help="CPU threads per framework (0: their defaults)"
    )
    parser.add_argument(
        "--budget", type=float, default=FULL_BUDGET_S, help="full mode: seconds after which no case starts"
    )
    parser.add_argument(
        "--jobs", type=int, default=None, help="worker processes at once (default: quick cores + 1, full 1)"
    )
    parser.add_argument(
        "--rerender",
        action="store_true",
        help="measure nothing: rebuild RESULTS.md and results.png from the output directory's results.json "
        "(after a reason for a miss was recorded in benchmarks/targets.py)",
    )
    args = parser.parse_args(argv)
    if args.rerender:
        output = args.output if args.output is not None else HERE
        saved = output / "results.json"
        if not saved.is_file():
            parser.error(f"--rerender needs a results.json from an earlier run; {saved} does not exist")
        write_outputs(json.loads(saved.read_text(encoding="utf-8")), output, render.print_tables)
        return 0
    if args.threads < 0:
        parser.error(f"--threads must be >= 0 (0 keeps each framework's default), got {args.threads}")
    # quick: one more worker than cores, so a smoke run overlaps one worker's imports with another's work
    jobs = args.jobs if args.jobs is not None else ((os.cpu_count() or 1) + 1 if args.quick else 1)
    if jobs < 1:
        parser.error(f"--jobs must be >= 1, got {jobs}")
    if jobs > 1 and not args.quick:
        print("note: --jobs > 1 runs workers side by side; their timings then compete for cores", flush=True)
    print(f"winit benchmarks ({'quick' if args.quick else 'full'}): workers start now", flush=True)
    results = run(args.quick, args.threads, args.budget, jobs)
    output = args.output if args.output is not None else (None if args.quick else HERE)
    if output is None:
        render.print_tables(tables.tables(results, judge.all_targets(results)))
    else:
        write_outputs(results, output, render.print_tables)
        print(f"wrote {output / 'RESULTS.md'}, {output / 'results.png'}, {output / 'results.json'}")
    failed = [key for key, value in results["speed"].items() if "error" in value]
    failed += [key for key, value in results["models"].items() if "error" in value]
    failed += [entry.get("who", "?") for entry in results["memory"] if "error" in entry]
    failed += [section for section in ("training", "scale") if "error" in results.get(section, {})]
    if "error" in results.get("imports", {}) or "error" in results["gpu"]:
        failed.append("imports/gpu")
    if failed:
        print(f"sections that failed to run: {', '.join(failed)}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
