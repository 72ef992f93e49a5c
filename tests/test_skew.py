"""Clock skew over HTTP: the fake's clock set 20 minutes off, corrected once from Date.

Also the contract with botocore that the correction stands on (``_skew``'s docstring).
"""

from __future__ import annotations

import datetime
import email.utils
import logging
import re
import time
from collections.abc import AsyncIterator

import botocore.auth
import pytest
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials
from botocore.hooks import HierarchicalEmitter

from qconnect_async import CredentialsError, QConnectClient
from qconnect_async._skew import SIGNATURE_VERSION, ClockSkew, _SkewedSigV4Auth, is_skew_error
from qconnect_async.testing import QConnectServer

TWENTY_MINUTES = 20 * 60.0


@pytest.fixture
async def client(qconnect_server: QConnectServer) -> AsyncIterator[QConnectClient]:
    async with QConnectClient(endpoint_url=qconnect_server.endpoint_url) as c:
        yield c


@pytest.fixture
def kb(qconnect_server: QConnectServer) -> str:
    kb_id = qconnect_server.create_knowledge_base("kb")
    qconnect_server.add_import_jobs(kb_id, 150)
    return kb_id


def requests(server: QConnectServer) -> int:
    return server.stats.requests.get("ListImportJobs", 0)


@pytest.mark.parametrize("offset", [TWENTY_MINUTES, -TWENTY_MINUTES])
async def test_a_skewed_clock_is_corrected_once_then_remembered(
    client: QConnectClient,
    kb: str,
    qconnect_server: QConnectServer,
    offset: float,
    caplog: pytest.LogCaptureFixture,
) -> None:
    """Server clock 20 min off: one refusal, signed again with its Date, later requests fine."""
    qconnect_server.set_clock_offset(offset)
    with caplog.at_level(logging.WARNING, logger="qconnect_async"):
        assert len([j async for j in client.list_import_jobs(kb)]) == 150
    assert requests(qconnect_server) == 2 + 1  # two pages and the one refused
    assert qconnect_server.stats.faults == 1
    # The host's clock as the service sees it: behind (negative) when the service is ahead
    # (to the second: the Date header has no fraction).
    pattern = r"this host's clock is (-?\d+) s off the service's: signing with the service's time"
    matches = [re.fullmatch(pattern, message) for message in caplog.messages]
    (said,) = [match for match in matches if match]
    assert abs(int(said.group(1)) + offset) <= 2
    # The client keeps the offset: a second listing is never refused.
    assert len([j async for j in client.list_import_jobs(kb)]) == 150
    assert requests(qconnect_server) == 3 + 2
    assert qconnect_server.stats.faults == 1


async def test_requests_refused_together_are_all_signed_again(
    qconnect_server: QConnectServer, caplog: pytest.LogCaptureFixture
) -> None:
    """A fan-out meeting the skew: every request in flight is refused, each is signed again
    (not only the one that taught the offset), one WARNING, nothing lost."""
    kbs = qconnect_server.seed(6, 5)
    qconnect_server.set_clock_offset(TWENTY_MINUTES)
    async with QConnectClient(
        endpoint_url=qconnect_server.endpoint_url, max_concurrency=6
    ) as client:
        with caplog.at_level(logging.WARNING, logger="qconnect_async"):
            async with client.list_import_jobs_many(kbs) as jobs:
                assert len([j async for j in jobs]) == 30
    refused = qconnect_server.stats.faults
    assert refused > 1  # several were in flight when the first refusal came back
    assert requests(qconnect_server) == 6 + refused
    assert sum("clock" in r.getMessage() for r in caplog.records) == 1


async def test_without_correction_a_skewed_clock_fails_every_request(
    qconnect_server: QConnectServer, kb: str
) -> None:
    """The fake refuses as AWS does: 403 InvalidSignatureException, "Signature expired"."""
    qconnect_server.set_clock_offset(TWENTY_MINUTES)
    import aiobotocore.session

    session = aiobotocore.session.get_session()
    async with session.create_client(
        "qconnect", endpoint_url=qconnect_server.endpoint_url, region_name="us-east-1"
    ) as raw:
        with pytest.raises(raw.exceptions.ClientError) as info:
            await raw.list_import_jobs(knowledgeBaseId=kb)
    response = info.value.response
    assert response["ResponseMetadata"]["HTTPStatusCode"] == 403
    assert response["Error"]["Code"] == "InvalidSignatureException"
    assert response["Error"]["Message"].startswith("Signature expired")
    date = response["ResponseMetadata"]["HTTPHeaders"]["date"]
    server_time = datetime.datetime.strptime(date, "%a, %d %b %Y %H:%M:%S GMT")
    ahead = server_time.replace(tzinfo=datetime.UTC) - datetime.datetime.now(datetime.UTC)
    assert ahead > datetime.timedelta(minutes=15)


async def test_a_skew_refusal_the_date_does_not_explain_is_raised(
    client: QConnectClient, kb: str, qconnect_server: QConnectServer
) -> None:
    """RequestTimeTooSkewed though the clocks agree: CredentialsError, sent once, no loop."""
    qconnect_server.fail(code="RequestTimeTooSkewed", status=403, times=None)
    with pytest.raises(CredentialsError) as info:
        async for _ in client.list_import_jobs(kb):
            pass
    assert info.value.code == "RequestTimeTooSkewed"
    assert requests(qconnect_server) == 1


@pytest.mark.parametrize(
    ("code", "message", "skew"),
    [
        ("RequestTimeTooSkewed", "The difference is too large", True),
        ("RequestExpired", "Request has expired", True),
        ("InvalidSignatureException", "Signature expired: 20261201T000000Z is now earlier", True),
        ("InvalidSignatureException", "Signature not yet current: 20261201T000000Z is", True),
        ("InvalidSignatureException", "The request signature we calculated does not match", False),
        ("AccessDeniedException", "Signature expired", False),
    ],
)
def test_skew_errors_are_told_from_other_refusals(code: str, message: str, skew: bool) -> None:
    """Only a refusal about the signing time is a skew (a wrong secret is not)."""
    assert is_skew_error(code, message) is skew


def refusal(date: str | None) -> dict[str, object]:
    """A skew refusal as botocore parses it, with ``date`` as its Date header (None: none)."""
    headers = {} if date is None else {"date": date}
    return {
        "Error": {"Code": "RequestTimeTooSkewed", "Message": "The difference is too large"},
        "ResponseMetadata": {"HTTPStatusCode": 403, "HTTPHeaders": headers},
    }


def test_a_skew_refusal_without_a_date_teaches_nothing_and_is_not_signed_again() -> None:
    """No Date header, or one that does not parse: nothing to sign with, so no retry."""
    skew = ClockSkew()
    assert skew.learn(refusal(None), signed_with=0.0) is False
    assert skew.learn(refusal("not a date"), signed_with=0.0) is False
    assert skew.offset == 0.0


@pytest.mark.parametrize("offset", [TWENTY_MINUTES, -TWENTY_MINUTES])
def test_a_refusal_of_a_request_signed_with_the_service_s_time_is_not_signed_again(
    offset: float,
) -> None:
    """The service 20 min off: a request signed with this host's time is signed again with
    the Date's offset; one already signed with that offset is refused for another reason."""
    date = email.utils.formatdate(time.time() + offset, usegmt=True)
    skew = ClockSkew()
    assert skew.learn(refusal(date), signed_with=0.0) is True
    assert abs(skew.offset - offset) <= 2
    assert skew.learn(refusal(date), signed_with=skew.offset) is False
    # Signed with the opposite offset (the clocks 40 minutes apart): signed again.
    assert skew.learn(refusal(date), signed_with=-offset) is True


def test_only_sigv4_is_signed_with_the_service_s_time_and_only_once_it_is_known() -> None:
    """botocore's choice of signer stands until an offset is learnt; then SigV4 is signed
    with the service's time, and an unsigned request or another signature stays botocore's."""
    events = HierarchicalEmitter()
    skew = ClockSkew()
    skew.install(events)

    def chosen(signature_version: object) -> object:
        _, answer = events.emit_until_response(
            "choose-signer.qconnect.ListImportJobs",
            signing_name="wisdom",
            region_name="us-east-1",
            signature_version=signature_version,
            context={},
        )
        return answer

    assert chosen("v4") is None
    date = email.utils.formatdate(time.time() + TWENTY_MINUTES, usegmt=True)
    assert skew.learn(refusal(date), signed_with=0.0) is True
    assert chosen("v4") == SIGNATURE_VERSION
    assert chosen(botocore.UNSIGNED) is None
    assert chosen("v4a") is None


# -- the botocore contract -----------------------------------------------------------------------


def test_contract_our_signer_is_registered_where_botocore_looks_signers_up() -> None:
    """botocore (and aiobotocore's get_auth_instance) find signers by name in AUTH_TYPE_MAPS."""
    assert botocore.auth.AUTH_TYPE_MAPS[SIGNATURE_VERSION] is _SkewedSigV4Auth
    assert issubclass(_SkewedSigV4Auth, botocore.auth.AUTH_TYPE_MAPS["v4"])


def test_contract_sigv4_reads_its_timestamp_from_the_context_after_setting_it() -> None:
    """add_auth sets context["timestamp"], then builds headers, scope and signature from it."""
    credentials = Credentials("AKIDEXAMPLE", "secret")
    request = AWSRequest(method="GET", url="https://wisdom.us-east-1.amazonaws.com/x")
    request.context["qconnect_async_clock_offset"] = 3600.0
    _SkewedSigV4Auth(credentials, "wisdom", "us-east-1").add_auth(request)
    stamp = request.headers["X-Amz-Date"]
    signed = datetime.datetime.strptime(stamp, "%Y%m%dT%H%M%SZ").replace(tzinfo=datetime.UTC)
    moved = signed - datetime.datetime.now(datetime.UTC)
    assert datetime.timedelta(minutes=55) < moved < datetime.timedelta(minutes=65)
    assert f"/{stamp[:8]}/us-east-1/wisdom/aws4_request" in request.headers["Authorization"]
    # The same request signed by plain SigV4 at that moment has the same signature.
    plain = botocore.auth.SigV4Auth(credentials, "wisdom", "us-east-1")
    again = AWSRequest(method="GET", url="https://wisdom.us-east-1.amazonaws.com/x")
    again.context["timestamp"] = stamp
    again.headers["X-Amz-Date"] = stamp
    canonical = plain.canonical_request(again)
    signature = plain.signature(plain.string_to_sign(again, canonical), again)
    assert request.headers["Authorization"].endswith(f"Signature={signature}")
