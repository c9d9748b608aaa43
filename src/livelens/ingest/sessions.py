"""Open participant websockets, so that revoking a participant closes them at once.

The websocket handler registers each socket it accepts under its
participant; :meth:`SocketSessions.revoke` (wired to
``ContactCenter.on_revoke``, called by DisconnectParticipant from a worker
thread) marks every socket of that participant revoked and wakes its handler
on the event loop, which stops pushing and closes the socket. The push loop
also checks :attr:`Session.revoked` before every send, so nothing more
reaches a revoked participant even while a send is being prepared.
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field


@dataclass(eq=False)
class Session:
    participant_id: str
    loop: asyncio.AbstractEventLoop
    closed: asyncio.Event = field(default_factory=asyncio.Event)

    @property
    def revoked(self) -> bool:
        return self.closed.is_set()


class SocketSessions:
    def __init__(self) -> None:
        self._open: dict[str, set[Session]] = {}
        self._lock = threading.Lock()

    @contextmanager
    def open(self, participant_id: str) -> Iterator[Session]:
        """Register a socket for as long as the block runs (call on the event loop)."""
        session = Session(participant_id, asyncio.get_running_loop())
        with self._lock:
            self._open.setdefault(participant_id, set()).add(session)
        try:
            yield session
        finally:
            with self._lock:
                sessions = self._open.get(participant_id)
                if sessions is not None:
                    sessions.discard(session)
                    if not sessions:
                        del self._open[participant_id]

    def revoke(self, participant_id: str) -> None:
        """Close every open socket of ``participant_id`` (thread-safe)."""
        with self._lock:
            sessions = list(self._open.get(participant_id, ()))
        for session in sessions:
            session.loop.call_soon_threadsafe(session.closed.set)

    def count(self, participant_id: str) -> int:
        with self._lock:
            return len(self._open.get(participant_id, ()))
