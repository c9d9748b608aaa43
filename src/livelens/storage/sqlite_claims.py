"""SQLite's side of analysis claims (see "Claims" in :mod:`livelens.storage.base`).

Every method runs inside a write transaction of :class:`~livelens.storage.sqlite.SqliteStorage`
(``BEGIN IMMEDIATE``: serial), which is all the isolation they need on SQLite.
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Sequence
from typing import Any

from livelens.storage.base import Backlog, Claim, Record
from livelens.storage.shared_sql import analysis_backlog, date_pending_sql

_DATE_PENDING = date_pending_sql("?")


class SqliteClaims:
    conn: sqlite3.Connection

    def _one(self, sql: str, params: Sequence[Any] = ()) -> tuple[Any, ...] | None:
        row: tuple[Any, ...] | None = self.conn.execute(sql, params).fetchone()
        return row

    def claim_contacts(self, worker_id: str, now: float, lease_seconds: float, limit: int) -> list[Claim]:
        rows = self.conn.execute(
            "SELECT id FROM contacts INDEXED BY contacts_claimable"
            " WHERE last_item_seq > analysed_seq AND lease_expires <= ? AND retry_at <= ?"
            " AND analysis_status != 'FAILED'"
            " ORDER BY pending_since LIMIT ?",
            (now, now, limit),
        ).fetchall()
        expires = now + lease_seconds
        claims = []
        for (contact_id,) in rows:
            row = self._one(
                "UPDATE contacts SET lease_owner = ?, lease_expires = ?, lease_fence = lease_fence + 1"
                " WHERE id = ? RETURNING lease_fence, analysis_failures",
                (worker_id, expires, contact_id),
            )
            assert row is not None
            claims.append(Claim(contact_id, int(row[0]), expires, int(row[1])))
        return claims

    def holds_claim(self, contact_id: str, worker_id: str, fence: int) -> bool:
        row = self._one("SELECT lease_owner, lease_fence FROM contacts WHERE id = ?", (contact_id,))
        return row is not None and row[0] == worker_id and int(row[1]) == fence

    def extend_claims(self, worker_id: str, claims: Sequence[tuple[str, int]], expires_at: float) -> list[str]:
        extended = []
        for contact_id, fence in claims:
            row = self._one(
                "UPDATE contacts SET lease_expires = ? WHERE id = ? AND lease_owner = ? AND lease_fence = ?"
                " RETURNING id",
                (expires_at, contact_id, worker_id, fence),
            )
            if row is not None:
                extended.append(contact_id)
        return extended

    def release_claim(
        self, contact_id: str, worker_id: str, fence: int, *, retry_at: float = 0.0, failures: int = 0
    ) -> None:
        self.conn.execute(
            "UPDATE contacts SET lease_owner = NULL, lease_expires = 0, retry_at = ?, analysis_failures = ?"
            " WHERE id = ? AND lease_owner = ? AND lease_fence = ?",
            (retry_at, failures, contact_id, worker_id, fence),
        )

    def advance_cursor(self, contact_id: str, from_seq: int, to_seq: int) -> bool:
        row = self._one(
            "UPDATE contacts SET analysed_seq = ? WHERE id = ? AND analysed_seq = ? RETURNING id",
            (to_seq, contact_id, from_seq),
        )
        if row is None:
            return False
        self.conn.execute(_DATE_PENDING, (contact_id,))
        return True

    def expire_claims(self, owner_prefix: str) -> int:
        pattern = owner_prefix.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"
        freed = self.conn.execute(
            "UPDATE contacts SET lease_expires = 0 WHERE lease_owner LIKE ? ESCAPE '\\' AND lease_expires > 0",
            (pattern,),
        ).rowcount
        self.conn.execute("DELETE FROM workers WHERE id LIKE ? ESCAPE '\\'", (pattern,))
        return int(freed)

    def analysis_backlog(self) -> Backlog:
        return analysis_backlog(self._one)

    def put_worker(
        self, worker_id: str, host: str, pid: int, started_at: float, heartbeat_at: float, stats: Record
    ) -> None:
        self.conn.execute(
            "INSERT OR REPLACE INTO workers (id, host, pid, started_at, heartbeat_at, stats) VALUES (?, ?, ?, ?, ?, ?)",
            (worker_id, host, pid, started_at, heartbeat_at, json.dumps(stats, separators=(",", ":"))),
        )

    def list_workers(self, alive_since: float) -> list[Record]:
        rows = self.conn.execute(
            "SELECT id, host, pid, started_at, heartbeat_at, stats FROM workers WHERE heartbeat_at >= ? ORDER BY id",
            (alive_since,),
        )
        return [
            {"id": r[0], "host": r[1], "pid": r[2], "started_at": r[3], "heartbeat_at": r[4], "stats": json.loads(r[5])}
            for r in rows
        ]

    def delete_worker(self, worker_id: str) -> None:
        self.conn.execute("DELETE FROM workers WHERE id = ?", (worker_id,))
