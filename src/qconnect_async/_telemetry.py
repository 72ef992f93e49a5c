"""OpenTelemetry spans and metrics, when ``opentelemetry-api`` is installed (extra ``[otel]``).

Without it nothing is imported and every hook below is a no-op. With it, opentelemetry is
imported once the process uses it (its setup, an instrumentor or an ``OTEL_PYTHON_*_PROVIDER``
variable imports it first): until then its tracers and meters are no-ops, so a command that
never sets it up does not pay its import. From then on the library follows the AWS SDK
semantic conventions:

- a span per logical call (all its attempts), ``QConnect.<Operation>``, kind CLIENT, with
  rpc.system "aws-api", rpc.service "QConnect", rpc.method, cloud.region, aws.request_id,
  http.response.status_code, error.type, the KB id, and an event per retry (cause, wait);
- a parent span per listing, ``QConnect.<Operation> listing``, with the KB, pages and items;
- metrics: call duration (s), attempts, throttles, and each client's current send rate.

Instrumentation scope: ``qconnect_async``. The hooks are called from ``_send``, ``_client``
and ``_transport``; what a call learns on the way (region, request id, status) travels in a
context variable, so the transport needs no reference to the span.
"""

from __future__ import annotations

import contextvars
import functools
import importlib.metadata
import os
import sys
import time
import weakref
from collections.abc import AsyncGenerator, Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any, Protocol, TypeVar

from ._call import Call
from ._errors import QConnectError

__all__ = [
    "SCOPE",
    "answered",
    "call_span",
    "package_version",
    "retried",
    "traced_listing",
    "watch_rate",
]

SCOPE = "qconnect_async"
#: The variables with which opentelemetry-api loads a provider by itself.
_PROVIDER_VARIABLES = ("OTEL_PYTHON_TRACER_PROVIDER", "OTEL_PYTHON_METER_PROVIDER")


class _Retry(Protocol):
    """What a retry tells (``_retry.RetryDetails``; typed here so this module stays low)."""

    @property
    def attempt(self) -> int: ...

    @property
    def wait(self) -> float: ...

    @property
    def cause(self) -> QConnectError: ...


Throttled = Callable[[QConnectError], bool]


class _HasRate(Protocol):
    @property
    def rate(self) -> float: ...


class _Page(Protocol):
    @property
    def items(self) -> Any: ...


P = TypeVar("P", bound=_Page)


@dataclass
class _Call:
    """What one logical call learnt so far (set by the transport, read when it ends)."""

    region: str | None = None
    request_id: str | None = None
    status: int | None = None
    attempts: int = 1
    throttles: int = 0
    is_throttle: Throttled = field(default=lambda error: False)


_current: contextvars.ContextVar[_Call | None] = contextvars.ContextVar(
    "qconnect_async_telemetry_call", default=None
)


def answered(region: str | None, request_id: str | None, status: int | None) -> None:
    """The transport got an answer (2xx or error) for the current call's attempt."""
    current = _current.get()
    if current is not None:
        current.region, current.request_id, current.status = region, request_id, status


@functools.cache
def package_version() -> str:
    """This distribution's version (for the instrumentation scope and the User-Agent)."""
    try:
        return importlib.metadata.version("qconnect-async")
    except importlib.metadata.PackageNotFoundError:  # a source tree on sys.path
        return "0+unknown"


# Limiters of open clients; weak so that a forgotten client is not kept alive by metrics.
_limiters: weakref.WeakSet[Any] = weakref.WeakSet()


class _Otel:
    """opentelemetry's API and this library's tracer and instruments."""

    def __init__(self) -> None:
        from opentelemetry import metrics, trace

        self.trace, self.metrics = trace, metrics
        self.tracer = trace.get_tracer(SCOPE, package_version())
        meter = metrics.get_meter(SCOPE, package_version())
        self.duration = meter.create_histogram(
            "qconnect_async.call.duration", unit="s", description="Duration of a call, all attempts"
        )
        self.attempts = meter.create_counter(
            "qconnect_async.call.attempts", unit="{attempt}", description="Attempts sent"
        )
        self.throttles = meter.create_counter(
            "qconnect_async.call.throttles", unit="{attempt}", description="Attempts throttled"
        )
        meter.create_observable_gauge(
            "qconnect_async.limiter.rate",
            callbacks=[self._observe_rates],
            unit="{request}/s",
            description="A client's current send rate",
        )

    def _observe_rates(self, options: Any) -> Iterator[Any]:
        for index, limiter in enumerate(list(_limiters)):
            rate = getattr(limiter, "rate", None)
            if isinstance(rate, int | float):
                yield self.metrics.Observation(float(rate), {"qconnect_async.limiter": index})


_loaded: _Otel | None = None
_missing = False  # opentelemetry-api is not installed


def _otel() -> _Otel | None:
    """The telemetry, once the process uses OpenTelemetry (see the module's docstring)."""
    global _loaded, _missing
    if _loaded is not None or _missing:
        return _loaded
    if "opentelemetry" in sys.modules or any(map(os.environ.get, _PROVIDER_VARIABLES)):
        try:
            _loaded = _Otel()
        except ImportError:
            _missing = True
    return _loaded


def watch_rate(limiter: _HasRate) -> None:
    """Report this limiter's ``rate`` in the ``qconnect_async.limiter.rate`` gauge."""
    _limiters.add(limiter)


@contextmanager
def call_span(call: Call, is_throttle: Throttled) -> Iterator[None]:
    """The span and metrics of one logical call (every attempt of one request).

    ``is_throttle`` tells a throttle from other failures (the retry module's rule).
    """
    otel = _otel()
    if otel is None:
        yield
        return
    operation = call.operation
    attributes: dict[str, Any] = {
        "rpc.system": "aws-api",
        "rpc.service": "QConnect",
        "rpc.method": operation,
    }
    if call.knowledge_base_id is not None:
        attributes["aws.qconnect.knowledge_base_id"] = call.knowledge_base_id
    record = _Call(is_throttle=is_throttle)
    token = _current.set(record)
    started = time.perf_counter()
    error_type: str | None = None
    with otel.tracer.start_as_current_span(
        f"QConnect.{operation}",
        kind=otel.trace.SpanKind.CLIENT,
        attributes=attributes,
        record_exception=False,
        set_status_on_exception=False,
    ) as span:
        try:
            yield
        except QConnectError as error:
            error_type = type(error).__name__
            record.throttles += is_throttle(error)
            span.set_attribute("error.type", error_type)
            span.set_attribute("aws.qconnect.error_code", error.code)
            span.set_status(otel.trace.Status(otel.trace.StatusCode.ERROR, error.code))
            raise
        except BaseException as error:
            error_type = type(error).__qualname__
            span.set_attribute("error.type", error_type)
            span.set_status(otel.trace.Status(otel.trace.StatusCode.ERROR, error_type))
            raise
        finally:
            _current.reset(token)
            if record.region:
                span.set_attribute("cloud.region", record.region)
            if record.request_id:
                span.set_attribute("aws.request_id", record.request_id)
            if record.status is not None:
                span.set_attribute("http.response.status_code", record.status)
            span.set_attribute("aws.qconnect.attempts", record.attempts)
            metric_attributes = {"rpc.method": operation}
            if error_type is not None:
                metric_attributes["error.type"] = error_type
            otel.duration.record(time.perf_counter() - started, metric_attributes)
            otel.attempts.add(record.attempts, {"rpc.method": operation})
            if record.throttles:
                otel.throttles.add(record.throttles, {"rpc.method": operation})


def retried(details: _Retry) -> None:
    """An attempt failed and is retried: an event on the call's span."""
    otel = _otel()
    if otel is None:
        return
    record = _current.get()
    if record is not None:
        record.attempts += 1
        record.throttles += record.is_throttle(details.cause)
    cause = details.cause
    otel.trace.get_current_span().add_event(
        "retry",
        {
            "attempt": details.attempt,
            "wait_s": details.wait,
            "cause": cause.code,
            "error.type": type(cause).__name__,
            **({"http.response.status_code": cause.http_status} if cause.http_status else {}),
        },
    )


async def traced_listing(
    pages: AsyncGenerator[P, None], operation: str, knowledge_base_id: str | None = None
) -> AsyncGenerator[P, None]:
    """The ``pages``, under one listing span that counts pages and items.

    The span is made current only while a page is fetched (never across a ``yield``: the
    consumer's code between pages runs in its own context), so each call's span is its child.
    """
    otel = _otel()
    if otel is None:
        try:
            async for page in pages:
                yield page
        finally:
            await pages.aclose()
        return
    attributes: dict[str, Any] = {"rpc.system": "aws-api", "rpc.service": "QConnect"}
    attributes["rpc.method"] = operation
    if knowledge_base_id is not None:
        attributes["aws.qconnect.knowledge_base_id"] = knowledge_base_id
    span = otel.tracer.start_span(f"QConnect.{operation} listing", attributes=attributes)
    count = items = 0
    try:
        while True:
            with otel.trace.use_span(span, record_exception=False, set_status_on_exception=False):
                try:
                    page = await anext(pages)
                except StopAsyncIteration:
                    break
            count += 1
            items += len(page.items)
            yield page
    except BaseException as error:
        span.set_attribute("error.type", type(error).__name__)
        if not isinstance(error, GeneratorExit):
            span.set_status(otel.trace.Status(otel.trace.StatusCode.ERROR, type(error).__name__))
        raise
    finally:
        await pages.aclose()
        span.set_attribute("aws.qconnect.pages", count)
        span.set_attribute("aws.qconnect.items", items)
        span.end()
