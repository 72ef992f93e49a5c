"""``qconnect-async list-knowledge-bases``: the knowledge bases of the account and Region.

Paged as ``list-import-jobs``. The library's listing yields items, not pages: a ``NextToken``
counts the knowledge bases read since the listing's own start token (botocore's
``boto_truncate_amount``), which ``aws`` resumes while that count is within its first page.
"""

from __future__ import annotations

import argparse
import sys

from ._base import Command, Invocation, add_paging, checked_input, encode_token
from ._output import ListingSpec, ListingWriter, wire

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


def _add_arguments(parser: argparse.ArgumentParser) -> None:
    add_paging(parser, "knowledge bases")


async def _run(args: argparse.Namespace, inv: Invocation) -> None:
    token, skip = args.starting_token or (None, 0)
    async with inv.client() as client:
        with checked_input():
            listing = client.list_knowledge_bases(page_size=args.page_size, starting_token=token)
        with ListingWriter(KNOWLEDGE_BASES, inv, aside=sys.stderr) as writer:
            read = 0  # knowledge bases read since `token`, the skipped ones included
            writer.token = encode_token(token, skip)
            async with listing:
                async for kb in listing:
                    read += 1
                    if read <= skip:
                        continue
                    if args.max_items is not None and read - skip > args.max_items:
                        return  # one more exists: the token says where it is
                    writer.printed = True
                    writer.add(wire(kb, "KnowledgeBaseSummary"))
                    writer.token = encode_token(token, read)
            writer.token = None


LIST_KNOWLEDGE_BASES = Command(
    name="list-knowledge-bases",
    help="list the knowledge bases of the account (in the Region)",
    add_arguments=_add_arguments,
    run=_run,
    epilog="""\
examples:
  qconnect-async list-knowledge-bases --output table
  qconnect-async list-knowledge-bases --max-items 10
  qconnect-async list-knowledge-bases --query 'knowledgeBaseSummaries[].name' --output text""",
)
