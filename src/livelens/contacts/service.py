"""The contact center: instances, contacts and participants.

``ContactCenter`` is what the wire layer calls for the connect operations. It
owns every write, so it enforces the domain's rules in one place: which
channels are analysed, how a contact's redaction policy and language are
chosen, that a ``ClientToken`` makes a call idempotent, and that everything
accepted is committed before the call returns.
"""

from __future__ import annotations

import hashlib
import json
import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from livelens.analysis.registry import registered
from livelens.analysis.types import Redaction, Turn
from livelens.config import REDACTION_MASKS, REDACTION_POLICIES
from livelens.contacts.models import (
    ANALYSED_CHANNELS,
    IN_PROGRESS,
    Contact,
    Instance,
    Participant,
    iso,
    now_iso,
    parse_iso,
)
from livelens.contacts.next_token import NextTokenCodec
from livelens.contacts.segments import redaction_to_record, whole_turn_redaction
from livelens.contacts.tokens import CONNECTION, PARTICIPANT, TokenIssuer
from livelens.errors import (
    AccessDeniedException,
    ContactNotFoundException,
    IdempotencyException,
    InvalidRequestException,
    ResourceNotFoundException,
)
from livelens.storage.base import Storage, Transaction

REDACTION_ATTRIBUTE = "livelens:redaction"
LANGUAGE_ATTRIBUTE = "livelens:language"
ANALYSIS_TAG = "livelens:analysis"
MASK_TAG = "livelens:redaction-mask"
RECORDING_ATTRIBUTE = "livelens:recording"
RECORDABLE_ROLES = ("AGENT", "CUSTOMER")
#: Connection tokens a participant may hold at once; a new one beyond this revokes the oldest.
MAX_CONNECTIONS_PER_PARTICIPANT = 20

#: Kinds of transcript item; END marks the end of the contact for the analysis worker.
MESSAGE, EVENT, ATTACHMENT, UTTERANCE, END = "MESSAGE", "EVENT", "ATTACHMENT", "UTTERANCE", "END"
#: Kinds only pushed on the participant websocket (never in GetTranscript, never analysed):
#: ephemeral events such as typing, and read/delivered receipts (MESSAGEMETADATA items).
SIGNAL, RECEIPT = "SIGNAL", "RECEIPT"

JOINED = "application/vnd.amazonaws.connect.event.participant.joined"
LEFT = "application/vnd.amazonaws.connect.event.participant.left"
CHAT_ENDED = "application/vnd.amazonaws.connect.event.chat.ended"


MESSAGE_CONTENT_TYPES = (
    "text/plain",
    "text/markdown",
    "application/json",
    "application/vnd.amazonaws.connect.message.interactive",
    "application/vnd.amazonaws.connect.message.interactive.response",
)


def check_message_content(content_type: str, content: str, prefix: str = "") -> None:
    """A chat message's content type must be one Amazon Connect accepts; JSON types must parse."""
    if content_type not in MESSAGE_CONTENT_TYPES:
        raise InvalidRequestException(
            f"{prefix}ContentType {content_type} is not supported; use one of {', '.join(MESSAGE_CONTENT_TYPES)}."
        )
    if content_type.startswith("application/"):
        try:
            json.loads(content)
        except ValueError:
            raise InvalidRequestException(f"{prefix}Content must be valid JSON for this ContentType.") from None


def recorded_roles(value: str, field: str) -> list[str]:
    """The roles a ``livelens:recording`` value records: ``None`` (nothing), or a comma-separated list of
    ``AGENT`` and ``CUSTOMER`` (the participants Amazon Connect's "Set recording and analytics behavior"
    block records; any case)."""
    if value.strip() in ("", "None", "NONE", "none"):
        return []
    roles = {part.strip().upper() for part in value.split(",") if part.strip()}
    if not roles or not roles <= set(RECORDABLE_ROLES):
        raise InvalidRequestException(
            f"{field}.{RECORDING_ATTRIBUTE} must be None, AGENT, CUSTOMER or AGENT,CUSTOMER, not '{value}'."
        )
    return [role for role in RECORDABLE_ROLES if role in roles]


@dataclass(frozen=True)
class InstanceDefaults:
    """Server-wide defaults for new instances (from :class:`livelens.config.Settings`)."""

    redaction_policy: str = "RedactedAndOriginal"
    language: str = "en-US"
    analysis: tuple[str, ...] = ("redaction", "sentiment", "issues", "summary")
    redaction_mask: str = "PII"
    chat_duration_minutes: int = 1500


@dataclass(frozen=True)
class IssuedParticipant:
    participant: Participant
    token: str


def canonical_request(request: Mapping[str, Any]) -> str:
    return json.dumps(request, sort_keys=True, default=str, separators=(",", ":"))


def request_fingerprint(request: Mapping[str, Any]) -> str:
    return hashlib.sha256(canonical_request(request).encode()).hexdigest()


def idempotent(
    tx: Transaction, scope: str, token: str | None, request: Mapping[str, Any], create: Callable[[], dict[str, Any]],
    fingerprint_of: Callable[[Mapping[str, Any]], str] = request_fingerprint,
) -> dict[str, Any]:
    """Run ``create`` once per ``(scope, token)``; a repeat gets the first answer.

    Runs inside the caller's write transaction, so the record of the answer
    commits (or rolls back) together with what ``create`` wrote. Requests that
    can carry PII pass a keyed ``fingerprint_of``, so the stored fingerprint
    cannot be matched against guessed values.
    """
    if not token:
        return create()
    fingerprint = fingerprint_of(request)
    found = tx.get_idempotent(scope, token)
    if found is not None:
        if found[0] != fingerprint:
            raise IdempotencyException("ClientToken was already used with different parameters.")
        return found[1]
    answer = create()
    tx.put_idempotent(scope, token, fingerprint, answer)
    return answer


#: How many recent turns are searched for the one a new turn answers (a customer may answer a
#: request for "username, email and order ID" in three messages).
PRECEDING_WINDOW = 4


def preceding_text(items: list[dict[str, Any]], role: str) -> str | None:
    """Text of the latest of ``items`` (oldest first) whose role is not ``role``.

    The redacted text is used when only that is stored; redaction reads it as the question a
    new turn may answer ("may I have your name?").
    """
    for item in reversed(items[-PRECEDING_WINDOW:]):
        if item.get("kind", MESSAGE) not in (MESSAGE, UTTERANCE) or item.get("role") == role:
            continue
        content = item.get("content")
        if content is None and item.get("redaction"):
            content = item["redaction"].get("content")
        return str(content) if content is not None else None
    return None


class ContactCenter:
    def __init__(
        self,
        storage: Storage,
        *,
        account_id: str,
        defaults: InstanceDefaults,
        tokens: TokenIssuer,
        next_tokens: NextTokenCodec,
        on_item: Callable[[str], None] = lambda contact_id: None,
        on_revoke: Callable[[str], None] = lambda participant_id: None,
        redactor: Callable[[Contact, Turn], Redaction] | None = None,
    ) -> None:
        self.storage = storage
        self.account_id = account_id
        self.defaults = defaults
        self.tokens = tokens
        self.next_tokens = next_tokens
        self.on_item = on_item
        self.on_revoke = on_revoke
        self.redactor = redactor

    # instances ------------------------------------------------------------
    def create_instance(self, region: str, request: Mapping[str, Any], client_token: str | None,
                        owner: str | None = None) -> dict[str, Any]:
        tags = dict(request.get("Tags") or {})
        settings = self._instance_settings(tags)

        def create() -> dict[str, Any]:
            alias = request.get("InstanceAlias")
            if alias and any(r.get("alias") == alias for _, r in tx.list_instances(0, 1_000_000)
                             if r.get("owner") == owner):
                raise InvalidRequestException(f"InstanceAlias {alias} is already in use.")
            instance_id = str(uuid.uuid4())
            instance = Instance(
                id=instance_id,
                arn=f"arn:aws:connect:{region}:{self.account_id}:instance/{instance_id}",
                identity_management_type=request["IdentityManagementType"],
                inbound_calls_enabled=request["InboundCallsEnabled"],
                outbound_calls_enabled=request["OutboundCallsEnabled"],
                created_time=now_iso(),
                service_role=(
                    f"arn:aws:iam::{self.account_id}:role/aws-service-role/connect.amazonaws.com/"
                    f"AWSServiceRoleForAmazonConnect_{instance_id.replace('-', '')[:20]}"
                ),
                alias=request.get("InstanceAlias"),
                directory_id=request.get("DirectoryId"),
                tags=tags,
                owner=owner,
                **settings,
            )
            tx.insert_instance(instance_id, instance.to_record())
            return {"Id": instance.id, "Arn": instance.arn}

        with self.storage.write() as tx:
            scope = f"CreateInstance:{owner}" if owner else "CreateInstance"
            return idempotent(tx, scope, client_token, request, create)

    def _instance_settings(self, tags: Mapping[str, str]) -> dict[str, Any]:
        policy = tags.get(REDACTION_ATTRIBUTE, self.defaults.redaction_policy)
        if policy not in REDACTION_POLICIES:
            raise InvalidRequestException(
                f"Tags.{REDACTION_ATTRIBUTE} must be one of {', '.join(REDACTION_POLICIES)}."
            )
        mask = tags.get(MASK_TAG, self.defaults.redaction_mask)
        if mask not in REDACTION_MASKS:
            raise InvalidRequestException(f"Tags.{MASK_TAG} must be one of {', '.join(REDACTION_MASKS)}.")
        analysis = self.defaults.analysis
        if ANALYSIS_TAG in tags:
            analysis = tuple(n.strip() for n in tags[ANALYSIS_TAG].replace(" ", ",").split(",") if n.strip())
            known = registered()
            unknown = [name for name in analysis if name not in known]
            if unknown:
                raise InvalidRequestException(
                    f"Tags.{ANALYSIS_TAG}: unknown analysers {', '.join(unknown)}; "
                    f"choose from {', '.join(sorted(known))}."
                )
        return {
            "redaction_policy": policy,
            "recording": recorded_roles(tags.get(RECORDING_ATTRIBUTE, "None"), "Tags"),
            "language": tags.get(LANGUAGE_ATTRIBUTE, self.defaults.language),
            "analysis": list(analysis),
            "redaction_mask": mask,
        }

    def get_instance(self, tx: Transaction, instance_id: str) -> Instance:
        record = tx.get_instance(instance_id)
        if record is None:
            raise ResourceNotFoundException(f"Instance not found: {instance_id}")
        return Instance.from_record(record)

    def describe_instance(self, instance_id: str) -> Instance:
        with self.storage.read() as tx:
            return self.get_instance(tx, instance_id)

    def list_instances(
        self, max_results: int | None, next_token: str | None,
        visible: Callable[[str, str | None], bool] = lambda instance_id, owner: True,
    ) -> tuple[list[Instance], str | None]:
        """A page of the instances ``visible`` lets the caller see (``(id, owner) -> bool``)."""
        limit = max_results or 10
        after = self.next_tokens.decode(next_token, "instances") if next_token else 0
        rows: list[tuple[int, dict[str, Any]]] = []
        with self.storage.read() as tx:
            while len(rows) <= limit:
                batch = tx.list_instances(after, max(limit + 1, 100))
                rows += [(seq, r) for seq, r in batch if visible(r["id"], r.get("owner"))]
                if len(batch) < max(limit + 1, 100):
                    break
                after = batch[-1][0]
        page = rows[:limit]
        token = self.next_tokens.encode("instances", page[-1][0]) if len(rows) > limit else None
        return [Instance.from_record(record) for _, record in page], token

    def delete_instance(self, instance_id: str) -> None:
        with self.storage.write() as tx:
            self.get_instance(tx, instance_id)
            tx.delete_instance(instance_id)

    # contacts -------------------------------------------------------------
    def get_contact(self, tx: Transaction, instance_id: str, contact_id: str) -> Contact:
        self.get_instance(tx, instance_id)
        record = tx.get_contact(contact_id)
        if record is None or record.get("instance_id") != instance_id:
            raise ResourceNotFoundException(f"Contact not found: {contact_id}")
        return Contact.from_record(record)

    def describe_contact(self, instance_id: str, contact_id: str) -> Contact:
        with self.storage.read() as tx:
            return self.get_contact(tx, instance_id, contact_id)

    def _new_contact(self, tx: Transaction, instance: Instance, channel: str, method: str,
                     attributes: Mapping[str, str], extra: Mapping[str, Any]) -> Contact:
        policy = attributes.get(REDACTION_ATTRIBUTE, instance.redaction_policy)
        if policy not in REDACTION_POLICIES:
            raise InvalidRequestException(
                f"Attributes.{REDACTION_ATTRIBUTE} must be one of {', '.join(REDACTION_POLICIES)}."
            )
        recording = (recorded_roles(attributes[RECORDING_ATTRIBUTE], "Attributes")
                     if RECORDING_ATTRIBUTE in attributes else list(instance.recording))
        contact_id = str(uuid.uuid4())
        now = now_iso()
        contact = Contact(
            id=contact_id,
            arn=f"{instance.arn}/contact/{contact_id}",
            instance_id=instance.id,
            channel=channel,
            initiation_method=method,
            initiation_timestamp=now,
            last_update_timestamp=now,
            redaction_policy=policy,
            language=attributes.get(LANGUAGE_ATTRIBUTE, instance.language),
            analysis=list(instance.analysis),
            redaction_mask=instance.redaction_mask,
            recording=recording,
            attributes=dict(attributes),
            **extra,
        )
        self._redact_contact_fields(contact)
        tx.insert_contact(contact_id, instance.id, channel, IN_PROGRESS, contact.to_record())
        return contact

    def create_contact(self, request: Mapping[str, Any], client_token: str | None) -> dict[str, Any]:
        channel = request["Channel"]
        if channel not in ANALYSED_CHANNELS:
            raise InvalidRequestException(f"Channel {channel} is not analysed by livelens; use VOICE or CHAT.")

        def create() -> dict[str, Any]:
            instance = self.get_instance(tx, request["InstanceId"])
            for field in ("RelatedContactId", "PreviousContactId"):
                if request.get(field) and tx.get_contact(request[field]) is None:
                    raise ResourceNotFoundException(f"{field} not found: {request[field]}")
            contact = self._new_contact(
                tx, instance, channel, request["InitiationMethod"], request.get("Attributes") or {},
                {"name": request.get("Name"), "description": request.get("Description"),
                 "related_contact_id": request.get("RelatedContactId"),
                 "previous_contact_id": request.get("PreviousContactId")},
            )
            return {"ContactId": contact.id, "ContactArn": contact.arn}

        with self.storage.write() as tx:
            return idempotent(tx, f"CreateContact:{request['InstanceId']}", client_token, request, create,
                            self.keyed_fingerprint)

    def start_chat_contact(self, request: Mapping[str, Any], client_token: str | None) -> dict[str, Any]:
        minutes = request.get("ChatDurationInMinutes") or self.defaults.chat_duration_minutes
        initial = request.get("InitialMessage")
        if initial:
            check_message_content(initial["ContentType"], initial["Content"], "InitialMessage.")

        def create() -> dict[str, Any]:
            instance = self.get_instance(tx, request["InstanceId"])
            if request.get("RelatedContactId") and tx.get_contact(request["RelatedContactId"]) is None:
                raise ResourceNotFoundException(f"RelatedContactId not found: {request['RelatedContactId']}")
            expires = datetime.now(UTC) + timedelta(minutes=minutes)
            contact = self._new_contact(
                tx, instance, "CHAT", "API", request.get("Attributes") or {},
                {"related_contact_id": request.get("RelatedContactId"), "expires_at": iso(expires)},
            )
            issued = self._add_participant(tx, contact, "CUSTOMER", request["ParticipantDetails"]["DisplayName"])
            initial = request.get("InitialMessage")
            if initial:
                fields = self.turn_fields(contact, issued.participant.id, "CUSTOMER", initial["Content"])
                self.append_item(tx, contact, issued.participant, MESSAGE,
                                 {"content_type": initial["ContentType"], **fields})
            return {"ContactId": contact.id, "ParticipantId": issued.participant.id,
                    "ParticipantToken": issued.token}

        with self.storage.write() as tx:
            answer = idempotent(tx, f"StartChatContact:{request['InstanceId']}", client_token, request, create,
                            self.keyed_fingerprint)
        self.on_item(answer["ContactId"])
        return answer

    def create_participant(self, request: Mapping[str, Any], client_token: str | None) -> dict[str, Any]:
        details = request["ParticipantDetails"]
        role = details.get("ParticipantRole") or "CUSTOM_BOT"
        if role == "SYSTEM":
            raise InvalidRequestException("ParticipantDetails.ParticipantRole SYSTEM cannot be added to a contact.")

        def create() -> dict[str, Any]:
            contact = self.get_contact(tx, request["InstanceId"], request["ContactId"])
            if contact.ended:
                raise ContactNotFoundException(f"Contact {contact.id} has ended.")
            display_name = details.get("DisplayName") or role.replace("_", " ").title()
            issued = self._add_participant(tx, contact, role, display_name)
            return {
                "ParticipantCredentials": {"ParticipantToken": issued.token,
                                           "Expiry": issued.participant.token_expiry},
                "ParticipantId": issued.participant.id,
            }

        with self.storage.write() as tx:
            answer = idempotent(tx, f"CreateParticipant:{request['ContactId']}", client_token, request, create,
                            self.keyed_fingerprint)
        self.on_item(request["ContactId"])
        return answer

    def _add_participant(self, tx: Transaction, contact: Contact, role: str, display_name: str) -> IssuedParticipant:
        expiry = contact.expires_at or iso(
            datetime.now(UTC) + timedelta(minutes=self.defaults.chat_duration_minutes)
        )
        participant = Participant(
            id=str(uuid.uuid4()), contact_id=contact.id, instance_id=contact.instance_id, role=role,
            display_name=self.redact_field(contact, display_name, role), created_at=now_iso(), token_expiry=expiry,
            redacted_display_name=self.redact_field(contact, display_name, role, always=True)
            if contact.redacts and contact.keeps_original else None,
        )
        tx.insert_participant(participant.id, contact.id, participant.to_record())
        if contact.channel == "CHAT":
            self.append_item(tx, contact, participant, EVENT, {"content_type": JOINED})
        return IssuedParticipant(participant, self.tokens.issue(PARTICIPANT, participant.id))

    def stop_contact(self, instance_id: str, contact_id: str, reason: str | None) -> None:
        with self.storage.write() as tx:
            contact = self.get_contact(tx, instance_id, contact_id)
            if contact.ended:
                raise ContactNotFoundException(f"Contact {contact_id} is not active.")
            self.end_contact(tx, contact, reason or "API")
        self.on_item(contact_id)

    def end_contact(self, tx: Transaction, contact: Contact, reason: str) -> None:
        """Mark ``contact`` ended and queue the END marker that completes its analysis."""
        now = now_iso()
        if contact.channel == "CHAT":
            self.append_item(tx, contact, None, EVENT, {"content_type": CHAT_ENDED})
        contact.disconnect_timestamp = now
        contact.disconnect_reason = reason
        contact.last_update_timestamp = now
        contact.ended = True
        tx.update_contact(contact.id, data=contact.to_record(), ended=True)
        self.append_item(tx, contact, None, END, {})

    # the transcript -------------------------------------------------------
    def append_item(self, tx: Transaction, contact: Contact, participant: Participant | None, kind: str,
                    data: dict[str, Any], client_key: str | None = None) -> dict[str, Any]:
        """Append one item to the contact's transcript (within the caller's write transaction)."""
        item = {"time": now_iso(), **data}
        if participant is not None:
            item.update(participant_id=participant.id, role=participant.role,
                        display_name=participant.display_name)
            if participant.redacted_display_name is not None:
                item["redacted_display_name"] = participant.redacted_display_name
        item_id = str(uuid.uuid4())
        item["seq"] = tx.append_item(contact.id, item_id, kind, client_key, item)
        item.update(id=item_id, kind=kind)
        return item

    def preceding_text(self, tx: Transaction, contact_id: str, role: str) -> str | None:
        """The latest recent turn by another role: what a new ``role`` turn may be answering."""
        recent = tx.list_items(contact_id, limit=PRECEDING_WINDOW, descending=True, kinds=(MESSAGE, UTTERANCE))
        return preceding_text(list(reversed(recent)), role)

    def turn_fields(
        self, contact: Contact, participant_id: str, role: str, content: str, *, preceding: str | None = None,
        **timing: Any,
    ) -> dict[str, Any]:
        """The stored fields of a new turn: its text, or under RedactedOnly only its redacted form.

        Under RedactedOnly, redaction runs on the request path before anything
        is written, so the original text never reaches the database. If the
        redactor is missing or fails, the whole turn is masked (fail closed).
        """
        if contact.keeps_original:
            return {"content": content, **timing}
        turn = Turn(
            id="pending",
            contact_id=contact.id,
            channel=contact.channel,  # type: ignore[arg-type]
            participant_id=participant_id,
            participant_role=role,
            content=content,
            language=contact.language,
            preceding=preceding,
        )
        try:
            redaction = self.redactor(contact, turn) if self.redactor else whole_turn_redaction(content)
        except Exception:
            redaction = whole_turn_redaction(content)
        return {"redaction": redaction_to_record(redaction), **timing}

    def redact_field(self, contact: Contact, text: str, role: str = "CUSTOMER", *, always: bool = False) -> str:
        """``text`` as stored for ``contact``: under RedactedOnly (or ``always``), its redacted form (fail closed).

        For the fields besides message text that can hold PII: participant
        display names, contact attribute values, contact name and description,
        attachment names.
        """
        if (contact.keeps_original and not always) or not contact.redacts or not text:
            return text
        turn = Turn(id="field", contact_id=contact.id, channel=contact.channel,  # type: ignore[arg-type]
                    participant_id="field", participant_role=role, content=text, language=contact.language)
        try:
            redaction = self.redactor(contact, turn) if self.redactor else whole_turn_redaction(text)
        except Exception:
            redaction = whole_turn_redaction(text)
        return redaction.content

    def keyed_fingerprint(self, request: Mapping[str, Any]) -> str:
        """The idempotency fingerprint of a request that can carry PII (display names, attributes, messages)."""
        return self.tokens.fingerprint(canonical_request(request))

    def participant_label(self, contact: Contact, label: str, role: str) -> str:
        """The form of a caller-chosen voice ``ParticipantId`` shown wherever redacted output goes.

        A label in which the redactor finds no PII (``agent-7``, a UUID) is kept, so callers can still map
        utterances to their own participants. One that holds PII (a name, a phone number), or that the
        redactor could not read, becomes a pseudonym keyed by the server key and the contact: stable (the
        same label in the same contact always gives the same pseudonym, so idempotent retries and the
        utterance-to-participant mapping hold) and opaque (it cannot be reversed without the database).
        """
        if not contact.redacts:
            return label
        redacted = self.redact_field(contact, label, role, always=True)  # fails closed: "[PII]"
        return label if redacted == label else self.tokens.pseudonym(contact.id, label)

    def _redact_contact_fields(self, contact: Contact) -> None:
        """Under RedactedOnly, attribute values (livelens' own settings aside), name and description."""
        if contact.keeps_original:
            return
        contact.attributes = {
            key: value if key.startswith("livelens:") else self.redact_field(contact, value)
            for key, value in contact.attributes.items()
        }
        contact.name = self.redact_field(contact, contact.name) if contact.name else contact.name
        contact.description = (
            self.redact_field(contact, contact.description) if contact.description else contact.description
        )

    # participant tokens ---------------------------------------------------
    def authenticate(self, tx: Transaction, kind: str, token: str | None) -> tuple[Participant, Contact]:
        """The live participant and contact a participant or connection token stands for."""
        denied = AccessDeniedException("The participant token or connection token is invalid or has expired.")
        participant_id = self.tokens.participant_id(kind, token) if token else None
        record = tx.get_participant(participant_id) if participant_id else None
        if record is None:
            raise denied
        participant = Participant.from_record(record)
        contact_record = tx.get_contact(participant.contact_id)
        if contact_record is None or tx.get_instance(contact_record["instance_id"]) is None:
            raise denied
        contact = Contact.from_record(contact_record)
        expiry = participant.token_expiry if kind == PARTICIPANT else participant.connection_expiry
        now = datetime.now(UTC)
        if contact.ended or participant.disconnected_at or expiry is None or parse_iso(expiry) <= now:
            raise denied
        if kind == CONNECTION and self.tokens.connection_id(token or "") not in participant.connections:
            raise denied  # revoked, or a token from before connection ids existed
        return participant, contact

    def connection_token(self, participant: Participant) -> str:
        """A fresh connection token; the caller stores ``participant`` in the same transaction."""
        token, connection_id = self.tokens.issue_connection(participant.id)
        participant.connections = [*participant.connections, connection_id][-MAX_CONNECTIONS_PER_PARTICIPANT:]
        return token

    def revoke_connections(self, participant: Participant) -> None:
        """Invalidate every connection token of ``participant`` (the caller stores it) and close its sockets."""
        participant.connections = []
        self.on_revoke(participant.id)
