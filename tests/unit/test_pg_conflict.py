"""A PostgreSQL deadlock is a conflict, not an outage: StorageConflict, answered as such."""

from __future__ import annotations

import threading

import psycopg
import pytest

from livelens.storage.base import StorageConflict, StorageUnavailable
from livelens.storage.postgres import PostgresStorage, _unavailable_as_storage_error


def test_a_deadlock_between_two_write_transactions_is_a_storage_conflict(postgres_database: str) -> None:
    storage = PostgresStorage(postgres_database)
    both_hold_one = threading.Barrier(2, timeout=10)
    outcomes: list[BaseException | None] = [None, None]

    def take(index: int, first: int, second: int) -> None:
        try:
            with storage.write() as tx:
                tx.conn.execute("SELECT pg_advisory_xact_lock(%s)", (first,))
                both_hold_one.wait()
                tx.conn.execute("SELECT pg_advisory_xact_lock(%s)", (second,))
        except BaseException as exc:  # noqa: BLE001 - recorded and checked below
            outcomes[index] = exc

    try:
        threads = [
            threading.Thread(target=take, args=(0, 7101, 7102)),
            threading.Thread(target=take, args=(1, 7102, 7101)),
        ]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(30)
    finally:
        storage.close()
    failed = [exc for exc in outcomes if exc is not None]
    assert len(failed) == 1, outcomes  # PostgreSQL aborts exactly one; the other commits
    assert isinstance(failed[0], StorageConflict) and isinstance(failed[0], StorageUnavailable)
    assert "deadlock" in str(failed[0]).lower()


def test_a_lost_connection_is_unavailable_not_a_conflict() -> None:
    with pytest.raises(StorageUnavailable) as raised, _unavailable_as_storage_error():
        raise psycopg.OperationalError("server closed the connection unexpectedly")  # no SQLSTATE
    assert not isinstance(raised.value, StorageConflict)
