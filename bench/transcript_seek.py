"""Benchmark 9: a participant's repeatable reads cost the same at 50,000 items as at 50.

GetTranscript with ``StartPosition.AbsoluteTime`` on a chat of N items, in
process (storage + the transcript page, no HTTP), N = 50 and N = 50,000:
livelens' binary search over the item keys against the linear scan it replaced
(the baseline, measured side by side in the same run). Ratios of median times:
large / small for each.
"""

from __future__ import annotations

import statistics
import tempfile
import time
from datetime import timedelta
from pathlib import Path
from typing import Any

from livelens.contacts.models import Contact, iso, parse_iso
from livelens.contacts.next_token import NextTokenCodec
from livelens.contacts.service import MESSAGE, ContactCenter, InstanceDefaults
from livelens.contacts.tokens import TokenIssuer
from livelens.ingest.transcript import KINDS, transcript_page
from livelens.storage import SqliteStorage

START = parse_iso("2026-01-01T00:00:00.000Z")


def _seed(directory: Path, items: int) -> tuple[ContactCenter, Contact]:
    storage = SqliteStorage(directory / f"seek-{items}.db")
    key = b"k" * 32
    center = ContactCenter(storage, account_id="123456789012", defaults=InstanceDefaults(),
                           tokens=TokenIssuer(key), next_tokens=NextTokenCodec(key))
    contact = Contact(id=f"c{items}", arn="arn", instance_id="i", channel="CHAT", initiation_method="API",
                      initiation_timestamp=iso(START), last_update_timestamp=iso(START),
                      redaction_policy="None", language="en-US", analysis=[], redaction_mask="PII")
    with storage.write() as tx:
        tx.insert_contact(contact.id, "i", "CHAT", "IN_PROGRESS", contact.to_record())
        for n in range(items):
            tx.append_item(contact.id, f"{contact.id}-{n}", MESSAGE, None, {
                "time": iso(START + timedelta(seconds=n)), "participant_id": "p", "role": "CUSTOMER",
                "display_name": "C", "content_type": "text/plain", "content": f"message {n}"})
        record = tx.get_contact(contact.id)
    assert record is not None
    return center, Contact.from_record(record)


def _linear(center: ContactCenter, contact: Contact, moment: str) -> int:
    """The replaced implementation: read every item, compare times."""
    with center.storage.read() as tx:
        items = tx.list_items(contact.id, limit=1_000_000, kinds=KINDS)
    target = parse_iso(moment)
    return next((i["seq"] - 1 for i in items if parse_iso(i["time"]) >= target), contact.last_item_seq)


def _indexed(center: ContactCenter, contact: Contact, moment: str) -> int:
    with center.storage.read() as tx:
        page = transcript_page(center, tx, contact, {
            "StartPosition": {"AbsoluteTime": moment}, "ScanDirection": "FORWARD", "MaxResults": 15})
    return len(page["Transcript"])


def _median_ms(call: Any, repeat: int) -> float:
    times = []
    for _ in range(repeat):
        started = time.perf_counter()
        call()
        times.append((time.perf_counter() - started) * 1000)
    return statistics.median(times)


def run(quick: bool = False) -> dict[str, Any]:
    small, large = 50, (5_000 if quick else 50_000)
    repeat = 5 if quick else 30
    with tempfile.TemporaryDirectory() as directory:
        seeded = {n: _seed(Path(directory), n) for n in (small, large)}
        result: dict[str, Any] = {"small": small, "large": large}
        for name, method in (("indexed", _indexed), ("linear", _linear)):
            for n, (center, contact) in seeded.items():
                moment = iso(START + timedelta(seconds=n // 2))
                result[f"{name}_{n}_ms"] = _median_ms(lambda f=method, c=center, k=contact, m=moment: f(c, k, m),
                                                      repeat if name == "indexed" else max(3, repeat // 6))
            result[f"{name}_ratio"] = result[f"{name}_{large}_ms"] / result[f"{name}_{small}_ms"]
        for center, _ in seeded.values():
            center.storage.close()
    return result


if __name__ == "__main__":
    print(run())
