"""Test isolation: no test may see the developer's AWS setup or reach AWS.

A developer's ``~/.aws/config`` (a profile's region, retry mode, endpoint) or an exported
``AWS_*`` variable silently changes what botocore does, so every test starts from nothing but
dummy credentials and an empty config, as aiobotocore's own suite does.
"""

from __future__ import annotations

import asyncio
import os
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

from _fake_time import FakeClockLoop
from _mutation_order import (
    exit_when_hung,
    kill_order,
    measured_durations,
    mutated_module,
    time_bound,
)
from qconnect_async._config import set_testing

if TYPE_CHECKING:
    from qconnect_async import QConnectClient

_EMPTY = Path(__file__).parent / ".aws-empty"


def _isolate_env() -> None:
    for name in list(os.environ):
        if name.startswith("AWS_"):
            del os.environ[name]
    _EMPTY.mkdir(exist_ok=True)
    os.environ.update(
        {
            "AWS_ACCESS_KEY_ID": "testing",
            "AWS_SECRET_ACCESS_KEY": "testing",
            "AWS_DEFAULT_REGION": "us-east-1",
            "AWS_CONFIG_FILE": str(_EMPTY / "config"),
            "AWS_SHARED_CREDENTIALS_FILE": str(_EMPTY / "credentials"),
            # No instance-metadata lookups: they would try to reach 169.254.169.254.
            "AWS_EC2_METADATA_DISABLED": "true",
        }
    )


# At import time too, so that session-scoped fixtures (the server) start isolated.
_isolate_env()


@pytest.fixture(autouse=True)
def _aws_isolation(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """Re-isolate before each test; monkeypatch undoes what a test changes."""
    for name in list(os.environ):
        if name.startswith("AWS_"):
            monkeypatch.delenv(name)
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    monkeypatch.setenv("AWS_DEFAULT_REGION", "us-east-1")
    monkeypatch.setenv("AWS_CONFIG_FILE", str(_EMPTY / "config"))
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(_EMPTY / "credentials"))
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")
    yield


@pytest.fixture(autouse=True)
def _no_backoff() -> Iterator[None]:
    """Backoff waits are zero in tests (stamina's testing mode); tests never sleep for it."""
    with set_testing(True):
        yield


@pytest.fixture
def client(qconnect_client: QConnectClient) -> QConnectClient:
    """An open client on ``qconnect_server``: the shipped ``qconnect_client`` fixture."""
    return qconnect_client


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line(
        "markers", "fake_clock: run on FakeClockLoop, whose clock jumps to the next timer"
    )


def _order_line(config: pytest.Config) -> str | None:
    """How to replay this run's order (pytest-randomly's seed), if the order is random."""
    seed = getattr(config.option, "randomly_seed", None)
    if not isinstance(seed, int):  # pytest-randomly disabled (-p no:randomly)
        return None
    return f"random order, seed {seed}: replay it with pytest --randomly-seed={seed}"


def pytest_sessionstart(session: pytest.Session) -> None:
    # pytest-randomly's report header is hidden by -q (as `make test` runs): say it anyway,
    # first (a run that hangs still shows it) and last (see pytest_terminal_summary).
    line = _order_line(session.config)
    reporter = session.config.pluginmanager.get_plugin("terminalreporter")
    if line is not None and reporter is not None:
        reporter.write_line(line)


def pytest_terminal_summary(terminalreporter: Any, config: pytest.Config) -> None:
    line = _order_line(config)
    if line is not None:
        terminalreporter.write_line(line)


@pytest.hookimpl(trylast=True)
def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Under ``make mutate`` only: a mutant's likely killers first (see _mutation_order)."""
    if not _mutant_under_test():
        return
    mutant = os.environ["MUTANT_UNDER_TEST"]
    order = kill_order([item.nodeid for item in items], mutant, _durations(config))
    items[:] = [items[index] for index in order]


@pytest.hookimpl(wrapper=True)
def pytest_runtest_protocol(item: pytest.Item, nextitem: pytest.Item | None) -> Iterator[object]:
    """Under ``make mutate`` only: a test that hangs ends the child as a timeout at once."""
    if not _mutant_under_test():
        return (yield)
    with exit_when_hung(time_bound(item.nodeid, _durations(item.config))):
        return (yield)


_DURATIONS = pytest.StashKey[dict[str, float]]()


def _durations(config: pytest.Config) -> dict[str, float]:
    """mutmut's measured test durations, read once per run."""
    if _DURATIONS not in config.stash:
        config.stash[_DURATIONS] = measured_durations()
    return config.stash[_DURATIONS]


def _mutant_under_test() -> bool:
    """Whether this process is a mutmut child running one mutant's tests."""
    return mutated_module(os.environ.get("MUTANT_UNDER_TEST", "")) is not None


@pytest.fixture(scope="session")
def _qconnect_server_session() -> Iterator[Any]:
    """The plugin's session server, left running at the end of a mutmut child.

    A mutmut child ends with ``os._exit`` right after its tests, which ends the server's
    thread too; stopping it first would wait up to half a second for the thread's poll, a
    large share of a mutant's time. Everywhere else the server stops as the plugin's does.
    """
    from qconnect_async.testing import QConnectServer

    server = QConnectServer().start()
    yield server
    if not _mutant_under_test():
        server.stop()


def pytest_asyncio_loop_factories(
    config: pytest.Config, item: pytest.Item
) -> dict[str, Callable[[], asyncio.AbstractEventLoop]]:
    """One clock for timing tests: the loop's, fake for tests marked ``fake_clock``."""
    if item.get_closest_marker("fake_clock") is not None:
        return {"fake_clock": FakeClockLoop}
    return {"asyncio": asyncio.new_event_loop}


# The real redis-server fixtures of the RedisRateLimiter tests.
from _redis_server import own_redis_server, redis_server, redis_session  # noqa: E402, F401
