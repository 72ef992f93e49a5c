"""What the CLI's tests share: running the command, reading a terminal, boto3's view of jobs.

Every test runs the installed command in a subprocess (the venv's ``qconnect-async`` entry
point, or ``python -m qconnect_async``) against a QConnectServer; what is expected comes from
boto3, an independent reader of the same server's answers.
"""

from __future__ import annotations

import json
import os
import pty
import select
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

TIMES = ("createdTime", "lastModifiedTime")
MISSING_KB = "00000000-0000-0000-0000-000000000000"
_SCRIPT = Path(sys.executable).with_name("qconnect-async")
#: The installed entry point when there is one (it is in a venv), else the module.
COMMAND = [str(_SCRIPT)] if _SCRIPT.exists() else [sys.executable, "-m", "qconnect_async"]


def expected(boto: Any, kb_ids: list[str]) -> list[dict[str, Any]]:
    """Every job of the KBs as boto3 reads them, timestamps as the AWS CLI prints them."""
    jobs = []
    for kb_id in kb_ids:
        for page in boto.get_paginator("list_import_jobs").paginate(knowledgeBaseId=kb_id):
            for job in page["importJobSummaries"]:
                for key in TIMES:
                    job[key] = job[key].astimezone(UTC).isoformat()
                jobs.append(job)
    return jobs


def cli(*argv: str, **options: Any) -> subprocess.CompletedProcess[str]:
    """Run the command to its end; stdout and stderr captured."""
    return subprocess.run(
        [*COMMAND, *argv], capture_output=True, text=True, timeout=60, check=False, **options
    )


def ids(jobs: list[dict[str, Any]]) -> list[str]:
    return [job["importJobId"] for job in jobs]


@contextmanager
def started(argv: list[str], **options: Any) -> Iterator[subprocess.Popen[Any]]:
    """A child process that is killed if the test fails before it ends."""
    proc = subprocess.Popen(argv, **options)
    try:
        yield proc
    finally:
        if proc.poll() is None:
            proc.kill()
        proc.wait(timeout=10)


def read_until_closed(fd: int, timeout: float = 30) -> bytes:
    """What a pty's master side receives until the child side is closed (or time is up)."""
    chunks = []
    deadline = time.monotonic() + timeout
    while (left := deadline - time.monotonic()) > 0:
        if not select.select([fd], [], [], left)[0]:
            break
        try:
            chunk = os.read(fd, 65536)
        except OSError:  # EIO: the child side is closed
            break
        if not chunk:
            break
        chunks.append(chunk)
    return b"".join(chunks)


def on_a_terminal(*args: str) -> tuple[str, bytes]:
    """Run the command with stderr on a pty (stdout a file): what it drew, what it printed."""
    master, slave = pty.openpty()
    with tempfile.TemporaryFile() as stdout:
        try:
            with started([*COMMAND, *args], stdout=stdout, stderr=slave) as proc:
                os.close(slave)
                drawn = read_until_closed(master).decode()
                assert proc.wait(timeout=30) == 0
        finally:
            os.close(master)
        stdout.seek(0)
        return drawn, stdout.read()


def raw_answer(boto: Any, method: str, **params: Any) -> dict[str, Any]:
    """The service's document as it came over HTTP (the body before botocore parses it), its
    keys in the order aws prints them: botocore's parse, which follows its model's members."""
    bodies: list[bytes] = []

    def keep(http_response: Any, **_: Any) -> None:
        bodies.append(http_response.content)

    boto.meta.events.register("after-call.qconnect", keep)
    try:
        parsed = getattr(boto, method)(**params)
    finally:
        boto.meta.events.unregister("after-call.qconnect", keep)
    document: dict[str, Any] = _in_order_of(json.loads(bodies[-1]), parsed)
    return document


def _in_order_of(raw: Any, parsed: Any) -> Any:
    """``raw`` with each object's keys in ``parsed``'s order (keys botocore dropped last)."""
    if isinstance(raw, dict) and isinstance(parsed, dict):
        keys = [k for k in parsed if k in raw] + [k for k in raw if k not in parsed]
        return {k: _in_order_of(raw[k], parsed.get(k)) for k in keys}
    if isinstance(raw, list) and isinstance(parsed, list) and len(raw) == len(parsed):
        return [_in_order_of(r, p) for r, p in zip(raw, parsed, strict=True)]
    return raw


def assert_same_document(printed: Any, raw: Any, path: str = "") -> None:
    """``printed`` (the command's json) is the service's ``raw`` document key by key, in the
    order of ``raw``'s keys, at every level; a timestamp is the same instant (aws prints
    ISO 8601, the wire has epoch seconds); a presigned URL the same resource (each answer
    signs anew)."""
    if isinstance(raw, dict):
        assert isinstance(printed, dict), path
        assert list(printed) == [k for k, v in raw.items() if v is not None], path
        for key in printed:
            assert_same_document(printed[key], raw[key], f"{path}.{key}")
    elif isinstance(raw, list):
        assert isinstance(printed, list) and len(printed) == len(raw), path
        for i, (mine, theirs) in enumerate(zip(printed, raw, strict=True)):
            assert_same_document(mine, theirs, f"{path}[{i}]")
    elif isinstance(raw, int | float) and isinstance(printed, str):
        assert printed == datetime.fromtimestamp(raw, UTC).isoformat(), path
    elif path.endswith((".url", ".failedRecordReport")):
        assert urlsplit(printed).path == urlsplit(raw).path, path
    else:
        assert printed == raw, path
