"""Waiting for many import jobs at once, across knowledge bases, with the fewest requests.

Each round looks at every knowledge base that still has jobs running, all KBs at once (the
client's slots and send rate bound them), then yields the jobs that ended, in the order they
ended (their lastModifiedTime). Per KB a round takes the cheaper look:

* one GetImportJob per job still running, or
* one ListImportJobs listing of the KB (stopping once every running job was seen), when its
  pages are fewer than those jobs: the pages the last listing of the KB took are the guess;
  before any, a KB with two jobs or more running is listed.

A job that ended is yielded as it was seen: a listed COMPLETE job is its summary (no URLs); a
FAILED one (or one deleted before it could complete) is fetched with GetImportJob, so that it
carries its ``failed_record_report``. Rounds are spaced as the single waiter's polls
(``poll_delay``); a deadline passed ends the stream with DeadlineExceededError. Nothing runs
between rounds: leaving the stream (break, aclose, cancel) leaves no task behind.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncGenerator, Coroutine, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, TypeVar

from ._checks import MAX_PAGE_SIZE
from ._errors import DeadlineExceededError
from ._imports import ENDED, poll_delay
from ._listing import LoopGuard
from .models import ImportJob, ImportJobPage, ImportJobStatus

if TYPE_CHECKING:
    from ._ops import Ops

__all__ = ["wait_for_jobs"]

T = TypeVar("T")


@dataclass
class _Kb:
    """One knowledge base's jobs still running, and what its last listing cost."""

    id: str
    running: set[str]
    #: pages the KB's last full listing took (None: never listed yet)
    pages: int | None = None
    #: jobs a listing did not find: looked at one by one from then on
    unlisted: set[str] = field(default_factory=set)

    def lists(self) -> bool:
        """Whether one listing costs fewer requests than a GetImportJob per running job."""
        gets = len(self.running - self.unlisted)
        if gets < 2:
            return False
        return self.pages is None or self.pages < gets


async def wait_for_jobs(
    ops: Ops, pairs: Sequence[tuple[str, str]], starting_token: None, *, deadline: float | None
) -> AsyncGenerator[ImportJobPage, None]:
    """Pages of the jobs that ended in each round (one page per KB and round)."""
    kbs: dict[str, _Kb] = {}
    for kb, job_id in pairs:
        kbs.setdefault(kb, _Kb(kb, set())).running.add(job_id)
    when = ops.deadline_at(deadline)
    total, rounds = len(pairs), 0
    while kbs:
        limit = asyncio.timeout_at(when)
        try:
            async with limit:
                if rounds:
                    await asyncio.sleep(poll_delay(rounds))
                rounds += 1
                looks = await _all([_look(ops, kb) for kb in kbs.values()])
        except TimeoutError as exc:
            if not limit.expired():
                raise  # a timeout of someone else's
            running = sum(len(kb.running) for kb in kbs.values())
            raise DeadlineExceededError(
                f"{running} of {total} import jobs had not ended by the deadline",
                operation="GetImportJob",
                **ops.where,
            ) from exc
        for kb_id, ended in looks:
            if not kbs[kb_id].running:
                del kbs[kb_id]
            if ended:
                ended.sort(key=lambda job: job.last_modified_time)
                yield ImportJobPage(items=tuple(ended), knowledge_base_id=kb_id)


async def _look(ops: Ops, kb: _Kb) -> tuple[str, list[ImportJob]]:
    """The KB's jobs that have ended since the last look, the cheaper way; the KB updated."""
    seen: dict[str, ImportJob] = {}
    if kb.lists():
        seen = await _listed(ops, kb)
        kb.unlisted |= kb.running - seen.keys()
    single = [job_id for job_id in kb.running if job_id not in seen]
    seen.update(
        (job.import_job_id, job)
        for job in await _all([ops.get_import_job(kb.id, job_id) for job_id in single])
    )
    ended = [job for job in seen.values() if _ended(job)]
    # A listed job that ended without completing is fetched: its report is GetImportJob's.
    listed_failed = [
        job.import_job_id
        for job in ended
        if job.status != ImportJobStatus.COMPLETE and job.import_job_id not in single
    ]
    details = {
        job.import_job_id: job
        for job in await _all([ops.get_import_job(kb.id, job_id) for job_id in listed_failed])
    }
    ended = [details.get(job.import_job_id, job) for job in ended]
    kb.running -= {job.import_job_id for job in ended}
    return kb.id, ended


async def _listed(ops: Ops, kb: _Kb) -> dict[str, ImportJob]:
    """The KB's running jobs as one listing shows them, the listing stopped once all were
    seen; the pages it took are remembered."""
    wanted = kb.running - kb.unlisted
    seen: dict[str, ImportJob] = {}
    guard, token, pages = LoopGuard(None, ops.where), None, 0
    while True:
        page = await ops.list_import_jobs(
            kb.id, page_size=MAX_PAGE_SIZE, token=token, deadline=None
        )
        pages += 1
        seen.update((job.import_job_id, job) for job in page.items if job.import_job_id in wanted)
        if not page.next_token or len(seen) == len(wanted):
            # A listing cut short shows what a full one costs at least.
            kb.pages = pages if not page.next_token else max(pages, kb.pages or 0)
            return seen
        guard.check(page.next_token, sent=token, operation="ListImportJobs", kb=kb.id)
        token = page.next_token


def _ended(job: ImportJob) -> bool:
    return job.status == ImportJobStatus.COMPLETE or job.status in ENDED


async def _all(calls: Sequence[Coroutine[Any, Any, T]]) -> list[T]:
    """Every call's result, run at once; the first error raised as it is (not grouped), the
    other calls then cancelled and awaited: none outlives this."""
    tasks = [asyncio.ensure_future(call) for call in calls]
    if not tasks:
        return []
    try:
        await asyncio.wait(tasks, return_when=asyncio.FIRST_EXCEPTION)
        for task in tasks:
            if task.done() and not task.cancelled() and (error := task.exception()) is not None:
                raise error
        return [task.result() for task in tasks]
    finally:
        for task in tasks:
            task.cancel()
        await asyncio.wait(tasks)
