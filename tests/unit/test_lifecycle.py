"""How contacts end and how their analysis finishes (contacts/lifecycle.py, the worker's FAILED and backoff)."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from livelens.contacts import lifecycle
from livelens.contacts.analysis_worker import Analyser
from livelens.contacts.models import COMPLETED, FAILED, IN_PROGRESS, Contact, iso
from livelens.contacts.next_token import NextTokenCodec
from livelens.contacts.service import MESSAGE, ContactCenter, InstanceDefaults
from livelens.contacts.tokens import TokenIssuer
from livelens.storage.sqlite import SqliteStorage
from livelens.worker.loop import Worker
from livelens.worker.notify import EventWaker

KEY = b"k" * 32


@pytest.fixture
def center(tmp_path: Path) -> Iterator[ContactCenter]:
    storage = SqliteStorage(tmp_path / "db.sqlite")
    yield ContactCenter(storage, account_id="123456789012", defaults=InstanceDefaults(analysis=("sentiment",)),
                        tokens=TokenIssuer(KEY), next_tokens=NextTokenCodec(KEY))
    storage.close()


def _instance(center: ContactCenter) -> str:
    return str(center.create_instance("us-east-1", {"IdentityManagementType": "CONNECT_MANAGED",
                                                    "InboundCallsEnabled": True, "OutboundCallsEnabled": True},
                                      None)["Id"])


def _chat(center: ContactCenter, instance_id: str) -> str:
    return str(center.start_chat_contact({"InstanceId": instance_id, "ContactFlowId": "f",
                                          "ParticipantDetails": {"DisplayName": "Ann"}}, None)["ContactId"])


def _voice(center: ContactCenter, instance_id: str) -> str:
    return str(center.create_contact({"InstanceId": instance_id, "Channel": "VOICE",
                                      "InitiationMethod": "INBOUND"}, None)["ContactId"])


def _contact(center: ContactCenter, contact_id: str) -> Contact:
    with center.storage.read() as tx:
        record = tx.get_contact(contact_id)
    assert record is not None
    return Contact.from_record(record)


def test_sweep_interval_follows_the_shortest_timer() -> None:
    assert lifecycle.InactivityTimeouts().sweep_seconds == 5.0
    short = lifecycle.InactivityTimeouts(chat_idle=timedelta(seconds=1), voice_silence=timedelta(0))
    assert short.sweep_seconds == 0.25
    assert lifecycle.InactivityTimeouts(timedelta(0), timedelta(0)).sweep_seconds == 5.0


def test_idle_chat_silent_voice_and_expired_chat_end(center: ContactCenter) -> None:
    instance_id = _instance(center)
    chat, voice, fresh = _chat(center, instance_id), _voice(center, instance_id), _chat(center, instance_id)
    timeouts = lifecycle.InactivityTimeouts(chat_idle=timedelta(minutes=30), voice_silence=timedelta(minutes=5))
    now = datetime.now(UTC)
    assert lifecycle.end_inactive_contacts(center, timeouts, now) == []
    # Six minutes later the call has been silent too long; the chats are still within 30 minutes.
    assert lifecycle.end_inactive_contacts(center, timeouts, now + timedelta(minutes=6)) == [voice]
    assert _contact(center, voice).disconnect_reason == lifecycle.IDLE_DISCONNECT
    # A message keeps `fresh` alive; `chat` has been idle 31 minutes.
    with center.storage.write() as tx:
        contact = _contact(center, fresh)
        center.append_item(tx, contact, None, MESSAGE, {"content": "still here",
                                                        "time": iso(now + timedelta(minutes=20))})
    ended = lifecycle.end_inactive_contacts(center, timeouts, now + timedelta(minutes=31))
    assert ended == [chat]
    ended_chat = _contact(center, chat)
    assert ended_chat.ended and ended_chat.disconnect_reason == lifecycle.IDLE_DISCONNECT
    with center.storage.read() as tx:
        kinds = [item["kind"] for item in tx.list_items(chat, limit=100)]
    assert kinds[-1] == "END"  # the worker summarises it and marks it COMPLETED
    # The maximum chat duration (ChatDurationInMinutes) ends a chat even with idle timers off.
    off = lifecycle.InactivityTimeouts(timedelta(0), timedelta(0))
    assert lifecycle.end_inactive_contacts(center, off, now + timedelta(days=2)) == [fresh]
    assert _contact(center, fresh).disconnect_reason == lifecycle.EXPIRED


class _Broken:
    def __call__(self, contact: Contact) -> Any:
        raise RuntimeError("the MiniLM model is missing")


def test_a_contact_that_cannot_be_analysed_becomes_failed_with_its_reason(center: ContactCenter) -> None:
    instance_id = _instance(center)
    chat = _chat(center, instance_id)
    with center.storage.write() as tx:
        center.append_item(tx, _contact(center, chat), None, MESSAGE, {"content": "hello"})
    worker = _worker(center)
    _drain(worker)
    failed = _contact(center, chat)
    assert failed.analysis_status == FAILED
    assert failed.analysis_failure == "analysis cannot run: RuntimeError: the MiniLM model is missing"
    assert lifecycle.status_attributes(failed) == {
        "livelens:analysis-status": FAILED,
        "livelens:analysis-failure": "analysis cannot run: RuntimeError: the MiniLM model is missing",
    }
    with center.storage.read() as tx:
        assert tx.analysis_backlog().pending_contacts == 0  # never claimed again: not retried every second
    # Ending it does not turn FAILED into COMPLETED.
    center.stop_contact(instance_id, chat, None)
    _drain(worker)
    assert _contact(center, chat).analysis_status == FAILED
    assert lifecycle.status_after_end(_contact(center, chat)) == FAILED


def test_status_after_end_completes_what_is_in_progress(center: ContactCenter) -> None:
    contact = _contact(center, _chat(center, _instance(center)))
    assert contact.analysis_status == IN_PROGRESS
    assert lifecycle.status_after_end(contact) == COMPLETED
    assert lifecycle.status_attributes(contact) == {}


def test_the_worker_backs_off_with_one_traceback(center: ContactCenter, monkeypatch: pytest.MonkeyPatch,
                                                 caplog: pytest.LogCaptureFixture) -> None:
    worker = _worker(center)

    def failing_step() -> int:
        raise RuntimeError("database is locked")

    class StopAfterFour(threading.Event):
        """Records the worker's waits instead of sleeping; stops it at the fourth."""

        def __init__(self) -> None:
            super().__init__()
            self.waits: list[float | None] = []

        def wait(self, timeout: float | None = None) -> bool:
            self.waits.append(timeout)
            if len(self.waits) == 4:
                self.set()
            return self.is_set()

    monkeypatch.setattr(worker, "step", failing_step)
    monkeypatch.setattr(worker, "_beat", lambda stop: None)
    stop = StopAfterFour()
    with caplog.at_level("WARNING", logger="livelens.worker"):
        worker.run(stop)
    assert stop.waits == [0.5, 1.0, 2.0, 4.0]  # doubling, not every second
    failures = [r for r in caplog.records if "round failed" in r.getMessage()]
    assert sum(1 for r in failures if r.exc_info) == 1  # one traceback, then one line per failure
    assert "failed again (4 in a row): database is locked" in failures[-1].getMessage()


def _worker(center: ContactCenter) -> Worker:
    return Worker(center.storage, Analyser(_Broken()), None, EventWaker(), worker_id="test-worker")


def _drain(worker: Worker) -> None:
    while worker.step():
        pass
