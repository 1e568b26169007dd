"""Plain text the subcommands print: fixed-width tables and the list of files a run wrote."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path


def text_table(header: Sequence[str], rows: Sequence[Sequence[str]], left: Sequence[bool]) -> str:
    """Fixed-width lines: the header, a rule, the rows; ``left`` says which columns are left-aligned."""
    widths = [max(len(line[i]) for line in [header, *rows]) for i in range(len(header))]

    def fmt(cells: Sequence[str]) -> str:
        return "  ".join(
            c.ljust(w) if lft else c.rjust(w) for c, w, lft in zip(cells, widths, left, strict=True)
        ).rstrip()

    return "\n".join([fmt(header), "  ".join("-" * w for w in widths), *(fmt(line) for line in rows)])


def written_files(paths: Mapping[str, str | Path], plot: bool) -> str:
    """One ``kind: path`` line per file written, and why a plot that was asked for is missing."""
    lines = [f"{kind}: {path}" for kind, path in paths.items()]
    if plot and "plot" not in paths:
        lines.append("plot: skipped (matplotlib is not installed: pip install 'headrouter[plot]')")
    return "\n".join(lines)
