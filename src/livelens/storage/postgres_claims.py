"""PostgreSQL's side of claimed work: analysis leases and the alert outbox (see "Claims" in
:mod:`livelens.storage.base`), plus the statement helpers every PostgreSQL method uses.

Claims are ``SELECT ... FOR UPDATE SKIP LOCKED`` then an ``UPDATE`` of the rows locked, in one
READ COMMITTED write transaction: two workers (or two nodes' alert deliverers) never claim one row,
and neither waits on the other's rows.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

import psycopg

from livelens.storage.base import Backlog, Claim, Record
from livelens.storage.shared_sql import analysis_backlog, date_pending_sql
from livelens.storage.shared_sql import dumps as _dumps

_DATE_PENDING = date_pending_sql("%s")

#: How long a node owns the alerts it took for delivery before another node may retry them.
ALERT_LEASE_SECONDS = 60.0




def _loads(value: str | None) -> Any:
    return None if value is None else json.loads(value)


class PostgresClaims:
    conn: psycopg.Connection[Any]
    writing: bool

    # statement helpers ------------------------------------------------------
    def _exec(self, sql: str, params: Sequence[Any] = ()) -> int:
        """Run one statement; the number of rows it changed."""
        return self.conn.execute(sql.encode(), params).rowcount

    def _one(self, sql: str, params: Sequence[Any] = ()) -> tuple[Any, ...] | None:
        row: tuple[Any, ...] | None = self.conn.execute(sql.encode(), params).fetchone()
        return row

    def _rows(self, sql: str, params: Sequence[Any] = ()) -> list[tuple[Any, ...]]:
        return list(self.conn.execute(sql.encode(), params).fetchall())

    # analysis claims ----------------------------------------------------------
    def claim_contacts(self, worker_id: str, now: float, lease_seconds: float, limit: int) -> list[Claim]:
        expires = now + lease_seconds
        rows = self._rows(
            "WITH picked AS ("
            " SELECT id, pending_since FROM contacts"
            " WHERE last_item_seq > analysed_seq AND lease_expires <= %s AND retry_at <= %s"
            " AND analysis_status <> 'FAILED'"
            " ORDER BY pending_since LIMIT %s FOR UPDATE SKIP LOCKED)"
            " UPDATE contacts SET lease_owner = %s, lease_expires = %s, lease_fence = contacts.lease_fence + 1"
            " FROM picked WHERE contacts.id = picked.id"
            " RETURNING contacts.id, contacts.lease_fence, contacts.analysis_failures, picked.pending_since",
            (now, now, limit, worker_id, expires),
        )
        rows.sort(key=lambda row: row[3] or 0.0)
        return [Claim(str(row[0]), int(row[1]), expires, int(row[2])) for row in rows]

    def holds_claim(self, contact_id: str, worker_id: str, fence: int) -> bool:
        # FOR UPDATE: a takeover waits for this transaction's commit, so a commit that passed cannot interleave.
        row = self._one("SELECT lease_owner, lease_fence FROM contacts WHERE id = %s FOR UPDATE", (contact_id,))
        return row is not None and row[0] == worker_id and int(row[1]) == fence

    def extend_claims(self, worker_id: str, claims: Sequence[tuple[str, int]], expires_at: float) -> list[str]:
        if not claims:
            return []
        rows = self._rows(
            "UPDATE contacts SET lease_expires = %s"
            " FROM unnest(%s::text[], %s::bigint[]) AS held(id, fence)"
            " WHERE contacts.id = held.id AND contacts.lease_owner = %s AND contacts.lease_fence = held.fence"
            " RETURNING contacts.id",
            (expires_at, [c for c, _ in claims], [f for _, f in claims], worker_id),
        )
        extended = {str(row[0]) for row in rows}
        return [contact_id for contact_id, _ in claims if contact_id in extended]

    def release_claim(
        self, contact_id: str, worker_id: str, fence: int, *, retry_at: float = 0.0, failures: int = 0
    ) -> None:
        self._exec(
            "UPDATE contacts SET lease_owner = NULL, lease_expires = 0, retry_at = %s, analysis_failures = %s"
            " WHERE id = %s AND lease_owner = %s AND lease_fence = %s",
            (retry_at, failures, contact_id, worker_id, fence),
        )

    def advance_cursor(self, contact_id: str, from_seq: int, to_seq: int) -> bool:
        moved = self._exec(
            "UPDATE contacts SET analysed_seq = %s WHERE id = %s AND analysed_seq = %s", (to_seq, contact_id, from_seq)
        ) == 1
        if moved:
            self._exec(_DATE_PENDING, (contact_id,))
        return moved

    def expire_claims(self, owner_prefix: str) -> int:
        freed = self._exec(
            "UPDATE contacts SET lease_expires = 0 WHERE starts_with(lease_owner, %s) AND lease_expires > 0",
            (owner_prefix,),
        )
        self._exec("DELETE FROM workers WHERE starts_with(id, %s)", (owner_prefix,))
        return freed

    def analysis_backlog(self) -> Backlog:
        return analysis_backlog(self._one)

    def put_worker(
        self, worker_id: str, host: str, pid: int, started_at: float, heartbeat_at: float, stats: Record
    ) -> None:
        self._exec(
            "INSERT INTO workers (id, host, pid, started_at, heartbeat_at, stats) VALUES (%s, %s, %s, %s, %s, %s)"
            " ON CONFLICT (id) DO UPDATE SET host = EXCLUDED.host, pid = EXCLUDED.pid,"
            " started_at = EXCLUDED.started_at, heartbeat_at = EXCLUDED.heartbeat_at, stats = EXCLUDED.stats",
            (worker_id, host, pid, started_at, heartbeat_at, _dumps(stats)),
        )

    def list_workers(self, alive_since: float) -> list[Record]:
        rows = self._rows(
            "SELECT id, host, pid, started_at, heartbeat_at, stats FROM workers WHERE heartbeat_at >= %s ORDER BY id",
            (alive_since,),
        )
        return [
            {"id": r[0], "host": r[1], "pid": r[2], "started_at": r[3], "heartbeat_at": r[4], "stats": _loads(r[5])}
            for r in rows
        ]

    def delete_worker(self, worker_id: str) -> None:
        self._exec("DELETE FROM workers WHERE id = %s", (worker_id,))

    # the alert outbox -----------------------------------------------------------
    @staticmethod
    def _alert(row: Sequence[Any]) -> Record:
        record: Record = _loads(row[5])
        record.update(id=row[0], instance_id=row[1], status=row[2], attempts=int(row[3]), next_attempt=float(row[4]))
        return record

    def insert_alert(self, alert_id: str, instance_id: str, next_attempt: float, data: Record) -> None:
        self._exec(
            "INSERT INTO alerts (id, instance_id, status, attempts, next_attempt, data)"
            " VALUES (%s, %s, 'PENDING', 0, %s, %s)",
            (alert_id, instance_id, next_attempt, _dumps(data)),
        )

    def due_alerts(self, now: float, limit: int) -> list[Record]:
        """The due alerts; in a write transaction they are also *taken*: their ``next_attempt`` moves
        :data:`ALERT_LEASE_SECONDS` ahead, so no other node delivers them meanwhile (the deliverer's
        ``update_alert`` then records the outcome; a node that dies mid-delivery leaves them to be
        retried when the lease is over)."""
        select = (
            "SELECT id, instance_id, status, attempts, next_attempt, data, seq FROM alerts"
            " WHERE status = 'PENDING' AND next_attempt <= %s ORDER BY next_attempt, seq LIMIT %s"
        )
        if not self.writing:
            return [self._alert(row[:6]) for row in self._rows(select, (now, limit))]
        rows = self._rows(
            f"WITH due AS ({select} FOR UPDATE SKIP LOCKED)"
            " UPDATE alerts SET next_attempt = %s FROM due WHERE alerts.id = due.id"
            " RETURNING due.id, due.instance_id, due.status, due.attempts, due.next_attempt, due.data, due.seq",
            (now, limit, now + ALERT_LEASE_SECONDS),
        )
        rows.sort(key=lambda row: (row[4], row[6]))  # oldest due first, then in insertion order
        return [self._alert(row[:6]) for row in rows]

    def next_alert_due(self) -> float | None:
        row = self._one("SELECT MIN(next_attempt) FROM alerts WHERE status = 'PENDING'")
        return None if row is None or row[0] is None else float(row[0])

    def update_alert(self, alert_id: str, *, status: str, attempts: int, next_attempt: float, data: Record) -> None:
        clean = {k: v for k, v in data.items() if k not in ("id", "instance_id", "status", "attempts", "next_attempt")}
        self._exec(
            "UPDATE alerts SET status = %s, attempts = %s, next_attempt = %s, data = %s WHERE id = %s",
            (status, attempts, next_attempt, _dumps(clean), alert_id),
        )

    def list_alerts(self, instance_id: str, limit: int) -> list[Record]:
        rows = self._rows(
            "SELECT id, instance_id, status, attempts, next_attempt, data FROM alerts"
            " WHERE instance_id = %s ORDER BY seq DESC LIMIT %s",
            (instance_id, limit),
        )
        return [self._alert(row) for row in rows]
