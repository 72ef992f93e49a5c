"""What every CLI subcommand is made of: a Command, the Invocation it runs in, usage errors.

A subcommand is one ``Command``: its arguments, a check made before any request, and an
async ``run``. ``cli.py`` owns what is common (global options, the client, exit statuses and
error wording); add a command by writing a ``Command`` and listing it in ``cli.COMMANDS``.
"""

from __future__ import annotations

import argparse
import logging
from collections.abc import Callable, Coroutine, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any, TextIO

from qconnect_async import ValidationError

from ._output import Progress

__all__ = [
    "CONFIGURATION",
    "INTERRUPTED",
    "OK",
    "OTHER",
    "SERVICE",
    "USAGE",
    "Command",
    "CommandError",
    "Invocation",
    "UsageError",
    "checked_input",
    "positive_int",
]

# The AWS CLI v2's return codes.
OK, INTERRUPTED, USAGE, CONFIGURATION, SERVICE, OTHER = 0, 130, 252, 253, 254, 255


class UsageError(Exception):
    """Bad command-line arguments or values: one line on stderr, exit status 252."""


class CommandError(Exception):
    """A command's own failure, worded for the user: ``str()`` on stderr, exit ``status``."""

    def __init__(self, message: str, status: int) -> None:
        super().__init__(message)
        self.status = status


@contextmanager
def checked_input() -> Iterator[None]:
    """Around a library call: its refusal of an input before any request (a bad ID, an ARN
    of another Region, a missing file) is a bad command line (252), as ``aws`` has it."""
    try:
        yield
    except ValidationError as exc:
        # operation set: the service answered ValidationException (254, not ours to judge).
        if exc.operation is not None:
            raise
        raise UsageError(exc.message) from None


@dataclass
class Invocation:
    """What a command runs with: the resolved global options and the streams."""

    output: str
    #: a compiled JMESPath expression, or None
    query: Any
    debug: bool
    #: keyword arguments of QConnectClient
    client_options: dict[str, Any]
    stdout: TextIO
    progress: Progress
    log: logging.Logger = field(default_factory=lambda: logging.getLogger("qconnect_async.cli"))


@dataclass(frozen=True)
class Command:
    """One subcommand, e.g. ``list-import-jobs``."""

    name: str
    help: str
    #: adds the command's own arguments to its parser
    add_arguments: Callable[[argparse.ArgumentParser], None]
    #: checks the arguments before any request (raises UsageError)
    check: Callable[[argparse.Namespace], None]
    #: runs the command; an error it raises is reported by ``cli.py``
    run: Callable[[argparse.Namespace, Invocation], Coroutine[Any, Any, None]]
    epilog: str = ""


def positive_int(text: str) -> int:
    """An argparse type: a whole number of at least 1."""
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a whole number: {text!r}") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be at least 1, not {value}")
    return value
