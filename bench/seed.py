"""Large databases made directly through the storage layer (no HTTP), for the read benchmarks.

Segments are rendered by livelens' own renderer (``contacts.segments``) from
the corpus turns, with sentiment and PII offsets, so their bodies are what a
live contact stores. NextTokens for any position are made with the
database's own codec, exactly as the server makes them.
"""

from __future__ import annotations

import re
import uuid
from dataclasses import dataclass
from pathlib import Path

from corpus import TURNS

from livelens.analysis.types import CharSpan, Issue, PiiSpan, Redaction, TurnAnalysis
from livelens.app import server_key
from livelens.contacts import segments as render
from livelens.contacts.models import IN_PROGRESS, Contact, Instance, now_iso
from livelens.contacts.next_token import NextTokenCodec
from livelens.storage import SqliteStorage, open_storage

ACCOUNT = "123456789012"
_PII = re.compile(r"[\w.]+@[\w.]+\w|\b\d[\d\s/-]{5,}\d\b|\b(?:Dana|Marcus Okafor|Marcus)\b")
SENTIMENTS = ("NEUTRAL", "NEGATIVE", "POSITIVE", "NEUTRAL")


def fake_redaction(text: str) -> Redaction:
    """A redaction of ``text`` by a small regex (the real redactor is not needed to fill a database)."""
    content, original, redacted, entities = [], [], [], []
    position = shift = 0
    for found in _PII.finditer(text):
        content.append(text[position:found.start()])
        begin = found.start() + shift
        content.append("[PII]")
        original.append(CharSpan(found.start(), found.end()))
        redacted.append(CharSpan(begin, begin + 5))
        entities.append(PiiSpan(found.start(), found.end(), "PII", 0.9))
        shift += 5 - (found.end() - found.start())
        position = found.end()
    content.append(text[position:])
    return Redaction("".join(content), tuple(entities), tuple(original), tuple(redacted))


def _rows(contact: Contact, count: int) -> list[render.SegmentRow]:
    """``count`` Transcript segments of ``contact`` (and nothing else), as the worker renders them."""
    rows: list[render.SegmentRow] = []
    prepared = []
    for index, (role, text) in enumerate(TURNS):
        redaction = fake_redaction(text)
        issues = [Issue(0, min(len(text), 40), text[:40])] if role == "CUSTOMER" and index % 3 == 0 else []
        prepared.append((role, text, redaction, TurnAnalysis(sentiment=SENTIMENTS[index % 4], issues=issues)))
    time = now_iso()
    for index in range(count):
        role, text, redaction, analysis = prepared[index % len(prepared)]
        item = {"id": str(uuid.uuid4()), "participant_id": f"{contact.id[:8]}-{role.lower()}", "role": role,
                "display_name": role.title(), "content": text, "content_type": "text/plain", "time": time}
        rows.append(render.turn_segments(contact, item, analysis, redaction)[0])
    return rows


@dataclass
class Seeded:
    db: Path | str  # a SQLite file or a PostgreSQL URL
    instance_id: str
    contact_id: str
    segments: int
    codec: NextTokenCodec

    def next_token(self, after: int, output_type: str = "Raw", kinds: str = "Transcript") -> str:
        """A NextToken positioned after segment ``after``, as ``SegmentLog.list_v2`` scopes it."""
        scope = f"segments|{self.instance_id}|{self.contact_id}|v2|{output_type}|{kinds}"
        return self.codec.encode(scope, after)


def _contact(instance: Instance) -> Contact:
    contact_id = str(uuid.uuid4())
    now = now_iso()
    return Contact(
        id=contact_id, arn=f"{instance.arn}/contact/{contact_id}", instance_id=instance.id, channel="CHAT",
        initiation_method="API", initiation_timestamp=now, last_update_timestamp=now,
        redaction_policy=instance.redaction_policy, language=instance.language, analysis=list(instance.analysis),
        redaction_mask=instance.redaction_mask,
    )


def seed(db: Path | str, *, segments: int, other_contacts: int = 0, other_segments: int = 2) -> Seeded:
    """A database with one measured CHAT contact holding ``segments`` Transcript segments,
    and ``other_contacts`` more contacts with ``other_segments`` segments each."""
    storage = open_storage(str(db))
    try:
        key = server_key(storage)
        instance_id = str(uuid.uuid4())
        instance = Instance(
            id=instance_id, arn=f"arn:aws:connect:us-east-1:{ACCOUNT}:instance/{instance_id}",
            identity_management_type="CONNECT_MANAGED", inbound_calls_enabled=True, outbound_calls_enabled=True,
            created_time=now_iso(), service_role="arn:aws:iam::123456789012:role/bench", alias="bench",
            analysis=["redaction", "sentiment", "issues", "summary"],
        )
        measured = _contact(instance)
        others_rows = _rows(measured, other_segments) if other_contacts else []
        with storage.write() as tx:
            tx.insert_instance(instance_id, instance.to_record())
            # The measured contact sits in the middle of the others, not at either end of the table.
            half = other_contacts // 2
            for index in range(other_contacts + 1):
                if index == half:
                    contact = measured
                    rows = _rows(measured, segments)
                else:
                    contact, rows = _contact(instance), others_rows
                tx.insert_contact(contact.id, instance_id, "CHAT", IN_PROGRESS, contact.to_record())
                for start in range(0, len(rows), 10_000):
                    tx.append_segments(contact.id, rows[start:start + 10_000])
        if isinstance(storage, SqliteStorage):
            storage._writer.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        else:  # planner statistics, as autovacuum keeps them on a database in use (not yet after a bulk load)
            with storage.write() as tx:
                tx.conn.execute("ANALYZE")
        return Seeded(db if isinstance(db, str) else Path(db), instance_id, measured.id, segments, NextTokenCodec(key))
    finally:
        storage.close()
