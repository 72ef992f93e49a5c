"""Built-in OpenTelemetry: spans per call and per listing, retry events, metrics, and none of it
imported without opentelemetry-api. Read with the SDK's in-memory exporter and metric reader."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from opentelemetry import metrics, trace
from opentelemetry.instrumentation.botocore import AiobotocoreInstrumentor
from opentelemetry.sdk.metrics import MeterProvider
from opentelemetry.sdk.metrics.export import InMemoryMetricReader
from opentelemetry.sdk.trace import ReadableSpan, TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import SpanKind, StatusCode

from qconnect_async import QConnectClient, ResourceNotFoundError, RetryPolicy, ThrottlingError
from qconnect_async.testing import QConnectServer

_EXPORTER = InMemorySpanExporter()
_READER = InMemoryMetricReader()
_installed = False


@pytest.fixture
def otel() -> Iterator[InMemorySpanExporter]:
    """The SDK installed once per process (providers are global), spans cleared per test."""
    global _installed
    if not _installed:
        provider = trace.get_tracer_provider()
        if not isinstance(provider, TracerProvider):  # the tracing guide's snippet may have set one
            provider = TracerProvider()
            trace.set_tracer_provider(provider)
        provider.add_span_processor(SimpleSpanProcessor(_EXPORTER))
        metrics.set_meter_provider(MeterProvider(metric_readers=[_READER]))
        _installed = True
    _EXPORTER.clear()
    _READER.collect()  # drop what earlier tests recorded (cumulative data stays; see _points)
    yield _EXPORTER


def _spans(name: str) -> list[ReadableSpan]:
    return [s for s in _EXPORTER.get_finished_spans() if s.name == name]


def _points() -> dict[str, list[Any]]:
    """Every metric point recorded so far, by metric name."""
    data = _READER.get_metrics_data()
    out: dict[str, list[Any]] = {}
    if data is None:  # nothing recorded yet in this process (this test may run first)
        return out
    for resource in data.resource_metrics:
        for scope in resource.scope_metrics:
            if scope.scope.name != "qconnect_async":
                continue
            for metric in scope.metrics:
                out.setdefault(metric.name, []).extend(metric.data.data_points)
    return out


@pytest.fixture
def kb(qconnect_server: QConnectServer) -> str:
    kb_id = qconnect_server.create_knowledge_base("kb")
    qconnect_server.add_import_jobs(kb_id, 25)
    return kb_id


async def test_a_span_per_call_under_a_span_per_listing(
    otel: InMemorySpanExporter, kb: str, qconnect_server: QConnectServer
) -> None:
    """Each page is a CLIENT span QConnect.ListImportJobs (AWS SDK conventions) in the listing."""
    async with QConnectClient(endpoint_url=qconnect_server.endpoint_url) as client:
        pages = [p async for p in client.list_import_jobs(kb, page_size=10).pages()]
    assert len(pages) == 3
    calls = _spans("QConnect.ListImportJobs")
    [listing] = _spans("QConnect.ListImportJobs listing")
    assert len(calls) == 3
    for span in calls:
        assert span.kind is SpanKind.CLIENT
        assert span.instrumentation_scope is not None
        assert span.instrumentation_scope.name == "qconnect_async"
        attributes = dict(span.attributes or {})
        assert attributes["rpc.system"] == "aws-api"
        assert attributes["rpc.service"] == "QConnect"
        assert attributes["rpc.method"] == "ListImportJobs"
        assert attributes["cloud.region"] == "us-east-1"
        assert attributes["http.response.status_code"] == 200
        assert attributes["aws.request_id"]
        assert attributes["aws.qconnect.knowledge_base_id"] == kb
        assert span.parent is not None and span.parent.span_id == listing.context.span_id
    listing_attributes = dict(listing.attributes or {})
    assert listing_attributes["rpc.method"] == "ListImportJobs"
    assert listing_attributes["aws.qconnect.knowledge_base_id"] == kb
    assert listing_attributes["aws.qconnect.pages"] == 3
    assert listing_attributes["aws.qconnect.items"] == 25
    assert listing_attributes["aws.qconnect.knowledge_base_id"] == kb


async def test_retries_are_events_on_the_calls_span(
    otel: InMemorySpanExporter, kb: str, qconnect_server: QConnectServer
) -> None:
    """A throttled attempt is a 'retry' event (cause, wait) on the one span of that call."""
    qconnect_server.throttle(times=2)
    async with QConnectClient(endpoint_url=qconnect_server.endpoint_url) as client:
        jobs = [j async for j in client.list_import_jobs(kb)]
    assert len(jobs) == 25
    [span] = _spans("QConnect.ListImportJobs")
    events = [e for e in span.events if e.name == "retry"]
    assert len(events) == 2
    for event in events:
        attributes = dict(event.attributes or {})
        assert attributes["error.type"] == "ThrottlingError"
        assert attributes["cause"]
        assert attributes["wait_s"] >= 0
    assert dict(span.attributes or {})["aws.qconnect.attempts"] == 3


async def test_a_failed_call_has_error_type_status_and_request_id(
    otel: InMemorySpanExporter, qconnect_server: QConnectServer
) -> None:
    """An unknown KB: the span is an error with error.type, the 404 and the request id."""
    async with QConnectClient(endpoint_url=qconnect_server.endpoint_url) as client:
        with pytest.raises(ResourceNotFoundError):
            async for _ in client.list_import_jobs("aaaaaaaa-bbbb-cccc-dddd-eeeeeeeeeeee"):
                pass
    [span] = _spans("QConnect.ListImportJobs")
    attributes = dict(span.attributes or {})
    assert span.status.status_code is StatusCode.ERROR
    assert attributes["error.type"] == "ResourceNotFoundError"
    assert attributes["http.response.status_code"] == 404
    assert attributes["aws.request_id"]
    [listing] = _spans("QConnect.ListImportJobs listing")
    assert dict(listing.attributes or {})["error.type"] == "ResourceNotFoundError"


async def test_knowledge_base_listing_has_its_spans(
    otel: InMemorySpanExporter, qconnect_server: QConnectServer
) -> None:
    """ListKnowledgeBases pages are spans too, under their listing span."""
    for n in range(3):
        qconnect_server.create_knowledge_base(f"kb-{n}")
    async with QConnectClient(endpoint_url=qconnect_server.endpoint_url) as client:
        assert len([kb async for kb in client.list_knowledge_bases(page_size=2)]) == 3
    assert len(_spans("QConnect.ListKnowledgeBases")) == 2
    [listing] = _spans("QConnect.ListKnowledgeBases listing")
    assert dict(listing.attributes or {})["aws.qconnect.items"] == 3


async def test_managing_an_import_job_is_a_span_per_operation(
    otel: InMemorySpanExporter, qconnect_server: QConnectServer
) -> None:
    """Upload, start, get and delete: a CLIENT span each, with the KB and the status code."""
    kb = qconnect_server.create_knowledge_base("kb")
    async with QConnectClient(endpoint_url=qconnect_server.endpoint_url) as client:
        job = await client.start_import_job(kb, b"Name,Content\nhello,world\n")
        spans = [*_spans("QConnect.StartContentUpload"), *_spans("QConnect.StartImportJob")]
        await client.wait_for_import_job(kb, job.import_job_id, timeout=30)
        _EXPORTER.clear()  # the wait's polls are GetImportJob spans too
        await client.get_import_job(kb, job.import_job_id)
        await client.delete_import_job(kb, job.import_job_id)
    spans += [*_spans("QConnect.GetImportJob"), *_spans("QConnect.DeleteImportJob")]
    expected = ["StartContentUpload", "StartImportJob", "GetImportJob", "DeleteImportJob"]
    assert [dict(s.attributes or {})["rpc.method"] for s in spans] == expected
    for span in spans:
        attributes = dict(span.attributes or {})
        assert span.kind is SpanKind.CLIENT
        assert attributes["aws.qconnect.knowledge_base_id"] == kb
        assert attributes["aws.request_id"]
    statuses = [dict(s.attributes or {})["http.response.status_code"] for s in spans]
    assert statuses == [200, 200, 200, 204]


async def test_metrics_duration_attempts_throttles_and_rate(
    otel: InMemorySpanExporter, kb: str, qconnect_server: QConnectServer
) -> None:
    """Call duration, attempts, throttles and the client's send rate are recorded."""
    before = _points()
    throttles_before = sum(p.value for p in before.get("qconnect_async.call.throttles", []))
    attempts_before = sum(p.value for p in before.get("qconnect_async.call.attempts", []))
    durations_before = sum(p.count for p in before.get("qconnect_async.call.duration", []))
    qconnect_server.throttle(times=1)
    policy = RetryPolicy(max_attempts=3)
    async with QConnectClient(endpoint_url=qconnect_server.endpoint_url, retry=policy) as client:
        assert len([j async for j in client.list_import_jobs(kb, page_size=10)]) == 25
        after = _points()
    assert sum(p.count for p in after["qconnect_async.call.duration"]) - durations_before == 3
    assert sum(p.value for p in after["qconnect_async.call.attempts"]) - attempts_before == 4
    assert sum(p.value for p in after["qconnect_async.call.throttles"]) - throttles_before == 1
    rates = after["qconnect_async.limiter.rate"]
    assert rates and all(p.value > 0 for p in rates)


async def test_a_throttle_that_ends_the_call_is_counted(
    otel: InMemorySpanExporter, kb: str, qconnect_server: QConnectServer
) -> None:
    """The last attempt's throttle (no retry left) counts too."""
    before = sum(p.value for p in _points().get("qconnect_async.call.throttles", []))
    qconnect_server.throttle(times=5)
    policy = RetryPolicy(max_attempts=2)
    async with QConnectClient(endpoint_url=qconnect_server.endpoint_url, retry=policy) as client:
        with pytest.raises(ThrottlingError):
            async for _ in client.list_import_jobs(kb):
                pass
    after = sum(p.value for p in _points()["qconnect_async.call.throttles"])
    assert after - before == 2


async def test_aiobotocore_instrumentor_sees_every_page_under_our_spans(
    otel: InMemorySpanExporter, qconnect_server: QConnectServer
) -> None:
    """OpenTelemetry's AiobotocoreInstrumentor traces 10 of 10 pages, each under our call span."""
    kb_id = qconnect_server.create_knowledge_base("ten")
    qconnect_server.add_import_jobs(kb_id, 100)
    instrumentor = AiobotocoreInstrumentor()
    instrumentor.instrument(tracer_provider=trace.get_tracer_provider())
    try:
        async with QConnectClient(endpoint_url=qconnect_server.endpoint_url) as client:
            pages = [p async for p in client.list_import_jobs(kb_id, page_size=10).pages()]
    finally:
        instrumentor.uninstrument()
    assert len(pages) == 10
    spans = _spans("QConnect.ListImportJobs")
    theirs = [s for s in spans if s.instrumentation_scope.name != "qconnect_async"]  # type: ignore[union-attr]
    ours = {s.context.span_id: s for s in spans if s not in theirs}
    assert len(theirs) == len(ours) == 10
    for span in theirs:
        attributes = dict(span.attributes or {})
        assert span.kind is SpanKind.CLIENT
        assert (attributes["rpc.system"], attributes["rpc.method"]) == ("aws-api", "ListImportJobs")
        assert attributes["aws.request_id"]
        # One attempt each, nested in the logical call that sent it.
        assert span.parent is not None and span.parent.span_id in ours
    assert len({s.parent.span_id for s in theirs if s.parent is not None}) == 10


_WITHOUT_OTEL = textwrap.dedent(
    """
    import asyncio, sys

    class _NoOtel:
        def find_spec(self, name, path=None, target=None):
            if name == "opentelemetry" or name.startswith("opentelemetry."):
                raise ImportError("blocked: opentelemetry-api is not installed")
            return None

    sys.meta_path.insert(0, _NoOtel())
    from qconnect_async import QConnectClient

    async def main():
        async with QConnectClient(endpoint_url=sys.argv[1]) as client:
            jobs = [j async for j in client.list_import_jobs(sys.argv[2])]
        leaked = sorted(m for m in sys.modules if m.startswith("opentelemetry"))
        print(len(jobs), leaked)

    asyncio.run(main())
    """
)


def test_without_opentelemetry_nothing_is_imported_and_listing_works(
    kb: str, qconnect_server: QConnectServer
) -> None:
    """With opentelemetry unimportable, a listing works and no opentelemetry module is loaded."""
    src = Path(__file__).resolve().parents[1] / "src"
    env = {
        **os.environ,
        "PYTHONPATH": os.pathsep.join([str(src), os.environ.get("PYTHONPATH", "")]),
    }
    done = subprocess.run(
        [sys.executable, "-c", _WITHOUT_OTEL, qconnect_server.endpoint_url, kb],
        capture_output=True,
        text=True,
        env=env,
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "25 []"


_SET_UP_LATER = textwrap.dedent(
    """
    import asyncio, sys
    from qconnect_async import QConnectClient

    async def main():
        async with QConnectClient(endpoint_url=sys.argv[1]) as client:
            async with client.list_import_jobs(sys.argv[2]) as listing:
                await anext(listing.pages())
            before = sorted(m for m in sys.modules if m.startswith("opentelemetry"))
            from opentelemetry import trace
            from opentelemetry.sdk.trace import TracerProvider
            from opentelemetry.sdk.trace.export import SimpleSpanProcessor
            from opentelemetry.sdk.trace.export.in_memory_span_exporter import (
                InMemorySpanExporter,
            )

            exporter = InMemorySpanExporter()
            provider = TracerProvider()
            provider.add_span_processor(SimpleSpanProcessor(exporter))
            trace.set_tracer_provider(provider)
            # Closed before the spans are read: the listing's span ends as its pages close.
            async with client.list_import_jobs(sys.argv[2]) as listing:
                await anext(listing.pages())
        names = sorted(span.name for span in exporter.get_finished_spans())
        print(before, names)

    asyncio.run(main())
    """
)


def test_opentelemetry_is_imported_only_once_the_process_sets_it_up(
    kb: str, qconnect_server: QConnectServer
) -> None:
    """Installed but not set up, opentelemetry is not imported by a listing (a command's start
    does not pay it); set up later in the same process, the next calls are traced."""
    done = subprocess.run(
        [sys.executable, "-c", _SET_UP_LATER, qconnect_server.endpoint_url, kb],
        capture_output=True,
        text=True,
        env={k: v for k, v in os.environ.items() if not k.startswith("OTEL_")},
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    listing = "QConnect.ListImportJobs listing"
    assert done.stdout.strip() == f"[] {['QConnect.ListImportJobs', listing]}"
