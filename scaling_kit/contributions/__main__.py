"""``python -m scaling_kit.contributions``: see :mod:`scaling_kit.contributions.command`."""

import sys

from .command import main

if __name__ == "__main__":
    sys.exit(main())
