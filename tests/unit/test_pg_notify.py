"""Wake-ups across processes on PostgreSQL: NOTIFY from a node's pool wakes a worker's LISTEN at once."""

from __future__ import annotations

import threading
import time

from livelens.storage.postgres import PostgresStorage
from livelens.worker.pg_notify import PostgresNotifier, PostgresWaker


def test_a_notify_wakes_a_listening_worker_and_a_quiet_wait_times_out(postgres_database: str) -> None:
    storage = PostgresStorage(postgres_database)
    waker = PostgresWaker(postgres_database)
    try:
        started = time.monotonic()
        waker.wait(0.3)  # nothing sent: the whole timeout
        assert time.monotonic() - started >= 0.25
        threading.Timer(0.2, PostgresNotifier(storage.pool).notify, args=("contact-1",)).start()
        started = time.monotonic()
        waker.wait(10.0)
        assert time.monotonic() - started < 5.0  # woken by the NOTIFY, not by the timeout
        started = time.monotonic()
        waker.wait(0.3)  # the notification was consumed: no spurious wake-up
        assert time.monotonic() - started >= 0.25
    finally:
        waker.close()
        storage.close()


def test_interrupt_wakes_the_waiting_worker(postgres_database: str) -> None:
    waker = PostgresWaker(postgres_database)
    try:
        threading.Timer(0.2, waker.interrupt).start()
        started = time.monotonic()
        waker.wait(10.0)
        assert time.monotonic() - started < 5.0
    finally:
        waker.close()


def test_a_worker_polls_on_while_the_database_is_unreachable() -> None:
    waker = PostgresWaker("postgresql://postgres@127.0.0.1:1/none")  # refused: logged, not raised
    try:
        started = time.monotonic()
        waker.wait(0.2)
        assert time.monotonic() - started >= 0.15
    finally:
        waker.close()


def test_a_nodes_listener_hands_on_the_contact_ids_other_nodes_notify(postgres_database: str) -> None:
    from livelens.worker.pg_notify import ItemListener

    other_node = PostgresStorage(postgres_database)
    received: list[str] = []
    arrived = threading.Event()

    def deliver(contact_id: str) -> None:
        received.append(contact_id)
        arrived.set()

    listener = ItemListener(postgres_database, deliver)
    listener.start()
    try:
        for _ in range(50):  # until the listener LISTENs
            PostgresNotifier(other_node.pool).notify("contact-7")
            if arrived.wait(0.1):
                break
        assert received and set(received) == {"contact-7"}  # ids only
    finally:
        listener.stop()
        other_node.close()


def test_wakeups_set_the_events_of_the_notified_contact_only() -> None:
    import asyncio

    from livelens.ingest.wakeups import ItemWakeups

    async def scenario() -> tuple[bool, bool]:
        wakeups = ItemWakeups()
        mine, other = wakeups.watch("c1"), wakeups.watch("c2")
        threading.Thread(target=wakeups.notify, args=("c1",)).start()
        await asyncio.wait_for(mine.wait(), 5)
        await asyncio.sleep(0.05)
        wakeups.unwatch("c1", mine)
        wakeups.notify("c1")  # nobody watches any more: nothing to do
        return mine.is_set(), other.is_set()

    assert asyncio.run(scenario()) == (True, False)
