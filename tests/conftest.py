"""Fixtures shared by every test folder: the storage backends (SQLite and PostgreSQL)."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from livelens.storage import Storage, open_storage
from tests import postgres

BACKENDS = ("sqlite", "postgres")


@pytest.fixture(scope="session")
def postgres_database() -> Iterator[str]:
    """One migrated PostgreSQL database for the session's storage tests (emptied before each test)."""
    url = postgres.create_database("livelens_unit")
    open_storage(url).close()  # migrate once
    yield url
    postgres.drop_database(url)


@pytest.fixture(params=BACKENDS)
def backend(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture
def storage_url(backend: str, tmp_path: Path, request: pytest.FixtureRequest) -> str:
    """A fresh, empty database of the test's backend."""
    if backend == "sqlite":
        return str(tmp_path / "db.sqlite")
    url = str(request.getfixturevalue("postgres_database"))
    postgres.empty_tables(url)
    return url


@pytest.fixture
def open_test_storage(storage_url: str) -> Iterator[Callable[[], Storage]]:
    """Opens storages on the test's database (each one its own connections, as another process has)."""
    opened: list[Storage] = []

    def opener() -> Storage:
        storage = open_storage(storage_url)
        opened.append(storage)
        return storage

    yield opener
    for storage in opened:
        storage.close()
