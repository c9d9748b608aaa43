"""The test PostgreSQL server: ``LIVELENS_TEST_POSTGRES`` (default the local one, database ``test``).

Tests never skip when it is missing: a fixture that needs it fails with one line that says how to start
it (``.ci/run`` starts it). Each test session works in databases of its own, made here and dropped after.
"""

from __future__ import annotations

import os
import uuid
from urllib.parse import urlsplit, urlunsplit

import psycopg
import pytest

POSTGRES_URL = os.environ.get("LIVELENS_TEST_POSTGRES", "postgresql://postgres@127.0.0.1:5432/test")


def with_database(url: str, name: str) -> str:
    parts = urlsplit(url)
    return urlunsplit(parts._replace(path="/" + name))


def _admin() -> psycopg.Connection:
    try:
        return psycopg.connect(POSTGRES_URL, autocommit=True, connect_timeout=5)
    except psycopg.OperationalError as exc:
        pytest.fail(
            f"PostgreSQL at LIVELENS_TEST_POSTGRES={POSTGRES_URL} is not reachable ({' '.join(str(exc).split())}); "
            "start it (pg_ctlcluster --skip-systemctl-redirect $(ls /etc/postgresql) main start) or point "
            "LIVELENS_TEST_POSTGRES at one",
            pytrace=False,
        )


def create_database(prefix: str = "livelens_test") -> str:
    """A new, empty database on the test server; its URL."""
    name = f"{prefix}_{os.getpid()}_{uuid.uuid4().hex[:8]}"
    with _admin() as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    return with_database(POSTGRES_URL, name)


def drop_database(url: str) -> None:
    name = urlsplit(url).path.lstrip("/")
    with _admin() as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def empty_tables(url: str) -> None:
    """Delete every row but the migrations' record (fast between tests sharing one database)."""
    with psycopg.connect(url, autocommit=True) as conn:
        tables = [row[0] for row in conn.execute(
            "SELECT tablename FROM pg_tables WHERE schemaname = 'public' AND tablename <> '_migrations'")]
        if tables:
            conn.execute("TRUNCATE " + ", ".join(f'"{t}"' for t in tables) + " RESTART IDENTITY")
