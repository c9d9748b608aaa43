"""Start-up checks: every reason ``serve`` cannot start is one line that says what to do.

``serve``, ``demo``, ``worker``-style commands and ``doctor`` share these:

* :func:`check_database_url` refuses what is neither a SQLite file nor a
  ``postgresql://`` URL;
* :func:`bind` turns "address already in use" and friends into one line;
* :func:`open_database` opens (and migrates) the SQLite file, turning a bad
  path, a file that is not a database, a read-only file or a database locked
  by another process into one line; or connects to (and migrates) the
  PostgreSQL database, turning an unreachable server, a refused login or a
  missing database into one line;
* :func:`check_analysers` loads every configured analyser's model and names
  the ones that cannot load.

Each failure is a :class:`StartupError`; the CLI prints its message and exits
with status 1.
"""

from __future__ import annotations

import errno
import socket
import sqlite3
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from livelens.config import Settings
from livelens.storage import Storage, is_postgres_url

#: How long the start-up probe waits for another process' write lock before calling the database locked.
LOCK_PROBE_SECONDS = 3.0


class StartupError(Exception):
    """A reason the server cannot start, as one line that says what to do."""


def check_database_url(db: str) -> None:
    """Refuse database URLs livelens cannot open (anything but a SQLite file path, ``sqlite:///`` or
    ``postgresql://``)."""
    lowered = db.lower()
    if lowered.startswith("postgresql+"):
        raise StartupError(
            f"--db {hide_password(db)}: not a database URL livelens reads; write it as "
            "postgresql://user@host:port/dbname"
        )
    if is_postgres_url(db):
        return
    if "://" in db and not lowered.startswith("sqlite:///"):
        raise StartupError(
            f"--db {hide_password(db)}: not a SQLite file path nor a PostgreSQL URL; use a path such as "
            "--db livelens.db or a URL such as --db postgresql://user@host:5432/livelens"
        )


def hide_password(url: str) -> str:
    scheme, sep, rest = url.partition("://")
    if not sep or "@" not in rest:
        return url
    credentials, _, host = rest.rpartition("@")
    user = credentials.split(":", 1)[0]
    return f"{scheme}://{user}:***@{host}" if ":" in credentials else url


def sqlite_path(db: str) -> Path:
    check_database_url(db)
    return Path(db[len("sqlite:///"):] if db.lower().startswith("sqlite:///") else db).expanduser()


def bind(host: str, port: int, make_socket: Callable[[str, int], socket.socket]) -> socket.socket:
    """``make_socket(host, port)``, with the usual failures as one line."""
    try:
        return make_socket(host, port)
    except OSError as exc:
        where = f"{host}:{port}"
        if exc.errno == errno.EADDRINUSE:
            raise StartupError(
                f"port {port} on {host} is already in use (another livelens? `livelens doctor` tells); "
                "stop it or choose another port with --port N (0 picks a free one)"
            ) from None
        if exc.errno == errno.EACCES:
            raise StartupError(f"not allowed to listen on {where}; choose a port above 1023 with --port N") from None
        if exc.errno in (errno.EADDRNOTAVAIL, errno.EAFNOSUPPORT) or isinstance(exc, socket.gaierror):
            raise StartupError(f"cannot listen on {where}: {exc.strerror or exc}; check --host") from None
        raise StartupError(f"cannot listen on {where}: {exc.strerror or exc}") from None


def probe_database(path: Path) -> None:
    """Check that ``path`` can hold a SQLite database we may write, without creating anything."""
    if path.is_dir():
        raise StartupError(f"--db {path}: is a directory; give a file path such as --db {path / 'livelens.db'}")
    parent = path.resolve().parent
    existing = next((p for p in (parent, *parent.parents) if p.exists()), None)
    if existing is not None and not existing.is_dir():
        raise StartupError(f"--db {path}: {existing} is a file, not a directory; choose another --db path")
    if not path.exists():
        if existing is not None and not _writable(existing):
            raise StartupError(f"--db {path}: cannot create it, {existing} is not writable; choose another --db path")
        return
    if not _writable(path):
        raise StartupError(f"--db {path}: the file is read-only; make it writable or choose another --db path")
    try:
        conn = sqlite3.connect(f"file:{path}?mode=rw", uri=True, timeout=LOCK_PROBE_SECONDS)
        try:
            conn.execute("PRAGMA schema_version").fetchone()
            conn.execute("BEGIN IMMEDIATE")
            conn.execute("ROLLBACK")
        finally:
            conn.close()
    except sqlite3.DatabaseError as exc:
        raise _database_error(path, exc) from None


def _writable(path: Path) -> bool:
    import os

    return os.access(path, os.W_OK)


def _database_error(path: Path, exc: Exception) -> StartupError:
    text = str(exc)
    if "locked" in text or "busy" in text:
        return StartupError(
            f"--db {path}: the database is locked by another process (a running livelens or an open sqlite3 "
            "shell?); stop it, or use another --db path"
        )
    if "not a database" in text or "malformed" in text or "encrypted" in text:
        return StartupError(f"--db {path}: not a livelens SQLite database ({text}); choose another --db path")
    if "readonly" in text or "read-only" in text:
        return StartupError(f"--db {path}: the database is read-only; make it writable or choose another --db path")
    return StartupError(f"--db {path}: cannot open the database ({text}); choose another --db path")


def open_database(db: str, opener: Callable[[str], Storage]) -> Storage:
    """Probe, then open (and migrate) the database with ``opener``; failures are one line."""
    if is_postgres_url(db):
        return open_postgres(db, opener)
    path = sqlite_path(db)
    probe_database(path)
    try:
        return opener(str(path))
    except (sqlite3.Error, OSError) as exc:
        raise _database_error(path, exc) from None


def open_postgres(db: str, opener: Callable[[str], Storage]) -> Storage:
    """Connect to (and migrate) a PostgreSQL database; an unreachable server, a refused login, a missing
    database or a missing driver is one line."""
    try:
        import psycopg
    except ImportError:
        raise StartupError(
            f"--db {hide_password(db)}: the PostgreSQL driver is not installed; pip install 'psycopg[binary,pool]'"
        ) from None
    try:
        return opener(db)
    except psycopg.Error as exc:
        reason = " ".join(str(exc).split()) or type(exc).__name__
        raise StartupError(
            f"--db {hide_password(db)}: cannot use the PostgreSQL database ({reason[:300]}); "
            "check the URL, that the server runs and that the database exists"
        ) from None


@dataclass
class AnalyserReport:
    """Which analysers loaded (with seconds taken) and which could not (with why)."""

    loaded: dict[str, float] = field(default_factory=dict)
    failed: dict[str, str] = field(default_factory=dict)

    def one_line(self) -> str:
        """``sentiment, issues cannot load (why); summary cannot load (why)``: names grouped by reason."""
        by_reason: dict[str, list[str]] = {}
        for name, reason in self.failed.items():
            by_reason.setdefault(reason, []).append(name)
        return "; ".join(f"{', '.join(names)} cannot load ({reason})" for reason, names in by_reason.items())


def check_analysers(settings: Settings, build: Callable[[tuple[str, ...]], Any]) -> AnalyserReport:
    """Build each configured analyser once (``build((name,))`` loads its model) and report.

    ``summary`` is built by every pipeline (with the redactor), so it is checked
    with the empty pipeline; the MiniLM embedder behind semantic rules is
    checked as ``embeddings``.
    """
    from livelens.analysis.embeddings import load_embedder

    report = AnalyserReport()
    steps: list[tuple[str, Callable[[], object]]] = [("summary", lambda: build(()))]
    steps += [(name, lambda name=name: build((name,)))  # type: ignore[misc]
              for name in settings.analysis_components if name != "summary"]
    steps.append(("embeddings", load_embedder))
    for name, step in steps:
        started = time.perf_counter()
        try:
            step()
        except Exception as exc:
            report.failed[name] = f"{type(exc).__name__}: {exc}".replace("\n", " ")[:200]
        else:
            report.loaded[name] = time.perf_counter() - started
    return report


def refuse_or_warn(report: AnalyserReport, settings: Settings, warn: Callable[[str], None]) -> frozenset[str]:
    """Raise if an analyser cannot load, unless ``skip_unavailable_analysers``: then warn, and name them."""
    if not report.failed:
        return frozenset()
    if not settings.skip_unavailable_analysers:
        raise StartupError(
            f"{report.one_line()}. Reinstall livelens (pip install --force-reinstall livelens; "
            "`livelens doctor` shows more), or set LIVELENS_SKIP_UNAVAILABLE_ANALYSERS=1 to run without them"
        )
    warn(f"running WITHOUT {', '.join(report.failed)} (LIVELENS_SKIP_UNAVAILABLE_ANALYSERS=1): {report.one_line()}")
    return frozenset(report.failed)
