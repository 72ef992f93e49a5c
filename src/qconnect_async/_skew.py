"""Clock-skew correction: sign with the service's time once this host's clock is known off.

A host whose clock is off by more than five minutes (a VM after suspend, a container without
NTP) has every request refused: 403 ``RequestTimeTooSkewed``, or ``InvalidSignatureException``
"Signature expired" / "Signature not yet current". botocore has no correction; the AWS SDKs
for Java and Go take the offset from the refusal's ``Date`` header, sign again, and keep the
offset for later requests. So do we, per client.

botocore offers no hook for the signing time (``SigV4Auth.add_auth`` reads
``botocore.compat.get_current_datetime()``). The least private way found: the public
``choose-signer`` event picks a signature version of our own, registered in
``botocore.auth.AUTH_TYPE_MAPS`` (where botocore looks signers up by name), whose class is
SigV4 with the request's timestamp moved by the offset before the headers are built. Only a
client with a known offset signs with it; tests/test_skew.py pins the botocore parts used.
"""

from __future__ import annotations

import datetime
import email.utils
import logging
import time
from collections.abc import Mapping
from typing import Any

import botocore.auth
from botocore.auth import SIGV4_TIMESTAMP, SigV4Auth

__all__ = ["SIGNATURE_VERSION", "ClockSkew", "is_skew_error"]

#: The name our signer is registered under (botocore's own SigV4 is "v4").
SIGNATURE_VERSION = "v4-qconnect-async-skew"
_OFFSET_KEY = "qconnect_async_clock_offset"
#: The Date header has whole seconds: a smaller change is no news.
_RESOLUTION = 2.0
_SKEW_CODES = frozenset({"RequestTimeTooSkewed", "RequestExpired"})
_SKEW_MESSAGES = ("signature expired", "signature not yet current")

logger = logging.getLogger("qconnect_async")


def is_skew_error(code: str, message: str) -> bool:
    """Whether an error says the request's signing time is too far from the service's."""
    if code in _SKEW_CODES:
        return True
    lowered = message.lower()
    return code == "InvalidSignatureException" and any(m in lowered for m in _SKEW_MESSAGES)


class _SkewedSigV4Auth(SigV4Auth):
    """SigV4, with the signing time moved by the offset the request's context carries."""

    def _modify_request_before_signing(self, request: Any) -> None:
        # add_auth has just set context["timestamp"] from this host's clock; everything
        # after (the date header, the scope, the string to sign) reads it from there.
        offset = request.context.get(_OFFSET_KEY)
        if offset:
            stamp = datetime.datetime.strptime(request.context["timestamp"], SIGV4_TIMESTAMP)
            moved = stamp + datetime.timedelta(seconds=offset)
            request.context["timestamp"] = moved.strftime(SIGV4_TIMESTAMP)
        super()._modify_request_before_signing(request)


botocore.auth.AUTH_TYPE_MAPS.setdefault(SIGNATURE_VERSION, _SkewedSigV4Auth)


class ClockSkew:
    """The offset of the service's clock from this host's, learnt from skew errors."""

    def __init__(self) -> None:
        #: seconds to add to this host's clock when signing
        self.offset = 0.0

    def install(self, events: Any, service_id: str = "qconnect") -> None:
        """Sign the client's requests with the offset, once there is one."""
        events.register(f"choose-signer.{service_id}", self._choose_signer)

    def _choose_signer(
        self, signature_version: str, context: dict[str, Any], **_: Any
    ) -> str | None:
        if not self.offset or signature_version != "v4":
            return None  # botocore's choice stands
        context[_OFFSET_KEY] = self.offset
        return SIGNATURE_VERSION

    def learn(self, response: Mapping[str, Any], *, signed_with: float) -> bool:
        """Take the offset from a skew error's Date header; True: sign the request again.

        ``signed_with`` is the offset the refused request was sent with. Requests in flight
        together are refused together: the first teaches the offset, and the others, signed
        before it was known, are signed again with it rather than failed.
        """
        error = response.get("Error") or {}
        if not is_skew_error(str(error.get("Code") or ""), str(error.get("Message") or "")):
            return False
        headers = (response.get("ResponseMetadata") or {}).get("HTTPHeaders") or {}
        server_time = _http_date(headers.get("date") or headers.get("Date"))
        if server_time is None:
            return False
        offset = server_time - time.time()
        if abs(offset - signed_with) < _RESOLUTION:
            return False  # signed with this offset already: not a skew we can fix
        if abs(offset - self.offset) >= _RESOLUTION:
            logger.warning(
                "this host's clock is %.0f s off the service's: signing with the service's time",
                -offset,
            )
            self.offset = offset
        return True


def _http_date(value: object) -> float | None:
    if not isinstance(value, str) or not value:
        return None
    try:
        return email.utils.parsedate_to_datetime(value).timestamp()
    except (TypeError, ValueError):
        return None
