"""The analysis step: claimed contacts' pending items in, one :class:`Commit` per contact out.

Requests only append items to a contact's transcript and return. A worker
(:mod:`livelens.worker`) claims contacts with pending items, reads each one's
snapshot inside the claiming transaction (:func:`load_units`: the contact, its
next items, its rules and rule states), runs :meth:`Analyser.analyse` over the
whole batch (each analyser sees every turn of every claimed contact at once)
and gets back plain values, one :class:`Commit` per contact. :func:`apply_commit`
writes a commit - segments, the items' analyses, rule states, alert outbox
rows, recorded actions, the contact's status, the cursor - in the caller's
write transaction after checking that the worker still holds the claim it
started from. A commit whose claim was taken over is refused (``False``) and
writes nothing, so every item is analysed into the log exactly once, in
order, whichever worker does it and however many of them crash.

Failures: an analyser that raises on one turn leaves that turn without its
finding (logged once per analyser and process, then counted); an unexpected
error in the step for a contact backs the contact off (:func:`back_off`) and,
after :data:`MAX_ATTEMPTS` attempts, marks it FAILED with the reason
(:func:`fail_contact`) instead of retrying forever.
"""

from __future__ import annotations

import dataclasses
import functools
import logging
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Protocol

from livelens.analysis.types import AnalysedTurn, Issue, Redaction, Summary, Turn, TurnAnalysis
from livelens.contacts import lifecycle
from livelens.contacts import segments as render
from livelens.contacts.models import FAILED, Contact
from livelens.contacts.rule_runner import RuleRunner
from livelens.contacts.segments import SegmentRow, whole_turn_redaction
from livelens.contacts.service import (
    ATTACHMENT,
    CHAT_ENDED,
    END,
    EVENT,
    JOINED,
    LEFT,
    MESSAGE,
    PRECEDING_WINDOW,
    UTTERANCE,
    preceding_text,
)
from livelens.rules.engine import CompiledRule, Firing
from livelens.storage.base import Claim, Record, Transaction

log = logging.getLogger("livelens.worker")

SEGMENT_EVENTS = frozenset({JOINED, LEFT, CHAT_ENDED})
#: Attempts at a contact's step before it is marked FAILED.
MAX_ATTEMPTS = 5

Observe = Callable[[str, float], None]


class Pipeline(Protocol):
    def analyze(self, turn: Turn, redaction: Redaction | None = None) -> TurnAnalysis: ...
    def analyze_many(
        self, turns: Sequence[Turn], redactions: Sequence[Redaction | None], observe: Observe | None = None
    ) -> list[TurnAnalysis]: ...
    def redact(self, turn: Turn) -> Redaction: ...
    def summarize(self, turns: list[AnalysedTurn], *, max_chars: int, language: str = "en-US") -> Summary: ...


PipelineFor = Callable[[Contact], Pipeline]


@dataclass
class WorkUnit:
    """One claimed contact, as read in the claiming transaction."""

    claim: Claim
    contact: Contact
    items: list[Record]
    rules: list[CompiledRule]
    rule_states: dict[str, Record]
    failures: int = 0
    history: list[Record] = field(default_factory=list)  # earlier turns, when ``items`` ends the contact
    earlier: list[Record] = field(default_factory=list)  # the last turns before ``items`` (see preceding_text)


@dataclass
class Commit:
    """Everything one step decided for one contact; written by :func:`apply_commit`."""

    claim: Claim
    contact: Contact
    from_seq: int
    to_seq: int
    segments: list[SegmentRow] = field(default_factory=list)
    item_analyses: list[tuple[int, Record]] = field(default_factory=list)  # (seq, analysis)
    rule_states: dict[str, Record] = field(default_factory=dict)
    firings: list[Firing] = field(default_factory=list)
    status: str | None = None
    turns: int = 0


class CannotAnalyse(Exception):
    """The contact's pipeline cannot be built (a model that does not load, an unknown analyser)."""


@dataclass
class Failure:
    """A contact whose step raised: backed off, or FAILED after too many attempts."""

    claim: Claim
    contact_id: str
    attempts: int
    reason: str


def turn_of(contact: Contact, item: Record, preceding: str | None = None) -> Turn:
    """The pipeline's view of an item: the original text if stored, else the redacted one.

    ``preceding`` is the text of the turn it may answer (see ``service.preceding_text``).
    """
    content = item.get("content")
    if content is None:
        content = item["redaction"]["content"]
    return Turn(
        id=item["id"],
        contact_id=contact.id,
        channel=contact.channel,  # type: ignore[arg-type]
        participant_id=item["participant_id"],
        participant_role=item["role"],
        content=content,
        language=contact.language,
        begin_offset_millis=item.get("begin_ms"),
        end_offset_millis=item.get("end_ms"),
        attributes=contact.attributes,
        preceding=preceding,
    )


def stored_analysis(item: Record) -> TurnAnalysis:
    record = item.get("analysis") or {}
    return TurnAnalysis(
        sentiment=record.get("sentiment"),
        issues=[Issue(b, e, t) for b, e, t in record.get("issues", [])],
    )


# --- reading: inside the claiming transaction --------------------------------------------


def load_units(
    tx: Transaction, claims: Sequence[Claim], rules: RuleRunner | None, items_per_contact: int
) -> list[WorkUnit]:
    """The snapshot each claimed contact is analysed from (read in the claiming transaction).

    A contact's items are cut before its END marker unless END comes first,
    so that the summary written at END reads every turn's committed analysis.
    """
    units = []
    for claim in claims:
        record = tx.get_contact(claim.contact_id)
        if record is None:
            continue
        contact = Contact.from_record(record)
        items = tx.list_items(contact.id, after=contact.analysed_seq, limit=items_per_contact)
        ends = [i for i, item in enumerate(items) if item["kind"] == END]
        if ends:
            items = items[: max(ends[0], 1)]
        history = []
        if items and items[0]["kind"] == END and "summary" in contact.analysis:
            history = tx.list_items(contact.id, limit=1_000_000, kinds=(MESSAGE, UTTERANCE))
        earlier = tx.list_items(contact.id, before=contact.analysed_seq + 1, limit=PRECEDING_WINDOW,
                                descending=True, kinds=(MESSAGE, UTTERANCE))
        compiled = rules.rules_for(tx, contact) if rules is not None else []
        states = tx.get_rule_states(contact.id) if compiled else {}
        units.append(WorkUnit(claim, contact, items, compiled, states, failures=claim.failures, history=history,
                              earlier=list(reversed(earlier))))
    return units


# --- the step: pure apart from the analysers ---------------------------------------------


class Analyser:
    """Turns a batch of :class:`WorkUnit` into one :class:`Commit` (or :class:`Failure`) per contact."""

    def __init__(self, pipeline_for: PipelineFor, rules: RuleRunner | None = None,
                 observe: Observe | None = None) -> None:
        self.pipeline_for = pipeline_for
        self.rules = rules
        self.observe: Observe = observe or (lambda name, seconds: None)
        self._logged: set[str] = set()

    def analyse(self, units: Sequence[WorkUnit]) -> list[Commit | Failure]:
        failed: dict[str, Exception] = {}
        analyses = self._analyse_turns(units, failed)
        results: list[Commit | Failure] = []
        for unit in units:
            try:
                if unit.contact.id in failed:
                    raise failed[unit.contact.id]
                results.append(self._commit_for(unit, analyses))
            except CannotAnalyse as exc:  # final at once: FAILED with the reason, no retries
                results.append(Failure(unit.claim, unit.contact.id, MAX_ATTEMPTS, str(exc)[:500]))
            except Exception as exc:
                reason = f"{type(exc).__name__}: {exc}"[:500]
                self._log_once(f"step:{type(exc).__name__}", "analysis of contact %s failed (%s)",
                               unit.contact.id, reason)
                results.append(Failure(unit.claim, unit.contact.id, unit.failures + 1, reason))
        return results

    # every turn of every unit, one batch per pipeline -------------------------------------
    def _analyse_turns(
        self, units: Sequence[WorkUnit], failed: dict[str, Exception]
    ) -> dict[str, tuple[TurnAnalysis, Redaction | None]]:
        """Analyses by item id; a contact whose turns cannot even be prepared goes to ``failed``."""
        groups: dict[int, tuple[Pipeline, list[tuple[Contact, Record, Turn, Redaction | None]]]] = {}
        for unit in units:
            turns_pending = any(item["kind"] in (MESSAGE, UTTERANCE) for item in unit.items)
            try:
                pipeline = self.pipeline_for(unit.contact) if turns_pending else None
            except Exception as exc:  # an analyser that cannot load (it will not load on a retry either)
                failed[unit.contact.id] = CannotAnalyse(f"analysis cannot run: {type(exc).__name__}: {exc}")
                continue
            try:
                prepared = []
                seen = list(unit.earlier)
                for item in unit.items:
                    if item["kind"] not in (MESSAGE, UTTERANCE):
                        continue
                    turn = turn_of(unit.contact, item, preceding_text(seen, item.get("role", "")))
                    stored = render.redaction_from_record(item["redaction"]) if item.get("redaction") else None
                    prepared.append((unit.contact, item, turn, stored))
                    seen = [*seen[-PRECEDING_WINDOW:], item]
            except Exception as exc:  # a malformed item
                failed[unit.contact.id] = exc
                continue
            if pipeline is not None:
                groups.setdefault(id(pipeline), (pipeline, []))[1].extend(prepared)
        found: dict[str, tuple[TurnAnalysis, Redaction | None]] = {}
        for pipeline, entries in groups.values():
            members = [(contact, item) for contact, item, _, _ in entries]
            turns = [turn for _, _, turn, _ in entries]
            given = [redaction for _, _, _, redaction in entries]
            try:
                analyses = pipeline.analyze_many(turns, given, self.observe)
            except Exception:
                self._log_once("batch", "batched analysis failed; analysing the %d turns one by one", len(turns))
                analyses = [self._analyse_one(pipeline, turn, redaction) for turn, redaction in zip(
                    turns, given, strict=True)]
            for (contact, item), turn, analysis, redaction in zip(members, turns, analyses, given, strict=True):
                if redaction is None:
                    redaction = analysis.redaction
                if redaction is None and contact.redacts:
                    redaction = self._redact(pipeline, turn)
                found[item["id"]] = (analysis, redaction)
        return found

    def _analyse_one(self, pipeline: Pipeline, turn: Turn, redaction: Redaction | None) -> TurnAnalysis:
        try:
            return pipeline.analyze(turn, redaction=redaction)
        except Exception:
            self._log_once("turn", "analysis of item %s failed; stored without analysis", turn.id)
            return TurnAnalysis()

    # one contact, in order ------------------------------------------------------------------
    def _commit_for(self, unit: WorkUnit, analyses: dict[str, tuple[TurnAnalysis, Redaction | None]]) -> Commit:
        contact = unit.contact
        commit = Commit(unit.claim, contact, contact.analysed_seq, contact.analysed_seq)
        rules = self.rules
        evaluation = rules.start(contact, unit.rules, unit.rule_states) if rules and unit.rules else None
        for item in unit.items:
            kind = item["kind"]
            if kind in (MESSAGE, UTTERANCE):
                analysis, redaction = analyses[item["id"]]
                commit.segments += render.turn_segments(contact, item, analysis, redaction)
                if evaluation is not None and rules is not None:
                    rows, firings = self._rules(
                        functools.partial(rules.on_turn, evaluation, contact, item, analysis, redaction,
                                          tuple(commit.segments))
                    )
                    commit.segments += rows
                    commit.firings += firings
                record: Record = {
                    "sentiment": analysis.sentiment,
                    "issues": [[i.begin, i.end, i.text] for i in analysis.issues],
                }
                if contact.redacts and contact.keeps_original and redaction is not None:
                    # The summary reads this, so that a redacting contact's original text never reaches it.
                    record["redaction"] = render.redaction_to_record(redaction)
                commit.item_analyses.append((item["seq"], record))
                commit.turns += 1
            elif kind == EVENT and item.get("content_type") in SEGMENT_EVENTS:
                commit.segments.append(render.event_segment(contact, item))
            elif kind == ATTACHMENT:
                commit.segments.append(render.attachments_segment(contact, item))
            elif kind == END:
                if evaluation is not None and rules is not None:
                    rows, firings = self._rules(
                        functools.partial(rules.on_end, evaluation, contact, tuple(commit.segments)))
                    commit.segments += rows
                    commit.firings += firings
                if "summary" in contact.analysis:
                    commit.segments.append(self._summary(contact, unit.history))
                commit.status = lifecycle.status_after_end(contact)
            commit.to_seq = item["seq"]
        if evaluation is not None:
            commit.rule_states = evaluation.changed
        return commit

    def _rules(self, step: Callable[[], tuple[list[SegmentRow], list[Firing]]]) -> tuple[list[SegmentRow],
                                                                                        list[Firing]]:
        started = time.perf_counter()
        try:
            return step()
        except Exception:  # a broken rule must not stop the transcript
            self._log_once("rules", "rule evaluation failed; the turn is stored without categories")
            return [], []
        finally:
            self.observe("rules", time.perf_counter() - started)

    def _redact(self, pipeline: Pipeline, turn: Turn) -> Redaction:
        try:
            return pipeline.redact(turn)
        except Exception:
            # Fail closed: if the redactor breaks, the redacted output hides the whole turn.
            self._log_once("redact", "redaction of item %s failed; masking the whole turn", turn.id)
            return whole_turn_redaction(turn.content)

    def _summary(self, contact: Contact, history: list[Record]) -> SegmentRow:
        started = time.perf_counter()
        max_chars = render.summary_max_chars(contact)
        pipeline = self.pipeline_for(contact)
        turns = [self._summary_turn(pipeline, contact, item) for item in history]
        try:
            summary = pipeline.summarize(turns, max_chars=max_chars, language=contact.language)
        except Exception:
            self._log_once("summary", "summary of contact %s failed", contact.id)
            summary = Summary("FAILED", failure_code="INTERNAL_ERROR")
        body = render.summary_body(summary, max_chars)
        raw = body if contact.keeps_original else None
        redacted = None
        if contact.redacts:
            redacted = dict(body)
            if contact.keeps_original and "Content" in body:
                summary_turn = Turn(
                    id=f"{contact.id}-summary",
                    contact_id=contact.id,
                    channel=turns[0].turn.channel if turns else "CHAT",
                    participant_id="SYSTEM",
                    participant_role="SYSTEM",
                    content=body["Content"],
                    language=contact.language,
                )
                redacted["Content"] = self._redact(pipeline, summary_turn).content[:max_chars]
        self.observe("summary", time.perf_counter() - started)
        return ("PostContactSummary", raw, redacted)

    def _summary_turn(self, pipeline: Pipeline, contact: Contact, item: Record) -> AnalysedTurn:
        """A turn as the summary may see it: for a redacting contact, only its redacted form.

        Under RedactedOnly the stored turn is already redacted. Under
        RedactedAndOriginal the turn's redaction (kept with its analysis) goes
        along, and the summarizers read ``redaction.content``; a turn analysed
        before that was kept is redacted again here.
        """
        turn, analysis = turn_of(contact, item), stored_analysis(item)
        if not (contact.redacts and contact.keeps_original):
            return AnalysedTurn(turn, analysis)
        stored = (item.get("analysis") or {}).get("redaction")
        redaction = render.redaction_from_record(stored) if stored else self._redact(pipeline, turn)
        return AnalysedTurn(turn, dataclasses.replace(analysis, redaction=redaction))


    def _log_once(self, key: str, message: str, *args: object) -> None:
        """A traceback the first time a kind of failure happens in this process, one line after that."""
        if key in self._logged:
            log.warning(message, *args)
        else:
            self._logged.add(key)
            log.exception(message, *args)


# --- writing: inside the fenced commit ---------------------------------------------------


def apply_commit(tx: Transaction, worker_id: str, commit: Commit, rules: RuleRunner | None) -> bool:
    """Write ``commit`` if ``worker_id`` still holds its claim; ``False`` (nothing written) if not.

    The claim check comes first and locks the contact's row (PostgreSQL), so
    no other worker can claim the contact until this transaction ends.
    """
    claim = commit.claim
    contact_id = commit.contact.id
    if not tx.holds_claim(contact_id, worker_id, claim.fence):
        return False
    if not tx.advance_cursor(contact_id, commit.from_seq, commit.to_seq):
        return False  # cannot happen while the fence holds; refuse rather than write twice
    if commit.segments:
        tx.append_segments(contact_id, commit.segments)
    for seq, analysis in commit.item_analyses:
        # Into the item as it is now: a read receipt may have been added to it
        # while the turn was being analysed (writing back the snapshot would lose it).
        tx.set_item_analysis(contact_id, seq, analysis)
    if rules is not None and (commit.rule_states or commit.firings):
        if rules.write(tx, commit.contact, commit.rule_states, commit.firings):
            rules.on_alert()
    if commit.status is not None:
        tx.update_contact(contact_id, analysis_status=commit.status)
    tx.release_claim(contact_id, worker_id, claim.fence)
    return True


def back_off(tx: Transaction, worker_id: str, failure: Failure, now: float) -> bool:
    """Release a failed contact for a later retry, or mark it FAILED after :data:`MAX_ATTEMPTS`;
    whether the contact is now FAILED."""
    if not tx.holds_claim(failure.contact_id, worker_id, failure.claim.fence):
        return False
    if failure.attempts >= MAX_ATTEMPTS:
        fail_contact(tx, failure.contact_id, failure.reason)
        tx.release_claim(failure.contact_id, worker_id, failure.claim.fence, failures=failure.attempts)
        return True
    delay = min(60.0, 2.0 ** failure.attempts)
    tx.release_claim(failure.contact_id, worker_id, failure.claim.fence, retry_at=now + delay,
                     failures=failure.attempts)
    return False


def fail_contact(tx: Transaction, contact_id: str, reason: str) -> None:
    """The one place a contact whose analysis cannot proceed becomes FAILED, with the reason
    (``Contact.analysis_failure``: shown by DescribeContact, V2 ``Status`` and the log)."""
    record = tx.get_contact(contact_id)
    if record is None:
        return
    contact = Contact.from_record(record)
    if contact.analysis_status == FAILED:
        return
    contact.analysis_failure = reason
    tx.update_contact(contact_id, data=contact.to_record(), analysis_status=FAILED)
    log.error("contact %s: analysis FAILED: %s", contact_id, reason)
