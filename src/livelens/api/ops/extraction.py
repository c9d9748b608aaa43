"""connect extraction definitions: CreateExtractionDefinition … DeleteExtractionDefinition."""

from __future__ import annotations

from typing import Any

from livelens.api.context import RequestContext
from livelens.api.routing import operation
from livelens.contacts.extraction import ExtractionBook

Params = dict[str, Any]
FIELDS = (
    "Name",
    "ExtractionDefinitionId",
    "ExtractionDefinitionArn",
    "ExtractionConfiguration",
    "Display",
    "CreatedTime",
    "LastUpdatedTime",
    "LastUpdatedBy",
    "Tags",
)
SUMMARY = (
    "Name", "ExtractionDefinitionId", "ExtractionDefinitionArn", "CreatedTime", "LastUpdatedTime", "LastUpdatedBy"
)


def _book(ctx: RequestContext) -> ExtractionBook:
    assert ctx.services.extraction is not None
    return ctx.services.extraction


@operation("connect", "CreateExtractionDefinition")
def create_extraction_definition(ctx: RequestContext, params: Params) -> dict[str, Any]:
    request = {k: v for k, v in params.items() if k != "ClientToken"}
    return _book(ctx).create(request, params.get("ClientToken"), ctx.caller_arn)


@operation("connect", "DescribeExtractionDefinition")
def describe_extraction_definition(ctx: RequestContext, params: Params) -> dict[str, Any]:
    record = _book(ctx).describe(params["InstanceId"], params["ExtractionDefinitionId"])
    return {"ExtractionDefinition": {k: record[k] for k in FIELDS if record.get(k) not in (None, {})}}


@operation("connect", "ListExtractionDefinitions")
def list_extraction_definitions(ctx: RequestContext, params: Params) -> dict[str, Any]:
    records, token = _book(ctx).list(params["InstanceId"], params.get("MaxResults"), params.get("NextToken"))
    return {"ExtractionDefinitionSummaryList": [{k: r[k] for k in SUMMARY} for r in records], "NextToken": token}


@operation("connect", "UpdateExtractionDefinition")
def update_extraction_definition(ctx: RequestContext, params: Params) -> dict[str, Any]:
    _book(ctx).update(params, ctx.caller_arn)
    return {}


@operation("connect", "DeleteExtractionDefinition")
def delete_extraction_definition(ctx: RequestContext, params: Params) -> dict[str, Any]:
    _book(ctx).delete(params["InstanceId"], params["ExtractionDefinitionId"])
    return {}
