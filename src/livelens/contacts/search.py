"""connect ``SearchContacts``: a supervisor's search over an instance's contacts.

Supported criteria (anything else in ``SearchCriteria`` is an
``InvalidRequestException`` naming it, never silently ignored):

- ``TimeRange`` of type ``INITIATION_TIMESTAMP`` or ``DISCONNECT_TIMESTAMP``
  (livelens has no scheduling, queues or agents for the other types);
- ``Channels``, ``InitiationMethods``;
- ``Name`` (``SearchText`` words in the contact's name);
- ``ContactAnalysis.Transcript``: up to 6 criteria, each a ``ParticipantRole``
  and ``SearchText`` phrases combined by its ``MatchType`` (``MATCH_ANY``: any
  phrase, ``MATCH_ALL`` and ``MATCH_EXACT``: every phrase, ``MATCH_NONE``: no
  phrase), the criteria combined by the outer ``MatchType`` (``MATCH_ALL``
  default, or ``MATCH_ANY``). A phrase matches whole words in order, ignoring
  case and accents, in one turn of that role, through SQLite FTS5 over the text
  the contact's redaction policy lets be read (the redacted text when it
  redacts): a search never matches what redaction hides;
- ``SearchableContactAttributes``: ``Key`` with one of ``Values``, combined by
  ``MatchType`` (``MATCH_ALL`` default, or ``MATCH_ANY``);
- ``Sort`` by ``INITIATION_TIMESTAMP`` (the default, ``DESCENDING``),
  ``DISCONNECT_TIMESTAMP``, ``CHANNEL`` or ``INITIATION_METHOD``.

Pages are offsets into the sorted result, in a NextToken bound to the whole
request (a token from another search is refused); ``TotalCount`` counts every
match.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Callable, Mapping, Sequence
from datetime import UTC, datetime
from typing import Any

from livelens.contacts.models import Contact, iso
from livelens.contacts.service import ContactCenter
from livelens.errors import InvalidRequestException
from livelens.storage.base import Transaction

DEFAULT_PAGE = 100
TIME_FIELDS = {"INITIATION_TIMESTAMP": "initiation_timestamp", "DISCONNECT_TIMESTAMP": "disconnect_timestamp"}
SORT_KEYS: dict[str, Callable[[Contact], Any]] = {
    "INITIATION_TIMESTAMP": lambda c: c.initiation_timestamp,
    "DISCONNECT_TIMESTAMP": lambda c: c.disconnect_timestamp or "",
    "CHANNEL": lambda c: c.channel,
    "INITIATION_METHOD": lambda c: c.initiation_method,
}
SUPPORTED = ("Channels", "InitiationMethods", "Name", "ContactAnalysis", "SearchableContactAttributes")
_WORD = re.compile(r"\w+", re.UNICODE)


def _moment(value: Any, field: str) -> str:
    if isinstance(value, datetime):
        moment = value if value.tzinfo else value.replace(tzinfo=UTC)
    elif isinstance(value, (int, float)):
        moment = datetime.fromtimestamp(value, UTC)
    else:
        raise InvalidRequestException(f"{field} must be a timestamp.")
    return iso(moment)


def fts_phrase(text: str) -> str | None:
    """A search text as an FTS5 phrase of its words (``None`` if it has no word)."""
    words = _WORD.findall(text)
    return '"' + " ".join(words) + '"' if words else None


def _combine(results: Sequence[set[str]], match_type: str, universe: set[str]) -> set[str]:
    if match_type == "MATCH_ANY":
        return set().union(*results) if results else set()
    if match_type == "MATCH_NONE":
        return universe - set().union(*results) if results else universe
    out = set(universe)
    for found in results:
        out &= found
    return out


class ContactSearch:
    def __init__(self, center: ContactCenter) -> None:
        self.center = center

    def search(self, request: Mapping[str, Any]) -> tuple[list[Contact], str | None, int]:
        instance_id = request["InstanceId"]
        time_range = request["TimeRange"]
        field = TIME_FIELDS.get(time_range["Type"])
        if field is None:
            raise InvalidRequestException(
                f"TimeRange.Type {time_range['Type']} is not searchable in livelens (no scheduling, queues or "
                f"agents); use {' or '.join(TIME_FIELDS)}."
            )
        start, end = _moment(time_range["StartTime"], "TimeRange.StartTime"), _moment(
            time_range["EndTime"], "TimeRange.EndTime")
        if start > end:
            raise InvalidRequestException("TimeRange.StartTime must not be after TimeRange.EndTime.")
        criteria = dict(request.get("SearchCriteria") or {})
        unsupported = [k for k, v in criteria.items() if k not in SUPPORTED and v not in (None, [], {})]
        if unsupported:
            raise InvalidRequestException(
                f"SearchCriteria.{unsupported[0]} is not supported by livelens (it has no agents, queues, routing, "
                f"segment attributes, contact tags or AI agents); supported: {', '.join(SUPPORTED)}."
            )
        sort = request.get("Sort") or {"FieldName": "INITIATION_TIMESTAMP", "Order": "DESCENDING"}
        if sort["FieldName"] not in SORT_KEYS:
            raise InvalidRequestException(
                f"Sort.FieldName {sort['FieldName']} is not sortable in livelens; use {', '.join(SORT_KEYS)}."
            )
        limit = request.get("MaxResults") or DEFAULT_PAGE
        fingerprint = hashlib.sha256(json.dumps(
            {k: v for k, v in request.items() if k not in ("NextToken", "MaxResults")}, sort_keys=True, default=str
        ).encode()).hexdigest()[:32]
        scope = f"search|{instance_id}|{fingerprint}"
        offset = self.center.next_tokens.decode(request["NextToken"], scope) if request.get("NextToken") else 0
        with self.center.storage.read() as tx:
            self.center.get_instance(tx, instance_id)
            contacts = [Contact.from_record(r) for r in tx.list_instance_contacts(instance_id, start, end, field)]
            contacts = [c for c in contacts if self._matches_fields(c, criteria)]
            ids = {c.id for c in contacts}
            if criteria.get("ContactAnalysis"):
                ids &= self._transcript(tx, instance_id, criteria["ContactAnalysis"], ids)
        found = [c for c in contacts if c.id in ids]
        found.sort(key=lambda c: (SORT_KEYS[sort["FieldName"]](c), c.id), reverse=sort["Order"] == "DESCENDING")
        page = found[offset : offset + limit]
        token = self.center.next_tokens.encode(scope, offset + limit) if offset + limit < len(found) else None
        return page, token, len(found)

    @staticmethod
    def _matches_fields(contact: Contact, criteria: Mapping[str, Any]) -> bool:
        if criteria.get("Channels") and contact.channel not in criteria["Channels"]:
            return False
        if criteria.get("InitiationMethods") and contact.initiation_method not in criteria["InitiationMethods"]:
            return False
        name = criteria.get("Name")
        if name:
            words = set(_WORD.findall((contact.name or "").lower()))
            hits = [set(_WORD.findall(t.lower())) <= words and bool(_WORD.findall(t)) for t in name["SearchText"]]
            if not _bool_combine(hits, name["MatchType"]):
                return False
        attributes = criteria.get("SearchableContactAttributes")
        if attributes:
            hits = [contact.attributes.get(c["Key"]) in c["Values"] for c in attributes["Criteria"]]
            if not _bool_combine(hits, attributes.get("MatchType") or "MATCH_ALL"):
                return False
        return True

    @staticmethod
    def _transcript(tx: Transaction, instance_id: str, analysis: Mapping[str, Any], universe: set[str]) -> set[str]:
        transcript = analysis.get("Transcript") or {}
        results: list[set[str]] = []
        for i, criterion in enumerate(transcript.get("Criteria") or [], 1):
            phrases = []
            for text in criterion["SearchText"]:
                phrase = fts_phrase(text)
                if phrase is None:
                    raise InvalidRequestException(
                        f"SearchCriteria.ContactAnalysis.Transcript.Criteria.{i}.SearchText {text!r} has no word."
                    )
                phrases.append(tx.search_transcripts(instance_id, criterion["ParticipantRole"], phrase))
            inner = criterion["MatchType"]
            results.append(_combine(phrases, "MATCH_ALL" if inner == "MATCH_EXACT" else inner, universe))
        outer = transcript.get("MatchType") or "MATCH_ALL"
        return _combine(results, "MATCH_ALL" if outer == "MATCH_EXACT" else outer, universe) if results else universe


def _bool_combine(hits: Sequence[bool], match_type: str) -> bool:
    if match_type == "MATCH_ANY":
        return any(hits)
    if match_type == "MATCH_NONE":
        return not any(hits)
    return all(hits)
