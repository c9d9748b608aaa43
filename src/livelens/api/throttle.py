"""Request throttling as AWS does it: a token bucket per access key and operation.

Each (caller, operation) pair owns a bucket of ``burst`` tokens refilled at
``rate`` tokens per second; a request takes one token or, when the bucket is
empty, is answered ``ThrottlingException`` (HTTP 429), which botocore and the
aws CLI retry by themselves with backoff. The caller is the SigV4 access key
(connect, connect-contact-lens, livelens' native API) or the participant's
connection token (connectparticipant).

Presets (setting ``throttle``, ``livelens serve --throttle``):

``default``
    generous: 1,000 requests per second, burst 2,000, for every operation, so only a
    runaway client notices.
``aws``
    Amazon Connect's documented default quotas (:data:`AWS_QUOTAS`; every other
    connect operation 2 per second, burst 5, as the API reference states); livelens'
    native endpoints, which AWS does not have, keep the generous default.
``off``
    no throttling.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass

from livelens.errors import ThrottlingException

PRESETS = ("default", "aws", "off")


@dataclass(frozen=True)
class Quota:
    rate: float  # tokens per second
    burst: int  # bucket size


GENEROUS = Quota(1000.0, 2000)
AWS_DEFAULT = Quota(2.0, 5)
#: Amazon Connect's documented default API quotas (service quotas page, "API throttling quotas").
AWS_QUOTAS: Mapping[tuple[str, str], Quota] = {
    ("connect-contact-lens", "ListRealtimeContactAnalysisSegments"): Quota(1.0, 2),
    ("connect", "ListRealtimeContactAnalysisSegmentsV2"): Quota(2.0, 5),
    ("connect", "StartChatContact"): Quota(5.0, 8),
    ("connect", "CreateParticipant"): Quota(5.0, 8),
    ("connect", "DescribeContact"): Quota(10.0, 15),
    ("connect", "StopContact"): Quota(10.0, 15),
    ("connect", "SearchContacts"): Quota(0.5, 1),
    ("connectparticipant", "CreateParticipantConnection"): Quota(6.0, 9),
    ("connectparticipant", "SendMessage"): Quota(10.0, 15),
    ("connectparticipant", "SendEvent"): Quota(10.0, 15),
    ("connectparticipant", "GetTranscript"): Quota(8.0, 12),
    ("connectparticipant", "DisconnectParticipant"): Quota(3.0, 5),
    ("connectparticipant", "StartAttachmentUpload"): Quota(2.0, 5),
    ("connectparticipant", "CompleteAttachmentUpload"): Quota(2.0, 5),
}
MAX_BUCKETS = 100_000


def quota_for(preset: str, service: str, operation: str) -> Quota | None:
    """The quota of one operation under a preset (``None``: not throttled)."""
    if preset == "off":
        return None
    if preset == "aws" and service != "livelens":
        return AWS_QUOTAS.get((service, operation), AWS_DEFAULT)
    return GENEROUS


class Throttle:
    def __init__(self, preset: str = "default", clock: Callable[[], float] = time.monotonic) -> None:
        if preset not in PRESETS:
            raise ValueError(f"throttle must be one of {', '.join(PRESETS)}")
        self.preset = preset
        self.clock = clock
        self._buckets: dict[tuple[str, str, str], tuple[float, float]] = {}  # key -> (tokens, last refill)
        self._lock = threading.Lock()

    def take(self, caller: str, service: str, operation: str) -> None:
        """Take one token for ``caller`` on ``operation``; :class:`ThrottlingException` when none is left."""
        quota = quota_for(self.preset, service, operation)
        if quota is None:
            return
        key = (caller, service, operation)
        now = self.clock()
        with self._lock:
            tokens, last = self._buckets.get(key, (float(quota.burst), now))
            tokens = min(float(quota.burst), tokens + (now - last) * quota.rate)
            if tokens < 1.0:
                self._buckets[key] = (tokens, now)
                raise ThrottlingException(
                    f"Rate exceeded for {operation}: {quota.rate:g} requests per second, burst {quota.burst} "
                    f"(throttle preset {self.preset})."
                )
            if len(self._buckets) >= MAX_BUCKETS and key not in self._buckets:
                self._buckets.clear()  # a flood of distinct callers: start over rather than grow without bound
            self._buckets[key] = (tokens - 1.0, now)
