"""Claims, fencing and the worker loop over real SQLite, with a stand-in pipeline (no models).

Covers: one claim per contact at a time, takeover after expiry with a higher
fence, a commit with a lost claim refused (nothing written), back-off and
FAILED after repeated failures, and several workers (threads with their own
connections, as processes would have) analysing many contacts' items exactly
once and in order.
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable, Sequence
from typing import Any

import pytest

from livelens.analysis.types import AnalysedTurn, Redaction, Summary, Turn, TurnAnalysis
from livelens.contacts.analysis_worker import (
    MAX_ATTEMPTS,
    Analyser,
    Commit,
    Failure,
    apply_commit,
    back_off,
    load_units,
)
from livelens.contacts.models import Contact
from livelens.storage import Storage
from livelens.worker.loop import Worker
from livelens.worker.notify import EventWaker


class FakePipeline:
    """Sentiment from the text; counts the turns it saw (to check batching)."""

    def __init__(self) -> None:
        self.batches: list[int] = []
        self.lock = threading.Lock()

    def analyze(self, turn: Turn, redaction: Redaction | None = None) -> TurnAnalysis:
        return TurnAnalysis(sentiment="NEGATIVE" if "bad" in turn.content else "NEUTRAL")

    def analyze_many(self, turns: Sequence[Turn], redactions: Sequence[Redaction | None],
                     observe: Any = None) -> list[TurnAnalysis]:
        with self.lock:
            self.batches.append(len(turns))
        return [self.analyze(t) for t in turns]

    def redact(self, turn: Turn) -> Redaction:
        return Redaction(turn.content, (), (), ())

    def summarize(self, turns: list[AnalysedTurn], *, max_chars: int, language: str = "en-US") -> Summary:
        return Summary("COMPLETED", content=f"{len(turns)} turns")


def contact_record(contact_id: str) -> dict[str, Any]:
    return Contact(
        id=contact_id, arn=f"arn:aws:connect:us-east-1:123456789012:instance/i1/contact/{contact_id}",
        instance_id="i1", channel="CHAT", initiation_method="API", initiation_timestamp="2026-01-01T00:00:00.000Z",
        redaction_policy="None", language="en-US", analysis=["sentiment"], redaction_mask="PII",
    ).to_record()


def add_contact(storage: Storage, contact_id: str) -> None:
    with storage.write() as tx:
        tx.insert_contact(contact_id, "i1", "CHAT", "IN_PROGRESS", contact_record(contact_id))


def add_turn(storage: Storage, contact_id: str, text: str) -> int:
    with storage.write() as tx:
        return tx.append_item(contact_id, f"{contact_id}-{text}", "MESSAGE", None, {
            "content": text, "participant_id": "p1", "role": "CUSTOMER", "content_type": "text/plain",
            "time": "2026-01-01T00:00:00.000Z", "display_name": "C"})


def transcript(storage: Storage, contact_id: str) -> list[str]:
    with storage.read() as tx:
        rows = tx.list_segments(contact_id, after=0, kinds=["Transcript"], limit=10_000, output="raw")
    return [json.loads(body)["Content"] for _, _, body in rows]


@pytest.fixture
def storage(open_test_storage: Callable[[], Storage]) -> Storage:
    """The claims contract, on SQLite and on PostgreSQL (tests/conftest.py)."""
    return open_test_storage()


def test_a_contact_is_claimed_once_until_its_lease_expires(storage: Storage) -> None:
    add_contact(storage, "c1")
    add_turn(storage, "c1", "hello")
    with storage.write() as tx:
        (first,) = tx.claim_contacts("w1", now=100.0, lease_seconds=10, limit=8)
        assert tx.claim_contacts("w2", now=105.0, lease_seconds=10, limit=8) == []
    with storage.write() as tx:
        (second,) = tx.claim_contacts("w2", now=111.0, lease_seconds=10, limit=8)
    assert second.fence == first.fence + 1
    with storage.write() as tx:
        assert not tx.holds_claim("c1", "w1", first.fence)
        assert tx.holds_claim("c1", "w2", second.fence)
        assert tx.extend_claims("w1", [("c1", first.fence)], 200.0) == []
        assert tx.extend_claims("w2", [("c1", second.fence)], 200.0) == ["c1"]
        assert tx.claim_contacts("w3", now=150.0, lease_seconds=10, limit=8) == []


def test_a_commit_whose_claim_was_taken_over_is_refused(storage: Storage) -> None:
    add_contact(storage, "c1")
    add_turn(storage, "c1", "hello")
    analyser = Analyser(lambda contact: FakePipeline())
    with storage.write() as tx:
        claims = tx.claim_contacts("w1", now=100.0, lease_seconds=10, limit=8)
        stale = analyser.analyse(load_units(tx, claims, None, 16))[0]
    with storage.write() as tx:  # w1 stalled; its lease expired and w2 took over
        claims = tx.claim_contacts("w2", now=120.0, lease_seconds=10, limit=8)
        fresh = analyser.analyse(load_units(tx, claims, None, 16))[0]
    assert isinstance(stale, Commit) and isinstance(fresh, Commit)
    with storage.write() as tx:
        assert apply_commit(tx, "w2", fresh, None)
    with storage.write() as tx:
        assert not apply_commit(tx, "w1", stale, None)
    assert transcript(storage, "c1") == ["hello"]
    with storage.read() as tx:
        assert tx.get_contact("c1")["analysed_seq"] == 1
        assert tx.pending_contacts(10) == []


def test_failures_back_off_then_mark_the_contact_failed(storage: Storage) -> None:
    add_contact(storage, "c1")
    add_turn(storage, "c1", "hello")
    now = 1000.0
    for attempt in range(1, MAX_ATTEMPTS + 1):
        with storage.write() as tx:
            (claim,) = tx.claim_contacts("w1", now=now, lease_seconds=10, limit=8)
            assert claim.failures == attempt - 1
            failed = back_off(tx, "w1", Failure(claim, "c1", claim.failures + 1, "ValueError: broken"), now)
        assert failed == (attempt == MAX_ATTEMPTS)
        with storage.write() as tx:  # backed off: not claimable at once
            assert tx.claim_contacts("w1", now=now, lease_seconds=10, limit=8) == []
        now += 120
    with storage.read() as tx:
        record = tx.get_contact("c1")
        assert record["analysis_status"] == "FAILED"
        assert record["analysis_failure"] == "ValueError: broken"
    with storage.write() as tx:
        assert tx.claim_contacts("w1", now=now + 1000, lease_seconds=10, limit=8) == []


def test_workers_analyse_every_item_once_in_order(storage: Storage, open_test_storage: Callable[[], Storage]) -> None:
    contacts = [f"c{i}" for i in range(12)]
    for contact_id in contacts:
        add_contact(storage, contact_id)
    pipeline = FakePipeline()
    stop = threading.Event()
    workers, threads = [], []
    for n in range(3):
        own = open_test_storage()  # each worker its own connections, like a process
        worker = Worker(own, Analyser(lambda contact: pipeline), None, EventWaker(), lease_seconds=5, batch=4,
                        items_per_contact=3, poll_interval=0.02, worker_id=f"w{n}")
        workers.append((worker, own))
        threads.append(threading.Thread(target=worker.run, args=(stop,)))
    for thread in threads:
        thread.start()
    expected = {contact_id: [f"turn {k}" for k in range(15)] for contact_id in contacts}
    for k in range(15):
        for contact_id in contacts:
            add_turn(storage, contact_id, f"turn {k}")
    try:
        deadline = threading.Event()
        for _ in range(500):
            with storage.read() as tx:
                if not tx.pending_contacts(100):
                    break
            deadline.wait(0.02)
    finally:
        stop.set()
        for thread in threads:
            thread.join(10)
    for contact_id in contacts:
        assert transcript(storage, contact_id) == expected[contact_id]
    assert max(pipeline.batches) > 1  # turns of several contacts analysed together
    assert sum(w.stats.counters["turns"] for w, _ in workers) == 12 * 15


def test_a_busy_worker_claims_its_next_round_in_the_commit_and_hands_it_back_on_stop(
    storage: Storage, monkeypatch: pytest.MonkeyPatch
) -> None:
    for n in range(3):
        add_contact(storage, f"c{n}")
        add_turn(storage, f"c{n}", f"hello {n}")
    writes: list[bool] = []
    write = storage.write

    def counted(*, durable: bool = True) -> Any:
        writes.append(durable)
        return write(durable=durable)

    monkeypatch.setattr(storage, "write", counted)
    worker = Worker(storage, Analyser(lambda contact: FakePipeline()), None, EventWaker(), batch=1, worker_id="w1")
    assert worker.step() == 1
    assert writes == [False, True]  # a claim of its own (nothing in hand), then the commit that claims the next
    assert worker.step() == 1
    assert writes == [False, True, True]  # busy: one write transaction per round
    (held,) = worker.held()
    monkeypatch.setattr(storage, "write", write)
    worker.run(_set_event())  # stopped at once: the claimed round never runs
    with storage.write() as tx:  # handed back: another worker claims it now, not after the lease
        (taken,) = tx.claim_contacts("w2", now=time.time(), lease_seconds=10, limit=8)
    assert taken.contact_id == held.contact_id
    with storage.read() as tx:
        assert tx.pending_contacts(10) == [held.contact_id]
    assert [transcript(storage, f"c{n}") for n in range(3)].count([]) == 1


def _set_event() -> threading.Event:
    event = threading.Event()
    event.set()
    return event


def test_the_claims_of_a_dead_worker_process_end_at_once(storage: Storage) -> None:
    add_contact(storage, "c1")
    add_turn(storage, "c1", "hello")
    with storage.write() as tx:
        (first,) = tx.claim_contacts("vm:4242:abcd", now=100.0, lease_seconds=60, limit=8)
        tx.put_worker("vm:4242:abcd", "vm", 4242, 90.0, 100.0, {})
    with storage.write() as tx:
        assert tx.expire_claims("vm:42:") == 0  # another process's prefix frees nothing
        assert tx.expire_claims("vm:4242:") == 1
        (second,) = tx.claim_contacts("vm:5151:efgh", now=101.0, lease_seconds=60, limit=8)
        assert tx.list_workers(alive_since=0) == []
    assert second.fence == first.fence + 1


def test_a_contact_that_cannot_be_prepared_fails_alone(storage: Storage) -> None:
    for contact_id in ("good", "bad"):
        add_contact(storage, contact_id)
        add_turn(storage, contact_id, "hello")
    pipeline = FakePipeline()

    def pipeline_for(contact: Contact) -> FakePipeline:
        if contact.id == "bad":
            raise ValueError("unknown analysis component 'sentimnet'")
        return pipeline

    with storage.write() as tx:
        claims = tx.claim_contacts("w1", now=100.0, lease_seconds=10, limit=8)
        results = Analyser(pipeline_for).analyse(load_units(tx, claims, None, 16))
    by_contact = {r.claim.contact_id: r for r in results}
    assert isinstance(by_contact["good"], Commit)
    failure = by_contact["bad"]
    # An analyser that cannot load will not load on a retry either: FAILED at once, with the reason.
    assert isinstance(failure, Failure) and failure.attempts == MAX_ATTEMPTS
    assert failure.reason.startswith("analysis cannot run: ValueError:") and "sentimnet" in failure.reason


def test_two_claimers_at_once_never_share_a_contact(storage: Storage,
                                                    open_test_storage: Callable[[], Storage]) -> None:
    for n in range(20):
        add_contact(storage, f"c{n}")
        add_turn(storage, f"c{n}", "hello")
    claimers = [open_test_storage() for _ in range(2)]
    start = threading.Barrier(2)
    claimed: list[list[str]] = [[], []]

    def claim(n: int) -> None:
        start.wait()
        for _ in range(5):
            with claimers[n].write() as tx:
                claimed[n] += [c.contact_id for c in tx.claim_contacts(f"w{n}", now=100.0, lease_seconds=60, limit=3)]

    threads = [threading.Thread(target=claim, args=(n,)) for n in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)
    assert not set(claimed[0]) & set(claimed[1])
    assert sorted(claimed[0] + claimed[1]) == sorted(f"c{n}" for n in range(20))


def test_a_fence_check_holds_off_a_takeover_until_commit(storage: Storage,
                                                         open_test_storage: Callable[[], Storage]) -> None:
    """The old owner's commit passed its fence check: no takeover interleaves (PostgreSQL skips the locked
    contact, SQLite's writer waits); afterwards a takeover gets a higher fence and the old one is refused."""
    add_contact(storage, "c1")
    add_turn(storage, "c1", "one")
    add_turn(storage, "c1", "two")
    with storage.write() as tx:
        (old,) = tx.claim_contacts("old", now=100.0, lease_seconds=1, limit=8)
    other = open_test_storage()
    during: list[int] = []

    def take_over() -> None:
        with other.write() as tx:
            during.extend(c.fence for c in tx.claim_contacts("new", now=200.0, lease_seconds=60, limit=8))

    thread = threading.Thread(target=take_over)
    with storage.write() as tx:
        assert tx.holds_claim("c1", "old", old.fence)
        thread.start()
        thread.join(0.5)
        assert during == []  # nothing interleaves with a commit that passed its check
        assert tx.advance_cursor("c1", 0, 1)
    thread.join(10)
    if not during:
        with other.write() as tx:
            during.extend(c.fence for c in tx.claim_contacts("new", now=200.0, lease_seconds=60, limit=8))
    assert during == [old.fence + 1]
    with storage.write() as tx:
        assert not tx.holds_claim("c1", "old", old.fence)  # the old owner's next commit is refused
        assert tx.get_contact("c1")["analysed_seq"] == 1  # its earlier commit stands


def test_contacts_are_claimed_by_how_long_their_next_item_has_waited(storage: Storage) -> None:
    """Oldest pending item first, as the cursor moves: a contact whose early turns were analysed waits
    behind contacts whose first pending turn came before its next one; a contact caught up and written
    to again waits from its new item; a cursor moved back waits from the item after it."""
    def turn(contact_id: str, text: str) -> None:
        with storage.write() as tx:
            tx.append_item(contact_id, f"{contact_id}-{text}", "MESSAGE", None, {"content": text})
        time.sleep(0.002)  # items.accepted_at is the wall clock: appends a moment apart

    for contact_id in ("a", "b", "c"):
        add_contact(storage, contact_id)
    turn("a", "a1")
    turn("b", "b1")
    turn("a", "a2")
    turn("c", "c1")

    def order(now: float) -> list[str]:
        with storage.write() as tx:
            claims = tx.claim_contacts("w", now=now, lease_seconds=1, limit=8)
        return [c.contact_id for c in claims]

    assert order(100.0) == ["a", "b", "c"]
    with storage.write() as tx:  # a1 analysed: a now waits from a2, accepted after b1 and before c1
        assert tx.advance_cursor("a", 0, 1)
    assert order(200.0) == ["b", "a", "c"]
    with storage.write() as tx:
        assert tx.advance_cursor("a", 1, 2)  # a caught up
        assert tx.advance_cursor("b", 0, 1)
    assert order(300.0) == ["c"]
    turn("a", "a3")
    turn("b", "b2")
    assert order(400.0) == ["c", "a", "b"]
    with storage.write() as tx:
        assert tx.advance_cursor("c", 0, 1)
        assert tx.advance_cursor("a", 2, 1)  # back to a2, the oldest pending item of all
    assert order(500.0) == ["a", "b"]
    with storage.read() as tx:
        backlog = tx.analysis_backlog()
        first_a2 = tx.list_items("a", after=1, limit=1)[0]
    assert backlog.pending_contacts == 2 and backlog.pending_items == 3
    assert backlog.oldest_pending_accepted_at is not None
    assert first_a2["id"] == "a-a2"


def test_a_cursor_moved_while_an_item_is_appended_is_dated_from_that_item(
        storage: Storage, open_test_storage: Callable[[], Storage]) -> None:
    """The append holds the contact row (PostgreSQL) or the write lock (SQLite) while the worker's commit
    moves the cursor past the last item it saw: the contact stays pending, dated from the new item (not
    from nothing, which would show as the oldest pending item there is)."""
    add_contact(storage, "c1")
    add_turn(storage, "c1", "one")
    appender, committer = open_test_storage(), open_test_storage()
    appending = appender.write()
    tx = appending.__enter__()
    tx.append_item("c1", "c1-two", "MESSAGE", None, {"content": "two"})
    moved = threading.Event()

    def move() -> None:
        with committer.write() as wtx:
            assert wtx.advance_cursor("c1", 0, 1)
        moved.set()

    thread = threading.Thread(target=move)
    thread.start()
    time.sleep(0.3)
    assert not moved.is_set()  # waiting for the append
    appending.__exit__(None, None, None)
    thread.join(10)
    assert moved.is_set()
    with storage.read() as rtx:
        backlog = rtx.analysis_backlog()
    assert backlog.pending_items == 1
    assert backlog.oldest_pending_accepted_at is not None
    assert time.time() - 60 < backlog.oldest_pending_accepted_at <= time.time()
