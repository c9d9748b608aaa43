"""Databases of the benchmarks on a PostgreSQL server, made for one run and dropped after it.

``LIVELENS_BENCH_POSTGRES`` names the server (default the local one, ``postgresql://postgres@127.0.0.1:5432/postgres``;
its database is only used to create and drop the benchmark's own).
"""

from __future__ import annotations

import contextlib
import os
import uuid
from collections.abc import Iterator
from urllib.parse import urlsplit, urlunsplit

import psycopg

SERVER = os.environ.get("LIVELENS_BENCH_POSTGRES", "postgresql://postgres@127.0.0.1:5432/postgres")


def _admin() -> psycopg.Connection:
    try:
        return psycopg.connect(SERVER, autocommit=True, connect_timeout=5)
    except psycopg.OperationalError as exc:
        raise RuntimeError(f"PostgreSQL at LIVELENS_BENCH_POSTGRES={SERVER} is not reachable: "
                           f"{' '.join(str(exc).split())}") from None


@contextlib.contextmanager
def database(prefix: str) -> Iterator[str]:
    """A new empty database (its URL), dropped afterwards."""
    name = f"livelens_bench_{prefix}_{uuid.uuid4().hex[:8]}"
    with _admin() as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    url = urlunsplit(urlsplit(SERVER)._replace(path="/" + name))
    try:
        yield url
    finally:
        with _admin() as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
