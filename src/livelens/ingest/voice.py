"""Voice ingestion: transcribed utterances through livelens' native API.

Amazon Connect has no API for this (voice reaches Contact Lens from the
telephony side), so livelens adds one, signed with SigV4 like every connect
call: ``POST /livelens/v1/instances/{InstanceId}/contacts/{ContactId}/utterances``.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from livelens.contacts.models import PARTICIPANT_ROLES, Contact
from livelens.contacts.service import MESSAGE, PRECEDING_WINDOW, UTTERANCE, ContactCenter, preceding_text
from livelens.errors import ContactNotFoundException, IdempotencyException, InvalidRequestException
from livelens.storage.base import Transaction

MAX_BATCH = 100
MAX_CONTENT = 16384


def _fail(field: str, problem: str) -> InvalidRequestException:
    return InvalidRequestException(f"{field} {problem}")


def parse_utterances(body: Mapping[str, Any]) -> list[dict[str, Any]]:
    """Validate a single utterance or an ``{"Utterances": [...]}`` batch."""
    is_batch = "Utterances" in body
    batch = body["Utterances"] if is_batch else [body]
    if is_batch and (not isinstance(batch, list) or not 1 <= len(batch) <= MAX_BATCH):
        raise _fail("Utterances", f"must be a list of 1 to {MAX_BATCH} utterances.")
    parsed = []
    for index, utterance in enumerate(batch):
        where = f"Utterances.{index + 1}." if is_batch else ""
        if not isinstance(utterance, dict):
            raise _fail(where.rstrip(".") or "body", "must be a JSON object.")
        parsed.append(_parse_one(utterance, where))
    return parsed


def _parse_one(utterance: Mapping[str, Any], where: str) -> dict[str, Any]:
    for field in ("ParticipantId", "ParticipantRole", "Content", "BeginOffsetMillis", "EndOffsetMillis"):
        if field not in utterance or utterance[field] is None:
            raise _fail(where + field, "is required.")
    participant_id, role, content = utterance["ParticipantId"], utterance["ParticipantRole"], utterance["Content"]
    if not isinstance(participant_id, str) or not 1 <= len(participant_id) <= 256 or not participant_id.strip():
        raise _fail(where + "ParticipantId", "must be a non-blank string of 1 to 256 characters.")
    if role not in PARTICIPANT_ROLES:
        raise _fail(where + "ParticipantRole", f"must be one of {', '.join(PARTICIPANT_ROLES)}.")
    if not isinstance(content, str) or not content.strip() or len(content) > MAX_CONTENT:
        raise _fail(where + "Content", f"must be a non-blank string of at most {MAX_CONTENT} characters.")
    begin, end = utterance["BeginOffsetMillis"], utterance["EndOffsetMillis"]
    for field, value in (("BeginOffsetMillis", begin), ("EndOffsetMillis", end)):
        if not isinstance(value, int) or isinstance(value, bool) or value < 0:
            raise _fail(where + field, "must be a non-negative integer.")
    if end < begin:
        raise _fail(where + "EndOffsetMillis", "must not be smaller than BeginOffsetMillis.")
    return {"participant_id": participant_id, "role": role, "content": content, "begin_ms": begin, "end_ms": end}


def _same_utterance(existing: Mapping[str, Any], fields: Mapping[str, Any], utterance: Mapping[str, Any]) -> bool:
    """A repeated ClientToken must carry the same utterance (compared redacted under RedactedOnly)."""
    same = (existing.get("participant_id") == fields["participant_id"] and existing.get("role") == utterance["role"]
            and existing.get("begin_ms") == fields.get("begin_ms") and existing.get("end_ms") == fields.get("end_ms")
            and existing.get("content") == fields.get("content"))
    if same and "redaction" in fields:
        same = (existing.get("redaction") or {}).get("content") == fields["redaction"].get("content")
    return same


def _participant_fields(contact: Contact, participant_id: str, label: str) -> dict[str, str]:
    """The stored participant fields of an utterance: the caller's ``ParticipantId`` doubles as the voice
    participant's display name; under RedactedOnly only its redacted ``label`` is stored, under
    RedactedAndOriginal the label is kept beside it for the Redacted output."""
    if not contact.keeps_original:
        return {"participant_id": label, "display_name": label}
    fields = {"participant_id": participant_id, "display_name": participant_id}
    if contact.redacts:
        fields.update(redacted_participant_id=label, redacted_display_name=label)
    return fields


class VoiceIngest:
    def __init__(self, center: ContactCenter) -> None:
        self.center = center

    def add_utterances(self, instance_id: str, contact_id: str, body: Mapping[str, Any]) -> dict[str, Any]:
        utterances = parse_utterances(body)
        client_token = body.get("ClientToken")
        if client_token is not None and (not isinstance(client_token, str) or not 1 <= len(client_token) <= 500):
            raise _fail("ClientToken", "must be a string of 1 to 500 characters.")
        with self.center.storage.read() as tx:
            contact = self._live_voice_contact(tx, instance_id, contact_id)
            earlier = tx.list_items(contact.id, limit=PRECEDING_WINDOW, descending=True, kinds=(MESSAGE, UTTERANCE))
        # Each utterance is read with the turns before it, including earlier ones of this batch.
        history = [dict(item) for item in reversed(earlier)]
        labels: dict[tuple[str, str], str] = {}
        prepared = []
        for u in utterances:
            fields = self.center.turn_fields(contact, u["participant_id"], u["role"], u["content"],
                                             preceding=preceding_text(history, u["role"]),
                                             begin_ms=u["begin_ms"], end_ms=u["end_ms"])
            key = (u["participant_id"], u["role"])
            if key not in labels:
                labels[key] = self.center.participant_label(contact, u["participant_id"], u["role"])
            fields.update(_participant_fields(contact, u["participant_id"], labels[key]), role=u["role"])
            prepared.append(fields)
            history.append({"kind": UTTERANCE, "role": u["role"], "content": u["content"]})
        ids = []
        with self.center.storage.write() as tx:
            contact = self._live_voice_contact(tx, instance_id, contact_id)
            for index, (utterance, fields) in enumerate(zip(utterances, prepared, strict=True)):
                client_key = f"utterance:{client_token}:{index}" if client_token else None
                existing = tx.find_item(contact.id, client_key=client_key) if client_key else None
                if existing is not None:
                    if not _same_utterance(existing, fields, utterance):
                        raise IdempotencyException(
                            f"ClientToken was already used with a different Utterances.{index + 1}."
                        )
                    ids.append(existing["id"])
                    continue
                item = self.center.append_item(tx, contact, None, UTTERANCE, fields, client_key)
                ids.append(item["id"])
        self.center.on_item(contact_id)
        answer: dict[str, Any] = {"Ids": ids}
        if "Utterances" not in body:
            answer["Id"] = ids[0]
        return answer

    def _live_voice_contact(self, tx: Transaction, instance_id: str, contact_id: str) -> Contact:
        contact = self.center.get_contact(tx, instance_id, contact_id)
        if contact.channel != "VOICE":
            raise InvalidRequestException(
                f"Contact {contact_id} is a {contact.channel} contact; utterances are for VOICE contacts "
                "(send chat messages with connectparticipant SendMessage)."
            )
        if contact.ended:
            raise ContactNotFoundException(f"Contact {contact_id} has ended.")
        return contact

