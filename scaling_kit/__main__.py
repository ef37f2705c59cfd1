"""``python -m scaling_kit reproduce``."""

import sys

from .cli import main

sys.exit(main())
