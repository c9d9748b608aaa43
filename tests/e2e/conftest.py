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


@dataclass
class Server:
    url: str
    db: Path
    process: subprocess.Popen[str]
    output: list[str] = field(default_factory=list)

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


def start_server(directory: Path, *extra: str, env: dict[str, str] | None = None) -> Server:
    directory.mkdir(parents=True, exist_ok=True)
    credentials = directory / "credentials"
    credentials.write_text(f"{ACCESS_KEY} {SECRET_KEY}\n")
    db = directory / "livelens.db"
    process = subprocess.Popen(
        [LIVELENS, "serve", "--port", "0", "--db", str(db), "--credentials", str(credentials), *extra],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        env={**os.environ, "LIVELENS_VALIDATE_RESPONSES": "1", **(env or {})},
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
            server = Server(found.group(1), db, process, output)
            _drain(process, output)
            return server
    process.kill()
    raise RuntimeError("livelens serve did not start:\n" + "".join(output))


def _drain(process: subprocess.Popen[str], output: list[str]) -> None:
    import threading

    def pump() -> None:
        assert process.stdout is not None
        for line in process.stdout:
            output.append(line)

    threading.Thread(target=pump, daemon=True).start()


@pytest.fixture(scope="session")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    running = start_server(tmp_path_factory.mktemp("server"))
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
