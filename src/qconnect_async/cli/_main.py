"""The entry: global options, the parser, running a command, exit statuses, error wording."""

from __future__ import annotations

import argparse
import contextlib
import gc
import html
import logging
import os
import re
import sys
import traceback
from collections.abc import Sequence
from typing import Any, NoReturn

from qconnect_async import (
    CredentialsError,
    DeadlineExceededError,
    QConnectError,
    TransportError,
    ValidationError,
)

from . import _jobs, _listings
from ._base import PROG, Command, CommandError, Exit, Invocation, Progress, UsageError, seconds
from ._output import FORMATS
from ._settings import client_options, demo_service, output_format

#: The subcommands, in the order of --help.
COMMANDS: tuple[Command, ...] = (
    _listings.LIST_IMPORT_JOBS,
    _jobs.START_IMPORT_JOB,
    _jobs.GET_IMPORT_JOB,
    _jobs.WAIT_IMPORT_JOB,
    _jobs.DELETE_IMPORT_JOB,
    _listings.LIST_KNOWLEDGE_BASES,
)

_MESSAGES = {
    "NoRegion": "You must specify a region. You can also configure your region by setting "
    "AWS_DEFAULT_REGION or passing --region.",
    "NoCredentialsError": "Unable to locate credentials. You can configure credentials by "
    "setting AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY, or AWS_PROFILE.",
}
#: The longest error message printed whole; a longer one is cut (--debug shows it all).
_MAX_MESSAGE = 300
_LOG_FORMAT = "%(asctime)s - %(threadName)s - %(name)s - %(levelname)s - %(message)s"


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> NoReturn:
        # argparse prints the whole usage and exits; one clear line is kinder.
        if message.startswith("unrecognized arguments: "):
            message = "Unknown options: " + message.removeprefix("unrecognized arguments: ")
        raise UsageError(message)


class _Version(argparse.Action):
    def __call__(self, parser: argparse.ArgumentParser, *_: Any) -> None:
        from qconnect_async import __version__  # read on demand: the metadata is slow to load

        print(f"{PROG} {__version__}")
        parser.exit()


def _query(text: str) -> Any:
    import jmespath
    from jmespath.exceptions import JMESPathError

    try:
        return jmespath.compile(text)
    except JMESPathError as exc:
        reason = " ".join(str(exc).split())
        raise argparse.ArgumentTypeError(f"Bad value for --query {text}: {reason}") from None


def _parser() -> argparse.ArgumentParser:
    parser = _Parser(prog=PROG, description="Import jobs of Amazon Q in Connect knowledge bases.")
    parser.add_argument("--version", action=_Version, nargs=0, help="show the version and exit")
    subparsers = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    # The options every command takes, anywhere on the line (as ``aws`` does).
    common = _Parser(add_help=False)
    add = common.add_argument
    add("--output", choices=FORMATS, help="json (default), text, table, ndjson or csv")
    add("--query", type=_query, metavar="JMESPATH", help="a JMESPath query of the output")
    add("--region", help="AWS region (default: from the AWS environment or profile)")
    add("--profile", help="AWS profile (default: AWS_PROFILE or the default profile)")
    add("--endpoint-url", help="service endpoint (default: AWS_ENDPOINT_URL_QCONNECT or AWS)")
    add("--debug", action="store_true", help="log every request and retry; tracebacks")
    add("--cli-connect-timeout", type=seconds, metavar="SECONDS", help="per attempt (default 5)")
    add("--cli-read-timeout", type=seconds, metavar="SECONDS", help="per attempt (default 20)")
    # Taken as aws takes it, so that habits and scripts carry over: this command never pages.
    add("--no-cli-pager", action="store_true", help=argparse.SUPPRESS)
    add("--demo", action="store_true", help="run against a local fake service with demo data")
    for command in COMMANDS:
        sub = subparsers.add_parser(
            command.name,
            help=command.help,
            description=command.help,
            epilog=command.epilog,
            parents=[common],
            formatter_class=argparse.RawDescriptionHelpFormatter,
        )
        command.add_arguments(sub)
        sub.set_defaults(handler=command)
    return parser


def _parse(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = _parser()
    args, extra = parser.parse_known_args(argv)
    # argparse takes a `*` positional from the first run of positionals only
    # (`KB --output json KB2` leaves KB2 over): later ones are taken here.
    unknown = [arg for arg in extra if arg.startswith("-")]
    if unknown or (extra and not hasattr(args, "given")):
        parser.error(f"unrecognized arguments: {' '.join(unknown or extra)}")
    args.given = getattr(args, "given", []) + extra
    return args


def main(argv: Sequence[str] | None = None, *, gc_paused: bool = False) -> int:
    """Run the command line ``argv`` (default ``sys.argv[1:]``); returns the exit status."""
    progress, debug = Progress(sys.stderr, enabled=sys.stderr.isatty()), False
    try:
        args = _parse(argv)
        command: Command = args.handler
        command.check(args)
        if debug := args.debug:  # the library's log (requests, retries) on stderr
            handler = logging.StreamHandler(sys.stderr)
            handler.setFormatter(logging.Formatter(_LOG_FORMAT))
            logging.getLogger("qconnect_async").addHandler(handler)
            logging.getLogger("qconnect_async").setLevel(logging.DEBUG)
        inv = Invocation(
            output=output_format(args),
            query=args.query,
            client_options=client_options(args, progress),
            stdout=sys.stdout,
            progress=progress,
            gc_paused=gc_paused,
        )
        import asyncio  # here, not at the top: --help need not load it

        with demo_service(inv.client_options) if args.demo else contextlib.nullcontext():
            asyncio.run(command.run(args, inv))
        return Exit.OK
    except SystemExit as exc:  # --help, --version
        return exc.code if isinstance(exc.code, int) else Exit.OK
    except KeyboardInterrupt:
        # asyncio.run cancelled the command, which closed its output and its client.
        progress.clear()
        return Exit.INTERRUPTED
    except BrokenPipeError:
        # The reader went away (`| head`): stop quietly, also when Python flushes at exit.
        with contextlib.suppress(OSError, ValueError):
            os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return Exit.OTHER
    except Exception as exc:
        progress.clear()
        if debug:
            traceback.print_exception(exc, file=sys.stderr)
        status, text = _describe(exc)
        print(text, file=sys.stderr)
        return status


def run() -> NoReturn:
    """The program (``qconnect-async``, ``python -m qconnect_async``). Its start (imports,
    botocore's models) makes objects that live until it exits: the garbage collector would
    only walk them again and again (~6% of a one-page listing), so it is paused until the
    client is open (``Invocation.client``); ``main`` called by other code leaves it alone."""
    gc.disable()
    sys.exit(main(gc_paused=True))


def _describe(exc: Exception) -> tuple[int, str]:
    """The exit status of an error, and its wording (as the AWS CLI words it)."""
    if isinstance(exc, UsageError):  # the command line, or the client's checks of its input
        return Exit.USAGE, f"{PROG}: error: {exc} (see {PROG} --help)"
    if isinstance(exc, CommandError):
        return exc.status, str(exc)
    if isinstance(exc, DeadlineExceededError):
        return Exit.OTHER, f"Timed out: {exc.message}"
    if not isinstance(exc, QConnectError):
        return Exit.OTHER, f"{type(exc).__name__}: {exc}"
    # The user's AWS setup, not the request or the service: botocore found it unusable.
    local = isinstance(exc, CredentialsError) and exc.http_status is None
    if local or (isinstance(exc, ValidationError) and exc.operation is None):
        return Exit.CONFIGURATION, _MESSAGES.get(exc.code, exc.message)
    if isinstance(exc, TransportError):
        return Exit.OTHER, _one_line(exc.message, exc.http_status)
    message = _one_line(exc.message, exc.http_status)
    text = f"\nAn error occurred ({exc.code}) when calling the {exc.operation} operation: {message}"
    # A service error is a status the service sent; a 200 it sent badly is not.
    answered = exc.http_status is not None and exc.http_status >= 300
    return (Exit.SERVICE if answered else Exit.OTHER), text


_MARKUP = re.compile(r"<\s*(!doctype|html|head|body|title)\b", re.IGNORECASE)
_TITLE = re.compile(r"<title[^>]*>(.*?)</title>", re.IGNORECASE | re.DOTALL)


def _one_line(message: str, http_status: int | None) -> str:
    """A message fit for one line: an HTML page (a proxy's, a wrong endpoint's) is named,
    not printed; anything else is cut at a few hundred characters."""
    if _MARKUP.search(message):
        found = _TITLE.search(message)
        title = " ".join(html.unescape(found.group(1)).split())[:100] if found else ""
        status = f"HTTP {http_status}" if http_status else "an answer"
        named = f' ("{title}")' if title else ""
        return (
            f"the endpoint sent {status} with an HTML page{named}, not an AWS error: "
            "is the endpoint URL (--endpoint-url, AWS_ENDPOINT_URL_QCONNECT) right?"
        )
    text = " ".join(message.split())
    if len(text) > _MAX_MESSAGE:
        text = text[:_MAX_MESSAGE] + f"... ({len(text)} characters; --debug shows all)"
    return text
