"""Opaque, tamper-evident pagination tokens.

A token is ``base64url(json(payload)) + "." + base64url(hmac_sha256(key, body))``.
The payload binds the token to what it pages through (``scope``: a contact and
the request's filters, or an instance list) and holds the keyset position.
Decoding checks the MAC before looking inside, so a forged, truncated, foreign
or mismatched token is an ``InvalidRequestException`` and never reads data
outside its scope.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import json

from livelens.errors import InvalidRequestException


def _b64encode(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def _b64decode(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


class NextTokenCodec:
    def __init__(self, key: bytes) -> None:
        self._key = key

    def _mac(self, body: bytes) -> bytes:
        return hmac.new(self._key, body, hashlib.sha256).digest()

    def encode(self, scope: str, position: int) -> str:
        body = json.dumps({"s": scope, "p": position}, separators=(",", ":")).encode()
        return f"{_b64encode(body)}.{_b64encode(self._mac(body))}"

    def decode(self, token: str, scope: str, field: str = "NextToken") -> int:
        """The position stored in ``token``, which must have been issued for ``scope``."""
        invalid = InvalidRequestException(f"{field} is invalid or expired, or was issued for another request.")
        body_part, dot, mac_part = token.partition(".")
        if not dot:
            raise invalid
        try:
            body = _b64decode(body_part)
            mac = _b64decode(mac_part)
        except (binascii.Error, ValueError):
            raise invalid from None
        if not hmac.compare_digest(mac, self._mac(body)):
            raise invalid
        payload = json.loads(body)
        if payload.get("s") != scope or not isinstance(payload.get("p"), int) or payload["p"] < 0:
            raise invalid
        return int(payload["p"])
