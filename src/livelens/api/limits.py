"""Bounds applied before a request is trusted: body size, JSON depth, timeouts, concurrency.

Everything here runs before authentication and before any parsing, so an
anonymous client can make the server hold at most ``max_body_bytes`` per
request, at most ``max_inflight_per_client`` requests per client address and
``max_inflight`` in all, and can keep a silent or half-sent request open for at
most ``header_timeout`` (request head) or ``idle_timeout`` (between body
chunks) seconds.

    LimitExceeded                 a bound was hit; carries the AWS error to answer
    ├── BodyTooLarge              413 RequestEntityTooLargeException
    ├── BodyTimeout               408 RequestTimeoutException
    └── TooManyRequests           429 ThrottlingException
"""

from __future__ import annotations

import asyncio
import json
import logging
import re
import threading
import time
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import h11
from starlette.types import Message, Receive
from uvicorn.protocols.http.h11_impl import H11Protocol

#: Deepest JSON nesting any operation's input needs (the deepest botocore shape is under 10 levels).
MAX_JSON_DEPTH = 64
_JSON_STRING = re.compile(rb'"(?:[^"\\]|\\.)*"', re.DOTALL)
_BRACKETS = bytes.maketrans(b"", b"")
_NOT_BRACKETS = bytes(c for c in range(256) if c not in b"[]{}")


class LimitExceeded(Exception):
    """A bound was hit; ``code`` and ``status`` are the AWS error to answer."""

    code = "InvalidRequestException"
    status = 400
    close_connection = False

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class BodyTooLarge(LimitExceeded):
    code = "RequestEntityTooLargeException"
    status = 413
    close_connection = True


class BodyTimeout(LimitExceeded):
    code = "RequestTimeoutException"
    status = 408
    close_connection = True


class TooManyRequests(LimitExceeded):
    code = "ThrottlingException"
    status = 429


async def read_body(receive: Receive, limit: int, idle_timeout: float) -> bytes:
    """The request body, read chunk by chunk and refused the moment it passes ``limit`` bytes.

    Works the same for ``Content-Length`` and chunked bodies: the ASGI server
    hands over chunks as they arrive, and nothing beyond ``limit`` is kept.
    A client that stops sending for ``idle_timeout`` seconds is refused.
    """
    chunks: list[bytes] = []
    size = 0
    while True:
        try:
            async with asyncio.timeout(idle_timeout):  # no extra task per chunk, unlike wait_for
                message: Message = await receive()
        except TimeoutError:
            raise BodyTimeout(f"No request body data arrived for {idle_timeout:g} seconds.") from None
        if message["type"] == "http.disconnect":
            raise BodyTimeout("The client disconnected before sending the whole body.")
        chunk = message.get("body", b"")
        size += len(chunk)
        if size > limit:
            raise BodyTooLarge(f"The request body is larger than {limit} bytes.")
        chunks.append(chunk)
        if not message.get("more_body", False):
            return b"".join(chunks)


def json_depth(body: bytes) -> int:
    """How deeply ``body``'s arrays and objects nest (strings skipped), without parsing it."""
    brackets = _JSON_STRING.sub(b'""', body).translate(_BRACKETS, _NOT_BRACKETS)
    depth = deepest = 0
    for byte in brackets:
        if byte in (0x5B, 0x7B):  # [ {
            depth += 1
            if depth > deepest:
                deepest = depth
        else:
            depth -= 1
    return deepest


def check_json_depth(body: bytes, limit: int = MAX_JSON_DEPTH) -> None:
    if body.count(b"[") + body.count(b"{") > limit and json_depth(body) > limit:
        raise LimitExceeded(f"The request body nests JSON more than {limit} levels deep.")


class InflightLimiter:
    """Caps requests in progress, per client address and in all (thread-safe, O(1))."""

    def __init__(self, total: int, per_client: int) -> None:
        self.total = total
        self.per_client = per_client
        self._by_client: Counter[str] = Counter()
        self._count = 0
        self._lock = threading.Lock()

    @contextmanager
    def admit(self, client: str) -> Iterator[None]:
        with self._lock:
            if self._count >= self.total:
                raise TooManyRequests("Rate exceeded: too many requests are in progress.")
            if self._by_client[client] >= self.per_client:
                raise TooManyRequests("Rate exceeded: too many requests from this client are in progress.")
            self._count += 1
            self._by_client[client] += 1
        try:
            yield
        finally:
            with self._lock:
                self._count -= 1
                self._by_client[client] -= 1
                if not self._by_client[client]:
                    del self._by_client[client]


class RateLimitedLog:
    """Logs at most one line per key every ``interval`` seconds, then says how many it held back.

    A hostile client can make every request fail the same way; the log keeps
    one line per kind of failure per interval instead of one per request.
    """

    def __init__(self, logger: logging.Logger, interval: float = 10.0) -> None:
        self.logger = logger
        self.interval = interval
        self._last: dict[str, float] = {}
        self._held: Counter[str] = Counter()
        self._lock = threading.Lock()

    def log(self, level: int, key: str, message: str, *args: Any, exc_info: bool = False) -> bool:
        """Log unless ``key`` was logged within the interval; ``True`` if it was written."""
        now = time.monotonic()
        with self._lock:
            if now - self._last.get(key, -self.interval) < self.interval:
                self._held[key] += 1
                return False
            self._last[key] = now
            held = self._held.pop(key, 0)
            if len(self._last) > 1024:  # keys are bounded by kinds of failure; be safe anyway
                self._last = {key: now}
        suffix = f" ({held} similar suppressed)" if held else ""
        self.logger.log(level, message + suffix, *args, exc_info=exc_info)
        return True


class GuardedH11Protocol(H11Protocol):
    """uvicorn's h11 protocol with a request-head timeout.

    uvicorn closes a kept-alive connection that stays silent after a response,
    but a new connection that never sends a request, or sends its head a byte
    at a time, is held forever. Here the whole request head must arrive within
    ``header_timeout`` seconds of the connection opening or the previous
    response completing.
    """

    header_timeout = 10.0
    max_connections = 1000

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._head_timer: asyncio.TimerHandle | None = None

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(transport)
        if len(self.connections) > self.max_connections:
            transport.write(_OVERLOADED)
            transport.close()
            return
        self._arm_head_timer()

    def connection_lost(self, exc: Exception | None) -> None:
        self._disarm_head_timer()
        super().connection_lost(exc)

    def handle_events(self) -> None:
        super().handle_events()
        if self.conn.their_state is not h11.IDLE:
            self._disarm_head_timer()

    def on_response_complete(self) -> None:
        super().on_response_complete()
        if not self.transport.is_closing() and self.conn.their_state is h11.IDLE:
            self._arm_head_timer()

    def send_400_response(self, msg: str) -> None:
        """A malformed or oversized request head, answered as an AWS error (and logged at most every 10 s)."""
        _malformed.log(logging.WARNING, "head", "refused a malformed request head from %s: %s",
                       self.client[0] if self.client else "?", msg)
        body = json.dumps({"__type": "SerializationException", "Message": msg}).encode()
        headers = [(b"content-type", b"application/json"), (b"x-amzn-ErrorType", b"SerializationException"),
                   (b"content-length", str(len(body)).encode()), (b"connection", b"close")]
        try:
            self.transport.write(self.conn.send(h11.Response(status_code=400, headers=headers, reason=b"Bad Request")))
            self.transport.write(self.conn.send(h11.Data(data=body)))
            self.transport.write(self.conn.send(h11.EndOfMessage()))
        except h11.LocalProtocolError:
            pass
        self.transport.close()

    def _arm_head_timer(self) -> None:
        self._disarm_head_timer()
        self._head_timer = self.loop.call_later(self.header_timeout, self._head_timed_out)

    def _disarm_head_timer(self) -> None:
        if self._head_timer is not None:
            self._head_timer.cancel()
            self._head_timer = None

    def _head_timed_out(self) -> None:
        self._head_timer = None
        if self.conn.their_state is h11.IDLE and not self.transport.is_closing():
            self.transport.close()


_malformed = RateLimitedLog(logging.getLogger("livelens.api"))

_OVERLOADED_BODY = b'{"__type":"ServiceUnavailableException","Message":"Too many open connections."}'
_OVERLOADED = (
    b"HTTP/1.1 503 Service Unavailable\r\ncontent-type: application/json\r\n"
    b"x-amzn-ErrorType: ServiceUnavailableException\r\nconnection: close\r\n"
    b"content-length: " + str(len(_OVERLOADED_BODY)).encode() + b"\r\n\r\n" + _OVERLOADED_BODY
)


def guarded_h11(header_timeout: float, max_connections: int) -> type[GuardedH11Protocol]:
    """The protocol class to hand ``uvicorn.Config(http=...)``."""
    return type("GuardedH11Protocol", (GuardedH11Protocol,),
                {"header_timeout": header_timeout, "max_connections": max_connections})
