"""CLI fixtures: one livelens server for the session (the e2e fixtures), the livelens and aws commands."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from tests.e2e.conftest import (  # noqa: F401  (fixtures re-exported for this directory)
    ACCESS_KEY,
    REGION,
    SECRET_KEY,
    Server,
    connect,
    contact_lens,
    instance_id,
    participant,
    server,
    wait_for,
)

LIVELENS = str(Path(sys.executable).parent / "livelens")
AWS = str(Path(sys.executable).parent / "aws")
EXAMPLES = Path(__file__).parents[2] / "examples"
V2_TYPES = ["Transcript", "Categories", "Issues", "Event", "Attachments", "PostContactSummary"]


def client_env(server: Server, **extra: str) -> dict[str, str]:
    env = {
        **os.environ,
        "AWS_ACCESS_KEY_ID": ACCESS_KEY,
        "AWS_SECRET_ACCESS_KEY": SECRET_KEY,
        "AWS_DEFAULT_REGION": REGION,
        "AWS_CONFIG_FILE": os.devnull,
        "AWS_SHARED_CREDENTIALS_FILE": os.devnull,
        "AWS_MAX_ATTEMPTS": "1",
        "AWS_PAGER": "",
        "LIVELENS_ENDPOINT": server.url,
        "COLUMNS": "120",
    }
    env.pop("AWS_PROFILE", None)
    env.update(extra)
    return env


Run = Callable[..., subprocess.CompletedProcess[str]]


@pytest.fixture(scope="session")
def livelens(server: Server) -> Run:
    """Run ``livelens ARGS`` against the shared server (endpoint from LIVELENS_ENDPOINT, no --endpoint-url)."""

    def run(*args: str, env: dict[str, str] | None = None, input: str | None = None,
            timeout: float = 60) -> subprocess.CompletedProcess[str]:
        return subprocess.run([LIVELENS, *args], capture_output=True, text=True, timeout=timeout, input=input,
                              env=client_env(server, **(env or {})))

    return run


@pytest.fixture(scope="session")
def aws(server: Server) -> Run:
    """Run the real aws CLI (v1, from the venv) against the shared server."""

    def run(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
        return subprocess.run([AWS, *args, "--endpoint-url", server.url], capture_output=True, text=True,
                              timeout=60, env=client_env(server, **(env or {})))

    return run


def replay(livelens: Run, instance_id: str, file: Path, *extra: str) -> str:
    """Replay ``file`` (fast) and return the contact id."""
    result = livelens("replay", str(file), "--instance-id", instance_id, "--speed", "200", "-q", *extra)
    assert result.returncode == 0, result.stderr
    return result.stdout.split()[0]


def v2_args(instance_id: str, contact_id: str, output_type: str = "Raw") -> list[str]:
    return ["connect", "list-realtime-contact-analysis-segments-v2", "--instance-id", instance_id,
            "--contact-id", contact_id, "--output-type", output_type, "--segment-types", *V2_TYPES]


def v1_args(instance_id: str, contact_id: str) -> list[str]:
    return ["connect-contact-lens", "list-realtime-contact-analysis-segments", "--instance-id", instance_id,
            "--contact-id", contact_id]


def wait_completed(aws: Run, args: list[str], timeout: float = 60) -> dict[str, Any]:
    """Wait until a single aws call shows the analysis over (no NextToken); that answer."""

    def done() -> dict[str, Any] | None:
        result = aws(*args, "--max-results", "100", "--output", "json")
        assert result.returncode == 0, result.stderr
        answer: dict[str, Any] = json.loads(result.stdout)
        return answer if "NextToken" not in answer else None

    value: dict[str, Any] = wait_for(done, timeout=timeout, interval=0.3)
    return value


@pytest.fixture(scope="session")
def chat_contact(livelens: Run, aws: Run, instance_id: str) -> str:  # noqa: F811
    contact_id = replay(livelens, instance_id, EXAMPLES / "chat_delivery.json")
    wait_completed(aws, v2_args(instance_id, contact_id))
    return contact_id


@pytest.fixture(scope="session")
def voice_contact(livelens: Run, aws: Run, instance_id: str) -> str:  # noqa: F811
    contact_id = replay(livelens, instance_id, EXAMPLES / "voice_cancellation.jsonl")
    wait_completed(aws, v1_args(instance_id, contact_id))
    return contact_id


def requests_made(stderr: str, operation: str) -> int:
    """How many HTTP requests for ``operation`` a ``--debug`` run made."""
    return stderr.count(f"Making request for OperationModel(name={operation})")


def lines_with_times(process: subprocess.Popen[str]) -> list[tuple[float, str]]:
    assert process.stdout is not None
    lines = []
    for line in process.stdout:
        lines.append((time.monotonic(), line))
    return lines
