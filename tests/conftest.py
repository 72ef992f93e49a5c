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

import pytest

from _fake_time import FakeClockLoop
from qconnect_async._retry import set_testing

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


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line(
        "markers", "fake_clock: run on FakeClockLoop, whose clock jumps to the next timer"
    )


def pytest_asyncio_loop_factories(
    config: pytest.Config, item: pytest.Item
) -> dict[str, Callable[[], asyncio.AbstractEventLoop]]:
    """One clock for timing tests: the loop's, fake for tests marked ``fake_clock``."""
    if item.get_closest_marker("fake_clock") is not None:
        return {"fake_clock": FakeClockLoop}
    return {"asyncio": asyncio.new_event_loop}


# The real redis-server fixtures of the RedisRateLimiter tests.
from _redis_server import own_redis_server, redis_server, redis_session  # noqa: E402, F401
