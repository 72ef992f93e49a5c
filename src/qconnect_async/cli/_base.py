"""What every command is made of: exit statuses, errors, a Command and the Invocation it runs
in, argument checks made before any request, and botocore's resume tokens.

IDs, page sizes and tokens are checked by the library's own checks (``qconnect_async._checks``,
the one private module the CLI uses): the command line refuses exactly what a client would.
"""

from __future__ import annotations

import argparse
import base64
import binascii
import json
import logging
import math
from collections.abc import Callable, Coroutine, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from enum import IntEnum
from typing import Any, TextIO

from qconnect_async import ValidationError, _checks

from ._progress import Progress

PROG = "qconnect-async"


class Exit(IntEnum):
    """The exit statuses, the AWS CLI v2's."""

    OK = 0
    INTERRUPTED = 130  # Ctrl-C
    USAGE = 252  # a bad command line
    CONFIGURATION = 253  # no region, no credentials, an unknown profile
    SERVICE = 254  # the service answered with an error
    OTHER = 255  # anything else: no connection, a malformed answer, a timeout


class UsageError(Exception):
    """Bad command-line arguments or values: one line on stderr, exit status 252."""


class CommandError(Exception):
    """A command's own failure, worded for the user: ``str()`` on stderr, exit ``status``."""

    def __init__(self, message: str, status: int) -> None:
        super().__init__(message)
        self.status = status


class ConfigError(CommandError):
    """The AWS configuration is unusable (exit status 253)."""

    def __init__(self, message: str) -> None:
        super().__init__(message, Exit.CONFIGURATION)


@dataclass
class Invocation:
    """What a command runs with: the resolved global options and the streams."""

    output: str
    query: Any  # a compiled JMESPath expression, or None
    client_options: dict[str, Any]  # keyword arguments of QConnectClient
    stdout: TextIO
    progress: Progress
    log: logging.Logger = field(default_factory=lambda: logging.getLogger("qconnect_async.cli"))


@dataclass(frozen=True)
class Command:
    """One subcommand, e.g. ``list-import-jobs``; listed in ``_main.COMMANDS``."""

    name: str
    help: str
    #: adds the command's own arguments to its parser
    add_arguments: Callable[[argparse.ArgumentParser], None]
    #: runs the command; an error it raises is reported by ``_main``
    run: Callable[[argparse.Namespace, Invocation], Coroutine[Any, Any, None]]
    #: checks the arguments before any request (raises UsageError)
    check: Callable[[argparse.Namespace], None] = lambda args: None
    epilog: str = ""


@contextmanager
def checked_input() -> Iterator[None]:
    """Around a check or a library call: its refusal of an input before any request (a bad
    ID, an ARN of another Region, a missing file) is a bad command line (252), as in ``aws``."""
    try:
        yield
    except ValidationError as exc:
        # operation set: the service answered ValidationException (254, not ours to judge).
        if exc.operation is not None:
            raise
        raise UsageError(exc.message) from None


def knowledge_base(value: str) -> str:
    """The ID of a knowledge base given as an ID or an ARN, checked as a client checks it."""
    with checked_input():
        return _checks.knowledge_base_id(value)


def import_job_id(value: str) -> str:
    with checked_input():
        return _checks.import_job_id(value)


def positive_int(text: str) -> int:
    """An argparse type: a whole number of at least 1."""
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a whole number: {text!r}") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be at least 1, not {value}")
    return value


def seconds(text: str) -> float:
    """An argparse type: a positive, finite number of seconds."""
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a number of seconds: {text!r}") from None
    if not math.isfinite(value) or value <= 0:
        raise argparse.ArgumentTypeError(f"must be a positive number of seconds, not {text}")
    return value


def _page_size(text: str) -> int:
    try:
        return _checks.page_size(positive_int(text)) or 0
    except ValidationError as exc:
        raise argparse.ArgumentTypeError(exc.message.removeprefix("page_size ")) from None


def add_paging(parser: argparse.ArgumentParser, items: str) -> None:
    """The AWS CLI's pagination options, for a listing of ``items``."""
    add, most = parser.add_argument, _checks.MAX_PAGE_SIZE
    add("--max-items", type=positive_int, metavar="N", help=f"print N {items}, then a NextToken")
    add("--starting-token", type=decode_token, metavar="TOKEN", help="resume from a NextToken")
    add("--page-size", type=_page_size, metavar="N", help=f"per request, 1-{most} (default {most})")


# Resume tokens as botocore's paginator writes them: base64 of {"nextToken": the service's
# token, "boto_truncate_amount": the items of that page already printed}.
_TOKEN_NAME, _TRUNCATE = "nextToken", "boto_truncate_amount"


def encode_token(token: str | None, skip: int = 0) -> str:
    """A resume token in botocore's format."""
    data: dict[str, Any] = {_TOKEN_NAME: token} | ({_TRUNCATE: skip} if skip else {})
    return base64.b64encode(json.dumps(data).encode()).decode()


def decode_token(text: str) -> tuple[str | None, int]:
    """The service token and the items to skip of a ``--starting-token`` (an argparse type):
    botocore's format, or else the service's own token (a library page's ``next_token``),
    which it then judges; a bad one is a UsageError."""
    try:
        data = json.loads(base64.b64decode(text, validate=True))
    except (binascii.Error, ValueError):
        data = None
    if not isinstance(data, dict) or _TOKEN_NAME not in data:
        data = {_TOKEN_NAME: text}
    token, skip = data[_TOKEN_NAME], data.get(_TRUNCATE, 0)
    if not (token is None or isinstance(token, str)) or not isinstance(skip, int) or skip < 0:
        raise UsageError(f"not a valid --starting-token: {text!r}")
    with checked_input():
        return _checks.token(token), skip
