"""Wake-ups for analysis workers.

A worker sleeps on a :class:`Waker` between batches, for at most the poll
interval: polling alone would pick up every write (from this server, another
server or a script), and the notification only cuts the wait. What the server
calls per accepted item is a :class:`Notifier`:

* in-process worker (``--analysis-workers 0``): :class:`EventWaker`, a
  ``threading.Event``;
* worker processes on this machine: :class:`DatagramNotifier` sends one empty
  datagram to every worker's Unix socket in a directory derived from the
  database path (:func:`wake_directory`); each worker process binds one there
  (:class:`DatagramWaker`). Sending is non-blocking and never fails a request:
  a lost datagram costs at most one poll interval.

A PostgreSQL backend would add a ``LISTEN/NOTIFY`` pair behind the same two
protocols (``NOTIFY livelens_items`` in the item's transaction; workers
``LISTEN`` on their connection and wake on it).
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import select
import socket
import tempfile
import threading
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Protocol


class Notifier(Protocol):
    def notify(self, contact_id: str = "") -> None: ...


class Waker(Protocol):
    def wait(self, timeout: float) -> None:
        """Return after a notification or after ``timeout`` seconds, whichever is first."""
        ...

    def close(self) -> None: ...


class EventWaker:
    """In-process: the server's notifications set an event the worker thread waits on."""

    def __init__(self) -> None:
        self._event = threading.Event()

    def notify(self, contact_id: str = "") -> None:
        self._event.set()

    def wait(self, timeout: float) -> None:
        self._event.wait(timeout)
        self._event.clear()

    def close(self) -> None:
        self._event.set()


def wake_directory(db_path: str) -> Path:
    """The directory of the workers' wake-up sockets for one database (short, so socket paths fit)."""
    digest = hashlib.sha1(str(Path(db_path).expanduser().resolve()).encode()).hexdigest()[:16]
    return Path(tempfile.gettempdir()) / f"livelens-{os.getuid()}" / digest


class DatagramWaker:
    """A worker process's wake-up socket (a Unix datagram socket in :func:`wake_directory`)."""

    def __init__(self, directory: Path, name: str) -> None:
        directory.mkdir(parents=True, exist_ok=True, mode=0o700)
        self.path = directory / f"{name}.sock"
        with contextlib.suppress(FileNotFoundError):
            self.path.unlink()
        self._sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        self._sock.bind(str(self.path))
        self._sock.setblocking(False)

    def wait(self, timeout: float) -> None:
        readable, _, _ = select.select([self._sock], [], [], timeout)
        if readable:
            with contextlib.suppress(BlockingIOError, InterruptedError):
                while True:  # coalesce every notification that arrived meanwhile
                    self._sock.recv(64)

    def interrupt(self) -> None:
        """Wake the waiting worker from within its own process (a signal handler)."""
        with contextlib.suppress(OSError), socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM) as sender:
            # Never block (this runs in a signal handler of the thread that drains the socket): a full
            # queue already holds wake-ups.
            sender.setblocking(False)
            sender.sendto(b"", str(self.path))

    def close(self) -> None:
        self._sock.close()
        with contextlib.suppress(FileNotFoundError):
            self.path.unlink()


class DatagramNotifier:
    """Sends a wake-up datagram to every worker socket of one database (safe from any thread)."""

    RESCAN_SECONDS = 1.0

    def __init__(self, directory: Path) -> None:
        self.directory = directory
        self._sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        self._sock.setblocking(False)
        self._targets: list[str] = []
        self._scanned = 0.0
        self._lock = threading.Lock()

    def _scan(self) -> list[str]:
        now = time.monotonic()
        with self._lock:
            if now - self._scanned > self.RESCAN_SECONDS:
                try:
                    self._targets = [str(p) for p in self.directory.glob("*.sock")]
                except OSError:
                    self._targets = []
                self._scanned = now
            return self._targets

    def notify(self, contact_id: str = "") -> None:
        for target in self._scan():
            # Full buffer: the worker has wake-ups queued already. Gone: it exited (rescanned soon).
            with contextlib.suppress(OSError):
                self._sock.sendto(b"", target)

    def close(self) -> None:
        self._sock.close()


class Notifiers:
    """Several notifiers as one."""

    def __init__(self, notifiers: Sequence[Notifier]) -> None:
        self.notifiers = list(notifiers)

    def notify(self, contact_id: str = "") -> None:
        for notifier in self.notifiers:
            notifier.notify(contact_id)
