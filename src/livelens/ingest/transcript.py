"""GetTranscript: a participant's view of the chat transcript, paged both ways."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime
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
    """The exclusive keyset boundary a StartPosition stands for (members set to null count as absent)."""
    if start.get("Id") is not None:
        item = tx.find_item(contact.id, item_id=start["Id"])
        if item is None:
            raise InvalidRequestException(f"StartPosition.Id not found: {start['Id']}")
        return int(item["seq"]) - 1 if forward else int(item["seq"]) + 1
    if start.get("AbsoluteTime") is not None:
        try:
            moment = parse_iso(start["AbsoluteTime"])
            if moment.tzinfo is None:
                moment = moment.replace(tzinfo=UTC)
        except (ValueError, TypeError):
            raise InvalidRequestException("StartPosition.AbsoluteTime must be an ISO 8601 time.") from None
        if forward:
            return _first_at_or_after(tx, contact, moment) - 1
        return _last_at_or_before(tx, contact, moment) + 1
    recent = tx.list_items(contact.id, limit=int(start.get("MostRecent") or 0) or 1, descending=True, kinds=KINDS)
    if not recent:
        return 0 if forward else contact.last_item_seq + 1
    oldest = recent[-1]["seq"]
    return oldest - 1 if forward else contact.last_item_seq + 1


def _time_at(tx: Transaction, contact: Contact, seq: int) -> datetime:
    (item,) = tx.list_items(contact.id, after=seq - 1, before=seq + 1, limit=1)
    return parse_iso(item["time"])


def _first_at_or_after(tx: Transaction, contact: Contact, moment: datetime) -> int:
    """The first seq whose item arrived at or after ``moment`` (``last_item_seq + 1`` if none).

    A binary search over the primary key: items get their time when they are
    appended, one at a time by the single writer, so time never decreases with
    seq. About 17 point reads at 100,000 items instead of reading them all.
    """
    low, high = 1, contact.last_item_seq + 1
    while low < high:
        middle = (low + high) // 2
        if _time_at(tx, contact, middle) >= moment:
            high = middle
        else:
            low = middle + 1
    return low


def _last_at_or_before(tx: Transaction, contact: Contact, moment: datetime) -> int:
    """The last seq whose item arrived at or before ``moment`` (0 if none)."""
    return _first_after(tx, contact, moment) - 1


def _first_after(tx: Transaction, contact: Contact, moment: datetime) -> int:
    low, high = 1, contact.last_item_seq + 1
    while low < high:
        middle = (low + high) // 2
        if _time_at(tx, contact, middle) > moment:
            high = middle
        else:
            low = middle + 1
    return low


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
