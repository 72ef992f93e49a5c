"""The pytest plugin of qconnect-async (entry point ``pytest11``): a fake service for your tests.

Fixtures: ``qconnect_server`` (a running QConnectServer, one per session, emptied before each
test), ``qconnect_env`` (the test's AWS settings point at it: endpoint, region, dummy
credentials, no ``~/.aws``), ``qconnect_client`` (an open QConnectClient on it; async, so it
needs pytest-asyncio). Each of them turns ``qconnect_async.testing.set_testing`` on: no backoff
and no pacing waits, so injected throttles cost milliseconds.

This module lives outside the ``qconnect_async`` package on purpose: pytest loads it at every
start of every project where qconnect-async is installed, and importing anything inside the
package imports the package (aiobotocore, botocore, pydantic: ~0.4 s). Here nothing is imported
until a fixture is used. Without the ``testing`` extra (moto) the fixtures fail with a message
saying what to install.
"""

from __future__ import annotations

import importlib.util
import os
import time
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

if TYPE_CHECKING:
    from qconnect_async import QConnectClient
    from qconnect_async.testing import QConnectServer

__all__ = ["qconnect_client", "qconnect_env", "qconnect_server"]

INSTALL = "pip install 'qconnect-async[testing]'"
#: What the testing extra brings, by import name (found without importing them).
_EXTRA_MODULES = ("moto", "werkzeug", "flask", "pytest_asyncio")


def missing_extra() -> list[str]:
    """The modules of the ``testing`` extra that are not installed."""
    return [name for name in _EXTRA_MODULES if importlib.util.find_spec(name) is None]


def pytest_report_header(config: pytest.Config) -> list[str] | None:
    missing = missing_extra()
    if not missing:
        return None
    return [
        f"qconnect-async: the testing extra is not installed ({', '.join(missing)} missing); "
        f"its fixtures fail until you {INSTALL}"
    ]


def _require(fixture: str) -> None:
    missing = missing_extra()
    if missing:
        pytest.fail(
            f"the {fixture} fixture needs the testing extra of qconnect-async "
            f"({', '.join(missing)} not installed): {INSTALL}",
            pytrace=False,
        )


#: What the fixtures' clients sign with: the fake service accepts any key.
DUMMY_CREDENTIALS = {"aws_access_key_id": "testing", "aws_secret_access_key": "testing"}


@pytest.fixture(scope="session")
def _qconnect_server_session() -> Iterator[QConnectServer]:
    _require("qconnect_server")
    from qconnect_async.testing import QConnectServer

    with QConnectServer() as server:
        yield server


@pytest.fixture
def qconnect_server(_qconnect_server_session: QConnectServer) -> Iterator[QConnectServer]:
    """A running QConnectServer with no data, faults or counts (shared by the session);
    testing mode is on while the test runs."""
    from qconnect_async.testing import set_testing

    server = _qconnect_server_session
    _reset(server)
    with set_testing(True):
        yield server
    _reset(server)  # no fault left behind for tests that reach the server without the fixture


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


@pytest.fixture
def qconnect_env(
    qconnect_server: QConnectServer,
    monkeypatch: pytest.MonkeyPatch,
    tmp_path_factory: pytest.TempPathFactory,
) -> QConnectServer:
    """The test's AWS settings, isolated from yours: every ``AWS_*`` variable removed, then
    the server's endpoint (AWS_ENDPOINT_URL_QCONNECT) and region, dummy credentials, and empty
    config files. A ``QConnectClient()`` your code creates reaches the server."""
    for name in [name for name in os.environ if name.startswith("AWS_")]:
        monkeypatch.delenv(name)
    home = tmp_path_factory.mktemp("qconnect-aws")
    for name, value in aws_environment(qconnect_server, home).items():
        monkeypatch.setenv(name, value)
    return qconnect_server


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


def _async_client_fixture() -> Any:
    if importlib.util.find_spec("pytest_asyncio") is None:

        @pytest.fixture(name="qconnect_client")
        def without_pytest_asyncio() -> None:
            """An open QConnectClient on ``qconnect_server`` (needs pytest-asyncio)."""
            _require("qconnect_client")

        return without_pytest_asyncio

    import pytest_asyncio

    @pytest_asyncio.fixture(name="qconnect_client")
    async def client(qconnect_env: QConnectServer) -> AsyncIterator[QConnectClient]:
        """An open QConnectClient on ``qconnect_server``: its endpoint and region, dummy
        credentials; closed after the test."""
        from qconnect_async import QConnectClient

        async with QConnectClient(
            endpoint_url=qconnect_env.endpoint_url,
            region_name=qconnect_env.region,
            aws_access_key_id=DUMMY_CREDENTIALS["aws_access_key_id"],
            aws_secret_access_key=DUMMY_CREDENTIALS["aws_secret_access_key"],
        ) as client:
            yield client

    return client


qconnect_client = _async_client_fixture()
