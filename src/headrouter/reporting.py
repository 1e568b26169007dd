"""What the report of a run is made of, shared by ``headrouter eval`` and ``headrouter bench``: markdown tables, a
matplotlib figure that is optional (matplotlib is an extra), and the files written for one run."""

from __future__ import annotations

import json
import logging
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

logger = logging.getLogger("headrouter")

PLOT_DPI = 120


def markdown_table(header: Sequence[str], rows: Sequence[Sequence[str]]) -> str:
    """A GitHub markdown table: the header, its rule, one line per row."""
    lines = ["| " + " | ".join(header) + " |", "|" + "|".join(" --- " for _ in header) + "|"]
    lines += ["| " + " | ".join(row) + " |" for row in rows]
    return "\n".join(lines)


def pyplot() -> Any | None:
    """``matplotlib.pyplot`` on the file-only Agg backend, or None (logged) when matplotlib is not installed."""
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        logger.info("plot skipped: matplotlib is not installed (pip install 'headrouter[plot]')")
        return None
    return plt


def save_figure(figure: Any, path: str | Path) -> Path:
    """Lay out ``figure``, write it to ``path`` and close it (pyplot keeps every open figure alive)."""
    import matplotlib.pyplot as plt

    figure.tight_layout()
    path = Path(path)
    figure.savefig(path, dpi=PLOT_DPI)
    plt.close(figure)
    return path


def write_report_files(
    out_dir: str | Path,
    stem: str,
    summary: dict,
    markdown: str,
    plot: Callable[[Path], Path | None] | None = None,
) -> dict[str, Path]:
    """Write ``{stem}.json`` (``summary``), ``{stem}.md`` (``markdown``) and, with ``plot``, ``{stem}.png`` into
    ``out_dir`` (made if missing); ``plot(path)`` returns None where it cannot draw. Returns the paths written, by
    kind (``json``, ``markdown``, ``plot``)."""
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    paths = {"json": out / f"{stem}.json", "markdown": out / f"{stem}.md"}
    paths["json"].write_text(json.dumps(summary, indent=2) + "\n")
    paths["markdown"].write_text(markdown)
    if plot is not None:
        png = plot(out / f"{stem}.png")
        if png is not None:
            paths["plot"] = png
    return paths
