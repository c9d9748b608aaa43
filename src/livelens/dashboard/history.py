"""What the dashboard reads besides the live wall: a contact's transcript for export, and history search."""

from __future__ import annotations

import json
from collections.abc import Mapping
from datetime import UTC, datetime, timedelta
from typing import Any

from livelens.contacts.models import Contact, iso
from livelens.contacts.search import ContactSearch
from livelens.contacts.segment_log import SegmentLog
from livelens.dashboard.wall import card_of, read_page
from livelens.errors import InvalidRequestException

HISTORY_LIMIT = 200
SENTIMENTS = ("POSITIVE", "NEGATIVE", "NEUTRAL", "MIXED")


def transcript_turns(segments: SegmentLog, contact: Contact, view: str | None) -> list[dict[str, Any]]:
    """Every Transcript segment of the contact, in the ``view`` asked (Raw only where the policy keeps it)."""
    turns: list[dict[str, Any]] = []
    cursor = None
    while True:
        if contact.channel == "VOICE" or view is None:
            page = read_page(segments, contact, cursor)
        else:
            if view not in ("Raw", "Redacted"):
                raise InvalidRequestException("view must be Raw or Redacted.")
            page = segments.list_v2(contact.instance_id, contact.id, view, ["Transcript"], 100, cursor)
        turns += [json.loads(s)["Transcript"] for s in page.segments if s.startswith('{"Transcript"')]
        if page.next_token is None or not page.segments:
            return turns
        cursor = page.next_token


def _day(text: str | None, field: str, default: datetime) -> datetime:
    if not text:
        return default
    try:
        return datetime.strptime(text, "%Y-%m-%d").replace(tzinfo=UTC)
    except ValueError:
        raise InvalidRequestException(f"{field} must be a date (YYYY-MM-DD).") from None


def search_history(segments: SegmentLog, search: ContactSearch, instance_id: str,
                   query: Mapping[str, str]) -> dict[str, Any]:
    """Ended contacts by text (SearchContacts over both roles' turns), then category, sentiment and issue
    (from each found contact's segments, as the wall reads them)."""
    now = datetime.now(UTC)
    start = _day(query.get("from"), "from", now - timedelta(days=30))
    end = _day(query.get("to"), "to", now) + (timedelta(days=1) if query.get("to") else timedelta(minutes=1))
    sentiment = (query.get("sentiment") or "").upper()
    if sentiment and sentiment not in SENTIMENTS:
        raise InvalidRequestException(f"sentiment must be one of {', '.join(SENTIMENTS)}.")
    request: dict[str, Any] = {
        "InstanceId": instance_id,
        "TimeRange": {"Type": "INITIATION_TIMESTAMP", "StartTime": start, "EndTime": end},
        "MaxResults": 100,
    }
    text = (query.get("text") or "").strip()
    if text:
        request["SearchCriteria"] = {"ContactAnalysis": {"Transcript": {
            "Criteria": [{"ParticipantRole": role, "SearchText": [text], "MatchType": "MATCH_ALL"}
                         for role in ("CUSTOMER", "AGENT", "SYSTEM")],
            "MatchType": "MATCH_ANY",
        }}}
    found: list[Contact] = []
    token = None
    while len(found) < 5 * HISTORY_LIMIT:
        page, token, _ = search.search({**request, **({"NextToken": token} if token else {})})
        found += [c for c in page if c.ended]
        if token is None:
            break
    category = (query.get("category") or "").strip().lower()
    issue = (query.get("issue") or "").strip().lower()
    results = []
    for contact in found:
        card = card_of(segments, contact)
        if category and category not in (c.lower() for c in card.categories):
            continue
        if sentiment and card.sentiment != sentiment:
            continue
        if issue and issue not in (card.issue or "").lower():
            continue
        results.append(card.to_json())
        if len(results) >= HISTORY_LIMIT:
            break
    return {"Contacts": results, "From": iso(start), "To": iso(end)}
