"""connect-contact-lens: the V1 segment list (voice)."""

from __future__ import annotations

from typing import Any

from livelens.api.context import RequestContext
from livelens.api.routing import operation
from livelens.api.serialize import JsonFragments
from livelens.contacts.list_filter import parse_list_filter


@operation("connect-contact-lens", "ListRealtimeContactAnalysisSegments")
def list_realtime_contact_analysis_segments(ctx: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
    page = ctx.services.segments.list_v1(
        params["InstanceId"],
        params["ContactId"],
        params.get("MaxResults"),
        params.get("NextToken"),
        parse_list_filter(params.get("ListFilter")),
    )
    return {"Segments": JsonFragments(page.segments), "NextToken": page.next_token}
