"""The entry: global options, the parser, the AWS settings (resolved as ``aws`` resolves them),
``--demo``'s local fake service, running a command, exit statuses, error wording."""

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
from collections.abc import Iterator, Sequence
from typing import Any, NoReturn

from qconnect_async import (
    CredentialsError,
    DeadlineExceededError,
    QConnectError,
    RetryPolicy,
    TransportError,
    ValidationError,
)

from . import _jobs, _listings
from ._base import (
    PROG,
    Command,
    CommandError,
    ConfigError,
    Exit,
    Invocation,
    Progress,
    UsageError,
    account_profile,
    seconds,
)
from ._output import FORMATS

#: The subcommands, in the order of --help.
COMMANDS: tuple[Command, ...] = (
    _listings.LIST_IMPORT_JOBS,
    _jobs.START_IMPORT_JOB,
    _jobs.GET_IMPORT_JOB,
    _jobs.WAIT_IMPORT_JOB,
    _jobs.WAIT_IMPORT_JOBS,
    _jobs.DELETE_IMPORT_JOB,
    _listings.LIST_KNOWLEDGE_BASES,
)

_MESSAGES = {
    "NoRegion": "You must specify a region. You can also configure your region by setting "
    "AWS_DEFAULT_REGION or passing --region.",
    "NoCredentialsError": "Unable to locate credentials. You can configure credentials by "
    "setting AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY, or AWS_PROFILE.",
}
_MAX_MESSAGE = 300  # the longest error message printed whole (--debug shows all of any)
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
    add("--role-name", metavar="ROLE", help="role to assume in other accounts (name or ARN)")
    add(
        "--account-profile",
        action="append",
        default=[],
        type=account_profile,
        metavar="ACCOUNT=PROFILE",
        help="the AWS profile of an account's KBs (repeatable; before --role-name)",
    )
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
            epilog=command.examples and f"examples:\n{command.examples}",
            parents=[common],
            formatter_class=argparse.RawDescriptionHelpFormatter,
        )
        command.add_arguments(sub)
        sub.set_defaults(handler=command)
    return parser


def _config_variable(args: argparse.Namespace, name: str) -> Any:
    """A setting of the AWS environment or profile, as botocore reads it."""
    import botocore.session
    from botocore.exceptions import BotoCoreError

    try:
        session = botocore.session.Session(profile=args.profile)
        if name == "output":
            return session.get_scoped_config().get("output")
        return session.get_config_variable(name)
    except BotoCoreError as exc:
        raise ConfigError(str(exc)) from exc
    except ValueError:
        raise ConfigError(f"{name} (or AWS_{name.upper()}) is not a whole number") from None


def output_format(args: argparse.Namespace) -> str:
    """--output, else AWS_DEFAULT_OUTPUT, else the profile's ``output``, else json (as aws);
    the demo, for a person and without AWS configuration, prints a table."""
    value, source = args.output or os.environ.get("AWS_DEFAULT_OUTPUT"), "AWS_DEFAULT_OUTPUT"
    if not value and args.demo:
        return "table"
    if not value:
        value, source = _config_variable(args, "output"), "the profile's output setting"
    if value and value not in FORMATS:
        raise ConfigError(f"{source} is {value!r}: not one of {', '.join(FORMATS)}")
    return str(value or "json")


def client_options(args: argparse.Namespace, progress: Progress) -> dict[str, Any]:
    """The QConnectClient options of the global options and the AWS settings: the library's
    retry policy, with a notice of long retries on stderr and the attempts per request of
    ``AWS_MAX_ATTEMPTS`` or the profile's ``max_attempts`` (as ``aws``)."""
    attempts = None if args.demo else _config_variable(args, "max_attempts")
    if attempts is not None and (not isinstance(attempts, int) or attempts < 1):
        raise ConfigError(f"max_attempts must be at least 1, not {attempts!r}")
    limit = {} if attempts is None else {"max_attempts": attempts}
    options = {
        "region_name": args.region,
        "endpoint_url": args.endpoint_url,
        "profile_name": args.profile,
        "retry": RetryPolicy(on_retry=progress.retry_notice, **limit),
        "connect_timeout": args.cli_connect_timeout,
        "read_timeout": args.cli_read_timeout,
    }
    return {k: v for k, v in options.items() if v is not None or not k.endswith("_timeout")}


@contextlib.contextmanager
def demo_service(options: dict[str, Any]) -> Iterator[None]:
    """The fake service in this process, seeded with the demo data, while the command runs;
    ``options`` (the client's) point at it, with dummy credentials for this client only."""
    try:
        from qconnect_async.testing import QConnectServer, seed_demo
    except ModuleNotFoundError as exc:
        raise ConfigError(
            f"--demo needs the fake service: pip install 'qconnect-async[testing]' ({exc})"
        ) from None
    with QConnectServer() as server:
        seed_demo(server)
        print(f"Demo: a fake Amazon Q in Connect at {server.endpoint_url}\n", file=sys.stderr)
        options.update(endpoint_url=server.endpoint_url, region_name=server.region)
        options.update(profile_name=None, aws_access_key_id="demo", aws_secret_access_key="demo")
        yield


def main(argv: Sequence[str] | None = None, *, gc_paused: bool = False) -> int:
    """Run the command line ``argv`` (default ``sys.argv[1:]``); returns the exit status."""
    progress, debug = Progress(sys.stderr, enabled=sys.stderr.isatty()), False
    try:
        parser = _parser()
        args, extra = parser.parse_known_args(argv)
        # argparse takes a `*` positional from the first run of positionals only
        # (`KB --output json KB2` leaves KB2 over): later ones are taken here.
        unknown = [arg for arg in extra if arg.startswith("-")]
        if unknown or (extra and not hasattr(args, "given")):
            parser.error(f"unrecognized arguments: {' '.join(unknown or extra)}")
        args.given = getattr(args, "given", []) + extra
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
    """The program (``qconnect-async``, ``python -m qconnect_async``): ``main``, with the garbage
    collector paused until the client is open (``Invocation.client``), as the start's objects
    (modules, botocore's models) live until the end; it would only walk them again and again."""
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
    if exc.upload_id and exc.operation == "StartImportJob":
        # The content is uploaded: a later start can begin from it rather than upload again.
        text += f"\nThe file is uploaded; to start from it: --upload-id {exc.upload_id}"
    # A service error is a status the service sent; a 200 it sent badly is not.
    answered = exc.http_status is not None and exc.http_status >= 300
    return (Exit.SERVICE if answered else Exit.OTHER), text


_MARKUP = re.compile(r"<\s*(!doctype|html|head|body|title)\b", re.IGNORECASE)
_TITLE = re.compile(r"<title[^>]*>(.*?)</title>", re.IGNORECASE | re.DOTALL)


def _one_line(message: str, http_status: int | None) -> str:
    """A message for one line: an HTML page (a proxy's, a wrong endpoint's) named, not printed;
    anything else cut at a few hundred characters."""
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
