"""``wait-import-jobs``: wait for many import jobs at once, across knowledge bases; print each
job as it ends (a listing ``importJobs``, in every output format). Every job COMPLETE: exit 0;
any FAILED: exit 254 once all ended (each printed, with its failedRecordReport); past
``--timeout``: exit 255, what ended printed. A terminal shows how many ended so far.
"""

from __future__ import annotations

import argparse
import asyncio
import time
from collections.abc import AsyncGenerator
from contextlib import aclosing
from typing import TYPE_CHECKING, cast

from qconnect_async import ImportJobFailedError

from ._base import (
    Command,
    CommandError,
    Exit,
    Invocation,
    UsageError,
    add_ids,
    checked_input,
    import_job_id,
    knowledge_base,
    routed,
    seconds,
)
from ._output import ListingSpec, ListingWriter, wire

if TYPE_CHECKING:
    from qconnect_async import ImportJob, Listing, QConnectClient, QConnectRouter

DEFAULT_TIMEOUT = 600.0  # seconds, as wait-import-job's
_TICK = 1.0  # how often the terminal's line is redrawn (its elapsed time), seconds

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


def _add_arguments(parser: argparse.ArgumentParser) -> None:
    add_ids(parser, "KB_ID_OR_ARN JOB_ID", "a knowledge base, then job IDs of it")
    parser.add_argument(
        "--job",
        nargs=2,
        action="append",
        default=[],
        metavar=("KB_ID_OR_ARN", "JOB_ID"),
        help="a job of any knowledge base (repeatable)",
    )
    parser.add_argument(
        "--timeout",
        type=seconds,
        default=DEFAULT_TIMEOUT,
        metavar="SECONDS",
        help=f"give up after SECONDS (default {DEFAULT_TIMEOUT:g}): exit 255",
    )


def _check(args: argparse.Namespace) -> None:
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


async def _run(args: argparse.Namespace, inv: Invocation) -> None:
    total, ended, failed = len(args.pairs), 0, 0
    started = time.monotonic()

    def draw() -> None:
        elapsed = time.monotonic() - started
        inv.progress.note(
            f"waiting: {ended}/{total} import jobs ended ({failed} failed): {elapsed:.0f}s"
        )

    async def tick() -> None:
        while True:
            draw()
            await asyncio.sleep(_TICK)

    async with inv.service(args, concurrency=8) as client:
        stream: Listing[ImportJob] | AsyncGenerator[ImportJob, None]
        with checked_input():
            if args.routed:
                router = cast("QConnectRouter", client)
                stream = _each_waited(router, args.pairs, args.timeout)
            else:
                many = cast("QConnectClient", client).wait_for_import_jobs
                stream = many(args.pairs, deadline=args.timeout)
        ticker = asyncio.create_task(tick()) if inv.progress.enabled else None
        try:
            with ListingWriter(ENDED_JOBS, inv) as writer:
                async with aclosing(stream):
                    async for job in stream:
                        ended += 1
                        failed += job.status != "COMPLETE"
                        inv.progress.clear()
                        writer.printed = True
                        writer.add(_row(job))
                        if inv.output != "table":  # a table is aligned on all its rows
                            writer.page_done()
                        if ticker is not None:
                            draw()
        finally:
            if ticker is not None:
                ticker.cancel()
                await asyncio.wait((ticker,))
            inv.progress.clear()
    if failed:
        raise CommandError(f"\n{failed} of {total} import jobs did not complete.", Exit.SERVICE)


async def _each_waited(
    router: QConnectRouter, pairs: list[tuple[str, str]], deadline: float
) -> AsyncGenerator[ImportJob, None]:
    """Each job as it ends, FAILED ones too, each awaited on its own: a router has no wait for
    many jobs (its pairs' clients each poll their jobs)."""

    async def wait(kb: str, job_id: str) -> ImportJob:
        try:
            return await router.wait_for_import_job(kb, job_id, timeout=deadline)
        except ImportJobFailedError as exc:
            failed: ImportJob | None = exc.job
            if failed is None:
                raise
            return failed

    waits = [asyncio.ensure_future(wait(kb, job_id)) for kb, job_id in pairs]
    try:
        for ended in asyncio.as_completed(waits):
            yield await ended
    finally:
        for task in waits:
            task.cancel()
        await asyncio.gather(*waits, return_exceptions=True)


def _row(job: ImportJob) -> dict[str, object]:
    """The job as ``aws`` prints ImportJobData; a failed job's report URL (a secret: stdout
    only) is how to read why."""
    report = job.failed_record_report
    extra = {} if report is None else {"failedRecordReport": report.get_secret_value()}
    return wire(job, "ImportJobData", **extra)


WAIT_IMPORT_JOBS = Command(
    name="wait-import-jobs",
    help="wait for many import jobs, of any knowledge bases; print each as it ends",
    add_arguments=_add_arguments,
    check=_check,
    run=_run,
    examples="""\
  qconnect-async wait-import-jobs KB_ID JOB_ID JOB_ID JOB_ID --output ndjson
  qconnect-async wait-import-jobs --job KB_1 JOB_ID --job KB_2 JOB_ID --timeout 900""",
)
