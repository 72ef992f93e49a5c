"""pytest plugin (entry point `pytest11`): the `qconnect_server` fixture.

One server per test session, reset before each test that uses it. Importing this module starts
nothing and does not import moto: the server is built on first use.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from typing import TYPE_CHECKING

import pytest

if TYPE_CHECKING:
    from ._server import QConnectServer


@pytest.fixture(scope="session")
def _qconnect_server_session() -> Iterator[QConnectServer]:
    from ._server import QConnectServer

    with QConnectServer() as server:
        yield server


def _fresh(server: QConnectServer, wait: float = 5.0) -> None:
    """Reset, after the requests a previous test cut off (timeouts, cancels) have ended.

    Such a request may still be sleeping in a server thread (injected latency): counted in
    the next test's stats, it would make its in-flight figures wrong.
    """
    server.clear_faults()  # no new latency; then wait for what is already sleeping
    deadline = time.monotonic() + wait
    while server.stats.in_flight > 0 and time.monotonic() < deadline:
        time.sleep(0.01)
    server.reset()


@pytest.fixture
def qconnect_server(_qconnect_server_session: QConnectServer) -> Iterator[QConnectServer]:
    """A running QConnectServer with no data, faults or counts (shared by the session)."""
    _fresh(_qconnect_server_session)
    yield _qconnect_server_session
    # Leave no fault behind for tests that reach the server without this fixture.
    _fresh(_qconnect_server_session)
