"""``list-import-jobs`` (of one KB, or several at once, merged, fail-fast) and
``list-knowledge-bases``, paged as ``aws`` pages (botocore's resume tokens); an interrupted or
failed listing prints ``NextToken`` from the last page printed whole."""

from __future__ import annotations

import argparse
import sys
import time
from collections.abc import Callable
from contextlib import aclosing
from functools import partial
from typing import TYPE_CHECKING, Any, cast

from ._base import (
    Command,
    Invocation,
    UsageError,
    add_ids,
    add_paging,
    checked_input,
    encode_token,
    knowledge_base,
    place,
    positive_int,
    routed,
)
from ._output import ListingSpec, ListingWriter, wire

if TYPE_CHECKING:
    from qconnect_async import ImportJob, Listing, QConnectClient, QConnectRouter

IMPORT_JOBS = ListingSpec(
    key="importJobSummaries",
    noun="import job",
    columns=(
        ("IMPORT JOB ID", "importJobId"),
        ("STATUS", "status"),
        ("TYPE", "importJobType"),
        ("CREATED (UTC)", "createdTime"),
        ("LAST MODIFIED (UTC)", "lastModifiedTime"),
    ),
    csv_columns="importJobId knowledgeBaseId status importJobType createdTime lastModifiedTime "
    "uploadId knowledgeBaseArn metadata externalSourceConfiguration",
)


KNOWLEDGE_BASES = ListingSpec(
    key="knowledgeBaseSummaries",
    noun="knowledge base",
    columns=(
        ("NAME", "name"),
        ("KNOWLEDGE BASE ID", "knowledgeBaseId"),
        ("TYPE", "knowledgeBaseType"),
        ("STATUS", "status"),
    ),
    csv_columns="knowledgeBaseId name knowledgeBaseType status knowledgeBaseArn description tags",
)


def _status(text: str) -> str:
    from qconnect_async import ImportJobStatus

    value, known = text.strip().upper(), [status.value for status in ImportJobStatus]
    if value not in known:
        raise argparse.ArgumentTypeError(f"unknown status {text!r} (one of {', '.join(known)})")
    return value


def _add_arguments(parser: argparse.ArgumentParser) -> None:
    add = parser.add_argument
    add_ids(parser, "KB_ID_OR_ARN", "knowledge bases to list")
    add("--all", action="store_true", dest="all_kbs", help="every knowledge base of the account")
    add("--status", action="append", type=_status, help="keep jobs in STATUS only (repeatable)")
    add_paging(parser, "jobs")
    add("--no-paginate", action="store_true", help="one request; print the service's nextToken")
    add("--max-concurrency", type=positive_int, default=8, metavar="N", help="requests at once")


def _check(args: argparse.Namespace) -> None:
    kbs = list(args.given) + ([args.kb_option] if args.kb_option else [])
    if args.all_kbs and kbs:
        raise UsageError("give knowledge base IDs or --all, not both")
    if not kbs and not args.all_kbs:
        if not args.demo:
            raise UsageError("the following arguments are required: --knowledge-base-id")
        args.all_kbs = True
    # ARNs of several accounts and Regions (or --role-name): one QConnectRouter lists them.
    args.routed = routed(args, kbs)
    if args.routed and args.all_kbs:
        raise UsageError("--all lists one account and Region: give KB ARNs with --role-name")
    # The KBs as given (an ARN stays one: the client checks its Region once open), once each.
    given: dict[object, str] = {}
    for kb in kbs:
        key = (*place(kb), knowledge_base(kb)) if args.routed else knowledge_base(kb)
        given.setdefault(key, kb)
    args.kb_ids = list(given.values())
    # The options of one listing, each read under argparse's name for it.
    options = ("--max-items", "--starting-token", "--no-paginate")
    paging = [name for name in options if getattr(args, name[2:].replace("-", "_"))]
    if paging and (len(given) != 1 or args.routed):
        raise UsageError(f"{', '.join(paging)}: give exactly one knowledge base, of one Region")
    if args.no_paginate and args.max_items is not None:
        raise UsageError("--max-items and --no-paginate do not go together")


async def _run(args: argparse.Namespace, inv: Invocation) -> None:
    async with inv.service(args, concurrency=args.max_concurrency) as client:
        if len(args.kb_ids) == 1 and not args.routed:
            await _list_one(cast("QConnectClient", client), args, inv)
        else:
            await _list_many(client, args, inv)


async def _list_one(client: QConnectClient, args: argparse.Namespace, inv: Invocation) -> None:
    """One KB, a page at a time, with the AWS CLI's pagination and resume tokens."""
    kb = args.kb_ids[0]
    inv.progress.start(1)
    with checked_input():
        listing = client.list_import_jobs(kb, page_size=args.page_size)
    with ListingWriter(IMPORT_JOBS, inv, raw=args.no_paginate, aside=sys.stderr) as writer:
        add = partial(_add, writer, args, inv, False)
        await _print_pages(listing, writer, args, inv, f"ListImportJobs knowledgeBaseId={kb}", add)


async def _print_pages(
    listing: Listing[Any],
    writer: ListingWriter,
    args: argparse.Namespace,
    inv: Invocation,
    request: str,
    add: Callable[[Any], None],
) -> None:
    """A listing printed page by page as ``aws`` pages it: ``--max-items`` cuts it; NextToken
    resumes after the last item printed (the service's own token with ``--no-paginate``)."""
    raw, left = getattr(args, "no_paginate", False), args.max_items
    token, skip = args.starting_token or (None, 0)
    # Until a page is printed, the rest starts where this listing starts.
    writer.token = token if raw else encode_token(token, skip)
    async with aclosing(listing.pages(token)) as pages:
        started = time.monotonic()
        async for page in pages:
            took, sent = time.monotonic() - started, "given" if token else "none"
            inv.log.debug("%s nextToken=%s: %d items (%.3fs)", request, sent, len(page.items), took)
            writer.printed, size = True, len(page.items)
            end = size if left is None else min(size, skip + left)
            for item in page.items[skip:end]:
                add(item)
            writer.page_done()
            left = None if left is None else left - len(page.items[skip:end])
            if end < size:  # cut inside the page: the token skips what was printed
                writer.token = encode_token(token, end)
            elif page.next_token is None or raw:
                writer.token = page.next_token
            else:
                writer.token = encode_token(page.next_token)
            if raw or left == 0:
                return
            token, skip, started = page.next_token, 0, time.monotonic()


def _add(
    writer: ListingWriter, args: argparse.Namespace, inv: Invocation, clear: bool, job: ImportJob
) -> None:
    """A job listed: counted, and printed unless ``--status`` leaves it out (``clear``: the
    progress line erased first, when both go to one terminal)."""
    inv.progress.job()
    if not args.status or job.status in args.status:
        if clear:
            inv.progress.clear()
        writer.add(wire(job, "ImportJobSummary"))


async def _list_many(
    client: QConnectClient | QConnectRouter, args: argparse.Namespace, inv: Invocation
) -> None:
    """Several KBs (or every KB; of several accounts and Regions with a router), listed at
    once and merged; fail-fast."""
    kbs: list[str] = args.kb_ids
    names: dict[str, str] = {}
    if args.all_kbs:  # with one client (_check refuses --all with a router)
        client = cast("QConnectClient", client)
        inv.progress.note("listing knowledge bases...")
        names = {kb.knowledge_base_id: kb.name async for kb in client.list_knowledge_bases()}
        inv.log.debug("ListKnowledgeBases: %d knowledge bases", len(names))
        kbs = list(names)

    def done(kb: str, error: Exception | None) -> None:
        inv.progress.listing_done(kb, None)
        inv.log.debug("ListImportJobs knowledgeBaseId=%s: %s", kb, error or "listed")

    interleaved = inv.progress.enabled and inv.output != "table" and inv.stdout.isatty()
    inv.progress.start(len(kbs))
    with ListingWriter(IMPORT_JOBS, inv, names=names) as writer:
        with checked_input():
            jobs = client.list_import_jobs_many(kbs, page_size=args.page_size, on_listing_done=done)
        async with aclosing(jobs):
            async for job in jobs:
                writer.printed = True
                _add(writer, args, inv, interleaved, job)


LIST_IMPORT_JOBS = Command(
    name="list-import-jobs",
    help="list the import jobs of a knowledge base (or several, or --all)",
    add_arguments=_add_arguments,
    check=_check,
    run=_run,
    examples="""\
  qconnect-async list-import-jobs --knowledge-base-id KB_ID --max-items 50
  qconnect-async list-import-jobs --knowledge-base-id KB_ID --starting-token TOKEN
  qconnect-async list-import-jobs --all --status FAILED --output table
  qconnect-async list-import-jobs KB_ID --query 'importJobSummaries[].importJobId' --output text
  qconnect-async list-import-jobs --demo --output table""",
)


async def _list_knowledge_bases(args: argparse.Namespace, inv: Invocation) -> None:
    async with inv.client() as client:
        listing = client.list_knowledge_bases(page_size=args.page_size)
        with ListingWriter(KNOWLEDGE_BASES, inv, aside=sys.stderr) as writer:
            await _print_pages(
                *(listing, writer, args, inv, "ListKnowledgeBases"),
                lambda kb: writer.add(wire(kb, "KnowledgeBaseSummary")),
            )


LIST_KNOWLEDGE_BASES = Command(
    name="list-knowledge-bases",
    help="list the knowledge bases of the account (in the Region)",
    add_arguments=lambda parser: add_paging(parser, "knowledge bases"),
    run=_list_knowledge_bases,
    examples="""\
  qconnect-async list-knowledge-bases --output table
  qconnect-async list-knowledge-bases --max-items 10
  qconnect-async list-knowledge-bases --query 'knowledgeBaseSummaries[].name' --output text""",
)
