"""Reading a contact's segment log, page by page.

The log is append-only and ordered by a per-contact sequence number; a page
is a keyset range scan after the position its NextToken holds, so it costs
the same at any depth. The contact's analysis status is read in the same
snapshot as the page, which is what makes the NextToken rule exact: while the
analysis is IN_PROGRESS every page carries a NextToken (also when nothing is
new yet); once it is COMPLETED or FAILED, the page that returns the last
segment carries none.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from livelens.contacts.list_filter import CategoryFilter
from livelens.contacts.models import IN_PROGRESS, Contact
from livelens.contacts.service import ContactCenter
from livelens.errors import InvalidRequestException, OutputTypeNotFoundException
from livelens.storage.base import Transaction

V1_KINDS = ("Transcript", "Categories", "PostContactSummary", "ExtractedInformation")
V2_KINDS = ("Transcript", "Categories", "Issues", "Event", "Attachments", "PostContactSummary", "ExtractedInformation")
DEFAULT_PAGE_SIZE = 100


@dataclass(frozen=True)
class Page:
    """One page of a segment log; ``segments`` are wire-ready JSON texts (``{"Transcript": {...}}``)."""

    contact: Contact
    segments: list[str]
    next_token: str | None
    cursors: tuple[str, ...] = ()  # per segment: a NextToken resuming right after it (the segment stream's ids)


class SegmentLog:
    def __init__(self, center: ContactCenter) -> None:
        self.center = center

    def list_v1(self, instance_id: str, contact_id: str, max_results: int | None, next_token: str | None,
                category_filter: CategoryFilter | None = None, *, with_cursors: bool = False) -> Page:
        """ListRealtimeContactAnalysisSegments: VOICE contacts, redacted whenever the policy redacts.

        (V1 has no OutputType: the redacted form is returned when the contact has one.)
        """

        def check(contact: Contact) -> None:
            if contact.channel != "VOICE":
                raise InvalidRequestException(
                    f"Contact {contact.id} is a {contact.channel} contact: "
                    "use ListRealtimeContactAnalysisSegmentsV2 (connect) for chat."
                )

        scope_filter = f"v1|{category_filter.fingerprint}" if category_filter else "v1"
        return self._page(instance_id, contact_id, scope_filter, V1_KINDS, None, max_results, next_token, check,
                          category_filter, with_cursors)

    def list_v2(
        self,
        instance_id: str,
        contact_id: str,
        output_type: str,
        segment_types: Sequence[str],
        max_results: int | None,
        next_token: str | None,
        category_filter: CategoryFilter | None = None,
        *,
        with_cursors: bool = False,
    ) -> Page:
        """ListRealtimeContactAnalysisSegmentsV2: CHAT contacts, Raw or Redacted."""
        # No SegmentTypes means every type.
        kinds = tuple(k for k in V2_KINDS if k in set(segment_types)) if segment_types else V2_KINDS

        def check(contact: Contact) -> None:
            if contact.channel != "CHAT":
                raise InvalidRequestException(
                    f"Contact {contact.id} is a {contact.channel} contact: ListRealtimeContactAnalysisSegmentsV2 "
                    "supports CHAT only; use ListRealtimeContactAnalysisSegments (connect-contact-lens) for voice."
                )
            if output_type == "Raw" and not contact.keeps_original:
                raise OutputTypeNotFoundException(
                    f"OutputType Raw is not available: contact {contact.id} has redaction policy RedactedOnly."
                )
            if output_type == "Redacted" and not contact.redacts:
                raise OutputTypeNotFoundException(
                    f"OutputType Redacted is not available: contact {contact.id} has redaction policy None."
                )

        if "Categories" not in kinds:
            category_filter = None  # AWS: the filter applies only when SegmentTypes includes Categories
        scope_filter = f"v2|{output_type}|{','.join(kinds)}"
        if category_filter is not None:
            scope_filter += f"|{category_filter.fingerprint}"
        return self._page(instance_id, contact_id, scope_filter, kinds, output_type, max_results, next_token, check,
                          category_filter, with_cursors)

    def _page(self, instance_id: str, contact_id: str, scope_filter: str, kinds: Sequence[str],
              output_type: str | None, max_results: int | None, next_token: str | None, check: Any,
              category_filter: CategoryFilter | None = None, with_cursors: bool = False) -> Page:
        limit = max_results or DEFAULT_PAGE_SIZE
        scope = f"segments|{instance_id}|{contact_id}|{scope_filter}"
        output = {"Raw": "raw", "Redacted": "redacted"}.get(output_type or "", "redacted_or_raw")
        with self.center.storage.read() as tx:
            contact = self.center.get_contact(tx, instance_id, contact_id)
            check(contact)
            after = self.center.next_tokens.decode(next_token, scope) if next_token else 0
            scanned = after
            if category_filter is None:
                rows = (
                    tx.list_segments(contact_id, after=after, kinds=kinds, limit=limit + 1, output=output)
                    if kinds else []
                )
            else:
                rows, scanned = self._filtered(tx, instance_id, contact_id, after, kinds, limit, output,
                                               category_filter)
        page = rows[:limit]
        segments = [f'{{"{kind}":{body}}}' for _seq, kind, body in page]
        position = page[-1][0] if page else after
        if len(rows) <= limit:
            position = max(position, scanned)  # skip what the filter dropped at the end
        more = len(rows) > limit or contact.analysis_status == IN_PROGRESS
        encode = self.center.next_tokens.encode
        cursors = tuple(encode(scope, seq) for seq, _kind, _body in page) if with_cursors else ()
        return Page(contact, segments, self.center.next_tokens.encode(scope, position) if more else None, cursors)

    @staticmethod
    def _filtered(tx: Transaction, instance_id: str, contact_id: str, after: int, kinds: Sequence[str], limit: int,
                  output: str, category_filter: CategoryFilter) -> tuple[list[tuple[int, str, str]], int]:
        """Up to ``limit + 1`` rows with the filter applied to Categories (dropped ones do not count),
        and the last position scanned."""
        tags: dict[str, Mapping[str, str] | None] = {}

        def tags_of(rule_id: str) -> Mapping[str, str] | None:
            if rule_id not in tags:
                record = tx.get_rule(rule_id)
                tags[rule_id] = (
                    dict(record.get("Tags") or {}) if record and record.get("InstanceId") == instance_id else None
                )
            return tags[rule_id]

        kept: list[tuple[int, str, str]] = []
        while len(kept) <= limit:
            batch = tx.list_segments(contact_id, after=after, kinds=kinds, limit=limit + 1, output=output)
            for seq, kind, body in batch:
                after = seq
                if kind == "Categories":
                    filtered = category_filter.apply(json.loads(body), tags_of)
                    if filtered is None:
                        continue
                    body = json.dumps(filtered, separators=(",", ":"), ensure_ascii=False)
                kept.append((seq, kind, body))
                if len(kept) > limit:
                    break
            if len(batch) <= limit:
                break
        return kept, after
