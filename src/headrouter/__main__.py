"""``python -m headrouter``: the ``headrouter`` command."""

import sys

from headrouter.cli import main

if __name__ == "__main__":
    sys.exit(main())
