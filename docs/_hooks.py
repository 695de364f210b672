"""mkdocs hook: the command-line page shows ``winit --help`` and each command's help, taken from the parser."""

from __future__ import annotations

import argparse
from typing import Any

MARKER = "<!-- winit-cli-help -->"


def _help_blocks() -> str:
    from winit.cli import _parser

    parser = _parser()
    blocks = [("winit --help", parser.format_help())]
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for name, sub in action.choices.items():
                blocks.append((f"winit {name} --help", sub.format_help()))
    return "\n".join(f"## `{title}`\n\n```text\n{text.rstrip()}\n```\n" for title, text in blocks)


def on_page_markdown(markdown: str, **kwargs: Any) -> str:
    """Replace the marker with the parser's help texts (argparse wraps them at $COLUMNS; 100 here)."""
    if MARKER not in markdown:
        return markdown
    import os

    os.environ["COLUMNS"] = "100"
    return markdown.replace(MARKER, _help_blocks())
