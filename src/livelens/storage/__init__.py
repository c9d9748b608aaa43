"""Persistence behind one small interface (:mod:`livelens.storage.base`)."""

from livelens.storage.base import Storage, Transaction
from livelens.storage.sqlite import SqliteStorage

__all__ = ["SqliteStorage", "Storage", "Transaction", "is_postgres_url", "open_storage"]


def is_postgres_url(url: str) -> bool:
    """Whether ``url`` names a PostgreSQL database (``postgresql://...`` or ``postgres://...``)."""
    return url.lower().startswith(("postgresql://", "postgres://"))


def open_storage(url: str) -> Storage:
    """Open the storage named by ``url``: a PostgreSQL URL, or a SQLite file path (or ``sqlite:///path``)."""
    if is_postgres_url(url):
        from livelens.storage.postgres import PostgresStorage

        return PostgresStorage(url)
    if url.startswith("sqlite:///"):
        url = url[len("sqlite:///") :]
    return SqliteStorage(url)
