"""connect rules (CreateRule … DeleteRule) and livelens' native rules endpoints: webhooks, dry run, actions."""

from __future__ import annotations

from typing import Any

from livelens.api.context import RequestContext
from livelens.api.routing import operation
from livelens.api.serialize import parse_json_body
from livelens.contacts.rule_book import RuleBook

Params = dict[str, Any]
RULE_FIELDS = (
    "Name",
    "RuleId",
    "RuleArn",
    "TriggerEventSource",
    "Function",
    "Actions",
    "PublishStatus",
    "CreatedTime",
    "LastUpdatedTime",
    "LastUpdatedBy",
    "Tags",
)


def _book(ctx: RequestContext) -> RuleBook:
    assert ctx.services.rules is not None
    return ctx.services.rules


@operation("connect", "CreateRule")
def create_rule(ctx: RequestContext, params: Params) -> dict[str, Any]:
    request = {k: v for k, v in params.items() if k != "ClientToken"}
    return _book(ctx).create_rule(request, params.get("ClientToken"), ctx.caller_arn)


@operation("connect", "ListRules")
def list_rules(ctx: RequestContext, params: Params) -> dict[str, Any]:
    rules, token = _book(ctx).list_rules(
        params["InstanceId"],
        params.get("PublishStatus"),
        params.get("EventSourceName"),
        params.get("MaxResults"),
        params.get("NextToken"),
    )
    summaries = [
        {
            "Name": r["Name"],
            "RuleId": r["RuleId"],
            "RuleArn": r["RuleArn"],
            "EventSourceName": r["TriggerEventSource"]["EventSourceName"],
            "PublishStatus": r["PublishStatus"],
            "ActionSummaries": [{"ActionType": a["ActionType"]} for a in r["Actions"]],
            "CreatedTime": r["CreatedTime"],
            "LastUpdatedTime": r["LastUpdatedTime"],
        }
        for r in rules
    ]
    return {"RuleSummaryList": summaries, "NextToken": token}


@operation("connect", "DescribeRule")
def describe_rule(ctx: RequestContext, params: Params) -> dict[str, Any]:
    record = _book(ctx).describe_rule(params["InstanceId"], params["RuleId"])
    rule = {k: record[k] for k in RULE_FIELDS if record.get(k) not in (None, {})}
    return {"Rule": rule}


@operation("connect", "UpdateRule")
def update_rule(ctx: RequestContext, params: Params) -> dict[str, Any]:
    _book(ctx).update_rule(params, ctx.caller_arn)
    return {}


@operation("connect", "DeleteRule")
def delete_rule(ctx: RequestContext, params: Params) -> dict[str, Any]:
    _book(ctx).delete_rule(params["InstanceId"], params["RuleId"])
    return {}


@operation("livelens", "PutWebhooks", method="PUT", uri="/livelens/v1/instances/{InstanceId}/webhooks")
def put_webhooks(ctx: RequestContext, params: Params) -> dict[str, Any]:
    return _book(ctx).put_webhooks(params["InstanceId"], parse_json_body(ctx.body))


@operation("livelens", "GetWebhooks", method="GET", uri="/livelens/v1/instances/{InstanceId}/webhooks")
def get_webhooks(ctx: RequestContext, params: Params) -> dict[str, Any]:
    return _book(ctx).get_webhooks(params["InstanceId"])


@operation("livelens", "TestRule", method="POST", uri="/livelens/v1/instances/{InstanceId}/rules/test")
def test_rule(ctx: RequestContext, params: Params) -> dict[str, Any]:
    return _book(ctx).test(params["InstanceId"], parse_json_body(ctx.body))


@operation("livelens", "ListRuleActions", method="GET", uri="/livelens/v1/instances/{InstanceId}/actions")
def list_rule_actions(ctx: RequestContext, params: Params) -> dict[str, Any]:
    return _book(ctx).list_actions(params["InstanceId"])


@operation("livelens", "ListAlerts", method="GET", uri="/livelens/v1/instances/{InstanceId}/alerts")
def list_alerts(ctx: RequestContext, params: Params) -> dict[str, Any]:
    return _book(ctx).list_alerts(params["InstanceId"])
