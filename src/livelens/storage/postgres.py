"""PostgreSQL storage: psycopg 3 over a connection pool, for N nodes and M workers on one database.

Writes run in READ COMMITTED transactions, committed before :meth:`PostgresStorage.write`
returns (PostgreSQL's default ``synchronous_commit=on``: durable when acknowledged). Reads run
in REPEATABLE READ transactions: one consistent snapshot from their first statement to their end.

What SQLite's single writer gave for free is explicit here (see "isolation" in
:mod:`livelens.storage.base`):

* **read-then-write of one row** (an item updated by a read receipt while a worker analyses it, a
  contact's data, a participant, an attachment): in a write transaction every ``get_*``/``find_*``
  of one row reads it ``FOR UPDATE``, so two writers of the same row take turns and neither
  loses the other's change;
* **"insert unless it exists, else return the existing row"** (ClientToken idempotency, rule and
  extraction-definition names, an item's client key, a meta key such as the server key): in a
  write transaction the lookup first takes a transaction-scoped advisory lock on the key
  (:meth:`PostgresTransaction._lock_key`), so of two requests with one key the second waits for
  the first to commit and then finds its row, instead of failing on the unique index;
* **claims** (contacts, alerts): ``FOR UPDATE SKIP LOCKED`` (:mod:`livelens.storage.postgres_claims`).

Adding a storage method: write it in :class:`PostgresTransaction` (or the claims mixin) with
``self._rows`` / ``self._one`` / ``self._exec`` and ``%s`` placeholders; a lookup that a write
may follow calls ``self._for_update()`` (row) or ``self._lock_key(...)`` (key); a new table or
column is a new numbered file in ``storage/migrations/postgres/``.
"""

from __future__ import annotations

import time
import unicodedata
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from importlib import resources
from typing import Any

import psycopg
from psycopg_pool import ConnectionPool, PoolTimeout

from livelens.storage.base import Record, StorageConflict, StorageUnavailable
from livelens.storage.postgres_claims import PostgresClaims, _loads
from livelens.storage.shared_sql import append_seq_sql, contact_update, rules_fingerprint
from livelens.storage.shared_sql import dumps as _dumps

_APPEND_SEQ = append_seq_sql("%s") + " RETURNING last_item_seq"

MIGRATIONS_PACKAGE = "livelens.storage.migrations.postgres"
#: pg_advisory_lock key held while migrations run (nodes and workers starting together take turns).
MIGRATION_LOCK = 0x6C6976656C656E73  # "livelens"
#: Connections per process (a server's request threads, streams and deliverer share them).
POOL_MAX = 16


def search_words(text: str) -> str:
    """``text`` as the transcript index stores it: words lower-cased, accents removed, single spaces,
    padded with a space at each end (a phrase is then a substring match on word boundaries)."""
    folded = "".join(c for c in unicodedata.normalize("NFKD", text.lower()) if not unicodedata.combining(c))
    words = "".join(c if c.isalnum() or c == "_" else " " for c in folded).split()
    return " " + " ".join(words) + " "


def apply_migrations(conn: psycopg.Connection[Any]) -> list[str]:
    """Apply the numbered ``.sql`` files not yet recorded in ``_migrations``, under an advisory lock."""
    applied: list[str] = []
    conn.execute("SELECT pg_advisory_lock(%s)", (MIGRATION_LOCK,))
    conn.commit()
    try:
        conn.execute("CREATE TABLE IF NOT EXISTS _migrations (name TEXT PRIMARY KEY, applied_at TIMESTAMPTZ NOT NULL)")
        conn.commit()
        done = {row[0] for row in conn.execute("SELECT name FROM _migrations")}
        files = sorted(
            (f for f in resources.files(MIGRATIONS_PACKAGE).iterdir() if f.name.endswith(".sql")),
            key=lambda f: f.name,
        )
        for file in files:
            if file.name in done:
                continue
            with conn.transaction():
                conn.execute(file.read_text().encode())
                conn.execute("INSERT INTO _migrations (name, applied_at) VALUES (%s, now())", (file.name,))
            applied.append(file.name)
        conn.commit()
    finally:
        conn.rollback()
        conn.execute("SELECT pg_advisory_unlock(%s)", (MIGRATION_LOCK,))
        conn.commit()
    return applied


@contextmanager
def _unavailable_as_storage_error() -> Iterator[None]:
    """A lost or refused connection (the pool replaces it) becomes :class:`StorageUnavailable`; a deadlock or a
    serialisation failure (SQLSTATE class 40, "transaction rollback"; psycopg raises them as ``OperationalError``s)
    :class:`StorageConflict`."""
    try:
        yield
    except (psycopg.OperationalError, PoolTimeout) as exc:
        message = " ".join(str(exc).split())[:300] or type(exc).__name__
        if (getattr(exc, "sqlstate", None) or "").startswith("40"):
            raise StorageConflict(message) from exc
        raise StorageUnavailable(message) from exc


class PostgresStorage:
    """The storage interface over one PostgreSQL database (``postgresql://user@host:port/dbname``)."""

    reads_without_waiting = False  # every read is a round trip

    def __init__(self, url: str, *, max_connections: int = POOL_MAX) -> None:
        self.url = url
        with psycopg.connect(url, connect_timeout=10) as conn:
            apply_migrations(conn)
        self.pool = ConnectionPool(
            url, min_size=1, max_size=max_connections, open=True, timeout=30,
            check=ConnectionPool.check_connection,  # a connection broken by a server restart is replaced
            kwargs={"connect_timeout": 10},
        )

    @contextmanager
    def read(self) -> Iterator[PostgresTransaction]:
        with _unavailable_as_storage_error(), self.pool.connection() as conn:
            conn.isolation_level = psycopg.IsolationLevel.REPEATABLE_READ
            with conn.transaction():
                yield PostgresTransaction(conn, writing=False)

    @contextmanager
    def write(self, *, durable: bool = True) -> Iterator[PostgresTransaction]:
        """A READ COMMITTED transaction, committed (durably, whatever ``durable`` says: see
        :meth:`livelens.storage.base.Storage.write`) before the ``with`` block is left."""
        with _unavailable_as_storage_error(), self.pool.connection() as conn:
            conn.isolation_level = psycopg.IsolationLevel.READ_COMMITTED
            with conn.transaction():
                yield PostgresTransaction(conn, writing=True)

    def close(self) -> None:
        self.pool.close()


class PostgresTransaction(PostgresClaims):
    def __init__(self, conn: psycopg.Connection[Any], *, writing: bool) -> None:
        self.conn = conn
        self.writing = writing

    @contextmanager
    def savepoint(self) -> Iterator[None]:
        with self.conn.transaction():
            yield

    # shared helpers ---------------------------------------------------------
    def _for_update(self) -> str:
        """`` FOR UPDATE`` in a write transaction: the row read is the row the writer may update."""
        return " FOR UPDATE" if self.writing else ""

    def _lock_key(self, *parts: str) -> None:
        """In a write transaction, wait for (and hold until commit) the lock of one unique key."""
        if self.writing:
            self.conn.execute("SELECT pg_advisory_xact_lock(hashtextextended(%s, 0))", ("\x1f".join(parts),))

    def _data(self, sql: str, params: Sequence[Any]) -> Record | None:
        row = self._one(sql, params)
        return None if row is None else _loads(row[0])

    # meta -----------------------------------------------------------------
    def get_meta(self, key: str) -> str | None:
        self._lock_key("meta", key)
        row = self._one("SELECT value FROM meta WHERE key = %s", (key,))
        return None if row is None else str(row[0])

    def set_meta(self, key: str, value: str) -> None:
        self._exec(
            "INSERT INTO meta (key, value) VALUES (%s, %s) ON CONFLICT (key) DO UPDATE SET value = EXCLUDED.value",
            (key, value),
        )

    # instances ------------------------------------------------------------
    def insert_instance(self, instance_id: str, data: Record) -> None:
        self._exec("INSERT INTO instances (id, data) VALUES (%s, %s)", (instance_id, _dumps(data)))

    def get_instance(self, instance_id: str) -> Record | None:
        # FOR SHARE, not FOR UPDATE: every participant request reads its instance (after its contact),
        # so an exclusive lock would queue all writers of an instance behind one another and deadlock
        # with those that lock the instance first (StartChatContact, CreateParticipant); see storage/base.py.
        lock = " FOR SHARE" if self.writing else ""
        return self._data(f"SELECT data FROM instances WHERE id = %s AND NOT deleted{lock}", (instance_id,))

    def list_instances(self, after: int, limit: int) -> list[tuple[int, Record]]:
        rows = self._rows(
            "SELECT seq, data FROM instances WHERE seq > %s AND NOT deleted ORDER BY seq LIMIT %s", (after, limit)
        )
        return [(seq, _loads(data)) for seq, data in rows]

    def delete_instance(self, instance_id: str) -> None:
        self._exec("UPDATE instances SET deleted = TRUE WHERE id = %s", (instance_id,))

    def update_instance(self, instance_id: str, data: Record) -> None:
        self._exec("UPDATE instances SET data = %s WHERE id = %s AND NOT deleted", (_dumps(data), instance_id))

    # contacts -------------------------------------------------------------
    def insert_contact(self, contact_id: str, instance_id: str, channel: str, status: str, data: Record) -> None:
        self._exec(
            "INSERT INTO contacts (id, instance_id, channel, analysis_status, data) VALUES (%s, %s, %s, %s, %s)",
            (contact_id, instance_id, channel, status, _dumps(data)),
        )

    @staticmethod
    def _contact(row: Sequence[Any]) -> Record:
        record: Record = _loads(row[0])
        record.update(analysis_status=row[1], ended=bool(row[2]), last_item_seq=int(row[3]), analysed_seq=int(row[4]))
        return record

    def get_contact(self, contact_id: str) -> Record | None:
        row = self._one(
            "SELECT data, analysis_status, ended, last_item_seq, analysed_seq FROM contacts WHERE id = %s"
            + self._for_update(),
            (contact_id,),
        )
        return None if row is None else self._contact(row)

    def update_contact(
        self,
        contact_id: str,
        *,
        data: Record | None = None,
        analysis_status: str | None = None,
        ended: bool | None = None,
    ) -> None:
        update = contact_update(contact_id, "%s", data=data, analysis_status=analysis_status,
                                ended=None if ended is None else bool(ended))
        if update is not None:
            self._exec(*update)

    # participants ---------------------------------------------------------
    def insert_participant(self, participant_id: str, contact_id: str, data: Record) -> None:
        self._exec(
            "INSERT INTO participants (id, contact_id, data) VALUES (%s, %s, %s)",
            (participant_id, contact_id, _dumps(data)),
        )

    def get_participant(self, participant_id: str) -> Record | None:
        return self._data(f"SELECT data FROM participants WHERE id = %s{self._for_update()}", (participant_id,))

    def update_participant(self, participant_id: str, data: Record) -> None:
        self._exec("UPDATE participants SET data = %s WHERE id = %s", (_dumps(data), participant_id))

    def list_participants(self, contact_id: str) -> list[Record]:
        rows = self._rows("SELECT data FROM participants WHERE contact_id = %s ORDER BY seq", (contact_id,))
        return [_loads(data) for (data,) in rows]

    # items ----------------------------------------------------------------
    def append_item(self, contact_id: str, item_id: str, kind: str, client_key: str | None, data: Record) -> int:
        # The UPDATE locks the contact row: appends to one contact take turns, seqs have no gaps.
        accepted_at = time.time()
        row = self._one(_APPEND_SEQ, (accepted_at, contact_id))
        if row is None:
            raise KeyError(contact_id)
        seq = int(row[0])
        self._exec(
            "INSERT INTO items (contact_id, seq, id, kind, client_key, data, accepted_at)"
            " VALUES (%s, %s, %s, %s, %s, %s, %s)",
            (contact_id, seq, item_id, kind, client_key, _dumps(data), accepted_at),
        )
        return seq

    @staticmethod
    def _item(row: Sequence[Any]) -> Record:
        record: Record = _loads(row[3])
        record.update(seq=int(row[0]), id=row[1], kind=row[2])
        return record

    def find_item(self, contact_id: str, *, client_key: str | None = None, item_id: str | None = None) -> Record | None:
        columns = "SELECT seq, id, kind, data FROM items"
        if client_key is not None:
            self._lock_key("item", contact_id, client_key)
            row = self._one(
                f"{columns} WHERE contact_id = %s AND client_key = %s{self._for_update()}", (contact_id, client_key)
            )
        elif item_id is not None:
            row = self._one(f"{columns} WHERE id = %s AND contact_id = %s{self._for_update()}", (item_id, contact_id))
        else:
            raise ValueError("find_item needs client_key or item_id")
        return None if row is None else self._item(row)

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
        where = ["contact_id = %s", "seq > %s"]
        params: list[Any] = [contact_id, after]
        if before is not None:
            where.append("seq < %s")
            params.append(before)
        if kinds is not None:
            where.append("kind = ANY(%s)")
            params.append(list(kinds))
        order = "DESC" if descending else "ASC"
        rows = self._rows(
            f"SELECT seq, id, kind, data FROM items WHERE {' AND '.join(where)} ORDER BY seq {order} LIMIT %s",
            (*params, limit),
        )
        return [self._item(row) for row in rows]

    def update_item(self, contact_id: str, seq: int, data: Record) -> None:
        clean = {k: v for k, v in data.items() if k not in ("seq", "id", "kind")}
        self._exec("UPDATE items SET data = %s WHERE contact_id = %s AND seq = %s", (_dumps(clean), contact_id, seq))

    def set_item_analysis(self, contact_id: str, seq: int, analysis: Record) -> None:
        self._exec(
            "UPDATE items SET data = jsonb_set(data::jsonb, '{analysis}', %s::jsonb)::text"
            " WHERE contact_id = %s AND seq = %s",
            (_dumps(analysis), contact_id, seq),
        )

    # worker ---------------------------------------------------------------
    def pending_contacts(self, limit: int) -> list[str]:
        rows = self._rows("SELECT id FROM contacts WHERE last_item_seq > analysed_seq LIMIT %s", (limit,))
        return [contact_id for (contact_id,) in rows]

    def live_contacts(self, instance_id: str | None = None) -> list[tuple[Record, str | None]]:
        rows = self._rows(
            "SELECT c.data, c.analysis_status, c.ended, c.last_item_seq, c.analysed_seq,"
            " (i.data::jsonb) ->> 'time'"
            " FROM contacts c LEFT JOIN items i ON i.contact_id = c.id AND i.seq = c.last_item_seq"
            " WHERE NOT c.ended" + ("" if instance_id is None else " AND c.instance_id = %s"),
            () if instance_id is None else (instance_id,),
        )
        return [(self._contact(row), row[5]) for row in rows]

    # segments -------------------------------------------------------------
    def append_segments(self, contact_id: str, segments: Sequence[tuple[str, Record | None, Record | None]]) -> int:
        row = self._one(
            "UPDATE contacts SET last_segment_seq = last_segment_seq + %s WHERE id = %s RETURNING last_segment_seq",
            (len(segments), contact_id),
        )
        if row is None:
            raise KeyError(contact_id)
        last = int(row[0])
        first = last - len(segments) + 1
        with self.conn.cursor() as cur:
            cur.executemany(
                "INSERT INTO segments (contact_id, seq, kind, raw, redacted) VALUES (%s, %s, %s, %s, %s)",
                [
                    (contact_id, first + i, kind, None if raw is None else _dumps(raw),
                     None if redacted is None else _dumps(redacted))
                    for i, (kind, raw, redacted) in enumerate(segments)
                ],
            )
            # The search index holds the text as the policy shows it: redacted whenever the contact redacts.
            searchable = [
                (contact_id, shown.get("ParticipantRole"), search_words(str(shown.get("Content") or "")))
                for kind, raw, redacted in segments
                if kind == "Transcript" and (shown := redacted if redacted is not None else raw) is not None
            ]
            if searchable:
                cur.executemany(
                    "INSERT INTO transcript_search (contact_id, role, words) VALUES (%s, %s, %s)", searchable
                )
        return last

    def segment_marks(self, contact_ids: Sequence[str]) -> dict[str, tuple[int, str]]:
        rows = self._rows(
            "SELECT id, last_segment_seq, analysis_status FROM contacts WHERE id = ANY(%s)", (list(contact_ids),)
        )
        return {str(row[0]): (int(row[1]), str(row[2])) for row in rows}

    def list_segments(
        self, contact_id: str, *, after: int, kinds: Sequence[str], limit: int, output: str
    ) -> list[tuple[int, str, str]]:
        # One index range scan per kind, merged (as on SQLite): a page's cost does not depend on its depth.
        body = {"raw": "raw", "redacted": "redacted", "redacted_or_raw": "COALESCE(redacted, raw)"}[output]
        branch = (
            f"(SELECT seq, kind, {body} AS body FROM segments"
            f" WHERE contact_id = %s AND kind = %s AND seq > %s AND {body} IS NOT NULL ORDER BY seq LIMIT %s)"
        )
        sql = "SELECT * FROM (" + " UNION ALL ".join([branch] * len(kinds)) + ") AS page ORDER BY seq LIMIT %s"
        params: list[Any] = []
        for kind in kinds:
            params.extend((contact_id, kind, after, limit))
        params.append(limit)
        return [(int(seq), kind, text) for seq, kind, text in self._rows(sql, params)]

    # the instance event log (migrations/postgres/0002_instance_events.sql) ---------------
    def list_instance_events(self, instance_id: str, *, after: int, limit: int) -> list[Record]:
        rows = self._rows(
            "SELECT e.seq, e.contact_id, e.kind, s.kind, s.raw, s.redacted, (a.data::json -> 'Event')::text"
            " FROM instance_events e"
            " LEFT JOIN segments s ON e.kind = 'SEGMENT' AND s.contact_id = e.contact_id AND s.seq = e.ref"
            " LEFT JOIN rule_actions a ON e.kind = 'ALERT' AND a.seq = e.ref"
            " WHERE e.instance_id = %s AND e.seq > %s ORDER BY e.seq LIMIT %s",
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
        self._lock_key("idempotency", scope, token)
        row = self._one("SELECT request_hash, response FROM idempotency WHERE scope = %s AND token = %s",
                        (scope, token))
        return None if row is None else (row[0], _loads(row[1]))

    def put_idempotent(self, scope: str, token: str, request_hash: str, response: Record) -> None:
        self._exec(
            "INSERT INTO idempotency (scope, token, request_hash, response) VALUES (%s, %s, %s, %s)",
            (scope, token, request_hash, _dumps(response)),
        )

    # attachments ----------------------------------------------------------
    def insert_attachment(self, attachment_id: str, contact_id: str, data: Record) -> None:
        self._exec(
            "INSERT INTO attachments (id, contact_id, data) VALUES (%s, %s, %s)",
            (attachment_id, contact_id, _dumps(data)),
        )

    def get_attachment(self, attachment_id: str) -> Record | None:
        return self._data(f"SELECT data FROM attachments WHERE id = %s{self._for_update()}", (attachment_id,))

    def update_attachment(self, attachment_id: str, data: Record) -> None:
        self._exec("UPDATE attachments SET data = %s WHERE id = %s", (_dumps(data), attachment_id))

    def put_attachment_body(self, attachment_id: str, body: bytes) -> None:
        """PostgreSQL only: the uploaded body, shared by every node (see :class:`livelens.ingest.chat.Uploads`)."""
        self._exec(
            "INSERT INTO attachment_bodies (id, body) VALUES (%s, %s)"
            " ON CONFLICT (id) DO UPDATE SET body = EXCLUDED.body",
            (attachment_id, body),
        )

    def attachment_body_size(self, attachment_id: str) -> int | None:
        row = self._one("SELECT octet_length(body) FROM attachment_bodies WHERE id = %s", (attachment_id,))
        return None if row is None else int(row[0])

    # recordings -----------------------------------------------------------
    def insert_recording(self, recording_id: str, contact_id: str, data: Record) -> None:
        self._exec("INSERT INTO recordings (id, contact_id, data) VALUES (%s, %s, %s)",
                   (recording_id, contact_id, _dumps(data)))

    def get_recording(self, recording_id: str) -> Record | None:
        return self._data(f"SELECT data FROM recordings WHERE id = %s{self._for_update()}", (recording_id,))

    def update_recording(self, recording_id: str, data: Record) -> None:
        self._exec("UPDATE recordings SET data = %s WHERE id = %s", (_dumps(data), recording_id))

    def list_recordings(self, contact_id: str) -> list[Record]:
        rows = self._rows("SELECT data FROM recordings WHERE contact_id = %s ORDER BY seq", (contact_id,))
        return [_loads(row[0]) for row in rows]

    def append_recording_chunk(self, recording_id: str, index: int, body: bytes) -> None:
        """PostgreSQL only: the next piece of a recording's audio (:class:`livelens.voice.recording.RecordingStore`)."""
        self._exec("INSERT INTO recording_chunks (recording_id, seq, body) VALUES (%s, %s, %s)",
                   (recording_id, index, body))

    def recording_audio(self, recording_id: str) -> bytes:
        rows = self._rows("SELECT body FROM recording_chunks WHERE recording_id = %s ORDER BY seq", (recording_id,))
        return b"".join(bytes(row[0]) for row in rows)

    # rules and extraction definitions: named per instance --------------------
    def _insert_named(self, table: str, entity_id: str, instance_id: str, name: str, data: Record) -> None:
        self._exec(
            f"INSERT INTO {table} (id, instance_id, name, data) VALUES (%s, %s, %s, %s)",
            (entity_id, instance_id, name, _dumps(data)),
        )

    def _get_named(self, table: str, entity_id: str) -> Record | None:
        return self._data(f"SELECT data FROM {table} WHERE id = %s{self._for_update()}", (entity_id,))

    def _find_named(self, table: str, instance_id: str, name: str) -> Record | None:
        self._lock_key(table, instance_id, name)
        return self._data(f"SELECT data FROM {table} WHERE instance_id = %s AND name = %s", (instance_id, name))

    def _list_named(self, table: str, instance_id: str, after: int, limit: int) -> list[tuple[int, Record]]:
        rows = self._rows(
            f"SELECT seq, data FROM {table} WHERE instance_id = %s AND seq > %s ORDER BY seq LIMIT %s",
            (instance_id, after, limit),
        )
        return [(int(seq), _loads(data)) for seq, data in rows]

    def _update_named(self, table: str, entity_id: str, name: str, data: Record) -> None:
        self._exec(f"UPDATE {table} SET name = %s, data = %s WHERE id = %s", (name, _dumps(data), entity_id))

    def insert_rule(self, rule_id: str, instance_id: str, name: str, data: Record) -> None:
        self._insert_named("rules", rule_id, instance_id, name, data)

    def get_rule(self, rule_id: str) -> Record | None:
        return self._get_named("rules", rule_id)

    def find_rule_by_name(self, instance_id: str, name: str) -> Record | None:
        return self._find_named("rules", instance_id, name)

    def list_rules(self, instance_id: str, after: int, limit: int) -> list[tuple[int, Record]]:
        return self._list_named("rules", instance_id, after, limit)

    def update_rule(self, rule_id: str, name: str, data: Record) -> None:
        self._exec("UPDATE rules SET name = %s, data = %s, revision = revision + 1 WHERE id = %s",
                   (name, _dumps(data), rule_id))

    def rules_fingerprint(self, instance_id: str) -> tuple[int, int, int]:
        return rules_fingerprint(self._one, "%s", instance_id)

    def delete_rule(self, rule_id: str) -> None:
        self._exec("DELETE FROM rules WHERE id = %s", (rule_id,))

    def insert_extraction_definition(self, definition_id: str, instance_id: str, name: str, data: Record) -> None:
        self._insert_named("extraction_definitions", definition_id, instance_id, name, data)

    def get_extraction_definition(self, definition_id: str) -> Record | None:
        return self._get_named("extraction_definitions", definition_id)

    def find_extraction_definition_by_name(self, instance_id: str, name: str) -> Record | None:
        return self._find_named("extraction_definitions", instance_id, name)

    def list_extraction_definitions(self, instance_id: str, after: int, limit: int) -> list[tuple[int, Record]]:
        return self._list_named("extraction_definitions", instance_id, after, limit)

    def update_extraction_definition(self, definition_id: str, name: str, data: Record) -> None:
        self._update_named("extraction_definitions", definition_id, name, data)

    def delete_extraction_definition(self, definition_id: str) -> None:
        self._exec("DELETE FROM extraction_definitions WHERE id = %s", (definition_id,))

    # contact search -------------------------------------------------------
    def list_instance_contacts(self, instance_id: str, start: str, end: str, field: str) -> list[Record]:
        """The instance's contacts whose ISO-8601 ``field`` (initiation_timestamp, disconnect_timestamp) is in
        [start, end]."""
        if field not in ("initiation_timestamp", "disconnect_timestamp"):
            raise ValueError(field)
        rows = self._rows(
            "SELECT data, analysis_status, ended, last_item_seq, analysed_seq FROM contacts"
            f" WHERE instance_id = %s AND (data::jsonb ->> '{field}') BETWEEN %s AND %s",
            (instance_id, start, end),
        )
        return [self._contact(row) for row in rows]

    def search_transcripts(self, instance_id: str, role: str, fts_query: str) -> set[str]:
        """Ids of the instance's contacts with a turn by ``role`` containing the phrase ``fts_query``
        (an FTS5 phrase ``"w1 w2"``, as :func:`livelens.contacts.search.fts_phrase` makes it): the words,
        in order, on word boundaries, ignoring case and accents (what SQLite's FTS5 unicode61 matches)."""
        phrase = search_words(fts_query.strip('"'))
        pattern = "%" + phrase.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"
        rows = self._rows(
            "SELECT DISTINCT t.contact_id FROM transcript_search t JOIN contacts c ON c.id = t.contact_id"
            " WHERE c.instance_id = %s AND t.role = %s AND t.words LIKE %s",
            (instance_id, role, pattern),
        )
        return {contact_id for (contact_id,) in rows}

    # per-contact rule state and webhooks --------------------------------------
    def get_rule_states(self, contact_id: str) -> dict[str, Record]:
        rows = self._rows("SELECT rule_id, state FROM rule_state WHERE contact_id = %s", (contact_id,))
        return {rule_id: _loads(state) for rule_id, state in rows}

    def put_rule_states(self, contact_id: str, states: dict[str, Record]) -> None:
        with self.conn.cursor() as cur:
            cur.executemany(
                "INSERT INTO rule_state (contact_id, rule_id, state) VALUES (%s, %s, %s)"
                " ON CONFLICT (contact_id, rule_id) DO UPDATE SET state = EXCLUDED.state",
                [(contact_id, rule_id, _dumps(state)) for rule_id, state in states.items()],
            )

    def get_webhooks(self, instance_id: str) -> Record | None:
        self._lock_key("webhooks", instance_id)
        return self._data("SELECT data FROM webhooks WHERE instance_id = %s", (instance_id,))

    def list_webhooks(self) -> list[tuple[str, Record]]:
        rows = self._rows("SELECT instance_id, data FROM webhooks ORDER BY instance_id")
        return [(instance_id, _loads(data)) for instance_id, data in rows]

    def put_webhooks(self, instance_id: str, data: Record) -> None:
        self._exec(
            "INSERT INTO webhooks (instance_id, data) VALUES (%s, %s)"
            " ON CONFLICT (instance_id) DO UPDATE SET data = EXCLUDED.data",
            (instance_id, _dumps(data)),
        )

    # recorded rule actions ------------------------------------------------
    def insert_rule_action(self, instance_id: str, data: Record) -> None:
        self._exec("INSERT INTO rule_actions (instance_id, data) VALUES (%s, %s)", (instance_id, _dumps(data)))

    def list_rule_actions(self, instance_id: str, limit: int) -> list[Record]:
        rows = self._rows(
            "SELECT data FROM rule_actions WHERE instance_id = %s ORDER BY seq DESC LIMIT %s", (instance_id, limit)
        )
        return [_loads(data) for (data,) in rows]



__all__ = ["PostgresStorage", "PostgresTransaction", "apply_migrations", "search_words"]
