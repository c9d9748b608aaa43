"""connectparticipant: chat ingestion, authenticated by participant and connection tokens."""

from __future__ import annotations

from typing import Any

from livelens.api.context import RequestContext
from livelens.api.routing import operation

Params = dict[str, Any]


@operation("connectparticipant", "CreateParticipantConnection", auth="bearer")
def create_participant_connection(ctx: RequestContext, params: Params) -> dict[str, Any]:
    return ctx.services.chat.create_participant_connection(params, ctx.base_url)


@operation("connectparticipant", "SendMessage", auth="bearer")
def send_message(ctx: RequestContext, params: Params) -> dict[str, Any]:
    return ctx.services.chat.send_message(params)


@operation("connectparticipant", "SendEvent", auth="bearer")
def send_event(ctx: RequestContext, params: Params) -> dict[str, Any]:
    return ctx.services.chat.send_event(params)


@operation("connectparticipant", "StartAttachmentUpload", auth="bearer")
def start_attachment_upload(ctx: RequestContext, params: Params) -> dict[str, Any]:
    return ctx.services.chat.start_attachment_upload(params, ctx.base_url)


@operation("connectparticipant", "CompleteAttachmentUpload", auth="bearer")
def complete_attachment_upload(ctx: RequestContext, params: Params) -> dict[str, Any]:
    return ctx.services.chat.complete_attachment_upload(params)


@operation("connectparticipant", "GetTranscript", auth="bearer")
def get_transcript(ctx: RequestContext, params: Params) -> dict[str, Any]:
    return ctx.services.chat.get_transcript(params)


@operation("connectparticipant", "DisconnectParticipant", auth="bearer")
def disconnect_participant(ctx: RequestContext, params: Params) -> dict[str, Any]:
    return ctx.services.chat.disconnect_participant(params)
