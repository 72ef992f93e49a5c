"""The ``qconnect-async`` command (also ``python -m qconnect_async``), on the AWS CLI's
conventions. ``_main``: the entry, AWS settings, ``--demo``, exit statuses, error wording;
``_base``: what a command is made of (the progress line too); a module per
command family (``_listings``, ``_jobs``); ``_output``: documents in the service's key order,
in each format. It uses the public face of the library and its argument checks (``_checks``).
"""

from ._main import COMMANDS, main, run

__all__ = ["COMMANDS", "main", "run"]
