"""Category rules firing on live contacts: the analysis worker's rules collaborator.

After a turn's analysis :class:`RuleRunner` advances the contact's rules
(:mod:`livelens.rules.engine`) and returns the ``Categories`` segment (and, for rules with
``EXTRACT_INFORMATION``, the ``ExtractedInformation`` segments of
:mod:`livelens.contacts.extraction_segments`, extracted over the contact's turns so far);
:meth:`RuleRunner.write` then writes the rules' state, the alert outbox and the recorded actions
inside the worker's fenced transaction, the one that appends the turn's segments and advances
``analysed_seq``. A turn is therefore evaluated exactly once, also across a crash: before the
commit nothing of it is stored, after it everything is. The rules themselves are managed
through :class:`~livelens.contacts.rule_book.RuleBook`.
"""

from __future__ import annotations

import functools
import json
import logging
import time
import uuid
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from livelens.analysis.extraction import ExtractionTurn, Extractor
from livelens.analysis.types import Redaction, TurnAnalysis
from livelens.contacts.extraction import definition_ids
from livelens.contacts.extraction_segments import extraction_segments, turns_from_segments
from livelens.contacts.models import Contact, Instance, now_iso
from livelens.contacts.rule_book import EVENT_SOURCES, SUPPORTED_ACTIONS
from livelens.contacts.segments import SegmentRow
from livelens.contacts.service import ContactCenter
from livelens.rules import alerts
from livelens.rules.aws_function import parse_function
from livelens.rules.engine import (
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
from livelens.storage.base import Record, Transaction

log = logging.getLogger("livelens.rules")

#: Points of interest kept per matched category in a V1 (voice) and a V2 (chat) Categories segment.
V1_MAX_POINTS, V2_MAX_POINTS = 20, 5


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
