"""The one table renderer (winit/_table.py) and the init report's columns, on fixed rows (no framework)."""

from __future__ import annotations

import io

import pytest

import winit
from winit._report import InitRecord, InitReport
from winit._table import rich_table, text_listing, text_table

HE = winit.plan("he_normal", (8, 4))


def test_text_table_aligns_numbers_right_and_text_left() -> None:
    text = text_table(("name", "n"), [("a", "1"), ("bbb", "22")], numeric={"n"})
    assert text.splitlines() == ["name   n", "----  --", "a      1", "bbb   22"]


def test_text_listing_pads_every_column_but_the_last() -> None:
    text = text_listing([("gain", "1.41", "x"), ("multiplier", "×2", "y z")], title="t", footer="f")
    assert text.splitlines() == ["t", "gain        1.41  x", "multiplier  ×2    y z", "f"]


def test_rich_table_keeps_brackets_as_text() -> None:
    console = pytest.importorskip("rich.console")
    screen = console.Console(file=io.StringIO(), width=80)
    screen.print(rich_table(("parameter",), [("w[q]",), ("[bold]x",)], title="[red]t"))
    shown = screen.file.getvalue()
    assert "w[q]" in shown and "[bold]x" in shown and "[red]t" in shown


def _report(*lr: float) -> InitReport:
    records = [InitRecord.from_plan(f"w{i}", "Linear", HE, lr_multiplier=value) for i, value in enumerate(lr)]
    return InitReport(
        [*records, InitRecord.keep("ln", "LayerNorm", (4,)), InitRecord.tie("head", "Linear", (8, 4), "w0")]
    )


def test_report_has_no_lr_column_when_every_rate_is_unscaled() -> None:
    text = str(_report(1.0, 1.0))
    assert "lr_mult" not in text
    assert text.splitlines()[0].split()[-1] == "std"


def test_report_shows_lr_mult_when_a_recipe_scales_a_rate() -> None:
    report = _report(1.0, 0.125)
    lines = str(report).splitlines()
    assert lines[0].split()[-2:] == ["std", "lr_mult"]
    assert lines[2].split()[-1] == "1" and lines[3].split()[-1] == "0.125"
    assert lines[4].split()[-1] == "1"  # a kept tensor is still trained at its own rate
    assert lines[5].split()[-1] == "-"  # a tied name is trained as its first name
    assert len({len(line) for line in lines[1:4]}) == 1  # right-aligned: the rows end together
    pytest.importorskip("rich")
    table = report.rich_table()
    assert [column.header for column in table.columns][-1] == "lr_mult"
    assert table.columns[-1].justify == "right"
