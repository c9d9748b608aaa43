"""SQL that SQLite and PostgreSQL run alike, written once for both backends.

Only statements whose text is valid in both dialects live here; each backend passes its own
placeholder (``?`` or ``%s``) where one is needed.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from typing import Any

from livelens.storage.base import Backlog, Record

#: Contact fields kept in columns of their own, never in the ``data`` JSON text.
CONTACT_COLUMNS = ("analysis_status", "ended", "last_item_seq", "analysed_seq")



def dumps(value: Any) -> str:
    """A record as the ``data`` JSON text both backends store (compact, non-ASCII kept)."""
    return json.dumps(value, separators=(",", ":"), ensure_ascii=False)


_PENDING = (
    "SELECT COUNT(*), COALESCE(SUM(last_item_seq - analysed_seq), 0), COUNT(lease_owner), MIN(pending_since)"
    " FROM contacts WHERE last_item_seq > analysed_seq AND analysis_status <> 'FAILED'"
)
_TOTALS = "SELECT COALESCE(SUM(last_item_seq), 0), COALESCE(SUM(analysed_seq), 0) FROM contacts"


def analysis_backlog(one: Callable[[str], tuple[Any, ...] | None]) -> Backlog:
    """:meth:`Transaction.analysis_backlog`, read with the backend's one-row query function."""
    pending, totals = one(_PENDING), one(_TOTALS)
    assert pending is not None and totals is not None
    return Backlog(
        pending_contacts=int(pending[0]),
        pending_items=int(pending[1]),
        claimed_contacts=int(pending[2]),
        oldest_pending_accepted_at=None if pending[3] is None else float(pending[3]),
        accepted_items=int(totals[0]),
        analysed_items=int(totals[1]),
    )


def rules_fingerprint(one: Callable[[str, Sequence[Any]], tuple[Any, ...] | None], placeholder: str,
                      instance_id: str) -> tuple[int, int, int]:
    """:meth:`Transaction.rules_fingerprint`, read with the backend's one-row query function."""
    row = one(
        "SELECT COUNT(*), COALESCE(MAX(seq), 0), COALESCE(SUM(revision), 0) FROM rules"
        f" WHERE instance_id = {placeholder}",
        (instance_id,),
    )
    assert row is not None
    return int(row[0]), int(row[1]), int(row[2])


def append_seq_sql(placeholder: str) -> str:
    """The ``UPDATE contacts`` that gives an appended item its seq; parameters: its ``accepted_at``, the
    contact id. A contact that was caught up becomes pending since that item (``pending_since``)."""
    return (
        "UPDATE contacts SET last_item_seq = last_item_seq + 1, pending_since = CASE"
        f" WHEN last_item_seq = analysed_seq THEN {placeholder} ELSE pending_since END WHERE id = {placeholder}"
    )


def date_pending_sql(placeholder: str) -> str:
    """The ``UPDATE contacts`` that sets ``pending_since`` to when the item after the cursor was accepted
    (0 while there is none: the append that adds it sets it); parameter: the contact id.

    Run as its own statement after the cursor moves, not inside that ``UPDATE``: on PostgreSQL a statement
    that waited for the contact row while an append held it still reads ``items`` as they were when it
    began, so it would miss the very item that append added; a statement begun afterwards sees it.
    """
    return (
        "UPDATE contacts SET pending_since = COALESCE((SELECT i.accepted_at FROM items i"
        f" WHERE i.contact_id = contacts.id AND i.seq = contacts.analysed_seq + 1), 0) WHERE id = {placeholder}"
    )


def contact_update(
    contact_id: str,
    placeholder: str,
    *,
    data: Record | None,
    analysis_status: str | None,
    ended: Any,
) -> tuple[str, Sequence[Any]] | None:
    """The ``UPDATE contacts`` of :meth:`Transaction.update_contact` and its parameters (None: nothing to set).
    ``ended`` comes already in the backend's boolean form (an int on SQLite, a bool on PostgreSQL)."""
    sets: list[str] = []
    params: list[Any] = []
    if data is not None:
        sets.append(f"data = {placeholder}")
        params.append(dumps({k: v for k, v in data.items() if k not in CONTACT_COLUMNS}))
    if analysis_status is not None:
        sets.append(f"analysis_status = {placeholder}")
        params.append(analysis_status)
    if ended is not None:
        sets.append(f"ended = {placeholder}")
        params.append(ended)
    if not sets:
        return None
    return f"UPDATE contacts SET {', '.join(sets)} WHERE id = {placeholder}", (*params, contact_id)
