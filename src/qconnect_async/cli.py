"""The ``qconnect-async`` command (also ``python -m qconnect_async``), on the AWS CLI's conventions.

    qconnect-async list-import-jobs --knowledge-base-id KB [--max-items N] [--starting-token T]
    qconnect-async list-import-jobs --all --status FAILED --output table
    qconnect-async list-import-jobs --demo          # a local fake service: no AWS account needed
    qconnect-async start-import-job --knowledge-base-id KB answers.csv --wait
    qconnect-async get-import-job KB JOB | delete-import-job KB JOB | wait-import-job KB JOB

Global options work after any command, as with ``aws``: ``--output json|text|table|ndjson|csv``
(else ``AWS_DEFAULT_OUTPUT``, else the profile's ``output``, else json), ``--query`` (JMESPath),
``--region``, ``--profile``, ``--endpoint-url`` (else ``AWS_ENDPOINT_URL_QCONNECT``), ``--debug``,
``--cli-connect-timeout`` / ``--cli-read-timeout`` (seconds per attempt; ``--no-cli-pager`` is
taken and does nothing: this command never pages);
``AWS_MAX_ATTEMPTS`` (or the profile's ``max_attempts``) sets the attempts per request.

Exit status, as the AWS CLI v2's: 0 done, 252 bad command line, 253 bad configuration (no
region, no credentials, unknown profile), 254 the service answered with an error, 255 any
other failure (connection, malformed answer, a wait's --timeout), 130 interrupted (Ctrl-C).
An import job that ended FAILED under ``--wait`` / ``wait-import-job`` is 254 too: the
service ran the import and refused it (scripts tell it from 255, "could not find out").
A retry that waits more than a second is announced on stderr, whatever the command.

This module uses only the public face of the package, as any application would.
"""

from __future__ import annotations

import argparse
import asyncio
import html
import logging
import os
import re
import sys
import traceback
from collections.abc import Callable, Sequence
from typing import Any, NoReturn

import botocore.session
from botocore.exceptions import BotoCoreError
from jmespath.exceptions import JMESPathError

from qconnect_async import (
    DeadlineExceededError,
    QConnectError,
    RetryDetails,
    RetryPolicy,
    TransportError,
    ValidationError,
)
from qconnect_async import __version__ as _version

from ._cli_base import (
    CONFIGURATION,
    INTERRUPTED,
    OK,
    OTHER,
    SERVICE,
    USAGE,
    Command,
    CommandError,
    Invocation,
    UsageError,
)
from ._cli_jobs import DELETE_IMPORT_JOB, GET_IMPORT_JOB, START_IMPORT_JOB, WAIT_IMPORT_JOB
from ._cli_list import LIST_IMPORT_JOBS
from ._output import FORMATS, Progress, compile_query

__all__ = ["COMMANDS", "main"]

PROG = "qconnect-async"
#: The subcommands, in the order of --help.
COMMANDS: tuple[Command, ...] = (
    LIST_IMPORT_JOBS,
    START_IMPORT_JOB,
    GET_IMPORT_JOB,
    WAIT_IMPORT_JOB,
    DELETE_IMPORT_JOB,
)

#: The codes of errors in the user's AWS setup, not in the request or the service.
_CONFIG_CODES = frozenset(
    {
        "NoRegion",
        "NoCredentialsError",
        "PartialCredentialsError",
        "ProfileNotFound",
        "ConfigNotFound",
        "ConfigParseError",
        "InvalidConfigError",
        "CredentialRetrievalError",
        "UnknownCredentialError",
    }
)
_MESSAGES = {
    "NoRegion": "You must specify a region. You can also configure your region by setting "
    "AWS_DEFAULT_REGION or passing --region.",
    "NoCredentialsError": "Unable to locate credentials. You can configure credentials by "
    "setting AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY, or AWS_PROFILE.",
}
#: A retry that waits longer than this (seconds) is announced on stderr.
_NOTICE_AFTER = 1.0
#: The longest error message printed whole; a longer one is cut (--debug shows it all).
_MAX_MESSAGE = 300
#: The demo's knowledge bases: a name, and the statuses of its jobs (oldest first).
_DEMO_KBS = (
    ("support-faq", ("COMPLETE", "COMPLETE", "FAILED", "COMPLETE", "START_IN_PROGRESS")),
    ("billing-answers", ("COMPLETE", "DELETE_IN_PROGRESS", "FAILED", "COMPLETE")),
    ("onboarding", ("DELETED", "COMPLETE", "START_IN_PROGRESS")),
)


class _ConfigError(Exception):
    """The AWS configuration is unusable (exit status 253)."""


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> NoReturn:
        # argparse prints the whole usage and exits; one clear line is kinder.
        if message.startswith("unrecognized arguments: "):
            message = "Unknown options: " + message.removeprefix("unrecognized arguments: ")
        raise UsageError(message)


def _query(text: str) -> Any:
    try:
        return compile_query(text)
    except JMESPathError as exc:
        reason = " ".join(str(exc).split())
        raise argparse.ArgumentTypeError(f"Bad value for --query {text}: {reason}") from None


def _timeout(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a number of seconds: {text!r}") from None
    if not 0 < value < float("inf"):
        raise argparse.ArgumentTypeError(f"must be a positive number of seconds, not {text}")
    return value


def _global_options() -> _Parser:
    """The options every command takes, anywhere on the line (as ``aws`` does)."""
    common = _Parser(add_help=False)
    add = common.add_argument
    add("--output", choices=FORMATS, help="json (default), text, table, ndjson or csv")
    add("--query", type=_query, metavar="JMESPATH", help="a JMESPath query of the output")
    add("--region", help="AWS region (default: from the AWS environment or profile)")
    add("--profile", help="AWS profile (default: AWS_PROFILE or the default profile)")
    add("--endpoint-url", help="service endpoint (default: AWS_ENDPOINT_URL_QCONNECT or AWS)")
    add("--debug", action="store_true", help="log every request and retry; tracebacks")
    add("--cli-connect-timeout", type=_timeout, metavar="SECONDS", help="per attempt (default 5)")
    add("--cli-read-timeout", type=_timeout, metavar="SECONDS", help="per attempt (default 20)")
    # Taken as aws takes it, so that habits and scripts carry over: this command never pages.
    add("--no-cli-pager", action="store_true", help=argparse.SUPPRESS)
    add("--demo", action="store_true", help="run against a local fake service with demo data")
    return common


def _parser() -> argparse.ArgumentParser:
    parser = _Parser(prog=PROG, description="Import jobs of Amazon Q in Connect knowledge bases.")
    parser.add_argument("--version", action="version", version=f"%(prog)s {_version}")
    subparsers = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    common = _global_options()
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
    rest: str | None = getattr(args, "rest", None)
    if unknown or (extra and rest is None):
        parser.error(f"unrecognized arguments: {' '.join(unknown or extra)}")
    if extra and rest is not None:
        setattr(args, rest, getattr(args, rest) + extra)
    return args


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line ``argv`` (default ``sys.argv[1:]``); returns the exit status."""
    try:
        args = _parse(argv)
        command: Command = args.handler
        command.check(args)
    except UsageError as exc:
        print(f"{PROG}: error: {exc} (see {PROG} --help)", file=sys.stderr)
        return USAGE
    except SystemExit as exc:  # --help, --version
        return exc.code if isinstance(exc.code, int) else OK
    if args.debug:
        _log_to_stderr()
    progress = Progress(sys.stderr, enabled=_isatty(sys.stderr))
    try:
        inv = Invocation(
            output=_output_format(args),
            query=args.query,
            debug=args.debug,
            client_options={
                "region_name": args.region,
                "endpoint_url": args.endpoint_url,
                "profile_name": args.profile,
                "retry": _retry_policy(args, progress),
                **_timeouts(args),
            },
            stdout=sys.stdout,
            progress=progress,
        )
        if args.demo:
            return _demo(command, args, inv)
        asyncio.run(command.run(args, inv))
        return OK
    except KeyboardInterrupt:
        # asyncio.run cancelled the command, which closed its output and its client.
        progress.clear()
        return INTERRUPTED
    except BrokenPipeError:
        # The reader went away (`| head`): stop quietly.
        _silence_stdout()
        return OTHER
    except Exception as exc:
        progress.clear()
        return _report(exc, debug=args.debug)


def _log_to_stderr() -> None:
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(
        logging.Formatter("%(asctime)s - %(threadName)s - %(name)s - %(levelname)s - %(message)s")
    )
    logger = logging.getLogger("qconnect_async")
    logger.addHandler(handler)
    logger.setLevel(logging.DEBUG)


def _timeouts(args: argparse.Namespace) -> dict[str, float]:
    """The client's timeouts that --cli-connect-timeout / --cli-read-timeout set."""
    given = {
        "connect_timeout": args.cli_connect_timeout,
        "read_timeout": args.cli_read_timeout,
    }
    return {name: value for name, value in given.items() if value is not None}


def _retry_policy(args: argparse.Namespace, progress: Progress) -> RetryPolicy:
    """The library's default policy with a notice of long retries on stderr, and the attempts
    per request from ``AWS_MAX_ATTEMPTS`` or the profile's ``max_attempts`` (as ``aws``)."""
    notice = _retry_notice(progress)
    if args.demo:
        return RetryPolicy(on_retry=notice)
    try:
        attempts = botocore.session.Session(profile=args.profile).get_config_variable(
            "max_attempts"
        )
    except BotoCoreError as exc:
        raise _ConfigError(str(exc)) from exc
    except ValueError:
        raise _ConfigError("AWS_MAX_ATTEMPTS (or max_attempts) is not a whole number") from None
    if attempts is None:
        return RetryPolicy(on_retry=notice)
    if not isinstance(attempts, int) or attempts < 1:
        raise _ConfigError(f"max_attempts must be at least 1, not {attempts!r}")
    return RetryPolicy(max_attempts=attempts, on_retry=notice)


def _retry_notice(progress: Progress) -> Callable[[RetryDetails], None]:
    """A retry hook: one stderr line per retry that waits long enough to be noticed, so that
    a slow command says why (short waits stay silent; --debug logs every retry)."""

    def notice(details: RetryDetails) -> None:
        if details.wait <= _NOTICE_AFTER:
            return
        progress.clear()  # the line comes back at the next redraw
        print(
            f"retrying {details.operation} in {round(details.wait, 1):g}s ({details.cause.code})",
            file=sys.stderr,
            flush=True,
        )

    return notice


def _output_format(args: argparse.Namespace) -> str:
    """--output, else AWS_DEFAULT_OUTPUT, else the profile's ``output``, else json (as aws)."""
    if args.output:
        return str(args.output)
    value, source = os.environ.get("AWS_DEFAULT_OUTPUT"), "AWS_DEFAULT_OUTPUT"
    if not value and args.demo:
        return "table"  # the demo is for a person, and needs no AWS configuration
    if not value:
        source = "the profile's output setting"
        try:
            config = botocore.session.Session(profile=args.profile).get_scoped_config()
        except BotoCoreError as exc:
            raise _ConfigError(str(exc)) from exc
        value = config.get("output")
    if not value:
        return "json"
    if value not in FORMATS:
        raise _ConfigError(f"{source} is {value!r}: not one of {', '.join(FORMATS)}")
    return str(value)


def _demo(command: Command, args: argparse.Namespace, inv: Invocation) -> int:
    """Serve demo data from the fake service in this process, and run the command on it."""
    try:
        from qconnect_async.testing import QConnectServer
    except ModuleNotFoundError as exc:
        raise _ConfigError(
            f"--demo needs the fake service: pip install 'qconnect-async[testing]' ({exc})"
        ) from None
    with QConnectServer() as server:
        for name, statuses in _DEMO_KBS:
            kb = server.create_knowledge_base(name)
            for status in statuses:
                server.add_import_jobs(kb, 1, status=status)
        print(f"Demo: a fake Amazon Q in Connect at {server.endpoint_url}\n", file=sys.stderr)
        # Dummy credentials for this client only: the demo needs no AWS account or settings.
        inv.client_options = {
            "endpoint_url": server.endpoint_url,
            "region_name": server.region,
            "aws_access_key_id": "demo",
            "aws_secret_access_key": "demo",
        }
        asyncio.run(command.run(args, inv))
    return OK


def _report(exc: Exception, *, debug: bool) -> int:
    """Print an error as the AWS CLI words it (the traceback too with --debug); the status."""
    if debug:
        traceback.print_exception(exc, file=sys.stderr)
    status, text = _describe(exc)
    print(text, file=sys.stderr)
    return status


def _describe(exc: Exception) -> tuple[int, str]:
    if isinstance(exc, _ConfigError):
        return CONFIGURATION, str(exc)
    if isinstance(exc, UsageError):  # found while running (the client's checks of its input)
        return USAGE, f"{PROG}: error: {exc} (see {PROG} --help)"
    if isinstance(exc, CommandError):
        return exc.status, str(exc)
    if isinstance(exc, DeadlineExceededError):
        return OTHER, f"Timed out: {exc.message}"
    if not isinstance(exc, QConnectError):
        return OTHER, f"{type(exc).__name__}: {exc}"
    if exc.code in _CONFIG_CODES or (isinstance(exc, ValidationError) and exc.operation is None):
        return CONFIGURATION, _MESSAGES.get(exc.code, exc.message)
    if isinstance(exc, TransportError):
        return OTHER, _one_line(exc.message, exc.http_status)
    message = _one_line(exc.message, exc.http_status)
    text = f"\nAn error occurred ({exc.code}) when calling the {exc.operation} operation: {message}"
    # A service error is a status the service sent; a 200 it sent badly is not.
    answered = exc.http_status is not None and exc.http_status >= 300
    return (SERVICE if answered else OTHER), text


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


def _isatty(stream: Any) -> bool:
    isatty = getattr(stream, "isatty", None)
    return bool(isatty and isatty())


def _silence_stdout() -> None:
    # Python would report the broken pipe again when it flushes stdout at exit.
    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
    except (OSError, ValueError):
        pass


if __name__ == "__main__":
    sys.exit(main())
