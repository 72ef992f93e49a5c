"""wait_for_import_jobs over real HTTP: each job once it ends, the cheaper look per KB."""

from __future__ import annotations

import asyncio

import pytest

from _limiters import AskedLimiter
from qconnect_async import (
    DeadlineExceededError,
    ImportJob,
    ImportJobStatus,
    PaginationLoopError,
    QConnectClient,
    ResourceNotFoundError,
    ValidationError,
)
from qconnect_async._config import set_testing
from qconnect_async._imports import FIRST_POLL_DELAY, poll_delay
from qconnect_async.testing import QConnectServer

CSV = b"Name,Content\nHello,Hi there\n"
BAD_CSV = b"Name,Content\nHello,Hi there\n,No name\n"


async def started(client: QConnectClient, kb: str, count: int, *, bad: int = -1) -> list[ImportJob]:
    return [await client.start_import_job(kb, BAD_CSV if i == bad else CSV) for i in range(count)]


def counts(server: QConnectServer) -> dict[str, int]:
    return dict(server.stats.requests)


async def test_every_job_is_yielded_once_it_ended_failed_ones_with_their_report(
    client: QConnectClient, qconnect_server: QConnectServer
) -> None:
    """Jobs of three KBs: each yielded once, COMPLETE or FAILED (with its report, not
    raised); a KB of several jobs is listed, a KB of one job is read with GetImportJob."""
    kbs = [qconnect_server.create_knowledge_base(f"kb{i}") for i in range(3)]
    jobs = [
        *await started(client, kbs[0], 4, bad=2),
        *await started(client, kbs[1], 3),
        *await started(client, kbs[2], 1),
    ]
    qconnect_server.reset_stats()
    async with client.wait_for_import_jobs(jobs) as stream:
        ended = [job async for job in stream]
    assert sorted(j.import_job_id for j in ended) == sorted(j.import_job_id for j in jobs)
    failed = [j for j in ended if j.status == ImportJobStatus.FAILED]
    assert len(failed) == 1 and failed[0].failed_record_report is not None
    assert {j.status for j in ended} == {ImportJobStatus.COMPLETE, ImportJobStatus.FAILED}
    # Each job completes after one read that saw it running: two looks a KB. The two KBs of
    # several jobs are listed (a page a look), the one-job KB read twice; the failed job is
    # read once more for its report.
    assert counts(qconnect_server) == {"ListImportJobs": 4, "GetImportJob": 3}


async def test_jobs_are_yielded_in_the_order_they_end(
    client: QConnectClient, qconnect_server: QConnectServer
) -> None:
    """A job that ends in an earlier look comes before the ones still running then."""
    kb = qconnect_server.create_knowledge_base("kb")
    first = await started(client, kb, 2)
    await client.wait_for_import_job(kb, first[0].import_job_id)  # ends now
    later = await started(client, kb, 1)
    stream = client.wait_for_import_jobs([later[0], first[1], first[0]])
    order = [job.import_job_id async for job in stream]
    assert order[0] == first[0].import_job_id and len(order) == 3


@pytest.mark.parametrize(("others", "pages"), [(250, 3), (150, 2)])
async def test_a_kb_whose_listing_costs_more_than_its_jobs_is_read_job_by_job(
    client: QConnectClient, qconnect_server: QConnectServer, others: int, pages: int
) -> None:
    """Two running jobs behind 250 (150) others: once one listing took three (two) pages, the
    next look takes two GetImportJobs instead (a tie goes to the reads)."""
    qconnect_server.set_job_completion(after_reads=2)
    kb = qconnect_server.create_knowledge_base("big")
    qconnect_server.add_import_jobs(kb, others, status="COMPLETE")
    jobs = await started(client, kb, 2)
    qconnect_server.reset_stats()
    ended = [job async for job in client.wait_for_import_jobs(jobs)]
    assert len(ended) == 2
    # look 1: a listing of `pages` pages sees both running; looks 2 and 3: two reads each
    assert counts(qconnect_server) == {"ListImportJobs": pages, "GetImportJob": 4}


async def test_jobs_a_listing_does_not_show_are_read_job_by_job_from_then_on(
    client: QConnectClient, qconnect_server: QConnectServer
) -> None:
    """A listing that lags behind the jobs' starts shows neither running job: both are read
    with GetImportJob, and the KB is not listed again for them (one listing in three looks)."""
    qconnect_server.set_job_completion(after_reads=2)
    kb = qconnect_server.create_knowledge_base("kb")
    jobs = await started(client, kb, 2)
    qconnect_server.hide_running_jobs(knowledge_base_id=kb)
    qconnect_server.reset_stats()
    ended = [job async for job in client.wait_for_import_jobs(jobs)]
    assert sorted(j.import_job_id for j in ended) == sorted(j.import_job_id for j in jobs)
    # look 1: a listing that shows neither, then two reads; looks 2 and 3: two reads each
    assert counts(qconnect_server) == {"ListImportJobs": 1, "GetImportJob": 6}


async def test_pairs_and_arns_are_taken_and_a_job_given_twice_is_waited_for_once(
    client: QConnectClient, qconnect_server: QConnectServer
) -> None:
    """(KB ID or ARN, job ID) pairs and ImportJobs mix; the same job given twice comes once."""
    kb = qconnect_server.create_knowledge_base("kb")
    jobs = await started(client, kb, 2)
    arn = qconnect_server.knowledge_base_arn(kb)
    given = [jobs[0], (kb, jobs[0].import_job_id), (arn, jobs[1].import_job_id)]
    ended = [job.import_job_id async for job in client.wait_for_import_jobs(given)]
    assert sorted(ended) == sorted(j.import_job_id for j in jobs)
    assert [job async for job in client.wait_for_import_jobs([])] == []


async def test_the_deadline_ends_the_stream_as_deadline_exceeded(
    client: QConnectClient, qconnect_server: QConnectServer
) -> None:
    """Jobs that never end: DeadlineExceededError (a TimeoutError) saying how many still run,
    naming the client's Region."""
    kb = qconnect_server.create_knowledge_base("kb")
    qconnect_server.set_job_completion(after_reads=None)
    jobs = await started(client, kb, 3)
    with pytest.raises(DeadlineExceededError) as info:
        async for _ in client.wait_for_import_jobs(jobs, deadline=0.05):
            pass
    assert isinstance(info.value, TimeoutError)
    assert info.value.message == "3 of 3 import jobs had not ended by the deadline"
    assert (info.value.operation, info.value.region) == ("GetImportJob", "us-east-1")


async def test_a_missing_job_is_raised_as_it_is_and_nothing_is_left_running(
    client: QConnectClient, qconnect_server: QConnectServer
) -> None:
    """A job that does not exist: ResourceNotFoundError (not a group); no task outlives it."""
    kb = qconnect_server.create_knowledge_base("kb")
    qconnect_server.set_job_completion(after_reads=None)
    jobs = await started(client, kb, 1)
    missing = (kb, "12345678-1234-1234-1234-123456789012")
    before = asyncio.all_tasks()
    with pytest.raises(ResourceNotFoundError) as info:
        async for _ in client.wait_for_import_jobs([jobs[0], missing]):
            pass
    assert info.value.resource_name == missing[1]
    assert asyncio.all_tasks() == before


async def test_leaving_early_ends_every_request(
    client: QConnectClient, qconnect_server: QConnectServer
) -> None:
    """Leaving `async with` after the first job ends the stream: no task is left behind."""
    kbs = [qconnect_server.create_knowledge_base(f"kb{i}") for i in range(2)]
    jobs = [*await started(client, kbs[0], 1)]
    await client.wait_for_import_job(kbs[0], jobs[0].import_job_id)
    qconnect_server.set_job_completion(after_reads=None)
    jobs += await started(client, kbs[1], 2)
    before = asyncio.all_tasks()
    async with client.wait_for_import_jobs(jobs) as stream:
        async for job in stream:
            assert job.import_job_id == jobs[0].import_job_id
            break
    assert asyncio.all_tasks() == before


@pytest.mark.parametrize(
    ("jobs", "what"),
    [
        ("kb", "collection"),
        ([("kb",)], "pair"),
        ([("KB", "12345678-1234-1234-1234-123456789012")], "knowledge base"),
        ([("00000000-0000-0000-0000-000000000000", "job")], "import job ID"),
    ],
)
def test_bad_jobs_are_refused_at_the_call(
    client: QConnectClient, qconnect_server: QConnectServer, jobs: object, what: str
) -> None:
    """Not a collection, not a pair, a bad KB or job ID: ValidationError, no request."""
    with pytest.raises(ValidationError, match=what):
        client.wait_for_import_jobs(jobs)  # type: ignore[arg-type]
    assert qconnect_server.stats.total_requests == 0


def poll_delay_off(polls: int) -> float:
    """poll_delay out of testing mode."""
    with set_testing(False):
        return poll_delay(polls)


async def test_rounds_look_at_once_then_ever_slower(qconnect_server: QConnectServer) -> None:
    """Over HTTP, out of testing mode: the first look at once, then 1 s, then 1.5 s later,
    as the single waiter polls."""
    limiter = AskedLimiter()
    qconnect_server.set_job_completion(after_reads=2)
    kb = qconnect_server.create_knowledge_base("kb")
    async with QConnectClient(
        endpoint_url=qconnect_server.endpoint_url, region_name="us-east-1", rate_limiter=limiter
    ) as client:
        (job,) = await started(client, kb, 1)
        with set_testing(False):
            called = asyncio.get_running_loop().time()
            ended = [job async for job in client.wait_for_import_jobs([job])]
    assert [j.status for j in ended] == [ImportJobStatus.COMPLETE]
    # The waits between looks: from one look's answer to the next look's send.
    waits = [
        sent - answered
        for answered, sent in zip(limiter.ended[-3:-1], limiter.asked[-2:], strict=True)
    ]
    assert limiter.asked[-3] - called < FIRST_POLL_DELAY / 2
    assert FIRST_POLL_DELAY <= waits[0] < poll_delay_off(2) <= waits[1] < poll_delay_off(3)


async def test_a_listing_whose_token_loops_is_raised_with_its_operation_and_kb(
    client: QConnectClient, qconnect_server: QConnectServer
) -> None:
    """A KB's listing that gets the token it sent back: PaginationLoopError naming
    ListImportJobs and the KB, resumable from the last token that brought new jobs."""
    kb = qconnect_server.create_knowledge_base("big")
    qconnect_server.add_import_jobs(kb, 250, status="COMPLETE")
    jobs = await started(client, kb, 2)
    qconnect_server.repeat_token(knowledge_base_id=kb)
    with pytest.raises(PaginationLoopError) as info:
        async for _ in client.wait_for_import_jobs(jobs):
            pass
    error = info.value
    assert (error.operation, error.knowledge_base_id) == ("ListImportJobs", kb)
    assert error.next_token is not None


async def test_a_listing_asks_for_the_largest_pages(
    client: QConnectClient, qconnect_server: QConnectServer
) -> None:
    """The listing asks for 100 jobs a page, whatever the service's default: 150 jobs ahead
    of the two running take two pages, not the 31 of 5-job pages."""
    qconnect_server.set_default_page_size(5)
    qconnect_server.set_job_completion(after_reads=1)
    kb = qconnect_server.create_knowledge_base("big")
    qconnect_server.add_import_jobs(kb, 150, status="COMPLETE")
    jobs = await started(client, kb, 2)
    qconnect_server.reset_stats()
    assert len([job async for job in client.wait_for_import_jobs(jobs)]) == 2
    # look 1: a listing of 2 pages sees both running; look 2: two reads
    assert counts(qconnect_server) == {"ListImportJobs": 2, "GetImportJob": 2}


async def test_a_kb_whose_listing_takes_one_page_is_listed_at_each_look(
    client: QConnectClient, qconnect_server: QConnectServer
) -> None:
    """Two running jobs on one page: a page costs less than two reads, at every look."""
    qconnect_server.set_job_completion(after_reads=2)
    kb = qconnect_server.create_knowledge_base("kb")
    jobs = await started(client, kb, 2)
    qconnect_server.reset_stats()
    assert len([job async for job in client.wait_for_import_jobs(jobs)]) == 2
    assert counts(qconnect_server) == {"ListImportJobs": 3}


async def test_a_listing_stops_once_every_running_job_was_seen(
    client: QConnectClient, qconnect_server: QConnectServer
) -> None:
    """Two running jobs ahead of 250 others: each look's listing stops at its first page."""
    qconnect_server.set_job_completion(after_reads=2)
    kb = qconnect_server.create_knowledge_base("big")
    jobs = await started(client, kb, 2)
    qconnect_server.add_import_jobs(kb, 250, status="COMPLETE")
    qconnect_server.reset_stats()
    assert len([job async for job in client.wait_for_import_jobs(jobs)]) == 2
    assert counts(qconnect_server) == {"ListImportJobs": 3}


async def test_a_listing_cut_short_does_not_make_a_kb_look_cheaper_to_list(
    client: QConnectClient, qconnect_server: QConnectServer
) -> None:
    """Four running jobs on the first page and a fifth (ended) on the third: look 1 lists
    three pages; look 2's listing stops at page 1, which says nothing of a full listing's
    cost, so with three jobs left look 3 reads them (three reads, not fewer than three
    pages) rather than list."""
    qconnect_server.set_job_completion(after_reads=2)
    kb = qconnect_server.create_knowledge_base("big")
    jobs = await started(client, kb, 4)
    await client.get_import_job(kb, jobs[3].import_job_id)  # ends one look before the others
    qconnect_server.add_import_jobs(kb, 250, status="COMPLETE")
    (last,) = qconnect_server.add_import_jobs(kb, 1, status="COMPLETE")
    qconnect_server.reset_stats()
    ended = [job async for job in client.wait_for_import_jobs([*jobs, (kb, last)])]
    assert len(ended) == 5
    # look 1: 3 pages; look 2: 1 page (the four seen); look 3: three reads
    assert counts(qconnect_server) == {"ListImportJobs": 4, "GetImportJob": 3}


async def test_a_full_listing_that_took_fewer_pages_is_the_new_cost(
    client: QConnectClient, qconnect_server: QConnectServer
) -> None:
    """Three running jobs on one page, the first listing lengthened by an empty page: look 2's
    full listing of one page is the KB's cost from then on, so look 3 lists the two jobs
    left again (one page) rather than read them."""
    qconnect_server.set_job_completion(after_reads=2)
    kb = qconnect_server.create_knowledge_base("kb")
    jobs = await started(client, kb, 3)
    await client.get_import_job(kb, jobs[2].import_job_id)  # ends one look before the others
    qconnect_server.empty_page(knowledge_base_id=kb)
    qconnect_server.reset_stats()
    assert len([job async for job in client.wait_for_import_jobs(jobs)]) == 3
    # look 1: an empty page, then the jobs' page; looks 2 and 3: one page each
    assert counts(qconnect_server) == {"ListImportJobs": 4}


async def test_a_missing_job_is_raised_at_once_while_another_kbs_look_is_slow(
    client: QConnectClient, qconnect_server: QConnectServer
) -> None:
    """One KB's listing is slow (30 s) while another KB's job is missing: the 404 is raised
    as it comes, the slow look cancelled, not awaited."""
    qconnect_server.set_job_completion(after_reads=None)
    slow, other = (qconnect_server.create_knowledge_base(name) for name in ("slow", "other"))
    jobs = await started(client, slow, 2)
    missing = (other, "12345678-1234-1234-1234-123456789012")
    qconnect_server.set_latency(30.0, "ListImportJobs")
    async with asyncio.timeout(10):  # the slow listing is never waited for
        with pytest.raises(ResourceNotFoundError):
            async for _ in client.wait_for_import_jobs([*jobs, missing]):
                pass
