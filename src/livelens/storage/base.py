"""The storage interface.

The domain talks to storage only through a :class:`Transaction`, obtained
from :meth:`Storage.read` (a consistent snapshot) or :meth:`Storage.write`
(serialised, committed durably before the context manager exits). Records
are plain dicts of JSON-compatible values: storage knows nothing of the
domain's classes, so a PostgreSQL implementation only has to provide these
methods over the same tables.

Claims (analysis work) and the isolation each method needs
----------------------------------------------------------
Analysis workers (:mod:`livelens.worker`) share the database with the
servers and with each other. A worker *claims* a contact that has pending
items: the claim is a lease (owner, expiry) plus a fencing number that grows
with every claim of that contact. Everything a worker computed for a contact
is committed in one write transaction that first checks the fence
(:meth:`Transaction.holds_claim`); if another worker claimed the contact in
the meantime the check fails and the caller rolls the transaction back.

SQLite runs every write transaction serially (``BEGIN IMMEDIATE``), which
gives each of these methods all the isolation it needs. A PostgreSQL backend
runs them in READ COMMITTED write transactions and needs, per method:

* ``claim_contacts`` - ``SELECT ... FOR UPDATE SKIP LOCKED`` over pending,
  unleased (or expired) contacts ordered by their oldest pending item, then
  ``UPDATE ... SET lease_fence = lease_fence + 1`` of the rows it locked, in
  the same transaction: two workers never claim the same contact, and neither
  waits on the other's rows.
* ``holds_claim`` - ``SELECT ... FOR UPDATE`` of the contact row, comparing
  owner and fence: the row lock holds off a concurrent claim until the
  commit, so a commit that passed the check cannot interleave with a
  takeover.
* ``extend_claims`` / ``release_claim`` / ``expire_claims`` - ``UPDATE ... WHERE lease_owner = ?
  AND lease_fence = ?`` (a single-row conditional update is atomic at any
  level).
* ``advance_cursor`` - ``UPDATE ... WHERE analysed_seq = from`` in the
  fenced transaction (belt and braces: the fence already excludes a second
  writer).
* ``analysis_backlog``, ``list_workers`` - plain snapshot reads (READ
  COMMITTED is enough: the figures are monitoring, not decisions).
* Wake-ups are not storage: see :mod:`livelens.worker.notify` (SQLite: a
  local datagram plus polling; PostgreSQL: ``LISTEN/NOTIFY`` plus polling,
  :mod:`livelens.worker.pg_notify`).

Beyond claims, :mod:`livelens.storage.postgres` (as built) gives the rest of
the interface what SQLite's single writer gave:

* ``get_contact``, ``get_participant``, ``get_attachment``,
  ``get_rule``, ``get_extraction_definition``, ``find_item`` - in a write
  transaction they read ``FOR UPDATE``: the row a writer read is the row it
  updates, so a concurrent change (a read receipt while a worker writes the
  turn's analysis) waits instead of being lost.
* ``get_instance`` - in a write transaction it reads ``FOR SHARE``: the instance
  cannot change or disappear under the writer, but writers of one instance do
  not queue behind each other (every participant request and every worker
  commit reads its instance; ``FOR UPDATE`` here serialised them and deadlocked
  those that lock a contact first against those that lock the instance first).
  The one read-modify-write of an instance (its tags) still cannot lose a
  change: two at once conflict, PostgreSQL aborts one as a deadlock, and that
  request gets the retryable error of "When PostgreSQL restarts" (docs/deploy.md).
* ``get_idempotent``, ``find_rule_by_name``, ``find_extraction_definition_by_name``,
  ``find_item(client_key=...)``, ``get_meta``, ``get_webhooks`` - in a write
  transaction they first take a transaction-scoped advisory lock on the key,
  so "read, and insert if absent" by two requests at once serialises: the
  second finds the first's row (never a unique-index error, never a 500).
* ``due_alerts`` in a write transaction *takes* the alerts
  (``FOR UPDATE SKIP LOCKED`` and a lease on ``next_attempt``), so N nodes
  never deliver one alert twice; read transactions only look.
* ``append_item`` / ``append_segments`` increment the contact's counters
  with ``UPDATE ... RETURNING``: the row lock orders appends per contact.
* Reads (``storage.read()``) are REPEATABLE READ: one snapshot.
"""

from __future__ import annotations

from collections.abc import Sequence
from contextlib import AbstractContextManager
from dataclasses import dataclass
from typing import Any, Protocol

Record = dict[str, Any]


class StorageUnavailable(Exception):
    """The database cannot be reached right now (a PostgreSQL restart, a network cut): the operation did not
    happen and may be retried. The wire answers it with a retryable 500 and logs one line (no traceback)."""


class StorageConflict(StorageUnavailable):
    """The database gave up this transaction because it conflicted with another one running at the same time (a
    PostgreSQL deadlock or serialisation failure): nothing happened and a retry normally succeeds. Answered like
    :class:`StorageUnavailable`, worded as what it is."""


@dataclass(frozen=True)
class Claim:
    """A worker's lease on one contact's pending analysis."""

    contact_id: str
    fence: int
    expires_at: float
    failures: int = 0  # failed attempts at this contact so far (see release_claim)


@dataclass(frozen=True)
class Backlog:
    """What analysis has still to do, and what it did (items are turns, events and end markers)."""

    pending_contacts: int
    pending_items: int
    claimed_contacts: int
    oldest_pending_accepted_at: float | None
    accepted_items: int
    analysed_items: int


class Transaction(Protocol):
    def savepoint(self) -> AbstractContextManager[None]:
        """A nested unit inside a write transaction: an exception rolls back only what it wrote."""
        ...

    # meta
    def get_meta(self, key: str) -> str | None: ...
    def set_meta(self, key: str, value: str) -> None: ...

    # instances
    def insert_instance(self, instance_id: str, data: Record) -> None: ...
    def get_instance(self, instance_id: str) -> Record | None: ...
    def list_instances(self, after: int, limit: int) -> list[tuple[int, Record]]: ...
    def delete_instance(self, instance_id: str) -> None: ...
    def update_instance(self, instance_id: str, data: Record) -> None: ...

    # contacts: `data` plus the columns analysis_status, ended, last_item_seq, analysed_seq
    def insert_contact(self, contact_id: str, instance_id: str, channel: str, status: str, data: Record) -> None: ...
    def get_contact(self, contact_id: str) -> Record | None: ...
    def update_contact(
        self,
        contact_id: str,
        *,
        data: Record | None = None,
        analysis_status: str | None = None,
        ended: bool | None = None,
    ) -> None: ...

    # participants
    def insert_participant(self, participant_id: str, contact_id: str, data: Record) -> None: ...
    def get_participant(self, participant_id: str) -> Record | None: ...
    def update_participant(self, participant_id: str, data: Record) -> None: ...
    def list_participants(self, contact_id: str) -> list[Record]: ...

    # the transcript
    def append_item(self, contact_id: str, item_id: str, kind: str, client_key: str | None, data: Record) -> int: ...
    def find_item(
        self, contact_id: str, *, client_key: str | None = None, item_id: str | None = None
    ) -> Record | None: ...
    def list_items(
        self, contact_id: str, *, after: int = 0, before: int | None = None, limit: int = 100, descending: bool = False,
        kinds: Sequence[str] | None = None,
    ) -> list[Record]: ...
    def update_item(self, contact_id: str, seq: int, data: Record) -> None: ...
    def set_item_analysis(self, contact_id: str, seq: int, analysis: Record) -> None:
        """Set the item's ``analysis`` member, leaving the rest of it as it is now (a read receipt
        added while the turn was being analysed stays); an item that is not there is left alone."""
        ...

    # the analysis worker (see "Claims" above)
    def pending_contacts(self, limit: int) -> list[str]: ...
    def claim_contacts(self, worker_id: str, now: float, lease_seconds: float, limit: int) -> list[Claim]:
        """Lease up to ``limit`` contacts with pending items whose lease is free or expired and whose
        back-off is over, oldest pending item first; each claim increments the contact's fence."""
        ...
    def holds_claim(self, contact_id: str, worker_id: str, fence: int) -> bool:
        """Whether ``worker_id``'s claim with ``fence`` is still the contact's latest (locks the row)."""
        ...
    def extend_claims(self, worker_id: str, claims: Sequence[tuple[str, int]], expires_at: float) -> list[str]:
        """Push the expiry of the claims ``(contact_id, fence)`` still held; the contact ids extended."""
        ...
    def release_claim(
        self, contact_id: str, worker_id: str, fence: int, *, retry_at: float = 0.0, failures: int = 0
    ) -> None:
        """End a claim (if still held); ``retry_at``/``failures`` record a back-off after a failure."""
        ...
    def advance_cursor(self, contact_id: str, from_seq: int, to_seq: int) -> bool:
        """Move ``analysed_seq`` from ``from_seq`` to ``to_seq``; false if it was not at ``from_seq``."""
        ...
    def expire_claims(self, owner_prefix: str) -> int:
        """End now the leases of owners whose id starts with ``owner_prefix`` (a worker process known to be
        dead), and forget those workers; the number of contacts freed. Fences stay: the next claim raises them."""
        ...
    def analysis_backlog(self) -> Backlog: ...
    def put_worker(self, worker_id: str, host: str, pid: int, started_at: float, heartbeat_at: float,
                   stats: Record) -> None: ...
    def list_workers(self, alive_since: float) -> list[Record]: ...
    def delete_worker(self, worker_id: str) -> None: ...

    # contacts that have not ended (of one instance, or of all), each with the "time" of its newest transcript
    # item (None: no item yet)
    def live_contacts(self, instance_id: str | None = None) -> list[tuple[Record, str | None]]: ...

    # the segment log
    def append_segments(self, contact_id: str, segments: Sequence[tuple[str, Record | None, Record | None]]) -> int: ...
    def segment_marks(self, contact_ids: Sequence[str]) -> dict[str, tuple[int, str]]:
        """Per contact: its last segment's seq and its analysis status (what changes when its log grows or ends)."""
        ...
    def list_segments(
        self, contact_id: str, *, after: int, kinds: Sequence[str], limit: int, output: str
    ) -> list[tuple[int, str, str]]:
        """``(seq, kind, body)`` after ``after``: ``body`` is the stored JSON text of the ``output``
        ("raw", "redacted", or "redacted_or_raw") form; segments without that form are skipped."""
        ...

    # the instance event log (see migrations/sqlite/0009_instance_events.sql): written by the storage itself
    # whenever a contact is inserted, a segment appended, an analysis ends or an alert action is recorded
    def list_instance_events(self, instance_id: str, *, after: int, limit: int) -> list[Record]:
        """Up to ``limit`` events of the instance after position ``after``, oldest first: ``seq``,
        ``contact_id``, ``kind`` (STARTED, SEGMENT, COMPLETED, FAILED or ALERT); a SEGMENT also has
        ``segment_kind``, ``raw`` and ``redacted`` (the stored JSON texts, None where absent), an ALERT
        ``event`` (the alert's JSON text). PostgreSQL: the positions must be visible in commit order
        (no reader may see position N while an event below N can still commit), e.g. append the
        events under a transaction-level advisory lock taken just before the first insert."""
        ...
    def last_instance_event(self) -> int:
        """The newest position of any instance's event log (0 when empty): the stream's LATEST."""
        ...

    # idempotency (ClientToken)
    def get_idempotent(self, scope: str, token: str) -> tuple[str, Record] | None: ...
    def put_idempotent(self, scope: str, token: str, request_hash: str, response: Record) -> None: ...

    # attachments
    def insert_attachment(self, attachment_id: str, contact_id: str, data: Record) -> None: ...
    def get_attachment(self, attachment_id: str) -> Record | None: ...
    def update_attachment(self, attachment_id: str, data: Record) -> None: ...

    # call recordings (livelens.voice.recording): the record of each; on PostgreSQL also the audio, in chunks
    def insert_recording(self, recording_id: str, contact_id: str, data: Record) -> None: ...
    def get_recording(self, recording_id: str) -> Record | None: ...
    def update_recording(self, recording_id: str, data: Record) -> None: ...
    def list_recordings(self, contact_id: str) -> list[Record]: ...

    # rules (connect CreateRule ...): `data` is the rule record; names are unique per instance
    def insert_rule(self, rule_id: str, instance_id: str, name: str, data: Record) -> None: ...
    def get_rule(self, rule_id: str) -> Record | None: ...
    def find_rule_by_name(self, instance_id: str, name: str) -> Record | None: ...
    def list_rules(self, instance_id: str, after: int, limit: int) -> list[tuple[int, Record]]: ...
    def update_rule(self, rule_id: str, name: str, data: Record) -> None: ...
    def delete_rule(self, rule_id: str) -> None: ...
    def rules_fingerprint(self, instance_id: str) -> tuple[int, int, int]:
        """(count, newest seq, sum of revisions) of the instance's rules: it changes with every
        insert, update and delete of one of them (seqs are never reused, UpdateRule raises a
        revision), so compiled rules can be kept while it stays the same."""
        ...

    # contact search (SearchContacts)
    def list_instance_contacts(self, instance_id: str, start: str, end: str, field: str) -> list[Record]: ...
    def search_transcripts(self, instance_id: str, role: str, fts_query: str) -> set[str]: ...

    # extraction definitions
    def insert_extraction_definition(self, definition_id: str, instance_id: str, name: str, data: Record) -> None: ...
    def get_extraction_definition(self, definition_id: str) -> Record | None: ...
    def find_extraction_definition_by_name(self, instance_id: str, name: str) -> Record | None: ...
    def list_extraction_definitions(self, instance_id: str, after: int, limit: int) -> list[tuple[int, Record]]: ...
    def update_extraction_definition(self, definition_id: str, name: str, data: Record) -> None: ...
    def delete_extraction_definition(self, definition_id: str) -> None: ...

    # per-contact rule evaluation state (rule_id "*" holds the contact's counters)
    def get_rule_states(self, contact_id: str) -> dict[str, Record]: ...
    def put_rule_states(self, contact_id: str, states: dict[str, Record]) -> None: ...

    # webhooks per instance
    def get_webhooks(self, instance_id: str) -> Record | None: ...
    def list_webhooks(self) -> list[tuple[str, Record]]:
        """Every instance's webhook configuration, as (instance id, configuration), in instance id order."""
        ...
    def put_webhooks(self, instance_id: str, data: Record) -> None: ...

    # the alert outbox: status PENDING, DELIVERED or FAILED; next_attempt in Unix seconds
    def insert_alert(self, alert_id: str, instance_id: str, next_attempt: float, data: Record) -> None: ...
    def due_alerts(self, now: float, limit: int) -> list[Record]:
        """Due PENDING rows, oldest ``next_attempt`` first, then in insertion order."""
        ...
    def next_alert_due(self) -> float | None: ...
    def update_alert(self, alert_id: str, *, status: str, attempts: int, next_attempt: float, data: Record) -> None: ...
    def list_alerts(self, instance_id: str, limit: int) -> list[Record]: ...

    # SEND_NOTIFICATION / CREATE_TASK actions, as recorded
    def insert_rule_action(self, instance_id: str, data: Record) -> None: ...
    def list_rule_actions(self, instance_id: str, limit: int) -> list[Record]: ...


class BodyTransaction(Transaction, Protocol):
    """What a backend that keeps file bodies in the database adds (PostgreSQL, so that every node serves
    what any node stored; SQLite keeps them as files beside the database): attachment bodies
    (:class:`livelens.ingest.chat.Uploads`) and recordings' audio (:class:`livelens.voice.recording.RecordingStore`)."""

    def put_attachment_body(self, attachment_id: str, body: bytes) -> None: ...
    def attachment_body_size(self, attachment_id: str) -> int | None: ...
    def append_recording_chunk(self, recording_id: str, index: int, body: bytes) -> None: ...
    def recording_audio(self, recording_id: str) -> bytes: ...


class Storage(Protocol):
    #: A small read costs microseconds and never waits (SQLite in WAL mode: a reader never waits for a
    #: writer), so a watcher may run it on the event loop; false for a database across a network.
    reads_without_waiting: bool

    def read(self) -> AbstractContextManager[Transaction]: ...

    def write(self, *, durable: bool = True) -> AbstractContextManager[Transaction]:
        """A write transaction, committed before the ``with`` block is left: on disk, unless ``durable`` is
        false and the backend can do better. Only for writes whose loss in a crash of the machine is
        harmless because nothing outlives that crash to rely on them: an analysis worker's claims and
        heartbeats on SQLite (its workers run on the database's machine and die with it). PostgreSQL
        commits every transaction durably: its workers may run elsewhere and outlive a database crash,
        and a claim lost in one would hand the same fence out twice."""
        ...

    def close(self) -> None: ...
