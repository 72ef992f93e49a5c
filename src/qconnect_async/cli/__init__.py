"""The ``qconnect-async`` command (also ``python -m qconnect_async``), on the AWS CLI's
conventions: its options, pagination, resume tokens, output formats and exit statuses.

``_main`` parses, runs a command and words its errors; ``_settings`` resolves the AWS settings
(and ``--demo``'s local service); ``_base`` is what a command is made of; one module per
command family (``_import_jobs``, ``_jobs``, ``_knowledge_bases``); ``_output`` prints
documents in the service's key order in each format; ``_progress`` draws the line on stderr.
The package uses the public face of ``qconnect_async`` and ``qconnect_async.testing``, and the
library's own argument checks (``qconnect_async._checks``).
"""

from ._main import COMMANDS, main

__all__ = ["COMMANDS", "main"]
