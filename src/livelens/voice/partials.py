"""Partial transcripts of live audio, handed to the segment streams of the same server process.

A partial is re-decoded from the utterance heard so far while speech goes on; it is never stored (the
append-only log holds only final utterances). A segment stream of the contact
(``/livelens/v1/.../stream``) sends each as ``event: partial`` with ``{"Utterance": {...}}`` (the shape
of the Amazon Connect real-time segment stream's ``Utterance``), without an ``id:`` (resuming with
``Last-Event-ID`` skips partials). Partials reach the streams served by the process that receives the
audio; a stream on another node sees only the finals.
"""

from __future__ import annotations

import asyncio
import contextlib
from typing import Any

QUEUE_SIZE = 64


class PartialHub:
    def __init__(self) -> None:
        self._queues: dict[str, set[asyncio.Queue[dict[str, Any]]]] = {}

    def subscribe(self, contact_id: str) -> asyncio.Queue[dict[str, Any]]:
        queue: asyncio.Queue[dict[str, Any]] = asyncio.Queue(QUEUE_SIZE)
        self._queues.setdefault(contact_id, set()).add(queue)
        return queue

    def unsubscribe(self, contact_id: str, queue: asyncio.Queue[dict[str, Any]]) -> None:
        queues = self._queues.get(contact_id)
        if queues is not None:
            queues.discard(queue)
            if not queues:
                del self._queues[contact_id]

    def listening(self, contact_id: str) -> bool:
        return bool(self._queues.get(contact_id))

    def publish(self, contact_id: str, event: dict[str, Any]) -> None:
        """Hand ``event`` to every stream of the contact (call in the event loop); a stream too slow to
        take it loses that partial, never a final."""
        for queue in self._queues.get(contact_id, ()):
            with contextlib.suppress(asyncio.QueueFull):
                queue.put_nowait(event)
