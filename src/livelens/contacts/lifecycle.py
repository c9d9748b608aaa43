"""How a contact ends, and how its analysis finishes.

A contact's analysis status goes IN_PROGRESS → COMPLETED when the END marker
of an ended contact has been analysed, or → FAILED when its analysis cannot
proceed (an analyser it needs cannot load). FAILED is final: the contact's
later END marker does not turn it into COMPLETED, and the reason stays in the
contact record (``analysis_failure``), where DescribeContact, the segment
APIs and the logs show it.

Contacts also end by themselves, as Amazon Connect's do:

* a chat after its maximum duration (``expires_at``, from
  ``ChatDurationInMinutes``) → ``DisconnectReason`` ``EXPIRED``;
* a chat in which no participant has sent anything for the idle timeout
  (Amazon Connect's participant idle / auto-disconnect timers) →
  ``IDLE_DISCONNECT``;
* a voice contact after the configured silence (no utterance) →
  ``IDLE_DISCONNECT``.

An ended contact gets its END marker like one stopped with StopContact, so it
is summarised and COMPLETED by the worker.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from livelens.contacts.models import COMPLETED, FAILED, Contact, parse_iso
from livelens.contacts.service import ContactCenter

log = logging.getLogger("livelens.contacts")

EXPIRED = "EXPIRED"
IDLE_DISCONNECT = "IDLE_DISCONNECT"
#: Attributes DescribeContact adds to a contact whose analysis FAILED.
STATUS_ATTRIBUTE = "livelens:analysis-status"
FAILURE_ATTRIBUTE = "livelens:analysis-failure"


def status_after_end(contact: Contact) -> str:
    """The analysis status once the contact's END marker is analysed: FAILED stays FAILED."""
    return FAILED if contact.analysis_status == FAILED else COMPLETED


def status_attributes(contact: Contact) -> dict[str, str]:
    """What DescribeContact adds to ``Attributes`` for a FAILED analysis (nothing otherwise)."""
    if contact.analysis_status != FAILED:
        return {}
    return {STATUS_ATTRIBUTE: FAILED, FAILURE_ATTRIBUTE: (contact.analysis_failure or "analysis failed")[:32767]}


@dataclass(frozen=True)
class InactivityTimeouts:
    """When a live contact ends by itself (0 switches a timer off)."""

    chat_idle: timedelta = timedelta(minutes=30)
    voice_silence: timedelta = timedelta(minutes=5)

    @property
    def sweep_seconds(self) -> float:
        """How often to look: a quarter of the shortest timer, between 0.05 s and 5 s."""
        timers = [t.total_seconds() for t in (self.chat_idle, self.voice_silence) if t > timedelta(0)]
        return max(0.05, min([5.0, *(t / 4 for t in timers)]))


def end_reason(contact: Contact, last_activity: datetime, now: datetime, timeouts: InactivityTimeouts) -> str | None:
    """Why ``contact`` should end at ``now`` (None: it stays live)."""
    if contact.ended:
        return None
    if contact.channel == "CHAT":
        if contact.expires_at and parse_iso(contact.expires_at) <= now:
            return EXPIRED
        if timeouts.chat_idle > timedelta(0) and now - last_activity >= timeouts.chat_idle:
            return IDLE_DISCONNECT
    elif timeouts.voice_silence > timedelta(0) and now - last_activity >= timeouts.voice_silence:
        return IDLE_DISCONNECT
    return None


def _moment(value: str | float) -> datetime:
    """A stored time: ISO 8601 text, or seconds since the epoch."""
    if isinstance(value, int | float):
        return datetime.fromtimestamp(value, UTC)
    return parse_iso(value)


def end_inactive_contacts(center: ContactCenter, timeouts: InactivityTimeouts, now: datetime) -> list[str]:
    """End every live contact whose chat duration, idle timeout or voice silence has run out."""
    with center.storage.read() as tx:
        live = tx.live_contacts()
    ended: list[str] = []
    for record, last_item_time in live:
        contact = Contact.from_record(record)
        last = _moment(last_item_time or contact.last_update_timestamp or contact.initiation_timestamp)
        reason = end_reason(contact, last, now, timeouts)
        if reason is None:
            continue
        with center.storage.write() as tx:
            current = tx.get_contact(contact.id)
            if current is None or current.get("ended"):
                continue
            center.end_contact(tx, Contact.from_record(current), reason)
        log.info("contact %s ended: %s", contact.id, reason)
        center.on_item(contact.id)
        ended.append(contact.id)
    return ended
