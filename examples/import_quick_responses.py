"""Import a CSV of quick responses into a knowledge base and wait for the import to end.

    python examples/import_quick_responses.py KB FILE.csv [--timeout SECONDS]

Uploads FILE (streamed from disk), starts the import, and waits. When the import fails, the
rows the service refused are printed from its failed-record report. Region, credentials and
endpoint come from the usual AWS settings (AWS_DEFAULT_REGION, AWS_PROFILE,
AWS_ENDPOINT_URL_QCONNECT, ...).

Exit status: 0 imported, 1 the import failed (bad rows printed) or another error, 2 bad
arguments, 3 still running when the timeout passed, 130 interrupted.
"""

from __future__ import annotations

import argparse
import asyncio
import csv
import io
import sys
from collections.abc import Sequence
from typing import TextIO

import aiohttp

from qconnect_async import (
    DeadlineExceededError,
    ImportJob,
    ImportJobFailedError,
    QConnectClient,
    QConnectError,
    ValidationError,
)


async def failed_rows(job: ImportJob) -> list[dict[str, str]]:
    """The rows of a failed job's report (a CSV behind a presigned URL); [] if it has none."""
    if job.failed_record_report is None:
        return []
    # The URL is a secret: used here, never printed.
    url = job.failed_record_report.get_secret_value()
    async with aiohttp.ClientSession() as http, http.get(url) as response:
        response.raise_for_status()
        text = await response.text()
    return list(csv.DictReader(io.StringIO(text)))


async def run(
    client: QConnectClient, kb: str, path: str, *, wait_seconds: float, out: TextIO
) -> int:
    """Upload, start, wait; print what happened. Returns the exit status."""
    job = await client.start_import_job(kb, path)
    print(f"started import job {job.import_job_id} (upload {job.upload_id})", file=out)
    try:
        done = await client.wait_for_import_job(kb, job.import_job_id, timeout=wait_seconds)
    except ImportJobFailedError as error:
        rows = await failed_rows(error.job)
        print(f"import job {job.import_job_id} failed: {len(rows)} bad rows", file=out)
        for row in rows:
            reason = row.get("ErrorMessage", "")
            print(f"  row {row.get('RowNumber', '?')}: {reason}", file=out)
        return 1
    except DeadlineExceededError:
        print(f"import job {job.import_job_id} still running after {wait_seconds:g} s", file=out)
        return 3
    print(f"import job {done.import_job_id} complete", file=out)
    return 0


async def amain(argv: Sequence[str] | None = None, *, out: TextIO | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("kb", help="knowledge base ID or ARN")
    parser.add_argument("file", help="the CSV of quick responses")
    parser.add_argument("--timeout", type=float, default=600.0, help="seconds to wait")
    args = parser.parse_args(argv)
    try:
        async with QConnectClient() as client:
            return await run(
                client, args.kb, args.file, wait_seconds=args.timeout, out=out or sys.stdout
            )
    except ValidationError as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    except QConnectError as error:
        print(f"error: {error}", file=sys.stderr)
        return 1


def main(argv: Sequence[str] | None = None) -> int:
    try:
        return asyncio.run(amain(argv))
    except KeyboardInterrupt:
        return 130


if __name__ == "__main__":
    sys.exit(main())
