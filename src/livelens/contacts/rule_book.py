"""Category rules as the connect rules API sees them: CRUD, webhooks, recorded actions, the dry run.

:class:`RuleBook` is what the wire layer (:mod:`livelens.api.ops.connect_rules`) and the
``livelens rules`` commands call for CreateRule, ListRules, DescribeRule, UpdateRule and
DeleteRule, the instance's webhooks, its recorded actions and alerts, and the dry run. Rules
firing on live contacts are :mod:`livelens.contacts.rule_runner`'s; the rule language itself
(parsing, evaluation, alert bodies) is :mod:`livelens.rules`'.
"""

from __future__ import annotations

import json
import secrets
import uuid
from collections.abc import Callable, Mapping, Sequence
from typing import Any
from urllib.parse import urlsplit

from livelens.contacts.extraction import EXTRACT, definition_ids
from livelens.contacts.models import Contact, now_iso
from livelens.contacts.service import MESSAGE, UTTERANCE, ContactCenter, idempotent
from livelens.contacts.tags import check_tags
from livelens.errors import InvalidRequestException, ResourceConflictException, ResourceNotFoundException
from livelens.rules.aws_function import AwsFunctionError, parse_function
from livelens.rules.dryrun import dry_run, turn_facts
from livelens.rules.engine import (
    CATEGORY,
    EVENT,
    NOTIFICATION,
    TASK,
    Embed,
)
from livelens.rules.parser import Function, RuleSyntaxError
from livelens.storage.base import Record, Transaction

#: The event sources livelens evaluates, and the channel each applies to.
EVENT_SOURCES = {"OnRealTimeCallAnalysisAvailable": "VOICE", "OnRealTimeChatAnalysisAvailable": "CHAT"}
SUPPORTED_ACTIONS = {
    CATEGORY: "AssignContactCategoryAction",
    EVENT: "EventBridgeAction",
    NOTIFICATION: "SendNotificationAction",
    TASK: "TaskAction",
    EXTRACT: "ExtractInformationAction",
}
MAX_ACTIONS = 20
MAX_WEBHOOKS = 10
#: Instance stream events a webhook can subscribe to (``StreamEvents``); ALERTs go to every webhook.
STREAM_EVENT_TYPES = ("STARTED", "SEGMENTS", "COMPLETED", "FAILED")
DEFAULT_PAGE = 50


class RuleBook:
    """The rules of every instance: CRUD with validation beyond the service model."""

    def __init__(self, center: ContactCenter, embedder: Callable[[], Embed] | None = None) -> None:
        self.center = center
        self.storage = center.storage
        self.embedder = embedder

    # validation -----------------------------------------------------------
    @staticmethod
    def compile_function(source: str, event_source: str) -> Function:
        try:
            function = parse_function(source, EVENT_SOURCES.get(event_source))
        except (RuleSyntaxError, AwsFunctionError) as exc:
            raise InvalidRequestException(f"Function: {exc}") from None
        if EVENT_SOURCES.get(event_source) == "CHAT" and function.uses_seconds:
            leaf = next(x for x in function.leaves if getattr(x, "window", None) and x.window.unit == "seconds")  # type: ignore[attr-defined]
            raise InvalidRequestException(
                f"Function: windows in seconds apply to voice; a chat rule ({event_source}) counts turns "
                f"(in {function.text_of(leaf)!r} at position {leaf.span[0]})."
            )
        return function

    @staticmethod
    def check_event_source(trigger: Mapping[str, Any]) -> str:
        name = str(trigger.get("EventSourceName"))
        if name not in EVENT_SOURCES:
            raise InvalidRequestException(
                f"TriggerEventSource.EventSourceName {name} is not evaluated by livelens; use "
                f"{' or '.join(EVENT_SOURCES)}."
            )
        if trigger.get("IntegrationAssociationId"):
            raise InvalidRequestException(
                "TriggerEventSource.IntegrationAssociationId applies to third-party "
                "integrations, which livelens does not have."
            )
        return name

    @staticmethod
    def check_actions(actions: Sequence[Mapping[str, Any]]) -> None:
        if not actions:
            raise InvalidRequestException("Actions must list at least one action.")
        if len(actions) > MAX_ACTIONS:
            raise InvalidRequestException(f"Actions may list at most {MAX_ACTIONS} actions.")
        for i, action in enumerate(actions, 1):
            kind = action.get("ActionType")
            if kind not in SUPPORTED_ACTIONS:
                raise InvalidRequestException(
                    f"Actions.{i}.ActionType {kind} is not supported by livelens real-time rules; use "
                    f"{', '.join(SUPPORTED_ACTIONS)}."
                )
            member = SUPPORTED_ACTIONS[kind]
            if kind != CATEGORY and not action.get(member):
                raise InvalidRequestException(f"Actions.{i}.{member} is required for ActionType {kind}.")
            if kind == EXTRACT and not action[member].get("RulesExtractionDefinitions"):
                raise InvalidRequestException(
                    f"Actions.{i}.{member}.RulesExtractionDefinitions must name at least one extraction definition."
                )
            others = [k for k in action if k not in ("ActionType", member)]
            if others:
                raise InvalidRequestException(f"Actions.{i}.{others[0]} does not belong to ActionType {kind}.")

    @staticmethod
    def check_filters(request: Mapping[str, Any]) -> None:
        if request.get("PreEvaluationFilters"):
            raise InvalidRequestException(
                "PreEvaluationFilters are not supported by livelens; test contact attributes in the Function "
                'instead, e.g. attribute "queue" = "billing".'
            )

    def _unique_name(self, tx: Transaction, instance_id: str, name: str, rule_id: str | None = None) -> None:
        existing = tx.find_rule_by_name(instance_id, name)
        if existing is not None and existing["RuleId"] != rule_id:
            raise ResourceConflictException(f"A rule named {name} already exists in instance {instance_id}.")

    @staticmethod
    def _check_definitions(tx: Transaction, instance_id: str, actions: Sequence[Mapping[str, Any]]) -> None:
        for definition_id in definition_ids(actions):
            found = tx.get_extraction_definition(definition_id)
            if found is None or found.get("InstanceId") != instance_id:
                raise ResourceNotFoundException(
                    f"Extraction definition not found: {definition_id} (ExtractInformationAction)"
                )

    def _rule(self, tx: Transaction, instance_id: str, rule_id: str) -> Record:
        self.center.get_instance(tx, instance_id)
        record = tx.get_rule(rule_id)
        if record is None or record.get("InstanceId") != instance_id:
            raise ResourceNotFoundException(f"Rule not found: {rule_id}")
        return record

    # operations -----------------------------------------------------------
    def create_rule(self, request: Mapping[str, Any], client_token: str | None, updated_by: str) -> dict[str, Any]:
        event_source = self.check_event_source(request["TriggerEventSource"])
        self.compile_function(request["Function"], event_source)
        self.check_actions(request["Actions"])
        self.check_filters(request)
        check_tags(request.get("Tags") or {}, "Tags")

        def create() -> dict[str, Any]:
            instance = self.center.get_instance(tx, request["InstanceId"])
            self._unique_name(tx, instance.id, request["Name"])
            self._check_definitions(tx, instance.id, request["Actions"])
            rule_id = str(uuid.uuid4())
            now = now_iso()
            record = {
                "InstanceId": instance.id,
                "Name": request["Name"],
                "RuleId": rule_id,
                "RuleArn": f"{instance.arn}/rule/{rule_id}",
                "TriggerEventSource": dict(request["TriggerEventSource"]),
                "Function": request["Function"],
                "Actions": list(request["Actions"]),
                "PublishStatus": request["PublishStatus"],
                "CreatedTime": now,
                "LastUpdatedTime": now,
                "LastUpdatedBy": updated_by,
                "Tags": dict(request.get("Tags") or {}),
            }
            tx.insert_rule(rule_id, instance.id, record["Name"], record)
            return {"RuleArn": record["RuleArn"], "RuleId": rule_id}

        with self.storage.write() as tx:
            return idempotent(tx, f"CreateRule:{request['InstanceId']}", client_token, request, create)

    def describe_rule(self, instance_id: str, rule_id: str) -> Record:
        with self.storage.read() as tx:
            return self._rule(tx, instance_id, rule_id)

    def list_rules(
        self,
        instance_id: str,
        publish_status: str | None,
        event_source: str | None,
        max_results: int | None,
        next_token: str | None,
    ) -> tuple[list[Record], str | None]:
        limit = max_results or DEFAULT_PAGE
        scope = f"rules|{instance_id}|{publish_status or ''}|{event_source or ''}"
        after = self.center.next_tokens.decode(next_token, scope) if next_token else 0
        found: list[tuple[int, Record]] = []
        with self.storage.read() as tx:
            self.center.get_instance(tx, instance_id)
            while len(found) <= limit:
                rows = tx.list_rules(instance_id, after, 200)
                if not rows:
                    break
                for seq, record in rows:
                    if publish_status and record["PublishStatus"] != publish_status:
                        continue
                    if event_source and record["TriggerEventSource"]["EventSourceName"] != event_source:
                        continue
                    found.append((seq, record))
                after = rows[-1][0]
        page = found[:limit]
        token = self.center.next_tokens.encode(scope, page[-1][0]) if len(found) > limit else None
        return [record for _, record in page], token

    def update_rule(self, request: Mapping[str, Any], updated_by: str) -> None:
        self.check_actions(request["Actions"])
        self.check_filters(request)
        with self.storage.write() as tx:
            record = self._rule(tx, request["InstanceId"], request["RuleId"])
            self.compile_function(request["Function"], record["TriggerEventSource"]["EventSourceName"])
            self._unique_name(tx, record["InstanceId"], request["Name"], record["RuleId"])
            self._check_definitions(tx, record["InstanceId"], request["Actions"])
            record.update(
                Name=request["Name"],
                Function=request["Function"],
                Actions=list(request["Actions"]),
                PublishStatus=request["PublishStatus"],
                LastUpdatedTime=now_iso(),
                LastUpdatedBy=updated_by,
            )
            tx.update_rule(record["RuleId"], record["Name"], record)

    def delete_rule(self, instance_id: str, rule_id: str) -> None:
        with self.storage.write() as tx:
            self._rule(tx, instance_id, rule_id)
            tx.delete_rule(rule_id)

    # webhooks, actions, alerts ------------------------------------------------
    def put_webhooks(self, instance_id: str, body: Mapping[str, Any]) -> dict[str, Any]:
        hooks = body.get("Webhooks")
        if not isinstance(hooks, list) or len(hooks) > MAX_WEBHOOKS:
            raise InvalidRequestException(f"Webhooks must be a list of at most {MAX_WEBHOOKS} webhooks.")
        clean = []
        for i, hook in enumerate(hooks, 1):
            if not isinstance(hook, dict):
                raise InvalidRequestException(f"Webhooks.{i} must be an object with Url and optional Secret.")
            url = hook.get("Url")
            parts = urlsplit(url) if isinstance(url, str) else None
            if parts is None or parts.scheme not in ("http", "https") or not parts.netloc or len(str(url)) > 2048:
                raise InvalidRequestException(f"Webhooks.{i}.Url must be an http or https URL.")
            secret = hook.get("Secret")
            if secret is None:
                secret = secrets.token_urlsafe(32)
            if not isinstance(secret, str) or not 16 <= len(secret) <= 256:
                raise InvalidRequestException(f"Webhooks.{i}.Secret must be a string of 16 to 256 characters.")
            unknown = [k for k in hook if k not in ("Url", "Secret", "StreamEvents")]
            if unknown:
                raise InvalidRequestException(f"Webhooks.{i}.{unknown[0]} is not a webhook field.")
            entry: dict[str, Any] = {"Url": url, "Secret": secret}
            events = hook.get("StreamEvents")
            if events is not None:
                if not isinstance(events, list) or not all(e in STREAM_EVENT_TYPES for e in events):
                    raise InvalidRequestException(
                        f"Webhooks.{i}.StreamEvents must be a list of {', '.join(STREAM_EVENT_TYPES)} "
                        "(rule alerts go to every webhook)."
                    )
                if events:
                    entry["StreamEvents"] = list(dict.fromkeys(events))
            clean.append(entry)
        with self.storage.write() as tx:
            self.center.get_instance(tx, instance_id)
            before = {(h["Url"], tuple(h.get("StreamEvents", ()))): h.get("Position")
                      for h in (tx.get_webhooks(instance_id) or {}).get("Webhooks", [])}
            head = tx.last_instance_event()
            stored = []
            for entry in clean:
                if "StreamEvents" in entry:  # from now on; a webhook kept as it was keeps its place
                    kept = before.get((entry["Url"], tuple(entry["StreamEvents"])))
                    entry = {**entry, "Position": head if kept is None else kept}
                stored.append(entry)
            tx.put_webhooks(instance_id, {"Webhooks": stored})
        return {"Webhooks": clean}

    def get_webhooks(self, instance_id: str) -> dict[str, Any]:
        with self.storage.read() as tx:
            self.center.get_instance(tx, instance_id)
            config = tx.get_webhooks(instance_id) or {"Webhooks": []}
        return {"Webhooks": [{k: h[k] for k in ("Url", "StreamEvents") if k in h} for h in config["Webhooks"]]}

    def list_actions(self, instance_id: str, contact_id: str | None = None, limit: int = 1000) -> dict[str, Any]:
        with self.storage.read() as tx:
            self.center.get_instance(tx, instance_id)
            actions = tx.list_rule_actions(instance_id, limit)
        if contact_id:
            actions = [a for a in actions if a.get("ContactId") == contact_id]
        return {"Actions": actions}

    def list_alerts(self, instance_id: str, limit: int = 1000) -> dict[str, Any]:
        with self.storage.read() as tx:
            self.center.get_instance(tx, instance_id)
            rows = tx.list_alerts(instance_id, limit)
        return {
            "Alerts": [
                {
                    "Id": r["id"],
                    "EventId": r["event_id"],
                    "Status": r["status"],
                    "Attempts": r["attempts"],
                    "Url": r["url"],
                    "RuleName": r["rule_name"],
                    "ContactId": r["contact_id"],
                    "LastStatus": r.get("last_status"),
                    "LastError": r.get("last_error"),
                    "Event": json.loads(r["body"]),
                }
                for r in rows
            ]
        }

    # dry run ------------------------------------------------------------------------
    def test(self, instance_id: str, body: Mapping[str, Any]) -> dict[str, Any]:
        """The native dry run: a Function (or a stored rule) over a stored contact or a given transcript."""
        if not isinstance(body, Mapping):
            raise InvalidRequestException("The request body must be a JSON object.")
        with self.center.storage.read() as tx:
            self.center.get_instance(tx, instance_id)
            source = body.get("Function")
            event_source = None
            if body.get("RuleId"):
                record = tx.get_rule(str(body["RuleId"]))
                if record is None or record.get("InstanceId") != instance_id:
                    raise ResourceNotFoundException(f"Rule not found: {body['RuleId']}")
                source, event_source = record["Function"], record["TriggerEventSource"]["EventSourceName"]
            if not isinstance(source, str) or not source.strip():
                raise InvalidRequestException("Function (or RuleId) is required.")
            attributes: dict[str, str] = dict(body.get("Attributes") or {})
            if body.get("ContactId"):
                contact = self.center.get_contact(tx, instance_id, str(body["ContactId"]))
                items = tx.list_items(contact.id, limit=1_000_000, kinds=(MESSAGE, UTTERANCE))
                channel = contact.channel
                attributes = {**contact.attributes, **attributes}
                turns = [_stored_turn(contact, item) for item in items]
            elif isinstance(body.get("Transcript"), list):
                channel = str(body.get("Channel") or "CHAT").upper()
                turns = body["Transcript"]
            else:
                raise InvalidRequestException("Give ContactId (a stored contact) or Transcript (a list of turns).")
        if channel not in ("CHAT", "VOICE"):
            raise InvalidRequestException("Channel must be CHAT or VOICE.")
        function = RuleBook.compile_function(
            source,
            event_source
            or ("OnRealTimeChatAnalysisAvailable" if channel == "CHAT" else "OnRealTimeCallAnalysisAvailable"),
        )
        try:
            facts = turn_facts(turns)
        except ValueError as exc:
            raise InvalidRequestException(f"Transcript: {exc}") from None
        embed = self.embedder() if (self.embedder and function.semantic) else None
        return dry_run(function, facts, attributes=attributes, embed=embed)



def _stored_turn(contact: Contact, item: Mapping[str, Any]) -> dict[str, Any]:
    """A stored item as a dry-run turn: redacted text whenever the contact redacts."""
    content = item.get("content")
    if item.get("redaction"):
        content = item["redaction"]["content"]
    return {
        "Id": item["id"],
        "ParticipantRole": item.get("role"),
        "Content": content or "",
        "Sentiment": (item.get("analysis") or {}).get("sentiment"),
        "BeginOffsetMillis": item.get("begin_ms"),
        "EndOffsetMillis": item.get("end_ms"),
    }
