"""Terminal tables with rich, rendered to plain text: columns line up in a terminal and in a CI log alike."""

from __future__ import annotations

import io

from rich import box
from rich.console import Console
from rich.table import Table

WIDTH = 160  # wide enough for the widest table; a table takes only the width its cells need


def new_table(*columns: str, left: int = 1) -> Table:
    """A table with a header rule and no borders; the first `left` columns left-aligned, the rest right."""
    table = Table(box=box.SIMPLE_HEAD, pad_edge=False, show_edge=False, header_style="", min_width=0)
    for i, name in enumerate(columns):
        table.add_column(name, justify="left" if i < left else "right", no_wrap=True, min_width=len(name))
    return table


def render(table: Table, width: int = WIDTH) -> str:
    """The table as plain text (no colour, no control codes), trailing spaces removed."""
    out = io.StringIO()
    Console(file=out, width=width, color_system=None, force_terminal=False, highlight=False, emoji=False).print(table)
    return "\n".join(line.rstrip() for line in out.getvalue().splitlines()) + "\n"
