"""One table renderer for everything winit prints: plain text, or a ``rich`` table when rich is installed.

Two plain layouts: :func:`text_table` (a header, a dashed rule, rows; numeric columns right-aligned)
for reports, and :func:`text_listing` (no header; every column but the last padded) for the
label/value listings of ``winit explain``, ``schemes`` and ``recommend``. :func:`rich_table` builds
the rich equivalent of either, its cells escaped so that a name such as ``w[q]`` stays text.
"""

from __future__ import annotations

from collections.abc import Collection, Iterable, Sequence
from typing import Any, Literal, TextIO

Row = tuple[str, ...]


def text_table(headers: Sequence[str], rows: Iterable[Sequence[str]], numeric: Collection[str] = ()) -> str:
    """Header, dashed rule, rows: columns named in ``numeric`` right-aligned, the rest left, two spaces apart.

    Args:
        headers: the column names.
        rows: one sequence of cells per row, as strings.
        numeric: the headers of the right-aligned columns.

    Examples:
        >>> from winit.diagnose import text_table
        >>> print(text_table(("layer", "std"), [("fc1", "0.5"), ("head", "0.25")], frozenset({"std"})))
        layer   std
        -----  ----
        fc1     0.5
        head   0.25
    """
    body = [tuple(headers), *(tuple(row) for row in rows)]
    widths = [max(len(row[i]) for row in body) for i in range(len(headers))]

    def line(row: Sequence[str]) -> str:
        cells = (
            cell.rjust(width) if header in numeric else cell.ljust(width)
            for cell, width, header in zip(row, widths, headers, strict=True)
        )
        return "  ".join(cells).rstrip()

    return "\n".join([line(body[0]), "  ".join("-" * w for w in widths), *(line(row) for row in body[1:])])


def text_listing(rows: Sequence[Sequence[str]], title: str = "", footer: str = "") -> str:
    """Rows without a header, every column but the last padded to its widest cell; ``title``/``footer`` lines around."""
    columns = max((len(row) for row in rows), default=0) - 1
    widths = [max(len(row[i]) for row in rows) for i in range(columns)]
    lines = [title] if title else []
    for row in rows:
        cells = [cell.ljust(width) for cell, width in zip(row, widths, strict=False)]
        lines.append("  ".join([*cells, *row[len(widths) :]]).rstrip())
    if footer:
        lines.append(footer)
    return "\n".join(lines)


def rich_table(
    headers: Sequence[str],
    rows: Iterable[Sequence[Any]],
    *,
    numeric: Collection[str] = (),
    title: str | None = None,
    caption: str | None = None,
    title_justify: Literal["left", "center"] = "left",
    bold_first: bool = False,
    no_wrap: bool = False,
    **options: Any,
) -> Any:
    """A ``rich.table.Table``: numeric columns right-justified; text escaped, other renderables kept (styled cells).

    Needs rich (``pip install 'winit[cli]'``); ImportError names the extra.
    """
    try:
        from rich.markup import escape
        from rich.table import Table
    except ImportError as error:  # pragma: no cover - depends on the environment
        raise ImportError("rich tables need rich: pip install 'winit[cli]'") from error
    table = Table(
        title=None if title is None else escape(title),
        title_justify=title_justify,
        caption=None if caption is None else escape(caption),
        caption_justify="left",
        **options,
    )
    for index, header in enumerate(headers):
        first = bold_first and index == 0
        justify: Literal["right", "left"] = "right" if header in numeric else "left"
        table.add_column(header, justify=justify, style="bold" if first else None, no_wrap=first or no_wrap)
    for row in rows:
        table.add_row(*(escape(cell) if isinstance(cell, str) else cell for cell in row))
    return table


def console(out: TextIO, plain: bool, **options: Any) -> Any:
    """A rich ``Console`` writing to ``out``, or None for plain text (asked for, or rich not installed)."""
    if plain:
        return None
    try:
        from rich.console import Console
    except ImportError:  # the cli extra is optional; plain text says the same
        return None
    return Console(file=out, highlight=False, soft_wrap=False, **options)


def show(
    out: TextIO,
    plain: bool,
    headers: Sequence[str],
    rows: Sequence[Sequence[str]],
    *,
    title: str = "",
    footer: str = "",
    plain_title: bool = True,
) -> None:
    """Print a listing to ``out``: a rich table (title above, footer below) or plain text (title if ``plain_title``)."""
    shown = console(out, plain)
    if shown is None:
        print(text_listing(rows, title if plain_title else "", footer), file=out)
        return
    shown.print(rich_table(headers, rows, title=title or None, caption=footer or None, bold_first=True))
