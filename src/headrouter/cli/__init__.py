"""The ``headrouter`` command: one parser, one module per subcommand, and one way to fail.

Each subcommand is the module ``headrouter.cli.<name>``: ``add_parser(subcommands)`` adds it (name, help, and an
``arguments`` callback) and ``run(args) -> int`` runs it. A subcommand's arguments are added only when it is the one
parsed, and its heavy imports happen inside ``run``: ``headrouter --version`` and ``headrouter --help`` import
neither torch nor any of the library's machinery.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable, Sequence
from importlib import import_module

from headrouter import __version__

SUBCOMMANDS = ("demo", "eval", "timing", "bench", "calibrate", "inspect", "show", "tasks")
"""The subcommands, in the order ``headrouter --help`` lists them."""

FAILURES = (ValueError, TypeError, OSError, ImportError)
"""What the library raises for bad input (a missing or malformed file, a wrong setting, a missing extra): every
subcommand reports these as ``headrouter <subcommand>: error: <message>`` and exit code 2, as argparse does for bad
arguments. Anything else is a bug and keeps its traceback."""


def main(argv: Sequence[str] | None = None) -> int:
    """Run the ``headrouter`` command with ``argv`` (default ``sys.argv[1:]``); returns the exit code.

    Bad arguments exit through argparse (usage and ``headrouter <subcommand>: error: ...``, code 2); the library's
    errors about the input (:data:`FAILURES`) are printed the same way, without a traceback, and return 2.
    """
    args = build_parser().parse_args(argv)
    try:
        return args.run(args)
    except FAILURES as error:
        print(f"headrouter {args.command}: error: {str(error) or type(error).__name__}", file=sys.stderr)
        return 2


def build_parser() -> argparse.ArgumentParser:
    """The parser of every subcommand."""
    parser = argparse.ArgumentParser(
        prog="headrouter",
        description="Training-free audio-token pruning inside large audio language models (Qwen2.5-Omni).",
    )
    parser.add_argument("--version", action="version", version=f"headrouter {__version__}")
    subcommands = parser.add_subparsers(dest="command", metavar="COMMAND", required=True, parser_class=SubcommandParser)
    for name in SUBCOMMANDS:
        import_module(f"{__name__}.{name}").add_parser(subcommands)
    return parser


class SubcommandParser(argparse.ArgumentParser):
    """A subcommand's parser that adds its arguments (``arguments(parser)``) the first time it parses.

    Their defaults come from library modules that import torch; only the subcommand being run needs them.
    """

    def __init__(self, *args, arguments: Callable[[argparse.ArgumentParser], None], **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self._add_arguments: Callable[[argparse.ArgumentParser], None] | None = arguments

    def parse_known_args(self, args=None, namespace=None):
        """Add the arguments if not yet added, then parse as argparse does."""
        if self._add_arguments is not None:
            add, self._add_arguments = self._add_arguments, None
            add(self)
        return super().parse_known_args(args, namespace)
