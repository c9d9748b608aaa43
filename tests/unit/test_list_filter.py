"""ListFilter: categories filtered by the tags of the rules that made them."""

from __future__ import annotations

from typing import Any

import pytest

from livelens.contacts.list_filter import parse_list_filter
from livelens.contacts.tags import parse_arn
from livelens.errors import InvalidParameterException, InvalidRequestException

RULE_TAGS = {"r-billing": {"team": "billing", "tier": "gold"}, "r-sales": {"team": "sales"}, "r-none": {}}
V1_BODY: dict[str, Any] = {
    "MatchedCategories": ["billing", "sales", "untagged", "gone"],
    "MatchedDetails": {
        "billing": {"PointsOfInterest": [], "RuleId": "r-billing"},
        "sales": {"PointsOfInterest": [], "RuleId": "r-sales"},
        "untagged": {"PointsOfInterest": [], "RuleId": "r-none"},
        "gone": {"PointsOfInterest": [], "RuleId": "r-deleted"},
    },
}


def _kept(list_filter: dict[str, Any]) -> list[str] | None:
    parsed = parse_list_filter(list_filter)
    assert parsed is not None
    out = parsed.apply(V1_BODY, RULE_TAGS.get)
    if out is None:
        return None
    assert list(out["MatchedDetails"]) == out["MatchedCategories"]
    return list(out["MatchedCategories"])


def test_tag_condition_equals_and_not_equals() -> None:
    assert _kept({"CategoriesAttributeFilter": {"TagCondition": {"TagKey": "team", "TagValue": "billing"}}}) == [
        "billing"
    ]
    assert _kept({"CategoriesAttributeFilter": {"TagCondition": {"TagKey": "team"}}}) == ["billing", "sales"]
    not_billing = {"TagKey": "team", "TagValue": "billing", "ComparisonType": "NOT_EQUALS"}
    # A deleted rule's category fails every filter, NOT_EQUALS included (fail closed).
    assert _kept({"CategoriesAttributeFilter": {"TagCondition": not_billing}}) == ["sales", "untagged"]


def test_and_or_conditions() -> None:
    gold_billing = {
        "TagConditions": [{"TagKey": "team", "TagValue": "billing"}, {"TagKey": "tier", "TagValue": "gold"}]
    }
    assert _kept({"CategoriesAttributeFilter": {"AndCondition": gold_billing}}) == ["billing"]
    sales = {"TagConditions": [{"TagKey": "team", "TagValue": "sales"}]}
    assert _kept({"CategoriesAttributeFilter": {"OrConditions": [gold_billing, sales]}}) == ["billing", "sales"]
    assert _kept({"CategoriesAttributeFilter": {"TagCondition": {"TagKey": "team", "TagValue": "hr"}}}) is None


def test_fingerprint_depends_on_the_filter_only() -> None:
    a = parse_list_filter({"CategoriesAttributeFilter": {"TagCondition": {"TagKey": "team", "TagValue": "x"}}})
    b = parse_list_filter({"CategoriesAttributeFilter": {"TagCondition": {"TagKey": "team", "TagValue": "x"}}})
    c = parse_list_filter({"CategoriesAttributeFilter": {"TagCondition": {"TagKey": "team", "TagValue": "y"}}})
    assert a and b and c and a.fingerprint == b.fingerprint != c.fingerprint
    assert parse_list_filter(None) is None and parse_list_filter({}) is None


@pytest.mark.parametrize(
    "attribute_filter, mentions",
    [
        ({}, "exactly one"),
        ({"TagCondition": {"TagKey": "a"}, "AndCondition": {"TagConditions": [{"TagKey": "b"}]}}, "exactly one"),
        ({"TagCondition": {"TagValue": "x"}}, "TagKey"),
        ({"AndCondition": {"TagConditions": []}}, "TagConditions"),
        ({"OrConditions": []}, "OrConditions"),
    ],
)
def test_bad_filters_name_the_field(attribute_filter: dict[str, Any], mentions: str) -> None:
    with pytest.raises(InvalidRequestException, match=mentions):
        parse_list_filter({"CategoriesAttributeFilter": attribute_filter})


def test_arns() -> None:
    instance = "arn:aws:connect:us-east-1:123456789012:instance/abc"
    assert parse_arn(instance).kind == "instance"
    rule = parse_arn(f"{instance}/rule/r1")
    assert (rule.kind, rule.instance_id, rule.resource_id, rule.instance_arn) == ("rule", "abc", "r1", instance)
    for bad in ("not-an-arn", f"{instance}/queue/q1", "arn:aws:s3:::bucket"):
        with pytest.raises(InvalidParameterException):
            parse_arn(bad)
