"""Participant and connection tokens for the connectparticipant API.

Tokens are derived, not stored: ``<kind>.<participant id>.<mac>`` where the MAC
is an HMAC-SHA256 over the kind and the participant id with the server's key.
A forged token fails the MAC check; a genuine token is still refused once its
participant has disconnected, its contact has ended or it has expired (checked
against the stored participant).
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac

PARTICIPANT = "P1"
CONNECTION = "C1"


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


class TokenIssuer:
    def __init__(self, key: bytes) -> None:
        self._key = key

    def _mac(self, kind: str, participant_id: str) -> str:
        return _b64(hmac.new(self._key, f"{kind}|{participant_id}".encode(), hashlib.sha256).digest())

    def issue(self, kind: str, participant_id: str) -> str:
        return f"{kind}.{_b64(participant_id.encode())}.{self._mac(kind, participant_id)}"

    def participant_id(self, kind: str, token: str) -> str | None:
        """The participant a genuine token of ``kind`` names, or ``None``."""
        parts = token.split(".")
        if len(parts) != 3 or parts[0] != kind:
            return None
        try:
            participant_id = base64.urlsafe_b64decode(parts[1] + "=" * (-len(parts[1]) % 4)).decode()
        except (binascii.Error, UnicodeDecodeError, ValueError):
            return None
        if not hmac.compare_digest(parts[2], self._mac(kind, participant_id)):
            return None
        return participant_id
