"""``python -m qconnect_async``: the ``qconnect-async`` command."""

import sys

from .cli import main

sys.exit(main())
