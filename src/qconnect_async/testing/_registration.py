"""Make the QConnect backend known to moto, from outside moto's package.

moto has no plugin API (getmoto/moto#7126 was declined), so this leans on two internals, both
pinned by tests/test_server_registration.py:

* `moto.backends.get_backend(name)` imports `moto.<name>` and reads `<name>_backends`: an alias
  in sys.modules makes `moto.qconnect` our backend module.
* moto's server picks a backend by matching `http://<host>` against
  `moto.backend_index.backend_url_patterns`; a SigV4 request signed for `wisdom` is given the host
  `wisdom.<region>.amazonaws.com`, so one pattern more routes it to us.
"""

from __future__ import annotations

import re
import sys
import threading

SERVICE_NAME = "qconnect"
MODULE_ALIAS = f"moto.{SERVICE_NAME}"
URL_PATTERN = re.compile(r"https?://wisdom\.(.+)\.amazonaws\.com")

_lock = threading.Lock()


def register() -> None:
    """Register the backend with moto; idempotent and thread-safe."""
    import moto.backend_index as backend_index

    from . import _backend

    with _lock:
        sys.modules[MODULE_ALIAS] = _backend
        patterns = backend_index.backend_url_patterns
        if not any(name == SERVICE_NAME for name, _ in patterns):
            # In place: moto's dispatcher holds a reference to this very list.
            patterns.append((SERVICE_NAME, URL_PATTERN))
