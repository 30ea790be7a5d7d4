"""Reading the Markdown tables the apps write (tabulate pads cells; the tests compare cell values)."""

from __future__ import annotations


def markdown_rows(text: str) -> list[list[str]]:
    """The rows of every Markdown table in ``text`` as lists of stripped cells (separator lines left out)."""
    rows = []
    for line in text.splitlines():
        line = line.strip()
        if not line.startswith("|") or set(line) <= set("|-: "):
            continue
        rows.append([cell.strip() for cell in line.strip("|").split("|")])
    return rows
