"""The control operations that inject faults: each one's behaviour lives in `_faults`.

Operations are botocore's names ("ListImportJobs"); `operation=None` means every operation.
`times=None` means every matching request until `clear_faults()` or `reset()`. A knowledge base
is given as an ID or an ARN.
"""

from __future__ import annotations

from collections.abc import Sequence

from ._declare import (
    Controls,
    _check_choice,
    _check_int,
    _check_number,
    _check_operation,
    _check_place,
    _check_target,
    _check_times,
    control,
)
from ._faults import DEFAULT_RANDOM_ERRORS, PUT_OPERATION, PageFault, Rule
from ._replies import MALFORMED_KINDS, THROTTLING, ErrorReply, MalformedKind

#: The operations that have pages: a page fault for any other would be spent on nothing.
LISTINGS = ("ListImportJobs", "ListKnowledgeBases")


class FaultControls(Controls):
    """Fault injection of a QConnect server."""

    @control()
    def fail_uploads(
        self,
        *,
        times: int | None = 1,
        status: int = 503,
        code: str = "SlowDown",
        message: str = "Please reduce your request rate.",
    ) -> None:
        """Answer the next `times` presigned PUTs with an S3 error (503 SlowDown by default).

        The body is S3's XML error; nothing is stored.
        """
        _check_times(times)
        _check_int("status", status, low=400, high=599)
        error = ErrorReply(status, str(code), str(message))
        self._state.faults.add(Rule(PUT_OPERATION, None, times, error=error))

    @control()
    def disconnect_uploads(self, *, times: int | None = 1) -> None:
        """Close the connection of the next `times` presigned PUTs without an answer."""
        _check_times(times)
        self._state.faults.add(Rule(PUT_OPERATION, None, times, dropped=True))

    @control()
    def expire_upload_urls(self, *, times: int | None = 1) -> None:
        """Treat the next `times` presigned PUTs as arriving after their URL's expiry.

        They get S3's 403 AccessDenied "Request has expired"; a URL also expires for real at
        its urlExpiry.
        """
        self.fail_uploads(
            times=times, status=403, code="AccessDenied", message="Request has expired"
        )

    @control()
    def throttle(
        self,
        operation: str | None = "ListImportJobs",
        *,
        times: int | None = 1,
        retry_after: float | None = None,
        status: int = 400,
        knowledge_base_id: str | None = None,
    ) -> None:
        """Answer the next `times` requests with a ThrottlingException.

        HTTP 400 by default, as botocore's model gives it; `status=429` answers as a proxy or
        another service would. `retry_after` adds a Retry-After header (seconds, fractions
        allowed).
        """
        self.fail(
            operation,
            code=THROTTLING,
            status=status,
            message="Rate exceeded",
            times=times,
            retry_after=retry_after,
            knowledge_base_id=knowledge_base_id,
        )

    @control()
    def fail(
        self,
        operation: str | None = "ListImportJobs",
        *,
        code: str = "InternalServerException",
        status: int = 500,
        message: str | None = None,
        times: int | None = 1,
        retry_after: float | None = None,
        knowledge_base_id: str | None = None,
        html: bool = False,
    ) -> None:
        """Answer the next `times` requests with the error `code` and HTTP `status`.

        E.g. `fail(code="AccessDeniedException", status=403, times=None, knowledge_base_id=kb)`
        denies one KB for good while the others list. `html=True` answers as a proxy in front
        of the service would: an HTML page with `status` and `message`, no error code at all.
        """
        _check_target(operation, times, knowledge_base_id)
        if not isinstance(code, str) or not code:
            raise ValueError("code must be a non-empty string")
        _check_int("status", status, low=400, high=599)
        if retry_after is not None:
            _check_number("retry_after", retry_after, low=0)
        if not isinstance(html, bool):
            raise ValueError(f"html must be True or False, not {html!r}")
        reply = ErrorReply(status, code, message or f"Injected {code}", retry_after, html)
        self._state.faults.add(Rule(operation, knowledge_base_id, times, error=reply))

    @control()
    def malformed(
        self,
        operation: str | None = "ListImportJobs",
        *,
        kind: MalformedKind = "invalid_json",
        times: int | None = 1,
        knowledge_base_id: str | None = None,
    ) -> None:
        """Answer the next `times` requests with a 200 whose body is not a valid response."""
        _check_target(operation, times, knowledge_base_id)
        _check_choice("kind", kind, MALFORMED_KINDS)
        self._state.faults.add(Rule(operation, knowledge_base_id, times, malformed=kind))

    @control()
    def repeat_token(
        self,
        operation: str | None = "ListImportJobs",
        *,
        times: int | None = 1,
        knowledge_base_id: str | None = None,
    ) -> None:
        """Answer the next `times` requests that carry a nextToken with that same token.

        The page holds the right jobs; only its nextToken loops. Requests without a token are
        answered normally and do not count.
        """
        self._page_fault("repeat_token", operation, times, knowledge_base_id)

    @control()
    def empty_page(
        self,
        operation: str | None = "ListImportJobs",
        *,
        times: int | None = 1,
        knowledge_base_id: str | None = None,
    ) -> None:
        """Answer the next `times` list requests with no jobs and a new token to the same spot."""
        self._page_fault("empty_page", operation, times, knowledge_base_id)

    @control()
    def empty_last_token(
        self,
        operation: str | None = "ListImportJobs",
        *,
        times: int | None = None,
        knowledge_base_id: str | None = None,
    ) -> None:
        """End the last page of a listing with ``"nextToken": ""`` instead of no token.

        `times` counts the matching list requests, last pages or not.
        """
        self._page_fault("empty_last_token", operation, times, knowledge_base_id)

    @control()
    def hide_running_jobs(
        self, *, times: int | None = None, knowledge_base_id: str | None = None
    ) -> None:
        """Leave the jobs still in progress out of the next `times` ListImportJobs pages.

        As a listing that lags behind the jobs' starts would show them: GetImportJob still
        finds them, and a job is listed again once it has ended. The pages keep their tokens.
        """
        self._page_fault("hide_running", "ListImportJobs", times, knowledge_base_id)

    @control()
    def lose_answers(
        self,
        operation: str | None = "StartImportJob",
        *,
        times: int | None = 1,
        knowledge_base_id: str | None = None,
    ) -> None:
        """Do the next `times` requests' work, then close the connection without the answer.

        A StartImportJob so treated has created its job, and the client never learns it: the
        crash case idempotent starts must survive. Only a successful answer is lost; an error
        answer is sent as it is (the rule is spent either way).
        """
        _check_target(operation, times, knowledge_base_id)
        self._state.faults.add(Rule(operation, knowledge_base_id, times, lose_answer=True))

    def _page_fault(
        self, fault: PageFault, operation: str | None, times: int | None, kb: str | None
    ) -> None:
        _check_choice("operation", operation, LISTINGS)
        _check_target(operation, times, kb)
        self._state.faults.add(Rule(operation, kb, times, page_fault=fault))

    @control()
    def set_rate_limit(
        self,
        rate: float | None,
        *,
        burst: int = 1,
        status: int = 400,
        account: str | None = None,
        region: str | None = None,
    ) -> None:
        """Serve `rate` requests per second, `burst` at once, across all operations.

        A token bucket, full at first; requests beyond it get a ThrottlingException with
        `status` (400, the model's; or 429). The quota is per account and Region, as AWS's:
        every (account, Region) pair has a bucket of its own, and `account=None` (`region=None`)
        means each account (Region) separately, not all of them together. The most specific
        limit of a pair applies: account and Region, then account, then Region, then neither.
        `rate=None` removes the limit set for the same `account` and `region`. Setting a limit
        refills every bucket.
        """
        if rate is not None:
            _check_number("rate", rate, low=0, strict=True)
        _check_int("burst", burst, low=1)
        _check_int("status", status, low=400, high=599)
        _check_place(account, region)
        self._state.faults.set_rate_limit(rate, burst, status, (account, region))

    @control()
    def set_latency(self, seconds: float, operation: str | None = None) -> None:
        """Delay every response to `operation` (None: all) by `seconds`; 0 removes it."""
        _check_number("seconds", seconds, low=0)
        _check_operation(operation)
        self._state.faults.set_latency(seconds, operation)

    @control()
    def random_faults(
        self,
        probability: float,
        *,
        seed: int | None = None,
        operations: Sequence[str] | None = None,
        errors: Sequence[tuple[str, int]] | None = None,
    ) -> None:
        """Fail each request with `probability`, drawing from a random generator seeded `seed`.

        `errors` lists the (code, status) answers to pick from; by default a 400
        ThrottlingException, a 500 InternalServerException or a 503 ServiceUnavailableException.
        `probability=0` turns it off.
        """
        _check_number("probability", probability, low=0, high=1)
        for operation in operations or ():
            _check_operation(operation)
        pairs = [(str(code), int(status)) for code, status in errors or DEFAULT_RANDOM_ERRORS]
        if not pairs:
            raise ValueError("errors must not be empty")
        self._state.faults.set_random(
            probability,
            seed=seed,
            operations=None if operations is None else list(operations),
            errors=pairs,
        )

    @control()
    def clear_faults(self) -> None:
        """Remove every fault, rate limit and latency; requests held by a latency are
        answered now."""
        self._state.faults.clear()
