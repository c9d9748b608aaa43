"""Fixtures shared by every test folder: the storage backends (SQLite and PostgreSQL).

The test session builds the integer-arithmetic MiniLM encoder into a model cache of its own (once, on
the first model load; the servers the end-to-end tests start inherit it), so a test run exercises the
build a new user's first start makes and never reads or writes ``~/.cache/livelens``.
"""

from __future__ import annotations

import atexit
import os
import shutil
import tempfile
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

if "LIVELENS_TEST_MODEL_CACHE" not in os.environ:
    _MODEL_CACHE = tempfile.mkdtemp(prefix="livelens-test-models-")
    atexit.register(shutil.rmtree, _MODEL_CACHE, True)
    os.environ["LIVELENS_MODEL_CACHE"] = _MODEL_CACHE
else:  # a developer's reruns: keep one build between sessions
    os.environ["LIVELENS_MODEL_CACHE"] = os.environ["LIVELENS_TEST_MODEL_CACHE"]

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
