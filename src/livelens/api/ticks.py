"""The pace of the log readers behind the streams (:class:`~livelens.api.stream.LogWatcher` and
:class:`~livelens.api.instance_stream.Tails`).

Analysis commits come from worker processes, so a reader learns of them by reading the database. It
reads every ``stream_poll_interval`` seconds, and at once when a worker says it has committed: the
worker sends a wake-up after each round's commit (a datagram to this server's socket on SQLite, a
``NOTIFY`` on PostgreSQL, a direct call for the in-process worker; see :mod:`livelens.worker.notify`).
The poll stays as the fallback for a lost wake-up, so a segment reaches its streams within one
interval whatever happens, and usually within a few milliseconds of its commit.
"""

from __future__ import annotations

import asyncio
import contextlib


class Ticks:
    """A tick every ``interval`` seconds, or as soon as :meth:`notify` is called (from any thread).
    Notifications that arrive while the reader reads make one tick after it."""

    def __init__(self, interval: float) -> None:
        self.interval = interval
        self._event = asyncio.Event()
        self._loop: asyncio.AbstractEventLoop | None = None

    def bind(self) -> None:
        """Remember the running loop (called from it, before the first :meth:`wait`)."""
        self._loop = asyncio.get_running_loop()

    def notify(self, contact_id: str = "") -> None:
        loop = self._loop
        if loop is not None and not loop.is_closed():
            with contextlib.suppress(RuntimeError):  # the loop closed meanwhile: nothing waits any more
                loop.call_soon_threadsafe(self._event.set)

    async def wait(self) -> None:
        """Until the next tick; the caller reads right after it returns."""
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._event.wait(), self.interval)
        self._event.clear()
