"""Regression guard for benchmarks/: the quick run completes and reports, and only noise-proof figures are checked.

One ``python -m benchmarks --quick`` run (module-scoped) feeds the integration tests; the harness
and report logic are also checked directly on fixed inputs. No test asserts an absolute time: the
only figures checked are ratios that noise cannot flip (bytes touched by a NumPy float32 init, the
modules ``import winit`` loads).
"""

from __future__ import annotations

import fnmatch
import importlib.util
import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import numpy as np
import pytest

REPO_ROOT = Path(__file__).resolve().parent.parent
# benchmarks/ is a repository folder, not part of the installed package: `python -m pytest` finds it
# through the working directory, the bare `pytest` script does not
if str(REPO_ROOT) not in sys.path:
    sys.path.insert(0, str(REPO_ROOT))

from benchmarks import __main__ as runner  # noqa: E402
from benchmarks import _harness, judge, tables, targets  # noqa: E402


# -- the quick run, end to end -------------------------------------------------------------------------
@pytest.fixture(scope="module")
def quick_run(tmp_path_factory: pytest.TempPathFactory) -> tuple[subprocess.CompletedProcess[str], Path]:
    """``python -m benchmarks --quick --output DIR`` once for the module: (process, DIR)."""
    output = tmp_path_factory.mktemp("bench")
    done = subprocess.run(
        [sys.executable, "-m", "benchmarks", "--quick", "--output", str(output)],
        cwd=REPO_ROOT,
        capture_output=True,
        text=True,
        timeout=600,
    )
    return done, output


def _results(output: Path) -> dict[str, Any]:
    loaded: dict[str, Any] = json.loads((output / "results.json").read_text(encoding="utf-8"))
    return loaded


@pytest.mark.slow
def test_quick_run_completes_and_writes_its_tables(
    quick_run: tuple[subprocess.CompletedProcess[str], Path],
) -> None:
    done, output = quick_run
    assert done.returncode == 0, done.stderr[-3000:]
    for title in ("Speed — numpy", "Peak memory", "import winit", "Targets"):
        assert title in done.stdout, f"table {title!r} missing from the printed output"
    text = (output / "RESULTS.md").read_text(encoding="utf-8")
    assert text.startswith("# winit benchmarks")
    assert "### Speed — numpy" in text and "### Targets" in text
    assert "| uniform | 256 |" in text  # a real data row, not just headers
    if importlib.util.find_spec("matplotlib") is not None:
        assert (output / "results.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


@pytest.mark.slow
def test_quick_run_times_every_installed_backend(
    quick_run: tuple[subprocess.CompletedProcess[str], Path],
) -> None:
    results = _results(quick_run[1])
    for backend, result in results["speed"].items():
        if "skipped" in result:
            assert "not installed" in result["skipped"]
            continue
        laws = {case["law"] for case in result["cases"] if "timings" in case}
        assert laws == {"uniform", "normal", "truncated_normal", "orthogonal"}, backend
        for case in result["cases"]:
            assert set(case["timings"]) >= {"winit", "native", "fill"}
            assert all(run > 0 for t in case["timings"].values() for run in t["runs"])
    assert results["speed"]["numpy"]["cases"], "numpy is a hard dependency: its section must always run"


@pytest.mark.slow
def test_numpy_float32_init_touches_one_tensor_of_memory(
    quick_run: tuple[subprocess.CompletedProcess[str], Path],
) -> None:
    (entry,) = [
        m for m in _results(quick_run[1])["memory"] if m["backend"] == "numpy" and m["who"] == "winit"
    ]
    traced = entry["tracemalloc_peak_bytes"] / entry["tensor_bytes"]
    rss = entry["peak_bytes"] / entry["tensor_bytes"]
    # ≥ 0.9: the result itself was counted (the probe works); < 1.5: no float64 detour, no second copy
    assert 0.9 <= traced < 1.5, traced
    assert 0.9 <= rss < 1.5, rss


@pytest.mark.slow
def test_import_winit_loads_no_framework(quick_run: tuple[subprocess.CompletedProcess[str], Path]) -> None:
    imports = _results(quick_run[1])["imports"]
    assert imports["frameworks_imported"] == []
    # the spec layer itself needs no NumPy until a backend draws; NumPy is the only other module allowed
    assert "winit" in imports["non_stdlib_modules"] and set(imports["non_stdlib_modules"]) <= {
        "winit",
        "numpy",
    }
    assert not {"torch", "tensorflow", "jax", "keras", "flax"} & set(imports["non_stdlib_modules"])


@pytest.mark.slow
def test_quick_run_does_not_judge_timings(quick_run: tuple[subprocess.CompletedProcess[str], Path]) -> None:
    judged = judge.all_targets(_results(quick_run[1]))
    speed = [t for t in judged if t.id.startswith("speed/") and "timings" not in t.measured]
    assert speed and all(t.met is None for t in speed), (
        "one tiny repeat must never pass or fail a speed target"
    )
    (no_framework,) = [t for t in judged if t.id == "imports/no-framework"]
    assert no_framework.met is True


# -- harness and report on fixed inputs ---------------------------------------------------------------
def test_interleaved_reverses_the_order_every_round_and_warms_up_first() -> None:
    calls: list[str] = []
    timings = _harness.interleaved(
        {"a": lambda: calls.append("a"), "b": lambda: calls.append("b")}, repeats=3
    )
    assert calls == ["a", "b", "a", "b", "b", "a", "a", "b"]  # warm-up round, then a-b, b-a, a-b
    assert [len(t.runs) for t in timings.values()] == [3, 3]


def test_interleaved_rejects_zero_repeats() -> None:
    with pytest.raises(ValueError, match="repeats must be >= 1, got 0"):
        _harness.interleaved({"a": lambda: None}, repeats=0)


def test_paired_ratio_is_the_median_of_per_round_ratios() -> None:
    assert _harness.paired_ratio([2.0, 3.0, 100.0], [1.0, 1.0, 1.0]) == 3.0
    # a burst of load that slows both runs of one round leaves the ratio alone
    assert _harness.paired_ratio([1.0, 50.0, 1.0], [1.0, 50.0, 1.0]) == 1.0
    with pytest.raises(ValueError, match="equally long"):
        _harness.paired_ratio([1.0], [1.0, 2.0])


RSS_PROBE_SCRIPT = """
import json, numpy as np
from benchmarks import _harness
n = 1024
gen = np.random.default_rng(0)
with _harness.rss_high_water() as direct:
    kept = gen.random((n, n), dtype=np.float32)
del kept
with _harness.rss_high_water() as detour:
    kept = gen.random((n, n)).astype(np.float32)  # float64 draw, then a float32 copy: 3x the bytes
del kept
tensor = n * n * 4
print(json.dumps([(r["peak"] - r["baseline"]) / tensor for r in (direct, detour)]))
"""


@pytest.mark.skipif(not _harness.rss_probe_available(), reason="needs Linux /proc/self/clear_refs")
def test_rss_probe_catches_a_float64_detour() -> None:
    # A fresh process: in a long test session the allocator reuses freed pages and RSS barely moves.
    result = subprocess.run(
        [sys.executable, "-c", RSS_PROBE_SCRIPT], capture_output=True, text=True, cwd=REPO_ROOT, timeout=120,
        check=True,
    )  # fmt: skip
    direct, detour = json.loads(result.stdout.strip().splitlines()[-1])
    assert direct < 1.5
    assert detour > 2.5


def _case(winit: list[float], native: list[float], law: str = "uniform", n: int = 1024) -> dict[str, Any]:
    fill = [0.1] * len(winit)
    return {
        "kind": "law", "law": law, "n": n, "variant": "", "native_api": "x",
        "timings": {
            name: {"median": float(np.median(runs)), "spread": 0.0, "runs": runs}
            for name, runs in (("winit", winit), ("native", native), ("fill", fill))
        },
    }  # fmt: skip


def _full(speed: dict[str, Any], memory: list[dict[str, Any]]) -> dict[str, Any]:
    return {
        "meta": {"mode": "full"},
        "speed": speed,
        "memory": memory,
        "models": {},
        "gpu": {},
        "portable": {},
    }


def test_targets_judge_a_full_run_and_give_every_miss_a_reason() -> None:
    speed = {
        "numpy": {
            "cases": [
                _case([1.0, 1.0, 1.0], [1.0, 1.0, 1.0]),
                _case([2.0, 2.0, 2.0], [1.0, 1.0, 1.0], "normal"),
            ]
        }
    }
    memory = [
        {
            "backend": "numpy",
            "who": "winit",
            "law": "uniform",
            "n": 8192,
            "tensor_bytes": 100,
            "peak_bytes": 100,
        },
        {
            "backend": "tensorflow",
            "who": "winit",
            "law": "uniform",
            "n": 8192,
            "tensor_bytes": 100,
            "peak_bytes": 300,
        },
        {
            "backend": "tensorflow",
            "who": "native",
            "law": "uniform",
            "n": 8192,
            "tensor_bytes": 100,
            "peak_bytes": 300,
        },
    ]
    found = {t.id: t for t in judge.all_targets(_full(speed, memory))}
    assert found["speed/numpy/uniform/1024/default"].met is True
    slow = found["speed/numpy/normal/1024/default"]
    assert slow.met is False and slow.measured == "2.000" and "fastest runs' ratio 2.000" in slow.reason
    assert found["memory/numpy/uniform/winit"].met is True
    assert found["memory/tensorflow/uniform/winit"].met is False
    assert "immutable" in found["memory/tensorflow/uniform/winit"].reason
    assert "memory/tensorflow/uniform/native" not in found  # natives are shown, not targeted


def test_a_miss_without_a_recorded_reason_is_flagged_not_investigated() -> None:
    memory = [
        {"backend": "numpy", "who": "winit", "law": "uniform", "n": 8, "tensor_bytes": 100, "peak_bytes": 250}
    ]
    (target,) = [t for t in judge.all_targets(_full({}, memory)) if t.id.startswith("memory/")]
    assert target.met is False and target.reason.startswith("NOT INVESTIGATED")


def test_every_recorded_reason_matches_a_target_id() -> None:
    ids = [
        f"speed/{b}/{law}/1024/{v}"
        for b, v in (
            ("numpy", "default"),
            ("torch", "in place"),
            ("tensorflow", "winit.keras"),
            ("jax", "jit"),
            ("jax", "eager"),
        )
        for law in ("uniform", "normal", "truncated_normal", "orthogonal")
    ]
    ids += [f"memory/{b}/uniform/winit" for b in ("numpy", "torch", "tensorflow", "jax")]
    ids += [
        "models/torch/c-vs-b",
        "models/torch/c-vs-a",
        "models/flax/winit-vs-init",
        "portable/torch/normal/4096",
        "portable/torch/normal/4096/1t",
        "portable/numpy/uniform/4096/2t",
        "portable/torch/normal/4096/1t-compile",
        "training/resnet",
        "gpu/torch/uniform",
        "gpu/jax/normal",
    ]
    stale = [p for p in targets.REASONS if not any(fnmatch.fnmatchcase(i, p) for i in ids)]
    assert not stale, f"reasons that no target id can reach: {stale}"
    # the first matching pattern wins, so a specific reason must come before its backend's general one
    assert "out of place" in judge.reason_for("speed/torch/orthogonal/1024/in place")
    assert "out of place" not in judge.reason_for("speed/torch/normal/1024/in place")
    assert "torch.compile" in judge.reason_for("portable/torch/uniform/4096/2t-compile")


def test_a_framework_that_is_not_installed_skips_its_sections(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(
        runner, "missing", lambda framework: "torch not installed" if framework == "torch" else None
    )
    jobs, skipped = runner._worker_jobs(quick=True)
    assert not [job for job in jobs if "torch" in job[1]]
    assert {(section, key) for section, key, _ in skipped} == {
        ("speed", "torch"), ("memory", "torch/winit/uniform"), ("models", "torch"),
    }  # fmt: skip
    assert all(why == "torch not installed" for *_, why in skipped)


def test_portable_script_rows_are_parsed_and_other_lines_skipped() -> None:
    text = (
        "backend     law       threads  native ms  portable ms  ratio\n"
        "numpy       uniform         1       42.8        295.9   6.91\n"
        "  (first calls: native 55 ms, portable 117 ms)\n"
        "numpy       uniform         2       42.8         80.0   1.87\n"
        "torch       normal  1/compile       84.4        130.0   1.54\n"
        "jax         normal        xla      220.7         88.6   0.40\n"
    )
    rows = runner.parse_portable_rows(text, 4096)
    assert rows[0] == {
        "backend": "numpy", "law": "uniform", "threads": "1", "n": 4096, "native_ms": 42.8,
        "portable_ms": 295.9, "portable_over_native": 6.91,
    }  # fmt: skip
    assert [row["threads"] for row in rows] == ["1", "2", "1/compile", "xla"]
    portable = judge.portable_targets({"rows": rows})
    assert [(t.id, t.met, t.measured) for t in portable] == [
        ("portable/numpy/uniform/4096/1t", False, "0.14×"),
        ("portable/numpy/uniform/4096/2t", True, "0.53×"),
        ("portable/torch/normal/4096/1t-compile", True, "0.65×"),
        ("portable/jax/normal/4096", True, "2.50×"),
    ]
    assert "one thread is the floor" in portable[0].reason
    table = tables.portable_table({"rows": rows, "command": "python -m benchmarks.portable"})
    assert [row[3] for row in table.rows] == ["1", "2", "1/compile", "xla"]


def test_gpu_section_code_runs_on_the_cpu_at_a_small_size() -> None:
    from benchmarks import gpu

    results = [gpu.run_torch(128, 2, device="cpu") if importlib.util.find_spec("torch") else None]
    results.append(gpu.run_jax(128, 2, platform="cpu") if importlib.util.find_spec("jax") else None)
    measured = [r for r in results if r is not None]
    if not measured:
        pytest.skip("neither torch nor JAX is installed")
    for result in measured:
        for law in ("uniform", "normal"):
            # a fraction of the fill time: positive and finite, whatever the machine's speed
            assert 0 < result[f"winit {law} fraction of fill"] < 1e6
            assert 0 < result[f"native {law} fraction of fill"] < 1e6
        assert result["fill_gb_per_s"] > 0


# -- GPU -------------------------------------------------------------------------------------------------
@pytest.mark.gpu
def test_gpu_worker_measures_fill_fractions(tmp_path: Path) -> None:
    torch = pytest.importorskip("torch")
    if not torch.cuda.is_available():
        pytest.skip("needs a CUDA device visible to torch")
    out = tmp_path / "gpu.json"
    subprocess.run(
        [sys.executable, "-m", "benchmarks.gpu", "--quick", "--json", str(out)],
        cwd=REPO_ROOT,
        check=True,
        timeout=300,
    )
    torch_result = json.loads(out.read_text(encoding="utf-8"))["torch"]
    for law in ("uniform", "normal"):
        mine, native = (
            torch_result[f"winit {law} fraction of fill"],
            torch_result[f"native {law} fraction of fill"],
        )
        # at the quick size (64 MB, a ~25 µs fill) launch latency dominates every timing, so a
        # fraction above 1 is noise, not an error (seen: native uniform 2.0 on an H100)
        # (so no ratio between the two is asserted: seen 0.54 against 2.03 for the same kernel)
        assert 0 < native < 10 and 0 < mine < 10
        for rng in ("portable", "portable compiled"):
            assert 0 < torch_result[f"{rng} {law} fraction of fill"] < 10
