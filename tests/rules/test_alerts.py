"""Alert signing and the outbox delivery loop (with a fake HTTP POST and a real SQLite outbox)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from livelens.rules import alerts
from livelens.storage.sqlite import SqliteStorage


def test_signature_round_trip_and_tampering() -> None:
    body = b'{"a":1}'
    header = alerts.sign("secret-secret-123", body, timestamp=1_700_000_000)
    assert alerts.verify("secret-secret-123", header, body, now=1_700_000_010)
    assert not alerts.verify("secret-secret-123", header, b'{"a":2}', now=1_700_000_010)
    assert not alerts.verify("other-secret-4567", header, body, now=1_700_000_010)
    assert not alerts.verify("secret-secret-123", header, body, now=1_700_009_999)  # replayed too late
    assert not alerts.verify("secret-secret-123", "garbage", body)


def test_backoff_grows_and_is_capped() -> None:
    delays = [alerts.backoff(n, 1.0, 60.0) for n in range(1, 12)]
    assert 0.8 <= delays[0] <= 1.2 and 1.6 <= delays[1] <= 2.4
    assert max(delays) <= 72.0


def _queue(tx: Any, due: float, body: str = "{}") -> None:
    """One alert "a1" for instance "i1", due at ``due``."""
    tx.insert_alert(
        "a1",
        "i1",
        due,
        {"event_id": "e1", "url": "http://hook", "secret": "s" * 16, "body": body, "rule_name": "r", "contact_id": "c"},
    )


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def test_outbox_retries_until_delivered_and_survives_a_restart(tmp_path: Path) -> None:
    db = tmp_path / "x.db"
    storage = SqliteStorage(db)
    with storage.write() as tx:
        _queue(tx, 1000.0, body=json.dumps({"id": "e1"}))
    answers = [500]
    seen: list[dict[str, Any]] = []

    def post(url: str, body: bytes, headers: Any, timeout: float) -> int:
        seen.append(dict(headers))
        assert alerts.verify("s" * 16, headers[alerts.SIGNATURE_HEADER], body, tolerance=1e12)
        return answers.pop(0)

    clock = Clock()
    deliverer = alerts.Deliverer(storage, post=post, clock=clock)
    assert deliverer.deliver_due() == 1
    assert deliverer.deliver_due() == 0  # not due yet: backing off
    storage.close()

    storage = SqliteStorage(db)  # "restart"
    answers.append(200)
    clock.now += 5
    deliverer = alerts.Deliverer(storage, post=post, clock=clock)
    assert deliverer.deliver_due() == 1
    clock.now += 1000
    assert deliverer.deliver_due() == 0
    with storage.read() as tx:
        (alert,) = tx.list_alerts("i1", 10)
    assert alert["status"] == alerts.DELIVERED and alert["attempts"] == 2
    assert [h["X-Livelens-Delivery-Attempt"] for h in seen] == ["1", "2"]
    assert {h[alerts.EVENT_ID_HEADER] for h in seen} == {"e1"}
    storage.close()


def test_outbox_gives_up_after_max_attempts(tmp_path: Path) -> None:
    storage = SqliteStorage(tmp_path / "y.db")
    with storage.write() as tx:
        _queue(tx, 0.0)

    def refuse(url: str, body: bytes, headers: Any, timeout: float) -> int:
        raise ConnectionRefusedError("refused")

    clock = Clock()
    deliverer = alerts.Deliverer(storage, alerts.DeliveryPolicy(max_attempts=3), post=refuse, clock=clock)
    for _ in range(5):
        deliverer.deliver_due()
        clock.now += 10_000
    with storage.read() as tx:
        (alert,) = tx.list_alerts("i1", 10)
    assert alert["status"] == alerts.FAILED and alert["attempts"] == 3
    assert "ConnectionRefusedError" in alert["last_error"]
    storage.close()


def test_a_round_with_nothing_due_takes_no_write_transaction(tmp_path: Path) -> None:
    """Delivery rounds run every second on every node; only one with something due may take the writer."""
    storage = SqliteStorage(tmp_path / "z.db")
    writes = 0
    real_write = storage.write

    def counting_write() -> Any:
        nonlocal writes
        writes += 1
        return real_write()

    storage.write = counting_write  # type: ignore[method-assign]
    clock = Clock()
    deliverer = alerts.Deliverer(storage, post=lambda *a: 200, clock=clock)
    assert deliverer.deliver_due() == 0 and writes == 0  # empty outbox
    with real_write() as tx:
        _queue(tx, clock.now + 30)
    assert deliverer.deliver_due() == 0 and writes == 0  # not due yet
    clock.now += 30
    assert deliverer.deliver_due() == 1 and writes == 2  # taken, then its result recorded
    storage.close()
