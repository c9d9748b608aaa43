"""Participant and connection tokens for the connectparticipant API.

A token is ``<kind>.<subject>.<mac>``: the subject, base64url-encoded, and an
HMAC-SHA256 over the kind and the subject with the server's key, so a forged
or altered token fails the MAC check before anything is looked up.

* Participant tokens (``P1``) name a participant; one is issued per
  participant by StartChatContact / CreateParticipant.
* Connection tokens (``C2``) name a participant *and* a connection id drawn at
  random for each CreateParticipantConnection, so every call returns a fresh
  token. The connection ids a participant may use are stored with the
  participant; removing one revokes that token alone, and
  DisconnectParticipant removes them all.

A genuine token is still refused once its participant has disconnected, its
contact has ended, it has expired or (connection tokens) it was revoked:
those are checked against the stored participant.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import secrets

PARTICIPANT = "P1"
CONNECTION = "C2"


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


class TokenIssuer:
    def __init__(self, key: bytes) -> None:
        self._key = key

    def _mac(self, kind: str, subject: str) -> str:
        return _b64(hmac.new(self._key, f"{kind}|{subject}".encode(), hashlib.sha256).digest())

    def pseudonym(self, scope: str, value: str) -> str:
        """A stable opaque stand-in for ``value`` within ``scope``: the same input always gives the same
        pseudonym, and without the server key it reveals nothing of ``value``."""
        digest = hmac.new(self._key, f"pseudonym|{scope}|{value}".encode(), hashlib.sha256).hexdigest()
        return f"P-{digest[:20]}"

    def fingerprint(self, text: str) -> str:
        """A keyed digest of ``text`` (HMAC-SHA256 with the server key): comparable, but unlike a bare hash it
        cannot be matched against guessed inputs (a phone number in a request) without the key."""
        return hmac.new(self._key, f"fingerprint|{text}".encode(), hashlib.sha256).hexdigest()

    def issue(self, kind: str, subject: str) -> str:
        return f"{kind}.{_b64(subject.encode())}.{self._mac(kind, subject)}"

    def issue_connection(self, participant_id: str) -> tuple[str, str]:
        """A fresh connection token for ``participant_id`` and the connection id it carries."""
        connection_id = secrets.token_urlsafe(16)
        return self.issue(CONNECTION, f"{participant_id}/{connection_id}"), connection_id

    def subject(self, kind: str, token: str) -> str | None:
        """What a genuine token of ``kind`` names, or ``None``."""
        parts = token.split(".")
        if len(parts) != 3 or parts[0] != kind:
            return None
        try:
            subject = base64.urlsafe_b64decode(parts[1] + "=" * (-len(parts[1]) % 4)).decode()
        except (binascii.Error, UnicodeDecodeError, ValueError):
            return None
        if not hmac.compare_digest(parts[2], self._mac(kind, subject)):
            return None
        return subject

    def participant_id(self, kind: str, token: str) -> str | None:
        """The participant a genuine token of ``kind`` names, or ``None``."""
        subject = self.subject(kind, token)
        if subject is None:
            return None
        return subject.split("/", 1)[0] if kind == CONNECTION else subject

    def connection_id(self, token: str) -> str | None:
        """The connection id a genuine connection token carries, or ``None``."""
        subject = self.subject(CONNECTION, token)
        if subject is None or "/" not in subject:
            return None
        return subject.split("/", 1)[1]
