"""What the sections share: result rows, medians, client arguments, the AWS environment."""

from __future__ import annotations

import asyncio
import os
import statistics
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Final

from aiobotocore.config import AioConfig
from aiobotocore.session import get_session

from qconnect_async import QConnectClient

if TYPE_CHECKING:
    from qconnect_async.testing import RemoteQConnectServer

#: Every client is given these explicitly: no real credential ever signs a benchmark request.
ACCESS_KEY: Final = "testing"
SECRET_KEY: Final = "testing"

_DUMMY_ENV: Final = {
    "AWS_ACCESS_KEY_ID": "testing",
    "AWS_SECRET_ACCESS_KEY": "testing",
    "AWS_DEFAULT_REGION": "us-east-1",
    # A developer's ~/.aws/config (retry mode, max attempts, endpoints) would change the rows.
    "AWS_CONFIG_FILE": os.devnull,
    "AWS_SHARED_CREDENTIALS_FILE": os.devnull,
    "AWS_EC2_METADATA_DISABLED": "true",
}


@dataclass(frozen=True)
class Row:
    """One line of the table; `key` names it in the JSON output."""

    key: str
    figure: str
    value: str
    goal: str = "-"
    #: None: the row has no goal (a reference row)
    met: bool | None = None


@dataclass
class Section:
    """The rows, notes and raw numbers of one section."""

    name: str
    rows: list[Row]
    notes: list[str] = field(default_factory=list)
    data: dict[str, Any] = field(default_factory=dict)


def median(values: Sequence[float]) -> float:
    """The median; NaN for no values (shows as a non-finite number, never a crash)."""
    return statistics.median(values) if values else float("nan")


def runs_of(default: int, smoke: bool, runs: int | None) -> int:
    """How many measured runs: one in smoke mode, else `runs` or the section's default."""
    if smoke:
        return 1
    return default if runs is None else runs


@contextmanager
def isolated_aws_env() -> Iterator[None]:
    """Dummy credentials and no AWS config files while benchmarking; restored afterwards."""
    saved = {name: value for name, value in os.environ.items() if name.startswith("AWS_")}
    for name in saved:
        del os.environ[name]
    os.environ.update(_DUMMY_ENV)
    try:
        yield
    finally:
        for name in [name for name in os.environ if name.startswith("AWS_")]:
            del os.environ[name]
        os.environ.update(saved)


def qconnect_client(
    server: RemoteQConnectServer, *, max_concurrency: int = 8, rate_limiter: Any = None
) -> QConnectClient:
    """A QConnectClient pointed at the benchmark server (open it with `async with`)."""
    return QConnectClient(
        region_name=server.region,
        endpoint_url=server.endpoint_url,
        max_concurrency=max_concurrency,
        rate_limiter=rate_limiter,
        aws_access_key_id=ACCESS_KEY,
        aws_secret_access_key=SECRET_KEY,
    )


def aiobotocore_client(server: RemoteQConnectServer, config: AioConfig | None = None) -> Any:
    """An aiobotocore qconnect client context pointed at the benchmark server."""
    return get_session().create_client(
        "qconnect",
        region_name=server.region,
        endpoint_url=server.endpoint_url,
        aws_access_key_id=ACCESS_KEY,
        aws_secret_access_key=SECRET_KEY,
        config=config,
    )


async def aiobotocore_fan_out(
    client: Any, kbs: Sequence[str], *, width: int, page_size: int
) -> tuple[list[str], int]:
    """Raw aiobotocore's many-KB listing: one paginator per KB, at most ``width`` at once.

    Returns (the import job ids listed, repeats kept; KBs failed); failures are counted, not
    raised (gather's return_exceptions), as a caller of raw aiobotocore would write it.
    """
    paginator = client.get_paginator("list_import_jobs")
    gate = asyncio.Semaphore(width)
    ids: list[str] = []

    async def one(kb: str) -> None:
        async with gate:
            pages = paginator.paginate(knowledgeBaseId=kb, PaginationConfig={"PageSize": page_size})
            async for page in pages:
                ids.extend(job["importJobId"] for job in page["importJobSummaries"])

    results = await asyncio.gather(*(one(kb) for kb in kbs), return_exceptions=True)
    return ids, sum(isinstance(result, Exception) for result in results)
