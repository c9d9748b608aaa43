"""livelens' own operations, under /livelens/v1: voice utterances and attachment uploads."""

from __future__ import annotations

from typing import Any

from livelens.api.context import RequestContext
from livelens.api.routing import operation
from livelens.api.serialize import parse_json_body

UTTERANCES_URI = "/livelens/v1/instances/{InstanceId}/contacts/{ContactId}/utterances"


@operation("livelens", "PutUtterances", method="POST", uri=UTTERANCES_URI)
def put_utterances(ctx: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
    body = parse_json_body(ctx.body)
    return ctx.services.voice.add_utterances(params["InstanceId"], params["ContactId"], body)


@operation("livelens", "UploadAttachment", method="PUT", uri="/livelens/v1/attachments/{AttachmentId}",
           auth="presigned")
def upload_attachment(ctx: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
    ctx.services.chat.receive_upload(params["AttachmentId"], params.get("Body") or b"", params.get("Token"),
                                     params.get("ContentType"))
    return {}
