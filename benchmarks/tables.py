"""The report's tables: rows of strings computed from the workers' JSON and the judged targets."""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any, Final

from benchmarks._harness import paired_ratio
from benchmarks.judge import SCALE_MODELS, TRAINING_MODELS, Target, overhead_us, runs, times
from benchmarks.targets import GPU_TARGET, MEMORY_TARGET, META_SPEEDUP_TARGET, PORTABLE_TARGET, SPEED_TARGET

LAW_LABELS: Final = {
    "uniform": "uniform",
    "normal": "normal",
    "truncated_normal": "trunc. normal",
    "orthogonal": "orthogonal",
}


@dataclass
class Table:
    """Rows of strings under a title; rendered by rich in the terminal and as Markdown in RESULTS.md."""

    title: str
    columns: list[str]
    rows: list[list[str]] = field(default_factory=list)
    note: str = ""


def _ms(seconds: float) -> str:
    return f"{seconds * 1e3:.3g}" if seconds < 10 else f"{seconds * 1e3:.0f}"


def _mark(met: bool | None) -> str:
    return {True: "met", False: "NOT MET", None: "not measured"}[met]


def _verdict(target: Target) -> str:
    # a quick run shows its timing figures without judging them: one tiny repeat says nothing
    return (
        "not judged" if target.met is None and target.measured.endswith("not judged)") else _mark(target.met)
    )


def speed_tables(speed: dict[str, Any]) -> list[Table]:
    """One table per backend: times, winit/native, and both against the fill (memory-write limit)."""
    tables = []
    for backend, result in speed.items():
        table = Table(
            f"Speed — {backend}",
            [
                "law",
                "n×n",
                "variant",
                "native API",
                "winit ms",
                "native ms",
                "fill ms",
                "winit/native",
                "winit/fill",
                "native/fill",
                "target ≤1.05",
            ],
        )
        if "error" in result or "skipped" in result:
            table.note = (
                "worker failed: " + result["error"] if "error" in result else "skipped: " + result["skipped"]
            )
            tables.append(table)
            continue
        for case in result["cases"]:
            if case["kind"] == "portable":
                continue
            label = "per-call overhead" if case["kind"] == "overhead" else LAW_LABELS[case["law"]]
            row = [label, str(case["n"]), case["variant"] or "—", case["native_api"]]
            if "timings" not in case:
                table.rows.append([*row, "—", "—", "—", "—", "—", "—", "skipped"])
                continue
            t = case["timings"]
            ratio = paired_ratio(runs(case, "winit"), runs(case, "native"))
            verdict = "info" if case["kind"] == "overhead" else _mark(ratio <= SPEED_TARGET)
            table.rows.append(
                [
                    *row,
                    _ms(t["winit"]["median"]),
                    _ms(t["native"]["median"]),
                    _ms(t["fill"]["median"]),
                    f"{ratio:.3f}",
                    times(paired_ratio(runs(case, "winit"), runs(case, "fill"))),
                    times(paired_ratio(runs(case, "native"), runs(case, "fill"))),
                    verdict,
                ]
            )
            for extra in t:
                if extra not in ("winit", "native", "fill"):
                    table.rows.append(
                        [
                            f"  {label} ({extra})",
                            str(case["n"]),
                            case["variant"] or "—",
                            "informational",
                            "",
                            _ms(t[extra]["median"]),
                            "",
                            f"winit/this {paired_ratio(runs(case, 'winit'), runs(case, extra)):.3f}",
                            "",
                            times(paired_ratio(runs(case, extra), runs(case, "fill"))),
                            "info",
                        ]
                    )
        overhead = overhead_us(result["cases"], result["cases"][0]["variant"] if result["cases"] else "")
        if overhead is not None:
            cost = f"≈ {overhead:.0f} µs" if overhead >= 1 else "below the timing noise"
            table.note = f"winit's fixed per-call cost over the native call: {cost} (16×16 tensor)."
        tables.append(table)
    return tables


def limit_table(speed: dict[str, Any]) -> Table:
    """Per backend and law, at its largest size: how far native and winit are from a fill of the same tensor."""
    table = Table(
        "Distance from the memory-write limit (largest size per law)",
        ["backend", "law", "n×n", "variant", "native/fill", "winit/fill"],
    )
    for backend, result in speed.items():
        largest: dict[tuple[str, str], dict[str, Any]] = {}
        for case in result.get("cases", []):
            if case["kind"] == "law" and "timings" in case:
                key = (case["law"], case["variant"])
                if key not in largest or case["n"] > largest[key]["n"]:
                    largest[key] = case
        for (law, variant), case in largest.items():
            table.rows.append(
                [
                    backend,
                    LAW_LABELS[law],
                    str(case["n"]),
                    variant or "—",
                    times(paired_ratio(runs(case, "native"), runs(case, "fill"))),
                    times(paired_ratio(runs(case, "winit"), runs(case, "fill"))),
                ]
            )
    table.note = (
        "1× would mean the initializer writes as fast as memory can be written at all. On CPU no native "
        "generator comes near it: producing random bits (mt19937, Philox, threefry) and turning them into "
        "floats and Gaussians is compute-bound. Truncated normal costs most in torch, whose trunc_normal_ "
        "redraws the whole tensor until every value is inside ±2σ (JAX inverts the CDF in one pass, NumPy's "
        "winit path redraws only the rejected values); orthogonal is a QR. winit's column tracks the native "
        "one because it calls the same samplers."
    )
    return table


def portable_table(portable: dict[str, Any]) -> Table:
    """benchmarks/portable.py's figures: winit rng='portable' against rng='native' per backend and law."""
    table = Table(
        "Portable RNG vs native RNG (benchmarks/portable.py)",
        [
            "backend",
            "law",
            "n×n",
            "threads",
            "native ms",
            "portable ms",
            "portable/native",
            "native throughput ratio",
            "target ≥0.5",
        ],
    )
    if "rows" not in portable:
        table.note = portable.get("skipped") or portable.get("error", "not run")
        return table
    for row in portable["rows"]:
        throughput = 1.0 / row["portable_over_native"] if row["portable_over_native"] > 0 else math.inf
        table.rows.append(
            [
                row["backend"],
                row["law"],
                str(row["n"]),
                row.get("threads", "xla"),
                f"{row['native_ms']:.1f}",
                f"{row['portable_ms']:.1f}",
                f"{row['portable_over_native']:.2f}",
                times(throughput),
                _mark(throughput >= PORTABLE_TARGET),
            ]
        )
    table.note = (
        f"`{portable['command']}` (medians after a warm-up, same process; winit.init eager, int seed 0, "
        "he_uniform/he_normal). threads: NumPy/torch at 1 thread and at every core (the portable draw's "
        "worker threads and torch's intra-op threads, native and portable alike; native NumPy and torch "
        "generators are serial either way); N/compile: torch with WINIT_TORCH_COMPILE=1 (torch.compile'd "
        "kernels, compiled in the warm-up); xla: one compiled TensorFlow/JAX kernel."
    )
    return table


def memory_table(memory: list[dict[str, Any]]) -> Table:
    """Peak bytes above baseline per backend and caller, as a multiple of the tensor's bytes."""
    sides = sorted({entry["n"] for entry in memory if "n" in entry})
    table = Table(
        f"Peak memory of one {'/'.join(f'{n}²' for n in sides) or 'n²'} float32 init (fresh process each)",
        [
            "backend",
            "law",
            "who",
            "tensor MiB",
            "peak MiB",
            "peak/tensor",
            "tracemalloc",
            "XLA temp",
            "target ≤1.1",
        ],
    )
    for entry in memory:
        label = [entry.get("backend", "?"), entry.get("law", "?"), entry.get("who", "?")]
        if "peak_bytes" not in entry:
            table.rows.append(
                [*label, "—", "—", "—", "—", "—", entry.get("skipped") or entry.get("error", "?")]
            )
            continue
        ratio = entry["peak_bytes"] / entry["tensor_bytes"]
        traced = entry.get("tracemalloc_peak_bytes")
        temp = entry.get("xla_temp_bytes")
        targeted = entry["who"] in ("winit", "winit jit")
        table.rows.append(
            [
                *label,
                f"{entry['tensor_bytes'] / 2**20:.0f}",
                f"{entry['peak_bytes'] / 2**20:.0f}",
                times(ratio),
                "—" if traced is None else times(traced / entry["tensor_bytes"]),
                "—" if temp is None else times(temp / entry["tensor_bytes"]),
                _mark(ratio <= MEMORY_TARGET) if targeted else "info",
            ]
        )
    return table


def _model_name(result: dict[str, Any]) -> str:
    config = result.get("config")
    if not config or config.get("vocab") == 50257:
        return "GPT-2 small"
    return f"tiny GPT ({config['layers']} layer, width {config['width']}, vocab {config['vocab']})"


def model_tables(models: dict[str, Any]) -> list[Table]:
    """GPT-2 small in PyTorch (a, b, c) and Flax (model.init vs winit), medians and ratios."""
    tables = []
    torch_result = models.get("torch", {})
    table = Table(f"{_model_name(torch_result)} (PyTorch)", ["way", "median s", "runs s"])
    labels = {
        "a_default": "(a) default construction",
        "b_then_init": "(b) construction, then winit.torch.init_",
        "c_meta_init": "(c) meta-device construction, then init_(device='cpu')",
    }
    if "timings" in torch_result:
        for key, label in labels.items():
            t = torch_result["timings"][key]
            table.rows.append([label, f"{t['median']:.3f}", ", ".join(f"{r:.3f}" for r in t["runs"])])
        table.note = (
            f"{torch_result['parameters']:,} parameters; (b)/(c) = {torch_result['speedup_c_over_b']:.2f}× "
            f"(target ≥ {META_SPEEDUP_TARGET}), (c)/(a) = {torch_result['c_over_a']:.3f} (target ≤ 1)."
        )
    else:
        table.note = torch_result.get("skipped") or torch_result.get("error", "not run")
    tables.append(table)
    flax_result = models.get("flax", {})
    table = Table(f"{_model_name(flax_result)} (Flax linen)", ["way", "median s", "runs s", "compile s"])
    if "timings" in flax_result:
        for key, label in (
            ("native", "jax.jit(model.init), Flax's default initializers"),
            ("winit", "jax.jit(model.init), winit.flax initializers"),
        ):
            t = flax_result["timings"][key]
            table.rows.append(
                [
                    label,
                    f"{t['median']:.3f}",
                    ", ".join(f"{r:.3f}" for r in t["runs"]),
                    f"{flax_result['compile_seconds'][key]:.1f}",
                ]
            )
        same = {True: "bit-identical", False: "NOT identical", None: "not compared"}[
            flax_result.get("parameters_identical")
        ]
        table.note = (
            f"{flax_result['parameters']:,} parameters; winit/native = {flax_result['winit_over_native']:.3f} "
            f"(target ≤ {SPEED_TARGET}); the two parameter trees for one key are {same}."
        )
    else:
        table.note = flax_result.get("skipped") or flax_result.get("error", "not run")
    tables.append(table)
    return tables


def training_table(training: dict[str, Any]) -> Table:
    """Held-out loss after training from the library's init and from init_'s default, per seed and mean."""
    table = Table(
        "Training: library init vs winit.torch.init_ default",
        ["model", "init", "held-out loss per seed", "mean"],
    )
    notes = []
    for key, label in TRAINING_MODELS.items():
        result = training.get(key, {})
        if "mean" not in result:
            notes.append(
                f"{label}: {result.get('skipped') or result.get('error') or training.get('skipped', 'not run')}"
            )
            continue
        for who, name in (("library", "library's own"), ("winit", "init_(model, seed=s)")):
            losses = ", ".join(f"{value:.3f}" for value in result["final_loss"][who])
            table.rows.append([label, name, losses, f"{result['mean'][who]:.3f}"])
        setup = result["setup"]
        notes.append(
            f"{label}: {result['parameters']:,} parameters, {setup['steps']} AdamW steps (lr {result['lr']:g}), "
            f"batch {setup['batch']}, {result['seconds']:.0f} s"
        )
    table.note = "; ".join(notes)
    return table


def scale_table(scale: dict[str, Any]) -> Table:
    """init_ vs a hand torch.nn.init loop, and construct + init_ vs meta + init_, on real model sizes."""
    table = Table(
        "Model-scale init (HF models)",
        [
            "model",
            "parameters",
            "init_ s",
            "hand loop s",
            "init_/hand",
            "1 thread/hand",
            "portable/init_",
            "construct+init_ s",
            "meta+init_ s",
            "meta/construct",
        ],
    )
    notes = []
    for key in SCALE_MODELS:
        result = scale.get(key, {})
        if "timings" not in result:
            notes.append(
                f"{key}: {result.get('skipped') or result.get('error') or scale.get('skipped', 'not run')}"
            )
            continue
        t = result["timings"]
        table.rows.append([
            key, f"{result['parameters']:,}", f"{t['init_']['median']:.3f}", f"{t['hand']['median']:.3f}",
            f"{result['init_over_hand']:.3f}", f"{result.get('init_1t_over_hand', math.nan):.3f}",
            f"{result['portable_over_native']:.2f}", f"{t['construct']['median']:.3f}", f"{t['meta']['median']:.3f}",
            f"{result['meta_over_construct']:.3f}",
        ])  # fmt: skip
    notes.append("ratios are medians of paired rounds (interleaved, order alternating)")
    table.note = "; ".join(notes)
    return table


def import_table(imports: dict[str, Any]) -> Table:
    """Cold ``import winit`` time, NumPy's share, winit's own, and the non-stdlib modules it loads."""
    table = Table("import winit (fresh interpreter, median)", ["figure", "value"])
    if "error" in imports:
        table.note = imports["error"]
        return table
    table.rows += [
        ["cold import winit", f"{imports['cold_seconds'] * 1e3:.0f} ms"],
        ["import numpy alone", f"{imports['numpy_seconds'] * 1e3:.0f} ms"],
        ["winit's own share (numpy already loaded)", f"{imports['winit_own_seconds'] * 1e3:.0f} ms"],
        ["cold winit / numpy", times(imports["cold_over_numpy"])],
        ["non-stdlib modules loaded", ", ".join(imports["non_stdlib_modules"])],
        ["frameworks loaded (must be none)", ", ".join(imports["frameworks_imported"]) or "none"],
    ]
    table.note = f"median of {imports['repeats']} fresh interpreters each."
    return table


def gpu_table(gpu: dict[str, Any]) -> Table:
    """Each framework's fill bandwidth and every initializer's fraction of it, or why it was skipped."""
    table = Table(
        "GPU: 1 GiB float32 init as a fraction of fill bandwidth",
        ["framework", "device", "fill GB/s", "initializer", "fraction", "target ≥0.8"],
    )
    skipped = []
    for framework in ("torch", "jax"):
        result = gpu.get(framework, {"skipped": gpu.get("error", "not run")})
        if "skipped" in result:
            skipped.append(f"{framework}: {result['skipped']}")
            continue
        for key, value in result.items():
            if key.endswith("fraction of fill"):
                name = key.removesuffix(" fraction of fill")
                verdict = _mark(value >= GPU_TARGET) if name.startswith("winit") else "info"
                table.rows.append(
                    [
                        framework,
                        result["device"],
                        f"{result['fill_gb_per_s']:.0f}",
                        name,
                        f"{value:.2f}",
                        verdict,
                    ]
                )
    notes = [gpu["source"]] if "source" in gpu else []
    if skipped:
        notes.append("GPU skipped — " + "; ".join(skipped))
    if notes:
        table.note = " ".join(notes)
    return table


def target_table(targets: list[Target]) -> Table:
    """Every target, its measured figure and verdict; misses carry their reason."""
    table = Table("Targets", ["target", "goal", "measured", "verdict", "reason for a miss"])
    for target in targets:
        table.rows.append([target.id, target.goal, target.measured, _verdict(target), target.reason])
    met = sum(t.met is True for t in targets)
    missed = sum(t.met is False for t in targets)
    skipped = sum(t.met is None for t in targets)
    table.note = f"{met} met, {missed} not met, {skipped} not measured or not judged."
    return table


def tables(results: dict[str, Any], targets: list[Target]) -> list[Table]:
    """Every table, in the order the terminal and RESULTS.md show them."""
    return [
        *speed_tables(results.get("speed", {})),
        limit_table(results.get("speed", {})),
        portable_table(results.get("portable", {"skipped": "not run"})),
        memory_table(results.get("memory", [])),
        *model_tables(results.get("models", {})),
        training_table(results.get("training", {"skipped": "not run"})),
        scale_table(results.get("scale", {"skipped": "not run"})),
        import_table(results.get("imports", {"error": "not run"})),
        gpu_table(results.get("gpu", {})),
        target_table(targets),
    ]
