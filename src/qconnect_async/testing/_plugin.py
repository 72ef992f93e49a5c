"""What the pytest plugin's fixtures do (the plugin itself is ``pytest_qconnect_async``).

Imported only when a fixture is first used: this module imports the package and the server.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

# An install made before 0.2 names this module as its pytest11 entry point: give it the
# fixtures too (only one of the two modules is ever registered as a plugin).
from pytest_qconnect_async import (  # noqa: F401
    _qconnect_server_session,
    pytest_report_header,
    qconnect_client,
    qconnect_env,
    qconnect_server,
)
from qconnect_async import QConnectClient
from qconnect_async.testing import set_testing

from ._server import QConnectServer

__all__ = ["DUMMY_CREDENTIALS", "aws_environment", "fresh", "open_client", "session_server"]

#: What the fixtures' clients sign with: the fake service accepts any key.
DUMMY_CREDENTIALS = {"aws_access_key_id": "testing", "aws_secret_access_key": "testing"}


@contextmanager
def session_server() -> Iterator[QConnectServer]:
    """The session's server, stopped at the end of the session."""
    with QConnectServer() as server:
        yield server


@contextmanager
def fresh(server: QConnectServer) -> Iterator[None]:
    """An empty server and testing mode for one test; no fault is left behind after it."""
    _reset(server)
    with set_testing(True):
        yield
    # Leave no fault behind for tests that reach the server without this fixture.
    _reset(server)


def _reset(server: QConnectServer, wait: float = 5.0) -> None:
    """Reset, after the requests a previous test cut off (timeouts, cancels) have ended.

    Such a request may still be sleeping in a server thread (injected latency): counted in
    the next test's stats, it would make its in-flight figures wrong.
    """
    server.clear_faults()  # no new latency; then wait for what is already sleeping
    deadline = time.monotonic() + wait
    # A request sent before the client went away but not yet read (or not yet accepted)
    # would be served, and counted, after the reset: wait until the server has read them all.
    server._settled(wait)
    while server.stats.in_flight > 0 and time.monotonic() < deadline:
        time.sleep(0.01)
    server.reset()


def aws_environment(server: QConnectServer, home: Path) -> dict[str, str]:
    """The AWS variables of a test that reaches ``server`` and nothing of the user's."""
    (home / "config").touch()
    (home / "credentials").touch()
    return {
        "AWS_ENDPOINT_URL_QCONNECT": server.endpoint_url,
        "AWS_DEFAULT_REGION": server.region,
        "AWS_ACCESS_KEY_ID": DUMMY_CREDENTIALS["aws_access_key_id"],
        "AWS_SECRET_ACCESS_KEY": DUMMY_CREDENTIALS["aws_secret_access_key"],
        "AWS_CONFIG_FILE": str(home / "config"),
        "AWS_SHARED_CREDENTIALS_FILE": str(home / "credentials"),
        # No instance-metadata lookups: they would try to reach 169.254.169.254.
        "AWS_EC2_METADATA_DISABLED": "true",
    }


def open_client(server: QConnectServer) -> QConnectClient:
    """A client of ``server`` (open it with ``async with``)."""
    return QConnectClient(
        endpoint_url=server.endpoint_url,
        region_name=server.region,
        aws_access_key_id=DUMMY_CREDENTIALS["aws_access_key_id"],
        aws_secret_access_key=DUMMY_CREDENTIALS["aws_secret_access_key"],
    )
