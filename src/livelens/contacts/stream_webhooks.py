"""Instance stream events to webhooks, through the alert outbox.

A webhook configured with ``StreamEvents`` (some of STARTED, SEGMENTS,
COMPLETED, FAILED) keeps a ``Position`` in its instance's event log (set to
the log's end when the webhook is configured). :func:`pump` reads, for every
such webhook, the events after its position (:func:`read_events`, the same
events the instance stream sends, redacted whenever the contact's policy
redacts, as alerts are), queues each in the alert outbox and advances the
position, in one write transaction: an event is queued exactly once, and the
outbox then delivers it as it delivers alerts (signed, retried with back-off,
kept across restarts). The delivery loop (:class:`livelens.rules.alerts.Deliverer`)
runs the pump before each round.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable
from typing import NamedTuple

from livelens.contacts.instance_events import Batch, EventFilter, read_events
from livelens.storage.base import Record, Storage, Transaction

PUMP_ROWS = 500


def _subscribed(hooks: list[Record]) -> list[Record]:
    return [h for h in hooks if h.get("StreamEvents")]


def _behind(tx: Transaction) -> list[tuple[str, Record]]:
    """Instances with a stream-event webhook whose position is behind the log's end, with their webhook
    configuration (one query over the configurations, however many instances have none)."""
    head = tx.last_instance_event()
    return [
        (instance_id, config)
        for instance_id, config in tx.list_webhooks()
        if any(_where(h).position < head for h in _subscribed(config.get("Webhooks", [])))
    ]


def pump(storage: Storage, account_id: str, clock: Callable[[], float] = time.time) -> int:
    """Queue the stream events every subscribed webhook is owed; the number queued.

    The events are read in a read transaction and queued in a write transaction that first takes the
    webhooks' lock and checks that each webhook is still where the events were read from (its URL,
    events and position unchanged): reading events reads contacts, so reading them while holding the
    webhooks' lock would wait for a contact's row while a writer holding that row waits for the lock
    (a deadlock on PostgreSQL). A webhook that moved meanwhile is left for the next round.
    """
    owed: dict[str, dict[_Place, Batch]] = {}
    with storage.read() as tx:
        for instance_id, config in _behind(tx):
            places = [_where(hook) for hook in _subscribed(config.get("Webhooks", []))]
            owed[instance_id] = {
                place: read_events(tx, account_id, instance_id, place.position, PUMP_ROWS,
                                   EventFilter(output_type="Redacted", event_types=frozenset(place.events)))
                for place in places
            }
    queued = 0
    for instance_id, batches in owed.items():
        with storage.write() as tx:
            current = tx.get_webhooks(instance_id)
            if not current:
                continue
            changed = False
            for hook in _subscribed(current.get("Webhooks", [])):
                where = _where(hook)
                batch = batches.get(where)
                if batch is None:  # reconfigured or advanced since the read
                    continue
                for event in batch.events:
                    tx.insert_alert(str(uuid.uuid4()), instance_id, clock(), {
                        "event_id": f"{instance_id}/{event.position}",
                        "event_type": event.event_type,
                        "url": hook["Url"],
                        "secret": hook["Secret"],
                        "body": event.data,
                        "rule_name": None,
                        "contact_id": event.contact_id,
                    })
                    queued += 1
                if batch.position != where.position:
                    hook["Position"] = batch.position
                    changed = True
            if changed:
                tx.put_webhooks(instance_id, current)
    return queued


class _Place(NamedTuple):
    """A webhook's identity and place: its URL, its events and its position in the log."""

    url: str
    events: tuple[str, ...]
    position: int


def _where(hook: Record) -> _Place:
    return _Place(hook["Url"], tuple(hook["StreamEvents"]), int(hook.get("Position", 0)))
