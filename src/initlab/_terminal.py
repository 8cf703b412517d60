"""Paragraphs for the terminal: one renderable for the ledger's claims and a diagnosis's
findings and notes."""

from __future__ import annotations

import textwrap
from typing import Any


class Hanging:
    """``text`` wrapped at the console's width under a hanging indent of ``indent`` columns
    (``len(first)`` by default), ``first`` (a verdict, a finding's mark) written in the indent
    of its first line; no trailing spaces, which a reader would copy with the text. Numbers are
    never split at a hyphen ("1e-" then "320")."""

    def __init__(
        self,
        text: str,
        first: str = "",
        *,
        indent: int | None = None,
        style: str = "",
        first_style: str = "",
        end: str = "\n",
    ) -> None:
        self.text, self.first, self.style, self.first_style, self.end = (
            text,
            first,
            style,
            first_style,
            end,
        )
        self.indent = len(first) if indent is None else indent

    def __rich_console__(self, console: Any, options: Any) -> Any:
        from rich.text import Text

        n = self.indent
        lines = textwrap.wrap(self.text, max(options.max_width - n, 20), break_on_hyphens=False)
        out = Text(end=self.end)
        for i, line in enumerate(lines or [""]):
            if i == 0 and self.first:
                out.append(f"{self.first:<{n}}", self.first_style)
            else:
                out.append(" " * n)
            out.append(line, self.style)
            if i < len(lines) - 1:
                out.append("\n")
        yield out
