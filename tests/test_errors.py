"""The error tree's helpers: the map from service codes and the one Retry-After parser."""

from __future__ import annotations

import email.utils
import time

import pytest

from qconnect_async._errors import retry_after_seconds


@pytest.mark.parametrize(("header", "seconds"), [("3", 3.0), ("0.25", 0.25), ("-4", 0.0)])
def test_retry_after_in_seconds_is_read_as_seconds(header: str, seconds: float) -> None:
    """Delta-seconds are taken as they are, a negative one as no wait."""
    assert retry_after_seconds(header) == seconds


def test_retry_after_as_an_http_date_is_the_seconds_until_it() -> None:
    """An HTTP date is the seconds from now until that date."""
    header = email.utils.formatdate(time.time() + 30, usegmt=True)
    seconds = retry_after_seconds(header)
    assert seconds is not None and 27 <= seconds <= 30


@pytest.mark.parametrize("header", [None, "", "soon", "Mon, 99 Foo 2026"])
def test_an_unreadable_retry_after_is_none(header: str | None) -> None:
    """No header, an empty one or one that is neither a number nor a date: no wait asked."""
    assert retry_after_seconds(header) is None
