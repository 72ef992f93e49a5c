"""Page tokens: opaque, bound to one listing, refused when forged or foreign."""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import secrets

from ._exceptions import ValidationException


class PageTokens:
    """Mints and reads the nextToken of listings; one key per backend."""

    def __init__(self) -> None:
        self._key = secrets.token_bytes(16)

    def _sign(self, payload: str) -> str:
        return hmac.new(self._key, payload.encode(), hashlib.sha256).hexdigest()[:24]

    def encode(self, scope: str, after_seq: int) -> str:
        """A token resuming the listing `scope` after the record numbered `after_seq`."""
        # A nonce makes every token distinct, even two for the same position.
        payload = f"{scope}|{after_seq}|{secrets.token_hex(4)}"
        raw = f"{payload}|{self._sign(payload)}".encode()
        return base64.urlsafe_b64encode(raw).decode().rstrip("=")

    def decode(self, token: str | None, scope: str) -> int:
        """The position a token resumes after (0: the start); 400 for any other token."""
        if token is None:
            return 0
        try:
            raw = base64.urlsafe_b64decode(token + "=" * (-len(token) % 4)).decode()
            token_scope, after, nonce, signature = raw.split("|")
            valid = hmac.compare_digest(signature, self._sign(f"{token_scope}|{after}|{nonce}"))
        except (ValueError, UnicodeDecodeError, binascii.Error):
            valid = False
        if not valid:
            raise ValidationException("The nextToken is not valid")
        if token_scope != scope:
            raise ValidationException("The nextToken was issued for another listing")
        return int(after)
