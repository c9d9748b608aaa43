"""connect: instances, contacts, participants and the V2 segment list."""

from __future__ import annotations

from typing import Any

from livelens.api.context import RequestContext
from livelens.api.routing import operation
from livelens.api.serialize import JsonFragments
from livelens.contacts.models import Contact, Instance

Params = dict[str, Any]


def instance_summary(instance: Instance, ctx: RequestContext) -> dict[str, Any]:
    return {
        "Id": instance.id,
        "Arn": instance.arn,
        "IdentityManagementType": instance.identity_management_type,
        "InstanceAlias": instance.alias,
        "CreatedTime": instance.created_time,
        "ServiceRole": instance.service_role,
        "InstanceStatus": "ACTIVE",
        "InboundCallsEnabled": instance.inbound_calls_enabled,
        "OutboundCallsEnabled": instance.outbound_calls_enabled,
        "InstanceAccessUrl": f"{ctx.base_url}/",
    }


def contact_description(contact: Contact) -> dict[str, Any]:
    return {
        "Arn": contact.arn,
        "Id": contact.id,
        "InitialContactId": contact.id,
        "PreviousContactId": contact.previous_contact_id,
        "RelatedContactId": contact.related_contact_id,
        "InitiationMethod": contact.initiation_method,
        "Name": contact.name,
        "Description": contact.description,
        "Channel": contact.channel,
        "InitiationTimestamp": contact.initiation_timestamp,
        "DisconnectTimestamp": contact.disconnect_timestamp,
        "LastUpdateTimestamp": contact.last_update_timestamp,
        "DisconnectReason": contact.disconnect_reason,
        "Attributes": contact.attributes or None,
    }


@operation("connect", "CreateInstance")
def create_instance(ctx: RequestContext, params: Params) -> dict[str, Any]:
    request = {k: v for k, v in params.items() if k != "ClientToken"}
    owner = ctx.caller.access_key if ctx.caller else None
    return ctx.services.center.create_instance(ctx.region, request, params.get("ClientToken"), owner)


@operation("connect", "DescribeInstance")
def describe_instance(ctx: RequestContext, params: Params) -> dict[str, Any]:
    instance = ctx.services.center.describe_instance(params["InstanceId"])
    return {"Instance": {**instance_summary(instance, ctx), "Tags": instance.tags or None}}


@operation("connect", "ListInstances")
def list_instances(ctx: RequestContext, params: Params) -> dict[str, Any]:
    instances, token = ctx.services.center.list_instances(params.get("MaxResults"), params.get("NextToken"),
                                                          ctx.instance_visible)
    return {"InstanceSummaryList": [instance_summary(i, ctx) for i in instances], "NextToken": token}


@operation("connect", "DeleteInstance")
def delete_instance(ctx: RequestContext, params: Params) -> dict[str, Any]:
    ctx.services.center.delete_instance(params["InstanceId"])
    return {}


@operation("connect", "StartChatContact")
def start_chat_contact(ctx: RequestContext, params: Params) -> dict[str, Any]:
    request = {k: v for k, v in params.items() if k != "ClientToken"}
    return ctx.services.center.start_chat_contact(request, params.get("ClientToken"))


@operation("connect", "CreateContact")
def create_contact(ctx: RequestContext, params: Params) -> dict[str, Any]:
    request = {k: v for k, v in params.items() if k != "ClientToken"}
    return ctx.services.center.create_contact(request, params.get("ClientToken"))


@operation("connect", "CreateParticipant")
def create_participant(ctx: RequestContext, params: Params) -> dict[str, Any]:
    request = {k: v for k, v in params.items() if k != "ClientToken"}
    return ctx.services.center.create_participant(request, params.get("ClientToken"))


@operation("connect", "StopContact")
def stop_contact(ctx: RequestContext, params: Params) -> dict[str, Any]:
    reason = (params.get("DisconnectReason") or {}).get("Code")
    ctx.services.center.stop_contact(params["InstanceId"], params["ContactId"], reason)
    return {}


@operation("connect", "DescribeContact")
def describe_contact(ctx: RequestContext, params: Params) -> dict[str, Any]:
    contact = ctx.services.center.describe_contact(params["InstanceId"], params["ContactId"])
    return {"Contact": contact_description(contact)}


@operation("connect", "ListRealtimeContactAnalysisSegmentsV2")
def list_realtime_contact_analysis_segments_v2(ctx: RequestContext, params: Params) -> dict[str, Any]:
    page = ctx.services.segments.list_v2(
        params["InstanceId"],
        params["ContactId"],
        params["OutputType"],
        params["SegmentTypes"],
        params.get("MaxResults"),
        params.get("NextToken"),
    )
    return {
        "Channel": page.contact.channel,
        "Status": page.contact.analysis_status,
        "Segments": JsonFragments(page.segments),
        "NextToken": page.next_token,
    }
