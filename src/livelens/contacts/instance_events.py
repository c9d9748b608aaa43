"""An instance's events as Amazon Connect's real-time contact analysis segment stream publishes them.

A pure function of storage reads (:func:`read_events`): the instance event log
(``Transaction.list_instance_events``) in, wire-ready events out. The SSE
endpoint (:mod:`livelens.api.instance_stream`), the stream-event webhooks
(:mod:`livelens.contacts.stream_webhooks`) and the dashboard all read through it.

Shapes (the AWS admin guide, "Data model for conversational analytics segment
streams", voice and chat):

* VOICE, ``Version`` "1.0.0": ``Version, Channel, AccountId, InstanceId,
  ContactId, LanguageCode, EventType`` (STARTED | SEGMENTS | COMPLETED |
  FAILED); SEGMENTS adds ``Segments``, each as ``ListRealtimeContactAnalysisSegments``
  (V1) returns it (redacted whenever the contact's policy redacts).
* CHAT, ``Version`` "2.0.0": ``Version, Channel, AccountId, InstanceId,
  ContactId, StreamingEventType, StreamingSettings{LanguageCode, Output,
  RedactionTypes, RedactionTypesMetadata}``; SEGMENTS adds ``OutputType`` (Raw
  or Redacted: the form of these segments) and ``Segments``, each as
  ``ListRealtimeContactAnalysisSegmentsV2`` returns it for that OutputType.

Consecutive segments of one contact in the log become one SEGMENTS event (in
practice: what one analysis commit appended). A rule alert (a
GENERATE_EVENTBRIDGE_EVENT action) is an ``ALERT`` event whose data is the
EventBridge-shaped event the alert webhooks receive. Every event carries its
position in the log; reading again after that position gives what follows,
with no gap and no duplicate.
"""

from __future__ import annotations

import json
from collections.abc import Collection, MutableMapping
from dataclasses import dataclass

from livelens.contacts.models import Contact
from livelens.contacts.segment_log import V1_KINDS, V2_KINDS
from livelens.errors import InvalidRequestException
from livelens.storage.base import Record, Transaction

STARTED, SEGMENTS, COMPLETED, FAILED, ALERT = "STARTED", "SEGMENTS", "COMPLETED", "FAILED", "ALERT"
EVENT_TYPES = (STARTED, SEGMENTS, COMPLETED, FAILED, ALERT)
CHANNELS = ("VOICE", "CHAT")
OUTPUT_TYPES = ("Redacted", "Raw")
SEGMENT_TYPES = tuple(dict.fromkeys(V2_KINDS + V1_KINDS))
_POLICY_OUTPUT = {"None": "Raw", "RedactedOnly": "Redacted"}  # anything else keeps both: RedactedAndRaw


@dataclass(frozen=True)
class EventFilter:
    """What a reader wants. ``output_type`` is a preference for CHAT segments: ``Raw`` where the
    contact's policy keeps the original, the redacted form where it does not (and the reverse)."""

    output_type: str = "Redacted"
    event_types: frozenset[str] = frozenset(EVENT_TYPES)
    channels: frozenset[str] = frozenset(CHANNELS)
    segment_types: frozenset[str] | None = None  # None: every type


@dataclass(frozen=True)
class InstanceEvent:
    position: int
    event_type: str
    contact_id: str
    channel: str
    data: str  # JSON text


@dataclass(frozen=True)
class ContactInfo:
    channel: str
    language: str
    policy: str
    mask: str
    redacts: bool
    keeps_original: bool


def _info(tx: Transaction | None, contact_id: str,
          cache: MutableMapping[str, ContactInfo | None]) -> ContactInfo | None:
    """The contact's envelope facts, from ``cache`` (filled by :func:`remember_contacts`) or ``tx``."""
    if contact_id not in cache:
        if tx is None:
            return None
        record = tx.get_contact(contact_id)
        if record is None:
            cache[contact_id] = None
        else:
            contact = Contact.from_record(record)
            cache[contact_id] = ContactInfo(contact.channel, contact.language, contact.redaction_policy,
                                             contact.redaction_mask, contact.redacts, contact.keeps_original)
    return cache[contact_id]


def _envelope(account_id: str, instance_id: str, contact_id: str, info: ContactInfo, event_type: str,
              output_type: str | None = None) -> dict[str, object]:
    if info.channel == "VOICE":
        return {"Version": "1.0.0", "Channel": "VOICE", "AccountId": account_id, "InstanceId": instance_id,
                "ContactId": contact_id, "LanguageCode": info.language, "EventType": event_type}
    settings: dict[str, object] = {"LanguageCode": info.language, "Output": _POLICY_OUTPUT.get(info.policy,
                                                                                              "RedactedAndRaw")}
    if info.redacts:
        settings["RedactionTypes"] = ["PII"]
        settings["RedactionTypesMetadata"] = {"PII": {"RedactionMaskMode": info.mask}}
    envelope: dict[str, object] = {"Version": "2.0.0", "Channel": info.channel, "AccountId": account_id,
                                   "InstanceId": instance_id, "ContactId": contact_id}
    if output_type is not None:
        envelope["OutputType"] = output_type
    envelope["StreamingEventType"] = event_type
    envelope["StreamingSettings"] = settings
    return envelope


def _chat_output(info: ContactInfo, preferred: str) -> str:
    if not info.redacts:
        return "Raw"
    if not info.keeps_original:
        return "Redacted"
    return preferred


def _segment_body(row: Record, info: ContactInfo, output_type: str) -> str | None:
    if info.channel == "VOICE":  # as V1 lists it: redacted whenever there is a redacted form
        body = row["redacted"] if row["redacted"] is not None else row["raw"]
        if row["segment_kind"] not in V1_KINDS:
            return None
    else:
        body = row["redacted"] if output_type == "Redacted" else row["raw"]
        if row["segment_kind"] not in V2_KINDS:
            return None
    return None if body is None else f'{{"{row["segment_kind"]}":{body}}}'


def remember_contacts(tx: Transaction, rows: list[Record], cache: MutableMapping[str, ContactInfo | None]) -> None:
    """Fill ``cache`` for the contacts of ``rows``, so :func:`render` can run without a transaction."""
    for row in rows:
        _info(tx, row["contact_id"], cache)


def render(rows: list[Record], tx: Transaction | None, account_id: str, instance_id: str, wanted: EventFilter,
           cache: MutableMapping[str, ContactInfo | None]) -> list[InstanceEvent]:
    """The events of consecutive log rows (``list_instance_events``) a reader with ``wanted`` gets."""
    events: list[InstanceEvent] = []
    group: list[str] = []
    group_contact: str | None = None
    group_position = 0

    def flush() -> None:
        nonlocal group, group_contact
        if group and group_contact is not None:
            info = cache[group_contact]
            assert info is not None
            output = None if info.channel == "VOICE" else _chat_output(info, wanted.output_type)
            envelope = json.dumps(_envelope(account_id, instance_id, group_contact, info, SEGMENTS, output),
                                  separators=(",", ":"), ensure_ascii=False)
            data = f'{envelope[:-1]},"Segments":[{",".join(group)}]}}'
            events.append(InstanceEvent(group_position, SEGMENTS, group_contact, info.channel, data))
        group, group_contact = [], None

    for row in rows:
        kind = row["kind"]
        contact_id = row["contact_id"]
        if kind == "SEGMENT":
            if group_contact != contact_id:
                flush()
            info = _info(tx, contact_id, cache)
            if (info is None or SEGMENTS not in wanted.event_types or info.channel not in wanted.channels
                    or (wanted.segment_types is not None and row["segment_kind"] not in wanted.segment_types)):
                continue
            body = _segment_body(row, info, _chat_output(info, wanted.output_type))
            if body is None:
                continue
            group.append(body)
            group_contact, group_position = contact_id, int(row["seq"])
            continue
        flush()
        event_type = "ALERT" if kind == "ALERT" else kind
        info = _info(tx, contact_id, cache)
        if info is None or event_type not in wanted.event_types or info.channel not in wanted.channels:
            continue
        if kind == "ALERT":
            if row["event"] is None:
                continue
            data = row["event"]
        else:
            data = json.dumps(_envelope(account_id, instance_id, contact_id, info, event_type),
                              separators=(",", ":"), ensure_ascii=False)
        events.append(InstanceEvent(int(row["seq"]), event_type, contact_id, info.channel, data))
    flush()
    return events


@dataclass(frozen=True)
class Batch:
    events: list[InstanceEvent]
    position: int  # read up to here: resume from it (rows a filter dropped are not read again)
    more: bool  # the read was full: more rows may follow at once


def read_events(tx: Transaction, account_id: str, instance_id: str, after: int, limit: int, wanted: EventFilter,
                cache: MutableMapping[str, ContactInfo | None] | None = None) -> Batch:
    """The events after position ``after``, from up to ``limit`` rows of the instance's event log."""
    rows = tx.list_instance_events(instance_id, after=after, limit=limit)
    events = render(rows, tx, account_id, instance_id, wanted, {} if cache is None else cache)
    return Batch(events, int(rows[-1]["seq"]) if rows else after, len(rows) >= limit)


def parse_list(values: Collection[str], allowed: Collection[str], field: str) -> frozenset[str] | None:
    """A comma-separated (or repeated) query parameter checked against ``allowed``; None when absent."""
    items = [v for value in values for v in value.split(",") if v]
    if not items:
        return None
    for item in items:
        if item not in allowed:
            raise InvalidRequestException(
                f"1 validation error detected: Value '{item}' at '{field}' failed to satisfy constraint: "
                f"Member must satisfy enum value set: [{', '.join(allowed)}]"
            )
    return frozenset(items)
