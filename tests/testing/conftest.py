"""Fixtures of the fake's tests: a boto3 client whose every response is checked."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from _server_helpers import WireLog, make_client

from qconnect_async.testing import QConnectServer


@pytest.fixture
def wire() -> WireLog:
    """The model check of the `client` fixture's responses."""
    return WireLog()


@pytest.fixture
def client(qconnect_server: QConnectServer, wire: WireLog) -> Iterator[Any]:
    """A boto3 client whose every response is checked against the model."""
    client = make_client(qconnect_server)
    client.meta.events.register("before-parse.qconnect.*", wire)
    yield client
    client.close()
    assert wire.errors == []
