"""GetTranscript: a participant's view of the chat transcript, paged both ways."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from livelens.contacts.models import Contact, parse_iso
from livelens.contacts.service import ATTACHMENT, EVENT, MESSAGE, ContactCenter
from livelens.errors import InvalidRequestException
from livelens.storage.base import Transaction

KINDS = (MESSAGE, EVENT, ATTACHMENT)
DEFAULT_MAX_RESULTS = 15


def transcript_item(contact: Contact, item: dict[str, Any]) -> dict[str, Any]:
    wire: dict[str, Any] = {
        "AbsoluteTime": item["time"],
        "Id": item["id"],
        "Type": item["kind"],
        "ContactId": contact.id,
    }
    if item.get("participant_id"):
        wire.update(
            ParticipantId=item["participant_id"], DisplayName=item["display_name"], ParticipantRole=item["role"]
        )
    if item["kind"] == MESSAGE:
        wire["ContentType"] = item["content_type"]
        wire["Content"] = item["content"] if "content" in item else item["redaction"]["content"]
        if item.get("receipts"):
            wire["MessageMetadata"] = {"MessageId": item["id"], "Receipts": item["receipts"]}
    elif item["kind"] == EVENT:
        wire["ContentType"] = item["content_type"]
    else:
        wire["Attachments"] = item["attachments"]
    return wire


def _start(center: ContactCenter, tx: Transaction, contact: Contact, start: Mapping[str, Any], forward: bool) -> int:
    """The exclusive keyset boundary a StartPosition stands for."""
    if "Id" in start:
        item = tx.find_item(contact.id, item_id=start["Id"])
        if item is None:
            raise InvalidRequestException(f"StartPosition.Id not found: {start['Id']}")
        return int(item["seq"]) - 1 if forward else int(item["seq"]) + 1
    if "AbsoluteTime" in start:
        try:
            moment = parse_iso(start["AbsoluteTime"])
        except ValueError:
            raise InvalidRequestException("StartPosition.AbsoluteTime must be an ISO 8601 time.") from None
        items = tx.list_items(contact.id, limit=1_000_000, kinds=KINDS)
        if forward:
            return next((i["seq"] - 1 for i in items if parse_iso(i["time"]) >= moment), contact.last_item_seq)
        return next((i["seq"] + 1 for i in reversed(items) if parse_iso(i["time"]) <= moment), 1)
    recent = tx.list_items(contact.id, limit=int(start.get("MostRecent", 0)) or 1, descending=True, kinds=KINDS)
    if not recent:
        return 0 if forward else contact.last_item_seq + 1
    oldest = recent[-1]["seq"]
    return oldest - 1 if forward else contact.last_item_seq + 1


def transcript_page(
    center: ContactCenter, tx: Transaction, contact: Contact, request: Mapping[str, Any]
) -> dict[str, Any]:
    forward = request.get("ScanDirection", "BACKWARD") == "FORWARD"
    descending = request.get("SortOrder", "ASCENDING") == "DESCENDING"
    limit = request.get("MaxResults") or DEFAULT_MAX_RESULTS
    scope = f"transcript|{contact.id}|{'F' if forward else 'B'}"
    if request.get("NextToken"):
        boundary = center.next_tokens.decode(request["NextToken"], scope)
    elif request.get("StartPosition"):
        boundary = _start(center, tx, contact, request["StartPosition"], forward)
    else:
        boundary = 0 if forward else contact.last_item_seq + 1
    if forward:
        rows = tx.list_items(contact.id, after=boundary, limit=limit + 1, kinds=KINDS)
    else:
        rows = tx.list_items(contact.id, before=boundary, limit=limit + 1, descending=True, kinds=KINDS)
    page = rows[:limit]
    answer: dict[str, Any] = {"InitialContactId": contact.id}
    if len(rows) > limit and page:
        answer["NextToken"] = center.next_tokens.encode(scope, page[-1]["seq"])
    page.sort(key=lambda i: i["seq"], reverse=descending)
    answer["Transcript"] = [transcript_item(contact, item) for item in page]
    return answer
