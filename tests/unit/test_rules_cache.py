"""The analysis worker compiles an instance's rules once per version of them: CreateRule,
UpdateRule and DeleteRule each apply from the next claim on, on both backends."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from livelens.contacts.models import Contact
from livelens.contacts.rule_runner import RuleRunner
from livelens.storage import Storage
from tests.unit.test_claims import contact_record

CHAT = "OnRealTimeChatAnalysisAvailable"


def rule(rule_id: str, function: str, status: str = "PUBLISHED", source: str = CHAT) -> dict[str, Any]:
    return {
        "InstanceId": "i1", "Name": rule_id, "RuleId": rule_id, "RuleArn": f"arn:rule/{rule_id}",
        "TriggerEventSource": {"EventSourceName": source}, "Function": function, "PublishStatus": status,
        "Actions": [{"ActionType": "ASSIGN_CONTACT_CATEGORY", "AssignContactCategoryAction": {}}],
    }


def test_rule_changes_apply_from_the_next_claim(open_test_storage: Callable[[], Storage]) -> None:
    storage = open_test_storage()
    runner = RuleRunner(center=None)  # type: ignore[arg-type]  # rules_for reads only the transaction
    contact = Contact.from_record(contact_record("c1"))

    def applying() -> list[tuple[str, str]]:
        with storage.read() as tx:
            return [(r.id, r.name) for r in runner.rules_for(tx, contact)]

    assert applying() == []
    with storage.write() as tx:
        tx.insert_rule("r1", "i1", "r1", rule("r1", "customer said ('refund')"))
        tx.insert_rule("v1", "i1", "v1", rule("v1", "customer said ('refund')",
                                               source="OnRealTimeCallAnalysisAvailable"))
        tx.insert_rule("d1", "i1", "d1", rule("d1", "customer said ('refund')", status="DRAFT"))
    assert applying() == [("r1", "r1")]  # voice rules and drafts do not apply to a chat
    first = applying()
    assert applying() == first
    with storage.write() as tx:
        tx.update_rule("d1", "d1", rule("d1", "customer said ('cancel')"))  # published now
    assert applying() == [("r1", "r1"), ("d1", "d1")]
    with storage.read() as tx:
        compiled = {r.id: r for r in runner.rules_for(tx, contact)}
    with storage.write() as tx:
        tx.update_rule("d1", "d1", rule("d1", "customer said ('close my account')"))
    with storage.read() as tx:
        recompiled = {r.id: r for r in runner.rules_for(tx, contact)}
    assert recompiled["d1"] != compiled["d1"] and recompiled["r1"] is compiled["r1"]
    with storage.write() as tx:
        tx.delete_rule("r1")
    assert applying() == [("d1", "d1")]
