"""Persistence behind one small interface (:mod:`livelens.storage.base`)."""

from livelens.storage.base import Storage, Transaction
from livelens.storage.sqlite import SqliteStorage

__all__ = ["SqliteStorage", "Storage", "Transaction", "open_storage"]


def open_storage(url: str) -> Storage:
    """Open the storage named by ``url``: a SQLite file path (or ``sqlite:///path``)."""
    if url.startswith("sqlite:///"):
        url = url[len("sqlite:///") :]
    return SqliteStorage(url)
