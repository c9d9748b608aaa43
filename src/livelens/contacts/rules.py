"""Category rules in the domain: the connect rules API, firing on live contacts, alerts.

:class:`RuleBook` is what the wire layer calls for CreateRule, ListRules,
DescribeRule, UpdateRule and DeleteRule, webhooks, recorded actions and the
dry run. :class:`RuleRunner` is the analysis worker's collaborator: after a
turn's analysis it advances the contact's rules (:mod:`livelens.rules.engine`)
and returns the ``Categories`` segment (and, for rules with ``EXTRACT_INFORMATION``, the
``ExtractedInformation`` segments of :mod:`livelens.contacts.extraction_segments`, extracted over the
contact's turns so far); :meth:`RuleRunner.write` then writes
the rules' state, the alert outbox and the recorded actions inside the
worker's fenced transaction, the one that appends the turn's segments and
advances ``analysed_seq``. A turn is therefore evaluated exactly once, also across a
crash: before the commit nothing of it is stored, after it everything is.
"""

from __future__ import annotations

import functools
import json
import logging
import secrets
import time
import uuid
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

from livelens.analysis.extraction import ExtractionTurn, Extractor
from livelens.analysis.types import Redaction, TurnAnalysis
from livelens.contacts.extraction import EXTRACT, definition_ids
from livelens.contacts.extraction_segments import extraction_segments, turns_from_segments
from livelens.contacts.models import Contact, Instance, now_iso
from livelens.contacts.service import MESSAGE, UTTERANCE, ContactCenter, idempotent
from livelens.contacts.tags import check_tags
from livelens.errors import InvalidRequestException, ResourceConflictException, ResourceNotFoundException
from livelens.rules import alerts
from livelens.rules.aws_function import AwsFunctionError, parse_function
from livelens.rules.dryrun import dry_run, turn_facts
from livelens.rules.engine import (
    CATEGORY,
    EVENT,
    NOTIFICATION,
    TASK,
    CompiledRule,
    Embed,
    Evaluation,
    Firing,
    TurnFacts,
    needs_embedding,
)
from livelens.rules.parser import Function, RuleSyntaxError
from livelens.storage.base import Record, Transaction

log = logging.getLogger("livelens.rules")

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
V1_MAX_POINTS, V2_MAX_POINTS = 20, 5
DEFAULT_PAGE = 50

SegmentRow = tuple[str, dict[str, Any] | None, dict[str, Any] | None]


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


def _compiled(record: Record) -> CompiledRule:
    return _compile(
        record["RuleId"], record["Name"], record["Function"], json.dumps(record["Actions"]), record.get("RuleArn", "")
    )


@functools.lru_cache(maxsize=4096)
def _compile(rule_id: str, name: str, source: str, actions: str, arn: str) -> CompiledRule:
    return CompiledRule(rule_id, name, parse_function(source), tuple(json.loads(actions)), arn)


@dataclass
class RuleRunner:
    """The analysis worker's rules collaborator (see the module docstring).

    It carries no contact's state between calls: the worker reads the contact's
    rules and rule states inside its claiming transaction, advances one
    :class:`~livelens.rules.engine.Evaluation` over the contact's turns
    (:meth:`start`, :meth:`on_turn`, :meth:`on_end`) and writes
    ``evaluation.changed`` and the firings with :meth:`write` inside its
    fenced commit. The only thing kept is each instance's compiled rules, reused
    while the instance's :meth:`~livelens.storage.base.Transaction.rules_fingerprint`
    read in the claiming transaction is unchanged (any CreateRule, UpdateRule or
    DeleteRule changes it), so a rule change applies from the next claim on.
    """

    center: ContactCenter
    embedder: Callable[[], Embed] | None = None
    on_alert: Callable[[], None] = lambda: None
    clock: Callable[[], float] = time.time
    extractor: Extractor | None = None
    extractor_is_local: bool = True
    #: instance id -> (its rules' fingerprint, {channel: the PUBLISHED rules compiled})
    _compiled_rules: dict[str, tuple[tuple[int, int, int], dict[str, list[CompiledRule]]]] = field(
        default_factory=dict, init=False, repr=False)

    # what applies -------------------------------------------------------------
    def rules_for(self, tx: Transaction, contact: Contact) -> list[CompiledRule]:
        """The PUBLISHED rules of the contact's instance for its channel (deleted ones are gone), as
        stored in ``tx``: compiled once per version of the instance's rules."""
        fingerprint = tx.rules_fingerprint(contact.instance_id)
        cached = self._compiled_rules.get(contact.instance_id)
        if cached is None or cached[0] != fingerprint:
            cached = fingerprint, self._published(tx, contact.instance_id)
            self._compiled_rules[contact.instance_id] = cached
        return list(cached[1].get(contact.channel, ()))

    @staticmethod
    def _published(tx: Transaction, instance_id: str) -> dict[str, list[CompiledRule]]:
        by_channel: dict[str, list[CompiledRule]] = {}
        after = 0
        while True:
            rows = tx.list_rules(instance_id, after, 500)
            if not rows:
                return by_channel
            for _, record in rows:
                channel = EVENT_SOURCES.get(record["TriggerEventSource"]["EventSourceName"])
                if record["PublishStatus"] == "PUBLISHED" and channel is not None:
                    try:
                        by_channel.setdefault(channel, []).append(_compiled(record))
                    except ValueError:  # validated at CreateRule; never expected
                        log.exception("rule %s no longer parses; skipped", record["RuleId"])
            after = rows[-1][0]

    def _embed(self, rules: Sequence[CompiledRule]) -> Embed | None:
        if self.embedder is None or not needs_embedding(rules):
            return None
        return self.embedder()

    # the worker's hooks ---------------------------------------------------------
    def start(self, contact: Contact, rules: Sequence[CompiledRule], states: Mapping[str, Record]) -> Evaluation:
        """The contact's rules as last committed, ready to advance over its next turns."""
        return Evaluation(rules, states, attributes=contact.attributes, embed=self._embed(rules))

    def on_turn(
        self, evaluation: Evaluation, contact: Contact, item: Mapping[str, Any], analysis: TurnAnalysis,
        redaction: Redaction | None, pending: Sequence[SegmentRow] = (),
    ) -> tuple[list[SegmentRow], list[Firing]]:
        """Advance the contact's rules by one analysed turn; the Categories segment, if any, and the firings."""
        original = item.get("content")
        text_is_redacted = original is None
        text = original if original is not None else (redaction.content if redaction else "")
        facts = TurnFacts(
            id=item["id"],
            role=item["role"],
            text=text,
            sentiment=analysis.sentiment,
            begin_ms=item.get("begin_ms"),
            end_ms=item.get("end_ms"),
            redaction=redaction if (contact.redacts and not text_is_redacted) else None,
            text_is_redacted=text_is_redacted,
            # The pipeline's embedding of this very text (the turn as analysed), if it made one.
            embedding=analysis.extras.get("embedding"),  # type: ignore[arg-type]
        )
        ms = (item.get("begin_ms"), item.get("end_ms"))
        current = (
            ExtractionTurn(item["id"], item["role"], original, *ms) if original is not None and contact.keeps_original
            else None,
            ExtractionTurn(item["id"], item["role"], redaction.content, *ms) if redaction is not None else None,
        )
        return self._rows(contact, evaluation.on_turn(facts), current, pending)

    def on_end(self, evaluation: Evaluation, contact: Contact,
               pending: Sequence[SegmentRow] = ()) -> tuple[list[SegmentRow], list[Firing]]:
        """The contact ended: decide "not said" and "in last N" conditions."""
        return self._rows(contact, evaluation.on_end(), (None, None), pending)

    def _rows(self, contact: Contact, firings: list[Firing],
              current: tuple[ExtractionTurn | None, ExtractionTurn | None],
              pending: Sequence[SegmentRow]) -> tuple[list[SegmentRow], list[Firing]]:
        category = [f for f in firings if f.rule.assigns_category]
        rows = [categories_segment(contact, category)] if category else []
        extracting = [d for f in firings for d in definition_ids(f.rule.actions)]
        if extracting and self.extractor is not None:
            rows += self._extract(contact, list(dict.fromkeys(extracting)), current, pending)
        return rows, firings

    def _extract(self, contact: Contact, wanted: list[str],
                 current: tuple[ExtractionTurn | None, ExtractionTurn | None],
                 pending: Sequence[SegmentRow]) -> list[SegmentRow]:
        """ExtractedInformation segments over the contact's turns so far (this turn included).

        ``pending``: the segments of the worker's commit in hand, not yet in storage (the
        contact's earlier turns of the same batch).
        """
        assert self.extractor is not None
        with self.center.storage.read() as tx:
            definitions = [d for d in map(tx.get_extraction_definition, wanted) if d is not None]
            turns: list[list[ExtractionTurn] | None] = []
            for form, (output, this_turn) in enumerate(zip(("raw", "redacted"), current, strict=True), start=1):
                rows = tx.list_segments(contact.id, after=0, kinds=("Transcript",), limit=100_000, output=output)
                bodies = [json.loads(body) for _, _, body in rows]
                bodies += [row[form] for row in pending if row[0] == "Transcript" and row[form] is not None]
                earlier = [t for t in turns_from_segments(bodies) if this_turn is None or t.id != this_turn.id]
                turns.append(earlier + [this_turn] if this_turn is not None else (earlier or None))
        return extraction_segments(contact, definitions, turns[0], turns[1], self.extractor,
                                   local=self.extractor_is_local)

    def write(self, tx: Transaction, contact: Contact, states: Mapping[str, Record], firings: Sequence[Firing]) -> bool:
        """Persist rule states, alert outbox rows and recorded actions (inside the worker's fenced commit);
        whether an alert was queued."""
        if states:
            tx.put_rule_states(contact.id, dict(states))
        queued = False
        for firing in firings:
            queued |= self._act(tx, contact, firing)
        return queued

    def _act(self, tx: Transaction, contact: Contact, firing: Firing) -> bool:
        if not any(action.get("ActionType") in (EVENT, NOTIFICATION, TASK) for action in firing.rule.actions):
            return False  # a category (the segment says it) or an extraction: nothing to queue or record
        queued = False
        now = now_iso()
        instance_record = tx.get_instance(contact.instance_id)
        instance_arn = (
            Instance.from_record(instance_record).arn if instance_record else contact.arn.rsplit("/contact/", 1)[0]
        )
        explanation = firing.explain()
        base = {
            "RuleId": firing.rule.id,
            "RuleName": firing.rule.name,
            "ContactId": contact.id,
            "Time": now,
            "DecidedAtContactEnd": firing.at_end,
        }
        for action in firing.rule.actions:
            kind = action.get("ActionType")
            if kind == EVENT:
                event = alerts.build_event(
                    event_id=str(uuid.uuid4()),
                    time_iso=now,
                    account_id=self.center.account_id,
                    instance_arn=instance_arn,
                    contact_arn=contact.arn,
                    contact_id=contact.id,
                    channel=contact.channel,
                    rule_id=firing.rule.id,
                    rule_arn=firing.rule.arn,
                    rule_name=firing.rule.name,
                    action_name=action["EventBridgeAction"]["Name"],
                    points=firing.points,
                    redacted=contact.redacts,
                    at_end=firing.at_end,
                    explanation=explanation,
                )
                body = json.dumps(event, separators=(",", ":"), ensure_ascii=False)
                hooks = (tx.get_webhooks(contact.instance_id) or {}).get("Webhooks", [])
                for hook in hooks:
                    tx.insert_alert(
                        str(uuid.uuid4()),
                        contact.instance_id,
                        self.clock(),
                        {
                            "event_id": event["id"],
                            "url": hook["Url"],
                            "secret": hook["Secret"],
                            "body": body,
                            "rule_name": firing.rule.name,
                            "contact_id": contact.id,
                        },
                    )
                    queued = True
                tx.insert_rule_action(
                    contact.instance_id,
                    {
                        **base,
                        "ActionType": kind,
                        "Status": (f"QUEUED for {len(hooks)} webhook(s)" if hooks else "NO_WEBHOOK_CONFIGURED"),
                        "Event": event,
                    },
                )
            elif kind in (NOTIFICATION, TASK):
                member = SUPPORTED_ACTIONS[kind]
                tx.insert_rule_action(
                    contact.instance_id,
                    {
                        **base,
                        "ActionType": kind,
                        "Status": "RECORDED",
                        member: action.get(member),
                        "Matches": [
                            {k: m[k] for k in ("condition", "item", "role", "turn", "text", "sentiment")}
                            for m in explanation
                        ],
                    },
                )
        return queued


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


# --- the Categories segment -----------------------------------------------------


def categories_segment(contact: Contact, firings: Sequence[Firing]) -> SegmentRow:
    """One ``Categories`` segment for the category rules that fired on this turn.

    VOICE: the V1 shape (points of interest in milliseconds). CHAT: the V2
    shape (transcript item Ids and character offsets, in the original text for
    Raw and in the redacted text for Redacted). No text is carried.
    """
    if contact.channel == "VOICE":
        body: dict[str, Any] = {"MatchedCategories": [], "MatchedDetails": {}}
        for firing in firings:
            points, seen = [], set()
            for p in firing.points:
                if p.get("ms") and tuple(p["ms"]) not in seen:
                    seen.add(tuple(p["ms"]))
                    points.append({"BeginOffsetMillis": p["ms"][0], "EndOffsetMillis": p["ms"][1]})
            body["MatchedCategories"].append(firing.rule.name)
            body["MatchedDetails"][firing.rule.name] = {
                "PointsOfInterest": points[:V1_MAX_POINTS],
                "RuleId": firing.rule.id,
            }
        return ("Categories", body if contact.keeps_original else None, body if contact.redacts else None)

    def v2(which: str) -> dict[str, Any]:
        details = {}
        for firing in firings:
            points, seen = [], set()
            for p in firing.points:
                span = p.get(which)
                key = (p["item"], tuple(span or ()))
                if key in seen:
                    continue
                seen.add(key)
                item: dict[str, Any] = {"Id": p["item"]}
                if span is not None:
                    item["CharacterOffsets"] = {"BeginOffsetChar": span[0], "EndOffsetChar": span[1]}
                points.append({"TranscriptItems": [item]})
            details[firing.rule.name] = {"PointsOfInterest": points[:V2_MAX_POINTS], "RuleId": firing.rule.id}
        return {"MatchedDetails": details}

    return ("Categories", v2("raw") if contact.keeps_original else None, v2("redacted") if contact.redacts else None)
