"""The analysis worker: turns stored transcript items into segments.

Requests only append items to a contact's transcript and return; this worker
runs beside the server, takes each contact's items in order, runs the
analysis pipeline over them and appends the resulting segments. Appending the
segments and advancing the contact's ``analysed_seq`` happen in one
transaction, so an item accepted before a crash is analysed after the
restart, exactly once in the log.
"""

from __future__ import annotations

import asyncio
import logging
import threading
from collections.abc import Callable
from typing import Any, Protocol

from livelens.analysis.types import AnalysedTurn, Issue, Redaction, Summary, Turn, TurnAnalysis
from livelens.contacts import segments as render
from livelens.contacts.models import COMPLETED, Contact
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
    ContactCenter,
    preceding_text,
)

log = logging.getLogger("livelens.worker")

BATCH = 32
SEGMENT_EVENTS = frozenset({JOINED, LEFT, CHAT_ENDED})


class Pipeline(Protocol):
    def analyze(self, turn: Turn, redaction: Redaction | None = None) -> TurnAnalysis: ...
    def redact(self, turn: Turn) -> Redaction: ...
    def summarize(self, turns: list[AnalysedTurn], *, max_chars: int, language: str = "en-US") -> Summary: ...


PipelineFor = Callable[[Contact], Pipeline]


class RulesHook(Protocol):
    """Category rules (:class:`livelens.contacts.rules.RuleRunner`): evaluated per turn, committed with it."""

    def on_turn(self, contact: Contact, item: dict[str, Any], analysis: TurnAnalysis,
                redaction: Redaction | None) -> list[SegmentRow]: ...
    def on_end(self, contact: Contact, item: dict[str, Any]) -> list[SegmentRow]: ...
    def commit(self, tx: Any, contact_id: str, seq: int) -> None: ...


def turn_of(contact: Contact, item: dict[str, Any], preceding: str | None = None) -> Turn:
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


class AnalysisWorker:
    def __init__(
        self, center: ContactCenter, pipeline_for: PipelineFor, warm_up: Callable[[], object] = lambda: None,
        rules: RulesHook | None = None,
    ) -> None:
        self.center = center
        self.rules = rules
        self.pipeline_for = pipeline_for
        self.warm_up = warm_up
        self._wake: asyncio.Event | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._lock = threading.Lock()
        self.on_segments: Callable[[str], None] = lambda contact_id: None

    # scheduling -----------------------------------------------------------
    def notify(self, contact_id: str = "") -> None:
        """Wake the worker (safe from any thread)."""
        if self._loop is not None and self._wake is not None:
            self._loop.call_soon_threadsafe(self._wake.set)

    async def run(self) -> None:
        self._loop = asyncio.get_running_loop()
        self._wake = asyncio.Event()
        self._wake.set()  # pick up whatever a previous run left unanalysed
        try:
            await asyncio.to_thread(self.warm_up)  # load the models before the first turn arrives
        except Exception:
            log.exception("loading the analysis models failed")
        while True:
            await self._wake.wait()
            self._wake.clear()
            try:
                while await asyncio.to_thread(self.drain_once):
                    pass
            except Exception:  # keep the worker alive; the items stay pending and are retried
                log.exception("analysis worker failed; retrying in 1 s")
                await asyncio.sleep(1)
                self._wake.set()

    def drain_once(self) -> int:
        """Analyse a batch of pending items of every pending contact; the number analysed."""
        with self._lock:
            with self.center.storage.read() as tx:
                pending = tx.pending_contacts(limit=256)
            return sum(self.process_contact(contact_id) for contact_id in pending)

    def drain(self) -> None:
        while self.drain_once():
            pass

    # one contact ----------------------------------------------------------
    def process_contact(self, contact_id: str) -> int:
        with self.center.storage.read() as tx:
            record = tx.get_contact(contact_id)
            if record is None:
                return 0
            contact = Contact.from_record(record)
            items = tx.list_items(contact_id, after=contact.analysed_seq, limit=BATCH)
            earlier = tx.list_items(contact_id, before=contact.analysed_seq + 1, limit=PRECEDING_WINDOW,
                                    descending=True, kinds=(MESSAGE, UTTERANCE))
        history = list(reversed(earlier))
        for item in items:
            rows, analysis_record = self.segments_for(contact, item, history)
            if item["kind"] in (MESSAGE, UTTERANCE):
                history = [*history[-PRECEDING_WINDOW:], item]
            with self.center.storage.write() as tx:
                current = tx.get_contact(contact_id)
                if current is None or current["analysed_seq"] >= item["seq"]:
                    continue
                if rows:
                    tx.append_segments(contact_id, rows)
                if analysis_record is not None:
                    # Merge into the item as it is now: a read receipt may have been added to it
                    # while the turn was being analysed (writing back ``item`` would lose it).
                    latest = tx.find_item(contact_id, item_id=item["id"]) or item
                    tx.update_item(contact_id, item["seq"], {**latest, "analysis": analysis_record})
                if item["kind"] == END:
                    tx.update_contact(contact_id, analysis_status=COMPLETED)
                if self.rules is not None:
                    self.rules.commit(tx, contact_id, item["seq"])
                tx.mark_analysed(contact_id, item["seq"])
            self.on_segments(contact_id)
        return len(items)

    def segments_for(
        self, contact: Contact, item: dict[str, Any], history: list[dict[str, Any]] | None = None
    ) -> tuple[list[SegmentRow], dict[str, Any] | None]:
        """``history``: the turns before ``item``, oldest first (for the turn it may answer)."""
        kind = item["kind"]
        if kind in (MESSAGE, UTTERANCE):
            return self._turn(contact, item, preceding_text(history or [], item.get("role", "")))
        if kind == EVENT and item.get("content_type") in SEGMENT_EVENTS:
            return [render.event_segment(contact, item)], None
        if kind == ATTACHMENT:
            return [render.attachments_segment(contact, item)], None
        if kind == END:
            rows = self._rules(lambda rules: rules.on_end(contact, item))
            return rows + ([self._summary(contact)] if "summary" in contact.analysis else []), None
        return [], None

    def _turn(
        self, contact: Contact, item: dict[str, Any], preceding: str | None = None
    ) -> tuple[list[SegmentRow], dict[str, Any]]:
        pipeline = self.pipeline_for(contact)
        turn = turn_of(contact, item, preceding)
        stored = item.get("redaction")
        redaction = render.redaction_from_record(stored) if stored else None
        try:
            analysis = pipeline.analyze(turn, redaction=redaction)
        except Exception:
            log.exception("analysis of item %s failed; storing the transcript without analysis", item["id"])
            analysis = TurnAnalysis()
        if redaction is None:
            redaction = analysis.redaction
        if redaction is None and contact.redacts:
            redaction = self._redact(pipeline, turn)
        rows = render.turn_segments(contact, item, analysis, redaction)
        rows += self._rules(lambda rules: rules.on_turn(contact, item, analysis, redaction))
        record = {
            "sentiment": analysis.sentiment,
            "issues": [[i.begin, i.end, i.text] for i in analysis.issues],
        }
        return rows, record

    def _rules(self, step: Callable[[RulesHook], list[SegmentRow]]) -> list[SegmentRow]:
        if self.rules is None:
            return []
        try:
            return step(self.rules)
        except Exception:  # a broken rule must not stop the transcript
            log.exception("rule evaluation failed; the turn is stored without categories")
            return []

    @staticmethod
    def _redact(pipeline: Pipeline, turn: Turn) -> Redaction:
        try:
            return pipeline.redact(turn)
        except Exception:
            # Fail closed: if the redactor breaks, the redacted output hides the whole turn.
            log.exception("redaction of item %s failed; masking the whole turn", turn.id)
            return whole_turn_redaction(turn.content)

    def _summary(self, contact: Contact) -> SegmentRow:
        max_chars = render.summary_max_chars(contact)
        with self.center.storage.read() as tx:
            items = tx.list_items(contact.id, limit=1_000_000, kinds=(MESSAGE, UTTERANCE))
        turns = [AnalysedTurn(turn_of(contact, item), stored_analysis(item)) for item in items]
        pipeline = self.pipeline_for(contact)
        try:
            summary = pipeline.summarize(turns, max_chars=max_chars, language=contact.language)
        except Exception:
            log.exception("summary of contact %s failed", contact.id)
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
        return ("PostContactSummary", raw, redacted)


def stored_analysis(item: dict[str, Any]) -> TurnAnalysis:
    record = item.get("analysis") or {}
    return TurnAnalysis(
        sentiment=record.get("sentiment"),
        issues=[Issue(b, e, t) for b, e, t in record.get("issues", [])],
    )

