"""The ``qconnect-async`` command (also ``python -m qconnect_async``).

    qconnect-async list-import-jobs KB_ID_OR_ARN [...] [--output table|json|ndjson|csv]
    qconnect-async list-import-jobs --all --status FAILED --output csv
    qconnect-async list-import-jobs --demo          # a local fake service: no AWS account needed

Exit status: 0 done, 1 the service (or the environment) failed, 2 bad arguments, 130 interrupted.
Region, credentials and endpoint come from the usual AWS settings (``AWS_DEFAULT_REGION``,
``AWS_PROFILE``, ``AWS_ENDPOINT_URL_QCONNECT``, ...) unless given as options. Several knowledge
bases are listed fail-fast: the first error stops the listing and is reported.

This module uses only the public face of the package, as any application would.
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import os
import sys
import traceback
from collections.abc import Sequence
from typing import Any, NoReturn

from qconnect_async import ImportJobStatus, QConnectClient, QConnectError, ValidationError
from qconnect_async import __version__ as _version

from ._output import FORMATS, Progress, make_writer

__all__ = ["main"]

PROG = "qconnect-async"
_STATUSES = tuple(s.value for s in ImportJobStatus)
#: The demo's knowledge bases: a name, and the statuses of its jobs (oldest first).
_DEMO_KBS = (
    ("support-faq", ("COMPLETE", "COMPLETE", "FAILED", "COMPLETE", "START_IN_PROGRESS")),
    ("billing-answers", ("COMPLETE", "DELETE_IN_PROGRESS", "FAILED", "COMPLETE")),
    ("onboarding", ("DELETED", "COMPLETE", "START_IN_PROGRESS")),
)


class _UsageError(Exception):
    """Bad command-line arguments: one line on stderr, exit status 2."""


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> NoReturn:
        # argparse prints the whole usage and exits; one clear line is kinder.
        raise _UsageError(f"{self.prog}: error: {message} (see --help)")


def _page_size(text: str) -> int:
    value = _int(text)
    if not 1 <= value <= 100:
        raise argparse.ArgumentTypeError(f"must be between 1 and 100, not {value}")
    return value


def _positive(text: str) -> int:
    value = _int(text)
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be at least 1, not {value}")
    return value


def _int(text: str) -> int:
    try:
        return int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a whole number: {text!r}") from None


def _status(text: str) -> str:
    value = text.strip().upper()
    if value not in _STATUSES:
        raise argparse.ArgumentTypeError(f"unknown status {text!r} (one of {', '.join(_STATUSES)})")
    return value


_EPILOG = """\
examples:
  qconnect-async list-import-jobs KB_ID --status FAILED
  qconnect-async list-import-jobs --all --output ndjson > jobs.ndjson
  qconnect-async list-import-jobs --demo

Knowledge bases are listed fail-fast: the first error stops the listing.
exit status: 0 done, 1 the service failed, 2 bad arguments, 130 interrupted"""


def _parser() -> argparse.ArgumentParser:
    parser = _Parser(prog=PROG, description="List the import jobs of Amazon Q in Connect KBs.")
    parser.add_argument("--version", action="version", version=f"%(prog)s {_version}")
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    ls = commands.add_parser(
        "list-import-jobs",
        help="list the import jobs of knowledge bases",
        description="List the import jobs of knowledge bases, several at once.",
        epilog=_EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    add = ls.add_argument
    add("knowledge_bases", nargs="*", metavar="KB_ID_OR_ARN", help="knowledge bases to list")
    add("--all", action="store_true", dest="all_kbs", help="every knowledge base of the account")
    add("--status", action="append", type=_status, help="keep jobs in STATUS only (repeatable)")
    add("-o", "--output", choices=FORMATS, default="table", help="output format (default table)")
    add("--page-size", type=_page_size, metavar="N", help="jobs per request, 1-100 (default 100)")
    add("--max-concurrency", type=_positive, default=8, metavar="N", help="requests at once (8)")
    add("--region", help="AWS region (default: from the AWS environment or profile)")
    add("--profile", help="AWS profile (default: AWS_PROFILE or the default profile)")
    add("--endpoint-url", help="service endpoint (default: AWS_ENDPOINT_URL_QCONNECT or AWS)")
    add("--demo", action="store_true", help="list demo data of a local fake service, no AWS")
    add("--debug", action="store_true", help="log requests and retries; tracebacks on errors")
    return parser


def _parse(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = _parser()
    args, extra = parser.parse_known_args(argv)
    # argparse takes a `*` positional from the first run of positionals only
    # (`KB -o json KB2` leaves KB2 over): later KB IDs are taken here.
    unknown = [arg for arg in extra if arg.startswith("-")]
    if unknown:
        parser.error(f"unrecognized arguments: {' '.join(unknown)}")
    args.knowledge_bases += extra
    return args


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line ``argv`` (default ``sys.argv[1:]``); returns the exit status."""
    try:
        args = _parse(argv)
        kbs = _knowledge_base_ids(args)
    except _UsageError as exc:
        print(exc, file=sys.stderr)
        return 2
    except SystemExit as exc:  # --help, --version
        return exc.code if isinstance(exc.code, int) else 0
    if args.debug:
        handler = logging.StreamHandler(sys.stderr)
        handler.setFormatter(logging.Formatter("%(asctime)s %(name)s %(levelname)s %(message)s"))
        logger = logging.getLogger("qconnect_async")
        logger.addHandler(handler)
        logger.setLevel(logging.DEBUG)
    progress = Progress(sys.stderr, enabled=_isatty(sys.stderr))
    try:
        if args.demo:
            return _demo(args, kbs, progress)
        client = {
            "region_name": args.region,
            "endpoint_url": args.endpoint_url,
            "profile_name": args.profile,
        }
        asyncio.run(_list(args, kbs, client, progress))
        return 0
    except KeyboardInterrupt:
        # asyncio.run cancelled the listing, so the client is closed; say nothing more.
        progress.clear()
        return 130
    except BrokenPipeError:
        # The reader went away (`| head`): stop quietly, as a SIGPIPE-killed tool would.
        _silence_stdout()
        return 141
    except Exception as exc:
        progress.clear()
        return _report(exc, debug=args.debug)


def _knowledge_base_ids(args: argparse.Namespace) -> list[str] | None:
    """The IDs to list (ARNs reduced, duplicates dropped), or None for every KB."""
    if args.all_kbs and args.knowledge_bases:
        raise _UsageError(f"{PROG}: error: give knowledge base IDs or --all, not both")
    if not args.knowledge_bases:
        if args.all_kbs or args.demo:
            return None
        raise _UsageError(f"{PROG}: error: give knowledge base IDs or ARNs, or --all (see --help)")
    # The client checks IDs before any request; an unopened client sends nothing.
    probe = QConnectClient()
    try:
        ids = [probe.list_import_jobs(kb).knowledge_base_id for kb in args.knowledge_bases]
    except ValidationError as exc:
        raise _UsageError(f"{PROG}: error: {exc.message}") from None
    return list(dict.fromkeys(ids))


async def _list(
    args: argparse.Namespace,
    kbs: list[str] | None,
    options: dict[str, Any],
    progress: Progress,
) -> None:
    async with QConnectClient(max_concurrency=args.max_concurrency, **options) as client:
        names: dict[str, str] = {}
        if kbs is None:
            progress.note("listing knowledge bases...")
            names = {kb.knowledge_base_id: kb.name async for kb in client.list_knowledge_bases()}
            kbs = list(names)
        writer = make_writer(args.output, sys.stdout, order=kbs, names=names)
        wanted = frozenset(args.status or ())
        # A job printed to the terminal that shows the progress line must not land on it.
        interleaved = progress.enabled and args.output != "table" and _isatty(sys.stdout)
        progress.start(len(kbs))
        jobs = client.list_import_jobs_many(
            kbs, page_size=args.page_size, on_listing_done=progress.listing_done
        )
        async for job in jobs:
            progress.job()
            if wanted and job.status not in wanted:
                continue
            if interleaved:
                progress.clear()
            writer.write(job)
        progress.clear()
        writer.finish()


def _demo(args: argparse.Namespace, kbs: list[str] | None, progress: Progress) -> int:
    """Serve demo data from the fake service in this process, and list it."""
    try:
        from qconnect_async.testing import QConnectServer
    except ModuleNotFoundError as exc:
        print(
            f"{PROG}: error: --demo needs the fake service: "
            f"pip install 'qconnect-async[testing]' ({exc})",
            file=sys.stderr,
        )
        return 1
    with QConnectServer() as server:
        for name, statuses in _DEMO_KBS:
            kb = server.create_knowledge_base(name)
            for status in statuses:
                server.add_import_jobs(kb, 1, status=status)
        print(f"Demo: a fake Amazon Q in Connect at {server.endpoint_url}\n", file=sys.stderr)
        # Dummy credentials for this client only: the demo needs no AWS account or settings.
        client = {
            "endpoint_url": server.endpoint_url,
            "region_name": server.region,
            "aws_access_key_id": "demo",
            "aws_secret_access_key": "demo",
        }
        asyncio.run(_list(args, kbs, client, progress))
    return 0


def _report(exc: Exception, *, debug: bool) -> int:
    """Print an error in one line (and its traceback with --debug); the exit status."""
    if debug:
        traceback.print_exception(exc, file=sys.stderr)
    if isinstance(exc, ValidationError) and exc.code == "NoRegion":
        message = "no AWS region: pass --region or set AWS_DEFAULT_REGION"
        print(f"{PROG}: error: {message}", file=sys.stderr)
        return 2
    if isinstance(exc, QConnectError):
        where = [f"knowledge base {exc.knowledge_base_id}"] if exc.knowledge_base_id else []
        where += [f"request id {exc.request_id}"] if exc.request_id else []
        suffix = f" ({', '.join(where)})" if where else ""
        print(f"{PROG}: error: {exc.code}: {exc.message}{suffix}", file=sys.stderr)
    else:
        print(f"{PROG}: error: {type(exc).__name__}: {exc}", file=sys.stderr)
    return 1


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
