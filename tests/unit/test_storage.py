import json
from importlib import resources
from pathlib import Path

from livelens.storage.sqlite import MIGRATIONS_PACKAGE, SqliteStorage, apply_migrations


def _contact(storage: SqliteStorage, contact_id: str = "c1") -> None:
    with storage.write() as tx:
        tx.insert_contact(contact_id, "i1", "CHAT", "IN_PROGRESS", {"id": contact_id})


def test_migrations_are_recorded_once(tmp_path: Path) -> None:
    storage = SqliteStorage(tmp_path / "db.sqlite")
    assert apply_migrations(storage._writer) == []
    names = [r[0] for r in storage._writer.execute("SELECT name FROM _migrations")]
    shipped = sorted(f.name for f in resources.files(MIGRATIONS_PACKAGE).iterdir() if f.name.endswith(".sql"))
    assert names == shipped and names[:2] == ["0001_initial.sql", "0002_rules.sql"]
    storage.close()


def test_transcript_search_indexes_the_text_the_policy_shows(tmp_path: Path) -> None:
    storage = SqliteStorage(tmp_path / "db.sqlite")
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


def test_segment_pages_are_keyset_ordered_and_filtered(tmp_path: Path) -> None:
    storage = SqliteStorage(tmp_path / "db.sqlite")
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


def test_failed_write_rolls_back(tmp_path: Path) -> None:
    storage = SqliteStorage(tmp_path / "db.sqlite")
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


def test_pending_contacts_follow_the_analysed_cursor(tmp_path: Path) -> None:
    storage = SqliteStorage(tmp_path / "db.sqlite")
    _contact(storage)
    with storage.write() as tx:
        seq = tx.append_item("c1", "item-1", "MESSAGE", "p:t", {"content": "hello"})
    with storage.read() as tx:
        assert tx.pending_contacts(10) == ["c1"]
        assert tx.find_item("c1", client_key="p:t")["id"] == "item-1"
    with storage.write() as tx:
        tx.mark_analysed("c1", seq)
    with storage.read() as tx:
        assert tx.pending_contacts(10) == []
    storage.close()


def test_concurrent_writers_share_commits_each_atomic_and_durable_on_return(tmp_path: Path) -> None:
    import threading
    import time

    storage = SqliteStorage(tmp_path / "db.sqlite")
    _contact(storage)
    other = SqliteStorage(tmp_path / "db.sqlite")  # a second connection: sees only what was committed
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
    assert storage.commits < 11  # grouped: fewer fsyncs than writers (migrations use their own COMMITs)
    other.close()
    storage.close()


def test_segment_marks_change_when_a_log_grows_or_its_analysis_ends(tmp_path: Path) -> None:
    storage = SqliteStorage(tmp_path / "db.sqlite")
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
    storage.close()


def test_the_instance_event_log_follows_contacts_segments_endings_and_alerts(tmp_path: Path) -> None:
    storage = SqliteStorage(tmp_path / "db.sqlite")
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
