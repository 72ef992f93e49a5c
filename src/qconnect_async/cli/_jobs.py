"""``start-import-job``, ``get-import-job``, ``wait-import-job``, ``delete-import-job``: each
prints what ``aws qconnect`` prints (``{"importJob": {...}}``; delete nothing). A wait ends
with the job printed (COMPLETE: exit 0; FAILED: exit 254, and how to get its failed-record
report on stderr) or a timeout (exit 255). ``wait-import-jobs`` waits for many jobs at once,
across knowledge bases, and prints each as it ends (a listing ``importJobs``, in every output
format): every job COMPLETE: exit 0; any FAILED: exit 254 once all ended (each printed, with
its failedRecordReport); past ``--timeout``: exit 255, what ended printed. A terminal shows
the time waited (and how many jobs ended); progress never shows a presigned URL.
"""

from __future__ import annotations

import argparse
import os
import time
from collections.abc import Awaitable, Callable
from contextlib import aclosing
from typing import TYPE_CHECKING

from qconnect_async import DeadlineExceededError, ImportJobFailedError

from ._base import (
    PROG,
    Command,
    CommandError,
    Exit,
    Invocation,
    Run,
    UsageError,
    add_ids,
    checked_input,
    import_job_id,
    knowledge_base,
    routed,
    seconds,
)
from ._output import ListingSpec, ListingWriter, Row, wire, write_value

if TYPE_CHECKING:
    from qconnect_async import ImportJob, QConnectClient, QConnectRouter

    Service = QConnectClient | QConnectRouter
    Action = Callable[[Service, argparse.Namespace, Invocation], Awaitable[ImportJob | None]]

DEFAULT_TIMEOUT = 600.0  # the library's default wait (seconds), stated in --help
ENDED_JOBS = ListingSpec(
    key="importJobs",
    noun="import job",
    columns=(
        ("IMPORT JOB ID", "importJobId"),
        ("KNOWLEDGE BASE ID", "knowledgeBaseId"),
        ("STATUS", "status"),
        ("LAST MODIFIED (UTC)", "lastModifiedTime"),
    ),
    csv_columns="importJobId knowledgeBaseId status importJobType createdTime lastModifiedTime "
    "uploadId knowledgeBaseArn metadata failedRecordReport",
)


def _pair(text: str) -> tuple[str, str]:
    key, sep, value = text.partition("=")
    if not sep or not key:
        raise argparse.ArgumentTypeError(f"not KEY=VALUE: {text!r}")
    return key, value


def _timeout(parser: argparse.ArgumentParser) -> None:
    limit = f"give up waiting after SECONDS (default {DEFAULT_TIMEOUT:g}): exit 255"
    add = parser.add_argument
    add("--timeout", type=seconds, default=DEFAULT_TIMEOUT, metavar="SECONDS", help=limit)


def _arguments(
    second: str, what: str, option: str | None = None, *, wait: bool = False
) -> Callable[[argparse.ArgumentParser], None]:
    """The KB then ``second`` (JOB or FILE), positionally or as options; ``--timeout``."""

    def add_arguments(parser: argparse.ArgumentParser) -> None:
        add_ids(parser, f"KB_ID_OR_ARN {second}", f"the KB and {what}")
        if option is not None:
            parser.add_argument(option, dest="second_option", metavar=second, help=what)
        parser.set_defaults(second_name=option or second, second_option=None)
        if wait:
            _timeout(parser)

    return add_arguments


def _start_arguments(parser: argparse.ArgumentParser) -> None:
    _arguments("FILE", "the file to import (a CSV of quick responses)", wait=True)(parser)
    add = parser.add_argument
    add("--wait", action="store_true", help="wait until the job ends; print it then")
    add("--content-type", default="text/csv", help="the file's media type (default text/csv)")
    add("--import-job-type", default="QUICK_RESPONSES", help="default QUICK_RESPONSES")
    where = "metadata of the job (repeatable; after KB and FILE, or it takes them)"
    add("--metadata", nargs="+", action="extend", type=_pair, metavar="KEY=VALUE", help=where)
    add(
        "--client-token",
        help="the same token, KB and content start one job, however often run (default: a "
        "new one); it takes one metadata entry",
    )
    add("--upload-id", help="start from an upload already made (an error's upload_id), no FILE")
    add("--presigned-url-ttl", type=int, metavar="MINUTES", help="the upload URL's life, 1-60")


def _check(args: argparse.Namespace) -> None:
    """The KB and the job (or file), as options or else positionally in order; their syntax.
    The KB is passed on as given (an ARN's Region is checked once the client is open)."""
    given = list(args.given)
    kb, second = ("--knowledge-base-id", args.kb_option), (args.second_name, args.second_option)
    for attr, (name, option) in (("kb", kb), ("second", second)):
        if option is None and not given:
            raise UsageError(f"the following arguments are required: {name}")
        setattr(args, attr, given.pop(0) if option is None else option)
    if given:
        raise UsageError(f"unexpected arguments: {' '.join(given)}")
    knowledge_base(args.kb)
    if args.second_name == "--import-job-id":
        import_job_id(args.second)
    args.routed = routed(args, [args.kb])


def _check_start(args: argparse.Namespace) -> None:
    if args.upload_id is not None:
        _check_resume(args)
    else:
        _check_file(args)
    if args.timeout != DEFAULT_TIMEOUT and not args.wait:
        raise UsageError("--timeout goes with --wait")


def _check_resume(args: argparse.Namespace) -> None:
    """The KB alone (positionally or as an option): the content is the upload's."""
    given = list(args.given)
    if args.kb_option is None and not given:
        raise UsageError("the following arguments are required: KB_ID_OR_ARN")
    args.kb = args.kb_option if args.kb_option is not None else given.pop(0)
    if given or args.second_option is not None:
        raise UsageError("give FILE or --upload-id, not both")
    knowledge_base(args.kb)
    args.second, args.routed = None, routed(args, [args.kb])


def _check_file(args: argparse.Namespace) -> None:
    _check(args)
    if not os.path.isfile(args.second):
        what = "no such file" if not os.path.exists(args.second) else "not a regular file"
        raise UsageError(f"{what}: {args.second!r}")
    args.size = os.path.getsize(args.second)


def _data(job: ImportJob, *shown: str) -> Row:
    """The job as ``aws`` prints ImportJobData, with the presigned URLs ``shown``: they are how
    to use the job (its failed-record report above all): stdout has them, errors, progress and
    logs never do."""
    urls = {"url": job.url, "failedRecordReport": job.failed_record_report}
    secrets = {k: url.get_secret_value() for k, url in urls.items() if k in shown and url}
    return wire(job, "ImportJobData", **secrets)


def _print(inv: Invocation, job: ImportJob) -> None:
    """``{"importJob": {...}}`` as ``aws`` prints it, presigned URLs included."""
    item = _data(job, "url", "failedRecordReport")
    document, output = {"importJob": item}, inv.output
    # Whole in json and text and to --query; else its one object: a line (ndjson), a row
    # (csv), a FIELD/VALUE table.
    if inv.query is not None:
        write_value(output, inv.query.search(document), inv.stdout)
    elif output == "table":
        write_value(output, [{"FIELD": k, "VALUE": v} for k, v in item.items()], inv.stdout)
    else:
        write_value(output, document if output in ("json", "text") else item, inv.stdout)


def _printing(action: Action) -> Run:
    """A command's run: ``action`` on a client (or a router, for a KB of another account or
    Region) of one request at a time; its job printed."""

    async def run(args: argparse.Namespace, inv: Invocation) -> None:
        async with inv.service(args, concurrency=1) as client:
            with checked_input():
                job = await action(client, args, inv)
            inv.progress.clear()
            if job is not None:
                _print(inv, job)

    return run


async def _start(client: Service, args: argparse.Namespace, inv: Invocation) -> ImportJob:
    if args.second is None:
        inv.progress.note(f"starting from upload {args.upload_id}...")
    else:
        inv.progress.note(f"uploading {os.path.basename(args.second)} ({_size(args.size)})...")
    job = await client.start_import_job(
        args.kb,
        args.second,
        upload_id=args.upload_id,
        import_job_type=args.import_job_type,
        content_type=args.content_type,
        metadata=dict(args.metadata) if args.metadata else None,
        client_token=args.client_token,
        presigned_url_ttl=args.presigned_url_ttl,
    )
    inv.log.debug("started import job %s (upload %s)", job.import_job_id, job.upload_id)
    if not args.wait:
        return job
    inv.progress.note(f"started import job {job.import_job_id}")
    return await _wait(client, args, inv, job.import_job_id, str(job.status))


async def _wait(
    client: Service, args: argparse.Namespace, inv: Invocation, job_id: str, status: str
) -> ImportJob:
    """The job once COMPLETE; a FAILED job is printed, then a CommandError (254) says how to
    get its report; a timeout is a CommandError (255). A terminal shows the time waited."""
    started, seen = time.monotonic(), f" ({status})" if status else ""

    def line() -> str:
        return f"waiting for import job {job_id}{seen}: {time.monotonic() - started:.0f}s"

    try:
        async with inv.progress.ticking(line):
            return await client.wait_for_import_job(args.kb, job_id, timeout=args.timeout)
    except ImportJobFailedError as exc:
        inv.progress.clear()
        if exc.job is not None:
            _print(inv, exc.job)
        raise CommandError(_failed(args.kb, job_id, exc.job), Exit.SERVICE) from None
    except DeadlineExceededError:
        raise CommandError(
            f"Timed out: import job {job_id} did not end within {args.timeout:g}s "
            f"(--timeout). It goes on; to wait again: {PROG} wait-import-job {args.kb} {job_id}",
            Exit.OTHER,
        ) from None


def _failed(kb: str, job_id: str, job: ImportJob | None) -> str:
    """What stderr says of a job that ended without importing: how to read the report (the
    URL itself is a secret: stdout has it, in the job; stderr only says where)."""
    text = f"\nImport job {job_id} ended {job.status if job is not None else 'FAILED'}."
    if job is not None and job.failed_record_report is not None:
        text += (
            " Its failed-record report (a CSV of each row that failed, and why) is at the "
            "presigned URL failedRecordReport of the job; to get it:\n"
            f"  {PROG} get-import-job {kb} {job_id} --query importJob.failedRecordReport "
            "--output text | xargs curl -s"
        )
    return text


def _size(size: int) -> str:
    kib, mib = size / 1024, size / (1024 * 1024)
    return f"{size} bytes" if size < 1024 else f"{kib:.1f} KiB" if mib < 1 else f"{mib:.1f} MiB"


_JOB = ("JOB_ID", "the import job", "--import-job-id")
START_IMPORT_JOB = Command(
    name="start-import-job",
    help="upload a file and start an import job of it (--wait: until it ends)",
    add_arguments=_start_arguments,
    check=_check_start,
    run=_printing(_start),
    examples="""\
  qconnect-async start-import-job --knowledge-base-id KB_ID answers.csv
  qconnect-async start-import-job KB_ID answers.csv --wait --metadata team=support
  qconnect-async start-import-job KB_ID answers.csv --client-token order-42
  qconnect-async start-import-job KB_ID --upload-id UPLOAD_ID --client-token order-42""",
)
GET_IMPORT_JOB = Command(
    name="get-import-job",
    help="an import job, with its presigned URLs (url, failedRecordReport)",
    add_arguments=_arguments(*_JOB),
    check=_check,
    run=_printing(lambda client, args, inv: client.get_import_job(args.kb, args.second)),
    examples="""\
  qconnect-async get-import-job --knowledge-base-id KB_ID --import-job-id JOB_ID
  qconnect-async get-import-job KB_ID JOB_ID --query importJob.status --output text""",
)
WAIT_IMPORT_JOB = Command(
    name="wait-import-job",
    help="wait until an import job ends; print it (FAILED: exit 254)",
    add_arguments=_arguments(*_JOB, wait=True),
    check=_check,
    run=_printing(lambda client, args, inv: _wait(client, args, inv, args.second, "")),
    examples="  qconnect-async wait-import-job KB_ID JOB_ID --timeout 300",
)
DELETE_IMPORT_JOB = Command(
    name="delete-import-job",
    help="delete an import job (one still running is a ConflictException)",
    add_arguments=_arguments(*_JOB),
    check=_check,
    run=_printing(lambda client, args, inv: client.delete_import_job(args.kb, args.second)),
)


def _many_arguments(parser: argparse.ArgumentParser) -> None:
    add_ids(parser, "KB_ID_OR_ARN JOB_ID", "a knowledge base, then job IDs of it")
    parser.add_argument(
        "--job",
        nargs=2,
        action="append",
        default=[],
        metavar=("KB_ID_OR_ARN", "JOB_ID"),
        help="a job of any knowledge base (repeatable)",
    )
    _timeout(parser)


def _check_many(args: argparse.Namespace) -> None:
    """The jobs: a KB (positional or --knowledge-base-id) with job IDs, and --job pairs."""
    given = list(args.given)
    pairs = [(kb, job) for kb, job in args.job]
    if args.kb_option is not None or given:
        kb = args.kb_option if args.kb_option is not None else given.pop(0)
        if not given:
            raise UsageError("give the job IDs after the knowledge base")
        pairs = [(kb, job) for job in given] + pairs
    if not pairs:
        raise UsageError("the following arguments are required: KB_ID_OR_ARN JOB_ID (or --job)")
    for kb, job in pairs:
        knowledge_base(kb)
        import_job_id(job)
    args.pairs, args.routed = pairs, routed(args, [kb for kb, _ in pairs])


async def _wait_many(args: argparse.Namespace, inv: Invocation) -> None:
    total, ended, failed = len(args.pairs), 0, 0
    started = time.monotonic()

    def line() -> str:
        elapsed = time.monotonic() - started
        return f"waiting: {ended}/{total} import jobs ended ({failed} failed): {elapsed:.0f}s"

    async with inv.service(args, concurrency=8) as client:
        with checked_input():
            stream = client.wait_for_import_jobs(args.pairs, deadline=args.timeout)
        async with inv.progress.ticking(line):
            with ListingWriter(ENDED_JOBS, inv) as writer:
                async with aclosing(stream):
                    async for job in stream:
                        ended += 1
                        failed += job.status != "COMPLETE"
                        inv.progress.clear()
                        writer.printed = True
                        writer.add(_data(job, "failedRecordReport"))
                        if inv.output != "table":  # a table is aligned on all its rows
                            writer.page_done()
                        inv.progress.note(line())
    if failed:
        raise CommandError(f"\n{failed} of {total} import jobs did not complete.", Exit.SERVICE)


WAIT_IMPORT_JOBS = Command(
    name="wait-import-jobs",
    help="wait for many import jobs, of any knowledge bases; print each as it ends",
    add_arguments=_many_arguments,
    check=_check_many,
    run=_wait_many,
    examples="""\
  qconnect-async wait-import-jobs KB_ID JOB_ID JOB_ID JOB_ID --output ndjson
  qconnect-async wait-import-jobs --job KB_1 JOB_ID --job KB_2 JOB_ID --timeout 900""",
)
