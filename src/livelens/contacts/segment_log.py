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

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from livelens.contacts.models import IN_PROGRESS, Contact
from livelens.contacts.service import ContactCenter
from livelens.errors import InvalidRequestException, OutputTypeNotFoundException

V1_KINDS = ("Transcript", "Categories", "PostContactSummary")
V2_KINDS = ("Transcript", "Categories", "Issues", "Event", "Attachments", "PostContactSummary")
DEFAULT_PAGE_SIZE = 100


@dataclass(frozen=True)
class Page:
    """One page of a segment log; ``segments`` are wire-ready JSON texts (``{"Transcript": {...}}``)."""

    contact: Contact
    segments: list[str]
    next_token: str | None


class SegmentLog:
    def __init__(self, center: ContactCenter) -> None:
        self.center = center

    def list_v1(self, instance_id: str, contact_id: str, max_results: int | None, next_token: str | None) -> Page:
        """ListRealtimeContactAnalysisSegments: VOICE contacts, redacted whenever the policy redacts.

        (V1 has no OutputType: the redacted form is returned when the contact has one.)
        """

        def check(contact: Contact) -> None:
            if contact.channel != "VOICE":
                raise InvalidRequestException(
                    f"Contact {contact.id} is a {contact.channel} contact: "
                    "use ListRealtimeContactAnalysisSegmentsV2 (connect) for chat."
                )

        return self._page(instance_id, contact_id, "v1", V1_KINDS, None, max_results, next_token, check)

    def list_v2(
        self,
        instance_id: str,
        contact_id: str,
        output_type: str,
        segment_types: Sequence[str],
        max_results: int | None,
        next_token: str | None,
    ) -> Page:
        """ListRealtimeContactAnalysisSegmentsV2: CHAT contacts, Raw or Redacted."""
        # No SegmentTypes means every type; types livelens does not produce
        # (ExtractedInformation) simply match nothing.
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

        scope_filter = f"v2|{output_type}|{','.join(kinds)}"
        return self._page(instance_id, contact_id, scope_filter, kinds, output_type, max_results, next_token, check)

    def _page(self, instance_id: str, contact_id: str, scope_filter: str, kinds: Sequence[str],
              output_type: str | None, max_results: int | None, next_token: str | None, check: Any) -> Page:
        limit = max_results or DEFAULT_PAGE_SIZE
        scope = f"segments|{instance_id}|{contact_id}|{scope_filter}"
        output = {"Raw": "raw", "Redacted": "redacted"}.get(output_type or "", "redacted_or_raw")
        with self.center.storage.read() as tx:
            contact = self.center.get_contact(tx, instance_id, contact_id)
            check(contact)
            after = self.center.next_tokens.decode(next_token, scope) if next_token else 0
            rows = (
                tx.list_segments(contact_id, after=after, kinds=kinds, limit=limit + 1, output=output) if kinds else []
            )
        page = rows[:limit]
        segments = [f'{{"{kind}":{body}}}' for _seq, kind, body in page]
        position = page[-1][0] if page else after
        more = len(rows) > limit or contact.analysis_status == IN_PROGRESS
        return Page(contact, segments, self.center.next_tokens.encode(scope, position) if more else None)
