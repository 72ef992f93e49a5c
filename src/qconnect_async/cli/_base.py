"""What every command is made of: exit statuses, errors, the progress line on stderr, a Command
and the Invocation it runs in, argument checks (the library's own: the command line refuses
what a client would) and botocore's resume tokens."""

from __future__ import annotations

import argparse
import base64
import binascii
import gc
import json
import logging
import math
import time
from collections.abc import AsyncIterator, Callable, Coroutine, Iterable, Iterator
from contextlib import AbstractAsyncContextManager, asynccontextmanager, contextmanager
from dataclasses import dataclass, field
from enum import IntEnum
from typing import TYPE_CHECKING, Any, TextIO

from qconnect_async import ValidationError, _checks

if TYPE_CHECKING:
    from qconnect_async import QConnectClient, QConnectRouter, RetryDetails

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


_NOTICE_AFTER = 1.0  # seconds: a retry that waits longer is announced on stderr
_ERASE = "\r\x1b[K"
_TICK = 1.0  # how often a waiting line is redrawn (its elapsed time), seconds


def count(n: int, noun: str) -> str:
    """``1 import job``, ``2 import jobs``."""
    return f"{n} {noun}{'' if n == 1 else 's'}"


class Progress:
    """A note (uploading, waiting), or the knowledge bases done of the total and jobs so far.

    Every method but ``retry_notice`` is a no-op unless ``enabled`` (stderr is a terminal).
    Redraws are limited to one per ``interval`` seconds, except when a KB finishes.
    """

    def __init__(self, stream: TextIO, *, enabled: bool, interval: float = 0.1) -> None:
        self.enabled, self._stream, self._interval = enabled, stream, interval
        self._note, self._total, self._done, self._jobs = "", 0, 0, 0
        self._last, self._shown = -interval, False

    def note(self, text: str) -> None:  # shown until ``start``
        self._note = text
        self._draw(force=True)

    def start(self, total: int) -> None:  # counting begins: ``total`` knowledge bases to list
        self._note, self._total = "", total
        self._draw(force=True)

    def job(self) -> None:
        self._jobs += 1
        self._draw()

    def listing_done(self, knowledge_base_id: str, error: Any) -> None:  # ``on_listing_done``
        self._done += 1
        self._draw(force=True)

    def retry_notice(self, details: RetryDetails) -> None:
        """A retry hook: a line per retry long enough to be noticed, so that a slow command
        says why (--debug logs every retry)."""
        if details.wait > _NOTICE_AFTER:
            self.clear()  # the line comes back at the next redraw
            wait, code = round(details.wait, 1), details.cause.code
            self._stream.write(f"retrying {details.operation} in {wait:g}s ({code})\n")
            self._stream.flush()

    @asynccontextmanager
    async def ticking(self, line: Callable[[], str]) -> AsyncIterator[None]:
        """While the body waits, ``line()`` redrawn every ``_TICK`` seconds (a terminal's time
        waited); erased at the end."""
        import asyncio

        async def tick() -> None:
            while True:
                self.note(line())
                await asyncio.sleep(_TICK)

        ticker = asyncio.create_task(tick()) if self.enabled else None
        try:
            yield
        finally:
            if ticker is not None:
                ticker.cancel()
                await asyncio.wait((ticker,))  # leave no task behind; never raises its cancel
            self.clear()

    def clear(self) -> None:
        """Erase the line (it comes back at the next redraw)."""
        if self._shown:
            self._stream.write(_ERASE)
            self._stream.flush()
            self._shown = False

    def _draw(self, *, force: bool = False) -> None:
        now = time.monotonic()
        if not self.enabled or (not force and now - self._last < self._interval):
            return
        self._last, self._shown = now, True
        jobs = count(self._jobs, "import job")
        listing = f"listing: {self._done}/{self._total} knowledge bases done, {jobs}"
        self._stream.write(_ERASE + (self._note or listing))
        self._stream.flush()


@dataclass
class Invocation:
    """What a command runs with: the resolved global options and the streams."""

    output: str
    query: Any  # a compiled JMESPath expression, or None
    client_options: dict[str, Any]  # keyword arguments of QConnectClient
    stdout: TextIO
    progress: Progress
    #: the program paused the garbage collector for its start (``_main.run``)
    gc_paused: bool = False
    log: logging.Logger = field(default_factory=lambda: logging.getLogger("qconnect_async.cli"))

    @asynccontextmanager
    async def client(self, **options: Any) -> AsyncIterator[QConnectClient]:
        """The client, open; then what start-up made is frozen out of the collector's way."""
        from qconnect_async import QConnectClient

        async with QConnectClient(**self.client_options, **options) as client:
            if self.gc_paused:
                self.gc_paused = False
                gc.freeze()
                gc.enable()
            yield client

    @asynccontextmanager
    async def router(
        self, args: argparse.Namespace, **options: Any
    ) -> AsyncIterator[QConnectRouter]:
        """A QConnectRouter of the same settings: KB ARNs of several accounts and Regions,
        reached by ``--account-profile``'s profile of the account, else by ``--role-name``."""
        from aiobotocore.session import AioSession

        from qconnect_async import QConnectRouter

        given = dict(self.client_options)
        if "aws_access_key_id" in given:
            raise UsageError("--demo serves one account and Region: give KBs of one Region")
        profiles = dict(args.account_profile)
        sessions: dict[str, AioSession] = {}

        def session_for(account: str) -> AioSession | None:
            if account in profiles and account not in sessions:
                sessions[account] = AioSession(profile=profiles[account])
            return sessions.get(account)

        async with QConnectRouter(
            role_name=args.role_name, session_for=session_for, **given, **options
        ) as router:
            yield router

    def service(
        self, args: argparse.Namespace, *, concurrency: int
    ) -> AbstractAsyncContextManager[QConnectClient | QConnectRouter]:
        """The router when ``args.routed`` (see ``routed``), else the client; ``concurrency``
        requests at once (per account and Region with a router)."""
        if args.routed:
            return self.router(args, max_concurrency_per_client=concurrency)
        return self.client(max_concurrency=concurrency)


Run = Callable[[argparse.Namespace, Invocation], Coroutine[Any, Any, None]]


@dataclass(frozen=True)
class Command:
    """One subcommand, e.g. ``list-import-jobs``; listed in ``_main.COMMANDS``."""

    name: str
    help: str
    add_arguments: Callable[[argparse.ArgumentParser], None]
    run: Run  # an error it raises is reported by ``_main``
    check: Callable[[argparse.Namespace], None] = lambda args: None  # raises UsageError
    examples: str = ""  # command lines, for the end of --help


@contextmanager
def checked_input() -> Iterator[None]:
    """Around a check or a library call: its refusal of an input before any request (a bad
    ID, an ARN of another Region, a missing file) is a bad command line (252), as in ``aws``."""
    try:
        yield
    except ValidationError as exc:
        # operation set: the service answered ValidationException (254, not ours to judge);
        # a code of botocore's (ProfileNotFound, ...): the AWS setup (253).
        if exc.operation is not None or exc.code != ValidationError.default_code:
            raise
        raise UsageError(exc.message) from None


def knowledge_base(value: str) -> str:
    """The ID of a knowledge base given as an ID or an ARN, checked as a client checks it."""
    with checked_input():
        return _checks.knowledge_base_id(value)


def place(value: str) -> tuple[str | None, str | None]:
    """The (account, Region) a KB ARN names; (None, None) for a bare ID."""
    with checked_input():
        ref = _checks.knowledge_base_ref(value)
    return ref.account, ref.region


def routed(args: argparse.Namespace, kbs: Iterable[str]) -> bool:
    """Whether ``kbs`` go through a QConnectRouter: with ``--role-name`` or
    ``--account-profile``, or when their ARNs name more than one account and Region (a client
    serves one; an ARN of another Region alone is refused by the client, as a client does)."""
    places = {place(kb) for kb in kbs} - {(None, None)}
    return args.role_name is not None or bool(args.account_profile) or len(places) > 1


def account_profile(text: str) -> tuple[str, str]:
    """An argparse type: ``ACCOUNT=PROFILE``, the AWS profile whose credentials reach the
    12-digit account."""
    account, _, profile = text.partition("=")
    try:
        account = _checks.account_id(account)
    except ValidationError:
        profile = ""
    if not profile:
        raise argparse.ArgumentTypeError(f"not ACCOUNT=PROFILE (12 digits=name): {text!r}")
    return account, profile


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


def add_ids(parser: argparse.ArgumentParser, metavar: str, help: str) -> None:
    """Positionals (``given``: the KB first, as many as the command takes; ``_main`` adds
    those after options too), and the KB as ``--knowledge-base-id`` (as ``aws`` names it)."""
    parser.add_argument("given", nargs="*", metavar=metavar, help=help)
    parser.add_argument(
        "--knowledge-base-id", dest="kb_option", metavar="ID", help="the knowledge base (or ARN)"
    )


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
    """An argparse type: the service token and the items to skip of a ``--starting-token``
    (botocore's format, or else the service's own token, which it then judges)."""
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
