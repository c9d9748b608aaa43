"""Alerts: the rule-matched event, its HMAC signature and a delivery loop with backoff.

An alert is built when a rule with a GENERATE_EVENTBRIDGE_EVENT action fires,
queued in the outbox (one record per webhook) in the same transaction that
records the turn, and POSTed by :class:`Deliverer`. Delivery is at least
once: a 2xx answer marks the alert DELIVERED; anything else (an error status,
a refused connection, a timeout) schedules another attempt after an
exponential backoff, until ``max_attempts`` makes it FAILED. The outbox is in
the database, so a restart resumes where the last run stopped. Every attempt
of one alert carries the same ``X-Livelens-Event-Id`` (the event's ``id``),
so a receiver can drop the rare duplicate (a crash between the receiver's 2xx
and the outbox update).

Signature: ``X-Livelens-Signature: t=<unix seconds>,v1=<hex HMAC-SHA256(secret, "<t>.<body>")>``,
recomputed per attempt (see :func:`verify`).
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import logging
import random
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any, Protocol

from livelens.storage.base import Record, Storage

log = logging.getLogger("livelens.alerts")

DETAIL_TYPES = {
    "VOICE": "Contact Lens Realtime Rules Matched",
    "CHAT": "Contact Lens Realtime Chat Rules Matched",
}
PENDING, DELIVERED, FAILED = "PENDING", "DELIVERED", "FAILED"
SIGNATURE_HEADER = "X-Livelens-Signature"
EVENT_ID_HEADER = "X-Livelens-Event-Id"
EVENT_TYPE_HEADER = "X-Livelens-Event-Type"  # ALERT, or an instance stream event (STARTED, SEGMENTS, ...)


def _region_of(arn: str) -> str:
    parts = arn.split(":")
    return parts[3] if len(parts) > 3 and parts[3] else "us-east-1"


def build_event(
    *,
    event_id: str,
    time_iso: str,
    account_id: str,
    instance_arn: str,
    contact_arn: str,
    contact_id: str,
    channel: str,
    rule_id: str,
    rule_arn: str,
    rule_name: str,
    action_name: str,
    points: Sequence[Mapping[str, Any]],
    redacted: bool,
    at_end: bool,
    explanation: Sequence[Mapping[str, Any]] = (),
) -> dict[str, Any]:
    """The Contact Lens rules-matched EventBridge event, plus a ``livelens`` part AWS leaves out.

    ``detail`` carries the fields Contact Lens sends (``version``, ``ruleName``,
    ``actionName``, ``actionType``, ``instanceArn``, ``contactArn``; livelens
    models neither agents nor queues, so ``agentArn`` and ``queueArn`` are
    absent). ``detail.livelens`` adds what matched: per point of interest the
    transcript item, role, text (redacted when the contact redacts), offsets
    and the turn's sentiment.
    """
    matches = []
    for point, explained in zip(points, list(explanation) + [{}] * len(points), strict=False):
        match: dict[str, Any] = {
            "condition": explained.get("condition"),
            "transcriptItemId": point["item"],
            "participantRole": point["role"],
            "turn": point["turn"],
            "text": point["text"],
            "sentiment": point.get("sentiment"),
        }
        offsets = point["redacted"] if redacted else point["raw"]
        if offsets is not None:
            match["characterOffsets"] = {"beginOffsetChar": offsets[0], "endOffsetChar": offsets[1]}
        if point.get("ms"):
            match["beginOffsetMillis"], match["endOffsetMillis"] = point["ms"]
        if "phrase" in point:
            match["phrase"] = point["phrase"]
        if "score" in point:
            match["score"] = point["score"]
        matches.append(match)
    return {
        "version": "0",
        "id": event_id,
        "detail-type": DETAIL_TYPES.get(channel, DETAIL_TYPES["VOICE"]),
        "source": "aws.connect",
        "account": account_id,
        "time": time_iso,
        "region": _region_of(instance_arn),
        "resources": [instance_arn, contact_arn],
        "detail": {
            "version": "1.0",
            "ruleName": rule_name,
            "actionName": action_name,
            "actionType": "GENERATE_EVENTBRIDGE_EVENT",
            "instanceArn": instance_arn,
            "contactArn": contact_arn,
            "livelens": {
                "ruleId": rule_id,
                "ruleArn": rule_arn,
                "contactId": contact_id,
                "channel": channel,
                "decidedAtContactEnd": at_end,
                "redacted": redacted,
                "matches": matches,
            },
        },
    }


def sign(secret: str, body: bytes, timestamp: int | None = None) -> str:
    """The ``X-Livelens-Signature`` header value for ``body``."""
    t = int(time.time()) if timestamp is None else timestamp
    mac = hmac.new(secret.encode(), f"{t}.".encode() + body, hashlib.sha256).hexdigest()
    return f"t={t},v1={mac}"


def verify(secret: str, header: str, body: bytes, *, tolerance: float = 300.0, now: float | None = None) -> bool:
    """Check a signature header as a receiver should (constant-time, with a replay window)."""
    try:
        fields = dict(part.split("=", 1) for part in header.split(","))
        t = int(fields["t"])
        given = fields["v1"]
    except (KeyError, ValueError):
        return False
    if abs((time.time() if now is None else now) - t) > tolerance:
        return False
    expected = hmac.new(secret.encode(), f"{t}.".encode() + body, hashlib.sha256).hexdigest()
    return hmac.compare_digest(expected, given)


def backoff(attempts: int, base: float, cap: float) -> float:
    """Seconds before the next attempt after ``attempts`` failures: exponential, capped, ±20% jitter."""
    delay = min(cap, base * (2 ** max(0, attempts - 1)))
    return float(delay * random.uniform(0.8, 1.2))


class Post(Protocol):
    def __call__(self, url: str, body: bytes, headers: Mapping[str, str], timeout: float) -> int: ...


def http_post(url: str, body: bytes, headers: Mapping[str, str], timeout: float) -> int:
    """POST ``body``; the status code (raises OSError when nothing answered)."""
    request = urllib.request.Request(url, data=body, headers=dict(headers), method="POST")
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:  # noqa: S310 (configured webhook URL)
            return int(response.status)
    except urllib.error.HTTPError as exc:
        return int(exc.code)


@dataclass
class DeliveryPolicy:
    base_delay: float = 1.0
    max_delay: float = 300.0
    max_attempts: int = 12
    timeout: float = 5.0
    poll_interval: float = 0.25  # longest sleep when nothing is due (covers a wake-up lost to a race)
    batch: int = 32


class Deliverer:
    """Drains the alert outbox; one per process, started in the app's lifespan."""

    def __init__(
        self,
        storage: Storage,
        policy: DeliveryPolicy | None = None,
        post: Post = http_post,
        clock: Callable[[], float] = time.time,
        pump: Callable[[], int] | None = None,
    ) -> None:
        self.storage = storage
        self.policy = policy or DeliveryPolicy()
        self.post = post
        self.clock = clock
        self.pump = pump  # queues owed instance stream events before each round (contacts/stream_webhooks.py)
        self._wake: asyncio.Event | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._pool = ThreadPoolExecutor(max_workers=8, thread_name_prefix="livelens-alerts")

    def notify(self) -> None:
        """Something was queued (safe from any thread)."""
        if self._loop is not None and self._wake is not None:
            self._loop.call_soon_threadsafe(self._wake.set)

    async def run(self) -> None:
        self._loop = asyncio.get_running_loop()
        self._wake = asyncio.Event()
        try:
            while True:
                try:
                    if self.pump is not None:
                        await asyncio.to_thread(self.pump)
                    await asyncio.to_thread(self.deliver_due)
                    wait = await asyncio.to_thread(self._wait)
                except Exception:  # keep delivering; the outbox keeps every alert
                    log.exception("alert delivery failed; retrying in 1 s")
                    wait = 1.0
                if wait > 0:
                    try:
                        await asyncio.wait_for(self._wake.wait(), timeout=wait)
                    except TimeoutError:
                        pass
                self._wake.clear()
        finally:
            self._pool.shutdown(wait=False, cancel_futures=True)

    def _wait(self) -> float:
        with self.storage.read() as tx:
            due = tx.next_alert_due()
        if due is None:
            return self.policy.poll_interval
        return max(0.0, min(self.policy.poll_interval, due - self.clock()))

    def deliver_due(self) -> int:
        """Attempt every due alert once; the number attempted."""
        # Look first: most rounds find nothing due, and a write transaction would take SQLite's single
        # writer (or a PostgreSQL connection's row locks) for nothing.
        with self.storage.read() as tx:
            due = tx.next_alert_due()
        if due is None or due > self.clock():
            return 0
        # A write transaction: on PostgreSQL it takes the due alerts (FOR UPDATE SKIP LOCKED and a lease),
        # so of N nodes draining one outbox only one delivers each alert.
        with self.storage.write() as tx:
            alerts = tx.due_alerts(self.clock(), self.policy.batch)
        if not alerts:
            return 0
        # One destination's alerts go one after the other, in outbox order, stopping at the first that
        # fails (so a healthy receiver gets stream events in order, and a dead one costs one attempt per
        # round); destinations in parallel.
        by_url: dict[str, list[Record]] = {}
        for alert in alerts:
            by_url.setdefault(alert["url"], []).append(alert)

        def in_order(group: list[Record]) -> list[tuple[Record, tuple[str, int, float, Record]]]:
            results = []
            for alert in group:
                result = self._attempt(alert)
                results.append((alert, result))
                if result[0] != DELIVERED:
                    break
            return results

        done = [pair for results in self._pool.map(in_order, list(by_url.values())) for pair in results]
        with self.storage.write() as tx:
            for alert, (status, attempts, next_attempt, data) in done:
                tx.update_alert(alert["id"], status=status, attempts=attempts, next_attempt=next_attempt, data=data)
        return len(done)

    def _attempt(self, alert: Record) -> tuple[str, int, float, Record]:
        body = alert["body"].encode()
        attempts = int(alert["attempts"]) + 1
        headers = {
            "Content-Type": "application/json",
            "User-Agent": "livelens-alerts/1",
            EVENT_ID_HEADER: alert["event_id"],
            EVENT_TYPE_HEADER: alert.get("event_type") or "ALERT",
            "X-Livelens-Delivery-Attempt": str(attempts),
            SIGNATURE_HEADER: sign(alert.get("secret") or "", body),
        }
        data = {k: v for k, v in alert.items() if k not in ("id", "instance_id", "status", "attempts", "next_attempt")}
        try:
            status_code = self.post(alert["url"], body, headers, self.policy.timeout)
            error = None if 200 <= status_code < 300 else f"HTTP {status_code}"
        except Exception as exc:  # refused, timeout, DNS …: all retried
            status_code, error = 0, f"{type(exc).__name__}: {exc}"[:300]
        now = self.clock()
        data.update(last_attempt=now, last_status=status_code, last_error=error)
        if error is None:
            data["delivered_at"] = now
            return DELIVERED, attempts, now, data
        if attempts >= self.policy.max_attempts:
            log.warning(
                "alert %s to %s failed for good after %d attempts: %s", alert["id"], alert["url"], attempts, error
            )
            return FAILED, attempts, now, data
        return PENDING, attempts, now + backoff(attempts, self.policy.base_delay, self.policy.max_delay), data
