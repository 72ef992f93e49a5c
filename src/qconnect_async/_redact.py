"""Keep secrets out of botocore's DEBUG lines for the requests this library makes.

botocore logs the canonical request (``botocore.auth``: the ``x-amz-security-token`` header
and the signature) and the prepared request (``botocore.endpoint``, ``aiobotocore.endpoint``:
the Authorization and X-Amz-Security-Token headers) at DEBUG, and ``botocore.parsers`` logs
response bodies (presigned upload and report URLs). While a client this library
owns is open, a filter on every botocore/aiobotocore logger rewrites those records, but only
the records logged inside one of our calls (a context variable marks them): other code's
botocore lines are left as they are.
"""

from __future__ import annotations

import contextvars
import logging
import re
from collections.abc import Iterator
from contextlib import contextmanager

__all__ = ["REDACTED", "in_our_call", "redact", "unwatch", "watch"]

REDACTED = "<redacted>"
_PREFIXES = ("botocore", "aiobotocore")

_ours: contextvars.ContextVar[bool] = contextvars.ContextVar("qconnect_async_call", default=False)

# A presigned URL (StartContentUpload's, GetImportJob's) is a credential as a whole.
_PRESIGNED = re.compile(r"https?://[^\s'\"]*[?&]X-Amz-Signature=[^\s'\"]*", re.IGNORECASE)
# Each pattern keeps its first group (the name) and replaces the secret after it.
_PATTERNS = (
    # canonical request line "x-amz-security-token:<token>"; header dict "'X-Amz-Security-Token':
    # b'<token>'"; query "X-Amz-Security-Token=<token>" (presigned URLs)
    re.compile(r"(x-amz-security-token['\"]?\s*[:=]\s*b?['\"]?)[^'\"\s,&}]+", re.IGNORECASE),
    # "Signature=<hex>" in the Authorization header, "X-Amz-Signature=<hex>" in presigned URLs
    re.compile(r"((?:x-amz-)?signature=)[0-9a-f]+", re.IGNORECASE),
    # botocore.auth's "Signature:\n<hex>"
    re.compile(r"(signature:\s*)[0-9a-f]{16,}", re.IGNORECASE),
    # an Authorization header's credential scope names the access key: keep it out too
    re.compile(r"(credential=)[^/,\s'\"]+", re.IGNORECASE),
    re.compile(r"(x-amz-credential=)[^&\s'\"]+", re.IGNORECASE),
    # STS AssumeRole's answer (a QConnectRouter's role credentials), in botocore's body line
    re.compile(r"(<(?:AccessKeyId|SecretAccessKey|SessionToken)>)[^<]+"),
)


def redact(text: str) -> str:
    """``text`` with presigned URLs, session tokens, signatures and access key ids replaced."""
    text = _PRESIGNED.sub(REDACTED, text)
    for pattern in _PATTERNS:
        text = pattern.sub(lambda m: m.group(1) + REDACTED, text)
    return text


class _RedactingFilter(logging.Filter):
    """Rewrites a record logged inside one of our calls; never drops one."""

    def filter(self, record: logging.LogRecord) -> bool:
        if _ours.get():
            message = record.getMessage()
            cleaned = redact(message)
            if cleaned != message:
                record.msg, record.args = cleaned, None
        return True


_FILTER = _RedactingFilter()
_watchers = 0


def _loggers() -> Iterator[logging.Logger]:
    names = list(logging.root.manager.loggerDict)
    for name in names:
        if name.split(".", 1)[0] in _PREFIXES:
            yield logging.getLogger(name)
    for prefix in _PREFIXES:
        yield logging.getLogger(prefix)


def watch() -> None:
    """An owned client opened: make sure every botocore logger carries the filter.

    Filters on a logger see only records logged to that very logger (not its children),
    so it goes on each one; by the time a client exists, botocore's modules are imported.
    """
    global _watchers
    _watchers += 1
    for logger in _loggers():
        if _FILTER not in logger.filters:
            logger.addFilter(_FILTER)


def unwatch() -> None:
    """An owned client closed: the last one takes the filter away again."""
    global _watchers
    _watchers = max(0, _watchers - 1)
    if _watchers == 0:
        for logger in _loggers():
            logger.removeFilter(_FILTER)


@contextmanager
def in_our_call() -> Iterator[None]:
    """Mark the records logged inside this block as ours (to redact)."""
    token = _ours.set(True)
    try:
        yield
    finally:
        _ours.reset(token)
