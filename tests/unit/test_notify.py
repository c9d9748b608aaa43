"""Wake-ups: a notifier reaches every worker socket of a database and never blocks, even when flooded."""

from __future__ import annotations

import time
from pathlib import Path

from livelens.worker.notify import DatagramNotifier, DatagramWaker, EventWaker


def test_datagram_wakeups_reach_each_worker_and_never_block(tmp_path: Path) -> None:
    directory = tmp_path / "wake"
    first, second = DatagramWaker(directory, "a"), DatagramWaker(directory, "b")
    notifier = DatagramNotifier(directory)
    try:
        for _ in range(10_000):  # far more than a socket queue holds: must not block
            notifier.notify("c1")
        first.interrupt()  # from a signal handler while the queue is full: must not block either
        for waker in (first, second):
            started = time.monotonic()
            waker.wait(5.0)
            assert time.monotonic() - started < 1.0
            started = time.monotonic()
            waker.wait(0.05)  # drained: now it waits the whole timeout
            assert time.monotonic() - started >= 0.04
    finally:
        first.close()
        second.close()
        notifier.close()
    assert not list(directory.glob("*.sock"))


def test_event_waker() -> None:
    waker = EventWaker()
    waker.notify()
    started = time.monotonic()
    waker.wait(5.0)
    assert time.monotonic() - started < 1.0
