"""Render the report: tables in the terminal (rich, or plain text), RESULTS.md in Markdown, results.png."""

from __future__ import annotations

import statistics
from pathlib import Path
from typing import Any

from benchmarks._harness import paired_ratio
from benchmarks.judge import Target, runs
from benchmarks.tables import LAW_LABELS, Table
from benchmarks.targets import SPEED_TARGET


def print_tables(all_tables: list[Table]) -> None:
    """Print with rich when it is installed (the ``cli`` extra), else as plain aligned text."""
    try:
        from rich.console import Console
        from rich.table import Table as RichTable
    except ImportError:
        for table in all_tables:
            print(f"\n{table.title}")
            widths = [
                max(len(c), *(len(r[i]) for r in table.rows)) if table.rows else len(c)
                for i, c in enumerate(table.columns)
            ]
            print("  ".join(c.ljust(w) for c, w in zip(table.columns, widths, strict=True)))
            for row in table.rows:
                print("  ".join(cell.ljust(w) for cell, w in zip(row, widths, strict=True)))
            if table.note:
                print(table.note)
        return
    console = Console(width=200)
    for table in all_tables:
        if table.title == "Targets":
            _print_targets(console, table, RichTable)
            continue
        rich_table = RichTable(title=table.title, caption=table.note or None, caption_justify="left")
        for column in table.columns:
            rich_table.add_column(column, overflow="fold")
        for row in table.rows:
            style = "red" if "NOT MET" in row else None
            rich_table.add_row(*row, style=style)
        console.print(rich_table)


def _print_targets(console: Any, table: Table, rich_table_type: Any) -> None:
    # the terminal gets the verdicts in a table and each miss's reason as a wrapped line below it
    rich_table = rich_table_type(title=table.title, caption=table.note or None, caption_justify="left")
    for column in table.columns[:-1]:
        rich_table.add_column(column, overflow="fold")
    for row in table.rows:
        rich_table.add_row(*row[:-1], style="red" if row[3] == "NOT MET" else None)
    console.print(rich_table)
    for row in table.rows:
        if row[3] == "NOT MET":
            console.print(f"[red]miss[/red] {row[0]} ({row[2]}): {row[4]}", highlight=False)


def _md_cell(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ")


def markdown_table(table: Table) -> str:
    """``table`` as a GitHub Markdown section."""
    lines = [f"### {table.title}", ""]
    if table.rows:
        lines.append("| " + " | ".join(table.columns) + " |")
        lines.append("|" + "---|" * len(table.columns))
        lines += ["| " + " | ".join(_md_cell(cell) for cell in row) + " |" for row in table.rows]
        lines.append("")
    if table.note:
        lines += [table.note, ""]
    return "\n".join(lines)


def _load(value: Any) -> str:
    return "unavailable" if not value else " / ".join(f"{v:.2f}" for v in value)


def markdown(
    results: dict[str, Any], targets: list[Target], all_tables: list[Table], explanation: str
) -> str:
    """RESULTS.md: how it was run and on what, the targets (misses with reasons), every table, the method."""
    meta = results["meta"]
    machine = meta["machine"]
    missed = [t for t in targets if t.met is False]
    lines = [
        "# winit benchmarks — last full run",
        "",
        f"Command: `{meta['command']}` (or `nox -s bench`), run {meta['date']}, took {meta['elapsed_seconds']:.0f} s.",
        "",
        f"- Machine: {machine['cpu']}, {machine['cores']} cores, {machine['ram_gib']} GiB RAM, {machine['os']}",
        f"- Load average (1/5/15 min) at start: {_load(meta['load_start'])}; at end: {_load(meta['load_end'])} "
        f"— other processes shared these {machine['cores']} cores, so single timings are noisy (median repeat "
        f"spread of a timing: {spread_summary(results.get('speed', {}))}); every figure below is a ratio of "
        "runs interleaved in one process (median of the per-round ratios).",
        f"- Framework thread pools: {meta['threads_note']}",
        f"- Git revision: {machine['git']}",
        "- Versions: " + ", ".join(f"{k} {v}" for k, v in meta["versions"].items()),
        "",
        f"**{sum(t.met is True for t in targets)} targets met, {len(missed)} not met, "
        f"{sum(t.met is None for t in targets)} not measured.**",
        "",
    ]
    if missed:
        lines += ["## Misses and why", ""]
        lines += [f"- `{t.id}` — {t.goal}, measured {t.measured}: {t.reason}" for t in missed]
        lines.append("")
    lines += ["## Results", "", "![winit vs native per backend](results.png)", ""]
    for table in all_tables:
        if table.title == "Targets":  # the reasons are listed once, under "Misses and why"
            rows = [[*row[:4], "see Misses and why" if row[3] == "NOT MET" else ""] for row in table.rows]
            table = Table(table.title, [*table.columns[:4], "reason"], rows, table.note)
        lines.append(markdown_table(table))
    lines += ["## Method and choices", "", explanation.strip(), ""]
    return "\n".join(lines)


# -- plot ----------------------------------------------------------------------------------------------
def plot(speed: dict[str, Any], path: Path) -> bool:
    """results.png: per backend, winit and native time as a multiple of the fill time, case by case (log scale)."""
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        return False
    backends = [b for b, r in speed.items() if "cases" in r]
    if not backends:
        return False
    columns = min(2, len(backends))
    rows = -(-len(backends) // columns)
    figure, axes = plt.subplots(rows, columns, figsize=(6.4 * columns, 4.6 * rows), squeeze=False)
    for axis in axes.flat[len(backends) :]:
        axis.set_visible(False)
    for axis, backend in zip(axes.flat, backends, strict=False):
        cases = [c for c in speed[backend]["cases"] if c["kind"] == "law" and "timings" in c]
        labels = [
            f"{LAW_LABELS[c['law']]}\n{c['n']}²{' ' + c['variant'] if c['variant'] in ('eager',) else ''}"
            for c in cases
        ]
        native = [paired_ratio(runs(c, "native"), runs(c, "fill")) for c in cases]
        mine = [paired_ratio(runs(c, "winit"), runs(c, "fill")) for c in cases]
        positions = range(len(cases))
        axis.bar([p - 0.2 for p in positions], native, 0.4, label="native", color="#8c8c8c")
        axis.bar([p + 0.2 for p in positions], mine, 0.4, label="winit", color="#1f77b4")
        for p, case in enumerate(cases):
            ratio = paired_ratio(runs(case, "winit"), runs(case, "native"))  # the table's figure
            axis.annotate(
                f"{ratio:.2f}",
                (p, max(native[p], mine[p])),
                ha="center",
                va="bottom",
                fontsize=7,
                color="#b00020" if ratio > SPEED_TARGET else "black",
            )
        axis.set_yscale("log")
        axis.set_xticks(list(positions), labels, fontsize=6.5, rotation=90)
        axis.set_title(backend)
        axis.axhline(1.0, color="black", linewidth=0.6)
        axis.set_ylabel("time / fill time (1 = memory-write limit)")
    axes[0][0].legend(fontsize=8)
    figure.suptitle(
        "winit vs native initializers, float32 n×n; above each pair: winit/native (median of paired runs, "
        f"red above {SPEED_TARGET})",
        fontsize=9,
    )
    figure.tight_layout()
    figure.savefig(path, dpi=110)
    plt.close(figure)
    return True


def spread_summary(speed: dict[str, Any]) -> str:
    """Median repeat spread over every timed candidate: one number for how noisy the machine was."""
    spreads = [
        t["spread"]
        for r in speed.values()
        if "cases" in r
        for c in r["cases"]
        if "timings" in c
        for t in c["timings"].values()
    ]
    return f"±{statistics.median(spreads) * 50:.0f}%" if spreads else "n/a"
