"""The stream-event pump queues each owed event once, and never waits for a contact while holding the
webhooks' lock (on PostgreSQL that order deadlocked with a writer holding the contact)."""

from __future__ import annotations

import threading
from collections.abc import Callable

from livelens.contacts.stream_webhooks import pump
from livelens.storage import Storage, open_storage

ACCOUNT = "123456789012"
HOOK = {"Url": "http://127.0.0.1:9/hook", "Secret": "s", "StreamEvents": ["STARTED"], "Position": 0}


def _started_contact(storage: Storage) -> None:
    with storage.write() as tx:
        tx.insert_instance("i1", {"id": "i1", "arn": f"arn:aws:connect:us-east-1:{ACCOUNT}:instance/i1"})
        tx.insert_contact("c1", "i1", "CHAT", "IN_PROGRESS", {
            "id": "c1", "arn": f"arn:aws:connect:us-east-1:{ACCOUNT}:instance/i1/contact/c1", "instance_id": "i1",
            "channel": "CHAT", "initiation_method": "API", "initiation_timestamp": "2026-11-30T10:00:00.000Z",
            "analysis": ["sentiment"], "redaction_policy": "None", "redaction_mask": "PII", "language": "en-US"})
        tx.put_webhooks("i1", {"Webhooks": [dict(HOOK)]})


def test_each_owed_event_is_queued_once(open_test_storage: Callable[[], Storage]) -> None:
    storage = open_test_storage()
    _started_contact(storage)
    assert pump(storage, ACCOUNT) == 1
    assert pump(storage, ACCOUNT) == 0  # the position moved past it
    with storage.read() as tx:
        config = tx.get_webhooks("i1")
    assert config is not None and config["Webhooks"][0]["Position"] > 0


def test_a_webhook_reconfigured_while_its_events_are_read_is_left_for_the_next_round(
    open_test_storage: Callable[[], Storage], monkeypatch: object
) -> None:
    import livelens.contacts.stream_webhooks as stream_webhooks

    storage, other = open_test_storage(), open_test_storage()
    _started_contact(storage)
    real = stream_webhooks.read_events

    def read_then_reconfigure(*args: object, **kwargs: object) -> stream_webhooks.Batch:
        batch = real(*args, **kwargs)  # type: ignore[arg-type]
        with other.write() as tx:  # the webhook is replaced (same URL, other events) before the queueing
            tx.put_webhooks("i1", {"Webhooks": [{**HOOK, "StreamEvents": ["COMPLETED"], "Position": 0}]})
        return batch

    monkeypatch.setattr(stream_webhooks, "read_events", read_then_reconfigure)  # type: ignore[attr-defined]
    assert pump(storage, ACCOUNT) == 0
    monkeypatch.setattr(stream_webhooks, "read_events", real)  # type: ignore[attr-defined]
    assert pump(storage, ACCOUNT) == 0  # the new webhook wants COMPLETED only: read past, nothing queued
    with storage.read() as tx:
        config = tx.get_webhooks("i1")
    assert config is not None and config["Webhooks"][0]["StreamEvents"] == ["COMPLETED"]
    assert config["Webhooks"][0]["Position"] > 0


def test_the_pump_does_not_wait_for_a_contact_a_writer_holds(postgres_database: str) -> None:
    """A writer holds the contact's row and will then want the webhooks' lock: the pump must finish
    without the contact (before, it took the lock first and then waited for the row: a deadlock)."""
    from tests import postgres

    postgres.empty_tables(postgres_database)
    storage, writer_storage = open_storage(postgres_database), open_storage(postgres_database)
    pumped = threading.Event()
    outcome: list[object] = []

    def run_pump() -> None:
        try:
            outcome.append(pump(storage, ACCOUNT))
        except BaseException as exc:  # noqa: BLE001 - checked below
            outcome.append(exc)
        pumped.set()

    try:
        _started_contact(storage)
        with writer_storage.write() as tx:
            assert tx.get_contact("c1") is not None  # FOR UPDATE: the row is held until this commits
            thread = threading.Thread(target=run_pump)
            thread.start()
            finished_while_held = pumped.wait(10)
            tx.conn.execute("SET LOCAL lock_timeout = '5s'")  # type: ignore[attr-defined]
            assert tx.get_webhooks("i1") is not None  # the lock the pump took is free again
        thread.join(30)
    finally:
        storage.close()
        writer_storage.close()
    assert finished_while_held, "the pump waited for a contact row while holding the webhooks' lock"
    assert outcome == [1]
