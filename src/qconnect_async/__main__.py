"""``python -m qconnect_async``: the ``qconnect-async`` command."""

from .cli import run

run()
