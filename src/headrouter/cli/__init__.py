"""The ``headrouter`` command: one module per subcommand behind one parser and one error path."""

from headrouter.cli.commands import main

__all__ = ["main"]
