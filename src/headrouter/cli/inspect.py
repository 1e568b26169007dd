"""``headrouter inspect``: draw a saved HeadTable's head weights per task type."""

from __future__ import annotations

import argparse


def add_parser(subcommands: argparse._SubParsersAction) -> None:
    """Add ``headrouter inspect`` to ``subcommands``."""
    subcommands.add_parser(
        "inspect", help="plot a HeadTable's head weights per task type", arguments=_arguments
    ).set_defaults(run=run)


def _arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("table", help="a directory written by calibrate")
    parser.add_argument("--out", required=True, help="image file to write, e.g. heads.png")


def run(args: argparse.Namespace) -> int:
    """Load the table, draw it and save the image."""
    from headrouter.methods.headrouter.table import HeadTable

    figure = HeadTable.from_pretrained(args.table).plot()
    figure.savefig(args.out, dpi=120, bbox_inches="tight")
    print(f"wrote {args.out}")
    return 0
