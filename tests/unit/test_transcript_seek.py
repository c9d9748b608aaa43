"""GetTranscript's StartPosition.AbsoluteTime: the linear scan's answer, from a logarithmic number of reads."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest

from livelens.contacts.models import Contact, iso, parse_iso
from livelens.contacts.next_token import NextTokenCodec
from livelens.contacts.service import EVENT, MESSAGE, UTTERANCE, ContactCenter, InstanceDefaults
from livelens.contacts.tokens import TokenIssuer
from livelens.ingest.transcript import KINDS, transcript_page
from livelens.storage import SqliteStorage

START = parse_iso("2026-01-01T00:00:00.000Z")


class Counting:
    def __init__(self, tx: Any) -> None:
        self.tx, self.rows = tx, 0

    def __getattr__(self, name: str) -> Any:
        return getattr(self.tx, name)

    def list_items(self, *args: Any, **kwargs: Any) -> Any:
        found = self.tx.list_items(*args, **kwargs)
        self.rows += len(found)
        return found


def _chat(tmp_path: Path, items: int) -> tuple[ContactCenter, Contact]:
    storage = SqliteStorage(tmp_path / f"t{items}.db")
    center = ContactCenter(storage, account_id="1", defaults=InstanceDefaults(), tokens=TokenIssuer(b"k" * 32),
                           next_tokens=NextTokenCodec(b"k" * 32))
    contact = Contact(id="c", arn="a", instance_id="i", channel="CHAT", initiation_method="API",
                      initiation_timestamp=iso(START), last_update_timestamp=iso(START), redaction_policy="None",
                      language="en-US", analysis=[], redaction_mask="PII")
    kinds = (MESSAGE, EVENT, UTTERANCE)  # an UTTERANCE stands for any kind the transcript leaves out
    with storage.write() as tx:
        tx.insert_contact("c", "i", "CHAT", "IN_PROGRESS", contact.to_record())
        for n in range(items):
            tx.append_item("c", f"i{n}", kinds[n % 3], None, {
                "time": iso(START + timedelta(seconds=n // 2)), "participant_id": "p", "role": "CUSTOMER",
                "display_name": "C", "content_type": "text/plain", "content": str(n)})
        record = tx.get_contact("c")
    assert record is not None
    return center, Contact.from_record(record)


def _linear(tx: Any, contact: Contact, seconds: float, forward: bool) -> list[str]:
    moment = START + timedelta(seconds=seconds)
    items = tx.list_items(contact.id, limit=1_000_000, kinds=KINDS)
    chosen = [i for i in items if (parse_iso(i["time"]) >= moment if forward else parse_iso(i["time"]) <= moment)]
    chosen = chosen[:15] if forward else chosen[-15:]
    return sorted(i["id"] for i in chosen)


@pytest.mark.parametrize("items", [1, 7, 50, 3000])
def test_absolute_time_matches_the_linear_scan(tmp_path: Path, items: int) -> None:
    center, contact = _chat(tmp_path, items)
    with center.storage.read() as tx:
        for seconds in (-5, 0, 0.5, items / 4, items / 4 + 0.25, items / 2 - 1, items):
            for forward in (True, False):
                page = transcript_page(center, tx, contact, {
                    "StartPosition": {"AbsoluteTime": iso(START + timedelta(seconds=seconds))},
                    "ScanDirection": "FORWARD" if forward else "BACKWARD", "MaxResults": 15})
                assert sorted(t["Id"] for t in page["Transcript"]) == _linear(tx, contact, seconds, forward)


def test_the_cost_does_not_grow_with_the_transcript(tmp_path: Path) -> None:
    read = {}
    for items in (50, 20_000):
        center, contact = _chat(tmp_path, items)
        with center.storage.read() as tx:
            counting = Counting(tx)
            transcript_page(center, counting, contact, {  # type: ignore[arg-type]
                "StartPosition": {"AbsoluteTime": iso(START + timedelta(seconds=items // 4))},
                "ScanDirection": "FORWARD", "MaxResults": 15})
            read[items] = counting.rows
    assert read[20_000] <= read[50] + 12  # one more point read per doubling, not 20,000 rows
