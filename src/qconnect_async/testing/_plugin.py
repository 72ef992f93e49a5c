"""pytest plugin (entry point `pytest11`): the `qconnect_server` fixture.

One server per test session, reset before each test that uses it. Importing this module starts
nothing and does not import moto: the server is built on first use.
"""

from __future__ import annotations

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


@pytest.fixture
def qconnect_server(_qconnect_server_session: QConnectServer) -> Iterator[QConnectServer]:
    """A running QConnectServer with no data, faults or counts (shared by the session)."""
    _qconnect_server_session.reset()
    yield _qconnect_server_session
    # Leave no fault behind for tests that reach the server without this fixture.
    _qconnect_server_session.reset()
