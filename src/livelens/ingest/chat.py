"""Chat ingestion: the connectparticipant operations, as a Connect chat client uses them.

Participants authenticate with the tokens :mod:`livelens.contacts.tokens`
issues: a participant token for CreateParticipantConnection, then a
connection token for everything else.
"""

from __future__ import annotations

import json
import os
import re
import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, cast

from livelens.contacts.models import Contact, Participant, iso, now_iso, parse_iso
from livelens.contacts.service import (
    ATTACHMENT,
    EVENT,
    JOINED,
    LEFT,
    MESSAGE,
    RECEIPT,
    SIGNAL,
    ContactCenter,
    check_message_content,
)
from livelens.contacts.tokens import CONNECTION, PARTICIPANT
from livelens.errors import (
    AccessDeniedException,
    ConflictException,
    InvalidRequestException,
    ResourceNotFoundException,
)
from livelens.files import FILE_MODE, private_dir
from livelens.ingest.attachments import CONTENT_TYPES, MAX_ATTACHMENT_BYTES, bytes_match, safe_name
from livelens.ingest.websocket import websocket_url
from livelens.storage.base import BodyTransaction, Storage, Transaction

TYPING = "application/vnd.amazonaws.connect.event.typing"
DELIVERED = "application/vnd.amazonaws.connect.event.message.delivered"
READ = "application/vnd.amazonaws.connect.event.message.read"
ACKNOWLEDGED = "application/vnd.amazonaws.connect.event.connection.acknowledged"
EVENT_CONTENT_TYPES = (TYPING, DELIVERED, READ, ACKNOWLEDGED, JOINED, LEFT)
ATTACHMENT_CONTENT_TYPES = CONTENT_TYPES
UPLOAD = "U1"  # the kind of token that signs an upload URL (livelens.contacts.tokens)
CONNECTION_LIFETIME = timedelta(hours=24)
UPLOAD_URL_LIFETIME = timedelta(minutes=5)


@dataclass(frozen=True)
class Uploads:
    """Where attachment bodies land: files in ``folder``, or (``in_database``, on PostgreSQL) the
    database every node shares."""

    folder: Path
    in_database: bool = False

    def path(self, attachment_id: str) -> Path:
        return self.folder / attachment_id

    def save(self, storage: Storage, attachment_id: str, body: bytes) -> None:
        """Keep ``body`` durably (fsynced file, or committed row) before the upload is acknowledged."""
        if self.in_database:
            with storage.write() as tx:
                cast(BodyTransaction, tx).put_attachment_body(attachment_id, body)
            return
        private_dir(self.folder)
        partial = self.path(attachment_id).with_suffix(".part")
        fd = os.open(partial, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, FILE_MODE)
        with os.fdopen(fd, "wb") as file:
            file.write(body)
            file.flush()
            os.fsync(file.fileno())
        os.replace(partial, self.path(attachment_id))

    def size(self, tx: Transaction, attachment_id: str) -> int | None:
        """The stored body's size, or ``None`` if nothing was uploaded."""
        if self.in_database:
            return cast(BodyTransaction, tx).attachment_body_size(attachment_id)
        path = self.path(attachment_id)
        return path.stat().st_size if path.exists() else None


class ChatIngest:
    def __init__(self, center: ContactCenter, uploads: Uploads) -> None:
        self.center = center
        self.uploads = uploads

    # connections ----------------------------------------------------------
    def create_participant_connection(self, request: Mapping[str, Any], base_url: str) -> dict[str, Any]:
        types = request.get("Type") or ["CONNECTION_CREDENTIALS"]
        if "WEBRTC_CONNECTION" in types:
            raise InvalidRequestException(
                "Type: livelens offers WEBSOCKET and CONNECTION_CREDENTIALS (no WEBRTC_CONNECTION)."
            )
        with self.center.storage.write() as tx:
            participant, contact = self.center.authenticate(tx, PARTICIPANT, request["ParticipantToken"])
            expiry = min(datetime.now(UTC) + CONNECTION_LIFETIME, parse_iso(participant.token_expiry))
            participant.connection_expiry = iso(expiry)
            participant.connected_at = participant.connected_at or now_iso()
            token = self.center.connection_token(participant)
            tx.update_participant(participant.id, participant.to_record())
        answer: dict[str, Any] = {}
        if "WEBSOCKET" in types:
            answer["Websocket"] = {
                "Url": websocket_url(base_url, token), "ConnectionExpiry": participant.connection_expiry
            }
        if "CONNECTION_CREDENTIALS" in types:
            answer["ConnectionCredentials"] = {"ConnectionToken": token, "Expiry": participant.connection_expiry}
        return answer

    def _connection(self, tx: Transaction, token: str) -> tuple[Participant, Contact]:
        return self.center.authenticate(tx, CONNECTION, token)

    # messages and events --------------------------------------------------
    def send_message(self, request: Mapping[str, Any]) -> dict[str, Any]:
        content_type, content = request["ContentType"], request["Content"]
        check_message_content(content_type, content)
        with self.center.storage.read() as tx:
            participant, contact = self._connection(tx, request["ConnectionToken"])
            preceding = self.center.preceding_text(tx, contact.id, participant.role)
        fields = self.center.turn_fields(contact, participant.id, participant.role, content, preceding=preceding)
        fields["content_type"] = content_type
        item = self._append_once(request, MESSAGE, fields)
        self.center.on_item(item["contact_id"])
        return {"Id": item["id"], "AbsoluteTime": item["time"]}

    def send_event(self, request: Mapping[str, Any]) -> dict[str, Any]:
        content_type = request["ContentType"]
        if content_type not in EVENT_CONTENT_TYPES:
            raise InvalidRequestException(
                f"ContentType {content_type} is not supported; use one of {', '.join(EVENT_CONTENT_TYPES)}."
            )
        if content_type in (DELIVERED, READ):
            return self._receipt(request, content_type)
        if content_type == ACKNOWLEDGED:
            with self.center.storage.read() as tx:
                self._connection(tx, request["ConnectionToken"])
            return {"Id": str(uuid.uuid4()), "AbsoluteTime": now_iso()}
        if content_type == TYPING:
            # Ephemeral in Amazon Connect too: pushed to the chat's websockets, never part of the transcript.
            item = self._append_once(request, SIGNAL, {"content_type": content_type})
            self.center.on_item(item["contact_id"])
            return {"Id": item["id"], "AbsoluteTime": item["time"]}
        item = self._append_once(request, EVENT, {"content_type": content_type})
        self.center.on_item(item["contact_id"])
        return {"Id": item["id"], "AbsoluteTime": item["time"]}

    def _append_once(self, request: Mapping[str, Any], kind: str, fields: dict[str, Any]) -> dict[str, Any]:
        """Append an item; a repeated ClientToken returns the first item instead."""
        with self.center.storage.write() as tx:
            participant, contact = self._connection(tx, request["ConnectionToken"])
            client_key = f"{participant.id}:{request['ClientToken']}" if request.get("ClientToken") else None
            if client_key:
                existing = tx.find_item(contact.id, client_key=client_key)
                if existing is not None:
                    _check_same_request(kind, existing, fields)
                    return {**existing, "contact_id": contact.id}
            item = self.center.append_item(tx, contact, participant, kind, fields, client_key)
        return {**item, "contact_id": contact.id}

    def _receipt(self, request: Mapping[str, Any], content_type: str) -> dict[str, Any]:
        content = _require_json(request.get("Content") or "", "Content")
        message_id = content.get("messageId") if isinstance(content, dict) else None
        if not isinstance(message_id, str) or not message_id:
            raise InvalidRequestException('Content must be a JSON object with a "messageId" for receipts.')
        now = now_iso()
        with self.center.storage.write() as tx:
            participant, contact = self._connection(tx, request["ConnectionToken"])
            item = tx.find_item(contact.id, item_id=message_id)
            if item is None or item["kind"] != MESSAGE:
                raise ResourceNotFoundException(f"Message not found: {message_id}")
            receipts = item.setdefault("receipts", [])
            receipt = next((r for r in receipts if r["RecipientParticipantId"] == participant.id), None)
            if receipt is None:
                receipt = {"RecipientParticipantId": participant.id}
                receipts.append(receipt)
            key = "ReadTimestamp" if content_type == READ else "DeliveredTimestamp"
            if key in receipt:  # each receipt is recorded, and pushed, once
                return {"Id": str(uuid.uuid4()), "AbsoluteTime": now}
            receipt[key] = now
            tx.update_item(contact.id, item["seq"], item)
            metadata = self.center.append_item(tx, contact, None, RECEIPT, {
                "time": now, "message_id": message_id,
                "receipt": {key: now, "RecipientParticipantId": participant.id},
            })
        self.center.on_item(contact.id)
        return {"Id": metadata["id"], "AbsoluteTime": now}

    # attachments ----------------------------------------------------------
    def start_attachment_upload(self, request: Mapping[str, Any], base_url: str) -> dict[str, Any]:
        content_type = request["ContentType"]
        if content_type not in ATTACHMENT_CONTENT_TYPES:
            raise InvalidRequestException(f"ContentType {content_type} is not a supported attachment type.")
        size = request["AttachmentSizeInBytes"]
        if size > MAX_ATTACHMENT_BYTES:
            raise InvalidRequestException(f"AttachmentSizeInBytes must be at most {MAX_ATTACHMENT_BYTES}.")
        with self.center.storage.write() as tx:
            participant, contact = self._connection(tx, request["ConnectionToken"])
            scope = f"StartAttachmentUpload:{participant.id}"
            found = tx.get_idempotent(scope, request["ClientToken"])
            if found is not None:
                return found[1]
            attachment_id = str(uuid.uuid4())
            expiry = iso(datetime.now(UTC) + UPLOAD_URL_LIFETIME)
            name = safe_name(request["AttachmentName"])
            record = {
                "AttachmentId": attachment_id, "AttachmentName": self._stored_name(contact, name, participant.role),
                "ContentType": content_type, "Size": size, "Status": "IN_PROGRESS",
                "participant_id": participant.id, "upload_expiry": expiry,
            }
            if contact.redacts and contact.keeps_original:
                record["redacted_name"] = self._stored_name(contact, name, participant.role, always=True)
            tx.insert_attachment(attachment_id, contact.id, record)
            signature = self.center.tokens.issue(UPLOAD, f"{attachment_id}|{expiry}")
            answer = {
                "AttachmentId": attachment_id,
                "UploadMetadata": {
                    "Url": f"{base_url}/livelens/v1/attachments/{attachment_id}?token={signature}",
                    "UrlExpiry": expiry,
                    "HeadersToInclude": {"Content-Type": content_type},
                },
            }
            tx.put_idempotent(scope, request["ClientToken"], "", answer)
        return answer

    def _stored_name(self, contact: Contact, name: str, role: str, *, always: bool = False) -> str:
        """Under RedactedOnly (or ``always``) the name is redacted: its stem, read as words, then its extension."""
        if (contact.keeps_original and not always) or not contact.redacts:
            return name
        stem, dot, extension = name.rpartition(".")
        if not dot or not stem:
            stem, extension = name, ""
        redacted = self.center.redact_field(contact, re.sub(r"_+", " ", stem), role, always=always)
        return redacted + (f".{extension}" if extension else "")

    def receive_upload(self, attachment_id: str, body: bytes, token: str | None, content_type: str | None) -> None:
        """The PUT to the signed, single-use URL StartAttachmentUpload handed out."""
        with self.center.storage.read() as tx:
            attachment = tx.get_attachment(attachment_id)
        if attachment is None:
            raise ResourceNotFoundException(f"No upload is pending for attachment {attachment_id}.")
        signed = self.center.tokens.subject(UPLOAD, token or "")
        if signed != f"{attachment_id}|{attachment['upload_expiry']}":
            raise AccessDeniedException("The upload URL's signature is missing or invalid.")
        if attachment["Status"] != "IN_PROGRESS" or attachment.get("uploaded_at"):
            raise ConflictException(f"Attachment {attachment_id} was already uploaded; an upload URL is single-use.")
        if parse_iso(attachment["upload_expiry"]) < datetime.now(UTC):
            raise AccessDeniedException("The upload URL has expired.")
        _check_upload(attachment, body, content_type)
        with self.center.storage.write() as tx:  # claim the URL: a second PUT, even a concurrent one, is refused
            current = tx.get_attachment(attachment_id)
            if current is None or current.get("uploaded_at"):
                raise ConflictException(
                    f"Attachment {attachment_id} was already uploaded; an upload URL is single-use."
                )
            current["uploaded_at"] = now_iso()
            tx.update_attachment(attachment_id, current)
        self.uploads.save(self.center.storage, attachment_id, body)

    def complete_attachment_upload(self, request: Mapping[str, Any]) -> dict[str, Any]:
        (attachment_id,) = request["AttachmentIds"]
        with self.center.storage.write() as tx:
            participant, contact = self._connection(tx, request["ConnectionToken"])
            attachment = tx.get_attachment(attachment_id)
            if attachment is None or attachment["participant_id"] != participant.id:
                raise ResourceNotFoundException(f"Attachment not found: {attachment_id}")
            if attachment["Status"] == "APPROVED":
                return {}
            if self.uploads.size(tx, attachment_id) != attachment["Size"]:
                raise ConflictException(f"Attachment {attachment_id} has not been uploaded yet.")
            attachment["Status"] = "APPROVED"
            tx.update_attachment(attachment_id, attachment)
            public = {k: attachment[k] for k in ("AttachmentName", "ContentType", "AttachmentId", "Status")}
            fields: dict[str, Any] = {"attachments": [public]}
            if attachment.get("redacted_name") is not None:
                fields["redacted_attachments"] = [{**public, "AttachmentName": attachment["redacted_name"]}]
            self.center.append_item(tx, contact, participant, ATTACHMENT, fields)
        self.center.on_item(contact.id)
        return {}

    # transcript and disconnect --------------------------------------------
    def get_transcript(self, request: Mapping[str, Any]) -> dict[str, Any]:
        from livelens.ingest.transcript import transcript_page

        with self.center.storage.read() as tx:
            participant, contact = self._connection(tx, request["ConnectionToken"])
            if request.get("ContactId") and request["ContactId"] != contact.id:
                raise InvalidRequestException("ContactId does not belong to this connection.")
            return transcript_page(self.center, tx, contact, request)

    def disconnect_participant(self, request: Mapping[str, Any]) -> dict[str, Any]:
        with self.center.storage.write() as tx:
            participant, contact = self._connection(tx, request["ConnectionToken"])
            participant.disconnected_at = now_iso()
            self.center.revoke_connections(participant)
            tx.update_participant(participant.id, participant.to_record())
            self.center.append_item(tx, contact, participant, EVENT, {"content_type": LEFT})
            if participant.role == "CUSTOMER":
                self.center.end_contact(tx, contact, "CUSTOMER_DISCONNECT")
        self.center.on_item(contact.id)
        return {}


#: The stored fields that make two SendMessage / SendEvent calls the same request.
_IDEMPOTENT_FIELDS = ("content_type", "content")


def _check_same_request(kind: str, existing: Mapping[str, Any], fields: Mapping[str, Any]) -> None:
    """A ClientToken reused with other content is refused, not answered with the first item.

    The model declares no IdempotencyException for SendMessage, so the error is
    the closest one it declares: ValidationException (SendEvent declares
    ConflictException). Under RedactedOnly the redacted forms are compared,
    so no original text is kept to compare against.
    """
    same = existing["kind"] == kind and all(existing.get(f) == fields.get(f) for f in _IDEMPOTENT_FIELDS)
    if same and "redaction" in fields:
        same = (existing.get("redaction") or {}).get("content") == fields["redaction"].get("content")
    if not same:
        message = "ClientToken was already used with a different request."
        raise ConflictException(message) if kind == EVENT else InvalidRequestException(message)


def _check_upload(attachment: Mapping[str, Any], body: bytes, content_type: str | None) -> None:
    """Size as announced, the Content-Type header as declared, and bytes really of that type."""
    if len(body) != attachment["Size"]:
        raise InvalidRequestException(
            f"The upload has {len(body)} bytes; StartAttachmentUpload announced {attachment['Size']}."
        )
    declared = attachment["ContentType"]
    if (content_type or "").split(";")[0].strip().lower() != declared:
        raise InvalidRequestException(f"Content-Type must be {declared}, as declared to StartAttachmentUpload.")
    if not bytes_match(declared, body):
        raise InvalidRequestException(f"The uploaded bytes are not {declared}.")


def _require_json(content: str, field: str) -> Any:
    try:
        return json.loads(content)
    except ValueError:
        raise InvalidRequestException(f"{field} must be valid JSON for this ContentType.") from None
