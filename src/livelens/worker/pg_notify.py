"""Wake-ups across machines on PostgreSQL: ``NOTIFY`` / ``LISTEN`` (see :mod:`livelens.worker.notify`).

A server calls :meth:`PostgresNotifier.notify` after each accepted item's commit: one
``pg_notify('livelens_items', <contact id>)`` (ids only, never content). Every ``livelens worker``
on the database ``LISTEN``s on its own connection (:class:`PostgresWaker`) and wakes on it. As with
the datagrams, a lost notification (PostgreSQL restarting, a connection being replaced) costs at most
one poll interval: workers poll anyway.
"""

from __future__ import annotations

import contextlib
import logging
import os
import select
import threading
from typing import Any

import psycopg

CHANNEL = "livelens_items"

log = logging.getLogger("livelens.worker")


class PostgresNotifier:
    """Sends ``NOTIFY livelens_items, '<contact id>'`` on a pooled connection (never fails a request)."""

    def __init__(self, pool: Any) -> None:
        self.pool = pool

    def notify(self, contact_id: str = "") -> None:
        try:
            with self.pool.connection(timeout=2.0) as conn:
                conn.execute("SELECT pg_notify(%s, %s)", (CHANNEL, contact_id))
        except Exception as exc:  # the poll picks the item up; the request was accepted already
            log.debug("NOTIFY failed (%s); workers poll", exc)


class PostgresWaker:
    """A worker's ``LISTEN`` connection, plus a pipe that :meth:`interrupt` writes to (signal handlers)."""

    def __init__(self, url: str) -> None:
        self.url = url
        self._conn: psycopg.Connection[Any] | None = None
        self._read_end, self._write_end = os.pipe()
        os.set_blocking(self._read_end, False)
        os.set_blocking(self._write_end, False)  # LISTEN starts on the first wait (after start-up checks)

    def _listen(self) -> psycopg.Connection[Any] | None:
        if self._conn is None or self._conn.closed:
            try:
                self._conn = psycopg.connect(self.url, autocommit=True, connect_timeout=5)
                self._conn.execute(f"LISTEN {CHANNEL}")
            except psycopg.Error as exc:
                log.warning("cannot LISTEN on the database (%s); polling until it comes back", exc)
                self._conn = None
        return self._conn

    def wait(self, timeout: float) -> None:
        conn = self._listen()
        sources = [self._read_end] + ([conn.fileno()] if conn is not None else [])
        readable, _, _ = select.select(sources, [], [], timeout)
        if self._read_end in readable:
            with contextlib.suppress(BlockingIOError, InterruptedError):
                while os.read(self._read_end, 64):
                    pass
        if conn is not None and conn.fileno() in readable:
            try:
                conn.execute("SELECT 1")  # takes in (and so clears) every notification that arrived
            except psycopg.Error:
                with contextlib.suppress(Exception):
                    conn.close()
                self._conn = None  # reconnected (and LISTENing again) on the next wait

    def interrupt(self) -> None:
        """Wake the waiting worker from within its own process (a signal handler)."""
        with contextlib.suppress(OSError):
            os.write(self._write_end, b"x")

    def close(self) -> None:
        if self._conn is not None:
            with contextlib.suppress(Exception):
                self._conn.close()
        for fd in (self._read_end, self._write_end):
            with contextlib.suppress(OSError):
                os.close(fd)


class ItemListener:
    """A node's ``LISTEN livelens_items`` thread: hands each notified contact id to ``deliver`` (the node's
    :class:`livelens.ingest.wakeups.ItemWakeups`), so a chat client on this node learns at once of an item
    another node accepted. Reconnects after a lost connection; clients poll meanwhile."""

    def __init__(self, url: str, deliver: Any) -> None:
        self.url = url
        self.deliver = deliver
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="livelens-item-listener", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def _run(self) -> None:
        while not self._stop.is_set():
            try:
                with psycopg.connect(self.url, autocommit=True, connect_timeout=5) as conn:
                    conn.execute(f"LISTEN {CHANNEL}")
                    while not self._stop.is_set():
                        for notification in conn.notifies(timeout=0.5):
                            self.deliver(notification.payload)
            except psycopg.Error as exc:
                log.warning("item listener: %s; reconnecting (clients poll meanwhile)", " ".join(str(exc).split()))
                self._stop.wait(1.0)

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(timeout=3)
