"""Dashboard sessions: a signed cookie naming the access key that signed in, and CSRF tokens.

A session cookie is ``<payload>.<mac>``: the payload is URL-safe base64 of
``{"k": access key, "e": expiry (unix seconds), "n": nonce}`` and the mac an
HMAC-SHA256 of it under a key derived from the server key (one per database,
so every node of a deployment accepts the others' sessions). Nothing in it is
secret, all of it is tamper-evident. The CSRF token of a session is an HMAC of
its nonce: forms carry it in a hidden ``csrf`` field, scripts in an
``X-CSRF-Token`` header. The sign-in form, before any session exists, is
protected the same way by a nonce in a short-lived ``livelens_signin`` cookie
(double submit).
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import json
import secrets
import time
from dataclasses import dataclass

SESSION_COOKIE = "livelens_session"
SIGNIN_COOKIE = "livelens_signin"


@dataclass(frozen=True)
class Session:
    access_key: str
    expires: int
    nonce: str


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).decode().rstrip("=")


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


class SessionSigner:
    """Issues and checks session cookies and CSRF tokens under one secret key."""

    def __init__(self, server_key: bytes, lifetime_seconds: int,
                 clock: object = time.time) -> None:
        self._key = hmac.new(server_key, b"livelens dashboard sessions", hashlib.sha256).digest()
        self.lifetime = lifetime_seconds
        self._clock = clock

    def _now(self) -> float:
        return float(self._clock())  # type: ignore[operator]

    def _mac(self, label: str, text: str) -> str:
        return _b64(hmac.new(self._key, f"{label}|{text}".encode(), hashlib.sha256).digest())

    def issue(self, access_key: str) -> tuple[str, Session]:
        """A new session of ``access_key``: the cookie value and the session."""
        session = Session(access_key, int(self._now()) + self.lifetime, secrets.token_urlsafe(16))
        payload = _b64(json.dumps({"k": session.access_key, "e": session.expires, "n": session.nonce},
                                  separators=(",", ":")).encode())
        return f"{payload}.{self._mac('session', payload)}", session

    def verify(self, cookie: str | None) -> Session | None:
        """The session a cookie carries, or ``None`` if it is missing, forged, malformed or expired."""
        if not cookie or cookie.count(".") != 1:
            return None
        payload, mac = cookie.split(".")
        if not hmac.compare_digest(mac, self._mac("session", payload)):
            return None
        try:
            record = json.loads(_unb64(payload))
            session = Session(str(record["k"]), int(record["e"]), str(record["n"]))
        except (ValueError, KeyError, TypeError, binascii.Error):
            return None
        if session.expires <= self._now():
            return None
        return session

    def csrf_token(self, session: Session) -> str:
        return self._mac("csrf", session.nonce)

    def check_csrf(self, session: Session, token: str | None) -> bool:
        return bool(token) and hmac.compare_digest(str(token), self.csrf_token(session))

    # the sign-in form (no session yet): double submit of a nonce cookie
    def signin_nonce(self) -> tuple[str, str]:
        """A nonce for the ``livelens_signin`` cookie and the form token that goes with it."""
        nonce = secrets.token_urlsafe(16)
        return nonce, self._mac("signin", nonce)

    def check_signin(self, nonce: str | None, token: str | None) -> bool:
        return bool(nonce) and bool(token) and hmac.compare_digest(str(token), self._mac("signin", str(nonce)))
