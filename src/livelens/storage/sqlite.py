"""SQLite storage: one writer connection behind a lock, a reader per thread.

Writes run in ``BEGIN IMMEDIATE`` transactions with ``synchronous=FULL`` in
WAL mode, so a write is on disk before the request that made it is
acknowledged; writers that wait at the same moment share one transaction and
one fsync, each in its own savepoint (group commit, see
:meth:`SqliteStorage.write`). Reads run in deferred transactions, which in
WAL mode see one consistent snapshot from their first statement to their end.
"""

from __future__ import annotations

import json
import sqlite3
import threading
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager, suppress
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from typing import Any

from livelens.files import private_database
from livelens.storage.base import Record
from livelens.storage.shared_sql import append_seq_sql, contact_update, rules_fingerprint
from livelens.storage.shared_sql import dumps as _dumps
from livelens.storage.sqlite_claims import SqliteClaims

_APPEND_SEQ = append_seq_sql("?") + " RETURNING last_item_seq"

MIGRATIONS_PACKAGE = "livelens.storage.migrations.sqlite"




def _loads(value: str | None) -> Any:
    return None if value is None else json.loads(value)


#: How long a statement waits for a lock another process holds (SQLite's busy timeout), in seconds.
BUSY_TIMEOUT = 30.0
#: The longest pause between two tries for the write lock in :func:`begin_immediate`, in seconds.
WRITE_LOCK_RETRY_MAX = 0.002


def _connect(path: str) -> sqlite3.Connection:
    conn = sqlite3.connect(path, isolation_level=None, check_same_thread=False, timeout=BUSY_TIMEOUT)
    conn.execute("PRAGMA journal_mode=WAL")
    conn.execute("PRAGMA synchronous=FULL")
    conn.execute(f"PRAGMA busy_timeout={int(BUSY_TIMEOUT * 1000)}")
    # Savepoints' undo journals (every writer of a group commit and every contact of a worker's commit
    # runs in one) in memory: they serve ROLLBACK TO inside a transaction and nothing after it, and on
    # disk each write transaction created, wrote the pages it changed into, and deleted a temporary file.
    conn.execute("PRAGMA temp_store=MEMORY")
    return conn


def begin_immediate(conn: sqlite3.Connection, timeout: float = BUSY_TIMEOUT) -> None:
    """``BEGIN IMMEDIATE``, tried again every millisecond or two while another process holds the write lock.

    SQLite's own busy handler sleeps 1, 2, 5, 10, 15, 20, 25, … 50, 100 ms between its tries, so a writer
    that meets a busy database takes the lock up to 100 ms after it was freed. The server and its worker
    processes write in turns many times a second, and that overshoot was most of a worker's wait (p99
    161 ms to begin a claim at 5 turns/s, against 9 ms for the server's longest commit). Here the wait
    ends within :data:`WRITE_LOCK_RETRY_MAX` of the lock's release; the busy timeout still bounds it.
    """
    deadline = time.monotonic() + timeout
    pause = 0.0002
    conn.execute("PRAGMA busy_timeout=0")
    try:
        while True:
            try:
                conn.execute("BEGIN IMMEDIATE")
                return
            except sqlite3.OperationalError as exc:
                if getattr(exc, "sqlite_errorcode", None) != sqlite3.SQLITE_BUSY or time.monotonic() >= deadline:
                    raise
            time.sleep(pause)
            pause = min(pause * 2, WRITE_LOCK_RETRY_MAX)
    finally:
        conn.execute(f"PRAGMA busy_timeout={int(BUSY_TIMEOUT * 1000)}")


def apply_migrations(conn: sqlite3.Connection) -> list[str]:
    """Apply the numbered ``.sql`` files not yet recorded in ``_migrations``."""
    conn.execute("CREATE TABLE IF NOT EXISTS _migrations (name TEXT PRIMARY KEY, applied_at TEXT NOT NULL)")
    done = {row[0] for row in conn.execute("SELECT name FROM _migrations")}
    applied = []
    files = sorted(
        (f for f in resources.files(MIGRATIONS_PACKAGE).iterdir() if f.name.endswith(".sql")),
        key=lambda f: f.name,
    )
    for file in files:
        if file.name in done:
            continue
        conn.execute("BEGIN IMMEDIATE")
        try:
            if conn.execute("SELECT 1 FROM _migrations WHERE name = ?", (file.name,)).fetchone():
                conn.execute("COMMIT")  # another process (a worker, a second server) applied it meanwhile
                continue
            for statement in file.read_text().split(";\n"):
                if statement.strip():
                    conn.execute(statement)
            conn.execute(
                "INSERT INTO _migrations (name, applied_at) VALUES (?, datetime('now'))", (file.name,)
            )
            conn.execute("COMMIT")
        except BaseException:
            conn.execute("ROLLBACK")
            raise
        applied.append(file.name)
    return applied


#: A group commits once it has this many writers or is this old, even if more are waiting.
GROUP_MAX_WRITERS = 64
GROUP_MAX_SECONDS = 0.02


@dataclass
class _Group:
    """Writers sharing one transaction (see :meth:`SqliteStorage.write`)."""

    opened: float
    durable: bool = True
    writers: int = 0
    done: threading.Event = field(default_factory=threading.Event)
    error: BaseException | None = None


class SqliteStorage:
    reads_without_waiting = True

    def __init__(self, path: str | Path) -> None:
        self.path = str(path)
        if self.path != ":memory:":
            Path(self.path).expanduser().resolve().parent.mkdir(parents=True, exist_ok=True)
            private_database(Path(self.path).expanduser())
        self._writer = _connect(self.path)
        apply_migrations(self._writer)
        self._write_lock = threading.Lock()
        self._waiting_lock = threading.Lock()
        self._waiting = 0
        self._group: _Group | None = None
        self._synchronous = "FULL"  # the writer connection's setting (changed only between transactions)
        self.commits = 0  # COMMITs (fsyncs) made; fewer than write() calls when writers were grouped
        self._local = threading.local()
        self._readers: list[sqlite3.Connection] = []
        self._readers_lock = threading.Lock()

    def _reader(self) -> sqlite3.Connection:
        conn = getattr(self._local, "conn", None)
        if conn is None:
            conn = _connect(self.path)
            self._local.conn = conn
            with self._readers_lock:
                self._readers.append(conn)
        return conn

    @contextmanager
    def read(self) -> Iterator[SqliteTransaction]:
        conn = self._reader()
        conn.execute("BEGIN")
        try:
            yield SqliteTransaction(conn)
        finally:
            conn.execute("COMMIT")

    @contextmanager
    def write(self, *, durable: bool = True) -> Iterator[SqliteTransaction]:
        """A write transaction, committed durably before the ``with`` block is left.

        Group commit: the writers waiting for the connection at the same moment
        share one SQLite transaction and one COMMIT (one fsync). Each runs in
        its own savepoint, so each is still atomic on its own: a writer whose
        block raises rolls back only its savepoint, and every writer returns
        only after the COMMIT that made its work durable (or raises its error).
        The last writer of a group - no other one waiting, or the group full
        or old (:data:`GROUP_MAX_WRITERS`, :data:`GROUP_MAX_SECONDS`) - commits it.

        ``durable=False`` (an analysis worker's claims and heartbeats, see
        :meth:`livelens.storage.base.Storage.write`) commits with
        ``synchronous=NORMAL``: no fsync (~4 ms here, with the write lock held
        through it), still atomic, and on disk with the next durable commit of
        any process (WAL frames are written in order). A durable writer never
        joins a group that began without fsync: it commits that group first.
        """
        with self._waiting_lock:
            self._waiting += 1
        self._write_lock.acquire()
        with self._waiting_lock:
            self._waiting -= 1
        failed: BaseException | None = None
        try:
            conn = self._writer
            group = self._group
            if group is not None and durable and not group.durable:
                self._commit(group)  # its writers are done (they wait for this commit); ours needs the fsync
                group = None
            if group is None:
                self._set_synchronous("FULL" if durable else "NORMAL")
                begin_immediate(conn)
                group = self._group = _Group(time.monotonic(), durable=durable)
            group.writers += 1
            conn.execute("SAVEPOINT writer")
            try:
                yield SqliteTransaction(conn)
            except BaseException as exc:
                failed = exc
                conn.execute("ROLLBACK TO writer")
            conn.execute("RELEASE writer")
            with self._waiting_lock:
                others = self._waiting
            if (not others or group.writers >= GROUP_MAX_WRITERS
                    or time.monotonic() - group.opened >= GROUP_MAX_SECONDS):
                self._commit(group)
        except BaseException:
            # The connection itself failed (BEGIN, SAVEPOINT, ROLLBACK TO): end the group, unacknowledged.
            if self._group is not None:
                self._abort(self._group)
            raise
        finally:
            self._write_lock.release()
        group.done.wait()
        if failed is not None:
            raise failed
        if group.error is not None:
            raise group.error

    def _set_synchronous(self, level: str) -> None:
        """Set outside any transaction (SQLite refuses to change it inside one)."""
        if level != self._synchronous:
            self._writer.execute(f"PRAGMA synchronous={level}")
            self._synchronous = level

    def _commit(self, group: _Group) -> None:
        self._group = None
        try:
            self._writer.execute("COMMIT")
            self.commits += 1
        except BaseException as exc:
            group.error = exc
            with suppress(sqlite3.Error):
                self._writer.execute("ROLLBACK")
        group.done.set()

    def _abort(self, group: _Group) -> None:
        self._group = None
        group.error = sqlite3.OperationalError("the write transaction was aborted")
        with suppress(sqlite3.Error):
            self._writer.execute("ROLLBACK")
        group.done.set()

    def close(self) -> None:
        with self._readers_lock:
            for conn in self._readers:
                conn.close()
            self._readers.clear()
        self._writer.close()


class SqliteTransaction(SqliteClaims):
    def __init__(self, conn: sqlite3.Connection) -> None:
        self.conn = conn
        self._savepoints = 0

    @contextmanager
    def savepoint(self) -> Iterator[None]:
        self._savepoints += 1
        name = f"sp{self._savepoints}"
        self.conn.execute(f"SAVEPOINT {name}")
        try:
            yield
        except BaseException:
            self.conn.execute(f"ROLLBACK TO {name}")
            self.conn.execute(f"RELEASE {name}")
            raise
        self.conn.execute(f"RELEASE {name}")

    # meta -----------------------------------------------------------------
    def get_meta(self, key: str) -> str | None:
        row = self._one("SELECT value FROM meta WHERE key = ?", (key,))
        return None if row is None else str(row[0])

    def set_meta(self, key: str, value: str) -> None:
        self.conn.execute("INSERT OR REPLACE INTO meta (key, value) VALUES (?, ?)", (key, value))

    # instances ------------------------------------------------------------
    def insert_instance(self, instance_id: str, data: Record) -> None:
        self.conn.execute("INSERT INTO instances (id, data) VALUES (?, ?)", (instance_id, _dumps(data)))

    def get_instance(self, instance_id: str) -> Record | None:
        row = self._one("SELECT data FROM instances WHERE id = ? AND deleted = 0", (instance_id,))
        return None if row is None else _loads(row[0])

    def list_instances(self, after: int, limit: int) -> list[tuple[int, Record]]:
        rows = self.conn.execute(
            "SELECT seq, data FROM instances WHERE seq > ? AND deleted = 0 ORDER BY seq LIMIT ?", (after, limit)
        )
        return [(seq, _loads(data)) for seq, data in rows]

    def delete_instance(self, instance_id: str) -> None:
        self.conn.execute("UPDATE instances SET deleted = 1 WHERE id = ?", (instance_id,))

    def update_instance(self, instance_id: str, data: Record) -> None:
        self.conn.execute("UPDATE instances SET data = ? WHERE id = ? AND deleted = 0", (_dumps(data), instance_id))

    # contacts -------------------------------------------------------------
    def insert_contact(self, contact_id: str, instance_id: str, channel: str, status: str, data: Record) -> None:
        self.conn.execute(
            "INSERT INTO contacts (id, instance_id, channel, analysis_status, data) VALUES (?, ?, ?, ?, ?)",
            (contact_id, instance_id, channel, status, _dumps(data)),
        )

    def get_contact(self, contact_id: str) -> Record | None:
        row = self._one(
            "SELECT data, analysis_status, ended, last_item_seq, analysed_seq FROM contacts WHERE id = ?",
            (contact_id,),
        )
        if row is None:
            return None
        record: Record = _loads(row[0])
        record.update(analysis_status=row[1], ended=bool(row[2]), last_item_seq=row[3], analysed_seq=row[4])
        return record

    def update_contact(
        self,
        contact_id: str,
        *,
        data: Record | None = None,
        analysis_status: str | None = None,
        ended: bool | None = None,
    ) -> None:
        update = contact_update(contact_id, "?", data=data, analysis_status=analysis_status,
                                ended=None if ended is None else int(ended))
        if update is not None:
            self.conn.execute(*update)

    # participants ---------------------------------------------------------
    def insert_participant(self, participant_id: str, contact_id: str, data: Record) -> None:
        self.conn.execute(
            "INSERT INTO participants (id, contact_id, data) VALUES (?, ?, ?)",
            (participant_id, contact_id, _dumps(data)),
        )

    def get_participant(self, participant_id: str) -> Record | None:
        row = self._one("SELECT data FROM participants WHERE id = ?", (participant_id,))
        return None if row is None else _loads(row[0])

    def update_participant(self, participant_id: str, data: Record) -> None:
        self.conn.execute("UPDATE participants SET data = ? WHERE id = ?", (_dumps(data), participant_id))

    def list_participants(self, contact_id: str) -> list[Record]:
        rows = self.conn.execute("SELECT data FROM participants WHERE contact_id = ? ORDER BY rowid", (contact_id,))
        return [_loads(data) for (data,) in rows]

    # items ----------------------------------------------------------------
    def append_item(self, contact_id: str, item_id: str, kind: str, client_key: str | None, data: Record) -> int:
        accepted_at = time.time()
        row = self._one(_APPEND_SEQ, (accepted_at, contact_id))
        if row is None:
            raise KeyError(contact_id)
        seq = int(row[0])
        self.conn.execute(
            "INSERT INTO items (contact_id, seq, id, kind, client_key, data, accepted_at) VALUES (?, ?, ?, ?, ?, ?, ?)",
            (contact_id, seq, item_id, kind, client_key, _dumps(data), accepted_at),
        )
        return seq

    def _item(self, row: tuple[Any, ...] | None) -> Record | None:
        if row is None:
            return None
        record: Record = _loads(row[3])
        record.update(seq=row[0], id=row[1], kind=row[2])
        return record

    def find_item(self, contact_id: str, *, client_key: str | None = None, item_id: str | None = None) -> Record | None:
        columns = "SELECT seq, id, kind, data FROM items"
        if client_key is not None:
            row = self._one(f"{columns} WHERE contact_id = ? AND client_key = ?", (contact_id, client_key))
        elif item_id is not None:
            row = self._one(f"{columns} WHERE id = ? AND contact_id = ?", (item_id, contact_id))
        else:
            raise ValueError("find_item needs client_key or item_id")
        return self._item(row)

    def list_items(
        self,
        contact_id: str,
        *,
        after: int = 0,
        before: int | None = None,
        limit: int = 100,
        descending: bool = False,
        kinds: Sequence[str] | None = None,
    ) -> list[Record]:
        where = ["contact_id = ?", "seq > ?"]
        params: list[Any] = [contact_id, after]
        if before is not None:
            where.append("seq < ?")
            params.append(before)
        if kinds is not None:
            where.append(f"kind IN ({', '.join('?' * len(kinds))})")
            params.extend(kinds)
        order = "DESC" if descending else "ASC"
        rows = self.conn.execute(
            f"SELECT seq, id, kind, data FROM items WHERE {' AND '.join(where)} ORDER BY seq {order} LIMIT ?",
            (*params, limit),
        )
        return [r for r in (self._item(row) for row in rows) if r is not None]

    def update_item(self, contact_id: str, seq: int, data: Record) -> None:
        clean = {k: v for k, v in data.items() if k not in ("seq", "id", "kind")}
        self.conn.execute(
            "UPDATE items SET data = ? WHERE contact_id = ? AND seq = ?", (_dumps(clean), contact_id, seq)
        )

    def set_item_analysis(self, contact_id: str, seq: int, analysis: Record) -> None:
        self.conn.execute(
            "UPDATE items SET data = json_set(data, '$.analysis', json(?)) WHERE contact_id = ? AND seq = ?",
            (_dumps(analysis), contact_id, seq),
        )

    # worker ---------------------------------------------------------------
    def pending_contacts(self, limit: int) -> list[str]:
        rows = self.conn.execute("SELECT id FROM contacts WHERE last_item_seq > analysed_seq LIMIT ?", (limit,))
        return [contact_id for (contact_id,) in rows]

    def live_contacts(self, instance_id: str | None = None) -> list[tuple[Record, str | None]]:
        rows = self.conn.execute(
            "SELECT c.data, c.analysis_status, c.last_item_seq, c.analysed_seq, json_extract(i.data, '$.time') "
            "FROM contacts c LEFT JOIN items i ON i.contact_id = c.id AND i.seq = c.last_item_seq "
            "WHERE c.ended = 0" + ("" if instance_id is None else " AND c.instance_id = ?"),
            () if instance_id is None else (instance_id,),
        )
        live: list[tuple[Record, str | None]] = []
        for data, status, last_item_seq, analysed_seq, last_time in rows:
            record: Record = _loads(data)
            record.update(analysis_status=status, ended=False, last_item_seq=last_item_seq, analysed_seq=analysed_seq)
            live.append((record, last_time))
        return live

    # segments -------------------------------------------------------------
    def append_segments(
        self, contact_id: str, segments: Sequence[tuple[str, Record | None, Record | None]]
    ) -> int:
        row = self._one(
            "UPDATE contacts SET last_segment_seq = last_segment_seq + ? WHERE id = ? RETURNING last_segment_seq",
            (len(segments), contact_id),
        )
        if row is None:
            raise KeyError(contact_id)
        last = int(row[0])
        first = last - len(segments) + 1
        self.conn.executemany(
            "INSERT INTO segments (contact_id, seq, kind, raw, redacted) VALUES (?, ?, ?, ?, ?)",
            [
                (contact_id, first + i, kind, None if raw is None else _dumps(raw),
                 None if redacted is None else _dumps(redacted))
                for i, (kind, raw, redacted) in enumerate(segments)
            ],
        )
        return last

    def segment_marks(self, contact_ids: Sequence[str]) -> dict[str, tuple[int, str]]:
        marks: dict[str, tuple[int, str]] = {}
        for start in range(0, len(contact_ids), 500):
            chunk = list(contact_ids[start:start + 500])
            marks_sql = "SELECT id, last_segment_seq, analysis_status FROM contacts WHERE id IN ({})"
            rows = self.conn.execute(marks_sql.format(",".join("?" * len(chunk))), chunk).fetchall()
            marks.update({str(row[0]): (int(row[1]), str(row[2])) for row in rows})
        return marks

    def list_segments(
        self, contact_id: str, *, after: int, kinds: Sequence[str], limit: int, output: str
    ) -> list[tuple[int, str, str]]:
        # One index range scan per kind, merged: the cost of a page does not
        # depend on how deep into the log it starts or on how selective the filter is.
        # Bodies leave as the JSON text they were stored as: nothing is decoded.
        body = {"raw": "raw", "redacted": "redacted", "redacted_or_raw": "COALESCE(redacted, raw)"}[output]
        branch = (
            f"SELECT * FROM (SELECT seq, kind, {body} AS body FROM segments"
            f" WHERE contact_id = ? AND kind = ? AND seq > ? AND {body} IS NOT NULL ORDER BY seq LIMIT ?)"
        )
        sql = " UNION ALL ".join([branch] * len(kinds)) + " ORDER BY seq LIMIT ?"
        params: list[Any] = []
        for kind in kinds:
            params.extend((contact_id, kind, after, limit))
        params.append(limit)
        return [(seq, kind, text) for seq, kind, text in self.conn.execute(sql, params)]

    # the instance event log -----------------------------------------------
    def list_instance_events(self, instance_id: str, *, after: int, limit: int) -> list[Record]:
        rows = self.conn.execute(
            "SELECT e.seq, e.contact_id, e.kind, s.kind, s.raw, s.redacted, json_extract(a.data, '$.Event')"
            " FROM instance_events e"
            " LEFT JOIN segments s ON e.kind = 'SEGMENT' AND s.contact_id = e.contact_id AND s.seq = e.ref"
            " LEFT JOIN rule_actions a ON e.kind = 'ALERT' AND a.seq = e.ref"
            " WHERE e.instance_id = ? AND e.seq > ? ORDER BY e.seq LIMIT ?",
            (instance_id, after, limit),
        )
        return [
            {"seq": seq, "contact_id": contact_id, "kind": kind, "segment_kind": segment_kind, "raw": raw,
             "redacted": redacted, "event": event}
            for seq, contact_id, kind, segment_kind, raw, redacted, event in rows
        ]

    def last_instance_event(self) -> int:
        row = self._one("SELECT MAX(seq) FROM instance_events")
        return int(row[0]) if row and row[0] is not None else 0

    # idempotency ----------------------------------------------------------
    def get_idempotent(self, scope: str, token: str) -> tuple[str, Record] | None:
        row = self._one("SELECT request_hash, response FROM idempotency WHERE scope = ? AND token = ?", (scope, token))
        return None if row is None else (row[0], _loads(row[1]))

    def put_idempotent(self, scope: str, token: str, request_hash: str, response: Record) -> None:
        self.conn.execute(
            "INSERT INTO idempotency (scope, token, request_hash, response) VALUES (?, ?, ?, ?)",
            (scope, token, request_hash, _dumps(response)),
        )

    # attachments ----------------------------------------------------------
    def insert_attachment(self, attachment_id: str, contact_id: str, data: Record) -> None:
        self.conn.execute(
            "INSERT INTO attachments (id, contact_id, data) VALUES (?, ?, ?)", (attachment_id, contact_id, _dumps(data))
        )

    def get_attachment(self, attachment_id: str) -> Record | None:
        row = self._one("SELECT data FROM attachments WHERE id = ?", (attachment_id,))
        return None if row is None else _loads(row[0])

    def update_attachment(self, attachment_id: str, data: Record) -> None:
        self.conn.execute("UPDATE attachments SET data = ? WHERE id = ?", (_dumps(data), attachment_id))

    # recordings -----------------------------------------------------------
    def insert_recording(self, recording_id: str, contact_id: str, data: Record) -> None:
        self.conn.execute(
            "INSERT INTO recordings (id, contact_id, data) VALUES (?, ?, ?)", (recording_id, contact_id, _dumps(data))
        )

    def get_recording(self, recording_id: str) -> Record | None:
        row = self._one("SELECT data FROM recordings WHERE id = ?", (recording_id,))
        return None if row is None else _loads(row[0])

    def update_recording(self, recording_id: str, data: Record) -> None:
        self.conn.execute("UPDATE recordings SET data = ? WHERE id = ?", (_dumps(data), recording_id))

    def list_recordings(self, contact_id: str) -> list[Record]:
        rows = self.conn.execute("SELECT data FROM recordings WHERE contact_id = ? ORDER BY seq", (contact_id,))
        return [_loads(row[0]) for row in rows.fetchall()]


    # rules ----------------------------------------------------------------
    def insert_rule(self, rule_id: str, instance_id: str, name: str, data: Record) -> None:
        self.conn.execute(
            "INSERT INTO rules (id, instance_id, name, data) VALUES (?, ?, ?, ?)",
            (rule_id, instance_id, name, _dumps(data)),
        )

    def get_rule(self, rule_id: str) -> Record | None:
        row = self._one("SELECT data FROM rules WHERE id = ?", (rule_id,))
        return None if row is None else _loads(row[0])

    def find_rule_by_name(self, instance_id: str, name: str) -> Record | None:
        row = self._one("SELECT data FROM rules WHERE instance_id = ? AND name = ?", (instance_id, name))
        return None if row is None else _loads(row[0])

    def list_rules(self, instance_id: str, after: int, limit: int) -> list[tuple[int, Record]]:
        rows = self.conn.execute(
            "SELECT seq, data FROM rules WHERE instance_id = ? AND seq > ? ORDER BY seq LIMIT ?",
            (instance_id, after, limit),
        )
        return [(seq, _loads(data)) for seq, data in rows]

    def update_rule(self, rule_id: str, name: str, data: Record) -> None:
        self.conn.execute("UPDATE rules SET name = ?, data = ?, revision = revision + 1 WHERE id = ?",
                          (name, _dumps(data), rule_id))

    def rules_fingerprint(self, instance_id: str) -> tuple[int, int, int]:
        return rules_fingerprint(self._one, "?", instance_id)

    def delete_rule(self, rule_id: str) -> None:
        self.conn.execute("DELETE FROM rules WHERE id = ?", (rule_id,))

    # contact search -------------------------------------------------------------
    def list_instance_contacts(self, instance_id: str, start: str, end: str, field: str) -> list[Record]:
        """The instance's contacts whose ISO-8601 ``field`` (initiation_timestamp, disconnect_timestamp) is in
        [start, end]."""
        if field not in ("initiation_timestamp", "disconnect_timestamp"):
            raise ValueError(field)
        rows = self.conn.execute(
            "SELECT data, analysis_status, ended, last_item_seq, analysed_seq FROM contacts "
            f"WHERE instance_id = ? AND json_extract(data, '$.{field}') BETWEEN ? AND ?",
            (instance_id, start, end),
        )
        out = []
        for data, status, ended, last_item, analysed in rows:
            record: Record = _loads(data)
            record.update(analysis_status=status, ended=bool(ended), last_item_seq=last_item, analysed_seq=analysed)
            out.append(record)
        return out

    def search_transcripts(self, instance_id: str, role: str, fts_query: str) -> set[str]:
        """Ids of the instance's contacts with a turn by ``role`` matching the FTS5 query (the indexed text is
        the redacted one whenever the contact redacts)."""
        rows = self.conn.execute(
            "SELECT DISTINCT t.contact_id FROM transcript_search t JOIN contacts c ON c.id = t.contact_id "
            "WHERE transcript_search MATCH ? AND t.role = ? AND c.instance_id = ?",
            (fts_query, role, instance_id),
        )
        return {contact_id for (contact_id,) in rows}

    # extraction definitions ---------------------------------------------------
    def insert_extraction_definition(self, definition_id: str, instance_id: str, name: str, data: Record) -> None:
        self.conn.execute(
            "INSERT INTO extraction_definitions (id, instance_id, name, data) VALUES (?, ?, ?, ?)",
            (definition_id, instance_id, name, _dumps(data)),
        )

    def get_extraction_definition(self, definition_id: str) -> Record | None:
        row = self._one("SELECT data FROM extraction_definitions WHERE id = ?", (definition_id,))
        return None if row is None else _loads(row[0])

    def find_extraction_definition_by_name(self, instance_id: str, name: str) -> Record | None:
        row = self._one(
            "SELECT data FROM extraction_definitions WHERE instance_id = ? AND name = ?", (instance_id, name)
        )
        return None if row is None else _loads(row[0])

    def list_extraction_definitions(self, instance_id: str, after: int, limit: int) -> list[tuple[int, Record]]:
        rows = self.conn.execute(
            "SELECT seq, data FROM extraction_definitions WHERE instance_id = ? AND seq > ? ORDER BY seq LIMIT ?",
            (instance_id, after, limit),
        )
        return [(seq, _loads(data)) for seq, data in rows]

    def update_extraction_definition(self, definition_id: str, name: str, data: Record) -> None:
        self.conn.execute(
            "UPDATE extraction_definitions SET name = ?, data = ? WHERE id = ?", (name, _dumps(data), definition_id)
        )

    def delete_extraction_definition(self, definition_id: str) -> None:
        self.conn.execute("DELETE FROM extraction_definitions WHERE id = ?", (definition_id,))

    def get_rule_states(self, contact_id: str) -> dict[str, Record]:
        rows = self.conn.execute("SELECT rule_id, state FROM rule_state WHERE contact_id = ?", (contact_id,))
        return {rule_id: _loads(state) for rule_id, state in rows}

    def put_rule_states(self, contact_id: str, states: dict[str, Record]) -> None:
        self.conn.executemany(
            "INSERT OR REPLACE INTO rule_state (contact_id, rule_id, state) VALUES (?, ?, ?)",
            [(contact_id, rule_id, _dumps(state)) for rule_id, state in states.items()],
        )

    def get_webhooks(self, instance_id: str) -> Record | None:
        row = self._one("SELECT data FROM webhooks WHERE instance_id = ?", (instance_id,))
        return None if row is None else _loads(row[0])

    def list_webhooks(self) -> list[tuple[str, Record]]:
        rows = self.conn.execute("SELECT instance_id, data FROM webhooks ORDER BY instance_id")
        return [(instance_id, _loads(data)) for instance_id, data in rows]

    def put_webhooks(self, instance_id: str, data: Record) -> None:
        self.conn.execute(
            "INSERT OR REPLACE INTO webhooks (instance_id, data) VALUES (?, ?)", (instance_id, _dumps(data))
        )

    def _alert(self, row: tuple[Any, ...]) -> Record:
        record: Record = _loads(row[5])
        record.update(id=row[0], instance_id=row[1], status=row[2], attempts=row[3], next_attempt=row[4])
        return record

    def insert_alert(self, alert_id: str, instance_id: str, next_attempt: float, data: Record) -> None:
        self.conn.execute(
            "INSERT INTO alerts (id, instance_id, status, attempts, next_attempt, data)"
            " VALUES (?, ?, 'PENDING', 0, ?, ?)",
            (alert_id, instance_id, next_attempt, _dumps(data)),
        )

    def due_alerts(self, now: float, limit: int) -> list[Record]:
        rows = self.conn.execute(
            "SELECT id, instance_id, status, attempts, next_attempt, data FROM alerts"
            " WHERE status = 'PENDING' AND next_attempt <= ? ORDER BY next_attempt, seq LIMIT ?",
            (now, limit),
        )
        return [self._alert(row) for row in rows]

    def next_alert_due(self) -> float | None:
        row = self._one("SELECT MIN(next_attempt) FROM alerts WHERE status = 'PENDING'")
        return None if row is None or row[0] is None else float(row[0])

    def update_alert(self, alert_id: str, *, status: str, attempts: int, next_attempt: float, data: Record) -> None:
        clean = {k: v for k, v in data.items() if k not in ("id", "instance_id", "status", "attempts", "next_attempt")}
        self.conn.execute(
            "UPDATE alerts SET status = ?, attempts = ?, next_attempt = ?, data = ? WHERE id = ?",
            (status, attempts, next_attempt, _dumps(clean), alert_id),
        )

    def list_alerts(self, instance_id: str, limit: int) -> list[Record]:
        rows = self.conn.execute(
            "SELECT id, instance_id, status, attempts, next_attempt, data FROM alerts"
            " WHERE instance_id = ? ORDER BY seq DESC LIMIT ?",
            (instance_id, limit),
        )
        return [self._alert(row) for row in rows]

    def insert_rule_action(self, instance_id: str, data: Record) -> None:
        self.conn.execute("INSERT INTO rule_actions (instance_id, data) VALUES (?, ?)", (instance_id, _dumps(data)))

    def list_rule_actions(self, instance_id: str, limit: int) -> list[Record]:
        rows = self.conn.execute(
            "SELECT data FROM rule_actions WHERE instance_id = ? ORDER BY seq DESC LIMIT ?", (instance_id, limit)
        )
        return [_loads(data) for (data,) in rows]

