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


def test_a_server_listener_hears_each_workers_commits_and_stops(tmp_path: Path) -> None:
    """A worker's DatagramNotifier on the servers' directory reaches every server's listener; datagrams
    that arrive together make one call; stop() ends the thread and removes the socket."""
    import threading

    from livelens.worker.notify import DatagramListener

    directory = tmp_path / "servers"
    heard = [threading.Event(), threading.Event()]
    calls = [0, 0]

    def deliver(n: int) -> None:
        calls[n] += 1
        heard[n].set()

    listeners = [DatagramListener(directory, lambda n=n: deliver(n)) for n in range(2)]
    for listener in listeners:
        listener.start()
    notifier = DatagramNotifier(directory)
    try:
        for _ in range(50):
            notifier.notify()
        assert all(event.wait(5.0) for event in heard)
        time.sleep(0.1)
        assert 1 <= calls[0] < 50 and 1 <= calls[1] < 50  # coalesced
    finally:
        for listener in listeners:
            listener.stop()
        notifier.close()
    assert not list(directory.glob("*.sock"))


def test_ticks_come_at_the_interval_or_at_once_when_notified_from_another_thread() -> None:
    import asyncio
    import threading

    from livelens.api.ticks import Ticks

    async def scenario() -> tuple[float, float, float]:
        ticks = Ticks(0.3)
        ticks.bind()
        started = time.monotonic()
        await ticks.wait()  # nothing said: the whole interval
        quiet = time.monotonic() - started
        threading.Timer(0.05, ticks.notify).start()
        started = time.monotonic()
        await ticks.wait()
        woken = time.monotonic() - started
        for _ in range(5):  # said several times while the reader read: one tick, then the interval again
            ticks.notify("c1")
        await asyncio.sleep(0.01)
        await ticks.wait()
        started = time.monotonic()
        await ticks.wait()
        return quiet, woken, time.monotonic() - started

    quiet, woken, after = asyncio.run(scenario())
    assert quiet >= 0.28
    assert 0.04 <= woken < 0.25
    assert after >= 0.28


def test_notifying_ticks_before_any_reader_or_after_its_loop_closed_is_harmless() -> None:
    import asyncio

    from livelens.api.ticks import Ticks

    ticks = Ticks(0.1)
    ticks.notify()  # no loop yet

    async def bind() -> None:
        ticks.bind()

    asyncio.run(bind())
    ticks.notify()  # that loop is closed now
