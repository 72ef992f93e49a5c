"""Process-wide switches: testing mode, on, off, and as a context manager."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

import qconnect_async.testing
from qconnect_async._config import is_testing, set_testing


@pytest.fixture(autouse=True)
def _not_testing() -> Iterator[None]:
    """Every test starts and ends with testing mode off."""
    with set_testing(False):
        yield


def test_testing_mode_is_turned_on_and_off() -> None:
    """set_testing() turns it on, set_testing(False) off."""
    set_testing()
    assert is_testing()
    set_testing(False)
    assert not is_testing()


def test_testing_mode_as_a_context_manager_restores_the_previous_mode() -> None:
    """`with set_testing(True):` turns testing on for the block only."""
    with set_testing(True):
        assert is_testing()
        with set_testing(False):
            assert not is_testing()
        assert is_testing()
    assert not is_testing()


def test_the_public_switch_is_this_one() -> None:
    """qconnect_async.testing.set_testing is the switch of _config (no second copy)."""
    assert qconnect_async.testing.set_testing is set_testing
