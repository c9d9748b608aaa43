import json
import sqlite3
import threading
import time
from collections.abc import Callable
from importlib import resources
from pathlib import Path
from typing import Any

import pytest

from livelens.storage import Storage, open_storage
from livelens.storage.base import Record
from livelens.storage.sqlite import MIGRATIONS_PACKAGE, SqliteStorage, apply_migrations, begin_immediate


def _contact(storage: Storage, contact_id: str = "c1") -> None:
    with storage.write() as tx:
        tx.insert_contact(contact_id, "i1", "CHAT", "IN_PROGRESS", {"id": contact_id})


def test_migrations_are_recorded_once(tmp_path: Path) -> None:
    storage = SqliteStorage(tmp_path / "db.sqlite")
    assert apply_migrations(storage._writer) == []
    names = [r[0] for r in storage._writer.execute("SELECT name FROM _migrations")]
    shipped = sorted(f.name for f in resources.files(MIGRATIONS_PACKAGE).iterdir() if f.name.endswith(".sql"))
    assert names == shipped and names[:2] == ["0001_initial.sql", "0002_rules.sql"]
    storage.close()


def test_migration_0012_dates_each_pending_contact_from_its_next_item(tmp_path: Path) -> None:
    """A database from before 0012: each pending contact's pending_since becomes its next item's
    accepted_at, and the claim query walks the new index."""
    storage = SqliteStorage(tmp_path / "db.sqlite")
    for contact_id in ("a", "b", "done"):
        _contact(storage, contact_id)
        with storage.write() as tx:
            for n in range(2):
                tx.append_item(contact_id, f"{contact_id}{n}", "MESSAGE", None, {"content": "hi"})
    with storage.write() as tx:
        assert tx.advance_cursor("a", 0, 1)
        assert tx.advance_cursor("done", 0, 2)
    conn = storage._writer
    conn.execute("DROP INDEX contacts_claimable")
    conn.execute("ALTER TABLE contacts DROP COLUMN pending_since")
    conn.execute("DELETE FROM _migrations WHERE name = '0012_claim_order.sql'")
    assert apply_migrations(conn) == ["0012_claim_order.sql"]
    rows = dict(conn.execute("SELECT id, pending_since FROM contacts").fetchall())
    accepted = dict(conn.execute("SELECT id, accepted_at FROM items").fetchall())
    assert rows == {"a": accepted["a1"], "b": accepted["b0"], "done": 0}
    plan = " ".join(str(r[-1]) for r in conn.execute(
        "EXPLAIN QUERY PLAN SELECT id FROM contacts INDEXED BY contacts_claimable WHERE last_item_seq > analysed_seq"
        " AND lease_expires <= 1 AND retry_at <= 1 AND analysis_status != 'FAILED' ORDER BY pending_since LIMIT 8"))
    assert "contacts_claimable" in plan and "TEMP B-TREE" not in plan
    storage.close()


def test_transcript_search_indexes_the_text_the_policy_shows(open_test_storage: Callable[[], Storage]) -> None:
    storage = open_test_storage()
    _contact(storage, "open")
    _contact(storage, "redacting")
    raw = {"Id": "t1", "ParticipantRole": "CUSTOMER", "Content": "mail me at jane@example.com"}
    hidden = {**raw, "Content": "mail me at [PII]"}
    with storage.write() as tx:
        tx.append_segments("open", [("Transcript", raw, None)])
        tx.append_segments("redacting", [("Transcript", raw, hidden)])
        tx.append_segments("redacting", [("Event", {"Id": "e"}, {"Id": "e"})])
    with storage.read() as tx:
        assert tx.search_transcripts("i1", "CUSTOMER", '"jane example com"') == {"open"}
        assert tx.search_transcripts("i1", "CUSTOMER", '"mail me"') == {"open", "redacting"}
        assert tx.search_transcripts("i1", "AGENT", '"mail me"') == set()
        assert tx.search_transcripts("other-instance", "CUSTOMER", '"mail me"') == set()
    storage.close()


def test_segment_pages_are_keyset_ordered_and_filtered(open_test_storage: Callable[[], Storage]) -> None:
    storage = open_test_storage()
    _contact(storage)
    with storage.write() as tx:
        for n in range(10):
            kind = "Transcript" if n % 3 else "Event"
            tx.append_segments("c1", [(kind, {"n": n}, None)])
    with storage.read() as tx:
        first = tx.list_segments("c1", after=0, kinds=["Transcript", "Event"], limit=4, output="raw")
        rest = tx.list_segments("c1", after=first[-1][0], kinds=["Transcript", "Event"], limit=100, output="raw")
        events = tx.list_segments("c1", after=0, kinds=["Event"], limit=100, output="raw")
        redacted = tx.list_segments("c1", after=0, kinds=["Event"], limit=100, output="redacted")
        fallback = tx.list_segments("c1", after=0, kinds=["Event"], limit=100, output="redacted_or_raw")
    assert [json.loads(row[2])["n"] for row in first + rest] == list(range(10))
    assert [json.loads(row[2])["n"] for row in events] == [0, 3, 6, 9]
    assert redacted == [] and fallback == events
    storage.close()


def test_failed_write_rolls_back(open_test_storage: Callable[[], Storage]) -> None:
    storage = open_test_storage()
    _contact(storage)
    try:
        with storage.write() as tx:
            tx.append_item("c1", "item-1", "MESSAGE", None, {"content": "hello"})
            raise RuntimeError("boom")
    except RuntimeError:
        pass
    with storage.read() as tx:
        assert tx.list_items("c1") == []
        assert tx.get_contact("c1")["last_item_seq"] == 0
    storage.close()


def test_pending_contacts_follow_the_analysed_cursor(open_test_storage: Callable[[], Storage]) -> None:
    storage = open_test_storage()
    _contact(storage)
    with storage.write() as tx:
        seq = tx.append_item("c1", "item-1", "MESSAGE", "p:t", {"content": "hello"})
    with storage.read() as tx:
        assert tx.pending_contacts(10) == ["c1"]
        assert tx.find_item("c1", client_key="p:t")["id"] == "item-1"
    with storage.write() as tx:
        assert tx.advance_cursor("c1", 0, seq)
    with storage.read() as tx:
        assert tx.pending_contacts(10) == []
    storage.close()


def test_concurrent_writers_each_atomic_and_durable_on_return(open_test_storage: Callable[[], Storage]) -> None:
    import threading
    import time

    storage = open_test_storage()
    _contact(storage)
    other = open_test_storage()  # a second connection: sees only what was committed
    start = threading.Barrier(12)
    seen_after_return: list[bool] = []
    errors: list[str] = []

    def writer(n: int) -> None:
        start.wait()
        try:
            with storage.write() as tx:
                tx.append_item("c1", f"item-{n}", "MESSAGE", f"k{n}", {"content": str(n)})
                time.sleep(0.005)  # hold the connection so that others queue behind
                if n == 5:
                    raise ValueError("this writer fails")
        except ValueError as exc:
            errors.append(str(exc))
            return
        with other.read() as tx:
            seen_after_return.append(tx.find_item("c1", client_key=f"k{n}") is not None)

    threads = [threading.Thread(target=writer, args=(n,)) for n in range(12)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == ["this writer fails"]
    assert seen_after_return == [True] * 11  # acknowledged means committed
    with other.read() as tx:
        contents = sorted(int(i["content"]) for i in tx.list_items("c1"))
    assert contents == [n for n in range(12) if n != 5]
    if isinstance(storage, SqliteStorage):
        assert storage.commits < 11  # grouped: fewer fsyncs than writers (migrations use their own COMMITs)
    other.close()
    storage.close()


def test_segment_marks_change_when_a_log_grows_or_its_analysis_ends(open_test_storage: Callable[[], Storage]) -> None:
    storage = open_test_storage()
    _contact(storage, "a")
    _contact(storage, "b")
    with storage.read() as tx:
        before = tx.segment_marks(["a", "b", "missing"])
    assert before == {"a": (0, "IN_PROGRESS"), "b": (0, "IN_PROGRESS")}
    with storage.write() as tx:
        tx.append_segments("a", [("Transcript", {"n": 1}, None), ("Event", {"n": 2}, None)])
        tx.update_contact("b", analysis_status="COMPLETED")
    with storage.read() as tx:
        assert tx.segment_marks(["a", "b"]) == {"a": (2, "IN_PROGRESS"), "b": (0, "COMPLETED")}
        assert len(tx.segment_marks([f"c{n}" for n in range(1200)])) == 0  # chunked under SQLite's limit


# --- races SQLite's single writer excluded, which PostgreSQL must exclude explicitly ---------------------


def _race(storage_for: Callable[[], Storage], bodies: list[Callable[[Any], Any]]) -> list[Any]:
    """Run each body in its own write transaction on its own storage, all at once; their results."""
    import threading

    storages = [storage_for() for _ in bodies]
    start = threading.Barrier(len(bodies))
    results: list[Any] = [None] * len(bodies)

    def run(n: int) -> None:
        start.wait()
        try:
            with storages[n].write() as tx:
                results[n] = bodies[n](tx)
        except Exception as exc:  # reported, not raised in the thread
            results[n] = exc

    threads = [threading.Thread(target=run, args=(n,)) for n in range(len(bodies))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)
    return results


def test_an_idempotency_token_race_returns_the_first_response(open_test_storage: Callable[[], Storage]) -> None:
    import time

    def request(answer: str) -> Callable[[Any], Any]:
        def body(tx: Any) -> Any:
            found = tx.get_idempotent("StartChatContact", "token-1")
            if found is not None:
                return found[1]
            time.sleep(0.1)  # the other request arrives meanwhile
            tx.put_idempotent("StartChatContact", "token-1", "hash", {"ContactId": answer})
            return {"ContactId": answer}
        return body

    results = _race(open_test_storage, [request("a"), request("b")])
    assert not any(isinstance(r, Exception) for r in results), results
    assert results[0] == results[1]  # the second request got the first one's response, not an error


def test_a_name_race_is_a_conflict_not_an_error(open_test_storage: Callable[[], Storage]) -> None:
    import time

    def create(rule_id: str) -> Callable[[Any], Any]:
        def body(tx: Any) -> Any:
            if tx.find_rule_by_name("i1", "late reply") is not None:
                return "exists"
            time.sleep(0.1)
            tx.insert_rule(rule_id, "i1", "late reply", {"id": rule_id})
            return "created"
        return body

    assert sorted(_race(open_test_storage, [create("r1"), create("r2")])) == ["created", "exists"]


def test_concurrent_updates_of_one_item_both_survive(open_test_storage: Callable[[], Storage]) -> None:
    """A read receipt arriving while a worker writes the same turn's analysis: neither change is lost."""
    import time

    storage = open_test_storage()
    _contact(storage)
    with storage.write() as tx:
        seq = tx.append_item("c1", "item-1", "MESSAGE", None, {"content": "hello"})

    def change(field: str) -> Callable[[Any], Any]:
        def body(tx: Any) -> None:
            item = tx.find_item("c1", item_id="item-1")
            time.sleep(0.1)
            item[field] = True
            tx.update_item("c1", seq, item)
        return body

    assert _race(open_test_storage, [change("read"), change("analysed")]) == [None, None]
    with storage.read() as tx:
        item = tx.find_item("c1", item_id="item-1")
    assert item is not None and item["read"] is True and item["analysed"] is True


def test_an_item_analysis_is_set_into_the_item_as_it_is_now(open_test_storage: Callable[[], Storage]) -> None:
    storage = open_test_storage()
    _contact(storage)
    with storage.write() as tx:
        seq = tx.append_item("c1", "item-1", "MESSAGE", None, {"content": "héllo", "analysis": {"old": 1}})
    with storage.write() as tx:  # a read receipt lands after the worker read its snapshot
        item = tx.find_item("c1", item_id="item-1")
        assert item is not None
        tx.update_item("c1", seq, {**item, "read": True})
    with storage.write() as tx:
        tx.set_item_analysis("c1", seq, {"sentiment": "NEGATIVE", "issues": [[0, 5, "héllo"]]})
        tx.set_item_analysis("c1", seq + 1, {"sentiment": "POSITIVE"})  # no such item: nothing happens
    with storage.read() as tx:
        item = tx.find_item("c1", item_id="item-1")
        assert tx.list_items("c1") == [item]
    assert item == {"seq": seq, "id": "item-1", "kind": "MESSAGE", "content": "héllo", "read": True,
                    "analysis": {"sentiment": "NEGATIVE", "issues": [[0, 5, "héllo"]]}}


def test_nodes_starting_together_agree_on_one_server_key(open_test_storage: Callable[[], Storage]) -> None:
    import time

    def start(key: str) -> Callable[[Any], Any]:
        def body(tx: Any) -> Any:
            existing = tx.get_meta("server_key")
            if existing is not None:
                return existing
            time.sleep(0.1)
            tx.set_meta("server_key", key)
            return key
        return body

    first, second = _race(open_test_storage, [start("k1"), start("k2")])
    assert first == second


def test_due_alerts_are_taken_by_one_deliverer_only(postgres_database: str) -> None:
    """N nodes share one outbox only on PostgreSQL (a SQLite database has one server, one deliverer)."""
    from tests import postgres

    postgres.empty_tables(postgres_database)
    opened: list[Storage] = []

    def open_test_storage() -> Storage:
        opened.append(open_storage(postgres_database))
        return opened[-1]

    storage = open_test_storage()
    with storage.write() as tx:
        for n in range(20):
            tx.insert_alert(f"a{n}", "i1", 100.0 + n, {"body": str(n)})

    def take(tx: Any) -> list[str]:
        return [alert["id"] for alert in tx.due_alerts(1000.0, 100)]

    first, second = _race(open_test_storage, [take, take])
    for opened_storage in opened:
        opened_storage.close()
    assert not set(first) & set(second) and len(first) + len(second) == 20


def test_postgresql_migrations_are_recorded_once_when_nodes_start_together() -> None:
    import threading

    from livelens.storage.postgres import MIGRATIONS_PACKAGE as PG_MIGRATIONS
    from livelens.storage.postgres import PostgresStorage
    from tests import postgres

    url = postgres.create_database("livelens_migrate")
    try:
        opened: list[Any] = []
        threads = [threading.Thread(target=lambda: opened.append(PostgresStorage(url))) for _ in range(3)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(60)
        assert len(opened) == 3
        with opened[0].read() as tx:
            names = [row[0] for row in tx.conn.execute("SELECT name FROM _migrations ORDER BY name")]
        shipped = sorted(f.name for f in resources.files(PG_MIGRATIONS).iterdir() if f.name.endswith(".sql"))
        assert names == shipped
        for storage in opened:
            storage.close()
    finally:
        postgres.drop_database(url)
    storage.close()


def test_the_instance_event_log_follows_contacts_segments_endings_and_alerts(
        open_test_storage: Callable[[], Storage]) -> None:
    storage = open_test_storage()
    with storage.read() as tx:
        assert tx.last_instance_event() == 0
    _contact(storage, "a")
    with storage.write() as tx:
        tx.append_segments("a", [("Transcript", {"Content": "raw"}, {"Content": "[PII]"}), ("Event", {"n": 2}, None)])
        tx.insert_rule_action("i1", {"ActionType": "SEND_NOTIFICATION", "ContactId": "a"})  # not an alert
        tx.insert_rule_action("i1", {"ActionType": "GENERATE_EVENTBRIDGE_EVENT", "ContactId": "a",
                                     "Event": {"id": "e1"}})
        tx.update_contact("a", analysis_status="COMPLETED")
        tx.update_contact("a", analysis_status="COMPLETED")  # no change, no second event
    with storage.read() as tx:
        rows = tx.list_instance_events("i1", after=0, limit=100)
        head = tx.last_instance_event()
        assert tx.list_instance_events("other", after=0, limit=100) == []
        assert tx.list_instance_events("i1", after=rows[1]["seq"], limit=1) == [rows[2]]
    assert [r["kind"] for r in rows] == ["STARTED", "SEGMENT", "SEGMENT", "ALERT", "COMPLETED"]
    assert [r["seq"] for r in rows] == sorted(r["seq"] for r in rows) and head == rows[-1]["seq"]
    assert (rows[1]["segment_kind"], json.loads(rows[1]["raw"]), json.loads(rows[1]["redacted"])) == (
        "Transcript", {"Content": "raw"}, {"Content": "[PII]"})
    assert rows[2]["redacted"] is None and json.loads(rows[3]["event"]) == {"id": "e1"}
    storage.close()


def test_instance_event_positions_become_visible_in_commit_order(open_test_storage: Callable[[], Storage]) -> None:
    """A reader moves its cursor past what it saw: it must never see a position while a lower one can
    still commit (on PostgreSQL a sequence alone would allow that; see migration 0002)."""
    import threading
    import time

    first_inserted = threading.Event()
    seen_meanwhile: list[list[Record]] = []

    def slow_writer() -> None:
        with open_test_storage().write() as tx:
            tx.insert_contact("slow", "i1", "CHAT", "IN_PROGRESS", {"id": "slow"})
            first_inserted.set()
            time.sleep(0.6)

    def fast_writer() -> None:
        first_inserted.wait(10)
        with open_test_storage().write() as tx:
            tx.insert_contact("fast", "i1", "CHAT", "IN_PROGRESS", {"id": "fast"})

    reader = open_test_storage()
    threads = [threading.Thread(target=slow_writer), threading.Thread(target=fast_writer)]
    for thread in threads:
        thread.start()
    first_inserted.wait(10)
    time.sleep(0.3)  # the fast writer has tried to commit by now
    with reader.read() as tx:
        seen_meanwhile.append(tx.list_instance_events("i1", after=0, limit=10))
    for thread in threads:
        thread.join(30)
    with reader.read() as tx:
        rows = tx.list_instance_events("i1", after=0, limit=10)
    assert seen_meanwhile == [[]]  # neither event is visible while the first transaction is open
    assert [row["contact_id"] for row in rows] == ["slow", "fast"]  # positions in commit order


def test_writers_of_one_instance_do_not_wait_for_each_other(postgres_database: str) -> None:
    """Every participant request reads its instance in a write transaction (after its contact): if that read
    locked the instance exclusively, all writers of an instance would queue on one row and deadlock with
    those that lock the instance before a contact. Two open writers both read it at once."""
    from tests import postgres

    postgres.empty_tables(postgres_database)
    first, second = open_storage(postgres_database), open_storage(postgres_database)
    try:
        with first.write() as tx:
            tx.insert_instance("i1", {"id": "i1"})
        with first.write() as holder:
            assert holder.get_instance("i1") == {"id": "i1"}
            with second.write() as other:
                other.conn.execute("SET LOCAL lock_timeout = '2s'")  # a wait fails the test, never hangs it
                assert other.get_instance("i1") == {"id": "i1"}
    finally:
        first.close()
        second.close()


def test_live_contacts_of_one_instance_or_of_all(open_test_storage: Callable[[], Storage]) -> None:
    storage = open_test_storage()
    with storage.write() as tx:
        tx.insert_contact("a1", "i1", "CHAT", "IN_PROGRESS", {"id": "a1"})
        tx.insert_contact("a2", "i1", "CHAT", "IN_PROGRESS", {"id": "a2"})
        tx.insert_contact("b1", "i2", "VOICE", "IN_PROGRESS", {"id": "b1"})
        tx.append_item("a1", "item-1", "MESSAGE", "p:t", {"content": "hello", "time": "2026-11-30T10:00:00.000Z"})
        tx.update_contact("a2", ended=True)
    with storage.read() as tx:
        every = {record["id"]: last for record, last in tx.live_contacts()}
        first = {record["id"]: last for record, last in tx.live_contacts("i1")}
        second = {record["id"] for record, _ in tx.live_contacts("i2")}
        none = tx.live_contacts("no-such-instance")
    assert every == {"a1": "2026-11-30T10:00:00.000Z", "b1": None}
    assert first == {"a1": "2026-11-30T10:00:00.000Z"} and second == {"b1"} and none == []
    storage.close()


def test_list_webhooks_returns_every_configured_instance(open_test_storage: Callable[[], Storage]) -> None:
    storage = open_test_storage()
    with storage.write() as tx:
        tx.put_webhooks("i2", {"Webhooks": [{"Url": "http://b"}]})
        tx.put_webhooks("i1", {"Webhooks": []})
        tx.put_webhooks("i2", {"Webhooks": [{"Url": "http://c"}]})
    with storage.read() as tx:
        assert tx.list_webhooks() == [("i1", {"Webhooks": []}), ("i2", {"Webhooks": [{"Url": "http://c"}]})]
    storage.close()


def test_recordings_are_listed_per_contact_in_order(open_test_storage: Callable[[], Storage]) -> None:
    storage = open_test_storage()
    with storage.write() as tx:
        for recording_id, contact_id in (("r1", "c1"), ("r2", "c2"), ("r3", "c1")):
            tx.insert_recording(recording_id, contact_id, {"RecordingId": recording_id, "Status": "IN_PROGRESS"})
        record = tx.get_recording("r3")
        assert record is not None
        tx.update_recording("r3", {**record, "Status": "COMPLETED"})
    with storage.read() as tx:
        assert [r["RecordingId"] for r in tx.list_recordings("c1")] == ["r1", "r3"]
        assert tx.get_recording("r3") == {"RecordingId": "r3", "Status": "COMPLETED"}
        assert tx.get_recording("nope") is None and tx.list_recordings("c9") == []
    if hasattr(storage, "pool"):  # PostgreSQL keeps the audio too, in chunks read back in order
        with storage.write() as tx:
            tx.append_recording_chunk("r1", 1, b"\x03\x04")
            tx.append_recording_chunk("r1", 0, b"\x01\x02")
        with storage.read() as tx:
            assert tx.recording_audio("r1") == b"\x01\x02\x03\x04" and tx.recording_audio("r2") == b""
    storage.close()


def test_a_writer_takes_the_sqlite_write_lock_soon_after_another_process_frees_it(tmp_path: Path) -> None:
    """SQLite's own busy handler sleeps up to 100 ms between tries; ``begin_immediate`` tries every
    millisecond or two, and still gives up after its timeout with SQLite's error."""
    path = tmp_path / "lock.db"
    SqliteStorage(path).close()
    holder = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
    waiter = sqlite3.connect(path, isolation_level=None)
    waiter.execute("PRAGMA busy_timeout=30000")
    holder.execute("BEGIN IMMEDIATE")
    released = []

    def release() -> None:
        time.sleep(0.4)  # long enough that SQLite's handler would be sleeping 25-100 ms at a time
        released.append(time.monotonic())
        holder.execute("COMMIT")

    threading.Thread(target=release).start()
    begin_immediate(waiter)
    late = time.monotonic() - released[0]
    waiter.execute("COMMIT")
    assert late < 0.03, f"took the lock {late * 1000:.0f} ms after it was freed"
    assert waiter.execute("PRAGMA busy_timeout").fetchone() == (30000,)

    holder.execute("BEGIN IMMEDIATE")
    started = time.monotonic()
    with pytest.raises(sqlite3.OperationalError, match="locked"):
        begin_immediate(waiter, timeout=0.2)
    assert 0.2 <= time.monotonic() - started < 1.0
    holder.execute("ROLLBACK")


def test_sqlite_commits_claims_without_fsync_and_never_lets_a_durable_write_share_that(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """``write(durable=False)`` commits with synchronous=NORMAL (no fsync); a durable writer that arrives
    while such a group is open does not join it: that group commits, and the durable one gets its own,
    with synchronous=FULL. Both are visible to other connections once their block returns."""
    import livelens.storage.sqlite as sqlite_storage

    monkeypatch.setattr(sqlite_storage, "GROUP_MAX_SECONDS", 30.0)  # else the slow first group ends at once
    storage = SqliteStorage(tmp_path / "sync.db")
    seen: dict[str, int] = {}
    inside = threading.Event()
    go_on = threading.Event()

    def light() -> None:
        with storage.write(durable=False) as tx:
            seen["light"] = tx.conn.execute("PRAGMA synchronous").fetchone()[0]
            tx.set_meta("claim", "w1")
            inside.set()
            go_on.wait(5)

    def durable() -> None:
        with storage.write() as tx:
            seen["durable"] = tx.conn.execute("PRAGMA synchronous").fetchone()[0]
            tx.set_meta("item", "i1")

    first = threading.Thread(target=light)
    first.start()
    inside.wait(5)
    second = threading.Thread(target=durable)
    second.start()
    time.sleep(0.05)  # the durable writer now waits behind the open, fsync-less group
    go_on.set()
    first.join(5)
    second.join(5)
    assert seen == {"light": 1, "durable": 2}  # NORMAL, FULL
    assert storage.commits == 2
    with storage.read() as tx:
        assert (tx.get_meta("claim"), tx.get_meta("item")) == ("w1", "i1")
    storage.close()


def test_the_rules_fingerprint_changes_with_every_rule_write_and_only_then(
    open_test_storage: Callable[[], Storage],
) -> None:
    storage = open_test_storage()

    def fingerprint() -> tuple[int, int, int]:
        with storage.read() as tx:
            return tx.rules_fingerprint("i1")

    seen = [fingerprint()]
    with storage.write() as tx:
        tx.insert_rule("r1", "i1", "one", {"v": 1})
        tx.insert_rule("r2", "i1", "two", {"v": 1})
        tx.insert_rule("other", "i2", "one", {"v": 1})  # another instance's rule changes nothing here
    seen.append(fingerprint())
    with storage.write() as tx:
        tx.update_rule("r1", "one", {"v": 2})
    seen.append(fingerprint())
    with storage.write() as tx:
        tx.update_rule("r1", "one", {"v": 2})  # written again unchanged: still a new revision
    seen.append(fingerprint())
    with storage.write() as tx:
        tx.delete_rule("r2")
    seen.append(fingerprint())
    with storage.write() as tx:
        tx.insert_rule("r3", "i1", "three", {"v": 1})  # the count is back, the newest seq is not
    seen.append(fingerprint())
    with storage.write() as tx:
        tx.update_rule("other", "one", {"v": 2})
    assert fingerprint() == seen[-1]
    assert len(set(seen)) == len(seen), seen
    assert seen[0] == (0, 0, 0)
