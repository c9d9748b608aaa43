"""Start-up checks: every reason serve cannot start is one line that says what to do (livelens.startup)."""

from __future__ import annotations

import socket
import sqlite3
from pathlib import Path

import pytest

from livelens.cli.main import _bind
from livelens.config import Settings
from livelens.startup import (
    AnalyserReport,
    StartupError,
    bind,
    check_database_url,
    open_database,
    probe_database,
    refuse_or_warn,
)
from livelens.storage import open_storage


def test_sqlalchemy_style_urls_are_refused_in_one_line_without_the_password() -> None:
    with pytest.raises(StartupError, match="postgresql://user@host:port/dbname") as raised:
        check_database_url("postgresql+psycopg://app:secret@db.example/livelens")
    assert "secret" not in str(raised.value) and "\n" not in str(raised.value)


def test_other_urls_are_refused_and_sqlite_and_postgresql_urls_accepted() -> None:
    with pytest.raises(StartupError, match="not a SQLite file path nor a PostgreSQL URL"):
        check_database_url("mysql://h/db")
    check_database_url("sqlite:///tmp/x.db")
    check_database_url("livelens.db")
    check_database_url("postgresql://app@db.example:5432/livelens")
    check_database_url("postgres://h/db")


def test_an_unreachable_postgresql_is_one_line_without_the_password() -> None:
    with pytest.raises(StartupError, match="cannot use the PostgreSQL database") as raised:
        open_database("postgresql://app:secret@127.0.0.1:1/livelens", open_storage)
    assert "secret" not in str(raised.value) and "\n" not in str(raised.value)


def test_port_in_use_is_one_line() -> None:
    holder = socket.socket()
    holder.bind(("127.0.0.1", 0))
    holder.listen()
    try:
        with pytest.raises(StartupError, match=r"port \d+ on 127.0.0.1 is already in use.*--port N"):
            bind("127.0.0.1", holder.getsockname()[1], _bind)
    finally:
        holder.close()


def test_bad_database_paths(tmp_path: Path) -> None:
    with pytest.raises(StartupError, match="is a directory"):
        probe_database(tmp_path)
    (tmp_path / "file").write_text("x")
    with pytest.raises(StartupError, match="is a file, not a directory"):
        probe_database(tmp_path / "file" / "livelens.db")
    (tmp_path / "garbage.db").write_text("this is not sqlite " * 100)
    with pytest.raises(StartupError, match="not a livelens SQLite database"):
        open_database(str(tmp_path / "garbage.db"), open_storage)
    probe_database(tmp_path / "new" / "livelens.db")  # will be created: fine


def test_locked_database_is_one_line(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("livelens.startup.LOCK_PROBE_SECONDS", 0.1)
    path = tmp_path / "livelens.db"
    open_storage(str(path)).close()
    holder = sqlite3.connect(path)
    holder.execute("BEGIN EXCLUSIVE")
    try:
        with pytest.raises(StartupError, match="locked by another process.*another --db path"):
            open_database(str(path), open_storage)
    finally:
        holder.rollback()
        holder.close()


def test_unloadable_analysers_refuse_to_start_unless_skipped() -> None:
    report = AnalyserReport(loaded={"redaction": 0.1},
                            failed={"sentiment": "RuntimeError: gone", "issues": "RuntimeError: gone"})
    with pytest.raises(StartupError, match=r"^sentiment, issues cannot load \(RuntimeError: gone\)\. .*SKIP"):
        refuse_or_warn(report, Settings(), print)
    warnings: list[str] = []
    skipped = refuse_or_warn(report, Settings(skip_unavailable_analysers=True), warnings.append)
    assert skipped == {"sentiment", "issues"}
    assert len(warnings) == 1 and "running WITHOUT sentiment, issues" in warnings[0]
    assert refuse_or_warn(AnalyserReport(), Settings(), print) == frozenset()
