"""End-to-end fixtures: a real ``livelens serve`` process, driven by boto3 and the aws CLI.

One server is shared by the whole session (models load once); tests that
must restart a server start their own with :func:`start_server`.
"""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import boto3
import pytest
from botocore.config import Config

ACCESS_KEY = "LLIATESTACCESSKEY001"
SECRET_KEY = "test-secret-key-for-livelens-e2e-000001"
REGION = "us-east-1"
LIVELENS = str(Path(sys.executable).parent / "livelens")
#: Analysis worker processes of the shared server: LIVELENS_E2E_ANALYSIS_WORKERS=0 runs the suite with
#: the in-process worker instead. Servers a test starts itself run in-process unless it asks otherwise.
SHARED_WORKERS = os.environ.get("LIVELENS_E2E_ANALYSIS_WORKERS", "2")
#: The storage every server of the session runs on: ``sqlite`` (a file per server directory) or ``postgres``
#: (a database per server directory on LIVELENS_TEST_POSTGRES, dropped after the session). `make test`
#: runs the suite once on each.
BACKEND = os.environ.get("LIVELENS_E2E_BACKEND", "sqlite")
if BACKEND not in ("sqlite", "postgres"):
    raise ValueError(f"LIVELENS_E2E_BACKEND={BACKEND}: use sqlite or postgres")
_DATABASES: dict[Path, str] = {}


def database_for(directory: Path) -> str:
    """The ``--db`` of servers started on ``directory``: the same one each time (restarts find their data)."""
    if BACKEND == "sqlite":
        return str(directory / "livelens.db")
    from tests import postgres

    if directory not in _DATABASES:
        _DATABASES[directory] = postgres.create_database("livelens_e2e")
    return _DATABASES[directory]


@pytest.fixture(scope="session", autouse=True)
def _drop_e2e_databases() -> Iterator[None]:
    yield
    from tests import postgres

    for url in _DATABASES.values():
        postgres.drop_database(url)


sqlite_only = pytest.mark.skipif(
    BACKEND != "sqlite", reason="inspects the SQLite files themselves (runs in the SQLite pass of make test)"
)


def card_number_leaks(stored: bytes, groups: tuple[str, ...] = ("4539", "1488", "0343", "6467")) -> list[bytes]:
    """Where a spoken card number (read out in four-digit groups) shows through in ``stored`` as text: a group
    next to another group, next to ``[PII]`` or after "is". A lone group is not enough: a database holds
    floats, offsets and ids in which any four digits turn up by chance (a CI run found "4539" that way)."""
    group = b"|".join(g.encode() for g in groups)
    pattern = re.compile(rb"(?:%s)\W{1,3}(?:%s|\[PII\])|(?:\[PII\]|\bis)\W{1,3}(?:%s)(?!\d)" % (group, group, group))
    return [match.group() for match in pattern.finditer(stored)]


@dataclass
class Server:
    url: str
    db: Path
    process: subprocess.Popen[str]
    output: list[str] = field(default_factory=list)
    database: str = ""  # the --db it runs on: db's path (SQLite) or a PostgreSQL URL

    def stored_bytes(self, *, without_tables: tuple[str, ...] = ()) -> bytes:
        """Everything the server keeps on disk, as bytes to grep (the SQLite files; a PostgreSQL data dump,
        leaving out the rows of ``without_tables``: e.g. audio chunks, whose hex dump holds any short digit
        string by chance)."""
        if self.database.startswith("postgresql://"):
            excluded = [f"--exclude-table-data={table}" for table in without_tables]
            return subprocess.run(["pg_dump", "--data-only", *excluded, self.database], capture_output=True,
                                  check=True, timeout=120).stdout
        files = [self.db, *(self.db.with_name(self.db.name + suffix) for suffix in ("-wal", "-shm"))]
        return b"".join(path.read_bytes() for path in files if path.exists())

    def client(self, service: str, **overrides: Any) -> Any:
        options: dict[str, Any] = {
            "endpoint_url": self.url,
            "region_name": REGION,
            "aws_access_key_id": ACCESS_KEY,
            "aws_secret_access_key": SECRET_KEY,
            "config": Config(retries={"max_attempts": 1}),
        }
        options.update(overrides)
        return boto3.client(service, **options)

    def aws(self, *args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
        """Run the real aws CLI against this server."""
        env = {
            **os.environ,
            "AWS_ACCESS_KEY_ID": ACCESS_KEY,
            "AWS_SECRET_ACCESS_KEY": SECRET_KEY,
            "AWS_DEFAULT_REGION": REGION,
            "AWS_CONFIG_FILE": os.devnull,
            "AWS_SHARED_CREDENTIALS_FILE": os.devnull,
        }
        aws = str(Path(sys.executable).parent / "aws")
        result = subprocess.run(
            [aws, *args, "--endpoint-url", self.url], capture_output=True, text=True, env=env, timeout=60
        )
        if check and result.returncode != 0:
            raise AssertionError(f"aws {' '.join(args)} failed: {result.stderr}")
        return result

    def stop(self, sig: int = signal.SIGTERM) -> None:
        if self.process.poll() is None:
            self.process.send_signal(sig)
            try:
                self.process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()


def start_server(
    directory: Path,
    *extra: str,
    env: dict[str, str] | None = None,
    credentials: bool = True,
    wait_ready: bool = True,
    workers: str = "0",
    db: str | None = None,
) -> Server:
    """Start ``livelens serve`` on ``directory/livelens.db``.

    With ``credentials=False`` no ``--credentials`` option is passed and
    ``LIVELENS_CREDENTIALS`` is removed from the environment, so the server
    falls back to (or generates) the pair stored beside the database.
    """
    directory.mkdir(parents=True, exist_ok=True)
    database = db or database_for(directory)
    db_path = directory / "livelens.db"
    command = [LIVELENS, "serve", "--port", "0", "--db", database, "--analysis-workers", workers]
    if credentials:
        credentials_file = directory / "credentials"
        credentials_file.write_text(f"{ACCESS_KEY} {SECRET_KEY}\n")
        command += ["--credentials", str(credentials_file)]
    environment = {**os.environ, "LIVELENS_VALIDATE_RESPONSES": "1", **(env or {})}
    if not credentials:
        environment.pop("LIVELENS_CREDENTIALS", None)
    process = subprocess.Popen(
        [*command, *extra],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        env=environment,
    )
    assert process.stdout is not None
    output: list[str] = []
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        line = process.stdout.readline()
        if not line:
            raise RuntimeError("livelens serve exited early:\n" + "".join(output))
        output.append(line)
        found = re.search(r"listening on (http://\S+)", line)
        if found:
            server = Server(found.group(1), db_path, process, output, database)
            _drain(process, output)
            if wait_ready:
                # The server prints "listening on" before its socket accepts connections
                # (see test_auth.py::test_listening_means_accepting); wait for it here so
                # that the other tests test what they are about.
                _wait_accepting(server)
            return server
    process.kill()
    raise RuntimeError("livelens serve did not start:\n" + "".join(output))


def _wait_accepting(server: Server, timeout: float = 60.0) -> None:
    import socket
    from urllib.parse import urlsplit

    address = urlsplit(server.url)
    deadline = time.monotonic() + timeout
    while True:
        try:
            socket.create_connection((address.hostname, address.port), timeout=5).close()
            return
        except OSError:
            if time.monotonic() > deadline or server.process.poll() is not None:
                raise RuntimeError("livelens serve never accepted connections:\n" + "".join(server.output)) from None
            time.sleep(0.02)


def _drain(process: subprocess.Popen[str], output: list[str]) -> None:
    import threading

    def pump() -> None:
        assert process.stdout is not None
        for line in process.stdout:
            output.append(line)

    threading.Thread(target=pump, daemon=True).start()


@pytest.fixture(scope="session")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    running = start_server(tmp_path_factory.mktemp("server"), workers=SHARED_WORKERS)
    yield running
    running.stop()
    log = "".join(running.output)
    assert "Traceback" not in log, f"the shared server logged a traceback:\n{log}"


@pytest.fixture(scope="session")
def connect(server: Server) -> Any:
    return server.client("connect")


@pytest.fixture(scope="session")
def contact_lens(server: Server) -> Any:
    return server.client("connect-contact-lens")


@pytest.fixture(scope="session")
def participant(server: Server) -> Any:
    return server.client("connectparticipant")


@pytest.fixture(scope="session")
def instance_id(connect: Any) -> str:
    created = connect.create_instance(
        IdentityManagementType="CONNECT_MANAGED",
        InstanceAlias="e2e",
        InboundCallsEnabled=True,
        OutboundCallsEnabled=True,
    )
    return str(created["Id"])


def wait_for(condition: Callable[[], Any], timeout: float = 30.0, interval: float = 0.1) -> Any:
    deadline = time.monotonic() + timeout
    while True:
        value = condition()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError("condition not met in time")
        time.sleep(interval)


@dataclass
class ChatContact:
    contact_id: str
    customer: str  # connection token
    agent: str  # connection token


def start_chat(connect: Any, participant: Any, instance_id: str, **attributes: str) -> ChatContact:
    started = connect.start_chat_contact(
        InstanceId=instance_id,
        ContactFlowId="e2e-flow",
        ParticipantDetails={"DisplayName": "Customer"},
        Attributes=attributes,
    )
    agent = connect.create_participant(
        InstanceId=instance_id,
        ContactId=started["ContactId"],
        ParticipantDetails={"ParticipantRole": "AGENT", "DisplayName": "Agent"},
    )

    def connection(token: str) -> str:
        answer = participant.create_participant_connection(Type=["CONNECTION_CREDENTIALS"], ParticipantToken=token)
        return str(answer["ConnectionCredentials"]["ConnectionToken"])

    return ChatContact(
        started["ContactId"],
        connection(started["ParticipantToken"]),
        connection(agent["ParticipantCredentials"]["ParticipantToken"]),
    )


def unique() -> str:
    return uuid.uuid4().hex[:12]


# --- helpers shared by the e2e test modules ---------------------------------

V2_TYPES = ["Transcript", "Categories", "Issues", "Event", "Attachments", "PostContactSummary"]


def kind_of(segment: dict[str, Any]) -> str:
    """The one segment type a segment carries (fails if it carries none or several)."""
    (kind,) = list(segment)
    return kind


def segment_id(segment: dict[str, Any]) -> str | None:
    body = segment[kind_of(segment)]
    return body.get("Id") if isinstance(body, dict) else None


def list_v2_all(
    connect: Any,
    instance_id: str,
    contact_id: str,
    output_type: str = "Raw",
    segment_types: list[str] | None = None,
    max_results: int = 100,
) -> tuple[list[dict[str, Any]], dict[str, Any]]:
    """Every V2 segment available now, paging until a page adds nothing or has no NextToken."""
    segments: list[dict[str, Any]] = []
    kwargs: dict[str, Any] = {
        "InstanceId": instance_id,
        "ContactId": contact_id,
        "OutputType": output_type,
        "SegmentTypes": segment_types or V2_TYPES,
        "MaxResults": max_results,
    }
    while True:
        page = connect.list_realtime_contact_analysis_segments_v2(**kwargs)
        segments.extend(page["Segments"])
        if not page.get("NextToken") or not page["Segments"]:
            return segments, page
        kwargs["NextToken"] = page["NextToken"]


def list_v1_all(
    contact_lens: Any, instance_id: str, contact_id: str, max_results: int = 100
) -> tuple[list[dict[str, Any]], dict[str, Any]]:
    """Every V1 segment available now, paging until a page adds nothing or has no NextToken."""
    segments: list[dict[str, Any]] = []
    kwargs: dict[str, Any] = {"InstanceId": instance_id, "ContactId": contact_id, "MaxResults": max_results}
    while True:
        page = contact_lens.list_realtime_contact_analysis_segments(**kwargs)
        segments.extend(page["Segments"])
        if not page.get("NextToken") or not page["Segments"]:
            return segments, page
        kwargs["NextToken"] = page["NextToken"]


def wait_v2_completed(
    connect: Any, instance_id: str, contact_id: str, timeout: float = 60.0, **kwargs: Any
) -> list[dict[str, Any]]:
    """Wait until the contact's V2 analysis is COMPLETED and return all its segments."""

    def done() -> list[dict[str, Any]] | None:
        segments, last = list_v2_all(connect, instance_id, contact_id, **kwargs)
        return segments if last["Status"] == "COMPLETED" and not last.get("NextToken") else None

    found: list[dict[str, Any]] = wait_for(done, timeout=timeout, interval=0.2)
    return found


def wait_v1_completed(
    contact_lens: Any, instance_id: str, contact_id: str, timeout: float = 60.0
) -> list[dict[str, Any]]:
    """Wait until a V1 listing has no NextToken (analysis over) and return all its segments."""

    def done() -> list[dict[str, Any]] | None:
        segments, last = list_v1_all(contact_lens, instance_id, contact_id)
        return segments if not last.get("NextToken") else None

    found: list[dict[str, Any]] = wait_for(done, timeout=timeout, interval=0.2)
    return found


def signed_request(
    server: Server,
    method: str,
    path: str,
    body: bytes | str | dict[str, Any] | list[Any] | None = None,
    *,
    sign: bool = True,
    access_key: str = ACCESS_KEY,
    secret_key: str = SECRET_KEY,
    service: str = "connect",
    headers: dict[str, str] | None = None,
) -> Any:
    """A raw HTTP request to ``server`` (SigV4-signed unless ``sign=False``); a ``requests.Response``."""
    import json

    import requests
    from botocore.auth import SigV4Auth
    from botocore.awsrequest import AWSRequest
    from botocore.credentials import Credentials

    if isinstance(body, (dict, list)):
        data = json.dumps(body).encode()
    elif isinstance(body, str):
        data = body.encode()
    else:
        data = body or b""
    all_headers = {"Content-Type": "application/json", **(headers or {})}
    url = server.url + path
    if sign:
        request = AWSRequest(method, url, data=data, headers=all_headers)
        SigV4Auth(Credentials(access_key, secret_key), service, REGION).add_auth(request)
        all_headers = dict(request.headers)
    return requests.request(method, url, data=data, headers=all_headers, timeout=30)


def utterances_path(instance_id: str, contact_id: str) -> str:
    return f"/livelens/v1/instances/{instance_id}/contacts/{contact_id}/utterances"


def assert_client_error(excinfo: Any, code: str, status: int | None = None, mentions: str | None = None) -> None:
    """``excinfo`` (from ``pytest.raises(ClientError)``) carries AWS error ``code``."""
    error = excinfo.value.response
    assert error["Error"]["Code"] == code, error
    if status is not None:
        assert error["ResponseMetadata"]["HTTPStatusCode"] == status, error
    message = error["Error"].get("Message", "")
    assert "Traceback" not in message
    if mentions is not None:
        assert mentions in message, f"{mentions!r} not named in {message!r}"


@pytest.fixture(scope="session")
def unvalidated(server: Server) -> Callable[[str], Any]:
    """Clients that skip botocore's client-side parameter validation (to reach the server's)."""
    cache: dict[str, Any] = {}

    def client(service: str) -> Any:
        if service not in cache:
            cache[service] = server.client(
                service, config=Config(retries={"max_attempts": 1}, parameter_validation=False)
            )
        return cache[service]

    return client
