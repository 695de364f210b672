"""The ``winit`` command line: explain's numbers, the scheme list, rich/plain output and exit codes."""

from __future__ import annotations

import io
import json
import math
import re
import subprocess
import sys
from pathlib import Path

import pytest

import winit
from winit.cli import EXIT_USAGE, main, parse_param


def run(*argv: str) -> str:
    """Run the CLI in-process and return its stdout; a non-zero exit fails the test."""
    out = io.StringIO()
    assert main(list(argv), out=out) == 0
    return out.getvalue()


def explain_plain(*argv: str) -> dict[str, str]:
    """``winit explain ... --plain`` as {label: text}, one entry per output line after the title."""
    lines = run("explain", *argv, "--plain").splitlines()
    assert lines[0].startswith("winit explain ")
    rows = {}
    for line in lines[1:]:
        label, _, text = line.partition(" ")
        rows[label] = text.strip()
    return rows


def test_explain_glorot_uniform_limit_for_a_10_by_5_weight() -> None:
    rows = explain_plain("glorot_uniform", "--shape", "10", "5")
    assert f"{math.sqrt(6 / 15):.6f}" == "0.632456"
    assert rows["fans"] == "fan_in = 5, fan_out = 10"  # torch layout: (out, in)
    assert rows["fan"] == "fan_avg: (fan_in + fan_out)/2 = (5 + 10)/2 = 7.5"
    assert rows["std"] == "gain·√(scale/fan) = 1·√(1/7.5) = 0.365148"
    assert rows["bound"] == "√3·std = 0.632456"
    assert rows["limit"] == "gain·√(6·scale/(fan_in + fan_out)) = 1·√(6·1/(5 + 10)) = 0.632456"
    assert rows["law"] == "U[-0.632456, 0.632456)"


def test_explain_layout_decides_which_axis_is_fan_in() -> None:
    assert explain_plain("glorot_uniform", "--shape", "10", "5", "--layout", "keras")["fans"] == (
        "fan_in = 10, fan_out = 5"
    )
    assert explain_plain("glorot_uniform", "--shape", "10", "5", "--layout", "torch")["fans"] == (
        "fan_in = 5, fan_out = 10"
    )


def test_worked_exercise_xavier_limit_for_six_inputs_and_four_outputs() -> None:
    # Notes' exercise: n_in + n_out = 10, Xavier uniform limit √(6/10).
    rows = explain_plain("xavier_uniform", "--shape", "6", "4", "--layout", "keras")
    assert rows["scheme"].startswith("glorot_uniform:")
    assert rows["limit"].endswith(f"√(6·1/(6 + 4)) = {math.sqrt(6 / 10):.6g}")
    assert rows["law"] == "U[-0.774597, 0.774597)"


@pytest.mark.parametrize(
    ("shape", "layout"), [(("64", "3", "3", "3"), "torch"), (("3", "3", "3", "64"), "keras")]
)
def test_explain_he_normal_conv_kernel(shape: tuple[str, ...], layout: str) -> None:
    rows = explain_plain("he_normal", "--shape", *shape, "--layout", layout)
    assert rows["fans"] == "fan_in = 27, fan_out = 576"
    assert rows["gain"].startswith(f"{math.sqrt(2):.6g}")
    assert rows["std"] == f"gain·√(scale/fan) = 1.41421·√(1/27) = {math.sqrt(2 / 27):.6g}"
    assert rows["law"] == "N(mean=0, std=0.272166)"


def test_explain_params_change_gain_and_mode() -> None:
    rows = explain_plain("kaiming_uniform", "--shape", "5", "4", "--param", "a=0.2", "mode=fan_out")
    gain = math.sqrt(2 / (1 + 0.2**2))
    assert rows["gain"] == f"{gain:.6g}  (calculate_gain('leaky_relu', 0.2) × 1)"
    assert rows["fan"] == "fan_out: fan_out = 5"
    assert rows["limit"].endswith(f"= {math.sqrt(3) * gain / math.sqrt(5):.6g}")


def test_explain_truncated_variance_scaling_shows_the_corrected_sigma() -> None:
    rows = explain_plain("variance_scaling", "--shape", "6", "4")
    assert rows["std"].endswith("= 0.5")
    assert rows["sigma"].startswith(
        f"std/0.879626 = 0.5/0.879626 = {0.5 / winit.TRUNCATED_NORMAL_STD_2SIGMA:.6g}"
    )


def test_plain_output_is_plan_explain_line_for_line() -> None:
    text = run("explain", "he_normal", "--shape", "8", "4", "--param", "nonlinearity=relu", "--plain")
    expected = winit.plan("he_normal", (8, 4), nonlinearity="relu").explain()
    normalize = [" ".join(line.split()) for line in expected.splitlines()]
    assert [" ".join(line.split()) for line in text.splitlines()[1:]] == normalize


def test_rich_table_when_rich_is_installed(monkeypatch: pytest.MonkeyPatch) -> None:
    pytest.importorskip("rich")
    monkeypatch.setenv("COLUMNS", "160")
    text = run("explain", "glorot_uniform", "--shape", "10", "5")
    assert "┃ quantity" in text  # a table, not the plain layout
    assert "0.632456" in text
    assert "U[-0.632456, 0.632456)" in text


def test_plain_text_when_rich_is_missing(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "rich.console", None)  # makes `from rich.console import ...` fail
    text = run("explain", "glorot_uniform", "--shape", "10", "5")
    assert text == run("explain", "glorot_uniform", "--shape", "10", "5", "--plain")
    assert "limit   gain·√(6·scale/(fan_in + fan_out))" in text


def test_schemes_lists_every_scheme_with_its_formula_and_aliases() -> None:
    text = run("schemes", "--plain")
    lines = text.splitlines()
    for name in winit.schemes():
        line = next(line for line in lines if line.startswith(name + " "))
        assert winit.get(name).description in line
    assert "xavier_uniform → glorot_uniform" in lines[-1]
    assert "kaiming_normal → he_normal" in lines[-1]


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["explain", "glorot", "--shape", "3", "3"], "unknown scheme 'glorot'"),
        (["explain", "glorot_uniform", "--shape", "3", "3", "--layout", "tf"], "unknown layout 'tf'"),
        (
            ["explain", "glorot_uniform", "--shape", "3", "3", "--param", "slope=1"],
            "has no parameter 'slope'",
        ),
        (["explain", "glorot_uniform", "--shape", "3", "3", "--param", "gain=-1"], "gain must be > 0"),
        (
            ["explain", "he_normal", "--shape", "3", "3", "--param", "mode=fan_sum"],
            "unknown fan mode 'fan_sum'",
        ),
        (["explain", "glorot_uniform", "--shape", "3", "3", "--param", "gain"], "expects key=value"),
        (["explain", "glorot_uniform", "--shape", "3", "0"], "has no elements"),
        (["explain", "glorot_uniform", "--shape", "3", "-2"], "negative dimension -2"),
    ],
)
def test_bad_input_exits_2_with_the_message(
    argv: list[str], message: str, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(argv, out=io.StringIO()) == EXIT_USAGE == 2
    err = capsys.readouterr().err
    assert message in err
    assert err.startswith(f"winit {argv[0]}: error: ")
    assert "Traceback" not in err


def test_unknown_scheme_message_suggests_close_names(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["explain", "xavier", "--shape", "3", "3"], out=io.StringIO()) == 2
    assert "Did you mean 'xavier_normal', 'xavier_uniform'?" in capsys.readouterr().err


@pytest.mark.parametrize(
    "argv",
    [["explain", "glorot_uniform", "--shape", "3", "x"], ["frobnicate"]],
)
def test_malformed_arguments_exit_2_through_argparse(argv: list[str]) -> None:
    with pytest.raises(SystemExit) as exit_info:
        main(argv, out=io.StringIO())
    assert exit_info.value.code == 2


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("a=0.2", ("a", 0.2)),
        ("groups=2", ("groups", 2)),
        ("nonlinearity=relu", ("nonlinearity", "relu")),
        ("mode = fan_out", ("mode", "fan_out")),
        ("negative_slope=None", ("negative_slope", None)),
        ("gain=1e-2", ("gain", 0.01)),
        ("value=[1, 2]", ("value", "[1, 2]")),  # not a scalar literal: the scheme rejects the string
    ],
)
def test_parse_param(text: str, expected: tuple[str, object]) -> None:
    key, value = parse_param(text)
    assert (key, value) == expected
    assert type(value) is type(expected[1])


@pytest.mark.slow
def test_python_dash_m_winit_runs_without_a_traceback() -> None:
    good = subprocess.run(
        [sys.executable, "-m", "winit", "explain", "glorot_uniform", "--shape", "10", "5", "--plain"],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert good.returncode == 0, good.stderr
    assert "limit   gain·√(6·scale/(fan_in + fan_out)) = 1·√(6·1/(5 + 10)) = 0.632456" in good.stdout
    bad = subprocess.run(
        [sys.executable, "-m", "winit", "explain", "nope", "--shape", "3"],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert bad.returncode == 2
    assert "unknown scheme 'nope'" in bad.stderr
    assert "Traceback" not in bad.stderr


def test_readme_worked_exercise_matches_the_real_output() -> None:
    readme = (Path(__file__).resolve().parents[1] / "README.md").read_text()
    block = re.search(r"^```text\n\$ winit (explain xavier_uniform [^\n]*)\n(.*?)^```$", readme, re.M | re.S)
    assert block, "README lost its worked exercise"
    argv, shown = block.group(1).split(), block.group(2)
    assert run(*argv) == shown


# -- every bad input: status 2, one line on stderr, no traceback (issue 14, item 17) ----------------------
_HUGE = "1" + "0" * 400  # 10**400: an int no float can hold


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["explain", "he_normal", "--shape", "3", "4", "--param", "a=1e200"], "winit explain: error: "),
        (["explain", "he_normal", "--shape", "4", _HUGE], "winit explain: error: "),
        (
            ["probe", "--plot", "/no/such/directory/probe.png"],
            "directory '/no/such/directory' does not exist",
        ),
        (["probe", "--width", "1e8"], "argument --width: invalid int value: '1e8'"),
        (["probe", "--width", "100000000"], "width=100000000"),
        (["probe", "--depth", "100000000"], "depth=100000000"),
        (["explain", "he_normal"], "give a SCHEME with --shape, or --recipe NAME"),
        (["frobnicate"], "invalid choice: 'frobnicate'"),
        ([], "the following arguments are required: COMMAND"),
    ],
)
def test_every_bad_input_exits_2_with_one_line(
    argv: list[str], message: str, capsys: pytest.CaptureFixture[str]
) -> None:
    try:
        status = main(argv, out=io.StringIO())
    except SystemExit as exit_info:  # argparse's own errors leave through sys.exit
        status = exit_info.code
    assert status == EXIT_USAGE
    err = capsys.readouterr().err
    assert len(err.splitlines()) == 1, err
    assert message in err
    assert err.startswith("winit") and "Traceback" not in err


def test_probe_plot_with_an_unknown_extension_exits_2_before_probing(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    pytest.importorskip("matplotlib")
    target = tmp_path / "probe.foo"
    assert main(["probe", "--plot", str(target), "--depth", "1000000"], out=io.StringIO()) == EXIT_USAGE
    err = capsys.readouterr().err
    assert len(err.splitlines()) == 1, err
    assert "must end in an image format's suffix; accepted: " in err and ".png" in err and ".svg" in err
    assert not target.exists()


@pytest.mark.slow
def test_bad_numbers_exit_2_without_a_traceback_in_a_subprocess() -> None:
    for argv in (
        ["explain", "he_normal", "--shape", "3", "4", "--param", "a=1e200"],
        ["explain", "he_normal", "--shape", "4", _HUGE],
        ["probe", "--width", "1e8"],
    ):
        done = subprocess.run(
            [sys.executable, "-m", "winit", *argv], capture_output=True, text=True, timeout=60, check=False
        )
        assert done.returncode == 2, (argv, done.stderr)
        assert len(done.stderr.splitlines()) == 1 and "Traceback" not in done.stderr, done.stderr


# -- one parser, the probe loaded lazily, no explain text parsed back (issue 15) --------------------------
_LOADED = """
import io, json, sys
import winit
first = sorted(m for m in ("argparse", "numpy", "winit._probe", "winit._model_cli", "winit.cli") if m in sys.modules)
from winit.cli import main
main(["explain", "he_normal", "--shape", "3", "4", "--plain"], out=io.StringIO())
main(["recommend", "--activation", "relu", "--plain"], out=io.StringIO())
main(["schemes", "--plain"], out=io.StringIO())
second = sorted(m for m in ("numpy", "winit._probe", "winit._model_cli", "torch") if m in sys.modules)
print(json.dumps([first, second]))
"""


def test_import_winit_loads_no_argparse_and_the_cli_loads_the_probe_only_to_run_it() -> None:
    done = subprocess.run(
        [sys.executable, "-c", _LOADED], capture_output=True, text=True, timeout=60, check=True
    )
    assert json.loads(done.stdout.strip().splitlines()[-1]) == [[], []]


def test_probe_and_model_modules_register_no_commands() -> None:
    import winit._model_cli as model_cli
    import winit._probe as probe_module

    for module in (probe_module, model_cli):
        assert "argparse" not in vars(module)
        assert not [name for name in vars(module) if name.startswith("add_")]


def test_explain_rows_are_structured_and_explain_is_their_text() -> None:
    resolved = winit.plan("truncated_normal", (8, 4))
    rows = resolved.explain_rows()
    assert all(isinstance(row, tuple) and len(row) == 2 for row in rows)
    assert resolved.explain() == "\n".join(f"{label:<8} {text}" for label, text in rows)
    scaled = winit.plan(winit.get("he_normal").with_(multiplier=2.0), (8, 4))
    labels = [label for label, _ in scaled.explain_rows()]
    assert labels[:5] == ["scheme", "shape", "fans", "gain", "multiplier"]
    # the CLI prints the rows as they are: a label of more than 8 letters widens the column, no split needed
    text = run("explain", "he_normal", "--shape", "8", "4", "--param", "multiplier=2", "--plain")
    assert "multiplier  ×2 (every sample scaled after the rule)" in text.splitlines()


def test_explain_recipe_puts_the_sizes_into_every_role() -> None:
    """``winit explain --recipe gpt2 --size L=12``: the residual outputs' std 0.02/√24, the rest 0.02."""
    text = run("explain", "--recipe", "gpt2", "--size", "L=12")
    assert text.startswith("recipe gpt2:")
    lines = {line.split()[0]: line for line in text.splitlines() if line.strip()}
    assert f"{0.02 / math.sqrt(24):.6g}" in lines["attention_out"]
    assert f"{0.02 / math.sqrt(24):.6g}" in lines["mlp_out"]
    assert "0.02" in lines["attention_qkv"] and "sqrt" not in lines["attention_qkv"]
    assert run("explain", "--recipe", "gpt2", "--size", "L=12") == winit.recipe("gpt2").explain(L=12) + "\n"


def test_recipes_lists_every_recipe() -> None:
    text = run("recipes", "--plain")
    listed = [
        line.split()[0] for line in text.splitlines()[1:] if line and not line.startswith("winit explain")
    ]
    assert listed == list(winit.recipes())


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["explain", "--recipe", "gtp2"], "Did you mean 'gpt2'"),
        (["explain"], "give a SCHEME with --shape, or --recipe NAME"),
        (["explain", "glorot_uniform"], "give a SCHEME with --shape, or --recipe NAME"),
        (["explain", "he_normal", "--recipe", "gpt2"], "give no SCHEME, --shape or --param"),
        (["explain", "he_normal", "--shape", "4", "4", "--size", "L=2"], "--size goes with --recipe"),
    ],
)
def test_explain_recipe_bad_input_exits_2(
    argv: list[str], message: str, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(argv, out=io.StringIO()) == EXIT_USAGE
    err = capsys.readouterr().err
    assert message in err and err.count("\n") == 1
